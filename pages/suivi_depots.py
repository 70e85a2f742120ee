"""Suivi des dépôts : complétude par signataire, retards, historique des fichiers, revue par la coordination."""
import streamlit as st

from perr_metrics.depots import depot as depots
from perr_metrics import ui
from perr_metrics.commun.formats import format_pourcent

u = ui.garde_page("consulter_depots")
st.title("Suivi des dépôts")


def vue_export(df):
    return df.rename(columns={"signataire": "Code", "nom": "Signataire", "attendus": "Attendues", "recus": "Reçues",
                              "taux": "Complétude (%)", "statut": "Statut", "dernier_depot": "Dernier dépôt"})


with ui.protections():
    p = ui.entete_protocole()
    if p is not None:
        periode = ui.choisir_periode(p, "Période suivie", semestres=True)
        comp = ui.lire(depots.completude, p["code"], periode)
        df = comp.par_signataire
        attendus, recus = int(df["attendus"].sum()), int(df["recus"].sum())
        c = st.columns(4)
        c[0].metric("Valeurs attendues", ui.nombre(attendus))
        c[1].metric("Valeurs reçues", ui.nombre(recus))
        c[2].metric("Complétude", format_pourcent(100 * recus / attendus if attendus else None))
        c[3].metric("Signataires en retard", len(comp.en_retard))
        if comp.en_retard:
            noms = dict(zip(df["signataire"], df["nom"]))
            st.warning("**À relancer :** " + " ; ".join(f"{noms[s]} ({s})" for s in comp.en_retard))
        if not df.empty:
            fig = ui.barres(df.assign(etiquette=df["taux"].map(format_pourcent)), "taux", "nom", "statut",
                            {"complet": "#009E73", "partiel": "#E69F00", "aucune donnée": "#D55E00"},
                            "Valeurs reçues (%)", texte="etiquette", dehors=True, legende="Statut",
                            survol={"attendus": "Attendues", "recus": "Reçues"}, bornes_x=[0, 110],
                            hauteur=140 + 28 * len(df))
            ui.graphique(fig, vue_export(df), f"completude-{p['code']}-{periode}")
            vue = df.assign(taux_txt=df["taux"].map(format_pourcent), dernier=df["dernier_depot"].map(
                ui.date_heure_texte))
            ui.tableau(vue, {"nom": "Signataire", "attendus": "Attendues", "recus": "Reçues", "taux_txt": "Complétude",
                             "statut": "Statut", "dernier": "Dernier dépôt"}, larges=("nom",))

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
