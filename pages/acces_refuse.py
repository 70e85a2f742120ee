"""L'adresse d'une page hors du rôle de l'utilisateur connecté."""
import streamlit as st

from perr_metrics import ui
from perr_metrics.droits import LIBELLES_ROLES

u = ui.garde_page()
st.title("Accès refusé")
if u is not None:
    st.error(f"Cette page n'est pas ouverte à votre rôle ({LIBELLES_ROLES.get(u.role, u.role).lower()}). Les pages "
             "auxquelles vous avez accès sont dans le menu.", icon=":material/block:")
