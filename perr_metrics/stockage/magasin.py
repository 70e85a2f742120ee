"""Le seul module qui ouvre la base DuckDB : schéma, migrations, lectures et l'unique chemin d'écriture.

Pourquoi des connexions courtes : DuckDB pose un verrou sur le fichier. Tant qu'un processus le tient ouvert en
lecture-écriture, aucun autre processus ne peut l'ouvrir, même en lecture seule. Le tableau de bord et la ligne de commande
doivent pourtant travailler sur la même base en même temps (un coordinateur importe pendant que le COPIL consulte). Chaque
opération de la ligne de commande ouvre donc la base, fait son travail et la referme aussitôt ; si un autre processus la
tient, on réessaie pendant quelques secondes avant de répondre « base occupée » en français.

Le tableau de bord, lui, fait beaucoup de lectures courtes (une page : 2 à 7), et ouvrir la base coûte à chaque fois
quelques dizaines de millisecondes et un cache de blocs vide. Son magasin « garde » donc la base ouverte
(`Store(…, garde=secondes)`, voir `_Garde`) : une connexion par processus, partagée par toutes ses lectures et écritures
(un curseur chacune, donc sans se bloquer entre sessions du navigateur), refermée dès qu'elle est restée `garde` secondes
sans servir, **ou dès qu'un autre processus attend la base** : celui qui attend le signale par un petit fichier
`<base>.attente.<pid>` ; le tableau de bord, qui le voit, ne commence plus de nouvelle lecture, referme la base quand
les lectures en cours sont finies et ne la rouvre qu'une fois l'autre servi. Un import en ligne de commande attend donc au
plus la fin des lectures en cours (moins d'une seconde), même pendant que le COPIL consulte sans relâche.

Chaque écriture se fait dans une transaction : tout ou rien, y compris si le processus est tué en cours de route (DuckDB ne
rejoue que les transactions validées de son journal).

Tout cela vaut pour le fichier. Sur un lac DuckLake (`PERR_DB="ducklake:postgres:…"`), il n'y a ni verrou de fichier ni
attente : voir `stockage.lac`, qui porte ce qui diffère ; `Store` reste la seule interface.
"""
from __future__ import annotations

import atexit
import copy
import os
import random
import re
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, TypeVar

import duckdb

from . import lac as _lac
from .erreurs import BaseModifiee, BaseOccupee, ErreurBase  # noqa: F401 (réexportées)

T = TypeVar("T")

