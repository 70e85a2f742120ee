"""Connexion : identifiant et mot de passe (par défaut), ou authentification unique si elle est configurée."""
import pandas as pd
import streamlit as st

from perr_metrics.acces import comptes
from perr_metrics import ui
from perr_metrics.acces.droits import LIBELLES_ROLES

ui.garde_page()
st.title("Connexion")
with ui.protections():
    message = st.session_state.pop("perr_message", None)
    if message:
        st.warning(message)
    refus_sso = st.session_state.get("perr_sso_message")
    if refus_sso and ui.sso_connecte():
        st.error(refus_sso)
        if st.button("Se déconnecter du fournisseur d'identité", icon=":material/logout:"):
            st.session_state.pop("perr_sso_refuse", None)
            st.session_state.pop("perr_sso_message", None)
            st.logout()
    g, d = st.columns([1, 1], gap="large")
    with g:
        with st.form("connexion"):
            identifiant = st.text_input("Identifiant", key="identifiant", autocomplete="username")
            mot_de_passe = st.text_input("Mot de passe", type="password", key="mot_de_passe",
                                         autocomplete="current-password")
            envoyer = st.form_submit_button("Se connecter", type="primary", icon=":material/login:")
        if envoyer:
            try:
                u = comptes.authentifier(ui.store(), identifiant, mot_de_passe)
            except comptes.ConnexionRefusee as exc:
                st.error(str(exc))
            else:
                ui.ouvrir_session(u)
                st.rerun()
        fournisseur = ui.fournisseur_sso()
        if fournisseur:
            st.markdown("ou")
            if st.button(f"Se connecter avec {ui.nom_fournisseur(fournisseur)}", icon=":material/badge:"):
                st.login(fournisseur)   # retour à la racine : ui.navigation rouvre le lien retenu (cookie)
        st.caption("Mot de passe oublié : l'équipe de coordination peut le changer (page « Comptes »). Après "
                   f"{comptes.ESSAIS_MAX} essais infructueux, le compte est bloqué "
                   f"{int(comptes.FENETRE.total_seconds() // 60)} minutes.")
    with d:
        demo = comptes.comptes_demo_affiches(ui.store())
        if demo:
            st.info("**Démonstration** : ces comptes ouvrent les protocoles fictifs de la démonstration, un par rôle.",
                    icon=":material/science:")
            st.table(pd.DataFrame([{"Rôle": LIBELLES_ROLES[c.role], "Identifiant": c.identifiant,
                                    "Mot de passe": c.mot_de_passe, "Ce qu'il permet": c.explication} for c in demo]
                                  ).set_index("Rôle"))
        from perr_metrics.pilotage.publication import vue_publique_ouverte
        if vue_publique_ouverte(ui.store()):
            st.page_link("pages/indicateurs_publies.py", label="Consulter les indicateurs publiés, sans compte",
                         icon=":material/public:")
