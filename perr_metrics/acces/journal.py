"""Le journal : qui a fait quoi, quand. Connexions réussies et échouées, dépôts, revues, imports de référentiel et de
contours, comptes, états d'engagements, publication, sauvegardes, et les opérations refusées.

Une écriture et sa ligne de journal partent dans la même transaction (`noter(con, …)` depuis `Store.ecrire`) : pas de
dépôt sans trace, pas de trace d'un dépôt qui n'a pas eu lieu. Les échecs (connexion refusée, opération interdite,
fichier rejeté) sont consignés à part (`noter_seul`), puisqu'il n'y a rien d'autre à écrire.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd

from perr_metrics.stockage.magasin import Store

from .droits import operation, utilisateur_de
from .trace import ACTIONS, COLONNES, ECHOUE, REFUSE, REUSSI, noter, noter_refus, noter_seul  # noqa: F401


@operation("consulter_journal")
def lire_journal(store: Store, *, debut: dt.date | None = None, fin: dt.date | None = None,
                 compte: str | None = None, action: str | None = None, resultat: str | None = None,
                 protocole: str | None = None, limite: int | None = 5000) -> pd.DataFrame:
    """Les lignes du journal, de la plus récente à la plus ancienne, filtrées (dates incluses).

    Pour un administrateur limité à certains protocoles : les lignes de ses protocoles, et celles sans protocole
    (connexions, déconnexions, refus…) des comptes qu'il gère (dont la portée tient dans la sienne)."""
    portee = utilisateur_de(store).portee
    params = [debut, debut, fin, fin, compte, compte, action, action, resultat, resultat, protocole, protocole]
    limite_portee = ""
    if portee is not None:
        codes = sorted(portee)
        limite_portee = f"""
          AND (list_contains(?::VARCHAR[], protocole) OR (protocole IS NULL AND compte IN ({SQL_COMPTES_DE_LA_PORTEE})))"""
        params += [codes, codes, codes]
    sql = f"""
        SELECT {', '.join(COLONNES)} FROM journal
        WHERE (?::DATE IS NULL OR horodatage >= ?::DATE) AND (?::DATE IS NULL OR horodatage < ?::DATE + 1)
          AND (?::VARCHAR IS NULL OR compte = ?) AND (?::VARCHAR IS NULL OR action = ?)
          AND (?::VARCHAR IS NULL OR resultat = ?) AND (?::VARCHAR IS NULL OR protocole = ?){limite_portee}
        ORDER BY id DESC {'LIMIT ' + str(int(limite)) if limite else ''}"""
    return store.requete(sql, params)


# Les comptes dont la portée tient dans une liste de protocoles (paramètre donné deux fois) : un contributeur de l'un
# d'eux, ou un administrateur ou un lecteur dont tous les protocoles en sont (jamais un compte de toute l'instance).
SQL_COMPTES_DE_LA_PORTEE = """
    SELECT c.identifiant FROM compte c
    WHERE CASE WHEN c.role = 'contributeur' THEN list_contains(?::VARCHAR[], c.protocole)
               ELSE EXISTS (SELECT 1 FROM compte_protocole cp WHERE cp.compte = c.identifiant)
                    AND NOT EXISTS (SELECT 1 FROM compte_protocole cp WHERE cp.compte = c.identifiant
                                    AND NOT list_contains(?::VARCHAR[], cp.protocole)) END"""
