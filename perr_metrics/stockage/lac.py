"""Le second moteur du magasin : un lac DuckLake, catalogue dans PostgreSQL, données en Parquet sur un chemin partagé.

`PERR_DB="ducklake:postgres:dbname=perr host=… port=… user=…"` (ou `--db`) et `PERR_LAKE_DONNEES=/chemin/partagé/`
(le dossier des fichiers Parquet, le même pour tous les serveurs) ; `PERR_LAKE_SCHEMA` (facultatif) range le catalogue
dans un schéma PostgreSQL à lui (plusieurs lacs dans une base : les tests s'en servent).

Ce qui diffère du fichier, et seulement cela, est ici ; `magasin.Store` reste la seule interface :

- **Une connexion par processus, jamais lâchée.** Ouvrir le lac (charger les extensions, se connecter à PostgreSQL,
  lire le catalogue) coûte une demi-seconde ; chaque opération emprunte un curseur (sa propre transaction) de la
  connexion du processus. Plusieurs processus, sur plusieurs machines, lisent et écrivent en même temps : personne
  n'attend personne, il n'y a ni verrou de fichier ni fichier d'attente (`_Garde` est propre au fichier).
- **Pas de contraintes dans le lac.** DuckLake n'a ni clé primaire, ni unicité, ni séquence, ni index : les migrations
  y passent sans leurs clauses PRIMARY KEY (`sans_contraintes`), et le magasin tient ses garanties lui-même. Chaque
  transaction d'écriture commence par prendre le **jeton** (`UPDATE perr_jeton SET n = n + 1`, une ligne) : deux
  écritures concurrentes modifient donc toujours la même ligne, et DuckLake refuse la seconde à sa validation
  (« Transaction conflict »). Le magasin la rejoue alors depuis le début, sur l'état laissé par la première
  (jusqu'à `ESSAIS` fois, après une courte attente tirée au hasard), puis répond « réessayez » en français. Les écritures
  sont ainsi sérialisables : `prochain_id` (max + 1) ne donne jamais deux fois le même identifiant, un même fichier n'est
  jamais compté deux fois (l'empreinte est cherchée dans l'état validé), un référentiel remplacé l'est en entier, et ce
  qui référence une ligne la trouve. Les lectures ne prennent pas le jeton : elles ne bloquent ni ne font échouer
  aucune écriture.
- **Tout ou rien.** Une transaction DuckLake n'apparaît qu'à sa validation (un instantané du catalogue) : un processus
  tué en cours d'écriture laisse au plus des fichiers Parquet orphelins, que l'entretien (`CHECKPOINT`) efface.

Les extensions viennent des roues PyPI `duckdb-extension-ducklake` et `duckdb-extension-postgres` (épinglées avec DuckDB
dans requirements.txt) : installées hors ligne au premier usage, rien n'est téléchargé.
"""
from __future__ import annotations

import os
import random
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from .erreurs import ErreurBase

PREFIXE = "ducklake:"
NOM = "lac"                 # le nom du lac attaché dans la connexion DuckDB
ESSAIS = 30                 # tentatives d'une écriture qui entre en conflit avec une autre
MESSAGE_CONFLIT = "La base a été modifiée en même temps par une autre opération : réessayez."

# La table du jeton : hors du schéma du projet (ni migration, ni sauvegarde), propre au lac.
TABLE_JETON = "perr_jeton"


def est_lac(chemin) -> bool:
    return str(chemin).strip().startswith(PREFIXE)


