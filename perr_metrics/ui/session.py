"""La session : qui est connecté, depuis quand ; cookie de session ; expiration ; authentification unique (OpenID
Connect). L'utilisateur de la session lui-même (`utilisateur()`) est lu par ui.magasin, au nom duquel il lit la base."""
from __future__ import annotations

import datetime as dt
import os

import streamlit as st

from perr_metrics.acces import comptes
from perr_metrics.acces.comptes import ConnexionRefusee
from perr_metrics.acces.droits import Utilisateur
from perr_metrics.ui.magasin import _CLE, _chemin, _recharger, _store, signature_base, utilisateur, vider_cache

INACTIVITE = dt.timedelta(minutes=int(os.environ.get("PERR_SESSION_MINUTES", 60)))
DUREE_MAX = dt.timedelta(hours=int(os.environ.get("PERR_SESSION_HEURES", 12)))


# Une session survit au rechargement de la page et s'ouvre dans un nouvel onglet (un lien d'invitation au COPIL) : un
# jeton aléatoire dans un cookie du navigateur (`perr_session`), dont le serveur garde l'empreinte en mémoire avec le
# compte et les heures d'ouverture et de dernière activité. Rien dans la base : pas d'écriture à chaque page, et un
# redémarrage du serveur ferme toutes les sessions. La déconnexion et l'expiration oublient le jeton côté serveur.
COOKIE, COOKIE_DEMANDE = "perr_session", "perr_demande"


@st.cache_resource(show_spinner=False)
def _sessions_web() -> dict:
    return {}


def _empreinte(jeton: str) -> str:
    import hashlib
    return hashlib.sha256(jeton.encode()).hexdigest()


def _cookie(nom: str, valeur: str, duree: int) -> None:
    """Écrit (ou efface, `duree` = 0) un cookie du navigateur, par un script exécuté dans la page (Streamlit ne pose
    pas de cookie lui-même). `st.html(..., unsafe_allow_javascript=True)` : le script ne vient que d'ici (nom, jeton
    aléatoire, durée), jamais d'une saisie ; `st.components.v1.html`, déprécié, sera retiré de Streamlit."""
    import json
    attributs = f"{nom}={valeur}; path=/; max-age={duree}; SameSite=Lax"
    with st.sidebar:
        st.html(f"<script>document.cookie = {json.dumps(attributs)};</script>", unsafe_allow_javascript=True)


def _lire_cookie(nom: str) -> str | None:
    try:
        valeur = st.context.cookies.get(nom)
    except Exception:  # noqa: BLE001 - hors d'un vrai navigateur (AppTest) : pas de cookies
        return None
    return valeur if isinstance(valeur, str) else None


def ouvrir_session(u: Utilisateur, sso: bool = False) -> None:
    import secrets
    maintenant = dt.datetime.now()
    jeton = secrets.token_urlsafe(32)
    _sessions_web()[_empreinte(jeton)] = {"compte": u.identifiant, "debut": maintenant, "activite": maintenant,
                                         "sso": sso}
    st.session_state[_CLE] = {"compte": u.identifiant, "debut": maintenant, "activite": maintenant, "sso": sso,
                              "jeton": jeton}
    # Le cookie de session à poser ; celui du lien retenu à effacer (il a servi, ou la connexion s'est faite sur place).
    st.session_state["perr_cookies"] = [(COOKIE, jeton, int(DUREE_MAX.total_seconds())), (COOKIE_DEMANDE, "", 0)]
    if not sso:
        st.session_state["perr_demande_lue"] = True
    vider_cache()


def _reprendre_session() -> None:
    """Un onglet neuf ou rechargé dont le navigateur présente le jeton d'une session encore valide : on la reprend."""
    jeton = _lire_cookie(COOKIE)
    if not jeton:
        return
    web = _sessions_web().get(_empreinte(jeton))
    if web is None:
        return
    maintenant = dt.datetime.now()
    if maintenant - web["activite"] > INACTIVITE or maintenant - web["debut"] > DUREE_MAX:
        _sessions_web().pop(_empreinte(jeton), None)
        return
    st.session_state[_CLE] = dict(web, activite=maintenant, jeton=jeton)
    st.session_state["perr_demande_lue"] = True      # une session reprise reste sur la page ouverte


