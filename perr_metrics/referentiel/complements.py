"""Ce que les protocoles écrivent autour de l'arbre, et l'aide à qui remplit le classeur.

- Les **volets** (annexes, cités éducatives, projets de quartier) : plusieurs arborescences dans un protocole, chacune avec
  son nom, rattachées ou non à des quartiers ; un nœud peut lui aussi être rattaché à des quartiers.
- Le **texte** d'un nœud (objectif stratégique, enjeu, description) et la **nature** d'un engagement dans le vocabulaire
  du protocole (objectif opérationnel, exemple d'action, orientation attendue des autres signataires…).
- Les **lignes de signature** : plusieurs par signataire (qualité, représentant, acte, date).
- Les **suggestions** : un porteur, un parent, un signataire écrit par son nom reçoit le code qui lui correspond ; un code
  de QPV de la géographie 2024 est vérifié contre la liste officielle (`data/reference/qpv-2024.csv`), avec le code
  proposé d'après le nom du quartier.

Le module lit un `classeur.Referentiel` sans l'importer (il est importé par `classeur`, qui l'appelle après ses propres
contrôles et au moment d'écrire les tables).
"""
from __future__ import annotations

import csv
import difflib
import re
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

from perr_metrics.commun.erreurs import AVERTISSEMENT
from perr_metrics.commun.formats import sans_accents

QPV_2024_CSV = Path(__file__).resolve().parents[2] / "data" / "reference" / "qpv-2024.csv"

#: Les volets, rangés après le corps du protocole : la première partie du chemin de tri d'une racine est
#: rang du volet × PAS_VOLET + ordre de la racine (le corps a le rang 0).
PAS_VOLET = 1000


def cle(texte) -> str:
    """Forme de comparaison d'un nom : minuscules, sans accents, ponctuation en espaces, espaces simples."""
    t = sans_accents(str(texte or "")).lower().replace("’", "'").replace("œ", "oe")
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9]+", " ", t)).strip()


@lru_cache(maxsize=1)
def qpv_2024() -> dict[str, tuple[str, tuple[str, ...]]]:
    """La liste officielle des QPV de 2024 : code → (nom, codes INSEE des communes). Vide si le fichier manque."""
    if not QPV_2024_CSV.exists():  # pragma: no cover - livré avec le projet
        return {}
    with QPV_2024_CSV.open(encoding="utf-8") as f:
        return {r["code_qp"]: (r["lib_qp"], tuple(c for c in r["insee_com"].split(";") if c))
                for r in csv.DictReader(f)}


def code_qpv_propose(libelle: str | None, communes: list[str] | tuple[str, ...] = ()) -> str | None:
    """Le code officiel 2024 du quartier de ce nom : parmi les QPV des communes données s'il y en a, sinon parmi tous
    (un nom ambigu à l'échelle nationale ne donne rien)."""
    officiels = qpv_2024()
    if not libelle or not officiels:
        return None
    voulu = cle(libelle)
    candidats = {c: v for c, v in officiels.items() if set(v[1]) & set(communes)} if communes else {}
    for ensemble, seuil in ((candidats, 0.6), (officiels, 0.85)):
        if not ensemble:
            continue
        noms = {c: cle(v[0]) for c, v in ensemble.items()}
        exacts = [c for c, n in noms.items() if n == voulu]
        if len(exacts) == 1:
            return exacts[0]
        if exacts:
            return None
        inclus = [c for c, n in noms.items() if n and (n in voulu or voulu in n)]
        if len(inclus) == 1 and ensemble is candidats:
            return inclus[0]
        proches = difflib.get_close_matches(voulu, list(noms.values()), n=2, cutoff=seuil)
        if len(proches) == 1 or (proches and ensemble is candidats):
            trouves = [c for c, n in noms.items() if n == proches[0]]
            if len(trouves) == 1:
                return trouves[0]
    return None


# --------------------------------------------------------------------------------------------------------------------
# Contrôles
# --------------------------------------------------------------------------------------------------------------------

def _index(ref, fichier: str, nom_feuille: str) -> dict:
    """Code → ligne d'une feuille facultative ; signale les codes en double."""
    vus: dict = {}
    for l in ref.lignes.get(fichier, []):
        code = l["code"]
        if code is None:
            continue
        if code in vus:
            ref.rapport.ajouter("code-duplique", f"Le code « {code} » est déjà utilisé ligne {vus[code].numero} de la "
                                f"feuille « {nom_feuille} ».", l.feuille, l.adresse("code"), code)
        else:
            vus[code] = l
    return vus


