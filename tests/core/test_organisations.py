"""Plusieurs organisations dans une instance (comptes limités à des protocoles) et sessions partagées entre processus
serveurs, sur la petite base de démonstration (Troyes, Blois).

La matrice « chaque opération × compte limité » est dans test_droits.py (test_matrice_de_la_portee) ; ici : ce qu'un
administrateur d'un protocole voit et gère (comptes, journal, dépôts, référentiel), la ligne de commande
(`--protocole` répétable, `lister`), et les sessions relues dans la base par deux magasins distincts (comme deux
processus)."""
from __future__ import annotations

import datetime as dt
import io
import json

import pytest

from perr_metrics.acces import comptes, journal, sessions
from perr_metrics.acces.comptes import CompteRefuse
from perr_metrics.acces.droits import AccesRefuse, Utilisateur
from perr_metrics.cli import main
from perr_metrics.demo.demonstration import DOSSIER_DEMO
from perr_metrics.depots import depot as depots
from perr_metrics.pilotage import publication, vues
from perr_metrics.rapport import contenu
from perr_metrics.referentiel import classeur as referentiel
from perr_metrics.referentiel import requetes
from perr_metrics.stockage.magasin import Store

TCM, BLOIS = "TCM-PERR-2019", "BLOIS-PERR-2020"
MDP = "un mot de passe long"


def lancer(capsys, *args):
    code = main([str(a) for a in args])
    s = capsys.readouterr()
    return code, s.out, s.err


@pytest.fixture
def instance(store_demo):
    """La démonstration avec un administrateur de Blois, un lecteur de Blois et un lecteur de Troyes, créés par
    l'administrateur de toute l'instance ; renvoie (magasin de l'instance, magasin de l'administrateur de Blois)."""
    comptes.creer_compte(store_demo, "coord.blois", "Coordination de Blois", "administrateur", MDP,
                         protocoles=[BLOIS])
    comptes.creer_compte(store_demo, "copil.blois", "COPIL de Blois", "lecteur", MDP, protocoles=[BLOIS])
    comptes.creer_compte(store_demo, "copil.tcm", "COPIL de Troyes", "lecteur", MDP, protocoles=[TCM])
    blois = store_demo.pour(comptes.authentifier(store_demo, "coord.blois", MDP))
    return store_demo, blois


def test_le_compte_connecte_porte_sa_portee(instance):
    s, blois = instance
    assert blois.utilisateur.portee == frozenset({BLOIS})
    assert comptes.recharger(s, "copil.tcm").portee == frozenset({TCM})
    assert comptes.recharger(s, "coordination").portee is None                   # toute l'instance, comme avant
    assert comptes.recharger(s, "caf-aube").portee == frozenset({TCM})           # le protocole de son signataire


def test_un_administrateur_de_blois_ne_voit_que_blois(instance):
    s, blois = instance
    assert list(requetes.protocoles(blois)["code"]) == [BLOIS]
    assert set(requetes.protocoles(s)["code"]) >= {TCM, BLOIS}
    copil_tcm = s.pour(comptes.recharger(s, "copil.tcm"))
    assert list(requetes.protocoles(copil_tcm)["code"]) == [TCM]
    with pytest.raises(AccesRefuse, match="ne couvre que le protocole TCM-PERR-2019"):
        vues.synthese(copil_tcm, BLOIS, "2021")
    # Ses comptes : ceux de Blois seulement (ni l'administrateur de l'instance, ni le COPIL de toute l'instance)
    assert set(comptes.lister_comptes(blois)["identifiant"]) == {"coord.blois", "copil.blois"}
    tous = comptes.lister_comptes(s).set_index("identifiant")
    assert tous.loc["coordination", "protocoles"] is None and tous.loc["copil.tcm", "protocoles"] == [TCM]
    assert tous.loc["caf-aube", "protocoles"] == [TCM]


