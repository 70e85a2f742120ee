"""Les fichiers que les partenaires envoient vraiment : CSV de toutes sortes, classeurs, nombres à la française,
pourcentages et dates, fichiers réenregistrés par LibreOffice — et ceux qu'on n'espère pas : abîmés, chiffrés, déguisés,
démesurés. Aucun ne fait planter le dépôt, aucun refus ne touche la base.

Les tests LibreOffice (marqués `lent`) partagent des conversions faites une fois par session, en quelques appels de
`soffice` (≈ 1,5 s chacun).
"""
from __future__ import annotations

import datetime as dt
import io
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook, load_workbook

from perr_metrics.depots import validation
from tests.conftest import ADMIN
from perr_metrics.stockage.magasin import Store
from perr_metrics.depots.depot import deposer, fichier_du_depot
from perr_metrics.commun.lecture import lire_classeur
from perr_metrics.depots.modele import ecrire_modele_depot
from tests import fichiers
from tests.core.test_depots import accepte, base_essai, courantes, essai, modele, refus  # noqa: F401 (fixtures)
from tests.fichiers import PROTOCOLE, classeur_long, csv_long, remplir_modele, sauver

# Les valeurs de l'EPT pour 2025 (le modèle a ces 10 lignes), accents dans les commentaires.
VALEURS_EPT = {
    ("APPRENTIS", "QN09301A", "2025-S1"): 12.0, ("APPRENTIS", "QN09301A", "2025-S2"): 14.0,
    ("APPRENTIS", "QN09302B", "2025-S1"): 7.0, ("APPRENTIS", "QN09302B", "2025-S2"): 9.0,
    ("APPRENTIS", "VA-GARE", "2025-S1"): 2.0, ("APPRENTIS", "VA-GARE", "2025-S2"): 3.0,
    ("JEUNES", "QN09301A", "2025"): 1234.5, ("JEUNES", "QN09302B", "2025"): 860.0, ("JEUNES", "VA-GARE", "2025"): 95.0,
    ("TAUX-APPRENTIS", "QN09301A", "2025"): 12.5,
}
COMMENTAIRES_EPT = {("JEUNES", "VA-GARE", "2025"): "Données INSEE légèrement révisées (« estimation »)"}


# --------------------------------------------------------------------------------------------------------------------
# CSV : séparateurs, encodages, nombres à la française
# --------------------------------------------------------------------------------------------------------------------

LIGNES_CSV = [
    ["TAUX-APPRENTIS", "QN09301A", "2025", "12,5 %", "Taux calculé à la main — vérifié"],
    ["JEUNES", "QN09301A", "2025", "1 234,5", "Écart dû à la révision"],
    ["JEUNES", "QN09302B", "2025", "1\u00a0234", "espace insécable"],
    ["JEUNES", "VA-GARE", "2025", "12.5", "point décimal"],
    ["APPRENTIS", "QN09301A", "2025-S1", " 7 ", ""],
    ["APPRENTIS", "QN09301A", "2025-S2", "+8,0", None],
]
ATTENDU_CSV = {("TAUX-APPRENTIS", "QN09301A", "2025"): 12.5, ("JEUNES", "QN09301A", "2025"): 1234.5,
               ("JEUNES", "QN09302B", "2025"): 1234.0, ("JEUNES", "VA-GARE", "2025"): 12.5,
               ("APPRENTIS", "QN09301A", "2025-S1"): 7.0, ("APPRENTIS", "QN09301A", "2025-S2"): 8.0}


@pytest.mark.parametrize("sep, encodage", [(";", "utf-8"), (",", "utf-8"), (";", "cp1252"), (",", "cp1252"),
                                           (";", "utf-8-sig")])
