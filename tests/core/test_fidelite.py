"""Fidélité (issue 15) : un protocole s'installe tel qu'il est écrit — items sans porteur, natures, textes des nœuds,
volets rattachés à des quartiers, signatures — et se relit dans ses propres mots ; le classeur aide qui le remplit."""
from __future__ import annotations

import pandas as pd
import pytest

from perr_metrics.commun.erreurs import ImportRefuse
from perr_metrics.pilotage import suivi
from perr_metrics.referentiel import requetes
from perr_metrics.referentiel.classeur import donnees_protocole, exporter_referentiel, importer_referentiel, \
    lire_referentiel
from perr_metrics.referentiel.complements import code_qpv_propose
from tests import classeurs, protocole_fidele as pf
from tests.protocole_fidele import CODE, QPV, VEILLE


@pytest.fixture
def store_fidele(store, tmp_path):
    res = importer_referentiel(store, pf.ecrire(tmp_path))
    assert res.cree and not res.rapport.erreurs, res.rapport.texte()
    return store


def test_le_protocole_s_importe_tel_qu_il_est_ecrit(store_fidele, tmp_path):
    ref = lire_referentiel(pf.ecrire(tmp_path))
    assert ref.rapport.valide and not ref.rapport.avertissements, ref.rapport.texte()
    eng = requetes.engagements(store_fidele, CODE)
    assert len(eng) == 10
    sans = eng[eng["porteurs"].isna()]
    assert list(sans["code"]) == ["O1", "A1", "R1", "C1", "C3"]
    assert set(sans["porteurs_noms"]) == {requetes.SANS_PORTEUR}
    assert eng.set_index("code").loc["E2", "porteurs_noms"] == ("Communauté d'agglomération Meuse Grand Sud, "
                                                               "Ville de Bar-le-Duc")
    assert eng.set_index("code").loc["E1", "porteurs_noms"] == ("État – Direction départementale de l'emploi, du "
                                                               "travail et des solidarités")
    assert eng.set_index("code").loc["C2", "volet_libelle"] == "Cité éducative de la Côte Sainte-Catherine"
    assert eng.set_index("code")["volet"].isna().sum() == 6


def test_natures_dans_le_vocabulaire_du_protocole(store_fidele):
    n = requetes.natures(store_fidele, CODE)
    assert list(n["nature"]) == ["Objectif opérationnel", "Exemple d'action", "Engagement",
                                 "Orientation attendue des autres signataires"]
    assert list(n["nb_engagements"]) == [2, 2, 5, 1]
    assert list(n["nb_sans_porteur"]) == [2, 2, 0, 1]
    filtres = suivi.engagements_filtres(store_fidele, CODE, nature="Exemple d'action")
    assert list(filtres["code"]) == ["A1", "C3"]
    assert list(suivi.engagements_filtres(store_fidele, CODE, porteur=requetes.SANS_PORTEUR)["code"]) == \
        ["O1", "A1", "R1", "C1", "C3"]


def test_niveaux_textes_et_volets(store_fidele):
    niv = requetes.niveaux(store_fidele, CODE)
    assert [(v, p, n) for v, p, n in zip(niv["volet"].fillna(""), niv["profondeur"], niv["niveau"])] == [
        ("", 1, "Priorité"), ("", 2, "Objectif"), ("CE-CSC", 1, "Objectif de la cité éducative"),
        ("ANX-FED", 1, "Orientation")]
    arbre = requetes.arbre(store_fidele, CODE)
    # Le corps d'abord, puis chaque volet dans son ordre.
    assert list(arbre["code"]) == ["P1", "P1.1", "P1.2", "P2", "P2.1", "CE1", "CE2", "CE3", "FED1"]
    a = arbre.set_index("code")
    assert a.loc["P1", "texte"].startswith("Objectif stratégique : ramener")
    assert a.loc["CE2", "volet_libelle"] == "Cité éducative de la Côte Sainte-Catherine"
    assert a.loc["P1.2", "quartiers"] == QPV
    v = requetes.volets(store_fidele, CODE)
    assert list(v["code"]) == ["CE-CSC", "ANX-FED"]
    assert list(v["quartiers_libelles"]) == ["Côte Sainte-Catherine-Libération", "Quartier de la Fédération"]
    assert list(v["nb_noeuds"]) == [3, 1] and list(v["nb_engagements"]) == [3, 1]


