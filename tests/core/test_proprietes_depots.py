"""Le dépôt d'un fichier de valeurs, muté au hasard : le modèle pré-rempli (rempli par openpyxl comme par un partenaire,
ou réécrit cellule par cellule) et les tables longues en .xlsx, .ods et CSV (séparateurs, encodages), cellules de toutes
sortes, lignes et feuilles ajoutées, retirées ou renommées, octets abîmés.

Invariants : le dépôt finit par un statut (accepté, rejeté, à confirmer, déjà déposé), jamais par une exception ; chaque
refus nomme sa feuille, sa cellule et sa valeur, en français, avec un code documenté ; tant que rien n'est accepté, la base
est celle d'avant (toutes les tables, hors du journal qui garde la trace du refus) ; ce qui est accepté est gardé octet
pour octet et, exporté (le .xlsx et le CSV que proposent les pages) puis redéposé dans la base d'avant, redonne les
mêmes valeurs. Profils et nombre de cas : tests/proprietes.py, docs/robustesse.md.
"""
from __future__ import annotations

import io
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from perr_metrics.commun import exports
from perr_metrics.stockage.magasin import Store
from perr_metrics.depots.depot import deposer, fichier_du_depot
from perr_metrics.commun.lecture import lire_classeur
from perr_metrics.depots.modele import ecrire_modele_depot
from tests.conftest import ADMIN
from tests.core.test_depots import base_essai, essai  # noqa: F401 (fixtures : le petit référentiel, sans dépôt)
from tests.core.test_depots_fichiers import COMMENTAIRES_EPT, LIGNES_CSV, VALEURS_EPT
from tests.core.test_referentiel import instantane
from tests.fichiers import ENTETE, PROTOCOLE, remplir_modele
from tests.proprietes import (TEMPORAIRE, FORMATS_CSV, abimer, appliquer, cas, compter, csv, octets_abimes, ods, operations,
                              textes, valeurs_cellule, valeurs_limites, verifier_probleme, verifier_refus, xlsx)

STATUTS = {"accepte", "rejete", "a-confirmer", "deja-depose"}
# Le plus souvent le signataire et la période attendus (pour que des fichiers soient acceptés), parfois d'autres.
SIGNATAIRES = st.one_of(st.just("EPT"), st.just("EPT"), st.sampled_from(["ETAT", "CAF93", "V-A", "INCONNU"]))
PERIODES = st.one_of(st.none(), st.none(), st.sampled_from(["2025", "2024", "2031", "2025-S1", "2025-S3", "", "٢٠٢٥"]))


class Octets(bytes):
    """Des octets qu'Hypothesis n'affiche pas en entier quand un cas échoue."""

    def __repr__(self) -> str:
        return f"<{len(self)} octets : le modèle de l'EPT pour 2025, rempli>"


@pytest.fixture(scope="module")
def modele_rempli(base_essai, tmp_path_factory) -> bytes:  # noqa: F811
    """Le modèle de l'EPT pour 2025, rempli comme par le partenaire (tests/core/test_depots_fichiers.py)."""
    store = Store(shutil.copy(base_essai, tmp_path_factory.mktemp("modele") / "b.duckdb"), utilisateur=ADMIN)
    flux = io.BytesIO()
    ecrire_modele_depot(store, PROTOCOLE, "EPT", "2025", flux)
    return Octets(remplir_modele(flux.getvalue(), VALEURS_EPT, COMMENTAIRES_EPT))


@pytest.fixture
def dossiers():
    crees = []

    def nouveau() -> Path:
        crees.append(Path(tempfile.mkdtemp(prefix="perr-proprietes-", dir=TEMPORAIRE)))
        return crees[-1]
    yield nouveau
    for d in crees:
        shutil.rmtree(d, ignore_errors=True)


def copie(source: Path, dossier: Path) -> Store:
    destination = dossier / "perr.duckdb"
    shutil.copyfile(source, destination)
    return Store(destination, delai_verrou=10, utilisateur=ADMIN)


def _valeurs_du_depot(store: Store, depot_id: int) -> list[tuple]:
    return sorted(store.lire(lambda con: con.execute(
        "SELECT indicateur, perimetre, periode, valeur, commentaire FROM valeur WHERE depot_id = ?",
        [depot_id]).fetchall()))


