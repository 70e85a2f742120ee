"""acces.incidents : une erreur inattendue consignée (journal des erreurs, journal), sans jamais lever."""
from __future__ import annotations

import re

from perr_metrics.acces import incidents
from perr_metrics.acces.journal import ACTIONS, lire_journal
from perr_metrics.stockage.magasin import Store


def _leve(exc):
    try:
        raise exc
    except BaseException as e:  # noqa: BLE001
        return e


def test_reference_et_detail_sans_magasin(tmp_path, monkeypatch):
    monkeypatch.setenv("PERR_JOURNAL_ERREURS", str(tmp_path / "e.log"))
    ref = incidents.signaler(None, _leve(ValueError("oups")), "protocoles")
    assert re.fullmatch(r"E-\d{8}-[0-9a-f]{6}", ref)
    texte = (tmp_path / "e.log").read_text()
    assert ref in texte and "ValueError: oups" in texte and "compte (aucun)" in texte
    assert incidents.signaler(None, _leve(ValueError("bis")), "protocoles") != ref
    assert (tmp_path / "e.log").read_text().count("====") == 2


def test_a_cote_de_la_base_et_au_journal(store, monkeypatch):
    monkeypatch.delenv("PERR_JOURNAL_ERREURS", raising=False)
    assert incidents.ACTION in ACTIONS
    store.initialiser()
    ref = incidents.signaler(store, _leve(RuntimeError("ligne\nsur deux")), "depot", protocole="P1")
    assert ref in (store.chemin.parent / "erreurs.log").read_text()
    ligne = lire_journal(store, action=incidents.ACTION).iloc[0]
    assert ligne["compte"] == "admin-test" and ligne["protocole"] == "P1" and ligne["objet"] == "depot"
    assert ligne["detail"] == f"Référence {ref} — RuntimeError : ligne sur deux"


def test_ne_leve_jamais(tmp_path, monkeypatch):
    """Base illisible, journal des erreurs impossible à écrire : la référence est rendue quand même."""
    monkeypatch.setenv("PERR_JOURNAL_ERREURS", "/proc/interdit/e.log")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", None)
    faux = tmp_path / "faux.duckdb"
    faux.write_text("pas une base")

    class Bizarre(Exception):
        def __str__(self):
            raise RuntimeError("illisible")
    ref = incidents.signaler(Store(faux, delai_verrou=0.1), _leve(Bizarre()), "x")
    assert ref.startswith("E-") and ref in (tmp_path / "perr-metrics-erreurs.log").read_text()