def test_ce_que_le_protocole_attache_a_un_quartier(store_fidele):
    q = requetes.rattachements_du_quartier(store_fidele, CODE, QPV)
    assert list(zip(q["sorte"], q["code"])) == [("volet", "CE-CSC"), ("nœud", "P1.2")]
    assert list(q["nb_engagements"]) == [3, 1]
    assert q.iloc[1]["nature"] == "Objectif"
    va = requetes.rattachements_du_quartier(store_fidele, CODE, VEILLE)
    assert list(va["libelle"]) == ["Annexe — Quartier de la Fédération"]


def test_signatures_plusieurs_par_signataire(store_fidele):
    s = requetes.signatures(store_fidele, CODE)
    assert list(s["signataire"]) == ["ETAT", "ETAT", "MGS", "V-BLD", "V-BLD", "CAF55"]
    etat = s[s["signataire"] == "ETAT"]
    assert list(etat["acte_libelle"]) == ["Contrat de ville de Bar-le-Duc 2015-2020",
                                          "Contrat de ville « Engagements Quartiers 2030 » de Meuse Grand Sud"]
    assert list(etat["representant"]) == ["Jean Martin", "Claire Dubois"]
    assert s.iloc[1]["date_signature"] == pd.Timestamp(2024, 3, 28)
    assert pd.isna(s.iloc[-1]["date_signature"])


def test_comptes_par_signataire_avec_sans_porteur_designe(store_fidele):
    c = suivi.engagements_par_signataire(store_fidele, CODE)
    assert list(c["nom"]) == ["État", "État – Direction départementale de l'emploi, du travail et des solidarités",
                              "Communauté d'agglomération Meuse Grand Sud", "Ville de Bar-le-Duc",
                              "Caisse d'allocations familiales de la Meuse", requetes.SANS_PORTEUR]
    par = c.set_index("nom")["nb_engagements"]
    assert par["État"] == 2                   # lui-même (C2) et son service (E1)
    assert par["Ville de Bar-le-Duc"] == 2    # E2 avec l'agglomération, E3 seule
    assert par[requetes.SANS_PORTEUR] == 5
    assert c.set_index("nom").loc["Ville de Bar-le-Duc", "nb_seul"] == 1
    assert pd.isna(c.iloc[-1]["signataire"]) and c.iloc[-1][suivi.NON_RENSEIGNE] == 5


def test_export_puis_reimport_a_l_identique(store_fidele, tmp_path):
    avant = donnees_protocole(store_fidele, CODE)
    chemin = tmp_path / "export.xlsx"
    exporter_referentiel(store_fidele, CODE, chemin)
    res = importer_referentiel(store_fidele, chemin)
    assert not res.cree and not res.rapport.problemes, res.rapport.texte()
    assert donnees_protocole(store_fidele, CODE) == avant
    assert [l["volet"] for l in avant["axes"]] == [None] * 5 + ["CE-CSC"] * 3 + ["ANX-FED"]
    assert [s["acte"] for s in avant["signatures"]][:2] == ["CV-BLD-2015", CODE]
    assert avant["engagements"][0]["nature"] == "Objectif opérationnel"


def test_volets_et_quartiers_controles(tmp_path):
    d = {k: [dict(x) for x in v] for k, v in pf.DONNEES.items()}
    d["axes"][6]["volet"] = "ANX-FED"                      # CE2 racine d'un autre volet : permis
    d["axes"].append(dict(code="CE1.1", parent="CE1", niveau="Action", libelle="Sous-objectif", volet="ANX-FED"))
    d["axes"].append(dict(code="X", niveau="Priorité", libelle="Inconnu", volet="NULLE-PART", quartiers=["QN99999Z"]))
    d["volets"][0]["quartiers"] = [QPV, "QP055001"]
    d["signatures"].append(dict(signataire="PERSONNE"))
    d["engagements"][1]["nature"] = "exemples d'actions"
    ref = lire_referentiel(pf.ecrire(tmp_path, d))
    assert set(ref.rapport.aplatir()) == {
        ("Axes!H11", "volet-incoherent"), ("Axes!H12", "volet-inconnu"), ("Axes!I12", "quartier-inconnu"),
        ("Volets!D2", "quartier-inconnu"), ("Signatures!A8", "signataire-inconnu"), ("Signatures!8:8", "signature-vide"),
        ("Engagements!K10", "nature-variante")}


