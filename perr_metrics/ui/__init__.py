"""La colle Streamlit, en un seul endroit : magasin partagé, lectures en cache, widgets communs, messages d'erreur.

Le reste du paquet ignore Streamlit. Les pages appellent ces fonctions et le cœur, et n'écrivent jamais de SQL.

Cache : les lectures sont mises en cache avec, pour clé, la signature du fichier de base (taille et date des fichiers
.duckdb et .wal) ; toute écriture, y compris par la ligne de commande dans un autre processus, change cette signature et
périme donc le cache sans qu'on ait à y penser.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

import pandas as pd
import streamlit as st
from streamlit.runtime.scriptrunner import RerunException, StopException

from perr_metrics.acces import comptes
from perr_metrics.referentiel import requetes
from perr_metrics.acces.comptes import CompteRefuse, ConnexionRefusee
from perr_metrics.stockage.magasin import BaseOccupee, ErreurBase, Store
from perr_metrics.acces.droits import ACTIONS, LIBELLES_ROLES, SYSTEME, VISITEUR, AccesRefuse, Utilisateur
from perr_metrics.commun.formats import format_date, format_nombre

_log = logging.getLogger("perr_metrics.ui")


GARDE_PAR_DEFAUT = 1.0   # secondes : la base reste ouverte entre deux lectures rapprochées (voir db._Garde)


@st.cache_resource(show_spinner=False)
def _store(chemin: str) -> Store:
    """Le magasin du serveur : il garde la base ouverte pour ses lectures ($PERR_DB_GARDE secondes après la dernière,
    0 pour une connexion par lecture) et la lâche dès qu'un autre processus (la ligne de commande) l'attend."""
    return Store(chemin, garde=float(os.environ.get("PERR_DB_GARDE", GARDE_PAR_DEFAUT)))


def _chemin() -> str:
    return os.environ.get("PERR_DB") or str(Path("data") / "perr.duckdb")


def store() -> Store:
    """Le magasin de l'application (chemin : $PERR_DB ou data/perr.duckdb), au nom de l'utilisateur connecté (ou du
    visiteur de la vue publique) : le cœur vérifie ses droits à chaque opération."""
    return _store(_chemin()).pour(utilisateur() or VISITEUR)


# --------------------------------------------------------------------------------------------------------------------
# La session : qui est connecté, depuis quand ; expiration ; authentification unique (OpenID Connect)
# --------------------------------------------------------------------------------------------------------------------

INACTIVITE = dt.timedelta(minutes=int(os.environ.get("PERR_SESSION_MINUTES", 60)))
DUREE_MAX = dt.timedelta(hours=int(os.environ.get("PERR_SESSION_HEURES", 12)))
_CLE = "perr_session"          # {"compte", "debut", "activite", "sso"}


def utilisateur() -> Utilisateur | None:
    """L'utilisateur connecté, relu dans la base (un compte désactivé entre-temps n'est plus connecté) ; None sinon."""
    session = st.session_state.get(_CLE)
    if not session:
        return None
    return _recharger(session["compte"], signature_base())


@st.cache_data(show_spinner=False, max_entries=256)
def _recharger(identifiant: str, signature: tuple) -> Utilisateur | None:
    return comptes.recharger(_store(_chemin()), identifiant)


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
    """Écrit (ou efface, `duree` = 0) un cookie du navigateur, par un script dans un cadre invisible de la même
    origine (Streamlit ne pose pas de cookie lui-même)."""
    import json

    import streamlit.components.v1 as components
    attributs = f"{nom}={valeur}; path=/; max-age={duree}; SameSite=Lax"
    with st.sidebar:
        components.html(f"<script>window.parent.document.cookie = {json.dumps(attributs)};</script>", height=0)


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
    _Page("pages/accueil.py", "Accueil", ":material/home:", "Pilotage", {_A, _L}, defaut_pour={_A, _L}),
    _Page("pages/vue_ensemble.py", "Vue d'ensemble", ":material/dashboard:", "Pilotage", {_A, _L}),
    _Page("pages/par_axe.py", "Par axe", ":material/stacked_bar_chart:", "Pilotage", {_A, _L}),
    _Page("pages/par_qpv.py", "Par QPV", ":material/location_city:", "Pilotage", {_A, _L}),
    _Page("pages/par_signataire.py", "Par signataire", ":material/groups:", "Pilotage", {_A, _L}),
    _Page("pages/fiche_indicateur.py", "Fiche indicateur", ":material/query_stats:", "Pilotage", {_A, _L}),
    _Page("pages/engagements.py", "Engagements", ":material/task_alt:", "Pilotage", {_A, _L, _C}),
    _Page("pages/deposer.py", "Déposer", ":material/upload_file:", "Partenaires", {_A, _C}, defaut_pour={_C}),
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


def signature_base() -> tuple:
    """Change à chaque écriture dans la base, quel que soit le processus qui écrit."""
    chemin = Path(_chemin())
    sig = []
    for f in (chemin, Path(str(chemin) + ".wal")):
        try:
            st_ = f.stat()
            sig.append((st_.st_size, st_.st_mtime_ns))
        except FileNotFoundError:
            sig.append(None)
    return tuple(sig)


@st.cache_data(show_spinner=False, max_entries=512)
def _lecture(module: str, nom: str, signature: tuple, chemin: str, qui: Utilisateur, args: tuple):
    import importlib
    return getattr(importlib.import_module(module), nom)(_store(chemin).pour(qui), *args)


def lire(fonction: Callable, *args):
    """Appelle une fonction de lecture du cœur (`fonction(store, *args)`) à travers le cache, au nom de l'utilisateur
    connecté ; la clé comprend l'utilisateur et la signature de la base, si bien qu'une écriture, d'où qu'elle vienne,
    périme le cache, et que personne ne lit ce qu'un autre rôle a mis en cache."""
    return _lecture(fonction.__module__, fonction.__name__, signature_base(), _chemin(), utilisateur() or VISITEUR,
                    args)


