"""Les erreurs inattendues : une référence que l'utilisateur peut citer, le détail pour qui administre l'application.

`signaler(store, exc, contexte)` ne lève jamais : il tire une référence (`E-20261207-1a2b3c` : la date et six chiffres
hexadécimaux au hasard), écrit la trace complète de l'exception dans le journal des erreurs (un fichier texte, jamais la
console de l'utilisateur) et, si la base peut être écrite, une ligne « erreur inattendue » (échoué) au journal, avec la
référence. Il rend la référence ; à l'appelant de dire à l'utilisateur ce qui a échoué et ce qui n'a pas été enregistré.

Le journal des erreurs : le fichier de la variable `PERR_JOURNAL_ERREURS`, sinon `erreurs.log` à côté de la base
(`data/erreurs.log` par défaut) ; s'il ne peut être écrit, `perr-metrics-erreurs.log` dans le dossier temporaire.

Utilisé par la ligne de commande ; le tableau de bord peut s'en servir de même.
"""
from __future__ import annotations

import copy
import datetime as dt
import os
import secrets
import tempfile
import traceback
from pathlib import Path

from perr_metrics.stockage.magasin import CHEMIN_PAR_DEFAUT, Store

from .marques import ouverte
from .trace import ECHOUE, noter

ACTION = "erreur inattendue"
DELAI_JOURNAL = 3.0   # secondes d'attente au plus pour écrire la ligne de journal d'une base occupée


def nouvelle_reference(quand: dt.datetime | None = None) -> str:
    """`E-20261207-1a2b3c` : assez courte pour être dictée au téléphone, assez rare pour ne désigner qu'un incident."""
    return f"E-{(quand or dt.datetime.now()):%Y%m%d}-{secrets.token_hex(3)}"


@ouverte("où écrire le détail d'une erreur : un chemin, rien de la base n'est lu")
def chemin_du_journal_des_erreurs(store: Store | None = None) -> Path:
    """Où `signaler` écrit le détail des erreurs : $PERR_JOURNAL_ERREURS, sinon `erreurs.log` à côté de la base."""
    if os.environ.get("PERR_JOURNAL_ERREURS"):
        return Path(os.environ["PERR_JOURNAL_ERREURS"])
    base = getattr(store, "chemin", None) or Path(os.environ.get("PERR_DB") or CHEMIN_PAR_DEFAUT)
    return Path(base).parent / "erreurs.log"


def _ecrire_le_detail(chemin: Path, texte: str) -> Path:
    """Ajoute `texte` au fichier, d'un seul write ; droits 0640 à la création (la trace peut citer des données)."""
    chemin.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(chemin, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    try:
        os.write(fd, texte.encode("utf-8", "replace"))
    finally:
        os.close(fd)
    return chemin


@ouverte("consigner une erreur inattendue, quel que soit le compte (ou sans compte), sans jamais lever")
def signaler(store: Store | None, exc: BaseException, contexte: str, *, protocole: str | None = None) -> str:
    """Consigne l'erreur inattendue `exc` survenue pendant `contexte` (« referentiel importer ») ; rend sa référence.

    Le détail (trace complète) va au journal des erreurs ; une ligne « erreur inattendue » au journal de la base, au
    nom du compte de `store` s'il y en a un, quand la base peut être écrite (sinon tant pis : rien n'est levé)."""
    quand = dt.datetime.now()
    reference = nouvelle_reference(quand)
    utilisateur = getattr(store, "utilisateur", None)
    compte = getattr(utilisateur, "identifiant", None)
    try:
        pile = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    except Exception:  # noqa: BLE001 - une exception qu'on ne sait pas écrire reste signalée
        pile = f"{type(exc).__name__} (trace illisible)\n"
    entete = (f"==== {reference} — {quand:%Y-%m-%d %H:%M:%S} — {contexte} — compte {compte or '(aucun)'} — "
              f"processus {os.getpid()}\n")
    texte = entete + pile + "\n"
    try:
        _ecrire_le_detail(chemin_du_journal_des_erreurs(store), texte)
    except Exception:  # noqa: BLE001
        try:
            _ecrire_le_detail(Path(tempfile.gettempdir()) / "perr-metrics-erreurs.log", texte)
        except Exception:  # noqa: BLE001
            pass
    if isinstance(store, Store):
        try:
            rapide = copy.copy(store)
            rapide.delai_verrou = min(store.delai_verrou, DELAI_JOURNAL)
            message = " ".join(f"{type(exc).__name__} : {exc}".split())
            detail = f"Référence {reference} — {message}"[:1000]
            rapide.ecrire(lambda con: noter(con, utilisateur, ACTION, resultat=ECHOUE, protocole=protocole,
                                            objet=contexte, detail=detail, horodatage=quand))
        except Exception:  # noqa: BLE001 - base illisible, occupée ou en cause : le fichier suffit
            pass
    return reference