def test_un_administrateur_de_blois_ne_touche_pas_a_troyes(instance):
    s, blois = instance
    depot_tcm = int(s.requete(f"SELECT min(id) AS i FROM depot WHERE protocole = '{TCM}'")["i"][0])
    avant = s.requete("SELECT (SELECT count(*) FROM revue_depot) r, (SELECT count(*) FROM protocole) p, "
                      "(SELECT count(*) FROM publication) pu, (SELECT count(*) FROM compte) c")
    refus = {
        "revoir un dépôt de Troyes": lambda: depots.revoir_depot(blois, depot_tcm, "validé"),
        "lire le fichier d'un dépôt de Troyes": lambda: depots.fichier_du_depot(blois, depot_tcm),
        "réimporter le référentiel de Troyes": lambda: referentiel.importer_referentiel(blois, DOSSIER_DEMO / "troyes"),
        "publier un indicateur de Troyes": lambda: publication.publier(blois, TCM, ["SEC-VIDEO"]),
        "le rapport de Troyes": lambda: contenu.construire_rapport(blois, TCM, 2021),
        "le journal de Troyes": lambda: journal.lire_journal(blois, protocole=TCM),
        "un contributeur de Troyes": lambda: comptes.creer_compte(blois, "agent.tcm", "Agent", "contributeur", MDP,
                                                                   protocole=TCM, signataire="CAF10"),
        "un lecteur de Troyes": lambda: comptes.creer_compte(blois, "copil.x", "X", "lecteur", MDP, protocoles=[TCM]),
        "désactiver la CAF de l'Aube": lambda: comptes.activer_compte(blois, "caf-aube", False),
        "désactiver le COPIL de l'instance": lambda: comptes.activer_compte(blois, "copil", False),
        "le mot de passe de la coordination": lambda: comptes.changer_mot_de_passe(blois, "coordination", MDP + "!"),
        "élargir un compte à Troyes": lambda: comptes.modifier_compte(blois, "copil.blois", protocoles=[BLOIS, TCM]),
        "se donner toute l'instance": lambda: comptes.modifier_compte(blois, "coord.blois", protocoles=None),
        "sauvegarder la base": lambda: __import__("perr_metrics.acces.sauvegarde").acces.sauvegarde.sauvegarder(
            blois, s.chemin.parent / "sauvegarde"),
        "ouvrir la vue publique": lambda: publication.ouvrir_vue_publique(blois, True),
    }
    for quoi, appel in refus.items():
        with pytest.raises(AccesRefuse, match="^Opération refusée : votre compte ne couvre que le protocole "
                                              "BLOIS-PERR-2020"):
            appel()
            pytest.fail(f"permis : {quoi}")
    assert s.requete("SELECT (SELECT count(*) FROM revue_depot) r, (SELECT count(*) FROM protocole) p, "
                     "(SELECT count(*) FROM publication) pu, (SELECT count(*) FROM compte) c").equals(avant)
    assert comptes.recharger(s, "coord.blois").portee == frozenset({BLOIS})
    lignes = journal.lire_journal(s, compte="coord.blois", action="accès")
    assert len(lignes) == len(refus) and set(lignes["resultat"]) == {"refusé"}
    assert (lignes["protocole"] == TCM).sum() >= 8          # le protocole visé est noté : Troyes le voit


def test_un_administrateur_de_blois_gere_blois(instance):
    s, blois = instance
    depot_blois = int(s.requete(f"SELECT min(id) AS i FROM depot WHERE protocole = '{BLOIS}'")["i"][0])
    depots.revoir_depot(blois, depot_blois, "à corriger", "Chiffres à revoir")
    assert depots.fichier_du_depot(blois, depot_blois)[1]
    assert referentiel.importer_referentiel(blois, DOSSIER_DEMO / "blois").protocole == BLOIS
    # Un compte créé sans protocole reçoit les siens ; un contributeur de Blois ; il change un mot de passe de Blois
    u = comptes.creer_compte(blois, "elu.blois", "Élue de Blois", "lecteur", MDP)
    assert u.portee == frozenset({BLOIS})
    sig = requetes.signataires(blois, BLOIS)["code"].iloc[0]
    comptes.creer_compte(blois, "agent.blois", "Agent de Blois", "contributeur", MDP, protocole=BLOIS, signataire=sig)
    comptes.changer_mot_de_passe(blois, "elu.blois", MDP + " neuf")
    comptes.activer_compte(blois, "elu.blois", False)
    assert set(comptes.lister_comptes(blois)["identifiant"]) == {"coord.blois", "copil.blois", "elu.blois",
                                                                "agent.blois"}
    # Son journal : Blois, et les lignes sans protocole de ses comptes (connexions) ; rien de Troyes
    j = journal.lire_journal(blois, limite=None)
    assert set(j["protocole"].dropna()) == {BLOIS}
    assert set(j.loc[j["protocole"].isna(), "compte"]) <= {"coord.blois", "copil.blois", "elu.blois", "agent.blois"}
    assert "connexion" in set(j["action"]) and len(journal.lire_journal(s, limite=None)) > len(j)


