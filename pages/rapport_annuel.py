"""Rapport annuel d'évaluation : le document du COPIL, tiré de la base, en PDF, Word et Excel."""
import streamlit as st

from perr_metrics import rapport
from perr_metrics import ui
from perr_metrics.commun.formats import format_nombre, format_pourcent

ui.garde_page("consulter_pilotage")
st.title("Rapport annuel d'évaluation")
st.markdown("Le rapport que l'on remet au comité de pilotage, établi à partir des valeurs déposées, sans ressaisie : "
            "synthèse, un chapitre par axe, une fiche par quartier, une annexe par signataire et la méthode. Le même "
            "contenu en PDF (à diffuser), en Word (à compléter) et en Excel (un onglet par tableau).")

with ui.protections():
    p = ui.entete_protocole()
    if p is not None:
        annee = ui.choisir_periode(p, "Année évaluée")
        # L'aperçu seulement (chiffres, début de la synthèse, sommaire) : le contenu entier du rapport n'est construit
        # que pour en préparer les fichiers.
        ap = ui.lire(rapport.apercu, p["code"], annee)
        c = ap.chiffres
        jugeables = sum(c["statuts"][s] for s in ("atteint", "en bonne voie", "en retard"))
        bons = c["statuts"]["atteint"] + c["statuts"]["en bonne voie"]
        attendus, recus = c["valeurs_attendues"], c["valeurs_recues"]

        st.subheader(f"Aperçu de la synthèse {annee}")
        m = st.columns(5)
        m[0].metric("Indicateurs suivis", format_nombre(c["indicateurs"]))
        m[1].metric("Atteints ou en bonne voie", format_nombre(bons),
                    help=f"{format_pourcent(100 * bons / jugeables if jugeables else None, 0)} des indicateurs jugeables")
        m[2].metric("En retard", format_nombre(c["statuts"]["en retard"]))
        m[3].metric("Valeurs reçues", format_pourcent(100 * recus / attendus if attendus else None, 0),
                    help=f"{format_nombre(recus)} valeurs reçues sur {format_nombre(attendus)} attendues")
        m[4].metric("Engagements réalisés", f"{format_nombre(c['etats']['réalisé'])} sur "
                                            f"{format_nombre(c['engagements'])}")
        for bloc in ap.synthese:
            if isinstance(bloc, rapport.Paragraphe) and bloc.style == "normal":
                st.markdown(bloc.texte)
        with st.expander("Sommaire du rapport"):
            st.markdown("\n".join(("  " * (niveau - 1)) + f"- {titre}" for niveau, titre in ap.sommaire))

        st.subheader("Télécharger le rapport")
        cle = ("rapport", p["code"], annee, ui.signature_base())
        if st.button("Préparer le rapport (PDF, Word et Excel)", type="primary", icon=":material/description:"):
            with st.spinner("Préparation du rapport : graphiques, PDF, Word et Excel… (quelques secondes à une "
                            "minute pour un gros protocole)"):
                r = ui.lire(rapport.construire_rapport, p["code"], annee)
                contenus, erreurs = rapport.fichiers(r)
                st.session_state["rapport"] = dict(cle=cle, fichiers=contenus, erreurs=erreurs,
                                                   sans_images=r.images_indisponibles)
        prets = st.session_state.get("rapport")
        prets = prets if prets and prets["cle"] == cle else dict(fichiers={}, erreurs={}, sans_images=None)
        fichiers = prets["fichiers"]
        for message in prets["erreurs"].values():
            st.error(message)
        if fichiers and prets["sans_images"]:
            st.warning(f"Graphiques remplacés par un encadré dans le PDF et le document Word : {prets['sans_images']}.")
        colonnes = st.columns(3)
        for col, (fmt, libelle) in zip(colonnes, (("pdf", "PDF"), ("docx", "Word"), ("xlsx", "Excel"))):
            donnees = fichiers.get(fmt)
            taille = f" ({format_nombre(len(donnees) / 1024, 0)} Ko)" if donnees else ""
            col.download_button(f"{libelle}{taille}", donnees or b"", f"{ap.nom_fichier}.{fmt}", rapport.TYPES_MIME[fmt],
                                key=f"telecharger-{fmt}", disabled=donnees is None, icon=":material/download:",
                                help=None if donnees else "Préparez d'abord le rapport.", width="stretch")
