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
    """Une page du menu : `section` est le titre de sa section, ou, quand il dépend du rôle, {rôle: titre}."""

    def __init__(self, fichier: str, titre: str, icone: str, section: str | dict[str, str], roles: set[str],
                 defaut_pour=()):
        self.fichier, self.titre, self.icone, self.roles = fichier, titre, icone, roles
        self._section = section
        self.defaut_pour = set(defaut_pour)

    def section(self, role: str) -> str:
        return self._section if isinstance(self._section, str) else self._section[role]


_A, _C, _L = "administrateur", "contributeur", "lecteur"
# Les sections du menu suivent le rôle : la coordination a « Partenaires » (leurs dépôts, à revoir), le COPIL lit les
# dépôts et le rapport dans « Pilotage », un partenaire trouve ce qu'il a à faire sous « Mon suivi ».
_MOI = "Mon suivi"
# Qui voit quelle page. Les pages vérifient aussi le droit dont elles ont besoin (`garde_page`) et le cœur refuse
# toute opération hors du rôle : la navigation n'est que la première barrière.
PAGES = [
    # La racine (« / ») mène chaque rôle à la page qui répond à sa première question, sous l'adresse de cette page (la
    # même pour tous les rôles) : la coordination et un partenaire à l'accueil (ce qui attend la revue ; ce qu'on
    # attend du partenaire, ce qu'il doit corriger, ses indicateurs), un membre du COPIL à la vue d'ensemble.
    _Page("pages/accueil.py", "Accueil", ":material/home:", {_A: "Pilotage", _L: "Pilotage", _C: _MOI}, {_A, _L, _C},
          defaut_pour={_A, _C}),
    _Page("pages/vue_ensemble.py", "Vue d'ensemble", ":material/dashboard:", "Pilotage", {_A, _L}, defaut_pour={_L}),
    _Page("pages/par_axe.py", "Par axe", ":material/stacked_bar_chart:", "Pilotage", {_A, _L}),
    _Page("pages/par_qpv.py", "Par QPV", ":material/location_city:", "Pilotage", {_A, _L}),
    _Page("pages/par_signataire.py", "Par signataire", ":material/groups:", "Pilotage", {_A, _L}),
    _Page("pages/fiche_indicateur.py", "Fiche indicateur", ":material/query_stats:", "Pilotage", {_A, _L}),
    _Page("pages/engagements.py", "Engagements", ":material/task_alt:", {_A: "Pilotage", _L: "Pilotage", _C: _MOI},
          {_A, _L, _C}),
    _Page("pages/rapport_annuel.py", "Rapport annuel", ":material/picture_as_pdf:", "Pilotage", {_A, _L}),
    _Page("pages/deposer.py", "Déposer", ":material/upload_file:", {_A: "Partenaires", _C: _MOI}, {_A, _C}),
    _Page("pages/suivi_depots.py", "Suivi des dépôts", ":material/fact_check:",
          {_A: "Partenaires", _L: "Pilotage", _C: _MOI}, {_A, _L, _C}),
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
            # Une seule adresse par page, quel que soit le rôle (`/deposer`, jamais `/`) : la racine renvoie à la
            # page d'accueil du rôle (ci-dessous).
            page = st.Page(p.fichier, title=p.titre, icon=p.icone, url_path=_url(p))
            sections.setdefault(p.section(role), []).append(page)
            accueil = page if role in p.defaut_pour else accueil
        else:
            cachees.append(_page_cachee(p, "pages/connexion.py" if u is None else "pages/acces_refuse.py"))
    racine = st.Page(_racine, title="perr-metrics", url_path="racine", default=True, visibility="hidden")
    sections.setdefault("Compte", []).extend([*cachees, racine])
    introuvable = _naviguer(sections)
    choisie = introuvable.page
    if choisie is racine or introuvable.adresse_inconnue:
        # La racine (ou une adresse qui ne correspond à aucune page) : la page d'accueil du rôle, sous sa propre
        # adresse, avec les paramètres reçus ; pour une adresse inconnue, un message en français le dit.
        if introuvable.adresse_inconnue:
            st.session_state["perr_page_introuvable"] = True
        st.switch_page(accueil, query_params=st.query_params.to_dict())
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
    return choisie


def _racine() -> None:
    """La page de la racine `/` : jamais exécutée, `navigation` renvoie aussitôt à l'accueil du rôle."""


class _Navigation:
    def __init__(self, page, adresse_inconnue: bool):
        self.page, self.adresse_inconnue = page, adresse_inconnue


def _naviguer(sections: dict) -> _Navigation:
    """`st.navigation`, en retenant qu'une adresse ne correspond à aucune page : Streamlit afficherait alors sa
    fenêtre anglaise « Page not found » (streamlit.commands.navigation.send_page_not_found) ; on la remplace, pour la
    session en cours, par un message en français (`message_page_introuvable`). Si une version de Streamlit n'a plus
    cette fonction, la fenêtre anglaise revient, et le test navigateur de l'adresse inconnue échoue."""
    import streamlit.commands.navigation as nav_streamlit
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    _intercepter_page_introuvable(nav_streamlit)
    if ctx is not None:
        _INTROUVABLES.discard(id(ctx))
    page = st.navigation(sections, expanded=True)
    inconnue = ctx is not None and id(ctx) in _INTROUVABLES
    _INTROUVABLES.discard(id(ctx))
    return _Navigation(page, inconnue)


_INTROUVABLES: set[int] = set()


def _intercepter_page_introuvable(module) -> None:
    origine = getattr(module, "send_page_not_found", None)
    if origine is None or getattr(origine, "_perr", False):
        return

    def page_introuvable(ctx) -> None:
        _INTROUVABLES.add(id(ctx))

    page_introuvable._perr = True
    module.send_page_not_found = page_introuvable


def message_page_introuvable() -> None:
    """Après une adresse inconnue : le message en français, en tête de la page d'accueil du rôle."""
    if st.session_state.pop("perr_page_introuvable", False):
        st.warning("Cette adresse ne correspond à aucune page du tableau de bord (lien incomplet ou page "
                   "renommée) : voici votre page d'accueil. Les pages ouvertes à votre rôle sont dans le menu.",
                   icon=":material/link_off:")


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


@st.cache_resource(show_spinner=False)
def _preparation() -> dict:
    """Les bases déjà prêtes dans ce serveur, et le verrou qui fait qu'une seule session les prépare."""
    import threading
    return {"pretes": set(), "verrou": threading.Lock()}


def _preparer(chemin: str) -> None:
    """Crée la base (migrations) ; vide, sans compte et sans PERR_DEMO=0, y charge la démonstration en montrant où
    en est le chargement (quelques secondes au premier démarrage) : une barre de progression plutôt qu'une page
    blanche."""
    s = _store(chemin)
    s.initialiser()
    if not (s.est_vide() and os.environ.get("PERR_DEMO", "1") != "0" and comptes.aucun_compte(s)):
        return
    from perr_metrics.demo.demonstration import charger_demo
    zone = st.empty()
    with zone.container():
        st.title("perr-metrics — premier démarrage")
        st.info("La base est créée et les protocoles de démonstration (Troyes, Blois) y sont chargés, avec leurs "
                "valeurs fictives : quelques secondes, une seule fois.", icon=":material/hourglass_top:")
        barre = st.progress(0.0, text="Création de la base…")
    charger_demo(s.pour(SYSTEME), progres=lambda texte, part: barre.progress(part, text=texte))
    zone.empty()


def preparer_base() -> None:
    """Au premier démarrage : crée la base et y charge les protocoles de démonstration, en montrant la progression
    (les autres sessions ouvertes pendant ce temps attendent, avec un message).

    Si la base est inutilisable, le message est affiché et la page s'arrête là.
    """
    etat = _preparation()
    pret = False
    with protections():
        chemin = str(store().chemin)
        if chemin in etat["pretes"]:
            return
        attente = st.empty()
        if etat["verrou"].locked():
            attente.info("Premier démarrage : la base de démonstration est en cours de préparation, un instant…",
                         icon=":material/hourglass_top:")
        with etat["verrou"]:
            attente.empty()
            if chemin not in etat["pretes"]:
                _preparer(chemin)
                etat["pretes"].add(chemin)
        pret = True
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
