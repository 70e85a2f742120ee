"""Le référentiel d'un protocole : lecture et validation du classeur, import tout-ou-rien, export, modèle vierge.

Le format du classeur est décrit dans docs/referentiel.md. Une table de colonnes déclarative (`FEUILLES`) pilote la lecture
et la plupart des contrôles ; les contrôles croisés (références, doublons, cycles, niveaux) sont de petites fonctions.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from perr_metrics.commun.cadres import CADRES_NATIONAUX
from perr_metrics.commun.courriel import adresse_valide
from perr_metrics.stockage.magasin import Store, prochain_id
from perr_metrics.acces import journal
from perr_metrics.acces.droits import exiger_protocole, operation, utilisateur_de
from perr_metrics.commun.formats import (NOMBRE_MAX, NombreInvalide, format_date, format_nombre, lire_date, lire_nombre,
                                         normaliser_entete)
from perr_metrics.commun.lecture import Feuille, FichierIllisible, est_vide, lettre_colonne, lire_classeur, trouver_feuille
from perr_metrics.commun.erreurs import AVERTISSEMENT, ImportRefuse, Rapport
from perr_metrics.referentiel import complements

# --------------------------------------------------------------------------------------------------------------------
# Vocabulaires
# --------------------------------------------------------------------------------------------------------------------

CATEGORIES = (
    "État", "Service de l'État", "EPCI", "EPT", "Commune", "Département", "Région", "CAF", "CPAM", "ARS",
    "Bailleur social", "Chambre consulaire", "Conseil citoyen", "Entreprise", "Association", "Opérateur public", "Autre",
)
TYPES_QUARTIER = ("QPV", "Veille active")
SENS = ("hausse", "baisse")
PERIODICITES = ("annuelle", "semestrielle")
NIVEAUX = ("QPV", "Commune", "Territoire")
AGREGATIONS = ("somme", "taux", "non agrégeable")
GEOGRAPHIES = ("2015", "2024")
# La nature d'un indicateur (facultative ; « résultat » par défaut) : la section du rapport annuel où il se lit. Un
# moyen peut dire son financement (crédits spécifiques de la politique de la ville ou droit commun), que la base garde
# à part (indicateur.financement) ; le financeur est le signataire qui le déclare.
NATURE_DEFAUT = "résultat"
FINANCEMENTS = ("crédits spécifiques", "droit commun")
NATURES = ("contexte", "moyen", *(f"moyen ({f})" for f in FINANCEMENTS), "réalisation", NATURE_DEFAUT)
OUI_NON = ("oui", "non")
# Quand les valeurs d'un dépôt comptent (colonne « Valeurs prises en compte » ; depots.depot.SQL_DEPOT_RETENU).
VALEURS_RETENUES = ("dès réception", "après revue des avertissements", "après validation")
RE_ECHEANCE = re.compile(r"^(\d{1,2})/(\d{1,2})$")

RE_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
RE_INSEE = re.compile(r"^(\d{2}|2A|2B)\d{3}$|^97\d{3}$")
RE_QPV_2015 = re.compile(r"^QP(\d{3}|02A|02B)\d{3}$")
RE_QPV_2024 = re.compile(r"^QN(\d{3}|02A|02B)\d{2}[A-Z]$")

_VRAI = {"oui", "o", "vrai", "true", "x", "1", "yes"}
_FAUX = {"non", "n", "faux", "false", "0", "no", ""}


# --------------------------------------------------------------------------------------------------------------------
# Description déclarative des feuilles
# --------------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Colonne:
    entete: str
    cle: str
    type: str = "texte"          # texte | code | entier | nombre | date | ouinon | liste | choix
    obligatoire: bool = False
    choix: tuple[str, ...] = ()
    liste_depuis: str | None = None  # pour le modèle : liste déroulante tirée d'une autre feuille (« Axes!A »)
    largeur: int = 18


@dataclass(frozen=True)
class SpecFeuille:
    nom: str
    fichier: str                 # nom du CSV équivalent
    colonnes: tuple[Colonne, ...]
    obligatoire: bool = True
    aide: str = ""


FEUILLES: tuple[SpecFeuille, ...] = (
    SpecFeuille("Protocole", "protocole", (
        Colonne("Code", "code", "code", True, largeur=18),
        Colonne("Titre", "titre", "texte", True, largeur=60),
        Colonne("Territoire", "territoire", "texte", True, largeur=36),
        Colonne("Code territoire", "code_territoire", "code", True),
        Colonne("Année de début", "annee_debut", "entier", True, largeur=14),
        Colonne("Année de fin", "annee_fin", "entier", True, largeur=14),
        Colonne("Date de signature", "date_signature", "date", largeur=16),
        Colonne("Géographie", "geographie", "choix", True, GEOGRAPHIES, largeur=12),
        Colonne("Démonstration", "demonstration", "ouinon", choix=OUI_NON, largeur=14),
        Colonne("Description", "description", "texte", largeur=60),
        Colonne("Valeurs prises en compte", "valeurs_retenues", "choix", choix=VALEURS_RETENUES, largeur=24),
        Colonne("Échéance des dépôts", "echeance_depots", "texte", largeur=14),
    ), aide="Une seule ligne : le protocole lui-même."),
    SpecFeuille("Contrats de ville", "contrats", (
        Colonne("Code", "code", "code", True),
        Colonne("Libellé", "libelle", "texte", True, largeur=60),
        Colonne("Date de signature", "date_signature", "date", largeur=16),
    ), aide="Le ou les contrats de ville que le protocole modifie."),
    SpecFeuille("Communes", "communes", (
        Colonne("Code INSEE", "insee", "code", True, largeur=12),
        Colonne("Nom", "nom", "texte", True, largeur=32),
        Colonne("Contrat de ville", "contrat", "code", liste_depuis="Contrats de ville!A"),
    )),
    SpecFeuille("Quartiers", "quartiers", (
        Colonne("Code", "code", "code", True, largeur=14),
        Colonne("Libellé", "libelle", "texte", True, largeur=48),
        Colonne("Type", "type", "choix", True, TYPES_QUARTIER, largeur=14),
        Colonne("Communes", "communes", "liste", True, largeur=24),
    ), aide="QPV et territoires de veille active."),
    SpecFeuille("Signataires", "signataires", (
        Colonne("Code", "code", "code", True),
        Colonne("Nom", "nom", "texte", True, largeur=48),
        Colonne("Catégorie", "categorie", "choix", True, CATEGORIES, largeur=20),
        Colonne("Rattaché à", "rattache_a", "code", liste_depuis="Signataires!A"),
        Colonne("Signataire du protocole", "signe", "ouinon", choix=OUI_NON, largeur=12),
        Colonne("Code INSEE", "insee", "code", liste_depuis="Communes!A", largeur=12),
        Colonne("Courriel de contact", "courriel", "texte", largeur=32),
    )),
    SpecFeuille("Signatures", "signatures", (
        Colonne("Signataire", "signataire", "code", True, liste_depuis="Signataires!A"),
        Colonne("Qualité", "qualite", "texte", largeur=40),
        Colonne("Représentant", "representant", "texte", largeur=32),
        Colonne("Acte", "acte", "texte", largeur=40),
        Colonne("Date", "date", "date", largeur=16),
    ), obligatoire=False, aide="Facultative : les lignes de signature, plusieurs par signataire s'il signe plusieurs "
                               "actes (le contrat de ville, puis le protocole)."),
    SpecFeuille("Volets", "volets", (
        Colonne("Code", "code", "code", True, largeur=12),
        Colonne("Libellé", "libelle", "texte", True, largeur=48),
        Colonne("Nature", "nature", "texte", largeur=20),
        Colonne("Quartiers", "quartiers", "liste", largeur=24),
        Colonne("Texte", "texte", "texte", largeur=60),
        Colonne("Ordre", "ordre", "entier", largeur=8),
    ), obligatoire=False, aide="Facultative : les volets ou annexes qui ont leur propre arborescence (une cité "
                               "éducative, un projet de quartier), rattachés ou non à des quartiers."),
    SpecFeuille("Axes", "axes", (
        Colonne("Code", "code", "code", True, largeur=10),
        Colonne("Parent", "parent", "code", liste_depuis="Axes!A", largeur=10),
        Colonne("Niveau", "niveau", "texte", True, largeur=20),
        Colonne("Libellé", "libelle", "texte", True, largeur=60),
        Colonne("Ordre", "ordre", "entier", largeur=8),
        Colonne("Cadres", "cadres", "liste", largeur=30),
        Colonne("Texte", "texte", "texte", largeur=60),
        Colonne("Volet", "volet", "code", liste_depuis="Volets!A", largeur=12),
        Colonne("Quartiers", "quartiers", "liste", largeur=24),
    ), aide="L'arborescence : axes, thématiques ou enjeux, objectifs… sur autant de niveaux que nécessaire."),
    SpecFeuille("Engagements", "engagements", (
        Colonne("Code", "code", "code", True, largeur=10),
        Colonne("Axe", "axe", "code", True, liste_depuis="Axes!A", largeur=10),
        Colonne("Engagement parent", "parent", "code", liste_depuis="Engagements!A", largeur=12),
        Colonne("Libellé", "libelle", "texte", True, largeur=70),
        Colonne("Porteurs", "porteurs", "liste", largeur=30),
        Colonne("Formule", "formule", "texte", largeur=40),
        Colonne("Levier", "levier", "texte", largeur=20),
        Colonne("Échéance", "echeance", "texte", largeur=12),
        Colonne("Cadres", "cadres", "liste", largeur=24),
        Colonne("Ordre", "ordre", "entier", largeur=8),
        Colonne("Nature", "nature", "texte", largeur=24),
    )),
    SpecFeuille("Cadres", "cadres", (
        Colonne("Code", "code", "code", True),
        Colonne("Référentiel", "referentiel", "texte", True, largeur=40),
        Colonne("Libellé", "libelle", "texte", True, largeur=60),
    ), obligatoire=False, aide="Facultative : les cadres nationaux sont déjà connus."),
    SpecFeuille("Indicateurs", "indicateurs", (
        Colonne("Code", "code", "code", True, largeur=18),
        Colonne("Libellé", "libelle", "texte", True, largeur=60),
        Colonne("Unité", "unite", "texte", True, largeur=10),
        Colonne("Sens", "sens", "choix", True, SENS, largeur=10),
        Colonne("Périodicité", "periodicite", "choix", True, PERIODICITES, largeur=14),
        Colonne("Niveau", "niveau", "choix", True, NIVEAUX, largeur=12),
        Colonne("Agrégation", "agregation", "choix", True, AGREGATIONS, largeur=16),
        Colonne("Numérateur", "numerateur", "code", liste_depuis="Indicateurs!A"),
        Colonne("Dénominateur", "denominateur", "code", liste_depuis="Indicateurs!A"),
        Colonne("Source", "source", "texte", largeur=20),
        Colonne("Signataire", "signataire", "code", True, liste_depuis="Signataires!A"),
        Colonne("Engagements", "engagements", "liste", largeur=20),
        Colonne("Minimum", "minimum", "nombre", largeur=10),
        Colonne("Maximum", "maximum", "nombre", largeur=10),
        Colonne("Définition", "definition", "texte", largeur=60),
        Colonne("Nature", "nature", "choix", choix=NATURES, largeur=26),
    )),
    SpecFeuille("Références", "references", (
        Colonne("Indicateur", "indicateur", "code", True, liste_depuis="Indicateurs!A"),
        Colonne("Périmètre", "perimetre", "code", True, largeur=14),
        Colonne("Année", "annee", "entier", True, largeur=8),
        Colonne("Valeur", "valeur", "nombre", True, largeur=12),
    ), obligatoire=False, aide="Valeurs de référence (situation de départ)."),
    SpecFeuille("Cibles", "cibles", (
        Colonne("Indicateur", "indicateur", "code", True, liste_depuis="Indicateurs!A"),
        Colonne("Périmètre", "perimetre", "code", True, largeur=14),
        Colonne("Année", "annee", "entier", True, largeur=8),
        Colonne("Valeur", "valeur", "nombre", True, largeur=12),
    ), obligatoire=False, aide="Cibles annuelles et finale (la plus tardive)."),
    SpecFeuille("Échéances", "echeances", (
        Colonne("Période", "periode", "texte", True, largeur=12),
        Colonne("Date limite", "date_limite", "date", True, largeur=14),
    ), obligatoire=False, aide="Facultative : la date limite de dépôt d'une période (2022, 2022-S1) ; sans ligne, le "
                               "31 janvier de l'année suivante (le 31 juillet pour un premier semestre)."),
)
SPEC = {f.fichier: f for f in FEUILLES}


# --------------------------------------------------------------------------------------------------------------------
# Ce que la base resserre, et le contrôle qui le garde avant toute écriture
# --------------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Borne:
    """Les valeurs permises d'une colonne du classeur, et la colonne du schéma qu'elle alimente (« table.colonne »)."""

    colonne_base: str
    minimum: object
    maximum: object
    code: str                    # le code d'erreur au-delà (docs/erreurs.md)


ORDRE_MAX = 99_999               # l'ordre d'un nœud s'écrit sur 5 chiffres dans son chemin de tri
DATE_MIN, DATE_MAX = dt.date(1990, 1, 1), dt.date(2100, 12, 31)
LONGUEUR_CODE_MAX = 100
LONGUEUR_TEXTE_MAX = 32_767      # ce que tient une cellule de tableur : au-delà, l'export ne se relirait pas

# Chaque colonne entière, date ou décimale du schéma alimentée par le classeur figure ici (un test le vérifie sur le schéma
# après migrations : tests/core/test_proprietes_referentiel.py). Les années du protocole, des références et des cibles
# sont contrôlées avec le reste du protocole (`_controler`, code `annee-invalide`) ; les autres bornes, à la lecture de
# la cellule. Les codes et les textes (VARCHAR) sont bornés par type de colonne : LONGUEUR_CODE_MAX, LONGUEUR_TEXTE_MAX.
BORNES: dict[tuple[str, str], Borne] = {
    ("protocole", "annee_debut"): Borne("protocole.annee_debut", 2000, 2100, "annee-invalide"),
    ("protocole", "annee_fin"): Borne("protocole.annee_fin", 2000, 2100, "annee-invalide"),
    ("protocole", "date_signature"): Borne("protocole.date_signature", DATE_MIN, DATE_MAX, "date-hors-limites"),
    ("contrats", "date_signature"): Borne("contrat.date_signature", DATE_MIN, DATE_MAX, "date-hors-limites"),
    ("signatures", "date"): Borne("signature.date_signature", DATE_MIN, DATE_MAX, "date-hors-limites"),
    ("volets", "ordre"): Borne("volet.ordre", 0, ORDRE_MAX, "entier-hors-limites"),
    ("axes", "ordre"): Borne("noeud.ordre", 0, ORDRE_MAX, "entier-hors-limites"),
    ("engagements", "ordre"): Borne("engagement.ordre", 0, ORDRE_MAX, "entier-hors-limites"),
    ("indicateurs", "minimum"): Borne("indicateur.minimum", -NOMBRE_MAX, NOMBRE_MAX, "nombre-hors-limites"),
    ("indicateurs", "maximum"): Borne("indicateur.maximum", -NOMBRE_MAX, NOMBRE_MAX, "nombre-hors-limites"),
    ("references", "annee"): Borne("reference.annee", 1990, 2100, "annee-invalide"),
    ("references", "valeur"): Borne("reference.valeur", -NOMBRE_MAX, NOMBRE_MAX, "nombre-hors-limites"),
    ("cibles", "annee"): Borne("cible.annee", 1990, 2100, "annee-invalide"),
    ("cibles", "valeur"): Borne("cible.valeur", -NOMBRE_MAX, NOMBRE_MAX, "nombre-hors-limites"),
    ("echeances", "date_limite"): Borne("echeance.date_limite", DATE_MIN, DATE_MAX, "date-hors-limites"),
}
# Les colonnes entières ou dates du schéma que l'import calcule lui-même (jamais lues d'une cellule), et pourquoi elles
# tiennent dans leur type.
COLONNES_CALCULEES: dict[str, str] = {
    "protocole.importe_le": "l'heure de l'import",
    "contrat.ordre": "le rang de la ligne dans sa feuille",
    "perimetre.ordre": "le rang de la ligne dans sa feuille (0 pour le territoire)",
    "signataire.ordre": "le rang de la ligne dans sa feuille",
    "noeud.profondeur": "la profondeur dans l'arbre, au plus le nombre de nœuds",
    "engagement_porteur.rang": "le rang du porteur dans sa cellule",
    "signature.rang": "le rang de la ligne parmi celles de son signataire dans la feuille Signatures",
    "indicateur.ordre": "le rang de la ligne dans sa feuille",
}


def _hors_bornes(borne: Borne, col: Colonne, v) -> str:
    """Le message d'une valeur hors de ses bornes."""
    if borne.code == "date-hors-limites":
        return (f"« {col.entete} » attend une date entre le {format_date(borne.minimum)} et le "
                f"{format_date(borne.maximum)} ; la cellule contient le {format_date(v)}.")
    recu = format_nombre(v) if abs(v) < float("inf") else "un nombre démesuré"
    if borne.code == "entier-hors-limites":
        return (f"« {col.entete} » attend un nombre entier entre {format_nombre(borne.minimum)} et "
                f"{format_nombre(borne.maximum)} ; la cellule contient {recu}.")
    return (f"« {col.entete} » attend un nombre entre {format_nombre(borne.minimum)} et {format_nombre(borne.maximum)} "
            f"(mille milliards) ; la cellule contient {recu}.")