CHEMIN_PAR_DEFAUT = Path("data") / "perr.duckdb"
DELAI_VERROU_PAR_DEFAUT = 30.0  # secondes d'attente quand un autre processus tient la base


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
    (
        "Nature des indicateurs et textes du rapport annuel",
        """
        -- La nature d'un indicateur dit où il se lit dans le rapport annuel (docs/referentiel.md) : 'contexte' |
        -- 'moyen' | 'réalisation' | 'résultat' ; pour un moyen, son financement : 'crédits spécifiques' |
        -- 'droit commun' (NULL : non précisé). Le financeur est le signataire qui déclare l'indicateur.
        ALTER TABLE indicateur ADD COLUMN nature VARCHAR DEFAULT 'résultat';
        ALTER TABLE indicateur ADD COLUMN financement VARCHAR;
        -- Ce que la coordination écrit pour le rapport d'une année (synthèse, perspectives, renouvellement urbain) et
        -- les avis qu'elle y joint (conseils citoyens, conseils municipaux), en texte ou en fichier. Chaque
        -- enregistrement est une nouvelle version (rien n'est effacé) ; le rapport prend la dernière de chaque
        -- (protocole, année, nature, cle). Une version sans texte ni fichier retire le texte ou l'avis.
        CREATE TABLE texte_rapport (
            id BIGINT PRIMARY KEY, protocole VARCHAR NOT NULL, annee INTEGER NOT NULL,
            nature VARCHAR NOT NULL,   -- 'synthèse' | 'perspectives' | 'renouvellement urbain' | 'avis'
            cle VARCHAR NOT NULL,      -- la nature pour un texte ; pour un avis, l'instance qui l'a rendu
            version INTEGER NOT NULL,
            texte VARCHAR, fichier_nom VARCHAR, fichier BLOB,
            auteur VARCHAR, date_texte DATE,   -- qui signe le texte ou l'avis, et de quand il date
            compte VARCHAR, saisi_par VARCHAR NOT NULL, saisi_le TIMESTAMP NOT NULL
        );
        """,
    ),
    (
        "Revue avant publication : valeurs prises en compte, échéance des dépôts, avertissements confirmés",
        """
        -- Quand les valeurs d'un dépôt comptent (font foi) : 'dès réception' (hors dépôts « à corriger »),
        -- 'après revue des avertissements' (un dépôt confirmé malgré un avertissement attend sa revue), ou
        -- 'après validation' (seuls les dépôts « validé »). Colonne « Valeurs prises en compte » du référentiel.
        ALTER TABLE protocole ADD COLUMN valeurs_retenues VARCHAR DEFAULT 'dès réception';
        -- Le jour (JJ/MM) de l'année suivante avant lequel les valeurs d'une année sont attendues ; NULL : aucune.
        ALTER TABLE protocole ADD COLUMN echeance_depots VARCHAR;
        -- Le nombre d'avertissements que le partenaire a confirmés en déposant (0 : aucun).
        ALTER TABLE depot ADD COLUMN nb_avertissements INTEGER DEFAULT 0;
        UPDATE depot SET nb_avertissements = CAST(regexp_extract(commentaire, '^(\\d+) avertissement', 1) AS INTEGER)
            WHERE regexp_matches(coalesce(commentaire, ''), '^\\d+ avertissements? confirmés? au dépôt');
        -- L'avertissement confirmé sur cette valeur (son code et son message), NULL s'il n'y en a pas eu.
        ALTER TABLE valeur ADD COLUMN avertissement_code VARCHAR;
        ALTER TABLE valeur ADD COLUMN avertissement VARCHAR;
        """,
    ),
    (
        "Sessions partagées et portée des comptes",
        """
        -- Plusieurs organisations dans une instance : les protocoles d'un administrateur ou d'un lecteur (aucune ligne :
        -- toute l'instance ; un contributeur a le protocole de son signataire dans `compte`). Sans clé : une ligne par
        -- (compte, protocole), gardée unique par perr_metrics.acces.comptes, qui réécrit toutes celles d'un compte.
        CREATE TABLE compte_protocole (compte VARCHAR NOT NULL, protocole VARCHAR NOT NULL);
        -- Les sessions du tableau de bord, valables sur chaque processus serveur : l'empreinte SHA-256 du jeton du
        -- cookie (jamais le jeton), le compte, l'ouverture et la dernière activité ; fermée, la ligne disparaît
        -- (perr_metrics.acces.sessions, qui garde l'empreinte unique).
        CREATE TABLE session_web (
            empreinte VARCHAR NOT NULL, compte VARCHAR NOT NULL, sso BOOLEAN NOT NULL,
            debut TIMESTAMP NOT NULL, activite TIMESTAMP NOT NULL
        );
        """,
    ),
    (
        "Boucle des partenaires : échéances, adresses de contact, motifs des valeurs manquantes, courriels envoyés",
        """
        -- L'adresse de contact d'un signataire (facultative, feuille « Signataires » du référentiel).
        ALTER TABLE signataire ADD COLUMN courriel VARCHAR;
        -- La date limite de dépôt d'une période (feuille « Échéances » du référentiel) ; sans ligne, la règle par défaut
        -- de perr_metrics.depots.echeances s'applique.
        CREATE TABLE echeance (
            protocole VARCHAR NOT NULL, periode VARCHAR NOT NULL, date_limite DATE NOT NULL,
            PRIMARY KEY (protocole, periode)
        );
        -- Une valeur attendue que le partenaire déclare ne pas pouvoir donner, avec son motif : jamais un zéro, jamais
        -- dans `valeur` ; comptée « expliquée » par la complétude.
        CREATE TABLE valeur_motif (
            depot_id BIGINT NOT NULL, protocole VARCHAR NOT NULL, indicateur VARCHAR NOT NULL,
            perimetre VARCHAR NOT NULL, periode VARCHAR NOT NULL, annee INTEGER NOT NULL,
            motif VARCHAR NOT NULL,     -- 'donnée non disponible' | 'secret statistique' | 'non concerné' | 'autre'
            commentaire VARCHAR, cellule VARCHAR
        );
        -- Chaque courriel que l'application a essayé d'envoyer (relance, accusé de réception, avis de dépôt), avec les
        -- adresses qui l'ont accepté et celles qui l'ont refusé.
        CREATE TABLE courriel (
            id BIGINT PRIMARY KEY, nature VARCHAR NOT NULL,   -- 'relance' | 'accusé de réception' | 'avis de dépôt'
            protocole VARCHAR, periode VARCHAR, signataire VARCHAR, depot_id BIGINT,
            destinataires VARCHAR, refuses VARCHAR, objet VARCHAR NOT NULL, envoye_le TIMESTAMP NOT NULL,
            resultat VARCHAR NOT NULL, detail VARCHAR, compte VARCHAR
        );
        -- Un administrateur peut demander un avis par courriel à chaque nouveau dépôt.
        ALTER TABLE compte ADD COLUMN avis_depots BOOLEAN;   -- NULL : non (le lac refuse un DEFAULT false ajouté)
        """,
    ),
    (
        "Le protocole tel qu'il est écrit : volets, textes des nœuds, nature des engagements, signatures",
        """
        -- Les volets (ou annexes) d'un protocole : plusieurs arborescences, chacune avec son nom (« Cité éducative de
        -- Blois Nord », « Projet de quartier »), rattachées ou non à des quartiers. Un nœud sans volet est du corps.
        CREATE TABLE volet (
            protocole VARCHAR NOT NULL, code VARCHAR NOT NULL, libelle VARCHAR NOT NULL, nature VARCHAR,
            texte VARCHAR, ordre INTEGER NOT NULL, PRIMARY KEY (protocole, code)
        );
        CREATE TABLE volet_quartier (
            protocole VARCHAR NOT NULL, volet VARCHAR NOT NULL, perimetre VARCHAR NOT NULL,
            PRIMARY KEY (protocole, volet, perimetre)
        );
        -- Un nœud attaché à un ou plusieurs quartiers (une priorité déclinée quartier par quartier).
        CREATE TABLE noeud_quartier (
            protocole VARCHAR NOT NULL, noeud VARCHAR NOT NULL, perimetre VARCHAR NOT NULL,
            PRIMARY KEY (protocole, noeud, perimetre)
        );
        ALTER TABLE noeud ADD COLUMN texte VARCHAR;    -- l'objectif stratégique, l'enjeu, la description du nœud
        ALTER TABLE noeud ADD COLUMN volet VARCHAR;
        -- La nature de l'item, dans le vocabulaire du protocole (objectif opérationnel, exemple d'action, engagement,
        -- orientation attendue des autres signataires…). Un engagement peut n'avoir aucun porteur.
        ALTER TABLE engagement ADD COLUMN nature VARCHAR;
        -- Les lignes de signature : plusieurs par signataire (le contrat de 2015, le protocole de 2019…).
        CREATE TABLE signature (
            protocole VARCHAR NOT NULL, signataire VARCHAR NOT NULL, rang INTEGER NOT NULL, qualite VARCHAR,
            representant VARCHAR, acte VARCHAR, date_signature DATE, PRIMARY KEY (protocole, signataire, rang)
        );
        """,
    ),
]

