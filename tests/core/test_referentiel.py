"""Le classeur du référentiel : chaque sorte d'erreur, le tout-ou-rien, le réimport sur place, l'export à l'identique."""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from openpyxl import load_workbook

from perr_metrics.referentiel import requetes
from perr_metrics.depots.depot import enregistrer_depot
from perr_metrics.referentiel.classeur import (TABLES_REFERENTIEL, ecrire_modele, exporter_referentiel, importer_referentiel,
                                      lire_referentiel)
from perr_metrics.commun.erreurs import ImportRefuse
from tests import classeurs


def instantane(store) -> dict[str, list]:
    """Tout le contenu de la base, table par table (pour vérifier qu'un refus n'a rien écrit). Hors du journal et de
    l'heure de dernière connexion des comptes : un refus y laisse sa trace, c'est voulu (tests/core/test_droits.py)."""
    def lire(con):
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_name NOT IN ('journal', 'perr_jeton') "
            "AND table_catalog = current_database() ORDER BY 1").fetchall()]
        return {t: sorted(map(repr, con.execute(
            f"SELECT * {'EXCLUDE (derniere_connexion)' if t == 'compte' else ''} FROM {t}").fetchall()))
            for t in tables}
    return store.lire(lire)


def contenu_referentiel(store, code) -> dict[str, list]:
    """Le référentiel d'un protocole, sans les horodatages (pour comparer deux bases)."""
    def lire(con):
        sortie = {"protocole": con.execute(
            "SELECT * EXCLUDE (importe_le) FROM protocole WHERE code = ?", [code]).fetchall()}
        for t in TABLES_REFERENTIEL:
            sortie[t] = sorted(map(repr, con.execute(f"SELECT * FROM {t} WHERE protocole = ?", [code]).fetchall()))
        return sortie
    return store.lire(lire)


def refus(store, chemin) -> list[tuple[str, str]]:
    """Importe un classeur qui doit être refusé ; vérifie que la base n'a pas bougé ; renvoie les (cellule, code)."""
    avant = instantane(store)
    with pytest.raises(ImportRefuse) as exc:
        importer_referentiel(store, chemin)
    assert instantane(store) == avant
    for p in exc.value.rapport.erreurs:
        assert p.message and p.code
    return exc.value.rapport.aplatir()


# --------------------------------------------------------------------------------------------------------------------
# Le référentiel minimal passe, et tient les variantes des protocoles réels
# --------------------------------------------------------------------------------------------------------------------

@pytest.mark.deux_moteurs
def test_referentiel_minimal_importe(store, tmp_path):
    res = importer_referentiel(store, classeurs.ecrire(tmp_path))
    assert res.cree and res.protocole == "EQ2030-TEST"
    arbre = requetes.arbre(store, "EQ2030-TEST")
    assert list(arbre["code"]) == ["1", "1.1", "1.1.1", "2"]
    assert list(arbre["profondeur"]) == [1, 2, 3, 1]
    # Les comptes d'un nœud incluent ses descendants.
    assert dict(zip(arbre["code"], arbre["nb_engagements"])) == {"1": 2, "1.1": 2, "1.1.1": 1, "2": 1}
    per = requetes.perimetres(store, "EQ2030-TEST").set_index("code")
    assert per.loc["QN09301A", "communes"] == "93001;93002"
    assert per.loc["VA-GARE", "type"] == "Veille active"
    assert per.loc["EPT-TEST", "niveau"] == "Territoire"
    eng = requetes.engagements(store, "EQ2030-TEST").set_index("code")
    assert eng.loc["E1", "porteurs"] == "ETAT;CAF93"
    assert eng.loc["E2", "parent"] == "E1"
    sig = requetes.signataires(store, "EQ2030-TEST").set_index("code")
    assert sig.loc["ETAT-DDSP", "rattache_a"] == "ETAT"


# --------------------------------------------------------------------------------------------------------------------
# Chaque sorte d'erreur, avec sa cellule ; la base reste intacte
# --------------------------------------------------------------------------------------------------------------------

def _modifie(feuille, index, **champs):
    d = classeurs.donnees()
    d[feuille][index].update(champs)
    return d


