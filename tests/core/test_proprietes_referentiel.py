"""Le classeur du référentiel (et son dossier de CSV), muté au hasard : l'import finit par un résultat ou par un refus
documenté, jamais par une autre exception ; chaque refus nomme sa feuille, sa cellule et sa valeur, en français, et laisse
la base telle qu'elle était (toutes les tables comparées) ; ce qui est accepté se réexporte et se réimporte à l'identique.

Les classeurs partent du petit référentiel valide des tests (tests/classeurs.py), lu tel que calamine le voit, puis
mutés (cellules de toutes sortes, lignes et feuilles ajoutées, retirées ou renommées, octets abîmés) et écrits en .xlsx,
en .ods ou en dossier de CSV. Profils et nombre de cas : tests/proprietes.py, docs/robustesse.md.
"""
from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, example
from hypothesis import strategies as st

from perr_metrics.stockage.magasin import Store
from perr_metrics.depots.depot import deposer
from perr_metrics.commun.lecture import lire_classeur
from perr_metrics.commun.erreurs import ImportRefuse
from perr_metrics.referentiel.classeur import FEUILLES, ecrire_classeur, exporter_referentiel, importer_referentiel
from tests import classeurs
from tests.conftest import ADMIN
from tests.core.test_referentiel import contenu_referentiel, instantane
from tests.fichiers import csv_long
from tests.proprietes import (TEMPORAIRE, FORMATS_CSV, abimer, appliquer, cas, compter, csv, octets_abimes, ods, operations,
                              verifier_probleme, verifier_refus, xlsx)

CODE = "EQ2030-TEST"

# Le référentiel de départ : le petit référentiel des tests, avec des dates de signature (pour exercer les dates).
DONNEES = classeurs.donnees()
DONNEES["protocole"][0]["date_signature"] = dt.date(2024, 3, 14)
DONNEES["contrats"][0]["date_signature"] = dt.date(2015, 7, 7)
DONNEES["axes"][0]["ordre"] = 3
DONNEES["engagements"][2]["ordre"] = 12


def _grille_de_depart() -> dict:
    """Le classeur valide tel que calamine le lit : feuille → lignes de cellules."""
    with tempfile.TemporaryDirectory() as d:
        chemin = Path(d) / "r.xlsx"
        ecrire_classeur(chemin, DONNEES)
        return {nom: f.lignes for nom, f in lire_classeur(chemin).items()}


GRILLE = _grille_de_depart()
# Les colonnes typées de chaque feuille (pour viser les contrôles de bornes) : feuille → [(colonne, type)].
TYPEES = {s.nom: [(j, c.type) for j, c in enumerate(s.colonnes) if c.type in ("entier", "nombre", "date")]
          for s in FEUILLES}
TYPEES = {f: cols for f, cols in TYPEES.items() if cols}


# --------------------------------------------------------------------------------------------------------------------
# Bases : une vide, une où le protocole existe déjà avec une valeur déposée (réimport sur place). Construites une fois ;
# chaque cas travaille sur sa copie.
# --------------------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bases(tmp_path_factory) -> dict[str, Path]:
    dossier = tmp_path_factory.mktemp("proprietes-referentiel")
    vide = Store(dossier / "vide.duckdb", utilisateur=ADMIN)
    vide.initialiser()
    existant = Store(dossier / "existant.duckdb", utilisateur=ADMIN)
    importer_referentiel(existant, classeurs.ecrire(dossier))
    res = deposer(existant, csv_long([["PATROUILLES", "QN09301A", "2025", "130"]]), "v.csv", protocole=CODE,
                  signataire="ETAT-DDSP")
    assert res.statut == "accepte", res.rapport.texte()
    return {"vide": vide.chemin, "existant": existant.chemin}


def copie(source: Path, dossier: Path) -> Store:
    destination = dossier / source.name
    shutil.copyfile(source, destination)
    return Store(destination, delai_verrou=10, utilisateur=ADMIN)


def importer_et_verifier(bases: dict[str, Path], dossier: Path, base: str, source, nom: str | None = None,
                         nom_test: str = "") -> str:
    """Les invariants d'un import : résultat ou refus documenté ; refus sans effet ; aller-retour à l'identique."""
    store = copie(bases[base], dossier)
    avant = instantane(store)
    try:
        res = importer_referentiel(store, source, nom)
    except ImportRefuse as exc:
        compter(nom_test, "refusé")
        verifier_refus(exc.rapport)
        assert instantane(store) == avant, "un import refusé a modifié la base"
        return "refuse"
    compter(nom_test, "accepté")
    for p in res.rapport.problemes:
        verifier_probleme(p)
    # Accepté : l'export se relit à l'identique, dans une base neuve comme sur place.
    export = dossier / "export.xlsx"
    exporter_referentiel(store, res.protocole, export)
    attendu = contenu_referentiel(store, res.protocole)
    neuve = copie(bases["vide"], dossier / "neuve")
    importer_referentiel(neuve, export)
    assert contenu_referentiel(neuve, res.protocole) == attendu
    importer_referentiel(store, export)
    assert contenu_referentiel(store, res.protocole) == attendu
    return "accepte"


