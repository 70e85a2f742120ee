"""Plusieurs organisations et sessions partagées, sous AppTest : la page Comptes d'un administrateur de toute l'instance
et d'un administrateur limité à un protocole (sélection multiple des protocoles), le sélecteur de protocole d'un
lecteur limité, et une session fermée « ailleurs » (dans la base) qui se ferme à la page suivante."""
from __future__ import annotations

from perr_metrics.acces import comptes, journal, sessions
from tests.ui.test_pages import app

TCM, BLOIS = "TCM-PERR-2019", "BLOIS-PERR-2020"
MDP = "un mot de passe long"


def _creer(at, identifiant: str, nom: str) -> None:
    champs = {t.label: t for t in at.text_input}
    champs["Identifiant"].input(identifiant)
    champs["Nom affiché"].input(nom)
    [t for t in at.text_input if t.label.startswith("Mot de passe initial")][0].input(MDP)
    [b for b in at.button if b.label == "Créer le compte"][0].click().run()


def test_page_comptes_de_l_instance_donne_des_protocoles(monkeypatch, store_demo):
    at = app(monkeypatch, store_demo.chemin, page="comptes.py")
    assert not at.exception and not at.error
    table = at.dataframe[0].value.set_index("Identifiant")
    assert table.loc["coordination", "Protocoles"] == "toute l'instance" and table.loc["caf-aube", "Protocoles"] == TCM
    at.selectbox(key="nouveau_role").select("administrateur").run()
    assert {BLOIS, TCM} <= set(at.multiselect(key="nouveaux_protocoles").options)
    at.multiselect(key="nouveaux_protocoles").select(BLOIS).run()
    _creer(at, "coord.blois", "Coordination de Blois")
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "le protocole BLOIS-PERR-2020" in at.success[0].value
    assert comptes.recharger(store_demo, "coord.blois").portee == frozenset({BLOIS})
    # Limiter le COPIL de la démonstration à Troyes
    at.selectbox(key="compte_choisi").select("copil").run()
    at.multiselect(key="protocoles_de_copil").select(TCM).run()
    at.button(key="appliquer_portee").click().run()
    assert not at.exception and not at.error
    assert "couvre désormais le protocole TCM-PERR-2019" in at.success[0].value
    assert comptes.recharger(store_demo, "copil").portee == frozenset({TCM})


def test_page_comptes_d_un_administrateur_de_blois(monkeypatch, store_demo):
    comptes.creer_compte(store_demo, "coord.blois", "Coordination de Blois", "administrateur", MDP,
                         protocoles=[BLOIS])
    comptes.creer_compte(store_demo, "copil.blois", "COPIL de Blois", "lecteur", MDP, protocoles=[BLOIS])
    at = app(monkeypatch, store_demo.chemin, compte="coord.blois", page="comptes.py")
    assert not at.exception and not at.error
    assert set(at.dataframe[0].value["Identifiant"]) == {"coord.blois", "copil.blois"}
    assert any("couvre le protocole BLOIS-PERR-2020" in c.value for c in at.caption)
    assert at.multiselect(key="nouveaux_protocoles").options == [BLOIS]
    _creer(at, "elu.blois", "Élu de Blois")              # aucun protocole choisi : les siens
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert comptes.recharger(store_demo, "elu.blois").portee == frozenset({BLOIS})
    # Le contributeur : seulement les protocoles de Blois
    at.selectbox(key="nouveau_role").select("contributeur").run()
    assert at.selectbox(key="nouveau_protocole").options == [BLOIS]


def test_un_lecteur_limite_ne_choisit_que_ses_protocoles(monkeypatch, store_demo):
    comptes.creer_compte(store_demo, "copil.tcm", "COPIL de Troyes", "lecteur", MDP, protocoles=[TCM])
    at = app(monkeypatch, store_demo.chemin, compte="copil.tcm", page="vue_ensemble.py", protocole=BLOIS)
    assert not at.exception
    assert len(at.selectbox(key="protocole").options) == 1
    assert at.selectbox(key="protocole").value == TCM
    assert not at.error                     # le lien vers Blois ne mène pas à un refus : à Troyes, le sien


def test_une_session_fermee_ailleurs_se_ferme_a_la_page_suivante(monkeypatch, store_demo):
    at = app(monkeypatch, store_demo.chemin, compte=None)
    at.text_input(key="identifiant").input("copil")
    at.text_input(key="mot_de_passe").input("copil-demo-2024")
    at.button[0].click().run()
    jeton = at.session_state["perr_session"]["jeton"]
    assert sessions.session_valide(store_demo, jeton).identifiant == "copil"     # dans la base, pour tout processus
    assert at.title[0].value != "Connexion"
    sessions.fermer_session(store_demo, jeton)            # déconnexion sur un autre serveur
    at.run()
    assert at.title[0].value == "Connexion"
    assert any("Votre session a été fermée" in w.value for w in at.warning)
    assert journal.lire_journal(store_demo, compte="copil", action="déconnexion")["detail"].tolist() == ["demandée"]


def test_se_deconnecter_ferme_la_session_dans_la_base(monkeypatch, store_demo):
    at = app(monkeypatch, store_demo.chemin, compte=None)
    at.text_input(key="identifiant").input("copil")
    at.text_input(key="mot_de_passe").input("copil-demo-2024")
    at.button[0].click().run()
    jeton = at.session_state["perr_session"]["jeton"]
    [b for b in at.sidebar.button if b.label == "Se déconnecter"][0].click().run()
    assert at.title[0].value == "Connexion"
    assert sessions.session_valide(store_demo, jeton) is None
    assert store_demo.requete("SELECT count(*) AS n FROM session_web")["n"][0] == 0


def test_vue_publique_d_un_administrateur_de_blois(monkeypatch, store_demo):
    """Il publie les indicateurs de Blois ; ouvrir ou fermer la vue publique, qui vaut pour toute l'instance, ne lui
    est pas proposé."""
    comptes.creer_compte(store_demo, "coord.blois", "Coordination de Blois", "administrateur", MDP,
                         protocoles=[BLOIS])
    at = app(monkeypatch, store_demo.chemin, compte="coord.blois", page="publication.py")
    assert not at.exception and not at.error
    assert at.toggle(key="vue_publique").disabled
    assert at.multiselect(key=f"publies-{BLOIS}") is not None
