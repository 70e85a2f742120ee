"""Le cadre de Streamlit en français dans un vrai Chromium (issue 14) : adresse inconnue, barre d'outils des graphiques,
menu ⋮ ; la racine renvoie à l'accueil du rôle sous sa propre adresse."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import attendre_meme_adresse, ouvrir_connecte
from tests.e2e.test_accueil import attendre_fin_calcul

pytestmark = pytest.mark.e2e

TROYES = "TCM-PERR-2019"


def test_adresse_inconnue_en_francais(onglet: Page, app_url, capture):
    page = onglet
    ouvrir_connecte(page, f"{app_url}/deposer?protocole={TROYES}", "caf-aube")
    expect(page.get_by_role("heading", name="Déposer des valeurs", exact=True)).to_be_visible(timeout=60_000)
    page.goto(f"{app_url}/page-qui-n-existe-pas")
    expect(page.get_by_test_id("stAlert").filter(has_text="Cette adresse ne correspond à aucune page")
           ).to_be_visible(timeout=60_000)
    expect(page.get_by_role("heading", name="Déposer des valeurs", exact=True)).to_be_visible()
    attendre_fin_calcul(page)
    expect(page.get_by_text("Page not found")).to_have_count(0)
    attendre_meme_adresse(page, f"{app_url}/deposer")
    capture(page, "adresse-inconnue")


def test_barre_d_outils_des_graphiques_en_francais_et_pas_de_menu_anglais(onglet: Page, app_url, capture):
    page = onglet
    ouvrir_connecte(page, f"{app_url}/par_axe?protocole={TROYES}&periode=2021", "copil")
    expect(page.get_by_role("heading", name="Avancement par axe", exact=True)).to_be_visible(timeout=60_000)
    attendre_fin_calcul(page)
    graphique = page.locator(".js-plotly-plot").first
    graphique.scroll_into_view_if_needed()
    graphique.hover()
    bouton = graphique.locator(".modebar-btn").first
    expect(bouton).to_have_attribute("data-title", re.compile(r"^Télécharger le graphique"))
    titres = graphique.locator(".modebar-btn").evaluate_all("bs => bs.map(b => b.getAttribute('data-title'))")
    assert not [t for t in titres if re.search(r"Download|Zoom in|Zoom out|Pan|Autoscale|Reset axes", t or "")], titres
    capture(page, "graphique-barre-d-outils")
    # Ni « Print » ni « Record screen » : le menu ⋮ n'est plus affiché.
    expect(page.get_by_test_id("stMainMenu")).to_have_count(0)