# --------------------------------------------------------------------------------------------------------------------
# Lecture typée
# --------------------------------------------------------------------------------------------------------------------

@dataclass
class Ligne:
    feuille: str
    numero: int                          # numéro de ligne Excel
    valeurs: dict = field(default_factory=dict)
    adresses: dict = field(default_factory=dict)
    brutes: dict = field(default_factory=dict)

    def adresse(self, cle: str) -> str:
        return self.adresses.get(cle, f"{self.feuille}!{self.numero}:{self.numero}")

    def __getitem__(self, cle):
        return self.valeurs.get(cle)


@dataclass
class Referentiel:
    """Le contenu lu d'un classeur, avant écriture. `lignes[fichier]` garde l'adresse de chaque cellule."""

    lignes: dict[str, list[Ligne]]
    rapport: Rapport

    @property
    def protocole(self) -> dict:
        lignes = self.lignes.get("protocole") or []
        return lignes[0].valeurs if lignes else {}

    @property
    def code(self) -> str | None:
        return self.protocole.get("code")


# Les caractères de contrôle qu'aucun tableur n'enregistre (un CSV peut en porter) : remplacés par une espace, pour que
# tout texte accepté s'exporte et se relise à l'identique. Un retour chariot devient un saut de ligne.
_RE_CONTROLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _texte_cellule(v) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (dt.datetime, dt.date)):
        return v.isoformat()[:10]
    return _RE_CONTROLE.sub(" ", str(v).replace("\r\n", "\n").replace("\r", "\n")).strip()