def deposer_et_verifier(base: Path, dossiers, nom_test: str, donnees: bytes, nom: str, signataire: str = "EPT",
                        periode: str | None = None, accepter: bool = True) -> str:
    """Les invariants d'un dépôt ; renvoie son statut."""
    store = copie(base, dossiers())
    avant = instantane(store)
    res = deposer(store, donnees, nom, protocole=PROTOCOLE, signataire=signataire, periode=periode,
                  accepter_avertissements=accepter)
    compter(nom_test, res.statut)
    assert res.statut in STATUTS
    for p in res.rapport.problemes:
        verifier_probleme(p)
    if res.statut != "accepte":
        if res.statut == "rejete":
            verifier_refus(res.rapport)
        else:
            assert res.rapport.valide
        assert res.depot_id is None or res.statut == "deja-depose"
        assert instantane(store) == avant, f"un dépôt {res.statut} a modifié la base"
        return res.statut
    assert res.rapport.valide
    assert fichier_du_depot(store, res.depot_id) == (nom, donnees)
    valeurs = _valeurs_du_depot(store, res.depot_id)
    assert len(valeurs) == res.nb_valeurs > 0
    # Aller-retour : les valeurs exportées (le classeur et le CSV des pages) et redéposées redonnent les mêmes valeurs.
    table = store.requete("SELECT indicateur, perimetre, periode, valeur, commentaire FROM valeur WHERE depot_id = ? "
                          "ORDER BY cellule", [res.depot_id])
    for nom_export, octets, avec_commentaire in (("export.xlsx", exports.vers_xlsx(table), True),
                                                 ("export.csv", exports.vers_csv(table), False)):
        autre = copie(base, dossiers())
        res2 = deposer(autre, octets, nom_export, protocole=PROTOCOLE, signataire=signataire,
                       periode=res.periode if periode else None, accepter_avertissements=True)
        assert res2.statut == "accepte", res2.rapport.texte()
        relues = _valeurs_du_depot(autre, res2.depot_id)
        if avec_commentaire:
            assert relues == valeurs
        else:
            assert [v[:4] for v in relues] == [v[:4] for v in valeurs]
    return res.statut


# --------------------------------------------------------------------------------------------------------------------
# Tables longues
# --------------------------------------------------------------------------------------------------------------------

GRILLE_LONGUE = {"Valeurs": [list(ENTETE)] + [list(l) for l in LIGNES_CSV]}
TYPEES_LONGUE = {"Valeurs": [(3, "nombre")]}


@cas(45)
@given(ops=operations(TYPEES_LONGUE), forme=st.sampled_from(["xlsx", "ods", "csv"]), format_csv=FORMATS_CSV,
       signataire=SIGNATAIRES, periode=PERIODES, accepter=st.booleans())
@example(ops=[], forme="csv", format_csv=(";", "utf-8"), signataire="EPT", periode=None, accepter=True)
@example(ops=[], forme="xlsx", format_csv=(";", "utf-8"), signataire="EPT", periode="2025", accepter=True)
def test_table_longue_mutee(base_essai, dossiers, ops, forme, format_csv, signataire, periode, accepter):  # noqa: F811
    grille = appliquer(GRILLE_LONGUE, ops)
    if forme == "csv":
        lignes = next(iter(grille.values()), [])
        donnees = csv(lignes, *format_csv)
    else:
        donnees = xlsx(grille) if forme == "xlsx" else ods(grille)
    deposer_et_verifier(base_essai, dossiers, "dépôt : table longue mutée (.xlsx, .ods, .csv)", donnees,
                        f"valeurs.{forme}", signataire, periode, accepter)


# --------------------------------------------------------------------------------------------------------------------
# Le modèle pré-rempli
# --------------------------------------------------------------------------------------------------------------------

@cas(30)
@given(valeurs=st.dictionaries(st.sampled_from(sorted(VALEURS_EPT)), st.one_of(valeurs_cellule,
                                                                                valeurs_limites("nombre")),
                               max_size=4),
       commentaires=st.dictionaries(st.sampled_from(sorted(VALEURS_EPT)), textes, max_size=2),
       periode=st.sampled_from([None, "2025", "2024"]), accepter=st.booleans())
def test_modele_rempli_au_hasard(base_essai, dossiers, modele_rempli, valeurs, commentaires, periode,  # noqa: F811
                                 accepter):
    """Le vrai modèle (protection, validations, métadonnées cachées), dont openpyxl change quelques cellules."""
    from tests.proprietes import _pour_openpyxl
    donnees = remplir_modele(modele_rempli, {k: _pour_openpyxl(v) for k, v in valeurs.items()},
                             {k: _pour_openpyxl(v) for k, v in commentaires.items()})
    deposer_et_verifier(base_essai, dossiers, "dépôt : modèle rempli au hasard", donnees, "modele.xlsx", "EPT",
                        periode, accepter)


def _grille_du_modele(donnees: bytes) -> dict:
    return {nom: f.lignes for nom, f in lire_classeur(donnees, "m.xlsx").items()}


@cas(30)
@given(ops=operations({"Valeurs": [(9, "nombre"), (4, "texte")]}), forme=st.sampled_from(["xlsx", "ods"]),
       periode=st.sampled_from([None, "2025"]), accepter=st.booleans())
