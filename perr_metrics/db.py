"""Le seul module qui ouvre la base DuckDB : schéma, migrations, lectures et l'unique chemin d'écriture.

Pourquoi des connexions courtes : DuckDB pose un verrou sur le fichier. Tant qu'un processus le tient ouvert en
lecture-écriture, aucun autre processus ne peut l'ouvrir, même en lecture seule. Le tableau de bord et la ligne de commande
doivent pourtant travailler sur la même base en même temps (un coordinateur importe pendant que le COPIL consulte). Chaque
opération ouvre donc la base, fait son travail et la referme aussitôt ; si un autre processus la tient, on réessaie pendant
quelques secondes avant de répondre « base occupée » en français.

Chaque écriture se fait dans une transaction : tout ou rien, y compris si le processus est tué en cours de route (DuckDB ne
rejoue que les transactions validées de son journal).
"""
from __future__ import annotations

import copy
import os
import random
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, TypeVar

import duckdb

T = TypeVar("T")

CHEMIN_PAR_DEFAUT = Path("data") / "perr.duckdb"
DELAI_VERROU_PAR_DEFAUT = 30.0  # secondes d'attente quand un autre processus tient la base


class BaseOccupee(RuntimeError):
    """La base est tenue par un autre processus au-delà du délai d'attente."""

    def __init__(self, chemin: Path, delai: float):
        super().__init__(
            f"La base {chemin} est occupée par une autre opération (import en cours ?) depuis plus de "
            f"{delai:g} s. Réessayez dans un instant."
        )


class ErreurBase(RuntimeError):
    """Fichier de base illisible, ou d'une version plus récente que l'application."""


# --------------------------------------------------------------------------------------------------------------------
# Schéma : une liste ordonnée de migrations. La version d'une base est le nombre de migrations appliquées.
# On n'efface ni ne réécrit jamais une migration publiée : on en ajoute une.
# --------------------------------------------------------------------------------------------------------------------

