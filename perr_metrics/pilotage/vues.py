"""Les vues du comité de pilotage : vue d'ensemble, descente dans les axes, fiche d'un indicateur.

Une fonction par vue, un DataFrame (ou un petit objet de DataFrames) en retour, sans Streamlit. Les statuts, valeurs
attendues et scores viennent tous du modèle d'avancement (`avancement`), jamais d'un second calcul : une page ne peut
pas dire autre chose qu'une autre.

Les vues qui combinent plusieurs lectures du modèle (`synthese`, `changements`, `arbre_avancement`,
`indicateurs_du_noeud`, `serie_indicateur`) acceptent un paramètre `lire` : une fonction `lire(fonction, *args)` qui
appelle `fonction(store, *args)`. Par défaut elle l'appelle directement ; le tableau de bord y passe sa lecture en cache
(`ui.lire`), si bien que le calcul d'une période pour tout le protocole est fait une fois et resservi à toutes les
pages, à tous les indicateurs et à la période suivante qui s'y compare.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from . import avancement
from perr_metrics.depots import depot as depots
from perr_metrics.referentiel import requetes
from . import suivi
from .avancement import ATTEINT, EN_BONNE_VOIE, EN_RETARD, STATUTS, lire_periode
from perr_metrics.stockage.magasin import Store
from perr_metrics.acces.droits import exiger, operation

#: Les états d'un engagement (ceux de `suivi`, qui les enregistre), puis celui d'un engagement sans état saisi.
ETATS = tuple(suivi.ETATS) + (suivi.NON_RENSEIGNE,)

#: Le « statut » d'un indicateur non agrégeable vu sur le territoire : il n'en a pas (voir docs/avancement.md).
SANS_VALEUR_ENSEMBLE = "sans valeur d'ensemble"

# Les statuts que l'on peut juger, du meilleur au moins bon : un changement entre eux est une amélioration ou une
# dégradation.
_RANG = {ATTEINT: 0, EN_BONNE_VOIE: 1, EN_RETARD: 2}

Lecteur = Callable[..., object]


def _lecteur(store: Store, lire: Lecteur | None) -> Lecteur:
    return lire or (lambda fonction, *args: fonction(store, *args))


_session = requetes._session


# --------------------------------------------------------------------------------------------------------------------
# Périodes
# --------------------------------------------------------------------------------------------------------------------

def periodes(annee_debut: int, annee_fin: int, semestres: bool = False) -> list[str]:
    """Les périodes d'un protocole : ses années, ou ses semestres (`2021-S1`, `2021-S2`)."""
    sortie: list[str] = []
    for a in range(int(annee_debut), int(annee_fin) + 1):
        sortie += [f"{a}-S1", f"{a}-S2"] if semestres else [str(a)]
    return sortie


def periode_precedente(periode) -> str:
    """`2021` → `2020` ; `2021-S2` → `2021-S1` ; `2021-S1` → `2020-S2`."""
    p = lire_periode(periode)
    if p.semestre is None:
        return str(p.annee - 1)
    return f"{p.annee}-S1" if p.semestre == 2 else f"{p.annee - 1}-S2"


def fin_de_periode(periode) -> dt.date:
    """Le dernier jour d'une période : 31 décembre pour une année et un 2e semestre, 30 juin pour un 1er semestre."""
    p = lire_periode(periode)
    return dt.date(p.annee, 6, 30) if p.semestre == 1 else dt.date(p.annee, 12, 31)


def libelle_periode(periode) -> str:
    """`2021` → « 2021 » ; `2021-S1` → « 1er semestre 2021 »."""
    p = lire_periode(periode)
    if p.semestre is None:
        return str(p.annee)
    return f"{'1er' if p.semestre == 1 else '2e'} semestre {p.annee}"


# --------------------------------------------------------------------------------------------------------------------
# Vue d'ensemble
# --------------------------------------------------------------------------------------------------------------------

@dataclass
class Synthese:
    """Les indicateurs d'un protocole à une période, vus sur le territoire entier.

    `statuts` : une ligne par statut (les cinq `STATUTS`, dans l'ordre des légendes, même à zéro) : statut, nombre,
    part (en % des indicateurs qui ont un statut). `score` : la formule de `avancement.score` sur tout le protocole.
    `nb_sans_valeur_ensemble` : indicateurs non agrégeables déclarés par quartier, qui n'ont pas de statut d'ensemble.
    """

    periode: str
    statuts: pd.DataFrame
    nb_indicateurs: int
    nb_juges: int
    nb_sans_valeur_ensemble: int
    score: float | None


def _statuts(territoire: pd.DataFrame) -> pd.DataFrame:
    comptes = territoire["statut"].value_counts()
    df = pd.DataFrame({"statut": list(STATUTS)})
    df["nombre"] = [int(comptes.get(s, 0)) for s in STATUTS]
    total = int(df["nombre"].sum())
    df["part"] = (100.0 * df["nombre"] / total).round(1) if total else float("nan")
    return df


def _score(territoire: pd.DataFrame) -> float | None:
    c = territoire["statut"].value_counts()
    return avancement.score(int(c.get(ATTEINT, 0)), int(c.get(EN_BONNE_VOIE, 0)), int(c.get(EN_RETARD, 0)))


@dataclass
class _Pilotage:
    """Ce que lisent les vues d'une période (synthèse, changements, arbre, indicateurs d'un nœud) : voir `_pilotage`."""

    protocole: dict
    territoire: dict               # période → `avancement.indicateurs_au_territoire` (la période, et la précédente)
    nouveaux_depots: pd.DataFrame
    arbre: pd.DataFrame            # `requetes.arbre`
    noeuds: pd.DataFrame           # `avancement._structure_des_noeuds`
    appartenance: pd.DataFrame


