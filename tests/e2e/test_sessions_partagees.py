"""Deux serveurs du tableau de bord sur la même base (deux `streamlit run`, deux ports, le même `cookieSecret`, comme
deux répliques derrière un proxy inverse) : une session ouverte sur le serveur A vaut sur le serveur B (le navigateur
y présente le même cookie : les cookies ne distinguent pas les ports) ; la déconnexion sur B ferme la session de A à
sa page suivante. Et, sur ces serveurs, un administrateur limité à Blois ne voit que Blois.

Les deux processus partagent le fichier DuckDB comme le tableau de bord et la ligne de commande : chacun ne le garde
ouvert qu'entre des lectures rapprochées et le cède à l'autre qui l'attend (perr_metrics/stockage/magasin.py, `_Garde` ;
voir test_concurrence.py). La session elle-même est dans la base (perr_metrics/acces/sessions.py)."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import (PREMIER_CHARGEMENT, bandeau_connecte, connecter, lien_menu, page_de_connexion,
                                serveur_streamlit)
from tests.e2e.test_accueil import TITRE_ACCUEIL, attendre_fin_calcul, protocole_choisi

pytestmark = pytest.mark.e2e

# Le même secret de cookie sur chaque réplique (Streamlit ne l'accepte que par sa configuration ou l'environnement).
SECRET = "le-meme-secret-sur-chaque-replique"
NOM_COPIL = "Membre du COPIL (démo)"


@pytest.fixture(scope="module")
def deux_serveurs(tmp_path_factory):
    dossier = tmp_path_factory.mktemp("perr-e2e-repliques")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STREAMLIT_SERVER_COOKIE_SECRET", SECRET)
        with serveur_streamlit(dossier, "streamlit-e2e-replique-a.log") as a, \
                serveur_streamlit(dossier, "streamlit-e2e-replique-b.log") as b:
            yield a, b, dossier / "perr.duckdb"


def test_une_session_ouverte_sur_a_vaut_sur_b_et_se_ferme_partout(navigateur, deux_serveurs, capture):
    url_a, url_b, _ = deux_serveurs
    assert url_a != url_b
    contexte = navigateur.new_context(viewport={"width": 1400, "height": 900}, locale="fr-FR",
                                      timezone_id="Europe/Paris")
    contexte.set_default_timeout(30_000)
    try:
        # Serveur A : connexion par le formulaire (la première requête crée la base et charge la démonstration).
        a = contexte.new_page()
        a.goto(url_a + "/accueil")
        connecter(a, "copil")
        expect(a.get_by_role("heading", name=TITRE_ACCUEIL, exact=True)).to_be_visible(timeout=PREMIER_CHARGEMENT)
        attendre_fin_calcul(a)
        # Le cookie de session est posé par la page (script) : on l'attend avant d'ouvrir B.
        for _ in range(100):
            if any(c["name"] == "perr_session" and c["value"] for c in contexte.cookies()):
                break
            a.wait_for_timeout(100)
        assert any(c["name"] == "perr_session" and c["value"] for c in contexte.cookies())
        capture(a, "repliques-A-connecte")

        # Serveur B, même navigateur (même cookie) : connecté sans formulaire.
        b = contexte.new_page()
        b.goto(url_b + "/accueil")
        expect(bandeau_connecte(b, NOM_COPIL)).to_be_visible(timeout=PREMIER_CHARGEMENT)
        expect(page_de_connexion(b)).to_have_count(0)
        expect(b.get_by_role("heading", name=TITRE_ACCUEIL, exact=True)).to_be_visible(timeout=PREMIER_CHARGEMENT)
        attendre_fin_calcul(b)
        expect(b.get_by_test_id("stException")).to_have_count(0)
        capture(b, "repliques-B-meme-session")

        # Déconnexion sur B.
        b.get_by_test_id("stSidebar").get_by_role("button", name="Se déconnecter").click()
        expect(page_de_connexion(b)).to_be_visible(timeout=60_000)

        # A, à sa page suivante (sans recharger : la même session Streamlit) : sa session est fermée.
        lien_menu(a, "Vue d'ensemble").click()
        expect(page_de_connexion(a)).to_be_visible(timeout=60_000)
        expect(a.get_by_test_id("stAlert").filter(has_text="Votre session a été fermée")).to_be_visible()
        expect(bandeau_connecte(a)).to_have_count(0)
        capture(a, "repliques-A-session-fermee-par-B")

        # Un onglet neuf sur A non plus n'est pas connecté (le cookie ne désigne plus aucune session).
        c = contexte.new_page()
        c.goto(url_a + "/")
        expect(page_de_connexion(c)).to_be_visible(timeout=PREMIER_CHARGEMENT)
    finally:
        contexte.close()


def test_un_administrateur_de_blois_ne_voit_que_blois(navigateur, deux_serveurs, capture):
    """Un compte créé par la ligne de commande pendant que les deux serveurs tournent (la base leur est empruntée le
    temps de l'écriture) : sur B, l'administrateur de Blois n'a que Blois dans le sélecteur, et que les comptes de
    Blois sur la page Comptes."""
    import os
    import subprocess
    import sys

    from tests.e2e.conftest import COMPTES_DEMO, RACINE

    url_a, url_b, base = deux_serveurs
    env = dict(os.environ, PYTHONPATH=str(RACINE), PERR_UTILISATEUR="coordination",
               PERR_MOT_DE_PASSE=COMPTES_DEMO["coordination"][0], PERR_NOUVEAU_MOT_DE_PASSE="blois-coordination",
               PERR_DB_DELAI="60")
    r = subprocess.run([sys.executable, "-m", "perr_metrics", "--db", str(base), "utilisateurs", "ajouter",
                        "coord.blois", "--nom", "Coordination de Blois", "--role", "administrateur",
                        "--protocole", "BLOIS-PERR-2020"], cwd=RACINE, env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert "le protocole BLOIS-PERR-2020" in r.stdout
    contexte = navigateur.new_context(viewport={"width": 1400, "height": 900}, locale="fr-FR",
                                      timezone_id="Europe/Paris")
    contexte.set_default_timeout(30_000)
    try:
        page = contexte.new_page()
        page.goto(url_b + "/?protocole=TCM-PERR-2019")
        connecter(page, "coord.blois", "blois-coordination")
        choisi = protocole_choisi(page)
        expect(choisi).to_have_value(re.compile(r"\(BLOIS-PERR-2020\)"), timeout=PREMIER_CHARGEMENT)
        choisi.click()
        options = page.get_by_role("option")
        expect(options).to_have_count(1)
        expect(options.first).to_contain_text("BLOIS-PERR-2020")
        page.keyboard.press("Escape")
        lien_menu(page, "Comptes").click()
        expect(page.get_by_role("heading", name="Comptes", exact=True)).to_be_visible(timeout=60_000)
        attendre_fin_calcul(page)
        expect(page.get_by_text("Votre compte couvre le protocole BLOIS-PERR-2020")).to_be_visible()
        expect(page.get_by_test_id("stException")).to_have_count(0)
        capture(page, "organisations-comptes-administrateur-de-blois")
    finally:
        contexte.close()