def _inconnus(ref, ligne, cle_col: str, connus, code_erreur: str, quoi: str, feuille_cible: str) -> None:
    valeurs = ligne[cle_col]
    for v in (valeurs if isinstance(valeurs, list) else [valeurs] if valeurs else []):
        if v not in connus:
            ref.rapport.ajouter(code_erreur, f"{quoi} « {v} » n'existe pas dans la feuille « {feuille_cible} ».",
                                ligne.feuille, ligne.adresse(cle_col), v)


def volet_de(axes: dict, code: str) -> str | None:
    """Le volet d'un nœud : le sien, sinon celui de son plus proche ancêtre qui en a un (None : le corps)."""
    vus = set()
    while code is not None and code in axes and code not in vus:
        vus.add(code)
        if axes[code]["volet"]:
            return axes[code]["volet"]
        code = axes[code]["parent"]
    return None


def controler(ref) -> None:
    """Les contrôles des volets, des nœuds rattachés à des quartiers, des signatures et du vocabulaire des natures."""
    L = ref.lignes
    r = ref.rapport
    quartiers = {l["code"] for l in L.get("quartiers", []) if l["code"]}
    signataires = {l["code"] for l in L.get("signataires", []) if l["code"]}
    volets = _index(ref, "volets", "Volets")
    for l in L.get("volets", []):
        _inconnus(ref, l, "quartiers", quartiers, "quartier-inconnu", "Le quartier", "Quartiers")
    axes = {l["code"]: l for l in L.get("axes", []) if l["code"]}
    for l in L.get("axes", []):
        _inconnus(ref, l, "volet", volets, "volet-inconnu", "Le volet", "Volets")
        _inconnus(ref, l, "quartiers", quartiers, "quartier-inconnu", "Le quartier", "Quartiers")
        parent = l["parent"]
        if l["volet"] and parent in axes:
            du_parent = volet_de(axes, parent)
            if du_parent != l["volet"]:
                ailleurs = f"du volet « {du_parent} »" if du_parent else "du corps du protocole (sans volet)"
                r.ajouter("volet-incoherent", f"Le nœud « {l['code']} » est dans le volet « {l['volet']} », mais son "
                          f"parent « {parent} » est {ailleurs} : un nœud reste dans le volet de son parent (laissez "
                          "la cellule vide pour en hériter).", l.feuille, l.adresse("volet"), l["volet"])
    for l in L.get("signatures", []):
        _inconnus(ref, l, "signataire", signataires, "signataire-inconnu", "Le signataire", "Signataires")
        if not any(l[c] for c in ("qualite", "representant", "acte", "date")):
            r.ajouter("signature-vide", "Une ligne de signature dit au moins la qualité, le représentant, l'acte ou "
                      "la date.", l.feuille, f"{l.feuille}!{l.numero}:{l.numero}", l["signataire"])
    # Le vocabulaire des natures est libre ; deux écritures d'une même nature (casse, accents, pluriel) la
    # couperaient en deux dans les filtres et les comptes.
    premieres: dict[str, str] = {}
    for l in L.get("engagements", []):
        nature = l["nature"]
        if not nature:
            continue
        forme = re.sub(r"s\b", "", cle(nature))
        if forme in premieres and premieres[forme] != nature:
            r.ajouter("nature-variante", f"« {nature} » s'écrit ailleurs « {premieres[forme]} » : une même nature "
                      "s'écrit toujours de la même façon, sinon elle compte pour deux dans les filtres et les tableaux.",
                      l.feuille, l.adresse("nature"), nature, niveau=AVERTISSEMENT)
        premieres.setdefault(forme, nature)
    _controler_qpv_officiels(ref)
    _suggerer_codes(ref)