def test_porteur_ecrit_par_son_nom_recoit_son_code(tmp_path):
    d = classeurs.donnees()
    d["engagements"][2]["porteurs"] = ["EPT d'essai", "Commune A"]     # des noms, pas des codes
    d["engagements"][0]["porteurs"] = ["etat", "CAF93"]                # un code à la mauvaise casse
    d["axes"][1]["parent"] = "Garantir les mêmes droits"
    ref = lire_referentiel(classeurs.ecrire(tmp_path, d))
    messages = {p.cellule: p.message for p in ref.rapport.erreurs}
    assert "« EPT d'essai » est le signataire de code « EPT » (EPT d'essai)" in messages["Engagements!E4"]
    assert "Écrivez les codes : « EPT;V-A »." in messages["Engagements!E4"]
    assert "« etat » est le signataire de code « ETAT »" in messages["Engagements!E2"]
    assert "« Garantir les mêmes droits » est le nœud de code « 1 »" in messages["Axes!B3"]


def test_engagement_sans_porteur_accepte(tmp_path):
    d = classeurs.donnees()
    d["engagements"][0]["porteurs"] = []
    ref = lire_referentiel(classeurs.ecrire(tmp_path, d))
    assert ref.rapport.valide, ref.rapport.texte()


def test_codes_qpv_officiels(tmp_path):
    assert code_qpv_propose("Côte Sainte-Catherine", ["55029"]) == "QN05501M"
    assert code_qpv_propose("Gare", ["10387"]) == "QN01001I"
    assert code_qpv_propose("Gare") is None                  # ambigu à l'échelle nationale
    d = {k: [dict(x) for x in v] for k, v in pf.DONNEES.items()}
    d["quartiers"][0]["code"] = "QN05501Z"                   # bonne forme, absent de la liste officielle
    ref = lire_referentiel(pf.ecrire(tmp_path, d, "a.xlsx"))
    (p,) = [p for p in ref.rapport.problemes if p.code == "code-qpv-inconnu"]
    assert p.niveau == "avertissement" and "code officiel QN05501M (Côte Sainte-Catherine-Libération)" in p.message
    d["quartiers"][0]["code"] = "QN5501M"                    # mauvaise forme : le code officiel est proposé
    ref = lire_referentiel(pf.ecrire(tmp_path, d, "b.xlsx"))
    (p,) = [p for p in ref.rapport.erreurs if p.code == "code-qpv-invalide"]
    assert "QN05501M" in p.message
    d["quartiers"][0]["code"] = "QN05502I"                   # le code officiel d'un autre quartier
    ref = lire_referentiel(pf.ecrire(tmp_path, d, "c.xlsx"))
    assert [p.code for p in ref.rapport.avertissements] == ["code-qpv-autre-quartier"]


def test_demo_importe_sans_avertissement():
    from perr_metrics.demo.demonstration import DOSSIER_DEMO
    for nom in ("troyes", "blois"):
        ref = lire_referentiel(DOSSIER_DEMO / nom)
        assert ref.rapport.valide and not ref.rapport.avertissements, ref.rapport.texte()


def test_refus_tout_ou_rien(store, tmp_path):
    d = {k: [dict(x) for x in v] for k, v in pf.DONNEES.items()}
    d["axes"][5]["volet"] = "NULLE-PART"
    with pytest.raises(ImportRefuse):
        importer_referentiel(store, pf.ecrire(tmp_path, d))
    assert store.requete("SELECT count(*) AS n FROM volet")["n"][0] == 0


# --------------------------------------------------------------------------------------------------------------------
# Point 5 : références sommées d'un indicateur en somme ; pas d'avertissement contre les valeurs qu'une correction remplace
# --------------------------------------------------------------------------------------------------------------------

