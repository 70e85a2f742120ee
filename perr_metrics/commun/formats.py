"""Écritures françaises des nombres et des dates, dans les deux sens (affichage et lecture de cellules saisies)."""
from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata

ESPACE_INSECABLE = "\u00a0"

MOIS = (
    "janvier", "février", "mars", "avril", "mai", "juin",
    "juillet", "août", "septembre", "octobre", "novembre", "décembre",
)


def format_nombre(x, decimales: int | None = None) -> str:
    """`1234.5` → `1 234,5` (espace insécable). `None` ou NaN → `–`.

    Sans `decimales`, affiche au plus une décimale et aucune pour un entier.
    """
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    x = float(x)
    if decimales is None:
        decimales = 0 if float(x).is_integer() else 1
        if decimales == 1 and abs(x) < 1 and round(x, 1) == 0:
            decimales = 2
    texte = f"{x:,.{decimales}f}"
    if texte.startswith("-") and float(texte.replace(",", "")) == 0:
        texte = texte[1:]
    return texte.replace(",", ESPACE_INSECABLE).replace(".", ",")


def format_pourcent(x, decimales: int | None = 1) -> str:
    """`12.5` (déjà en pourcentage) → `12,5 %`."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{format_nombre(x, decimales)}{ESPACE_INSECABLE}%"


def format_valeur(x, unite: str | None) -> str:
    """Une valeur avec son unité, à la française : `12,5 %`, `1 200 €`, `35 apprentis` n'est pas notre affaire."""
    if unite == "%":
        return format_pourcent(x)
    if unite == "€":
        return f"{format_nombre(x)}{ESPACE_INSECABLE}€"
    return format_nombre(x)


def format_date(d) -> str:
    """`date(2021, 2, 12)` → `12 février 2021` ; le premier du mois s'écrit `1er`."""
    if d is None:
        return "–"
    if isinstance(d, str):
        d = dt.date.fromisoformat(d[:10])
    if isinstance(d, dt.datetime):
        d = d.date()
    jour = "1er" if d.day == 1 else str(d.day)
    return f"{jour} {MOIS[d.month - 1]} {d.year}"


def format_date_heure(d) -> str:
    """`12 février 2021 à 14 h 05`."""
    if d is None:
        return "–"
    if isinstance(d, str):
        d = dt.datetime.fromisoformat(d)
    return f"{format_date(d)} à {d.hour} h {d.minute:02d}"


# --------------------------------------------------------------------------------------------------------------------
# Accord et pluriel dans le texte généré
# --------------------------------------------------------------------------------------------------------------------

def pluriel(n, singulier: str, pluriel_: str | None = None) -> str:
    """La forme qui s'accorde avec le nombre `n` : le singulier pour 0 et 1 (« aucun indicateur », « 1 indicateur »,
    « 0,5 jour »), le pluriel à partir de 2. Sert aussi aux verbes et aux adjectifs : `pluriel(n, "se lit",
    "se lisent")`, `pluriel(n, "renseigné")`. Sans `pluriel_`, un seul mot prend un « s » (sauf s'il finit par s, x ou
    z ; « -al » devient « -aux », « -eau » et « -eu » prennent un « x ») ; plusieurs mots demandent leur pluriel écrit."""
    try:
        nombre = abs(float(n))
    except (TypeError, ValueError):
        nombre = 0.0
    if nombre < 2:
        return singulier
    if pluriel_ is not None:
        return pluriel_
    if " " in singulier.strip():
        raise ValueError(f"« {singulier} » a plusieurs mots : donnez son pluriel.")
    if singulier.endswith(("s", "x", "z")):
        return singulier
    if singulier.endswith("al") and singulier not in ("bal", "festival", "carnaval", "récital", "chacal"):
        return singulier[:-2] + "aux"
    if singulier.endswith(("eau", "eu")) and singulier not in ("pneu", "bleu"):
        return singulier + "x"
    return singulier + "s"


