"""Le modèle d'avancement : de la valeur de référence à la cible, la trajectoire, les statuts et leur remontée.

Trois étages, décrits pour les membres du COPIL dans docs/avancement.md :

1. un indicateur sur un périmètre, à une période (`evaluer`, fonction pure) : valeur attendue sur la trajectoire
   référence → cibles intermédiaires → cible finale, progression, statut et une phrase qui l'explique ;
2. un indicateur sur le territoire ou un ensemble de quartiers (`indicateurs_au_territoire`), selon sa règle
   d'agrégation : somme, taux recalculé à partir de son numérateur et de son dénominateur (jamais une moyenne de taux),
   ou non agrégeable ;
3. un nœud de l'arborescence des axes (`avancement_par_noeud`) : nombre d'indicateurs par statut et score.

Chaque fonction publique lit les données du protocole en une fois (une connexion, cinq requêtes) puis travaille en
mémoire : pas de requête par ligne, et seules les valeurs de l'année demandée sont lues.
"""
from __future__ import annotations

import functools
import math
from collections import abc, namedtuple
from dataclasses import dataclass, field
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from perr_metrics.stockage.magasin import Store
from perr_metrics.acces.droits import operation
from perr_metrics.depots.depot import RE_PERIODE, SQL_VALEURS_COURANTES_DU_PROTOCOLE
from perr_metrics.commun.formats import ESPACE_INSECABLE, format_nombre, format_valeur
from perr_metrics.referentiel.requetes import SQL_APPARTENANCE, ProtocoleInconnu

# --------------------------------------------------------------------------------------------------------------------
# Statuts et réglages
# --------------------------------------------------------------------------------------------------------------------

ATTEINT = "atteint"
EN_BONNE_VOIE = "en bonne voie"
EN_RETARD = "en retard"
NON_RENSEIGNE = "non renseigné"
SANS_CIBLE = "sans cible"

#: Les statuts, dans l'ordre des légendes (du meilleur au moins informatif).
STATUTS = (ATTEINT, EN_BONNE_VOIE, EN_RETARD, NON_RENSEIGNE, SANS_CIBLE)

#: Un indicateur reste « en bonne voie » s'il est en deçà de la valeur attendue de moins de cette fraction du chemin
#: total |cible finale − référence|. Sans cette marge, le moindre aléa (un apprenti de moins) ferait passer en retard.
TOLERANCE = 0.10

# Écart relatif sous lequel deux nombres sont tenus pour égaux (0,1 + 0,2 ≠ 0,3 en virgule flottante).
_EPSILON = 1e-9

COLONNES_PERIMETRE = [
    "indicateur", "libelle", "unite", "sens", "perimetre", "perimetre_libelle", "niveau", "valeur", "reference",
    "annee_reference", "cible_finale", "annee_cible", "attendu", "progression", "statut", "explication", "depot_id",
    "en_attente_de_revue", "avertissement_force",
]
COLONNES_TERRITOIRE = COLONNES_PERIMETRE + ["nb_perimetres", "nb_renseignes"]
COLONNES_NOEUD = [
    "code", "parent", "libelle", "profondeur", "nb_atteint", "nb_en_bonne_voie", "nb_en_retard", "nb_non_renseigne",
    "nb_sans_cible", "score",
]


# --------------------------------------------------------------------------------------------------------------------
# Périodes
# --------------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Periode:
    """Une période de suivi : `2021` (l'année) ou `2021-S1`, `2021-S2` (les semestres)."""

    code: str
    annee: int
    semestre: int | None

    @property
    def instant(self) -> float:
        """La date que décrit la période, en années : une valeur annuelle, comme une cible de l'année N, vaut pour la
        fin de l'année (N) ; le premier semestre pour le milieu de l'année (N − 0,5)."""
        return self.annee - 0.5 if self.semestre == 1 else float(self.annee)

    @property
    def en(self) -> str:
        """« en 2021 », « au 1er semestre 2021 »."""
        if self.semestre is None:
            return f"en {self.annee}"
        return f"au {'1er' if self.semestre == 1 else '2e'} semestre {self.annee}"

    @property
    def nom(self) -> str:
        """« 2021 », « le 1er semestre 2021 » (après « pour », « dès »)."""
        if self.semestre is None:
            return str(self.annee)
        return f"le {'1er' if self.semestre == 1 else '2e'} semestre {self.annee}"


_PERIODES_LUES: dict[str, Periode] = {}


def lire_periode(periode) -> Periode:
    """`"2021"`, `2021`, `"2021-S1"`, `"2021-S2"` → `Periode`. Lève `ValueError` (message en français) sinon."""
    if isinstance(periode, str):
        # Une période se relit des milliers de fois par évaluation (une par indicateur et périmètre) ; `Periode` est
        # immuable, on la garde.
        p = _PERIODES_LUES.get(periode)
        if p is not None:
            return p
    m = RE_PERIODE.match(str(periode).strip())
    if not m:
        raise ValueError(f"Période « {periode} » non reconnue : attendu une année (2021) ou un semestre (2021-S1, "
                         "2021-S2).")
    semestre = int(m.group(2)) if m.group(2) else None
    p = Periode(m.group(0), int(m.group(1)), semestre)
    if isinstance(periode, str) and len(_PERIODES_LUES) < 4096:
        _PERIODES_LUES[periode] = p
    return p


# --------------------------------------------------------------------------------------------------------------------
# Écriture des nombres avec leur unité
# --------------------------------------------------------------------------------------------------------------------

_UNITES_SANS_MOT = {None, "", "nombre", "%", "€"}
_UNITES_FEMININES = {"heures", "places", "personnes", "actions", "séances", "familles", "entreprises", "associations",
                     "structures", "journées", "demi-journées", "nuitées", "semaines", "classes", "heure", "place"}
_UNITES_INVARIABLES = {"mois", "ETP", "fois", "km", "m²", "ha"}


def _pluriel(x: float) -> bool:
    # En français, le pluriel commence à 2 : « 1,5 jour », « 2 jours ».
    return abs(x) >= 2


def _mot_unite(unite: str | None, x: float) -> str | None:
    if unite in _UNITES_SANS_MOT:
        return None
    if not _pluriel(x) and unite.endswith("s") and unite not in _UNITES_INVARIABLES:
        return unite[:-1]
    return unite


def formater(x, unite: str | None) -> str:
    """Une valeur avec son unité, pour une phrase : `12,5 %`, `1 200 €`, `16` (nombre), `18 jours`, `1 jour`."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if unite in ("%", "€"):
        return format_valeur(x, unite)
    mot = _mot_unite(unite, float(x))
    return format_nombre(x) + (f"{ESPACE_INSECABLE}{mot}" if mot else "")


def _attendu(x: float, unite: str | None) -> str:
    """« attendus », « attendues » (16 heures attendues), « attendu » (1 jour attendu)."""
    mot = "attendu" + ("e" if unite in _UNITES_FEMININES else "")
    return mot + ("s" if _pluriel(x) else "")


def _ecart(x: float, unite: str | None) -> str:
    """Un écart : en points pour un taux (« 1,5 point »), sinon dans l'unité de l'indicateur."""
    if unite == "%":
        return f"{format_nombre(x)}{ESPACE_INSECABLE}point{'s' if _pluriel(x) else ''}"
    return formater(x, unite)


# --------------------------------------------------------------------------------------------------------------------
# Un indicateur sur un périmètre : la fonction pure
# --------------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Evaluation:
    """Le résultat de `evaluer` : statut (un des `STATUTS`), valeur retenue, valeur attendue sur la trajectoire à la
    période, cible finale et son année, progression (voir `evaluer`) et une phrase en français qui explique le
    statut."""

    statut: str
    valeur: float | None
    attendu: float | None
    cible_finale: float | None
    annee_cible: int | None
    progression: float | None
    explication: str


def _nombre(x) -> float | None:
    if x is None or x is pd.NA:
        return None
    x = float(x)
    return None if math.isnan(x) else x


def _cibles(cibles) -> dict[int, float]:
    if cibles is None:
        return {}
    # `isinstance(…, dict)` d'abord : le test par `typing.Mapping` coûte cher, et c'est le cas courant.
    paires = cibles.items() if isinstance(cibles, dict) or isinstance(cibles, abc.Mapping) else cibles
    sortie = {}
    for annee, valeur in paires:
        v = _nombre(valeur)
        if v is not None and annee is not None:
            sortie[int(annee)] = v
    return sortie


def trajectoire(reference: float | None, annee_reference: int | None,
                cibles: Mapping[int, float] | Iterable[tuple[int, float]] | None) -> list[tuple[float, float]]:
    """Les points connus de la trajectoire, par année croissante : (année de référence, référence) puis chaque cible
    (intermédiaire ou finale). Une cible de la même année que la référence l'emporte sur elle."""
    points: dict[float, float] = {}
    reference = _nombre(reference)
    if reference is not None and annee_reference is not None and not pd.isna(annee_reference):
        points[float(annee_reference)] = reference
    for annee, valeur in _cibles(cibles).items():
        points[float(annee)] = valeur
    return sorted(points.items())


