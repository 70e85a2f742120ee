"""Le rapport en Excel (.xlsx) : openpyxl, quelques longues tables qu'un tableur filtre et croise, au lieu d'une feuille
par tableau du document.

- « Sommaire » : le protocole, puis chaque feuille et ce qu'elle contient ;
- « Synthèse » : les chiffres clés, en nombres ;
- « Indicateurs » : une ligne par indicateur × périmètre (territoire ou quartier) × période, avec le code, le libellé,
  l'axe, la valeur, l'unité, la référence, la cible, le statut et son explication ;
- « Engagements » : une ligne par engagement (code, thématique, intitulé, porteurs, état, dernier commentaire) ;
- « Dépôts » : une ligne par dépôt ;
- les autres tableaux du rapport, ceux de même forme réunis en une feuille (les avancements de tous les axes, les
  indicateurs de tous les signataires…) avec la partie du rapport d'où vient chaque ligne.

Les valeurs sont typées : nombres en nombres (format `# ##0,0` : Excel l'écrit à la française), taux en pourcentages
(stockés de 0 à 1, format `0,0 %`), montants en euros (format monétaire), dates en dates ; en-tête figé, filtre, largeurs
ajustées. Tout texte est typé texte : aucune cellule ne devient une formule, même si elle commence par =, +, - ou @.
"""
from __future__ import annotations

import datetime as dt
import re

import pandas as pd

from .document import Chiffres, MENTION_DEMO, Rapport, Tableau, _pale, _vide


# ====================================================================================================================
# Excel (.xlsx)
# ====================================================================================================================

_INTERDITS_FEUILLE = re.compile(r"[\[\]:*?/\\]")
_ANNEE_VALEUR = re.compile(r"^Valeur (\d{4})$")
FORMAT_POURCENT = "0.0%"
FORMAT_EUROS = '#,##0 "€"'
FORMAT_ENTIER = "#,##0"
FORMAT_DECIMAL = "#,##0.0##"


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


def _nombre_francais(texte: str):
    """« 1 234,5 » → 1234.5 ; « 55 % » → 0.55 (et vrai pour dire que c'est un taux) ; sinon None."""
    t = re.sub(r"[\s\u00a0\u202f]", "", str(texte))
    pourcent = t.endswith("%")
    t = t.rstrip("%").replace(",", ".")
    try:
        x = float(t)
    except ValueError:
        return None, False
    if pourcent:
        return x / 100, True
    return (int(x) if x.is_integer() else x), False


# --------------------------------------------------------------------------------------------------------------------
# Les tables longues
# --------------------------------------------------------------------------------------------------------------------

class _Table:
    """Une feuille : un DataFrame, l'unité de chaque ligne pour les colonnes `avec_unite`, les colonnes en taux (0–1),
    les couleurs des statuts, et ce qu'elle contient (pour le sommaire)."""

    def __init__(self, nom: str, df: pd.DataFrame, contenu: str, *, unite: str | None = None,
                 avec_unite: tuple = (), taux: tuple = (), pastilles: dict | None = None):
        self.nom, self.df, self.contenu = nom, df.reset_index(drop=True), contenu
        self.unite, self.avec_unite, self.taux = unite, avec_unite, taux
        self.pastilles = pastilles or {}


def _est_indicateurs_axe(t: Tableau) -> bool:
    cols = set(t.donnees.columns)
    return {"Code", "Indicateur", "Unité", "Référence", "Cible", "Statut"} <= cols and any(
        _ANNEE_VALEUR.match(c) for c in cols)


def _est_quartier(t: Tableau) -> bool:
    return {"Code", "Indicateur", "Unité", "Cible du quartier", "Statut du quartier"} <= set(t.donnees.columns)


def _est_engagements(t: Tableau) -> bool:
    return {"Code", "Engagement", "Porteurs", "État"} <= set(t.donnees.columns)


def _est_depots(t: Tableau) -> bool:
    return {"N°", "Déposé le", "Fichier"} <= set(t.donnees.columns)


