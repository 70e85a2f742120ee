"""La connexion au tableau de bord dans un vrai navigateur : formulaire, rôles, déconnexion, authentification unique.

- Sur le serveur de la session (`app_url`, comptes de démonstration) : mauvais mot de passe puis bon ; ce que voient le
  lecteur (`copil`) et le contributeur (`caf-aube`) ; « Se déconnecter ».
- Sur un serveur à part (`app_sso`) : la connexion unique (« Se connecter avec ProConnect », `st.login`) contre
  oidc-provider-mock, avec le vrai tableau de bord.

Recette de la connexion unique (vérifiée, reprise de l'ancien prototype tests/e2e/sso_prototype/) :
- `streamlit[auth]` (Authlib) et `oidc-provider-mock` (requirements-dev.txt) ; le fournisseur factice tourne par
  `python -m oidc_provider_mock --host 127.0.0.1 --port P` ; il est prêt quand /.well-known/openid-configuration répond.
- Les secrets ([auth] redirect_uri + cookie_secret, [auth.proconnect] client_id / client_secret / server_metadata_url)
  sont écrits dans un fichier temporaire passé par `--secrets.files` (qui remplace la liste par défaut : le
  .streamlit/secrets.toml du dépôt n'est pas lu ; équivalent : STREAMLIT_SECRETS_FILES=<chemin>).
- Tout sur 127.0.0.1, jamais « localhost » : redirect_uri, cookies et contrôle d'origine doivent désigner le même hôte
  (ouvert par localhost, le retour arrive sans le cookie qui porte l'état OAuth : on revient non connecté, sans message).
- Le formulaire du fournisseur (/oauth2/authorize) : champ `sub` + « Authorize » ; un `sub` inconnu devient un
  utilisateur dont l'e-mail vaut `sub`. Ses pages chargent pico.css depuis cdn.jsdelivr.net : on coupe court (hors ligne).
- La déconnexion (`st.logout`) passe par la page « End session » du fournisseur, qui ramène à /oauth2callback puis « / ».
- Le compte local de l'agent est créé avant le démarrage du serveur, par la ligne de commande
  (`init --demo`, puis `utilisateurs ajouter … --courriel … --sans-mot-de-passe` au nom de la coordination).
"""
from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import (
    ARTEFACTS, arreter, COMPTES_DEMO, DELAI_DEMARRAGE, PREMIER_CHARGEMENT, RACINE, _port_libre, attendre_meme_adresse,
    bandeau_connecte, connecter, lien_menu, ouvrir_connecte, page_de_connexion, pages_du_menu, serveur_streamlit,
)
from tests.e2e.test_accueil import GRAPHIQUE, TITRE_ACCUEIL, attendre_fin_calcul

pytestmark = pytest.mark.e2e

TROYES = "TCM-PERR-2019"
PILOTAGE = {"Accueil", "Vue d'ensemble", "Par axe", "Par QPV", "Par signataire", "Fiche indicateur", "Engagements"}
ADMINISTRATION = {"Référentiel", "Comptes", "Journal", "Vue publique"}
PAGES_LECTEUR = PILOTAGE | {"Suivi des dépôts", "Rapport annuel", "Mon compte"}
PAGES_CONTRIBUTEUR = {"Accueil", "Engagements", "Déposer", "Suivi des dépôts", "Mon compte"}
ACCUEIL_LECTEUR = "Vue d'ensemble"          # un membre du COPIL arrive sur la vue d'ensemble
ACCUEIL_CONTRIBUTEUR = "Votre espace partenaire"
PAGES_ADMINISTRATEUR = PAGES_LECTEUR | {"Déposer"} | ADMINISTRATION
PUBLIQUE = "Indicateurs publiés"      # dans le menu de tous les rôles si la vue publique est ouverte


def assert_menu(page: Page, attendues: set[str]) -> None:
    vues = pages_du_menu(page)
    assert vues - {PUBLIQUE} == attendues, f"menu : {sorted(vues)} ; attendu : {sorted(attendues)}"


def tableau_des_comptes_demo(page: Page):
    return page.get_by_test_id("stTable").filter(has_text="copil-demo-2024")


# --------------------------------------------------------------------------------------------------------------------
# Identifiant et mot de passe
# --------------------------------------------------------------------------------------------------------------------