def _trajectoire_lue(reference: float | None, annee_reference: int | None,
                     cibles: dict[int, float]) -> list[tuple[float, float]]:
    """`trajectoire` sur des données déjà mises au propre (celles de `_charger_periodes`) : référence passée par
    `_nombre` (None sans elle), année entière, cibles {année entière : nombre, jamais NaN} (`_cibles_lues`). Les mêmes
    points, sans les contrôles de types."""
    points: dict[float, float] = {}
    if reference is not None and annee_reference is not None:
        points[float(annee_reference)] = reference
    for annee, valeur in cibles.items():
        points[float(annee)] = valeur
    return sorted(points.items())


def _cibles_lues(cibles: dict[int, float] | None) -> dict[int, float]:
    """`_cibles` des cibles de `_charger_periodes` ({année entière : float}) : les mêmes, sans les NaN."""
    if not cibles:
        return {}
    return {a: v for a, v in cibles.items() if v == v}


def valeur_attendue(points: list[tuple[float, float]], instant: float) -> float | None:
    """La valeur de la trajectoire à un instant (en années ; `Periode.instant`) : la valeur du point s'il y en a un
    cette année-là, sinon l'interpolation linéaire entre les deux points qui l'encadrent ; avant le premier point, le
    premier (la référence) ; après le dernier, le dernier (la cible finale)."""
    if not points:
        return None
    if instant <= points[0][0]:
        return points[0][1]
    if instant >= points[-1][0]:
        return points[-1][1]
    for (a0, v0), (a1, v1) in zip(points, points[1:]):
        if a0 <= instant <= a1:
            return v0 + (v1 - v0) * (instant - a0) / (a1 - a0)
    return None  # inatteignable : les points sont triés


def _au_moins(a: float, b: float, echelle: float) -> bool:
    """a ≥ b, à l'arrondi près."""
    return a >= b - _EPSILON * max(1.0, abs(echelle))


def evaluer(valeur, periode, *, sens: str, unite: str | None = None, reference=None, annee_reference=None,
            cibles: Mapping[int, float] | Iterable[tuple[int, float]] | None = None) -> Evaluation:
    """Évalue un indicateur sur un périmètre à une période. Fonction pure : tout est passé en argument.

    - `valeur` : la valeur qui fait foi pour la période (None si rien n'est déposé) ;
    - `periode` : `"2021"`, `"2021-S1"` ou `"2021-S2"` (celle que décrit la valeur) ;
    - `sens` : `"hausse"` ou `"baisse"` ; `unite` : l'unité de l'indicateur, pour l'explication ;
    - `reference`, `annee_reference` : la situation de départ ; `cibles` : {année: valeur}, la plus tardive étant la
      cible finale.

    Statut, dans cet ordre : pas de cible → « sans cible » ; pas de valeur → « non renseigné » ; cible finale atteinte
    ou dépassée dans le sens souhaité → « atteint » ; pas de référence → « en retard » (seule la cible finale peut être
    comparée) ; valeur au niveau de la trajectoire ou au-delà, ou en deçà de moins de `TOLERANCE` × |cible finale −
    référence| → « en bonne voie » ; sinon « en retard ».

    Progression = (valeur − référence) / (cible finale − référence) : 0 à la référence, 1 à la cible, dans les deux sens
    (hausse et baisse). Elle n'est pas bornée : négative si l'on s'éloigne de la cible, au-delà de 1 si on la dépasse.
    None sans valeur, sans référence ou quand la cible égale la référence.
    """
    _verifier_sens(sens)
    p = lire_periode(periode)
    valeur = _nombre(valeur)
    reference = _nombre(reference)
    cibles = _cibles(cibles)
    if not cibles:
        return Evaluation(SANS_CIBLE, valeur, None, None, None, None, _SANS_CIBLE)
    a_reference = reference is not None and annee_reference is not None and not pd.isna(annee_reference)
    annee_cible = max(cibles)
    points = trajectoire(reference, annee_reference, cibles) if a_reference else None
    return Evaluation(*_juger(valeur, p, sens == "hausse", unite, reference, cibles[annee_cible], annee_cible, points))


_SANS_CIBLE = "Pas de cible fixée pour ce périmètre."


def _verifier_sens(sens: str) -> None:
    if sens not in ("hausse", "baisse"):
        raise ValueError(f"Sens « {sens} » inconnu : « hausse » ou « baisse ».")


# Les écritures des nombres dans les phrases, gardées : une évaluation de tout le protocole écrit des milliers de fois
# les mêmes cibles. Deux nombres égaux s'écrivent de la même façon (`formater` passe par `float`), la clé (x, unité)
# suffit.
_ecrit = functools.lru_cache(maxsize=200_000)(formater)
_ecart_ecrit = functools.lru_cache(maxsize=200_000)(_ecart)


_TOLERANCE_ECRITE = f"{format_nombre(TOLERANCE * 100)} % du chemin à parcourir"


def _juger(valeur: float | None, p: Periode, hausse: bool, unite: str | None, reference: float | None, cible: float,
           annee_cible: int, points: list[tuple[float, float]] | None) -> tuple:
    """Le cœur d'`evaluer`, sur des données déjà mises au propre (`_nombre`, `_cibles`) et une trajectoire déjà
    calculée (`points`, None sans référence) : (statut, valeur, attendu, cible finale, année de la cible,
    progression, explication), les champs d'`Evaluation`. L'évaluation d'un protocole l'appelle directement, la
    trajectoire de chaque indicateur et périmètre étant calculée une fois pour toutes ses périodes."""
    a_reference = points is not None
    attendu = valeur_attendue(points, p.instant) if a_reference else None
    progression = None
    if a_reference and valeur is not None and abs(cible - reference) > _EPSILON * max(1.0, abs(cible)):
        progression = (valeur - reference) / (cible - reference)

    if valeur is None:
        return (NON_RENSEIGNE, valeur, attendu, cible, annee_cible, progression,
                f"Aucune valeur déposée pour {p.nom}.")

    signe = 1.0 if hausse else -1.0
    if _au_moins(signe * valeur, signe * cible, cible):
        sans_reference = " ; sans valeur de référence, seule la cible finale est comparée" if not a_reference else ""
        return (ATTEINT, valeur, attendu, cible, annee_cible, progression,
                f"Cible de {_ecrit(cible, unite)} atteinte dès {p.nom} ({_ecrit(valeur, unite)}){sans_reference}.")
    if not a_reference:
        return (EN_RETARD, valeur, attendu, cible, annee_cible, progression,
                f"{_ecrit(valeur, unite)} {p.en} pour une cible de {_ecrit(cible, unite)} en {annee_cible} ; sans "
                "valeur de référence, pas de trajectoire : seule la cible finale est comparée.")

    if p.instant >= annee_cible:
        phrase = f"{_ecrit(valeur, unite)} {p.en} pour une cible de {_ecrit(cible, unite)} en {annee_cible}"
    else:
        phrase = (f"{_ecrit(valeur, unite)} {p.en} pour {_ecrit(attendu, unite)} {_attendu(attendu, unite)} sur la "
                  f"trajectoire vers {_ecrit(cible, unite)} en {annee_cible}")
    avance = signe * (valeur - attendu)   # ≥ 0 : au niveau de la trajectoire ou au-delà
    marge = TOLERANCE * abs(cible - reference)
    if _au_moins(avance, 0.0, attendu):
        return EN_BONNE_VOIE, valeur, attendu, cible, annee_cible, progression, phrase + "."
    if _au_moins(avance, -marge, attendu):
        return (EN_BONNE_VOIE, valeur, attendu, cible, annee_cible, progression,
                phrase + f" : écart de {_ecart_ecrit(-avance, unite)}, dans la marge de tolérance "
                         f"({_TOLERANCE_ECRITE}).")
    return (EN_RETARD, valeur, attendu, cible, annee_cible, progression,
            phrase + f" : écart de {_ecart_ecrit(-avance, unite)}.")


