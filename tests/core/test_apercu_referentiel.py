"""L'aperçu d'un réimport de référentiel : ce qui serait ajouté, modifié, retiré, calculé sans rien écrire."""
from __future__ import annotations

import copy

import pytest

from perr_metrics.commun.erreurs import ImportRefuse
from perr_metrics.referentiel import apercu
from perr_metrics.referentiel.classeur import importer_referentiel
from tests import classeurs


def _empreinte(store):
    return store.requete("SELECT (SELECT count(*) FROM engagement) + (SELECT count(*) FROM cible) "
                         "+ (SELECT count(*) FROM journal) + (SELECT count(*) FROM import_referentiel) AS n")["n"][0]


def test_nouveau_protocole_tout_est_ajoute(store, tmp_path):
    a = apercu.apercu_import(store, classeurs.ecrire(tmp_path).read_bytes(), "referentiel.xlsx")
    assert a.protocole == "EQ2030-TEST" and not a.existe
    assert set(a.changements["changement"]) == {apercu.AJOUTE}
    resume = a.resume.set_index("categorie")
    assert resume.loc["Engagements", "ajoutes"] == 3 and resume.loc["Nœuds", "ajoutes"] == 4
    assert resume.loc["Cibles", "ajoutes"] == 4 and resume["retires"].sum() == 0
    assert store.requete("SELECT count(*) AS n FROM protocole")["n"][0] == 0


def test_reimport_ajoute_modifie_retire_sans_rien_ecrire(store, tmp_path):
    importer_referentiel(store, classeurs.ecrire(tmp_path).read_bytes(), "referentiel.xlsx")
    avant = _empreinte(store)
    d = copy.deepcopy(classeurs.REFERENTIEL_MINIMAL)
    d["engagements"][0]["libelle"] = "Renforcer la présence des services publics de proximité"
    d["engagements"][1]["porteurs"] = ["ETAT-DDSP", "V-A"]
    d["engagements"] = [e for e in d["engagements"] if e["code"] != "E3"]
    d["indicateurs"] = [dict(i, engagements=[e for e in i.get("engagements", []) if e != "E3"])
                        for i in d["indicateurs"]]
    d["axes"].append(dict(code="3", niveau="Axe", libelle="Cadre de vie"))
    d["cibles"][0]["valeur"] = 300
    d["cibles"] = d["cibles"][:3]
    a = apercu.apercu_import(store, classeurs.ecrire(tmp_path, d).read_bytes(), "referentiel.xlsx")
    assert a.existe
    c = a.changements.set_index(["categorie", "code"])
    assert c.loc[("Engagements", "E1"), "changement"] == apercu.MODIFIE
    assert c.loc[("Engagements", "E1"), "detail"] == ("libellé : « Renforcer la présence des services publics » → "
                                                      "« Renforcer la présence des services publics de proximité »")
    assert c.loc[("Engagements", "E2"), "detail"] == "porteurs : ETAT-DDSP → ETAT-DDSP, V-A"
    assert c.loc[("Engagements", "E3"), ["libelle", "changement"]].tolist() == ["Doubler le nombre d'apprentis",
                                                                                apercu.RETIRE]
    assert c.loc[("Nœuds", "3"), "changement"] == apercu.AJOUTE
    assert c.loc[("Cibles", "PATROUILLES · QN09301A · 2030"), "detail"] == "valeur : 240 → 300"
    assert c.loc[("Cibles", "DELAI · EPT-TEST · 2030"), "changement"] == apercu.RETIRE
    assert c.loc[("Indicateurs", "APPRENTIS"), "detail"] == "engagements mesurés : E3 → (aucun)"
    assert _empreinte(store) == avant                     # rien d'écrit, pas même au journal

    # Le même classeur qu'en base : rien ne change.
    assert apercu.apercu_import(store, classeurs.ecrire(tmp_path).read_bytes(), "referentiel.xlsx").vide


