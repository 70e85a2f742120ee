"""Référentiel : modèle vierge, import d'un classeur (tout ou rien), export d'un protocole."""
import io

import streamlit as st

from perr_metrics.referentiel import classeur as referentiel
from perr_metrics.referentiel import requetes
from perr_metrics import ui
from perr_metrics.commun.erreurs import ImportRefuse

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

ui.garde_page("administrer_referentiel")
st.title("Référentiel d'un protocole")
st.markdown("Un protocole se décrit dans un classeur : protocole, contrats de ville, communes, quartiers, signataires, "
            "axes, engagements, indicateurs, références et cibles. Réimporter le classeur d'un protocole existant le "
            "met à jour sans rien perdre de ce qui y est déjà attaché.")
with ui.protections():
    modele = io.BytesIO()
    referentiel.ecrire_modele(modele)
    st.download_button("Télécharger le modèle vierge", modele.getvalue(), "referentiel-modele.xlsx", XLSX)

    st.header("Brouillon depuis le protocole signé")
    st.markdown("Déposez le texte signé du protocole : un classeur du référentiel rempli (arborescence, engagements, "
                "porteurs, signataires, quartiers) est préparé, avec une feuille « À vérifier ». Relisez-le, corrigez-le, "
                "puis importez-le ci-dessous. Rien n'est écrit dans la base.")
    protocole = ui.televersement("Protocole signé (.pdf, .docx, .odt, .txt, .md)", ["pdf", "docx", "odt", "txt", "md"],
                                 "protocole_signe", "Protocole .pdf, .docx, .odt, .txt ou .md")
    if protocole is not None:
        from perr_metrics.referentiel.brouillon.classeur import ecrire_brouillon, rediger_brouillon
        from perr_metrics.referentiel.brouillon.texte import BrouillonRefuse
        try:
            res = rediger_brouillon(protocole.getvalue(), protocole.name)
        except BrouillonRefuse as exc:
            st.error(f"Document refusé : {exc}")
        else:
            b = res.brouillon
            st.success(f"{len(b.noeuds)} nœuds, {len(b.engagements)} engagements, {len(b.signataires)} signataires, "
                       f"{len(b.quartiers)} quartiers lus ; {len(b.a_verifier)} point(s) à vérifier.")
            flux = io.BytesIO()
            ecrire_brouillon(res, flux, protocole.name)
            st.download_button("Télécharger le brouillon", flux.getvalue(), "referentiel-brouillon.xlsx", XLSX)

    st.header("Importer un classeur")
    fichier = ui.televersement("Classeur du référentiel (.xlsx ou .ods)", ["xlsx", "ods", "xlsm"], "classeur",
                                "Classeur .xlsx, .xlsm ou .ods")
    if fichier is not None:
        try:
            res = referentiel.importer_referentiel(ui.store(), fichier.getvalue(), fichier.name)
        except ImportRefuse as exc:
            st.error(f"Classeur refusé : {exc} Corrigez les cellules ci-dessous et déposez-le à nouveau.")
            ui.afficher_rapport(exc.rapport)
        else:
            ui.vider_cache()
            st.success(f"Protocole {res.protocole} {'créé' if res.cree else 'mis à jour'} : {res.compte['noeud']} "
                       f"nœuds, {res.compte['engagement']} engagements, {res.compte['indicateur']} indicateurs.")

    st.header("Exporter un protocole")
    df = ui.lire(requetes.protocoles)
    if not df.empty:
        libelles = {r.code: f"{r.territoire} — {r.annee_debut}–{r.annee_fin} ({r.code})" for r in df.itertuples()}
        code = st.selectbox("Protocole à exporter", list(df["code"]), format_func=libelles.get, key="export")
        flux = io.BytesIO()
        referentiel.exporter_referentiel(ui.store(), code, flux)
        st.download_button("Télécharger son classeur", flux.getvalue(), f"referentiel-{code}.xlsx", XLSX)
