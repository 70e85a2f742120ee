"""L'architecture du cœur, vérifiée par import-linter (contrats dans .importlinter, expliqués dans docs/architecture.md) :
les couches n'importent que vers le bas, le cœur ignore Streamlit, pas de cycle dans un sous-paquet ; aucun module du
cœur ne dépasse 1 200 lignes."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

RACINE = Path(__file__).resolve().parents[1]
LIGNES_MAX = 1200


def test_contrats_d_importation():
    lint = Path(sys.executable).with_name("lint-imports")
    r = subprocess.run([str(lint), "--config", str(RACINE / ".importlinter"), "--no-cache"], cwd=RACINE,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 broken" in r.stdout


def test_au_moins_cinq_sous_paquets_chacun_dit_ce_qu_il_possede():
    paquets = [p for p in (RACINE / "perr_metrics").iterdir() if (p / "__init__.py").is_file()]
    assert len(paquets) >= 5
    for p in paquets:
        source = (p / "__init__.py").read_text()
        assert source.lstrip().startswith('"""'), f"{p.name}/__init__.py n'a pas de docstring"


def test_aucun_module_de_plus_de_1200_lignes():
    trop_longs = {str(f.relative_to(RACINE)): n for f in (RACINE / "perr_metrics").rglob("*.py")
                  if (n := len(f.read_text().splitlines())) > LIGNES_MAX}
    assert trop_longs == {}
