"""Fixtures communes : une base vide, une base de démonstration (construite une fois, copiée pour chaque test).

Deux moteurs : le fichier DuckDB et, quand `PERR_TEST_LAC` (la chaîne d'un catalogue DuckLake sur PostgreSQL) et
`PERR_TEST_LAC_DONNEES` sont donnés (`bash .ci/run` démarre un PostgreSQL jetable par `.ci/postgres`), le lac. Les
tests marqués `deux_moteurs` (et ceux de tests/core/test_lac.py) reçoivent alors `store`, `store_demo` ou leurs copies
une fois sur chaque moteur (paramètre `moteur`) ; les autres, sur le fichier seulement.
"""
from __future__ import annotations

import os
import shutil
import sys
import uuid
from pathlib import Path

import pytest

RACINE = Path(__file__).resolve().parent.parent
if str(RACINE) not in sys.path:
    sys.path.insert(0, str(RACINE))

from perr_metrics.stockage.magasin import Store  # noqa: E402
from perr_metrics.demo.demonstration import charger_demo  # noqa: E402
from perr_metrics.acces.droits import SYSTEME, Utilisateur  # noqa: E402
# Profils Hypothesis des tests de propriétés (graine fixe par défaut) et leur décompte de cas en fin de session.
from tests.proprietes import pytest_terminal_summary  # noqa: E402,F401

# L'utilisateur des tests du cœur qui ne portent pas sur les droits : un administrateur (la coordination). Les droits
# des autres rôles ont leurs propres tests (tests/core/test_droits.py).
ADMIN = Utilisateur("admin-test", "Administratrice de test", "administrateur")


@pytest.fixture(autouse=True)
def compte_de_coordination(monkeypatch):
    """La ligne de commande agit au nom du compte de coordination de la démonstration (identifiant et mot de passe
    par l'environnement, comme dans un script) ; `base_essai` et les bases neuves des tests le créent aussi."""
    monkeypatch.setenv("PERR_UTILISATEUR", "coordination")
    monkeypatch.setenv("PERR_MOT_DE_PASSE", "coordination-demo")
    monkeypatch.setenv("PERR_NOUVEAU_MOT_DE_PASSE", "coordination-demo")


# --------------------------------------------------------------------------------------------------------------------
# Les moteurs : fichier, et lac DuckLake quand un PostgreSQL est donné
# --------------------------------------------------------------------------------------------------------------------

LAC = os.environ.get("PERR_TEST_LAC")
LAC_DONNEES = os.environ.get("PERR_TEST_LAC_DONNEES")
MOTEURS = ["fichier"] + (["lac"] if LAC and LAC_DONNEES else [])


def pytest_generate_tests(metafunc):
    if "moteur" in metafunc.fixturenames and metafunc.definition.get_closest_marker("deux_moteurs"):
        metafunc.parametrize("moteur", MOTEURS, indirect=True)


@pytest.fixture
def moteur(request) -> str:
    """« fichier », ou « lac » pour un test marqué `deux_moteurs` quand un lac d'essai est donné."""
    return getattr(request, "param", "fichier")


@pytest.fixture
def lac_neuf(monkeypatch):
    """Fabrique un lac vide (son propre schéma PostgreSQL et son dossier de données) ; ses variables
    (PERR_LAKE_DONNEES, PERR_LAKE_SCHEMA) sont mises dans l'environnement du test : les processus qu'il lance et
    `Store(store.chemin)` ouvrent le même lac."""
    if "lac" not in MOTEURS:
        pytest.skip("pas de lac d'essai (PERR_TEST_LAC, PERR_TEST_LAC_DONNEES : voir .ci/postgres)")

    from perr_metrics.stockage import lac

    crees = []

    def fabriquer(utilisateur=ADMIN) -> Store:
        schema = f"essai_{uuid.uuid4().hex[:12]}"
        monkeypatch.setenv("PERR_LAKE_DONNEES", str(Path(LAC_DONNEES) / schema))
        monkeypatch.setenv("PERR_LAKE_SCHEMA", schema)
        store = Store(LAC, delai_verrou=10, utilisateur=utilisateur)
        crees.append(store._lac)
        return store
    yield fabriquer
    for description in crees:          # la connexion du processus à ce lac (et ses connexions à PostgreSQL)
        lac.ConnexionDuProcessus.de(description).fermer()


@pytest.fixture
def store(tmp_path, moteur, request) -> Store:
    """Une base neuve : dans un dossier temporaire, ou un lac neuf."""
    if moteur == "lac":
        return request.getfixturevalue("lac_neuf")()
    return Store(tmp_path / "perr.duckdb", delai_verrou=10, utilisateur=ADMIN)


