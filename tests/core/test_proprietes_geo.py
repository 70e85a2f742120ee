"""Les contours des QPV (GeoJSON, ou archive .zip qui en contient un), mutés au hasard : l'import finit par un résultat ou
par un refus documenté (`ImportRefuse`), jamais par une autre exception ; chaque refus est en français, avec un code
documenté et l'entité en cause ; un refus laisse la base telle qu'elle était ; ce qui est accepté est écrit tel que
lu, et se réécrit en GeoJSON puis se réimporte à l'identique.

Les fichiers partent d'une petite FeatureCollection valide (trois quartiers, dont un en deux morceaux), puis l'arbre JSON
est muté (valeurs remplacées par n'importe quel JSON, clés retirées, entités dupliquées, nombres démesurés, imbrication
profonde), réencodé (UTF-8, UTF-16, BOM), mis dans une archive, ou ses octets abîmés. Profils : tests/proprietes.py.
"""
from __future__ import annotations

import io
import json
import shutil
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from perr_metrics.pilotage import geo
from perr_metrics.stockage.magasin import Store
from perr_metrics.commun.erreurs import ImportRefuse
from tests.conftest import ADMIN
from tests.core.test_referentiel import instantane
from tests.proprietes import TEMPORAIRE, abimer, cas, compter, octets_abimes, verifier_probleme, verifier_refus


def carre(x, y, d=0.01):
    return [[[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]]


COLLECTION = {"type": "FeatureCollection", "features": [
    {"type": "Feature", "properties": {"code_qp": "QN01001I", "lib_qp": "Les Chartreux", "insee_com": "10387"},
     "geometry": {"type": "Polygon", "coordinates": carre(4.07, 48.29)}},
    {"type": "Feature", "properties": {"code_qp": "QN01003M", "lib_qp": "Chantereigne", "insee_com": ["10081", "10265"]},
     "geometry": {"type": "MultiPolygon", "coordinates": [carre(4.1, 48.3), carre(4.2, 48.31)]}},
    {"type": "Feature", "properties": {"code_qp": "QN01003M", "insee_com": "10387"},
     "geometry": {"type": "Polygon", "coordinates": carre(4.3, 48.32)}},
    {"type": "Feature", "properties": {"CODE_QUARTIER": "qp010001", "nom_qp": "Quartier de 2015", "insee_com": 1053},
     "geometry": {"type": "Polygon", "coordinates": carre(-61.5, 16.2)}},
]}

json_quelconque = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**80), max_value=2**80),
              st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
              st.sampled_from(["QN01001I", "QP093028", "Polygon", "MultiPolygon", "FeatureCollection", "Feature",
                               "", "🙂"])),
    lambda enfants: st.one_of(st.lists(enfants, max_size=4),
                              st.dictionaries(st.sampled_from(["type", "features", "properties", "geometry",
                                                                "coordinates", "code_qp", "lib_qp", "insee_com"])
                                              | st.text(max_size=8), enfants, max_size=4)),
    max_leaves=12)

chemin = st.lists(st.integers(min_value=0, max_value=10**6), min_size=0, max_size=6)
mutation = st.one_of(
    st.tuples(st.just("remplacer"), chemin, json_quelconque),
    st.tuples(st.just("retirer"), chemin),
    st.tuples(st.just("dupliquer"), chemin),
    st.tuples(st.just("imbriquer"), chemin, st.sampled_from([10, 100, 500])),
)


def muter(doc, ops):
    """Applique les mutations à une copie de l'arbre JSON ; un chemin d'indices choisit le nœud (modulo les tailles)."""
    doc = json.loads(json.dumps(doc))
    for op in ops:
        genre, indices = op[0], op[1]
        parent, cle, noeud = None, None, doc
        for i in indices:
            if isinstance(noeud, dict) and noeud:
                k = sorted(noeud, key=str)[i % len(noeud)]
            elif isinstance(noeud, list) and noeud:
                k = i % len(noeud)
            else:
                break
            parent, cle, noeud = noeud, k, noeud[k]
        if parent is None:
            if genre == "remplacer":
                doc = op[2]
            continue
        if genre == "remplacer":
            parent[cle] = op[2]
        elif genre == "retirer":
            del parent[cle]
        elif genre == "dupliquer" and isinstance(parent, list):
            parent.insert(cle, json.loads(json.dumps(noeud)))
        elif genre == "imbriquer":
            v = noeud
            for _ in range(op[2]):
                v = [v]
            parent[cle] = v
    return doc


