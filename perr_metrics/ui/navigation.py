"""Le démarrage et la navigation : base préparée au premier lancement, pages du menu selon le rôle (`PAGES`),
adresses des autres pages, bandeau de l'utilisateur connecté, garde en tête de chaque page (`garde_page`)."""
from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from perr_metrics.acces import comptes
from perr_metrics.acces.droits import ACTIONS, LIBELLES_ROLES, SYSTEME, VISITEUR, Utilisateur
from perr_metrics.ui.affichage import echapper
from perr_metrics.ui.erreurs import protections
from perr_metrics.ui.magasin import _chemin, _store, signature_base, store, utilisateur
from perr_metrics.ui.session import COOKIE_DEMANDE, _cookie, _lire_cookie, fermer_session, verifier_session

def pages_du_role(role: str | None) -> list[str]:
    """Les fichiers de page qu'un rôle voit dans la navigation (None : personne n'est connecté)."""
    return [p.fichier for p in PAGES if (role or "anonyme") in p.roles]


class _Page:
    def __init__(self, fichier: str, titre: str, icone: str, section: str, roles: set[str], defaut_pour=()):
        self.fichier, self.titre, self.icone, self.section, self.roles = fichier, titre, icone, section, roles
        self.defaut_pour = set(defaut_pour)


_A, _C, _L = "administrateur", "contributeur", "lecteur"
# Qui voit quelle page. Les pages vérifient aussi le droit dont elles ont besoin (`garde_page`) et le cœur refuse
# toute opération hors du rôle : la navigation n'est que la première barrière.
PAGES = [
    # L'accueil (« / ») est la page d'arrivée de chaque rôle, et chaque autre page garde la même adresse pour tous ;
    # il répond à la première question du rôle : la coordination, ce qui attend sa revue (et la structure du
    # protocole) ; un partenaire, ce qu'on attend de lui, ce qu'il doit corriger, ses indicateurs ; un membre du
    # COPIL est mené à la vue d'ensemble (pages/accueil.py).
    _Page("pages/accueil.py", "Accueil", ":material/home:", "Pilotage", {_A, _L, _C}, defaut_pour={_A, _L, _C}),
    _Page("pages/vue_ensemble.py", "Vue d'ensemble", ":material/dashboard:", "Pilotage", {_A, _L}),
    _Page("pages/par_axe.py", "Par axe", ":material/stacked_bar_chart:", "Pilotage", {_A, _L}),
    _Page("pages/par_qpv.py", "Par QPV", ":material/location_city:", "Pilotage", {_A, _L}),
    _Page("pages/par_signataire.py", "Par signataire", ":material/groups:", "Pilotage", {_A, _L}),
    _Page("pages/fiche_indicateur.py", "Fiche indicateur", ":material/query_stats:", "Pilotage", {_A, _L}),
    _Page("pages/engagements.py", "Engagements", ":material/task_alt:", "Pilotage", {_A, _L, _C}),
    _Page("pages/deposer.py", "Déposer", ":material/upload_file:", "Partenaires", {_A, _C}),
    _Page("pages/suivi_depots.py", "Suivi des dépôts", ":material/fact_check:", "Partenaires", {_A, _L, _C}),
    _Page("pages/rapport_annuel.py", "Rapport annuel", ":material/picture_as_pdf:", "Partenaires", {_A, _L}),
    _Page("pages/indicateurs_publies.py", "Indicateurs publiés", ":material/public:", "Vue publique",
          {_A, _L, _C, "anonyme"}),
    _Page("pages/referentiel.py", "Référentiel", ":material/account_tree:", "Administration", {_A}),
    _Page("pages/comptes.py", "Comptes", ":material/manage_accounts:", "Administration", {_A}),
    _Page("pages/journal.py", "Journal", ":material/history:", "Administration", {_A}),
    _Page("pages/publication.py", "Vue publique", ":material/visibility:", "Administration", {_A}),
    _Page("pages/mon_compte.py", "Mon compte", ":material/person:", "Compte", {_A, _L, _C}),
    _Page("pages/connexion.py", "Connexion", ":material/login:", "Compte", {"anonyme"}, defaut_pour={"anonyme"}),
]


