"""Fixtures communes : une base vide, une base de démonstration (construite une fois, copiée pour chaque test)."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

RACINE = Path(__file__).resolve().parent.parent
if str(RACINE) not in sys.path:
    sys.path.insert(0, str(RACINE))

from perr_metrics.db import Store  # noqa: E402
from perr_metrics.demo import charger_demo  # noqa: E402


@pytest.fixture
def store(tmp_path) -> Store:
    """Une base neuve dans un dossier temporaire."""
    return Store(tmp_path / "perr.duckdb", delai_verrou=10)


@pytest.fixture(scope="session")
def base_demo(tmp_path_factory) -> Path:
    chemin = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    charger_demo(Store(chemin))
    return chemin


@pytest.fixture
def store_demo(base_demo, tmp_path) -> Store:
    """Une copie de la base de démonstration (Troyes, Blois), modifiable par le test."""
    destination = tmp_path / "perr.duckdb"
    shutil.copyfile(base_demo, destination)
    if Path(str(base_demo) + ".wal").exists():
        shutil.copyfile(str(base_demo) + ".wal", str(destination) + ".wal")
    return Store(destination, delai_verrou=10)