def test_le_dernier_administrateur_de_toute_l_instance_le_reste(instance):
    s, _ = instance
    with pytest.raises(CompteRefuse, match="dernier administrateur actif de toute l'instance"):
        comptes.modifier_compte(s, "coordination", protocoles=[TCM])
    with pytest.raises(CompteRefuse, match="dernier administrateur actif"):
        comptes.activer_compte(s, "coordination", False)
    # Un administrateur de protocole ne compte pas : l'administrateur de Blois peut être désactivé
    comptes.activer_compte(s, "coord.blois", False)
    # Un second administrateur de toute l'instance : le premier peut alors être limité à Troyes
    comptes.creer_compte(s, "national", "Agence nationale", "administrateur", MDP)
    assert comptes.modifier_compte(s.pour(comptes.recharger(s, "national")), "coordination",
                                   protocoles=[TCM]).portee == frozenset({TCM})
    assert comptes.recharger(s, "coordination").portee == frozenset({TCM})
    with pytest.raises(CompteRefuse, match="seul protocole de son signataire|ne couvre que le protocole"):
        comptes.creer_compte(s, "agent.deux", "Agent", "contributeur", MDP, protocole=TCM, signataire="CAF10",
                             protocoles=[TCM, BLOIS])


def test_ligne_de_commande_protocole_repetable_et_liste(store_demo, capsys):
    base = store_demo.chemin
    code, out, err = lancer(capsys, "--db", base, "utilisateurs", "ajouter", "coord.deux", "--nom", "Coordination",
                            "--role", "administrateur", "--protocole", TCM, "--protocole", BLOIS,
                            "--protocole", "NOUVEAU-PERR-2026")
    assert code == 0, err
    assert "les protocoles BLOIS-PERR-2020, NOUVEAU-PERR-2026 et TCM-PERR-2019" in out
    assert "NOUVEAU-PERR-2026 n'est pas encore dans la base" in out
    code, out, err = lancer(capsys, "--db", base, "utilisateurs", "lister")
    assert code == 0, err
    ligne = next(l for l in out.splitlines() if l.startswith("coord.deux"))
    assert "BLOIS-PERR-2020, NOUVEAU-PERR-2026, TCM-PERR-2019" in ligne
    assert "toute l'instance" in next(l for l in out.splitlines() if l.startswith("coordination"))
    code, out, _ = lancer(capsys, "--db", base, "utilisateurs", "lister", "--json")
    parsed = {c["identifiant"]: c for c in json.loads(out)}
    assert parsed["coord.deux"]["protocoles"] == [BLOIS, "NOUVEAU-PERR-2026", TCM]
    assert parsed["coordination"]["protocoles"] is None and parsed["caf-aube"]["protocoles"] == [TCM]
    # Un contributeur : un seul protocole
    code, _, err = lancer(capsys, "--db", base, "utilisateurs", "ajouter", "agent.x", "--nom", "X", "--role",
                          "contributeur", "--protocole", TCM, "--protocole", BLOIS, "--signataire", "CAF10")
    assert code == 2 and "un seul protocole" in err


def test_ligne_de_commande_d_un_administrateur_de_protocole(store_demo, capsys, monkeypatch):
    base = store_demo.chemin
    comptes.creer_compte(store_demo, "coord.blois", "Coordination de Blois", "administrateur", MDP,
                         protocoles=[BLOIS])
    monkeypatch.setenv("PERR_UTILISATEUR", "coord.blois")
    monkeypatch.setenv("PERR_MOT_DE_PASSE", MDP)
    code, out, err = lancer(capsys, "--db", base, "protocoles", "--json")
    assert code == 0, err and [p["code"] for p in json.loads(out)] == [BLOIS]
    code, out, err = lancer(capsys, "--db", base, "signataires", "--protocole", TCM)
    assert code == 1 and "Opération refusée : votre compte ne couvre que le protocole BLOIS-PERR-2020" in err
    assert "Traceback" not in err
    code, out, err = lancer(capsys, "--db", base, "utilisateurs", "ajouter", "lecteur.blois", "--nom", "L",
                            "--role", "lecteur")
    assert code == 0 and "le protocole BLOIS-PERR-2020" in out
    code, out, err = lancer(capsys, "--db", base, "sauvegarde", base.parent / "sauv")
    assert code == 1 and "vaut pour toute l'instance" in err


# --------------------------------------------------------------------------------------------------------------------
# Sessions partagées : deux magasins sur la même base, comme deux processus serveurs
# --------------------------------------------------------------------------------------------------------------------

def test_une_session_ouverte_ici_vaut_la_bas_et_se_ferme_partout(store_demo):
    a = Store(store_demo.chemin)                  # serveur A
    b = Store(store_demo.chemin)                  # serveur B : un autre magasin, rien en mémoire partagé
    jeton = sessions.ouvrir_session(a, "copil")
    assert len(jeton) >= 40
    assert store_demo.requete("SELECT count(*) AS n FROM session_web WHERE empreinte = ?",
                              [sessions.empreinte(jeton)])["n"][0] == 1
    assert store_demo.requete("SELECT count(*) AS n FROM session_web WHERE empreinte = ? OR compte = ?",
                              [jeton, jeton])["n"][0] == 0          # jamais le jeton lui-même
    u = sessions.session_valide(b, jeton)
    assert u is not None and (u.identifiant, u.role) == ("copil", "lecteur")
    assert sessions.session_valide(b, "un-jeton-invente") is None
    assert sessions.fermer_session(b, jeton) is True
    assert sessions.session_valide(a, jeton) is None
    assert sessions.examiner(a, jeton).etat == sessions.INCONNUE
    assert sessions.fermer_session(a, jeton) is False                 # déjà fermée : rien à consigner deux fois
    j = journal.lire_journal(store_demo, compte="copil", action="déconnexion")
    assert j["detail"].tolist() == ["demandée"]


