"""Le suivi des engagements : états, dernier état, historique, refus, et le bilan d'un signataire."""
from __future__ import annotations

import datetime as dt

import pytest

from perr_metrics.pilotage import suivi
from perr_metrics.acces.droits import Utilisateur
from perr_metrics.referentiel.requetes import ProtocoleInconnu


@pytest.fixture(autouse=True)
def _demo_sans_etats(request):
    """Ces tests construisent l'historique des états à partir de zéro : on retire les états fictifs de la démo."""
    if "store_demo" in request.fixturenames:
        request.getfixturevalue("store_demo").ecrire(lambda con: con.execute("DELETE FROM etat_engagement"))


TCM = "TCM-PERR-2019"
AUJOURD_HUI = dt.date(2022, 6, 30)


def etat(store, engagement, etat, date, auteur="Agent", commentaire=None):
    """Un état saisi au nom de `auteur` (un compte de la coordination)."""
    qui = store.pour(Utilisateur(auteur.lower().replace(" ", "-"), auteur, "administrateur"))
    return suivi.enregistrer_etat(qui, TCM, engagement, etat, date, commentaire, aujourd_hui=AUJOURD_HUI)


def test_sans_etat_tout_est_non_renseigne(store_demo):
    df = suivi.etats_courants(store_demo, TCM)
    assert len(df) == 147
    assert set(df["etat"]) == {suivi.NON_RENSEIGNE}
    assert (df["nb_etats"] == 0).all() and df["date_etat"].isna().all()
    # L'axe est le nœud racine de l'arborescence, quelle que soit la profondeur de l'engagement.
    assert set(df["axe"]) == {"1", "2", "3"}
    assert df.set_index("code").loc["E001", ["axe", "noeud", "porteurs"]].tolist() == ["1", "1.1", "ETAT"]


def test_dernier_etat_et_historique(store_demo):
    etat(store_demo, "E001", "non démarré", "12/02/2020", "Alice")
    etat(store_demo, "E001", "réalisé", dt.date(2022, 1, 5), "Carl", "Quatre orientations engagées")
    # Saisi après coup, mais daté plus tôt : ne devient pas l'état courant.
    etat(store_demo, "E001", "en cours", "2021-03-01", "Bob")
    etat(store_demo, "E002", "reporté", "2022-06-30", "Dan", "Effectifs non arrivés")

    df = suivi.etats_courants(store_demo, TCM).set_index("code")
    assert df.loc["E001", ["etat", "auteur", "commentaire", "nb_etats"]].tolist() == [
        "réalisé", "Carl", "Quatre orientations engagées", 3]
    assert df.loc["E001", "date_etat"].date() == dt.date(2022, 1, 5)
    assert df.loc["E002", "etat"] == "reporté"
    assert df.loc["E003", "etat"] == suivi.NON_RENSEIGNE

    hist = suivi.historique_etats(store_demo, TCM, "E001")
    assert hist["etat"].tolist() == ["réalisé", "en cours", "non démarré"]
    assert hist["auteur"].tolist() == ["Carl", "Bob", "Alice"]
    assert suivi.historique_etats(store_demo, TCM, "E003").empty


def test_meme_date_le_dernier_saisi_l_emporte(store_demo):
    etat(store_demo, "E010", "en cours", "2022-03-01")
    etat(store_demo, "E010", "réalisé", "2022-03-01")
    assert suivi.etats_courants(store_demo, TCM).set_index("code").loc["E010", "etat"] == "réalisé"


@pytest.mark.parametrize("engagement, valeur_etat, date, auteur, commentaire, code", [
    ("E999", "en cours", "2021-01-01", "Agent", None, "engagement-inconnu"),
    ("E001", "terminé", "2021-01-01", "Agent", None, "etat-inconnu"),
    ("E001", "en cours", "2022-07-01", "Agent", None, "date-future"),
    ("E001", "en cours", "demain", "Agent", None, "date-invalide"),
    ("E001", "en cours", None, "Agent", None, "date-invalide"),
    ("E001", "abandonné", "2021-01-01", "Agent", "  ", "commentaire-obligatoire"),
    ("E001", "reporté", "2021-01-01", "Agent", None, "commentaire-obligatoire"),
])
def test_refus_en_francais_et_rien_d_ecrit(store_demo, engagement, valeur_etat, date, auteur, commentaire, code):
    with pytest.raises(suivi.EtatRefuse) as exc:
        etat(store_demo, engagement, valeur_etat, date, auteur, commentaire)
    assert exc.value.code == code
    assert isinstance(exc.value, ValueError)
    assert str(exc.value)[0].isupper() and str(exc.value).endswith(".")
    assert store_demo.requete("SELECT count(*) AS n FROM etat_engagement")["n"][0] == 0


