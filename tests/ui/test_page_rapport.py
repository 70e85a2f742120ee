"""La page « Rapport annuel » sous AppTest : aperçu de la synthèse, préparation des trois fichiers, téléchargements.

Les graphiques y sont rendus par un faux moteur (une image d'un pixel) : la page, pas kaleido, est testée ici ;
tests/core/test_rapport.py rend les vrais graphiques.
"""
from __future__ import annotations

import base64

import pytest

from perr_metrics.pilotage import avancement
from perr_metrics import rapport
from tests.ui.test_pages import app, metriques

BLOIS = "BLOIS-PERR-2020"
PIXEL = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")


@pytest.fixture
def faux_graphiques(monkeypatch):
    monkeypatch.setattr("perr_metrics.rapport.graphiques._rendre_kaleido",
                        lambda graphiques, delai: [PIXEL for _ in graphiques])


def page(monkeypatch, store, **params):
    at = app(monkeypatch, store.chemin, **params)
    at.switch_page("pages/rapport_annuel.py").run()
    assert not at.exception, at.exception
    return at


def boutons(at) -> dict:
    return {b.proto.label.split(" (")[0]: b.proto for b in at.get("download_button")}


def test_apercu_puis_telechargements(monkeypatch, store_demo, faux_graphiques):
    at = page(monkeypatch, store_demo, protocole=BLOIS, periode="2021")
    assert at.title[0].value == "Rapport annuel d'évaluation"
    assert any("Données de démonstration" in w.value for w in at.warning)
    # L'aperçu : les chiffres de la synthèse, égaux à ceux du cœur.
    ter = avancement.indicateurs_au_territoire(store_demo, BLOIS, "2021")
    m = metriques(at)
    assert m["Indicateurs suivis"] == str(len(ter))
    assert m["En retard"] == str(int((ter["statut"] == "en retard").sum()))
    assert any("En 2021, sur les" in md.value for md in at.markdown)
    # Le sommaire : celui du rapport entier, que la page ne construit qu'à la préparation des fichiers.
    sommaire = next(md.value for md in at.markdown if md.value.startswith("- 1. Synthèse"))
    r = rapport.construire_rapport(store_demo, BLOIS, 2021)
    assert sommaire.splitlines() == [("  " * (n - 1)) + f"- {t}" for n, t in r.sommaire]
    assert "  - B.1. " in sommaire and "- Annexe C. Méthode et sources" in sommaire
    # Avant préparation, les trois boutons sont là mais inactifs.
    avant = boutons(at)
    assert set(avant) == {"PDF", "Word", "Excel"} and all(b.disabled for b in avant.values())

    at.button[0].click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    apres = boutons(at)
    assert set(apres) == {"PDF", "Word", "Excel"}
    assert not any(b.disabled for b in apres.values())
    assert all(" Ko)" in b.label for b in apres.values())
    assert apres["PDF"].url.endswith(".pdf") and apres["Excel"].url.endswith(".xlsx")
    # L'adresse garde le protocole et l'année : un lien collé rouvre le même rapport.
    assert at.query_params["periode"] in ("2021", ["2021"])

    # Une autre année : les fichiers préparés pour 2021 ne sont plus proposés.
    at.selectbox(key="periode").select("2020").run()
    assert all(b.disabled for b in boutons(at).values())


def test_erreur_d_un_format_en_francais(monkeypatch, store_demo, faux_graphiques):
    def panne(r, flux):
        raise OSError("cannot load library 'libpango-1.0-0'")
    monkeypatch.setitem(rapport.ECRIVAINS, "pdf", panne)
    at = page(monkeypatch, store_demo, protocole=BLOIS, periode="2021")
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert any("Le PDF ne peut pas être produit sur ce serveur" in e.value for e in at.error)
    b = boutons(at)
    assert b["PDF"].disabled and not b["Word"].disabled and not b["Excel"].disabled
