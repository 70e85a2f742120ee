"""Le journal : qui a fait quoi, quand. Connexions réussies et échouées, dépôts, revues, imports de référentiel et de
contours, comptes, états d'engagements, publication, sauvegardes, et les opérations refusées.

Une écriture et sa ligne de journal partent dans la même transaction (`noter(con, …)` depuis `Store.ecrire`) : pas de
dépôt sans trace, pas de trace d'un dépôt qui n'a pas eu lieu. Les échecs (connexion refusée, opération interdite,
fichier rejeté) sont consignés à part (`noter_seul`), puisqu'il n'y a rien d'autre à écrire.
"""
from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

from .db import Store, prochain_id
from .droits import Utilisateur, operation, ouverte

REUSSI, ECHOUE, REFUSE = "réussi", "échoué", "refusé"

# Les actions consignées, dans l'ordre où la page « Journal » les propose.
ACTIONS = (
    "connexion", "déconnexion", "dépôt", "revue de dépôt", "état d'engagement", "import de référentiel",
    "import de contours", "publication", "compte créé", "compte modifié", "compte désactivé", "compte réactivé",
    "mot de passe changé", "sauvegarde", "restauration", "démonstration", "accès",
)

COLONNES = ["id", "horodatage", "compte", "nom", "role", "action", "resultat", "protocole", "objet", "detail"]


def noter(con: duckdb.DuckDBPyConnection, utilisateur: Utilisateur | None, action: str, *, resultat: str = REUSSI,
          protocole: str | None = None, objet: str | None = None, detail: str | None = None,
          compte: str | None = None, horodatage: dt.datetime | None = None) -> None:
    """Ajoute une ligne au journal dans la transaction `con`. `compte` : l'identifiant tapé quand personne n'est
    identifié (une connexion échouée)."""
    u = utilisateur
    con.execute("INSERT INTO journal VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [prochain_id(con, "journal"), horodatage or dt.datetime.now(), u.identifiant if u else compte,
                 u.nom if u else None, u.role if u else None, action, resultat, protocole, objet, detail])


@ouverte("une trace au journal, écrite par le cœur lui-même (échec, refus)")
def noter_seul(store, utilisateur: Utilisateur | None, action: str, **kwargs) -> None:
    """Une ligne de journal dans sa propre transaction (pour un échec, quand rien d'autre n'est écrit)."""
    if isinstance(store, Store):
        store.ecrire(lambda con: noter(con, utilisateur, action, **kwargs))


@ouverte("une trace au journal, écrite par le cœur lui-même (refus)")
def noter_refus(store, utilisateur: Utilisateur, action: str, message: str, objet: str | None = None) -> None:
    """Une opération refusée faute de droits. Une session de lecture (qui n'écrit pas) ne consigne rien."""
    try:
        noter_seul(store, utilisateur, "accès", resultat=REFUSE, objet=objet or action, detail=message)
    except Exception:  # noqa: BLE001 - le refus doit être levé même si la base est occupée
        pass


@operation("consulter_journal")
def lire_journal(store: Store, *, debut: dt.date | None = None, fin: dt.date | None = None,
                 compte: str | None = None, action: str | None = None, resultat: str | None = None,
                 protocole: str | None = None, limite: int | None = 5000) -> pd.DataFrame:
    """Les lignes du journal, de la plus récente à la plus ancienne, filtrées (dates incluses)."""
    sql = f"""
        SELECT {', '.join(COLONNES)} FROM journal
        WHERE (?::DATE IS NULL OR horodatage >= ?::DATE) AND (?::DATE IS NULL OR horodatage < ?::DATE + 1)
          AND (?::VARCHAR IS NULL OR compte = ?) AND (?::VARCHAR IS NULL OR action = ?)
          AND (?::VARCHAR IS NULL OR resultat = ?) AND (?::VARCHAR IS NULL OR protocole = ?)
        ORDER BY id DESC {'LIMIT ' + str(int(limite)) if limite else ''}"""
    return store.requete(sql, [debut, debut, fin, fin, compte, compte, action, action, resultat, resultat,
                               protocole, protocole])
