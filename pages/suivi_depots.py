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
            attente = hist[hist["statut"] == "reçu"]
            signales = attente[attente["en_attente_de_revue"]]
            if u.peut("revoir_depot") and len(attente):
                st.warning(f"**{len(attente)} dépôt{'s' if len(attente) > 1 else ''} à revoir**"
                           + (f", dont {len(signales)} confirmé{'s' if len(signales) > 1 else ''} malgré un "
                              "avertissement" if len(signales) else "") + ".", icon=":material/rate_review:")
            hist["quand"] = hist["depose_le"].map(ui.date_heure_texte)
            hist["avertis"] = [f"{n} — en attente de revue" if e else (str(n) if n else "")
                               for n, e in zip(hist["nb_avertissements"], hist["en_attente_de_revue"])]
            hist["signataire_txt"] = [n if isinstance(n, str) else c
                                      for n, c in zip(hist["signataire_nom"], hist["signataire"])]
            ui.tableau(hist, {"id": "N°", "quand": "Déposé le", "signataire_txt": "Signataire", "periode": "Période",
                              "fichier_nom": "Fichier", "utilisateur": "Par", "nb_valeurs": "Valeurs",
                              "avertis": "Avertissements confirmés", "statut": "Statut",
                              "commentaire_revue": "Commentaire de revue"},
                       larges=("commentaire_revue", "signataire_txt"), height=320)

            st.header("Examiner un dépôt")
            ids = hist["id"].tolist()
            libelles = {r.id: f"n° {r.id} — {r.fichier_nom} ({r.signataire_txt}, {r.quand})"
                        + (" — confirmé malgré un avertissement, en attente de revue" if r.en_attente_de_revue else
                           " — à revoir" if r.statut == "reçu" and u.peut("revoir_depot") else f" — {r.statut}")
                        for r in hist.itertuples()}
            # Par défaut, le premier dépôt qui attend la revue (ceux confirmés malgré un avertissement d'abord).
            premier = ((signales if len(signales) else attente)["id"].tolist()[-1:] if u.peut("revoir_depot") else
                       []) or ids[:1]
            choix = st.selectbox("Dépôt", ids, index=ids.index(premier[0]), format_func=libelles.get,
                                 key="depot_choisi")
            d = ui.lire(depots.detail_depot, int(choix))
            info = d.depot
            st.markdown(
                f"**{ui.echapper(info['fichier_nom'])}** — déposé le {ui.date_heure_texte(info['depose_le'])} par "
                f"{ui.echapper(info['utilisateur'])} pour {ui.echapper(info['signataire_nom'] or info['signataire'])}"
                f", période {info['periode'] or 'non précisée'} : {info['nb_valeurs']} valeur"
                f"{'s' if info['nb_valeurs'] > 1 else ''}. Statut : **{info['statut']}**.")
            if info["en_attente_de_revue"]:
                st.warning(f"Dépôt confirmé malgré {info['nb_avertissements']} avertissement"
                           f"{'s' if info['nb_avertissements'] > 1 else ''} : ses valeurs sont marquées « "
                           f"{depots.MARQUE_EN_ATTENTE} » partout où elles s'affichent"
                           + (", et comptent déjà" if d.valeurs_retenues == depots.DES_RECEPTION else
                              ", et ne compteront qu'une fois validées") + ".", icon=":material/warning:")
            for r in d.revues.itertuples():
                st.info(f"Revue du {ui.date_heure_texte(r.revu_le)} par {ui.echapper(r.auteur)} : **{r.statut}**"
                        + (f" — {ui.echapper(r.commentaire)}" if isinstance(r.commentaire, str) else ""),
                        icon=":material/history:")
            av = d.avertissements
            if len(av):
                st.markdown("**Avertissements confirmés par le partenaire**")
                for r in av.itertuples():
                    st.markdown(f"- **{ui.echapper(r.indicateur_libelle or r.indicateur)}** — "
                                f"{ui.echapper(r.perimetre_libelle or r.perimetre)}, {r.periode} (cellule "
                                f"{ui.echapper(r.cellule)}) : {ui.echapper(r.avertissement)}")
            v = d.valeurs
            vue = v.assign(
                indicateur_txt=[f"{n} ({c})" if isinstance(n, str) else c
                                for n, c in zip(v["indicateur_libelle"], v["indicateur"])],
                perimetre_txt=[n if isinstance(n, str) else c for n, c in zip(v["perimetre_libelle"], v["perimetre"])],
                valeur_txt=[ui.valeur_texte(x, un) for x, un in zip(v["valeur"], v["unite"])],
                remplacee_txt=[ui.valeur_texte(x, un) for x, un in zip(v["remplacee"], v["unite"])],
                precedente_txt=[ui.valeur_texte(x, un) for x, un in zip(v["precedente"], v["unite"])],
                foi=v["fait_foi"].map({True: "oui", False: "non"}),
                alerte=v["avertissement"].fillna(""))
            st.markdown("**Ses valeurs et ce qu'elles changent**")
            ui.tableau(vue, {"indicateur_txt": "Indicateur", "perimetre_txt": "Périmètre", "periode": "Période",
                             "valeur_txt": "Valeur déposée", "nature": "Changement", "alerte": "Avertissement confirmé",
                             "remplacee_txt": "Valeur remplacée",
                             "precedente_txt": "Valeur précédente (période précédente)", "foi": "Fait foi",
                             "commentaire": "Commentaire", "cellule": "Cellule"}, larges=("alerte",),
                       height=min(38 + 35 * len(vue), 420))
            nom, octets = depots.fichier_du_depot(ui.store(), choix)
            st.download_button("Télécharger le fichier d'origine", octets, nom, key="telecharger_depot",
                               icon=":material/download:")
            if u.peut("revoir_depot"):
                with st.form("revue"):
                    st.markdown(f"**Revue du dépôt n° {choix} par la coordination** (statut actuel : {info['statut']})")
                    statut = st.radio("Décision", depots.STATUTS_REVUE, index=None, horizontal=True,
                                      key=f"revue_statut_{choix}_{len(d.revues)}")
                    commentaire = st.text_area("Commentaire (dites au partenaire ce qu'il doit corriger)",
                                               key=f"revue_commentaire_{choix}_{len(d.revues)}",
                                               height=90)
                    if st.form_submit_button("Enregistrer la revue"):
                        if statut is None:
                            st.error("Choisissez « validé » ou « à corriger ».")
                        elif statut == "à corriger" and not commentaire.strip():
                            st.error("Dites au partenaire ce qu'il doit corriger : le commentaire est obligatoire "
                                     "pour un dépôt « à corriger ».")
                        else:
                            depots.revoir_depot(ui.store(), choix, statut, commentaire.strip() or None)
                            ui.vider_cache()
                            st.session_state["revue_faite"] = (choix, statut)
                            st.rerun()
                fait = st.session_state.pop("revue_faite", None)
                if fait:
                    st.success(f"Dépôt n° {fait[0]} marqué « {fait[1]} ».")
            regle = {depots.DES_RECEPTION: "du dépôt le plus récent qui n'est pas marqué « à corriger »",
                     depots.APRES_REVUE: "du dépôt le plus récent qui compte : validé, ou reçu sans avertissement "
                                         "confirmé",
                     depots.APRES_VALIDATION: "du dépôt validé le plus récent"}[d.valeurs_retenues]
            st.caption(f"Les graphiques et le rapport utilisent, pour chaque indicateur, périmètre et période, la valeur "
                       f"{regle} (le protocole a choisi : valeurs prises en compte {d.valeurs_retenues}).")
