"""Le rapport en Excel (.xlsx) : openpyxl, une feuille par tableau et une feuille « Sommaire » ; les textes sont typés
texte (jamais une formule)."""
from __future__ import annotations

import datetime as dt
import re

import pandas as pd

from .document import Chiffres, MENTION_DEMO, Rapport, _ecrire, _pale, _vide


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