def fermer_session(motif: str = "demandée") -> bool:
    """Déconnexion (consignée au journal) ; pour une session ouverte par l'authentification unique, la session du
    fournisseur est fermée aussi (vrai : `st.logout` a été appelé, et redirige le navigateur)."""
    session = st.session_state.pop(_CLE, None)
    if session:
        u = _recharger(session["compte"], signature_base()) or Utilisateur(session["compte"], session["compte"], "")
        comptes.deconnexion(_store(_chemin()), u, motif)
        if session.get("jeton"):
            _sessions_web().pop(_empreinte(session["jeton"]), None)
            st.session_state["perr_cookies"] = [(COOKIE, "", 0)]
    _recharger.clear()
    if sso_connecte():
        st.logout()
        return True
    return False


def verifier_session() -> None:
    """À chaque exécution : expire une session inactive depuis `INACTIVITE` ou ouverte depuis plus de `DUREE_MAX`
    ($PERR_SESSION_MINUTES, $PERR_SESSION_HEURES) ; ouvre la session d'un utilisateur revenu de l'authentification
    unique ; ferme celle d'un compte désactivé."""
    if not st.session_state.get(_CLE):
        _reprendre_session()
    session = st.session_state.get(_CLE)
    maintenant = dt.datetime.now()
    if session:
        web = _sessions_web().get(_empreinte(session["jeton"])) if session.get("jeton") else None
        if web is not None:   # l'activité d'un autre onglet de la même session compte aussi
            session["activite"] = max(session["activite"], web["activite"])
        if maintenant - session["activite"] > INACTIVITE or maintenant - session["debut"] > DUREE_MAX:
            fermer_session("session expirée")
            st.session_state["perr_message"] = ("Votre session a expiré (inactivité ou durée maximale) : "
                                                "reconnectez-vous.")
            return
        if utilisateur() is None:
            st.session_state.pop(_CLE, None)
            st.session_state["perr_message"] = "Ce compte a été désactivé : adressez-vous à l'équipe de coordination."
            return
        session["activite"] = maintenant
        if web is not None:
            web["activite"] = maintenant
        return
    if sso_connecte():
        courriel = st.user.get("email")
        if st.session_state.get("perr_sso_refuse") == (courriel or ""):
            return           # déjà refusé dans cette session : la page de connexion le dit, sans nouvel essai
        try:
            u = comptes.connexion_sso(_store(_chemin()), courriel, fournisseur=st.user.get("provider", "oidc"))
        except ConnexionRefusee as exc:
            st.session_state["perr_sso_refuse"] = courriel or ""
            st.session_state["perr_sso_message"] = str(exc)
            return
        st.session_state.pop("perr_sso_refuse", None)
        ouvrir_session(u, sso=True)


def fournisseur_sso() -> str | None:
    """Le fournisseur OpenID Connect configuré dans les secrets (`[auth.NOM]`), s'il y en a un ; sinon None."""
    try:
        auth = st.secrets.get("auth", {})
    except Exception:  # noqa: BLE001 - pas de fichier de secrets : pas d'authentification unique
        return None
    noms = [k for k, v in auth.items() if hasattr(v, "keys") and "client_id" in v]
    return noms[0] if noms else None


def nom_fournisseur(nom: str) -> str:
    """Le nom affiché du fournisseur : `libelle` de sa section des secrets, sinon « ProConnect » pour `proconnect`."""
    try:
        libelle = st.secrets["auth"][nom].get("libelle")
    except Exception:  # noqa: BLE001
        libelle = None
    return libelle or {"proconnect": "ProConnect"}.get(nom, nom.capitalize())


def sso_connecte() -> bool:
    try:
        return bool(st.user.get("is_logged_in", False))
    except Exception:  # noqa: BLE001
        return False
