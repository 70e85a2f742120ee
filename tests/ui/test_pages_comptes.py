"""Connexion, rôles et administration sous AppTest : chaque rôle ne voit que ses pages et ses actions ; session expirée,
compte désactivé ; pages Comptes, Journal, Vue publique, Mon compte."""
from __future__ import annotations

import datetime as dt

import pytest

from perr_metrics.acces import comptes
from perr_metrics.acces import journal
from perr_metrics.pilotage import publication
from perr_metrics import ui
from tests.ui.test_pages import app, textes

TCM = "TCM-PERR-2019"

PILOTAGE = {"pages/accueil.py", "pages/vue_ensemble.py", "pages/par_axe.py", "pages/par_qpv.py",
            "pages/par_signataire.py", "pages/fiche_indicateur.py"}
ADMINISTRATION = {"pages/referentiel.py", "pages/comptes.py", "pages/journal.py", "pages/publication.py"}


def test_pages_de_chaque_role():
    assert set(ui.pages_du_role(None)) == {"pages/connexion.py", "pages/indicateurs_publies.py"}
    lecteur = set(ui.pages_du_role("lecteur"))
    assert PILOTAGE <= lecteur and not lecteur & ADMINISTRATION and "pages/deposer.py" not in lecteur
    assert lecteur >= {"pages/engagements.py", "pages/suivi_depots.py", "pages/rapport_annuel.py", "pages/mon_compte.py"}
    assert set(ui.pages_du_role("contributeur")) == {"pages/accueil.py", "pages/engagements.py", "pages/deposer.py",
                                                     "pages/suivi_depots.py", "pages/indicateurs_publies.py",
                                                     "pages/mon_compte.py"}
    admin = set(ui.pages_du_role("administrateur"))
    assert admin >= PILOTAGE | ADMINISTRATION | {"pages/deposer.py"} and "pages/connexion.py" not in admin


def test_connexion_par_le_formulaire(monkeypatch, store_demo):
    at = app(monkeypatch, store_demo.chemin, compte=None)
    assert at.title[0].value == "Connexion"
    demo = at.table[0].value
    assert demo["Identifiant"].tolist() == ["coordination", "copil", "caf-aube"]
    assert demo.loc["Lecteur (membre du COPIL)", "Mot de passe"] == "copil-demo-2024"
    at.text_input(key="identifiant").input("copil")
    at.text_input(key="mot_de_passe").input("mauvais")
    at.button[0].click().run()
    assert at.error[0].value == "Identifiant ou mot de passe incorrect."
    assert "perr_session" not in at.session_state
    at.text_input(key="identifiant").input("copil")
    at.text_input(key="mot_de_passe").input("copil-demo-2024")
    at.button[0].click().run()
    assert not at.exception
    assert at.session_state["perr_session"]["compte"] == "copil"
    assert at.title[0].value == "Vue d'ensemble"                                       # l'accueil du COPIL
    assert any("Membre du COPIL (démo)" in c.value for c in at.sidebar.caption)
    # Se déconnecter : retour à la connexion, consigné au journal.
    [b for b in at.sidebar.button if b.label == "Se déconnecter"][0].click().run()
    assert at.title[0].value == "Connexion" and "perr_session" not in at.session_state
    assert journal.lire_journal(store_demo, compte="copil")["action"].tolist()[:2] == ["déconnexion", "connexion"]


def test_un_lien_ouvert_avant_connexion_garde_ses_filtres(monkeypatch, store_demo):
    """Un lien d'invitation (`?protocole=…`) ouvert sans être connecté : la connexion, puis la vue demandée."""
    at = app(monkeypatch, store_demo.chemin, compte=None, protocole="BLOIS-PERR-2020")
    assert at.title[0].value == "Connexion"
    at.text_input(key="identifiant").input("copil")
    at.text_input(key="mot_de_passe").input("copil-demo-2024")
    at.button[0].click().run()
    assert at.selectbox(key="protocole").value == "BLOIS-PERR-2020"


