"""Comptes (administrateurs) : créer, modifier, désactiver un compte, changer son mot de passe, et les protocoles que
couvre un administrateur ou un lecteur (aucun : toute l'instance ; un administrateur limité ne gère que les siens)."""
import streamlit as st

from perr_metrics.acces import comptes
from perr_metrics.referentiel import requetes
from perr_metrics import ui
from perr_metrics.acces.droits import LIBELLES_ROLES, ROLES, texte_portee

u = ui.garde_page("gerer_comptes")
st.title("Comptes")
with ui.protections():
    if (message := st.session_state.pop("compte_message", None)):
        st.success(message)
    df = comptes.lister_comptes(ui.store())
    vue = df.assign(role_txt=df["role"].map(LIBELLES_ROLES), etat=df["actif"].map({True: "actif", False: "désactivé"}),
                    entree=df["sso_seul"].map({True: "authentification unique", False: "mot de passe"}),
                    derniere=df["derniere_connexion"].map(ui.date_heure_texte),
                    portee=[", ".join(p) if p else "toute l'instance" for p in df["protocoles"]])
    if u.portee is not None:
        st.caption(f"Votre compte couvre {texte_portee(u.portee)} : vous gérez les comptes de ce"
                   f"{'s' if len(u.portee) > 1 else ''} protocole{'s' if len(u.portee) > 1 else ''}, et eux seuls.")
    ui.tableau(vue, {"identifiant": "Identifiant", "nom": "Nom", "role_txt": "Rôle", "portee": "Protocoles",
                     "signataire_nom": "Signataire", "courriel": "Courriel", "entree": "Connexion", "etat": "État",
                     "derniere": "Dernière connexion"}, larges=("nom",))

    st.header("Créer un compte")
    protocoles = ui.lire(requetes.protocoles)
    codes = list(protocoles["code"])
    aucun = "toute l'instance" if u.portee is None else "les vôtres"
    role = st.selectbox("Rôle", ROLES, format_func=LIBELLES_ROLES.get, key="nouveau_role")
    protocole = signataire = portee = None
    if role != "contributeur" and codes:
        portee = st.multiselect(f"Protocoles couverts (aucun : {aucun})", codes, key="nouveaux_protocoles",
                                placeholder="Choisir des protocoles",
                                help="Un administrateur limité à des protocoles en est la coordination, et d'eux "
                                     "seuls : référentiel, comptes, revues, journal, vue publique, rapports. Un "
                                     "lecteur limité ne lit que ces protocoles.") or None
    if role == "contributeur" and not protocoles.empty:
        g, d = st.columns(2)
        protocole = g.selectbox("Protocole", list(protocoles["code"]), key="nouveau_protocole")
        sig = ui.lire(requetes.signataires, protocole)
        noms = dict(zip(sig["code"], sig["libelle"]))
        signataire = d.selectbox("Signataire ou service", list(noms), format_func=lambda c: f"{noms[c]} ({c})",
                                 key="nouveau_signataire")
    with st.form("nouveau_compte", clear_on_submit=True):
        g, d = st.columns(2)
        identifiant = g.text_input("Identifiant", placeholder="prenom.nom")
        nom = d.text_input("Nom affiché", placeholder="Prénom Nom, structure")
        courriel = g.text_input("Courriel (pour l'authentification unique)")
        mdp = d.text_input(f"Mot de passe initial (au moins {comptes.LONGUEUR_MIN} caractères ; vide : "
                           "authentification unique seulement)", type="password")
        if st.form_submit_button("Créer le compte", type="primary"):
            try:
                cree = comptes.creer_compte(ui.store(), identifiant, nom, role, mdp or None,
                                            courriel=courriel or None, protocole=protocole, signataire=signataire,
                                            protocoles=portee)
            except comptes.CompteRefuse as exc:
                st.error(str(exc))
            else:
                st.session_state["compte_message"] = (f"Compte « {cree.identifiant} » créé "
                                                      f"({LIBELLES_ROLES[cree.role]}, {texte_portee(cree.portee)}).")
                st.rerun()

    st.header("Modifier un compte")
    choix = st.selectbox("Compte", list(df["identifiant"]), key="compte_choisi",
                         format_func=lambda i: f"{i} — {df.set_index('identifiant').loc[i, 'nom']}")
    if choix:
        ligne = df.set_index("identifiant").loc[choix]
        g, d = st.columns(2)
        with g.form("mot_de_passe_compte", clear_on_submit=True):
            st.markdown("**Nouveau mot de passe**")
            nouveau = st.text_input("Mot de passe", type="password")
            if st.form_submit_button("Changer le mot de passe"):
                try:
                    comptes.changer_mot_de_passe(ui.store(), choix, nouveau)
                except comptes.CompteRefuse as exc:
                    st.error(str(exc))
                else:
                    st.session_state["compte_message"] = f"Mot de passe du compte « {choix} » changé."
                    st.rerun()
        with d:
            st.markdown("**Activation**")
            if ligne["actif"]:
                if st.button("Désactiver ce compte", key="desactiver", disabled=choix == u.identifiant,
                             help="Un administrateur ne se désactive pas lui-même."):
                    comptes.activer_compte(ui.store(), choix, False)
                    st.session_state["compte_message"] = f"Compte « {choix} » désactivé."
                    st.rerun()
            elif st.button("Réactiver ce compte", key="reactiver"):
                comptes.activer_compte(ui.store(), choix, True)
                st.session_state["compte_message"] = f"Compte « {choix} » réactivé."
                st.rerun()
            nouveau_role = st.selectbox("Rôle", ROLES, index=list(ROLES).index(ligne["role"]),
                                        format_func=LIBELLES_ROLES.get, key="changer_role")
            if nouveau_role != ligne["role"] and nouveau_role != "contributeur":
                if st.button(f"Passer en {LIBELLES_ROLES[nouveau_role].lower()}", key="appliquer_role"):
                    comptes.modifier_compte(ui.store(), choix, role=nouveau_role)
                    st.session_state["compte_message"] = f"Compte « {choix} » : rôle changé."
                    st.rerun()
            elif nouveau_role == "contributeur" and ligne["role"] != "contributeur":
                st.caption("Un contributeur est rattaché à un signataire : créez-lui plutôt un compte contributeur.")
            if ligne["role"] != "contributeur" and codes:
                actuels = list(ligne["protocoles"] or [])
                choisis = st.multiselect(f"Protocoles couverts (aucun : {aucun})", sorted(set(codes) | set(actuels)),
                                         default=actuels, key=f"protocoles_de_{choix}",
                                         placeholder="Choisir des protocoles")
                if sorted(choisis) != sorted(actuels) and st.button("Changer les protocoles", key="appliquer_portee"):
                    try:
                        fait = comptes.modifier_compte(ui.store(), choix, protocoles=choisis or (
                            sorted(u.portee) if u.portee is not None else None))
                    except comptes.CompteRefuse as exc:
                        st.error(str(exc))
                    else:
                        st.session_state["compte_message"] = (f"Compte « {choix} » : il couvre désormais "
                                                              f"{texte_portee(fait.portee)}.")
                        st.rerun()
