"""Une base neuve, sans aucun compte : créer le premier administrateur (la coordination)."""
import streamlit as st

from perr_metrics.acces import comptes
from perr_metrics import ui

ui.garde_page()
st.title("Créer le premier compte administrateur")
st.markdown("Cette base n'a encore aucun compte. Le premier est celui de l'**équipe de coordination** : il importe le "
            "référentiel, crée les comptes des partenaires et des membres du COPIL, et revoit les dépôts.")
with ui.protections():
    with st.form("premier"):
        identifiant = st.text_input("Identifiant", placeholder="prenom.nom")
        nom = st.text_input("Nom affiché", placeholder="Prénom Nom, service politique de la ville")
        courriel = st.text_input("Courriel (facultatif, pour l'authentification unique)")
        mdp = st.text_input(f"Mot de passe (au moins {comptes.LONGUEUR_MIN} caractères)", type="password")
        confirmation = st.text_input("Confirmez le mot de passe", type="password")
        creer = st.form_submit_button("Créer le compte et me connecter", type="primary")
    if creer:
        if mdp != confirmation:
            st.error("Les deux saisies du mot de passe diffèrent.")
        else:
            u = comptes.creer_premier_administrateur(ui.store(), identifiant, nom, mdp, courriel or None)
            ui.ouvrir_session(u)
            st.rerun()
