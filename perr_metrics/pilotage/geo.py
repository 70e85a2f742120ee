"""Les quartiers sur la carte et entre eux : contours officiels des QPV, et un quartier comparé aux autres.

Contours. L'ANCT publie sur data.gouv.fr les contours des QPV en GeoJSON (jeu « quartiers prioritaires de la politique
de la ville », fichier `qpv-2024-geojson.zip` pour la géographie 2024) : une FeatureCollection dont chaque entité porte
`code_qp`, `lib_qp` et `insee_com`. La coordination l'importe une fois (`python -m perr_metrics qpv importer FICHIER`,
ou la page « Par QPV ») ; tous les contours sont gardés dans la table `contour_qpv`, si bien qu'un même import sert à
tous les protocoles de la base, et un nouvel import remplace le précédent.

Contours livrés. Les 1 584 contours officiels de 2024 (simplifiés) sont livrés avec l'application
(`data/reference/qpv-2024.geojson`, ANCT, Licence Ouverte 2.0 ; `data/reference/README.md`) : la carte fonctionne dès
l'installation, sans téléchargement. Un contour importé l'emporte sur le contour livré du même code ; les contours livrés
complètent ceux qui manquent à l'import (un import des contours de 2015 laisse ceux de 2024 aux protocoles de 2024).

Carte. Elle est dessinée en SVG (polygones Plotly sur des axes cartésiens, proportions corrigées de la latitude), sans
fond de carte : `go.Choropleth` télécharge un fond du monde sur cdn.plot.ly même quand on lui donne les contours, et
`go.Choroplethmap` demande WebGL ; ni l'un ni l'autre ne s'affiche sur un poste sans internet ou sans carte graphique.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import math
import re
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from perr_metrics.stockage.magasin import Store
from perr_metrics.acces import journal
from perr_metrics.acces.droits import operation, portee_de, utilisateur_de
from perr_metrics.commun.formats import format_nombre
from perr_metrics.commun.erreurs import AVERTISSEMENT, ImportRefuse, Rapport
from perr_metrics.referentiel.classeur import inserer_df

# Noms de propriétés acceptés (sans tenir compte de la casse) : ceux de 2024, puis ceux des fichiers de 2015.
PROPRIETES_CODE = ("code_qp", "code_quartier", "codeqp", "code_qpv")
PROPRIETES_LIBELLE = ("lib_qp", "nom_qp", "lib_quartier", "nom_quartier", "libelle", "nom")
PROPRIETES_INSEE = ("insee_com", "code_insee", "insee", "commune_qp")

CONTOURS_LIVRES = Path(__file__).resolve().parents[2] / "data" / "reference" / "qpv-2024.geojson"
SOURCE_LIVREE = "contours officiels des QPV de 2024 livrés avec l'application (ANCT, Licence Ouverte 2.0)"

RE_CODE_QPV = re.compile(r"^(QP(\d{2}[0-9AB]|97\d)\d{3}|QN(\d{2}[0-9AB]|97\d)\d{2}[A-Z])$")
TAILLE_MAX_DECOMPRESSEE = 500 * 1024 * 1024   # octets : au-delà, une archive est refusée (« bombe zip »)


# --------------------------------------------------------------------------------------------------------------------
# Lecture et contrôle du GeoJSON
# --------------------------------------------------------------------------------------------------------------------

def _propriete(props: dict, noms: tuple[str, ...]):
    minuscules = {str(k).lower(): v for k, v in props.items()}
    for nom in noms:
        if minuscules.get(nom) not in (None, ""):
            return minuscules[nom]
    return None


def _insee(valeur) -> list[str]:
    """`["10081", "10265"]`, `"10081; 10265"`, `10081`, `"1053"` (zéro perdu par un tableur) → codes à 5 caractères."""
    if valeur is None:
        return []
    morceaux = valeur if isinstance(valeur, list) else re.split(r"[;,|]", str(valeur))
    codes = []
    for m in morceaux:
        c = str(m).strip()
        if c.isdigit() and len(c) == 4:
            c = "0" + c
        if c:
            codes.append(c)
    return codes


def _positions_invalides(coordonnees, profondeur: int) -> str | None:
    """Vérifie la structure des coordonnées (profondeur 3 pour un Polygon, 4 pour un MultiPolygon) et qu'elles sont en
    degrés (longitude, latitude). Renvoie la raison du refus, ou None."""
    def parcourir(x, p):
        if p == 1:
            if (not isinstance(x, list) or len(x) < 2
                    or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in x[:2])):
                return "structure"
            if not (-180 <= x[0] <= 180 and -90 <= x[1] <= 90):
                return "degres"
            return None
        if not isinstance(x, list) or not x:
            return "structure"
        for y in x:
            r = parcourir(y, p - 1)
            if r:
                return r
        return None
    return parcourir(coordonnees, profondeur)


def _json(donnees: bytes, rapport: Rapport):
    if donnees[:2] == b"PK":
        try:
            archive = zipfile.ZipFile(io.BytesIO(donnees))
            membres = [m for m in archive.infolist() if m.filename.lower().endswith((".geojson", ".json"))
                       and not m.filename.startswith("__MACOSX")]
        except Exception:  # noqa: BLE001 - BadZipFile, mais aussi EOFError, ValueError… sur une archive tronquée
            rapport.ajouter("geojson-illisible", "Archive .zip abîmée : elle ne peut pas être ouverte.")
            return None
        if len(membres) != 1:
            rapport.ajouter("geojson-illisible", f"L'archive contient {len(membres)} fichiers GeoJSON : il en faut "
                                                 "exactement un (celui des contours des quartiers).",
                            valeur=", ".join(m.filename for m in membres))
            return None
        if membres[0].file_size > TAILLE_MAX_DECOMPRESSEE:
            rapport.ajouter("archive-suspecte", "Le fichier de l'archive se décompresserait démesurément : refusé.",
                            valeur=membres[0].filename)
            return None
        try:
            donnees = archive.read(membres[0])
        except Exception:  # noqa: BLE001 - zipfile lève BadZipFile, EOFError, zlib.error… selon l'endroit abîmé
            rapport.ajouter("geojson-illisible", "Archive .zip abîmée : son fichier GeoJSON ne peut pas être "
                                                 "décompressé. Téléchargez-la à nouveau.", valeur=membres[0].filename)
            return None
    try:
        return json.loads(donnees.decode("utf-8-sig"))
    except RecursionError:
        rapport.ajouter("geojson-illisible", "Le fichier n'est pas un GeoJSON lisible : ses crochets ou accolades "
                                             "s'imbriquent sur des milliers de niveaux. Téléchargez à nouveau le "
                                             "GeoJSON des contours.")
    except UnicodeDecodeError:
        rapport.ajouter("geojson-illisible", "Le fichier n'est pas un texte UTF-8 : ce n'est pas un GeoJSON (un "
                                             "fichier .shp, .gpkg ou .xlsx renommé ?).")
    except json.JSONDecodeError as exc:
        rapport.ajouter("geojson-illisible", f"Le fichier n'est pas du JSON lisible (ligne {exc.lineno}, colonne "
                                             f"{exc.colno} : {exc.msg}). Téléchargez à nouveau le GeoJSON des "
                                             "contours.")
    return None


def lire_contours(donnees: bytes) -> tuple[pd.DataFrame, Rapport]:
    """Lit et contrôle un GeoJSON de contours de QPV (ou une archive .zip qui en contient un).

    Renvoie les contours (colonnes code, libelle, insee (liste), geojson (la géométrie, en texte)) et le rapport. Les
    problèmes : fichier qui n'est pas du JSON, qui n'est pas une FeatureCollection, entité sans code de quartier (ou code
    qui n'a pas la forme officielle), géométrie qui n'est pas un Polygon/MultiPolygon en degrés. Un quartier découpé en
    plusieurs entités voit ses morceaux réunis (avertissement).
    """
    rapport = Rapport()
    vide = pd.DataFrame(columns=["code", "libelle", "insee", "geojson"])
    doc = _json(donnees, rapport)
    if not rapport.valide:
        # (Et non « doc is None » : un fichier qui contient `null` est du JSON lisible ; il était accepté comme une
        # collection vide, et effaçait tous les contours.)
        return vide, rapport
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection" or not isinstance(doc.get("features"),
                                                                                               list):
        recu = doc.get("type") if isinstance(doc, dict) else "null" if doc is None else type(doc).__name__
        rapport.ajouter("geojson-pas-featurecollection", "Le fichier n'est pas une FeatureCollection GeoJSON : "
                                                         "attendu le fichier des contours des QPV publié par l'ANCT.",
                        valeur=recu)
        return vide, rapport
    entites = doc["features"]
    if not entites:
        rapport.ajouter("fichier-vide", "La FeatureCollection ne contient aucune entité.")
        return vide, rapport
    # Une entité ou ses propriétés d'un autre type qu'un objet JSON (une liste, un nombre) : sans propriétés.
    props = [e.get("properties") if isinstance(e, dict) and isinstance(e.get("properties"), dict) else {}
             for e in entites]
    if not any(_propriete(p, PROPRIETES_CODE) for p in props):
        noms = sorted({str(k) for p in props[:50] for k in p})
        rapport.ajouter("geojson-sans-code-qp", "Aucune entité n'a de propriété « code_qp » (ni « code_quartier ») : "
                                                "ce fichier n'est pas celui des contours des QPV.",
                        valeur=", ".join(noms[:15]) or "aucune propriété")
        return vide, rapport

    morceaux: dict[str, dict] = {}
    for i, (e, p) in enumerate(zip(entites, props)):
        code = _propriete(p, PROPRIETES_CODE)
        code = str(code).strip().upper() if code is not None else None
        ou = f"entité {i + 1}" + (f" ({code})" if code else "")
        if not code:
            rapport.ajouter("geojson-sans-code-qp", "Cette entité n'a pas de code de quartier (propriété code_qp).",
                            cellule=ou)
            continue
        if not RE_CODE_QPV.match(code):
            rapport.ajouter("code-qpv-invalide", "Ce code n'a pas la forme d'un code de QPV : QP + 6 caractères (2015, "
                                                 "QP093028) ou QN + 5 chiffres et une lettre (2024, QN01001I).",
                            cellule=ou, valeur=code)
            continue
        geo = e.get("geometry") if isinstance(e, dict) else None
        type_geo = geo.get("type") if isinstance(geo, dict) else None
        if type_geo not in ("Polygon", "MultiPolygon"):
            rapport.ajouter("geometrie-invalide", "La géométrie doit être un Polygon ou un MultiPolygon (le contour du "
                                                  "quartier).", cellule=ou, valeur=type_geo or "aucune géométrie")
            continue
        raison = _positions_invalides(geo.get("coordinates"), 3 if type_geo == "Polygon" else 4)
        if raison == "degres":
            rapport.ajouter("coordonnees-non-wgs84", "Les coordonnées ne sont pas des longitudes et latitudes en "
                                                     "degrés (WGS84) : le fichier est sans doute en Lambert 93. "
                                                     "Téléchargez la version WGS84 ou reprojetez-la (EPSG:4326).",
                            cellule=ou, valeur=str(geo.get("coordinates"))[:60])
            continue
        if raison:
            rapport.ajouter("geometrie-invalide", "Les coordonnées de ce contour sont mal formées.", cellule=ou,
                            valeur=type_geo)
            continue
        polygones = [geo["coordinates"]] if type_geo == "Polygon" else geo["coordinates"]
        if code in morceaux:
            m = morceaux[code]
            m["polygones"] += polygones
            m["insee"] += [c for c in _insee(_propriete(p, PROPRIETES_INSEE)) if c not in m["insee"]]
            if code not in m["signale"]:
                rapport.ajouter("contour-multiple", "Ce quartier est découpé en plusieurs entités : leurs contours "
                                                    "sont réunis.", cellule=ou, valeur=code, niveau=AVERTISSEMENT)
                m["signale"].add(code)
            continue
        morceaux[code] = dict(libelle=str(_propriete(p, PROPRIETES_LIBELLE) or code),
                              insee=_insee(_propriete(p, PROPRIETES_INSEE)), polygones=polygones, signale=set())
    if not rapport.valide:
        return vide, rapport
    lignes = [dict(code=c, libelle=m["libelle"], insee=m["insee"],
                   geojson=json.dumps({"type": "MultiPolygon", "coordinates": m["polygones"]}, separators=(",", ":")))
              for c, m in morceaux.items()]
    rapport.stats["contours"] = len(lignes)
    return pd.DataFrame(lignes), rapport


# --------------------------------------------------------------------------------------------------------------------
# Import et couverture
# --------------------------------------------------------------------------------------------------------------------

@dataclass
class ResultatContours:
    """`nb_contours` importés ; `nb_precedents` remplacés ; `couverture` : par protocole, les quartiers qui ont un
    contour."""

    nb_contours: int
    nb_precedents: int
    fichier_nom: str
    couverture: pd.DataFrame
    rapport: Rapport


@operation("administrer_referentiel", instance=True)
def importer_contours(store: Store, source, nom_fichier: str | None = None) -> ResultatContours:
    """Importe les contours d'un GeoJSON (octets ou chemin) : tous en une transaction, en remplaçant les précédents.

    Lève `ImportRefuse` (rapport complet) au moindre problème : la base reste alors inchangée.
    """
    if isinstance(source, (bytes, bytearray)):
        donnees, nom = bytes(source), nom_fichier or "contours.geojson"
    else:
        donnees, nom = Path(source).read_bytes(), nom_fichier or Path(source).name
    contours, rapport = lire_contours(donnees)
    if not rapport.valide:
        raise ImportRefuse(rapport)
    contours["importe_le"] = dt.datetime.now()
    contours["fichier_nom"] = nom

    def ecrire(con) -> int:
        avant = con.execute("SELECT count(*) FROM contour_qpv").fetchone()[0]
        con.execute("DELETE FROM contour_qpv")
        inserer_df(con, "contour_qpv", contours[["code", "libelle", "insee", "geojson", "importe_le", "fichier_nom"]])
        return int(avant)

    u = utilisateur_de(store)

    def ecrire_et_noter(con) -> int:
        avant = ecrire(con)
        journal.noter(con, u, "import de contours", objet=nom, detail=f"{len(contours)} contours (remplacent {avant})")
        return avant

    precedents = store.ecrire(ecrire_et_noter)
    return ResultatContours(len(contours), precedents, nom, couverture(store), rapport)


@lru_cache(maxsize=1)
def contours_livres() -> dict[str, dict]:
    """Les contours livrés avec l'application : code → géométrie GeoJSON (lus une fois par processus ; vide si le
    fichier manque)."""
    if not CONTOURS_LIVRES.exists():  # pragma: no cover - livré avec le projet
        return {}
    with CONTOURS_LIVRES.open(encoding="utf-8") as f:
        fc = json.load(f)
    return {str(e["properties"]["code_qp"]): e["geometry"] for e in fc.get("features", [])
            if e.get("geometry") and e.get("properties", {}).get("code_qp")}


@lru_cache(maxsize=1)
def codes_livres() -> frozenset[str]:
    """Les codes des contours livrés, sans lire les géométries (la liste officielle, `data/reference/qpv-2024.csv`)."""
    liste = CONTOURS_LIVRES.with_suffix(".csv")
    if not liste.exists():  # pragma: no cover - livré avec le projet
        return frozenset(contours_livres())
    with liste.open(encoding="utf-8") as f:
        next(f, None)
        return frozenset(l.split(",", 1)[0] for l in f if l.strip())


@operation("consulter_pilotage")
def etat_contours(store: Store) -> dict:
    """Ce qui est chargé : nombre de contours disponibles (importés, plus les contours livrés de codes que l'import
    n'a pas), date et fichier du dernier import (None si rien n'a été importé), `nb_importes`, `nb_livres` et
    `source` (le fichier importé, ou les contours livrés s'il n'y a pas eu d'import)."""
    def lire(con):
        n, quand, fichier = con.execute(
            "SELECT count(*), max(importe_le), any_value(fichier_nom) FROM contour_qpv").fetchone()
        importes = {r[0] for r in con.execute("SELECT code FROM contour_qpv").fetchall()} if n else set()
        return int(n), quand, fichier, importes
    n, quand, fichier, importes = store.lire(lire)
    livres = codes_livres()
    return {"nb_contours": n + len(livres - importes), "importe_le": quand, "fichier_nom": fichier,
            "nb_importes": n, "nb_livres": len(livres), "source": fichier if n else SOURCE_LIVREE}


@operation("consulter_pilotage")
def couverture(store: Store, protocole: str | None = None) -> pd.DataFrame:
    """Pour chaque protocole (ou celui demandé) : ses quartiers (QPV et veille active), combien ont un contour (importé
    ou livré), et lesquels n'en ont pas (codes séparés par « ; »). Pour un compte limité à certains protocoles,
    les siens."""
    df = store.requete("""
        SELECT q.protocole, p.territoire, p.geographie, q.code, c.code IS NOT NULL AS importe
        FROM perimetre q JOIN protocole p ON p.code = q.protocole
        LEFT JOIN contour_qpv c ON c.code = q.code
        WHERE q.niveau = 'QPV' AND (? IS NULL OR q.protocole = ?)
        ORDER BY q.protocole, q.ordre
    """, [protocole, protocole])
    portee = portee_de(store)
    if portee is not None:
        df = df[df["protocole"].isin(portee)].reset_index(drop=True)
    colonnes = ["protocole", "territoire", "geographie", "nb_quartiers", "nb_avec_contour", "sans_contour"]
    if df.empty:
        return pd.DataFrame(columns=colonnes)
    livres = codes_livres()
    df["avec"] = df["importe"].astype(bool) | df["code"].isin(livres)
    lignes = [dict(protocole=pr, territoire=g["territoire"].iloc[0], geographie=g["geographie"].iloc[0],
                   nb_quartiers=len(g), nb_avec_contour=int(g["avec"].sum()),
                   sans_contour=";".join(g.loc[~g["avec"], "code"]))
              for pr, g in df.groupby("protocole", sort=True)]
    return pd.DataFrame(lignes, columns=colonnes).astype({"nb_quartiers": "int64", "nb_avec_contour": "int64"})


@operation("consulter_pilotage")
def contours_du_protocole(store: Store, protocole: str) -> dict:
    """Les contours des quartiers d'un protocole, en FeatureCollection (`id` = code du quartier ; propriétés code,
    libelle (celui du protocole), type, source : « importé » ou « livré »). Le contour importé l'emporte ; à défaut, le
    contour officiel livré avec l'application. Les quartiers sans contour n'y figurent pas."""
    df = store.requete("""
        SELECT q.code, q.libelle, q.type, c.geojson FROM perimetre q LEFT JOIN contour_qpv c ON c.code = q.code
        WHERE q.protocole = ? AND q.niveau = 'QPV' ORDER BY q.ordre
    """, [protocole])
    entites = []
    for r in df.itertuples():
        if isinstance(r.geojson, str):
            geometrie, source = json.loads(r.geojson), "importé"
        elif r.code in codes_livres() and (geometrie := contours_livres().get(r.code)) is not None:
            source = "livré"
        else:
            continue
        entites.append({"type": "Feature", "id": r.code, "geometry": geometrie,
                        "properties": {"code": r.code, "libelle": r.libelle, "type": r.type, "source": source}})
    return {"type": "FeatureCollection", "features": entites}


# --------------------------------------------------------------------------------------------------------------------
# Un quartier parmi les autres
# --------------------------------------------------------------------------------------------------------------------

COLONNES_COMPARAISON = [
    "indicateur", "libelle", "unite", "sens", "agregation", "valeur", "statut", "explication", "cible_finale",
    "annee_cible", "depot_id", "nb_autres", "autres_min", "autres_mediane", "autres_max", "territoire_valeur",
    "territoire_statut",
]


def _quartiers_et_indicateurs(store: Store, protocole: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Les périmètres et les indicateurs du protocole, aux seules colonnes dont les vues par quartier se servent, en
    une lecture : les lignes, l'ordre et les types de `requetes.perimetres` et de `requetes.indicateurs` (même droit,
    même erreur pour un protocole inconnu), sans leurs jointures (communes de chaque quartier, noms des signataires,
    engagements mesurés) qui coûtaient plus que le reste de ces deux lectures."""
    from perr_metrics.acces.droits import exiger
    from perr_metrics.referentiel.requetes import _verifier_con

    exiger(store, "consulter_referentiel")

    def lire(con):
        _verifier_con(con, protocole)
        per = con.execute("""
            SELECT code, libelle, niveau, type FROM perimetre WHERE protocole = ?
            ORDER BY CASE niveau WHEN 'Territoire' THEN 0 WHEN 'Commune' THEN 1 ELSE 2 END, ordre""", [protocole]).df()
        ind = con.execute("SELECT code, libelle, unite, sens, niveau, agregation FROM indicateur WHERE protocole = ? "
                          "ORDER BY ordre", [protocole]).df()
        return per, ind
    return store.lire(lire)


@operation("consulter_pilotage")
def valeurs_par_quartier(store: Store, protocole: str, periode, indicateur: str | None = None) -> pd.DataFrame:
    """Les indicateurs suivis par quartier, pour chaque quartier du protocole (QPV et veille active) à la période :
    les colonnes de `avancement.indicateurs_au_perimetre` plus `type` (QPV ou veille active). Avec `indicateur`, une
    ligne par quartier, y compris ceux qui n'ont ni valeur ni cible (valeur et statut vides)."""
    from .avancement import indicateurs_au_perimetre
    from perr_metrics.referentiel.requetes import _session

    with _session(store) as s:   # une connexion pour les deux lectures
        per, du_niveau = _quartiers_et_indicateurs(s, protocole)
        codes = du_niveau.loc[du_niveau["niveau"] == "QPV", "code"]
        # Seulement les indicateurs qu'on va garder : les mêmes lignes, sans évaluer tout le protocole.
        voulus = [indicateur] if indicateur is not None else (codes.tolist() or None)
        df = indicateurs_au_perimetre(s, protocole, periode, indicateurs=voulus)
    return _par_quartier(df, per, du_niveau, codes, protocole, indicateur)


def _par_quartier(df: pd.DataFrame, per: pd.DataFrame, du_niveau: pd.DataFrame, codes: pd.Series, protocole: str,
                  indicateur: str | None) -> pd.DataFrame:
    quartiers = per[per["niveau"] == "QPV"][["code", "libelle", "type"]]
    df = df[df["indicateur"].isin(codes) & df["perimetre"].isin(quartiers["code"])]
    df = df.merge(quartiers[["code", "type"]], left_on="perimetre", right_on="code").drop(columns="code")
    if indicateur is None:
        return df.reset_index(drop=True)
    info = du_niveau[du_niveau["code"] == indicateur]
    if info.empty:
        raise KeyError(f"L'indicateur « {indicateur} » n'existe pas dans le protocole {protocole}.")
    df = df[df["indicateur"] == indicateur]
    tous = quartiers.rename(columns={"code": "perimetre", "libelle": "perimetre_libelle"})
    df = tous.merge(df.drop(columns=["perimetre_libelle", "type"]), on="perimetre", how="left")
    i = info.iloc[0]
    return df.assign(indicateur=indicateur, libelle=i["libelle"], unite=i["unite"], sens=i["sens"], niveau="QPV")


def _lignes_par_code(df: pd.DataFrame) -> dict:
    """{index : {colonne : valeur}} d'une table à l'index sans doublon : les valeurs mêmes que `df.loc[code][colonne]`
    (l'élément du tableau de la colonne), sans construire une Series par ligne."""
    colonnes = {}
    for c in df.columns:
        a = df[c].array
        if isinstance(a.dtype, pd.StringDtype):
            colonnes[c] = a.tolist()             # les mêmes chaînes, NaN pour une absente (a[k] coûte cher)
        elif isinstance(a, pd.arrays.NumpyExtensionArray):
            colonnes[c] = list(a.to_numpy())     # les scalaires NumPy mêmes que a[k]
        else:
            colonnes[c] = [a[k] for k in range(len(a))]
    return {code: {c: v[k] for c, v in colonnes.items()} for k, code in enumerate(df.index)}


@operation("consulter_pilotage")
def comparaison_quartier(store: Store, protocole: str, periode, quartier: str) -> pd.DataFrame:
    """Pour chaque indicateur suivi par quartier : la valeur du quartier, son statut et son explication, le minimum, la
    médiane et le maximum des autres quartiers renseignés (et leur nombre), et la valeur et le statut du territoire
    entier (agrégé selon la règle de l'indicateur : somme, taux recalculé…).

    Un indicateur dont le quartier n'a ni valeur, ni référence, ni cible y figure quand même, valeur et statut vides,
    si d'autres quartiers en ont. L'ordre est celui du référentiel.
    """
    from . import avancement as av
    from perr_metrics.referentiel.requetes import _session

    with _session(store) as s:   # une connexion, et une seule lecture des valeurs pour les quartiers et le territoire
        per, du_niveau = _quartiers_et_indicateurs(s, protocole)
        codes = du_niveau.loc[du_niveau["niveau"] == "QPV", "code"]
        ds = av._charger_periodes(s, protocole, [periode], indicateurs=codes.tolist() or None)
    d = ds[0]
    ter = av._par_periode([av._lignes_au_territoire(d, None)], ds, av.COLONNES_TERRITOIRE)
    quartiers = per.loc[per["niveau"] == "QPV", "code"].tolist()
    if quartier not in set(quartiers):
        raise KeyError(f"Le quartier « {quartier} » n'existe pas dans le protocole {protocole}.")
    # Des autres quartiers, seules comptent leurs valeurs (minimum, médiane, maximum) : prises telles que les donne
    # l'évaluation par périmètre (`_nombre` des valeurs retenues, taux recalculés compris), sans évaluer ces
    # quartiers ; seul le quartier choisi est évalué (les lignes mêmes d'`indicateurs_au_perimetre`).
    inds = _lignes_par_code(du_niveau[du_niveau["niveau"] == "QPV"].set_index("code"))
    voulus = set(codes)
    autres_q = [q for q in quartiers if q != quartier]
    lus_i, lus_v = [], []
    for ind in av._lignes_indicateurs(d):
        if ind.indicateur not in voulus:
            continue
        for q in autres_q:
            v = d.valeurs.get((ind.indicateur, q))
            if v is not None:
                x = av._nombre(v[0])
                if x is not None:
                    lus_i.append(ind.indicateur)
                    lus_v.append(x)
    valeurs_autres = pd.DataFrame({"indicateur": pd.Series(lus_i, dtype=codes.dtype),
                                   "valeur": np.array(lus_v, dtype="float64")})
    autres = _lignes_par_code(valeurs_autres.groupby("indicateur")["valeur"].agg(
        nb_autres="count", autres_min="min", autres_mediane="median", autres_max="max"))
    lignes_ici = [ligne for ligne in av._lignes_au_perimetre(d, {quartier}) if ligne["indicateur"] in voulus]
    ici = _lignes_par_code(av._tableau(lignes_ici, av.COLONNES_PERIMETRE).set_index("indicateur"))
    ter = _lignes_par_code(ter.drop(columns="periode").set_index("indicateur"))
    lignes = []
    for code, i in inds.items():
        if code not in ici and code not in autres:
            continue
        q = ici.get(code)
        a = autres.get(code)
        t = ter.get(code)
        lignes.append(dict(
            indicateur=code, libelle=i["libelle"], unite=i["unite"], sens=i["sens"], agregation=i["agregation"],
            valeur=None if q is None else q["valeur"], statut=None if q is None else q["statut"],
            explication="Ni valeur, ni référence, ni cible pour ce quartier." if q is None else q["explication"],
            cible_finale=None if q is None else q["cible_finale"], annee_cible=None if q is None else q["annee_cible"],
            depot_id=None if q is None else q["depot_id"], nb_autres=0 if a is None else int(a["nb_autres"]),
            autres_min=None if a is None else a["autres_min"], autres_mediane=None if a is None else a["autres_mediane"],
            autres_max=None if a is None else a["autres_max"],
            territoire_valeur=None if t is None else t["valeur"], territoire_statut=None if t is None else t["statut"]))
    out = pd.DataFrame(lignes, columns=COLONNES_COMPARAISON)
    for c in ("valeur", "cible_finale", "autres_min", "autres_mediane", "autres_max", "territoire_valeur"):
        out[c] = pd.to_numeric(out[c], errors="coerce").astype("float64")
    return out


# --------------------------------------------------------------------------------------------------------------------
# La carte
# --------------------------------------------------------------------------------------------------------------------

SANS_VALEUR = "#DDDDDD"


def _anneaux_exterieurs(geometrie: dict) -> list[list]:
    polygones = [geometrie["coordinates"]] if geometrie["type"] == "Polygon" else geometrie["coordinates"]
    return [p[0] for p in polygones if p]


def _centre(anneaux: list[list]) -> tuple[float, float]:
    """Le centre de l'emprise du plus grand anneau : là où écrire le nom du quartier."""
    def aire(a):
        return abs(sum(x0 * y1 - x1 * y0 for (x0, y0, *_), (x1, y1, *_) in zip(a, a[1:])))
    plus_grand = max(anneaux, key=aire)
    xs, ys = [p[0] for p in plus_grand], [p[1] for p in plus_grand]
    return (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2


def carte(contours: dict, valeurs: pd.DataFrame, *, choisi: str | None = None, titre: str = "",
          texte_valeur=None, echelle: str = "Viridis", inverser: bool = False):
    """La carte des quartiers : chaque contour coloré selon sa valeur (`valeurs` : colonnes perimetre,
    perimetre_libelle, valeur, statut), gris s'il n'en a pas, et son nom écrit dessus ; le quartier `choisi` cerné
    d'un trait noir sur un halo blanc, visible sur toutes les couleurs.

    Dessin en SVG sans fond de carte (voir le docstring du module) ; proportions corrigées de la latitude.
    `texte_valeur(x)` écrit une valeur dans l'infobulle ; `inverser` retourne l'échelle (indicateur en baisse : les
    couleurs claires pour les valeurs basses, c'est-à-dire les meilleures).
    """
    import plotly.colors as pc
    import plotly.graph_objects as go

    texte_valeur = texte_valeur or format_nombre
    infos = valeurs.set_index("perimetre")
    nombres = pd.to_numeric(infos["valeur"], errors="coerce").dropna() if not infos.empty else pd.Series(dtype=float)
    bas, haut = (float(nombres.min()), float(nombres.max())) if len(nombres) else (0.0, 1.0)
    echelle_px = pc.get_colorscale(echelle)
    if inverser:
        echelle_px = [[1 - a, c] for a, c in reversed(echelle_px)]
    fig = go.Figure()
    lats, lons, etiquettes, contour_choisi = [], [], [], None
    for f in contours["features"]:
        code = f["id"]
        anneaux = _anneaux_exterieurs(f["geometry"])
        xs, ys = [], []
        for anneau in anneaux:
            xs += [pt[0] for pt in anneau] + [None]
            ys += [pt[1] for pt in anneau] + [None]
        lons += [x for x in xs if x is not None]
        lats += [y for y in ys if y is not None]
        ligne = infos.loc[code] if code in infos.index else None
        v = None if ligne is None or pd.isna(ligne["valeur"]) else float(ligne["valeur"])
        if v is None:
            couleur = SANS_VALEUR
        else:
            t = 0.5 if haut == bas else (v - bas) / (haut - bas)
            couleur = pc.sample_colorscale(echelle_px, [t])[0]
        nom = f["properties"].get("libelle", code)
        statut = "" if ligne is None or pd.isna(ligne.get("statut")) else f" — {ligne['statut']}"
        info = f"<b>{nom}</b> ({code})<br>{'aucune valeur' if v is None else texte_valeur(v)}{statut}"
        fig.add_trace(go.Scatter(
            x=xs, y=ys, mode="lines", fill="toself", fillcolor=couleur, name=nom, text=info, hoverinfo="text",
            hoveron="fills", showlegend=False, line=dict(color="#555555", width=0.8)))
        court = nom if len(nom) <= 28 else nom[:27].rstrip() + "…"
        etiquettes.append((*_centre(anneaux), f"<b>{court}</b>" if code == choisi else court))
        if code == choisi:
            contour_choisi = (xs, ys)
    if contour_choisi:
        for couleur, largeur in (("#FFFFFF", 7), ("#000000", 3)):
            fig.add_trace(go.Scatter(x=contour_choisi[0], y=contour_choisi[1], mode="lines", hoverinfo="skip",
                                     showlegend=False, line=dict(color=couleur, width=largeur)))
    if etiquettes:
        x, y, texte = zip(*etiquettes)
        fig.add_trace(go.Scatter(x=x, y=y, text=texte, mode="text", hoverinfo="skip", showlegend=False,
                                 textposition="top center",
                                 textfont=dict(size=12, color="#000000", shadow="0 0 3px #FFFFFF")))
    if len(nombres):
        # Une trace sans point dessiné (coordonnées vides), pour porter l'échelle de couleurs.
        fig.add_trace(go.Scatter(
            x=[None, None], y=[None, None], mode="markers",
            hoverinfo="skip", showlegend=False,
            marker=dict(size=0, color=[bas, haut], colorscale=echelle_px, showscale=True,
                        colorbar=dict(title=dict(text=titre, side="right"), thickness=14))))
    if any(f["id"] not in infos.index or pd.isna(infos.loc[f["id"], "valeur"]) for f in contours["features"]):
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name="sans valeur", showlegend=True,
                                 marker=dict(size=12, symbol="square", color=SANS_VALEUR,
                                             line=dict(color="#555555", width=1))))
    latitude = (min(lats) + max(lats)) / 2 if lats else 46.5
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x", scaleratio=1 / math.cos(math.radians(latitude)))
    fig.update_layout(height=560, margin=dict(t=10, b=10, l=10, r=10), plot_bgcolor="#FFFFFF",
                      legend=dict(orientation="h", y=0, x=0), hoverlabel=dict(align="left"))
    return fig