def accord(n, singulier: str, pluriel_: str | None = None, *, feminin: bool = False, zero: str | None = None) -> str:
    """Un nombre et ce qu'il compte, accordés : `accord(1, "indicateur")` → « 1 indicateur », `accord(21,
    "indicateur")` → « 21 indicateurs », `accord(0, "indicateur")` → « aucun indicateur » (« aucune commune » avec
    `feminin=True`) ; `zero` remplace le tout pour 0 (« rien », « 0 indicateur »). Le nombre s'écrit à la française
    (« 1 234 indicateurs »). `accord(21, "non renseigné", "non renseignés")` → « 21 non renseignés »."""
    try:
        est_zero = float(n) == 0
    except (TypeError, ValueError):
        est_zero = n is None
    if est_zero:
        if zero is not None:
            return zero
        return f"{'aucune' if feminin else 'aucun'} {singulier}"
    return f"{format_nombre(n)} {pluriel(n, singulier, pluriel_)}"


# --------------------------------------------------------------------------------------------------------------------
# Lecture de ce qu'un partenaire a tapé
# --------------------------------------------------------------------------------------------------------------------

# Le plus grand nombre qu'une valeur, une référence, une cible ou une borne peut porter (mille milliards) : au-delà, c'est
# une saisie fautive, et les sommes par territoire perdraient leurs unités. Code d'erreur `nombre-hors-limites`.
NOMBRE_MAX = 1e15

_ESPACES = re.compile(r"[\s\u00a0\u202f\u2009]+")
# La notation scientifique (`1,5E-05`) est celle qu'écrivent les tableurs et l'export CSV des pages pour les très petits
# ou très grands nombres : elle se relit.
_NOMBRE_FR = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$")
CHIFFRES_SIGNIFICATIFS = 15      # la précision d'un tableur : une valeur lue est arrondie à 15 chiffres significatifs


def arrondir(x: float) -> float:
    """Arrondit à 15 chiffres significatifs, comme un tableur : `0.1 + 0.2` → `0.3`, `0.1234 * 100` → `12.34`. Un .xlsx
    garde 16 chiffres (openpyxl, Excel 15) : une valeur ainsi arrondie s'exporte et se relit à l'identique."""
    return float(f"{x:.{CHIFFRES_SIGNIFICATIFS}g}") if math.isfinite(x) else x


class NombreInvalide(ValueError):
    pass


def lire_nombre(v) -> tuple[float, bool]:
    """Lit un nombre saisi à la française. Renvoie `(valeur, ecrit_en_pourcent)`.

    Accepte `1234,5`, `1 234,5` (espaces ordinaires, insécables ou fines), `1234.5`, `12,5 %`. Refuse les booléens, les
    dates et tout texte qui ne serait pas un nombre (lève `NombreInvalide`).
    """
    if isinstance(v, bool) or isinstance(v, (dt.date, dt.datetime, dt.time)):
        raise NombreInvalide(v)
    if isinstance(v, (int, float)):
        if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
            raise NombreInvalide(v)
        return arrondir(float(v)), False
    texte = _ESPACES.sub("", str(v))
    pourcent = texte.endswith("%")
    if pourcent:
        texte = texte[:-1]
    if not _NOMBRE_FR.match(texte):
        raise NombreInvalide(v)
    return arrondir(float(texte.replace(",", "."))), pourcent


def lire_date(v) -> dt.date:
    """Une cellule date, `12/02/2021`, `2021-02-12` ou `12 février 2021`."""
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    texte = str(v).strip()
    for fmt in ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y"):
        try:
            return dt.datetime.strptime(texte, fmt).date()
        except ValueError:
            pass
    m = re.match(r"^(\d{1,2})(?:er)?\s+([a-zéû]+)\s+(\d{4})$", texte.lower())
    if m and m.group(2) in MOIS:
        return dt.date(int(m.group(3)), MOIS.index(m.group(2)) + 1, int(m.group(1)))
    raise ValueError(v)


def sans_accents(texte: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", texte) if unicodedata.category(c) != "Mn")


def normaliser_entete(texte) -> str:
    """Clé de comparaison d'un en-tête : sans accents, minuscules, espaces réduits."""
    t = sans_accents(str(texte or "")).lower().replace("’", "'")
    return " ".join(t.replace("_", " ").split())


def neutraliser_formule(texte):
    """Empêche un tableur d'interpréter un texte comme une formule (`=`, `+`, `-`, `@` en tête) dans un export CSV."""
    if isinstance(texte, str) and texte[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + texte
    return texte
