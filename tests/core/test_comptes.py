"""Comptes, connexion, blocage, authentification unique, journal, ligne de commande `utilisateurs` et `journal`, et la
neutralisation des formules dans chaque export."""
from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from openpyxl import load_workbook

from perr_metrics.acces import comptes
from perr_metrics.depots import depot as depots
from perr_metrics.acces import droits
from perr_metrics.acces import journal
from perr_metrics.pilotage import publication
from perr_metrics.referentiel import classeur as referentiel
from perr_metrics.pilotage import suivi
from perr_metrics.cli import main
from perr_metrics.acces.comptes import CompteRefuse, ConnexionRefusee
from perr_metrics.stockage.magasin import Store
from perr_metrics.acces.droits import AccesRefuse, Utilisateur
from perr_metrics.commun.exports import vers_csv, vers_xlsx
from perr_metrics.depots.modele import ecrire_modele_depot

TCM = "TCM-PERR-2019"


def lancer(capsys, *args):
    code = main([str(a) for a in args])
    s = capsys.readouterr()
    return code, s.out, s.err


# --------------------------------------------------------------------------------------------------------------------
# Base neuve : le premier administrateur
# --------------------------------------------------------------------------------------------------------------------

def test_premier_administrateur_puis_plus_jamais(tmp_path):
    s = Store(tmp_path / "neuve.duckdb")
    assert comptes.aucun_compte(s)
    u = comptes.creer_premier_administrateur(s, "Marie.Curie", "Marie Curie", "un mot de passe long")
    assert (u.identifiant, u.role) == ("marie.curie", "administrateur")
    assert not comptes.aucun_compte(s)
    with pytest.raises(AccesRefuse, match="seul un administrateur"):
        comptes.creer_premier_administrateur(s, "intrus", "Intrus", "un mot de passe long")
    hache = s.requete("SELECT mot_de_passe FROM compte")["mot_de_passe"][0]
    assert hache.startswith("$argon2id$") and "mot de passe" not in hache
    j = journal.lire_journal(s.pour(u))
    assert j[["compte", "action", "objet"]].values.tolist() == [["marie.curie", "compte créé", "marie.curie"]]


@pytest.mark.parametrize("identifiant, nom, mdp, message", [
    ("ab", "Nom", "un mot de passe long", "Identifiant « ab » invalide"),
    ("é-accent", "Nom", "un mot de passe long", "invalide"),
    ("correct", "Nom", "court", "au moins 12 caractères"),
    ("identifiant-long", "Nom", "identifiant-long", "ne peut pas être l'identifiant"),
    ("correct", "  ", "un mot de passe long", "Indiquez le nom"),
])
def test_creation_refusee_en_francais(tmp_path, identifiant, nom, mdp, message):
    s = Store(tmp_path / "neuve.duckdb")
    with pytest.raises(CompteRefuse, match=message):
        comptes.creer_premier_administrateur(s, identifiant, nom, mdp)
    assert comptes.aucun_compte(s)


def test_creer_compte_controles(store_demo):
    with pytest.raises(CompteRefuse, match="déjà pris"):
        comptes.creer_compte(store_demo, "copil", "Autre", "lecteur", "un mot de passe long")
    with pytest.raises(CompteRefuse, match="rattaché à un protocole et à un signataire"):
        comptes.creer_compte(store_demo, "partenaire", "P", "contributeur", "un mot de passe long")
    with pytest.raises(CompteRefuse, match="« INCONNU » n'existe pas"):
        comptes.creer_compte(store_demo, "partenaire", "P", "contributeur", "un mot de passe long", protocole=TCM,
                             signataire="INCONNU")
    with pytest.raises(CompteRefuse, match="Seul un contributeur"):
        comptes.creer_compte(store_demo, "partenaire", "P", "lecteur", "un mot de passe long", protocole=TCM,
                             signataire="CAF10")
    with pytest.raises(CompteRefuse, match="Rôle « superviseur » inconnu"):
        comptes.creer_compte(store_demo, "partenaire", "P", "superviseur", "un mot de passe long")
    with pytest.raises(CompteRefuse, match="courriel pour un compte qui se connecte par l'authentification unique"):
        comptes.creer_compte(store_demo, "partenaire", "P", "lecteur")
    comptes.creer_compte(store_demo, "sso", "Agent", "lecteur", courriel="Agent@Exemple.gouv.fr")
    with pytest.raises(CompteRefuse, match="déjà celui du compte « sso »"):
        comptes.creer_compte(store_demo, "sso2", "Agent", "lecteur", courriel="agent@exemple.gouv.fr")


