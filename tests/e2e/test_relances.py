"""La boucle des partenaires dans un vrai navigateur, contre un vrai serveur SMTP local : la coordination relance, le
serveur reçoit, le partenaire remplit la pièce jointe et la dépose avec son compte par le lien du courriel, il reçoit son
accusé de réception, la complétude bouge."""
from __future__ import annotations

import io
import os
import re
from unittest import mock

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from tests.e2e.conftest import PREMIER_CHARGEMENT, _port_libre, connecter, ouvrir_connecte, serveur_streamlit
from tests.e2e.test_accueil import attendre_fin_calcul
from tests.smtp import serveur_smtp

pytestmark = pytest.mark.e2e

TCM = "TCM-PERR-2019"
PARTENAIRE, MOT_DE_PASSE, ADRESSE = "cpam", "un mot de passe long", "stats@cpam-aube.example.org"


@pytest.fixture(scope="module")
def boucle(tmp_path_factory):
    """Un serveur SMTP local, et un tableau de bord configuré pour lui, sur la démonstration où la CPAM de l'Aube (en
    retard pour 2022) a un compte contributeur."""
    from perr_metrics.acces.comptes import creer_compte
    from perr_metrics.acces.droits import SYSTEME
    from perr_metrics.demo.demonstration import charger_demo
    from perr_metrics.stockage.magasin import Store

    dossier = tmp_path_factory.mktemp("perr-e2e-relances")
    store = Store(dossier / "perr.duckdb", utilisateur=SYSTEME)
    charger_demo(store)
    creer_compte(store, PARTENAIRE, "CPAM de l'Aube", "contributeur", MOT_DE_PASSE, protocole=TCM, signataire="CPAM10",
                 courriel=ADRESSE)
    with serveur_smtp() as smtp:
        port = _port_libre()
        env = smtp.environ() | {"PERR_URL_TABLEAU_DE_BORD": f"http://127.0.0.1:{port}"}
        with mock.patch.dict(os.environ, env):
            with serveur_streamlit(dossier, "streamlit-e2e-relances.log", port=port) as url:
                yield url, smtp


def test_relance_depot_accuse_completude(onglet: Page, nouvel_onglet, boucle, capture, tmp_path):
    app_url, smtp = boucle
    page = onglet
    ouvrir_connecte(page, f"{app_url}/suivi_depots?protocole={TCM}&periode=2022")
    expect(page.get_by_role("heading", name="Suivi des dépôts")).to_be_visible(timeout=PREMIER_CHARGEMENT)
    attendre_fin_calcul(page)
    expect(page.get_by_text("Échéance de dépôt pour 2022 : 31 janvier 2023").first).to_be_visible()
    expect(page.get_by_test_id("stMetric").filter(has_text="Signataires en retard")).to_contain_text("10")
    expect(page.get_by_role("heading", name="Relances")).to_be_visible()
    expect(page.get_by_text(re.compile("Serveur de courriel : 127.0.0.1:"))).to_be_visible()
    # L'aperçu du courriel, puis l'envoi des dix relances.
    expect(page.get_by_text(re.compile("la coordination attend de"))).to_be_visible()
    page.get_by_test_id("stMain").get_by_text("Relances", exact=True).scroll_into_view_if_needed()
    capture(page, "relances-apercu")
    page.get_by_role("button", name="Envoyer 10 relances").click()
    expect(page.get_by_text(re.compile(r"^CPAM10 : envoyé — à "))).to_be_visible(timeout=60_000)
    attendre_fin_calcul(page)
    capture(page, "relances-envoyees")
    assert len(smtp.boite.recus) == 10

    # Le partenaire lit son courriel : objet, échéance, ce qui manque, le modèle joint, le lien vers « Déposer ».
    (relance,) = smtp.boite.pour(ADRESSE)
    assert relance.objet.endswith("Relance : valeurs 2022 attendues de CPAM de l'Aube avant le 31 janvier 2023")
    assert "il en manque 55 :" in relance.corps
    lien = re.search(r"http://\S+/deposer\?\S+", relance.corps).group(0)
    assert lien == f"{app_url}/deposer?protocole={TCM}&signataire=CPAM10&periode=2022"
    (nom, piece), = relance.pieces.items()
    wb = load_workbook(io.BytesIO(piece))
    ws = wb["Valeurs"]
    colonnes = {c.value: c.column for c in ws[1]}
    lignes = [r[0].row for r in ws.iter_rows(min_row=2) if r[0].value]
    for i, ligne in enumerate(lignes[:-1]):
        ws.cell(ligne, colonnes["Valeur"], 20 + i)
    ws.cell(lignes[-1], colonnes["Motif"], "secret statistique")
    rempli = tmp_path / nom
    wb.save(rempli)

    # Il ouvre le lien, se connecte avec son compte et dépose la pièce jointe remplie.
    # (« Déposer » est la page d'accueil d'un contributeur : son adresse devient « / », paramètres gardés.)
    partenaire = nouvel_onglet()
    partenaire.goto(lien)
    connecter(partenaire, PARTENAIRE, MOT_DE_PASSE)
    expect(partenaire.get_by_role("heading", name="Déposer des valeurs")).to_be_visible(timeout=PREMIER_CHARGEMENT)
    attendre_fin_calcul(partenaire)
    assert "signataire=CPAM10" in partenaire.url and "periode=2022" in partenaire.url
    expect(partenaire.get_by_text("Échéance de dépôt pour 2022 : 31 janvier 2023")).to_be_visible()
    partenaire.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(rempli)
    confirmer = partenaire.get_by_role("button", name="Je confirme ces valeurs : enregistrer le dépôt")
    succes = partenaire.get_by_test_id("stAlert").filter(has_text=re.compile(r"Dépôt n° \d+ enregistré"))
    expect(succes.or_(confirmer).first).to_be_visible(timeout=60_000)
    if confirmer.count():
        confirmer.click()
    expect(succes).to_be_visible(timeout=60_000)
    expect(succes).to_contain_text("54 valeurs, période 2022, 1 valeur(s) non donnée(s) avec leur motif")
    expect(partenaire.get_by_text(f"Accusé de réception envoyé à {ADRESSE}.")).to_be_visible(timeout=30_000)
    attendre_fin_calcul(partenaire)
    capture(partenaire, "relances-depot-partenaire")

    # Son accusé de réception est arrivé.
    accuse = [r for r in smtp.boite.pour(ADRESSE) if "Accusé de réception" in r.objet]
    assert len(accuse) == 1 and "54 valeurs — 54 nouvelles" in accuse[0].corps
    assert "secret statistique" in accuse[0].corps and "rien ne manque plus" in accuse[0].corps

    # La complétude bouge : neuf signataires en retard, la CPAM n'est plus à relancer.
    page.reload()
    ouvrir_connecte(page, f"{app_url}/suivi_depots?protocole={TCM}&periode=2022")
    expect(page.get_by_role("heading", name="Suivi des dépôts")).to_be_visible(timeout=PREMIER_CHARGEMENT)
    attendre_fin_calcul(page)
    expect(page.get_by_test_id("stMetric").filter(has_text="Signataires en retard")).to_contain_text("9")
    expect(page.get_by_text(re.compile("Valeurs non reçues mais expliquées : 1 "))).to_be_visible()
    expect(page.get_by_text(re.compile(r"À relancer :.*"))).not_to_contain_text("CPAM10")
    capture(page, "relances-completude-apres")