def test_aperçu_refuse_comme_l_import(store_demo, tmp_path):
    from perr_metrics.referentiel.classeur import exporter_referentiel
    import openpyxl
    chemin = tmp_path / "tcm.xlsx"
    exporter_referentiel(store_demo, "TCM-PERR-2019", chemin)
    wb = openpyxl.load_workbook(chemin)
    ws = wb["Indicateurs"]
    ws.delete_rows(2)                                     # un indicateur qui a déjà des valeurs déposées
    wb.save(chemin)
    with pytest.raises(ImportRefuse) as exc:
        apercu.apercu_import(store_demo, chemin.read_bytes(), "tcm.xlsx")
    with pytest.raises(ImportRefuse) as exc_import:
        importer_referentiel(store_demo, chemin.read_bytes(), "tcm.xlsx")
    assert exc.value.rapport.lignes() == exc_import.value.rapport.lignes() != []


def test_retirer_ce_qui_porte_des_valeurs_est_refuse_des_l_apercu(store_demo, tmp_path):
    from perr_metrics.referentiel.classeur import donnees_protocole
    d = donnees_protocole(store_demo, "TCM-PERR-2019")
    porte = store_demo.requete("SELECT min(indicateur) AS i FROM valeur WHERE protocole = 'TCM-PERR-2019'")["i"][0]
    d["indicateurs"] = [i for i in d["indicateurs"] if i["code"] != porte]
    d["references"] = [r for r in d["references"] if r["indicateur"] != porte]
    d["cibles"] = [r for r in d["cibles"] if r["indicateur"] != porte]
    for i in d["indicateurs"]:
        if i.get("numerateur") == porte or i.get("denominateur") == porte:
            pytest.skip("indicateur composante d'un taux")
    with pytest.raises(ImportRefuse) as exc:
        apercu.apercu_import(store_demo, classeurs.ecrire(tmp_path, d).read_bytes(), "tcm.xlsx")
    assert "indicateur-supprime-avec-valeurs" in {l["code"] for l in exc.value.rapport.lignes()}


def test_reimport_du_protocole_fidele_montre_volets_signatures_natures_et_quartiers(store, tmp_path):
    """Le troisième protocole (issue 15) : ce que ses feuilles Volets et Signatures, la nature des engagements, le texte,
    le volet et les quartiers des nœuds changeraient se lit aussi dans l'aperçu ; le même classeur ne change rien."""
    from tests import protocole_fidele as pf
    importer_referentiel(store, pf.ecrire(tmp_path).read_bytes(), "mgs.xlsx")
    assert apercu.apercu_import(store, pf.ecrire(tmp_path).read_bytes(), "mgs.xlsx").vide
    d = copy.deepcopy(pf.DONNEES)
    d["volets"][0]["quartiers"] = [pf.QPV, pf.VEILLE]
    d["volets"] = d["volets"] + [dict(code="PRU", libelle="Projet de renouvellement urbain", ordre=3)]
    d["signatures"][5]["date"] = __import__("datetime").date(2024, 4, 15)
    d["signatures"] = d["signatures"][:4] + d["signatures"][5:]      # la seconde signature de la Ville retirée
    d["engagements"][2]["nature"] = "Engagement prioritaire"
    d["axes"][0]["texte"] = "Objectif stratégique : un taux de chômage ramené à celui de l'agglomération."
    d["axes"][2]["quartiers"] = []
    a = apercu.apercu_import(store, pf.ecrire(tmp_path, d).read_bytes(), "mgs.xlsx")
    c = a.changements.set_index(["categorie", "code"])
    assert c.loc[("Volets", "CE-CSC"), "detail"] == f"quartiers : {pf.QPV} → {pf.QPV}, {pf.VEILLE}"
    assert c.loc[("Volets", "PRU"), "changement"] == apercu.AJOUTE
    assert c.loc[("Signatures", "CAF55 · 1"), "detail"] == "date : (vide) → 15 avril 2024"
    assert c.loc[("Signatures", "V-BLD · 2"), "changement"] == apercu.RETIRE
    assert c.loc[("Engagements", "E1"), "detail"] == "nature : « Engagement » → « Engagement prioritaire »"
    assert c.loc[("Nœuds", "P1"), "detail"].startswith("texte : « Objectif stratégique : ramener")
    assert c.loc[("Nœuds", "P1.2"), "detail"] == f"quartiers : {pf.QPV} → (aucun)"
    resume = a.resume.set_index("categorie")
    assert resume.loc["Volets", "ajoutes"] == 1 and resume.loc["Signatures", "retires"] == 1