@pytest.fixture(scope="session")
def base_demo(tmp_path_factory) -> Path:
    chemin = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    charger_demo(Store(chemin, utilisateur=SYSTEME))
    return chemin


@pytest.fixture
def store_demo(base_demo, tmp_path, moteur, request) -> Store:
    """Une copie de la base de démonstration (Troyes, Blois), modifiable par le test."""
    return copie_de_base(base_demo, tmp_path, moteur, request)


def creer_coordination(store: Store) -> None:
    """Le compte « coordination » (mot de passe « coordination-demo ») d'une base sans compte : la ligne de commande
    des tests agit en son nom (voir `compte_de_coordination`)."""
    from perr_metrics.acces.comptes import creer_premier_administrateur
    creer_premier_administrateur(store, "coordination", "Coordination (essai)", "coordination-demo")


_SAUVEGARDES: dict[tuple, Path] = {}


def copie_de_base(source: Path, dossier: Path, moteur: str = "fichier", request=None) -> Store:
    """Une copie modifiable d'une base construite une fois pour la session (avec son journal s'il y en a un) ; sur le
    lac, un lac neuf où la base est restaurée (depuis sa sauvegarde, faite une fois)."""
    if moteur == "lac":
        cle = (str(source), Path(source).stat().st_mtime_ns)
        if cle not in _SAUVEGARDES:
            _SAUVEGARDES[cle] = Store(source, utilisateur=SYSTEME).exporter(
                Path(LAC_DONNEES) / f"sauvegarde_{uuid.uuid4().hex[:12]}")
        lac = request.getfixturevalue("lac_neuf")()
        lac.remplacer_par(_SAUVEGARDES[cle])
        return lac
    destination = Path(dossier) / "perr.duckdb"
    shutil.copyfile(source, destination)
    if Path(str(source) + ".wal").exists():
        shutil.copyfile(str(source) + ".wal", str(destination) + ".wal")
    return Store(destination, delai_verrou=10, utilisateur=ADMIN)


# --------------------------------------------------------------------------------------------------------------------
# Chaque code d'erreur réellement émis pendant les tests doit être documenté dans docs/erreurs.md (en plus du contrôle
# statique de tests/core/test_docs.py, qui ne voit pas les codes passés par variable).
# --------------------------------------------------------------------------------------------------------------------
from perr_metrics.commun.erreurs import Rapport  # noqa: E402

CODES_EMIS: set[str] = set()
_ajouter = Rapport.ajouter


def _ajouter_espion(self, code, *args, **kwargs):
    CODES_EMIS.add(code)
    return _ajouter(self, code, *args, **kwargs)


Rapport.ajouter = _ajouter_espion


def pytest_sessionfinish(session, exitstatus):
    import re

    documentes = set(re.findall(r"`([a-z0-9]+(?:-[a-z0-9]+)+)`", (RACINE / "docs" / "erreurs.md").read_text()))
    manquants = sorted(CODES_EMIS - documentes)
    if manquants:
        print(f"\nCodes d'erreur émis pendant les tests mais absents de docs/erreurs.md : {', '.join(manquants)}")
        session.exitstatus = 1


# --------------------------------------------------------------------------------------------------------------------
# Aucun appel déprécié de Streamlit : Streamlit n'émet pas de DeprecationWarning (warnings.warn) mais écrit ses
# dépréciations au journal, par streamlit.deprecation_util.show_deprecation_warning (logger du même nom), une fois par
# message et par processus. Chaque test écoute ce logger (l'objet logging existe avant que Streamlit ne soit importé) ;
# le moindre message fait échouer le test. Le serveur des tests navigateur est vérifié de même (tests/e2e/conftest.py).
# pytest.ini change aussi en erreur un DeprecationWarning qui viendrait de Streamlit.
# --------------------------------------------------------------------------------------------------------------------
import logging  # noqa: E402


class _Depreciations(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


LOGGER_DEPRECIATIONS = "streamlit.deprecation_util"


@pytest.fixture(autouse=True)
def sans_appel_deprecie_de_streamlit():
    util = sys.modules.get(LOGGER_DEPRECIATIONS)
    if util is not None:
        util._shown_warnings.clear()       # « une fois par processus » : chaque test doit la revoir
    ecoute = _Depreciations()
    logger = logging.getLogger(LOGGER_DEPRECIATIONS)
    logger.addHandler(ecoute)
    try:
        yield ecoute
    finally:
        logger.removeHandler(ecoute)
    if ecoute.messages:
        pytest.fail("Appel déprécié de Streamlit (à remplacer avant qu'il ne soit retiré) :\n"
                    + "\n".join(f"- {m}" for m in ecoute.messages), pytrace=False)