# --------------------------------------------------------------------------------------------------------------------
# Connexion, blocage, désactivation
# --------------------------------------------------------------------------------------------------------------------

def test_connexion_et_journal(store_demo):
    u = comptes.authentifier(store_demo, "COPIL ", "copil-demo-2024")
    assert (u.identifiant, u.role, u.nom) == ("copil", "lecteur", "Membre du COPIL (démo)")
    with pytest.raises(ConnexionRefusee, match="^Identifiant ou mot de passe incorrect.$"):
        comptes.authentifier(store_demo, "copil", "mauvais")
    with pytest.raises(ConnexionRefusee, match="^Identifiant ou mot de passe incorrect.$"):
        comptes.authentifier(store_demo, "personne", "mauvais")   # même message : on ne dit pas qui existe
    j = journal.lire_journal(store_demo, action="connexion")
    assert j[["compte", "resultat", "detail"]].astype(object).where(j[["compte", "resultat", "detail"]].notna(),
                                                                     None).values.tolist() == [
        ["personne", "échoué", "identifiant inconnu"], ["copil", "échoué", "mot de passe incorrect"],
        ["copil", "réussi", None]]
    assert "copil-demo-2024" not in json.dumps(store_demo.requete("SELECT * FROM journal").astype(str).values.tolist())
    assert store_demo.requete("SELECT derniere_connexion FROM compte WHERE identifiant = 'copil'").notna().all().all()


def test_blocage_apres_echecs_repetes(store_demo):
    t0 = dt.datetime(2026, 3, 1, 9, 0)
    for i in range(comptes.ESSAIS_MAX):
        with pytest.raises(ConnexionRefusee) as exc:
            comptes.authentifier(store_demo, "copil", "mauvais", maintenant=t0 + dt.timedelta(seconds=i))
    assert "Encore" not in str(exc.value)
    # Bloqué, même avec le bon mot de passe, jusqu'à la fin de la fenêtre ; l'heure de reprise est dite.
    with pytest.raises(ConnexionRefusee, match="Trop de tentatives de connexion échouées pour « copil » : réessayez "
                                               "après le 1er mars 2026 à 9 h 15"):
        comptes.authentifier(store_demo, "copil", "copil-demo-2024", maintenant=t0 + dt.timedelta(minutes=5))
    # Un autre compte n'est pas touché.
    comptes.authentifier(store_demo, "coordination", "coordination-demo", maintenant=t0 + dt.timedelta(minutes=5))
    # Après la fenêtre, le bon mot de passe passe, et remet le compteur à zéro.
    comptes.authentifier(store_demo, "copil", "copil-demo-2024", maintenant=t0 + dt.timedelta(minutes=16))
    with pytest.raises(ConnexionRefusee, match="^Identifiant ou mot de passe incorrect.$"):
        comptes.authentifier(store_demo, "copil", "mauvais", maintenant=t0 + dt.timedelta(minutes=17))


