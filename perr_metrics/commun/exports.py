"""Les exports de tableaux (CSV et .xlsx) que le tableau de bord propose au téléchargement, et leur écriture en texte
aligné à la française pour la ligne de commande (`vers_texte`).

Toute cellule de texte qui commence par `=`, `+`, `-` ou `@` est neutralisée : dans un CSV par une apostrophe en tête (un
tableur l'affiche comme texte), dans un .xlsx en forçant le type texte de la cellule.
"""
from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pandas as pd

from .formats import format_date, format_date_heure, format_nombre, neutraliser_formule


def vers_csv(df: pd.DataFrame) -> bytes:
    """CSV « à la française » : séparateur `;`, virgule décimale, UTF-8 avec BOM (Excel l'ouvre sans accents cassés)."""
    propre = df.copy()
    for c in propre.columns:
        if not pd.api.types.is_numeric_dtype(propre[c]):
            propre[c] = propre[c].map(neutraliser_formule)
    return propre.to_csv(sep=";", decimal=",", index=False).encode("utf-8-sig")


def vers_xlsx(df: pd.DataFrame, feuille: str = "Données") -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = (feuille or "Données")[:31]
    ws.append([str(c) for c in df.columns])
    for c in ws[1]:
        c.font = Font(bold=True)
    for ligne in df.itertuples(index=False):
        valeurs = []
        for v in ligne:
            if v is None or (isinstance(v, float) and pd.isna(v)) or v is pd.NaT:
                valeurs.append(None)
            elif isinstance(v, pd.Timestamp):
                valeurs.append(v.to_pydatetime())
            elif hasattr(v, "item") and not isinstance(v, (str, bytes)):
                valeurs.append(v.item())
            else:
                valeurs.append(v if isinstance(v, (int, float, str)) or hasattr(v, "year") else str(v))
        ws.append(valeurs)
    for ligne in ws.iter_rows(min_row=2):
        for c in ligne:
            if isinstance(c.value, str):
                c.data_type = "s"   # jamais une formule
    ws.freeze_panes = "A2"
    flux = io.BytesIO()
    wb.save(flux)
    return flux.getvalue()


# --------------------------------------------------------------------------------------------------------------------
# Texte aligné (la ligne de commande) : en-têtes en français, oui/non, dates en toutes lettres, nombres à la française,
# cellules vides pour ce qui manque (jamais NaN, None, NaT ni <NA>).
# --------------------------------------------------------------------------------------------------------------------

def _manque(v) -> bool:
    if v is None or v is pd.NaT or v is pd.NA:
        return True
    try:
        return bool(pd.isna(v)) if not isinstance(v, (str, bytes, list, tuple, dict, set)) else False
    except (TypeError, ValueError):
        return False


def format_cellule(v) -> str:
    """Une cellule à la française pour un tableau en texte : vide si elle manque, `oui`/`non`, `12 février 2021`,
    `12 février 2021 à 14 h 05`, `1 234,5` ; un texte sur une seule ligne."""
    if _manque(v):
        return ""
    if isinstance(v, (bool, np.bool_)):
        return "oui" if v else "non"
    if isinstance(v, pd.Timestamp):
        v = v.to_pydatetime()
    if isinstance(v, np.datetime64):
        v = pd.Timestamp(v).to_pydatetime()
    if isinstance(v, dt.datetime):
        return format_date_heure(v)
    if isinstance(v, dt.date):
        return format_date(v)
    if isinstance(v, (int, float, np.integer, np.floating)):
        return format_nombre(v)
    if isinstance(v, (list, tuple, set)):
        return ", ".join(format_cellule(x) for x in v if not _manque(x))
    return _une_ligne(v)


def _une_ligne(v) -> str:
    """Un texte sur une seule ligne (les retours à la ligne et tabulations deviennent des espaces ; les espaces
    insécables des nombres restent)."""
    return " ".join(str(v).replace("\t", " ").splitlines()).strip()


def vers_texte(df: pd.DataFrame, colonnes: dict[str, str], formats: dict | None = None) -> str:
    """Le tableau `df` en texte aligné : `colonnes` donne, dans l'ordre, les colonnes à montrer et leur en-tête en
    français ; `formats` une écriture propre à une colonne (`{"annee_debut": str}` : une année sans séparateur de
    milliers). Les nombres sont alignés à droite, le reste à gauche. Un tableau vide s'écrit `(aucun)`."""
    if df.empty:
        return "(aucun)"
    formats = formats or {}
    lignes: list[list[str]] = [list(colonnes.values())]
    a_droite = []
    cellules = []
    for c in colonnes:
        serie = df[c]
        numerique = pd.api.types.is_numeric_dtype(serie) and not pd.api.types.is_bool_dtype(serie)
        a_droite.append(numerique)
        if pd.api.types.is_datetime64_any_dtype(serie) and (serie.dropna() == serie.dropna().dt.normalize()).all():
            serie = serie.map(lambda v: None if _manque(v) else v.date())   # des dates sans heure
        ecrire = formats.get(c)
        cellules.append([("" if _manque(v) else _une_ligne(ecrire(v))) if ecrire else format_cellule(v)
                         for v in serie.astype(object)])
    lignes += [list(t) for t in zip(*cellules)]
    largeurs = [max(len(ligne[j]) for ligne in lignes) for j in range(len(colonnes))]
    texte = []
    for ligne in lignes:
        morceaux = [v.rjust(w) if droite else v.ljust(w) for v, w, droite in zip(ligne, largeurs, a_droite)]
        texte.append("  ".join(morceaux).rstrip())
    return "\n".join(texte)