def _pilotage(store: Store, protocole: str, periode: str) -> _Pilotage:
    """Sur une connexion, et une seule lecture des valeurs pour les deux périodes : le protocole, l'évaluation de tout
    le protocole au territoire à la période et à la précédente (si elle est dans le protocole), les nouveaux dépôts,
    l'arborescence et l'appartenance des indicateurs aux nœuds. Une page de pilotage (vue d'ensemble, par axe) ouvre
    ainsi la base une fois pour ses vues au lieu de cinq, et le cache la partage entre ces pages ; chaque table est
    celle que rendrait la fonction de lecture du même nom."""
    exiger(store, "consulter_pilotage")   # lue par `ui.lire` directement : le droit de ses vues
    with _session(store) as s:
        p = requetes.protocole(s, protocole)   # le protocole vérifié (ProtocoleInconnu), le droit de lire l'arborescence
        precedente = periode_precedente(periode)
        qs = [periode] + ([precedente] if lire_periode(precedente).annee >= int(p["annee_debut"]) else [])
        territoire = avancement._evaluations_au_territoire(s, protocole, qs)
        recus, arbre, appartenance = _depots_et_arbre(s, protocole, periode)
        noeuds = arbre[["code", "parent", "libelle", "profondeur"]].copy()
    return _Pilotage(p, territoire, recus, arbre, noeuds, appartenance)