def test_mauvais_mot_de_passe_puis_accueil(onglet: Page, app_url, capture):
    page = onglet
    page.goto(app_url + "/")
    expect(page_de_connexion(page)).to_be_visible(timeout=PREMIER_CHARGEMENT)
    attendre_meme_adresse(page, app_url + "/connexion")     # une seule adresse par page : la racine y renvoie
    attendre_fin_calcul(page)
    # Les comptes de démonstration, un par rôle, avec leur mot de passe.
    expect(page.get_by_test_id("stAlert").filter(has_text="Démonstration")).to_be_visible()
    tableau = tableau_des_comptes_demo(page)
    expect(tableau).to_be_visible()
    for identifiant, (mot_de_passe, _) in COMPTES_DEMO.items():
        expect(tableau).to_contain_text(identifiant)
        expect(tableau).to_contain_text(mot_de_passe)
    for role in ("Administrateur", "Lecteur", "Contributeur"):
        expect(tableau).to_contain_text(role)
    # Sans section [auth] dans les secrets : pas de connexion unique proposée ; personne de connecté.
    expect(page.get_by_role("button", name=re.compile("^Se connecter avec"))).to_have_count(0)
    expect(bandeau_connecte(page)).to_have_count(0)
    capture(page, "connexion")

    formulaire = page.get_by_test_id("stForm")
    formulaire.get_by_label("Identifiant", exact=True).fill("coordination")
    formulaire.get_by_label("Mot de passe", exact=True).fill("pas-le-bon")
    formulaire.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_test_id("stAlert").filter(has_text="Identifiant ou mot de passe incorrect.")).to_be_visible(
        timeout=30_000)
    expect(page_de_connexion(page)).to_be_visible()
    expect(bandeau_connecte(page)).to_have_count(0)
    capture(page, "connexion-refusee")

    connecter(page, "coordination")
    expect(page.get_by_role("heading", name=TITRE_ACCUEIL, exact=True)).to_be_visible(timeout=60_000)
    attendre_meme_adresse(page, app_url + "/accueil")
    attendre_fin_calcul(page)
    expect(bandeau_connecte(page)).to_contain_text("Administrateur")
    assert_menu(page, PAGES_ADMINISTRATEUR)
    expect(page.locator(GRAPHIQUE).first).to_be_visible(timeout=60_000)
    capture(page, "accueil-administrateur")


def test_lecteur_pilotage_sans_depot_ni_comptes(onglet: Page, app_url, capture):
    page = onglet
    # Son arrivée (« / ») le mène à la vue d'ensemble, à son adresse (la même pour tous les rôles).
    page.goto(app_url + "/")
    connecter(page, "copil")
    expect(page.get_by_role("heading", name=ACCUEIL_LECTEUR, exact=True)).to_be_visible(timeout=60_000)
    attendre_meme_adresse(page, app_url + "/vue_ensemble")
    attendre_fin_calcul(page)
    expect(bandeau_connecte(page, "Membre du COPIL (démo)")).to_contain_text("Lecteur")
    assert_menu(page, PAGES_LECTEUR)
    expect(page.locator(GRAPHIQUE).first).to_be_visible(timeout=60_000)
    capture(page, "accueil-lecteur")

    # L'adresse d'une page d'administration, tapée ou reçue : la connexion, puis un refus, sous la même adresse.
    ouvrir_connecte(page, app_url + "/comptes", "copil")
    expect(page.get_by_role("heading", name="Accès refusé", exact=True)).to_be_visible(timeout=60_000)
    expect(page.get_by_test_id("stAlert").filter(has_text="n'est pas ouverte à votre rôle (lecteur")).to_be_visible()
    expect(page.get_by_role("heading", name="Comptes", exact=True)).to_have_count(0)
    attendre_meme_adresse(page, app_url + "/comptes")
    capture(page, "lecteur-comptes-refuse")