# (feuille, index de ligne, modifications, cellule attendue, code attendu). La ligne i des données est la ligne i+2.
CAS = [
    ("engagements", 0, dict(porteurs=["ETAT", "INCONNU"]), "Engagements!E2", "porteur-inconnu"),
    ("engagements", 1, dict(axe="9.9"), "Engagements!B3", "axe-inconnu"),
    ("engagements", 1, dict(parent="E99"), "Engagements!C3", "engagement-inconnu"),
    ("axes", 2, dict(parent="7"), "Axes!B4", "parent-inconnu"),
    ("axes", 1, dict(code="1"), "Axes!A3", "code-duplique"),
    ("axes", 0, dict(cadres=["PACTE-INCONNU"]), "Axes!F2", "cadre-inconnu"),
    ("quartiers", 0, dict(code="QP093028"), "Quartiers!A2", "code-qpv-invalide"),
    ("quartiers", 1, dict(code="QN9302B"), "Quartiers!A3", "code-qpv-invalide"),
    ("quartiers", 0, dict(communes=["93001", "93999"]), "Quartiers!D2", "commune-inconnue"),
    ("quartiers", 2, dict(type="Quartier vécu"), "Quartiers!C4", "valeur-hors-liste"),
    ("communes", 0, dict(insee="9301"), "Communes!A2", "code-insee-invalide"),
    ("communes", 1, dict(contrat=None), "Communes!C3", "valeur-obligatoire"),
    ("communes", 1, dict(contrat="CV-Z"), "Communes!C3", "contrat-inconnu"),
    ("signataires", 1, dict(rattache_a=None), "Signataires!D3", "valeur-obligatoire"),
    ("signataires", 1, dict(rattache_a="PREFECTURE"), "Signataires!D3", "signataire-inconnu"),
    ("signataires", 2, dict(categorie="Mairie"), "Signataires!C4", "valeur-hors-liste"),
    ("signataires", 4, dict(signe="peut-être"), "Signataires!E6", "valeur-hors-liste"),
    ("indicateurs", 0, dict(signataire="DDETS"), "Indicateurs!K2", "signataire-inconnu"),
    ("indicateurs", 0, dict(sens="stable"), "Indicateurs!D2", "valeur-hors-liste"),
    ("indicateurs", 0, dict(code="APPRENTIS"), "Indicateurs!A3", "code-duplique"),
    ("indicateurs", 3, dict(numerateur=None), "Indicateurs!H5", "taux-sans-composantes"),
    ("indicateurs", 3, dict(denominateur="TAUX-APPRENTIS"), "Indicateurs!I5", "composante-incoherente"),
    ("indicateurs", 3, dict(denominateur="NULLE-PART"), "Indicateurs!I5", "indicateur-inconnu"),
    ("indicateurs", 0, dict(minimum=10, maximum=5), "Indicateurs!N2", "bornes-incoherentes"),
    ("indicateurs", 0, dict(engagements=["E404"]), "Indicateurs!L2", "engagement-inconnu"),
    ("cibles", 0, dict(indicateur="FANTOME"), "Cibles!A2", "indicateur-inconnu"),
    ("cibles", 0, dict(perimetre="QN09399Z"), "Cibles!B2", "perimetre-inconnu"),
    ("cibles", 0, dict(perimetre="93001"), "Cibles!B2", "perimetre-hors-niveau"),
    ("references", 3, dict(perimetre="QN09301A"), "Références!B5", "perimetre-hors-niveau"),
    ("cibles", 1, dict(annee=2035), "Cibles!C3", "annee-hors-protocole"),
    ("cibles", 1, dict(annee=2030), "Cibles!3:3", "ligne-dupliquee"),
    ("cibles", 2, dict(valeur=140), "Cibles!D4", "taux-hors-bornes"),
    ("references", 0, dict(valeur="beaucoup"), "Références!D2", "nombre-invalide"),
    ("references", 0, dict(annee="2023,5"), "Références!C2", "entier-invalide"),
    ("references", 0, dict(valeur=dt.date(2021, 2, 12)), "Références!D2", "nombre-invalide"),
    ("protocole", 0, dict(annee_fin=2020), "Protocole!F2", "annees-incoherentes"),
    ("protocole", 0, dict(date_signature="le 12 du mois"), "Protocole!G2", "date-invalide"),
    ("protocole", 0, dict(titre=None), "Protocole!B2", "valeur-obligatoire"),
    ("protocole", 0, dict(geographie="2014"), "Protocole!H2", "valeur-hors-liste"),
    ("protocole", 0, dict(code="EQ 2030"), "Protocole!A2", "code-invalide"),
    ("protocole", 0, dict(code_territoire="93001"), "Communes!A2", "code-duplique"),
]