def _depots_et_arbre(store, protocole: str, periode: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Pour `_pilotage` : les nouveaux dépôts, l'arborescence et l'appartenance des indicateurs aux nœuds, ces deux-là en
    deux requêtes (au lieu de cinq, vérifications comprises : le protocole l'est déjà) ; les nœuds
    d'`avancement._structure_des_noeuds` sont les colonnes de l'arborescence, dans le même ordre (par chemin)."""
    recus = nouveaux_depots(store, protocole, periode)
    arbre, appartenance = store.lire(lambda con: requetes._arbre(con, protocole))
    return recus, arbre, appartenance


def _evaluation_au_territoire(lire: Lecteur, protocole: str, periode) -> pd.DataFrame:
    """`avancement.indicateurs_au_territoire` à la période, pris dans `_pilotage` (la période est contrôlée d'abord,
    comme le fait l'évaluation)."""
    periode = str(periode)
    lire_periode(periode)
    return lire(_pilotage, protocole, periode).territoire[periode]


@operation("consulter_pilotage")
def synthese(store: Store, protocole: str, periode, lire: Lecteur | None = None) -> Synthese:
    """Les statuts des indicateurs du protocole à la période (au territoire entier) et le score d'ensemble."""
    lire = _lecteur(store, lire)
    t = _evaluation_au_territoire(lire, protocole, periode)
    statuts = _statuts(t)
    juges = int(statuts.loc[statuts["statut"].isin(list(_RANG)), "nombre"].sum())
    return Synthese(str(periode), statuts, len(t), juges, int(t["statut"].isna().sum()), _score(t))


@dataclass
class Changements:
    """Ce qui a changé depuis la période précédente.

    - `precedente` : la période précédente (`periode_precedente`), ou None pour la première période du protocole, qui
      n'a rien à quoi se comparer (`statuts` et `variations` sont alors vides) ;
    - `statuts` : les indicateurs dont le statut au territoire a changé : indicateur, libelle, statut_precedent,
      statut, evolution (« dégradation », « amélioration », « désormais jugé », « plus jugé », « autre ») ; les
      dégradations d'abord ;
    - `variations` : les indicateurs qui ont une valeur aux deux périodes et dont la valeur a bougé, du plus grand au
      plus petit mouvement : indicateur, libelle, unite, sens, valeur_precedente, valeur, variation, variation_relative
      (en % de la valeur précédente), ecart_progression (en points du chemin référence → cible), favorable (dans le sens
      souhaité) et ampleur (ce qui classe : |ecart_progression| quand l'indicateur a une cible et une référence, sinon
      |variation_relative|) ;
    - `depots` : les dépôts reçus depuis le lendemain de la fin de la période précédente qui portent des valeurs de la
      période ou d'une période antérieure (voir `nouveaux_depots`).
    """

    periode: str
    precedente: str | None
    fin_precedente: dt.date
    score_precedent: float | None
    statuts: pd.DataFrame
    variations: pd.DataFrame
    depots: pd.DataFrame


COLONNES_CHANGEMENTS_STATUT = ["indicateur", "libelle", "statut_precedent", "statut", "evolution"]
COLONNES_VARIATIONS = ["indicateur", "libelle", "unite", "sens", "valeur_precedente", "valeur", "variation",
                       "variation_relative", "ecart_progression", "favorable", "ampleur"]


def _evolution(avant, apres) -> str:
    if avant in _RANG and apres in _RANG:
        return "amélioration" if _RANG[apres] < _RANG[avant] else "dégradation"
    if apres in _RANG:
        return "désormais jugé"
    if avant in _RANG:
        return "plus jugé"
    return "autre"


def _changements_de_statut(actuel: pd.DataFrame, avant: pd.DataFrame) -> pd.DataFrame:
    m = actuel[["indicateur", "libelle", "statut"]].merge(
        avant[["indicateur", "statut"]].rename(columns={"statut": "statut_precedent"}), on="indicateur", how="left")
    a = m["statut"].fillna(SANS_VALEUR_ENSEMBLE)
    b = m["statut_precedent"].fillna(SANS_VALEUR_ENSEMBLE)
    m = m[a != b].copy()
    m["statut"] = m["statut"].fillna(SANS_VALEUR_ENSEMBLE)
    m["statut_precedent"] = m["statut_precedent"].fillna(SANS_VALEUR_ENSEMBLE)
    m["evolution"] = [_evolution(x, y) for x, y in zip(m["statut_precedent"], m["statut"])]
    ordre = {"dégradation": 0, "amélioration": 1, "plus jugé": 2, "désormais jugé": 3, "autre": 4}
    m = m.assign(_o=m["evolution"].map(ordre)).sort_values("_o", kind="stable")
    return m[COLONNES_CHANGEMENTS_STATUT].reset_index(drop=True)


def _variations(actuel: pd.DataFrame, avant: pd.DataFrame) -> pd.DataFrame:
    m = actuel[["indicateur", "libelle", "unite", "sens", "valeur", "progression"]].merge(
        avant[["indicateur", "valeur", "progression"]], on="indicateur", suffixes=("", "_precedente"))
    m = m[m["valeur"].notna() & m["valeur_precedente"].notna() & (m["valeur"] != m["valeur_precedente"])].copy()
    m["variation"] = m["valeur"] - m["valeur_precedente"]
    base = m["valeur_precedente"].abs()
    m["variation_relative"] = (100.0 * m["variation"] / base).where(base > 0)
    m["ecart_progression"] = 100.0 * (m["progression"] - m["progression_precedente"])
    signe = m["sens"].map({"hausse": 1.0, "baisse": -1.0}).astype("float64")   # (vide : pas une colonne de chaînes)
    m["favorable"] = (m["variation"] * signe) > 0
    m["ampleur"] = m["ecart_progression"].abs().fillna(m["variation_relative"].abs())
    m = m.sort_values("ampleur", ascending=False, na_position="last", kind="stable")
    return m[COLONNES_VARIATIONS].reset_index(drop=True)


@operation("consulter_pilotage")
def nouveaux_depots(store: Store, protocole: str, periode) -> pd.DataFrame:
    """Les dépôts reçus après la fin de la période précédente qui portent au moins une valeur de la période ou d'une
    période antérieure (un dépôt de rattrapage pour l'an passé en est ; un dépôt qui ne porte que sur la période
    suivante n'en est pas). Du plus récent au plus ancien.

    Colonnes : id, signataire, signataire_nom, periode (déclarée au dépôt), periodes (celles de ses valeurs, « 2020,
    2021 »), depose_le, fichier_nom, utilisateur, nb_valeurs, statut.
    """
    p = lire_periode(periode)
    depuis = fin_de_periode(periode_precedente(periode)) + dt.timedelta(days=1)

    def lire(con):
        # D'abord les dépôts candidats : ceux qui ont une valeur d'une année au plus celle de la période (un dépôt
        # retenu en a forcément une : une période d'une année suivante est postérieure), avec ces périodes-là. Ce
        # filtre sur `annee` laisse DuckDB sauter les groupes de lignes des années suivantes, et des bornes constantes
        # sur les identifiants des dépôts récents (la table est écrite dans l'ordre des dépôts) ceux d'avant ; les
        # dépôts récents eux-mêmes sont choisis ici, sur leurs identifiants (moins cher qu'une semi-jointure).
        recents = {r[0] for r in con.execute("SELECT id FROM depot WHERE protocole = ? AND depose_le >= ?",
                                             [protocole, depuis]).fetchall()}
        paires = [] if not recents else [r for r in con.execute("""
            SELECT DISTINCT depot_id, periode FROM valeur WHERE protocole = ? AND annee <= ? AND depot_id BETWEEN ? AND ?
            """, [protocole, p.annee, min(recents), max(recents)]).fetchall() if r[0] in recents]
        candidats = sorted({d for d, _ in paires})
        if not candidats:
            # Aucun dépôt à garder : la requête d'origine, sans ces bornes, dont la table vide a les types que
            # pandas donne aux lignes qu'elle écarte ensuite (chaînes), ou à aucune ligne (objets).
            return con.execute("""
                WITH d AS (SELECT * FROM depot WHERE protocole = ? AND depose_le >= ?),
                v AS (SELECT depot_id, list(DISTINCT periode ORDER BY periode) AS periodes FROM valeur
                      WHERE protocole = ? AND depot_id IN (SELECT id FROM d) GROUP BY depot_id)
                SELECT d.id, d.signataire, s.nom AS signataire_nom, d.periode, v.periodes, d.depose_le,
                       d.fichier_nom, d.utilisateur, d.nb_valeurs, d.statut
                FROM d JOIN v ON v.depot_id = d.id
                LEFT JOIN signataire s ON s.protocole = d.protocole AND s.code = d.signataire
                ORDER BY d.depose_le DESC, d.id DESC
            """, [protocole, depuis, protocole]).df()
        # Puis toutes les périodes de ces dépôts : celles qu'on vient de lire, et celles des années suivantes, lues
        # entre leurs identifiants extrêmes (quelques groupes de lignes : les valeurs d'un dépôt sont écrites ensemble).
        # Le choix final reste celui d'en dessous, sur les périodes de chaque dépôt.
        return con.execute("""
            WITH v AS (SELECT depot_id, list(DISTINCT periode ORDER BY periode) AS periodes FROM (
                    SELECT unnest(CAST(? AS BIGINT[])) AS depot_id, unnest(CAST(? AS VARCHAR[])) AS periode
                    UNION ALL
                    SELECT depot_id, periode FROM valeur WHERE protocole = ? AND annee > ? AND depot_id BETWEEN ? AND ?
                      AND list_contains(CAST(? AS BIGINT[]), depot_id))
                GROUP BY depot_id)
            SELECT d.id, d.signataire, s.nom AS signataire_nom, d.periode, v.periodes, d.depose_le, d.fichier_nom,
                   d.utilisateur, d.nb_valeurs, d.statut
            FROM depot d JOIN v ON v.depot_id = d.id
            LEFT JOIN signataire s ON s.protocole = d.protocole AND s.code = d.signataire
            WHERE d.protocole = ? AND d.depose_le >= ?
            ORDER BY d.depose_le DESC, d.id DESC
        """, [[d for d, _ in paires], [q for _, q in paires], protocole, p.annee, candidats[0], candidats[-1],
              candidats, protocole, depuis]).df()

    df = store.lire(lire)
    garde = [any(lire_periode(q).instant <= p.instant for q in liste) for liste in df["periodes"]]
    # Un masque en tableau de booléens : une liste vide (aucun dépôt) serait prise pour une liste de colonnes.
    df = df[np.array(garde, dtype=bool)].copy()
    df["periodes"] = [", ".join(liste) for liste in df["periodes"]]
    return df.reset_index(drop=True)


@operation("consulter_pilotage")
def changements(store: Store, protocole: str, periode, lire: Lecteur | None = None) -> Changements:
    """Ce qui a changé depuis la période précédente : statuts, valeurs qui ont le plus bougé, nouveaux dépôts."""
    lire = _lecteur(store, lire)
    periode = str(periode)
    d = lire(_pilotage, protocole, periode)
    p = d.protocole
    precedente = periode_precedente(periode)
    fin = fin_de_periode(precedente)
    depots_recus = d.nouveaux_depots
    actuel = d.territoire[periode]
    if lire_periode(precedente).annee < int(p["annee_debut"]):
        vide_s = pd.DataFrame(columns=COLONNES_CHANGEMENTS_STATUT)
        vide_v = pd.DataFrame(columns=COLONNES_VARIATIONS)
        return Changements(periode, None, fin, None, vide_s, vide_v, depots_recus)
    avant = d.territoire[precedente]
    return Changements(periode, precedente, fin, _score(avant), _changements_de_statut(actuel, avant),
                       _variations(actuel, avant), depots_recus)


# --------------------------------------------------------------------------------------------------------------------
# Les engagements et leur état
# --------------------------------------------------------------------------------------------------------------------

@operation("consulter_pilotage")
def etats_des_engagements(store: Store, protocole: str, noeud: str | None = None) -> pd.DataFrame:
    """Les engagements du protocole (ceux du nœud et de ses descendants si `noeud` est donné), dans l'ordre du
    référentiel, avec leurs porteurs et leur dernier état (la règle de `suivi.etats_courants` : le plus récent par date
    de l'état, à date égale le dernier saisi ; « non renseigné » si rien n'a été saisi).

    Colonnes : celles de `suivi.etats_courants` (code, libelle, noeud, noeud_libelle, axe, porteurs, porteurs_noms,
    etat, date_etat, commentaire, auteur…), plus indicateurs : les codes des indicateurs qui mesurent l'engagement
    (« A, B »).
    """
    with _session(store) as s:   # une connexion pour les trois lectures
        df = suivi.etats_courants(s, protocole)
        if noeud:
            df = df[df["code"].isin(requetes.engagements(s, protocole, noeud)["code"])]
        mesures = s.requete("""
            SELECT engagement AS code, string_agg(indicateur, ', ' ORDER BY indicateur) AS indicateurs
            FROM indicateur_engagement WHERE protocole = ? GROUP BY engagement""", [protocole])
    if df.empty or mesures.empty:
        return df.merge(mesures, on="code", how="left").reset_index(drop=True)
    # La colonne que donnerait la jointure à gauche (`merge`, plus lente), au même type : celui de la colonne lue.
    par_code = dict(zip(mesures["code"].tolist(), mesures["indicateurs"].tolist()))
    df = df.reset_index(drop=True)
    df["indicateurs"] = pd.array([par_code.get(c) for c in df["code"].tolist()], dtype=mesures["indicateurs"].dtype)
    return df


def repartition_etats(engagements: pd.DataFrame) -> pd.DataFrame:
    """Le nombre d'engagements par état (les six `ETATS`, dans l'ordre, même à zéro) : etat, nombre, part (en %)."""
    comptes = engagements["etat"].value_counts() if len(engagements) else pd.Series(dtype="int64")
    autres = [e for e in comptes.index if e not in ETATS]   # un état inconnu saisi à la main reste visible
    df = pd.DataFrame({"etat": list(ETATS) + autres})
    df["nombre"] = [int(comptes.get(e, 0)) for e in df["etat"]]
    total = int(df["nombre"].sum())
    df["part"] = (100.0 * df["nombre"] / total).round(1) if total else float("nan")
    return df


# --------------------------------------------------------------------------------------------------------------------
# Par axe : l'arbre, le fil d'Ariane, les enfants, les indicateurs d'un nœud
# --------------------------------------------------------------------------------------------------------------------

@operation("consulter_pilotage")
def arbre_avancement(store: Store, protocole: str, periode, lire: Lecteur | None = None) -> pd.DataFrame:
    """L'arborescence, dans l'ordre de l'arbre, avec l'avancement de chaque nœud à la période.

    Colonnes : code, parent, niveau, libelle, profondeur, nb_engagements, nb_indicateurs (engagements et indicateurs du
    nœud et de ses descendants), nb_atteint, nb_en_bonne_voie, nb_en_retard, nb_non_renseigne, nb_sans_cible, score
    (ceux de `avancement.avancement_par_noeud`), nb_juges (atteints, en bonne voie ou en retard), puis texte (l'objectif
    stratégique, l'enjeu), volet et volet_libelle (vides pour le corps du protocole).
    """
    lire = _lecteur(store, lire)
    # Les statuts au territoire, l'arborescence et l'appartenance des indicateurs aux nœuds : la lecture que font aussi
    # `synthese`, `changements` et `indicateurs_du_noeud` (en cache, le protocole n'est évalué qu'une fois).
    periode = str(periode)
    lire_periode(periode)
    d = lire(_pilotage, protocole, periode)
    av = avancement.comptes_par_noeud(d.noeuds, d.appartenance, d.territoire[periode])
    textes = [c for c in ("texte", "volet", "volet_libelle") if c in d.arbre.columns]
    arbre = d.arbre[["code", "niveau", "nb_engagements", "nb_indicateurs", *textes]]
    df = av.merge(arbre, on="code", how="left")
    df["nb_juges"] = df["nb_atteint"] + df["nb_en_bonne_voie"] + df["nb_en_retard"]
    colonnes = ["code", "parent", "niveau", "libelle", "profondeur", "nb_engagements", "nb_indicateurs"]
    return df[colonnes + [c for c in avancement.COLONNES_NOEUD if c not in colonnes] + ["nb_juges", *textes]]


def axes(arbre: pd.DataFrame) -> pd.DataFrame:
    """Les nœuds du premier niveau (les axes), dans l'ordre."""
    return arbre[arbre["parent"].isna()].reset_index(drop=True)


def fil_d_ariane(arbre: pd.DataFrame, code: str | None) -> pd.DataFrame:
    """Les nœuds de la racine jusqu'à `code` compris (vide pour la racine ou un code inconnu)."""
    index = arbre.set_index("code")
    chemin = []
    while code is not None and not (isinstance(code, float) and math.isnan(code)) and code in index.index:
        chemin.append(code)
        code = index.at[code, "parent"]
    return arbre.set_index("code").loc[list(reversed(chemin))].reset_index()


def enfants(arbre: pd.DataFrame, code: str | None) -> pd.DataFrame:
    """Les enfants directs de `code` (les axes si `code` est vide), dans l'ordre de l'arbre."""
    if not code:
        return axes(arbre)
    return arbre[arbre["parent"] == code].reset_index(drop=True)


@operation("consulter_pilotage")
def indicateurs_mesurant(store: Store, protocole: str, noeud: str | None = None) -> pd.DataFrame:
    """Les indicateurs qui mesurent un engagement du nœud ou de ses descendants (tous ceux du protocole sans `noeud`),
    avec les engagements qu'ils y mesurent (« E001, E004 », vide pour un indicateur qui n'en mesure aucun) et le
    signataire qui les déclare. Colonnes : indicateur, engagements, signataire, signataire_nom."""
    return store.requete("""
        WITH racine AS (SELECT chemin FROM noeud WHERE protocole = $p AND code = $n),
        liens AS (
            SELECT x.indicateur, x.engagement FROM indicateur_engagement x
            JOIN engagement e ON e.protocole = x.protocole AND e.code = x.engagement
            JOIN noeud n ON n.protocole = e.protocole AND n.code = e.noeud
            WHERE x.protocole = $p AND ($n IS NULL OR n.chemin = (SELECT chemin FROM racine)
                                        OR starts_with(n.chemin, (SELECT chemin FROM racine) || '.')))
        SELECT i.code AS indicateur, string_agg(l.engagement, ', ' ORDER BY l.engagement) AS engagements,
               i.signataire, s.nom AS signataire_nom
        FROM indicateur i LEFT JOIN liens l ON l.indicateur = i.code
        LEFT JOIN signataire s ON s.protocole = i.protocole AND s.code = i.signataire
        WHERE i.protocole = $p AND ($n IS NULL OR l.indicateur IS NOT NULL)
        GROUP BY i.code, i.signataire, s.nom, i.ordre ORDER BY i.ordre
    """, {"p": protocole, "n": noeud or None})


@operation("consulter_pilotage")
def indicateurs_du_noeud(store: Store, protocole: str, periode, noeud: str | None = None,
                         lire: Lecteur | None = None) -> pd.DataFrame:
    """Les indicateurs qui comptent pour un nœud (tous sans `noeud`), avec leur statut au territoire entier et la phrase
    qui l'explique : les colonnes de `avancement.indicateurs_au_territoire`, plus engagements, signataire et
    signataire_nom. Même règle d'appartenance que `avancement_par_noeud`."""
    lire = _lecteur(store, lire)
    t = _evaluation_au_territoire(lire, protocole, periode)
    liens = lire(indicateurs_mesurant, protocole, noeud or None)
    return t.merge(liens, on="indicateur", how="inner").reset_index(drop=True)


# --------------------------------------------------------------------------------------------------------------------
# Fiche d'un indicateur
# --------------------------------------------------------------------------------------------------------------------

class IndicateurInconnu(KeyError):
    def __init__(self, protocole: str, code: str):
        super().__init__(code)
        self.protocole, self.code = protocole, code

    def __str__(self) -> str:
        return f"L'indicateur « {self.code} » n'existe pas dans le protocole {self.protocole}."


def _info_indicateur(tous: pd.DataFrame, indicateur: str) -> dict | None:
    """La ligne d'un indicateur dans `requetes.indicateurs` (None s'il n'y est pas), valeurs manquantes en None, plus
    numerateur_libelle et denominateur_libelle."""
    ligne = tous[tous["code"] == indicateur]
    if ligne.empty:
        return None
    info = {k: (None if not isinstance(v, str) and pd.isna(v) else v) for k, v in ligne.iloc[0].to_dict().items()}
    libelles = dict(zip(tous["code"], tous["libelle"]))
    info["numerateur_libelle"] = libelles.get(info["numerateur"])
    info["denominateur_libelle"] = libelles.get(info["denominateur"])
    return info


@dataclass
class Fiche:
    """`indicateur` : la ligne de `requetes.indicateurs` (definition, unite, sens, source, periodicite, niveau,
    agregation, numerateur, denominateur, signataire, signataire_nom…), plus numerateur_libelle et
    denominateur_libelle pour un taux ; `engagements` : ceux qu'il mesure, avec porteurs et dernier état
    (colonnes de `etats_des_engagements`)."""

    indicateur: dict
    engagements: pd.DataFrame


@operation("consulter_pilotage")
def fiche_indicateur(store: Store, protocole: str, indicateur: str, lire: Lecteur | None = None) -> Fiche:
    """La carte d'identité d'un indicateur et les engagements qu'il mesure."""
    lire = _lecteur(store, lire)
    info = _info_indicateur(lire(requetes.indicateurs, protocole), indicateur)
    if info is None:
        raise IndicateurInconnu(protocole, indicateur)
    codes = (info["engagements"] or "").split(";")
    eng = lire(etats_des_engagements, protocole, None)
    return Fiche(info, eng[eng["code"].isin(codes)].reset_index(drop=True))


@operation("consulter_pilotage")
def references_et_cibles(store: Store, protocole: str, indicateur: str | None = None) -> pd.DataFrame:
    """Les références et cibles d'un indicateur et, pour un taux, de son numérateur et de son dénominateur (de tous les
    indicateurs sans `indicateur`), sur tous les périmètres. Colonnes : indicateur, perimetre, niveau (du périmètre),
    nature (« référence » ou « cible »), annee, valeur."""
    return store.requete("""
        WITH i AS (SELECT code, numerateur, denominateur FROM indicateur
                   WHERE protocole = $p AND ($i IS NULL OR code = $i)),
        codes AS (SELECT code FROM i UNION SELECT numerateur FROM i UNION SELECT denominateur FROM i),
        rc AS (SELECT indicateur, perimetre, 'référence' AS nature, annee, valeur FROM reference WHERE protocole = $p
               UNION ALL
               SELECT indicateur, perimetre, 'cible', annee, valeur FROM cible WHERE protocole = $p)
        SELECT rc.indicateur, rc.perimetre, p.niveau, rc.nature, rc.annee, rc.valeur
        FROM rc JOIN codes ON codes.code = rc.indicateur
        JOIN perimetre p ON p.protocole = $p AND p.code = rc.perimetre
        ORDER BY rc.indicateur, rc.perimetre, rc.nature, rc.annee
    """, {"p": protocole, "i": indicateur})


def _references_et_cibles_lues(d: avancement._Donnees) -> pd.DataFrame | None:
    """`references_et_cibles(store, protocole, indicateur)` tiré des références et cibles qu'`avancement._charger_periodes`
    vient de lire pour `indicateurs=[indicateur]` (les mêmes : l'indicateur, son numérateur et son dénominateur), sans
    seconde requête (la préparer coûtait plus que l'exécuter) : mêmes lignes (celles des périmètres du protocole), même
    ordre (indicateur, périmètre, nature, année : l'ordre des octets, celui de DuckDB), mêmes types. None s'il n'y en a
    aucune : la table vide de DuckDB n'a pas les mêmes types (des objets au lieu de chaînes)."""
    niveaux = dict(zip(d.perimetres["perimetre"].tolist(), d.perimetres["niveau"].tolist()))
    lignes = [(i, p, "référence", a, v) for (i, p), (a, v) in d.references.items() if p in niveaux]
    lignes += [(i, p, "cible", a, v) for (i, p), cibles in d.cibles.items() if p in niveaux for a, v in cibles.items()]
    if not lignes:
        return None
    lignes.sort(key=lambda l: l[:4])
    chaine = d.perimetres["niveau"].dtype   # le type que DuckDB donne à ses chaînes
    return pd.DataFrame({
        "indicateur": pd.array([l[0] for l in lignes], dtype=chaine),
        "perimetre": pd.array([l[1] for l in lignes], dtype=chaine),
        "niveau": pd.array([niveaux[l[1]] for l in lignes], dtype=chaine),
        "nature": pd.array([l[2] for l in lignes], dtype=chaine),
        "annee": np.array([l[3] for l in lignes], dtype="int32"),
        "valeur": np.array([l[4] for l in lignes], dtype="float64")})


def trajectoire_du_territoire(rc: pd.DataFrame, indicateur: dict, code_territoire: str) -> pd.DataFrame:
    """La référence et les cibles du territoire entier pour un indicateur, selon sa règle d'agrégation, comme le modèle
    d'avancement les calcule quand tous les périmètres attendus sont renseignés (docs/avancement.md) : déclaré au niveau
    `Territoire`, les siennes ; `somme`, la somme des trajectoires des périmètres qui ont une cible ; `taux`, 100 × Σ
    numérateurs / Σ dénominateurs de ces trajectoires, à défaut les cibles du taux pour le territoire ;
    `non agrégeable`, rien. `rc` : le résultat de `references_et_cibles`.

    Colonnes : annee, valeur, nature (« référence », « cible intermédiaire », « cible finale »), par année croissante.
    Les points se relient en ligne droite : c'est la trajectoire attendue (`avancement.valeur_attendue`).
    """
    code, niveau, agregation = indicateur["code"], indicateur["niveau"], indicateur["agregation"]
    est_taux = agregation == "taux" and indicateur.get("numerateur") and indicateur.get("denominateur")

    def de(ind: str, per: str, nature: str) -> dict[int, float]:
        r = rc[(rc["indicateur"] == ind) & (rc["perimetre"] == per) & (rc["nature"] == nature)]
        return {int(a): float(v) for a, v in zip(r["annee"], r["valeur"])}

    def points_propres() -> list[tuple[float, float]]:
        ref = de(code, code_territoire, "référence")
        annee_ref, valeur_ref = next(iter(ref.items()), (None, None))
        return avancement.trajectoire(valeur_ref, annee_ref, de(code, code_territoire, "cible"))

    annee_reference = None
    if niveau == "Territoire":
        points = points_propres()
        if de(code, code_territoire, "référence"):
            annee_reference = points[0][0] if points else None
    elif agregation == "non agrégeable" or (agregation == "taux" and not est_taux):
        points = []
    else:
        composantes = [indicateur["numerateur"], indicateur["denominateur"]] if est_taux else [code]

        def f(sommes: list[float]) -> float | None:
            if not est_taux:
                return sommes[0]
            return 100.0 * sommes[0] / sommes[1] if sommes[1] else None

        du_niveau = rc[rc["niveau"] == niveau]
        C = sorted(set.intersection(*[set(du_niveau.loc[(du_niveau["indicateur"] == c) & (du_niveau["nature"] ==
                                                                                                "cible"), "perimetre"])
                                      for c in composantes]))
        if C:
            refs = {(c, p): de(c, p, "référence") for c in composantes for p in C}
            a_ref = all(refs.values())
            traj = {(c, p): avancement.trajectoire(*(next(iter(refs[(c, p)].items()))[::-1] if a_ref else (None, None)),
                                                   de(c, p, "cible")) for c in composantes for p in C}
            annees = sorted({a for pts in traj.values() for a, _ in pts})
            agregee = {a: f([sum(avancement.valeur_attendue(traj[(c, p)], a) for p in C) for c in composantes])
                       for a in annees}
            points = [(a, v) for a, v in agregee.items() if v is not None]
            if a_ref:
                annee_reference = float(min(a for r in refs.values() for a in r))
        elif de(code, code_territoire, "cible"):
            points = points_propres()
            if de(code, code_territoire, "référence"):
                annee_reference = points[0][0] if points else None
        else:
            points = []

    df = pd.DataFrame(points, columns=["annee", "valeur"])
    df["annee"] = df["annee"].astype("int64")
    df["nature"] = "cible intermédiaire"
    if len(df):
        df.loc[df.index[-1], "nature"] = "cible finale"
        if annee_reference is not None:
            df.loc[df["annee"] == int(annee_reference), "nature"] = "référence"
    return df.reset_index(drop=True)


@dataclass
class Serie:
    """La série d'un indicateur sur les périodes du protocole (ses semestres s'il est semestriel).

    - `territoire` : une ligne par période : periode, instant (la date en années que décrit la période, voir
      `avancement.Periode.instant`), puis les colonnes de `avancement.indicateurs_au_territoire` (valeur, attendu,
      statut, explication, nb_renseignes, nb_perimetres…) ;
    - `perimetres` : une ligne par période et périmètre qui a une référence, une cible ou une valeur : periode,
      instant, puis les colonnes de `avancement.indicateurs_au_perimetre` ;
    - `trajectoire` : `trajectoire_du_territoire` (référence et cibles du territoire entier).
    """

    territoire: pd.DataFrame
    perimetres: pd.DataFrame
    trajectoire: pd.DataFrame


def periodes_de_l_indicateur(protocole: dict, periodicite: str) -> list[str]:
    """Les périodes où un indicateur se suit : les années du protocole, ou leurs semestres s'il est semestriel."""
    return periodes(protocole["annee_debut"], protocole["annee_fin"], semestres=periodicite == "semestrielle")


@dataclass
class _DonneesSerie:
    """Ce que montrent la série et la situation d'un indicateur (voir `_donnees_serie`)."""

    protocole: dict
    indicateur: dict | None
    periodes: list[str]
    territoire: pd.DataFrame | None
    perimetres: pd.DataFrame | None
    references_et_cibles: pd.DataFrame | None


def _donnees_serie(store: Store, protocole: str, indicateur: str) -> _DonneesSerie:
    """Le protocole, la ligne de l'indicateur (None s'il n'existe pas) et, à chacune des périodes où il se suit, ses
    lignes au territoire et par périmètre (colonne `periode` en tête), avec ses références et cibles : une connexion,
    une seule lecture des valeurs pour toutes les périodes, limitée à l'indicateur et à ses composantes (les lignes
    sont celles de `avancement.indicateurs_au_territoire` et `indicateurs_au_perimetre`, période par période)."""
    exiger(store, "consulter_pilotage")   # lue par `ui.lire` directement : le droit de ses vues
    with _session(store) as s:
        p = requetes.protocole(s, protocole)
        # La ligne de l'indicateur et celles de ses composantes, seules : `_info_indicateur` n'y prend rien d'autre.
        exiger(s, "consulter_referentiel")   # le droit de `requetes.indicateurs`
        info = _info_indicateur(s.lire(lambda con: requetes._indicateur_et_composantes(con, protocole, indicateur)),
                                indicateur)
        if info is None:
            return _DonneesSerie(p, None, [], None, None, None)
        qs = periodes_de_l_indicateur(p, info["periodicite"])
        ds = avancement._charger_periodes(s, protocole, qs, indicateurs=[indicateur])
        territoire, perimetres = avancement._tables_par_periode(ds)
        rc = _references_et_cibles_lues(ds[0]) if ds else None
        if rc is None:
            rc = references_et_cibles(s, protocole, indicateur)
    return _DonneesSerie(p, info, qs, territoire, perimetres, rc)


@operation("consulter_pilotage")
def serie_indicateur(store: Store, protocole: str, indicateur: str, lire: Lecteur | None = None,
                     par_perimetre: bool = True) -> Serie:
    """Les valeurs, statuts et valeurs attendues d'un indicateur, période par période, au territoire et (si
    `par_perimetre`) par périmètre, et la trajectoire du territoire. Toutes les périodes sont évaluées par le modèle
    d'avancement en une lecture limitée à l'indicateur (`_donnees_serie`, que `situation` partage)."""
    lire = _lecteur(store, lire)
    d = lire(_donnees_serie, protocole, indicateur)
    if d.indicateur is None:
        raise IndicateurInconnu(protocole, indicateur)
    instants = {q: lire_periode(q).instant for q in d.periodes}
    devant = ["periode", "instant"]

    def avec_instant(df: pd.DataFrame) -> pd.DataFrame:
        df = df.assign(instant=df["periode"].map(instants).astype("float64"))
        return df[devant + [c for c in df.columns if c not in devant]]

    territoire = avec_instant(d.territoire)
    if par_perimetre:
        perimetres = avec_instant(d.perimetres)
    else:
        perimetres = pd.DataFrame({c: pd.Series(dtype="float64" if c in ("instant", "valeur", "attendu") else object)
                                   for c in devant + avancement.COLONNES_PERIMETRE})
        perimetres = perimetres[devant + [c for c in perimetres.columns if c not in devant]]
    return Serie(territoire, perimetres,
                 trajectoire_du_territoire(d.references_et_cibles, d.indicateur, d.protocole["code_territoire"]))


@operation("consulter_pilotage")
def provenance(store: Store, protocole: str, indicateur: str) -> pd.DataFrame:
    """D'où vient chaque valeur déposée pour un indicateur : toutes les valeurs de `depots.historique` (dépôt n°,
    fichier, signataire, déposant, date, cellule, fait_foi), avec le libellé du périmètre, le nom du signataire et leur
    sort : « fait foi », « remplacée par le dépôt n° N » (un dépôt plus récent), « écartée : dépôt à corriger », « en
    attente de revue » (le protocole ne compte pas encore ce dépôt) ; et `marque` : « confirmée malgré un avertissement,
    en attente de revue » (`depots.MARQUE_EN_ATTENTE`) tant que la coordination n'a pas revu son dépôt.
    Par période, puis périmètre (dans l'ordre du protocole), puis dépôt du plus récent au plus ancien."""
    def lire(con):
        per = con.execute("SELECT code AS perimetre, libelle AS perimetre_libelle, ordre, CASE niveau WHEN "
                          "'Territoire' THEN 0 WHEN 'Commune' THEN 1 ELSE 2 END AS rang FROM perimetre "
                          "WHERE protocole = ?", [protocole]).df()
        sig = con.execute("SELECT code AS signataire, nom AS signataire_nom FROM signataire WHERE protocole = ?",
                          [protocole]).df()
        return per, sig

    with _session(store) as s:   # une connexion pour les trois lectures
        h = depots.historique(s, protocole, indicateur)
        per, sig = s.lire(lire)
    df = h.merge(per, on="perimetre", how="left").merge(sig, on="signataire", how="left")
    # Le dépôt qui fait foi de chaque (périmètre, période) : le premier marqué, dans un dictionnaire (chercher chaque
    # ligne dans un index de pandas coûtait plus que la lecture elle-même).
    cles = list(zip(df["perimetre"].tolist(), df["periode"].tolist()))
    fait_foi = df["fait_foi"].tolist()
    foi: dict = {}
    for cle, f, d in zip(cles, fait_foi, df["depot_id"].tolist()):
        if f:
            foi.setdefault(cle, d)
    df["sort"] = [
        "fait foi" if f else
        "écartée : dépôt à corriger" if s == "à corriger" else
        f"remplacée par le dépôt n° {foi[cle]}" if cle in foi and r else
        "en attente de revue" if not r and s == "reçu" else
        f"remplacée par le dépôt n° {foi[cle]}" if cle in foi else "écartée"
        for f, s, cle, r in zip(fait_foi, df["statut"].tolist(), cles, df["retenu"].tolist())]
    df["marque"] = [
        (depots.MARQUE_EN_ATTENTE if a is not None and not pd.isna(a) else "dépôt " + depots.MARQUE_EN_ATTENTE)
        if e else "" for e, a in zip(df["en_attente_de_revue"].tolist(), df["avertissement"].tolist())]
    df = df.sort_values(["periode", "rang", "ordre", "depot_id"], ascending=[False, True, True, False], kind="stable")
    return df.drop(columns=["rang", "ordre"]).reset_index(drop=True)


#: La colonne de compte de chaque statut dans `avancement.avancement_par_noeud` (nb_atteint, nb_en_bonne_voie…).
COLONNES_STATUT = {s: "nb_" + s.replace(" ", "_").replace("é", "e") for s in STATUTS}


def statuts_en_long(noeuds: pd.DataFrame) -> pd.DataFrame:
    """Les comptes par statut de quelques nœuds, une ligne par nœud et statut non nul (pour un graphique en barres
    empilées) : code, libelle, score, statut, nombre ; dans l'ordre des nœuds puis des statuts."""
    lignes = [(r["code"], r["libelle"], r["score"], s, int(r[c]))
              for _, r in noeuds.iterrows() for s, c in COLONNES_STATUT.items() if r[c]]
    return pd.DataFrame(lignes, columns=["code", "libelle", "score", "statut", "nombre"])


#: Les colonnes d'un export des indicateurs au territoire (nom technique → en-tête), pour les téléchargements.
EXPORT_INDICATEURS = {
    "indicateur": "Code", "libelle": "Indicateur", "unite": "Unité", "sens": "Sens", "statut": "Statut",
    "valeur": "Valeur", "attendu": "Valeur attendue", "reference": "Référence", "annee_reference": "Année de référence",
    "cible_finale": "Cible finale", "annee_cible": "Année de la cible", "progression": "Progression",
    "nb_renseignes": "Périmètres renseignés", "nb_perimetres": "Périmètres attendus", "explication": "Explication",
    "signataire_nom": "Déclaré par", "engagements": "Engagements",
}


@dataclass
class Situation:
    """Un indicateur à une période : `territoire` (sa ligne de `avancement.indicateurs_au_territoire`, None s'il n'y en
    a pas) et `perimetres` (ses lignes de `avancement.indicateurs_au_perimetre`, dans l'ordre des périmètres)."""

    territoire: dict | None
    perimetres: pd.DataFrame


@operation("consulter_pilotage")
def situation(store: Store, protocole: str, periode, indicateur: str, lire: Lecteur | None = None) -> Situation:
    """Où en est un indicateur à une période, au territoire et périmètre par périmètre. Les lignes sont prises dans
    la série de l'indicateur (`_donnees_serie`, la même lecture que `serie_indicateur`) quand la période en est une,
    sinon lues pour cette seule période et ce seul indicateur : les mêmes que dans l'évaluation de tout le protocole."""
    lire = _lecteur(store, lire)
    periode = str(periode)
    lire_periode(periode)   # une période mal écrite : l'erreur avant toute lecture
    d = lire(_donnees_serie, protocole, indicateur)
    if periode in d.periodes:
        t = d.territoire[d.territoire["periode"] == periode].drop(columns="periode")
        per = d.perimetres[d.perimetres["periode"] == periode].drop(columns="periode")
    else:   # hors des périodes de l'indicateur, ou indicateur inconnu : l'évaluation de tout le protocole
        t = lire(avancement.indicateurs_au_territoire, protocole, periode)
        t = t[t["indicateur"] == indicateur]
        per = lire(avancement.indicateurs_au_perimetre, protocole, periode)
        per = per[per["indicateur"] == indicateur]
    return Situation(t.iloc[0].to_dict() if len(t) else None, per.reset_index(drop=True))


def libelle_instant(instant: float, serie: Serie) -> str:
    """L'étiquette d'un instant sur l'axe du temps d'une série : « 2021 », « S1 2021 », « S2 2021 »."""
    periodes_serie = dict(zip(serie.territoire["instant"], serie.territoire["periode"]))
    q = periodes_serie.get(float(instant))
    if q is not None and "-S" in q:
        return f"S{q[-1]} {q[:4]}"
    return str(int(instant)) if float(instant).is_integer() else format(instant)


def serie_en_tableau(serie: Serie, quartiers: pd.DataFrame | None = None) -> pd.DataFrame:
    """Les données du graphique d'une série, en une table aux en-têtes français (pour la lire et la télécharger) :
    Série, Période, Valeur, Valeur attendue, Statut."""
    colonnes = ["Série", "Période", "Valeur", "Valeur attendue", "Statut"]
    t = serie.territoire
    morceaux = [pd.DataFrame({"Série": "Territoire", "Période": t["periode"], "Valeur": t["valeur"],
                              "Valeur attendue": t["attendu"], "Statut": t["statut"]})]
    traj = serie.trajectoire
    morceaux.append(pd.DataFrame({"Série": "Trajectoire : " + traj["nature"], "Période": traj["annee"].astype(str),
                                  "Valeur": traj["valeur"], "Valeur attendue": traj["valeur"], "Statut": ""}))
    if quartiers is not None and len(quartiers):
        morceaux.append(pd.DataFrame({"Série": quartiers["perimetre_libelle"], "Période": quartiers["periode"],
                                      "Valeur": quartiers["valeur"], "Valeur attendue": quartiers["attendu"],
                                      "Statut": quartiers["statut"]}))
    return pd.concat([m for m in morceaux if len(m)], ignore_index=True).reindex(columns=colonnes)


def perimetres_en_tableau(perimetres: pd.DataFrame) -> pd.DataFrame:
    """Les lignes d'un indicateur par périmètre (`situation(...).perimetres`), en une table aux en-têtes français."""
    return perimetres[["perimetre", "perimetre_libelle", "valeur", "attendu", "statut", "cible_finale", "annee_cible",
                       "explication", "depot_id"]].rename(columns={
        "perimetre": "Code", "perimetre_libelle": "Périmètre", "valeur": "Valeur", "attendu": "Valeur attendue",
        "statut": "Statut", "cible_finale": "Cible finale", "annee_cible": "Année de la cible",
        "explication": "Explication", "depot_id": "Dépôt n°"})