def encoder(doc, encodage: str, archive: bool) -> bytes:
    texte = json.dumps(doc, ensure_ascii=False)
    donnees = texte.encode(encodage, errors="replace")
    if archive:
        flux = io.BytesIO()
        with zipfile.ZipFile(flux, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("qpv/contours.geojson", donnees)
        donnees = flux.getvalue()
    return donnees


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """Une base avec des contours déjà chargés (un import les remplace tous : le refus doit les laisser en place)."""
    store = Store(tmp_path_factory.mktemp("proprietes-geo") / "geo.duckdb", utilisateur=ADMIN)
    geo.importer_contours(store, json.dumps(COLLECTION).encode(), "avant.geojson")
    return store.chemin


def contours(store: Store) -> list[tuple]:
    return store.lire(lambda con: con.execute(
        "SELECT code, libelle, insee, geojson FROM contour_qpv ORDER BY code").fetchall())


def importer_et_verifier(base: Path, donnees: bytes, nom: str, nom_test: str) -> str:
    dossier = Path(tempfile.mkdtemp(prefix="perr-proprietes-", dir=TEMPORAIRE))
    try:
        store = Store(shutil.copy(base, dossier / "perr.duckdb"), delai_verrou=10, utilisateur=ADMIN)
        avant = instantane(store)
        try:
            res = geo.importer_contours(store, donnees, nom)
        except ImportRefuse as exc:
            compter(nom_test, "refusé")
            verifier_refus(exc.rapport)
            assert instantane(store) == avant, "un import de contours refusé a modifié la base"
            return "refuse"
        compter(nom_test, "accepté")
        for p in res.rapport.problemes:
            verifier_probleme(p)
        lus, _ = geo.lire_contours(donnees)
        ecrits = contours(store)
        assert res.nb_contours == len(ecrits) == len(lus)
        assert ecrits == sorted((r.code, r.libelle, list(r.insee), r.geojson) for r in lus.itertuples())
        # Aller-retour : les contours écrits, remis en GeoJSON, se réimportent à l'identique.
        collection = {"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"code_qp": c, "lib_qp": l, "insee_com": i},
             "geometry": json.loads(g)} for c, l, i, g in ecrits]}
        autre = Store(shutil.copy(base, dossier / "autre.duckdb"), delai_verrou=10, utilisateur=ADMIN)
        geo.importer_contours(autre, json.dumps(collection).encode(), "retour.geojson")
        assert contours(autre) == ecrits
        return "accepte"
    finally:
        shutil.rmtree(dossier, ignore_errors=True)


@cas(100)
@given(ops=st.lists(mutation, max_size=4), encodage=st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "utf-16", "cp1252"]),
       archive=st.booleans())
@example(ops=[], encodage="utf-8", archive=False)
@example(ops=[("remplacer", [0, 0, 1], [1, 2])], encodage="utf-8", archive=False)   # properties en liste
@example(ops=[("remplacer", [], None)], encodage="utf-8", archive=False)   # `null` : effaçait tous les contours
def test_contours_mutes(base, ops, encodage, archive):
    donnees = encoder(muter(COLLECTION, ops), encodage, archive)
    importer_et_verifier(base, donnees, "contours.zip" if archive else "contours.geojson",
                         "contours : GeoJSON muté (arbre, encodage, archive)")


@cas(30)
@given(octets=octets_abimes, archive=st.booleans())
def test_contours_octets_abimes(base, octets, archive):
    donnees = abimer(encoder(COLLECTION, "utf-8", archive), octets)
    importer_et_verifier(base, donnees, "contours.geojson", "contours : octets abîmés")


@pytest.mark.parametrize("profondeur", [1_000, 100_000])
def test_json_tres_imbrique(base, profondeur):
    """Un JSON imbriqué sur des milliers de niveaux (le lecteur de Python s'y épuise) est refusé en français."""
    donnees = b'{"type": "FeatureCollection", "features": ' + b"[" * profondeur + b"]" * profondeur + b"}"
    assert importer_et_verifier(base, donnees, "contours.geojson", "contours : JSON très imbriqué") == "refuse"