def test_messages(store_demo):
    with pytest.raises(suivi.EtatRefuse, match="postérieure à aujourd'hui \\(30 juin 2022\\)"):
        etat(store_demo, "E001", "en cours", "2022-07-01")
    with pytest.raises(suivi.EtatRefuse, match="« E999 » n'existe pas dans le protocole TCM-PERR-2019"):
        etat(store_demo, "E999", "en cours", "2021-01-01")
    with pytest.raises(suivi.EtatRefuse, match="choisissez parmi non démarré, en cours, réalisé, reporté, abandonné"):
        etat(store_demo, "E001", "fini", "2021-01-01")


def test_protocole_inconnu(store_demo):
    with pytest.raises(suivi.EtatRefuse) as exc:
        suivi.enregistrer_etat(store_demo, "NULLE-PART", "E001", "en cours", "2021-01-01", None)
    assert exc.value.code == "protocole-inconnu"
    with pytest.raises(ProtocoleInconnu):
        suivi.etats_courants(store_demo, "NULLE-PART")


def test_filtres(store_demo):
    etat(store_demo, "E001", "en cours", "2021-03-01")
    tous = suivi.etats_courants(store_demo, TCM)
    axe2 = suivi.engagements_filtres(store_demo, TCM, axe="2")
    assert len(axe2) == int((tous["axe"] == "2").sum()) > 0 and set(axe2["axe"]) == {"2"}
    # Le porteur « État » couvre ses services (DDSP, DSDEN…).
    etat_seul = suivi.engagements_filtres(store_demo, TCM, porteur="ETAT")
    ddsp = suivi.engagements_filtres(store_demo, TCM, porteur="ETAT-DDSP")
    assert set(ddsp["code"]) < set(etat_seul["code"])
    assert suivi.engagements_filtres(store_demo, TCM, etat="en cours")["code"].tolist() == ["E001"]
    assert len(suivi.engagements_filtres(store_demo, TCM, axe="1", etat=suivi.NON_RENSEIGNE)) == int(
        (tous["axe"] == "1").sum()) - 1


def test_repartition(store_demo):
    etat(store_demo, "E001", "réalisé", "2021-03-01")
    etat(store_demo, "E002", "en cours", "2021-03-01")
    r = suivi.repartition(suivi.etats_courants(store_demo, TCM))
    axe1 = r[r["axe"] == "1"]
    assert axe1["etat"].tolist() == ["en cours", "réalisé", suivi.NON_RENSEIGNE]   # dans l'ordre des états
    assert axe1["nombre"].tolist() == [1, 1, 53]
    assert r["nombre"].sum() == 147
    assert suivi.repartition(suivi.etats_courants(store_demo, TCM).iloc[0:0]).empty


def test_bilan_signataire(store_demo):
    etat(store_demo, "E001", "réalisé", "2021-03-01")
    b = suivi.bilan_signataire(store_demo, TCM, "ETAT", "2021")
    assert b.nom == "État"
    assert "État – Direction départementale de la sécurité publique" in b.services
    # Ses engagements : ceux de l'État et de ses services, seuls ou avec d'autres.
    assert len(b.engagements) == 80 and set(b.engagements["portage"]) == {"seul", "avec d'autres"}
    assert b.engagements.set_index("code").loc["E001", ["etat", "portage", "par"]].tolist() == [
        "réalisé", "seul", "État"]
    # Ses indicateurs : ceux que déclarent ses services, au territoire, avec statut et explication.
    assert len(b.indicateurs) > 0 and set(b.indicateurs["signataire"]) <= {"ETAT", *[
        c for c in store_demo.requete("SELECT code FROM signataire WHERE rattache_a = 'ETAT'")["code"]]}
    assert "SEC-ACTIONS-EDUC-POLICE" in set(b.indicateurs["indicateur"])
    assert b.indicateurs["explication"].str.len().min() > 10
    # Ses dépôts : la complétude de chacun de ses services, et leurs dépôts.
    assert {"ETAT-DDSP", "ETAT-DSDEN"} <= set(b.completude["signataire"])
    assert b.attendus == int(b.completude["attendus"].sum()) and 0 < b.recus <= b.attendus
    assert set(b.depots["signataire"]) <= set(b.completude["signataire"]) | {"ETAT"}
    assert not b.depots.empty

    ddsp = suivi.bilan_signataire(store_demo, TCM, "ETAT-DDSP", "2021")
    assert ddsp.services == [] and set(ddsp.indicateurs["signataire"]) == {"ETAT-DDSP"}
    assert set(ddsp.engagements["code"]) < set(b.engagements["code"])
    with pytest.raises(KeyError, match="n'existe pas"):
        suivi.bilan_signataire(store_demo, TCM, "PERSONNE", "2021")