def test_expiration_des_sessions(store_demo):
    t0 = dt.datetime(2026, 3, 2, 9, 0)
    jeton = sessions.ouvrir_session(store_demo, "copil", maintenant=t0)
    # De l'activité, notée au plus toutes les PAS_ACTIVITE : la session vit au-delà de l'inactivité permise
    t = t0
    while t - t0 < sessions.INACTIVITE * 2:
        t += sessions.INACTIVITE / 2
        assert sessions.session_valide(store_demo, jeton, maintenant=t) is not None
    # Puis plus rien pendant l'inactivité permise : expirée, et consignée
    ex = sessions.examiner(store_demo, jeton, maintenant=t + sessions.INACTIVITE + dt.timedelta(seconds=1))
    assert ex.etat == sessions.EXPIREE and ex.utilisateur is None
    assert sessions.examiner(store_demo, jeton, maintenant=t).etat == sessions.INCONNUE     # retirée de la base
    assert journal.lire_journal(store_demo, compte="copil", action="déconnexion")["detail"].tolist() == [
        "session expirée"]
    # Durée maximale : même active, une session ne dépasse pas DUREE_MAX
    jeton = sessions.ouvrir_session(store_demo, "copil", maintenant=t0)
    t = t0
    while t - t0 <= sessions.DUREE_MAX:
        t += sessions.INACTIVITE / 2
    assert sessions.examiner(store_demo, jeton, maintenant=t).etat == sessions.EXPIREE


def test_l_activite_n_ecrit_pas_a_chaque_page(store_demo):
    t0 = dt.datetime(2026, 3, 2, 9, 0)
    jeton = sessions.ouvrir_session(store_demo, "copil", maintenant=t0)
    lire = lambda: store_demo.requete("SELECT activite FROM session_web")["activite"][0]  # noqa: E731
    sessions.session_valide(store_demo, jeton, maintenant=t0 + sessions.PAS_ACTIVITE / 2)
    assert lire() == t0
    sessions.session_valide(store_demo, jeton, maintenant=t0 + sessions.PAS_ACTIVITE)
    assert lire() == t0 + sessions.PAS_ACTIVITE


def test_un_compte_desactive_perd_ses_sessions_et_son_role_suit(store_demo):
    jeton = sessions.ouvrir_session(store_demo, "copil")
    comptes.creer_compte(store_demo, "national", "Agence", "administrateur", MDP)
    comptes.modifier_compte(store_demo, "copil", protocoles=[BLOIS])
    assert sessions.session_valide(store_demo, jeton).portee == frozenset({BLOIS})    # relu à chaque page
    comptes.activer_compte(store_demo, "copil", False)
    assert sessions.examiner(store_demo, jeton).etat == sessions.COMPTE_INACTIF
    comptes.activer_compte(store_demo, "copil", True)
    assert sessions.session_valide(store_demo, jeton) is None         # la session est fermée, pas suspendue


def test_les_sessions_expirees_sont_retirees_a_l_ouverture(store_demo):
    t0 = dt.datetime(2026, 3, 2, 9, 0)
    for _ in range(3):
        sessions.ouvrir_session(store_demo, "copil", maintenant=t0)
    sessions.ouvrir_session(store_demo, "caf-aube", maintenant=t0 + sessions.DUREE_MAX + dt.timedelta(hours=1))
    assert store_demo.requete("SELECT compte FROM session_web")["compte"].tolist() == ["caf-aube"]


def test_un_mot_de_passe_change_par_l_administrateur_ferme_les_sessions(store_demo):
    """Changé par un administrateur (perdu, compromis) : les sessions du compte sont fermées partout ; changé par
    l'intéressé : la sienne continue."""
    jeton = sessions.ouvrir_session(store_demo, "copil")
    copil = store_demo.pour(comptes.recharger(store_demo, "copil"))
    comptes.changer_mot_de_passe(copil, "copil", MDP, "copil-demo-2024")
    assert sessions.session_valide(store_demo, jeton) is not None
    comptes.changer_mot_de_passe(store_demo, "copil", MDP + " remis")
    assert sessions.session_valide(store_demo, jeton) is None
