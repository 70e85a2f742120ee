"""Ce que les deux bancs d'essai partagent : mémoire de pointe, médianes, tableau en français, JSON, description de la
machine. Pas de seuil de temps absolu : on compare à une référence nue mesurée dans le même processus ou le même run."""
from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

RACINE = Path(__file__).resolve().parents[1]
if str(RACINE) not in sys.path:
    sys.path.insert(0, str(RACINE))
CACHE = Path(__file__).resolve().parent / ".cache"


def _statut(champ: str) -> int:
    """Un champ de /proc/self/status, en Kio (VmRSS : mémoire résidente ; VmHWM : son maximum)."""
    try:
        texte = Path("/proc/self/status").read_text()
    except OSError:  # pragma: no cover - hors Linux
        return 0
    m = re.search(rf"{champ}:\s+(\d+)", texte)
    return int(m.group(1)) if m else 0


def remettre_pic_a_zero() -> bool:
    """Remet le maximum de mémoire résidente (VmHWM) du processus à sa valeur courante (Linux ≥ 4.0)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:  # pragma: no cover
        return False


@contextmanager
def mesure(python: bool = False):
    """Mesure un bloc : durée (s) et pic de mémoire résidente au-dessus de la mémoire d'avant (Mio, VmHWM remis à zéro
    au début : rien ne ralentit le code mesuré). Avec `python=True`, aussi le pic des allocations Python suivies par
    tracemalloc (numpy et pandas y figurent, pas la mémoire de Rust ni de DuckDB) — mais tracemalloc ralentit le code
    Python de 3 à 5 fois : ne pas prendre la durée de ces mesures-là."""
    import gc
    import tracemalloc

    gc.collect()
    resultat: dict = {}
    remettre_pic_a_zero()
    avant = _statut("VmRSS")
    if python:
        tracemalloc.start()
    t0 = time.perf_counter()
    try:
        yield resultat
    finally:
        resultat["secondes"] = time.perf_counter() - t0
        if python:
            _, pic = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            resultat["pic_python_mio"] = pic / 2**20
        resultat["pic_rss_mio"] = max(_statut("VmHWM") - avant, 0) / 1024


@contextmanager
def chrono():
    """Durée seule (sans tracemalloc, qui ralentit le code Python instrumenté)."""
    resultat: dict = {}
    t0 = time.perf_counter()
    try:
        yield resultat
    finally:
        resultat["secondes"] = time.perf_counter() - t0


def mediane(valeurs) -> float:
    return statistics.median(valeurs)


def machine() -> dict:
    import duckdb
    import numpy
    import pandas
    import pyarrow

    versions = {"python": platform.python_version(), "duckdb": duckdb.__version__, "pandas": pandas.__version__,
                "numpy": numpy.__version__, "pyarrow": pyarrow.__version__}
    for module in ("streamlit", "python_calamine", "openpyxl"):
        try:
            from importlib.metadata import version
            versions[module] = version(module.replace("_", "-"))
        except Exception:  # noqa: BLE001
            pass
    try:
        charge = os.getloadavg()[0]
    except OSError:  # pragma: no cover
        charge = None
    try:
        soffice = subprocess.run(["soffice", "--version"], capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        soffice = None
    return {"date": dt.datetime.now().isoformat(timespec="seconds"), "coeurs": os.cpu_count(),
            "memoire_gio": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "charge_1min_au_debut": charge, "versions": versions, "libreoffice": soffice,
            "git": _git()}


def _git() -> str | None:
    try:
        r = subprocess.run(["git", "-C", str(RACINE), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        sale = subprocess.run(["git", "-C", str(RACINE), "status", "--porcelain", "--untracked-files=no"],
                              capture_output=True, text=True).stdout.strip()
        return r.stdout.strip() + (" (+ modifications non validées)" if sale else "")
    except OSError:
        return None


def nombre(x: float, decimales: int = 2) -> str:
    """1234,5 à la française."""
    if x is None:
        return "–"
    texte = f"{x:,.{decimales}f}".replace(",", "\u202f").replace(".", ",")
    return texte


def tableau(lignes: list[dict], colonnes: list[tuple[str, str]]) -> str:
    """Un tableau texte aligné : `colonnes` = [(clé, en-tête)]."""
    cellules = [[str(l.get(k, "")) for k, _ in colonnes] for l in lignes]
    largeurs = [max([len(t)] + [len(c[i]) for c in cellules]) for i, (_, t) in enumerate(colonnes)]
    sep = "  "
    sortie = [sep.join(t.ljust(w) for (_, t), w in zip(colonnes, largeurs)),
              sep.join("-" * w for w in largeurs)]
    for c in cellules:
        sortie.append(sep.join(v.rjust(w) if i else v.ljust(w) for i, (v, w) in enumerate(zip(c, largeurs))))
    return "\n".join(sortie)


def ecrire_json(chemin: str | None, donnees: dict) -> None:
    if chemin:
        Path(chemin).write_text(json.dumps(donnees, ensure_ascii=False, indent=2, default=str))
        print(f"\nRésultats écrits dans {chemin}")
