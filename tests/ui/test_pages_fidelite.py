"""Le troisième protocole (tests/protocole_fidele.py) sous AppTest : les pages parlent ses mots (issue 15) — nature des
items en colonne et en filtre, « sans porteur désigné », nom de ses niveaux, texte de ses priorités, volets et nœuds
rattachés au quartier, carte sans import des contours."""
from __future__ import annotations

import pytest

from perr_metrics.referentiel.classeur import importer_referentiel
from tests import protocole_fidele as pf
from tests.protocole_fidele import CODE, QPV
from tests.ui.test_pages import app, textes


@pytest.fixture
def store_fidele(store_demo, tmp_path):
    importer_referentiel(store_demo, pf.ecrire(tmp_path))
    return store_demo


def page(monkeypatch, store, chemin, **params):
    at = app(monkeypatch, store.chemin, protocole=CODE, **params)
    at.switch_page(chemin).run()
    assert not at.exception
    return at


def test_engagements_dans_les_mots_du_protocole(monkeypatch, store_fidele):
    at = page(monkeypatch, store_fidele, "pages/engagements.py")
    liste = at.dataframe[1].value
    assert list(liste.columns[:4]) == ["Code", "Engagement", "Nature", "Priorité"]
    assert len(liste) == 10
    assert (liste.set_index("Code").loc[["O1", "A1", "R1", "C1", "C3"], "Porteurs"] == "sans porteur désigné").all()
    assert at.selectbox(key="axe").label == "Priorité"
    assert at.selectbox(key="nature").options == ["Toutes", "Objectif opérationnel", "Exemple d'action", "Engagement",
                                                  "Orientation attendue des autres signataires"]
    at.selectbox(key="nature").select("Exemple d'action").run()
    assert not at.exception
    assert list(at.dataframe[1].value["Code"]) == ["A1", "C3"]
    at.selectbox(key="nature").select("tous").run()
    at.selectbox(key="porteur").select("sans porteur désigné").run()
    assert list(at.dataframe[1].value["Code"]) == ["O1", "A1", "R1", "C1", "C3"]
    at.selectbox(key="engagement").select("C1").run()
    assert not at.exception
    assert "Porté par : sans porteur désigné" in textes(at)
    assert "Volet : Cité éducative de la Côte Sainte-Catherine" in textes(at)


def test_par_axe_montre_le_texte_de_la_priorite(monkeypatch, store_fidele):
    at = page(monkeypatch, store_fidele, "pages/par_axe.py", noeud="P1")
    assert "Priorité P1 — Emploi et insertion professionnelle" in textes(at)
    assert "Objectif stratégique : ramener le taux de chômage" in textes(at)


def test_le_quartier_montre_ce_que_le_protocole_lui_attache_et_sa_carte(monkeypatch, store_fidele):
    at = page(monkeypatch, store_fidele, "pages/par_qpv.py", qpv=QPV)
    t = textes(at)
    assert "Ce que le protocole prévoit pour ce quartier" in t
    assert "Cité éducative — Cité éducative de la Côte Sainte-Catherine" in t and "(3 engagements)" in t
    assert "Objectif — Rapprocher les entreprises des habitants" in t and "(1 engagement)" in t
    # La carte, sans aucun import de contours : les contours officiels livrés.
    assert "livrés avec l'application" in t
    assert not any("ne sont pas encore chargés" in i.value for i in at.info)