def vider_cache() -> None:
    _lecture.clear()


# --------------------------------------------------------------------------------------------------------------------
# Erreurs : jamais de trace Python devant un utilisateur
# --------------------------------------------------------------------------------------------------------------------

@contextmanager
def protections():
    """Transforme toute exception en message français ; la trace va au journal du serveur, pas à l'écran."""
    try:
        yield
    except (StopException, RerunException):  # la mécanique de Streamlit (st.stop, st.rerun) doit passer
        raise
    except BaseOccupee as exc:
        st.warning(str(exc))
    except requetes.ProtocoleInconnu as exc:
        st.warning(str(exc))
    except AccesRefuse as exc:
        st.error(str(exc), icon=":material/block:")
    except (CompteRefuse, ConnexionRefusee) as exc:
        st.error(str(exc))
    except ErreurBase as exc:
        st.error(str(exc))
    except Exception as exc:  # noqa: BLE001 - c'est précisément le filet
        _log.error("Erreur inattendue : %s", traceback.format_exc())
        st.error("Une erreur inattendue est survenue ; elle a été consignée dans le journal du serveur. "
                 "Rechargez la page ; si elle se reproduit, signalez-la à l'équipe de coordination.")


# --------------------------------------------------------------------------------------------------------------------
# Widgets communs
# --------------------------------------------------------------------------------------------------------------------

def choisir_protocole() -> dict | None:
    """Sélecteur de protocole, gardé dans l'adresse (`?protocole=CODE`) pour qu'un lien ouvre la même vue."""
    df = lire(requetes.protocoles)
    u = utilisateur()
    if u is not None and u.role == "contributeur":    # un contributeur : le protocole de son signataire
        df = df[df["code"] == u.protocole].reset_index(drop=True)
    if df.empty:
        st.info("Aucun protocole dans la base. Importez un classeur de référentiel (page « Référentiel ») ou lancez "
                "`python -m perr_metrics init --demo`.")
        return None
    codes = list(df["code"])
    demande = st.query_params.get("protocole")
    if demande and demande not in codes:
        st.warning(f"Le protocole « {demande} » demandé par le lien n'existe pas dans cette base : choisissez-en un.")
    index = codes.index(demande) if demande in codes else 0
    libelles = {r.code: f"{r.territoire} — {r.annee_debut}–{r.annee_fin} ({r.code})" for r in df.itertuples()}
    code = st.selectbox("Protocole", codes, index=index, format_func=libelles.get, key="protocole")
    if st.query_params.get("protocole") != code:
        st.query_params["protocole"] = code
    return df[df["code"] == code].iloc[0].to_dict()