def test_avertissement_avant_blocage(store_demo):
    t0 = dt.datetime(2026, 3, 1, 9, 0)
    messages = []
    for i in range(comptes.ESSAIS_MAX - 1):
        with pytest.raises(ConnexionRefusee) as exc:
            comptes.authentifier(store_demo, "copil", "x", maintenant=t0 + dt.timedelta(seconds=i))
        messages.append(str(exc.value))
    assert "Encore 2 essais avant un blocage de 15 minutes" in messages[-2]
    assert "Encore 1 essai avant un blocage" in messages[-1]


def test_compte_desactive_puis_reactive(store_demo):
    comptes.activer_compte(store_demo, "copil", False)
    with pytest.raises(ConnexionRefusee, match="Ce compte est désactivé"):
        comptes.authentifier(store_demo, "copil", "copil-demo-2024")
    with pytest.raises(ConnexionRefusee, match="^Identifiant ou mot de passe incorrect.$"):
        comptes.authentifier(store_demo, "copil", "mauvais")   # sans le bon mot de passe, rien n'est révélé
    assert comptes.recharger(store_demo, "copil") is None      # une session ouverte se ferme à la page suivante
    comptes.activer_compte(store_demo, "copil", True)
    assert comptes.authentifier(store_demo, "copil", "copil-demo-2024").role == "lecteur"
    actions = journal.lire_journal(store_demo, compte="admin-test")["action"].tolist()
    assert actions[:2] == ["compte réactivé", "compte désactivé"]


def test_le_dernier_administrateur_reste(store):
    from tests.conftest import creer_coordination
    creer_coordination(store)
    with pytest.raises(CompteRefuse, match="dernier administrateur actif"):
        comptes.activer_compte(store, "coordination", False)
    with pytest.raises(CompteRefuse, match="dernier administrateur actif"):
        comptes.modifier_compte(store, "coordination", role="lecteur")
    comptes.creer_compte(store, "second", "Second", "administrateur", "un mot de passe long")
    comptes.activer_compte(store, "coordination", False)


def test_changement_de_role_pris_en_compte_a_la_page_suivante(store_demo):
    comptes.modifier_compte(store_demo, "copil", role="administrateur")
    assert comptes.recharger(store_demo, "copil").role == "administrateur"
    u = comptes.modifier_compte(store_demo, "copil", role="contributeur", protocole=TCM, signataire="ETAT")
    assert (u.role, u.signataire) == ("contributeur", "ETAT")


# --------------------------------------------------------------------------------------------------------------------
# Authentification unique : le courriel désigne le compte local
# --------------------------------------------------------------------------------------------------------------------

def test_connexion_sso_par_courriel(store_demo):
    comptes.creer_compte(store_demo, "agent.sso", "Agent SSO", "lecteur", courriel="agent@exemple.gouv.fr")
    u = comptes.connexion_sso(store_demo, "Agent@Exemple.GOUV.fr", fournisseur="proconnect")
    assert (u.identifiant, u.role) == ("agent.sso", "lecteur")
    with pytest.raises(ConnexionRefusee, match="Aucun compte n'est associé au courriel inconnu@exemple.gouv.fr"):
        comptes.connexion_sso(store_demo, "inconnu@exemple.gouv.fr", fournisseur="proconnect")
    with pytest.raises(ConnexionRefusee, match="non transmis"):
        comptes.connexion_sso(store_demo, None, fournisseur="proconnect")
    comptes.activer_compte(store_demo, "agent.sso", False)
    with pytest.raises(ConnexionRefusee, match="désactivé"):
        comptes.connexion_sso(store_demo, "agent@exemple.gouv.fr", fournisseur="proconnect")
    # Sans mot de passe, le compte n'entre pas par le formulaire.
    comptes.activer_compte(store_demo, "agent.sso", True)
    with pytest.raises(ConnexionRefusee):
        comptes.authentifier(store_demo, "agent.sso", "")
    j = journal.lire_journal(store_demo, action="connexion")
    assert "authentification unique (proconnect)" in set(j["objet"])


# --------------------------------------------------------------------------------------------------------------------
# Démonstration
# --------------------------------------------------------------------------------------------------------------------