def _trop_long(col: Colonne, texte: str, adresse: str, feuille: str, rapport: Rapport, brute) -> bool:
    """Un code ou un texte plus long que ce que la colonne permet : signalé (texte-trop-long)."""
    limite = LONGUEUR_CODE_MAX if col.type == "code" else LONGUEUR_TEXTE_MAX
    if len(texte) <= limite:
        return False
    quoi = "un code" if col.type == "code" else "un texte"
    rapport.ajouter("texte-trop-long", f"« {col.entete} » attend {quoi} d'au plus {format_nombre(limite)} caractères ; "
                    f"la cellule en contient {format_nombre(len(texte))}.", feuille, adresse, brute)
    return True


def _convertir(col: Colonne, brute, adresse: str, feuille: str, rapport: Rapport):
    """Convertit une cellule selon sa colonne ; signale le problème et renvoie None si elle ne convient pas."""
    if est_vide(brute):
        if col.obligatoire:
            rapport.ajouter("valeur-obligatoire", f"La colonne « {col.entete} » doit être renseignée.",
                            feuille, adresse, "")
        return None
    t = col.type
    if t in ("texte", "code", "liste") and _trop_long(col, _texte_cellule(brute), adresse, feuille, rapport, brute):
        return None
    if t == "texte":
        return _texte_cellule(brute)
    if t == "code":
        texte = _texte_cellule(brute)
        if not RE_CODE.match(texte):
            rapport.ajouter("code-invalide", f"« {texte} » n'est pas un code valide pour « {col.entete} » : lettres, "
                            "chiffres, « - », « _ » ou « . », sans espace ni accent.", feuille, adresse, brute)
            return None
        return texte
    if t == "liste":
        elements = [e.strip() for e in _texte_cellule(brute).split(";") if e.strip()]
        mauvais = [e for e in elements if not RE_CODE.match(e) or len(e) > LONGUEUR_CODE_MAX]
        if mauvais:
            rapport.ajouter("code-invalide", f"« {mauvais[0]} » n'est pas un code valide dans « {col.entete} » : "
                            "séparez les codes par « ; ».", feuille, adresse, brute)
            return None
        if not elements and col.obligatoire:
            rapport.ajouter("valeur-obligatoire", f"La colonne « {col.entete} » doit être renseignée.",
                            feuille, adresse, brute)
            return None
        return elements
    if t == "entier":
        try:
            nombre, pourcent = lire_nombre(brute)
        except NombreInvalide:
            nombre, pourcent = None, False
        if nombre is None or pourcent or not float(nombre).is_integer():
            rapport.ajouter("entier-invalide", f"« {col.entete} » attend un nombre entier (par exemple 2021).",
                            feuille, adresse, brute)
            return None
        return int(nombre)
    if t == "nombre":
        try:
            nombre, _ = lire_nombre(brute)
        except NombreInvalide:
            attendu = "une date" if isinstance(brute, (dt.date, dt.datetime)) else f"« {brute} »"
            rapport.ajouter("nombre-invalide", f"« {col.entete} » attend un nombre (par exemple 1 234,5) ; "
                            f"la cellule contient {attendu}.", feuille, adresse, brute)
            return None
        return nombre
    if t == "date":
        try:
            return lire_date(brute)
        except (ValueError, TypeError):
            rapport.ajouter("date-invalide", f"« {col.entete} » attend une date (par exemple 12/02/2021).",
                            feuille, adresse, brute)
            return None
    if t == "ouinon":
        texte = normaliser_entete(_texte_cellule(brute))
        if texte in _VRAI:
            return True
        if texte in _FAUX:
            return False
        rapport.ajouter("valeur-hors-liste", f"« {col.entete} » attend « oui » ou « non ».", feuille, adresse, brute)
        return None
    if t == "choix":
        texte = _texte_cellule(brute)
        for c in col.choix:
            if normaliser_entete(c) == normaliser_entete(texte):
                return c
        rapport.ajouter("valeur-hors-liste", f"« {texte} » n'est pas une valeur possible de « {col.entete} » : "
                        f"attendu {', '.join('« ' + c + ' »' for c in col.choix)}.", feuille, adresse, brute)
        return None
    raise AssertionError(t)  # pragma: no cover


def _lire_feuille(spec: SpecFeuille, feuille: Feuille | None, rapport: Rapport) -> list[Ligne]:
    if feuille is None:
        if spec.obligatoire:
            rapport.ajouter("feuille-manquante", f"La feuille « {spec.nom} » est absente du classeur.", spec.nom, spec.nom)
        return []
    nom = feuille.nom if feuille.nom == spec.nom else spec.nom
    # La première ligne non vide porte les en-têtes.
    entete_idx = next((i for i, l in enumerate(feuille.lignes) if any(not est_vide(c) for c in l)), None)
    if entete_idx is None:
        if spec.obligatoire:
            rapport.ajouter("feuille-vide", f"La feuille « {spec.nom} » est vide.", nom, nom)
        return []
    attendues = {normaliser_entete(c.entete): c for c in spec.colonnes}
    positions: dict[str, int] = {}
    for j, cellule in enumerate(feuille.lignes[entete_idx]):
        if est_vide(cellule):
            continue
        col = attendues.get(normaliser_entete(str(cellule).rstrip(" *")))
        adresse = f"{nom}!{lettre_colonne(j)}{entete_idx + 1}"
        if col is None:
            rapport.ajouter("colonne-inconnue", f"La colonne « {cellule} » n'est pas connue : elle est ignorée.",
                            nom, adresse, cellule, niveau=AVERTISSEMENT)
        elif col.cle in positions:
            rapport.ajouter("colonne-dupliquee", f"La colonne « {col.entete} » apparaît deux fois.", nom, adresse, cellule)
        else:
            positions[col.cle] = j
    manquantes = [c for c in spec.colonnes if c.obligatoire and c.cle not in positions]
    for c in manquantes:
        rapport.ajouter("colonne-manquante", f"La colonne obligatoire « {c.entete} » est absente de la feuille "
                        f"« {spec.nom} » (en-têtes attendus en ligne {entete_idx + 1}).", nom,
                        f"{nom}!{entete_idx + 1}:{entete_idx + 1}", "")
    if manquantes:
        return []
    lignes = []
    for i in range(entete_idx + 1, len(feuille.lignes)):
        brute = feuille.lignes[i]
        if all(est_vide(c) for c in brute):
            continue
        ligne = Ligne(nom, i + 1)
        for col in spec.colonnes:
            j = positions.get(col.cle)
            if j is None:
                ligne.valeurs[col.cle] = [] if col.type == "liste" else None
                continue
            cellule = brute[j] if j < len(brute) else None
            adresse = f"{nom}!{lettre_colonne(j)}{i + 1}"
            ligne.adresses[col.cle] = adresse
            ligne.brutes[col.cle] = cellule
            v = _convertir(col, cellule, adresse, nom, rapport)
            borne = BORNES.get((spec.fichier, col.cle))
            if v is not None and borne is not None and borne.code != "annee-invalide" \
                    and not borne.minimum <= v <= borne.maximum:
                rapport.ajouter(borne.code, _hors_bornes(borne, col, v), nom, adresse, cellule)
                v = None
            ligne.valeurs[col.cle] = ([] if v is None else v) if col.type == "liste" else v
        lignes.append(ligne)
    return lignes


