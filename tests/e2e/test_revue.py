"""La revue avant publication, dans un vrai navigateur, rôle après rôle (issue 14) :

1. la CAF de l'Aube dépose des valeurs de 2022 dont une dix fois trop grande, et confirme malgré l'avertissement ;
2. le COPIL ouvre la fiche de l'indicateur : la valeur est marquée « confirmée malgré un avertissement, en attente de
   revue », jamais montrée sans marque ;
3. la coordination revoit ce dépôt : elle voit ses valeurs, ce qu'elles changent et l'avertissement, rien n'est
   choisi d'avance ; elle le marque « à corriger » avec un commentaire ;
4. la CAF arrive sur son espace : le dépôt à corriger et le commentaire en entier ; elle télécharge le modèle (pré-rempli,
   la ligne surlignée), corrige, redépose ; plus rien à corriger ;
5. le COPIL ne voit plus de marque.

Un serveur à part (sa propre base de démonstration) : ce parcours change des dépôts que d'autres tests lisent.
"""
from __future__ import annotations

import re

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from tests.e2e.conftest import PREMIER_CHARGEMENT, ouvrir_connecte, serveur_streamlit
from tests.e2e.test_accueil import attendre_fin_calcul

pytestmark = pytest.mark.e2e

TROYES = "TCM-PERR-2019"
MARQUE = "confirmée malgré un avertissement, en attente de revue"
COMMENTAIRE = ("La valeur de cette ligne est dix fois celle de 2021 : une virgule oubliée ? Merci de vérifier la "
               "ligne surlignée du modèle, de la corriger et de redéposer le fichier avant le COPIL de mars.")


@pytest.fixture(scope="module")
def serveur(tmp_path_factory):
    with serveur_streamlit(tmp_path_factory.mktemp("perr-e2e-revue"), "streamlit-e2e-revue.log") as url:
        yield url


def _modele(page: Page, tmp_path, nom: str):
    with page.expect_download() as telechargement:
        page.get_by_role("button", name=re.compile(r"^Modèle CAF10 — 2022")).click()
    chemin = tmp_path / nom
    telechargement.value.save_as(chemin)
    return chemin


def _deposer(page: Page, chemin) -> None:
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(chemin)


def _fiche(page: Page, url: str, indicateur: str) -> None:
    ouvrir_connecte(page, f"{url}/fiche_indicateur?protocole={TROYES}&periode=2022&indicateur={indicateur}", "copil")
    expect(page.get_by_role("heading", name="Fiche indicateur", exact=True)).to_be_visible(timeout=60_000)
    attendre_fin_calcul(page)