def test_comptes_de_demonstration(store_demo):
    affiches = comptes.comptes_demo_affiches(store_demo)
    assert [(c.identifiant, c.role) for c in affiches] == [
        ("coordination", "administrateur"), ("copil", "lecteur"), ("caf-aube", "contributeur")]
    for c in affiches:
        assert comptes.authentifier(store_demo, c.identifiant, c.mot_de_passe).role == c.role
    # Un mot de passe changé : le compte n'est plus présenté avec l'ancien.
    comptes.changer_mot_de_passe(store_demo, "copil", "un nouveau mot de passe")
    assert [c.identifiant for c in comptes.comptes_demo_affiches(store_demo)] == ["coordination", "caf-aube"]


# --------------------------------------------------------------------------------------------------------------------
# Le journal : chaque changement, qui, quand, quoi
# --------------------------------------------------------------------------------------------------------------------

def test_chaque_changement_est_au_journal(store_demo, tmp_path):
    caf = store_demo.pour(Utilisateur("caf-aube", "CAF de l'Aube (démo)", "contributeur", TCM, "CAF10"))
    lignes = depots.liste_depots(store_demo, TCM, "CAF10")
    contenu = depots.fichier_du_depot(store_demo, int(lignes["id"].iloc[-1]))[1]
    res = depots.deposer(caf, contenu.replace(b"2019", b"2022") + b"\n", "caf-2022.csv", protocole=TCM,
                         signataire="CAF10", accepter_avertissements=True)
    assert res.statut == "accepte", res.rapport.texte()
    depots.deposer(caf, b"pas un fichier", "illisible.csv", protocole=TCM, signataire="CAF10")
    depots.revoir_depot(store_demo, res.depot_id, "à corriger", "Chiffre à vérifier")
    eng = suivi.etats_courants(caf, TCM)["code"].iloc[0]
    suivi.enregistrer_etat(caf, TCM, eng, "en cours", "2022-01-10", "Lancé", confirmer_recul=True)
    flux = io.BytesIO()
    referentiel.exporter_referentiel(store_demo, TCM, flux)
    referentiel.importer_referentiel(store_demo, flux.getvalue(), "tcm.xlsx")
    publication.publier(store_demo, TCM, ["SEC-VIDEO"])
    comptes.creer_compte(store_demo, "nouveau", "Nouveau", "lecteur", "un mot de passe long")
    j = journal.lire_journal(store_demo)
    vus = list(zip(j["compte"], j["action"], j["resultat"]))
    for attendu in [("caf-aube", "dépôt", "réussi"), ("caf-aube", "dépôt", "échoué"),
                    ("admin-test", "revue de dépôt", "réussi"), ("caf-aube", "état d'engagement", "réussi"),
                    ("admin-test", "import de référentiel", "réussi"), ("admin-test", "publication", "réussi"),
                    ("admin-test", "compte créé", "réussi")]:
        assert attendu in vus, attendu
    depot = j[(j["action"] == "dépôt") & (j["resultat"] == "réussi")].iloc[0]
    assert depot["protocole"] == TCM and f"dépôt n° {res.depot_id}" in depot["objet"]
    assert "signataire CAF10, période 2022" in depot["detail"]
    # Filtres : compte, action, dates.
    assert set(journal.lire_journal(store_demo, compte="caf-aube")["compte"]) == {"caf-aube"}
    assert journal.lire_journal(store_demo, debut=dt.date.today() + dt.timedelta(days=1)).empty
    assert len(journal.lire_journal(store_demo, debut=dt.date.today(), fin=dt.date.today())) == len(
        journal.lire_journal(store_demo)) - len(journal.lire_journal(store_demo, fin=dt.date.today() -
                                                                     dt.timedelta(days=1)))


# --------------------------------------------------------------------------------------------------------------------
# Ligne de commande
# --------------------------------------------------------------------------------------------------------------------