def lire_referentiel(source, nom_fichier: str | None = None) -> Referentiel:
    """Lit et valide un classeur de référentiel (ou un dossier de CSV). N'écrit rien.

    Les contrôles qui dépendent de la base (suppression d'éléments qui ont déjà des valeurs) se font à l'import.
    """
    rapport = Rapport()
    try:
        feuilles = lire_classeur(source, nom_fichier)
    except FichierIllisible as exc:
        rapport.ajouter("fichier-illisible", str(exc), "", "", nom_fichier or str(source))
        return Referentiel({}, rapport)
    lignes = {}
    for spec in FEUILLES:
        feuille = trouver_feuille(feuilles, spec.nom, spec.fichier)
        lignes[spec.fichier] = _lire_feuille(spec, feuille, rapport)
    ref = Referentiel(lignes, rapport)
    # Les feuilles lisibles sont contrôlées même si d'autres manquent : tout est dit en une fois.
    _controler(ref)
    return ref


# --------------------------------------------------------------------------------------------------------------------
# Contrôles croisés
# --------------------------------------------------------------------------------------------------------------------

def _doublons(ref: Referentiel, fichier: str, cle: str = "code") -> dict[str, Ligne]:
    """Index code → ligne ; signale les codes en double."""
    vus: dict[str, Ligne] = {}
    for l in ref.lignes.get(fichier, []):
        code = l[cle]
        if code is None:
            continue
        if code in vus:
            ref.rapport.ajouter("code-duplique", f"Le code « {code} » est déjà utilisé ligne {vus[code].numero} de la "
                                f"feuille « {SPEC[fichier].nom} ».", l.feuille, l.adresse(cle), code)
        else:
            vus[code] = l
    return vus


def _ref(ref: Referentiel, ligne: Ligne, cle: str, connus, code_erreur: str, quoi: str, feuille_cible: str):
    valeurs = ligne[cle]
    if valeurs is None:
        return
    for v in (valeurs if isinstance(valeurs, list) else [valeurs]):
        if v not in connus:
            ref.rapport.ajouter(code_erreur, f"{quoi} « {v} » n'existe pas dans la feuille « {feuille_cible} ».",
                                ligne.feuille, ligne.adresse(cle), v)


def _cycles(ref: Referentiel, index: dict[str, Ligne], cle_parent: str, code_erreur: str, quoi: str) -> None:
    signales = set()
    for code in index:
        vus, courant = [], code
        while courant is not None and courant in index:
            if courant in vus:
                boucle = vus[vus.index(courant):]
                if not set(boucle) & signales:
                    l = index[code]
                    ref.rapport.ajouter(code_erreur, f"{quoi} forment une boucle : {' → '.join(boucle + [courant])}.",
                                        l.feuille, l.adresse(cle_parent), l[cle_parent])
                    signales.update(boucle)
                break
            vus.append(courant)
            courant = index[courant][cle_parent]


RE_PERIODE_ECHEANCE = re.compile(r"^(\d{4})(?:-S([12]))?$")


def _controler_contacts_et_echeances(ref: Referentiel, p) -> None:
    """L'adresse de contact d'un signataire, et la feuille « Échéances » (une période du protocole, une fois)."""
    r = ref.rapport
    for l in ref.lignes.get("signataires", []):
        if l["courriel"] and not adresse_valide(l["courriel"]):
            r.ajouter("courriel-invalide", f"« {l['courriel']} » n'est pas une adresse de courriel (attendu "
                      "nom@domaine.fr, une seule adresse).", l.feuille, l.adresse("courriel"), l["courriel"])
    vues: dict[str, int] = {}
    for l in ref.lignes.get("echeances", []):
        periode = (l["periode"] or "").replace(" ", "").upper()
        m = RE_PERIODE_ECHEANCE.match(periode)
        if l["periode"] is not None and not m:
            r.ajouter("periode-invalide", "Période illisible : attendu une année (2022) ou un semestre (2022-S1).",
                      l.feuille, l.adresse("periode"), l["periode"])
            continue
        if m is None:
            continue
        l.valeurs["periode"] = periode
        if p and p["annee_debut"] and p["annee_fin"] and not p["annee_debut"] <= int(m.group(1)) <= p["annee_fin"]:
            r.ajouter("periode-hors-protocole", f"La période {periode} est hors du protocole "
                      f"({p['annee_debut']}–{p['annee_fin']}).", l.feuille, l.adresse("periode"), l["periode"])
        if periode in vues:
            r.ajouter("ligne-dupliquee", f"La période {periode} a déjà son échéance ligne {vues[periode]}.",
                      l.feuille, f"{l.feuille}!{l.numero}:{l.numero}")
        vues.setdefault(periode, l.numero)


def _echeance(texte) -> str | None:
    """« 31/3 » → « 31/03 » ; une cellule que le tableur a prise pour une date (« 2025-03-31 ») → « 31/03 » ; None si
    vide ou illisible."""
    texte = str(texte or "").strip()
    m = RE_ECHEANCE.match(texte)
    jour, mois = (m.group(1), m.group(2)) if m else (texte[8:10], texte[5:7]) if re.match(
        r"^\d{4}-\d{2}-\d{2}$", texte) else (None, None)
    try:
        dt.date(2024, int(mois), int(jour))
    except (TypeError, ValueError):
        return None
    return f"{int(jour):02d}/{int(mois):02d}"


