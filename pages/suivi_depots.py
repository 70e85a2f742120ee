"""Suivi des dépôts : complétude par signataire, retards, historique des fichiers, revue par la coordination."""
import pandas as pd
import streamlit as st

from perr_metrics.depots import depot as depots
from perr_metrics.depots import echeances
from perr_metrics.depots import relances as relances_depots
from perr_metrics import ui
from perr_metrics.commun.formats import format_pourcent

u = ui.garde_page("consulter_depots")
st.title("Suivi des dépôts")


def vue_export(df):
    return df.rename(columns={"signataire": "Code", "nom": "Signataire", "attendus": "Attendues", "recus": "Reçues",
                              "taux": "Complétude (%)", "statut": "Statut", "dernier_depot": "Dernier dépôt"})


def section_relances(p: dict, periode: str) -> None:
    """Relances par courriel des signataires en retard : aperçu, choix des destinataires, envoi (ou fichiers .eml sans
    serveur), et l'avis par courriel de chaque nouveau dépôt pour l'administrateur qui le demande."""
    import io
    import zipfile

    from perr_metrics.commun.courriel import SANS_SERVEUR

    st.header("Relances")
    store = ui.store()
    avis = relances_depots.avis_depots_demande(store)
    if st.toggle("Me prévenir par courriel de chaque nouveau dépôt", value=avis, key="avis_depots") != avis:
        relances_depots.demander_avis_depots(store, not avis)
        st.rerun()
    config, adresse, erreur = ui.config_courriel()
    relances = relances_depots.preparer_relances(store, p["code"], periode, adresse_tableau_de_bord=adresse)
    if not relances:
        st.success(f"Aucun signataire à relancer pour {periode} : chacun a envoyé ou expliqué toutes ses valeurs.")
        return
    if erreur:
        st.error(f"Configuration du courriel illisible : {ui.echapper(erreur)} Rien ne peut être envoyé.")
    elif config is None:
        st.info(SANS_SERVEUR + " Téléchargez les courriels ci-dessous (.eml) pour les envoyer depuis votre messagerie.")
    else:
        st.caption(f"Serveur de courriel : {ui.echapper(config.description)}. Chaque envoi est consigné au journal.")
    noms = {r.signataire: r.nom for r in relances}
    vue = pd.DataFrame([{"nom": r.nom, "manquants": len(r.manquantes), "expliques": r.expliques,
                         "destinataires": ", ".join(r.destinataires or [a for a, _ in r.adresses]),
                         "etat": r.empechement or "à envoyer"} for r in relances])
    ui.tableau(vue, {"nom": "Signataire", "manquants": "Valeurs manquantes", "expliques": "Expliquées",
                     "destinataires": "Destinataires", "etat": "État"}, larges=("destinataires",))
    envoyables = [r.signataire for r in relances if r.envoyable]
    choix = st.multiselect("Signataires à relancer", envoyables, default=envoyables,
                           format_func=lambda s: f"{noms[s]} ({s})", key="relances_choix")
    apercu = st.selectbox("Aperçu du courriel", [r.signataire for r in relances],
                          format_func=lambda s: f"{noms[s]} ({s})", key="relances_apercu")
    r = next(x for x in relances if x.signataire == apercu)
    with st.container(border=True):
        st.markdown(f"**À :** {ui.echapper(', '.join(a for a, _ in r.adresses) or '—')}  \n"
                    f"**Objet :** {ui.echapper(r.objet)}  \n**Pièce jointe :** {ui.echapper(r.nom_fichier_modele)}")
        st.text(r.texte)
    choisies = [x for x in relances if x.signataire in choix]
    if config is not None:
        if st.button(f"Envoyer {len(choisies)} relance{'s' if len(choisies) > 1 else ''}", type="primary",
                     disabled=not choisies, key="envoyer_relances"):
            with st.spinner("Envoi des courriels…"):
                envois = relances_depots.envoyer_relances(store, choisies, config)
            ui.vider_cache()
            st.session_state["relances_envois"] = [(e.statut, e.phrase()) for e in envois]
            st.rerun()
    elif st.button("Préparer les courriels (.eml)", disabled=not choisies, key="preparer_eml"):
        flux = io.BytesIO()
        with zipfile.ZipFile(flux, "w", zipfile.ZIP_DEFLATED) as z:
            for nom, octets in relances_depots.relances_en_eml(store, choisies):
                z.writestr(nom, octets)
        st.download_button("Télécharger les courriels (.zip de fichiers .eml)", flux.getvalue(),
                           f"relances-{p['code']}-{periode}.zip", "application/zip", key="telecharger_eml")
    for statut, phrase in st.session_state.pop("relances_envois", []):
        {"envoyé": st.success, "envoyé en partie": st.warning}.get(statut, st.error)(ui.echapper(phrase))