@dataclass(frozen=True)
class Lac:
    """Où est le lac : la chaîne du catalogue, le dossier des données, le schéma PostgreSQL du catalogue."""

    catalogue: str
    donnees: str
    schema: str | None = None

    @classmethod
    def depuis(cls, chemin, donnees: str | os.PathLike | None = None, schema: str | None = None) -> "Lac":
        donnees = donnees or os.environ.get("PERR_LAKE_DONNEES")
        if not donnees:
            raise ErreurBase("La base est un lac DuckLake : indiquez le dossier de ses données dans PERR_LAKE_DONNEES "
                             "(le même chemin partagé pour tous les serveurs).")
        schema = schema or os.environ.get("PERR_LAKE_SCHEMA") or None
        if schema is not None and not re.fullmatch(r"[a-z_][a-z0-9_]*", schema):
            raise ErreurBase(f"PERR_LAKE_SCHEMA={schema!r} : un nom de schéma PostgreSQL en minuscules, chiffres et _.")
        return cls(str(chemin).strip(), str(donnees), schema)

    def __str__(self) -> str:
        return self.catalogue

    def attacher(self, con: duckdb.DuckDBPyConnection) -> None:
        charger_les_extensions(con)
        donnees = str(Path(self.donnees).absolute()).rstrip("/") + "/"
        Path(donnees).mkdir(parents=True, exist_ok=True)
        options = [f"DATA_PATH {_litteral(donnees)}"]
        if self.schema:
            options.append(f"METADATA_SCHEMA {_litteral(self.schema)}")
        con.execute(f"ATTACH {_litteral(self.catalogue)} AS {NOM} ({', '.join(options)})")
        con.execute(f"USE {NOM}")


def _litteral(texte: str) -> str:
    return "'" + texte.replace("'", "''") + "'"


_extensions_pretes = False
_extensions_verrou = threading.Lock()


def charger_les_extensions(con: duckdb.DuckDBPyConnection) -> None:
    """`LOAD ducklake; LOAD postgres`, après les avoir installées une fois depuis leurs roues (hors ligne)."""
    global _extensions_pretes
    with _extensions_verrou:
        try:
            con.execute("LOAD ducklake; LOAD postgres")
            _extensions_pretes = True
            return
        except duckdb.Error:
            if _extensions_pretes:
                raise
        try:
            import duckdb_extensions
            for nom in ("ducklake", "postgres"):
                duckdb_extensions.import_extension(nom)
        except Exception as exc:  # noqa: BLE001
            raise ErreurBase("Les extensions DuckLake et PostgreSQL de DuckDB manquent : installez les dépendances "
                             f"(pip install -r requirements.txt) ; détail : {exc}") from exc
        con.execute("LOAD ducklake; LOAD postgres")
        _extensions_pretes = True


# --------------------------------------------------------------------------------------------------------------------
# Le schéma sans contraintes
# --------------------------------------------------------------------------------------------------------------------

_CLE_DE_TABLE = re.compile(r",\s*PRIMARY\s+KEY\s*\([^)]*\)", re.IGNORECASE)
_CLE_DE_COLONNE = re.compile(r"\s+PRIMARY\s+KEY\b", re.IGNORECASE)
_UNIQUE = re.compile(r"\bUNIQUE\b", re.IGNORECASE)


def sans_contraintes(sql: str) -> str:
    """Le DDL d'une migration sans ses clés primaires (clé de colonne ou de table), pour le lac : une clé de colonne
    devient NOT NULL (ce qu'elle impliquait) ; NOT NULL et DEFAULT restent (DuckLake les connaît). Une contrainte que cette fonction ne sait pas retirer est une erreur de
    programmation : elle lève tout de suite (un test passe chaque migration par ici)."""
    sortie = _CLE_DE_COLONNE.sub(" NOT NULL", _CLE_DE_TABLE.sub("", sql))
    sans_commentaires = re.sub(r"--[^\n]*", "", sortie)
    for motif in (r"\bPRIMARY\s+KEY\b", r"\bUNIQUE\b", r"\bREFERENCES\b", r"\bCHECK\s*\(", r"\bCREATE\s+INDEX\b",
                  r"\bCREATE\s+SEQUENCE\b"):
        if re.search(motif, sans_commentaires, re.IGNORECASE):
            raise ValueError(f"Migration non transposable au lac (motif {motif}) : {sql.strip()[:200]}")
    return sortie


