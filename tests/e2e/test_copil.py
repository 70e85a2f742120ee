"""Les pages du COPIL dans un vrai navigateur : Vue d'ensemble, Par axe, Fiche indicateur.

Pour chacune : ouvrir un lien avec ses filtres, changer un filtre, vérifier que l'adresse le garde, puis ouvrir
l'adresse obtenue dans un onglet neuf (une autre session Streamlit, comme un membre du COPIL qui reçoit le lien) et
retrouver la même vue, après s'être connecté sur la page de connexion que montre d'abord le lien. Captures pleine page dans tests/artefacts/screenshots/copil-*.png.
"""
from __future__ import annotations

import re

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from perr_metrics.pilotage import avancement as av
from playwright.sync_api import TimeoutError as ErreurDelai

from tests.e2e.conftest import PREMIER_CHARGEMENT, ouvrir_connecte
from tests.e2e.test_accueil import GRAPHIQUE, attendre_fin_calcul

pytestmark = pytest.mark.e2e

TROYES = "TCM-PERR-2019"
ATTENTE = 60_000  # ms : un premier calcul de période, sur une machine chargée


def ouvrir(page: Page, url: str, titre: str, identifiant: str = "coordination") -> None:
    """Ouvre une page (connexion comprise : le lien montre d'abord la page de connexion) et attend qu'elle soit dessinée jusqu'au bout : le titre s'affiche avant les sélecteurs et les
    calculs, et le widget « Running… » n'apparaît qu'après un délai ; on attend donc aussi le sélecteur de période et
    le premier graphique ou tableau."""
    ouvrir_connecte(page, url, identifiant)
    expect(page.get_by_role("heading", name=titre, exact=True)).to_be_visible(timeout=PREMIER_CHARGEMENT)
    expect(selecteur(page, "Période")).to_be_visible(timeout=ATTENTE)
    expect(page.locator(f'{GRAPHIQUE}, [data-testid="stDataFrame"]').first).to_be_visible(timeout=ATTENTE)
    attendre_fin_calcul(page)


def titre(page: Page, nom):
    return page.get_by_role("heading", name=nom)


def selecteur(page: Page, libelle: str):
    return page.get_by_test_id("stSelectbox").filter(has=page.get_by_text(libelle, exact=True))


def choisir(page: Page, libelle: str, option: str) -> None:
    """Ouvre la boîte « libelle » et y choisit l'option dont le texte commence par `option`. Un clic qui tombe
    pendant que la page se redessine (après une capture, qui change la taille de la fenêtre) n'ouvre pas la liste :
    on réessaie."""
    boite = selecteur(page, libelle)
    choix = page.get_by_role("option", name=re.compile("^" + re.escape(option))).first
    for _ in range(3):
        boite.scroll_into_view_if_needed()
        boite.click()
        try:
            choix.wait_for(timeout=5_000)
            break
        except ErreurDelai:
            page.keyboard.press("Escape")
    choix.click()
    attendre_fin_calcul(page)


def valeur_choisie(page: Page, libelle: str):
    return selecteur(page, libelle).get_by_role("combobox")


def metrique(page: Page, libelle: str):
    return page.get_by_test_id("stMetric").filter(has=page.get_by_test_id("stMetricLabel").filter(
        has_text=re.compile("^" + re.escape(libelle) + "$"))).get_by_test_id("stMetricValue")