VERSION_SCHEMA = len(MIGRATIONS)


def version_de(con: duckdb.DuckDBPyConnection) -> int:
    """Version du schéma d'une base ouverte (0 pour une base vide)."""
    existe = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version' "
        "AND table_catalog = current_database()"
    ).fetchone()[0]
    if not existe:
        return 0
    v = con.execute("SELECT max(version) FROM schema_version").fetchone()[0]
    return int(v or 0)


def migrer(con: duckdb.DuckDBPyConnection, jusqu_a: int | None = None, *, lac: bool = False) -> int:
    """Applique les migrations manquantes, chacune dans sa transaction. Renvoie la version atteinte.

    `lac` : la base est un lac DuckLake ; chaque migration y passe sans ses contraintes (`lac.sans_contraintes`) et
    prend le jeton des écritures (deux processus qui migrent en même temps : le second est refusé à la validation et
    `Store` le rejoue)."""
    cible = VERSION_SCHEMA if jusqu_a is None else jusqu_a
    actuelle = _verifier_version(con)
    if lac and cible > actuelle:
        # Sur le lac, toutes les migrations manquantes dans une seule transaction : une validation (un aller-retour
        # au catalogue) au lieu d'une par migration, et deux processus qui migrent se heurtent une seule fois.
        con.execute("BEGIN TRANSACTION")
        try:
            _lac.creer_le_jeton(con)
            _lac.prendre_le_jeton(con)
            for numero in range(actuelle + 1, cible + 1):
                appliquer_migration(con, numero, lac=True)
            con.execute("COMMIT")
        except Exception:
            _annuler(con)
            raise
        return cible
    for numero in range(actuelle + 1, cible + 1):
        con.execute("BEGIN TRANSACTION")
        try:
            appliquer_migration(con, numero)
            con.execute("COMMIT")
        except Exception:
            _annuler(con)
            raise
    return max(actuelle, cible)


def _verifier_version(con: duckdb.DuckDBPyConnection) -> int:
    actuelle = version_de(con)
    if actuelle > VERSION_SCHEMA:
        raise ErreurBase(
            f"Cette base est au schéma {actuelle}, plus récent que celui de l'application ({VERSION_SCHEMA}) : "
            "mettez l'application à jour."
        )
    return actuelle