# --------------------------------------------------------------------------------------------------------------------
# Lecture des données d'un protocole, en une fois
# --------------------------------------------------------------------------------------------------------------------

@dataclass
class _Donnees:
    """Tout ce qu'il faut pour évaluer un protocole à une période, indexé pour des accès en mémoire."""

    code_territoire: str
    territoire: str
    periode: Periode
    indicateurs: pd.DataFrame            # une ligne par indicateur, dans l'ordre du référentiel
    perimetres: pd.DataFrame             # une ligne par périmètre, dans l'ordre d'affichage
    valeurs: dict                        # (indicateur, périmètre) → (valeur, période retenue, depot_id)
    references: dict                     # (indicateur, périmètre) → (année, valeur)
    cibles: dict                         # (indicateur, périmètre) → {année: valeur}
    noeuds: pd.DataFrame | None = None
    appartenance: pd.DataFrame | None = None   # (noeud, indicateur) : l'indicateur compte pour le nœud
    # Les lignes de `indicateurs` (comme `itertuples`) et les périmètres de chaque niveau, dans l'ordre : calculés une
    # fois par lecture et partagés entre ses périodes (parcourir ligne à ligne un DataFrame de chaînes Arrow coûte).
    lignes_indicateurs: list | None = None
    par_niveau: dict | None = None
    # Ce qui ne dépend pas de la période (trajectoires, cibles mises au propre, trajectoires agrégées), calculé une
    # fois et partagé entre les périodes d'une même lecture (les mêmes références et cibles).
    memo: dict = field(default_factory=dict)
    # Les valeurs retenues dont le dépôt, confirmé malgré un avertissement, attend la revue de la coordination :
    # (indicateur, périmètre) → vrai si cette valeur-là portait l'avertissement (`depots.SQL_VALEURS_COURANTES`).
    signalees: dict = field(default_factory=dict)


def _lignes(df: pd.DataFrame) -> list:
    """Les lignes d'un DataFrame, comme `df.itertuples(index=False)` (mêmes valeurs, mêmes noms d'attributs), à partir
    de ses colonnes en listes."""
    Ligne = namedtuple("Pandas", list(df.columns))
    return [Ligne(*r) for r in zip(*(df[c].tolist() for c in df.columns))]


def _rangs(periode: Periode) -> list[tuple[str, str, int]]:
    """Quelles périodes déposées valent pour la période demandée, par ordre de préférence, selon la périodicité :
    (periodicite, periode, rang)."""
    a = periode.annee
    if periode.semestre is None:
        # L'année d'un indicateur semestriel : le 2e semestre (fin d'année), à défaut une valeur annuelle, à défaut
        # le 1er semestre.
        return [("semestrielle", f"{a}-S2", 0), ("semestrielle", str(a), 1), ("semestrielle", f"{a}-S1", 2),
                ("annuelle", str(a), 0)]
    if periode.semestre == 2:
        # Une valeur annuelle vaut pour la fin de l'année, donc pour le 2e semestre.
        return [("semestrielle", f"{a}-S2", 0), ("annuelle", str(a), 0)]
    return [("semestrielle", f"{a}-S1", 0)]


def _charger(store: Store, protocole: str, periode, avec_noeuds: bool = False,
             indicateurs: Iterable[str] | None = None) -> _Donnees:
    """Avec `indicateurs`, seulement ces indicateurs-là (et, pour un taux, les valeurs, références et cibles de son
    numérateur et de son dénominateur) : de quoi évaluer un indicateur sans lire ni évaluer tout le protocole."""
    return _charger_periodes(store, protocole, [periode], avec_noeuds, indicateurs)[0]


_SQL_NOEUDS = "SELECT code, parent, libelle, profondeur FROM noeud WHERE protocole = ? ORDER BY chemin"
# Un indicateur compte pour un nœud s'il mesure un engagement rattaché au nœud ou à un descendant (la requête est
# dans `requetes`, qui en tire aussi le nombre d'indicateurs de chaque nœud de l'arborescence).
_SQL_APPARTENANCE = SQL_APPARTENANCE