def _indicateurs(rapport: Rapport, tableaux: list) -> pd.DataFrame:
    """Une ligne par indicateur × périmètre × période : les tableaux des axes (le territoire, chaque année) et ceux des
    quartiers (l'année du rapport)."""
    a = rapport.annee
    lignes = []
    for section, t in tableaux:
        df = t.donnees
        if _est_indicateurs_axe(t):
            annees = [int(_ANNEE_VALEUR.match(c).group(1)) for c in df.columns if _ANNEE_VALEUR.match(c)]
            for r in df.to_dict("records"):
                for y in annees:
                    courante = y == a
                    lignes.append({
                        "Code": r["Code"], "Indicateur": r["Indicateur"], "Partie du rapport": section.titre,
                        "Périmètre": "Territoire", "Code du périmètre": None, "Période": str(y),
                        "Valeur": r[f"Valeur {y}"], "Unité": r["Unité"], "Référence": r["Référence"],
                        "Année de référence": r.get("Année de référence"), "Cible": r["Cible"],
                        "Année de la cible": r.get("Année de la cible"),
                        "Statut": r["Statut"] if courante else None,
                        "Explication": r.get("Explication") if courante else None})
        elif _est_quartier(t):
            valeur = next((c for c in df.columns if c.startswith("Quartier ")), None)
            quartier = section.titre.split(". ", 1)[-1]
            code_q = t.feuille.rsplit(" ", 1)[-1] if t.feuille.startswith(("QPV ", "Veille active ")) else None
            for r in df.to_dict("records"):
                lignes.append({
                    "Code": r["Code"], "Indicateur": r["Indicateur"], "Partie du rapport": section.titre,
                    "Périmètre": quartier, "Code du périmètre": code_q, "Période": str(a),
                    "Valeur": r.get(valeur) if valeur else None, "Unité": r["Unité"], "Référence": None,
                    "Année de référence": None, "Cible": r["Cible du quartier"],
                    "Année de la cible": r.get("Année de la cible"), "Statut": r["Statut du quartier"],
                    "Explication": r.get("Comparaison au territoire")})
    colonnes = ["Code", "Indicateur", "Partie du rapport", "Périmètre", "Code du périmètre", "Période", "Valeur",
                "Unité", "Référence", "Année de référence", "Cible", "Année de la cible", "Statut", "Explication"]
    return pd.DataFrame(lignes, columns=colonnes)


def _tables(rapport: Rapport) -> list[_Table]:
    tableaux = [(s, t) for s, t in rapport.tableaux() if isinstance(t, Tableau)]
    tables: list[_Table] = []

    chiffres = [(s, t) for s, t in rapport.tableaux() if isinstance(t, Chiffres)]
    if chiffres:
        lignes = []
        for s, c in chiffres:
            for v, lib in c.elements:
                x, taux = _nombre_francais(v)
                lignes.append({"Chiffre clé": lib, "Valeur": v if x is None else x, "_taux": taux,
                               "Partie du rapport": s.titre})
        df = pd.DataFrame(lignes)
        taux = [i for i, t in enumerate(df["_taux"]) if t]
        tables.append(_Table("Synthèse", df.drop(columns="_taux"), "Les chiffres clés du rapport",
                             taux=("Valeur", taux)))

    pris = set()
    ind = _indicateurs(rapport, tableaux)
    couleurs = {}
    for _, t in tableaux:
        for c in ("Statut", "Statut du quartier"):
            couleurs.update(t.pastilles.get(c, {}))
    if len(ind):
        tables.append(_Table("Indicateurs", ind, "Une ligne par indicateur, périmètre (territoire ou quartier) et "
                             "période : valeur, référence, cible, statut", unite="Unité",
                             avec_unite=("Valeur", "Référence", "Cible"), pastilles={"Statut": couleurs}))
        pris |= {id(t) for _, t in tableaux if _est_indicateurs_axe(t) or _est_quartier(t)}

    eng = [t for _, t in tableaux if _est_engagements(t)]
    if eng:
        df = pd.concat([t.donnees for t in eng if len(t.donnees)] or [eng[0].donnees], ignore_index=True)
        df = df.drop_duplicates(subset=["Code"], keep="first")
        etats = {}
        for t in eng:
            etats.update(t.pastilles.get("État", {}))
        tables.append(_Table("Engagements", df, "Une ligne par engagement : thématique, porteurs, état et dernier "
                             "commentaire", pastilles={"État": etats}))
        pris |= {id(t) for t in eng}

    dep = [t for _, t in tableaux if _est_depots(t)]
    if dep:
        complets = [t.donnees for t in dep if "Signataire" in t.donnees.columns]
        df = pd.concat(complets or [t.donnees for t in dep], ignore_index=True).drop_duplicates(subset=["N°"])
        tables.append(_Table("Dépôts", df, "Une ligne par dépôt de l'année : date, signataire, fichier, revue"))
        pris |= {id(t) for t in dep}

    # Les autres tableaux : ceux de même forme réunis en une feuille, avec la partie du rapport de chaque ligne.
    groupes: dict[tuple, list] = {}
    for s, t in tableaux:
        if id(t) not in pris:
            groupes.setdefault(tuple(t.donnees.columns), []).append((s, t))
    for membres in groupes.values():
        t0 = membres[0][1]
        if len(membres) == 1:
            nom, contenu, df = t0.feuille, t0.legende, t0.donnees
        else:
            mots = [m.feuille.split() for _, m in membres]
            communs = [w for w in mots[0] if all(w in autres for autres in mots[1:])]
            nom = " ".join(communs) or t0.feuille
            nom = nom[:1].upper() + nom[1:]
            contenu = "; ".join(dict.fromkeys(m.legende for _, m in membres))
            contenu = contenu if len(contenu) < 200 else f"{len(membres)} tableaux : {t0.legende}…"
            df = pd.concat([m.donnees.assign(**{"Partie du rapport": s.titre}) for s, m in membres],
                           ignore_index=True)
        if nom.lower() in {x.nom.lower() for x in tables}:
            nom += " des signataires" if all(s.ancre.startswith("annexe-") for s, _ in membres) else " (suite)"
        taux = tuple(c for c in df.columns if str(c).endswith("(%)"))
        tables.append(_Table(nom, df, contenu, unite=t0.unite if t0.unite in df.columns else None,
                             avec_unite=tuple(c for c in t0.avec_unite if c in df.columns), taux=taux,
                             pastilles=t0.pastilles))
    return tables


