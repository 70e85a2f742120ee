"""Chaque code d'erreur émis par le programme est documenté dans docs/erreurs.md."""
import re
from pathlib import Path

RACINE = Path(__file__).resolve().parents[2]


def codes_emis() -> set[str]:
    codes = set()
    for f in (RACINE / "perr_metrics").rglob("*.py"):
        texte = f.read_text()
        codes |= set(re.findall(r'ajouter\(\s*"([a-z0-9]+(?:-[a-z0-9]+)+)"', texte))
        # Les contrôles de références et de boucles reçoivent leur code en argument.
        codes |= set(re.findall(r'_(?:ref|cycles)\([^)]*?"([a-z]+(?:-[a-z0-9]+)+)"', texte, re.S))
    return codes


def test_chaque_code_est_documente():
    doc = (RACINE / "docs" / "erreurs.md").read_text()
    documentes = set(re.findall(r"`([a-z0-9]+(?:-[a-z0-9]+)+)`", doc))
    emis = codes_emis()
    assert len(emis) > 30
    assert emis - documentes == set()