def _charger_periodes(store: Store, protocole: str, periodes, avec_noeuds: bool = False,
                      indicateurs: Iterable[str] | None = None) -> list[_Donnees]:
    """`_charger` pour plusieurs périodes, en une seule connexion et une seule lecture des valeurs.

    La valeur retenue pour chaque (période demandée, indicateur, périmètre) — la période déposée préférée parmi celles
    qui valent pour la demande (`_rangs`) — est choisie par DuckDB, dans la même requête que les valeurs qui font foi :
    seules les valeurs retenues reviennent en Python."""
    ps = [lire_periode(q) for q in periodes]
    annees = sorted({q.annee for q in ps})
    voulus = None if indicateurs is None else list(dict.fromkeys(indicateurs))
    # (demande, periodicite, periode, rang) : les rangs de chaque période demandée (demande : son indice dans ps).
    rangs = [(k, *r) for k, q in enumerate(ps) for r in _rangs(q)]

    def lire(con):
        proto = con.execute("SELECT territoire, code_territoire FROM protocole WHERE code = ?", [protocole]).fetchone()
        if proto is None:
            raise ProtocoleInconnu(protocole)
        sql_ind = """
            SELECT code AS indicateur, libelle, unite, sens, periodicite, niveau, agregation, numerateur, denominateur
            FROM indicateur WHERE protocole = ? {} ORDER BY ordre"""
        if voulus is None:
            ind = con.execute(sql_ind.format(""), [protocole]).df()
            filtre, p_codes = "", []
        else:
            ind = con.execute(sql_ind.format("AND list_contains(CAST(? AS VARCHAR[]), code)"), [protocole, voulus]).df()
            # l'indicateur et ses composantes : leurs valeurs, références et cibles (et leur périodicité, qui sert au
            # choix des valeurs)
            codes = list(dict.fromkeys(voulus + [c for c in ind["numerateur"].tolist() + ind["denominateur"].tolist()
                                                 if isinstance(c, str)]))
            filtre, p_codes = "AND list_contains(CAST(? AS VARCHAR[]), indicateur)", [codes]
        per = con.execute("""
            SELECT code AS perimetre, libelle AS perimetre_libelle, niveau FROM perimetre WHERE protocole = ?
            ORDER BY CASE niveau WHEN 'Territoire' THEN 0 WHEN 'Commune' THEN 1 ELSE 2 END, ordre""",
                          [protocole]).df()
        ref = con.execute(f"SELECT indicateur, perimetre, annee, valeur FROM reference WHERE protocole = ? {filtre}",
                          [protocole, *p_codes]).fetchall()
        cib = con.execute(f"SELECT indicateur, perimetre, annee, valeur FROM cible WHERE protocole = ? {filtre} "
                          "ORDER BY annee", [protocole, *p_codes]).fetchall()
        # La règle « dépôt le plus récent, hors dépôts à corriger » est celle de depots ; on n'en lit que les années
        # utiles, puis on garde, par demande, la période préférée (rang le plus bas : il est unique par indicateur et
        # périmètre, chaque période n'ayant qu'un rang pour une périodicité donnée).
        if len(annees) == 1:
            f_annee, p_annee = "annee = ?", [annees[0]]
        else:
            f_annee, p_annee = "list_contains(CAST(? AS INTEGER[]), annee)", [annees]
        valeurs_rangs = ", ".join(["(?, ?, ?, ?)"] * len(rangs))
        filtre_code = filtre.replace("indicateur)", "code)")
        val = con.execute(f"""
            WITH v AS (SELECT indicateur, perimetre, periode, valeur, depot_id, en_attente_de_revue,
                              avertissement_force
                       FROM ({SQL_VALEURS_COURANTES_DU_PROTOCOLE}) WHERE {f_annee} {filtre}),
            i AS (SELECT code AS indicateur, periodicite FROM indicateur WHERE protocole = ? {filtre_code}),
            r(demande, periodicite, periode, rang) AS (VALUES {valeurs_rangs})
            SELECT r.demande, v.indicateur, v.perimetre, v.valeur, v.periode, v.depot_id, v.en_attente_de_revue,
                   v.avertissement_force
            FROM v JOIN i ON i.indicateur = v.indicateur
            JOIN r ON r.periodicite = i.periodicite AND r.periode = v.periode
            QUALIFY row_number() OVER (PARTITION BY r.demande, v.indicateur, v.perimetre ORDER BY r.rang) = 1
        """, [protocole, *p_annee, *p_codes, protocole, *p_codes, *[x for r in rangs for x in r]]).fetchall()
        noeuds = appartenance = None
        if avec_noeuds:
            noeuds = con.execute(_SQL_NOEUDS, [protocole]).df()
            appartenance = con.execute(_SQL_APPARTENANCE, [protocole, protocole]).df()
        return proto, ind, per, ref, cib, val, noeuds, appartenance

    (territoire, code_territoire), ind, per, ref, cib, val, noeuds, appartenance = store.lire(lire)
    references = {(i, q): (int(a), float(v)) for i, q, a, v in ref}
    cibles: dict = {}
    for i, q, a, v in cib:
        cibles.setdefault((i, q), {})[int(a)] = float(v)
    par_demande: list[dict] = [{} for _ in ps]
    signalees: list[dict] = [{} for _ in ps]
    for k, i, q, v, periode_v, d_id, attente, force in val:
        par_demande[k][(i, q)] = (float(v), periode_v, int(d_id))
        if attente:
            signalees[k][(i, q)] = bool(force)
    lignes_ind = _lignes(ind)
    par_niveau = {n: g["perimetre"].tolist() for n, g in per.groupby("niveau", sort=False)}
    taux = [(t.indicateur, t.numerateur, t.denominateur) for t in lignes_ind
            if t.agregation == "taux" and not pd.isna(t.numerateur) and not pd.isna(t.denominateur)]
    codes_per = per["perimetre"].tolist()
    memo: dict = {}
    sortie = []
    for p, valeurs, marquees in zip(ps, par_demande, signalees):
        # Un taux non déposé sur un périmètre se recalcule à partir de son numérateur et de son dénominateur déposés.
        for code_t, code_num, code_den in taux:
            for code_per in codes_per:
                num, den = valeurs.get((code_num, code_per)), valeurs.get((code_den, code_per))
                if (code_t, code_per) not in valeurs and num and den and den[0]:
                    valeurs[(code_t, code_per)] = (100.0 * num[0] / den[0], num[1], None)
        sortie.append(_Donnees(code_territoire, territoire, p, ind, per, valeurs, references, cibles, noeuds,
                               appartenance, lignes_ind, par_niveau, memo, marquees))
    return sortie


# --------------------------------------------------------------------------------------------------------------------
# Par périmètre
# --------------------------------------------------------------------------------------------------------------------

def _explication_annuelle_au_s1(d: _Donnees) -> str:
    return (f"Indicateur annuel : pas de valeur au 1er semestre {d.periode.annee} ; sa valeur {d.periode.annee} "
            f"vaut pour la fin de l'année (période {d.periode.annee} ou {d.periode.annee}-S2).")


def _fixes(d: _Donnees, cle: tuple) -> tuple:
    """Ce qu'`evaluer` tire des référence et cibles d'un (indicateur, périmètre), calculé une fois par lecture :
    () sans cible, sinon (référence, cible finale, année de la cible, trajectoire ou None sans référence)."""
    memo = d.memo
    f = memo.get(cle)
    if f is None:
        annee_ref, ref = d.references.get(cle, (None, None))
        ref = _nombre(ref)
        cibles = _cibles_lues(d.cibles.get(cle))
        if not cibles:
            f = ()
        else:
            annee_cible = max(cibles)
            a_ref = ref is not None and annee_ref is not None
            f = (ref, cibles[annee_cible], annee_cible, _trajectoire_lue(ref, annee_ref, cibles) if a_ref else None)
        memo[cle] = f
    return f


def _evaluation_perimetre(ind, cle: tuple, d: _Donnees) -> tuple[tuple, int | None]:
    """`evaluer` de l'indicateur sur un périmètre (cle : (indicateur, périmètre)), en champs d'`Evaluation`, et le
    dépôt d'où vient la valeur : le même résultat qu'`evaluer`, la trajectoire venant de `_fixes`."""
    valeur, periode_valeur, depot_id = d.valeurs.get(cle, (None, d.periode.code, None))
    valeur = _nombre(valeur)
    f = _fixes(d, cle)
    if not f:
        _verifier_sens(ind.sens)
        champs = (SANS_CIBLE, valeur, None, None, None, None, _SANS_CIBLE)
    else:
        _verifier_sens(ind.sens)
        champs = _juger(valeur, lire_periode(periode_valeur), ind.sens == "hausse", ind.unite, *f)
        if champs[0] == NON_RENSEIGNE and ind.periodicite == "annuelle" and d.periode.semestre == 1:
            champs = champs[:6] + (_explication_annuelle_au_s1(d),)
    return champs, depot_id


def _evaluer_perimetre(ind, code_per: str, d: _Donnees) -> tuple[Evaluation, int | None]:
    champs, depot_id = _evaluation_perimetre(ind, (ind.indicateur, code_per), d)
    return Evaluation(*champs), depot_id


def _avec(ev: Evaluation, **champs) -> Evaluation:
    return Evaluation(**{**ev.__dict__, **champs})


def _ligne(ind, per_code, per_libelle, niveau, ev: Evaluation, reference, annee_reference, depot_id) -> dict:
    return dict(indicateur=ind.indicateur, libelle=ind.libelle, unite=ind.unite, sens=ind.sens, perimetre=per_code,
                perimetre_libelle=per_libelle, niveau=niveau, valeur=ev.valeur, reference=reference,
                annee_reference=annee_reference, cible_finale=ev.cible_finale, annee_cible=ev.annee_cible,
                attendu=ev.attendu, progression=ev.progression, statut=ev.statut, explication=ev.explication,
                depot_id=depot_id, en_attente_de_revue=False, avertissement_force=False)


_FLOTTANTS = ("valeur", "reference", "cible_finale", "attendu", "progression")
_ENTIERS = ("annee_reference", "annee_cible", "depot_id", "nb_perimetres", "nb_renseignes")


def _flottants(valeurs: list) -> np.ndarray:
    """`pd.to_numeric(…, errors="coerce").astype("float64")` d'une liste de nombres et de None, sans passer par une
    colonne d'objets."""
    return np.array([math.nan if v is None else v for v in valeurs], dtype="float64")


