"""Écrire une ligne au journal : dans la transaction d'une écriture (`noter`), ou seule pour un échec ou un refus.

Ce module est sous `droits` (qui y consigne les refus) ; la lecture du journal, elle-même une opération, est dans
`journal`, qui reprend ces noms.
"""
from __future__ import annotations

import datetime as dt

import duckdb

from perr_metrics.stockage.magasin import Store, prochain_id

from .marques import ouverte

REUSSI, ECHOUE, REFUSE = "réussi", "échoué", "refusé"

# Les actions consignées, dans l'ordre où la page « Journal » les propose.
ACTIONS = (
    "connexion", "déconnexion", "dépôt", "revue de dépôt", "état d'engagement", "import de référentiel",
    "import de contours", "publication", "texte du rapport", "compte créé", "compte modifié", "compte désactivé",
    "compte réactivé", "mot de passe changé", "sauvegarde", "restauration", "démonstration", "accès", "erreur inattendue",
)

COLONNES = ["id", "horodatage", "compte", "nom", "role", "action", "resultat", "protocole", "objet", "detail"]


def noter(con: duckdb.DuckDBPyConnection, utilisateur, action: str, *, resultat: str = REUSSI,
          protocole: str | None = None, objet: str | None = None, detail: str | None = None,
          compte: str | None = None, horodatage: dt.datetime | None = None) -> None:
    """Ajoute une ligne au journal dans la transaction `con`. `compte` : l'identifiant tapé quand personne n'est
    identifié (une connexion échouée)."""
    u = utilisateur
    con.execute("INSERT INTO journal VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [prochain_id(con, "journal"), horodatage or dt.datetime.now(), u.identifiant if u else compte,
                 u.nom if u else None, u.role if u else None, action, resultat, protocole, objet, detail])


@ouverte("une trace au journal, écrite par le cœur lui-même (échec, refus)")
def noter_seul(store, utilisateur, action: str, **kwargs) -> None:
    """Une ligne de journal dans sa propre transaction (pour un échec, quand rien d'autre n'est écrit)."""
    if isinstance(store, Store):
        store.ecrire(lambda con: noter(con, utilisateur, action, **kwargs))


@ouverte("une trace au journal, écrite par le cœur lui-même (refus)")
def noter_refus(store, utilisateur, action: str, message: str, objet: str | None = None) -> None:
    """Une opération refusée faute de droits. Une session de lecture (qui n'écrit pas) ne consigne rien."""
    try:
        noter_seul(store, utilisateur, "accès", resultat=REFUSE, objet=objet or action, detail=message)
    except Exception:  # noqa: BLE001 - le refus doit être levé même si la base est occupée
        pass