def test_revue_avant_publication(onglet: Page, nouvel_onglet, serveur, capture, tmp_path):
    url = serveur
    page = onglet

    # 1. La CAF dépose, une valeur dix fois trop grande, et confirme malgré l'avertissement.
    ouvrir_connecte(page, f"{url}/deposer?periode=2022", "caf-aube")
    expect(page.get_by_role("heading", name="Déposer des valeurs")).to_be_visible(timeout=PREMIER_CHARGEMENT)
    attendre_fin_calcul(page)
    chemin = _modele(page, tmp_path, "caf-2022.xlsx")
    wb = load_workbook(chemin)
    ws = wb["Valeurs"]
    # Le modèle d'une période déjà déposée : les valeurs de la CAF sont là, à corriger plutôt qu'à ressaisir.
    lignes = [r for r in ws.iter_rows(min_row=2) if isinstance(r[9].value, (int, float)) and r[9].value > 0
              and r[8].value]
    assert lignes, "le modèle de 2022 devait être pré-rempli des valeurs déjà déposées"
    cible = lignes[0]
    indicateur, libelle, perimetre_nom = cible[0].value, cible[1].value, cible[3].value
    juste = cible[9].value
    cible[9].value = juste * 10
    wb.save(chemin)
    _deposer(page, chemin)
    alerte = page.get_by_test_id("stAlert").filter(has_text="certaines valeurs surprennent")
    expect(alerte).to_be_visible(timeout=60_000)
    attendre_fin_calcul(page)
    expect(page.get_by_test_id("stDataFrame").first).to_contain_text(
        re.compile("Écart important avec la période précédente|Hors des valeurs plausibles"))
    capture(page, "revue-1-partenaire-avertissement")
    page.get_by_role("button", name="Je confirme ces valeurs : enregistrer le dépôt").click()
    succes = page.get_by_test_id("stAlert").filter(has_text="enregistré")
    expect(succes).to_be_visible(timeout=60_000)
    expect(succes).to_contain_text("confirmée malgré un avertissement : la coordination revoit le dépôt")
    attendre_fin_calcul(page)
    # La confirmation parle de noms, et distingue la valeur précédente (2021) de la valeur remplacée (2022).
    confirmation = page.get_by_test_id("stDataFrame").first
    expect(confirmation).to_contain_text(f"{libelle} ({indicateur})")
    expect(confirmation).to_contain_text("Nouvelle valeur")
    expect(confirmation).to_contain_text("modifiée")
    capture(page, "revue-1-partenaire-confirme")

    # 2. Le COPIL : la valeur est marquée, sur la fiche et dans la provenance.
    copil = nouvel_onglet()
    _fiche(copil, url, indicateur)
    expect(copil.get_by_test_id("stAlert").filter(has_text=MARQUE).first).to_be_visible()
    expect(copil.get_by_test_id("stMetric").filter(has_text="en attente de revue")).to_be_visible()
    expect(copil.get_by_test_id("stDataFrame").filter(has_text=MARQUE)).to_be_visible()
    capture(copil, "revue-2-copil-valeur-marquee")

    # 3. La coordination revoit le dépôt : ses valeurs, l'avertissement, rien de choisi d'avance.
    coord = nouvel_onglet()
    ouvrir_connecte(coord, f"{url}/", "coordination")
    expect(coord.get_by_role("heading", name="À revoir", exact=True)).to_be_visible(timeout=60_000)
    attendre_fin_calcul(coord)
    expect(coord.get_by_test_id("stAlert").filter(has_text="confirmé malgré un avertissement").first).to_be_visible()
    coord.get_by_role("link", name="Revoir les dépôts").click()
    expect(coord.get_by_role("heading", name="Suivi des dépôts", exact=True)).to_be_visible(timeout=60_000)
    attendre_fin_calcul(coord)
    depot = coord.get_by_test_id("stSelectbox").filter(has=coord.get_by_text("Dépôt", exact=True))
    expect(depot.get_by_role("combobox")).to_have_value(re.compile("caf-2022.xlsx.*en attente de revue"))
    expect(coord.get_by_text("Avertissements confirmés par le partenaire")).to_be_visible()
    expect(coord.get_by_text(re.compile(re.escape(libelle))).first).to_be_visible()
    valeurs = coord.get_by_test_id("stDataFrame").filter(has_text="Valeur déposée")
    expect(valeurs).to_be_visible()
    formulaire = coord.get_by_test_id("stForm")
    radios = formulaire.get_by_role("radio")
    expect(radios).to_have_count(2)
    for i in range(2):
        expect(radios.nth(i)).not_to_be_checked()
    expect(formulaire.get_by_role("textbox")).to_have_value("")
    capture(coord, "revue-3-coordination-examine")
    formulaire.get_by_text("à corriger", exact=True).click()
    formulaire.get_by_role("textbox").fill(COMMENTAIRE)
    formulaire.get_by_role("button", name="Enregistrer la revue").click()
    expect(coord.get_by_test_id("stAlert").filter(has_text="marqué « à corriger »")).to_be_visible(timeout=60_000)
    attendre_fin_calcul(coord)
    capture(coord, "revue-3-coordination-a-corriger")

    # 4. La CAF arrive sur son espace : à corriger, le commentaire en entier ; elle corrige et redépose.
    ouvrir_connecte(page, f"{url}/", "caf-aube")
    expect(page.get_by_role("heading", name="Votre espace partenaire", exact=True)).to_be_visible(timeout=60_000)
    attendre_fin_calcul(page)
    a_corriger = page.get_by_test_id("stAlert").filter(has_text="marqué « à corriger »")
    expect(a_corriger).to_contain_text(COMMENTAIRE)
    capture(page, "revue-4-partenaire-a-corriger")
    page.get_by_role("link", name="Corriger et déposer").click()
    expect(page.get_by_role("heading", name="Déposer des valeurs")).to_be_visible(timeout=60_000)
    attendre_fin_calcul(page)
    chemin = _modele(page, tmp_path, "caf-2022-corrige.xlsx")
    wb = load_workbook(chemin)
    ws = wb["Valeurs"]
    ligne = next(r for r in ws.iter_rows(min_row=2) if r[0].value == indicateur and r[3].value == perimetre_nom)
    assert ligne[9].value == juste * 10                        # la valeur à corriger, pré-remplie…
    assert ligne[9].fill.fgColor.rgb.endswith("F8CBAD")        # … et surlignée
    notice = "\n".join(str(c.value) for c in wb["Instructions"]["A"] if c.value)
    assert COMMENTAIRE in notice
    ligne[9].value = juste
    wb.save(chemin)
    _deposer(page, chemin)
    expect(page.get_by_test_id("stAlert").filter(has_text="enregistré")).to_be_visible(timeout=60_000)
    attendre_fin_calcul(page)
    ouvrir_connecte(page, f"{url}/", "caf-aube")
    expect(page.get_by_role("heading", name="Votre espace partenaire", exact=True)).to_be_visible(timeout=60_000)
    attendre_fin_calcul(page)
    expect(page.get_by_test_id("stAlert").filter(has_text="Aucun de vos dépôts n'est marqué « à corriger »")
           ).to_be_visible()
    capture(page, "revue-4-partenaire-corrige")

    # 5. Le COPIL : plus de valeur marquée.
    _fiche(copil, url, indicateur)
    expect(copil.get_by_test_id("stAlert").filter(has_text=MARQUE)).to_have_count(0)
    expect(copil.get_by_test_id("stMetric").filter(has_text="en attente de revue")).to_have_count(0)
    capture(copil, "revue-5-copil-sans-marque")