def _controler(ref: Referentiel) -> None:
    r = ref.rapport
    L = ref.lignes

    # Protocole
    protos = L.get("protocole", [])
    if len(protos) > 1:
        for l in protos[1:]:
            r.ajouter("protocole-lignes", "La feuille « Protocole » ne doit contenir qu'une ligne : un classeur décrit un "
                      "seul protocole.", l.feuille, f"{l.feuille}!{l.numero}:{l.numero}")
    elif not protos and "protocole" in L and not any(p.feuille == "Protocole" for p in r.erreurs):
        r.ajouter("feuille-vide", "La feuille « Protocole » ne contient pas de ligne.", "Protocole", "Protocole")
    p = protos[0] if protos else None
    geographie = p["geographie"] if p else None
    if p and p["annee_debut"] and p["annee_fin"] and p["annee_debut"] > p["annee_fin"]:
        r.ajouter("annees-incoherentes", f"L'année de fin ({p['annee_fin']}) précède l'année de début "
                  f"({p['annee_debut']}).", p.feuille, p.adresse("annee_fin"), p["annee_fin"])
    if p and p["echeance_depots"]:
        if _echeance(p["echeance_depots"]) is None:
            r.ajouter("echeance-invalide", "« Échéance des dépôts » attend un jour et un mois, JJ/MM (31/03 : les "
                      "valeurs d'une année sont attendues avant le 31 mars de l'année suivante).", p.feuille,
                      p.adresse("echeance_depots"), p["echeance_depots"])
    for cle in ("annee_debut", "annee_fin"):
        if p and p[cle] is not None and not 2000 <= p[cle] <= 2100:
            r.ajouter("annee-invalide", "Une année entre 2000 et 2100 est attendue.", p.feuille, p.adresse(cle), p[cle])

    contrats = _doublons(ref, "contrats")
    if "contrats" in L and not L["contrats"] and not any(x.feuille == "Contrats de ville" for x in r.erreurs):
        r.ajouter("feuille-vide", "Indiquez au moins un contrat de ville.", "Contrats de ville", "Contrats de ville")

    # Communes
    communes = _doublons(ref, "communes", "insee")
    for l in L.get("communes", []):
        if l["insee"] and not RE_INSEE.match(l["insee"]):
            r.ajouter("code-insee-invalide", f"« {l['insee']} » n'est pas un code INSEE de commune : 5 caractères, "
                      "2 chiffres (ou 2A, 2B) puis 3 chiffres, par exemple 10387.", l.feuille, l.adresse("insee"),
                      l.brutes.get("insee"))
        _ref(ref, l, "contrat", contrats, "contrat-inconnu", "Le contrat de ville", "Contrats de ville")
        if len(contrats) > 1 and not l["contrat"]:
            r.ajouter("valeur-obligatoire", "Le protocole couvre plusieurs contrats de ville : indiquez celui de la "
                      "commune.", l.feuille, l.adresse("contrat"))

    # Quartiers
    _doublons(ref, "quartiers")   # signale les codes de quartier en double
    for l in L.get("quartiers", []):
        code = l["code"]
        if code and l["type"] == "QPV":
            motif = {"2015": RE_QPV_2015, "2024": RE_QPV_2024}.get(geographie)
            valide = motif.match(code) if motif else (RE_QPV_2015.match(code) or RE_QPV_2024.match(code))
            if not valide:
                exemple = ("QP + département sur 3 caractères + 3 chiffres, par exemple QP093028 (géographie 2015)"
                           if geographie == "2015" else
                           "QN + département sur 3 caractères + 2 chiffres + une lettre, par exemple QN01001I "
                           "(géographie 2024)" if geographie == "2024" else
                           "QP093028 (géographie 2015) ou QN01001I (géographie 2024)")
                r.ajouter("code-qpv-invalide", f"« {code} » n'est pas un code de QPV valide : attendu {exemple}.",
                          l.feuille, l.adresse("code"), code)
        _ref(ref, l, "communes", communes, "commune-inconnue", "La commune", "Communes")

    # Périmètres : un code ne désigne qu'un périmètre.
    perimetres: dict[str, str] = {}
    if p and p["code_territoire"]:
        perimetres[p["code_territoire"]] = "Territoire"
    for fichier, niveau, cle in (("communes", "Commune", "insee"), ("quartiers", "QPV", "code")):
        for l in L.get(fichier, []):
            code = l[cle]
            if code is None:
                continue
            if code in perimetres and fichier != "quartiers" or (fichier == "quartiers" and perimetres.get(code)
                                                                   in ("Territoire", "Commune")):
                r.ajouter("code-duplique", f"Le code « {code} » désigne déjà un autre périmètre ({perimetres[code]}).",
                          l.feuille, l.adresse(cle), code)
                continue
            perimetres.setdefault(code, niveau)

    # Signataires
    signataires = _doublons(ref, "signataires")
    for l in L.get("signataires", []):
        _ref(ref, l, "rattache_a", signataires, "signataire-inconnu", "Le signataire de rattachement", "Signataires")
        if l["categorie"] == "Service de l'État" and not l["rattache_a"]:
            r.ajouter("valeur-obligatoire", "Un service de l'État doit être rattaché à un signataire (« Rattaché à », "
                      "par exemple ETAT).", l.feuille, l.adresse("rattache_a"))
        _ref(ref, l, "insee", communes, "commune-inconnue", "La commune", "Communes")
    _cycles(ref, signataires, "rattache_a", "cycle-signataires", "Les rattachements de signataires")
    _controler_contacts_et_echeances(ref, p)

    # Cadres
    cadres_feuille = _doublons(ref, "cadres")
    cadres = {c.code for c in CADRES_NATIONAUX} | set(cadres_feuille)

    # Axes
    axes = _doublons(ref, "axes")
    for l in L.get("axes", []):
        _ref(ref, l, "parent", axes, "parent-inconnu", "Le nœud parent", "Axes")
        _ref(ref, l, "cadres", cadres, "cadre-inconnu", "Le cadre", "Cadres")
        if l["parent"] and l["parent"] == l["code"]:
            pass  # signalé comme boucle ci-dessous
    _cycles(ref, axes, "parent", "cycle-axes", "Les nœuds de l'arborescence")
    if "axes" in L and not L["axes"] and not any(x.feuille == "Axes" for x in r.erreurs):
        r.ajouter("feuille-vide", "L'arborescence est vide : indiquez au moins un axe.", "Axes", "Axes")

    # Engagements
    engagements = _doublons(ref, "engagements")
    for l in L.get("engagements", []):
        _ref(ref, l, "axe", axes, "axe-inconnu", "Le nœud", "Axes")
        _ref(ref, l, "parent", engagements, "engagement-inconnu", "L'engagement parent", "Engagements")
        _ref(ref, l, "porteurs", signataires, "porteur-inconnu", "Le porteur", "Signataires")
        _ref(ref, l, "cadres", cadres, "cadre-inconnu", "Le cadre", "Cadres")
        if len(set(l["porteurs"] or [])) != len(l["porteurs"] or []):
            r.ajouter("code-duplique", "Un porteur est cité deux fois.", l.feuille, l.adresse("porteurs"),
                      l.brutes.get("porteurs"))
    _cycles(ref, engagements, "parent", "cycle-engagements", "Les engagements parents")

    # Indicateurs
    indicateurs = _doublons(ref, "indicateurs")
    for l in L.get("indicateurs", []):
        _ref(ref, l, "signataire", signataires, "signataire-inconnu", "Le signataire", "Signataires")
        _ref(ref, l, "engagements", engagements, "engagement-inconnu", "L'engagement", "Engagements")
        if l["agregation"] == "taux":
            for cle, quoi in (("numerateur", "Numérateur"), ("denominateur", "Dénominateur")):
                code = l[cle]
                if not code:
                    r.ajouter("taux-sans-composantes", f"Un indicateur agrégé en taux doit indiquer son {quoi.lower()} "
                              "(le code d'un indicateur de comptage) : un taux ne se moyenne pas.", l.feuille,
                              l.adresse(cle))
                elif code not in indicateurs:
                    r.ajouter("indicateur-inconnu", f"Le {quoi.lower()} « {code} » n'existe pas dans la feuille "
                              "« Indicateurs ».", l.feuille, l.adresse(cle), code)
                else:
                    autre = indicateurs[code]
                    if autre["agregation"] != "somme" or autre["niveau"] != l["niveau"]:
                        r.ajouter("composante-incoherente", f"Le {quoi.lower()} « {code} » doit être un indicateur "
                                  f"agrégé en somme, déclaré au même niveau ({l['niveau']}).", l.feuille,
                                  l.adresse(cle), code)
        elif l["numerateur"] or l["denominateur"]:
            r.ajouter("composante-incoherente", "Numérateur et dénominateur ne s'indiquent que pour un taux.",
                      l.feuille, l.adresse("numerateur" if l["numerateur"] else "denominateur"))
        if l["minimum"] is not None and l["maximum"] is not None and l["minimum"] > l["maximum"]:
            r.ajouter("bornes-incoherentes", "Le minimum dépasse le maximum.", l.feuille, l.adresse("maximum"),
                      l["maximum"])

    # Références et cibles
    for fichier in ("references", "cibles"):
        vus: dict[tuple, int] = {}
        for l in L.get(fichier, []):
            code = l["indicateur"]
            ind = indicateurs.get(code)
            if code and ind is None:
                r.ajouter("indicateur-inconnu", f"L'indicateur « {code} » n'existe pas dans la feuille « Indicateurs ».",
                          l.feuille, l.adresse("indicateur"), code)
            per = l["perimetre"]
            if per and per not in perimetres:
                r.ajouter("perimetre-inconnu", f"Le périmètre « {per} » n'est ni un quartier, ni une commune (code "
                          "INSEE), ni le code territoire du protocole.", l.feuille, l.adresse("perimetre"), per)
            elif per and ind is not None and ind["niveau"] and perimetres[per] != ind["niveau"] \
                    and perimetres[per] != "Territoire":
                # Le territoire entier est toujours permis : c'est la référence ou la cible d'ensemble (« doubler le
                # nombre d'apprentis issus des QPV » se fixe pour tous les quartiers à la fois).
                r.ajouter("perimetre-hors-niveau", f"L'indicateur « {code} » est suivi au niveau {ind['niveau']} ; "
                          f"« {per} » est de niveau {perimetres[per]}.", l.feuille, l.adresse("perimetre"), per)
            annee = l["annee"]
            if annee is not None and not 1990 <= annee <= 2100:
                r.ajouter("annee-invalide", "Une année entre 1990 et 2100 est attendue.", l.feuille,
                          l.adresse("annee"), annee)
            elif annee is not None and p and p["annee_debut"] and p["annee_fin"]:
                if fichier == "cibles" and not p["annee_debut"] <= annee <= p["annee_fin"]:
                    r.ajouter("annee-hors-protocole", f"Une cible porte sur une année du protocole "
                              f"({p['annee_debut']}–{p['annee_fin']}).", l.feuille, l.adresse("annee"), annee)
                if fichier == "references" and annee > p["annee_fin"]:
                    r.ajouter("annee-hors-protocole", f"La référence doit précéder la fin du protocole "
                              f"({p['annee_fin']}).", l.feuille, l.adresse("annee"), annee)
            if ind is not None and l["valeur"] is not None:
                if ind["unite"] == "%" and not 0 <= l["valeur"] <= 100:
                    r.ajouter("taux-hors-bornes", "Un pourcentage est attendu entre 0 et 100 (12,5 pour 12,5 %).",
                              l.feuille, l.adresse("valeur"), l.brutes.get("valeur"))
            cle = (code, per) if fichier == "references" else (code, per, annee)
            if None not in cle:
                if cle in vus:
                    r.ajouter("ligne-dupliquee", f"Cette ligne répète la ligne {vus[cle]} (même indicateur, même "
                              f"périmètre{'' if fichier == 'references' else ', même année'}).", l.feuille,
                              f"{l.feuille}!{l.numero}:{l.numero}")
                else:
                    vus[cle] = l.numero

    # Volets, nœuds rattachés à des quartiers, signatures, natures ; codes suggérés, codes QPV officiels.
    complements.controler(ref)


