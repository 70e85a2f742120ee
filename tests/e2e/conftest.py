"""Tests dans un vrai navigateur : un serveur Streamlit par session, Chromium de Debian piloté par Playwright.

- `app_url` : lance `streamlit run dashboard.py` sur 127.0.0.1, un port libre, avec sa propre base temporaire ($PERR_DB ;
  l'application la crée et y charge la démonstration à la première requête) ; rend l'adresse de base, sans « / » final.
  Le journal du serveur est écrit dans tests/artefacts/streamlit-e2e.log.
- `navigateur` : Chromium (/usr/bin/chromium, ou $PERR_CHROMIUM) en mode headless, via l'API synchrone de Playwright.
  Jamais `playwright install` : le navigateur vient des paquets Debian (voir .ci/run).
- `onglet` : une page neuve (contexte neuf, 1400 × 900, locale fr-FR) par test ; en cas d'échec, une capture
  `ECHEC-<test>.png` est enregistrée. `nouvel_onglet()` en ouvre d'autres (chacune est une nouvelle session Streamlit).
  Les noms ne sont pas `page`/`browser` : si pytest-playwright est installé, ses fixtures de même nom paramétreraient
  les tests par navigateur (`[chromium]`) et voudraient leurs propres navigateurs.
- `capture(page, nom)` : capture pleine page dans tests/artefacts/screenshots/<nom>.png (dossier ignoré par git).
"""
from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

RACINE = Path(__file__).resolve().parents[2]
ARTEFACTS = RACINE / "tests" / "artefacts"
CAPTURES = ARTEFACTS / "screenshots"
CHROMIUM = os.environ.get("PERR_CHROMIUM", "/usr/bin/chromium")
ARGS_CHROMIUM = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
    "--disable-dev-shm-usage",  # /dev/shm fait 64 Mo dans les conteneurs Docker : Chromium y plante sans cette option
]
DELAI_DEMARRAGE = 60  # secondes pour que /_stcore/health réponde « ok »


def pytest_configure(config):
    # Déclaré aussi dans pytest.ini ; le redéclarer ici évite l'avertissement si on lance ce dossier seul.
    config.addinivalue_line("markers", "e2e: tests dans un vrai navigateur (serveur Streamlit + Chromium)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # Garde le résultat de chaque phase sur l'item, pour que la fixture `page` sache si le test a échoué.
    rapport = (yield).get_result()
    setattr(item, f"rapport_{rapport.when}", rapport)


def _port_libre() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sante(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
            return r.read().decode().strip() == "ok"
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def serveur_streamlit(dossier, nom_journal: str = "streamlit-e2e.log"):
    """Un vrai `streamlit run dashboard.py` sur 127.0.0.1, port libre, base neuve dans `dossier` ; donne son adresse."""
    port = _port_libre()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, PERR_DB=str(dossier / "perr.duckdb"), PERR_DEMO="1", PYTHONUNBUFFERED="1")
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    chemin_journal = ARTEFACTS / nom_journal
    journal = open(chemin_journal, "w", encoding="utf-8")
    commande = [
        sys.executable, "-m", "streamlit", "run", "dashboard.py",
        "--server.headless", "true", "--server.address", "127.0.0.1", "--server.port", str(port),
        "--browser.gatherUsageStats", "false",
        # Sans cela, une modification des sources pendant les tests (autres développeurs, éditeur) fait apparaître
        # « Source file changed / Rerun » dans le widget d'état, et les attentes sur ce widget ne finissent jamais.
        "--server.fileWatcherType", "none", "--server.runOnSave", "false",
    ]
    serveur = subprocess.Popen(commande, cwd=RACINE, env=env, stdin=subprocess.DEVNULL, stdout=journal,
                               stderr=subprocess.STDOUT)

    def sortie() -> str:
        journal.flush()
        return chemin_journal.read_text(encoding="utf-8", errors="replace")[-5000:]

    try:
        limite = time.monotonic() + DELAI_DEMARRAGE
        while not _sante(url):
            if serveur.poll() is not None:
                pytest.fail(f"Le serveur Streamlit s'est arrêté (code {serveur.returncode}) avant d'être prêt :\n"
                            f"{sortie()}", pytrace=False)
            if time.monotonic() > limite:
                pytest.fail(f"Le serveur Streamlit ne répond pas « ok » sur {url}/_stcore/health après "
                            f"{DELAI_DEMARRAGE} s :\n{sortie()}", pytrace=False)
            time.sleep(0.25)
        yield url
    finally:
        serveur.terminate()
        try:
            serveur.wait(timeout=10)
        except subprocess.TimeoutExpired:
            serveur.kill()
            serveur.wait(timeout=10)
        journal.close()


@pytest.fixture(scope="session")
def app_url(tmp_path_factory) -> str:
    with serveur_streamlit(tmp_path_factory.mktemp("perr-e2e")) as url:
        yield url


@pytest.fixture(scope="module")
def app_neuve(tmp_path_factory) -> str:
    """Un serveur à part, que personne n'a encore visité : sa première requête peut être un lien profond."""
    with serveur_streamlit(tmp_path_factory.mktemp("perr-e2e-neuf"), "streamlit-e2e-neuf.log") as url:
        yield url


@pytest.fixture(scope="session")
def navigateur():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium introuvable ({CHROMIUM}) : `apt-get install chromium` (ce que fait .ci/run), ou "
                    f"PERR_CHROMIUM=/chemin/vers/chromium.", pytrace=False)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS_CHROMIUM)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def nouvel_onglet(navigateur):
    """Fabrique de pages, chacune dans son propre contexte (pas de cookies ni de session Streamlit partagés)."""
    contextes = []

    def fabriquer():
        ctx = navigateur.new_context(viewport={"width": 1400, "height": 900}, locale="fr-FR",
                                     timezone_id="Europe/Paris")
        ctx.set_default_timeout(30_000)
        contextes.append(ctx)
        return ctx.new_page()

    yield fabriquer
    for ctx in contextes:
        ctx.close()