def entete_protocole() -> dict | None:
    """L'en-tête commun des pages d'un protocole : son sélecteur (gardé dans l'adresse), puis le bandeau de
    démonstration s'il y a lieu. None s'il n'y a aucun protocole (le message est affiché)."""
    p = choisir_protocole()
    if p is not None:
        bandeau_demonstration(p)
    return p


def selection_et_periode(protocole: dict, choisir: Callable[[dict], str | None]) -> tuple[str | None, str]:
    """Un sélecteur propre à la page (`choisir(protocole)` : un quartier, un signataire…) et, à côté, la période
    (années et semestres)."""
    g, d = st.columns([3, 1])
    with g:
        choix = choisir(protocole)
    with d:
        periode = choisir_periode(protocole, semestres=True)
    return choix, periode


def bandeau_demonstration(protocole: dict) -> None:
    if protocole.get("demonstration"):
        st.warning("**Données de démonstration.** Le référentiel reprend le protocole réel ; les valeurs des "
                   "indicateurs, les références et les cibles sont fictives.", icon=":material/science:")


def tableau(df: pd.DataFrame, colonnes: dict[str, str], larges: tuple[str, ...] = (), **kwargs) -> None:
    """Un tableau aux en-têtes français (`colonnes` : nom technique → en-tête affiché). Les cases vides restent vides
    (jamais « None ») ; les colonnes de `larges` (noms techniques) prennent la place dont elles ont besoin."""
    vue = df[list(colonnes)].copy()
    for c in vue.columns:
        if not pd.api.types.is_numeric_dtype(vue[c]) and not pd.api.types.is_datetime64_any_dtype(vue[c]):
            vue[c] = vue[c].astype(object).where(vue[c].notna(), "")
    config = {colonnes[c]: st.column_config.TextColumn(width="large") for c in larges}
    st.dataframe(vue.rename(columns=colonnes), hide_index=True, width="stretch", column_config=config, **kwargs)


def periode_texte(protocole: dict) -> str:
    return f"{protocole['annee_debut']}–{protocole['annee_fin']}"


def date_texte(d) -> str:
    if d is None or (isinstance(d, float) and pd.isna(d)) or d is pd.NaT:
        return "non renseignée"
    return format_date(pd.Timestamp(d).date())


def nombre(x) -> str:
    return format_nombre(x)


def _synchro(cle: str, options: list, format_func=None, libelle: str = "", defaut_index: int = 0):
    """Un sélecteur dont la valeur est gardée dans l'adresse (`?cle=valeur`) : un lien collé rouvre la même vue."""
    demande = st.query_params.get(cle)
    index = options.index(demande) if demande in options else defaut_index
    valeur = st.selectbox(libelle, options, index=index, format_func=format_func or str, key=cle)
    if st.query_params.get(cle) != valeur:
        st.query_params[cle] = valeur
    return valeur


def choisir_signataire(protocole: dict, libelle: str = "Signataire ou service") -> str | None:
    df = lire(requetes.signataires, protocole["code"])
    df = df[df["nb_indicateurs"] > 0] if (df["nb_indicateurs"] > 0).any() else df
    from perr_metrics.acces.droits import perimetre_de
    permis = perimetre_de(store(), protocole["code"])
    if permis is not None:      # un contributeur : son signataire et ses services
        df = df[df["code"].isin(permis)]
    if df.empty:
        st.info("Ce protocole n'a aucun signataire.")
        return None
    noms = dict(zip(df["code"], df["libelle"]))
    return _synchro("signataire", list(noms), lambda c: f"{noms[c]} ({c})", libelle)