def test_cli_utilisateurs(tmp_path, capsys, monkeypatch):
    db = tmp_path / "perr.duckdb"
    # Base neuve : le premier compte sans connexion, administrateur seulement.
    code, _, err = lancer(capsys, "--db", db, "utilisateurs", "ajouter", "lecteur1", "--nom", "L", "--role", "lecteur")
    assert code == 1 and "le premier doit être un administrateur" in err
    code, out, err = lancer(capsys, "--db", db, "utilisateurs", "ajouter", "coordination", "--nom", "Coordination",
                            "--role", "administrateur")
    assert code == 0 and "Compte « coordination » créé" in out
    # Ensuite, il faut être connecté en administrateur.
    monkeypatch.setenv("PERR_NOUVEAU_MOT_DE_PASSE", "mot de passe du lecteur")
    code, out, err = lancer(capsys, "--db", db, "utilisateurs", "ajouter", "lecteur1", "--nom", "Lecteur Un",
                            "--role", "lecteur", "--courriel", "l1@exemple.fr")
    assert code == 0, err
    code, out, _ = lancer(capsys, "--db", db, "utilisateurs", "lister", "--json")
    assert [(c["identifiant"], c["role"], c["actif"]) for c in json.loads(out)] == [
        ("coordination", "administrateur", True), ("lecteur1", "lecteur", True)]
    assert "mot_de_passe" not in out and "argon2" not in out
    code, out, _ = lancer(capsys, "--db", db, "utilisateurs", "desactiver", "lecteur1")
    assert code == 0 and "désactivé" in out
    monkeypatch.setenv("PERR_UTILISATEUR", "lecteur1")
    monkeypatch.setenv("PERR_MOT_DE_PASSE", "mot de passe du lecteur")
    code, _, err = lancer(capsys, "--db", db, "protocoles")
    assert code == 1 and "désactivé" in err
    monkeypatch.setenv("PERR_UTILISATEUR", "coordination")
    monkeypatch.setenv("PERR_MOT_DE_PASSE", "coordination-demo")
    assert lancer(capsys, "--db", db, "utilisateurs", "activer", "lecteur1")[0] == 0
    monkeypatch.setenv("PERR_NOUVEAU_MOT_DE_PASSE", "un autre mot de passe")
    code, out, _ = lancer(capsys, "--db", db, "utilisateurs", "mot-de-passe", "lecteur1")
    assert code == 0 and "changé" in out
    # Le lecteur ne gère pas les comptes.
    monkeypatch.setenv("PERR_UTILISATEUR", "lecteur1")
    monkeypatch.setenv("PERR_MOT_DE_PASSE", "un autre mot de passe")
    code, _, err = lancer(capsys, "--db", db, "utilisateurs", "lister")
    assert code == 1 and "ne permet pas de gérer les comptes" in err
    # Mauvais mot de passe : refus, code 1, message en français.
    monkeypatch.setenv("PERR_MOT_DE_PASSE", "faux")
    code, _, err = lancer(capsys, "--db", db, "protocoles")
    assert code == 1 and "Identifiant ou mot de passe incorrect" in err


def test_cli_mot_de_passe_absent_hors_terminal(store_demo, capsys, monkeypatch):
    monkeypatch.delenv("PERR_MOT_DE_PASSE")
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code, _, err = lancer(capsys, "--db", store_demo.chemin, "protocoles")
    assert code == 1 and "PERR_MOT_DE_PASSE" in err