@pytest.fixture
def dossier():
    """Un dossier neuf par cas (une fixture de fonction ne l'est pas : Hypothesis la garde pour tous les cas)."""
    def nouveau() -> Path:
        d = Path(tempfile.mkdtemp(prefix="perr-proprietes-", dir=TEMPORAIRE))
        (d / "neuve").mkdir()
        return d
    crees = []

    def fabrique():
        crees.append(nouveau())
        return crees[-1]
    yield fabrique
    for d in crees:
        shutil.rmtree(d, ignore_errors=True)




# --------------------------------------------------------------------------------------------------------------------
# Les propriétés
# --------------------------------------------------------------------------------------------------------------------

@cas(60)
@given(ops=operations(TYPEES), forme=st.sampled_from(["xlsx", "ods"]), base=st.sampled_from(["vide", "existant"]))
@example(ops=[], forme="xlsx", base="vide")
@example(ops=[("typee", ("Axes", 4, "entier"), 0, 10**12)], forme="xlsx", base="existant")
def test_classeur_mute(bases, dossier, ops, forme, base):
    d = dossier()
    grille = appliquer(GRILLE, ops)
    donnees = xlsx(grille) if forme == "xlsx" else ods(grille)
    importer_et_verifier(bases, d, base, donnees, f"referentiel.{forme}", "référentiel : classeur muté (.xlsx, .ods)")


@cas(35)
@given(ops=operations(TYPEES), format_csv=FORMATS_CSV, base=st.sampled_from(["vide", "existant"]))
def test_dossier_csv_mute(bases, dossier, ops, format_csv, base):
    d = dossier()
    grille = appliquer({n: l for n, l in GRILLE.items() if n != "Instructions"}, ops)
    sep, encodage = format_csv
    source = d / "csv"
    source.mkdir()
    for nom, lignes in grille.items():
        fichier = "".join(c if c.isprintable() and c not in "/\\\0" else "_" for c in nom).strip(". ") or "_"
        (source / f"{fichier}.csv").write_bytes(csv(lignes, sep, encodage))
    importer_et_verifier(bases, d, base, source, None, "référentiel : dossier de CSV muté")


@cas(25)
@given(octets=octets_abimes, forme=st.sampled_from(["xlsx", "ods", "csv"]))
def test_octets_abimes(bases, dossier, octets, forme):
    d = dossier()
    if forme == "csv":
        donnees = csv(GRILLE["Protocole"])
    else:
        donnees = xlsx(GRILLE) if forme == "xlsx" else ods(GRILLE)
    importer_et_verifier(bases, d, "existant", abimer(donnees, octets), f"referentiel.{forme}",
                         "référentiel : octets abîmés")


# --------------------------------------------------------------------------------------------------------------------
# Les contrôles suivent le schéma : chaque colonne entière, date ou décimale alimentée par le classeur a ses bornes,
# qui tiennent dans son type ; juste au-delà, le classeur est refusé en nommant la cellule ; à la borne, il ne l'est pas.
# --------------------------------------------------------------------------------------------------------------------

TYPES_RESSERRES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                   "UBIGINT", "FLOAT", "DOUBLE", "DECIMAL", "DATE", "TIMESTAMP", "TIME", "INTERVAL")


