"""Un partenaire dépose son fichier dans un vrai navigateur : modèle téléchargé, fichier refusé, corrigé, accepté ;
puis la coordination voit la complétude."""
from __future__ import annotations

import re

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from tests.e2e.conftest import COMPTES_DEMO, PREMIER_CHARGEMENT, ouvrir_connecte
from tests.e2e.test_accueil import attendre_fin_calcul

pytestmark = pytest.mark.e2e

AUTEUR = COMPTES_DEMO["coordination"][1]


def test_deposer_refus_puis_acceptation(onglet: Page, app_neuve, capture, tmp_path):
    """Le tout premier visiteur d'un serveur neuf arrive par un lien profond vers « Déposer » (celui d'un courriel de
    relance) : la base se crée, la page de connexion s'affiche sous cette adresse ; une fois connecté, c'est
    « Déposer » qui s'ouvre, avec ses paramètres et la navigation complète. Le dépôt est fait au nom du compte."""
    app_url = app_neuve
    page = onglet
    ouvrir_connecte(page, app_url + "/deposer?protocole=TCM-PERR-2019&signataire=ETAT-DDSP&periode=2022")
    expect(page.get_by_role("heading", name="Déposer des valeurs")).to_be_visible(timeout=PREMIER_CHARGEMENT)
    attendre_fin_calcul(page)
    navigation = page.get_by_test_id("stSidebarNav")
    expect(navigation.get_by_role("link", name="Suivi des dépôts")).to_be_visible()
    # L'ancienne navigation (dossier pages/ seul) nommerait le point d'entrée « dashboard » et les pages par leur fichier.
    expect(navigation.get_by_role("link", name="dashboard", exact=True)).to_have_count(0)
    expect(navigation.get_by_role("link", name="suivi depots", exact=True)).to_have_count(0)
    # Plus de nom à taper : le dépôt se fait au nom du compte connecté, et la page le dit.
    expect(page.get_by_text(f"Vous déposez au nom de {AUTEUR} (coordination)")).to_be_visible()

    # Le modèle pré-rempli, téléchargé comme le ferait le partenaire.
    with page.expect_download() as telechargement:
        page.get_by_role("button", name=re.compile("Modèle ETAT-DDSP — 2022")).click()
    modele = tmp_path / telechargement.value.suggested_filename
    telechargement.value.save_as(modele)
    wb = load_workbook(modele)
    ws = wb["Valeurs"]
    assert ws["A1"].value == "Code indicateur" and ws.max_row > 10
    ws["J2"] = 11
    ws["J3"] = "NC"                        # refusé : un texte dans une cellule de valeur
    mauvais = tmp_path / "ddsp-2022-mauvais.xlsx"
    wb.save(mauvais)

    # Le sélecteur de fichier parle français (Streamlit écrit « Upload » et « 50MB per file » ; ui.televersement).
    zone = page.get_by_test_id("stFileUploaderDropzone")
    assert zone.locator("button p").evaluate("e => getComputedStyle(e, '::after').content") == '"Choisir un fichier"'
    consigne = zone.get_by_test_id("stFileUploaderDropzoneInstructions").locator("span").evaluate(
        "e => getComputedStyle(e, '::after').content")
    assert consigne == '"Classeur .xlsx, .xlsm, .ods ou fichier .csv · 50 Mo au plus"'
    assert zone.locator("button p").evaluate("e => getComputedStyle(e).fontSize") == "0px"   # « Upload » caché
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(mauvais)
    expect(page.get_by_test_id("stAlert").filter(has_text="Fichier refusé")).to_be_visible(timeout=60_000)
    attendre_fin_calcul(page)
    tableau = page.get_by_test_id("stDataFrame").first
    expect(tableau).to_contain_text("J3")
    expect(tableau).to_contain_text("Valeur non numérique")          # le nom du problème, le code à côté
    # Chaque problème en entier, avec son code (la dernière colonne du tableau peut être hors de l'écran).
    page.get_by_text("Lire chaque problème en entier").click()
    entier = page.get_by_test_id("stExpander").filter(has_text="Lire chaque problème en entier")
    expect(entier).to_contain_text("n'est pas un nombre")
    expect(entier).to_contain_text("valeur-non-numerique")
    capture(page, "deposer-refus")

    ws["J3"] = 12
    bon = tmp_path / "ddsp-2022.xlsx"
    wb.save(bon)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(bon)
    succes = page.get_by_test_id("stAlert").filter(has_text="enregistré")
    expect(succes).to_be_visible(timeout=60_000)
    # Le modèle de 2022, période déjà déposée, arrive pré-rempli : toutes ses valeurs sont redéposées.
    remplies = sum(1 for r in ws.iter_rows(min_row=2) if r[9].value is not None)
    expect(succes).to_contain_text(f"{remplies} valeurs")
    attendre_fin_calcul(page)
    capture(page, "deposer-accepte")

    ouvrir_connecte(page, app_url + "/suivi_depots?protocole=TCM-PERR-2019&periode=2022")
    expect(page.get_by_role("heading", name="Suivi des dépôts")).to_be_visible(timeout=60_000)
    attendre_fin_calcul(page)
    expect(page.get_by_text("À relancer")).to_be_visible()
    # Le tableau (une grille dessinée) peut mettre quelques secondes à se remplir sur une machine chargée.
    expect(page.get_by_test_id("stDataFrame").filter(has_text=AUTEUR)).to_contain_text("ddsp-2022.xlsx",
                                                                                      timeout=30_000)
    capture(page, "suivi-depots")