@pytest.mark.parametrize("feuille,index,champs,cellule,code", CAS, ids=[f"{c[4]}@{c[3]}" for c in CAS])
def test_chaque_erreur_nomme_sa_cellule_et_rien_n_est_ecrit(store, tmp_path, feuille, index, champs, cellule, code):
    chemin = classeurs.ecrire(tmp_path, _modifie(feuille, index, **champs))
    assert (cellule, code) in refus(store, chemin)


def test_boucle_dans_l_arbre(store, tmp_path):
    d = classeurs.donnees()
    d["axes"][0]["parent"] = "1.1.1"   # 1 → 1.1.1 → 1.1 → 1
    codes = [c for _, c in refus(store, classeurs.ecrire(tmp_path, d))]
    assert codes.count("cycle-axes") == 1


def test_boucle_dans_les_engagements(store, tmp_path):
    d = classeurs.donnees()
    d["engagements"][0]["parent"] = "E2"
    assert "cycle-engagements" in [c for _, c in refus(store, classeurs.ecrire(tmp_path, d))]


def test_tous_les_problemes_sont_dits_en_une_fois(store, tmp_path):
    d = classeurs.donnees()
    d["engagements"][0]["porteurs"] = ["XX"]
    d["quartiers"][0]["code"] = "QPV1"
    d["cibles"][0]["indicateur"] = "YY"
    plat = refus(store, classeurs.ecrire(tmp_path, d))
    assert {c for _, c in plat} >= {"porteur-inconnu", "code-qpv-invalide", "indicateur-inconnu"}


def test_feuille_et_colonne_manquantes(store, tmp_path):
    chemin = classeurs.ecrire(tmp_path)
    wb = load_workbook(chemin)
    del wb["Axes"]
    wb["Indicateurs"]["D1"] = "Direction"     # la colonne « Sens » disparaît
    wb.save(chemin)
    plat = refus(store, chemin)
    assert ("Axes", "feuille-manquante") in plat
    assert ("Indicateurs!1:1", "colonne-manquante") in plat
    assert ("Indicateurs!D1", "colonne-inconnue") in plat


def test_fichier_qui_n_est_pas_un_classeur(store, tmp_path):
    faux = tmp_path / "referentiel.xlsx"
    faux.write_bytes(b"%PDF-1.4 un pdf renomme")
    plat = refus(store, faux)
    assert [c for _, c in plat] == ["fichier-illisible"]


def test_modele_vierge_a_instructions_et_listes(tmp_path, store):
    chemin = tmp_path / "modele.xlsx"
    ecrire_modele(chemin)
    wb = load_workbook(chemin)
    assert wb.sheetnames[0] == "Instructions"
    assert {"Protocole", "Axes", "Engagements", "Indicateurs", "Cibles"} <= set(wb.sheetnames)
    listes = [dv.formula1 for dv in wb["Indicateurs"].data_validations.dataValidation]
    assert '"hausse,baisse"' in listes
    assert any("Signataires" in f for f in listes)
    # Le modèle vierge, importé tel quel, est refusé proprement (et pas par une exception).
    codes = {c for _, c in refus(store, chemin)}
    assert "feuille-vide" in codes


# --------------------------------------------------------------------------------------------------------------------
# Réimport sur place, sans rien perdre
# --------------------------------------------------------------------------------------------------------------------

def _deposer(store, indicateur="PATROUILLES", perimetre="QN09301A"):
    valeurs = pd.DataFrame([dict(indicateur=indicateur, perimetre=perimetre, periode="2024", valeur=130.0)])
    store.ecrire(lambda con: enregistrer_depot(
        con, protocole="EQ2030-TEST", signataire="ETAT-DDSP", periode="2024", utilisateur="test",
        fichier_nom="f.csv", contenu=b"x", valeurs=valeurs))