def colonnes_du_schema(store: Store, tables) -> dict[str, str]:
    """« table.colonne » → type, d'après le schéma de la base après toutes les migrations."""
    store.initialiser()
    return {f"{t}.{c}": typ for t, c, typ in store.lire(lambda con: con.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_name IN (SELECT unnest(?)) ORDER BY ALL", [list(tables)]).fetchall())}


def test_chaque_colonne_resserree_du_referentiel_a_son_controle(store):
    from perr_metrics.referentiel.classeur import BORNES, COLONNES_CALCULEES, TABLES_REFERENTIEL
    schema = colonnes_du_schema(store, ("protocole",) + TABLES_REFERENTIEL)
    declarees = {b.colonne_base: b for b in BORNES.values()}
    sans_controle = sorted(f"{nom} ({typ})" for nom, typ in schema.items()
                           if typ.split("(")[0] in TYPES_RESSERRES and nom not in declarees
                           and nom not in COLONNES_CALCULEES)
    assert not sans_controle, ("colonnes du schéma alimentées par le classeur sans contrôle de bornes "
                               f"(referentiel.BORNES) : {', '.join(sans_controle)}")
    assert set(declarees) | set(COLONNES_CALCULEES) <= set(schema), "BORNES ou COLONNES_CALCULEES nomme une colonne " \
                                                                     "qui n'existe plus"
    for nom, b in declarees.items():
        # Les bornes tiennent dans le type de la colonne : DuckDB les convertit sans erreur.
        store.lire(lambda con: con.execute(f"SELECT CAST(? AS {schema[nom]}), CAST(? AS {schema[nom]})",
                                           [b.minimum, b.maximum]).fetchall())


# Une ligne valide des feuilles facultatives que le référentiel minimal n'a pas, pour y essayer leurs bornes.
LIGNES_FACULTATIVES = {
    "signatures": dict(signataire="ETAT", qualite="Préfet", acte="Protocole d'engagements renforcés et réciproques"),
    "volets": dict(code="VOLET-1", libelle="Cité éducative d'essai", quartiers=["QN09301A"]),
}


def _donnees_pour(fichier: str) -> dict:
    d = classeurs.donnees()
    if not d.get(fichier):
        d[fichier] = [dict(LIGNES_FACULTATIVES[fichier])]
    return d


def _cas_de_bornes():
    from perr_metrics.referentiel.classeur import BORNES, SPEC
    from perr_metrics.commun.lecture import lettre_colonne
    for (fichier, cle), b in BORNES.items():
        spec = SPEC[fichier]
        j = next(i for i, c in enumerate(spec.colonnes) if c.cle == cle)
        if isinstance(b.minimum, dt.date):
            dehors = [b.minimum - dt.timedelta(days=1), b.maximum + dt.timedelta(days=1)]
        elif isinstance(b.minimum, int):
            dehors = [b.minimum - 1, b.maximum + 1, 10**12]
        else:
            dehors = [b.minimum * 10, b.maximum * 10]
        yield pytest.param(fichier, cle, f"{spec.nom}!{lettre_colonne(j)}2", b, dehors, id=f"{fichier}.{cle}")


# La première ligne d'une feuille facultative que le référentiel minimal n'a pas (une période du protocole d'essai).
PREMIERE_LIGNE = {"echeances": dict(periode="2030", date_limite=dt.date(2031, 1, 31))}


def _donnees_avec(fichier: str) -> dict:
    """Le référentiel minimal, avec au moins une ligne dans la feuille `fichier`."""
    d = classeurs.donnees()
    if not d.get(fichier):
        d[fichier] = [dict({**LIGNES_FACULTATIVES, **PREMIERE_LIGNE}[fichier])]
    return d


@pytest.mark.parametrize("fichier, cle, cellule, borne, dehors", list(_cas_de_bornes()))
def test_chaque_borne_nomme_sa_cellule(tmp_path, fichier, cle, cellule, borne, dehors):
    from perr_metrics.referentiel.classeur import lire_referentiel
    from tests.core.test_referentiel import refus
    base = Path(tempfile.mkdtemp(prefix="perr-bornes-", dir=TEMPORAIRE))
    store = Store(base / "perr.duckdb", delai_verrou=10, utilisateur=ADMIN)
    for v in dehors:
        d = _donnees_avec(fichier)
        d[fichier][0][cle] = v
        assert (cellule, borne.code) in refus(store, classeurs.ecrire(tmp_path, d)), v
    for v in (borne.minimum, borne.maximum):
        d = _donnees_avec(fichier)
        d[fichier][0][cle] = v
        assert (cellule, borne.code) not in lire_referentiel(classeurs.ecrire(tmp_path, d)).rapport.aplatir(), v
    shutil.rmtree(base, ignore_errors=True)


def test_ordre_demesure_refuse_en_francais_par_la_ligne_de_commande(tmp_path, capsys):
    """Le cas de l'issue : « Ordre » à 1 000 000 000 000 passait les contrôles, puis DuckDB refusait l'insertion et la
    ligne de commande montrait une trace Python (TransactionException). Il est refusé avant, avec sa cellule."""
    from perr_metrics.cli import main
    from tests.core.test_cli import premier_administrateur
    db = str(tmp_path / "perr.duckdb")
    premier_administrateur(capsys, db)
    d = classeurs.donnees()
    d["axes"][2]["ordre"] = 1_000_000_000_000
    code = main(["--db", db, "referentiel", "importer", str(classeurs.ecrire(tmp_path, d))])
    sortie = capsys.readouterr()
    assert code == 1
    assert "[entier-hors-limites] Axes!E4" in sortie.err and "1 000 000 000 000" in sortie.err.replace("\u00a0", " ")
    assert "Traceback" not in sortie.err + sortie.out