def _tableau(lignes: list[dict], colonnes: list[str]) -> pd.DataFrame:
    if not lignes:
        df = pd.DataFrame(lignes, columns=colonnes)
        for col in _FLOTTANTS:
            df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
        # Un statut absent (indicateur non agrégeable) reste None, pas NaN.
        df["statut"] = df["statut"].astype(object).where(df["statut"].notna(), None)
        for col in _ENTIERS:
            if col in df:
                df[col] = pd.array(df[col].tolist(), dtype="Int64")
        return df
    # Colonne par colonne (les mêmes types que `pd.DataFrame(lignes)` suivi des conversions ci-dessus, sans la
    # table d'objets intermédiaire) : les nombres en float64, les entiers en Int64, le statut en objets (None, pas NaN).
    donnees = {}
    for col in colonnes:
        valeurs = [l[col] for l in lignes]
        if col in _FLOTTANTS:
            donnees[col] = _flottants(valeurs)
        elif col == "statut":
            donnees[col] = pd.Series(valeurs, dtype=object)   # (un tableau d'objets deviendrait des chaînes)
        elif col in _ENTIERS:
            donnees[col] = pd.array(valeurs, dtype="Int64")
        else:
            donnees[col] = valeurs
    return pd.DataFrame(donnees, columns=colonnes)


@operation("consulter_pilotage")
def indicateurs_au_perimetre(store: Store, protocole: str, periode,
                             indicateurs: list[str] | None = None) -> pd.DataFrame:
    """Chaque indicateur sur chaque périmètre qui a une référence, une cible ou une valeur, évalué à la période.

    Colonnes : indicateur, libelle, unite, sens, perimetre, perimetre_libelle, niveau (du périmètre), valeur, reference,
    annee_reference, cible_finale, annee_cible, attendu, progression, statut, explication, depot_id (le dépôt d'où vient
    la valeur ; vide pour un taux recalculé à partir de son numérateur et de son dénominateur).
    Ordre : celui des indicateurs du référentiel, puis territoire, communes, quartiers.
    Avec `indicateurs` (codes), seulement leurs lignes : les mêmes que sans filtre, sans évaluer tout le protocole.
    """
    return _au_perimetre(_charger(store, protocole, periode, indicateurs=indicateurs))


def _au_perimetre(d: _Donnees) -> pd.DataFrame:
    return _tableau(_lignes_au_perimetre(d), COLONNES_PERIMETRE)


def _lignes_indicateurs(d: _Donnees) -> list:
    return d.lignes_indicateurs if d.lignes_indicateurs is not None else _lignes(d.indicateurs)


def _lignes_au_perimetre(d: _Donnees, seulement: set | None = None) -> list[dict]:
    """Les lignes d'`indicateurs_au_perimetre` ; avec `seulement` (des codes de périmètres), celles de ces périmètres
    seulement (les mêmes lignes, sans évaluer les autres)."""
    ordre_per = {c: i for i, c in enumerate(d.perimetres["perimetre"])}
    par_indicateur: dict[str, set] = {}
    for (i, p) in set(d.valeurs) | set(d.references) | set(d.cibles):
        if p in ordre_per and (seulement is None or p in seulement):
            par_indicateur.setdefault(i, set()).add(p)
    codes_per = d.perimetres["perimetre"].tolist()
    libelles = dict(zip(codes_per, d.perimetres["perimetre_libelle"].tolist()))
    niveaux = dict(zip(codes_per, d.perimetres["niveau"].tolist()))
    lignes = []
    references = d.references
    for ind in _lignes_indicateurs(d):
        code = ind.indicateur
        for code_per in sorted(par_indicateur.get(code, ()), key=ordre_per.get):
            cle = (code, code_per)
            (statut, valeur, attendu, cible, annee_cible, progression, explication), depot_id = \
                _evaluation_perimetre(ind, cle, d)
            annee_ref, ref = references.get(cle, (None, None))
            # les champs de `_ligne`, sans passer par une `Evaluation`
            lignes.append(dict(indicateur=code, libelle=ind.libelle, unite=ind.unite, sens=ind.sens,
                               perimetre=code_per, perimetre_libelle=libelles[code_per], niveau=niveaux[code_per],
                               valeur=valeur, reference=ref, annee_reference=annee_ref, cible_finale=cible,
                               annee_cible=annee_cible, attendu=attendu, progression=progression, statut=statut,
                               explication=explication, depot_id=depot_id))
            _marquer(lignes[-1], ind, [code_per], d)
    return lignes


def _marquer(ligne: dict, ind, perimetres: list, d: _Donnees) -> None:
    """Les marques de la revue avant publication d'une ligne (`en_attente_de_revue`, `avertissement_force`) : sa valeur
    vient, en tout ou en partie (une somme, un taux recalculé), d'un dépôt confirmé malgré un avertissement que la
    coordination n'a pas encore revu ; l'explication le dit."""
    ligne["en_attente_de_revue"] = ligne["avertissement_force"] = False
    if not d.signalees or ligne["valeur"] is None:
        return
    codes = [ind.indicateur]
    if ind.agregation == "taux":
        codes += [c for c in (ind.numerateur, ind.denominateur) if isinstance(c, str)]
    marques = [d.signalees[(c, p)] for c in codes for p in perimetres if (c, p) in d.signalees]
    if not marques:
        return
    ligne["en_attente_de_revue"], ligne["avertissement_force"] = True, any(marques)
    if len(perimetres) > 1:
        texte = ("Comprend une valeur confirmée malgré un avertissement, en attente de revue par la coordination."
                 if any(marques) else "Comprend des valeurs d'un dépôt confirmé malgré un avertissement, en attente de "
                 "revue par la coordination.")
    else:
        texte = ("Valeur confirmée malgré un avertissement, en attente de revue par la coordination." if any(marques)
                 else "Valeur d'un dépôt confirmé malgré un avertissement, en attente de revue par la coordination.")
    ligne["explication"] = f"{ligne['explication']} {texte}" if ligne["explication"] else texte


# --------------------------------------------------------------------------------------------------------------------
# Au territoire (ou sur un ensemble de périmètres)
# --------------------------------------------------------------------------------------------------------------------

def _compte(niveau: str, nb_renseignes: int, nb_perimetres: int) -> str:
    """« 7 quartiers renseignés sur 9 », « 1 commune renseignée sur 6 », « aucun quartier renseigné sur 9 »."""
    fem = niveau == "Commune"
    nom = "commune" if fem else "quartier"
    if nb_renseignes == 0:
        return f"aucun{'e' if fem else ''} {nom} renseigné{'e' if fem else ''} sur {nb_perimetres}"
    pl = "s" if nb_renseignes > 1 else ""
    return f"{nb_renseignes} {nom}{pl} renseigné{'e' if fem else ''}{pl} sur {nb_perimetres}"


def _couverture(niveau: str, nb_renseignes: int, nb_perimetres: int) -> str:
    """« les 9 quartiers », « les 7 quartiers renseignés sur 9 », « la seule commune renseignée sur 6 »."""
    fem = niveau == "Commune"
    nom = "commune" if fem else "quartier"
    if nb_renseignes == 1:
        debut = f"{'la seule' if fem else 'le seul'} {nom}"
    else:
        debut = f"les {nb_renseignes} {nom}s"
    if nb_renseignes == nb_perimetres:
        return debut
    return f"{debut} renseigné{'e' if fem else ''}{'s' if nb_renseignes > 1 else ''} sur {nb_perimetres}"