def _controler_qpv_officiels(ref) -> None:
    """Un code de QPV de la géographie 2024 (forme déjà vérifiée) doit figurer dans la liste officielle ; le code
    officiel est proposé d'après le nom du quartier et ses communes, y compris quand la forme du code est fausse."""
    officiels = qpv_2024()
    if not officiels:  # pragma: no cover - livré avec le projet
        return
    proto = ref.protocole
    geographie = proto.get("geographie")
    for l in ref.lignes.get("quartiers", []):
        code = l["code"]
        if not code or l["type"] != "QPV":
            continue
        propose = code_qpv_propose(l["libelle"], l["communes"] or ())
        if code.startswith("QN") and geographie != "2015" and re.match(r"^QN(\d{3}|02A|02B)\d{2}[A-Z]$", code):
            if code not in officiels:
                suite = (f" Le quartier « {l['libelle']} » a pour code officiel {propose} ({officiels[propose][0]})."
                         if propose else " Vérifiez-le dans la liste officielle (ANCT, data.gouv.fr).")
                # Un avertissement et non une erreur : la liste livrée peut précéder un décret plus récent.
                ref.rapport.ajouter("code-qpv-inconnu", f"« {code} » n'est pas un code de la liste officielle des "
                                    f"QPV de 2024 livrée avec l'application.{suite}", l.feuille, l.adresse("code"),
                                    code, niveau=AVERTISSEMENT)
            elif propose and propose != code and cle(officiels[code][0]) != cle(l["libelle"]):
                ref.rapport.ajouter("code-qpv-autre-quartier", f"« {code} » est le code officiel de « "
                                    f"{officiels[code][0]} » ; le quartier « {l['libelle']} » a pour code {propose}.",
                                    l.feuille, l.adresse("code"), code, niveau=AVERTISSEMENT)
        elif propose and geographie != "2015":
            _completer(ref, "code-qpv-invalide", l.adresse("code"),
                       f" D'après son nom, le code officiel (géographie 2024) de ce quartier est {propose} "
                       f"({officiels[propose][0]}).")


def _completer(ref, code: str, cellule: str, suite: str) -> bool:
    """Ajoute `suite` au message du problème `code` signalé dans `cellule` ; False s'il n'y en a pas."""
    for i, p in enumerate(ref.rapport.problemes):
        if p.code == code and p.cellule == cellule:
            if suite not in p.message:
                ref.rapport.problemes[i] = replace(p, message=p.message + suite)
            return True
    return False


#: Pour chaque colonne qui désigne un élément d'une autre feuille : (fichier de la feuille, colonne du nom, mot).
_DESIGNATIONS = {
    ("engagements", "porteurs"): ("signataires", "nom", "le signataire"),
    ("engagements", "axe"): ("axes", "libelle", "le nœud"),
    ("engagements", "parent"): ("engagements", "libelle", "l'engagement"),
    ("axes", "parent"): ("axes", "libelle", "le nœud"),
    ("axes", "volet"): ("volets", "libelle", "le volet"),
    ("signataires", "rattache_a"): ("signataires", "nom", "le signataire"),
    ("signatures", "signataire"): ("signataires", "nom", "le signataire"),
    ("indicateurs", "signataire"): ("signataires", "nom", "le signataire"),
    ("indicateurs", "engagements"): ("engagements", "libelle", "l'engagement"),
}


def _trouver(ref, fichier: str, col_nom: str, ecrit: str) -> tuple[str, str] | None:
    """Le (code, nom) que désigne `ecrit` : un code à la casse près, un nom exact, ou un nom très proche et seul."""
    lignes = [l for l in ref.lignes.get(fichier, []) if l["code"]]
    for l in lignes:
        if l["code"].lower() == ecrit.strip().lower():
            return l["code"], l[col_nom] or ""
    voulu = cle(ecrit)
    if not voulu:
        return None
    noms = {}
    for l in lignes:
        noms.setdefault(cle(l[col_nom]), []).append(l)
    if len(noms.get(voulu, [])) == 1:
        l = noms[voulu][0]
        return l["code"], l[col_nom]
    proches = difflib.get_close_matches(voulu, [n for n, ls in noms.items() if len(ls) == 1], n=2, cutoff=0.8)
    if len(proches) == 1:
        l = noms[proches[0]][0]
        return l["code"], l[col_nom]
    return None


def _suggerer_codes(ref) -> None:
    """Un élément désigné par son nom (ou un code à la mauvaise casse) : le message donne le code à écrire."""
    adresses = {}
    for (fichier, col), cible in _DESIGNATIONS.items():
        for l in ref.lignes.get(fichier, []):
            if col in l.adresses:
                adresses[l.adresses[col]] = (l, col, cible)
    for i, p in enumerate(ref.rapport.problemes):
        if p.cellule not in adresses or p.code not in ("code-invalide", "porteur-inconnu", "axe-inconnu",
                                                      "parent-inconnu", "engagement-inconnu", "signataire-inconnu",
                                                      "volet-inconnu"):
            continue
        l, col, (fichier, col_nom, mot) = adresses[p.cellule]
        brute = l.brutes.get(col)
        ecrits = [e.strip() for e in str(brute if brute is not None else p.valeur).split(";") if e.strip()]
        if p.code != "code-invalide":
            ecrits = [p.valeur]
        trouves = []
        for e in ecrits:
            t = _trouver(ref, fichier, col_nom, e)
            if t and t[0] != e:
                trouves.append((e, t))
        if trouves:
            if len(ecrits) > 1 and p.code == "code-invalide":
                codes = [next((t[0] for x, t in trouves if x == e), e) for e in ecrits]
                suite = f" Écrivez les codes : « {';'.join(codes)} »."
            else:
                suite = ""
            details = " ; ".join(f"« {e} » est {mot} de code « {c} » ({nom})" for e, (c, nom) in trouves)
            ref.rapport.problemes[i] = replace(p, message=f"{p.message} {details[0].upper()}{details[1:]}.{suite}")


