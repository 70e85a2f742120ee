"""Parcours d'un utilisateur dans un vrai navigateur : accueil, changement de protocole, lien partagé, import refusé.

Chaque adresse est ouverte comme un lien reçu : page de connexion sous cette adresse, connexion (coordination), puis la
vue demandée (voir `ouvrir_connecte` dans conftest.py)."""
from __future__ import annotations

import re

import pytest
from openpyxl import Workbook
from playwright.sync_api import Page, expect

from tests.e2e.conftest import PREMIER_CHARGEMENT, lien_menu, ouvrir_connecte

pytestmark = pytest.mark.e2e

TITRE_ACCUEIL = "Protocoles d'engagements renforcés et réciproques"
TROYES = "TCM-PERR-2019"
BLOIS = "BLOIS-PERR-2020"
GRAPHIQUE = '[data-testid="stPlotlyChart"] .main-svg'
PARTS_DU_GRAPHIQUE = '[data-testid="stPlotlyChart"] g.point'  # une barre : le graphique n'est pas vide


def attendre_fin_calcul(page: Page) -> None:
    """Attend que Streamlit ait fini d'exécuter la page (le widget « Running… » disparaît)."""
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=60_000)


def ouvrir_accueil(page: Page, url: str, identifiant: str = "coordination") -> None:
    ouvrir_connecte(page, url, identifiant)
    expect(page.get_by_role("heading", name=TITRE_ACCUEIL, exact=True)).to_be_visible(timeout=PREMIER_CHARGEMENT)
    attendre_fin_calcul(page)


def titre_protocole(page: Page):
    """Le sous-titre qui porte le titre du protocole affiché (premier `h3` de la page principale)."""
    return page.get_by_test_id("stMain").locator("h3").first


def selecteur_protocole(page: Page):
    """La boîte « Protocole » (le premier sélecteur de la page)."""
    boite = page.get_by_test_id("stSelectbox").first
    expect(boite).to_contain_text("Protocole")
    return boite


def protocole_choisi(page: Page):
    """Le champ du sélecteur « Protocole », dont la valeur est le libellé du protocole affiché."""
    return selecteur_protocole(page).get_by_role("combobox")


def test_accueil(onglet: Page, app_url, capture):
    page = onglet
    ouvrir_accueil(page, app_url + "/accueil")

    expect(page.get_by_test_id("stAlert").filter(has_text="Données de démonstration")).to_be_visible()
    expect(page.get_by_test_id("stMetricLabel").filter(has_text=re.compile(r"^Engagements$"))).to_be_visible()
    expect(page.get_by_test_id("stMetricValue").first).to_have_text(re.compile(r"\d"))
    expect(titre_protocole(page)).to_be_visible()
    # L'adresse garde le protocole affiché, pour qu'un lien rouvre la même vue.
    expect(page).to_have_url(re.compile(r"[?&]protocole=[A-Za-z0-9_.-]+"))
    expect(page.locator(GRAPHIQUE).first).to_be_visible()
    expect(page.locator(PARTS_DU_GRAPHIQUE).first).to_be_visible()
    capture(page, "accueil")