def _agreger(ind, P: list[str], entier: bool, d: _Donnees) -> dict:
    """Agrège un indicateur déclaré par quartier ou par commune sur les périmètres P, selon sa règle."""
    cle_ind = ind.indicateur
    nb_p = len(P)
    est_taux = ind.agregation == "taux"
    composantes = [ind.numerateur, ind.denominateur] if est_taux else [cle_ind]

    def f(sommes: list[float]) -> float | None:
        if not est_taux:
            return sommes[0]
        return 100.0 * sommes[0] / sommes[1] if sommes[1] else None

    valeurs, cibles_lues = d.valeurs, d.cibles

    def somme(perims) -> list[float]:
        # `sum` d'une liste dans l'ordre des périmètres : les mêmes additions que la somme d'un générateur
        return [sum([valeurs[(c, p)][0] for p in perims]) for c in composantes]

    if est_taux:
        num, den = composantes
        R = [p for p in P if (num, p) in valeurs and (den, p) in valeurs]
    else:
        R = [p for p in P if (cle_ind, p) in valeurs]
    nb_r = len(R)
    base = R or P   # sans aucune valeur, on montre tout de même la cible de l'ensemble
    valeur_totale = f(somme(R)) if R else None
    periodes_valeurs = {valeurs[(c, p)][1] for c in composantes for p in R}
    periode_eval = periodes_valeurs.pop() if len(periodes_valeurs) == 1 else d.periode.code

    if not R:
        debut = _compte(ind.niveau, 0, nb_p).capitalize() + "."
        if est_taux and any((cle_ind, p) in d.valeurs for p in P):
            debut += (f" Des taux sont déposés, mais pas leur numérateur ({ind.numerateur}) et leur dénominateur "
                      f"({ind.denominateur}) : le taux d'ensemble ne peut pas être recalculé.")
    elif est_taux:
        debut = (f"Taux recalculé sur {_couverture(ind.niveau, nb_r, nb_p)} (somme des numérateurs sur somme des "
                 "dénominateurs, jamais une moyenne des taux).")
    else:
        debut = f"Somme sur {_couverture(ind.niveau, nb_r, nb_p)}."

    if est_taux:
        C = [p for p in base if (num, p) in cibles_lues and (den, p) in cibles_lues]
    else:
        C = [p for p in base if (cle_ind, p) in cibles_lues]
    reference = annee_reference = None
    note = ""
    if C:
        # La trajectoire de l'ensemble ne dépend que des périmètres C : calculée une fois par lecture (une série de
        # huit ans la demande huit fois pour les mêmes périmètres).
        cle_memo = ("ensemble", cle_ind, tuple(C))
        calcul = d.memo.get(cle_memo)
        if calcul is None:
            calcul = d.memo[cle_memo] = _trajectoire_agregee(composantes, C, f, d)
        a_ref, reference, annee_reference, cibles = calcul
        # C est pris dans R, dans le même ordre : s'il est R entier, la même somme que `valeur_totale`
        valeur = (valeur_totale if C == R else f(somme(C))) if R else None
        if R and len(C) < len(R):
            note = (f" Comparaison limitée aux périmètres renseignés qui ont une cible ({len(C)} sur {len(R)}) ; "
                    f"sur tous les périmètres renseignés : {formater(valeur_totale, ind.unite)}.")
        elif R and not a_ref:
            note = " Références incomplètes : seule la cible finale est comparée."
    elif entier and (cle_ind, d.code_territoire) in d.cibles:
        # Des cibles fixées pour le territoire entier, et non périmètre par périmètre.
        cibles = d.cibles[(cle_ind, d.code_territoire)]
        annee_reference, reference = d.references.get((cle_ind, d.code_territoire), (None, None))
        note = " Comparé à la cible fixée pour l'ensemble du territoire."
        if reference is None and P and all((c, p) in d.references for c in composantes for p in P):
            # Sans référence du territoire entier, celle de l'ensemble des périmètres attendus : la somme de leurs
            # références (recalculée pour un taux), comme le dit docs/avancement.md.
            annee_reference = min(d.references[(c, p)][0] for c in composantes for p in P)
            reference = f([sum([d.references[(c, p)][1] for p in P]) for c in composantes])
            note += (f" Référence {'recalculée' if est_taux else 'sommée'} sur "
                     f"{_couverture(ind.niveau, len(P), len(P))}.")
        valeur = valeur_totale
    else:
        cibles = None
        valeur = valeur_totale
        # Sans cible, la référence de l'ensemble reste utile à la lecture, si tous les périmètres en ont une.
        if base and all((c, p) in d.references for c in composantes for p in base):
            annee_reference = min(d.references[(c, p)][0] for c in composantes for p in base)
            reference = f([sum([d.references[(c, p)][1] for p in base]) for c in composantes])

    # `evaluer(valeur, periode_eval, sens=…, unite=…, reference=…, annee_reference=…, cibles=…)`, ce qu'il tire de la
    # référence et des cibles de l'ensemble (cibles au propre, trajectoire) étant calculé une fois par lecture : il ne
    # dépend que des périmètres C (ou de l'indicateur, pour des cibles du territoire entier).
    _verifier_sens(ind.sens)
    p_eval = lire_periode(periode_eval)
    if cibles is None:
        fixes = ()
    else:
        cle_fixes = ("fixes",) + cle_memo if C else ("fixes du territoire", cle_ind)
        fixes = d.memo.get(cle_fixes)
        if fixes is None:
            fixes = d.memo[cle_fixes] = _fixes_evaluer(reference, annee_reference, cibles)
    valeur_lue = _nombre(valeur)
    if fixes:
        champs = _juger(valeur_lue, p_eval, ind.sens == "hausse", ind.unite, *fixes)
    else:
        champs = (SANS_CIBLE, valeur_lue, None, None, None, None, _SANS_CIBLE)
    ev = Evaluation(*champs)
    if ev.statut == SANS_CIBLE:
        if est_taux and any((cle_ind, p) in d.cibles for p in P):
            explication = (f"{debut} Ce taux a des cibles par périmètre mais aucune pour l'ensemble : des taux ne "
                           f"se moyennent pas ; fixez des cibles pour {ind.numerateur} et {ind.denominateur}, ou une "
                           "cible pour le territoire.")
        else:
            explication = f"{debut} Pas de cible fixée pour ces périmètres."
        if valeur is not None:
            explication += f" Valeur {d.periode.annee} : {formater(valeur, ind.unite)}."
    elif ev.statut == NON_RENSEIGNE and ind.periodicite == "annuelle" and d.periode.semestre == 1:
        explication = _explication_annuelle_au_s1(d)
    else:
        explication = f"{debut} {ev.explication}{note}"
    ev = Evaluation(*champs[:6], explication)
    return dict(ev=ev, reference=reference, annee_reference=annee_reference, nb_perimetres=nb_p, nb_renseignes=nb_r)


def _fixes_evaluer(reference, annee_reference, cibles) -> tuple:
    """Ce qu'`evaluer` tire de la référence et des cibles, mêmes contrôles : () sans cible, sinon (référence, cible
    finale, année de la cible, trajectoire ou None sans référence), les derniers arguments de `_juger`."""
    reference = _nombre(reference)
    cibles = _cibles(cibles)
    if not cibles:
        return ()
    a_reference = reference is not None and annee_reference is not None and not pd.isna(annee_reference)
    annee_cible = max(cibles)
    points = trajectoire(reference, annee_reference, cibles) if a_reference else None
    return reference, cibles[annee_cible], annee_cible, points


def _valeurs_attendues(points: list[tuple[float, float]], instants: list[float]) -> list[float | None]:
    """`[valeur_attendue(points, t) for t in instants]` pour des `instants` croissants, en un parcours des points : le
    même segment (le premier qui encadre l'instant) et le même calcul, donc les mêmes nombres au bit près."""
    if not points:
        return [None] * len(instants)
    a_premier, v_premier = points[0]
    a_dernier, v_dernier = points[-1]
    sortie = []
    k = 1
    for t in instants:
        if t <= a_premier:
            sortie.append(v_premier)
        elif t >= a_dernier:
            sortie.append(v_dernier)
        else:
            while points[k][0] < t:
                k += 1
            a0, v0 = points[k - 1]
            a1, v1 = points[k]
            sortie.append(v0 + (v1 - v0) * (t - a0) / (a1 - a0))
    return sortie