def choisir_periode(protocole: dict, libelle: str = "Période", semestres: bool = False) -> str:
    """Les années du protocole (et leurs semestres si demandé) ; par défaut la dernière année écoulée du protocole."""
    annees = [str(a) for a in range(int(protocole["annee_debut"]), int(protocole["annee_fin"]) + 1)]
    options = []
    for a in annees:
        options.append(a)
        if semestres:
            options += [f"{a}-S1", f"{a}-S2"]
    import datetime as _dt
    courante = str(min(int(protocole["annee_fin"]), _dt.date.today().year - 1))
    defaut = options.index(courante) if courante in options else len(options) - 1
    return _synchro("periode", options, lambda p: p.replace("-S", " — semestre "), libelle, defaut)


def afficher_rapport(rapport) -> None:
    """Le rapport de contrôle d'un fichier : une ligne par problème, avec sa cellule, la valeur reçue et le message."""
    df = pd.DataFrame(rapport.lignes())
    if df.empty:
        return
    df["niveau"] = df["niveau"].map({"erreur": "Erreur", "avertissement": "Avertissement"}).fillna(df["niveau"])
    tableau(df, {"niveau": "Niveau", "cellule": "Cellule", "valeur": "Valeur reçue", "message": "Problème",
                 "code": "Code"}, larges=("message",))
    if rapport.tronque:
        st.caption(f"Seuls les {rapport.plafond} premiers problèmes sont listés.")


def date_heure_texte(d) -> str:
    from perr_metrics.commun.formats import format_date_heure
    if d is None or d is pd.NaT or (isinstance(d, float) and pd.isna(d)):
        return ""
    return format_date_heure(pd.Timestamp(d).to_pydatetime())


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


# --------------------------------------------------------------------------------------------------------------------
# Graphiques : palette sûre pour les daltoniens, données et téléchargements à côté de chaque graphique
# --------------------------------------------------------------------------------------------------------------------

# Palette d'Okabe et Ito, lisible par les daltoniens ; une couleur fixe par statut d'avancement. Elles vivent dans
# perr_metrics/couleurs.py, que le rapport annuel (sans Streamlit) partage.
from perr_metrics.commun.couleurs import COULEURS_ETAT, COULEURS_STATUT, PALETTE  # noqa: E402,F401


def televersement(libelle: str, types: list[str], cle: str, fichiers: str):
    """`st.file_uploader`, en français : Streamlit écrit « Upload » et « 50MB per file • XLSX » sans permettre de les
    traduire ; une feuille de style propre à ce sélecteur (`.st-key-<cle>`) remplace ces deux textes, à l'écran et sans
    toucher au fonctionnement. `fichiers` : ce qui est accepté, en clair (« Classeur .xlsx ou .ods »)."""
    taille = st.get_option("server.maxUploadSize")
    consigne = f"{fichiers} · {format_nombre(taille)} Mo au plus"

    def css(texte: str) -> str:
        return '"' + texte.replace("\\", "\\\\").replace('"', '\\"') + '"'

    zone = f".st-key-{cle} [data-testid='stFileUploaderDropzone']"
    st.html(f"<style>{zone} button p, {zone} [data-testid='stFileUploaderDropzoneInstructions'] span {{font-size: 0}}"
            f"{zone} button p::after {{content: {css('Choisir un fichier')}; font-size: 14px}}"
            f"{zone} [data-testid='stFileUploaderDropzoneInstructions'] span::after "
            f"{{content: {css(consigne)}; font-size: 14px}}</style>")
    return st.file_uploader(libelle, type=types, key=cle)


def telechargements(df: pd.DataFrame, nom: str, cle: str | None = None) -> None:
    """Deux boutons : les données en CSV (séparateur « ; », UTF-8 avec BOM, pour Excel) et en .xlsx. Les textes qui
    commencent par =, +, - ou @ sont neutralisés : un tableur ne les prendra pas pour des formules. Les fichiers ne
    sont écrits qu'au clic (téléchargement différé de Streamlit) : un classeur par graphique à chaque affichage de la
    page coûtait 20 ms chacun."""
    from perr_metrics.commun.exports import vers_csv, vers_xlsx
    cle = cle or nom
    df = df.copy()     # la table telle qu'affichée, même si l'appelant la modifie ensuite
    g, d, _ = st.columns([1, 1, 4])
    g.download_button("Données (CSV)", lambda: vers_csv(df), f"{nom}.csv", "text/csv", key=f"csv-{cle}",
                      icon=":material/download:")
    d.download_button("Données (Excel)", lambda: vers_xlsx(df, nom[:31]), f"{nom}.xlsx",
                      "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key=f"xlsx-{cle}",
                      icon=":material/download:")


