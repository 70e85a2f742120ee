"""Un coordinateur importe par la ligne de commande pendant que le COPIL parcourt le tableau de bord (vrai serveur, vrai
Chromium, vraie base sur disque) : l'import aboutit, le navigateur n'affiche ni erreur ni « base occupée », et le nouveau
protocole apparaît ensuite dans le tableau de bord.

Le serveur garde la base ouverte entre ses lectures (perr_metrics/stockage/magasin.py, `_Garde`) ; la ligne de commande, qui attend la
base, le signale, et le serveur la lui cède (voir aussi tests/core/test_db.py)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import pytest
from playwright.sync_api import Page, expect

from tests import classeurs
from tests.e2e.conftest import (COMPTES_DEMO, PREMIER_CHARGEMENT, RACINE, lien_menu, ouvrir_connecte,
                                serveur_streamlit)
from tests.e2e.test_accueil import TITRE_ACCUEIL, attendre_fin_calcul, protocole_choisi

pytestmark = pytest.mark.e2e

PAGES = ["Vue d'ensemble", "Par axe", "Par QPV", "Par signataire", "Engagements", "Suivi des dépôts", "Accueil"]


@pytest.fixture(scope="module")
def serveur(tmp_path_factory):
    dossier = tmp_path_factory.mktemp("perr-e2e-concurrence")
    with serveur_streamlit(dossier, "streamlit-e2e-concurrence.log") as url:
        yield url, dossier / "perr.duckdb"


def test_import_en_ligne_de_commande_pendant_la_consultation(onglet: Page, serveur, tmp_path, capture):
    url, base = serveur
    page = onglet
    ouvrir_connecte(page, url + "/accueil")
    expect(page.get_by_role("heading", name=TITRE_ACCUEIL, exact=True)).to_be_visible(timeout=PREMIER_CHARGEMENT)
    attendre_fin_calcul(page)

    classeur = classeurs.ecrire(tmp_path)
    env = dict(os.environ, PYTHONPATH=str(RACINE), PERR_UTILISATEUR="coordination",
               PERR_MOT_DE_PASSE=COMPTES_DEMO["coordination"][0], PERR_DB_DELAI="60")
    cli = subprocess.Popen([sys.executable, "-m", "perr_metrics", "--db", str(base), "referentiel", "importer",
                            str(classeur)], cwd=RACINE, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    pages_vues = 0
    try:
        # Le COPIL parcourt les pages pendant l'import : chaque page lit la base.
        limite = time.monotonic() + 120
        while (cli.poll() is None or pages_vues < len(PAGES)) and time.monotonic() < limite:
            lien_menu(page, PAGES[pages_vues % len(PAGES)]).click()
            attendre_fin_calcul(page)
            expect(page.get_by_test_id("stException")).to_have_count(0)
            expect(page.get_by_test_id("stAlert").filter(has_text="occupée")).to_have_count(0)
            expect(page.get_by_test_id("stAlert").filter(has_text="erreur inattendue")).to_have_count(0)
            pages_vues += 1
        sortie, erreur = cli.communicate(timeout=120)
    finally:
        if cli.poll() is None:
            cli.kill()
    assert cli.returncode == 0, erreur
    assert "EQ2030-TEST" in sortie
    assert pages_vues >= len(PAGES)

    # Le nouveau protocole se voit sans redémarrer le serveur.
    page.goto(url + "/?protocole=EQ2030-TEST")
    expect(page.get_by_role("heading", name=TITRE_ACCUEIL, exact=True)).to_be_visible(timeout=PREMIER_CHARGEMENT)
    attendre_fin_calcul(page)
    expect(protocole_choisi(page)).to_have_value(re.compile(re.escape("(EQ2030-TEST)")))
    capture(page, "concurrence-apres-import")
    assert not list(base.parent.glob("*.attente.*"))
