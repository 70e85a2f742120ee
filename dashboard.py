"""Point d'entrée Streamlit : configuration et navigation, rien d'autre."""
import streamlit as st

from perr_metrics import ui

st.set_page_config(page_title="perr-metrics — tableau de bord des PERR", page_icon=":material/monitoring:", layout="wide")
ui.preparer_base()
st.navigation([
    st.Page("pages/accueil.py", title="Accueil", icon=":material/home:", default=True),
    st.Page("pages/deposer.py", title="Déposer", icon=":material/upload_file:"),
    st.Page("pages/suivi_depots.py", title="Suivi des dépôts", icon=":material/fact_check:"),
    st.Page("pages/referentiel.py", title="Référentiel", icon=":material/account_tree:"),
]).run()