# --------------------------------------------------------------------------------------------------------------------
# Écriture
# --------------------------------------------------------------------------------------------------------------------

TABLES = ("volet", "volet_quartier", "noeud_quartier", "signature")


def completer_tables(ref, t: dict[str, list[dict]]) -> None:
    """Ajoute aux lignes à écrire (`classeur._tables`) les volets, les quartiers des volets et des nœuds, les
    signatures, le texte et le volet de chaque nœud, la nature de chaque engagement ; range les racines des volets
    après celles du corps (chemin de tri)."""
    L = ref.lignes
    code = ref.protocole["code"]
    rang_volet = {}
    for i, l in enumerate(L.get("volets", []), 1):
        ordre = l["ordre"] if l["ordre"] is not None else i
        rang_volet[l["code"]] = ordre
        t["volet"].append(dict(protocole=code, code=l["code"], libelle=l["libelle"], nature=l["nature"],
                               texte=l["texte"], ordre=ordre))
        for q in dict.fromkeys(l["quartiers"]):
            t["volet_quartier"].append(dict(protocole=code, volet=l["code"], perimetre=q))
    # Rang 1, 2… pour les volets dans leur ordre (l'ordre saisi peut dépasser PAS_VOLET).
    rang_volet = {v: k for k, v in enumerate(sorted(rang_volet, key=lambda v: (rang_volet[v], v)), 1)}
    axes = {l["code"]: l for l in L["axes"]}
    for n in t["noeud"]:
        l = axes[n["code"]]
        volet = volet_de(axes, n["code"])
        n["texte"], n["volet"] = l["texte"], volet
        if volet:
            tete, _, reste = n["chemin"].partition(".")
            tete = f"{rang_volet[volet] * PAS_VOLET + int(tete):05d}"
            n["chemin"] = tete + ("." + reste if reste else "")
        for q in dict.fromkeys(l["quartiers"] or []):
            t["noeud_quartier"].append(dict(protocole=code, noeud=n["code"], perimetre=q))
    natures = {l["code"]: l["nature"] for l in L["engagements"]}
    for e in t["engagement"]:
        e["nature"] = natures.get(e["code"])
    rangs: dict[str, int] = {}
    for l in L.get("signatures", []):
        rangs[l["signataire"]] = rangs.get(l["signataire"], 0) + 1
        t["signature"].append(dict(protocole=code, signataire=l["signataire"], rang=rangs[l["signataire"]],
                                   qualite=l["qualite"], representant=l["representant"], acte=l["acte"],
                                   date_signature=l["date"]))


def perimetres_demandes(ref) -> dict[str, tuple[list[str], list[str]]]:
    """Pour chaque indicateur : (les périmètres qui seront demandés au partenaire, ceux de son niveau qui ne le seront
    pas). La règle des dépôts (`depots.depot.SQL_ATTENDUS`) : les périmètres de son niveau qui ont une référence ou une
    cible, s'il y en a ; sinon tous les périmètres de son niveau (une référence ou une cible du territoire entier ne
    compte pas pour un indicateur suivi par quartier ou par commune)."""
    L = ref.lignes
    p = ref.protocole
    niveaux = {p.get("code_territoire"): "Territoire"} if p.get("code_territoire") else {}
    ordre = [p.get("code_territoire")] if p.get("code_territoire") else []
    for fichier, niveau, cle_code in (("communes", "Commune", "insee"), ("quartiers", "QPV", "code")):
        for l in L.get(fichier, []):
            if l[cle_code] and l[cle_code] not in niveaux:
                niveaux[l[cle_code]] = niveau
                ordre.append(l[cle_code])
    fixes: dict[str, set] = {}
    for fichier in ("references", "cibles"):
        for l in L.get(fichier, []):
            if l["indicateur"] and l["perimetre"]:
                fixes.setdefault(l["indicateur"], set()).add(l["perimetre"])
    sortie = {}
    for l in L.get("indicateurs", []):
        if not l["code"] or not l["niveau"]:
            continue
        du_niveau = [c for c in ordre if niveaux[c] == l["niveau"]]
        avec = [c for c in du_niveau if c in fixes.get(l["code"], set())]
        sortie[l["code"]] = (avec, [c for c in du_niveau if c not in avec]) if avec else (du_niveau, [])
    return sortie