def test_vue_ensemble(onglet: Page, nouvel_onglet, app_url, capture, tmp_path):
    page = onglet
    ouvrir(page, f"{app_url}/vue_ensemble?protocole={TROYES}&periode=2021", "Vue d'ensemble")
    expect(page.get_by_test_id("stAlert").filter(has_text="Données de démonstration")).to_be_visible(timeout=ATTENTE)
    expect(valeur_choisie(page, "Période")).to_have_value("2021", timeout=ATTENTE)
    expect(page.locator(GRAPHIQUE).first).to_be_visible(timeout=ATTENTE)
    expect(titre(page, "Ce qui a changé depuis 2020")).to_be_visible(timeout=ATTENTE)
    expect(metrique(page, "Score d'avancement")).to_have_text(re.compile(r"^\d+\s%$"), timeout=ATTENTE)
    capture(page, "copil-vue-ensemble-2021")

    # Les données d'un graphique, écrites au clic seulement (téléchargement différé) : un vrai classeur.
    donnees = page.get_by_test_id("stExpander").filter(has_text="Données du graphique").first
    donnees.click()
    with page.expect_download() as telechargement:
        donnees.get_by_role("button", name=re.compile("Données \\(Excel\\)")).click()
    assert telechargement.value.suggested_filename == f"statuts-{TROYES}-2021.xlsx"
    classeur = tmp_path / telechargement.value.suggested_filename
    telechargement.value.save_as(classeur)
    feuille = load_workbook(classeur).active
    assert [c.value for c in feuille[1]][:2] == ["Statut", "Indicateurs"]
    assert {feuille.cell(r, 1).value for r in range(2, feuille.max_row + 1)} == set(av.STATUTS)

    choisir(page, "Période", "2022")
    expect(page).to_have_url(re.compile(r"[?&]periode=2022(&|$)"), timeout=ATTENTE)
    expect(titre(page, "Ce qui a changé depuis 2021")).to_be_visible(timeout=ATTENTE)
    expect(page.locator(GRAPHIQUE).first).to_be_visible(timeout=ATTENTE)
    score_2022 = metrique(page, "Score d'avancement").inner_text()
    # Les onglets de « ce qui a changé » : ouvrir celui des valeurs et celui des dépôts.
    page.get_by_role("tab", name=re.compile("^Valeurs qui ont le plus bougé")).click()
    expect(page.get_by_role("tabpanel").get_by_test_id("stDataFrame")).to_contain_text("favorable", timeout=ATTENTE)
    page.get_by_role("tab", name=re.compile("^Dépôts reçus depuis le 31 décembre 2021")).click()
    expect(page.get_by_role("tabpanel").get_by_test_id("stDataFrame")).to_contain_text("demo-", timeout=ATTENTE)
    capture(page, "copil-vue-ensemble-2022")

    lien = nouvel_onglet()
    ouvrir(lien, page.url, "Vue d'ensemble")
    expect(valeur_choisie(lien, "Période")).to_have_value("2022", timeout=ATTENTE)
    expect(valeur_choisie(lien, "Protocole")).to_have_value(re.compile(re.escape(f"({TROYES})")), timeout=ATTENTE)
    expect(metrique(lien, "Score d'avancement")).to_have_text(score_2022, timeout=ATTENTE)


def test_par_axe_descendre_par_un_clic(onglet: Page, nouvel_onglet, app_url, capture):
    page = onglet
    ouvrir(page, f"{app_url}/par_axe?protocole={TROYES}&periode=2021&noeud=2", "Avancement par axe")
    expect(titre(page, "Axe 2 — Favoriser l'émancipation")).to_be_visible(timeout=ATTENTE)
    expect(valeur_choisie(page, "Axe, thématique ou objectif")).to_have_value(re.compile("^2 — Favoriser"),
        timeout=ATTENTE)
    expect(page.locator(GRAPHIQUE).first).to_be_visible(timeout=ATTENTE)
    capture(page, "copil-par-axe-2")

    # Un clic sur la 4e ligne du tableau des subdivisions (2.4) fait descendre dans ce nœud.
    tableau = page.get_by_test_id("stDataFrame").filter(has_text="Emploi et insertion professionnelle").first
    expect(tableau).to_be_visible(timeout=ATTENTE)
    tableau.scroll_into_view_if_needed()
    boite = tableau.bounding_box()
    page.mouse.click(boite["x"] + 18, boite["y"] + 35 * 4 + 17)
    expect(page).to_have_url(re.compile(r"[?&]noeud=2\.4(&|$)"), timeout=ATTENTE)
    expect(page.get_by_role("heading", name="Thématique 2.4 — Emploi et insertion professionnelle")).to_be_visible(
        timeout=ATTENTE)
    attendre_fin_calcul(page)
    # La boîte de sélection suit : elle montre le nœud où l'on est descendu.
    expect(valeur_choisie(page, "Axe, thématique ou objectif")).to_have_value(re.compile("2.4 — Emploi"),
                                                                               timeout=ATTENTE)
    page.get_by_test_id("stExpander").filter(has_text="En retard (").first.scroll_into_view_if_needed()
    expect(page.get_by_role("link", name="fiche").first).to_be_visible(timeout=ATTENTE)
    capture(page, "copil-par-axe-2.4")

    # Le lien obtenu rouvre le même nœud, à la même période, dans une autre session.
    lien = nouvel_onglet()
    ouvrir(lien, page.url, "Avancement par axe")
    expect(titre(lien, "Thématique 2.4 — Emploi et insertion professionnelle")).to_be_visible(timeout=ATTENTE)
    expect(valeur_choisie(lien, "Période")).to_have_value("2021", timeout=ATTENTE)

    # Remonter par le fil d'Ariane.
    page.get_by_role("button", name=re.compile("^2 — Favoriser")).click()
    expect(page).to_have_url(re.compile(r"[?&]noeud=2(&|$)"), timeout=ATTENTE)
    expect(titre(page, "Axe 2 — Favoriser l'émancipation")).to_be_visible(timeout=ATTENTE)
    page.get_by_role("button", name="Tout le protocole").click()
    expect(titre(page, re.compile("^Protocole d'engagements renforcés"))).to_be_visible(timeout=ATTENTE)
    attendre_fin_calcul(page)
    expect(valeur_choisie(page, "Axe, thématique ou objectif")).to_have_value("Tout le protocole", timeout=ATTENTE)
    capture(page, "copil-par-axe-protocole")