# --------------------------------------------------------------------------------------------------------------------
# Un engagement réalisé ne revient pas en arrière par un clic distrait
# --------------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("actuel, nouvel, recul", [
    (None, "non démarré", False), (suivi.NON_RENSEIGNE, "réalisé", False), ("non démarré", "en cours", False),
    ("en cours", "réalisé", False), ("réalisé", "réalisé", False), ("reporté", "en cours", False),
    ("abandonné", "en cours", False), ("en cours", "reporté", False),
    ("réalisé", "non démarré", True), ("réalisé", "en cours", True), ("réalisé", "abandonné", True),
    ("en cours", "non démarré", True), ("reporté", "non démarré", True),
])
def test_est_un_recul(actuel, nouvel, recul):
    assert suivi.est_un_recul(actuel, nouvel) is recul


def _lignes(store, engagement):
    return store.requete("SELECT count(*) AS n FROM etat_engagement WHERE engagement = ?", [engagement])["n"][0]


def test_recul_demande_confirmation_et_rien_n_est_ecrit(store_demo):
    etat(store_demo, "E001", "réalisé", "2021-11-02", commentaire="Quatre orientations engagées")
    with pytest.raises(suivi.ConfirmationRequise) as exc:
        etat(store_demo, "E001", "non démarré", "2022-06-30")
    assert exc.value.code == "recul-a-confirmer" and isinstance(exc.value, suivi.EtatRefuse)
    assert exc.value.actuel == "réalisé" and exc.value.date_actuelle == dt.date(2021, 11, 2)
    assert str(exc.value) == ("L'engagement E001 est « réalisé » depuis le 2 novembre 2021 : le passer à « non "
                              "démarré » au 30 juin 2022 le ferait revenir en arrière. Confirmez ce retour, ou "
                              "choisissez un autre état.")
    assert _lignes(store_demo, "E001") == 1
    assert suivi.etats_courants(store_demo, TCM).set_index("code").loc["E001", "etat"] == "réalisé"

    # Confirmé : écrit, et le journal dit ce qui a été défait.
    qui = store_demo.pour(Utilisateur("agent", "Agent", "administrateur"))
    ligne = suivi.enregistrer_etat(qui, TCM, "E001", "non démarré", "2022-06-30", "Erreur de saisie en 2021",
                                   confirmer_recul=True, aujourd_hui=AUJOURD_HUI)
    assert (ligne["precedent"], ligne["courant"], ligne["recul"]) == ("réalisé", True, True)
    assert suivi.etats_courants(store_demo, TCM).set_index("code").loc["E001", "etat"] == "non démarré"
    detail = store_demo.requete("SELECT detail FROM journal WHERE action = 'état d''engagement' AND objet = 'E001' "
                                "ORDER BY id DESC LIMIT 1")["detail"][0]
    assert detail == ("non démarré au 30 juin 2022 — Erreur de saisie en 2021 (retour en arrière confirmé : était "
                      "« réalisé » depuis le 2 novembre 2021)")


def test_meme_etat_sans_commentaire_refuse(store_demo):
    etat(store_demo, "E002", "réalisé", "2021-03-01")
    with pytest.raises(suivi.EtatRefuse) as exc:
        etat(store_demo, "E002", "réalisé", "2022-06-30")
    assert exc.value.code == "etat-inchange"
    assert "L'engagement E002 est déjà « réalisé » depuis le 1er mars 2021 : rien à enregistrer." in str(exc.value)
    assert _lignes(store_demo, "E002") == 1
    # Avec un commentaire, c'est une note de plus : acceptée.
    assert etat(store_demo, "E002", "réalisé", "2022-06-30", commentaire="Bilan remis au COPIL")["courant"]
    assert _lignes(store_demo, "E002") == 2


def test_etat_anterieur_complete_l_historique_sans_confirmation(store_demo):
    etat(store_demo, "E003", "réalisé", "2022-01-05")
    ligne = etat(store_demo, "E003", "en cours", "2021-03-01")
    assert (ligne["precedent"], ligne["courant"], ligne["recul"]) == ("réalisé", False, False)
    assert suivi.etats_courants(store_demo, TCM).set_index("code").loc["E003", "etat"] == "réalisé"
    assert "ajouté à l'historique" in store_demo.requete(
        "SELECT detail FROM journal WHERE objet = 'E003' ORDER BY id DESC LIMIT 1")["detail"][0]