def graphique(fig, donnees: pd.DataFrame, nom: str, demonstration: bool = False) -> None:
    """Un graphique Plotly en français, suivi de son tableau de données (repliable) et des téléchargements."""
    fig.update_layout(separators=", ", font=dict(family="Source Sans Pro, sans-serif"))
    st.plotly_chart(fig, config={"displaylogo": False, "locale": "fr"}, key=f"fig-{nom}")
    with st.expander("Données du graphique"):
        if demonstration:
            st.caption("Données de démonstration.")
        st.dataframe(donnees, hide_index=True, width="stretch")
        telechargements(donnees, nom)


# --------------------------------------------------------------------------------------------------------------------
# Sélecteurs des pages Par QPV et Par signataire
# --------------------------------------------------------------------------------------------------------------------

def choisir_qpv(protocole: dict, libelle: str = "Quartier") -> str | None:
    """Un quartier du protocole (QPV ou territoire de veille active), gardé dans l'adresse (`?qpv=CODE`)."""
    per = lire(requetes.perimetres, protocole["code"])
    quartiers = per[per["niveau"] == "QPV"]
    if quartiers.empty:
        st.info("Ce protocole ne déclare aucun quartier (feuille « Quartiers » du référentiel).")
        return None
    noms = {r.code: f"{r.libelle} ({r.code}{', veille active' if r.type == 'Veille active' else ''})"
            for r in quartiers.itertuples()}
    return _synchro("qpv", list(noms), noms.get, libelle)


def choisir_signataire_tous(protocole: dict, libelle: str = "Signataire ou service") -> str | None:
    """Tout signataire ou service qui porte un engagement ou déclare un indicateur (ou dont un service le fait),
    gardé dans l'adresse (`?signataire=CODE`). Les services sont présentés sous leur signataire."""
    df = lire(requetes.signataires, protocole["code"])
    actifs = df[(df["nb_engagements"] > 0) | (df["nb_indicateurs"] > 0)]
    garder = set(actifs["code"]) | set(actifs["rattache_a"].dropna())
    df = df[df["code"].isin(garder)]
    if df.empty:
        st.info("Ce protocole n'a aucun signataire qui porte un engagement ou déclare un indicateur.")
        return None
    noms = {r.code: ("\u2003" if isinstance(r.rattache_a, str) else "") + f"{r.libelle} ({r.code})"
            for r in df.itertuples()}
    return _synchro("signataire", list(noms), noms.get, libelle)


# --------------------------------------------------------------------------------------------------------------------
# Sélecteurs et écritures des pages du COPIL (Vue d'ensemble, Par axe, Fiche indicateur)
# --------------------------------------------------------------------------------------------------------------------

def selecteur_pilote(cle: str, options: list, format_func, libelle: str, defaut=None):
    """Comme `_synchro` (valeur gardée dans l'adresse, `?cle=valeur`), mais la page peut aussi imposer la valeur :
    `st.session_state[cle + "_demande"] = valeur` (dans un rappel, ou avant la création du sélecteur), et la boîte
    suit. La valeur vit dans `st.session_state[cle]`, posée avant la création du sélecteur : oublier l'état du widget
    ou lui passer un autre `index` laisserait le navigateur afficher l'ancienne valeur, et modifier son état après
    coup ferait avertir Streamlit. L'adresse est mise à jour pendant l'exécution de la page (changée dans un rappel,
    elle n'irait pas au navigateur)."""
    demande = st.session_state.pop(f"{cle}_demande", None)
    if demande is None and cle not in st.session_state:
        demande = st.query_params.get(cle)
    if demande is not None or st.session_state.get(cle) not in options:     # autre protocole : autres options
        st.session_state[cle] = demande if demande in options else (defaut if defaut in options else options[0])
    valeur = st.selectbox(libelle, options, format_func=format_func, key=cle)
    if st.query_params.get(cle) != valeur:
        st.query_params[cle] = valeur
    return valeur