def test_modele_mute(base_essai, dossiers, modele_rempli, ops, forme, periode, accepter):  # noqa: F811
    """Le modèle réécrit cellule par cellule (feuille de métadonnées cachée comprise), puis muté."""
    grille = appliquer(_grille_du_modele(modele_rempli), ops)
    donnees = xlsx(grille, cachees=("_perr",)) if forme == "xlsx" else ods(grille)
    deposer_et_verifier(base_essai, dossiers, "dépôt : modèle muté (.xlsx, .ods)", donnees, f"modele.{forme}", "EPT",
                        periode, accepter)


@cas(25)
@given(octets=octets_abimes, forme=st.sampled_from(["modele", "xlsx", "ods", "csv"]))
def test_octets_abimes(base_essai, dossiers, modele_rempli, octets, forme):  # noqa: F811
    if forme == "modele":
        donnees, nom = bytes(modele_rempli), "modele.xlsx"
    elif forme == "csv":
        donnees, nom = csv(GRILLE_LONGUE["Valeurs"]), "valeurs.csv"
    else:
        donnees = xlsx(GRILLE_LONGUE) if forme == "xlsx" else ods(GRILLE_LONGUE)
        nom = f"valeurs.{forme}"
    deposer_et_verifier(base_essai, dossiers, "dépôt : octets abîmés", abimer(donnees, octets), nom)


# --------------------------------------------------------------------------------------------------------------------
# Les contrôles suivent le schéma : chaque colonne entière, date ou décimale des tables d'un dépôt est bornée par un
# contrôle (validation.BORNES) ou calculée par l'application ; les bornes des valeurs, au plus près.
# --------------------------------------------------------------------------------------------------------------------

def test_chaque_colonne_resserree_d_un_depot_a_son_controle(store):
    from perr_metrics.depots.validation import BORNES, COLONNES_CALCULEES
    from tests.core.test_proprietes_referentiel import TYPES_RESSERRES, colonnes_du_schema
    schema = colonnes_du_schema(store, ("depot", "valeur"))
    sans_controle = sorted(f"{nom} ({typ})" for nom, typ in schema.items()
                           if typ.split("(")[0] in TYPES_RESSERRES and nom not in BORNES
                           and nom not in COLONNES_CALCULEES)
    assert not sans_controle, f"colonnes d'un dépôt sans contrôle (validation.BORNES) : {', '.join(sans_controle)}"
    assert set(BORNES) | set(COLONNES_CALCULEES) <= set(schema)


def test_bornes_des_valeurs_et_des_commentaires(essai):  # noqa: F811
    from tests.core.test_depots import accepte, refus
    from tests.fichiers import csv_long
    juste = [["JEUNES", "QN09301A", "2025", "1e15"], ["JEUNES", "QN09302B", "2025", "1,5E-05"],
             ["JEUNES", "VA-GARE", "2025", 5, "x" * 32_767]]
    assert refus(essai, csv_long([["JEUNES", "QN09301A", "2025", "1 000 000 000 010 000"]])) == [
        ("v!D2", "nombre-hors-limites")]
    assert refus(essai, csv_long([["JEUNES", "QN09301A", "2025", "1" * 400]])) == [("v!D2", "nombre-hors-limites")]
    assert refus(essai, csv_long([["JEUNES", "QN09301A", "2025", 5, "x" * 32_768]])) == [("v!E2", "texte-trop-long")]
    assert refus(essai, csv_long([["JEUNES", "QN09301A", "٢٠٢٥", 5]])) == [("v!C2", "periode-invalide")]
    res = accepte(essai, csv_long(juste), "v.csv", "EPT", accepter_avertissements=True)
    assert sorted(_valeurs_du_depot(essai, res.depot_id))[:2] == [("JEUNES", "QN09301A", "2025", 1e15, None),
                                                                  ("JEUNES", "QN09302B", "2025", 1.5e-05, None)]


def test_styles_abimes_refuses(essai, modele_rempli):  # noqa: F811
    """Trouvé par le long run : un octet retourné dans les styles du modèle (que calamine ne lit pas) faisait lever
    BadZipFile (CRC) pendant la recherche des cellules au format pourcentage. Le fichier est refusé en français."""
    import zipfile as zf
    from tests.core.test_depots import refus
    origine = bytes(modele_rempli)
    info = zf.ZipFile(io.BytesIO(origine)).getinfo("xl/styles.xml")
    debut = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for position in range(debut, debut + info.compress_size):
        # Le premier octet des styles dont le changement laisse calamine lire le classeur (il ne vérifie pas le CRC).
        donnees = bytearray(origine)
        donnees[position] ^= 0x01
        try:
            lire_classeur(bytes(donnees), "modele.xlsx")
        except Exception:  # noqa: BLE001
            continue
        try:
            zf.ZipFile(io.BytesIO(bytes(donnees))).read("xl/styles.xml")
        except Exception:  # noqa: BLE001 - zipfile, lui, vérifie le CRC : c'est l'octet cherché
            break
    else:
        pytest.skip("aucun octet des styles ne laisse calamine lire le classeur")
    assert refus(essai, bytes(donnees), "modele.xlsx") == [("", "fichier-illisible")]