def barres_quartiers(valeurs: pd.DataFrame, *, choisi: str, titre: str, couleurs: dict, texte_valeur=None,
                     reperes: dict | None = None):
    """Une barre par quartier (`valeurs` de `valeurs_par_quartier` pour un indicateur), colorée par statut
    (`couleurs`), le quartier `choisi` en gras ; `reperes` : {libellé: valeur} tracés en pointillés verticaux (médiane
    des autres quartiers, taux du territoire…)."""
    import plotly.graph_objects as go

    texte_valeur = texte_valeur or format_nombre
    df = valeurs.copy()
    df["statut"] = df["statut"].fillna("sans valeur")
    df["nom"] = [f"<b>▶ {n}</b>" if c == choisi else n
                 for c, n in zip(df["perimetre"], df["perimetre_libelle"].str.slice(0, 45))]
    df["texte"] = [texte_valeur(v) if pd.notna(v) else "aucune valeur" for v in df["valeur"]]
    fig = go.Figure()
    presents = list(dict.fromkeys(df["statut"]))
    for statut in [s for s in couleurs if s in presents] + [s for s in presents if s not in couleurs]:
        g = df[df["statut"] == statut]
        fig.add_trace(go.Bar(
            x=g["valeur"].fillna(0), y=g["nom"], orientation="h", name=statut, text=g["texte"],
            textposition="outside", cliponaxis=False, marker_color=couleurs.get(statut, SANS_VALEUR),
            marker_line_color=["#000000" if c == choisi else "#888888" for c in g["perimetre"]],
            marker_line_width=[2.5 if c == choisi else 0.5 for c in g["perimetre"]],
            hovertemplate="%{y} : %{text}<extra>" + statut + "</extra>"))
    for i, (libelle, x) in enumerate((reperes or {}).items()):
        if x is not None and pd.notna(x):
            # Les repères s'annoncent au-dessus du graphique, l'un sous l'autre, sans cacher de barre.
            fig.add_vline(x=float(x), line_dash="dash" if i == 0 else "dot", line_color="#333333",
                          annotation_text=f"{libelle} : {texte_valeur(x)}", annotation_position="top right",
                          annotation_yshift=10 + 18 * i, annotation_font_size=12)
    fig.update_layout(height=150 + 34 * len(df), margin=dict(t=20 + 22 * len(reperes or {}), b=10, l=10, r=60),
                      barmode="overlay",
                      yaxis=dict(categoryorder="array", categoryarray=list(df["nom"]), autorange="reversed"),
                      xaxis=dict(title=titre), legend=dict(orientation="h", y=-0.15, title_text="Statut : "))
    return fig