MIGRATIONS: list[tuple[str, str]] = [
    (
        "Référentiel des protocoles, dépôts et valeurs",
        """
        CREATE TABLE protocole (
            code VARCHAR PRIMARY KEY,
            titre VARCHAR NOT NULL,
            territoire VARCHAR NOT NULL,
            code_territoire VARCHAR NOT NULL,
            annee_debut INTEGER NOT NULL,
            annee_fin INTEGER NOT NULL,
            date_signature DATE,
            geographie VARCHAR NOT NULL,
            demonstration BOOLEAN NOT NULL DEFAULT false,
            description VARCHAR,
            importe_le TIMESTAMP NOT NULL
        );
        CREATE TABLE contrat (
            protocole VARCHAR NOT NULL, code VARCHAR NOT NULL, libelle VARCHAR NOT NULL, date_signature DATE,
            ordre INTEGER NOT NULL, PRIMARY KEY (protocole, code)
        );
        -- Tous les périmètres d'un protocole : le territoire entier, les communes, les quartiers (QPV et veille active).
        CREATE TABLE perimetre (
            protocole VARCHAR NOT NULL, code VARCHAR NOT NULL, libelle VARCHAR NOT NULL,
            niveau VARCHAR NOT NULL,      -- 'Territoire' | 'Commune' | 'QPV'
            type VARCHAR NOT NULL,        -- 'Territoire' | 'Commune' | 'QPV' | 'Veille active'
            contrat VARCHAR, ordre INTEGER NOT NULL, PRIMARY KEY (protocole, code)
        );
        CREATE TABLE perimetre_commune (
            protocole VARCHAR NOT NULL, perimetre VARCHAR NOT NULL, insee VARCHAR NOT NULL,
            PRIMARY KEY (protocole, perimetre, insee)
        );
        CREATE TABLE signataire (
            protocole VARCHAR NOT NULL, code VARCHAR NOT NULL, nom VARCHAR NOT NULL, categorie VARCHAR NOT NULL,
            rattache_a VARCHAR, signe BOOLEAN NOT NULL, insee VARCHAR, ordre INTEGER NOT NULL,
            PRIMARY KEY (protocole, code)
        );
        CREATE TABLE cadre (
            code VARCHAR PRIMARY KEY, referentiel VARCHAR NOT NULL, libelle VARCHAR NOT NULL, ordre INTEGER NOT NULL
        );
        CREATE TABLE noeud (
            protocole VARCHAR NOT NULL, code VARCHAR NOT NULL, parent VARCHAR, niveau VARCHAR NOT NULL,
            libelle VARCHAR NOT NULL, ordre INTEGER NOT NULL, profondeur INTEGER NOT NULL, chemin VARCHAR NOT NULL,
            PRIMARY KEY (protocole, code)
        );
        CREATE TABLE noeud_cadre (
            protocole VARCHAR NOT NULL, noeud VARCHAR NOT NULL, cadre VARCHAR NOT NULL,
            PRIMARY KEY (protocole, noeud, cadre)
        );
        CREATE TABLE engagement (
            protocole VARCHAR NOT NULL, code VARCHAR NOT NULL, noeud VARCHAR NOT NULL, parent VARCHAR,
            libelle VARCHAR NOT NULL, formule VARCHAR, levier VARCHAR, echeance VARCHAR, ordre INTEGER NOT NULL,
            PRIMARY KEY (protocole, code)
        );
        CREATE TABLE engagement_porteur (
            protocole VARCHAR NOT NULL, engagement VARCHAR NOT NULL, signataire VARCHAR NOT NULL, rang INTEGER NOT NULL,
            PRIMARY KEY (protocole, engagement, signataire)
        );
        CREATE TABLE engagement_cadre (
            protocole VARCHAR NOT NULL, engagement VARCHAR NOT NULL, cadre VARCHAR NOT NULL,
            PRIMARY KEY (protocole, engagement, cadre)
        );
        CREATE TABLE indicateur (
            protocole VARCHAR NOT NULL, code VARCHAR NOT NULL, libelle VARCHAR NOT NULL, unite VARCHAR NOT NULL,
            sens VARCHAR NOT NULL, periodicite VARCHAR NOT NULL, niveau VARCHAR NOT NULL, agregation VARCHAR NOT NULL,
            numerateur VARCHAR, denominateur VARCHAR, source VARCHAR, signataire VARCHAR NOT NULL,
            minimum DOUBLE, maximum DOUBLE, definition VARCHAR, ordre INTEGER NOT NULL,
            PRIMARY KEY (protocole, code)
        );
        CREATE TABLE indicateur_engagement (
            protocole VARCHAR NOT NULL, indicateur VARCHAR NOT NULL, engagement VARCHAR NOT NULL,
            PRIMARY KEY (protocole, indicateur, engagement)
        );
        CREATE TABLE reference (
            protocole VARCHAR NOT NULL, indicateur VARCHAR NOT NULL, perimetre VARCHAR NOT NULL,
            annee INTEGER NOT NULL, valeur DOUBLE NOT NULL, PRIMARY KEY (protocole, indicateur, perimetre)
        );
        CREATE TABLE cible (
            protocole VARCHAR NOT NULL, indicateur VARCHAR NOT NULL, perimetre VARCHAR NOT NULL,
            annee INTEGER NOT NULL, valeur DOUBLE NOT NULL, PRIMARY KEY (protocole, indicateur, perimetre, annee)
        );
        -- Un dépôt = un fichier envoyé par un signataire ; ses octets sont gardés pour la traçabilité.
        CREATE TABLE depot (
            id BIGINT PRIMARY KEY, protocole VARCHAR NOT NULL, signataire VARCHAR NOT NULL, periode VARCHAR,
            utilisateur VARCHAR NOT NULL, depose_le TIMESTAMP NOT NULL, fichier_nom VARCHAR NOT NULL,
            sha256 VARCHAR NOT NULL, contenu BLOB NOT NULL, nb_valeurs INTEGER NOT NULL,
            statut VARCHAR NOT NULL DEFAULT 'reçu', commentaire VARCHAR
        );
        -- Une valeur déposée. La plus récente par (indicateur, périmètre, période) fait foi ; les autres restent
        -- visibles dans l'historique.
        CREATE TABLE valeur (
            depot_id BIGINT NOT NULL, protocole VARCHAR NOT NULL, indicateur VARCHAR NOT NULL,
            perimetre VARCHAR NOT NULL, periode VARCHAR NOT NULL, annee INTEGER NOT NULL, valeur DOUBLE NOT NULL,
            commentaire VARCHAR, cellule VARCHAR
        );
        """,
    ),
    (
        "Journal des imports de référentiel et suivi de l'état des engagements",
        """
        CREATE TABLE import_referentiel (
            id BIGINT PRIMARY KEY, protocole VARCHAR NOT NULL, importe_le TIMESTAMP NOT NULL,
            fichier_nom VARCHAR NOT NULL, sha256 VARCHAR NOT NULL, utilisateur VARCHAR NOT NULL, resume VARCHAR
        );
        CREATE TABLE etat_engagement (
            protocole VARCHAR NOT NULL, engagement VARCHAR NOT NULL,
            etat VARCHAR NOT NULL,   -- 'non démarré' | 'en cours' | 'réalisé' | 'reporté' | 'abandonné'
            date_etat DATE NOT NULL, commentaire VARCHAR, auteur VARCHAR NOT NULL, saisi_le TIMESTAMP NOT NULL
        );
        """,
    ),
    (
        "Revue des dépôts par la coordination",
        """
        -- Chaque revue (« validé », « à corriger ») est gardée ; depot.statut porte la dernière.
        CREATE TABLE revue_depot (
            depot_id BIGINT NOT NULL, statut VARCHAR NOT NULL, commentaire VARCHAR, auteur VARCHAR NOT NULL,
            revu_le TIMESTAMP NOT NULL
        );
        """,
    ),
    (
        "Contours des quartiers prioritaires",
        """
        -- Les contours officiels des QPV (GeoJSON de l'ANCT), communs à tous les protocoles ; un import remplace tout.
        CREATE TABLE contour_qpv (
            code VARCHAR PRIMARY KEY, libelle VARCHAR NOT NULL, insee VARCHAR[],
            geojson VARCHAR NOT NULL,   -- la géométrie (MultiPolygon, WGS84), en texte GeoJSON
            importe_le TIMESTAMP NOT NULL, fichier_nom VARCHAR
        );
        """,
    ),
    (
        "Comptes, journal et vue publique",
        """
        -- Les comptes : mot de passe haché par argon2id (jamais en clair) ; NULL pour un compte qui n'entre que par
        -- l'authentification unique (OpenID Connect), reconnu par son courriel.
        CREATE TABLE compte (
            identifiant VARCHAR PRIMARY KEY, nom VARCHAR NOT NULL, courriel VARCHAR,
            role VARCHAR NOT NULL,          -- 'administrateur' | 'contributeur' | 'lecteur'
            protocole VARCHAR, signataire VARCHAR,   -- le rattachement d'un contributeur
            actif BOOLEAN NOT NULL DEFAULT true, mot_de_passe VARCHAR,
            demonstration BOOLEAN NOT NULL DEFAULT false,
            cree_le TIMESTAMP NOT NULL, modifie_le TIMESTAMP NOT NULL, derniere_connexion TIMESTAMP
        );
        -- Le journal : connexions (réussies ou non), dépôts, revues, imports, comptes, états d'engagements, refus.
        CREATE TABLE journal (
            id BIGINT PRIMARY KEY, horodatage TIMESTAMP NOT NULL,
            compte VARCHAR, nom VARCHAR, role VARCHAR,
            action VARCHAR NOT NULL, resultat VARCHAR NOT NULL,    -- 'réussi' | 'échoué' | 'refusé'
            protocole VARCHAR, objet VARCHAR, detail VARCHAR
        );
        CREATE TABLE parametre (cle VARCHAR PRIMARY KEY, valeur VARCHAR NOT NULL);
        -- Les indicateurs que l'administrateur ouvre à la vue publique (hors du référentiel : un réimport les garde).
        CREATE TABLE publication (
            protocole VARCHAR NOT NULL, indicateur VARCHAR NOT NULL, publie_le TIMESTAMP NOT NULL, compte VARCHAR,
            PRIMARY KEY (protocole, indicateur)
        );
        -- Le compte derrière chaque écriture tracée (le nom affiché reste dans les colonnes d'origine).
        ALTER TABLE depot ADD COLUMN compte VARCHAR;
        ALTER TABLE revue_depot ADD COLUMN compte VARCHAR;
        ALTER TABLE etat_engagement ADD COLUMN compte VARCHAR;
        ALTER TABLE import_referentiel ADD COLUMN compte VARCHAR;
        """,
    ),
]