def appliquer_migration(con: duckdb.DuckDBPyConnection, numero: int, *, lac: bool = False) -> None:
    """La migration `numero` dans la transaction en cours (sans la valider)."""
    titre, sql = MIGRATIONS[numero - 1]
    ddl_version = ("CREATE TABLE IF NOT EXISTS schema_version "
                   "(version INTEGER PRIMARY KEY, titre VARCHAR NOT NULL, applique_le TIMESTAMP NOT NULL)")
    con.execute(_lac.sans_contraintes(ddl_version) if lac else ddl_version)
    con.execute(_lac.sans_contraintes(sql) if lac else sql)
    if numero == 1:
        _inserer_cadres(con)
    con.execute("INSERT INTO schema_version VALUES (?, ?, current_timestamp)", [numero, titre])


def _annuler(con: duckdb.DuckDBPyConnection) -> None:
    """ROLLBACK, sans masquer l'erreur d'origine quand la transaction est déjà close (validation refusée)."""
    try:
        con.execute("ROLLBACK")
    except duckdb.Error:
        pass


def _inserer_cadres(con: duckdb.DuckDBPyConnection) -> None:
    from perr_metrics.commun.cadres import CADRES_NATIONAUX

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

    _gardes: dict[str, "_Garde"] = {}

    def __init__(self, chemin: str | os.PathLike | None = None, delai_verrou: float | None = None,
                 utilisateur=None, garde: float | None = None, *, donnees: str | os.PathLike | None = None,
                 schema_lac: str | None = None):
        """`chemin` : le fichier de la base, ou un lac DuckLake (`ducklake:postgres:…`, données dans `donnees` ou
        $PERR_LAKE_DONNEES ; voir `stockage.lac`). `garde` : garder le fichier ouvert, partagé par les lectures de ce
        processus, jusqu'à `garde` secondes d'inactivité (ou jusqu'à ce qu'un autre processus le demande) ; None : une
        connexion courte par opération. Sur un lac, la connexion du processus est toujours gardée et `garde` n'a pas
        d'effet."""
        self.utilisateur = utilisateur  # qui agit (droits.Utilisateur) ; sans lui, le cœur refuse toute opération
        brut = chemin or os.environ.get("PERR_DB") or CHEMIN_PAR_DEFAUT
        if delai_verrou is None:
            delai_verrou = float(os.environ.get("PERR_DB_DELAI", DELAI_VERROU_PAR_DEFAUT))
        self.delai_verrou = delai_verrou
        self._lac: _lac.Lac | None = None
        self._garde = None
        if _lac.est_lac(brut):
            self._lac = _lac.Lac.depuis(brut, donnees, schema_lac)
            self.chemin = self._lac.catalogue     # affiché tel quel ; Store(store.chemin) rouvre le même lac
            cle = repr(self._lac)
        else:
            self.chemin = Path(brut)
            cle = str(self.chemin.resolve())
        with Store._verrous_lock:
            self._verrou = Store._verrous.setdefault(cle, threading.RLock())
            if garde is not None and self._lac is None:
                self._garde = Store._gardes.get(cle)
                if self._garde is None:
                    self._garde = Store._gardes[cle] = _Garde(self.chemin, garde)
        self._pret = False

    @property
    def est_lac(self) -> bool:
        """La base est-elle un lac DuckLake (plusieurs processus, plusieurs machines) plutôt qu'un fichier ?"""
        return self._lac is not None

    def pour(self, utilisateur) -> "Store":
        """Le même magasin (même fichier, même verrou), au nom de `utilisateur` : les opérations du cœur vérifient ses
        droits (perr_metrics/acces/droits.py) et le journal lui attribue les écritures."""
        autre = copy.copy(self)
        autre.utilisateur = utilisateur
        return autre

    # -- ouverture ---------------------------------------------------------------------------------------------------
    def _connecter(self, delai: float | None = None) -> duckdb.DuckDBPyConnection:
        """Ouvre le fichier ; s'il est tenu par un autre processus, réessaie jusqu'à `delai` secondes en le signalant
        (fichier d'attente : un tableau de bord qui garde la base la lâche pour nous)."""
        if self.chemin.is_dir():
            raise ErreurBase(f"{self.chemin} est un dossier : donnez le chemin du fichier de la base (…/perr.duckdb).")
        self.chemin.parent.mkdir(parents=True, exist_ok=True)
        delai = self.delai_verrou if delai is None else delai
        debut = time.monotonic()
        attente = 0.02
        signal = None
        try:
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
                    if time.monotonic() - debut > delai:
                        raise BaseOccupee(self.chemin, self.delai_verrou) from exc
                    signal = _signaler_attente(self.chemin)
                    time.sleep(attente * (0.5 + random.random()))
                    attente = min(attente * 2, 0.25)
                except duckdb.Error as exc:
                    raise ErreurBase(f"Le fichier {self.chemin} n'est pas une base perr-metrics lisible : {exc}") from exc
        finally:
            if signal is not None:
                _retirer(signal)

    @contextmanager
    def connexion(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Une connexion au schéma à jour : courte, ou un curseur de la connexion gardée (fichier), ou un curseur de la
        connexion du processus au lac. Réservé à ce module et aux lectures de `requetes`."""
        if self._lac is not None:
            partagee = _lac.ConnexionDuProcessus.de(self._lac)
            cur = partagee.curseur()
            try:
                if not partagee.pret:
                    self._migrer_le_lac(cur)
                    partagee.pret = True
                yield cur
            finally:
                cur.close()
            return
        if self._garde is not None:
            cur = self._garde.emprunter(self)
            try:
                yield cur
            finally:
                self._garde.rendre(cur)
            return
        with self._verrou:
            con = self._connecter()
            try:
                if not self._pret:
                    migrer(con)
                    self._pret = True
                yield con
            finally:
                con.close()

    def _migrer_le_lac(self, cur: duckdb.DuckDBPyConnection) -> None:
        """Migre le lac ; une migration refusée parce qu'un autre processus migrait en même temps est rejouée (elle
        trouve alors le travail fait)."""
        for essai in range(_lac.ESSAIS):
            try:
                migrer(cur, lac=True)
                return
            except duckdb.Error as exc:
                if not _lac.est_un_conflit(exc) or essai == _lac.ESSAIS - 1:
                    if _lac.est_un_conflit(exc):
                        raise BaseModifiee(_lac.MESSAGE_CONFLIT) from exc
                    raise
                _lac.attendre_avant_essai(essai)

    @property
    def ouvertures(self) -> int | None:
        """Combien de fois ce processus a ouvert la base gardée (None sans garde) : pour les tests et le banc."""
        if self._lac is not None:
            return _lac.ConnexionDuProcessus.de(self._lac).ouvertures
        return None if self._garde is None else self._garde.ouvertures

    def lacher(self) -> None:
        """Referme tout de suite la connexion gardée si rien ne s'en sert (sans effet sans garde)."""
        if self._garde is not None:
            self._garde.fermer_si_libre()

    def initialiser(self) -> int:
        """Crée la base (ou la migre) et renvoie sa version de schéma."""
        with self.connexion() as con:
            return version_de(con)

    # -- lectures et écritures ---------------------------------------------------------------------------------------
    def lire(self, fn: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        with self.connexion() as con:
            if self._lac is None:
                return fn(con)
            # Sur le lac, chaque transaction relit l'instantané et les métadonnées des tables dans PostgreSQL (≈ 20 ms) :
            # les requêtes d'une même lecture partagent la sienne (et voient le même état).
            con.execute("BEGIN TRANSACTION")
            try:
                return fn(con)
            finally:
                _annuler(con)

    def ecrire(self, fn: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """Exécute `fn(con)` dans une transaction : tout est écrit, ou rien. Les écritures d'un processus passent une à
        une (les lectures, elles, continuent à côté sur la connexion gardée).

        Sur un lac, la transaction prend d'abord le jeton des écritures (`stockage.lac`) ; refusée à sa validation parce
        qu'une autre écriture est passée entre-temps, elle est rejouée depuis le début (`fn` est rappelée : elle ne doit
        agir que sur la base), puis, après `lac.ESSAIS` refus, `BaseModifiee` (« réessayez »)."""
        if self._lac is None:
            with self._verrou, self.connexion() as con:
                con.execute("BEGIN TRANSACTION")
                try:
                    resultat = fn(con)
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
                con.execute("COMMIT")
                return resultat
        with self._verrou:
            for essai in range(_lac.ESSAIS):
                with self.connexion() as con:
                    con.execute("BEGIN TRANSACTION")
                    try:
                        _lac.prendre_le_jeton(con)
                        resultat = fn(con)
                        con.execute("COMMIT")
                        return resultat
                    except BaseException as exc:
                        _annuler(con)
                        if not _lac.est_un_conflit(exc):
                            raise
                        if essai == _lac.ESSAIS - 1:
                            raise BaseModifiee(_lac.MESSAGE_CONFLIT) from exc
                _lac.attendre_avant_essai(essai)
        raise AssertionError("inatteignable")

    def signature(self) -> tuple:
        """Change à chaque écriture, quel que soit le processus (ou la machine) qui écrit : la clé du cache des pages.
        Fichier : taille et date du fichier et de son journal (sans l'ouvrir) ; lac : le dernier instantané validé."""
        if self._lac is not None:
            return ("lac", self.lire(_lac.instantane))
        sig = []
        for f in (self.chemin, Path(str(self.chemin) + ".wal")):
            try:
                st_ = f.stat()
                sig.append((st_.st_size, st_.st_mtime_ns))
            except FileNotFoundError:
                sig.append(None)
        return tuple(sig)

    def entretenir(self) -> None:
        """`CHECKPOINT` : sur un lac, regroupe les petits fichiers, verse les données gardées dans le catalogue en
        Parquet, fait expirer les anciens instantanés et efface les fichiers qui ne servent plus ; sur un fichier,
        écrit son journal dans la base."""
        with self.connexion() as con:       # hors transaction (CHECKPOINT en valide plusieurs sur le lac)
            con.execute("CHECKPOINT")

    def requete(self, sql: str, params: list | tuple | None = None):
        """Une requête de lecture, résultat en DataFrame pandas."""
        return self.lire(lambda con: con.execute(sql, params or []).df())

    @contextmanager
    def session(self) -> Iterator["SessionLecture"]:
        """Plusieurs lectures sur une seule connexion (ouvrir la base coûte quelques dizaines de millisecondes et chaque
        fonction de lecture du cœur l'ouvre). Se passe à la place du magasin aux fonctions de lecture ; on n'y écrit pas.
        La base reste tenue pendant toute la session : à réserver aux traitements courts (un rapport)."""
        with self.connexion() as con:
            if self._lac is None:
                yield SessionLecture(self, con)
                return
            con.execute("BEGIN TRANSACTION")     # sur le lac : un seul instantané, métadonnées lues une fois
            try:
                yield SessionLecture(self, con)
            finally:
                _annuler(con)

    def est_vide(self) -> bool:
        return self.lire(lambda con: con.execute("SELECT count(*) FROM protocole").fetchone()[0] == 0)

    # -- sauvegarde et restauration (brutes : droits et journal sont dans perr_metrics.acces.sauvegarde) ----------------
    def exporter(self, dossier: str | os.PathLike) -> Path:
        """Exporte toute la base (schéma et données, octets des fichiers déposés compris) dans un dossier Parquet neuf.
        Le même format pour les deux moteurs : une sauvegarde d'un fichier se restaure dans un lac, et l'inverse."""
        dossier = Path(dossier)
        if dossier.exists() and any(dossier.iterdir()):
            raise ValueError(f"Le dossier de sauvegarde {dossier} n'est pas vide : choisissez un dossier neuf.")
        dossier.mkdir(parents=True, exist_ok=True)
        chemin_sql = str(dossier).replace("'", "''")
        base = f"{_lac.NOM} TO " if self._lac is not None else ""
        with self.connexion() as con:
            con.execute(f"EXPORT DATABASE {base}'{chemin_sql}' (FORMAT parquet)")
        return dossier

    @staticmethod
    def verifier_sauvegarde(dossier: str | os.PathLike) -> Path:
        dossier = Path(dossier)
        if not (dossier / "schema.sql").exists() or not (dossier / "load.sql").exists():
            raise ValueError(f"{dossier} n'est pas un dossier de sauvegarde perr-metrics (schema.sql et load.sql absents).")
        return dossier

    def remplacer_par(self, dossier: str | os.PathLike) -> int:
        """Remplace la base par une sauvegarde (de l'un ou l'autre moteur), d'un coup.

        La base est reconstruite par les migrations jusqu'au schéma de la sauvegarde (avec leurs contraintes sur un
        fichier, sans sur un lac), remplie des tables de la sauvegarde, puis migrée au schéma courant. Fichier : la
        nouvelle base est construite à côté puis substituée. Lac : tout se fait dans une seule transaction DuckLake ;
        les autres processus voient l'ancienne base jusqu'à sa validation, la nouvelle ensuite."""
        dossier = self.verifier_sauvegarde(dossier)
        tables = _tables_de_la_sauvegarde(dossier)
        if self._lac is not None:
            def remplacer(con):
                for (nom,) in con.execute(
                        "SELECT table_name FROM information_schema.tables WHERE table_catalog = current_database() "
                        "AND table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> ?",
                        [_lac.TABLE_JETON]).fetchall():
                    con.execute(f'DROP TABLE "{nom}"')
                _reconstruire(con, dossier, tables, lac=True)
            self.ecrire(remplacer)
            return self.initialiser()
        self.chemin.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".duckdb", dir=self.chemin.parent)
        os.close(fd)
        os.remove(tmp)
        try:
            con = duckdb.connect(tmp)
            try:
                con.execute("BEGIN TRANSACTION")
                _reconstruire(con, dossier, tables, lac=False)
                con.execute("COMMIT")
                con.execute("CHECKPOINT")
            finally:
                con.close()
            with self._verrou, (self._garde.exclusif() if self._garde is not None else _rien()):
                # On prend le verrou du fichier existant le temps de la substitution (la connexion gardée, refermée,
                # ne se rouvre qu'après).
                if self.chemin.exists():
                    self._connecter().close()
                os.replace(tmp, self.chemin)
                wal = Path(str(self.chemin) + ".wal")
                if wal.exists():
                    wal.unlink()
            self._pret = False
            return self.initialiser()
        finally:
            for f in (tmp, tmp + ".wal"):
                if os.path.exists(f):
                    os.remove(f)


def _tables_de_la_sauvegarde(dossier: Path) -> dict[str, Path]:
    """Table → fichier Parquet, lus dans load.sql (`COPY table FROM '…/fichier.parquet' …`) ; le fichier est cherché
    dans le dossier donné, même si la sauvegarde a été déplacée depuis."""
    tables = {}
    for ligne in (dossier / "load.sql").read_text(encoding="utf-8").splitlines():
        m = re.match(r"""\s*COPY\s+("?)([\w.]+)\1\s+FROM\s+'((?:[^']|'')*)'""", ligne, re.IGNORECASE)
        if m:
            nom = m.group(2).split(".")[-1]
            tables[nom] = dossier / Path(m.group(3).replace("''", "'")).name
    if "schema_version" not in tables or not tables["schema_version"].exists():
        raise ValueError(f"La sauvegarde {dossier} ne contient pas de base perr-metrics.")
    return tables


def _reconstruire(con: duckdb.DuckDBPyConnection, dossier: Path, tables: dict[str, Path], *, lac: bool) -> None:
    """Dans la transaction en cours, sur une base sans tables du projet : les migrations jusqu'au schéma de la
    sauvegarde, ses données, puis les migrations suivantes."""
    def parquet(nom: str) -> str:
        return "'" + str(tables[nom]).replace("'", "''") + "'"

    version = con.execute(f"SELECT max(version) FROM read_parquet({parquet('schema_version')})").fetchone()[0]
    if not version:
        raise ValueError(f"La sauvegarde {dossier} ne contient pas de base perr-metrics.")
    if version > VERSION_SCHEMA:
        raise ErreurBase(f"La sauvegarde {dossier} est au schéma {version}, plus récent que celui de l'application "
                         f"({VERSION_SCHEMA}) : mettez l'application à jour.")
    if lac:
        _lac.creer_le_jeton(con)
    for numero in range(1, version + 1):
        appliquer_migration(con, numero, lac=lac)
    connues = {t for (t,) in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = current_database() "
        "AND table_schema = current_schema() AND table_type = 'BASE TABLE'").fetchall()} - {_lac.TABLE_JETON}
    for nom in sorted(connues & set(tables)):
        con.execute(f'DELETE FROM "{nom}"')
        con.execute(f'INSERT INTO "{nom}" BY NAME SELECT * FROM read_parquet({parquet(nom)})')
    for numero in range(version + 1, VERSION_SCHEMA + 1):
        appliquer_migration(con, numero, lac=lac)