# --------------------------------------------------------------------------------------------------------------------
# Écriture
# --------------------------------------------------------------------------------------------------------------------

TABLES_REFERENTIEL = (
    "contrat", "perimetre", "perimetre_commune", "signataire", "noeud", "noeud_cadre", "engagement",
    "engagement_porteur", "engagement_cadre", "indicateur", "indicateur_engagement", "reference", "cible", "echeance",
) + complements.TABLES


def _tables(ref: Referentiel) -> dict[str, pd.DataFrame]:
    """Les lignes à écrire, table par table."""
    L = ref.lignes
    p = ref.protocole
    code = p["code"]
    t: dict[str, list[dict]] = {k: [] for k in TABLES_REFERENTIEL}

    for i, l in enumerate(L["contrats"], 1):
        t["contrat"].append(dict(protocole=code, code=l["code"], libelle=l["libelle"],
                                 date_signature=l["date_signature"], ordre=i))
    t["perimetre"].append(dict(protocole=code, code=p["code_territoire"], libelle=p["territoire"], niveau="Territoire",
                               type="Territoire", contrat=None, ordre=0))
    for i, l in enumerate(L["communes"], 1):
        t["perimetre"].append(dict(protocole=code, code=l["insee"], libelle=l["nom"], niveau="Commune", type="Commune",
                                   contrat=l["contrat"], ordre=i))
    for i, l in enumerate(L["quartiers"], 1):
        t["perimetre"].append(dict(protocole=code, code=l["code"], libelle=l["libelle"], niveau="QPV", type=l["type"],
                                   contrat=None, ordre=i))
        for insee in dict.fromkeys(l["communes"]):
            t["perimetre_commune"].append(dict(protocole=code, perimetre=l["code"], insee=insee))
    for i, l in enumerate(L["signataires"], 1):
        t["signataire"].append(dict(protocole=code, code=l["code"], nom=l["nom"], categorie=l["categorie"],
                                    rattache_a=l["rattache_a"], signe=bool(l["signe"]), insee=l["insee"], ordre=i,
                                    courriel=l["courriel"]))
    # L'arbre : ordre parmi les frères, profondeur et chemin de tri.
    axes = {l["code"]: l for l in L["axes"]}
    rang = {l["code"]: (l["ordre"] if l["ordre"] is not None else i) for i, l in enumerate(L["axes"], 1)}

    def chemin(c):
        morceaux = []
        while c is not None:
            morceaux.append(f"{rang[c]:05d}")
            c = axes[c]["parent"]
        return ".".join(reversed(morceaux))

    for l in L["axes"]:
        ch = chemin(l["code"])
        t["noeud"].append(dict(protocole=code, code=l["code"], parent=l["parent"], niveau=l["niveau"],
                               libelle=l["libelle"], ordre=rang[l["code"]], profondeur=ch.count(".") + 1, chemin=ch))
        for c in dict.fromkeys(l["cadres"]):
            t["noeud_cadre"].append(dict(protocole=code, noeud=l["code"], cadre=c))
    for i, l in enumerate(L["engagements"], 1):
        t["engagement"].append(dict(protocole=code, code=l["code"], noeud=l["axe"], parent=l["parent"],
                                    libelle=l["libelle"], formule=l["formule"], levier=l["levier"],
                                    echeance=l["echeance"], ordre=l["ordre"] if l["ordre"] is not None else i))
        for rang_p, s in enumerate(l["porteurs"], 1):
            t["engagement_porteur"].append(dict(protocole=code, engagement=l["code"], signataire=s, rang=rang_p))
        for c in dict.fromkeys(l["cadres"]):
            t["engagement_cadre"].append(dict(protocole=code, engagement=l["code"], cadre=c))
    for i, l in enumerate(L["indicateurs"], 1):
        t["indicateur"].append(dict(
            protocole=code, code=l["code"], libelle=l["libelle"], unite=l["unite"], sens=l["sens"],
            periodicite=l["periodicite"], niveau=l["niveau"], agregation=l["agregation"], numerateur=l["numerateur"],
            denominateur=l["denominateur"], source=l["source"], signataire=l["signataire"], minimum=l["minimum"],
            maximum=l["maximum"], definition=l["definition"], ordre=i,
            **_nature_et_financement(l["nature"])))
        for e in dict.fromkeys(l["engagements"]):
            t["indicateur_engagement"].append(dict(protocole=code, indicateur=l["code"], engagement=e))
    for l in L["references"]:
        t["reference"].append(dict(protocole=code, indicateur=l["indicateur"], perimetre=l["perimetre"],
                                   annee=l["annee"], valeur=l["valeur"]))
    for l in L["cibles"]:
        t["cible"].append(dict(protocole=code, indicateur=l["indicateur"], perimetre=l["perimetre"],
                               annee=l["annee"], valeur=l["valeur"]))
    for l in L.get("echeances", []):
        t["echeance"].append(dict(protocole=code, periode=l["periode"], date_limite=l["date_limite"]))
    complements.completer_tables(ref, t)
    return {k: pd.DataFrame(v) for k, v in t.items()}


def _nature_et_financement(nature: str | None) -> dict:
    """« moyen (droit commun) » → nature « moyen », financement « droit commun » ; vide → « résultat »."""
    nature = nature or NATURE_DEFAUT
    for f in FINANCEMENTS:
        if nature == f"moyen ({f})":
            return dict(nature="moyen", financement=f)
    return dict(nature=nature, financement=None)


def inserer_df(con: duckdb.DuckDBPyConnection, table: str, df) -> None:
    """Insertion en bloc d'un DataFrame pandas ou d'une table Arrow (colonnes nommées comme la table)."""
    if len(df) == 0:
        return
    colonnes = ", ".join(getattr(df, "column_names", None) or list(df.columns))
    con.register("_a_inserer", df)
    try:
        con.execute(f"INSERT INTO {table} ({colonnes}) SELECT {colonnes} FROM _a_inserer")
    except Exception:
        # L'insertion a échoué : la transaction est avortée et DuckDB refuse aussi de retirer la vue. C'est l'erreur
        # d'origine qui doit remonter (l'appelant annule la transaction), pas « Current transaction is aborted ».
        try:
            con.unregister("_a_inserer")
        except duckdb.Error:
            pass
        raise
    con.unregister("_a_inserer")


def _controler_contre_la_base(con: duckdb.DuckDBPyConnection, ref: Referentiel) -> None:
    """Un réimport ne doit rien perdre : on refuse de retirer ce qui porte déjà des valeurs, des dépôts ou un suivi."""
    code = ref.code
    L = ref.lignes
    perimetres = ({ref.protocole["code_territoire"]} | {l["insee"] for l in L["communes"]}
                  | {l["code"] for l in L["quartiers"]})
    # (ce qui est attaché, colonne, table, ce que garde le classeur, code d'erreur, feuille, message)
    regles = (
        ("indicateur", "valeur", {l["code"] for l in L["indicateurs"]}, "indicateur-supprime-avec-valeurs",
         "Indicateurs", "L'indicateur « {x} » a déjà {n} valeur(s) déposée(s) : il ne peut pas être retiré du "
         "référentiel. Remettez sa ligne dans la feuille « Indicateurs »."),
        ("perimetre", "valeur", perimetres, "perimetre-supprime-avec-valeurs", "Quartiers",
         "Le périmètre « {x} » a déjà {n} valeur(s) déposée(s) : il ne peut pas être retiré."),
        ("signataire", "depot", {l["code"] for l in L["signataires"]}, "signataire-supprime-avec-depots",
         "Signataires", "Le signataire « {x} » a déjà {n} dépôt(s) : il ne peut pas être retiré."),
        ("engagement", "etat_engagement", {l["code"] for l in L["engagements"]}, "engagement-supprime-avec-suivi",
         "Engagements", "L'engagement « {x} » a déjà {n} état(s) d'avancement enregistré(s) : il ne peut pas être "
         "retiré."),
    )
    for colonne, table, gardes, code_erreur, feuille, message in regles:
        for x, n in con.execute(f"SELECT {colonne}, count(*) FROM {table} WHERE protocole = ? GROUP BY 1 ORDER BY 1",
                                [code]).fetchall():
            if x not in gardes:
                ref.rapport.ajouter(code_erreur, message.format(x=x, n=n), feuille, feuille, x)


