"""Référentiel : modèle vierge, brouillon depuis le protocole signé, import d'un classeur (aperçu de ce qui change,
puis confirmation ; tout ou rien), le référentiel en base, export d'un protocole."""
import hashlib
import io

import streamlit as st

from perr_metrics.referentiel import apercu
from perr_metrics.referentiel import classeur as referentiel
from perr_metrics.referentiel import requetes
from perr_metrics import ui
from perr_metrics.commun.erreurs import ImportRefuse

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

ui.garde_page("administrer_referentiel")
st.title("Référentiel d'un protocole")
st.markdown("Un protocole se décrit dans un classeur : protocole, contrats de ville, communes, quartiers, signataires, "
            "axes, engagements, indicateurs, références et cibles. Réimporter le classeur d'un protocole existant le "
            "met à jour sans rien perdre de ce qui y est déjà attaché, après avoir montré ce qui change.")
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
    st.caption("Le classeur est d'abord contrôlé et comparé au référentiel en base : la page montre ce qui serait "
               "ajouté, modifié ou retiré, et rien n'est écrit avant « Confirmer l'import ».")
    fichier = ui.televersement("Classeur du référentiel (.xlsx ou .ods)", ["xlsx", "ods", "xlsm"], "classeur",
                                "Classeur .xlsx, .xlsm ou .ods")
    if fichier is not None:
        contenu = fichier.getvalue()
        empreinte = hashlib.sha256(contenu).hexdigest()
        fait = st.session_state.get("referentiel_importe")
        if fait and fait["empreinte"] == empreinte:
            st.success(fait["message"])
        else:
            try:
                a = apercu.apercu_import(ui.store(), contenu, fichier.name)
            except ImportRefuse as exc:
                st.error(f"Classeur refusé : {exc} Corrigez les cellules ci-dessous et déposez-le à nouveau.")
                ui.afficher_rapport(exc.rapport)
            else:
                st.subheader(f"Ce que changerait l'import : {a.titre} ({a.protocole})")
                if not a.existe:
                    st.info("Ce protocole n'est pas encore en base : tout ce qui suit sera créé.")
                resume = a.resume
                ui.tableau(resume, {"categorie": "Quoi", "ajoutes": "Ajoutés", "modifies": "Modifiés",
                                    "retires": "Retirés"})
                if a.vide:
                    st.info("Ce classeur ne change rien au référentiel en base.")
                else:
                    ui.tableau(a.changements, {"categorie": "Quoi", "code": "Code", "libelle": "Libellé",
                                               "changement": "Changement", "detail": "Ce qui change"},
                               larges=("libelle", "detail"), row_height=ui.LIGNE_A_LA_LIGNE,
                               height=min(40 + (ui.LIGNE_A_LA_LIGNE + 1) * len(a.changements), 520))
                    retires = int(resume["retires"].sum())
                    if retires:
                        st.warning(f"{retires} élément(s) seraient retirés du référentiel (aucun ne porte de valeur, "
                                   "de dépôt ni de suivi : l'import l'aurait refusé).", icon=":material/delete:")
                if st.button("Confirmer l'import", type="primary", key="confirmer_import",
                             icon=":material/check:"):
                    try:
                        res = referentiel.importer_referentiel(ui.store(), contenu, fichier.name)
                    except ImportRefuse as exc:
                        st.error(f"Classeur refusé : {exc}")
                        ui.afficher_rapport(exc.rapport)
                    else:
                        ui.vider_cache()
                        st.session_state["referentiel_importe"] = dict(empreinte=empreinte, message=(
                            f"Protocole {res.protocole} {'créé' if res.cree else 'mis à jour'} : "
                            f"{res.compte['noeud']} nœuds, {res.compte['engagement']} engagements, "
                            f"{res.compte['indicateur']} indicateurs."))
                        st.rerun()

    st.header("Référentiel en base")
    en_base = ui.lire(requetes.protocoles)
    if en_base.empty:
        st.info("Aucun protocole en base : importez un classeur.")
    else:
        libelles_p = {r.code: f"{r.territoire} — {r.annee_debut}–{r.annee_fin} ({r.code})" for r in en_base.itertuples()}
        vu = st.selectbox("Protocole", list(en_base["code"]), format_func=libelles_p.get, key="referentiel_vu")
        arbre = ui.lire(requetes.arbre, vu)
        eng = ui.lire(requetes.engagements, vu)
        ind = ui.lire(requetes.indicateurs, vu)
        sig = ui.lire(requetes.signataires, vu)
        for col, (nom, n) in zip(st.columns(4), (("Nœuds", len(arbre)), ("Engagements", len(eng)),
                                                   ("Indicateurs", len(ind)), ("Signataires", len(sig)))):
            col.metric(nom, n)
        arbo, engs, inds, sigs = st.tabs(["Arborescence", "Engagements", "Indicateurs", "Signataires"])
        with arbo:
            vue = arbre.assign(libelle_indente=["\u2003" * (int(p) - 1) + l for p, l in
                                                 zip(arbre["profondeur"], arbre["libelle"])])
            ui.tableau(vue, {"code": "Code", "niveau": "Niveau", "libelle_indente": "Libellé",
                             "nb_engagements": "Engagements", "nb_indicateurs": "Indicateurs"},
                       larges=("libelle_indente",))
        with engs:
            vue = eng.assign(noeud_nom=eng["noeud"] + " — " + eng["noeud_libelle"])
            ui.tableau(vue, {"code": "Code", "libelle": "Engagement", "porteurs_noms": "Porteurs",
                             "noeud_nom": "Nœud"}, larges=("libelle",), row_height=ui.LIGNE_A_LA_LIGNE)
        with inds:
            ui.tableau(ind, {"code": "Code", "libelle": "Indicateur", "unite": "Unité", "signataire_nom": "Déclaré par",
                             "engagements": "Engagements"}, larges=("libelle",))
        with sigs:
            ui.tableau(sig, {"code": "Code", "libelle": "Signataire", "categorie": "Catégorie",
                             "rattache_a": "Rattaché à", "nb_engagements": "Engagements",
                             "nb_indicateurs": "Indicateurs"}, larges=("libelle",))

    st.header("Exporter un protocole")
    df = ui.lire(requetes.protocoles)
    if not df.empty:
        libelles = {r.code: f"{r.territoire} — {r.annee_debut}–{r.annee_fin} ({r.code})" for r in df.itertuples()}
        code = st.selectbox("Protocole à exporter", list(df["code"]), format_func=libelles.get, key="export")
        flux = io.BytesIO()
        referentiel.exporter_referentiel(ui.store(), code, flux)
        st.download_button("Télécharger son classeur", flux.getvalue(), f"referentiel-{code}.xlsx", XLSX)