def test_reference_sommee_sur_les_quartiers_sans_reference_du_territoire(store_fidele):
    from perr_metrics.pilotage.avancement import indicateurs_au_territoire
    t = indicateurs_au_territoire(store_fidele, CODE, "2025").set_index("indicateur")
    # 180 pour le QPV + 45 pour la veille active, une cible pour le territoire seulement.
    assert t.loc["DEFM-F", "reference"] == 225 and t.loc["DEFM-F", "annee_reference"] == 2023
    assert t.loc["DEFM-F", "cible_finale"] == 400
    assert "sans valeur de référence" not in t.loc["DEFM-F", "explication"]
    assert t.loc["DEFM-F", "explication"].endswith("Référence sommée sur les 2 quartiers.")


def test_une_correction_n_est_pas_avertie_contre_ce_qu_elle_remplace(store, tmp_path):
    from perr_metrics.depots.depot import deposer
    from tests.fichiers import csv_long
    importer_referentiel(store, classeurs.ecrire(tmp_path))
    res = deposer(store, csv_long([["APPRENTIS", "QN09301A", "2025-S1", "1234,5"]]), "s1.csv",
                  protocole="EQ2030-TEST", signataire="EPT")
    assert res.statut == "accepte", res.rapport.texte()
    # La correction refait S1 (1 234,5 → 312) et dépose S2 (310) : S2 se compare à 312, la valeur du fichier.
    correction = csv_long([["APPRENTIS", "QN09301A", "2025-S1", 312], ["APPRENTIS", "QN09301A", "2025-S2", 310]])
    res = deposer(store, correction, "correction.csv", protocole="EQ2030-TEST", signataire="EPT")
    assert res.statut == "accepte" and not res.rapport.problemes, res.rapport.texte()
    # Sans la période précédente dans le fichier, la valeur qui fait foi (312) sert toujours de comparaison.
    res = deposer(store, csv_long([["APPRENTIS", "QN09301A", "2026-S1", 4000]]), "s1-2026.csv",
                  protocole="EQ2030-TEST", signataire="EPT")
    assert res.rapport.aplatir() == [("s1-2026!D2", "saut-important")]
    assert "contre 310 à la période précédente" in res.rapport.avertissements[0].message


def test_perimetres_demandes_comme_le_dit_la_documentation(tmp_path):
    """L'exemple de docs/referentiel.md : une référence pour le seul QPV fait disparaître la veille active du modèle."""
    from perr_metrics.referentiel.complements import perimetres_demandes
    d = {k: [dict(x) for x in v] for k, v in pf.DONNEES.items()}
    assert perimetres_demandes(lire_referentiel(pf.ecrire(tmp_path, d, "a.xlsx")))["DEFM-F"] == ([QPV, VEILLE], [])
    d["references"] = [r for r in d["references"] if r["perimetre"] != VEILLE]
    assert perimetres_demandes(lire_referentiel(pf.ecrire(tmp_path, d, "b.xlsx")))["DEFM-F"] == ([QPV], [VEILLE])
    d["references"] = [r for r in d["references"] if r["indicateur"] != "DEFM-F"]
    assert perimetres_demandes(lire_referentiel(pf.ecrire(tmp_path, d, "c.xlsx")))["DEFM-F"] == ([QPV, VEILLE], [])


def test_le_modele_de_depot_suit_la_meme_regle(store_fidele):
    from perr_metrics.depots.depot import attendus
    a = store_fidele.lire(lambda con: attendus(con, CODE, "2025"))
    assert sorted(a.loc[a["indicateur"] == "DEFM-F", "perimetre"]) == sorted([QPV, VEILLE])


def test_demo_troyes_garde_ses_lignes_de_signature(store_demo):
    s = requetes.signatures(store_demo, "TCM-PERR-2019")
    assert list(s["signataire"])[:2] == ["ETAT", "TCM"] and len(s) == 8
    assert s.iloc[0]["representant"] == "Thierry MOSIMANN" and pd.isna(s.iloc[0]["date_signature"])
    assert set(s["acte_libelle"]) == {requetes.protocole(store_demo, "TCM-PERR-2019")["libelle"]}
