"""Le magasin partagé du serveur et ses lectures en cache, au nom de l'utilisateur connecté.

Un seul `Store` par fichier de base pour tout le serveur (`_store`, ressource de Streamlit), qui garde la base ouverte
entre des lectures rapprochées ; `store()` le prête au nom de l'utilisateur de la session (`utilisateur()`, relu dans
la base), ou du visiteur de la vue publique : le cœur vérifie ses droits à chaque opération.

Cache : les lectures (`lire`) sont mises en cache avec, pour clé, la signature du fichier de base (taille et date des
fichiers .duckdb et .wal) ; toute écriture, y compris par la ligne de commande dans un autre processus, change cette
signature et périme donc le cache sans qu'on ait à y penser.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import streamlit as st

from perr_metrics.acces import comptes
from perr_metrics.acces.droits import VISITEUR, Utilisateur
from perr_metrics.stockage.magasin import Store

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


# La session de l'utilisateur dans `st.session_state` (ouverte, reprise et fermée par ui.session).
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


def signature_base() -> tuple:
    """Change à chaque écriture dans la base, quel que soit le processus qui écrit (fichier : sa taille et sa date ;
    lac DuckLake : son dernier instantané)."""
    return _store(_chemin()).signature()


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


def config_courriel():
    """Le serveur de courriel et l'adresse du tableau de bord, lus dans l'environnement puis dans les secrets de
    Streamlit (`.streamlit/secrets.toml`, mêmes clés PERR_SMTP_…) : `(config ou None, adresse ou None, erreur ou None)`.
    Sans PERR_URL_TABLEAU_DE_BORD, l'adresse est celle par laquelle la page est ouverte."""
    from perr_metrics.commun import courriel
    try:
        secrets = {k: st.secrets[k] for k in courriel.CLES if k in st.secrets}
    except Exception:  # noqa: BLE001 - pas de fichier de secrets : l'environnement seul
        secrets = {}
    adresse = courriel.lire_adresse_tableau_de_bord(None, secrets)
    if adresse is None:
        try:
            url = st.context.url or ""
        except Exception:  # noqa: BLE001 - hors d'un serveur (AppTest)
            url = ""
        if url.startswith("http"):
            from urllib.parse import urlsplit
            morceaux = urlsplit(url)
            adresse = f"{morceaux.scheme}://{morceaux.netloc}"
    try:
        return courriel.lire_configuration(None, secrets), adresse, None
    except courriel.ConfigurationInvalide as exc:
        return None, adresse, str(exc)
