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

Connexion (le tableau de bord l'exige) :
- `connecter(page, identifiant="coordination", mot_de_passe=None)` remplit le vrai formulaire de connexion affiché par
  la page et attend « Connecté : NOM » dans la barre latérale (mot de passe par défaut : celui du compte de démonstration).
- `ouvrir_connecte(page, url, identifiant="coordination")` : comme un lien reçu par courriel. Ouvre `url` ; vérifie que la
  page de connexion s'affiche sous cette même adresse ; se connecte ; vérifie qu'on reste sur la même page, avec les mêmes
  paramètres. Tous les tests qui ouvrent une adresse passent par là.
  La session survit au rechargement (cookie posé par un script de la page) : `connecter` accepte un onglet déjà
  connecté sous le bon compte.
- Le journal de chaque serveur est relu à son arrêt : une ligne du logger `streamlit.deprecation_util` (une
  dépréciation de Streamlit) fait échouer les tests.
- `serveur_streamlit(dossier, …, options=[…], port=…)` sert aussi au serveur de la connexion unique (test_connexion.py),
  qui reçoit ses secrets par `--secrets.files`.
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
from urllib.parse import parse_qs, urlsplit

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
PREMIER_CHARGEMENT = 90_000  # ms : la première requête d'un serveur crée la base et importe la démonstration

# Les comptes de la démonstration (perr_metrics/acces/comptes.py, COMPTES_DEMO) : identifiant → (mot de passe, nom affiché).
COMPTES_DEMO = {
    "coordination": ("coordination-demo", "Équipe de coordination (démo)"),
    "copil": ("copil-demo-2024", "Membre du COPIL (démo)"),
    "caf-aube": ("caf-aube-demo", "CAF de l'Aube (démo)"),
}


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
def serveur_streamlit(dossier, nom_journal: str = "streamlit-e2e.log", *, options: list[str] = (),
                      port: int | None = None):
    """Un vrai `streamlit run dashboard.py` sur 127.0.0.1, port libre (ou `port`), base `dossier`/perr.duckdb (créée
    à la première requête si elle n'existe pas) ; `options` s'ajoutent à la ligne de commande. Donne son adresse."""
    port = port or _port_libre()
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
        # Le nom du logger dans chaque ligne du journal : une dépréciation de Streamlit (logger
        # streamlit.deprecation_util) y est reconnue sans dépendre de son texte, et fait échouer les tests.
        "--logger.messageFormat", "%(asctime)s %(name)s %(levelname)s %(message)s",
        *options,
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
        arreter(serveur)
        journal.close()
    depreciations = depreciations_du_journal(chemin_journal)
    if depreciations:
        pytest.fail(f"Le serveur a écrit {len(depreciations)} dépréciation(s) de Streamlit ({chemin_journal}) : "
                    f"à remplacer avant que Streamlit ne les retire.\n" + "\n".join(depreciations[:5]), pytrace=False)


def depreciations_du_journal(chemin: Path) -> list[str]:
    """Les lignes du journal d'un serveur de test écrites par streamlit.deprecation_util."""
    texte = Path(chemin).read_text(encoding="utf-8", errors="replace")
    return [ligne for ligne in texte.splitlines() if " streamlit.deprecation_util " in ligne]


def arreter(proc: subprocess.Popen) -> None:
    """Arrête un processus lancé par les tests (poliment, puis de force)."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


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


# --------------------------------------------------------------------------------------------------------------------
# Connexion par le vrai formulaire
# --------------------------------------------------------------------------------------------------------------------

def page_de_connexion(page):
    """Le titre « Connexion » de pages/connexion.py."""
    return page.get_by_test_id("stMain").get_by_role("heading", name="Connexion", exact=True)


def bandeau_connecte(page, nom: str | None = None):
    """« Connecté : NOM » dans la barre latérale (ui.bandeau_utilisateur)."""
    texte = re.compile(r"^Connecté : " + (re.escape(nom) if nom else ""))
    return page.get_by_test_id("stSidebar").get_by_text(texte)


def connecter(page, identifiant: str = "coordination", mot_de_passe: str | None = None, *,
              delai: int = PREMIER_CHARGEMENT) -> None:
    """Remplit le formulaire de connexion affiché par la page (« Identifiant », « Mot de passe », « Se connecter ») et
    attend « Connecté : NOM ». Mot de passe par défaut : celui du compte de démonstration."""
    from playwright.sync_api import expect

    mot_de_passe = mot_de_passe if mot_de_passe is not None else COMPTES_DEMO[identifiant][0]
    nom = COMPTES_DEMO[identifiant][1] if identifiant in COMPTES_DEMO else None
    # La session survit au rechargement (cookie) : le navigateur peut déjà être connecté.
    expect(page_de_connexion(page).or_(bandeau_connecte(page))).to_be_visible(timeout=delai)
    if bandeau_connecte(page).count():
        if nom and bandeau_connecte(page, nom).count():
            return
        page.get_by_test_id("stSidebar").get_by_role("button", name="Se déconnecter").click()
        expect(page_de_connexion(page)).to_be_visible(timeout=delai)
    formulaire = page.get_by_test_id("stForm")
    formulaire.get_by_label("Identifiant", exact=True).fill(identifiant)
    formulaire.get_by_label("Mot de passe", exact=True).fill(mot_de_passe)
    formulaire.get_by_role("button", name="Se connecter").click()
    expect(bandeau_connecte(page, nom)).to_be_visible(timeout=60_000)


def _meme_adresse(actuelle: str, attendue: str) -> bool:
    """Même chemin, et chaque paramètre de `attendue` présent avec la même valeur (la page peut en ajouter)."""
    a, b = urlsplit(actuelle), urlsplit(attendue)
    if (a.scheme, a.netloc, a.path.rstrip("/")) != (b.scheme, b.netloc, b.path.rstrip("/")):
        return False
    params = parse_qs(a.query)
    return all(params.get(k) == v for k, v in parse_qs(b.query).items())


def attendre_meme_adresse(page, url: str, delai: float = 30) -> None:
    limite = time.monotonic() + delai
    while not _meme_adresse(page.url, url):
        if time.monotonic() > limite:
            raise AssertionError(f"L'adresse a changé : attendu {url} (ou les mêmes paramètres), obtenu {page.url}")
        page.wait_for_timeout(100)


def ouvrir_connecte(page, url: str, identifiant: str = "coordination", mot_de_passe: str | None = None) -> None:
    """Ouvre `url` comme un lien reçu : si personne n'est connecté dans ce navigateur, la page de connexion s'affiche
    sous cette adresse, sans la changer, et après connexion c'est la page demandée, avec ses paramètres, qui s'ouvre ;
    si la session du navigateur est ouverte (cookie), la page s'ouvre directement. L'appelant attend ensuite le titre
    de la page."""
    page.goto(url)
    connecter(page, identifiant, mot_de_passe)      # attend d'abord le formulaire de connexion
    attendre_meme_adresse(page, url)


def deplier_menu(page) -> None:
    """Streamlit replie un long menu (« View N more ») : celui de l'administrateur cache ainsi la section
    Administration. On le déplie, comme le ferait l'utilisateur."""
    plus = page.get_by_test_id("stSidebarNav").get_by_text(re.compile(r"^View \d+ more$"))
    if plus.count():
        plus.click()


def lien_menu(page, titre: str):
    """Le lien `titre` du menu latéral (menu déplié d'abord)."""
    deplier_menu(page)
    return page.get_by_test_id("stSidebarNav").get_by_role("link", name=titre, exact=True)


def pages_du_menu(page) -> set[str]:
    """Les titres des pages du menu latéral (menu déplié)."""
    deplier_menu(page)
    # Le texte d'un lien commence par le nom de son icône (« home\n\nAccueil ») : on garde la dernière ligne.
    return {t.strip().splitlines()[-1].strip()
            for t in page.get_by_test_id("stSidebarNav").get_by_role("link").all_inner_texts()}