@contextmanager
def _rien():
    yield


# --------------------------------------------------------------------------------------------------------------------
# La base gardée ouverte par un processus de lecture (le tableau de bord), et l'attente signalée par les autres.
# --------------------------------------------------------------------------------------------------------------------

FRAICHEUR_ATTENTE = 1.5   # secondes : un fichier d'attente plus ancien vient d'un processus qui n'attend plus


def _signal(chemin: Path, pid: int) -> Path:
    return chemin.with_name(f"{chemin.name}.attente.{pid}")


def _signaler_attente(chemin: Path) -> Path | None:
    """« J'attends cette base » : crée ou rafraîchit le fichier d'attente de ce processus (rien si le dossier est en
    lecture seule : on attend alors sans priorité)."""
    f = _signal(chemin, os.getpid())
    try:
        f.touch()
        os.utime(f)
        return f
    except OSError:
        return None


def _retirer(f: Path) -> None:
    try:
        f.unlink()
    except OSError:
        pass


def autre_processus_attend(chemin: Path) -> bool:
    """Un autre processus attend-il cette base (fichier d'attente frais d'un autre pid) ?"""
    prefixe, moi = f"{chemin.name}.attente.", str(os.getpid())
    limite = time.time() - FRAICHEUR_ATTENTE
    try:
        with os.scandir(chemin.parent) as it:
            for e in it:
                if e.name.startswith(prefixe) and e.name[len(prefixe):] != moi:
                    try:
                        if e.stat().st_mtime >= limite:
                            return True
                    except OSError:
                        continue
    except OSError:
        return False
    return False


