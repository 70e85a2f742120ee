"""Fixtures communes : une base vide, une base de démonstration (construite une fois, copiée pour chaque test)."""
from __future__ import annotations

import shutil
import sys
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


@pytest.fixture
def store(tmp_path) -> Store:
    """Une base neuve dans un dossier temporaire."""
    return Store(tmp_path / "perr.duckdb", delai_verrou=10, utilisateur=ADMIN)


@pytest.fixture(scope="session")
def base_demo(tmp_path_factory) -> Path:
    chemin = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    charger_demo(Store(chemin, utilisateur=SYSTEME))
    return chemin


@pytest.fixture
def store_demo(base_demo, tmp_path) -> Store:
    """Une copie de la base de démonstration (Troyes, Blois), modifiable par le test."""
    return copie_de_base(base_demo, tmp_path)


def creer_coordination(store: Store) -> None:
    """Le compte « coordination » (mot de passe « coordination-demo ») d'une base sans compte : la ligne de commande
    des tests agit en son nom (voir `compte_de_coordination`)."""
    from perr_metrics.acces.comptes import creer_premier_administrateur
    creer_premier_administrateur(store, "coordination", "Coordination (essai)", "coordination-demo")


def copie_de_base(source: Path, dossier: Path) -> Store:
    """Une copie modifiable d'une base construite une fois pour la session (avec son journal s'il y en a un)."""
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