VERSION_SCHEMA = len(MIGRATIONS)


def version_de(con: duckdb.DuckDBPyConnection) -> int:
    """Version du schéma d'une base ouverte (0 pour une base vide)."""
    existe = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
    ).fetchone()[0]
    if not existe:
        return 0
    v = con.execute("SELECT max(version) FROM schema_version").fetchone()[0]
    return int(v or 0)


def migrer(con: duckdb.DuckDBPyConnection, jusqu_a: int | None = None) -> int:
    """Applique les migrations manquantes, chacune dans sa transaction. Renvoie la version atteinte."""
    cible = VERSION_SCHEMA if jusqu_a is None else jusqu_a
    actuelle = version_de(con)
    if actuelle > VERSION_SCHEMA:
        raise ErreurBase(
            f"Cette base est au schéma {actuelle}, plus récent que celui de l'application ({VERSION_SCHEMA}) : "
            "mettez l'application à jour."
        )
    for numero in range(actuelle + 1, cible + 1):
        titre, sql = MIGRATIONS[numero - 1]
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(
                "CREATE TABLE IF NOT EXISTS schema_version "
                "(version INTEGER PRIMARY KEY, titre VARCHAR NOT NULL, applique_le TIMESTAMP NOT NULL)"
            )
            con.execute(sql)
            if numero == 1:
                _inserer_cadres(con)
            con.execute("INSERT INTO schema_version VALUES (?, ?, current_timestamp)", [numero, titre])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
    return max(actuelle, cible)