def navigation():
    """La navigation de l'utilisateur : ses pages seulement. Les adresses des autres pages restent valides mais
    cachées, et affichent la connexion (ou un refus) : un lien d'invitation au COPIL ouvert avant de se connecter garde
    son adresse et ses filtres, et s'ouvre tel quel une fois connecté."""
    verifier_session()
    if _aucun_compte(signature_base()):
        premier = "pages/premier_administrateur.py"
        return st.navigation([st.Page(premier, title="Premier administrateur",
                                      icon=":material/admin_panel_settings:", default=True)]
                             + [_page_cachee(p, premier) for p in PAGES])
    u = utilisateur()
    role = u.role if u else "anonyme"
    publique = _vue_publique(signature_base())
    sections: dict[str, list] = {}
    cachees = []
    accueil = None
    for p in PAGES:
        if role in p.roles and (p.fichier != "pages/indicateurs_publies.py" or publique):
            page = st.Page(p.fichier, title=p.titre, icon=p.icone, default=role in p.defaut_pour)
            sections.setdefault(p.section, []).append(page)
            accueil = page if role in p.defaut_pour else accueil
        else:
            cachees.append(_page_cachee(p, "pages/connexion.py" if u is None else "pages/acces_refuse.py"))
    sections.setdefault("Compte", []).extend(cachees)
    choisie = st.navigation(sections, expanded=True)
    if u is None:
        # Le lien ouvert avant de se connecter (page et filtres), retenu par le navigateur dix minutes : la connexion
        # unique revient toujours à la racine, dans une nouvelle session.
        import json
        import urllib.parse
        demande = json.dumps({"url": choisie.url_path, "params": st.query_params.to_dict()}, ensure_ascii=False)
        if st.session_state.get("perr_demande_ecrite") != demande:
            st.session_state["perr_demande_ecrite"] = demande
            _cookie(COOKIE_DEMANDE, urllib.parse.quote(demande), 600)
    elif not st.session_state.get("perr_demande_lue"):
        st.session_state["perr_demande_lue"] = True
        demande = _demande_retenue()
        if demande and demande["url"] not in ("", "connexion", choisie.url_path):
            cible = next((p for ps in sections.values() for p in ps if p.url_path == demande["url"]), None)
            if cible is not None:
                st.switch_page(cible, query_params=demande["params"])
    if u is not None and choisie.url_path == "connexion" and accueil is not None:
        # On vient de se connecter sur la page de connexion : sa page d'accueil, avec les filtres de l'adresse.
        st.switch_page(accueil, query_params=st.query_params.to_dict())
    if u is not None and u.role == _L and choisie is accueil and not st.session_state.get("perr_arrivee_copil"):
        # Un membre du COPIL arrive pour la vue d'ensemble (une fois par session, avec les filtres de l'adresse) ;
        # l'accueil (la structure du protocole) reste dans le menu.
        st.session_state["perr_arrivee_copil"] = True
        vue = next((p for ps in sections.values() for p in ps if p.url_path == "vue_ensemble"), None)
        if vue is not None:
            st.switch_page(vue, query_params=st.query_params.to_dict())
    return choisie


def _demande_retenue() -> dict | None:
    import json
    import urllib.parse
    brut = _lire_cookie(COOKIE_DEMANDE)
    if not brut:
        return None
    try:
        demande = json.loads(urllib.parse.unquote(brut))
        return demande if isinstance(demande, dict) and "url" in demande else None
    except ValueError:
        return None


@st.cache_data(show_spinner=False, max_entries=8)
def _aucun_compte(signature: tuple) -> bool:
    return comptes.aucun_compte(_store(_chemin()))


