"""Le rapport annuel dans un vrai navigateur : l'aperçu s'affiche sans construire le rapport, puis la coordination le
prépare (graphiques dessinés en SVG, Typst, python-docx, openpyxl) et télécharge le PDF et le
classeur, relus comme un lecteur le ferait. Captures dans tests/artefacts/screenshots/rapport-*.png."""
from __future__ import annotations

import re
import subprocess

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from tests.e2e.conftest import PREMIER_CHARGEMENT, ouvrir_connecte
from tests.e2e.test_accueil import attendre_fin_calcul
from tests.e2e.test_copil import ATTENTE, metrique

pytestmark = pytest.mark.e2e

BLOIS = "BLOIS-PERR-2020"
PREPARATION = 180_000   # ms : graphiques, PDF, Word et Excel d'un protocole de démonstration, machine chargée


def bouton_telecharger(page: Page, format_: str):
    return page.get_by_test_id("stDownloadButton").get_by_role("button", name=re.compile("^" + format_))


def test_apercu_puis_rapport_pdf_et_excel(onglet: Page, app_url, capture, tmp_path):
    page = onglet
    ouvrir_connecte(page, f"{app_url}/rapport_annuel?protocole={BLOIS}&periode=2021")
    expect(page.get_by_role("heading", name="Rapport annuel d'évaluation")).to_be_visible(timeout=PREMIER_CHARGEMENT)
    expect(page.get_by_role("heading", name="Aperçu de la synthèse 2021")).to_be_visible(timeout=ATTENTE)
    expect(metrique(page, "Indicateurs suivis")).to_have_text(re.compile(r"^\d+$"), timeout=ATTENTE)
    expect(page.get_by_text(re.compile("^En 2021, sur les"))).to_be_visible(timeout=ATTENTE)
    attendre_fin_calcul(page)
    # Le sommaire du rapport, avant de l'avoir construit.
    page.get_by_test_id("stExpander").filter(has_text="Sommaire du rapport").click()
    sommaire = page.get_by_test_id("stExpander").filter(has_text="Sommaire du rapport")
    expect(sommaire).to_contain_text("Annexe C. Méthode et sources", timeout=ATTENTE)
    expect(sommaire).to_contain_text("Évolution de la situation des quartiers")
    expect(sommaire).to_contain_text("Avis des conseils citoyens")
    # Avant préparation, rien à télécharger.
    expect(bouton_telecharger(page, "PDF")).to_be_disabled()
    capture(page, "rapport-apercu")

    page.get_by_role("button", name="Préparer le rapport (PDF, Word et Excel)").click()
    expect(bouton_telecharger(page, "PDF")).to_be_enabled(timeout=PREPARATION)
    attendre_fin_calcul(page)
    expect(bouton_telecharger(page, "PDF")).to_have_text(re.compile(r"PDF \(\d[\d\s]* Ko\)"))
    expect(page.get_by_test_id("stAlert").filter(has_text="Graphiques remplacés")).to_have_count(0)
    capture(page, "rapport-prepare")

    with page.expect_download() as telechargement:
        bouton_telecharger(page, "PDF").click()
    assert telechargement.value.suggested_filename == f"rapport-{BLOIS}-2021.pdf"
    pdf = tmp_path / telechargement.value.suggested_filename
    telechargement.value.save_as(pdf)
    assert pdf.read_bytes()[:5] == b"%PDF-"
    texte = " ".join(subprocess.run(["pdftotext", str(pdf), "-"], check=True, capture_output=True,
                                    text=True).stdout.split())
    assert "Rapport annuel d'évaluation 2021" in texte and "Méthode et sources" in texte
    assert "Rappel des orientations" in texte and "Moyens mobilisés en 2021" in texte and "dépôt n° " in texte

    with page.expect_download() as telechargement:
        bouton_telecharger(page, "Excel").click()
    classeur = tmp_path / telechargement.value.suggested_filename
    telechargement.value.save_as(classeur)
    assert classeur.name == f"rapport-{BLOIS}-2021.xlsx"
    assert load_workbook(classeur, read_only=True).sheetnames[0] == "Sommaire"