@dataclass
class ResultatImport:
    protocole: str
    cree: bool
    compte: dict[str, int]
    rapport: Rapport


@operation("administrer_referentiel")
def importer_referentiel(store: Store, source, nom_fichier: str | None = None) -> ResultatImport:
    """Importe un classeur de référentiel : crée le protocole ou le met à jour sur place, tout ou rien (administrateurs
    seulement ; l'import est consigné au journal, avec son fichier et son empreinte).

    Lève `ImportRefuse` (avec le rapport complet) au moindre problème ; la base est alors inchangée.
    """
    u = utilisateur_de(store)
    ref = lire_referentiel(source, nom_fichier)
    if not ref.rapport.valide:
        raise ImportRefuse(ref.rapport)
    if isinstance(source, (bytes, bytearray)):
        empreinte = hashlib.sha256(source).hexdigest()
        nom = nom_fichier or "classeur"
    elif Path(source).is_dir():
        h = hashlib.sha256()
        for f in sorted(Path(source).glob("*.csv")):
            h.update(f.name.encode() + b"\0" + f.read_bytes())
        empreinte, nom = h.hexdigest(), Path(source).name
    else:
        empreinte, nom = hashlib.sha256(Path(source).read_bytes()).hexdigest(), nom_fichier or Path(source).name
    tables = _tables(ref)
    p = ref.protocole
    exiger_protocole(store, "administrer_referentiel", p["code"], objet=nom)   # un administrateur limité : les siens
    cadres_sup = pd.DataFrame([dict(code=l["code"], referentiel=l["referentiel"], libelle=l["libelle"])
                               for l in ref.lignes["cadres"]])

    def ecrire(con: duckdb.DuckDBPyConnection) -> bool:
        existe = con.execute("SELECT count(*) FROM protocole WHERE code = ?", [p["code"]]).fetchone()[0] > 0
        if existe:
            _controler_contre_la_base(con, ref)
            if not ref.rapport.valide:
                raise ImportRefuse(ref.rapport)
        con.execute("DELETE FROM protocole WHERE code = ?", [p["code"]])
        con.execute(
            "INSERT INTO protocole (code, titre, territoire, code_territoire, annee_debut, annee_fin, date_signature, "
            "geographie, demonstration, description, importe_le, valeurs_retenues, echeance_depots) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, current_timestamp, ?, ?)",
            [p["code"], p["titre"], p["territoire"], p["code_territoire"], p["annee_debut"], p["annee_fin"],
             p["date_signature"], p["geographie"], bool(p["demonstration"]), p["description"],
             p["valeurs_retenues"] or VALEURS_RETENUES[0], _echeance(p["echeance_depots"])])
        for table in TABLES_REFERENTIEL:
            con.execute(f"DELETE FROM {table} WHERE protocole = ?", [p["code"]])
            inserer_df(con, table, tables[table])
        if not cadres_sup.empty:
            for _, c in cadres_sup.iterrows():
                # Sans ON CONFLICT : le lac DuckLake n'a pas de clé primaire (perr_metrics/stockage/lac.py).
                con.execute("UPDATE cadre SET referentiel = ?, libelle = ? WHERE code = ?",
                            [c.referentiel, c.libelle, c.code])
                con.execute("INSERT INTO cadre SELECT ?, ?, ?, (SELECT coalesce(max(ordre), 0) + 1 FROM cadre) "
                            "WHERE NOT EXISTS (SELECT 1 FROM cadre WHERE code = ?)",
                            [c.code, c.referentiel, c.libelle, c.code])
        resume = ", ".join(f"{k} : {len(v)}" for k, v in tables.items() if k in ("signataire", "noeud", "engagement",
                                                                                   "indicateur"))
        con.execute("INSERT INTO import_referentiel (id, protocole, importe_le, fichier_nom, sha256, utilisateur, resume, "
                    "compte) VALUES (?, ?, current_timestamp, ?, ?, ?, ?, ?)",
                    [prochain_id(con, "import_referentiel"), p["code"], nom, empreinte, u.nom, resume, u.identifiant])
        journal.noter(con, u, "import de référentiel", protocole=p["code"], objet=nom,
                      detail=("mise à jour" if existe else "création") + f" ; {resume} ; SHA-256 {empreinte[:12]}…")
        return not existe

    cree = store.ecrire(ecrire)
    compte = {k: len(v) for k, v in tables.items()}
    return ResultatImport(p["code"], cree, compte, ref.rapport)


# --------------------------------------------------------------------------------------------------------------------
# Export et modèle
# --------------------------------------------------------------------------------------------------------------------

@operation("consulter_referentiel")
def donnees_protocole(store: Store, code: str) -> dict[str, list[dict]]:
    """Le contenu d'un protocole, feuille par feuille, avec les clés de colonnes de `FEUILLES`."""

    def lire(con):
        if not con.execute("SELECT count(*) FROM protocole WHERE code = ?", [code]).fetchone()[0]:
            raise KeyError(code)

        def q(sql):
            lignes = con.execute(sql, [code]).fetchall()
            noms = [d[0] for d in con.description]
            return [{k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in zip(noms, l)} for l in lignes]

        sortie = {}
        sortie["protocole"] = q("SELECT code, titre, territoire, code_territoire, annee_debut, annee_fin, date_signature, "
                                "geographie, demonstration, description, valeurs_retenues, echeance_depots "
                                "FROM protocole WHERE code = ?")
        sortie["contrats"] = q("SELECT code, libelle, date_signature FROM contrat WHERE protocole = ? ORDER BY ordre")
        sortie["communes"] = q("SELECT code AS insee, libelle AS nom, contrat FROM perimetre "
                               "WHERE protocole = ? AND niveau = 'Commune' ORDER BY ordre")
        sortie["quartiers"] = q(
            "SELECT p.code, p.libelle, p.type, (SELECT list(insee ORDER BY insee) FROM perimetre_commune c "
            "WHERE c.protocole = p.protocole AND c.perimetre = p.code) AS communes "
            "FROM perimetre p WHERE protocole = ? AND niveau = 'QPV' ORDER BY ordre")
        sortie["signataires"] = q("SELECT code, nom, categorie, rattache_a, signe, insee, courriel FROM signataire "
                                  "WHERE protocole = ? ORDER BY ordre")
        sortie["axes"] = q(
            "SELECT n.code, n.parent, n.niveau, n.libelle, n.ordre, (SELECT list(cadre ORDER BY cadre) FROM noeud_cadre c "
            "WHERE c.protocole = n.protocole AND c.noeud = n.code) AS cadres, n.texte, "
            "CASE WHEN n.volet IS DISTINCT FROM p.volet THEN n.volet END AS volet, "
            "(SELECT list(perimetre ORDER BY perimetre) FROM noeud_quartier q WHERE q.protocole = n.protocole "
            " AND q.noeud = n.code) AS quartiers FROM noeud n LEFT JOIN noeud p ON p.protocole = n.protocole "
            "AND p.code = n.parent WHERE n.protocole = ? ORDER BY n.chemin")
        sortie["signatures"] = q("SELECT s.signataire, s.qualite, s.representant, s.acte, s.date_signature AS date "
                                 "FROM signature s JOIN signataire g ON g.protocole = s.protocole "
                                 "AND g.code = s.signataire WHERE s.protocole = ? ORDER BY g.ordre, s.rang")
        sortie["volets"] = q("SELECT v.code, v.libelle, v.nature, (SELECT list(perimetre ORDER BY perimetre) FROM "
                             "volet_quartier x WHERE x.protocole = v.protocole AND x.volet = v.code) AS quartiers, "
                             "v.texte, v.ordre FROM volet v WHERE v.protocole = ? ORDER BY v.ordre, v.code")
        sortie["engagements"] = q(
            "SELECT e.code, e.noeud AS axe, e.parent, e.libelle, "
            "(SELECT list(signataire ORDER BY rang) FROM engagement_porteur x WHERE x.protocole = e.protocole "
            " AND x.engagement = e.code) AS porteurs, e.formule, e.levier, e.echeance, "
            "(SELECT list(cadre ORDER BY cadre) FROM engagement_cadre c WHERE c.protocole = e.protocole "
            " AND c.engagement = e.code) AS cadres, e.ordre, e.nature FROM engagement e WHERE protocole = ? "
            "ORDER BY e.ordre, e.code")
        sortie["cadres"] = con.execute(
            "SELECT code, referentiel, libelle FROM cadre WHERE code NOT IN (SELECT unnest(?)) AND code IN ("
            " SELECT cadre FROM noeud_cadre WHERE protocole = ? UNION SELECT cadre FROM engagement_cadre "
            " WHERE protocole = ?) ORDER BY ordre",
            [[c.code for c in CADRES_NATIONAUX], code, code]).df().to_dict("records")
        sortie["indicateurs"] = q(
            "SELECT i.code, i.libelle, i.unite, i.sens, i.periodicite, i.niveau, i.agregation, i.numerateur, "
            "i.denominateur, i.source, i.signataire, (SELECT list(engagement ORDER BY engagement) FROM "
            "indicateur_engagement x WHERE x.protocole = i.protocole AND x.indicateur = i.code) AS engagements, "
            "i.minimum, i.maximum, i.definition, CASE WHEN i.financement IS NULL THEN i.nature "
            "ELSE i.nature || ' (' || i.financement || ')' END AS nature "
            "FROM indicateur i WHERE protocole = ? ORDER BY i.ordre")
        sortie["references"] = q("SELECT r.indicateur, r.perimetre, r.annee, r.valeur FROM reference r "
                                 "JOIN indicateur i ON i.protocole = r.protocole AND i.code = r.indicateur "
                                 "JOIN perimetre p ON p.protocole = r.protocole AND p.code = r.perimetre "
                                 "WHERE r.protocole = ? ORDER BY i.ordre, p.niveau DESC, p.ordre")
        sortie["cibles"] = q("SELECT c.indicateur, c.perimetre, c.annee, c.valeur FROM cible c "
                             "JOIN indicateur i ON i.protocole = c.protocole AND i.code = c.indicateur "
                             "JOIN perimetre p ON p.protocole = c.protocole AND p.code = c.perimetre "
                             "WHERE c.protocole = ? ORDER BY i.ordre, p.niveau DESC, p.ordre, c.annee")
        sortie["echeances"] = q("SELECT periode, date_limite FROM echeance WHERE protocole = ? ORDER BY periode")
        return sortie

    return store.lire(lire)