def test_le_lecteur_consulte_sans_rien_changer(monkeypatch, store_demo):
    at = app(monkeypatch, store_demo.chemin, compte="copil", page="engagements.py", protocole=TCM)
    assert not at.exception and not at.error
    assert not [b for b in at.button if b.label == "Enregistrer l'état"]
    assert any("votre rôle les consulte" in c.value for c in at.caption)
    at = app(monkeypatch, store_demo.chemin, compte="copil", page="suivi_depots.py", protocole=TCM)
    assert not at.exception and not at.error
    assert not at.radio and not [b for b in at.button if b.label == "Enregistrer la revue"]
    # Une page hors de son rôle, atteinte par son adresse : refus.
    at = app(monkeypatch, store_demo.chemin, compte="copil", page="acces_refuse.py")
    assert "n'est pas ouverte à votre rôle (lecteur)" in at.error[0].value


def test_le_contributeur_ne_voit_que_ce_qui_est_a_lui(monkeypatch, store_demo):
    at = app(monkeypatch, store_demo.chemin, compte="caf-aube")
    assert at.title[0].value == "Votre espace partenaire"                          # sa page d'accueil
    assert not at.exception and not at.error
    at = app(monkeypatch, store_demo.chemin, compte="caf-aube", page="engagements.py")
    assert not at.exception and not at.error
    liste = at.dataframe[1].value
    assert len(liste) and all("CAF de l'Aube" in p for p in liste["Porteurs"])
    assert [b for b in at.button if b.label == "Enregistrer l'état"]
    at = app(monkeypatch, store_demo.chemin, compte="caf-aube", page="suivi_depots.py", periode="2021")
    assert not at.exception and not at.error
    historique = [d.value for d in at.dataframe if "Commentaire de revue" in d.value.columns][0]
    assert set(historique["Signataire"]) == {"CAF de l'Aube"}


def test_session_expiree(monkeypatch, store_demo):
    at = app(monkeypatch, store_demo.chemin)
    il_y_a = dt.datetime.now() - ui.INACTIVITE - dt.timedelta(minutes=1)
    at.session_state["perr_session"] = dict(at.session_state["perr_session"], activite=il_y_a)
    at.run()
    assert at.title[0].value == "Connexion"
    assert any("Votre session a expiré" in w.value for w in at.warning)
    assert journal.lire_journal(store_demo, compte="coordination", action="déconnexion")["detail"].tolist() == [
        "session expirée"]


def test_compte_desactive_pendant_la_session(monkeypatch, store_demo):
    at = app(monkeypatch, store_demo.chemin, compte="copil")
    assert at.title[0].value != "Connexion"
    comptes.activer_compte(store_demo, "copil", False)
    at.run()
    assert at.title[0].value == "Connexion"
    assert any("Ce compte a été désactivé" in w.value for w in at.warning)


def test_page_comptes(monkeypatch, store_demo):
    at = app(monkeypatch, store_demo.chemin, page="comptes.py")
    assert not at.exception and not at.error
    assert set(at.dataframe[0].value["Identifiant"]) == {"coordination", "copil", "caf-aube"}
    at.selectbox(key="nouveau_role").select("contributeur").run()
    at.selectbox(key="nouveau_protocole").select(TCM).run()
    at.selectbox(key="nouveau_signataire").select("ETAT-DDSP").run()
    champs = {t.label: t for t in at.text_input}
    champs["Identifiant"].input("agent.ddsp")
    champs["Nom affiché"].input("Agent de la DDSP")
    [t for t in at.text_input if t.label.startswith("Mot de passe initial")][0].input("mot de passe initial")
    [b for b in at.button if b.label == "Créer le compte"][0].click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "Compte « agent.ddsp » créé" in at.success[0].value
    u = comptes.authentifier(store_demo, "agent.ddsp", "mot de passe initial")
    assert (u.role, u.signataire) == ("contributeur", "ETAT-DDSP")
    # Un mot de passe trop court : refus en français, rien de créé.
    [t for t in at.text_input if t.label == "Identifiant"][0].input("autre")
    [t for t in at.text_input if t.label == "Nom affiché"][0].input("Autre")
    [t for t in at.text_input if t.label.startswith("Mot de passe initial")][0].input("court")
    [b for b in at.button if b.label == "Créer le compte"][0].click().run()
    assert "au moins 12 caractères" in at.error[0].value
    # Désactiver un compte.
    at.selectbox(key="compte_choisi").select("copil").run()
    at.button(key="desactiver").click().run()
    assert "Compte « copil » désactivé" in at.success[0].value
    assert comptes.recharger(store_demo, "copil") is None


