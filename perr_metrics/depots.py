"""Les dépôts des partenaires : un fichier, ses octets, ses valeurs, écrits ensemble dans une transaction.

La valeur qui fait foi pour un (indicateur, périmètre, période) est celle du dépôt le plus récent ; les précédentes restent
dans l'historique (table `valeur`, jamais modifiée ni effacée par un dépôt).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass

import duckdb
import pandas as pd

from .db import Store, prochain_id
from .referentiel import inserer_df

RE_PERIODE = re.compile(r"^(\d{4})(?:-S([12]))?$")


def annee_de(periode: str) -> int:
    """`2021` → 2021 ; `2021-S2` → 2021."""
    m = RE_PERIODE.match(str(periode))
    if not m:
        raise ValueError(periode)
    return int(m.group(1))


@dataclass
class Depot:
    id: int
    protocole: str
    signataire: str
    periode: str | None
    fichier_nom: str
    sha256: str
    nb_valeurs: int


def enregistrer_depot(con: duckdb.DuckDBPyConnection, *, protocole: str, signataire: str, periode: str | None,
                      utilisateur: str, fichier_nom: str, contenu: bytes, valeurs: pd.DataFrame,
                      depose_le: dt.datetime | None = None) -> Depot:
    """Écrit un dépôt et ses valeurs dans la transaction `con` (appelé depuis `Store.ecrire`).

    `valeurs` a les colonnes `indicateur`, `perimetre`, `periode`, `valeur` et, facultatives, `commentaire`, `cellule`.
    """
    depot_id = prochain_id(con, "depot")
    empreinte = hashlib.sha256(contenu).hexdigest()
    con.execute(
        "INSERT INTO depot (id, protocole, signataire, periode, utilisateur, depose_le, fichier_nom, sha256, contenu, "
        "nb_valeurs) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [depot_id, protocole, signataire, periode, utilisateur, depose_le or dt.datetime.now(), fichier_nom,
         empreinte, contenu, len(valeurs)])
    df = valeurs.copy()
    for col in ("commentaire", "cellule"):
        if col not in df.columns:
            df[col] = None
    df["depot_id"] = depot_id
    df["protocole"] = protocole
    df["annee"] = df["periode"].map(annee_de)
    inserer_df(con, "valeur", df[["depot_id", "protocole", "indicateur", "perimetre", "periode", "annee", "valeur",
                                  "commentaire", "cellule"]])
    return Depot(depot_id, protocole, signataire, periode, fichier_nom, empreinte, len(valeurs))


SQL_VALEURS_COURANTES = """
    SELECT v.indicateur, v.perimetre, v.periode, v.annee,
           arg_max(v.valeur, v.depot_id) AS valeur, max(v.depot_id) AS depot_id
    FROM valeur v JOIN depot d ON d.id = v.depot_id
    WHERE v.protocole = ? AND d.statut <> 'à corriger'
    GROUP BY v.indicateur, v.perimetre, v.periode, v.annee
"""


def valeurs_courantes(store: Store, protocole: str) -> pd.DataFrame:
    """La valeur qui fait foi par (indicateur, périmètre, période) : celle du dépôt le plus récent, parmi les dépôts que
    la coordination n'a pas marqués « à corriger ». C'est elle que montrent les graphiques et le rapport."""
    return store.requete(SQL_VALEURS_COURANTES + " ORDER BY ALL", [protocole])


def historique(store: Store, protocole: str, indicateur: str, perimetre: str | None = None) -> pd.DataFrame:
    """Toutes les valeurs déposées pour un indicateur, avec leur dépôt d'origine (fichier, signataire, date)."""
    return store.requete("""
        SELECT v.perimetre, v.periode, v.valeur, v.commentaire, v.cellule, d.id AS depot_id, d.fichier_nom,
               d.signataire, d.utilisateur, d.depose_le,
               v.depot_id = max(v.depot_id) OVER (PARTITION BY v.perimetre, v.periode) AS fait_foi
        FROM valeur v JOIN depot d ON d.id = v.depot_id
        WHERE v.protocole = ? AND v.indicateur = ? AND (? IS NULL OR v.perimetre = ?)
        ORDER BY v.periode, v.perimetre, d.id
    """, [protocole, indicateur, perimetre, perimetre])
