"""Le rapport annuel d'évaluation d'un protocole, tiré de la base, en PDF, en Word (.docx) et en Excel (.xlsx).

Chaque protocole est évalué chaque année avant le COPIL. Le rapport est **construit une fois** sous une forme neutre
(`construire_rapport` → `Rapport` : des sections, des paragraphes, des tableaux en DataFrame aux en-têtes français, des
graphiques Plotly avec leur texte de remplacement), puis **rendu trois fois** :

- `ecrire_pdf` : HTML + CSS (perr_metrics/rapport/gabarit/) mis en pages par WeasyPrint, A4, sommaire avec numéros de
  page, graphiques en PNG rendus hors ligne par kaleido (Chromium) ;
- `ecrire_docx` : python-docx, titres en styles « Titre 1/2 » (Word construit le sommaire), en-têtes de tableaux répétés,
  images avec texte de remplacement, « Page X sur Y » en pied de page ;
- `ecrire_xlsx` : openpyxl, une feuille par tableau et une feuille « Sommaire » ; les textes sont typés texte (jamais une
  formule).

Les chiffres viennent du cœur, jamais d'un calcul parallèle : statuts et valeurs d'`avancement`, complétude et dépôts de
`depots`, états des engagements de `suivi` ; les nombres et les dates s'écrivent par `formats` (1 234,5 ; 12,5 % ;
12 février 2021). Sans Chromium (ou sans kaleido), chaque graphique est remplacé par un encadré qui le dit : le rapport
sort quand même.

Ce module ignore Streamlit : la page « Rapport annuel », la ligne de commande et les tests l'appellent de la même façon.
"""
from __future__ import annotations

import asyncio
import base64
import datetime as dt
import html
import io
import logging
import math
import os
import re
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator
from xml.sax.saxutils import escape as _xml

import pandas as pd

from perr_metrics.pilotage import avancement
from perr_metrics.depots import depot as depots
from perr_metrics.referentiel import requetes
from perr_metrics.commun.couleurs import COULEUR_ETAT_NON_RENSEIGNE, COULEURS_COMPLETUDE, COULEURS_ETAT, COULEURS_STATUT
from perr_metrics.stockage.magasin import Store
from perr_metrics.acces.droits import exiger, operation, perimetre_de
from perr_metrics.commun.formats import ESPACE_INSECABLE, format_date, format_date_heure, format_nombre, format_pourcent, format_valeur

journal = logging.getLogger("perr_metrics.rapport")

FORMATS = ("pdf", "docx", "xlsx")
TYPES_MIME = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
GABARIT = Path(__file__).resolve().parent / "gabarit"

ETATS = ("non démarré", "en cours", "réalisé", "reporté", "abandonné")
NON_RENSEIGNE = "non renseigné"
ORDRE_ETATS = list(ETATS) + [NON_RENSEIGNE]
COULEURS_ETATS = {**COULEURS_ETAT, NON_RENSEIGNE: COULEUR_ETAT_NON_RENSEIGNE}
# Pour dire qu'un indicateur progresse ou recule d'une année à l'autre : seuls ces trois statuts se comparent.
_RANG_STATUT = {avancement.ATTEINT: 2, avancement.EN_BONNE_VOIE: 1, avancement.EN_RETARD: 0}
SANS_STATUT = "non agrégeable"
MENTION_DEMO = ("Données de démonstration : le référentiel reprend le protocole réel ; les indicateurs, les valeurs de "
                "référence, les cibles et les valeurs déposées sont fictifs.")


class RapportImpossible(ValueError):
    """Le rapport ne peut pas être établi (année hors du protocole, format inconnu) ; message en français."""


# ====================================================================================================================
# La structure neutre
# ====================================================================================================================

@dataclass
class Paragraphe:
    """Un paragraphe. `style` : « normal », « note » (petit, gris), « alerte » (encadré : la démonstration) ou
    « chapeau » (reste sur la même page que ce qui le suit)."""

    texte: str
    style: str = "normal"


@dataclass
class Liste:
    elements: list[str]


@dataclass
class Chiffres:
    """Des chiffres clés, (valeur, libellé), montrés côte à côte ; une feuille du classeur."""

    elements: list[tuple[str, str]]
    legende: str = "Chiffres clés"
    feuille: str = "Chiffres clés"


def _vide(x) -> bool:
    if x is None or x is pd.NA or x is pd.NaT:
        return True
    return isinstance(x, float) and math.isnan(x)


def _texte_defaut(x) -> str:
    if _vide(x):
        return ""
    if isinstance(x, bool):
        return "oui" if x else "non"
    if isinstance(x, (int, float)):
        return format_nombre(x)
    if isinstance(x, pd.Timestamp):
        return format_date(x.to_pydatetime())
    if isinstance(x, (dt.date, dt.datetime)):
        return format_date(x)
    return str(x)


@dataclass
class Tableau:
    """Un tableau. `donnees` a des en-têtes français et des valeurs typées (nombres, dates, textes) : c'est ce que
    reçoit le classeur Excel. Pour le PDF et Word, chaque valeur s'écrit à la française :

    - `formats` : colonne → fonction d'écriture ; `unite` : la colonne qui donne l'unité de chaque ligne, et les
      colonnes `avec_unite` s'écrivent dans cette unité (« 12,5 % », « 1 200 € », « 16 ») — un tableau d'indicateurs
      mêle taux, montants et nombres ;
    - `masquees` : colonnes gardées pour Excel mais pas imprimées ; `suffixes` : colonne imprimée → colonne dont la
      valeur s'écrit à sa suite entre parenthèses (« 91 (2018) ») ;
    - `detail` : colonne écrite en pleine largeur sous chaque ligne (l'explication d'un statut) ;
    - `pastilles` : colonne → {valeur: couleur} ; la valeur reste écrite, la couleur la souligne ;
    - `largeurs` : colonne → largeur relative ; `droite` : colonnes alignées à droite (nombres) ;
    - `facultatives` : colonnes imprimées seulement si l'une de leurs cases est remplie ;
    - `dans_document` : False pour un tableau que seul le classeur reçoit (trop long pour un document imprimé, résumé
      à côté par un paragraphe).
    """

    donnees: pd.DataFrame
    legende: str
    feuille: str
    formats: dict[str, Callable] = field(default_factory=dict)
    unite: str | None = None
    avec_unite: tuple[str, ...] = ()
    masquees: tuple[str, ...] = ()
    suffixes: dict[str, str] = field(default_factory=dict)
    detail: str | None = None
    pastilles: dict[str, dict[str, str]] = field(default_factory=dict)
    largeurs: dict[str, float] = field(default_factory=dict)
    droite: tuple[str, ...] = ()
    vide: str = "Aucune ligne."
    facultatives: tuple[str, ...] = ()
    dans_document: bool = True

    @property
    def colonnes(self) -> list[str]:
        """Les colonnes imprimées : ni masquées, ni facultatives et vides, ni colonne de détail."""
        def remplie(c):
            return any(not _vide(v) and v != "" for v in self.donnees[c])
        return [c for c in self.donnees.columns if c != self.detail and c not in self.masquees
                and (c not in self.facultatives or remplie(c))]

    def affichage(self) -> pd.DataFrame:
        """Le tableau imprimé : des textes à la française, suffixes compris (cases vides : chaîne vide)."""
        df = self.donnees
        unites = list(df[self.unite]) if self.unite else [None] * len(df)
        textes = {}
        for c in df.columns:
            if c in self.avec_unite:
                textes[c] = [_v(v, None if _vide(u) else u) for v, u in zip(df[c], unites)]
            elif c in self.formats:
                textes[c] = [self.formats[c](v) for v in df[c]]
            else:
                textes[c] = [_texte_defaut(v) for v in df[c]]
        for c, autre in self.suffixes.items():
            textes[c] = [f"{a} ({b})" if b and a not in ("", "–") else a for a, b in zip(textes[c], textes[autre])]
        return pd.DataFrame(textes, columns=list(df.columns))


@dataclass
class Graphique:
    """Un graphique Plotly, son texte de remplacement (`alt`, ce que lit un lecteur d'écran) et sa légende. `png` est
    rempli par `rendre_images` ; s'il reste vide, les rendus écrivent un encadré à la place.

    `description` : les arguments de `_figure` (tracés et mise en page, des listes et des dictionnaires) ; la figure
    Plotly (`figure`) n'est construite qu'à la première demande, par la mise en images : construire et valider les
    figures coûtait autant que tout le reste du contenu d'un gros protocole, et la page n'en montre aucune (la
    description se met aussi en cache plus vite qu'une figure). Une figure Plotly toute faite est acceptée telle
    quelle."""

    description: object
    alt: str
    legende: str
    largeur: int = 1000
    hauteur: int = 420
    png: bytes | None = None
    _fig: object = field(default=None, init=False, repr=False, compare=False)

    @property
    def figure(self):
        if self._fig is None:
            d = self.description
            self._fig = _figure(**d) if isinstance(d, dict) else d
        return self._fig


@dataclass
class Section:
    """Une section : niveau 1 (un chapitre : synthèse, un axe, les quartiers, une annexe) ou 2."""

    titre: str
    niveau: int
    ancre: str
    blocs: list = field(default_factory=list)


@dataclass
class Rapport:
    """Le contenu du rapport, indépendant du format."""

    protocole: dict
    annee: int
    titre: str
    demonstration: bool
    etabli_le: dt.date
    couverture: list[tuple[str, str]]
    sections: list[Section]
    chiffres: dict = field(default_factory=dict)   # les comptes de la synthèse, pour la page et les tests
    images_indisponibles: str | None = None

    @property
    def nom_fichier(self) -> str:
        return _nom_fichier(self.protocole, self.annee)

    @property
    def sommaire(self) -> list[tuple[int, str]]:
        """(niveau, titre) de chaque section, dans l'ordre (celui de `Apercu.sommaire`)."""
        return [(s.niveau, s.titre) for s in self.sections]

    def graphiques(self) -> Iterator[Graphique]:
        for s in self.sections:
            for b in s.blocs:
                if isinstance(b, Graphique):
                    yield b

    def tableaux(self) -> Iterator[tuple[Section, Tableau | Chiffres]]:
        for s in self.sections:
            for b in s.blocs:
                if isinstance(b, (Tableau, Chiffres)):
                    yield s, b

    def section(self, ancre: str) -> Section:
        for s in self.sections:
            if s.ancre == ancre:
                return s
        raise KeyError(ancre)


# ====================================================================================================================
# Petites écritures
# ====================================================================================================================

def typographie(texte: str) -> str:
    """Espaces de la typographie française : fine insécable avant ; ! ?, insécable avant : et dans les guillemets."""
    if not texte:
        return texte
    t = re.sub(r"[ \u00a0]([;!?])", "\u202f\\1", texte)
    t = re.sub(r" :(?=\s|$)", "\u00a0:", t)
    return t.replace("« ", "«\u00a0").replace(" »", "\u00a0»")


def _majuscule(t) -> str:
    t = "" if _vide(t) else str(t).strip()
    return t[:1].upper() + t[1:]


def _court(t, n: int) -> str:
    t = "" if _vide(t) else str(t)
    return t if len(t) <= n else t[: n - 1].rstrip() + "…"


def _v(x, unite) -> str:
    return "–" if _vide(x) else format_valeur(x, unite)


def _pourcent(x) -> str:
    return "–" if _vide(x) else format_pourcent(x)


def _score(x) -> str:
    return "–" if _vide(x) else format_pourcent(x, 0)


def _date(x) -> str:
    return "" if _vide(x) else format_date(pd.Timestamp(x).date())


def _date_heure(x) -> str:
    return "" if _vide(x) else format_date_heure(pd.Timestamp(x).to_pydatetime())


def _pluriel(n: int, mot: str, pluriel: str | None = None) -> str:
    return f"{format_nombre(n)} {mot if abs(n) < 2 else (pluriel or mot + 's')}"


def _annee(x) -> str:
    return "" if _vide(x) else str(int(x))


def _pale(couleur: str, part: float = 0.6) -> str:
    """La couleur mélangée de blanc (fond de cellule d'Excel : le texte noir reste lisible)."""
    r, g, b = (int(couleur[i:i + 2], 16) for i in (1, 3, 5))
    return "{:02X}{:02X}{:02X}".format(*(round(c + (255 - c) * part) for c in (r, g, b)))