def _trajectoire_agregee(composantes: list[str], C: list[str], f, d: _Donnees) -> tuple:
    """La trajectoire d'un ensemble de périmètres C (ceux qui ont une cible) : à chaque année d'un point de l'une des
    trajectoires des périmètres, f(somme des valeurs attendues de chaque composante) ; la référence est celle de la
    plus ancienne année de référence. Rend (toutes les références connues, référence, son année, cibles {année:
    valeur})."""
    a_ref = all((c, p) in d.references for c in composantes for p in C)
    memo = d.memo
    points = {}
    for c in composantes:
        for p in C:
            # la trajectoire d'un (composante, périmètre), avec ou sans sa référence : une fois par lecture
            cle = ("trajectoire", c, p, a_ref)
            pts = memo.get(cle)
            if pts is None:
                annee_ref, ref = d.references[(c, p)] if a_ref else (None, None)
                pts = memo[cle] = _trajectoire_lue(_nombre(ref), annee_ref, _cibles_lues(d.cibles[(c, p)]))
            points[(c, p)] = pts
    annees = sorted({a for pts in points.values() for a, _ in pts})
    cle_annees = tuple(annees)
    attendues = {}
    for (c, p), pts in points.items():
        cle = ("attendues", c, p, a_ref, cle_annees)
        att = memo.get(cle)
        if att is None:
            att = memo[cle] = _valeurs_attendues(pts, annees)
        attendues[(c, p)] = att
    # Pour chaque composante, à chaque année, la somme sur C dans l'ordre de C (`sum` : les mêmes additions, dans le
    # même ordre, que la somme année par année).
    sommes = [[sum(colonne) for colonne in zip(*(attendues[(c, p)] for p in C))] for c in composantes]
    agregee = {}
    for j, a in enumerate(annees):
        v = f([s[j] for s in sommes])
        if v is not None:
            agregee[int(a)] = v
    reference = annee_reference = None
    if a_ref and agregee:
        annee_reference = min(d.references[(c, p)][0] for c in composantes for p in C)
        reference = agregee.pop(annee_reference, None)
        if reference is None:
            annee_reference = None
    return a_ref, reference, annee_reference, agregee


def _au_territoire(d: _Donnees, perimetres: list[str] | None) -> pd.DataFrame:
    return _tableau(_lignes_au_territoire(d, perimetres), COLONNES_TERRITOIRE)


def _lignes_au_territoire(d: _Donnees, perimetres: list[str] | None) -> list[dict]:
    per = d.perimetres
    if perimetres is not None:
        inconnus = sorted(set(perimetres) - set(per["perimetre"]))
        if inconnus:
            raise ValueError(f"Périmètre(s) inconnu(s) dans ce protocole : {', '.join(inconnus)}.")
        selection = set(perimetres)
    else:
        selection = set(per["perimetre"])
    libelle_ensemble = d.territoire if perimetres is None else f"Sélection de {len(selection)} périmètre(s)"
    code_ensemble = d.code_territoire if perimetres is None else None
    # Les périmètres qu'un indicateur concerne : ceux où il a une référence, une cible ou une valeur (lui ou, pour un
    # taux, son numérateur et son dénominateur) ; s'il n'en a aucun, tous ceux de son niveau. C'est la règle des
    # attendus de la complétude des dépôts : « 7 quartiers renseignés sur 9 » dit la même chose partout.
    concerne: dict[str, set] = {}
    for (i, p) in list(d.references) + list(d.cibles) + list(d.valeurs):
        concerne.setdefault(i, set()).add(p)
    par_niveau = d.par_niveau
    if par_niveau is None:
        par_niveau = {n: g["perimetre"].tolist() for n, g in per.groupby("niveau", sort=False)}
    lignes = []
    for ind in _lignes_indicateurs(d):
        du_niveau = par_niveau.get(ind.niveau, [])
        codes = {ind.indicateur}
        if ind.agregation == "taux":
            codes |= {c for c in (ind.numerateur, ind.denominateur) if not pd.isna(c)}
        fixes = set().union(*(concerne.get(c, set()) for c in codes))
        tous = [p for p in du_niveau if p in fixes] or du_niveau
        P = [p for p in tous if p in selection]
        if ind.niveau == "Territoire":
            # Déclaré pour le territoire : sa valeur est celle du périmètre territoire, sans agrégation.
            if d.code_territoire not in selection:
                continue
            ev, depot_id = _evaluer_perimetre(ind, d.code_territoire, d)
            annee_ref, ref = d.references.get((ind.indicateur, d.code_territoire), (None, None))
            ligne = _ligne(ind, d.code_territoire, d.territoire, ind.niveau, ev, ref, annee_ref, depot_id)
            ligne.update(nb_perimetres=1, nb_renseignes=int(ev.valeur is not None))
            _marquer(ligne, ind, [d.code_territoire], d)
            lignes.append(ligne)
            continue
        if perimetres is not None and not P:
            continue   # l'indicateur ne dit rien de cette sélection
        nb_r = sum((ind.indicateur, p) in d.valeurs for p in P)
        taux_incomplet = ind.agregation == "taux" and (pd.isna(ind.numerateur) or pd.isna(ind.denominateur))
        if ind.agregation == "non agrégeable" or taux_incomplet:
            raison = ("indicateur non agrégeable" if not taux_incomplet
                      else "taux sans numérateur ni dénominateur déclarés")
            ev = Evaluation(None, None, None, None, None, None,
                            f"Pas de valeur d'ensemble ({raison}) : ses valeurs se lisent périmètre par périmètre "
                            f"({_compte(ind.niveau, nb_r, len(P))}).")
            ligne = _ligne(ind, code_ensemble, libelle_ensemble, ind.niveau, ev, None, None, None)
            ligne.update(nb_perimetres=len(P), nb_renseignes=nb_r)
            _marquer(ligne, ind, P, d)
            lignes.append(ligne)
            continue
        entier = set(tous) <= selection
        a = _agreger(ind, P, entier, d)
        ligne = _ligne(ind, code_ensemble, libelle_ensemble, ind.niveau, a["ev"], a["reference"],
                       a["annee_reference"], None)
        ligne.update(nb_perimetres=a["nb_perimetres"], nb_renseignes=a["nb_renseignes"])
        _marquer(ligne, ind, P, d)
        lignes.append(ligne)
    return lignes


@operation("consulter_pilotage")
def indicateurs_au_territoire(store: Store, protocole: str, periode, perimetres: list[str] | None = None,
                              indicateurs: list[str] | None = None) -> pd.DataFrame:
    """Chaque indicateur pour le territoire entier (ou pour les `perimetres` donnés), agrégé selon sa règle.

    - déclaré au niveau `Territoire` : sa valeur pour le périmètre territoire ;
    - `somme` : somme des valeurs des périmètres renseignés, comparée à la somme de leurs références et cibles ;
    - `taux` : 100 × Σ numérateur / Σ dénominateur sur les périmètres où les deux sont déposés (jamais une moyenne de
      taux) ; référence et cibles recalculées de même à partir de celles du numérateur et du dénominateur, à défaut
      celles que le taux a pour le territoire entier ;
    - `non agrégeable` : pas de valeur d'ensemble (valeur et statut vides), la raison dans `explication`.

    Mêmes colonnes que `indicateurs_au_perimetre`, plus nb_perimetres (périmètres du niveau de l'indicateur dans
    l'ensemble) et nb_renseignes (ceux qui ont une valeur) ; `niveau` est le niveau de déclaration de l'indicateur.
    Avec `perimetres`, les indicateurs qui n'ont aucun périmètre de leur niveau dans la sélection sont omis (un
    indicateur du territoire n'y figure que si le code du territoire est dans la sélection).
    Avec `indicateurs` (codes), seulement leurs lignes : les mêmes que sans filtre, sans évaluer tout le protocole.
    """
    return _au_territoire(_charger(store, protocole, periode, indicateurs=indicateurs), perimetres)


# Les colonnes dont `_tableau` fixe le type ; celui des autres (des chaînes) est déduit de leurs valeurs par pandas.
_COLONNES_TYPEES = {"valeur", "reference", "cible_finale", "attendu", "progression", "statut", "annee_reference",
                    "annee_cible", "depot_id", "nb_perimetres", "nb_renseignes", "en_attente_de_revue",
                    "avertissement_force"}


def _chaines(valeurs: list) -> bool:
    """pandas fera de ces valeurs une colonne de chaînes : au moins une chaîne, le reste manquant (None ou NaN)."""
    return any(isinstance(v, str) for v in valeurs) and all(
        isinstance(v, str) or v is None or (isinstance(v, float) and math.isnan(v)) for v in valeurs)