@pytest.mark.deux_moteurs
def test_reimport_met_a_jour_sans_perdre_les_valeurs(store, tmp_path):
    importer_referentiel(store, classeurs.ecrire(tmp_path))
    _deposer(store)
    d = classeurs.donnees()
    d["indicateurs"][0]["libelle"] = "Patrouilles pédestres (nouvelle définition)"
    d["engagements"].append(dict(code="E4", axe="2", libelle="Nouvel engagement", porteurs=["EPT"]))
    res = importer_referentiel(store, classeurs.ecrire(tmp_path, d, "v2.xlsx"))
    assert not res.cree
    ind = requetes.indicateurs(store, "EQ2030-TEST").set_index("code")
    assert ind.loc["PATROUILLES", "libelle"].endswith("(nouvelle définition)")
    assert requetes.nombre_de_valeurs(store, "EQ2030-TEST") == 1
    assert "E4" in set(requetes.engagements(store, "EQ2030-TEST")["code"])
    # Le journal des imports garde les deux.
    assert store.lire(lambda con: con.execute("SELECT count(*) FROM import_referentiel").fetchone()[0]) == 2


@pytest.mark.deux_moteurs
def test_retirer_un_indicateur_qui_a_des_valeurs_est_refuse(store, tmp_path):
    importer_referentiel(store, classeurs.ecrire(tmp_path))
    _deposer(store)
    d = classeurs.donnees()
    d["indicateurs"] = [i for i in d["indicateurs"] if i["code"] != "PATROUILLES"]
    d["references"] = [r for r in d["references"] if r["indicateur"] != "PATROUILLES"]
    d["cibles"] = [r for r in d["cibles"] if r["indicateur"] != "PATROUILLES"]
    plat = refus(store, classeurs.ecrire(tmp_path, d, "v2.xlsx"))
    # Les codes fictifs des quartiers d'essai ne sont pas dans la liste officielle : avertis, pas refusés.
    assert plat == [("Quartiers!A2", "code-qpv-inconnu"), ("Quartiers!A3", "code-qpv-inconnu"),
                    ("Indicateurs", "indicateur-supprime-avec-valeurs")]


def test_retirer_un_indicateur_sans_valeur_est_permis(store, tmp_path):
    importer_referentiel(store, classeurs.ecrire(tmp_path))
    d = classeurs.donnees()
    d["indicateurs"] = [i for i in d["indicateurs"] if i["code"] != "DELAI"]
    d["references"] = [r for r in d["references"] if r["indicateur"] != "DELAI"]
    d["cibles"] = [r for r in d["cibles"] if r["indicateur"] != "DELAI"]
    importer_referentiel(store, classeurs.ecrire(tmp_path, d, "v2.xlsx"))
    assert "DELAI" not in set(requetes.indicateurs(store, "EQ2030-TEST")["code"])


# --------------------------------------------------------------------------------------------------------------------
# Export → import sur une base neuve : à l'identique
# --------------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("code", ["TCM-PERR-2019", "BLOIS-PERR-2020"])
def test_export_puis_import_reproduit_le_protocole(store_demo, store, tmp_path, code):
    chemin = tmp_path / f"{code}.xlsx"
    exporter_referentiel(store_demo, code, chemin)
    importer_referentiel(store, chemin)
    assert contenu_referentiel(store, code) == contenu_referentiel(store_demo, code)


def test_export_neutralise_les_formules(store, tmp_path):
    d = classeurs.donnees()
    d["engagements"][0]["libelle"] = '=HYPERLINK("http://exemple.invalid","cliquez")'
    importer_referentiel(store, classeurs.ecrire(tmp_path, d))
    chemin = tmp_path / "export.xlsx"
    exporter_referentiel(store, "EQ2030-TEST", chemin)
    cellule = load_workbook(chemin)["Engagements"]["D2"]
    assert cellule.data_type == "s"          # un texte, jamais une formule
    assert cellule.value.startswith("=HYPERLINK")
    # Et la relecture redonne le texte exact.
    importer_referentiel(store, chemin)
    assert requetes.engagements(store, "EQ2030-TEST").set_index("code").loc["E1", "libelle"].startswith("=HYPERLINK")


# --------------------------------------------------------------------------------------------------------------------
# Les deux protocoles de démonstration, tels que les documents les écrivent
# --------------------------------------------------------------------------------------------------------------------