def test_contributeur_arrive_sur_son_espace_puis_deposer(onglet: Page, app_url, capture):
    page = onglet
    page.goto(app_url + "/")
    connecter(page, "caf-aube")
    expect(page.get_by_role("heading", name=ACCUEIL_CONTRIBUTEUR, exact=True)).to_be_visible(timeout=60_000)
    attendre_meme_adresse(page, app_url + "/accueil")       # la même adresse que pour la coordination
    attendre_fin_calcul(page)
    expect(bandeau_connecte(page, "CAF de l'Aube (démo)")).to_contain_text("CAF10")
    assert_menu(page, PAGES_CONTRIBUTEUR)
    expect(page.get_by_role("heading", name="Ce qui est attendu de vous", exact=True)).to_be_visible()
    capture(page, "accueil-contributeur")
    lien_menu(page, "Déposer").click()
    expect(page.get_by_role("heading", name="Déposer des valeurs", exact=True)).to_be_visible(timeout=60_000)
    attendre_fin_calcul(page)
    expect(page.get_by_text("Vous déposez au nom de CAF de l'Aube (démo) (caf-aube)")).to_be_visible()
    # Son protocole et son signataire, rien d'autre.
    protocole = page.get_by_test_id("stSelectbox").filter(has=page.get_by_text("Protocole", exact=True))
    expect(protocole.get_by_role("combobox")).to_have_value(re.compile(re.escape(f"({TROYES})")))
    signataire = page.get_by_test_id("stSelectbox").filter(has=page.get_by_text("Signataire ou service", exact=True))
    expect(signataire.get_by_role("combobox")).to_have_value("CAF de l'Aube (CAF10)")
    for boite, attendu in ((protocole, f"({TROYES})"), (signataire, "CAF de l'Aube (CAF10)")):
        boite.click()
        options = page.get_by_role("option")
        expect(options.first).to_be_visible()
        textes = [t.strip() for t in options.all_inner_texts()]
        assert len(textes) == 1 and textes[0].endswith(attendu), textes
        page.keyboard.press("Escape")
    expect(page.get_by_role("button", name=re.compile(r"^Modèle CAF10 — "))).to_be_visible()
    capture(page, "deposer-contributeur")

    # Un lien vers un autre protocole ne l'ouvre pas : on reste sur celui de la CAF de l'Aube.
    page.goto(app_url + "/deposer?protocole=BLOIS-PERR-2020")
    connecter(page, "caf-aube")
    expect(page.get_by_role("heading", name="Déposer des valeurs", exact=True)).to_be_visible(timeout=60_000)
    attendre_fin_calcul(page)
    expect(protocole.get_by_role("combobox")).to_have_value(re.compile(re.escape(f"({TROYES})")))
    expect(page).to_have_url(re.compile(rf"[?&]protocole={TROYES}(&|$)"))


def test_se_deconnecter(onglet: Page, app_url, capture):
    page = onglet
    lien = f"{app_url}/par_axe?protocole={TROYES}&periode=2021"
    ouvrir_connecte(page, lien, "copil")
    expect(page.get_by_role("heading", name="Avancement par axe", exact=True)).to_be_visible(timeout=60_000)
    attendre_fin_calcul(page)
    page.get_by_test_id("stSidebar").get_by_role("button", name="Se déconnecter").click()
    expect(page_de_connexion(page)).to_be_visible(timeout=30_000)
    expect(bandeau_connecte(page)).to_have_count(0)
    expect(page.get_by_role("heading", name="Avancement par axe", exact=True)).to_have_count(0)
    assert not pages_du_menu(page) & (PAGES_LECTEUR - {"Mon compte"}), pages_du_menu(page)
    capture(page, "deconnecte")
    # Rechargée, la page reste celle de la connexion ; se reconnecter rouvre la vue du lien.
    page.reload()
    expect(page_de_connexion(page)).to_be_visible(timeout=30_000)
    connecter(page, "copil")
    expect(page.get_by_role("heading", name="Avancement par axe", exact=True)).to_be_visible(timeout=60_000)
    attendre_meme_adresse(page, lien)