class _Garde:
    """La connexion qu'un processus garde ouverte sur un fichier, partagée par toutes ses opérations.

    Chaque opération emprunte un curseur (une connexion de DuckDB sur la même base ouverte : utilisable depuis son
    propre fil d'exécution, avec ses propres transactions) et le rend. Un fil de fond referme la base quand plus rien ne
    l'emprunte depuis `garde` secondes, ou tout de suite quand un autre processus signale qu'il l'attend ; tant que ce
    signal est frais, aucune nouvelle opération ne commence ici (elles attendent, puis rouvrent la base après lui).
    """

    def __init__(self, chemin: Path, garde: float):
        self.chemin, self.garde = chemin, max(0.0, float(garde))
        self._cond = threading.Condition()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._en_cours = 0          # curseurs prêtés
        self._dernier = 0.0         # fin du dernier prêt (time.monotonic)
        self._ouverture = False     # un fil est en train d'ouvrir la base
        self._bloquee = False       # restauration en cours
        self._veilleur: threading.Thread | None = None
        self._pret = False          # schéma vérifié (migré) à la première ouverture
        self._fil = threading.local()   # curseurs tenus par chaque fil d'exécution
        self.ouvertures = 0

    # -- prêt d'un curseur ---------------------------------------------------------------------------------------------
    def emprunter(self, store: "Store") -> duckdb.DuckDBPyConnection:
        debut = time.monotonic()
        with self._cond:
            while True:
                if self._bloquee or self._ouverture:
                    self._cond.wait(0.05)
                    continue
                # Un fil qui tient déjà un curseur (une lecture dans une session, une écriture après une lecture) en
                # reçoit un autre sans attendre : il ne rendrait jamais le premier. Passé le délai, on ne fait plus
                # attendre personne (c'est l'autre processus qui renoncera).
                prioritaire = getattr(self._fil, "prets", 0) > 0 or time.monotonic() - debut > store.delai_verrou
                attend = not prioritaire and autre_processus_attend(self.chemin)
                if self._con is not None:
                    if not attend:
                        self._en_cours += 1
                        self._fil.prets = getattr(self._fil, "prets", 0) + 1
                        return self._con.cursor()
                    if self._en_cours == 0:
                        self._fermer()
                    else:
                        self._cond.wait(0.05)   # laisser finir les lectures en cours, puis céder la place
                    continue
                if attend and time.monotonic() - debut < store.delai_verrou:
                    self._cond.wait(0.05)       # l'autre processus passe d'abord
                    continue
                self._ouverture = True
                break
        con = None
        try:
            con = store._connecter(max(0.0, store.delai_verrou - (time.monotonic() - debut)))
            if not self._pret:
                migrer(con)
                self._pret = True
            cur = con.cursor()
        except BaseException:
            if con is not None:
                con.close()
            with self._cond:
                self._ouverture = False
                self._cond.notify_all()
            raise
        with self._cond:
            self._con, self._ouverture = con, False
            self._en_cours += 1
            self._fil.prets = getattr(self._fil, "prets", 0) + 1
            self.ouvertures += 1
            if self._veilleur is None:
                self._veilleur = threading.Thread(target=self._veiller, name=f"garde {self.chemin.name}",
                                                  daemon=True)
                self._veilleur.start()
            self._cond.notify_all()
            return cur

    def rendre(self, cur: duckdb.DuckDBPyConnection) -> None:
        try:
            cur.close()
        finally:
            with self._cond:
                self._en_cours -= 1
                self._fil.prets -= 1
                self._dernier = time.monotonic()
                self._cond.notify_all()

    # -- fermeture -------------------------------------------------------------------------------------------------------
    def _fermer(self) -> None:
        """À appeler sous `_cond`, sans prêt en cours."""
        con, self._con = self._con, None
        if con is not None:
            con.close()
        self._cond.notify_all()

    def _veiller(self) -> None:
        with self._cond:
            try:
                while self._con is not None:
                    if self._en_cours == 0 and (time.monotonic() - self._dernier >= self.garde
                                                or autre_processus_attend(self.chemin)):
                        self._fermer()
                        break
                    self._cond.wait(0.05)
            finally:
                self._veilleur = None

    def fermer_si_libre(self) -> None:
        with self._cond:
            if self._en_cours == 0 and self._con is not None:
                self._fermer()

    @contextmanager
    def exclusif(self):
        """Plus aucun prêt, base refermée, le temps du bloc (substitution du fichier par une restauration)."""
        with self._cond:
            self._bloquee = True
            try:
                while self._en_cours or self._ouverture:
                    self._cond.wait(0.05)
                self._fermer()
            except BaseException:
                self._bloquee = False
                self._cond.notify_all()
                raise
        try:
            yield
        finally:
            with self._cond:
                self._bloquee, self._pret = False, False
                self._cond.notify_all()


def _fermer_les_gardes() -> None:
    for g in list(Store._gardes.values()):
        g.fermer_si_libre()


atexit.register(_fermer_les_gardes)


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
