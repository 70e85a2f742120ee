"""L'adresse d'une page hors du rôle de l'utilisateur connecté."""
import streamlit as st

from perr_metrics import ui

u = ui.garde_page()
st.title("Accès refusé")
if u is not None:
    st.error(f"Cette page n'est pas ouverte à votre rôle ({u.role}). Les pages "
             "auxquelles vous avez accès sont dans le menu.", icon=":material/block:")
