"""Contours des QPV (import du GeoJSON officiel, refus en français, base inchangée) et un quartier comparé aux autres.

Le GeoJSON des 1 584 QPV de 2024 est celui que le projet livre (data/reference, Licence Ouverte 2.0).
"""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from perr_metrics.pilotage import geo
from perr_metrics.commun.erreurs import ImportRefuse

REFERENCE = Path(__file__).resolve().parents[2] / "data" / "reference" / "qpv-2024.geojson"
TCM, BLOIS = "TCM-PERR-2019", "BLOIS-PERR-2020"
QPV_TROYES = ["QN01001I", "QN01002M", "QN01003M", "QN01004I", "QN01005M", "QN01006M", "QN01007I", "QN01008I",
              "QN01009M"]


@pytest.fixture(scope="module")
def reference() -> bytes:
    if not REFERENCE.exists():
        pytest.fail(f"GeoJSON de référence absent ({REFERENCE}) : il est livré avec le projet (data/reference).")
    return REFERENCE.read_bytes()


def carre(x=4.07, y=48.29, d=0.01):
    return [[[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]]


def collection(*entites) -> bytes:
    return json.dumps({"type": "FeatureCollection", "features": list(entites)}).encode()


def entite(props, geometrie=None):
    return {"type": "Feature", "properties": props,
            "geometry": geometrie if geometrie is not None else {"type": "Polygon", "coordinates": carre()}}


def compte(store) -> int:
    return int(store.requete("SELECT count(*) AS n FROM contour_qpv")["n"][0])


@pytest.mark.deux_moteurs
def test_import_de_la_reference(store_demo, reference):
    res = geo.importer_contours(store_demo, reference, "qpv-2024.geojson")
    assert res.nb_contours == 1584 and res.nb_precedents == 0
    assert res.rapport.valide and not res.rapport.avertissements
    assert compte(store_demo) == 1584
    couv = res.couverture.set_index("protocole")
    assert couv.loc[TCM, ["nb_quartiers", "nb_avec_contour", "sans_contour"]].tolist() == [9, 9, ""]
    # Blois : le QPV Blois Nord a son contour ; la Quinière (veille active, code local) n'en a pas.
    assert couv.loc[BLOIS, ["nb_quartiers", "nb_avec_contour", "sans_contour"]].tolist() == [2, 1, "VA-QUINIERE"]

    fc = geo.contours_du_protocole(store_demo, TCM)
    assert [f["id"] for f in fc["features"]] == QPV_TROYES
    assert fc["features"][0]["geometry"]["type"] == "MultiPolygon"
    assert [f["id"] for f in geo.contours_du_protocole(store_demo, BLOIS)["features"]] == ["QN04101M"]
    ligne = store_demo.requete("SELECT libelle, insee FROM contour_qpv WHERE code = 'QN01003M'").iloc[0]
    assert ligne["libelle"] == "Chantereigne Montvilliers Beau-Toquat"
    assert list(ligne["insee"]) == ["10081", "10265", "10387"]
    etat = geo.etat_contours(store_demo)
    assert etat["nb_contours"] == 1584 and etat["fichier_nom"] == "qpv-2024.geojson"

    # Réimporter remplace, sans doublon.
    res2 = geo.importer_contours(store_demo, reference, "qpv-2024.geojson")
    assert res2.nb_precedents == 1584 and compte(store_demo) == 1584


def test_import_d_une_archive_zip(store_demo, reference):
    flux = io.BytesIO()
    with zipfile.ZipFile(flux, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("qpv-2024/qpv-2024.geojson", reference)
    res = geo.importer_contours(store_demo, flux.getvalue(), "qpv-2024-geojson.zip")
    assert res.nb_contours == 1584


def test_proprietes_de_2015_et_communes_en_texte(store):
    donnees = collection(
        entite({"CODE_QP": "QP010001", "NOM_QP": "Quartier 2015", "INSEE_COM": "10387; 1053"}),
        entite({"code_quartier": "qp010002", "nom_qp": "Autre"}, {"type": "MultiPolygon", "coordinates": [carre()]}))
    contours, rapport = geo.lire_contours(donnees)
    assert rapport.valide
    assert contours["code"].tolist() == ["QP010001", "QP010002"]
    assert contours["insee"].iloc[0] == ["10387", "01053"]   # le zéro perdu par un tableur est rendu
    assert contours["libelle"].tolist() == ["Quartier 2015", "Autre"]


def test_quartier_en_plusieurs_entites_reuni(store):
    donnees = collection(entite({"code_qp": "QN01001I", "lib_qp": "Gare"}),
                         entite({"code_qp": "QN01001I", "lib_qp": "Gare"}, {"type": "Polygon",
                                                                           "coordinates": carre(4.1)}))
    contours, rapport = geo.lire_contours(donnees)
    assert rapport.valide and rapport.aplatir() == [("entité 2 (QN01001I)", "contour-multiple")]
    assert len(json.loads(contours["geojson"].iloc[0])["coordinates"]) == 2


@pytest.mark.parametrize("donnees, attendu", [
    (b"ceci n'est pas du JSON", [("", "geojson-illisible")]),
    ("é".encode("latin-1") + b"{}", [("", "geojson-illisible")]),
    (json.dumps({"type": "Feature", "properties": {"code_qp": "QN01001I"}}).encode(),
     [("", "geojson-pas-featurecollection")]),
    (json.dumps([1, 2]).encode(), [("", "geojson-pas-featurecollection")]),
    (collection(), [("", "fichier-vide")]),
    (collection(entite({"code_commune": "10387"})), [("", "geojson-sans-code-qp")]),
    (collection(entite({"code_qp": "QN01001I"}), entite({"lib_qp": "sans code"})),
     [("entité 2", "geojson-sans-code-qp")]),
    (collection(entite({"code_qp": "QN01001I"}, {"type": "Point", "coordinates": [4.07, 48.29]})),
     [("entité 1 (QN01001I)", "geometrie-invalide")]),
    (collection({"type": "Feature", "properties": {"code_qp": "QN01001I"}, "geometry": None}),
     [("entité 1 (QN01001I)", "geometrie-invalide")]),
    (collection(entite({"code_qp": "QN01001I"}, {"type": "Polygon", "coordinates": [[["a", "b"]]]})),
     [("entité 1 (QN01001I)", "geometrie-invalide")]),
    (collection(entite({"code_qp": "QN01001I"}, {"type": "Polygon", "coordinates": [[[780000, 6800000]]]})),
     [("entité 1 (QN01001I)", "coordonnees-non-wgs84")]),
    (collection(entite({"code_qp": "QPV-1"})), [("entité 1 (QPV-1)", "code-qpv-invalide")]),
])
def test_fichiers_refuses_base_inchangee(store_demo, donnees, attendu):
    geo.importer_contours(store_demo, collection(entite({"code_qp": "QN01001I"}), entite({"code_qp": "QN01002M"})))
    with pytest.raises(ImportRefuse) as exc:
        geo.importer_contours(store_demo, donnees, "mauvais.geojson")
    assert exc.value.rapport.aplatir() == attendu
    assert all(p.message[0].isupper() for p in exc.value.rapport.problemes)
    assert compte(store_demo) == 2   # les contours précédents sont intacts


def test_reference_refusee_a_moitie_rien_d_ecrit(store_demo, reference):
    """Un fichier complet dont une seule entité est fautive : rien n'est importé, pas même les 1 583 autres."""
    doc = json.loads(reference)
    doc["features"][1000]["geometry"] = {"type": "Point", "coordinates": [2.0, 48.0]}
    with pytest.raises(ImportRefuse) as exc:
        geo.importer_contours(store_demo, json.dumps(doc).encode())
    assert [c for _, c in exc.value.rapport.aplatir()] == ["geometrie-invalide"]
    assert compte(store_demo) == 0


def test_messages_en_francais():
    _, r = geo.lire_contours(b"{pas du json")
    assert "n'est pas du JSON lisible (ligne 1" in r.erreurs[0].message
    _, r = geo.lire_contours(collection(entite({"nom": "x"})))
    assert "Aucune entité n'a de propriété « code_qp »" in r.erreurs[0].message and r.erreurs[0].valeur == "nom"
    _, r = geo.lire_contours(collection(entite({"code_qp": "QN01001I"}, {"type": "LineString", "coordinates": []})))
    assert "Polygon ou un MultiPolygon" in r.erreurs[0].message and r.erreurs[0].valeur == "LineString"


def test_archive_sans_geojson():
    flux = io.BytesIO()
    with zipfile.ZipFile(flux, "w") as z:
        z.writestr("lisezmoi.txt", "rien")
    _, r = geo.lire_contours(flux.getvalue())
    assert r.aplatir() == [("", "geojson-illisible")] and "0 fichiers GeoJSON" in r.erreurs[0].message


def test_sans_import_les_contours_livres_servent(store_demo):
    """Installation neuve (issue 15) : aucun contour importé, la carte prend les contours officiels livrés."""
    assert compte(store_demo) == 0
    couv = geo.couverture(store_demo, TCM)
    assert couv[["nb_quartiers", "nb_avec_contour", "sans_contour"]].values.tolist() == [[9, 9, ""]]
    assert geo.couverture(store_demo, BLOIS)["sans_contour"].tolist() == ["VA-QUINIERE"]
    etat = geo.etat_contours(store_demo)
    assert (etat["nb_contours"], etat["nb_importes"], etat["nb_livres"], etat["fichier_nom"]) == (1584, 0, 1584, None)
    assert "livrés avec l'application" in etat["source"]
    fc = geo.contours_du_protocole(store_demo, TCM)
    assert [f["id"] for f in fc["features"]] == QPV_TROYES
    assert {f["properties"]["source"] for f in fc["features"]} == {"livré"}
    assert fc["features"][0]["geometry"]["type"] == "MultiPolygon"


def test_un_contour_importe_l_emporte_sur_le_contour_livre(store_demo):
    donnees = json.dumps({"type": "FeatureCollection", "features": [
        entite({"code_qp": "QN01001I", "lib_qp": "Gare", "insee_com": ["10387"]})]}).encode()
    geo.importer_contours(store_demo, donnees, "gare.geojson")
    fc = geo.contours_du_protocole(store_demo, TCM)
    sources = {f["id"]: f["properties"]["source"] for f in fc["features"]}
    assert sources.pop("QN01001I") == "importé" and set(sources.values()) == {"livré"} and len(sources) == 8
    etat = geo.etat_contours(store_demo)
    assert (etat["nb_contours"], etat["nb_importes"], etat["source"]) == (1584, 1, "gare.geojson")


def test_comparaison_quartier(store_demo):
    comp = geo.comparaison_quartier(store_demo, TCM, "2021", "QN01001I").set_index("indicateur")
    video = comp.loc["SEC-VIDEO"]
    # Gare : 13 caméras ; les 7 autres quartiers renseignés (Chartreux n'a rien déposé) : 4 à 32, médiane 13 ;
    # le territoire : la somme des 8 quartiers renseignés.
    vals = geo.valeurs_par_quartier(store_demo, TCM, "2021", "SEC-VIDEO").set_index("perimetre")
    autres = vals.drop(index="QN01001I")["valeur"].dropna()
    assert video["valeur"] == vals.loc["QN01001I", "valeur"]
    assert video["nb_autres"] == len(autres) == 7
    assert (video["autres_min"], video["autres_mediane"], video["autres_max"]) == (
        autres.min(), autres.median(), autres.max())
    assert video["territoire_valeur"] == vals["valeur"].sum()
    assert video["statut"] in ("atteint", "en bonne voie", "en retard", "non renseigné", "sans cible")
    assert video["explication"]
    # Seuls les indicateurs suivis par quartier.
    niveaux = store_demo.requete("SELECT code, niveau FROM indicateur WHERE protocole = ?", [TCM]).set_index("code")
    assert set(niveaux.loc[comp.index, "niveau"]) == {"QPV"}
    with pytest.raises(KeyError):
        geo.comparaison_quartier(store_demo, TCM, "2021", "QN99999Z")


@pytest.mark.parametrize("protocole", ["TCM-PERR-2019", "BLOIS-PERR-2020"])
def test_quartiers_et_indicateurs_comme_les_lectures_du_referentiel(store_demo, protocole):
    """Les vues par quartier lisent périmètres et indicateurs sans les jointures de `requetes` : les mêmes lignes, dans
    le même ordre, aux mêmes types que `requetes.perimetres` et `requetes.indicateurs`, la même erreur pour un
    protocole inconnu."""
    import pandas as pd
    from perr_metrics.referentiel import requetes

    per, ind = geo._quartiers_et_indicateurs(store_demo, protocole)
    pd.testing.assert_frame_equal(per, requetes.perimetres(store_demo, protocole)[list(per.columns)], check_exact=True)
    pd.testing.assert_frame_equal(ind, requetes.indicateurs(store_demo, protocole)[list(ind.columns)], check_exact=True)
    assert set(per["niveau"]) >= {"QPV", "Territoire"} and len(ind) > 10
    with pytest.raises(requetes.ProtocoleInconnu):
        geo._quartiers_et_indicateurs(store_demo, "INCONNU")


def test_valeurs_par_quartier_tous_les_quartiers(store_demo):
    vals = geo.valeurs_par_quartier(store_demo, BLOIS, "2021", "EDU-PARENTS")
    assert vals["perimetre"].tolist() == ["QN04101M", "VA-QUINIERE"]
    assert vals["type"].tolist() == ["QPV", "Veille active"]
    assert vals["valeur"].notna().all()


def test_carte_et_barres(store_demo, reference):
    geo.importer_contours(store_demo, reference)
    fc = geo.contours_du_protocole(store_demo, TCM)
    vals = geo.valeurs_par_quartier(store_demo, TCM, "2021", "SEC-VIDEO")
    fig = geo.carte(fc, vals, choisi="QN01001I", titre="nombre")
    polygones = [t for t in fig.data if t.fill == "toself"]
    assert len(polygones) == 9
    gare = next(t for t in polygones if t.name == "Gare")
    # Le quartier choisi : son contour redessiné par-dessus, trait noir sur halo blanc.
    traits = [t for t in fig.data if t.mode == "lines" and t.fill != "toself"]
    assert [(t.line.color, t.line.width) for t in traits] == [("#FFFFFF", 7), ("#000000", 3)]
    assert list(traits[1].x) == list(gare.x)
    noms = next(t for t in fig.data if t.mode == "text")
    assert len(noms.text) == 9 and "<b>Gare</b>" in noms.text
    sans_valeur = [t for t in polygones if "aucune valeur" in t.text]
    assert len(sans_valeur) == 1 and sans_valeur[0].fillcolor == geo.SANS_VALEUR   # Chartreux, sans dépôt en 2021
    assert any(t.marker.showscale for t in fig.data if t.mode == "markers")
    barres = geo.barres_quartiers(vals, choisi="QN01001I", titre="Caméras", couleurs={"en retard": "#D55E00"},
                                  reperes={"médiane": 13})
    assert sum(len(t.y) for t in barres.data) == 9
    assert any("<b>▶ Gare</b>" in list(t.y) for t in barres.data)