@pytest.fixture
def onglet(request, nouvel_onglet, _captures_neuves):
    p = nouvel_onglet()
    yield p
    rapport = getattr(request.node, "rapport_call", None)
    if rapport is not None and rapport.failed and not p.is_closed():
        try:
            _capturer(p, f"ECHEC-{re.sub(r'[^A-Za-z0-9_.-]+', '_', request.node.name)}")
        except Exception:  # noqa: BLE001 - une capture ratée ne doit pas masquer l'échec du test
            pass


# Streamlit ne fait pas défiler la page mais son conteneur principal : `full_page=True` seul ne capture que la fenêtre.
# On agrandit donc la fenêtre à la hauteur du contenu le temps de la capture.
_HAUTEUR_CONTENU = """() => Math.max(document.documentElement.scrollHeight,
    ...Array.from(document.querySelectorAll('[data-testid="stMain"], [data-testid="stAppScrollToBottomContainer"],'
                                           + ' [data-testid="stSidebarContent"]'), e => e.scrollHeight))"""


def _capturer(page, nom: str) -> Path:
    CAPTURES.mkdir(parents=True, exist_ok=True)
    chemin = CAPTURES / f"{nom}.png"
    fenetre = page.viewport_size
    hauteur = min(int(page.evaluate(_HAUTEUR_CONTENU)), 20_000)
    if fenetre and hauteur > fenetre["height"]:
        page.set_viewport_size({"width": fenetre["width"], "height": hauteur})
        page.wait_for_timeout(500)  # laisser les graphiques et tableaux se redessiner à la nouvelle taille
        try:
            page.screenshot(path=str(chemin), full_page=True)
        finally:
            page.set_viewport_size(fenetre)
    else:
        page.screenshot(path=str(chemin), full_page=True)
    return chemin


@pytest.fixture(scope="session")
def _captures_neuves():
    """Vide le dossier des captures une fois par session : il ne montre que celles de la dernière exécution."""
    if CAPTURES.exists():
        for f in CAPTURES.glob("*.png"):
            f.unlink()
    CAPTURES.mkdir(parents=True, exist_ok=True)


@pytest.fixture
def capture(_captures_neuves):
    """`capture(page, "accueil")` → tests/artefacts/screenshots/accueil.png (pleine page)."""
    return _capturer
