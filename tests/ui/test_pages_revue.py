"""La revue avant publication dans les pages (AppTest) : la valeur confirmée malgré un avertissement marquée sur la fiche
du COPIL ; ce qui attend la revue sur l'accueil de la coordination ; l'espace du partenaire (à corriger, attendus,
indicateurs face aux cibles)."""
from __future__ import annotations

import io

from openpyxl import load_workbook

from perr_metrics.depots import depot as depots
from tests.ui.test_pages import app
from tests.ui.test_pages_depots import modele_rempli

TCM = "TCM-PERR-2019"
MARQUE = depots.MARQUE_EN_ATTENTE


def _depot_force(store):
    """La DDSP dépose 2022 avec 4 999 sur sa 2e ligne (un saut important), et confirme."""
    fichier = modele_rempli(store, {3: 4999})
    res = depots.deposer(store, fichier, "ddsp-2022.xlsx", protocole=TCM, signataire="ETAT-DDSP",
                         accepter_avertissements=True)
    assert res.statut == "accepte" and res.rapport.avertissements
    ws = load_workbook(io.BytesIO(fichier))["Valeurs"]
    return res, ws["A3"].value, ws["C3"].value


def test_la_fiche_du_copil_marque_la_valeur_forcee(monkeypatch, store_demo):
    res, indicateur, perimetre = _depot_force(store_demo)
    at = app(monkeypatch, store_demo.chemin, compte="copil", page="fiche_indicateur.py", protocole=TCM,
             periode="2022", indicateur=indicateur)
    assert not at.exception and not at.error
    alertes = [w.value for w in at.warning]
    assert any(MARQUE in w for w in alertes), alertes
    assert any("en attente de revue" in m.label for m in at.metric)
    prov = [d.value for d in at.dataframe if "Revue" in d.value.columns][0]
    ligne = prov[prov["Dépôt n°"] == res.depot_id]
    assert len(ligne) and (ligne["Revue"] != "").all() and MARQUE in set(ligne["Revue"])
    assert ligne["Avertissement confirmé"].str.contains("période précédente").any()
    # Une fois le dépôt validé par la coordination, plus de marque.
    depots.revoir_depot(store_demo, res.depot_id, "validé", "Vérifié.")
    at = app(monkeypatch, store_demo.chemin, compte="copil", page="fiche_indicateur.py", protocole=TCM,
             periode="2022", indicateur=indicateur)
    assert not any(MARQUE in w.value for w in at.warning)
    assert not any("en attente de revue" in m.label for m in at.metric)


def test_l_accueil_de_la_coordination_dit_ce_qui_attend_sa_revue(monkeypatch, store_demo):
    res, _, _ = _depot_force(store_demo)
    at = app(monkeypatch, store_demo.chemin, protocole=TCM)
    assert not at.exception and not at.error
    assert at.header[0].value == "À revoir"
    assert any("confirmé malgré un avertissement" in w.value for w in at.warning)
    attente = at.dataframe[0].value
    assert attente["N°"].iloc[0] == res.depot_id and "sécurité publique" in attente["Signataire"].iloc[0]
    # Des noms, pas des codes : « Rattaché à » et les cadres nationaux.
    sig = [d.value for d in at.dataframe if "Rattaché à" in d.value.columns][0]
    assert "ETAT" not in set(sig["Rattaché à"])
    arbre = [d.value for d in at.dataframe if "Cadres nationaux" in d.value.columns][0]
    assert not arbre["Cadres nationaux"].str.contains("FDR-").any()


def test_l_espace_du_partenaire(monkeypatch, store_demo):
    caf = depots.liste_depots(store_demo, TCM, "CAF10")
    dernier = int(caf["id"].iloc[0])
    commentaire = ("Les délais de 2022 semblent inversés avec ceux de 2021 : merci de vérifier les lignes 4 à 9 et de "
                   "redéposer le fichier corrigé avant le COPIL du 14 mars ; en cas de doute, appelez la coordination.")
    depots.revoir_depot(store_demo, dernier, "à corriger", commentaire)
    at = app(monkeypatch, store_demo.chemin, compte="caf-aube")
    assert not at.exception
    assert at.title[0].value == "Votre espace partenaire"
    # Le seul message d'erreur : le dépôt à corriger, avec le commentaire de la coordination en entier.
    corps = [e.value for e in at.error]
    assert len(corps) == 1 and commentaire in corps[0] and f"Dépôt n° {dernier}" in corps[0], corps
    assert [h.value for h in at.header][:2] == ["À corriger", "Ce qui est attendu de vous"]
    m = {x.label: x.value for x in at.metric}
    assert "Valeurs attendues (2022)" in m and m["Échéance"] == "aucune"
    indicateurs = [d.value for d in at.dataframe if "Cible finale" in d.value.columns][0]
    assert len(indicateurs) and set(indicateurs.columns) >= {"Indicateur", "Périmètre", "Valeur", "Statut"}
