"""Mon compte : qui je suis pour l'application, mon rôle, et mon mot de passe."""
import streamlit as st

from perr_metrics.acces import comptes
from perr_metrics import ui
from perr_metrics.acces.droits import LIBELLES_ROLES

u = ui.garde_page()
st.title("Mon compte")
with ui.protections():
    if u is not None:
        st.markdown(f"**{ui.echapper(u.nom)}** — identifiant `{u.identifiant}`  \n"
                    f"Rôle : {LIBELLES_ROLES.get(u.role, u.role)}"
                    + (f"  \nRattaché à : {ui.echapper(u.signataire)} (protocole {ui.echapper(u.protocole)})"
                       if u.signataire else "")
                    + (f"  \nCourriel : {ui.echapper(u.courriel)}" if u.courriel else ""))
        st.subheader("Changer mon mot de passe")
        with st.form("mot_de_passe", clear_on_submit=True):
            ancien = st.text_input("Mot de passe actuel", type="password")
            nouveau = st.text_input(f"Nouveau mot de passe (au moins {comptes.LONGUEUR_MIN} caractères)",
                                    type="password")
            confirmation = st.text_input("Confirmez le nouveau mot de passe", type="password")
            changer = st.form_submit_button("Changer le mot de passe", type="primary")
        if changer:
            if nouveau != confirmation:
                st.error("Les deux saisies du nouveau mot de passe diffèrent.")
            else:
                try:
                    comptes.changer_mot_de_passe(ui.store(), u.identifiant, nouveau, ancien)
                except comptes.CompteRefuse as exc:
                    st.error(str(exc))
                else:
                    st.success("Mot de passe changé.")