with ui.protections():
    p = ui.entete_protocole()
    if p is not None:
        periode = ui.choisir_periode(p, "Période suivie", semestres=True)
        st.caption(ui.echapper(ui.lire(echeances.echeance, p["code"], periode).phrase()) + ".")
        comp = ui.lire(depots.completude, p["code"], periode)
        df = comp.par_signataire
        attendus, recus = int(df["attendus"].sum()), int(df["recus"].sum())
        c = st.columns(4)
        c[0].metric("Valeurs attendues", ui.nombre(attendus))
        c[1].metric("Valeurs reçues", ui.nombre(recus))
        c[2].metric("Complétude", format_pourcent(100 * recus / attendus if attendus else None))
        c[3].metric("Signataires en retard", len(comp.en_retard))
        n_expl = int(df["expliques"].sum())
        if n_expl:
            st.caption(f"Valeurs non reçues mais expliquées : {ui.nombre(n_expl)} (le partenaire a donné leur motif : "
                       "donnée non disponible, secret statistique…).")
        if comp.en_retard:
            noms = dict(zip(df["signataire"], df["nom"]))
            st.warning("**À relancer :** " + " ; ".join(f"{noms[s]} ({s})" for s in comp.en_retard))
        if not df.empty:
            fig = ui.barres(df.assign(etiquette=df["taux"].map(format_pourcent)), "taux", "nom", "statut",
                            {"complet": "#009E73", "complet avec motifs": "#56B4E9", "partiel": "#E69F00",
                             "aucune donnée": "#D55E00"},
                            "Valeurs reçues (%)", texte="etiquette", dehors=True, legende="Statut",
                            survol={"attendus": "Attendues", "recus": "Reçues"}, bornes_x=[0, 110],
                            hauteur=140 + 28 * len(df))
            ui.graphique(fig, vue_export(df), f"completude-{p['code']}-{periode}")
            vue = df.assign(taux_txt=df["taux"].map(format_pourcent), dernier=df["dernier_depot"].map(
                ui.date_heure_texte))
            ui.tableau(vue, {"nom": "Signataire", "attendus": "Attendues", "recus": "Reçues",
                             "expliques": "Expliquées", "taux_txt": "Complétude", "statut": "Statut",
                             "dernier": "Dernier dépôt"}, larges=("nom",))

        st.header("Historique des dépôts")
        hist = ui.lire(depots.liste_depots, p["code"])
        if hist.empty:
            st.info("Aucun dépôt pour ce protocole.")
        else:
            hist["quand"] = hist["depose_le"].map(ui.date_heure_texte)
            ui.tableau(hist, {"id": "N°", "quand": "Déposé le", "signataire_nom": "Signataire", "periode": "Période",
                              "fichier_nom": "Fichier", "utilisateur": "Par", "nb_valeurs": "Valeurs",
                              "statut": "Statut", "commentaire_revue": "Commentaire de revue"}, height=320)
            libelles = {r.id: f"n° {r.id} — {r.fichier_nom} ({r.signataire}, {r.quand})" for r in hist.itertuples()}
            choix = st.selectbox("Dépôt", list(libelles), format_func=libelles.get, key="depot_choisi")
            nom, octets = depots.fichier_du_depot(ui.store(), choix)
            st.download_button("Télécharger le fichier d'origine", octets, nom, key="telecharger_depot")
            if u.peut("revoir_depot"):
                with st.form("revue"):
                    st.markdown("**Revue par la coordination**")
                    statut = st.radio("Statut", depots.STATUTS_REVUE, horizontal=True)
                    commentaire = st.text_input("Commentaire")
                    if st.form_submit_button("Enregistrer la revue"):
                        depots.revoir_depot(ui.store(), choix, statut, commentaire or None)
                        ui.vider_cache()
                        st.success(f"Dépôt n° {choix} marqué « {statut} ».")
            st.caption("Les graphiques et le rapport utilisent, pour chaque indicateur, périmètre et période, la valeur "
                       "du dépôt le plus récent qui n'est pas marqué « à corriger ».")

        if u.peut("relancer"):
            section_relances(p, periode)