def test_csv_separateurs_et_encodages(essai, sep, encodage):
    donnees = csv_long(LIGNES_CSV, sep=sep, encodage=encodage)
    res = accepte(essai, donnees, "valeurs.csv", "EPT")
    assert res.nb_valeurs == 6
    assert courantes(essai) == ATTENDU_CSV
    commentaires = dict(essai.requete("SELECT cellule, commentaire FROM valeur").values.tolist())
    assert commentaires["valeurs!D2"] == "Taux calculé à la main — vérifié"
    assert commentaires["valeurs!D3"] == "Écart dû à la révision" and pd.isna(commentaires["valeurs!D6"])
    assert fichier_du_depot(essai, res.depot_id)[1] == donnees


def test_csv_espace_fine_insecable_et_point(essai):
    """L'espace fine insécable (U+202F) que met Excel en français pour les milliers, et le point décimal."""
    donnees = csv_long([["JEUNES", "QN09301A", "2025", "12\u202f345,5"], ["JEUNES", "QN09302B", "2025", "0.5"],
                        ["TAUX-APPRENTIS", "QN09301A", "2025", "12,5\u202f%"]])
    accepte(essai, donnees, "v.csv", "EPT")
    assert courantes(essai) == {("JEUNES", "QN09301A", "2025"): 12345.5, ("JEUNES", "QN09302B", "2025"): 0.5,
                                ("TAUX-APPRENTIS", "QN09301A", "2025"): 12.5}


def test_csv_formules_gardees_comme_texte(essai):
    """Une « formule » dans un commentaire n'est jamais évaluée : elle est gardée telle quelle, comme du texte."""
    lignes = [["JEUNES", "QN09301A", "2025", 5, '=HYPERLINK("http://x","y")'],
              ["JEUNES", "QN09302B", "2025", 6, "@SUM(A1)"], ["JEUNES", "VA-GARE", "2025", 7, "+cmd|' /C calc'!A0"]]
    accepte(essai, csv_long(lignes), "v.csv", "EPT")
    assert essai.requete("SELECT commentaire FROM valeur ORDER BY cellule")["commentaire"].tolist() == [
        '=HYPERLINK("http://x","y")', "@SUM(A1)", "+cmd|' /C calc'!A0"]


def test_csv_en_tetes_libres(essai):
    """En-têtes avec accents, majuscules, astérisques, colonnes dans le désordre ou en plus : la table est trouvée."""
    donnees = csv_long([["2025", "x", "QN09301A", "JEUNES", "42"]],
                       entete=["Période", "Note interne", "Périmètre *", "INDICATEUR", "Valeur *"])
    accepte(essai, donnees, "v.csv", "EPT")
    assert courantes(essai) == {("JEUNES", "QN09301A", "2025"): 42.0}
    assert essai.requete("SELECT cellule FROM valeur")["cellule"].tolist() == ["v!E2"]


def test_csv_vide_ou_sans_valeur(essai):
    assert refus(essai, b"", "v.csv") == [("", "fichier-vide")]
    assert refus(essai, csv_long([]), "v.csv") == [("v", "fichier-vide")]
    assert refus(essai, csv_long([["JEUNES", "QN09301A", "2025", ""]]), "v.csv") == [("v", "fichier-vide")]
    assert refus(essai, b";;;;\r\n;;;;\r\n", "v.csv") == [("", "fichier-vide")]


def test_colonne_manquante(essai):
    donnees = csv_long([["JEUNES", "QN09301A", "2025", "x"]],
                       entete=["indicateur", "perimetre", "periode", "commentaire"])
    assert refus(essai, donnees, "v.csv") == [("v!1:1", "colonne-manquante")]
    # En-têtes sous un titre, sans colonne période et sans période indiquée : la ligne d'en-têtes est désignée.
    donnees = classeur_long([["JEUNES", "QN09301A", 5]], entete=["indicateur", "perimetre", "valeur"],
                            feuille="Feuil1", avant=[["Valeurs 2025 de l'EPT"], []])
    assert refus(essai, donnees, "v.xlsx") == [("Feuil1!3:3", "colonne-manquante")]
    assert accepte(essai, donnees, "v.xlsx", "EPT", periode="2025").nb_valeurs == 1


