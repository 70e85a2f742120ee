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


def test_textes_et_avis_par_la_page(monkeypatch, store_demo):
    """La coordination écrit les textes du rapport et joint un avis sur la page ; le rapport les reprend, la page en
    montre l'historique ; un lecteur les lit sans pouvoir les écrire."""
    at = page(monkeypatch, store_demo, protocole=BLOIS, periode="2022")
    persp = f"texte_perspectives_{BLOIS}_2022"
    at.text_area(key=persp).input("Relancer le comité technique emploi.\n- Deux réunions par an.")
    at.button(key=f"enregistrer_{persp}").click().run()
    assert not at.exception, at.exception
    assert any("version 1 enregistrée" in s.value for s in at.success)
    # La synthèse : partir de celle tirée des données, la reprendre, l'enregistrer.
    synth = f"texte_synthèse_{BLOIS}_2022"
    at.button(key=f"proposer_{BLOIS}_2022").click().run()
    assert at.text_area(key=synth).value.startswith("Synthèse 2022, tirée des données")
    at.text_area(key=synth).input("Année de reprise :\n- Emploi en hausse.")
    at.button(key=f"enregistrer_{synth}").click().run()
    # Un avis, en texte.
    at.text_input(key="avis_auteur").input("Conseil citoyen Blois Nord")
    at.text_area(key="avis_texte").input("Avis favorable, sous réserve du calendrier.")
    at.button(key="joindre_avis").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert any("Avis de Conseil citoyen Blois Nord joint" in s.value for s in at.success)
    assert any("Historique des textes et des avis 2022 (3 versions)" in e.label for e in at.expander)

    r = rapport.construire_rapport(store_demo, BLOIS, 2022)
    assert r.section("synthese-copil").blocs[:2] == [rapport.Paragraphe("Année de reprise :", "chapeau"),
                                                     rapport.Liste(["Emploi en hausse."])]
    assert r.section("perspectives").blocs[0] == rapport.Paragraphe("Relancer le comité technique emploi.")
    avis = r.section("avis-1")
    assert avis.titre.startswith("A.1. Conseil citoyen Blois Nord (")
    assert any(getattr(b, "texte", "") == "Avis favorable, sous réserve du calendrier." for b in avis.blocs)

    # Un lecteur : il lit les textes, sans champ pour les écrire.
    lecteur = page(monkeypatch, store_demo, compte="copil", protocole=BLOIS, periode="2022")
    assert not lecteur.text_area and not lecteur.text_input
    assert any("Relancer le comité technique emploi." in m.value for m in lecteur.markdown)