def test_fiche_indicateur(onglet: Page, nouvel_onglet, app_url, capture, tmp_path):
    page = onglet
    ouvrir(page, f"{app_url}/fiche_indicateur?protocole={TROYES}&periode=2021&indicateur=SAN-SANS-MT-TAUX",
           "Fiche indicateur")
    expect(titre(page, "Part des assurés des QPV sans médecin traitant")).to_be_visible(timeout=ATTENTE)
    expect(page.get_by_test_id("stPlotlyChart")).to_have_count(2, timeout=ATTENTE)
    expect(metrique(page, "Valeur 2021")).to_have_text(re.compile(r"^\d+,\d\s%$"), timeout=ATTENTE)
    capture(page, "copil-fiche-taux")

    choisir(page, "Détail par périmètre", "Tous les périmètres")
    expect(page).to_have_url(re.compile(r"[?&]qpv=tous(&|$)"), timeout=ATTENTE)
    expect(page.locator('[data-testid="stPlotlyChart"] .legend').first).to_contain_text("Chartreux Lisière",
        timeout=ATTENTE)
    # Le fichier d'origine d'une valeur, tel que le partenaire l'a déposé.
    with page.expect_download() as telechargement:
        page.get_by_role("button", name=re.compile("Télécharger le fichier")).click()
    assert telechargement.value.suggested_filename == "demo-CPAM10-2021.csv"
    chemin = tmp_path / telechargement.value.suggested_filename
    telechargement.value.save_as(chemin)
    assert "SAN-SANS-MT-TAUX" in chemin.read_text(encoding="utf-8")
    capture(page, "copil-fiche-taux-quartiers")

    choisir(page, "Indicateur", "Nombre de caméras")
    expect(page).to_have_url(re.compile(r"[?&]indicateur=SEC-VIDEO(&|$)"), timeout=ATTENTE)
    expect(titre(page, re.compile("^Nombre de caméras"))).to_be_visible(timeout=ATTENTE)
    # Autre indicateur, autres périmètres : le détail revient au territoire seul, et la boîte le montre.
    expect(valeur_choisie(page, "Détail par périmètre")).to_have_value("Territoire seul", timeout=ATTENTE)
    expect(page.get_by_test_id("stPlotlyChart")).to_have_count(2, timeout=ATTENTE)
    capture(page, "copil-fiche-video")

    lien = nouvel_onglet()
    ouvrir(lien, page.url, "Fiche indicateur")
    expect(titre(lien, re.compile("^Nombre de caméras"))).to_be_visible(timeout=ATTENTE)
    expect(valeur_choisie(lien, "Période")).to_have_value("2021", timeout=ATTENTE)


def test_fiche_semestrielle_et_non_agregeable(onglet: Page, app_url, capture):
    page = onglet
    # Blois : les faits constatés se suivent par semestre.
    ouvrir(page, f"{app_url}/fiche_indicateur?protocole=BLOIS-PERR-2020&periode=2021-S2"
                 "&indicateur=SEC-FAITS-CONSTATES", "Fiche indicateur")
    expect(valeur_choisie(page, "Période")).to_have_value("2021 — semestre 2", timeout=ATTENTE)
    expect(page.get_by_test_id("stPlotlyChart")).to_have_count(2, timeout=ATTENTE)
    expect(page.get_by_test_id("stPlotlyChart").first).to_contain_text("S1 2020", timeout=ATTENTE)
    capture(page, "copil-fiche-semestrielle")
    ouvrir(page, f"{app_url}/fiche_indicateur?protocole={TROYES}&periode=2021&indicateur=LOG-EPAVES-DELAI",
           "Fiche indicateur")
    expect(metrique(page, "Statut")).to_have_text("–", timeout=ATTENTE)
    expect(page.get_by_test_id("stPlotlyChart").first).to_contain_text("Troyes", timeout=ATTENTE)   # sa légende
    expect(valeur_choisie(page, "Détail par périmètre")).to_have_value("Tous les périmètres", timeout=ATTENTE)
    capture(page, "copil-fiche-non-agregeable")