def choisir_noeud(arbre: pd.DataFrame, libelle: str = "Axe, thématique ou objectif") -> str:
    """Un nœud de l'arborescence, gardé dans l'adresse (`?noeud=CODE`) ; « » (chaîne vide) : tout le protocole.
    `arbre` : les colonnes code, libelle, profondeur, dans l'ordre de l'arbre. `aller_au_noeud` en change."""
    noms = {"": "Tout le protocole"}
    noms |= {c: "\u2003" * (int(n) - 1) + f"{c} — {l}"
             for c, l, n in zip(arbre["code"], arbre["libelle"], arbre["profondeur"])}
    return selecteur_pilote("noeud", list(noms), noms.get, libelle)


def aller_au_noeud(code: str) -> None:
    """Rappel (`on_click`, `on_select`) qui ouvre un autre nœud (voir `selecteur_pilote`)."""
    st.session_state["noeud_demande"] = code or ""


def choisir_indicateur(protocole: dict, libelle: str = "Indicateur") -> dict | None:
    """Un indicateur du protocole, gardé dans l'adresse (`?indicateur=CODE`) ; sa ligne de `requetes.indicateurs`."""
    df = lire(requetes.indicateurs, protocole["code"])
    if df.empty:
        st.info("Ce protocole n'a aucun indicateur (feuille « Indicateurs » du référentiel).")
        return None
    noms = dict(zip(df["code"], df["libelle"]))
    code = _synchro("indicateur", list(noms), lambda c: f"{noms[c]} ({c})", libelle)
    return df[df["code"] == code].iloc[0].to_dict()


def valeur_texte(x, unite: str | None) -> str:
    """Une valeur avec son unité pour un tableau (`12,5 %`, `1 200 €`, `18 jours`) ; vide si elle manque."""
    from perr_metrics.pilotage.avancement import formater
    return "" if x is None or pd.isna(x) else formater(x, unite)


def points_texte(x) -> str:
    """Un écart de pourcentages en points, signé : `+4,5 points`, `-2 points` (le tiret simple en tête est ce que
    `st.metric` reconnaît pour afficher une baisse)."""
    if x is None or pd.isna(x):
        return ""
    return ("+" if x > 0 else "") + format_nombre(x) + "\u00a0point" + ("s" if abs(x) >= 2 else "")


def pourcent_signe_texte(x) -> str:
    """Une variation relative, signée : `+55 %`, `-3,2 %` ; vide si elle manque."""
    if x is None or pd.isna(x):
        return ""
    return ("+" if x > 0 else "") + format_nombre(x) + "\u00a0%"


def tableau_liens(df: pd.DataFrame, colonnes: dict[str, str], larges: tuple[str, ...] = (),
                  liens: dict[str, str] | None = None, **kwargs):
    """Comme `tableau`, avec des colonnes de liens (`liens` : nom technique → texte du lien, l'adresse étant la valeur
    de la colonne) ; les autres arguments vont à `st.dataframe` (key, on_select, selection_mode, height…)."""
    vue = df[list(colonnes)].copy()
    for c in vue.columns:
        if not pd.api.types.is_numeric_dtype(vue[c]) and not pd.api.types.is_datetime64_any_dtype(vue[c]):
            vue[c] = vue[c].astype(object).where(vue[c].notna(), "")
    config = {colonnes[c]: st.column_config.TextColumn(width="large") for c in larges}
    config |= {colonnes[c]: st.column_config.LinkColumn(display_text=texte) for c, texte in (liens or {}).items()}
    return st.dataframe(vue.rename(columns=colonnes), hide_index=True, width="stretch", column_config=config,
                        **kwargs)