INSTRUCTIONS = [
    "Classeur du référentiel d'un protocole — perr-metrics",
    "",
    "Ce classeur décrit un protocole d'engagements renforcés et réciproques (ou un contrat Engagements Quartiers 2030) :",
    "une feuille par table, une ligne par élément, les en-têtes en ligne 1. Le format complet est décrit dans",
    "docs/referentiel.md.",
    "",
    "Ordre conseillé : Protocole, Contrats de ville, Communes, Quartiers, Signataires, Signatures, Volets, Axes,",
    "Engagements, Indicateurs, Références, Cibles. Les listes déroulantes proposent les valeurs permises et les codes",
    "déjà saisis.",
    "",
    "Règles :",
    "• Les codes sont les clés stables (lettres, chiffres, « - », « _ », « . », sans espace). Ne les changez pas d'un import",
    "  à l'autre : c'est par eux que les valeurs déposées et le suivi restent attachés.",
    "• Plusieurs codes dans une cellule (porteurs, communes, cadres, engagements) : séparez-les par « ; ».",
    "• Un service de l'État (DDSP, DDETS, DSDEN…) est un signataire « Service de l'État » rattaché à ETAT.",
    "• Porteurs : zéro, un ou plusieurs codes de signataires ou de services. Un item sans porteur (un objectif, une",
    "  orientation attendue des autres signataires) laisse la cellule vide : il est compté « sans porteur désigné ».",
    "• Nature (feuille Engagements) : la sorte d'item, dans les mots du protocole (Objectif opérationnel, Exemple",
    "  d'action, Engagement, Orientation attendue des autres signataires…) ; écrivez-la toujours de la même façon.",
    "• Texte (feuille Axes) : l'objectif stratégique, l'enjeu ou la description que le protocole écrit sous le titre.",
    "• Volets (annexes, cités éducatives, projets de quartier) : une ligne dans la feuille Volets, puis le code du volet",
    "  dans la colonne Volet des racines de son arborescence ; Quartiers rattache un volet ou un nœud à ses quartiers.",
    "• Signatures : une ligne par signature (qualité, représentant, acte signé, date), plusieurs par signataire.",
    "• Quartiers : code officiel du QPV (QP + 3 + 3 chiffres en géographie 2015, QN + 3 + 2 chiffres + lettre en 2024) ;",
    "  un territoire de veille active prend un code libre et le type « Veille active ».",
    "• Périmètre des références et cibles : code du quartier, code INSEE de la commune, ou code territoire du protocole.",
    "• Un taux (unité %) s'écrit en pourcentage (12,5) ; il indique son numérateur et son dénominateur.",
    "",
    "Import : python -m perr_metrics referentiel importer CLASSEUR.xlsx (ou depuis la page d'accueil).",
    "L'import est tout ou rien : au moindre problème, rien n'est écrit et la liste complète des problèmes est donnée",
    "(feuille, cellule, valeur, ce qui était attendu). Réimporter le classeur d'un protocole existant le met à jour.",
]


def ecrire_classeur(chemin_ou_flux, donnees: dict[str, list[dict]] | None = None) -> None:
    """Écrit un classeur de référentiel (vierge si `donnees` est None) avec instructions et listes déroulantes."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = Workbook()
    ws = wb.active
    ws.title = "Instructions"
    for i, ligne in enumerate(INSTRUCTIONS, 1):
        ws.cell(row=i, column=1, value=ligne)
    ws["A1"].font = Font(bold=True, size=14)
    ws.column_dimensions["A"].width = 120
    entete = PatternFill("solid", fgColor="DCE6F1")
    max_lignes = 2000
    for spec in FEUILLES:
        feuille = wb.create_sheet(spec.nom)
        for j, col in enumerate(spec.colonnes, 1):
            c = feuille.cell(row=1, column=j, value=col.entete + (" *" if col.obligatoire else ""))
            c.font = Font(bold=True)
            c.fill = entete
            c.alignment = Alignment(wrap_text=True, vertical="top")
            lettre = lettre_colonne(j - 1)
            feuille.column_dimensions[lettre].width = col.largeur
            plage = f"{lettre}2:{lettre}{max_lignes}"
            if col.type in ("code", "liste"):
                feuille.column_dimensions[lettre].number_format = "@"
            formule = None
            if col.choix:
                formule = '"' + ",".join(col.choix) + '"'
            elif col.liste_depuis:
                f_nom, f_col = col.liste_depuis.split("!")
                formule = f"'{f_nom}'!${f_col}$2:${f_col}${max_lignes}"
            if formule and len(formule) <= 255:
                dv = DataValidation(type="list", formula1=formule, allow_blank=True, showErrorMessage=not
                                    col.liste_depuis, errorTitle="Valeur non prévue",
                                    error=f"Choisissez une valeur de la liste pour « {col.entete} ».")
                if col.choix:
                    dv.showErrorMessage = True
                dv.add(plage)
                feuille.add_data_validation(dv)
        feuille.freeze_panes = "A2"
        for i, ligne in enumerate((donnees or {}).get(spec.fichier, []), 2):
            for j, col in enumerate(spec.colonnes, 1):
                v = ligne.get(col.cle)
                if isinstance(v, (list, tuple)):
                    v = ";".join(v) if v else None
                elif isinstance(v, bool):
                    v = "oui" if v else "non"
                elif isinstance(v, pd.Timestamp):
                    v = v.date()
                elif col.type == "entier" and isinstance(v, float) and v.is_integer():
                    v = int(v)
                cellule = feuille.cell(row=i, column=j, value=v)
                if isinstance(v, str):
                    # Un texte reste un texte, même s'il commence par « = » : rien ne sera exécuté à l'ouverture.
                    cellule.data_type = "s"
                    if col.type in ("code", "liste"):
                        cellule.number_format = "@"
                if isinstance(v, dt.date):
                    cellule.number_format = "DD/MM/YYYY"
    wb.save(chemin_ou_flux)


@operation("consulter_referentiel")
def exporter_referentiel(store: Store, code: str, chemin) -> None:
    """Exporte un protocole dans un classeur que l'import relit à l'identique."""
    ecrire_classeur(chemin, donnees_protocole(store, code))


def ecrire_modele(chemin) -> None:
    """Le classeur vierge, avec la feuille d'instructions et les listes déroulantes."""
    ecrire_classeur(chemin, None)