def test_feuille_manquante(essai):
    wb = Workbook()
    wb.active.append(["Nos actions 2025"])
    wb.active.append(["Patrouilles", 120])
    assert refus(essai, sauver(wb), "v.xlsx") == [("", "feuille-manquante")]


# --------------------------------------------------------------------------------------------------------------------
# Classeurs : pourcentages, dates, formules, fusions, feuilles cachées ou renommées
# --------------------------------------------------------------------------------------------------------------------

def test_classeur_format_pourcentage(essai):
    """0,125 au format pourcentage (affiché 12,5 %) est lu 12,5 pour un indicateur en % ; le texte « 12,5 % » aussi ;
    pour un indicateur en nombre, le format pourcentage est refusé."""
    donnees = classeur_long([["TAUX-APPRENTIS", "QN09301A", "2025", 0.125], ["TAUX-APPRENTIS", "QN09302B", "2025",
                                                                             "12,5 %"]], formats={"D2": "0.0%"})
    accepte(essai, donnees, "v.xlsx", "EPT")
    assert courantes(essai) == {("TAUX-APPRENTIS", "QN09301A", "2025"): 12.5,
                                ("TAUX-APPRENTIS", "QN09302B", "2025"): 12.5}
    donnees = classeur_long([["JEUNES", "QN09301A", "2025", 12], ["JEUNES", "QN09302B", "2025", 0.5]],
                            formats={"D3": "0%"})
    assert refus(essai, donnees, "v.xlsx") == [("Valeurs!D3", "pourcentage-inattendu")]


def test_modele_cellule_pourcentage(essai):
    """Dans le modèle, le partenaire met la cellule du taux au format % et tape 12,5 % : le tableur stocke 0,125."""
    rempli = remplir_modele(modele(essai, "EPT"), {("TAUX-APPRENTIS", "QN09301A", "2025"): 0.125},
                            formats={("TAUX-APPRENTIS", "QN09301A", "2025"): "0.00%"})
    accepte(essai, rempli, "m.xlsx", "EPT")
    assert courantes(essai) == {("TAUX-APPRENTIS", "QN09301A", "2025"): 12.5}


def test_date_au_lieu_d_un_nombre(essai):
    donnees = classeur_long([["JEUNES", "QN09301A", "2025", dt.date(2025, 3, 12)],
                             ["JEUNES", "QN09302B", "2025", dt.datetime(2025, 1, 2, 0, 0)]])
    assert refus(essai, donnees, "v.xlsx") == [("Valeurs!D2", "valeur-date"), ("Valeurs!D3", "valeur-date")]


def test_formule_sans_valeur_calculee(essai):
    """openpyxl écrit la formule sans son résultat (comme un programme qui n'a jamais recalculé) : refusée avec sa
    cellule, et pas ignorée comme une cellule vide."""
    rempli = remplir_modele(modele(essai, "EPT"), {("JEUNES", "QN09301A", "2025"): "=2*21",
                                                   ("JEUNES", "QN09302B", "2025"): '=IF(1=1,"",5)',
                                                   ("JEUNES", "VA-GARE", "2025"): 5})
    assert refus(essai, rempli, "m.xlsx") == [("Valeurs!J8", "formule-sans-valeur"),
                                              ("Valeurs!J9", "formule-sans-valeur")]
    seule = remplir_modele(modele(essai, "EPT"), {("JEUNES", "QN09301A", "2025"): "=SUM(J9:J10)"})
    assert refus(essai, seule, "m.xlsx") == [("Valeurs!J8", "formule-sans-valeur")]