def test_la_session_survit_au_rechargement_et_ouvre_un_lien_dans_un_nouvel_onglet(onglet: Page, app_url):
    """Connecté une fois : la page rechargée reste ouverte, et un lien d'invitation ouvert dans un autre onglet du même
    navigateur s'ouvre directement (cookie de session) ; après « Se déconnecter », plus rien ne s'ouvre sans connexion."""
    page = onglet
    ouvrir_connecte(page, f"{app_url}/vue_ensemble?protocole={TROYES}&periode=2021", "copil")
    expect(page.get_by_role("heading", name="Vue d'ensemble", exact=True)).to_be_visible(timeout=60_000)
    attendre_fin_calcul(page)
    page.reload()
    expect(bandeau_connecte(page, "Membre du COPIL (démo)")).to_be_visible(timeout=60_000)
    expect(page.get_by_role("heading", name="Vue d'ensemble", exact=True)).to_be_visible(timeout=60_000)
    autre = page.context.new_page()
    lien = f"{app_url}/par_axe?protocole={TROYES}&periode=2021&noeud=2"
    autre.goto(lien)
    expect(autre.get_by_role("heading", name="Avancement par axe", exact=True)).to_be_visible(timeout=60_000)
    expect(bandeau_connecte(autre, "Membre du COPIL (démo)")).to_be_visible()
    attendre_meme_adresse(autre, lien)
    attendre_fin_calcul(autre)
    autre.get_by_test_id("stSidebar").get_by_role("button", name="Se déconnecter").click()
    expect(page_de_connexion(autre)).to_be_visible(timeout=30_000)
    page.reload()
    expect(page_de_connexion(page)).to_be_visible(timeout=60_000)


def test_vue_publique_ouverte_puis_consultee_sans_compte(onglet: Page, nouvel_onglet, app_url, capture):
    """L'administrateur ouvre la vue publique et publie un indicateur ; un visiteur sans compte le consulte depuis la
    page de connexion, sans voir ni dépôt ni signataire ; la vue refermée, il ne l'atteint plus."""
    page = onglet
    ouvrir_connecte(page, f"{app_url}/publication?protocole={TROYES}", "coordination")
    expect(page.get_by_role("heading", name="Vue publique", exact=True)).to_be_visible(timeout=60_000)
    attendre_fin_calcul(page)
    interrupteur = page.get_by_test_id("stCheckbox").filter(has_text="Vue publique ouverte")
    interrupteur.locator("label").click()
    attendre_fin_calcul(page)
    choix = page.get_by_test_id("stMultiSelect")
    choix.click()
    page.keyboard.type("SEC-VIDEO")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    expect(choix.get_by_text(re.compile(r"\(SEC-VIDEO\)$"))).to_have_count(1)
    # Le choix relance la page ; un clic pendant cette exécution peut se perdre sur une machine chargée (vu en CI) :
    # on clique, comme l'utilisateur, une fois la page à jour.
    attendre_fin_calcul(page)
    page.get_by_role("button", name="Enregistrer la sélection").click()
    expect(page.get_by_test_id("stAlert").filter(has_text=re.compile(r"\d+ indicateur\(s\) publié\(s\)"))
           ).to_be_visible(timeout=30_000)
    capture(page, "vue-publique-administration")

    visiteur = nouvel_onglet()
    visiteur.goto(app_url + "/")
    expect(page_de_connexion(visiteur)).to_be_visible(timeout=60_000)
    visiteur.get_by_role("link", name="Consulter les indicateurs publiés, sans compte").click()
    expect(visiteur.get_by_role("heading", name="Indicateurs publiés", exact=True)).to_be_visible(timeout=60_000)
    attendre_fin_calcul(visiteur)
    tableau = visiteur.get_by_test_id("stDataFrame").first
    expect(tableau).to_be_visible()
    expect(tableau).to_contain_text("Nombre de caméras de vidéoprotection")
    expect(bandeau_connecte(visiteur)).to_have_count(0)
    capture(visiteur, "vue-publique-visiteur")

    interrupteur.locator("label").click()      # refermée : le visiteur retombe sur la connexion
    attendre_fin_calcul(page)
    visiteur.goto(app_url + "/indicateurs_publies")
    expect(page_de_connexion(visiteur)).to_be_visible(timeout=60_000)


# --------------------------------------------------------------------------------------------------------------------
# Authentification unique (OpenID Connect) contre oidc-provider-mock
# --------------------------------------------------------------------------------------------------------------------

FOURNISSEUR = "proconnect"
CLIENT_ID = "perr-metrics-test"
BOUTON_SSO = "Se connecter avec ProConnect"
AGENT = {"identifiant": "agent.sso", "nom": "Agent SSO", "courriel": "agent@exemple.gouv.fr"}


