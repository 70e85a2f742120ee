"""Point d'entrée Streamlit : configuration, session et navigation (selon le rôle de l'utilisateur), rien d'autre."""
import streamlit as st

from perr_metrics import ui

st.set_page_config(page_title="perr-metrics — tableau de bord des PERR", page_icon=":material/monitoring:", layout="wide")
ui.preparer_base()
with ui.protections():
    page = ui.navigation()
    ui.bandeau_utilisateur()
    page.run()
