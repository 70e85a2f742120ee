"""Point d'entrée Streamlit : configuration, session et navigation (selon le rôle de l'utilisateur), rien d'autre."""
import streamlit as st

from perr_metrics import ui

# Le menu ⋮ de Streamlit : ni « Get help », ni « Report a bug », ni « About » (libellés anglais que Streamlit ne
# traduit pas) ; avec client.toolbarMode = "minimal" (.streamlit/config.toml), il n'est plus affiché.
st.set_page_config(page_title="perr-metrics — tableau de bord des PERR", page_icon=":material/monitoring:", layout="wide",
                   menu_items={"Get help": None, "Report a bug": None, "About": None})
ui.preparer_base()
with ui.protections():
    page = ui.navigation()
    ui.bandeau_utilisateur()
    ui.message_page_introuvable()
    page.run()