def _par_periode(listes: list[list[dict]], donnees: list[_Donnees], colonnes: list[str]) -> pd.DataFrame:
    """Les tables de chaque période (`_tableau` de chaque liste de lignes), les unes sous les autres, colonne `periode`
    en tête : le résultat de `pd.concat` des tables, construit d'un coup quand c'est le même (un DataFrame par période
    coûte autant que ses lignes dans une série de huit ans). C'est le même quand aucune table n'est vide et que chaque
    colonne de chaînes est une colonne de chaînes dans chaque table ; sinon (une table vide, une colonne toute vide
    dans une période), les types que `concat` en déduirait diffèrent : on passe par `concat`."""
    if not listes:
        return pd.DataFrame(columns=["periode"] + colonnes)
    d_un_coup = all(listes) and all(_chaines([l[c] for l in ls]) for ls in listes
                                    for c in colonnes if c not in _COLONNES_TYPEES)
    if d_un_coup:
        lignes = [{"periode": d.periode.code, **l} for ls, d in zip(listes, donnees) for l in ls]
        return _tableau(lignes, ["periode"] + colonnes)
    df = pd.concat([_tableau(ls, colonnes).assign(periode=d.periode.code) for ls, d in zip(listes, donnees)],
                   ignore_index=True)
    return df[["periode"] + [c for c in df.columns if c != "periode"]]


@operation("consulter_pilotage")
def indicateurs_au_territoire_par_periode(store: Store, protocole: str, periodes: Iterable,
                                          perimetres: list[str] | None = None,
                                          indicateurs: list[str] | None = None) -> pd.DataFrame:
    """`indicateurs_au_territoire` pour chacune des `periodes`, les unes sous les autres (colonne `periode` en tête),
    en une seule lecture de la base au lieu d'une par période : une série d'indicateurs sur huit ans lit et parcourt les
    valeurs du protocole une fois. Mêmes lignes, mêmes valeurs que les appels période par période."""
    ds = _charger_periodes(store, protocole, list(periodes), indicateurs=indicateurs)
    return _par_periode([_lignes_au_territoire(d, perimetres) for d in ds], ds, COLONNES_TERRITOIRE)


@operation("consulter_pilotage")
def indicateurs_au_perimetre_par_periode(store: Store, protocole: str, periodes: Iterable,
                                         indicateurs: list[str] | None = None) -> pd.DataFrame:
    """`indicateurs_au_perimetre` pour chacune des `periodes`, en une seule lecture de la base (voir
    `indicateurs_au_territoire_par_periode`)."""
    ds = _charger_periodes(store, protocole, list(periodes), indicateurs=indicateurs)
    return _par_periode([_lignes_au_perimetre(d) for d in ds], ds, COLONNES_PERIMETRE)


def _evaluations_au_territoire(store: Store, protocole: str, periodes: Iterable) -> dict[str, pd.DataFrame]:
    """`indicateurs_au_territoire` de tout le protocole à chacune des `periodes`, sur une seule lecture de la base :
    {période : la table même que rendrait `indicateurs_au_territoire(store, protocole, période)`}."""
    periodes = list(periodes)
    ds = _charger_periodes(store, protocole, periodes)
    return {q: _au_territoire(d, None) for q, d in zip(periodes, ds)}


def _indicateurs_par_periode(store: Store, protocole: str, periodes: Iterable,
                            indicateurs: list[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`indicateurs_au_territoire_par_periode` et `indicateurs_au_perimetre_par_periode` à la fois, sur une seule
    lecture de la base : (territoire, périmètres), les mêmes tables que ces deux fonctions."""
    return _tables_par_periode(_charger_periodes(store, protocole, list(periodes), indicateurs=indicateurs))


def _tables_par_periode(ds: list[_Donnees]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(territoire, périmètres) de `_indicateurs_par_periode`, à partir des données déjà lues (`_charger_periodes`)."""
    return (_par_periode([_lignes_au_territoire(d, None) for d in ds], ds, COLONNES_TERRITOIRE),
            _par_periode([_lignes_au_perimetre(d) for d in ds], ds, COLONNES_PERIMETRE))


# --------------------------------------------------------------------------------------------------------------------
# Par nœud de l'arborescence
# --------------------------------------------------------------------------------------------------------------------

def score(nb_atteint: int, nb_en_bonne_voie: int, nb_en_retard: int) -> float | None:
    """Part (0–100) des indicateurs atteints ou en bonne voie parmi ceux qu'on peut juger (atteints, en bonne voie, en
    retard). None quand aucun ne peut l'être : un nœud sans valeur ni cible n'est ni bon ni mauvais."""
    jugeables = nb_atteint + nb_en_bonne_voie + nb_en_retard
    if not jugeables:
        return None
    return 100.0 * (nb_atteint + nb_en_bonne_voie) / jugeables


@operation("consulter_pilotage")
def avancement_par_noeud(store: Store, protocole: str, periode) -> pd.DataFrame:
    """Pour chaque nœud de l'arborescence (dans l'ordre de l'arbre) : le nombre d'indicateurs par statut et le score.

    Un indicateur compte pour un nœud s'il mesure un engagement rattaché au nœud ou à l'un de ses descendants ; il est
    compté une fois par nœud même s'il mesure plusieurs de ses engagements. Son statut est celui du territoire entier
    (`indicateurs_au_territoire`) ; un indicateur non agrégeable déclaré par quartier n'a pas de statut d'ensemble et
    n'est pas compté. Le score est `score(...)` sur ces comptes, recalculé à chaque niveau à partir des indicateurs
    (et non comme une moyenne des scores des enfants).

    Colonnes : code, parent, libelle, profondeur, nb_atteint, nb_en_bonne_voie, nb_en_retard, nb_non_renseigne,
    nb_sans_cible, score (NaN quand aucun indicateur n'est jugeable).
    """
    d = _charger(store, protocole, periode, avec_noeuds=True)
    return comptes_par_noeud(d.noeuds, d.appartenance, _au_territoire(d, None))


def _structure_des_noeuds(store: Store, protocole: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Ce que compte `avancement_par_noeud`, sans les statuts : l'arborescence (code, parent, libelle, profondeur,
    dans l'ordre de l'arbre) et l'appartenance des indicateurs aux nœuds (noeud, indicateur). Avec `comptes_par_noeud`
    et `indicateurs_au_territoire` (qu'une page a souvent déjà lus), le même résultat qu'`avancement_par_noeud`, sans
    réévaluer le protocole."""
    def lire(con):
        if not con.execute("SELECT count(*) FROM protocole WHERE code = ?", [protocole]).fetchone()[0]:
            raise ProtocoleInconnu(protocole)
        return (con.execute(_SQL_NOEUDS, [protocole]).df(),
                con.execute(_SQL_APPARTENANCE, [protocole, protocole]).df())
    return store.lire(lire)


def comptes_par_noeud(noeuds: pd.DataFrame, appartenance: pd.DataFrame, territoire: pd.DataFrame) -> pd.DataFrame:
    """`avancement_par_noeud` à partir de `_structure_des_noeuds` et des statuts au territoire entier
    (`indicateurs_au_territoire` à la période) : fonction pure, mêmes colonnes."""
    statuts = territoire[["indicateur", "statut"]]
    m = appartenance.merge(statuts, on="indicateur")
    m = m[m["statut"].notna()]
    comptes = pd.crosstab(m["noeud"], m["statut"]).reindex(columns=list(STATUTS), fill_value=0)
    comptes.columns = ["nb_" + s.replace(" ", "_").replace("é", "e") for s in STATUTS]
    df = noeuds.merge(comptes, left_on="code", right_index=True, how="left")
    for col in comptes.columns:
        df[col] = df[col].fillna(0).astype("int64")
    df["score"] = [score(a, b, r) for a, b, r in zip(df["nb_atteint"], df["nb_en_bonne_voie"], df["nb_en_retard"])]
    df["score"] = pd.to_numeric(df["score"], errors="coerce").astype("float64")
    return df[COLONNES_NOEUD].reset_index(drop=True)
