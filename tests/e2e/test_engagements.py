"""Un engagement réalisé survit à un clic distrait (issue 14), dans un vrai Chromium, comme le partenaire CAF de
l'Aube : le formulaire part de l'état courant ; « Enregistrer l'état » sans rien changer n'écrit rien ; un retour à
« non démarré » demande confirmation, « Annuler » le refuse ; l'historique est sous les yeux."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as ErreurDelai

from tests.e2e.conftest import ouvrir_connecte
from tests.e2e.test_accueil import attendre_fin_calcul

pytestmark = pytest.mark.e2e

TROYES = "TCM-PERR-2019"


def formulaire(page: Page):
    return page.get_by_test_id("stForm")


def choisir_etat(page: Page, etat: str) -> None:
    boite = formulaire(page).get_by_test_id("stSelectbox")
    option = page.get_by_role("option", name=etat, exact=True)
    for _ in range(3):
        boite.scroll_into_view_if_needed()
        boite.click()
        try:
            option.wait_for(timeout=5_000)
            break
        except ErreurDelai:
            page.keyboard.press("Escape")
    option.click()


def enregistrer(page: Page) -> None:
    formulaire(page).get_by_role("button", name="Enregistrer l'état").click()
    attendre_fin_calcul(page)


def test_un_engagement_realise_survit_a_un_clic_distrait(onglet: Page, app_url, capture):
    page = onglet
    ouvrir_connecte(page, f"{app_url}/engagements?protocole={TROYES}", "caf-aube")
    expect(page.get_by_role("heading", name="Suivre un engagement", exact=True)).to_be_visible(timeout=60_000)
    attendre_fin_calcul(page)
    etat_courant = formulaire(page).get_by_test_id("stSelectbox").get_by_role("combobox")
    # Le premier engagement de la CAF, mis à « réalisé » s'il ne l'est pas déjà.
    expect(formulaire(page).get_by_text(re.compile(r"actuellement :"))).to_be_visible()
    if not formulaire(page).get_by_text(re.compile(r"actuellement : réalisé")).count():
        choisir_etat(page, "réalisé")
        enregistrer(page)
        expect(page.get_by_test_id("stAlert").filter(has_text=re.compile(r"État « réalisé » enregistré"))
               ).to_be_visible()
    expect(formulaire(page).get_by_text(re.compile(r"actuellement : réalisé depuis le"))).to_be_visible()
    expect(etat_courant).to_have_value("réalisé")           # le formulaire part de l'état courant
    lignes = page.get_by_role("heading", name=re.compile(r"^Historique \(\d+ états?\)$"))
    expect(lignes).to_be_visible()
    historique = lignes.inner_text()

    enregistrer(page)                                       # le clic distrait
    expect(page.get_by_test_id("stAlert").filter(has_text="rien à enregistrer")).to_be_visible()
    expect(lignes).to_have_text(historique)
    capture(page, "engagement-clic-distrait")

    choisir_etat(page, "non démarré")
    enregistrer(page)
    alerte = page.get_by_test_id("stAlert").filter(has_text="le ferait revenir en arrière")
    expect(alerte).to_be_visible()
    expect(page.get_by_role("button", name="Confirmer le retour à « non démarré »")).to_be_visible()
    capture(page, "engagement-retour-a-confirmer")
    page.get_by_role("button", name="Annuler", exact=True).click()
    attendre_fin_calcul(page)
    expect(page.get_by_test_id("stAlert").filter(has_text="Rien n'a été enregistré")).to_be_visible()
    expect(etat_courant).to_have_value("réalisé")
    expect(lignes).to_have_text(historique)
    capture(page, "engagement-retour-annule")
