"""Les exports de tableaux (CSV et .xlsx) que le tableau de bord propose au téléchargement.

Toute cellule de texte qui commence par `=`, `+`, `-` ou `@` est neutralisée : dans un CSV par une apostrophe en tête (un
tableur l'affiche comme texte), dans un .xlsx en forçant le type texte de la cellule.
"""
from __future__ import annotations

import io

import pandas as pd

from .formats import neutraliser_formule


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