@pytest.mark.deux_moteurs
def test_demo_troyes(store_demo):
    code = "TCM-PERR-2019"
    arbre = requetes.arbre(store_demo, code)
    axes = arbre[arbre["profondeur"] == 1]
    assert list(axes["libelle"]) == ["Garantir les mêmes droits aux habitants", "Favoriser l'émancipation",
                                     "Faire République"]
    # Le document a 14 intitulés « En s'engageant … » (l'issue en annonçait 15 : voir la note de session).
    assert (arbre["profondeur"] == 2).sum() == 14
    eng = requetes.engagements(store_demo, code)
    groupes = eng.drop_duplicates(["noeud", "formule"])
    assert len(groupes) == 31
    assert 130 <= len(eng) <= 150
    caf = eng[eng["formule"] == "L'État et la CAF s'engagent à :"]
    assert set(caf["porteurs"]) == {"ETAT;CAF10"}
    apprentis = eng[eng["libelle"].str.contains("doublant le nombre d'apprentis")]
    assert len(apprentis) == 1
    per = requetes.perimetres(store_demo, code)
    assert (per["type"] == "QPV").sum() == 9
    assert (per["niveau"] == "Commune").sum() == 6
    chantereigne = per[per["libelle"].str.contains("Chantereigne")].iloc[0]
    assert chantereigne["communes"] == "10081;10265;10387"
    ind = requetes.indicateurs(store_demo, code)
    assert len(ind) >= 30
    assert ind["engagements"].notna().all()
    assert set(ind["agregation"]) == {"somme", "taux", "non agrégeable"}
    assert requetes.protocole(store_demo, code)["demonstration"]


def test_demo_blois(store_demo):
    code = "BLOIS-PERR-2020"
    arbre = requetes.arbre(store_demo, code)
    enjeux = arbre[arbre["profondeur"] == 1]
    assert len(enjeux) == 5 and set(enjeux["niveau"]) == {"Enjeu"}
    assert all("DIJON-" in c for c in enjeux["cadres"])
    eng = requetes.engagements(store_demo, code)
    textes = " ".join(eng["libelle"])
    for chiffre in ("trois points", "15 %", "20 %", "40 %"):
        assert chiffre in textes
    assert eng["levier"].notna().sum() > 20
    per = requetes.perimetres(store_demo, code).set_index("code")
    assert per.loc["VA-QUINIERE", "type"] == "Veille active"
    assert per.loc["QN04101M", "type"] == "QPV"
    assert len(requetes.indicateurs(store_demo, code)) >= 10


def test_demo_valeurs_tracables(store_demo):
    """Chaque valeur de démonstration vient d'un dépôt (fichier, signataire, date) dont les octets sont gardés."""
    orphelines, sans_fichier = store_demo.lire(lambda con: con.execute("""
        SELECT (SELECT count(*) FROM valeur v WHERE NOT EXISTS (SELECT 1 FROM depot d WHERE d.id = v.depot_id)),
               (SELECT count(*) FROM depot WHERE octet_length(contenu) = 0)""").fetchone())
    assert orphelines == 0 and sans_fichier == 0
    for code, annees in (("TCM-PERR-2019", {2019, 2020, 2021, 2022}), ("BLOIS-PERR-2020", {2020, 2021, 2022})):
        vus = set(store_demo.requete("SELECT DISTINCT annee FROM valeur WHERE protocole = ?", [code])["annee"])
        assert vus == annees


def test_lecture_d_un_dossier_csv_demo():
    from perr_metrics.demo.demonstration import DOSSIER_DEMO
    ref = lire_referentiel(DOSSIER_DEMO / "troyes")
    assert ref.rapport.valide and not ref.rapport.avertissements, ref.rapport.texte()


def test_demo_etats_des_engagements(store_demo):
    """La démo porte un historique d'états fictifs : chaque état possible y figure, des engagements ont plusieurs états,
    et un report ou un abandon est toujours expliqué."""
    df = store_demo.requete("SELECT protocole, engagement, etat, commentaire FROM etat_engagement")
    assert set(df["protocole"]) == {"TCM-PERR-2019", "BLOIS-PERR-2020"}
    assert set(df["etat"]) == {"non démarré", "en cours", "réalisé", "reporté", "abandonné"}
    assert df.groupby(["protocole", "engagement"]).size().max() >= 2
    assert df[df["etat"].isin(["reporté", "abandonné"])]["commentaire"].notna().all()