def test_changer_de_protocole_et_lien_partage(onglet: Page, nouvel_onglet, app_url, capture):
    page = onglet
    # Un lien partagé rouvre la vue de Troyes.
    ouvrir_accueil(page, f"{app_url}/accueil?protocole={TROYES}")
    expect(titre_protocole(page)).to_contain_text("Troyes Champagne Métropole")
    expect(page.locator(GRAPHIQUE).first).to_be_visible()
    capture(page, "accueil-troyes")

    # Changer de protocole dans le sélecteur : Blois si la démonstration l'a, sinon n'importe quel autre.
    selecteur_protocole(page).click()
    options = page.get_by_role("option")
    expect(options.first).to_be_visible()
    textes = [t.strip() for t in options.all_inner_texts()]
    assert textes, "le sélecteur « Protocole » ne propose aucune option"
    blois = [t for t in textes if "Blois" in t]
    autres = [t for t in textes if TROYES not in t]
    if not blois and not autres:
        pytest.skip(f"Un seul protocole dans la démonstration ({textes}) : impossible de changer de protocole.")
    choix = (blois or autres)[0]
    code = re.search(r"\(([^()]+)\)\s*$", choix)
    assert code, f"l'option « {choix} » ne se termine pas par « (CODE) »"
    code = code.group(1)
    options.filter(has_text=choix).first.click()

    expect(page).to_have_url(re.compile(rf"[?&]protocole={re.escape(code)}(&|$)"))
    attendre_fin_calcul(page)
    expect(titre_protocole(page)).not_to_contain_text("Troyes Champagne Métropole")
    expect(protocole_choisi(page)).to_have_value(re.compile(re.escape(f"({code})")))
    expect(page.locator(GRAPHIQUE).first).to_be_visible()
    capture(page, f"accueil-{code}")

    # Les deux liens partagés restaurent chacun leur vue, dans une page neuve (nouvelle session Streamlit).
    lien_troyes = nouvel_onglet()
    ouvrir_accueil(lien_troyes, f"{app_url}/accueil?protocole={TROYES}")
    expect(titre_protocole(lien_troyes)).to_contain_text("Troyes Champagne Métropole")
    expect(protocole_choisi(lien_troyes)).to_have_value(re.compile(re.escape(f"({TROYES})")))

    lien_choix = nouvel_onglet()
    ouvrir_accueil(lien_choix, f"{app_url}/accueil?protocole={code}")
    expect(protocole_choisi(lien_choix)).to_have_value(re.compile(re.escape(f"({code})")))
    expect(titre_protocole(lien_choix)).not_to_contain_text("Troyes Champagne Métropole")

    if not blois:
        pytest.skip(f"Pas de protocole Blois dans la démonstration : le changement de protocole a été vérifié avec "
                    f"{code} ; la vérification propre à Blois ({BLOIS}) est sautée.")
    assert code == BLOIS, f"l'option Blois porte le code {code}, pas {BLOIS}"
    expect(titre_protocole(page)).to_contain_text("Blois")


def classeur_casse(chemin) -> None:
    """Une feuille « Protocole » dont l'année de début est écrite en lettres, et aucune autre feuille."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Protocole"
    ws.append(["Code", "Titre", "Territoire", "Code territoire", "Année de début", "Année de fin", "Géographie",
               "Démonstration"])
    ws.append(["CASSE-2024", "Protocole d'essai cassé", "Territoire d'essai", "ESSAI", "deux mille", 2030, "2024",
               "non"])
    wb.save(chemin)


def test_referentiel_classeur_refuse(onglet: Page, app_url, capture, tmp_path):
    page = onglet
    ouvrir_accueil(page, app_url + "/accueil")
    lien_menu(page, "Référentiel").click()
    expect(page.get_by_role("heading", name="Référentiel d'un protocole")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/referentiel(\?|$)"))
    attendre_fin_calcul(page)
    capture(page, "referentiel")

    chemin = tmp_path / "classeur-casse.xlsx"
    classeur_casse(chemin)
    # La page a deux sélecteurs de fichier (le protocole signé pour un brouillon, puis le classeur) : celui du classeur.
    page.get_by_role("region", name=re.compile(r"^Classeur du référentiel")).locator('input[type="file"]'
                                                                                       ).set_input_files(chemin)

    erreur = page.get_by_test_id("stAlert").filter(has_text="Classeur refusé")
    expect(erreur).to_be_visible(timeout=60_000)
    attendre_fin_calcul(page)
    tableau = page.get_by_test_id("stDataFrame").first
    expect(tableau).to_be_visible()
    # Le tableau est dessiné dans un canvas ; son texte est dans la table d'accessibilité de glide-data-grid.
    expect(tableau).to_contain_text(re.compile(r"feuille-manquante|Axes"))
    expect(tableau).to_contain_text("deux mille")
    capture(page, "referentiel-classeur-refuse")