# --------------------------------------------------------------------------------------------------------------------
# Écriture
# --------------------------------------------------------------------------------------------------------------------

def _format_nombre(col: str, v) -> str:
    if col.startswith("Année") or col in ("N°", "Période"):
        return "0"
    return FORMAT_ENTIER if isinstance(v, int) or float(v).is_integer() else FORMAT_DECIMAL


def ecrire_xlsx(rapport: Rapport, flux) -> None:
    """Le rapport en classeur : une feuille « Sommaire » (qui renvoie à chaque feuille) et quelques longues tables aux
    valeurs typées (nombres, taux, euros, dates) ; tout texte est typé texte, si bien qu'aucune cellule ne devient une
    formule."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    from .document import _ecrire

    p = rapport.protocole
    wb = Workbook()
    som = wb.active
    som.title = "Sommaire"
    pris = {"sommaire"}
    gras = Font(bold=True)
    entete_fond = PatternFill("solid", fgColor="1F3A5F")
    entete_police = Font(bold=True, color="FFFFFF")
    haut = Alignment(wrap_text=True, vertical="top")

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
    for j, h in enumerate(["N°", "Feuille", "Contenu", "Lignes"], start=1):
        c = som.cell(ligne, j)
        texte(c, h)
        c.font, c.fill = entete_police, entete_fond
    ligne += 1

    for n, table in enumerate(_tables(rapport), start=1):
        nom = _nom_feuille(table.nom, pris)
        ws = wb.create_sheet(nom)
        df = table.df
        colonnes = [str(c) for c in df.columns]
        taux_col = table.taux[0] if len(table.taux) == 2 and isinstance(table.taux[1], list) else None
        lignes_taux = set(table.taux[1]) if taux_col else set()
        taux = set() if taux_col else set(table.taux)
        unites = list(df[table.unite]) if table.unite and table.unite in df.columns else None
        for j, col in enumerate(colonnes, start=1):
            c = ws.cell(1, j)
            texte(c, col[:-4].rstrip() if col in taux and col.endswith("(%)") else col)
            c.font, c.fill, c.alignment = entete_police, entete_fond, haut
        largeurs = [len(c) + 2 for c in colonnes]
        for i, r in enumerate(df.itertuples(index=False)):
            for j, (col, v) in enumerate(zip(colonnes, r), start=1):
                c = ws.cell(i + 2, j)
                v = _cellule_excel(v)
                unite = unites[i] if unites is not None and col in table.avec_unite else None
                en_taux = col in taux or (col == taux_col and i in lignes_taux)
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    if en_taux and col in taux:
                        v = v / 100
                    if unite == "%":
                        v, en_taux = v / 100, True
                    c.value = v
                    c.number_format = (FORMAT_POURCENT if en_taux else FORMAT_EUROS if unite == "€"
                                       else _format_nombre(col, v))
                    largeurs[j - 1] = max(largeurs[j - 1], 12)
                    continue
                texte(c, v)
                if isinstance(v, (dt.datetime, dt.date)):
                    avec_heure = isinstance(v, dt.datetime) and (v.hour or v.minute)
                    c.number_format = "dd/mm/yyyy hh:mm" if avec_heure else "dd/mm/yyyy"
                    largeurs[j - 1] = max(largeurs[j - 1], 17 if avec_heure else 11)
                elif isinstance(v, str):
                    couleur = table.pastilles.get(col, {}).get(v)
                    if couleur:
                        c.fill = PatternFill("solid", fgColor=_pale(couleur))
                    if len(v) > 60:
                        c.alignment = haut
                    largeurs[j - 1] = max(largeurs[j - 1], min(len(v), 60) + 2)
        for j, w in enumerate(largeurs, start=1):
            ws.column_dimensions[get_column_letter(j)].width = max(8, min(62, w))
        ws.auto_filter.ref = f"A1:{get_column_letter(len(colonnes))}{max(2, len(df) + 1)}"
        ws.freeze_panes = "B2" if colonnes and colonnes[0] == "Code" else "A2"
        som.cell(ligne, 1).value = n
        c = som.cell(ligne, 2)
        texte(c, nom)
        c.hyperlink = f"#'{nom}'!A1"
        c.font = Font(color="0563C1", underline="single")
        texte(som.cell(ligne, 3), table.contenu)
        som.cell(ligne, 3).alignment = haut
        som.cell(ligne, 4).value = len(df)
        som.cell(ligne, 4).number_format = FORMAT_ENTIER
        ligne += 1
    som.column_dimensions["A"].width = 24
    som.column_dimensions["B"].width = 34
    som.column_dimensions["C"].width = 80
    som.column_dimensions["D"].width = 10
    wb.properties.title = f"{rapport.titre} — {p['territoire']}"
    wb.properties.creator = "perr-metrics"
    wb.properties.language = "fr-FR"
    _ecrire(flux, wb.save)