def test_cli_journal_et_export_neutralise(store_demo, tmp_path, capsys):
    with pytest.raises(ConnexionRefusee):
        comptes.authentifier(store_demo, "=cmd|' /c calc'!a0", "x")
    code, out, _ = lancer(capsys, "--db", store_demo.chemin, "journal", "--action", "connexion", "--json")
    lignes = json.loads(out)
    assert code == 0 and lignes[0]["compte"] == "coordination" and lignes[0]["resultat"] == "réussi"
    sortie = tmp_path / "journal.csv"
    code, out, _ = lancer(capsys, "--db", store_demo.chemin, "journal", "--csv", sortie)
    assert code == 0
    texte = sortie.read_bytes().decode("utf-8-sig")
    assert "'=cmd|' /c calc'!a0" in texte and ";=cmd" not in texte
    code, _, err = lancer(capsys, "--db", store_demo.chemin, "journal", "--depuis", "hier")
    assert code == 2 and "date illisible" in err


def test_cli_publication(store_demo, capsys):
    assert not publication.vue_publique_ouverte(store_demo)
    assert lancer(capsys, "--db", store_demo.chemin, "publication", "ouvrir")[0] == 0
    code, out, _ = lancer(capsys, "--db", store_demo.chemin, "publication", "publier", "--protocole", TCM,
                          "SEC-VIDEO", "SEC-VIDEO")
    assert code == 0 and "1 indicateur(s) publié(s)" in out
    code, _, err = lancer(capsys, "--db", store_demo.chemin, "publication", "publier", "--protocole", TCM, "NUL")
    assert code == 1 and "NUL" in err
    territoire, quartiers = publication.situation_publique(store_demo.pour(droits.VISITEUR), TCM, "2021")
    assert territoire["indicateur"].tolist() == ["SEC-VIDEO"]
    assert "depot_id" not in territoire.columns and "signataire" not in quartiers.columns
    assert lancer(capsys, "--db", store_demo.chemin, "publication", "fermer")[0] == 0
    with pytest.raises(AccesRefuse, match="vue publique n'est pas ouverte"):
        publication.situation_publique(store_demo.pour(droits.VISITEUR), TCM, "2021")


# --------------------------------------------------------------------------------------------------------------------
# Aucun export n'emporte de formule
# --------------------------------------------------------------------------------------------------------------------

PIEGES = ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)"]


def test_exports_csv_et_xlsx_neutralises():
    import pandas as pd
    df = pd.DataFrame({"texte": PIEGES, "nombre": [-1.5, 2, 3, 4]})
    csv = vers_csv(df).decode("utf-8-sig")
    for p in PIEGES:
        assert f"'{p}".replace('"', '""') in csv
    assert "-1,5" in csv                    # un vrai nombre négatif reste un nombre
    ws = load_workbook(io.BytesIO(vers_xlsx(df))).active
    assert [c.data_type for c in ws["A"][1:]] == ["s"] * 4
    assert [c.value for c in ws["A"][1:]] == PIEGES


def test_classeur_de_referentiel_et_modele_sans_formule(store_demo):
    """Un libellé piégé dans le référentiel ressort en texte dans l'export du référentiel et dans le modèle de dépôt."""
    store_demo.ecrire(lambda con: con.execute(
        "UPDATE indicateur SET libelle = '=HYPERLINK(\"http://x\",\"clic\")' WHERE protocole = ? AND signataire = "
        "'CAF10'", [TCM]))
    flux = io.BytesIO()
    referentiel.exporter_referentiel(store_demo, TCM, flux)
    ws = load_workbook(io.BytesIO(flux.getvalue()))["Indicateurs"]
    pieges = [c for ligne in ws.iter_rows(min_row=2) for c in ligne if str(c.value).startswith("=HYPERLINK")]
    assert pieges and all(c.data_type == "s" for c in pieges)
    flux = io.BytesIO()
    ecrire_modele_depot(store_demo, TCM, "CAF10", "2022", flux)
    ws = load_workbook(io.BytesIO(flux.getvalue()))["Valeurs"]
    pieges = [c for ligne in ws.iter_rows(min_row=2) for c in ligne if str(c.value).startswith("=HYPERLINK")]
    assert pieges and all(c.data_type == "s" for c in pieges)