def echapper(texte) -> str:
    """Un texte de l'utilisateur (libellé, explication) inséré dans du Markdown, sans qu'un `*`, un `_`, un `[` ou un
    `$` n'y soient pris pour de la mise en forme ; vide s'il manque."""
    if texte is None or (not isinstance(texte, str) and pd.isna(texte)):
        return ""
    for c in "\\`*_[]<>$~|":
        texte = texte.replace(c, "\\" + c)
    return texte


def barres(df: pd.DataFrame, x: str, y: str, couleur: str, couleurs: dict, libelle_x: str, *,
           texte: str | None = None, dehors: bool = False, groupees: bool = False, hauteur: int | None = None,
           legende: str | None = "", survol: dict[str, str] | None = None, bornes_x: list | None = None):
    """Des barres horizontales : une ligne par valeur de `y`, dans l'ordre du tableau, de haut en bas ; une série par
    valeur de `couleur`, dans l'ordre de `couleurs` (valeur → couleur fixe), empilées, ou côte à côte avec `groupees`.

    `texte` : la colonne écrite dans chaque barre (à l'extérieur avec `dehors`) ; `legende` : le titre de la légende
    (None : pas de légende) ; `survol` : des colonnes de plus dans l'infobulle (colonne → libellé) ; `bornes_x` : l'étendue
    de l'axe des x. La figure est décrite en dictionnaires pour `plotly.graph_objects` : plotly.express mettait dix fois
    plus de temps (0,1 s par graphique, à chaque affichage de la page)."""
    import plotly.graph_objects as go
    lignes = list(dict.fromkeys(df[y]))
    traces = []
    for valeur, teinte in couleurs.items():
        g = df[df[couleur] == valeur]
        if g.empty:
            continue
        bulle = "%{y}<br>" + (f"{valeur} : " if valeur != g[y].iloc[0] else "") + "%{x}"
        trace = dict(type="bar", orientation="h", x=g[x].tolist(), y=g[y].tolist(), name=str(valeur),
                     marker=dict(color=teinte, line=dict(color="#888888", width=0.5)))
        if survol:
            trace["customdata"] = g[list(survol)].astype(object).where(g[list(survol)].notna(), "").values.tolist()
            bulle += "".join(f"<br>{libelle} : %{{customdata[{i}]}}" for i, libelle in enumerate(survol.values()))
        if texte:
            # « auto » : dans la barre, à côté si elle est trop étroite pour le texte.
            trace |= dict(text=g[texte].tolist(), textposition="outside" if dehors else "auto", cliponaxis=not dehors)
        traces.append(trace | dict(hovertemplate=bulle + "<extra></extra>"))
    n = len(lignes)
    layout = dict(
        barmode="group" if groupees else "stack", height=hauteur or 130 + 48 * n, separators=", ",
        margin=dict(t=10, b=10, l=10, r=30 if dehors else 10), showlegend=legende is not None,
        xaxis=dict(title=dict(text=libelle_x), **({"range": bornes_x} if bornes_x else {})),
        yaxis=dict(title=dict(text=""), categoryorder="array", categoryarray=lignes, autorange="reversed"),
        # La légende au-dessus du graphique, à gauche : à une distance fixe des barres, quelle que soit leur hauteur.
        legend=dict(orientation="h", x=0, xanchor="left", y=1, yanchor="bottom", title=dict(text=legende or ""),
                    traceorder="normal"))
    return go.Figure(data=traces, layout=layout)


def barres_empilees(df: pd.DataFrame, y: str, couleur: str, couleurs: dict, libelle_x: str):
    """Des barres horizontales (une par valeur de `y`, dans l'ordre du tableau), empilées par `couleur` avec une couleur
    fixe par statut ou état (`couleurs`, dans l'ordre des légendes), le compte (`nombre`) écrit dans chaque part."""
    return barres(df, "nombre", y, couleur, couleurs, libelle_x, texte="nombre")


def abreger(texte: str, n: int = 45) -> str:
    """Un libellé raccourci pour l'axe d'un graphique (le libellé entier reste dans les données du graphique)."""
    return texte if len(texte) <= n else texte[:n - 1].rstrip() + "…"
