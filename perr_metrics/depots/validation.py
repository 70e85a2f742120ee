"""Lecture et contrôle d'un fichier de valeurs déposé par un partenaire, avant toute écriture.

Deux formes sont comprises : le modèle pré-rempli que l'application fournit (feuille « Valeurs », métadonnées cachées), et une
table longue libre (.xlsx, .ods, .csv) aux colonnes `indicateur`, `perimetre`, `periode`, `valeur`, `commentaire`.

Tous les problèmes sont rapportés d'un coup, chacun avec sa feuille, sa cellule, la valeur reçue, un code stable
(docs/erreurs.md) et un message en français. Les contrôles ligne à ligne sont faits en colonnes (pandas) : un fichier de
200 000 lignes se contrôle en une fraction du temps de sa lecture.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from perr_metrics.commun.formats import NOMBRE_MAX, arrondir, format_nombre, normaliser_entete
from perr_metrics.commun.lecture import (Feuille, FichierIllisible, est_vide, inspecter_ods, inspecter_xlsx, lettre_colonne,
                      lire_classeur)
from perr_metrics.commun.erreurs import AVERTISSEMENT, Rapport
from .motifs import AUTRE, MOTIFS, normaliser_motif

FEUILLE_META = "_perr"
FEUILLE_VALEURS = "Valeurs"
VERSION_MODELE = "perr-depot-1"
TAILLE_MAX_MO = float(os.environ.get("PERR_TAILLE_MAX_MO", "20"))
RATIO_SAUT = float(os.environ.get("PERR_RATIO_SAUT", "3"))     # avertir au-delà de ×3 ou en deçà de ÷3

# Colonnes reconnues, par ordre de préférence des en-têtes (le modèle a « Code indicateur » et « Indicateur » = libellé).
ENTETES = {
    "indicateur": ("code indicateur", "indicateur"),
    "perimetre": ("code perimetre", "perimetre"),
    "periode": ("periode",),
    "valeur": ("valeur",),
    "commentaire": ("commentaire",),
    "motif": ("motif",),     # facultative : la raison d'une valeur non donnée (depots.motifs)
}
OBLIGATOIRES = ("indicateur", "perimetre", "valeur")
# Des chiffres ASCII : `\d` accepterait « ٢٠٢٥ », qui deviendrait une période distincte de « 2025 ».
RE_PERIODE = re.compile(r"^([0-9]{4})(?:\s*-?\s*S\s*([12]))?$", re.I)
LONGUEUR_COMMENTAIRE_MAX = 32_767   # ce que tient une cellule de tableur : au-delà, l'export ne se relirait pas
# Les caractères de contrôle qu'aucun tableur n'enregistre (un CSV peut en porter) : remplacés par une espace dans un
# commentaire, pour qu'il s'exporte et se relise à l'identique. Un retour chariot devient un saut de ligne.
_RE_CONTROLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

# Ce que la base resserre dans les tables d'un dépôt, et le contrôle qui le garde avant toute écriture (un test le vérifie
# sur le schéma après migrations : tests/core/test_proprietes_depots.py). Les autres colonnes typées (identifiants, dates
# du dépôt, nombre de valeurs) sont calculées par l'application.
BORNES = {
    "valeur.valeur": (-NOMBRE_MAX, NOMBRE_MAX, "nombre-hors-limites"),
    "valeur.annee": ("année de début du protocole", "année de fin du protocole", "periode-hors-protocole"),
    "valeur.commentaire": (0, LONGUEUR_COMMENTAIRE_MAX, "texte-trop-long"),
    # Une ligne sans valeur, avec son motif (depots.motifs) : mêmes contrôles de période et de commentaire.
    "valeur_motif.annee": ("année de début du protocole", "année de fin du protocole", "periode-hors-protocole"),
    "valeur_motif.commentaire": (0, LONGUEUR_COMMENTAIRE_MAX, "texte-trop-long"),
}
COLONNES_CALCULEES = {
    "depot.id": "identifiant suivant", "valeur.depot_id": "identifiant du dépôt", "depot.depose_le": "heure du dépôt",
    "depot.nb_valeurs": "nombre de lignes d'un fichier de 20 Mo au plus",
    "valeur_motif.depot_id": "identifiant du dépôt",
    "depot.nb_avertissements": "nombre d'avertissements du contrôle, au plus un par cellule du fichier",
}
_RE_NOMBRE = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$")   # comme formats.lire_nombre


@dataclass
class Lecture:
    """Un fichier lu : ses lignes utiles, brutes, avec leurs adresses."""

    nom_fichier: str
    feuille: str = ""
    lignes: pd.DataFrame = field(default_factory=pd.DataFrame)
    colonnes: dict[str, str] = field(default_factory=dict)  # clé → lettre de colonne
    meta: dict[str, str] = field(default_factory=dict)
    pourcents: set[str] = field(default_factory=set)
    formules_sans_valeur: set[str] = field(default_factory=set)
    ligne_entete: int = 1
    rapport: Rapport = field(default_factory=Rapport)

    def adresse(self, cle: str, ligne: int) -> str:
        return f"{self.feuille}!{self.colonnes[cle]}{ligne}"


def lire_depot(donnees: bytes, nom_fichier: str) -> Lecture:
    """Lit un fichier déposé. Les problèmes de forme (fichier, feuille, colonnes) vont dans `lecture.rapport`."""
    lecture = Lecture(nom_fichier)
    r = lecture.rapport
    taille_mo = len(donnees) / 2**20
    if taille_mo > TAILLE_MAX_MO:
        r.ajouter("fichier-trop-gros", f"Le fichier pèse {format_nombre(taille_mo, 1)} Mo ; la limite est de "
                  f"{format_nombre(TAILLE_MAX_MO)} Mo. Déposez-le en plusieurs fois, ou sans les feuilles inutiles.",
                  "", "", nom_fichier)
        return lecture
    if not donnees:
        r.ajouter("fichier-vide", "Le fichier est vide.", "", "", nom_fichier)
        return lecture
    extension = Path(nom_fichier).suffix.lower()
    try:
        feuilles = lire_classeur(donnees, nom_fichier if extension else nom_fichier + ".xlsx")
    except FichierIllisible as exc:
        r.ajouter(exc.code, str(exc), "", "", nom_fichier)
        return lecture
    meta_feuille = next((f for n, f in feuilles.items() if n == FEUILLE_META), None)
    if meta_feuille is not None:
        lecture.meta = {str(l[0]).strip(): _texte(l[1]) for l in meta_feuille.lignes if len(l) >= 2 and l[0]}
    trouve = _trouver_table(feuilles)
    if trouve is None:
        if all(all(est_vide(c) for l in f.lignes for c in l) for n, f in feuilles.items() if n != FEUILLE_META):
            r.ajouter("fichier-vide", "Le fichier ne contient aucune donnée.", "", "", nom_fichier)
        else:
            r.ajouter("feuille-manquante", "Aucune feuille ne contient un tableau de valeurs : il faut une ligne "
                      "d'en-têtes avec au moins « indicateur », « perimetre » et « valeur » (la feuille « Valeurs » du "
                      "modèle).", "", "", ", ".join(n for n in feuilles if n != FEUILLE_META))
        return lecture
    feuille, entete_idx, positions, manquantes = trouve
    lecture.feuille = feuille.nom
    lecture.ligne_entete = entete_idx + 1
    for cle in manquantes:
        r.ajouter("colonne-manquante", f"La colonne « {cle} » est absente de la feuille « {feuille.nom} » "
                  f"(en-têtes en ligne {entete_idx + 1}).", feuille.nom, f"{feuille.nom}!{entete_idx + 1}:{entete_idx + 1}")
    if manquantes:
        return lecture
    lecture.colonnes = {cle: lettre_colonne(j) for cle, j in positions.items()}
    _remplir_fusions(feuille)
    lignes = feuille.lignes[entete_idx + 1:]
    largeur = max(positions.values()) + 1
    donnees_lignes = [(l + [""] * (largeur - len(l)))[:largeur] if len(l) < largeur else l for l in lignes]
    colonnes = {cle: [l[j] for l in donnees_lignes] for cle, j in positions.items()}
    # Lignes entièrement vides, calculées sur les listes (pas de Series.map, qui coûte cher sur 200 000 lignes).
    vide = np.logical_and.reduce([np.fromiter(map(est_vide, c), bool, len(c)) for c in colonnes.values()])
    df = pd.DataFrame(colonnes)
    del colonnes
    df["ligne"] = np.arange(entete_idx + 2, entete_idx + 2 + len(df))
    df = df[~vide].reset_index(drop=True)
    if df.empty:
        r.ajouter("fichier-vide", f"La feuille « {feuille.nom} » ne contient aucune ligne de valeurs.", feuille.nom,
                  feuille.nom)
        return lecture
    lecture.lignes = df
    colonne_valeur = {lecture.colonnes["valeur"]}
    derniere = int(df["ligne"].max())
    try:
        if extension in (".xlsx", ".xlsm"):
            lecture.pourcents, lecture.formules_sans_valeur = inspecter_xlsx(donnees, feuille.nom, colonne_valeur,
                                                                             derniere)
        elif extension == ".ods":
            lecture.pourcents, lecture.formules_sans_valeur = inspecter_ods(donnees, feuille.nom, colonne_valeur,
                                                                            derniere)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, SyntaxError):
        # calamine a lu les cellules, mais une autre partie de l'archive (les styles, qui disent quelles cellules sont
        # au format pourcentage) est abîmée : lire sans elle donnerait 0,125 pour 12,5 %. (SyntaxError : le XML.)
        r.ajouter("fichier-illisible", f"{nom_fichier} est abîmé : une partie du classeur (ses styles) ne se "
                  "décompresse pas. Ouvrez-le dans votre tableur et enregistrez-le à nouveau.", "", "", nom_fichier)
        lecture.lignes = pd.DataFrame()
    return lecture


def _texte(v) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return "" if v is None else str(v).strip()


def _trouver_table(feuilles: dict[str, Feuille]):
    """La feuille de valeurs : « Valeurs » d'abord, sinon la première feuille visible dont une des 30 premières lignes
    porte les en-têtes attendus (un partenaire renomme parfois la feuille). Une feuille cachée n'est lue qu'en dernier
    recours, et seulement si elle s'appelle « Valeurs » : le partenaire ne voit pas ce qu'elle contient."""
    ordre = sorted((f for n, f in feuilles.items() if n != FEUILLE_META),
                   key=lambda f: (not f.visible, normaliser_entete(f.nom) != "valeurs"))
    meilleur = None
    for f in ordre:
        if not f.visible and normaliser_entete(f.nom) != "valeurs":
            continue
        for i, ligne in enumerate(f.lignes[:30]):
            normes = [normaliser_entete(str(c).rstrip(" *")) if not est_vide(c) else "" for c in ligne]
            positions = {}
            for cle, candidats in ENTETES.items():
                for candidat in candidats:
                    if candidat in normes:
                        positions[cle] = normes.index(candidat)
                        break
            if len([c for c in OBLIGATOIRES if c in positions]) >= 2:
                manquantes = [c for c in OBLIGATOIRES if c not in positions]
                if not manquantes:
                    return f, i, positions, []
                meilleur = meilleur or (f, i, positions, manquantes)
    return meilleur


def _remplir_fusions(feuille: Feuille) -> None:
    """Une cellule fusionnée ne porte sa valeur qu'en haut à gauche : on la recopie dans toute la zone, comme le lit un
    humain (un code d'indicateur fusionné sur neuf lignes de QPV vaut pour les neuf)."""
    for zone in feuille.fusions or []:
        try:
            (l0, c0), (l1, c1) = zone
        except (TypeError, ValueError):
            continue
        if l0 >= len(feuille.lignes) or c0 >= len(feuille.lignes[l0]):
            continue
        v = feuille.lignes[l0][c0]
        for i in range(l0, min(l1, len(feuille.lignes) - 1) + 1):
            for j in range(c0, c1 + 1):
                if j < len(feuille.lignes[i]) and (i, j) != (l0, c0) and est_vide(feuille.lignes[i][j]):
                    feuille.lignes[i][j] = v


# --------------------------------------------------------------------------------------------------------------------
# Interprétation des cellules, en colonnes
# --------------------------------------------------------------------------------------------------------------------

def _par_valeur(serie: pd.Series, fonction) -> pd.Series:
    """`serie.map(fonction)`, en n'appelant `fonction` qu'une fois par valeur distincte : les codes, les périodes et les
    commentaires d'un dépôt se répètent sur des milliers de lignes. Le type fait partie de la clé, pour que `1`, `1.0`
    et `True` restent distincts ; une valeur non hachable est calculée à part."""
    if isinstance(serie.dtype, pd.StringDtype) and len(serie) and not serie.hasnans:
        # Que des chaînes (le cas des codes et des périodes lus par calamine) : une fois par valeur distincte, puis
        # une indexation. Même résultat, même type que `serie.map(fonction)`, sans son coût par ligne.
        positions, distinctes = pd.factorize(serie, sort=False)
        return pd.Series([fonction(v) for v in distinctes]).take(positions).set_axis(serie.index)
    cache: dict = {}

    def f(v):
        cle = (v.__class__, v)
        try:
            return cache[cle]
        except KeyError:
            r = cache[cle] = fonction(v)
            return r
        except TypeError:
            return fonction(v)

    return serie.map(f)


def _commentaire(v) -> str:
    return _RE_CONTROLE.sub(" ", _texte(v).replace("\r\n", "\n").replace("\r", "\n")).strip()


def _code(v) -> str:
    return "" if est_vide(v) else _texte(v)


def _codes(serie: pd.Series) -> pd.Series:
    return _par_valeur(serie, _code)


def _normaliser_periode(v) -> str | None:
    """`2021`, `2021.0`, `2021-S1`, `2021 S2`, `2021s1` → forme canonique ; None si illisible."""
    if isinstance(v, (dt.date, dt.datetime)):
        return None
    m = RE_PERIODE.match(_texte(v))
    if not m:
        return None
    return m.group(1) + (f"-S{m.group(2)}" if m.group(2) else "")


def interpreter_valeurs(brutes: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Valeurs brutes → (nombre ou NaN, écrite en pourcent, nature du problème : '', 'texte' ou 'date')."""
    types = brutes.map(type)
    nombres = pd.Series(np.nan, index=brutes.index)
    pourcent = pd.Series(False, index=brutes.index)
    probleme = pd.Series("", index=brutes.index, dtype=object)
    num = types.isin([float, int, np.float64, np.int64])
    nombres[num] = brutes[num].astype(float)
    dates = types.isin([dt.date, dt.datetime, dt.time, pd.Timestamp])
    probleme[dates] = "date"
    booleens = types == bool
    probleme[booleens] = "texte"
    textes = ~(num | dates | booleens)
    if textes.any():
        t = brutes[textes].astype(str).str.replace(r"[\s\u00a0\u202f\u2009]+", "", regex=True)
        pct = t.str.endswith("%")
        t = t.where(~pct, t.str[:-1])
        ok = t.str.match(_RE_NOMBRE)
        nombres[t[ok].index] = t[ok].str.replace(",", ".", regex=False).astype(float)
        pourcent[t[ok & pct].index] = True
        probleme[t[~ok].index] = "texte"
    # 15 chiffres significatifs, comme formats.lire_nombre : ce qui est enregistré s'exporte et se relit à l'identique.
    lues = nombres.notna()
    if lues.any():
        nombres[lues] = [arrondir(x) for x in nombres[lues].tolist()]
    return nombres, pourcent, probleme


# --------------------------------------------------------------------------------------------------------------------
# Contrôles contre le référentiel
# --------------------------------------------------------------------------------------------------------------------

@dataclass
class Contexte:
    """Ce que le référentiel dit d'un protocole et d'un signataire, lu une fois par dépôt."""

    protocole: str
    annee_debut: int
    annee_fin: int
    signataire: str
    signataires_couverts: set[str]      # le signataire et ses services
    indicateurs: pd.DataFrame           # index code
    perimetres: pd.DataFrame            # index code
    precedentes: pd.DataFrame           # valeurs courantes (indicateur, perimetre, periode, valeur)


def periode_precedente(periode: str) -> str:
    annee, _, semestre = periode.partition("-S")
    if semestre == "2":
        return f"{annee}-S1"
    if semestre == "1":
        return f"{int(annee) - 1}-S2"
    return str(int(annee) - 1)


def verifier(lecture: Lecture, ctx: Contexte, periode_demandee: str | None) -> pd.DataFrame:
    """Contrôle les lignes lues ; remplit `lecture.rapport` ; renvoie les valeurs prêtes à écrire (si aucune erreur)."""
    r = lecture.rapport
    df = lecture.lignes.copy()
    if df.empty:
        return df
    feuille = lecture.feuille

    def ajouter_masque(masque: pd.Series, cle: str, code: str, message, valeurs=None, niveau="erreur"):
        for i in df.index[masque]:
            texte = message(i) if callable(message) else message
            brute = df.at[i, cle] if valeurs is None else valeurs[i]
            r.ajouter(code, texte, feuille, lecture.adresse(cle, int(df.at[i, "ligne"])), brute, niveau=niveau)

    # Métadonnées du modèle : fait pour ce protocole, ce signataire, cette période ?
    meta = lecture.meta
    if meta:
        cellule_meta = FEUILLE_META
        if meta.get("protocole") and meta["protocole"] != ctx.protocole:
            r.ajouter("modele-autre-protocole", f"Ce modèle a été préparé pour le protocole « {meta['protocole']} », "
                      f"pas pour « {ctx.protocole} ».", FEUILLE_META, cellule_meta, meta["protocole"])
        if meta.get("signataire") and meta["signataire"] != ctx.signataire:
            r.ajouter("modele-autre-signataire", f"Ce modèle a été préparé pour le signataire « {meta['signataire']} », "
                      f"pas pour « {ctx.signataire} » : téléchargez votre propre modèle.", FEUILLE_META, cellule_meta,
                      meta["signataire"])
        if periode_demandee and meta.get("periode") and meta["periode"] != periode_demandee:
            r.ajouter("modele-autre-periode", f"Ce modèle a été préparé pour la période {meta['periode']}, pas pour "
                      f"{periode_demandee}.", FEUILLE_META, cellule_meta, meta["periode"])
        periode_demandee = periode_demandee or meta.get("periode") or None
    if periode_demandee and periode_demandee[:4].isdigit() and \
            not ctx.annee_debut <= int(periode_demandee[:4]) <= ctx.annee_fin:
        # Sans colonne « periode », c'est cette période qui serait écrite sur chaque ligne : on la contrôle aussi.
        r.ajouter("periode-hors-protocole", f"La période du dépôt, {periode_demandee}, est hors du protocole "
                  f"({ctx.annee_debut}–{ctx.annee_fin}).", "", "", periode_demandee)

    df["indicateur"] = _codes(df["indicateur"])
    df["perimetre"] = _codes(df["perimetre"])
    if "periode" in df.columns:
        df["periode_brute"] = df["periode"]
        df["periode"] = _par_valeur(df["periode"], lambda v: "" if est_vide(v) else (_normaliser_periode(v) or "?"))
    else:
        df["periode_brute"] = ""
        df["periode"] = ""
    if "commentaire" not in df.columns:
        df["commentaire"] = ""
    df["commentaire"] = _par_valeur(df["commentaire"], lambda v: None if est_vide(v) else _commentaire(v))
    if "motif" not in df.columns:
        df["motif"] = ""
    df["motif_brut"] = df["motif"]
    df["motif"] = _par_valeur(df["motif"], lambda v: "" if est_vide(v) else (normaliser_motif(v) or "?"))

    # Une ligne sans valeur ni motif n'est pas déposée (le partenaire n'a pas l'information) ; elle compte comme
    # manquante. Avec un motif, elle est gardée : la valeur est « expliquée » (depots.motifs). Une formule dont le
    # fichier n'a pas gardé le résultat se lit vide, mais le partenaire a bien saisi quelque chose : elle est signalée
    # plus bas (formule-sans-valeur), pas ignorée.
    formule = (lecture.colonnes["valeur"] + df["ligne"].astype(str)).isin(lecture.formules_sans_valeur)
    sans_valeur = pd.Series(np.fromiter(map(est_vide, df["valeur"].tolist()), bool, len(df)), index=df.index,
                            name="valeur") & ~formule
    a_motif = df["motif"] != ""
    df = df[~sans_valeur | a_motif].copy()
    if df.empty:
        r.ajouter("fichier-vide", "Aucune valeur n'est saisie dans la colonne « Valeur ».", feuille, feuille)
        return df
    motif_seul = (sans_valeur & a_motif)[df.index]
    if "motif" in lecture.colonnes:
        ajouter_masque(df["motif"] == "?", "motif", "motif-inconnu",
                       "Motif inconnu : choisissez dans la liste " + ", ".join(f"« {m} »" for m in MOTIFS) + ".",
                       valeurs=df["motif_brut"])
        ajouter_masque(a_motif[df.index] & ~motif_seul, "motif", "motif-avec-valeur",
                       "Cette ligne a une valeur et un motif de valeur manquante : gardez l'une ou l'autre (videz le "
                       "motif si la valeur est connue).", valeurs=df["motif_brut"])
        ajouter_masque(motif_seul & (df["motif"] == AUTRE) & df["commentaire"].isna(), "motif",
                       "motif-sans-commentaire", "Motif « autre » : expliquez la raison dans le commentaire.",
                       valeurs=df["motif_brut"])

    longs = df["commentaire"].map(lambda c: isinstance(c, str) and len(c) > LONGUEUR_COMMENTAIRE_MAX)
    if "commentaire" in lecture.colonnes:
        ajouter_masque(longs, "commentaire", "texte-trop-long",
                       lambda i: f"Un commentaire compte au plus {format_nombre(LONGUEUR_COMMENTAIRE_MAX)} caractères ; "
                                 f"celui-ci en compte {format_nombre(len(df.at[i, 'commentaire']))}.")

    # Identifiants
    ajouter_masque(df["indicateur"] == "", "indicateur", "valeur-obligatoire", "Le code de l'indicateur manque.")
    ajouter_masque(df["perimetre"] == "", "perimetre", "valeur-obligatoire", "Le code du périmètre manque.")
    # La ligne de chaque code dans le référentiel, cherchée une fois pour toutes : les attributs de l'indicateur s'en
    # déduisent comme le fait `Series.map(ctx.indicateurs[col])` (recherche puis `take`), sans rehacher chaque code
    # pour chacun des six attributs.
    pos_i = ctx.indicateurs.index.get_indexer(df["indicateur"])

    def de_l_indicateur(colonne: str) -> pd.Series:
        source = ctx.indicateurs[colonne]
        if source.empty:
            return df["indicateur"].map(source)
        valeurs = source.array if isinstance(source.dtype, pd.api.extensions.ExtensionDtype) else source.to_numpy()
        return pd.Series(pd.api.extensions.take(valeurs, pos_i, allow_fill=True), index=df.index, name="indicateur")

    connu_i = pd.Series(pos_i >= 0, index=df.index, name="indicateur")
    ajouter_masque((df["indicateur"] != "") & ~connu_i, "indicateur", "indicateur-inconnu",
                   lambda i: f"L'indicateur « {df.at[i, 'indicateur']} » n'existe pas dans le protocole "
                             f"{ctx.protocole}.")
    signataire_i = de_l_indicateur("signataire")
    autre = connu_i & ~signataire_i.isin(ctx.signataires_couverts)
    ajouter_masque(autre, "indicateur", "indicateur-autre-signataire",
                   lambda i: f"L'indicateur « {df.at[i, 'indicateur']} » est déclaré par « {signataire_i[i]} », pas "
                             f"par « {ctx.signataire} ».")
    connu_p = df["perimetre"].isin(ctx.perimetres.index)
    ajouter_masque((df["perimetre"] != "") & ~connu_p, "perimetre", "perimetre-inconnu",
                   lambda i: f"Le périmètre « {df.at[i, 'perimetre']} » n'est ni un quartier, ni une commune, ni le "
                             f"territoire du protocole.")
    niveau_i = de_l_indicateur("niveau")
    niveau_p = df["perimetre"].map(ctx.perimetres["niveau"])
    ajouter_masque(connu_i & connu_p & (niveau_i != niveau_p), "perimetre", "perimetre-hors-niveau",
                   lambda i: f"L'indicateur « {df.at[i, 'indicateur']} » se déclare au niveau {niveau_i[i]} ; "
                             f"« {df.at[i, 'perimetre']} » est de niveau {niveau_p[i]}.")

    # Périodes
    if "periode" not in lecture.colonnes:
        if periode_demandee is None:
            r.ajouter("colonne-manquante", "La colonne « periode » est absente et aucune période n'a été indiquée "
                      "pour le dépôt.", feuille, f"{feuille}!{lecture.ligne_entete}:{lecture.ligne_entete}")
            return df
    vide = df["periode"] == ""
    if periode_demandee:
        df.loc[vide, "periode"] = periode_demandee
    elif vide.any():
        ajouter_masque(vide, "periode", "valeur-obligatoire", "La période manque (par exemple 2021 ou 2021-S1).")
    illisible = df["periode"] == "?"
    if "periode" in lecture.colonnes:
        ajouter_masque(illisible, "periode", "periode-invalide",
                       "Période illisible : attendu une année (2021) ou un semestre (2021-S1, 2021-S2).",
                       valeurs=df["periode_brute"])
    lisible = ~illisible & (df["periode"] != "")
    # L'année de chaque période, calculée une fois par période distincte.
    positions, distinctes = pd.factorize(df["periode"], sort=False)
    annees = pd.to_numeric(pd.Series(distinctes, dtype=object).str[:4], errors="coerce").to_numpy()
    annee = pd.Series(annees[positions], index=df.index).where(lisible)
    hors = lisible & ((annee < ctx.annee_debut) | (annee > ctx.annee_fin))
    if "periode" in lecture.colonnes:
        ajouter_masque(hors, "periode", "periode-hors-protocole",
                       f"La période est hors du protocole ({ctx.annee_debut}–{ctx.annee_fin}).",
                       valeurs=df["periode_brute"])
    if periode_demandee:
        attendue = periode_demandee[:4]
        autre_p = lisible & ~hors & (df["periode"].str[:4] != attendue)
        if "periode" in lecture.colonnes:
            ajouter_masque(autre_p, "periode", "periode-differente",
                           f"Ce dépôt porte sur {periode_demandee} ; cette ligne porte sur une autre année.",
                           valeurs=df["periode_brute"])
    semestrielle = de_l_indicateur("periodicite") == "semestrielle"
    est_semestre = df["periode"].str.contains("-S", regex=False)
    incompatible = connu_i & lisible & ~hors & (semestrielle != est_semestre)
    ajouter_masque(incompatible, "periode" if "periode" in lecture.colonnes else "indicateur", "periode-incompatible",
                   lambda i: (f"L'indicateur « {df.at[i, 'indicateur']} » est semestriel : indiquez "
                              f"{df.at[i, 'periode'][:4]}-S1 ou {df.at[i, 'periode'][:4]}-S2."
                              if semestrielle[i] else
                              f"L'indicateur « {df.at[i, 'indicateur']} » est annuel : indiquez l'année seule "
                              f"({df.at[i, 'periode'][:4]})."),
                   valeurs=df["periode_brute"] if "periode" in lecture.colonnes else None)

    # Valeurs
    nombres, pourcent_ecrit, probleme = interpreter_valeurs(df["valeur"])
    col_v = lecture.colonnes["valeur"]
    adresses = col_v + df["ligne"].astype(str)
    formule_vide = adresses.isin(lecture.formules_sans_valeur)
    ajouter_masque(formule_vide, "valeur", "formule-sans-valeur",
                   "Cette cellule contient une formule dont le fichier n'a pas gardé le résultat : ouvrez le fichier "
                   "dans votre tableur, laissez-le recalculer, enregistrez, puis déposez-le à nouveau.")
    ajouter_masque((probleme == "texte") & ~formule_vide & ~motif_seul, "valeur", "valeur-non-numerique",
                   lambda i: f"« {df.at[i, 'valeur']} » n'est pas un nombre. Saisissez un nombre (1 234,5) ; si la "
                             f"donnée n'est pas connue, laissez la cellule vide et expliquez-le en commentaire.")
    ajouter_masque(probleme == "date", "valeur", "valeur-date",
                   "La cellule contient une date, pas un nombre : le tableur a sans doute converti la saisie "
                   "(« 1/2 » devient le 1er février). Mettez la cellule au format Nombre et saisissez la valeur.")
    unite = de_l_indicateur("unite")
    en_pourcent_format = adresses.isin(lecture.pourcents)
    # Une cellule au format pourcentage contient 0,125 pour 12,5 % : on remet la valeur en pourcentage.
    en_pourcent = en_pourcent_format & (unite == "%")
    if en_pourcent.any():
        nombres = nombres.copy()
        nombres[en_pourcent] = [arrondir(x * 100) for x in nombres[en_pourcent].tolist()]
    pct_inattendu = connu_i & (en_pourcent_format | pourcent_ecrit) & (unite != "%")
    ajouter_masque(pct_inattendu, "valeur", "pourcentage-inattendu",
                   lambda i: f"L'indicateur « {df.at[i, 'indicateur']} » s'exprime en {unite[i]}, pas en pourcentage.")
    # Une valeur démesurée (« 1e400 », 400 chiffres, plus de mille milliards) ne sera jamais écrite : DOUBLE la tiendrait,
    # mais pas les sommes ni les exports. Elle n'est contrôlée qu'une fois (ni taux, ni signe).
    demesure = nombres.notna() & ~(nombres.abs() <= NOMBRE_MAX)
    ajouter_masque(demesure, "valeur", "nombre-hors-limites",
                   lambda i: f"La valeur attendue est un nombre entre {format_nombre(-NOMBRE_MAX)} et "
                             f"{format_nombre(NOMBRE_MAX)} (mille milliards) ; la cellule contient "
                             + (f"{format_nombre(nombres[i])}." if np.isfinite(nombres[i]) else "un nombre démesuré."))
    ok = nombres.notna() & ~demesure
    taux = ok & connu_i & (unite == "%") & ((nombres < 0) | (nombres > 100))
    ajouter_masque(taux, "valeur", "taux-hors-bornes",
                   lambda i: f"Un pourcentage est attendu entre 0 et 100 ; reçu {format_nombre(nombres[i])}.")
    minimum = de_l_indicateur("minimum")
    negatif = ok & connu_i & (nombres < 0) & ~(minimum < 0) & (unite != "%")
    ajouter_masque(negatif, "valeur", "valeur-negative", "Une valeur négative n'a pas de sens pour cet indicateur.")

    # Doublons
    cles = ["indicateur", "perimetre", "periode"]
    doublon = df.duplicated(cles, keep="first") & (df["indicateur"] != "") & (df["perimetre"] != "")
    premiere = df.drop_duplicates(cles).set_index(cles)["ligne"]
    ajouter_masque(doublon, "indicateur", "ligne-dupliquee",
                   lambda i: f"Même indicateur, même périmètre, même période qu'à la ligne "
                             f"{premiere[tuple(df.loc[i, cles])]}.")

    # Avertissements de vraisemblance : ne bloquent pas, mais le partenaire les confirme.
    maximum = de_l_indicateur("maximum")
    sain = ok & connu_i & ~taux & ~negatif
    hors_bornes = sain & (((minimum.notna()) & (nombres < minimum)) | ((maximum.notna()) & (nombres > maximum)))
    ajouter_masque(hors_bornes, "valeur", "hors-bornes-plausibles",
                   lambda i: f"{format_nombre(nombres[i])} est hors des valeurs plausibles de l'indicateur "
                             f"({format_nombre(minimum[i])} à {format_nombre(maximum[i])}) : vérifiez la saisie.",
                   niveau=AVERTISSEMENT)
    if not ctx.precedentes.empty and sain.any():
        # La valeur qui faisait foi à la période précédente, par une jointure (et non une recherche par ligne).
        cles = ["indicateur", "perimetre", "periode"]
        prec = ctx.precedentes[cles + ["valeur"]].drop_duplicates(cles).astype({c: object for c in cles})
        # Quand le fichier porte lui-même la période précédente (une correction de S1 et S2 ensemble), c'est sa
        # valeur qui fera foi : on compare à elle, jamais à la valeur qu'elle remplace.
        du_fichier = pd.DataFrame({c: df[c].to_numpy(dtype=object) for c in cles}).assign(
            valeur=nombres.to_numpy(dtype=float))[sain.to_numpy()].drop_duplicates(cles)
        if not du_fichier.empty:
            prec = pd.concat([du_fichier, prec], ignore_index=True).drop_duplicates(cles)
        cherchees = pd.DataFrame({
            "indicateur": df["indicateur"].to_numpy(dtype=object), "perimetre": df["perimetre"].to_numpy(dtype=object),
            "periode": _par_valeur(df["periode"], lambda p: periode_precedente(p) if p and p != "?" else "")
            .to_numpy(dtype=object)})
        precedente = pd.Series(cherchees.merge(prec, on=cles, how="left")["valeur"].to_numpy(dtype=float),
                               index=df.index)
        rapport_saut = nombres / precedente
        saut = sain & ~hors_bornes & precedente.notna() & (precedente > 0) & (
            (rapport_saut > RATIO_SAUT) | (rapport_saut < 1 / RATIO_SAUT))
        ajouter_masque(saut, "valeur", "saut-important",
                       lambda i: f"{format_nombre(nombres[i])} contre {format_nombre(precedente[i])} à la période "
                                 f"précédente (×{format_nombre(rapport_saut[i], 1)}) : vérifiez la saisie.",
                       niveau=AVERTISSEMENT)
    df["valeur_nombre"] = nombres
    df["motif"] = df["motif"].where(motif_seul, None)    # le motif d'une ligne sans valeur, sinon rien
    sortie = df[["indicateur", "perimetre", "periode", "valeur_nombre", "commentaire", "motif", "ligne"]].rename(
        columns={"valeur_nombre": "valeur"})
    sortie["cellule"] = feuille + "!" + adresses
    return sortie.drop(columns=["ligne"]).reset_index(drop=True)
