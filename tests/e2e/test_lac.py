"""Deux serveurs du tableau de bord sur le même lac DuckLake (vrai PostgreSQL, vrai Chromium) pendant qu'un import passe
par la ligne de commande : aucun n'attend, aucun n'affiche d'erreur, et tous deux montrent le nouveau protocole sans
redémarrer (la clé de leur cache suit l'instantané du lac). Sauté sans lac d'essai (PERR_TEST_LAC : `bash .ci/run`)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests import classeurs
from tests.conftest import LAC, LAC_DONNEES
from tests.e2e.conftest import COMPTES_DEMO, PREMIER_CHARGEMENT, RACINE, lien_menu, ouvrir_connecte, serveur_streamlit
from tests.e2e.test_accueil import TITRE_ACCUEIL, attendre_fin_calcul, protocole_choisi

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(not (LAC and LAC_DONNEES), reason="pas de lac d'essai")]


@pytest.fixture(scope="module")
def deux_serveurs(tmp_path_factory):
    schema = f"e2e_{uuid.uuid4().hex[:10]}"
    env = {"PERR_DB": LAC, "PERR_LAKE_DONNEES": str(Path(LAC_DONNEES) / schema), "PERR_LAKE_SCHEMA": schema}
    # Le lac est préparé avant les serveurs (la démonstration, par la ligne de commande), comme en production.
    prep = subprocess.run([sys.executable, "-m", "perr_metrics", "init", "--demo"], cwd=RACINE,
                          env=dict(os.environ, **env, PYTHONPATH=str(RACINE)), capture_output=True, text=True,
                          timeout=600)
    assert prep.returncode == 0, prep.stderr
    dossier = tmp_path_factory.mktemp("perr-e2e-lac")
    with serveur_streamlit(dossier, "streamlit-e2e-lac-1.log", env_en_plus=env) as un, \
            serveur_streamlit(dossier, "streamlit-e2e-lac-2.log", env_en_plus=env) as deux:
        yield un, deux, env
    assert not (dossier / "perr.duckdb").exists()       # aucun fichier : les serveurs ont bien pris le lac


def test_deux_serveurs_sur_le_lac_pendant_un_import(nouvel_onglet, deux_serveurs, tmp_path, capture):
    un, deux, env_lac = deux_serveurs
    onglets: list[Page] = [nouvel_onglet(), nouvel_onglet()]
    for page, url in zip(onglets, (un, deux)):
        ouvrir_connecte(page, url + "/accueil")
        expect(page.get_by_role("heading", name=TITRE_ACCUEIL, exact=True)).to_be_visible(timeout=PREMIER_CHARGEMENT)
        attendre_fin_calcul(page)

    env = dict(os.environ, **env_lac, PYTHONPATH=str(RACINE), PERR_UTILISATEUR="coordination",
               PERR_MOT_DE_PASSE=COMPTES_DEMO["coordination"][0])
    debut = time.monotonic()
    cli = subprocess.Popen([sys.executable, "-m", "perr_metrics", "referentiel", "importer",
                            str(classeurs.ecrire(tmp_path))], cwd=RACINE, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    vues = 0
    try:
        pages = ["Vue d'ensemble", "Par signataire", "Suivi des dépôts", "Accueil"]
        while (cli.poll() is None or vues < 4) and time.monotonic() - debut < 180:
            page = onglets[vues % 2]
            lien_menu(page, pages[(vues // 2) % len(pages)]).click()
            attendre_fin_calcul(page)
            expect(page.get_by_test_id("stException")).to_have_count(0)
            expect(page.get_by_test_id("stAlert").filter(has_text=re.compile("occupée|erreur inattendue|réessayez"))
                   ).to_have_count(0)
            vues += 1
        sortie, erreur = cli.communicate(timeout=180)
    finally:
        if cli.poll() is None:
            cli.kill()
    assert cli.returncode == 0, erreur
    assert "EQ2030-TEST" in sortie

    for i, (page, url) in enumerate(zip(onglets, (un, deux)), start=1):
        page.goto(url + "/?protocole=EQ2030-TEST")
        expect(page.get_by_role("heading", name=TITRE_ACCUEIL, exact=True)).to_be_visible(timeout=PREMIER_CHARGEMENT)
        attendre_fin_calcul(page)
        expect(protocole_choisi(page)).to_have_value(re.compile(re.escape("(EQ2030-TEST)")))
        capture(page, f"lac-serveur-{i}-apres-import")
