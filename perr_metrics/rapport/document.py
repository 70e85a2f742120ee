"""Le rapport sous sa forme neutre, indépendante du format : ce que `contenu` construit et que `pdf`, `word` et
`classeur` rendent.

- le modèle : `Rapport`, fait de `Section` (niveau 1 : un chapitre ; niveau 2), elles-mêmes faites de blocs :
  `Paragraphe`, `Liste`, `Chiffres` (chiffres clés), `Tableau` (un DataFrame aux en-têtes français et aux valeurs
  typées, et la façon de l'imprimer), `Graphique` (une figure Plotly décrite en dictionnaires, son texte de
  remplacement et sa légende) ;
- les constantes que partagent le contenu et les rendus (`FORMATS`, `TYPES_MIME`, `ETATS`, `ORDRE_ETATS`,
  `MENTION_DEMO`…) et l'erreur `RapportImpossible` ;
- les petites écritures à la française (`typographie`, `_v`, `_pourcent`, `_date`…) : les nombres et les dates
  s'écrivent par `perr_metrics.commun.formats` (1 234,5 ; 12,5 % ; 12 février 2021).
"""
from __future__ import annotations

import datetime as dt
import logging
import math
import os
import re
from dataclasses import dataclass, field
from typing import Callable, Iterator

import pandas as pd

from perr_metrics.pilotage import avancement
from perr_metrics.commun.couleurs import COULEUR_ETAT_NON_RENSEIGNE, COULEURS_ETAT
from perr_metrics.commun import formats
from perr_metrics.commun.formats import format_date, format_date_heure, format_nombre, format_pourcent, format_valeur

journal = logging.getLogger("perr_metrics.rapport")

FORMATS = ("pdf", "docx", "xlsx")
TYPES_MIME = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

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


def _largeurs(t: Tableau, cols: list[str]) -> list[float]:
    brutes = [t.largeurs.get(c, 1.5) for c in cols]
    total = sum(brutes)
    return [b / total for b in brutes]


@dataclass
class Graphique:
    """Un graphique Plotly, son texte de remplacement (`alt`, ce que lit un lecteur d'écran) et sa légende. `svg` (le
    dessin, pour le PDF) et `png` (pour Word) sont remplis par `rendre_images` et `images_png` ; s'ils restent vides,
    les rendus écrivent un encadré à la place.

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
    svg: str | None = None
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
    au: dt.date | None = None      # la date de l'état des engagements (31 décembre de l'année, par défaut)

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


def _nom_fichier(protocole: dict, annee: int) -> str:
    return f"rapport-{protocole['code']}-{annee}"


# ====================================================================================================================
# Figures Plotly : la description d'un `Graphique`, et la figure qu'on en tire à la demande
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


def accord(n: int, singulier: str, pluriel: str | None = None) -> str:
    """Le mot accordé au nombre, à la française (singulier pour 0 et 1) : `accord(3, "indicateur")` → « indicateurs ».
    La règle de `commun.formats.pluriel` : plusieurs mots demandent leur pluriel écrit (« autre changement » ne
    devient pas « autre changements »)."""
    return formats.pluriel(n, singulier, pluriel)


def _pluriel(n: int, mot: str, pluriel: str | None = None) -> str:
    """Le nombre et le mot accordé : `_pluriel(3, "indicateur")` → « 3 indicateurs » (« 0 indicateur » : pour
    « aucun indicateur », `commun.formats.accord`)."""
    return f"{format_nombre(n)} {accord(n, mot, pluriel)}"


# Les statuts et les états qui s'accordent (« 2 atteints », « 19 réalisés », « 21 non renseignés ») ; les autres sont
# invariables (« 3 en retard », « 4 en cours », « 2 sans cible »).
_PLURIELS_COMPTES = {"atteint": "atteints", "non renseigné": "non renseignés", "non démarré": "non démarrés",
                     "réalisé": "réalisés", "reporté": "reportés", "abandonné": "abandonnés"}


def compte(n: int, statut_ou_etat: str) -> str:
    """Un nombre d'indicateurs d'un statut ou d'engagements d'un état, accordé : `compte(19, "réalisé")` →
    « 19 réalisés », `compte(3, "en retard")` → « 3 en retard »."""
    return f"{format_nombre(n)} {accord(n, statut_ou_etat, _PLURIELS_COMPTES.get(statut_ou_etat, statut_ou_etat))}"


def _annee(x) -> str:
    return "" if _vide(x) else str(int(x))


def _pale(couleur: str, part: float = 0.6) -> str:
    """La couleur mélangée de blanc (fond de cellule d'Excel : le texte noir reste lisible)."""
    r, g, b = (int(couleur[i:i + 2], 16) for i in (1, 3, 5))
    return "{:02X}{:02X}{:02X}".format(*(round(c + (255 - c) * part) for c in (r, g, b)))


def _ancre(texte: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", str(texte)).strip("-").lower() or "x"


# ====================================================================================================================
# Écriture d'un rendu dans un chemin ou un fichier ouvert
# ====================================================================================================================

def _ecrire(flux, ecrire: Callable) -> None:
    if isinstance(flux, (str, os.PathLike)):
        with open(flux, "wb") as f:
            ecrire(f)
    else:
        ecrire(flux)
