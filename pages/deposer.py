"""Déposer : télécharger son modèle, déposer son fichier, lire le contrôle, confirmer, voir ce qui a changé."""
import hashlib
import io

import streamlit as st

from perr_metrics.depots import depot as depots
from perr_metrics.depots import echeances
from perr_metrics.depots import modele as modele_depot
from perr_metrics.depots import relances
from perr_metrics import ui

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

def accuse_de_reception(res, protocole: str, signataire: str, cle) -> None:
    """L'accusé de réception du dépôt (une fois, gardé dans la session), et ce qu'il est devenu."""
    cle_accuse = ("accuse", *cle)
    if cle_accuse not in st.session_state:
        config, adresse, erreur = ui.config_courriel()
        if erreur:
            st.session_state[cle_accuse] = [f"Aucun accusé de réception : configuration du courriel illisible "
                                            f"({erreur})."]
        else:
            envois = relances.accuser_reception(ui.store(), res, config, protocole=protocole, signataire=signataire,
                                                adresse_tableau_de_bord=adresse)
            st.session_state[cle_accuse] = [
                (f"Accusé de réception envoyé à {', '.join(e.acceptes)}." if e.acceptes else
                 f"Accusé de réception non envoyé : {e.raison or '; '.join(e.refuses.values())}.")
                for e in envois if e.nature == relances.ACCUSE]
    for ligne in st.session_state[cle_accuse]:
        st.caption(ui.echapper(ligne))


u = ui.garde_page("deposer")
st.title("Déposer des valeurs")
with ui.protections():
    p = ui.entete_protocole()
    if p is not None:
        g, m = st.columns([3, 1])
        with g:
            signataire = ui.choisir_signataire(p)
        with m:
            periode = ui.choisir_periode(p)
        st.caption(f"Vous déposez au nom de {ui.echapper(u.nom)} ({u.identifiant}) : chaque valeur en gardera la trace.")
        st.markdown(f"**{ui.echapper(ui.lire(echeances.echeance, p['code'], periode).phrase())}.**")
        if signataire:
            st.subheader("1. Télécharger le modèle pré-rempli")
            flux = io.BytesIO()
            try:
                n = modele_depot.ecrire_modele_depot(ui.store(), p["code"], signataire, periode, flux)
            except modele_depot.ModeleImpossible as exc:
                st.info(str(exc))
            else:
                st.download_button(f"Modèle {signataire} — {periode} ({n} valeurs attendues)", flux.getvalue(),
                                   f"depot-{p['code']}-{signataire}-{periode}.xlsx", XLSX)
            st.caption("Le modèle liste les valeurs attendues de vous pour la période. Vous pouvez aussi déposer une "
                       "table à vous (.xlsx, .ods, .csv) aux colonnes indicateur, perimetre, periode, valeur, commentaire.")

            st.subheader("2. Déposer le fichier rempli")
            fichier = ui.televersement("Fichier de valeurs", ["xlsx", "xlsm", "ods", "csv"], "depot",
                                             "Classeur .xlsx, .xlsm, .ods ou fichier .csv")
            if fichier is not None:
                donnees = fichier.getvalue()
                cle = ("depot", hashlib.sha256(donnees).hexdigest(), p["code"], signataire, periode)
                confirmer = st.session_state.get("confirmer") == cle
                if cle not in st.session_state or confirmer:
                    barre = st.progress(0.0, text="Lecture du fichier…")
                    st.session_state[cle] = depots.deposer(
                        ui.store(), donnees, fichier.name, protocole=p["code"], signataire=signataire,
                        periode=periode, accepter_avertissements=confirmer,
                        progression=lambda f, t: barre.progress(f, text=t))
                    st.session_state.pop("confirmer", None)
                    barre.empty()
                    ui.vider_cache()
                res = st.session_state[cle]
                if res.statut == "rejete":
                    n_err = len(res.rapport.erreurs)
                    st.error(f"Fichier refusé : {n_err} problème{'s' if n_err > 1 else ''} à corriger. Rien n'a été "
                             "enregistré ; corrigez les cellules indiquées puis déposez le fichier à nouveau.")
                    ui.afficher_rapport(res.rapport)
                elif res.statut == "a-confirmer":
                    st.warning("Le fichier est valide, mais certaines valeurs surprennent. Vérifiez-les : rien n'est "
                               "enregistré tant que vous ne confirmez pas.")
                    ui.afficher_rapport(res.rapport)
                    if st.button("Je confirme ces valeurs : enregistrer le dépôt", type="primary"):
                        st.session_state["confirmer"] = cle
                        st.rerun()
                elif res.statut == "deja-depose":
                    st.info(f"Ce fichier a déjà été déposé (dépôt n° {res.depot_id}) : rien de nouveau à enregistrer.")
                else:
                    st.success(f"Dépôt n° {res.depot_id} enregistré : {res.nb_valeurs} valeurs, période "
                               f"{res.periode or 'multiple'}"
                               + (f", {len(res.motifs)} valeur(s) non donnée(s) avec leur motif." if len(res.motifs)
                                  else "."))
                    accuse_de_reception(res, p["code"], signataire, cle)
                    ch = res.changements.copy()
                    resume = ch["nature"].value_counts()
                    st.markdown(" · ".join(f"**{resume.get(k, 0)}** {k}{'s' if resume.get(k, 0) > 1 else ''}"
                                           for k in ("nouvelle", "modifiée", "inchangée")))
                    ch["ancienne_txt"] = ch["ancienne"].map(ui.nombre)
                    ch["nouvelle_txt"] = ch["nouvelle"].map(ui.nombre)
                    ui.tableau(ch.sort_values(["nature", "indicateur"]),
                               {"indicateur": "Indicateur", "perimetre": "Périmètre", "periode": "Période",
                                "ancienne_txt": "Valeur précédente", "nouvelle_txt": "Nouvelle valeur",
                                "nature": "Changement"})