def _inserer_cadres(con: duckdb.DuckDBPyConnection) -> None:
    from .cadres import CADRES_NATIONAUX

    con.executemany(
        "INSERT INTO cadre VALUES (?, ?, ?, ?)",
        [(c.code, c.referentiel, c.libelle, i) for i, c in enumerate(CADRES_NATIONAUX)],
    )


# --------------------------------------------------------------------------------------------------------------------
# Le magasin : connexions courtes, attente du verrou, transactions.
# --------------------------------------------------------------------------------------------------------------------

def _est_conflit_de_verrou(exc: Exception) -> bool:
    texte = str(exc)
    return "Could not set lock" in texte or "Conflicting lock" in texte


class Store:
    """La base d'un déploiement. Toutes les lectures et écritures passent par ici.

    `lire(fn)` et `ecrire(fn)` ouvrent la base, appellent `fn(con)` et la referment ; `ecrire` enveloppe l'appel dans une
    transaction. Dans un même processus, les opérations sont sérialisées par un verrou (DuckDB refuse de mélanger
    connexions en lecture seule et en écriture sur un même fichier dans un processus, et nos connexions sont courtes).
    """

    _verrous: dict[str, threading.RLock] = {}
    _verrous_lock = threading.Lock()

    def __init__(self, chemin: str | os.PathLike | None = None, delai_verrou: float | None = None,
                 utilisateur=None):
        self.utilisateur = utilisateur  # qui agit (droits.Utilisateur) ; sans lui, le cœur refuse toute opération
        self.chemin = Path(chemin or os.environ.get("PERR_DB") or CHEMIN_PAR_DEFAUT)
        if delai_verrou is None:
            delai_verrou = float(os.environ.get("PERR_DB_DELAI", DELAI_VERROU_PAR_DEFAUT))
        self.delai_verrou = delai_verrou
        cle = str(self.chemin.resolve())
        with Store._verrous_lock:
            self._verrou = Store._verrous.setdefault(cle, threading.RLock())
        self._pret = False

    def pour(self, utilisateur) -> "Store":
        """Le même magasin (même fichier, même verrou), au nom de `utilisateur` : les opérations du cœur vérifient ses
        droits (perr_metrics/droits.py) et le journal lui attribue les écritures."""
        autre = copy.copy(self)
        autre.utilisateur = utilisateur
        return autre

    # -- ouverture ---------------------------------------------------------------------------------------------------
    def _connecter(self) -> duckdb.DuckDBPyConnection:
        self.chemin.parent.mkdir(parents=True, exist_ok=True)
        debut = time.monotonic()
        attente = 0.02
        while True:
            try:
                return duckdb.connect(str(self.chemin))
            except duckdb.IOException as exc:
                if not _est_conflit_de_verrou(exc):
                    if "not a valid DuckDB database" in str(exc):
                        raise ErreurBase(
                            f"Le fichier {self.chemin} n'est pas une base perr-metrics lisible (fichier abîmé ou "
                            "d'un autre format). Déplacez-le, ou restaurez une sauvegarde "
                            "(python -m perr_metrics restauration DOSSIER).") from exc
                    raise ErreurBase(f"Impossible d'ouvrir la base {self.chemin} : {exc}") from exc
                if time.monotonic() - debut > self.delai_verrou:
                    raise BaseOccupee(self.chemin, self.delai_verrou) from exc
                time.sleep(attente * (0.5 + random.random()))
                attente = min(attente * 2, 0.5)
            except duckdb.Error as exc:
                raise ErreurBase(f"Le fichier {self.chemin} n'est pas une base perr-metrics lisible : {exc}") from exc

    @contextmanager
    def connexion(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Une connexion courte, schéma à jour. Réservé à ce module et aux lectures de `requetes`."""
        with self._verrou:
            con = self._connecter()
            try:
                if not self._pret:
                    migrer(con)
                    self._pret = True
                yield con
            finally:
                con.close()

    def initialiser(self) -> int:
        """Crée la base (ou la migre) et renvoie sa version de schéma."""
        with self.connexion() as con:
            return version_de(con)

    # -- lectures et écritures ---------------------------------------------------------------------------------------
    def lire(self, fn: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        with self.connexion() as con:
            return fn(con)

    def ecrire(self, fn: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """Exécute `fn(con)` dans une transaction : tout est écrit, ou rien."""
        with self.connexion() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                resultat = fn(con)
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")
            return resultat

    def requete(self, sql: str, params: list | tuple | None = None):
        """Une requête de lecture, résultat en DataFrame pandas."""
        return self.lire(lambda con: con.execute(sql, params or []).df())

    @contextmanager
    def session(self) -> Iterator["SessionLecture"]:
        """Plusieurs lectures sur une seule connexion (ouvrir la base coûte quelques dizaines de millisecondes et chaque
        fonction de lecture du cœur l'ouvre). Se passe à la place du magasin aux fonctions de lecture ; on n'y écrit pas.
        La base reste tenue pendant toute la session : à réserver aux traitements courts (un rapport)."""
        with self.connexion() as con:
            yield SessionLecture(self, con)

    def est_vide(self) -> bool:
        return self.lire(lambda con: con.execute("SELECT count(*) FROM protocole").fetchone()[0] == 0)

    # -- sauvegarde et restauration ------------------------------------------------------------------------------------
    def sauvegarder(self, dossier: str | os.PathLike) -> Path:
        """Exporte toute la base (schéma et données, octets des fichiers déposés compris) dans un dossier Parquet."""
        from . import droits, journal
        u = droits.exiger(self, "sauvegarder")
        dossier = Path(dossier)
        if dossier.exists() and any(dossier.iterdir()):
            raise ValueError(f"Le dossier de sauvegarde {dossier} n'est pas vide : choisissez un dossier neuf.")
        dossier.mkdir(parents=True, exist_ok=True)
        chemin_sql = str(dossier).replace("'", "''")
        self.ecrire(lambda con: journal.noter(con, u, "sauvegarde", objet=str(dossier)))
        self.lire(lambda con: con.execute(f"EXPORT DATABASE '{chemin_sql}' (FORMAT parquet)"))
        return dossier

    def restaurer(self, dossier: str | os.PathLike) -> int:
        """Remplace la base par une sauvegarde. La nouvelle base est construite à côté puis substituée d'un coup."""
        from . import droits, journal
        u = droits.exiger(self, "sauvegarder")
        dossier = Path(dossier)
        if not (dossier / "schema.sql").exists() or not (dossier / "load.sql").exists():
            raise ValueError(f"{dossier} n'est pas un dossier de sauvegarde perr-metrics (schema.sql et load.sql absents).")
        self.chemin.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".duckdb", dir=self.chemin.parent)
        os.close(fd)
        os.remove(tmp)
        try:
            con = duckdb.connect(tmp)
            try:
                chemin_sql = str(dossier).replace("'", "''")
                con.execute(f"IMPORT DATABASE '{chemin_sql}'")
                version = version_de(con)
                if version == 0:
                    raise ValueError(f"La sauvegarde {dossier} ne contient pas de base perr-metrics.")
                migrer(con)
                con.execute("CHECKPOINT")
            finally:
                con.close()
            with self._verrou:
                # On prend le verrou du fichier existant le temps de la substitution.
                if self.chemin.exists():
                    self._connecter().close()
                os.replace(tmp, self.chemin)
                wal = Path(str(self.chemin) + ".wal")
                if wal.exists():
                    wal.unlink()
            self._pret = False
            version = self.initialiser()
            self.ecrire(lambda con: journal.noter(con, u, "restauration", objet=str(dossier)))
            return version
        finally:
            for f in (tmp, tmp + ".wal"):
                if os.path.exists(f):
                    os.remove(f)


class SessionLecture:
    """Le magasin vu à travers une connexion déjà ouverte : `lire` et `requete` comme `Store`, jamais `ecrire`."""

    def __init__(self, store: Store, con: duckdb.DuckDBPyConnection):
        self.chemin = store.chemin
        self.utilisateur = store.utilisateur
        self._con = con

    def pour(self, utilisateur) -> "SessionLecture":
        autre = copy.copy(self)
        autre.utilisateur = utilisateur
        return autre

    def lire(self, fn: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        return fn(self._con)

    def requete(self, sql: str, params: list | tuple | None = None):
        return self._con.execute(sql, params or []).df()

    def ecrire(self, fn):
        raise RuntimeError("Une session de lecture n'écrit pas dans la base.")


def prochain_id(con: duckdb.DuckDBPyConnection, table: str) -> int:
    """Identifiant suivant d'une table (dans la transaction d'écriture, donc sans collision)."""
    return int(con.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}").fetchone()[0])