def test_code_fusionne_sur_plusieurs_lignes(essai):
    """Un code d'indicateur fusionné sur trois lignes de quartiers vaut pour les trois."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Valeurs"
    ws.append(fichiers.ENTETE)
    for perimetre, v in (("QN09301A", 5), ("QN09302B", 6), ("VA-GARE", 7)):
        ws.append(["APPRENTIS" if perimetre == "QN09301A" else None, perimetre, "2025-S1", v])
    ws.merge_cells("A2:A4")
    accepte(essai, sauver(wb), "v.xlsx", "EPT")
    assert courantes(essai) == {("APPRENTIS", "QN09301A", "2025-S1"): 5, ("APPRENTIS", "QN09302B", "2025-S1"): 6,
                                ("APPRENTIS", "VA-GARE", "2025-S1"): 7}


def test_feuille_renommee(essai):
    def renommer(wb):
        wb["Valeurs"].title = "Mes chiffres"
    rempli = remplir_modele(modele(essai, "EPT"), {("JEUNES", "QN09301A", "2025"): 5}, modifier=renommer)
    accepte(essai, rempli, "m.xlsx", "EPT")
    assert essai.requete("SELECT cellule FROM valeur")["cellule"].tolist() == ["Mes chiffres!J8"]


def test_feuille_cachee_nommee_valeurs(essai):
    """Une feuille « Valeurs » cachée (brouillon) ne l'emporte pas sur la feuille visible que le partenaire a remplie ;
    seule, elle est lue en dernier recours."""
    wb = Workbook()
    cachee = wb.active
    cachee.title = "Valeurs"
    cachee.append(fichiers.ENTETE)
    cachee.append(["BROUILLON", "???", "2025", "à voir"])
    cachee.sheet_state = "hidden"
    visible = wb.create_sheet("Mes chiffres")
    visible.append(fichiers.ENTETE)
    visible.append(["JEUNES", "QN09301A", "2025", 42])
    wb.active = 1
    accepte(essai, sauver(wb), "v.xlsx", "EPT")
    assert essai.requete("SELECT cellule, valeur FROM valeur").values.tolist() == [["Mes chiffres!D2", 42.0]]

    wb = Workbook()
    wb.active.title = "Notes"
    wb.active.append(["Rien ici"])
    cachee = wb.create_sheet("Valeurs")
    cachee.append(fichiers.ENTETE)
    cachee.append(["JEUNES", "QN09302B", "2025", 43])
    cachee.sheet_state = "hidden"
    accepte(essai, sauver(wb), "w.xlsx", "EPT")
    assert courantes(essai)[("JEUNES", "QN09302B", "2025")] == 43


def test_un_million_de_lignes_vides_mises_en_forme(essai):
    """Un partenaire a mis en forme des colonnes entières : un million de lignes vides sous le tableau."""
    rempli = remplir_modele(modele(essai, "EPT"), VALEURS_EPT, COMMENTAIRES_EPT)
    gros = fichiers.lignes_vides_formatees(rempli, n=1_000_000)
    assert len(gros) < validation.TAILLE_MAX_MO * 2**20
    with zipfile.ZipFile(io.BytesIO(gros)) as z:
        assert sum(i.file_size for i in z.infolist()) > 60 * 2**20
    res = accepte(essai, gros, "m.xlsx", "EPT")
    assert res.nb_valeurs == 10 and courantes(essai) == VALEURS_EPT


# --------------------------------------------------------------------------------------------------------------------
# Fichiers abîmés, déguisés, chiffrés, démesurés : jamais d'exception, jamais d'écriture
# --------------------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bombe() -> bytes:
    """500 Mo une fois décompressée (au-delà des 400 Mo admis en tout)."""
    return fichiers.bombe_zip(500)


# cas → (fabrique des octets, nom du fichier, code attendu). `bombe` : la grosse bombe, fabriquée une fois par module.
HOSTILES = {
    "vide": (lambda bombe: b"", "v.xlsx", "fichier-vide"),
    "tronque": (lambda bombe: fichiers.tronque(classeur_long([["JEUNES", "QN09301A", "2025", 5]])), "v.xlsx",
                "fichier-illisible"),
    "csv-renomme": (lambda bombe: csv_long([["JEUNES", "QN09301A", "2025", 5]]), "v.xlsx", "fichier-illisible"),
    "pdf-renomme": (lambda bombe: fichiers.PDF, "v.xlsx", "fichier-illisible"),
    "octets-au-hasard": (lambda bombe: bytes(range(256)) * 40, "v.ods", "fichier-illisible"),
    "zip-sans-classeur": (lambda bombe: _zip({"lisez-moi.txt": b"bonjour"}), "v.xlsx", "fichier-illisible"),
    "ole-chiffre": (lambda bombe: fichiers.ole_chiffre(), "v.xlsx", "fichier-protege"),
    "bombe-zip": (lambda bombe: bombe, "v.xlsx", "archive-suspecte"),
    # 60 Mo seulement, mais compressés plus de 1000 fois : refusée avant décompression.
    "bombe-zip-compacte": (lambda bombe: fichiers.bombe_zip(60, niveau=9), "v.xlsx", "archive-suspecte"),
}


def _zip(membres: dict[str, bytes]) -> bytes:
    flux = io.BytesIO()
    with zipfile.ZipFile(flux, "w") as z:
        for nom, contenu in membres.items():
            z.writestr(nom, contenu)
    return flux.getvalue()


@pytest.mark.parametrize("cas", list(HOSTILES))
def test_fichier_hostile_refuse_proprement(essai, bombe, cas):
    fabrique, nom, code = HOSTILES[cas]
    donnees = fabrique(bombe)
    assert refus(essai, donnees, nom) == [("", code)]
    res = deposer(essai, donnees, nom, protocole=PROTOCOLE, signataire="EPT")
    message = res.rapport.erreurs[0].message
    assert (nom in message or cas == "vide") and "Traceback" not in message and "Error" not in message
    if cas == "pdf-renomme":
        assert "PDF" in message
    if cas == "ole-chiffre":
        assert "mot de passe" in message


def test_fichier_trop_gros(essai, monkeypatch):
    donnees = classeur_long([["JEUNES", "QN09301A", "2025", 5]])
    monkeypatch.setattr(validation, "TAILLE_MAX_MO", len(donnees) / 2**20 / 2)
    assert refus(essai, donnees, "v.xlsx") == [("", "fichier-trop-gros")]
    monkeypatch.setattr(validation, "TAILLE_MAX_MO", 20.0)
    accepte(essai, donnees, "v.xlsx", "EPT")


# --------------------------------------------------------------------------------------------------------------------
# LibreOffice : ce qu'il fait au modèle, et les fichiers qu'il écrit
# --------------------------------------------------------------------------------------------------------------------

LO = pytest.mark.skipif(not fichiers.libreoffice_present(), reason="LibreOffice (soffice) absent")
FILTRE_CSV_FRANCAIS = "CSV:59,34,76,1,,1036"     # séparateur ;, guillemets, UTF-8, ligne 1, langue fr-FR


@pytest.fixture(scope="session")
def lo(base_essai, tmp_path_factory) -> dict[str, bytes]:
    """Les fichiers réenregistrés par LibreOffice, convertis une fois pour toute la session (cinq appels de soffice
    et un enregistrement chiffré par UNO)."""
    if not fichiers.libreoffice_present():
        pytest.skip("LibreOffice (soffice) absent")
    racine = tmp_path_factory.mktemp("libreoffice")
    src = racine / "src"
    src.mkdir()
    store = Store(base_essai, utilisateur=ADMIN)
    flux = io.BytesIO()
    ecrire_modele_depot(store, PROTOCOLE, "EPT", "2025", flux)
    vierge = flux.getvalue()
    (src / "modele_vierge.xlsx").write_bytes(vierge)
    (src / "modele_rempli.xlsx").write_bytes(remplir_modele(vierge, VALEURS_EPT, COMMENTAIRES_EPT))
    formules = dict(VALEURS_EPT)
    formules[("JEUNES", "QN09301A", "2025")] = "=2*21"
    formules[("JEUNES", "QN09302B", "2025")] = '=IF(1=1,"",5)'     # résultat : texte vide
    (src / "formule.xlsx").write_bytes(remplir_modele(vierge, formules))
    wb = Workbook()
    ws = wb.active
    ws.title = "Valeurs"
    ws.append(fichiers.ENTETE)
    for perimetre, v in (("QN09301A", 5), ("QN09302B", 6), ("VA-GARE", 7)):
        ws.append(["APPRENTIS" if perimetre == "QN09301A" else None, perimetre, "2025-S1", v])
    ws.merge_cells("A2:A4")
    (src / "fusion.xlsx").write_bytes(sauver(wb))
    # Ce qu'un partenaire tape dans un tableur français (le CSV est ouvert avec la langue fr-FR).
    (src / "francais.csv").write_bytes(csv_long([
        ["TAUX-APPRENTIS", "QN09301A", "2025", "12,5 %", "taux saisi en pourcentage"],
        ["JEUNES", "QN09301A", "2025", "1 234,5", "séparateur de milliers"],
        ["JEUNES", "QN09302B", "2025", "=40+2", "formule recalculée"],
        ["JEUNES", "VA-GARE", "2025", "95", "Données « révisées »"],
    ], fin="\n"))
    (src / "date.csv").write_bytes(csv_long([["JEUNES", "QN09301A", "2025", "12/03/2025", "date"]], fin="\n"))

    # Cinq conversions indépendantes, en parallèle (chacune son profil) : ≈ le temps de deux à la suite.
    modeles = [src / n for n in ("modele_vierge.xlsx", "modele_rempli.xlsx", "formule.xlsx", "fusion.xlsx")]
    csv = [src / "francais.csv", src / "date.csv"]
    travaux = [
        (csv, "xlsx", racine / "csv_xlsx", FILTRE_CSV_FRANCAIS),
        (csv, "ods", racine / "csv_ods", FILTRE_CSV_FRANCAIS),
        (modeles, "xlsx", racine / "xlsx", None),
        (modeles[:2], "ods", racine / "ods", None),
        (modeles[1:2], "xlsm:Calc MS Excel 2007 VBA XML", racine / "xlsm", None),
    ]
    with ThreadPoolExecutor(max_workers=len(travaux) + 1) as ex:
        futurs = [ex.submit(fichiers.libreoffice, entrees, format_, dossier, fichiers.profil_libreoffice(racine),
                            infilter) for entrees, format_, dossier, infilter in travaux]
        chiffre = ex.submit(fichiers.xls_chiffre_libreoffice, src / "modele_rempli.xlsx", racine / "protege.xls",
                            fichiers.profil_libreoffice(racine))
        sortie = {p.name: p.read_bytes() for f in futurs for p in f.result()}
        if chiffre.result() is not None:
            sortie["protege.xls"] = chiffre.result().read_bytes()
    sortie["openpyxl:modele_rempli.xlsx"] = (src / "modele_rempli.xlsx").read_bytes()
    sortie["openpyxl:formule.xlsx"] = (src / "formule.xlsx").read_bytes()
    return sortie


@LO
@pytest.mark.lent
def test_ce_que_libreoffice_fait_du_modele(lo):
    """Réenregistré par LibreOffice, le modèle garde sa protection, ses cellules de saisie ouvertes, ses contrôles de
    saisie et ses métadonnées ; la feuille de métadonnées passe de « veryHidden » à « hidden » (LibreOffice ne connaît
    qu'un état caché) ; les volets figés sont perdus."""
    wb = load_workbook(io.BytesIO(lo["modele_vierge.xlsx"]))
    assert wb.sheetnames == ["Instructions", "Valeurs", "_perr"]
    assert wb["_perr"].sheet_state == "hidden"
    infos = {r[0].value: r[1].value for r in wb["_perr"].iter_rows()}
    assert (infos["modele"], infos["protocole"], infos["signataire"], infos["periode"]) == (
        "perr-depot-1", PROTOCOLE, "EPT", "2025")
    ws = wb["Valeurs"]
    assert ws.protection.sheet
    assert ws["A2"].protection.locked and ws["I11"].protection.locked
    assert not ws["J2"].protection.locked and not ws["K11"].protection.locked and not ws["L11"].protection.locked
    validations = {str(dv.sqref): (dv.type, dv.operator, dv.formula1) for dv in ws.data_validations.dataValidation}
    # La liste des motifs (colonne K) survit aussi ; LibreOffice y écrit l'opérateur « between », sans effet sur une liste.
    assert validations == {"J11": ("decimal", "between", "0"), "J2:J10": ("decimal", "greaterThanOrEqual", "0"),
                           "K2:K11": ("list", "between",
                                      '"donnée non disponible,secret statistique,non concerné,autre"')}
    assert ws.auto_filter.ref == "A1:L11"
    assert ws.freeze_panes is None
    # Dans le .ods aussi, la feuille de métadonnées reste là, cachée.
    lues = validation.lire_depot(lo["modele_vierge.ods"], "m.ods")
    assert lues.meta["signataire"] == "EPT" and lues.meta["periode"] == "2025"


@LO
@pytest.mark.lent
@pytest.mark.parametrize("nom", ["modele_rempli.xlsx", "modele_rempli.ods", "modele_rempli.xlsm"])
def test_modele_reenregistre_par_libreoffice_accepte(essai, lo, nom):
    res = accepte(essai, lo[nom], nom, "EPT")
    assert (res.nb_valeurs, res.periode) == (10, "2025")
    assert courantes(essai) == VALEURS_EPT
    commentaire = essai.requete("SELECT commentaire FROM valeur WHERE commentaire IS NOT NULL")["commentaire"]
    assert commentaire.tolist() == [COMMENTAIRES_EPT[("JEUNES", "VA-GARE", "2025")]]


@LO
@pytest.mark.lent
def test_memes_valeurs_qu_avec_openpyxl(essai, lo):
    accepte(essai, lo["openpyxl:modele_rempli.xlsx"], "openpyxl.xlsx", "EPT")
    avant = courantes(essai)
    # Le même contenu réenregistré par LibreOffice : d'autres octets, les mêmes valeurs, tout « inchangée ».
    res = accepte(essai, lo["modele_rempli.xlsx"], "libreoffice.xlsx", "EPT", periode="2025")
    assert set(res.changements["nature"]) == {"inchangée"} and courantes(essai) == avant


@LO
@pytest.mark.lent
def test_metadonnees_perdues_periode_indiquee(essai, lo):
    """Un partenaire recopie la feuille dans un classeur neuf : plus de métadonnées. La colonne Période suffit ; avec
    une période indiquée au dépôt, elle est contrôlée."""
    wb = load_workbook(io.BytesIO(lo["modele_rempli.xlsx"]))
    del wb["_perr"]
    sans_meta = sauver(wb)
    assert refus(essai, sans_meta, "m.xlsx", "EPT", periode="2026") == [
        (f"Valeurs!E{i}", "periode-differente") for i in range(2, 12)]
    res = accepte(essai, sans_meta, "m.xlsx", "EPT", periode="2025")
    assert res.periode == "2025" and courantes(essai) == VALEURS_EPT


@LO
@pytest.mark.lent
def test_macros_jamais_executees(essai, lo):
    """Un .xlsm (écrit par LibreOffice, avec un projet VBA ajouté) : les valeurs sont lues, rien n'est exécuté."""
    xlsm = fichiers.ajouter_macro(lo["modele_rempli.xlsm"])
    assert b"macroEnabled" in zipfile.ZipFile(io.BytesIO(xlsm)).read("[Content_Types].xml")
    res = accepte(essai, xlsm, "valeurs.xlsm", "EPT")
    assert res.nb_valeurs == 10 and courantes(essai) == VALEURS_EPT


@LO
@pytest.mark.lent
def test_formule_recalculee_par_libreoffice_acceptee(essai, lo):
    """Les formules qu'openpyxl avait laissées sans résultat : LibreOffice les a recalculées, le résultat est lu ; une
    formule dont le résultat est un texte vide compte comme une cellule vide (la ligne n'est pas déposée)."""
    assert validation.lire_depot(lo["openpyxl:formule.xlsx"], "f.xlsx").formules_sans_valeur == {"J8", "J9"}
    wb = load_workbook(io.BytesIO(lo["formule.xlsx"]))
    assert (wb["Valeurs"]["J8"].value, wb["Valeurs"]["J9"].value) == ("=2*21", '=IF(1=1,"",5)')
    res = accepte(essai, lo["formule.xlsx"], "formule.xlsx", "EPT")
    attendu = dict(VALEURS_EPT)
    attendu[("JEUNES", "QN09301A", "2025")] = 42.0
    del attendu[("JEUNES", "QN09302B", "2025")]
    assert courantes(essai) == attendu and res.nb_valeurs == 9


@LO
@pytest.mark.lent
@pytest.mark.parametrize("nom", ["francais.xlsx", "francais.ods"])
def test_saisie_francaise_par_libreoffice(essai, lo, nom):
    """« 12,5 % » tapé dans un tableur français devient 0,125 au format pourcentage : lu 12,5. « 1 234,5 » devient un
    nombre ; « =40+2 » une formule dont le résultat est enregistré."""
    # calamine lit 0,125 (le format pourcentage ne lui est pas visible) ; c'est le contrôle qui remet 12,5.
    cellules = lire_classeur(lo[nom], nom)[Path(nom).stem].lignes
    assert (cellules[1][3], cellules[2][3], cellules[3][3]) == (0.125, 1234.5, 42.0)
    if nom.endswith(".xlsx"):
        with zipfile.ZipFile(io.BytesIO(lo[nom])) as z:
            feuille = z.read("xl/worksheets/sheet1.xml")
        assert b'<c r="D2" s="1" t="n"><v>0.125</v></c>' in feuille
        assert b"<f aca=\"false\">40+2</f><v>42</v>" in feuille
    accepte(essai, lo[nom], nom, "EPT")
    assert courantes(essai) == {("TAUX-APPRENTIS", "QN09301A", "2025"): 12.5, ("JEUNES", "QN09301A", "2025"): 1234.5,
                                ("JEUNES", "QN09302B", "2025"): 42.0, ("JEUNES", "VA-GARE", "2025"): 95.0}
    feuille = Path(nom).stem
    commentaire = essai.requete("SELECT commentaire FROM valeur WHERE cellule = ?", [f"{feuille}!D5"])["commentaire"]
    assert commentaire.tolist() == ["Données « révisées »"]


@LO
@pytest.mark.lent
@pytest.mark.parametrize("nom", ["date.xlsx", "date.ods"])
def test_date_convertie_par_libreoffice(essai, lo, nom):
    assert refus(essai, lo[nom], nom) == [(f"{Path(nom).stem}!D2", "valeur-date")]


@LO
@pytest.mark.lent
def test_fusion_reenregistree_par_libreoffice(essai, lo):
    accepte(essai, lo["fusion.xlsx"], "fusion.xlsx", "EPT")
    assert courantes(essai) == {("APPRENTIS", "QN09301A", "2025-S1"): 5, ("APPRENTIS", "QN09302B", "2025-S1"): 6,
                                ("APPRENTIS", "VA-GARE", "2025-S1"): 7}


@LO
@pytest.mark.lent
def test_classeur_protege_par_mot_de_passe_libreoffice(essai, lo):
    """Un vrai .xls chiffré par LibreOffice (mot de passe « secret ») : « protégé », pas « illisible »."""
    if "protege.xls" not in lo:
        pytest.skip("python3-uno absent : pas de fichier chiffré par LibreOffice")
    assert refus(essai, lo["protege.xls"], "protege.xls") == [("", "fichier-protege")]