def test_page_journal(monkeypatch, store_demo):
    with pytest.raises(comptes.ConnexionRefusee):
        comptes.authentifier(store_demo, "copil", "mauvais")
    at = app(monkeypatch, store_demo.chemin, page="journal.py")
    assert not at.exception and not at.error
    df = at.dataframe[0].value
    assert {"connexion", "compte créé"} <= set(df["Action"])
    at.selectbox(key="journal_resultat").select("échoué").run()
    df = at.dataframe[0].value
    assert df[["Compte", "Action", "Résultat"]].values.tolist() == [["copil", "connexion", "échoué"]]
    assert [b.proto.label for b in at.get("download_button")] == ["Données (CSV)", "Données (Excel)"]


def test_page_vue_publique_et_indicateurs_publies(monkeypatch, store_demo):
    at = app(monkeypatch, store_demo.chemin, page="publication.py", protocole=TCM)
    assert not at.exception and not at.error
    at.toggle(key="vue_publique").set_value(True).run()
    assert publication.vue_publique_ouverte(store_demo)
    at.multiselect(key=f"publies-{TCM}").select("SEC-VIDEO")
    [b for b in at.button if b.label == "Enregistrer la sélection"][0].click().run()
    assert "1 indicateur(s) publié(s)" in at.success[0].value
    # Un visiteur non connecté : la connexion, et le lien vers les indicateurs publiés.
    visiteur = app(monkeypatch, store_demo.chemin, compte=None)
    assert visiteur.title[0].value == "Connexion"
    visiteur.switch_page("pages/indicateurs_publies.py").run()
    assert not visiteur.exception and not visiteur.error
    assert visiteur.title[0].value == "Indicateurs publiés"
    territoire = visiteur.dataframe[0].value
    assert territoire["Indicateur"].tolist() == ["Nombre de caméras de vidéoprotection raccordées au CSU dans les QPV"]
    assert "Dépôt" not in " ".join(territoire.columns) and "Signataire" not in textes(visiteur)


def test_mon_compte_changer_son_mot_de_passe(monkeypatch, store_demo):
    at = app(monkeypatch, store_demo.chemin, compte="copil", page="mon_compte.py")
    assert not at.exception and not at.error
    assert "Lecteur (membre du COPIL)" in textes(at)
    champs = at.text_input
    champs[0].input("copil-demo-2024")
    champs[1].input("un nouveau mot de passe")
    champs[2].input("un nouveau mot de passe")
    at.button[0].click().run()
    assert at.success[0].value == "Mot de passe changé."
    assert comptes.authentifier(store_demo, "copil", "un nouveau mot de passe").identifiant == "copil"


def test_retour_de_l_authentification_unique(monkeypatch, store_demo):
    """Le retour du fournisseur OpenID Connect (simulé ici par `at.user` ; le vrai aller-retour est testé dans un
    navigateur, tests/e2e/test_connexion.py) : le courriel désigne le compte local, ou la connexion est refusée."""
    from streamlit.testing.v1 import AppTest

    from tests.ui.test_pages import RACINE
    comptes.creer_compte(store_demo, "agent.sso", "Agent SSO", "lecteur", courriel="agent@exemple.gouv.fr")
    monkeypatch.setenv("PERR_DB", str(store_demo.chemin))
    at = AppTest.from_file(str(RACINE / "dashboard.py"), default_timeout=60)
    at.user = {"is_logged_in": True, "email": "Agent@exemple.gouv.fr", "provider": "proconnect"}
    at.run()
    assert not at.exception
    assert at.session_state["perr_session"]["compte"] == "agent.sso"
    assert at.title[0].value == "Vue d'ensemble"                  # l'accueil d'un lecteur
    at = AppTest.from_file(str(RACINE / "dashboard.py"), default_timeout=60)
    at.user = {"is_logged_in": True, "email": "inconnu@exemple.gouv.fr", "provider": "proconnect"}
    at.run()
    assert at.title[0].value == "Connexion" and "perr_session" not in at.session_state
    assert "Aucun compte n'est associé au courriel inconnu@exemple.gouv.fr" in at.error[0].value
    assert [b for b in at.button if b.label == "Se déconnecter du fournisseur d'identité"]
    at.run()                                   # pas de nouvel essai à chaque page : un seul échec au journal
    echecs = journal.lire_journal(store_demo, action="connexion", resultat="échoué")
    assert echecs["compte"].tolist() == ["inconnu@exemple.gouv.fr"]