def _ancre(texte: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", str(texte)).strip("-").lower() or "x"


# ====================================================================================================================
# Lecture des données, en une fois
# ====================================================================================================================

@dataclass
class _Donnees:
    p: dict
    annee: int
    annees: list[int]
    contrats: pd.DataFrame
    signataires: pd.DataFrame
    perimetres: pd.DataFrame
    arbre: pd.DataFrame     # code, parent des nœuds, dans l'ordre de l'arborescence
    indicateurs: pd.DataFrame
    engagements: pd.DataFrame
    etats_avant: dict
    ter: dict               # année → indicateurs_au_territoire, indexé par indicateur
    per: pd.DataFrame
    noeuds: pd.DataFrame
    comp: pd.DataFrame      # depots.completude(…, annee).par_signataire
    comp_avant: tuple | None   # (attendues, reçues) de l'année précédente, toutes les lignes de sa complétude
    depots: pd.DataFrame
    racine: dict            # code de nœud → code de son axe (nœud racine)
    axes_indicateur: dict   # indicateur → [axes], dans l'ordre de l'arbre
    etats_saisis: bool      # au moins un état d'engagement saisi
    memo: dict = field(default_factory=dict, repr=False)   # ce que plusieurs sections partagent, calculé une fois


def _memo(d: _Donnees, cle, calcul: Callable):
    """`calcul()`, fait une fois par rapport (des tableaux complets dont chaque section prend ses lignes)."""
    if cle not in d.memo:
        d.memo[cle] = calcul()
    return d.memo[cle]


def _extraire(complet: pd.DataFrame, positions: list[int]) -> pd.DataFrame:
    """Les lignes `positions` (dans l'ordre) d'un tableau construit une fois pour toutes les lignes, renumérotées de
    0 : le tableau même que l'on construirait pour ces seules lignes, chaque colonne gardant son type, sans refaire un
    DataFrame ni refiltrer une table large par axe, quartier ou signataire (avec les chaînes d'Arrow de pandas 3, une
    sélection de lignes coûte près d'une milliseconde). Les appelants construisent au contraire le tableau à part quand
    ses types pourraient différer : aucune ligne, ou une colonne faite d'une liste sans aucune valeur (pandas en ferait
    une colonne d'objets)."""
    return complet.take(positions).reset_index(drop=True)


def _positions(cles) -> dict:
    """Clé → positions de ses lignes, dans l'ordre (un groupement fait une fois au lieu d'un filtre par clé)."""
    groupes: dict = {}
    for i, k in enumerate(cles):
        groupes.setdefault(k, []).append(i)
    return groupes


def _etats_au(store, protocole: str, jusqu_au: dt.date | None) -> pd.DataFrame:
    """Le dernier état de chaque engagement qui en a un, à une date (toutes dates si None) : le plus récent en date
    d'état, puis le dernier saisi — la règle de `suivi.etats_courants`. Colonnes code, etat, date_etat, commentaire,
    auteur."""
    df = store.requete("""
        SELECT engagement AS code,
               arg_max(struct_pack(etat, date_etat, commentaire, auteur), (date_etat, saisi_le)) AS d
        FROM etat_engagement WHERE protocole = ? AND (CAST(? AS DATE) IS NULL OR date_etat <= ?)
        GROUP BY engagement
    """, [protocole, jusqu_au, jusqu_au])
    colonnes = ["etat", "date_etat", "commentaire", "auteur"]
    return pd.DataFrame({"code": df["code"], **{c: [d[c] for d in df["d"]] for c in colonnes}},
                        columns=["code"] + colonnes)


# Les états courants de `suivi.etats_courants` (même règle : le dernier état de chaque engagement, le plus récent en
# date d'état, puis le dernier saisi ; mêmes lignes, mêmes jointures, mêmes types), sans les colonnes dont le rapport
# ne se sert pas (porteurs et leurs noms, par des sous-requêtes : deux à trois fois plus lentes, base juste ouverte).
_SQL_ETATS_COURANTS = """
    WITH dernier AS (
        SELECT engagement, arg_max(struct_pack(etat, date_etat, commentaire, auteur, saisi_le), (date_etat, saisi_le)) AS d
        FROM etat_engagement WHERE protocole = $p GROUP BY engagement)
    SELECT e.code, coalesce(dernier.d.etat, $nr) AS etat, dernier.d.date_etat AS date_etat,
           dernier.d.commentaire AS commentaire, dernier.d.auteur AS auteur
    FROM engagement e
    JOIN noeud n ON n.protocole = e.protocole AND n.code = e.noeud
    LEFT JOIN noeud r ON r.protocole = e.protocole AND r.chemin = split_part(n.chemin, '.', 1)
    LEFT JOIN dernier ON dernier.engagement = e.code
    WHERE e.protocole = $p
    ORDER BY e.ordre, e.code
"""


def _etats_courants(store, protocole: str) -> pd.DataFrame:
    """Les états courants, ceux que montre la page « Engagements » (`suivi.etats_courants`, et son droit), des
    engagements qui en ont un : colonnes code, etat, date_etat, commentaire, auteur."""
    exiger(store, "consulter_engagements")
    df = store.lire(lambda con: con.execute(_SQL_ETATS_COURANTS, {"p": protocole, "nr": NON_RENSEIGNE}).df())
    return df[df["etat"] != NON_RENSEIGNE]


# Les valeurs attendues et reçues de chaque signataire, pour l'année du rapport et la précédente, en une lecture : la
# règle de `depots.completude` (attendus : `depots.SQL_ATTENDUS` ; reçues : celles qui font foi,
# `depots.SQL_VALEURS_COURANTES`, de la même année et de la même période), comptée par DuckDB au lieu du détail de
# chaque valeur attendue. Les (indicateur, périmètre) attendus ne dépendent pas de l'année, et les périodes attendues
# d'une année sont l'année ou ses semestres (« 2024 », « 2024-S1 », « 2024-S2 ») : les attendus de l'année précédente
# sont ceux de l'année, à l'année près (une seule copie de SQL_ATTENDUS : sa préparation coûte plus que son exécution).
# Les bornes d'années sont des constantes : DuckDB ne lit que les groupes de lignes de ces années (les valeurs sont
# écrites dans l'ordre des dépôts).
def _sql_comptes_completude() -> str:
    return f"""
        WITH a AS ({depots.SQL_ATTENDUS}),
        ay AS (SELECT y.annee, a.signataire, a.indicateur, a.perimetre,
                      CAST(y.annee AS VARCHAR) || a.periode[5:] AS periode
               FROM a, (SELECT unnest(range($premiere, $annee + 1)) AS annee) y),
        c AS (SELECT * FROM ({depots.SQL_VALEURS_COURANTES.replace('?', '$protocole')})
              WHERE annee BETWEEN $premiere AND $annee)
        SELECT ay.annee, ay.signataire, count(*) AS attendus, count(c.depot_id) AS recus
        FROM ay LEFT JOIN c ON c.annee = ay.annee AND c.indicateur = ay.indicateur AND c.perimetre = ay.perimetre
                           AND c.periode = ay.periode
        WHERE ay.signataire IS NOT NULL
        GROUP BY ay.annee, ay.signataire ORDER BY ay.annee, ay.signataire
    """


def _completudes(store, protocole: str, annee: int, avec_avant: bool) -> tuple[pd.DataFrame, tuple | None]:
    """`depots.completude(…, annee).par_signataire` (même droit, mêmes lignes, mêmes types) et, avec `avec_avant`, les
    totaux (attendues, reçues) de l'année précédente — tout ce que le rapport en prend —, en une lecture."""
    exiger(store, "consulter_depots")
    periode = str(annee)

    def lire(con):
        comptes = con.execute(_sql_comptes_completude(), {
            "protocole": protocole, "periode": periode, "annee": annee,
            "premiere": annee - 1 if avec_avant else annee}).df()
        sig = con.execute("""
            SELECT s.code AS signataire, s.nom,
                   (SELECT max(d.depose_le) FROM depot d WHERE d.protocole = s.protocole AND d.signataire = s.code
                     AND d.periode LIKE ? || '%') AS dernier_depot
            FROM signataire s WHERE s.protocole = ?""", [periode[:4], protocole]).df()
        return comptes, sig

    comptes, sig = store.lire(lire)
    permis = perimetre_de(store, protocole)
    if permis is not None:
        comptes = comptes[comptes["signataire"].isin(permis)]
        sig = sig[sig["signataire"].isin(permis)]
    avant = None
    if avec_avant:
        c0 = comptes[comptes["annee"] == annee - 1]
        avant = (c0["attendus"].sum(), c0["recus"].sum())
    compte = comptes[comptes["annee"] == annee]
    if compte.empty:    # aucune valeur attendue : le calcul de depots, tel quel (types d'un tableau vide)
        return depots.completude(store, protocole, periode).par_signataire, avant
    # La suite de depots.completude, la même fonction.
    compte = compte[["signataire", "attendus", "recus"]].reset_index(drop=True)
    return depots.completude_par_signataire(compte, sig), avant


# Les engagements de `requetes.engagements` (mêmes lignes, même ordre, mêmes types), avec les seules colonnes dont le
# rapport se sert : sans les noms des porteurs, les cadres, la formule, le levier, l'échéance ni le libellé du nœud.
_SQL_ENGAGEMENTS = """
    SELECT e.code, e.noeud, e.parent, e.libelle,
           (SELECT string_agg(x.signataire, ';' ORDER BY x.rang) FROM engagement_porteur x
             WHERE x.protocole = e.protocole AND x.engagement = e.code) AS porteurs
    FROM engagement e JOIN noeud n ON n.protocole = e.protocole AND n.code = e.noeud
    WHERE e.protocole = ?
    ORDER BY e.ordre, e.code
"""


def _engagements(store, protocole: str) -> pd.DataFrame:
    """`requetes.engagements(store, protocole)`, ses colonnes code, noeud, parent, libelle et porteurs (même droit)."""
    exiger(store, "consulter_referentiel")
    return store.requete(_SQL_ENGAGEMENTS, [protocole])


# Les signataires de `requetes.signataires` (mêmes lignes, même ordre, mêmes types), sans le nombre d'engagements et
# d'indicateurs de chacun (deux sous-requêtes sur les tables de tous les protocoles), dont le rapport ne se sert pas.
_SQL_SIGNATAIRES = """
    SELECT s.code, s.nom AS libelle, s.categorie, s.rattache_a, s.signe, s.insee
    FROM signataire s WHERE s.protocole = ? ORDER BY s.ordre
"""


def _signataires(store, protocole: str) -> pd.DataFrame:
    """`requetes.signataires(store, protocole)`, ses colonnes code, libelle, categorie, rattache_a, signe et insee
    (même droit)."""
    exiger(store, "consulter_referentiel")
    return store.requete(_SQL_SIGNATAIRES, [protocole])


# Les indicateurs de `requetes.indicateurs` (mêmes lignes, même ordre, mêmes types), avec les seules colonnes dont le
# rapport se sert.
_SQL_INDICATEURS = """
    SELECT i.code, i.libelle, i.unite, i.signataire, i.niveau, i.source, x.engagements
    FROM indicateur i
    LEFT JOIN (SELECT indicateur, string_agg(engagement, ';' ORDER BY engagement) AS engagements
               FROM indicateur_engagement WHERE protocole = $code GROUP BY 1) x ON x.indicateur = i.code
    WHERE i.protocole = $code
    ORDER BY i.ordre
"""


def _indicateurs(store, protocole: str) -> pd.DataFrame:
    """`requetes.indicateurs(store, protocole)`, ses colonnes code, libelle, unite, signataire, niveau, source et
    engagements (même droit)."""
    exiger(store, "consulter_referentiel")
    return store.lire(lambda con: con.execute(_SQL_INDICATEURS, {"code": protocole}).df())


def _perimetres(store, protocole: str) -> pd.DataFrame:
    """`requetes.perimetres(store, protocole)` (même droit)."""
    exiger(store, "consulter_referentiel")
    return store.lire(lambda con: con.execute(requetes.SQL_PERIMETRES, {"code": protocole}).df())


# Les dépôts de `depots.liste_depots` (mêmes lignes, même ordre, mêmes types), sans les colonnes dont le rapport ne se
# sert pas : la taille du fichier (octet_length du contenu : lire les fichiers déposés quadruple la lecture), son
# empreinte et le dernier commentaire de revue.
_SQL_DEPOTS = """
    SELECT d.id, d.signataire, s.nom AS signataire_nom, d.periode, d.utilisateur, d.depose_le, d.fichier_nom,
           d.nb_valeurs, d.statut
    FROM depot d LEFT JOIN signataire s ON s.protocole = d.protocole AND s.code = d.signataire
    WHERE d.protocole = ?
    ORDER BY d.id DESC
"""


def _depots(store, protocole: str) -> pd.DataFrame:
    """`depots.liste_depots(store, protocole)`, ses colonnes id, signataire, signataire_nom, periode, utilisateur,
    depose_le, fichier_nom, nb_valeurs et statut (même droit ; un contributeur ne voit que ses signataires)."""
    exiger(store, "consulter_depots")
    permis = perimetre_de(store, protocole)
    df = store.requete(_SQL_DEPOTS, [protocole])
    return df if permis is None else df[df["signataire"].isin(permis)].reset_index(drop=True)


_COLONNES_CHAINES = [c for c in avancement.COLONNES_PERIMETRE
                     if c not in avancement._FLOTTANTS + avancement._ENTIERS + ("statut",)]


def _au_perimetre_qpv(d) -> pd.DataFrame:
    """Les lignes des quartiers (niveau « QPV ») d'`avancement._au_perimetre(d)`, seules dont le rapport se sert,
    évaluées sans évaluer le territoire ni les communes : les mêmes lignes dans le même ordre, aux mêmes types (index
    mis à part, que le rapport n'emploie pas). Une colonne de chaînes sans aucune valeur sur les quartiers serait
    d'objets là où la table entière aurait des chaînes : dans ce cas (et sans aucune ligne), la table entière."""
    per = d.perimetres
    sous = replace(d, perimetres=per[per["niveau"] == "QPV"].reset_index(drop=True))
    df = avancement._au_perimetre(sous)
    if df.empty or any(df[c].dtype == object for c in _COLONNES_CHAINES):
        df = avancement._au_perimetre(d)
    return df


def _engagements_et_etats(store, protocole: str, etabli_le: dt.date) -> tuple[pd.DataFrame, bool]:
    """Les engagements (`_engagements`) avec l'état de chacun à la date du rapport (« non renseigné » sans état), et
    s'il y a au moins un état saisi. Aujourd'hui, les états courants (ceux de la page « Engagements ») ; un rapport
    daté d'avant (pour le refaire à l'identique) ignore les états saisis depuis."""
    eng = _engagements(store, protocole)
    etats = (_etats_courants(store, protocole) if etabli_le >= dt.date.today()
             else _etats_au(store, protocole, etabli_le))
    eng = eng.merge(etats, on="code", how="left")
    etats_saisis = bool(eng["etat"].notna().any())
    eng["etat"] = eng["etat"].fillna(NON_RENSEIGNE)
    return eng, etats_saisis


def _protocole_et_annee(store, protocole: str, annee: int) -> dict:
    """Le protocole (`requetes.protocole`), l'année vérifiée : dans sa période, sinon `RapportImpossible`."""
    p = requetes.protocole(store, protocole)
    debut, fin = int(p["annee_debut"]), int(p["annee_fin"])
    if not debut <= annee <= fin:
        raise RapportImpossible(f"L'année {annee} est hors de la période du protocole {protocole} "
                                f"({debut}–{fin}) : choisissez une année de {debut} à {fin}.")
    return p


def _charger(store, protocole: str, annee: int, etabli_le: dt.date) -> _Donnees:
    p = _protocole_et_annee(store, protocole, annee)
    debut = int(p["annee_debut"])
    annees = list(range(debut, annee + 1))
    # Toutes les années du rapport sur une lecture des valeurs (et non une par année), et l'année du rapport évaluée
    # une fois (et non trois : au territoire, par périmètre, par nœud) ; les tables mêmes
    # qu'`indicateurs_au_territoire`, `indicateurs_au_perimetre` et `avancement_par_noeud` (droit vérifié par
    # `construire_rapport`).
    ds = avancement._charger_periodes(store, protocole, [str(a) for a in annees], avec_noeuds=True)
    d = ds[-1]    # l'année du rapport
    # L'arborescence : les nœuds que la lecture des valeurs vient de lire, dans l'ordre de `requetes.arbre` (par
    # chemin), au lieu de la relire avec ses effectifs, dont le rapport ne se sert pas.
    arbre = d.noeuds[["code", "parent"]]
    parents = dict(zip(arbre["code"], arbre["parent"]))

    def racine_de(code):
        vus = set()
        while not _vide(parents.get(code)) and code not in vus:
            vus.add(code)
            code = parents[code]
        return code
    racine = {c: racine_de(c) for c in arbre["code"]}

    eng, etats_saisis = _engagements_et_etats(store, protocole, etabli_le)
    eng["axe"] = eng["noeud"].map(racine)
    etats_avant = {}
    if annee > debut:
        avant = _etats_au(store, protocole, dt.date(annee - 1, 12, 31))
        etats_avant = dict(zip(avant["code"], avant["etat"]))

    ind = _indicateurs(store, protocole)
    axe_eng = dict(zip(eng["code"], eng["axe"]))
    ordre_axes = {c: i for i, c in enumerate(arbre["code"])}
    axes_indicateur = {}
    for code, liste in zip(ind["code"], ind["engagements"]):
        axes = {axe_eng[e] for e in ("" if _vide(liste) else liste).split(";") if e in axe_eng}
        axes_indicateur[code] = sorted(axes, key=ordre_axes.get)

    tables = [avancement._au_territoire(x, None) for x in ds]
    ter = {a: t.set_index("indicateur", drop=False) for a, t in zip(annees, tables)}
    comp, comp_avant = _completudes(store, protocole, annee, annee > debut)
    return _Donnees(
        p=p, annee=annee, annees=annees, contrats=requetes.contrats(store, protocole),
        signataires=_signataires(store, protocole), perimetres=_perimetres(store, protocole),
        arbre=arbre, indicateurs=ind, engagements=eng, etats_avant=etats_avant, ter=ter,
        per=_au_perimetre_qpv(d),
        noeuds=avancement.comptes_par_noeud(d.noeuds, d.appartenance, tables[-1]),
        comp=comp, comp_avant=comp_avant,
        depots=_depots(store, protocole), racine=racine, axes_indicateur=axes_indicateur,
        etats_saisis=etats_saisis)


# ====================================================================================================================
# Graphiques (Plotly ; rendus en PNG par `rendre_images`)
# ====================================================================================================================

POLICE = "Liberation Sans, DejaVu Sans, Arial, sans-serif"
_GRILLE = "#E3E3E3"


def _description(traces: list[dict], hauteur: int, xaxis: dict, yaxis: dict | None = None, **layout) -> dict:
    """Les arguments de `_figure`, gardés pour construire la figure à la demande (`Graphique.figure`)."""
    return dict(traces=traces, hauteur=hauteur, xaxis=xaxis, yaxis=yaxis, **layout)


def _figure(traces: list[dict], hauteur: int, xaxis: dict, yaxis: dict | None = None, **layout):
    """Une figure Plotly sobre, en français (virgule décimale), sans gabarit Plotly (le charger coûte 0,1 s)."""
    import plotly.graph_objects as go
    return go.Figure(data=traces, layout=dict(
        width=1000, height=hauteur, separators=", ", paper_bgcolor="#FFFFFF", plot_bgcolor="#FFFFFF",
        font=dict(family=POLICE, size=15, color="#222222"), margin=dict(l=10, r=40, t=50, b=50),
        legend=dict(orientation="h", yanchor="bottom", y=1.01, xanchor="left", x=0, traceorder="normal"),
        bargap=0.28, xaxis=dict(gridcolor=_GRILLE, zerolinecolor="#999999", automargin=True, **xaxis),
        yaxis=dict(autorange="reversed", automargin=True, gridcolor=_GRILLE, **(yaxis or {})), **layout))


def _barres_empilees(lignes: list[tuple[str, dict]], categories: list[str], couleurs: dict, titre_x: str):
    traces = []
    etiquettes = [f"{e}  " for e, _ in lignes]
    for cat in categories:
        valeurs = [c.get(cat, 0) for _, c in lignes]
        if not any(valeurs):
            continue
        traces.append(dict(type="bar", orientation="h", y=etiquettes, x=valeurs, name=cat,
                           marker=dict(color=couleurs[cat], line=dict(color="#777777", width=0.6)),
                           text=[str(v) if v else "" for v in valeurs], textposition="inside",
                           insidetextanchor="middle", textfont=dict(color="#000000")))
    hauteur = 150 + 44 * len(lignes)
    return _description(traces, hauteur, dict(title=dict(text=titre_x)), barmode="stack"), hauteur


def _graphique_statuts(lignes: list[tuple[str, dict]], legende: str, quoi: str) -> Graphique | None:
    """Barres empilées : pour chaque ligne (un axe, un quartier), le nombre d'indicateurs par statut."""
    if not lignes or not any(sum(c.values()) for _, c in lignes):
        return None
    fig, hauteur = _barres_empilees(lignes, list(avancement.STATUTS), COULEURS_STATUT, "Nombre d'indicateurs")
    detail = " ; ".join(f"{e} : " + (", ".join(f"{n} {s}" for s, n in c.items() if n) or "aucun indicateur")
                        for e, c in lignes)
    alt = f"Diagramme en barres empilées du nombre d'indicateurs par statut pour chaque {quoi}. {detail}."
    return Graphique(fig, alt, legende, hauteur=hauteur)


def _graphique_etats(lignes: list[tuple[str, dict]], legende: str) -> Graphique | None:
    if not lignes:
        return None
    fig, hauteur = _barres_empilees(lignes, ORDRE_ETATS, COULEURS_ETATS, "Nombre d'engagements")
    detail = " ; ".join(f"{e} : " + ", ".join(f"{n} {s}" for s, n in c.items() if n) for e, c in lignes)
    return Graphique(fig, f"Diagramme en barres empilées du nombre d'engagements par état pour chaque axe. {detail}.",
                     legende, hauteur=hauteur)


_COLONNES_PROGRESSION = ("indicateur", "libelle", "statut", "progression", "reference", "cible_finale", "attendu")


def _graphique_progression(df: pd.DataFrame, annee: int, legende: str) -> Graphique | None:
    """Pour chaque indicateur d'un axe : la part du chemin parcouru de la référence à la cible finale (barre, à la
    couleur de son statut) et la part attendue cette année-là sur la trajectoire (losange noir). Seuls les indicateurs
    que l'on peut juger y figurent : un indicateur non renseigné ou sans cible n'a pas de progression."""
    return _progression({c: list(df[c]) for c in _COLONNES_PROGRESSION}, annee, legende)


def _progression(colonnes: dict[str, list], annee: int, legende: str) -> Graphique | None:
    """`_graphique_progression` sur les colonnes en listes (`_COLONNES_PROGRESSION`), sans DataFrame."""
    garder = [i for i, s in enumerate(colonnes["statut"]) if s in _RANG_STATUT]
    if not garder:
        return None
    df = {c: [v[i] for i in garder] for c, v in colonnes.items()}
    etiquettes, vus = [], set()
    for code, lib in zip(df["indicateur"], df["libelle"]):
        e = _court(lib, 52) + "  "
        if e in vus:   # deux libellés identiques resteraient confondus sur l'axe : le code les distingue
            e = f"{_court(lib, 40)} [{code}]  "
        vus.add(e)
        etiquettes.append(e)
    prog = [None if _vide(x) else 100 * x for x in df["progression"]]
    attendu = []
    for ref, cible, att in zip(df["reference"], df["cible_finale"], df["attendu"]):
        ok = not any(_vide(x) for x in (ref, cible, att)) and cible != ref
        attendu.append(100 * (att - ref) / (cible - ref) if ok else None)

    def borne(x):
        return max(-20.0, min(130.0, x))
    traces = []
    statuts = list(df["statut"])
    for statut in avancement.STATUTS:
        idx = [i for i, s in enumerate(statuts) if s == statut]
        if idx:
            traces.append(dict(
                type="bar", orientation="h", name=statut, y=[etiquettes[i] for i in idx],
                x=[0 if prog[i] is None else borne(prog[i]) for i in idx],
                marker=dict(color=COULEURS_STATUT[statut])))
    # Les progressions s'écrivent dans une colonne à droite : au bout des barres, elles chevaucheraient les losanges.
    traces.append(dict(type="scatter", mode="text", y=etiquettes, x=[168] * len(etiquettes), showlegend=False,
                       text=[("n. c." if x is None else format_pourcent(x, 0)) for x in prog],
                       textposition="middle left", textfont=dict(size=13), cliponaxis=False, hoverinfo="skip"))
    points = [(etiquettes[i], borne(a)) for i, a in enumerate(attendu) if a is not None]
    if points:
        traces.append(dict(type="scatter", mode="markers", name=f"attendu en {annee}", y=[p[0] for p in points],
                           x=[p[1] for p in points],
                           marker=dict(symbol="diamond", size=11, color="#000000", line=dict(color="#FFFFFF",
                                                                                             width=1))))
    hauteur = 160 + 29 * len(garder)
    fig = _description(traces, hauteur,
                       dict(title=dict(text="Part du chemin parcouru de la référence à la cible finale"),
                            range=[-22, 170], zeroline=True, tickvals=list(range(-20, 121, 20)),
                            ticktext=[format_pourcent(x, 0) for x in range(-20, 121, 20)]),
                       dict(categoryorder="array", categoryarray=etiquettes), barmode="overlay",
                       shapes=[dict(type="line", x0=100, x1=100, y0=0, y1=1, yref="paper",
                                    line=dict(color="#333333", width=1.5, dash="dash")),
                               dict(type="rect", x0=135, x1=170, y0=0, y1=1, yref="paper", fillcolor="#FFFFFF",
                                    line=dict(width=0), layer="below")],
                       annotations=[dict(x=168, y=1, yref="paper", yanchor="bottom", xanchor="right",
                                         showarrow=False, text="<b>Progression</b>", font=dict(size=13))])
    comptes = _compter(statuts)
    resume = ", ".join(f"{comptes[s]} {s}" for s in avancement.STATUTS if s in comptes)
    details = " ; ".join(
        f"{e} : {s}, " + ("progression non calculable" if p is None else f"{format_pourcent(p, 0)} du chemin")
        + ("" if a is None else f" pour {format_pourcent(a, 0)} attendus")
        for e, s, p, a in zip(etiquettes, statuts, prog, attendu))
    alt = (f"Diagramme en barres horizontales de la progression de {len(garder)} indicateurs vers leur cible finale "
           f"({resume}) ; la ligne pointillée marque la cible (100 %), le losange la progression attendue en {annee}. "
           f"{details}.")
    return Graphique(fig, alt, legende, hauteur=hauteur)


def _compter(valeurs) -> dict:
    """Valeur → nombre d'occurrences, dans l'ordre d'apparition (les cases vides ne comptent pas, comme dans
    `value_counts`)."""
    comptes: dict = {}
    for v in valeurs:
        if not _vide(v):
            comptes[v] = comptes.get(v, 0) + 1
    return comptes


def _graphique_completude(df: pd.DataFrame, annee: int) -> Graphique | None:
    if df.empty:
        return None
    traces = []
    noms, taux, statuts = list(df["nom"]), list(df["taux"]), list(df["statut"])
    for statut, couleur in COULEURS_COMPLETUDE.items():
        idx = [i for i, s in enumerate(statuts) if s == statut]
        if idx:
            traces.append(dict(type="bar", orientation="h", name=statut, y=[_court(noms[i], 48) + "  " for i in idx],
                               x=[taux[i] for i in idx], marker=dict(color=couleur),
                               text=[format_pourcent(taux[i], 0) for i in idx], textposition="outside",
                               cliponaxis=False, textfont=dict(size=13)))
    ordre = [_court(n, 48) + "  " for n in df["nom"]]
    hauteur = 150 + 27 * len(df)
    fig = _description(traces, hauteur, dict(title=dict(text=f"Valeurs {annee} reçues sur valeurs attendues"),
                                        range=[0, 112], tickvals=list(range(0, 101, 20)),
                                        ticktext=[format_pourcent(x, 0) for x in range(0, 101, 20)]),
                  dict(categoryorder="array", categoryarray=ordre))
    alt = ("Diagramme en barres horizontales de la complétude des dépôts par signataire : "
           + " ; ".join(f"{n} : {format_pourcent(t, 0)} ({r} valeurs reçues sur {a})" for n, t, r, a in
                        zip(df["nom"], df["taux"], df["recus"], df["attendus"])) + ".")
    return Graphique(fig, alt, f"Complétude des dépôts {annee}, par signataire", hauteur=hauteur)


# ====================================================================================================================
# Construction
# ====================================================================================================================

def _comptes(statuts) -> dict:
    comptes = {k: 0 for k in avancement.STATUTS}
    for s in statuts:
        if s in comptes:
            comptes[s] += 1
    return comptes


def _phrase_comptes(c: dict) -> str:
    morceaux = [f"{format_nombre(c[s])} {s}" for s in avancement.STATUTS if c.get(s)]
    return ", ".join(morceaux) if morceaux else "aucun indicateur évalué"


def _tableau_statuts(statuts: pd.Series, legende: str) -> Tableau:
    valeurs = list(statuts)
    total, comptes = len(valeurs), _compter(valeurs)
    lignes = [(s, comptes.get(s, 0)) for s in avancement.STATUTS]
    sans = sum(1 for v in valeurs if _vide(v))
    if sans:
        lignes.append((SANS_STATUT, sans))
    lignes.append(("Total", total))
    df = pd.DataFrame(lignes, columns=["Statut", "Indicateurs"])
    df["Part (%)"] = [100 * n / total if total else None for n in df["Indicateurs"]]
    return Tableau(df, legende, "Statuts", formats={"Part (%)": _pourcent}, pastilles={"Statut": COULEURS_STATUT},
                   droite=("Indicateurs", "Part (%)"), largeurs={"Statut": 3, "Indicateurs": 1.2, "Part (%)": 1.2})


def _tableau_noeuds(noeuds: pd.DataFrame, legende: str, feuille: str) -> Tableau:
    base = int(noeuds["profondeur"].min()) if len(noeuds) else 1
    colonnes = ["Axe / thématique", "Atteint", "En bonne voie", "En retard", "Non renseigné", "Sans cible",
                "Score (%)"]
    df = pd.DataFrame({
        colonnes[0]: ["\u2003" * (int(n) - base) + f"{c} — {lib}" for n, c, lib in
                      zip(noeuds["profondeur"], noeuds["code"], noeuds["libelle"])],
        "Atteint": noeuds["nb_atteint"], "En bonne voie": noeuds["nb_en_bonne_voie"],
        "En retard": noeuds["nb_en_retard"], "Non renseigné": noeuds["nb_non_renseigne"],
        "Sans cible": noeuds["nb_sans_cible"], "Score (%)": noeuds["score"]}, columns=colonnes)
    return Tableau(df.reset_index(drop=True), legende, feuille, formats={"Score (%)": _score},
                   droite=tuple(colonnes[1:]), largeurs={colonnes[0]: 5.5, **{c: 1.05 for c in colonnes[1:]}})


def _couverture(d: _Donnees, etabli_le: dt.date) -> list[tuple[str, str]]:
    p, sig = d.p, d.signataires
    signe = sig["signe"].fillna(False).astype(bool)
    signataires = sig.loc[signe, "libelle"].tolist()
    partenaires = sig.loc[~signe & sig["rattache_a"].isna(), "libelle"].tolist()
    lignes = [
        ("Territoire", str(p["territoire"])),
        ("Période du protocole", f"{p['annee_debut']}–{p['annee_fin']}"),
        ("Contrats de ville", " ; ".join(
            str(r.libelle) + (f" (signé le {_date(r.date_signature)})" if not _vide(r.date_signature) else "")
            for r in d.contrats.itertuples()) or "non renseignés"),
        ("Signature du protocole", _date(p["date_signature"]) or "date non renseignée"),
        ("Signataires", ", ".join(signataires) or "non renseignés"),
    ]
    if partenaires:
        lignes.append(("Partenaires associés", ", ".join(partenaires)))
    lignes += [("Année évaluée", str(d.annee)), ("Rapport établi le", format_date(etabli_le))]
    return lignes


# Les titres des sections : ceux du rapport et ceux du sommaire de son aperçu (`apercu`), d'une seule main.
_TITRES_SYNTHESE = [("1. Synthèse", 1), ("1.1. Indicateurs par statut", 2), ("1.2. Engagements par état", 2),
                    ("1.3. Complétude des dépôts par signataire", 2)]


def _titre_evolutions(a: int) -> str:
    return f"1.4. Ce qui a changé depuis {a - 1}"


def _titre_axe(numero: int, code, libelle) -> str:
    return f"{numero}. Axe {code} — {libelle}"


def _titre_quartiers(numero: int) -> str:
    return f"{numero}. Les quartiers"


def _titre_quartier(numero: int, i: int, libelle) -> str:
    return f"{numero}.{i}. {libelle}"


def _titre_annexe_signataires(lettre: str) -> str:
    return f"Annexe {lettre}. Les signataires"


def _titre_signataire(lettre: str, rang: int, libelle) -> str:
    return f"{lettre}.{rang}. {libelle}"


def _titres_methode(lettre: str) -> list[tuple[str, int]]:
    return [(f"Annexe {lettre}. Méthode et sources", 1), (f"{lettre}.1. Le modèle d'avancement en bref", 2),
            (f"{lettre}.2. Sources des indicateurs", 2), (f"{lettre}.3. Qui a déposé quoi et quand", 2)]


def _intro_synthese(p: dict, a: int, ter: pd.DataFrame, comp: pd.DataFrame,
                    eng: pd.DataFrame) -> tuple[list, dict]:
    """Les chiffres clés et le premier paragraphe de la synthèse (le début de sa section 1), et les comptes qu'ils
    disent : ce que montrent le rapport et son aperçu. `ter` : les indicateurs au territoire à l'année ; `comp` : la
    complétude par signataire ; `eng` : les engagements avec leur état."""
    statuts = ter["statut"]
    c = _comptes(statuts)
    n_ind = len(ter)
    attendus, recus = int(comp["attendus"].sum()), int(comp["recus"].sum())
    taux_comp = 100 * recus / attendus if attendus else None
    n_eng = len(eng)
    compte_etats = eng["etat"].value_counts()
    jugeables = c[avancement.ATTEINT] + c[avancement.EN_BONNE_VOIE] + c[avancement.EN_RETARD]
    bons = c[avancement.ATTEINT] + c[avancement.EN_BONNE_VOIE]
    chiffres = {"indicateurs": n_ind, "statuts": c, "sans_statut": int(statuts.isna().sum()),
                "engagements": n_eng, "etats": {e: int(compte_etats.get(e, 0)) for e in ORDRE_ETATS},
                "valeurs_attendues": attendus, "valeurs_recues": recus}

    intro = [
        Chiffres([
            (format_nombre(n_ind), "indicateurs suivis"),
            (format_nombre(bons), f"atteints ou en bonne voie, soit {_score(100 * bons / jugeables if jugeables else None)}"
                                  " des indicateurs jugeables"),
            (format_nombre(c[avancement.EN_RETARD]), "indicateurs en retard"),
            (_score(taux_comp), f"des valeurs {a} attendues sont reçues"),
            (format_nombre(n_eng), f"engagements, dont {format_nombre(int(compte_etats.get('réalisé', 0)))} réalisés"),
        ], legende=f"Chiffres clés {a}"),
        Paragraphe(
            f"En {a}, sur les {_pluriel(n_ind, 'indicateur')} du protocole : {_phrase_comptes(c)}"
            + (f" ; {_pluriel(int(statuts.isna().sum()), 'indicateur non agrégeable', 'indicateurs non agrégeables')}"
               " se lisent quartier par quartier" if statuts.isna().any() else "")
            + ". Ces statuts sont ceux du territoire entier, selon le modèle d'avancement résumé dans l'annexe "
              "« Méthode et sources »."),
    ]
    if p.get("demonstration"):
        intro.insert(0, Paragraphe(MENTION_DEMO, "alerte"))
    return intro, chiffres


def _synthese(d: _Donnees, etabli_le: dt.date) -> tuple[list[Section], dict]:
    a = d.annee
    ter = d.ter[a]
    statuts = ter["statut"]
    comp = d.comp
    eng = d.engagements
    intro, chiffres = _intro_synthese(d.p, a, ter, comp, eng)
    n_eng = chiffres["engagements"]
    attendus, recus = chiffres["valeurs_attendues"], chiffres["valeurs_recues"]
    taux_comp = 100 * recus / attendus if attendus else None
    titres = [t for t, _ in _TITRES_SYNTHESE]
    sections = [Section(titres[0], 1, "synthese", intro)]

    # -- Indicateurs par statut
    axes = d.noeuds[d.noeuds["profondeur"] == 1]
    lignes = [(_court(f"{r.code} — {r.libelle}", 50),
               {"atteint": r.nb_atteint, "en bonne voie": r.nb_en_bonne_voie, "en retard": r.nb_en_retard,
                "non renseigné": r.nb_non_renseigne, "sans cible": r.nb_sans_cible}) for r in axes.itertuples()]
    blocs = [_tableau_statuts(statuts, f"Indicateurs par statut en {a} (territoire entier)")]
    g = _graphique_statuts(lignes, f"Indicateurs par statut et par axe en {a}", "axe")
    if g:
        blocs.append(g)
    blocs.append(_tableau_noeuds(axes, f"Avancement des axes en {a}", "Avancement des axes"))
    blocs.append(Paragraphe("Score : part des indicateurs atteints ou en bonne voie parmi ceux que l'on peut juger "
                            "(atteints, en bonne voie, en retard). Un indicateur compte pour un axe s'il mesure l'un de "
                            "ses engagements ; il peut donc compter pour plusieurs axes.", "note"))
    sections.append(Section(titres[1], 2, "synthese-statuts", blocs))

    # -- Engagements par état
    df = pd.DataFrame({"État": ORDRE_ETATS, "Engagements": [chiffres["etats"][e] for e in ORDRE_ETATS]})
    df.loc[len(df)] = ["Total", n_eng]
    df["Part (%)"] = [100 * n / n_eng if n_eng else None for n in df["Engagements"]]
    n_nr = chiffres["etats"][NON_RENSEIGNE]
    blocs = [Paragraphe(
        f"État des {_pluriel(n_eng, 'engagement')} au {format_date(etabli_le)} : le dernier état saisi pour chacun. "
        + (f"{_pluriel(n_nr, 'engagement n’a', 'engagements n’ont')} encore aucun état saisi (« non renseigné », ce "
           "qui n'est pas « non démarré »)." if n_nr else "Chaque engagement a un état saisi."))]
    blocs.append(Tableau(df, f"Engagements par état au {format_date(etabli_le)}", "Engagements par état",
                         formats={"Part (%)": _pourcent}, pastilles={"État": COULEURS_ETATS},
                         droite=("Engagements", "Part (%)"), largeurs={"État": 3, "Engagements": 1.2, "Part (%)": 1.2}))
    if d.etats_saisis:
        lignes_etats = []
        etats_par_axe: dict = {}
        for axe, etat in zip(eng["axe"], eng["etat"]):
            if not _vide(etat):
                sous = etats_par_axe.setdefault(axe, {})
                sous[etat] = sous.get(etat, 0) + 1
        for code, lib in zip(axes["code"], axes["libelle"]):
            sous = etats_par_axe.get(code, {})
            lignes_etats.append((_court(f"{code} — {lib}", 50), {e: sous.get(e, 0) for e in ORDRE_ETATS}))
        g = _graphique_etats(lignes_etats, f"Engagements par état et par axe au {format_date(etabli_le)}")
        if g:
            blocs.append(g)
    sections.append(Section(titres[2], 2, "synthese-engagements", blocs))

    # -- Complétude
    incomplets = comp.loc[comp["statut"] != "complet", "nom"].tolist()
    if attendus:
        texte = (f"{format_nombre(recus)} valeurs {a} reçues sur {format_nombre(attendus)} attendues "
                 f"({_pourcent(taux_comp)}). " + (f"Dépôts incomplets : {', '.join(incomplets)}." if incomplets else
                                                  "Tous les signataires ont déposé ce qui était attendu."))
    else:
        texte = f"Aucune valeur n'est attendue pour {a}."
    blocs = [Paragraphe(texte)]
    g = _graphique_completude(comp, a)
    if g:
        blocs.append(g)
    blocs.append(_tableau_completude(comp, a))
    sections.append(Section(titres[3], 2, "synthese-completude", blocs))
    sections.append(Section(_titre_evolutions(a), 2, "synthese-evolutions", _evolutions(d)))
    return sections, chiffres


def _tableau_completude(comp: pd.DataFrame, annee: int) -> Tableau:
    df = pd.DataFrame({
        "Signataire": comp["nom"], "Attendues": comp["attendus"].astype("int64"),
        "Reçues": comp["recus"].astype("int64"), "Complétude (%)": comp["taux"], "Statut": comp["statut"],
        "Dernier dépôt": comp["dernier_depot"]})
    return Tableau(df, f"Complétude des dépôts {annee} par signataire", "Complétude",
                   formats={"Complétude (%)": _pourcent, "Dernier dépôt": _date},
                   pastilles={"Statut": COULEURS_COMPLETUDE}, droite=("Attendues", "Reçues", "Complétude (%)"),
                   largeurs={"Signataire": 4.4, "Attendues": 1.2, "Reçues": 1.1, "Complétude (%)": 1.4, "Statut": 1.7,
                             "Dernier dépôt": 2.2})


def _evolutions(d: _Donnees) -> list:
    a = d.annee
    if a - 1 not in d.ter:
        return [Paragraphe(f"{a} est la première année du protocole : il n'y a pas d'année précédente à comparer.")]
    avant, apres = d.ter[a - 1], d.ter[a]
    statut_avant = {k: (None if _vide(v) else v) for k, v in zip(avant["indicateur"], avant["statut"])}
    valeur_avant = dict(zip(avant["indicateur"], avant["valeur"]))
    lignes = []
    n = {"progresse": 0, "recule": 0, "autre changement": 0}
    for r in apres.itertuples(index=False):
        s1, s2 = statut_avant.get(r.indicateur), None if _vide(r.statut) else r.statut
        if s1 == s2:
            continue
        if s1 in _RANG_STATUT and s2 in _RANG_STATUT:
            sens = "progresse" if _RANG_STATUT[s2] > _RANG_STATUT[s1] else "recule"
        else:
            sens = "autre changement"
        n[sens] += 1
        lignes.append({"Indicateur": r.libelle, "Code": r.indicateur, "Unité": r.unite,
                       f"Statut {a - 1}": s1 or SANS_STATUT, f"Statut {a}": s2 or SANS_STATUT,
                       f"Valeur {a - 1}": valeur_avant.get(r.indicateur), f"Valeur {a}": r.valeur, "Évolution": sens})
    if lignes:
        texte = (f"De {a - 1} à {a}, {_pluriel(len(lignes), 'indicateur change', 'indicateurs changent')} de statut : "
                 f"{format_nombre(n['progresse'])} progresse{'nt' if n['progresse'] > 1 else ''}, "
                 f"{format_nombre(n['recule'])} recule{'nt' if n['recule'] > 1 else ''}, "
                 f"{_pluriel(n['autre changement'], 'autre changement')} (vers ou depuis « non renseigné » ou « sans "
                 "cible »).")
    else:
        texte = f"Aucun indicateur ne change de statut de {a - 1} à {a}."
    blocs = [Paragraphe(texte)]
    if lignes:
        valeurs = (f"Valeur {a - 1}", f"Valeur {a}")
        blocs.append(Tableau(
            pd.DataFrame(lignes), f"Indicateurs dont le statut change de {a - 1} à {a}", "Évolutions indicateurs",
            pastilles={f"Statut {a - 1}": COULEURS_STATUT, f"Statut {a}": COULEURS_STATUT}, droite=valeurs,
            unite="Unité", avec_unite=valeurs, masquees=("Code", "Unité"),
            largeurs={"Indicateur": 6, f"Statut {a - 1}": 1.8, f"Statut {a}": 1.8, valeurs[0]: 1.3, valeurs[1]: 1.3,
                      "Évolution": 1.7}))
    if d.comp_avant is not None:
        (attendus0, recus0), c1 = d.comp_avant, d.comp
        t0 = 100 * recus0 / attendus0 if attendus0 else None
        t1 = 100 * c1["recus"].sum() / c1["attendus"].sum() if c1["attendus"].sum() else None
        blocs.append(Paragraphe(f"Complétude des dépôts : {_pourcent(t1)} des valeurs {a} attendues sont reçues, "
                                f"contre {_pourcent(t0)} pour {a - 1}."))
    eng = d.engagements
    change = [d.etats_avant.get(c, NON_RENSEIGNE) != e for c, e in zip(eng["code"], eng["etat"])]
    changes = eng[change]
    if changes.empty:
        blocs.append(Paragraphe(f"Aucun engagement n'a changé d'état depuis le 31 décembre {a - 1}."))
    else:
        blocs.append(Paragraphe(f"{_pluriel(len(changes), 'engagement a', 'engagements ont')} changé d'état depuis le "
                                f"31 décembre {a - 1}."))
        avant_col = f"État au 31/12/{a - 1}"
        df = pd.DataFrame({
            "Code": changes["code"], "Engagement": changes["libelle"].map(_majuscule),
            avant_col: [d.etats_avant.get(c, NON_RENSEIGNE) for c in changes["code"]],
            "État actuel": changes["etat"], "Depuis le": changes["date_etat"]}).reset_index(drop=True)
        blocs.append(Tableau(df, f"Engagements qui ont changé d'état depuis le 31 décembre {a - 1}",
                             "Évolutions engagements", formats={"Depuis le": _date},
                             pastilles={avant_col: COULEURS_ETATS, "État actuel": COULEURS_ETATS},
                             largeurs={"Code": 1, "Engagement": 6, avant_col: 1.8, "État actuel": 1.8,
                                       "Depuis le": 1.9}))
    return blocs


def _indicateurs_de(d: _Donnees, positions: list[int]) -> pd.DataFrame:
    """Le tableau des indicateurs `positions` du territoire (`d.ter[d.annee]`), pris dans celui de tous ; construit à
    part sans ligne, ou quand une colonne de valeurs d'une année n'aurait aucune valeur (elle serait d'objets)."""
    ter = d.ter[d.annee]
    valeurs_annee = _valeurs_annee(d)
    codes = list(ter["indicateur"])
    if positions and all(any(valeurs_annee[y].get(codes[i]) is not None for i in positions) for y in d.annees):
        return _extraire(_memo(d, "tableau_indicateurs", lambda: _donnees_indicateurs(d, ter.reset_index(drop=True))),
                         positions)
    return _donnees_indicateurs(d, ter.take(positions).reset_index(drop=True))


def _indicateurs_axe(d: _Donnees, axe: str) -> pd.DataFrame:
    codes = [c for c in d.indicateurs["code"] if axe in d.axes_indicateur.get(c, ())]
    ter = d.ter[d.annee]
    return ter.loc[codes].reset_index(drop=True) if codes else ter.iloc[0:0].reset_index(drop=True)


def _valeurs_annee(d: _Donnees) -> dict:
    """Année → {indicateur: valeur au territoire}."""
    return _memo(d, "valeurs_annee", lambda: {y: dict(zip(d.ter[y]["indicateur"], d.ter[y]["valeur"]))
                                              for y in d.annees})


def _tableau_indicateurs(d: _Donnees, df: pd.DataFrame, legende: str, feuille: str) -> Tableau:
    return _tableau_indicateurs_de(d, _donnees_indicateurs(d, df), legende, feuille)


def _donnees_indicateurs(d: _Donnees, df: pd.DataFrame) -> pd.DataFrame:
    valeurs_annee = _valeurs_annee(d)
    return pd.DataFrame({
        "Indicateur": df["libelle"], "Code": df["indicateur"], "Unité": df["unite"], "Référence": df["reference"],
        "Année de référence": df["annee_reference"], "Cible": df["cible_finale"], "Année de la cible": df["annee_cible"],
        **{f"Valeur {y}": [valeurs_annee[y].get(c) for c in df["indicateur"]] for y in d.annees},
        "Statut": [SANS_STATUT if _vide(s) else s for s in df["statut"]], "Explication": df["explication"]})


def _tableau_indicateurs_de(d: _Donnees, t: pd.DataFrame, legende: str, feuille: str) -> Tableau:
    valeurs = tuple(["Référence", "Cible"] + [f"Valeur {y}" for y in d.annees])
    return Tableau(
        t, legende, feuille, unite="Unité", avec_unite=valeurs, droite=valeurs, detail="Explication",
        masquees=("Code", "Unité", "Année de référence", "Année de la cible"),
        suffixes={"Référence": "Année de référence", "Cible": "Année de la cible"},
        formats={"Année de référence": _annee, "Année de la cible": _annee}, pastilles={"Statut": COULEURS_STATUT},
        vide="Aucun indicateur ne mesure les engagements de cet axe.",
        largeurs={"Indicateur": max(3.2, 7.4 - 0.9 * len(d.annees)), "Référence": 1.9, "Cible": 1.9,
                  **{f"Valeur {y}": 1.45 for y in d.annees}, "Statut": 1.9})


def _tableau_engagements(eng: pd.DataFrame, legende: str, feuille: str, dans_document: bool = True) -> Tableau:
    return _tableau_engagements_de(_donnees_engagements(eng), legende, feuille, dans_document)


def _engagements_de(d: _Donnees, positions: list[int], legende: str, feuille: str,
                    dans_document: bool = True) -> Tableau:
    """Le tableau des engagements `positions` de `d.engagements`, pris dans le tableau de tous les engagements (ses
    colonnes faites de listes sont toujours des textes : mêmes types que construit à part, s'il y a des lignes)."""
    if positions:
        df = _extraire(_memo(d, "tableau_engagements", lambda: _donnees_engagements(d.engagements)), positions)
    else:
        df = _donnees_engagements(d.engagements.iloc[positions])
    return _tableau_engagements_de(df, legende, feuille, dans_document)


def _donnees_engagements(eng: pd.DataFrame) -> pd.DataFrame:
    commentaires = []
    for com, quand, qui in zip(eng["commentaire"], eng["date_etat"], eng["auteur"]):
        if _vide(quand):
            commentaires.append("")
            continue
        source = f"{_date(quand)}" + ("" if _vide(qui) else f", {qui}")
        commentaires.append(f"{com} ({source})" if not _vide(com) else f"État du {source}.")
    df = pd.DataFrame({
        "Code": eng["code"], "Thématique": eng["noeud"],
        "Engagement": [("– " if not _vide(p) else "") + _majuscule(lib) for p, lib in zip(eng["parent"],
                                                                                          eng["libelle"])],
        "Porteurs": [("" if _vide(p) else p.replace(";", ", ")) for p in eng["porteurs"]],
        "État": eng["etat"], "Dernier commentaire": commentaires}).reset_index(drop=True)
    return df


def _tableau_engagements_de(df: pd.DataFrame, legende: str, feuille: str, dans_document: bool = True) -> Tableau:
    # Le dernier commentaire s'écrit sous l'engagement, sur toute la largeur : dans une colonne, il étirerait chaque
    # ligne sur cinq ou six lignes.
    return Tableau(df, legende, feuille, pastilles={"État": COULEURS_ETATS}, vide="Aucun engagement.",
                   detail="Dernier commentaire", dans_document=dans_document,
                   largeurs={"Code": 1.0, "Thématique": 1.5, "Engagement": 7.0, "Porteurs": 2.8, "État": 1.8})


def _section_axe(d: _Donnees, numero: int, r) -> Section:
    a = d.annee
    # Les lignes de l'axe, prises dans des tableaux et des listes faits une fois pour tous les axes.
    ter = d.ter[a]
    par_code = _memo(d, "positions_ter", lambda: _positions(ter["indicateur"]))
    pos_ind = [i for c in d.indicateurs["code"] if r.code in d.axes_indicateur.get(c, ()) for i in par_code[c]]
    pos_eng = _memo(d, "engagements_par_axe", lambda: _positions(d.engagements["axe"])).get(r.code, [])
    etats_eng = _memo(d, "etats_engagements", lambda: list(d.engagements["etat"]))
    c = {"atteint": r.nb_atteint, "en bonne voie": r.nb_en_bonne_voie, "en retard": r.nb_en_retard,
         "non renseigné": r.nb_non_renseigne, "sans cible": r.nb_sans_cible}
    jugeables = r.nb_atteint + r.nb_en_bonne_voie + r.nb_en_retard
    etats = _compter(etats_eng[i] for i in pos_eng)
    texte = (f"{_pluriel(len(pos_eng), 'engagement')}, {_pluriel(len(pos_ind), 'indicateur')}. "
             f"En {a} : {_phrase_comptes(c)}. ")
    bons = r.nb_atteint + r.nb_en_bonne_voie
    texte += (f"Score : {_score(r.score)} ({_pluriel(bons, 'indicateur atteint', 'indicateurs atteints')} ou en "
              f"bonne voie sur {format_nombre(jugeables)} {'jugeables' if jugeables > 1 else 'jugeable'}). "
              if jugeables else "Aucun indicateur ne peut encore être jugé (ni valeur, ni cible). ")
    if pos_eng:
        texte += "Engagements : " + ", ".join(f"{format_nombre(int(etats[e]))} {e}" for e in ORDRE_ETATS
                                              if e in etats) + "."
    blocs = [Paragraphe(texte)]
    pos_sous = [i for i, n in enumerate(d.noeuds["code"]) if n != r.code and d.racine.get(n) == r.code]
    if pos_sous:
        blocs.append(_tableau_noeuds(d.noeuds.take(pos_sous), f"Avancement des thématiques de l'axe {r.code} en {a}",
                                     f"Axe {r.code} thématiques"))
    listes = _memo(d, "listes_ter", lambda: {c: list(ter[c]) for c in _COLONNES_PROGRESSION})
    g = _progression({c: [v[i] for i in pos_ind] for c, v in listes.items()}, a,
                     f"Progression des indicateurs de l'axe {r.code} vers leur cible ({a}) ; les indicateurs non "
                     "renseignés ou sans cible n'y figurent pas")
    if g:
        blocs.append(g)
    elif pos_ind:
        blocs.append(Paragraphe(f"Aucun indicateur de cet axe ne peut être jugé en {a} (ni atteint, ni en bonne voie, "
                                "ni en retard) : pas de graphique de progression.", "note"))
    blocs.append(_tableau_indicateurs_de(d, _indicateurs_de(d, pos_ind), f"Indicateurs de l'axe {r.code} : référence, "
                                         f"cible, valeurs et statut en {a}", f"Axe {r.code} indicateurs"))
    blocs.append(_engagements_de(d, pos_eng, f"Engagements de l'axe {r.code} : état et dernier commentaire",
                                 f"Axe {r.code} engagements"))
    return Section(_titre_axe(numero, r.code, r.libelle), 1, f"axe-{_ancre(r.code)}", blocs)


def _sections_quartiers(d: _Donnees, numero: int) -> list[Section]:
    a = d.annee
    qpv = d.perimetres[d.perimetres["niveau"] == "QPV"]
    titre = _titre_quartiers(numero)
    if qpv.empty:
        return [Section(titre, 1, "quartiers", [Paragraphe("Ce protocole ne déclare aucun quartier.")])]
    ter = d.ter[a]
    valeur_ter = dict(zip(ter["indicateur"], ter["valeur"]))
    statut_ter = {k: (SANS_STATUT if _vide(s) else s) for k, s in zip(ter["indicateur"], ter["statut"])}
    # Les lignes de chaque quartier, prises dans un tableau fait une fois pour tous (et non un groupe par quartier).
    per_q = d.per[d.per["niveau"] == "QPV"]
    par_quartier = _positions(per_q["perimetre"])
    statuts_q = list(per_q["statut"])
    quartiers = list(qpv.itertuples())
    lignes_graph, resume = [], []
    for q in quartiers:
        pos = par_quartier.get(q.code, [])
        c = _comptes(statuts_q[i] for i in pos)
        lignes_graph.append((_court(q.libelle, 40), c))
        resume.append({"Quartier": q.libelle, "Code": q.code, "Type": q.type, "Communes": q.communes_noms,
                       "Indicateurs": len(pos), **{_majuscule(s): c[s] for s in avancement.STATUTS}})
    intro = [Paragraphe(
        f"Pour chaque quartier, les indicateurs qui y ont une valeur, une référence ou une cible, évalués sur le "
        f"quartier et comparés au territoire entier en {a}. Pour un taux, l'écart au territoire est en points ; pour un "
        "nombre, la part du quartier dans le total du territoire.")]
    g = _graphique_statuts(lignes_graph, f"Indicateurs par statut et par quartier en {a}", "quartier")
    if g:
        intro.append(g)
    df = pd.DataFrame(resume)
    intro.append(Tableau(df, f"Les quartiers : indicateurs suivis et statuts en {a}", "Quartiers",
                         droite=tuple(df.columns[4:]), masquees=("Type",),
                         largeurs={"Quartier": 3.2, "Code": 1.8, "Communes": 3, "Indicateurs": 1.35,
                                   **{_majuscule(s): 1.25 for s in avancement.STATUTS}}))
    sections = [Section(titre, 1, "quartiers", intro)]
    tous = None
    codes_q = list(per_q["indicateur"])
    for i, q in enumerate(quartiers, start=1):
        pos = par_quartier.get(q.code, [])
        # La colonne du territoire est faite d'une liste : sans aucune valeur, pandas en ferait une colonne d'objets.
        if pos and any(valeur_ter.get(codes_q[j]) is not None for j in pos):
            if tous is None:
                tous = _donnees_quartier(per_q, a, valeur_ter, statut_ter)
            df = _extraire(tous, pos)
        else:
            df = _donnees_quartier(per_q.take(pos) if pos else d.per.iloc[0:0], a, valeur_ter, statut_ter)
        tab = Tableau(
            df, f"{q.libelle} : indicateurs du quartier comparés au territoire en {a}", f"QPV {q.code}",
            unite="Unité", avec_unite=(f"Quartier {a}", "Cible du quartier", f"Territoire {a}"),
            formats={"Année de la cible": _annee}, masquees=("Code", "Unité", "Année de la cible"),
            suffixes={"Cible du quartier": "Année de la cible"},
            pastilles={"Statut du quartier": COULEURS_STATUT, "Statut du territoire": COULEURS_STATUT},
            droite=(f"Quartier {a}", "Cible du quartier", f"Territoire {a}", "Comparaison au territoire"),
            vide="Aucun indicateur n'a de valeur, de référence ni de cible pour ce quartier.",
            largeurs={"Indicateur": 5.4, f"Quartier {a}": 1.3, "Cible du quartier": 1.7, "Statut du quartier": 1.8,
                      f"Territoire {a}": 1.4, "Statut du territoire": 1.8, "Comparaison au territoire": 1.6})
        c = _comptes(statuts_q[j] for j in pos)
        type_q = "Territoire de veille active" if q.type == "Veille active" else "Quartier prioritaire"
        plusieurs = ";" in str(q.communes or "")
        texte = (f"{type_q} {q.code}, commune{'s' if plusieurs else ''} : {q.communes_noms or 'non renseignée'}. "
                 + (f"{_pluriel(len(pos), 'indicateur suivi', 'indicateurs suivis')} en {a} : {_phrase_comptes(c)}."
                    if len(pos) else "Aucun indicateur n'y est suivi."))
        sections.append(Section(_titre_quartier(numero, i, q.libelle), 2, f"qpv-{_ancre(q.code)}",
                                [Paragraphe(texte, "chapeau"), tab]))
    return sections


def _donnees_quartier(sous: pd.DataFrame, a: int, valeur_ter: dict, statut_ter: dict) -> pd.DataFrame:
    """Le tableau d'un quartier (les lignes de `d.per` de ce quartier), comparé au territoire."""
    comparaisons = []
    for code, unite, v in zip(sous["indicateur"], sous["unite"], sous["valeur"]):
        vt = valeur_ter.get(code)
        if _vide(v) or _vide(vt):
            comparaisons.append("–")
        elif unite == "%":
            e = v - vt
            signe = "+" if e > 0 else "−" if e < 0 else ""
            comparaisons.append(f"{signe}{format_nombre(abs(e))}{ESPACE_INSECABLE}"
                                f"point{'s' if abs(e) >= 2 else ''}")
        elif vt:
            comparaisons.append(f"{format_pourcent(100 * v / vt, 0)} du total")
        else:
            comparaisons.append("–")
    df = pd.DataFrame({
        "Indicateur": sous["libelle"], "Code": sous["indicateur"], "Unité": sous["unite"],
        f"Quartier {a}": sous["valeur"], "Cible du quartier": sous["cible_finale"],
        "Année de la cible": sous["annee_cible"], "Statut du quartier": sous["statut"],
        f"Territoire {a}": [valeur_ter.get(c) for c in sous["indicateur"]],
        "Statut du territoire": [statut_ter.get(c, SANS_STATUT) for c in sous["indicateur"]],
        "Comparaison au territoire": comparaisons}).reset_index(drop=True)
    return df


def _couverts(sig: pd.DataFrame, code: str) -> set[str]:
    """Le signataire et, récursivement, ses services."""
    enfants: dict[str, list[str]] = {}
    for c, parent in zip(sig["code"], sig["rattache_a"]):
        if not _vide(parent):
            enfants.setdefault(parent, []).append(c)
    vus, pile = set(), [code]
    while pile:
        c = pile.pop()
        if c not in vus:
            vus.add(c)
            pile.extend(enfants.get(c, []))
    return vus


def _fiches_signataires(sig: pd.DataFrame, porteurs: list[set], par_sig_ind: dict,
                        par_sig_dep: dict) -> tuple[list[tuple], list[str]]:
    """Les signataires qui ont une fiche dans l'annexe — ceux qui portent un engagement, déclarent un indicateur ou ont
    déposé pour l'année —, chacun avec les positions de ses engagements, indicateurs et dépôts, dans l'ordre ; et les
    noms des autres. `porteurs` : les porteurs de chaque engagement ; `par_sig_ind`, `par_sig_dep` : signataire →
    positions de ses indicateurs, de ses dépôts de l'année."""
    fiches, sans_rien = [], []
    for s in sig.itertuples():
        mes_eng = [i for i, ps in enumerate(porteurs) if s.code in ps]
        mes_ind = par_sig_ind.get(s.code, [])
        mes_dep = par_sig_dep.get(s.code, [])
        if not mes_eng and not mes_ind and not mes_dep:
            sans_rien.append(s.libelle)
        else:
            fiches.append((s, mes_eng, mes_ind, mes_dep))
    return fiches, sans_rien


def _porteurs(eng: pd.DataFrame) -> list[set]:
    return [set(("" if _vide(p) else p).split(";")) for p in eng["porteurs"]]


def _sections_annexes(d: _Donnees, lettre: str) -> list[Section]:
    a = d.annee
    sig = d.signataires
    eng = d.engagements
    porteurs = _porteurs(eng)
    ind = d.indicateurs
    ter = d.ter[a]
    valeur_ter = dict(zip(ter["indicateur"], ter["valeur"]))
    statut_ter = {k: (SANS_STATUT if _vide(s) else s) for k, s in zip(ter["indicateur"], ter["statut"])}
    renseignes = {k: f"{int(r)} sur {int(n)}" for k, r, n in zip(ter["indicateur"], ter["nb_renseignes"],
                                                                   ter["nb_perimetres"])}
    comp = {r.signataire: r for r in d.comp.itertuples()}
    dep = _depots_annee(d)
    noms = dict(zip(sig["code"], sig["libelle"]))
    ordre_sig = list(sig["code"])
    # Les lignes de chaque signataire, prises dans des tableaux faits une fois pour tous (et non trois filtres de
    # tables larges et trois DataFrame par signataire).
    par_sig_ind, par_sig_dep = _positions(ind["signataire"]), _positions(dep["signataire"])
    codes_eng, etats_eng, codes_ind = list(eng["code"]), list(eng["etat"]), list(ind["code"])
    tous_ind = tous_dep = None
    sections = []
    fiches, sans_rien = _fiches_signataires(sig, porteurs, par_sig_ind, par_sig_dep)
    for s, mes_eng, mes_ind, mes_dep in fiches:
        infos = [f"{s.categorie} ({s.code})", "signe le protocole" if s.signe else "ne signe pas le protocole"]
        if not _vide(s.rattache_a):
            infos.append(f"rattaché à : {noms.get(s.rattache_a, s.rattache_a)}")
        services = sorted(_couverts(sig, s.code) - {s.code}, key=ordre_sig.index)
        if services:
            infos.append("services : " + ", ".join(noms[c] for c in services))
        blocs = [Paragraphe(" ; ".join(infos) + ".")]
        if s.code in comp:
            c = comp[s.code]
            blocs.append(Paragraphe(
                f"Dépôts {a} : {format_nombre(int(c.recus))} valeurs reçues sur {format_nombre(int(c.attendus))} "
                f"attendues ({_pourcent(c.taux)}, {c.statut})"
                + (f" ; dernier dépôt le {_date(c.dernier_depot)}." if not _vide(c.dernier_depot) else ".")))
        if not mes_eng:
            blocs.append(Paragraphe("Aucun engagement porté en propre.", "note"))
        else:
            # Imprimés, les engagements d'un signataire répéteraient mot pour mot ceux des axes (un engagement commun
            # à sept signataires y figurerait sept fois) : le document en donne les codes par état, le classeur la
            # liste complète.
            par_etat: dict = {}
            for i in mes_eng:
                if not _vide(etats_eng[i]):
                    par_etat.setdefault(etats_eng[i], []).append(codes_eng[i])
            seul = sum(len(ps) == 1 for ps, garde in zip(porteurs, [s.code in ps for ps in porteurs]) if garde)
            texte = (f"{_pluriel(len(mes_eng), 'engagement porté', 'engagements portés')}"
                     + (f", dont {format_nombre(seul)} seul" if seul else ", tous avec d'autres signataires")
                     + " (intitulés dans les sections des axes) : "
                     + " ; ".join(f"{e} ({len(par_etat[e])}) : {', '.join(par_etat[e])}" for e in ORDRE_ETATS
                                  if e in par_etat) + ".")
            blocs.append(Paragraphe(texte))
            blocs.append(_engagements_de(d, mes_eng, f"Engagements portés par {s.libelle}", f"{s.code} engagements",
                                         dans_document=False))
        if mes_ind:
            # Deux colonnes sont faites de listes : sans aucune valeur, pandas en ferait des colonnes d'objets.
            if all(any(x.get(codes_ind[i]) is not None for i in mes_ind) for x in (valeur_ter, renseignes)):
                if tous_ind is None:
                    tous_ind = _donnees_indicateurs_signataire(ind, a, valeur_ter, statut_ter, renseignes)
                df = _extraire(tous_ind, mes_ind)
            else:
                df = _donnees_indicateurs_signataire(ind.take(mes_ind), a, valeur_ter, statut_ter, renseignes)
            blocs.append(Tableau(
                df, f"Indicateurs déclarés par {s.libelle} (valeur et statut du territoire en {a})",
                f"{s.code} indicateurs", unite="Unité", avec_unite=(f"Valeur {a}",), masquees=("Code", "Unité"),
                pastilles={"Statut": COULEURS_STATUT}, droite=(f"Valeur {a}", "Périmètres renseignés"),
                largeurs={"Indicateur": 6.2, "Niveau": 1.4, f"Valeur {a}": 1.4, "Statut": 1.9,
                          "Périmètres renseignés": 1.7}))
        else:
            blocs.append(Paragraphe("Aucun indicateur déclaré.", "note"))
        if mes_dep:
            if tous_dep is None:
                tous_dep = _donnees_depots(dep, avec_signataire=False)
            blocs.append(_tableau_depots_de(_extraire(tous_dep, mes_dep), f"Dépôts de {s.libelle} pour {a}",
                                            f"{s.code} dépôts"))
        elif mes_ind:
            blocs.append(Paragraphe(f"Aucun dépôt pour {a}.", "note"))
        sections.append(Section(_titre_signataire(lettre, len(sections) + 1, s.libelle), 2, f"annexe-{_ancre(s.code)}",
                                blocs))
    intro = [Paragraphe(
        f"Pour chaque signataire et partenaire : les engagements qu'il porte (seul ou avec d'autres) et leur état, les "
        f"indicateurs qu'il déclare et leur statut en {a}, ses dépôts pour {a} avec leur date. La liste complète de ses "
        "engagements, avec leurs intitulés, est aussi dans le classeur Excel du rapport.")]
    if sans_rien:
        intro.append(Paragraphe("Sans engagement porté, indicateur déclaré ni dépôt : " + ", ".join(sans_rien) + "."))
    return [Section(_titre_annexe_signataires(lettre), 1, "annexe-signataires", intro)] + sections


def _donnees_indicateurs_signataire(ind: pd.DataFrame, a: int, valeur_ter: dict, statut_ter: dict,
                                    renseignes: dict) -> pd.DataFrame:
    """Le tableau des indicateurs que déclare un signataire (les lignes `ind` de `d.indicateurs`)."""
    return pd.DataFrame({
        "Indicateur": ind["libelle"], "Code": ind["code"], "Niveau": ind["niveau"],
        "Unité": ind["unite"], f"Valeur {a}": [valeur_ter.get(c) for c in ind["code"]],
        "Statut": [statut_ter.get(c, SANS_STATUT) for c in ind["code"]],
        "Périmètres renseignés": [renseignes.get(c) for c in ind["code"]]}).reset_index(drop=True)


def _depots_annee(d: _Donnees) -> pd.DataFrame:
    """Les dépôts pour l'année du rapport (ses semestres compris)."""
    return _memo(d, "depots_annee", lambda: _depots_de_l_annee(d.depots, d.annee))


def _depots_de_l_annee(dep: pd.DataFrame, annee: int) -> pd.DataFrame:
    return dep[dep["periode"].fillna("").str.startswith(str(annee))]


def _tableau_depots(dep: pd.DataFrame, legende: str, feuille: str, avec_signataire: bool = True) -> Tableau:
    return _tableau_depots_de(_donnees_depots(dep, avec_signataire), legende, feuille)


def _donnees_depots(dep: pd.DataFrame, avec_signataire: bool = True) -> pd.DataFrame:
    df = pd.DataFrame({
        "N°": dep["id"].astype("int64"), "Déposé le": dep["depose_le"], "Signataire": dep["signataire_nom"],
        "Période": dep["periode"], "Fichier": dep["fichier_nom"], "Valeurs": dep["nb_valeurs"].astype("int64"),
        "Par": dep["utilisateur"], "Revue": dep["statut"]}).reset_index(drop=True)
    if not avec_signataire:
        df = df.drop(columns=["Signataire"])
    return df


def _tableau_depots_de(df: pd.DataFrame, legende: str, feuille: str) -> Tableau:
    return Tableau(df, legende, feuille, formats={"Déposé le": _date_heure}, droite=("N°", "Valeurs"),
                   vide="Aucun dépôt.",
                   largeurs={"N°": 0.8, "Déposé le": 3.1, "Signataire": 3.4, "Période": 1.2, "Fichier": 3.8,
                             "Valeurs": 1.1, "Par": 2, "Revue": 1.3})


def _sections_methode(d: _Donnees, lettre: str, etabli_le: dt.date) -> list[Section]:
    a = d.annee
    tol = format_nombre(avancement.TOLERANCE * 100)
    statuts = pd.DataFrame([
        (avancement.SANS_CIBLE, "Aucune cible n'est fixée pour ce périmètre : rien n'est attendu, on ne juge pas."),
        (avancement.NON_RENSEIGNE, f"Une cible existe, mais aucune valeur n'a été déposée pour {a}."),
        (avancement.ATTEINT, "La valeur atteint ou dépasse la cible finale dans le sens souhaité, même avant "
                             "l'échéance."),
        (avancement.EN_BONNE_VOIE, "La valeur est au niveau de la trajectoire de la référence à la cible, ou en deçà "
                                   f"de moins de {tol} % du chemin à parcourir."),
        (avancement.EN_RETARD, "Sinon."),
    ], columns=["Statut", "Quand"])
    intro = [Paragraphe(
        f"Ce rapport est établi le {format_date(etabli_le)} à partir de la base perr-metrics, sans ressaisie : chaque "
        "chiffre vient des valeurs déposées par les partenaires. Pour chaque indicateur, périmètre et période, la "
        "valeur retenue est celle du dépôt le plus récent que la coordination n'a pas marqué « à corriger » ; les "
        "valeurs antérieures restent dans l'historique de la base.")]
    if d.p.get("demonstration"):
        intro.append(Paragraphe(MENTION_DEMO, "alerte"))
    titres = [t for t, _ in _titres_methode(lettre)]
    sections = [Section(titres[0], 1, "methode", intro)]
    sections.append(Section(titres[1], 2, "methode-modele", [
        Paragraphe("Le statut de chaque indicateur est décidé, dans cet ordre, par le modèle d'avancement de "
                   "perr-metrics (décrit en détail dans sa documentation, « Le modèle d'avancement ») :"),
        Tableau(statuts, "Les cinq statuts d'un indicateur", "Méthode statuts", pastilles={"Statut": COULEURS_STATUT},
                largeurs={"Statut": 1.5, "Quand": 6.5}),
        Liste([
            "La trajectoire relie la valeur de référence aux cibles (intermédiaires puis finale) ; la valeur attendue "
            "une année donnée est la cible de l'année ou l'interpolation linéaire entre les deux points qui "
            "l'encadrent. Une valeur annuelle vaut pour la fin de l'année.",
            f"La marge de tolérance vaut {tol} % de l'écart entre la cible finale et la référence : en deçà de la "
            "trajectoire de moins que cette marge, un indicateur reste « en bonne voie ».",
            "Sans valeur de référence, seule la cible finale est comparée : l'indicateur est « atteint » ou « en "
            "retard ».",
            "Du quartier au territoire : une somme additionne les valeurs des quartiers renseignés et les compare à la "
            "somme de leurs références et cibles ; un taux est recalculé (somme des numérateurs sur somme des "
            "dénominateurs), jamais moyenné ; un indicateur non agrégeable se lit quartier par quartier.",
            "La progression est la part du chemin parcouru : (valeur − référence) / (cible finale − référence).",
            "Le score d'un axe est la part des indicateurs atteints ou en bonne voie parmi ceux que l'on peut juger ; "
            "les indicateurs non renseignés ou sans cible n'y entrent pas.",
        ])]))
    ind = d.indicateurs
    sources = ind["source"].fillna("non précisée")
    if len(ind):
        # Le groupement de pandas (une fonction par groupe) fait en un parcours : mêmes groupes, dans le même ordre.
        groupes: dict = {}
        for source, signataire in zip(sources, ind["signataire"]):
            g = groupes.setdefault(source, [0, {}])
            g[0] += 1
            if not _vide(signataire):
                g[1][signataire] = None
        src = pd.DataFrame({"source": pd.array(list(groupes), dtype=sources.dtype),
                            "n": [g[0] for g in groupes.values()],
                            "par": [", ".join(g[1]) for g in groupes.values()]})
    else:
        src = ind.assign(source=sources).groupby("source", sort=False).agg(
            n=("code", "size"), par=("signataire", lambda s: ", ".join(dict.fromkeys(s.dropna())))).reset_index()
    src = src.sort_values(["n", "source"], ascending=[False, True])
    df = pd.DataFrame({"Source": src["source"], "Indicateurs": src["n"].astype("int64"),
                       "Déclarés par": src["par"]}).reset_index(drop=True)
    sig = d.signataires
    sigles = pd.DataFrame({"Code": sig["code"], "Signataire ou partenaire": sig["libelle"],
                           "Catégorie": sig["categorie"], "Signe le protocole": sig["signe"].astype(bool)})
    sections.append(Section(titres[2], 2, "methode-sources", [
        Paragraphe("La source de chaque indicateur est celle que déclare le référentiel du protocole ; le signataire "
                   "qui le déclare dépose ses valeurs. Les signataires sont désignés par leur code dans les tableaux "
                   "des engagements."),
        Tableau(df, "Sources des indicateurs", "Sources", droite=("Indicateurs",),
                largeurs={"Source": 3.5, "Indicateurs": 1.1, "Déclarés par": 4.5}),
        Tableau(sigles, "Codes des signataires et partenaires", "Signataires",
                largeurs={"Code": 1.8, "Signataire ou partenaire": 4.5, "Catégorie": 2, "Signe le protocole": 1.3})]))
    dep = _depots_annee(d).sort_values("depose_le")
    sections.append(Section(titres[3], 2, "methode-depots", [
        Paragraphe(f"{_pluriel(len(dep), 'dépôt')} pour {a}, du plus ancien au plus récent. Un dépôt marqué « à "
                   "corriger » ne fait pas foi ; un dépôt plus récent pour la même valeur la remplace."),
        _tableau_depots(dep, f"Les dépôts pour {a}", "Dépôts")]))
    return sections


ANNEXE_SIGNATAIRES, ANNEXE_METHODE = "A", "B"


def _nom_fichier(protocole: dict, annee: int) -> str:
    return f"rapport-{protocole['code']}-{annee}"


def _annee_lue(annee) -> int:
    try:
        return int(str(annee).strip())
    except ValueError:
        raise RapportImpossible(f"Année « {annee} » illisible : attendu une année comme 2021.") from None


@dataclass
class Apercu:
    """Ce que montre la page « Rapport annuel » avant qu'on ne prépare les fichiers : les chiffres clés et le début
    de la synthèse, et le sommaire du rapport — les mêmes que ceux de `construire_rapport` (mêmes fonctions), sans
    construire le contenu de chaque axe, quartier et signataire ni évaluer l'année précédente."""

    protocole: dict
    annee: int
    chiffres: dict                     # `Rapport.chiffres`
    synthese: list                     # les blocs de la section « 1. Synthèse » (chiffres clés, premier paragraphe)
    sommaire: list[tuple[int, str]]    # (niveau, titre) de chaque section du rapport, dans l'ordre

    @property
    def nom_fichier(self) -> str:
        """Le nom des fichiers du rapport, sans extension (`Rapport.nom_fichier`)."""
        return _nom_fichier(self.protocole, self.annee)


@operation("consulter_pilotage")
def apercu(store: Store, protocole: str, annee: int | str, *, etabli_le: dt.date | None = None) -> Apercu:
    """L'aperçu du rapport de `construire_rapport(store, protocole, annee, etabli_le=…)` (mêmes erreurs, mêmes
    droits) : une lecture des valeurs de la seule année, l'évaluation au territoire, la complétude de l'année, les
    engagements et leur état, et de quoi nommer les sections (axes, quartiers, signataires qui ont une fiche)."""
    annee = _annee_lue(annee)
    etabli_le = etabli_le or dt.date.today()
    with requetes._session(store) as s:
        p = _protocole_et_annee(s, protocole, annee)
        d = avancement._charger_periodes(s, protocole, [str(annee)])[0]
        comp, _ = _completudes(s, protocole, annee, False)
        ter = avancement._au_territoire(d, None)
        axes = s.requete(avancement._SQL_NOEUDS, [protocole]).query("profondeur == 1")
        eng = _engagements_et_etats(s, protocole, etabli_le)[0]
        ind, sig = _indicateurs(s, protocole), _signataires(s, protocole)
        dep = _depots_de_l_annee(_depots(s, protocole), annee)
    intro, chiffres = _intro_synthese(p, annee, ter, comp, eng)

    sommaire = [(n, t) for t, n in _TITRES_SYNTHESE] + [(2, _titre_evolutions(annee))]
    sommaire += [(1, _titre_axe(i, code, libelle))
                 for i, (code, libelle) in enumerate(zip(axes["code"], axes["libelle"]), start=2)]
    numero = len(axes) + 2
    sommaire.append((1, _titre_quartiers(numero)))
    qpv = d.perimetres.loc[d.perimetres["niveau"] == "QPV", "perimetre_libelle"]
    sommaire += [(2, _titre_quartier(numero, i, libelle)) for i, libelle in enumerate(qpv, start=1)]
    sommaire.append((1, _titre_annexe_signataires(ANNEXE_SIGNATAIRES)))
    fiches, _ = _fiches_signataires(sig, _porteurs(eng), _positions(ind["signataire"]), _positions(dep["signataire"]))
    sommaire += [(2, _titre_signataire(ANNEXE_SIGNATAIRES, k, f[0].libelle)) for k, f in enumerate(fiches, start=1)]
    sommaire += [(n, t) for t, n in _titres_methode(ANNEXE_METHODE)]
    return Apercu(p, annee, chiffres, intro, sommaire)


@operation("consulter_pilotage")
def construire_rapport(store: Store, protocole: str, annee: int | str, *,
                       etabli_le: dt.date | None = None) -> Rapport:
    """Le contenu du rapport annuel d'évaluation d'un protocole pour une année, indépendant du format.

    `etabli_le` (aujourd'hui par défaut) est la date du rapport : l'état des engagements est celui de cette date.
    Lève `requetes.ProtocoleInconnu` pour un protocole absent de la base et `RapportImpossible` pour une année hors de
    sa période (messages en français). Les graphiques n'ont pas encore d'image : `rendre_images` (appelé par
    `ecrire_pdf` et `ecrire_docx`) les produit.
    """
    annee = _annee_lue(annee)
    etabli_le = etabli_le or dt.date.today()
    with requetes._session(store) as session:   # une session déjà ouverte sert telle quelle
        d = _charger(session, protocole, annee, etabli_le)
    synthese, chiffres = _synthese(d, etabli_le)
    sections = list(synthese)
    axes = d.noeuds[d.noeuds["profondeur"] == 1]
    for i, r in enumerate(axes.itertuples(), start=2):
        sections.append(_section_axe(d, i, r))
    sections += _sections_quartiers(d, len(axes) + 2)
    sections += _sections_annexes(d, ANNEXE_SIGNATAIRES)
    sections += _sections_methode(d, ANNEXE_METHODE, etabli_le)
    return Rapport(protocole=d.p, annee=annee, titre=f"Rapport annuel d'évaluation {annee}",
                   demonstration=bool(d.p.get("demonstration")), etabli_le=etabli_le,
                   couverture=_couverture(d, etabli_le), sections=sections, chiffres=chiffres)


# ====================================================================================================================
# Images des graphiques (kaleido + Chromium, hors ligne)
# ====================================================================================================================

_VERROU_IMAGES = threading.Lock()   # un seul Chromium de rendu à la fois par processus (le serveur Streamlit)
DELAI_IMAGES = float(os.environ.get("PERR_DELAI_IMAGES", 180))


def _rendre_kaleido(graphiques: list[Graphique], delai: float) -> list[bytes]:
    """Toutes les images d'un rapport avec un seul navigateur.

    On n'utilise pas `kaleido.start_sync_server` : sans Chromium, son fil de rendu meurt et l'appel suivant attend
    indéfiniment (constaté avec kaleido 1.5). Une session `Kaleido` à nous, dans un fil à délai, lève au contraire une
    erreur franche, et le rapport sort avec des encadrés à la place des graphiques.
    """
    import kaleido  # ImportError : le rapport sort sans images

    async def tout():
        async with kaleido.Kaleido(n=1, mathjax=False, timeout=60) as k:
            return [await k.calc_fig(g.figure, opts=dict(format="png", width=g.largeur, height=g.hauteur, scale=2))
                    for g in graphiques]

    resultat: dict = {}

    def executer():
        try:
            resultat["images"] = asyncio.run(tout())
        except BaseException as exc:  # noqa: BLE001 - transmis au fil appelant
            resultat["erreur"] = exc

    fil = threading.Thread(target=executer, name="perr-rapport-images", daemon=True)
    fil.start()
    fil.join(delai)
    if fil.is_alive():
        raise TimeoutError(f"rendu des graphiques interrompu après {delai:g} s")
    if "erreur" in resultat:
        raise resultat["erreur"]
    return resultat["images"]


def rendre_images(rapport: Rapport, delai: float | None = None) -> None:
    """Produit le PNG de chaque graphique (une fois par rapport : le PDF et le document Word les partagent). En cas
    d'échec (ni kaleido ni Chromium, délai dépassé), note la raison dans `rapport.images_indisponibles` : les rendus
    mettent alors un encadré à la place de chaque graphique."""
    a_faire = [g for g in rapport.graphiques() if g.png is None]
    if not a_faire or rapport.images_indisponibles:
        return
    with _VERROU_IMAGES:
        try:
            images = _rendre_kaleido(a_faire, DELAI_IMAGES if delai is None else delai)
        except Exception as exc:  # noqa: BLE001 - le rapport doit sortir, graphiques ou pas
            journal.warning("Graphiques du rapport non rendus : %s", exc)
            rapport.images_indisponibles = (
                "le moteur de rendu des graphiques (kaleido avec Chromium) n'est pas disponible sur ce serveur"
                if isinstance(exc, ImportError) or "Chrome" in type(exc).__name__ or "Chrome" in str(exc)
                else f"le rendu des graphiques a échoué ({type(exc).__name__})")
            return
    for g, png in zip(a_faire, images):
        g.png = png


def _texte_absent(rapport: Rapport) -> str:
    return (f"Graphique non disponible : {rapport.images_indisponibles}. Ses données figurent dans le tableau qui "
            "suit ou dans le classeur Excel du rapport.")


# ====================================================================================================================
# PDF (HTML + CSS → WeasyPrint)
# ====================================================================================================================

def _e(t) -> str:
    return html.escape(typographie(str(t)), quote=True)


def _css_chaine(t: str) -> str:
    return '"' + str(t).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def _largeurs(t: Tableau, cols: list[str]) -> list[float]:
    brutes = [t.largeurs.get(c, 1.5) for c in cols]
    total = sum(brutes)
    return [b / total for b in brutes]


def _html_tableau(t: Tableau, numero: int) -> str:
    cols = t.colonnes
    aff = t.affichage()
    if aff.empty:
        return f'<p class="tableau-vide"><strong>{_e(t.legende)}</strong> — {_e(t.vide)}</p>'
    droite = set(t.droite)
    parties = [f'<table id="tableau-{numero}" class="{"details" if t.detail else "simple"}">'
               f"<caption>{_e(t.legende)}</caption><colgroup>"]
    parties += [f'<col style="width:{100 * w:.1f}%">' for w in _largeurs(t, cols)]
    parties.append("</colgroup><thead><tr>")
    a_droite = ' class="droite"'
    parties += [f'<th scope="col"{a_droite if c in droite else ""}>{_e(c)}</th>' for c in cols]
    parties.append("</tr></thead>" + ("" if t.detail else "<tbody>"))
    # La couleur d'un statut est un filet à gauche de sa case : pas d'élément de plus à mettre en pages (un petit carré
    # dans le texte coûtait un tiers du temps de WeasyPrint sur un gros protocole).
    colonnes = [(c, c in droite, t.pastilles.get(c)) for c in cols]
    detail = list(aff[t.detail]) if t.detail else None
    for i, ligne in enumerate(zip(*(aff[c] for c in cols))):
        a_detail = bool(detail and detail[i])
        if t.detail:
            parties.append('<tbody><tr class="avec-detail">' if a_detail else "<tbody><tr>")
        else:
            parties.append("<tr>")
        for j, ((c, a_droite, couleurs), v) in enumerate(zip(colonnes, ligne)):
            classe = ' class="droite"' if a_droite else ""
            if couleurs and v in couleurs:
                classe = f' class="statut" style="border-left-color:{couleurs[v]}"'
            balise = "th" if j == 0 else "td"
            portee = ' scope="row"' if j == 0 else ""
            parties.append(f"<{balise}{portee}{classe}>{_e(v)}</{balise}>")
        parties.append("</tr>")
        if t.detail:
            if a_detail:
                parties.append(f'<tr class="detail"><td colspan="{len(cols)}">{_e(detail[i])}</td></tr>')
            parties.append("</tbody>")
    parties.append(("" if t.detail else "</tbody>") + "</table>")
    return "".join(parties)


def _html_bloc(rapport: Rapport, b, compteurs: dict) -> str:
    if isinstance(b, Paragraphe):
        return f'<p class="{b.style}">{_e(b.texte)}</p>'
    if isinstance(b, Liste):
        return "<ul>" + "".join(f"<li>{_e(x)}</li>" for x in b.elements) + "</ul>"
    if isinstance(b, Chiffres):
        cases = "".join(f'<div class="chiffre"><span class="valeur">{_e(v)}</span><span class="libelle">{_e(lib)}'
                        "</span></div>" for v, lib in b.elements)
        return f'<div class="chiffres" role="group" aria-label="{_e(b.legende)}">{cases}</div>'
    if isinstance(b, Tableau):
        if not b.dans_document:
            return ""
        compteurs["tableau"] += 1
        return _html_tableau(b, compteurs["tableau"])
    if isinstance(b, Graphique):
        compteurs["figure"] += 1
        n = compteurs["figure"]
        legende = f"<figcaption>Figure {n} — {_e(b.legende)}</figcaption>"
        if b.png:
            # Sur toute la largeur (18 cm), sauf un graphique très haut : sa hauteur reste sous 19 cm.
            largeur = min(100.0, 100.0 * 190 * b.largeur / (180 * b.hauteur))
            return (f'<figure id="figure-{n}"><img src="data:image/png;base64,{base64.b64encode(b.png).decode()}" '
                    f'alt="{_e(b.alt)}" style="width:{largeur:.0f}%">{legende}</figure>')
        return (f'<figure id="figure-{n}"><div class="graphique-absent" role="img" aria-label="{_e(b.alt)}">'
                f'<p>{_e(_texte_absent(rapport))}</p><p class="alt">{_e(b.alt)}</p></div>{legende}</figure>')
    raise TypeError(type(b))


def rapport_html(rapport: Rapport) -> str:
    """Le rapport en une page HTML autonome (CSS et images incluses), celle que WeasyPrint met en pages."""
    p = rapport.protocole
    css = (GABARIT / "rapport.css").read_text(encoding="utf-8")
    css = (css.replace("/*ENTETE*/", _css_chaine(typographie(f"{p['territoire']} — {rapport.titre}")))
           .replace("/*DEMO*/", _css_chaine("Données de démonstration" if rapport.demonstration else "")))
    compteurs = {"tableau": 0, "figure": 0}
    fiche = "".join(f'<tr><th scope="row">{_e(k)}</th><td>{_e(v)}</td></tr>' for k, v in rapport.couverture)
    demo = (f'<div class="bandeau-demo" role="note"><strong>Données de démonstration</strong>'
            f"{_e(_majuscule(MENTION_DEMO.split(' : ', 1)[1]))}</div>" if rapport.demonstration else "")
    pied = (f"Établi le {format_date(rapport.etabli_le)} par perr-metrics à partir des données déposées par les "
            "partenaires, pour le comité de pilotage.")
    corps = [
        '<section class="couverture"><div class="surtitre">Contrat de ville — Protocole d\'engagements renforcés et '
        f'réciproques</div><h1 class="titre">{_e(rapport.titre)}</h1><p class="protocole">{_e(p["libelle"])}</p>'
        f'<p class="territoire">{_e(p["territoire"])} · {_e(p["code"])}</p>{demo}'
        f'<table class="fiche"><caption>Le protocole</caption><tbody>{fiche}</tbody></table>'
        f'<p class="pied-couverture">{_e(pied)}</p></section>']
    entrees = "".join(f'<li class="n{s.niveau}"><a href="#{s.ancre}">{_e(s.titre)}</a></li>' for s in rapport.sections)
    corps.append(f'<nav class="sommaire" aria-label="Sommaire"><h1>Sommaire</h1><ol>{entrees}</ol></nav>')
    for s in rapport.sections:
        classe = ' class="chapitre"' if s.niveau == 1 else ""
        blocs = "".join(_html_bloc(rapport, b, compteurs) for b in s.blocs)
        corps.append(f'<section{classe}><h{s.niveau} id="{s.ancre}">{_e(s.titre)}</h{s.niveau}>{blocs}</section>')
    return (f'<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><title>{_e(rapport.titre)} — '
            f'{_e(p["territoire"])}</title><meta name="author" content="perr-metrics">'
            f'<meta name="description" content="{_e(p["libelle"])}"><meta name="generator" content="perr-metrics">'
            f"<style>{css}</style></head><body>{''.join(corps)}</body></html>")


def ecrire_pdf(rapport: Rapport, flux) -> None:
    """Le rapport en PDF : A4, couverture, sommaire paginé, « Page X sur Y », signets, PDF balisé (accessibilité)."""
    from weasyprint import HTML
    rendre_images(rapport)
    document = HTML(string=rapport_html(rapport), base_url=str(GABARIT))
    _ecrire(flux, lambda f: document.write_pdf(f, pdf_tags=True))


def _ecrire(flux, ecrire: Callable) -> None:
    if isinstance(flux, (str, os.PathLike)):
        with open(flux, "wb") as f:
            ecrire(f)
    else:
        ecrire(flux)


# ====================================================================================================================
# Word (.docx)
# ====================================================================================================================

_TWIPS_PAR_CM = 567
_LARGEUR_UTILE_CM = 17.0
_BLEU = "1F3A5F"
_ORANGE_DEMO = "B34700"


def _docx_champ(paragraphe, instruction: str, resultat: str = "1") -> None:
    """Un champ Word (PAGE, NUMPAGES, TOC…) en fin de paragraphe, avec son résultat provisoire."""
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls
    for xml in (f'<w:r {nsdecls("w")}><w:fldChar w:fldCharType="begin" w:dirty="true"/></w:r>',
                f'<w:r {nsdecls("w")}><w:instrText xml:space="preserve"> {_xml(instruction)} </w:instrText></w:r>',
                f'<w:r {nsdecls("w")}><w:fldChar w:fldCharType="separate"/></w:r>',
                f'<w:r {nsdecls("w")}><w:t xml:space="preserve">{_xml(resultat)}</w:t></w:r>',
                f'<w:r {nsdecls("w")}><w:fldChar w:fldCharType="end"/></w:r>'):
        paragraphe._p.append(parse_xml(xml))


def _docx_run(texte: str, *, gras=False, italique=False, couleur: str | None = None, taille: float = 8) -> str:
    rpr = ("<w:b/>" if gras else "") + ("<w:i/>" if italique else "") + \
          (f'<w:color w:val="{couleur}"/>' if couleur else "") + f'<w:sz w:val="{round(taille * 2)}"/>'
    return f'<w:r><w:rPr>{rpr}</w:rPr><w:t xml:space="preserve">{_xml(typographie(texte))}</w:t></w:r>'


def _docx_cellule(contenu: str, largeur: int, *, fond: str | None = None, droite=False, colonnes: int = 1) -> str:
    tcpr = f'<w:tcW w:w="{largeur}" w:type="dxa"/>' + (f'<w:gridSpan w:val="{colonnes}"/>' if colonnes > 1 else "")
    if fond:
        tcpr += f'<w:shd w:val="clear" w:color="auto" w:fill="{fond}"/>'
    ppr = '<w:spacing w:before="0" w:after="0"/>' + ('<w:jc w:val="right"/>' if droite else "")
    return f"<w:tc><w:tcPr>{tcpr}</w:tcPr><w:p><w:pPr>{ppr}</w:pPr>{contenu}</w:p></w:tc>"


def _docx_xml_tableau(t: Tableau) -> str:
    """Le tableau en WordprocessingML, écrit d'un coup : python-docx, cellule par cellule, mettrait des secondes à
    écrire les tableaux d'un gros protocole. Ligne d'en-tête répétée en haut de chaque page (w:tblHeader), lignes
    insécables (w:cantSplit), titre du tableau pour les lecteurs d'écran (w:tblCaption)."""
    from docx.oxml.ns import nsdecls
    cols = t.colonnes
    aff = t.affichage()
    largeurs = [round(w * _LARGEUR_UTILE_CM * _TWIPS_PAR_CM) for w in _largeurs(t, cols)]
    total = sum(largeurs)
    droite = set(t.droite)
    lignes = ['<w:tr><w:trPr><w:cantSplit/><w:tblHeader/></w:trPr>'
              + "".join(_docx_cellule(_docx_run(c, gras=True, couleur="FFFFFF"), w, fond=_BLEU, droite=c in droite)
                        for c, w in zip(cols, largeurs)) + "</w:tr>"]
    detail = list(aff[t.detail]) if t.detail else None
    for i, ligne in enumerate(zip(*(aff[c] for c in cols))):
        cellules = []
        for c, w, v in zip(cols, largeurs, ligne):
            couleur = t.pastilles.get(c, {}).get(v)
            contenu = (_docx_run("■ ", couleur=couleur.lstrip("#")) if couleur else "") + _docx_run(v)
            cellules.append(_docx_cellule(contenu, w, droite=c in droite))
        lignes.append("<w:tr><w:trPr><w:cantSplit/></w:trPr>" + "".join(cellules) + "</w:tr>")
        if detail and detail[i]:
            lignes.append("<w:tr><w:trPr><w:cantSplit/></w:trPr>"
                          + _docx_cellule(_docx_run(detail[i], italique=True, couleur="444444", taille=7.5), total,
                                          colonnes=len(cols)) + "</w:tr>")
    grille = "".join(f'<w:gridCol w:w="{w}"/>' for w in largeurs)
    return (f'<w:tbl {nsdecls("w")}><w:tblPr><w:tblStyle w:val="TableGrid"/><w:tblW w:w="{total}" w:type="dxa"/>'
            '<w:tblLayout w:type="fixed"/><w:tblCellMar><w:left w:w="70" w:type="dxa"/>'
            '<w:right w:w="70" w:type="dxa"/></w:tblCellMar><w:tblLook w:val="04A0" w:firstRow="1" '
            'w:lastRow="0" w:firstColumn="1" w:lastColumn="0" w:noHBand="0" w:noVBand="1"/>'
            f'<w:tblCaption w:val="{_xml(t.legende[:250], {chr(34): "&quot;"})}"/></w:tblPr>'
            f"<w:tblGrid>{grille}</w:tblGrid>{''.join(lignes)}</w:tbl>")


def _docx_tableau(doc, t: Tableau, numero: int | None) -> None:
    from docx.oxml import parse_xml
    from docx.shared import Pt
    legende = doc.add_paragraph(style="Caption")
    legende.add_run(typographie(t.legende if numero is None else f"Tableau {numero} — {t.legende}")).bold = True
    legende.paragraph_format.keep_with_next = True
    if t.donnees.empty:
        doc.add_paragraph(typographie(t.vide))
        return
    apres = doc.add_paragraph()
    apres.paragraph_format.space_after = Pt(4)
    apres._p.addprevious(parse_xml(_docx_xml_tableau(t)))


def _docx_styles(doc) -> None:
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls
    from docx.shared import Pt, RGBColor
    normal = doc.styles["Normal"]
    normal.font.name = "Arial"
    normal.font.size = Pt(10)
    normal.element.get_or_add_rPr().append(parse_xml(f'<w:lang {nsdecls("w")} w:val="fr-FR"/>'))
    for nom, taille in (("Heading 1", 17), ("Heading 2", 13), ("Title", 26), ("TOC Heading", 17)):
        style = doc.styles[nom]
        style.font.name = "Arial"
        style.font.size = Pt(taille)
        style.font.color.rgb = RGBColor.from_string(_BLEU)
    doc.styles["Heading 1"].paragraph_format.page_break_before = True
    doc.styles["Caption"].font.size = Pt(9)
    doc.styles["Caption"].font.color.rgb = RGBColor(0x33, 0x33, 0x33)


def _docx_fond_paragraphe(paragraphe, couleur: str) -> None:
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls
    paragraphe._p.get_or_add_pPr().append(
        parse_xml(f'<w:shd {nsdecls("w")} w:val="clear" w:color="auto" w:fill="{couleur}"/>'))


def ecrire_docx(rapport: Rapport, flux) -> None:
    """Le rapport en document Word modifiable : titres en styles de titre (le sommaire est un champ Word, mis à jour à
    l'ouverture), en-têtes de tableaux répétés, images avec texte de remplacement, « Page X sur Y » en pied de page."""
    import docx
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls
    from docx.shared import Cm, Pt, RGBColor

    rendre_images(rapport)
    p = rapport.protocole
    doc = docx.Document()
    _docx_styles(doc)
    sect = doc.sections[0]
    sect.page_width, sect.page_height = Cm(21), Cm(29.7)
    sect.left_margin = sect.right_margin = Cm(2)
    sect.top_margin = sect.bottom_margin = Cm(2)
    prop = doc.core_properties
    prop.title = f"{rapport.titre} — {p['territoire']}"
    prop.subject = str(p["libelle"])
    prop.author = "perr-metrics"
    prop.language = "fr-FR"
    prop.keywords = "PERR ; contrat de ville ; évaluation" + (" ; données de démonstration" if rapport.demonstration
                                                              else "")

    entete = sect.header.paragraphs[0]
    entete.add_run(typographie(f"{p['territoire']} — {rapport.titre}"))
    if rapport.demonstration:
        demo = sect.header.add_paragraph()
        demo.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        r = demo.add_run("Données de démonstration")
        r.bold, r.font.size = True, Pt(8)
        r.font.color.rgb = RGBColor.from_string(_ORANGE_DEMO)
    pied = sect.footer.paragraphs[0]
    pied.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    pied.add_run("Page ")
    _docx_champ(pied, "PAGE")
    pied.add_run(" sur ")
    _docx_champ(pied, "NUMPAGES")
    for par in (entete, pied):
        for r in par.runs:
            r.font.size = Pt(8)

    # Couverture
    sur = doc.add_paragraph("Contrat de ville — Protocole d'engagements renforcés et réciproques")
    sur.runs[0].font.color.rgb = RGBColor(0x55, 0x55, 0x55)
    doc.add_paragraph(typographie(rapport.titre), style="Title")
    doc.add_paragraph().add_run(typographie(str(p["libelle"]))).bold = True
    doc.add_paragraph(typographie(f"{p['territoire']} · {p['code']}"))
    if rapport.demonstration:
        par = doc.add_paragraph()
        r = par.add_run("DONNÉES DE DÉMONSTRATION")
        r.bold, r.font.size = True, Pt(16)
        r.font.color.rgb = RGBColor.from_string(_ORANGE_DEMO)
        par.add_run("\n" + typographie(_majuscule(MENTION_DEMO.split(" : ", 1)[1])))
        _docx_fond_paragraphe(par, "FCE8D9")
    fiche = Tableau(pd.DataFrame(rapport.couverture, columns=["Le protocole", ""]), "Le protocole", "",
                    largeurs={"Le protocole": 1.2, "": 3.3})
    _docx_tableau(doc, fiche, None)
    doc.add_paragraph(typographie(f"Établi le {format_date(rapport.etabli_le)} par perr-metrics à partir des données "
                                  "déposées par les partenaires, pour le comité de pilotage."))

    # Sommaire : un champ TOC que Word met à jour à l'ouverture (w:updateFields) ; en attendant, son résultat
    # provisoire liste les titres, pour les logiciels qui ne le recalculent pas.
    titre = doc.add_paragraph("Sommaire", style="TOC Heading")
    titre.paragraph_format.page_break_before = True
    par = doc.add_paragraph()
    _docx_champ(par, 'TOC \\o "1-2" \\h \\z \\u',
                "Pour afficher les numéros de page : clic droit sur le sommaire, « Mettre à jour les champs ».")
    for s in rapport.sections:
        e = doc.add_paragraph(typographie(s.titre))
        e.paragraph_format.left_indent = Cm(0.6 * (s.niveau - 1))
        e.paragraph_format.space_after = Pt(0)
        if s.niveau == 1:
            e.runs[0].bold = True
    doc.settings.element.append(parse_xml(f'<w:updateFields {nsdecls("w")} w:val="true"/>'))

    compteurs = {"tableau": 0, "figure": 0}
    for s in rapport.sections:
        doc.add_heading(typographie(s.titre), level=s.niveau)
        for b in s.blocs:
            if isinstance(b, Paragraphe):
                par = doc.add_paragraph(typographie(b.texte))
                if b.style == "note":
                    par.runs[0].font.size = Pt(8.5)
                    par.runs[0].font.color.rgb = RGBColor(0x55, 0x55, 0x55)
                elif b.style == "chapeau":
                    par.paragraph_format.keep_with_next = True
                elif b.style == "alerte":
                    par.runs[0].bold = True
                    par.runs[0].font.color.rgb = RGBColor.from_string(_ORANGE_DEMO)
                    _docx_fond_paragraphe(par, "FCE8D9")
            elif isinstance(b, Liste):
                for x in b.elements:
                    doc.add_paragraph(typographie(x), style="List Bullet")
            elif isinstance(b, Chiffres):
                table = doc.add_table(rows=2, cols=len(b.elements))
                table.style = doc.styles["Table Grid"]
                for j, (v, lib) in enumerate(b.elements):
                    r = table.cell(0, j).paragraphs[0].add_run(typographie(v))
                    r.bold, r.font.size = True, Pt(15)
                    r.font.color.rgb = RGBColor.from_string(_BLEU)
                    table.cell(1, j).paragraphs[0].add_run(typographie(lib)).font.size = Pt(8)
                doc.add_paragraph()
            elif isinstance(b, Tableau):
                if b.dans_document:
                    compteurs["tableau"] += 1
                    _docx_tableau(doc, b, compteurs["tableau"])
            elif isinstance(b, Graphique):
                compteurs["figure"] += 1
                if b.png:
                    largeur = min(_LARGEUR_UTILE_CM, 19.0 * b.largeur / b.hauteur)
                    doc.add_picture(io.BytesIO(b.png), width=Cm(largeur))
                    doc_pr = doc.inline_shapes[-1]._inline.docPr
                    doc_pr.set("descr", b.alt)
                    doc_pr.set("title", b.legende)
                    doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
                    doc.paragraphs[-1].paragraph_format.keep_with_next = True
                else:
                    par = doc.add_paragraph(typographie(_texte_absent(rapport)))
                    par.runs[0].italic = True
                    _docx_fond_paragraphe(par, "F0F0F0")
                    doc.add_paragraph(typographie(b.alt)).runs[0].font.size = Pt(8)
                doc.add_paragraph(typographie(f"Figure {compteurs['figure']} — {b.legende}"), style="Caption")
    _ecrire(flux, doc.save)


# ====================================================================================================================
# Excel (.xlsx)
# ====================================================================================================================

_INTERDITS_FEUILLE = re.compile(r"[\[\]:*?/\\]")


def _nom_feuille(souhait: str, pris: set[str]) -> str:
    """Un nom de feuille valide (31 caractères au plus, sans [ ] : * ? / \\) et unique (sans tenir compte de la
    casse, comme Excel)."""
    base = _INTERDITS_FEUILLE.sub("-", souhait).strip("'").strip() or "Tableau"
    base = base[:31]
    nom, i = base, 2
    while nom.lower() in pris:
        suffixe = f" ({i})"
        nom = base[: 31 - len(suffixe)] + suffixe
        i += 1
    pris.add(nom.lower())
    return nom


def _cellule_excel(v):
    if _vide(v):
        return None
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
        return v.item()
    if isinstance(v, (int, float, str, dt.date, dt.datetime)):
        return v
    return str(v)


def ecrire_xlsx(rapport: Rapport, flux) -> None:
    """Le rapport en classeur : une feuille « Sommaire » (qui renvoie à chaque feuille) et une feuille par tableau, aux
    valeurs typées (nombres, dates) ; tout texte est typé texte, si bien qu'aucune cellule ne devient une formule."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    p = rapport.protocole
    wb = Workbook()
    som = wb.active
    som.title = "Sommaire"
    pris = {"sommaire"}
    gras = Font(bold=True)
    entete_fond = PatternFill("solid", fgColor="1F3A5F")
    entete_police = Font(bold=True, color="FFFFFF")

    def texte(cellule, valeur):
        cellule.value = valeur
        if isinstance(valeur, str):
            cellule.data_type = "s"   # jamais une formule, même si le texte commence par =, +, - ou @

    texte(som["A1"], rapport.titre)
    som["A1"].font = Font(bold=True, size=16, color="1F3A5F")
    ligne = 2
    for k, v in [("Protocole", f"{p['libelle']} ({p['code']})")] + rapport.couverture:
        texte(som.cell(ligne, 1), k)
        som.cell(ligne, 1).font = gras
        texte(som.cell(ligne, 2), v)
        ligne += 1
    if rapport.demonstration:
        texte(som.cell(ligne, 1), "Données de démonstration")
        som.cell(ligne, 1).font = Font(bold=True, color="B34700")
        texte(som.cell(ligne, 2), MENTION_DEMO)
        ligne += 1
    ligne += 1
    for j, h in enumerate(["N°", "Feuille", "Contenu", "Partie du rapport"], start=1):
        c = som.cell(ligne, j)
        texte(c, h)
        c.font, c.fill = entete_police, entete_fond
    ligne += 1
    n = 0
    for section, t in rapport.tableaux():
        n += 1
        nom = _nom_feuille(t.feuille, pris)
        ws = wb.create_sheet(nom)
        texte(ws["A1"], t.legende)
        ws["A1"].font = Font(bold=True, size=12)
        texte(ws["A2"], f"{p['territoire']} — {rapport.titre}"
                        + (" — données de démonstration" if rapport.demonstration else ""))
        ws["A2"].font = Font(italic=True, color="555555")
        if isinstance(t, Chiffres):
            df = pd.DataFrame({"Indicateur clé": [lib for _, lib in t.elements],
                               "Valeur": [v for v, _ in t.elements]})
            pastilles = {}
        else:
            df, pastilles = t.donnees, t.pastilles
        for j, col in enumerate(df.columns, start=1):
            c = ws.cell(4, j)
            texte(c, str(col))
            c.font, c.fill = entete_police, entete_fond
            c.alignment = Alignment(wrap_text=True, vertical="top")
        for i, r in enumerate(df.itertuples(index=False), start=5):
            for j, (col, v) in enumerate(zip(df.columns, r), start=1):
                c = ws.cell(i, j)
                v = _cellule_excel(v)
                texte(c, v)
                if isinstance(v, (dt.datetime, dt.date)):
                    c.number_format = "dd/mm/yyyy hh:mm" if isinstance(v, dt.datetime) and (v.hour or v.minute) \
                        else "dd/mm/yyyy"
                elif isinstance(v, float):
                    # Codes de format d'Excel, indépendants de la langue : un Excel français affiche « 1 234,5 ».
                    c.number_format = "#,##0.0##" if not float(v).is_integer() else "#,##0"
                couleur = pastilles.get(col, {}).get(v) if isinstance(v, str) else None
                if couleur:
                    c.fill = PatternFill("solid", fgColor=_pale(couleur))
                if isinstance(v, str) and len(v) > 60:
                    c.alignment = Alignment(wrap_text=True, vertical="top")
        for j, col in enumerate(df.columns, start=1):
            longueurs = [len(str(col))] + [len(str(x)) for x in df[col].head(200) if not _vide(x)]
            ws.column_dimensions[get_column_letter(j)].width = max(8, min(60, max(longueurs) + 2))
        if len(df):
            ws.auto_filter.ref = f"A4:{get_column_letter(len(df.columns))}{4 + len(df)}"
        ws.freeze_panes = "A5"
        texte(som.cell(ligne, 1), None)
        som.cell(ligne, 1).value = n
        c = som.cell(ligne, 2)
        texte(c, nom)
        c.hyperlink = f"#'{nom}'!A1"
        c.font = Font(color="0563C1", underline="single")
        texte(som.cell(ligne, 3), t.legende)
        texte(som.cell(ligne, 4), section.titre)
        ligne += 1
    som.column_dimensions["A"].width = 24
    som.column_dimensions["B"].width = 34
    som.column_dimensions["C"].width = 70
    som.column_dimensions["D"].width = 40
    wb.properties.title = f"{rapport.titre} — {p['territoire']}"
    wb.properties.creator = "perr-metrics"
    wb.properties.language = "fr-FR"
    _ecrire(flux, wb.save)


# ====================================================================================================================
# Point d'entrée
# ====================================================================================================================

ECRIVAINS = {"pdf": ecrire_pdf, "docx": ecrire_docx, "xlsx": ecrire_xlsx}


def ecrire(rapport: Rapport, format: str, flux) -> None:
    """Écrit un rapport déjà construit dans le format demandé (`pdf`, `docx` ou `xlsx`)."""
    if format not in ECRIVAINS:
        raise RapportImpossible(f"Format « {format} » inconnu : pdf, docx ou xlsx.")
    ECRIVAINS[format](rapport, flux)


NOMS_FORMATS = {"pdf": "PDF", "docx": "document Word", "xlsx": "classeur Excel"}


def fichiers(rapport: Rapport, formats=FORMATS) -> tuple[dict[str, bytes], dict[str, str]]:
    """Écrit un rapport dans plusieurs formats d'un coup (les graphiques ne sont rendus qu'une fois). Renvoie
    `(contenus, erreurs)` : format → octets, et format → message en français pour un format qui n'a pas pu être écrit
    (les autres sortent quand même)."""
    contenus, erreurs = {}, {}
    for fmt in formats:
        flux = io.BytesIO()
        try:
            ecrire(rapport, fmt, flux)
        except RapportImpossible as exc:
            erreurs[fmt] = str(exc)
        except (ImportError, OSError) as exc:
            journal.exception("Rapport %s : format %s impossible", rapport.nom_fichier, fmt)
            erreurs[fmt] = (f"Le {NOMS_FORMATS.get(fmt, fmt)} ne peut pas être produit sur ce serveur : une bibliothèque "
                            f"manque ({type(exc).__name__} : {exc}). Les autres formats sont disponibles.")
        except Exception as exc:  # noqa: BLE001 - un format en échec ne doit pas priver des autres
            journal.exception("Rapport %s : échec du format %s", rapport.nom_fichier, fmt)
            erreurs[fmt] = (f"Le {NOMS_FORMATS.get(fmt, fmt)} n'a pas pu être écrit ({type(exc).__name__}) ; l'erreur "
                            "est consignée dans le journal du serveur.")
        else:
            contenus[fmt] = flux.getvalue()
    return contenus, erreurs


@operation("consulter_pilotage")
def generer(store: Store, protocole: str, annee: int | str, format: str, flux) -> Rapport:
    """Construit le rapport d'un protocole pour une année et l'écrit dans `flux` (chemin ou fichier binaire) au format
    `pdf`, `docx` ou `xlsx`. Renvoie le rapport construit (pour en écrire d'autres formats sans tout refaire)."""
    if format not in ECRIVAINS:
        raise RapportImpossible(f"Format « {format} » inconnu : pdf, docx ou xlsx.")
    rapport = construire_rapport(store, protocole, annee)
    ecrire(rapport, format, flux)
    return rapport