def _repond(url: str, attendu=None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200 and (attendu is None or attendu(r.read().decode()))
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="module")
def fournisseur_oidc(tmp_path_factory) -> str:
    """oidc-provider-mock sur 127.0.0.1:<port libre> ; rend son adresse (l'« issuer »), sans « / » final."""
    port = _port_libre()
    url = f"http://127.0.0.1:{port}"
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    chemin_journal = ARTEFACTS / "oidc-mock.log"
    journal = open(chemin_journal, "w", encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1", "--port", str(port)],
                            cwd=tmp_path_factory.mktemp("oidc"), env=dict(os.environ, PYTHONUNBUFFERED="1",
                                                                          NO_COLOR="1"),
                            stdin=subprocess.DEVNULL, stdout=journal, stderr=subprocess.STDOUT)
    metadonnees = f"{url}/.well-known/openid-configuration"
    try:
        limite = time.monotonic() + DELAI_DEMARRAGE
        while not _repond(metadonnees, lambda c: json.loads(c).get("issuer") == url):
            if proc.poll() is not None or time.monotonic() > limite:
                journal.flush()
                pytest.fail(f"oidc-provider-mock n'est pas prêt :\n{chemin_journal.read_text()[-3000:]}",
                            pytrace=False)
            time.sleep(0.2)
        yield url
    finally:
        arreter(proc)
        journal.close()


def _cli(base, *args, **env) -> str:
    r = subprocess.run([sys.executable, "-m", "perr_metrics", "--db", str(base), *args], cwd=RACINE,
                       env=dict(os.environ, **env), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"perr_metrics {' '.join(args)} : code {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r.stdout


@pytest.fixture(scope="module")
def app_sso(fournisseur_oidc, tmp_path_factory) -> str:
    """Le vrai tableau de bord, base de démonstration + compte de l'agent (courriel, sans mot de passe), et des secrets
    qui déclarent le fournisseur `proconnect` ; rend l'adresse, sans « / » final."""
    dossier = tmp_path_factory.mktemp("perr-e2e-sso")
    base = dossier / "perr.duckdb"
    _cli(base, "init", "--demo")
    _cli(base, "utilisateurs", "ajouter", AGENT["identifiant"], "--nom", AGENT["nom"], "--role", "lecteur",
         "--courriel", AGENT["courriel"], "--sans-mot-de-passe",
         PERR_UTILISATEUR="coordination", PERR_MOT_DE_PASSE=COMPTES_DEMO["coordination"][0])
    port = _port_libre()
    url = f"http://127.0.0.1:{port}"
    chemin_secrets = dossier / "secrets.toml"
    chemin_secrets.write_text(
        "[auth]\n"
        f'redirect_uri = "{url}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_hex(32)}"\n'
        "\n"
        f"[auth.{FOURNISSEUR}]\n"
        f'client_id = "{CLIENT_ID}"\n'
        f'client_secret = "{secrets.token_urlsafe(24)}"\n'
        f'server_metadata_url = "{fournisseur_oidc}/.well-known/openid-configuration"\n',
        encoding="utf-8")
    with serveur_streamlit(dossier, "streamlit-e2e-sso.log", options=["--secrets.files", str(chemin_secrets)],
                           port=port) as adresse:
        assert adresse == url
        yield url


@pytest.fixture
def page_sso(onglet: Page) -> Page:
    # Les pages du fournisseur factice chargent pico.css depuis cdn.jsdelivr.net : hors ligne, on coupe court.
    onglet.route(re.compile(r"^https?://cdn\.jsdelivr\.net/.*"), lambda route: route.abort())
    return onglet


def _autoriser(page: Page, app: str, fournisseur: str, sub: str, depart: str = "/") -> None:
    """Ouvre `depart`, clique « Se connecter avec ProConnect », et autorise sur le fournisseur factice en tant que `sub`
    (un `sub` inconnu du fournisseur devient un utilisateur dont l'e-mail vaut `sub`)."""
    page.goto(app + depart)
    expect(page_de_connexion(page)).to_be_visible(timeout=PREMIER_CHARGEMENT)
    page.get_by_role("button", name=BOUTON_SSO).click()
    page.wait_for_url(f"{fournisseur}/oauth2/authorize?**")
    expect(page.get_by_role("heading", name="Authorize Client")).to_be_visible()
    page.locator('input[name="sub"]').fill(sub)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"{app}/**")