def creer_le_jeton(con: duckdb.DuckDBPyConnection) -> None:
    """La table du jeton et sa ligne, dans la transaction d'une migration (deux processus qui créent le lac en même
    temps créent la même table : DuckLake refuse le second, qui trouve ensuite le lac prêt)."""
    con.execute(f"CREATE TABLE IF NOT EXISTS {TABLE_JETON} (n BIGINT NOT NULL)")
    if con.execute(f"SELECT count(*) FROM {TABLE_JETON}").fetchone()[0] == 0:
        con.execute(f"INSERT INTO {TABLE_JETON} VALUES (0)")


def prendre_le_jeton(con: duckdb.DuckDBPyConnection) -> None:
    """Au début de chaque transaction d'écriture : deux écritures concurrentes entrent ainsi toujours en conflit."""
    con.execute(f"UPDATE {TABLE_JETON} SET n = n + 1")


def est_un_conflit(exc: BaseException) -> bool:
    texte = str(exc)
    return isinstance(exc, duckdb.Error) and ("Transaction conflict" in texte or "write-write conflict" in texte.lower()
                                               or "Failed to commit DuckLake transaction" in texte)


def attendre_avant_essai(essai: int) -> None:
    """Courte attente tirée au hasard avant de rejouer une écriture refusée. Courte exprès : celle qui vient de passer
    prépare sa suivante hors transaction (lecture et contrôle d'un fichier) ; le perdant, qui rejoue aussitôt, a donc
    de l'avance au tour suivant (avec une attente croissante, un déposant perdait contre un autre qui enchaîne, huit
    fois de suite sur une cinquantaine de dépôts : mesuré par benchmarks/bench_lac.py)."""
    time.sleep(random.uniform(0, 0.02 * min(essai + 1, 10)))


def instantane(con: duckdb.DuckDBPyConnection) -> int:
    """Le numéro du dernier instantané validé : change à chaque écriture, quel que soit le processus ou la machine."""
    return int(con.execute(f"SELECT id FROM ducklake_current_snapshot('{NOM}')").fetchone()[0])


# --------------------------------------------------------------------------------------------------------------------
# La connexion du processus
# --------------------------------------------------------------------------------------------------------------------

class ConnexionDuProcessus:
    """Le lac attaché une fois par processus ; chaque opération emprunte un curseur (thread-safe, sa transaction)."""

    _toutes: dict[Lac, "ConnexionDuProcessus"] = {}
    _toutes_verrou = threading.Lock()

    def __init__(self, lac: Lac):
        self.lac = lac
        self._con: duckdb.DuckDBPyConnection | None = None
        self._verrou = threading.Lock()
        self.ouvertures = 0
        self.pret = False       # schéma vérifié (migré) à la première ouverture

    @classmethod
    def de(cls, lac: Lac) -> "ConnexionDuProcessus":
        with cls._toutes_verrou:
            c = cls._toutes.get(lac)
            if c is None:
                c = cls._toutes[lac] = cls(lac)
            return c

    def curseur(self) -> duckdb.DuckDBPyConnection:
        with self._verrou:
            if self._con is None:
                con = duckdb.connect()
                try:
                    self.lac.attacher(con)
                except ErreurBase:
                    con.close()
                    raise
                except duckdb.Error as exc:
                    con.close()
                    raise ErreurBase(f"Impossible d'ouvrir le lac {self.lac.catalogue} (données : {self.lac.donnees})"
                                     f" : {exc}") from exc
                self._con = con
                self.ouvertures += 1
            cur = self._con.cursor()
        cur.execute(f"USE {NOM}")
        return cur

    def fermer(self) -> None:
        with self._verrou:
            con, self._con = self._con, None
            self.pret = False
        if con is not None:
            con.close()
