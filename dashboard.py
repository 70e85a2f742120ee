"""Point d'entrée Streamlit : configuration et navigation, rien d'autre."""
import streamlit as st

from perr_metrics import ui

st.set_page_config(page_title="perr-metrics — tableau de bord des PERR", page_icon=":material/monitoring:", layout="wide")
ui.preparer_base()
st.navigation({
    "Pilotage": [
        st.Page("pages/accueil.py", title="Accueil", icon=":material/home:", default=True),
        st.Page("pages/vue_ensemble.py", title="Vue d'ensemble", icon=":material/dashboard:"),
        st.Page("pages/par_axe.py", title="Par axe", icon=":material/stacked_bar_chart:"),
        st.Page("pages/par_qpv.py", title="Par QPV", icon=":material/location_city:"),
        st.Page("pages/par_signataire.py", title="Par signataire", icon=":material/groups:"),
        st.Page("pages/fiche_indicateur.py", title="Fiche indicateur", icon=":material/query_stats:"),
        st.Page("pages/engagements.py", title="Engagements", icon=":material/task_alt:"),
    ],
    "Partenaires": [
        st.Page("pages/deposer.py", title="Déposer", icon=":material/upload_file:"),
        st.Page("pages/suivi_depots.py", title="Suivi des dépôts", icon=":material/fact_check:"),
        st.Page("pages/rapport_annuel.py", title="Rapport annuel", icon=":material/picture_as_pdf:"),
    ],
    "Administration": [
        st.Page("pages/referentiel.py", title="Référentiel", icon=":material/account_tree:"),
    ],
}).run()