def test_sso_agent_connu(page_sso: Page, app_sso, fournisseur_oidc, capture):
    page = page_sso
    page.goto(app_sso + "/")
    expect(page_de_connexion(page)).to_be_visible(timeout=PREMIER_CHARGEMENT)
    attendre_fin_calcul(page)
    expect(page.get_by_role("button", name=BOUTON_SSO)).to_be_visible()
    capture(page, "connexion-avec-sso")

    # Le courriel en majuscules et minuscules : le compte est retrouvé sans tenir compte de la casse.
    _autoriser(page, app_sso, fournisseur_oidc, "Agent@Exemple.gouv.fr")
    expect(bandeau_connecte(page, AGENT["nom"])).to_be_visible(timeout=60_000)
    expect(bandeau_connecte(page, AGENT["nom"])).to_contain_text("Lecteur")
    expect(page.get_by_role("heading", name=ACCUEIL_LECTEUR, exact=True)).to_be_visible(timeout=60_000)
    attendre_fin_calcul(page)
    assert_menu(page, PAGES_LECTEUR)
    expect(page.locator(GRAPHIQUE).first).to_be_visible(timeout=60_000)
    capture(page, "sso-connecte")

    # La session de la connexion unique tient dans un cookie : elle survit au rechargement de la page.
    page.reload()
    expect(bandeau_connecte(page, AGENT["nom"])).to_be_visible(timeout=60_000)
    expect(page.get_by_role("heading", name=ACCUEIL_LECTEUR, exact=True)).to_be_visible(timeout=60_000)


def _cookie_sso(page: Page) -> bool:
    return any(c["name"] == "_streamlit_user" for c in page.context.cookies())


def _connecter_sso(page: Page, app: str, fournisseur: str, depart: str = "/") -> None:
    _autoriser(page, app, fournisseur, AGENT["courriel"], depart)
    expect(bandeau_connecte(page, AGENT["nom"])).to_be_visible(timeout=60_000)


def test_sso_se_deconnecter(page_sso: Page, app_sso, fournisseur_oidc, capture):
    page = page_sso
    _connecter_sso(page, app_sso, fournisseur_oidc)
    page.get_by_test_id("stSidebar").get_by_role("button", name="Se déconnecter").click()
    # Attendu : st.logout() efface le cookie et passe par la page « End session » du fournisseur, qui ramène ici.
    try:
        page.wait_for_url(f"{fournisseur_oidc}/oauth2/end_session?**", timeout=15_000)
    except Exception:  # noqa: BLE001 - le constat vient ci-dessous
        pass
    else:
        page.get_by_role("button", name="End session").click()
        page.wait_for_url(f"{app_sso}/**")
    expect(page_de_connexion(page)).to_be_visible(timeout=30_000)
    capture(page, "sso-deconnecte")
    # Déconnecté pour de bon : rechargée, la page reste celle de la connexion.
    page.reload()
    expect(page_de_connexion(page)).to_be_visible(timeout=30_000)
    expect(bandeau_connecte(page)).to_have_count(0, timeout=10_000)
    assert not _cookie_sso(page), "le cookie de la connexion unique (_streamlit_user) est resté"


def test_sso_courriel_sans_compte_refuse(page_sso: Page, app_sso, fournisseur_oidc, capture):
    page = page_sso
    _autoriser(page, app_sso, fournisseur_oidc, "inconnu@exemple.gouv.fr")
    if "/oauth2/end_session" in page.url:      # st.logout() : la page « End session » du fournisseur factice
        capture(page, "sso-refuse-fournisseur")
        page.get_by_role("button", name="End session").click()
        page.wait_for_url(f"{app_sso}/**")
    expect(page_de_connexion(page)).to_be_visible(timeout=30_000)
    expect(page.get_by_test_id("stAlert").filter(
        has_text="Aucun compte n'est associé au courriel inconnu@exemple.gouv.fr")).to_be_visible(timeout=10_000)
    expect(bandeau_connecte(page)).to_have_count(0)
    attendre_fin_calcul(page)
    capture(page, "sso-refuse")


def test_sso_lien_partage_garde_sa_vue(page_sso: Page, app_sso, fournisseur_oidc):
    page = page_sso
    lien = f"/par_axe?protocole={TROYES}&periode=2021&noeud=2"
    _connecter_sso(page, app_sso, fournisseur_oidc, lien)
    # st.login revient par redirect_uri puis « / » : l'application a retenu la page et les filtres du lien.
    expect(page.get_by_role("heading", name="Avancement par axe", exact=True)).to_be_visible(timeout=20_000)
    attendre_meme_adresse(page, app_sso + lien, delai=10)