@st.cache_data(show_spinner=False, max_entries=8)
def _vue_publique(signature: tuple) -> bool:
    from perr_metrics.pilotage.publication import vue_publique_ouverte
    return vue_publique_ouverte(_store(_chemin()))


def _url(p: _Page) -> str:
    return Path(p.fichier).stem


def _page_cachee(p: _Page, remplacement: str):
    """L'adresse d'une page hors du rôle, qui affiche `remplacement` (connexion ou refus) sans changer d'adresse."""
    return st.Page(remplacement, title=p.titre, url_path=_url(p), visibility="hidden")


def bandeau_utilisateur() -> None:
    """Dans la barre latérale : qui est connecté, son rôle, et la déconnexion (et le cookie de session à écrire ou à
    effacer, une fois)."""
    for nom, valeur, duree in st.session_state.pop("perr_cookies", []):
        _cookie(nom, valeur, duree)
    u = utilisateur()
    if u is None:
        return
    with st.sidebar:
        rattache = f" — {u.signataire} ({u.protocole})" if u.signataire else ""
        st.caption(f"Connecté : **{echapper(u.nom)}**  \n{LIBELLES_ROLES.get(u.role, u.role)}{echapper(rattache)}")
        if st.button("Se déconnecter", icon=":material/logout:", key="perr_deconnexion"):
            if not fermer_session():    # après st.logout, pas de relance : elle perdrait la redirection
                st.rerun()


@st.cache_resource(show_spinner="Création de la base et chargement de la démonstration…")
def _preparer(chemin: str) -> bool:
    s = _store(chemin)
    s.initialiser()
    if s.est_vide() and os.environ.get("PERR_DEMO", "1") != "0" and comptes.aucun_compte(s):
        from perr_metrics.demo.demonstration import charger_demo
        charger_demo(s.pour(SYSTEME))   # l'installation : protocoles et comptes de démonstration
    return True


def preparer_base() -> None:
    """Au premier démarrage : crée la base et y charge les protocoles de démonstration.

    Si la base est inutilisable, le message est affiché et la page s'arrête là.
    """
    pret = False
    with protections():
        pret = _preparer(str(store().chemin))
    if not pret:
        st.stop()


def garde_page(action: str | None = None) -> Utilisateur | None:
    """À appeler en tête de chaque page, avec le droit dont elle a besoin (`droits.ACTIONS`) ; renvoie l'utilisateur.

    Une page ouverte par quelqu'un qui n'a pas ce droit (navigation contournée) affiche un refus et s'arrête : le cœur
    refuserait de toute façon ses opérations.

    Un lien direct vers une page (`…/deposer?protocole=…`, celui d'une invitation au COPIL) ouvert en premier sur un
    serveur qui vient de démarrer : parce que le projet a un dossier `pages/`, Streamlit exécute alors la page seule, à
    l'ancienne, sans passer par dashboard.py (ni configuration, ni base préparée, ni navigation). On bascule en navigation
    explicite et on exécute dashboard.py à la place, dans la même exécution (sans relance, pour ne perdre aucune action
    de l'utilisateur) : il configure l'application et ouvre la page demandée, avec ses paramètres.
    """
    import runpy

    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        ctx = get_script_run_ctx()
        principal = ctx.pages_manager.main_script_path if ctx else str(Path(__file__).resolve().parents[2] /
                                                                          "dashboard.py")
        runpy.run_path(str(principal), run_name="__main__")
        st.stop()
    u = utilisateur()
    if action is not None:
        qui = u or VISITEUR
        if not qui.peut(action):
            if u is None:
                st.info("Connectez-vous pour ouvrir cette page.")
            else:
                st.error(f"Votre rôle ({u.role}) ne permet pas de "
                         f"{ACTIONS[action][0]}.", icon=":material/block:")
            st.stop()
    return u
