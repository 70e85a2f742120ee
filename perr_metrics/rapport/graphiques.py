"""Les graphiques du rapport (Plotly, décrits en dictionnaires) et leur mise en images.

Les graphiques du rapport sont des barres horizontales (empilées, superposées, avec losanges, textes et repères) :
`rendre_images` les dessine directement en SVG à partir de leur description (`_dessiner`, quelques millisecondes, sans
navigateur), une fois par rapport ; le PDF les emploie tels quels, et `images_png` en tire les PNG de Word (par Typst,
en une compilation pour tous). Une figure que le dessin ne sait pas lire (une figure Plotly toute faite, un autre type
de tracé) passe par kaleido (Chromium, un seul navigateur pour toutes) ; sans lui, chaque graphique est remplacé par un
encadré qui le dit : le rapport sort quand même.
"""
from __future__ import annotations

import asyncio
import functools
import html
import math
import os
import tempfile
import threading
from pathlib import Path

import pandas as pd

from perr_metrics.pilotage import avancement
from perr_metrics.commun.couleurs import COULEURS_COMPLETUDE, COULEURS_STATUT
from perr_metrics.commun.formats import format_nombre, format_pourcent
from .document import (COULEURS_ETATS, POLICE, Graphique, ORDRE_ETATS, Rapport, _RANG_STATUT, _description, _vide,
                       journal)


# ====================================================================================================================
# Graphiques (Plotly ; rendus en PNG par `rendre_images`)
# ====================================================================================================================

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
        # Le libellé entier : le dessin du graphique le coupe en lignes (il n'est plus tronqué).
        e = ("" if _vide(lib) else str(lib)) + "  "
        if e in vus:   # deux libellés identiques resteraient confondus sur l'axe : le code les distingue
            e = f"{e.rstrip()} [{code}]  "
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
            traces.append(dict(type="bar", orientation="h", name=statut, y=[str(noms[i]) + "  " for i in idx],
                               x=[taux[i] for i in idx], marker=dict(color=couleur),
                               text=[format_pourcent(taux[i], 0) for i in idx], textposition="outside",
                               cliponaxis=False, textfont=dict(size=13)))
    ordre = [str(n) + "  " for n in df["nom"]]
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
# Dessin SVG des graphiques (sans navigateur)
# ====================================================================================================================

class NonDessinable(ValueError):
    """La description d'un graphique sort de ce que `_dessiner` sait lire : kaleido s'en charge."""


_LARGEUR = 1000          # px : le dessin est à l'échelle d'une page A4 (18 cm de large ; 15 px ≈ 7,7 pt imprimés)
_TAILLE = 15             # police des libellés (px)
_POLICES_TTF = {False: ("/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
                        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf"),
                True: ("/usr/share/fonts/truetype/liberation2/LiberationSans-Bold.ttf",
                       "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf")}


@functools.lru_cache(maxsize=4)
def _police(gras: bool):
    try:
        from PIL import ImageFont
    except ImportError:
        return None
    for chemin in _POLICES_TTF[gras]:
        if os.path.exists(chemin):
            return ImageFont.truetype(chemin, 100)
    return None


@functools.lru_cache(maxsize=4096)
def _largeur_texte(texte: str, taille: float, gras: bool = False) -> float:
    """La largeur d'un texte en Liberation Sans (métriques d'Arial), en px ; à défaut de la police, une estimation."""
    police = _police(gras)
    if police is None:
        return len(texte) * taille * (0.58 if gras else 0.53)
    return police.getlength(texte) * taille / 100


def _couper(texte: str, largeur: float, taille: float, lignes_max: int = 3) -> list[str]:
    """Le texte coupé en lignes d'au plus `largeur` px (entre les mots) ; la dernière ligne permise finit par « … » s'il
    en reste."""
    mots, lignes, courante = texte.split(), [], ""
    for mot in mots:
        essai = f"{courante} {mot}" if courante else mot
        if not courante or _largeur_texte(essai, taille) <= largeur:
            courante = essai
        else:
            lignes.append(courante)
            courante = mot
    if courante:
        lignes.append(courante)
    if len(lignes) > lignes_max:
        reste = " ".join(lignes[lignes_max - 1:])
        while reste and _largeur_texte(reste + " …", taille) > largeur:
            reste = reste[:-1]
        lignes = lignes[:lignes_max - 1] + [reste.rstrip() + "\u00a0…"]
    return lignes or [""]


def _x(texte) -> str:
    return html.escape(str(texte), quote=True)


def _texte_svg(x: float, y: float, texte: str, taille: float, ancre: str = "start", couleur: str = "#222222",
               gras: bool = False) -> str:
    poids = ' font-weight="bold"' if gras else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{taille:g}" text-anchor="{ancre}" fill="{couleur}"{poids}>'
            f"{_x(texte)}</text>")


def _graduations(x0: float, x1: float) -> list[float]:
    etendue = (x1 - x0) or 1
    pas = 10 ** math.floor(math.log10(etendue / 5))
    for m in (1, 2, 2.5, 5, 10):
        if etendue / (m * pas) <= 7:
            pas *= m
            break
    debut = math.ceil(x0 / pas) * pas
    return [round(debut + i * pas, 10) for i in range(int((x1 - debut) / pas + 1e-9) + 1)]


def _dessiner(description) -> tuple[str, int, int]:
    """Le graphique en SVG : (svg, largeur, hauteur en px). Lit la description d'un `Graphique` (`_description` : tracés
    et mise en page au format Plotly) pour les graphiques du rapport — barres horizontales empilées ou superposées,
    texte dans ou au bout des barres, losanges, colonne de texte, lignes et rectangles de repère, annotations, légende
    en haut — et lève `NonDessinable` pour le reste. Les libellés longs se coupent en lignes, la légende a sa place au
    dessus du tracé : rien ne déborde du dessin."""
    if not isinstance(description, dict):
        raise NonDessinable("figure Plotly toute faite")
    traces = description["traces"]
    xaxis = dict(description.get("xaxis") or {})
    yaxis = dict(description.get("yaxis") or {})
    barmode = description.get("barmode", "group")
    inconnus = set(description) - {"traces", "hauteur", "xaxis", "yaxis", "barmode", "shapes", "annotations"}
    for t in traces:
        if t.get("type") == "bar" and t.get("orientation") != "h" or t.get("type") not in ("bar", "scatter"):
            raise NonDessinable(f"tracé {t.get('type')}")
        if t.get("type") == "scatter" and t.get("mode") not in ("text", "markers"):
            raise NonDessinable(f"mode {t.get('mode')}")
    if inconnus or barmode not in ("stack", "overlay", "group") or yaxis.get("autorange", "reversed") != "reversed":
        raise NonDessinable(", ".join(sorted(inconnus)) or barmode)
    if barmode == "group" and sum(t["type"] == "bar" for t in traces) > 1:
        if any(set(a["y"]) & set(b["y"]) for a in traces for b in traces if a is not b and "bar" == a["type"] == b["type"]):
            raise NonDessinable("barres groupées")

    # Les catégories (de haut en bas), leurs libellés coupés en lignes.
    categories = list(yaxis.get("categoryarray") or [])
    for t in traces:
        for y in t["y"]:
            if y not in categories:
                categories.append(y)
    largeur_max = 0.36 * _LARGEUR
    libelles = [_couper(str(c).strip(), largeur_max, _TAILLE) for c in categories]
    marge_g = 10 + max([_largeur_texte(l, _TAILLE) for ls in libelles for l in ls] + [20]) + 10

    # La légende, en haut, sur autant de lignes qu'il faut.
    entrees = [t for t in traces if t.get("name") and t.get("showlegend", True)]
    legende, x, y_leg = [], 10.0, 0
    for t in entrees:
        w = 22 + _largeur_texte(t["name"], _TAILLE) + 18
        if x + w > _LARGEUR - 10 and x > 10:
            x, y_leg = 10.0, y_leg + 24
        legende.append((x, y_leg, t))
        x += w
    haut = 8 + (y_leg + 24 if legende else 0) + (22 if description.get("annotations") else 6)

    # Les lignes : assez hautes pour leur libellé.
    hauteurs = [max(34 if barmode == "stack" else 27, 18 * len(ls) + 10) for ls in libelles]
    centres, y = [], haut
    for h in hauteurs:
        centres.append(y + h / 2)
        y += h
    bas_trace = y
    epaisseur = min(26.0, 0.72 * min(hauteurs)) if barmode == "stack" else min(19.0, 0.7 * min(hauteurs))

    # L'axe des x : l'étendue demandée, sinon de 0 au plus grand total.
    if xaxis.get("range"):
        x0, x1 = map(float, xaxis["range"])
    else:
        totaux: dict = {}
        for t in traces:
            if t["type"] == "bar":
                for yy, v in zip(t["y"], t["x"]):
                    if not _vide(v):
                        totaux[yy] = (totaux.get(yy, 0) + v) if barmode == "stack" else max(totaux.get(yy, 0), v)
        x0, x1 = 0.0, max(list(totaux.values()) + [1])
        graduations = _graduations(x0, x1)
        x1 = max(x1 * 1.02, graduations[-1])
    dehors = [_largeur_texte(str(tx), t.get("textfont", {}).get("size", _TAILLE)) for t in traces
              if t.get("textposition") == "outside" for tx in t.get("text", [])]
    marge_d = 20 + (max(dehors) if dehors and not xaxis.get("range") else 0)
    gauche, droite = marge_g, _LARGEUR - marge_d

    def px(v: float) -> float:
        return gauche + (v - x0) / ((x1 - x0) or 1) * (droite - gauche)

    parties: list[str] = []
    # Grille et graduations
    valeurs = list(xaxis.get("tickvals") or _graduations(x0, x1))
    textes = list(xaxis.get("ticktext") or [format_nombre(v) for v in valeurs])
    for v, tx in zip(valeurs, textes):
        if x0 <= v <= x1:
            parties.append(f'<line x1="{px(v):.1f}" y1="{haut}" x2="{px(v):.1f}" y2="{bas_trace:.1f}" '
                           'stroke="#E3E3E3" stroke-width="1"/>')
            parties.append(_texte_svg(px(v), bas_trace + 18, tx, 13, "middle", "#444444"))
    if x0 < 0 < x1 or (x0 == 0 and xaxis.get("zeroline", True)):
        parties.append(f'<line x1="{px(0):.1f}" y1="{haut}" x2="{px(0):.1f}" y2="{bas_trace:.1f}" '
                       'stroke="#999999" stroke-width="1.2"/>')
    titre = (xaxis.get("title") or {}).get("text")
    hauteur = bas_trace + 26 + (22 if titre else 0) + 6
    if titre:
        parties.append(_texte_svg((gauche + droite) / 2, bas_trace + 44, titre, 14, "middle"))

    def formes(dessous: bool):
        for f in description.get("shapes") or []:
            if (f.get("layer") == "below") != dessous:
                continue
            ya = haut if f.get("yref") == "paper" else centres[0]
            yb = bas_trace if f.get("yref") == "paper" else centres[-1]
            ligne = f.get("line") or {}
            if f["type"] == "line":
                tirets = ' stroke-dasharray="6,4"' if ligne.get("dash") == "dash" else ""
                parties.append(f'<line x1="{px(f["x0"]):.1f}" y1="{ya:.1f}" x2="{px(f["x1"]):.1f}" y2="{yb:.1f}" '
                               f'stroke="{ligne.get("color", "#333333")}" stroke-width="{ligne.get("width", 1)}"'
                               f"{tirets}/>")
            elif f["type"] == "rect":
                parties.append(f'<rect x="{px(f["x0"]):.1f}" y="{ya:.1f}" width="{px(f["x1"]) - px(f["x0"]):.1f}" '
                               f'height="{yb - ya:.1f}" fill="{f.get("fillcolor", "none")}"/>')
            else:
                raise NonDessinable(f"forme {f['type']}")

    formes(True)
    cumuls: dict = {}
    index = {c: i for i, c in enumerate(categories)}
    for t in traces:
        if t["type"] != "bar":
            continue
        marqueur = t.get("marker") or {}
        contour = marqueur.get("line") or {}
        trait = (f' stroke="{contour["color"]}" stroke-width="{contour.get("width", 1)}"' if contour.get("color")
                 else "")
        police = (t.get("textfont") or {}).get("size", _TAILLE)
        for j, (yy, v) in enumerate(zip(t["y"], t["x"])):
            if _vide(v):
                continue
            debut = cumuls.get(yy, 0.0) if barmode == "stack" else 0.0
            fin = debut + v
            if barmode == "stack":
                cumuls[yy] = fin
            a, b = sorted((px(max(x0, min(x1, debut))), px(max(x0, min(x1, fin)))))
            c = centres[index[yy]]
            if b - a > 0.05:
                parties.append(f'<rect x="{a:.1f}" y="{c - epaisseur / 2:.1f}" width="{b - a:.1f}" '
                               f'height="{epaisseur:.1f}" fill="{marqueur.get("color", "#4C72B0")}"{trait}/>')
            texte = (t.get("text") or [""] * len(t["x"]))[j]
            if not texte:
                continue
            if t.get("textposition") == "outside":
                parties.append(_texte_svg(b + 5, c + police * 0.35, texte, police))
            elif _largeur_texte(str(texte), police) + 6 <= b - a:   # dans la barre, s'il y tient
                couleur = (t.get("textfont") or {}).get("color", "#000000")
                parties.append(_texte_svg((a + b) / 2, c + police * 0.35, texte, police, "middle", couleur))
    for t in traces:
        if t["type"] != "scatter":
            continue
        if t["mode"] == "text":
            police = (t.get("textfont") or {}).get("size", _TAILLE)
            ancre = "end" if "left" in t.get("textposition", "") else "start"
            for yy, v, texte in zip(t["y"], t["x"], t["text"]):
                parties.append(_texte_svg(px(v), centres[index[yy]] + police * 0.35, texte, police, ancre))
        else:
            m = t.get("marker") or {}
            r = m.get("size", 10) * 0.62
            bord = m.get("line") or {}
            for yy, v in zip(t["y"], t["x"]):
                cx, cy = px(v), centres[index[yy]]
                parties.append(f'<polygon points="{cx:.1f},{cy - r:.1f} {cx + r:.1f},{cy:.1f} {cx:.1f},{cy + r:.1f} '
                               f'{cx - r:.1f},{cy:.1f}" fill="{m.get("color", "#000000")}" '
                               f'stroke="{bord.get("color", "none")}" stroke-width="{bord.get("width", 0)}"/>')
    formes(False)
    for a in description.get("annotations") or []:
        texte = str(a["text"])
        gras = texte.startswith("<b>")
        texte = texte.replace("<b>", "").replace("</b>", "")
        ancre = {"right": "end", "left": "start"}.get(a.get("xanchor"), "middle")
        y = haut - 6 if a.get("yref") == "paper" and a.get("y", 1) >= 1 else centres[0]
        parties.append(_texte_svg(px(a["x"]), y, texte, (a.get("font") or {}).get("size", 13), ancre, gras=gras))
    # Libellés des catégories, alignés à droite contre le tracé.
    for ls, c in zip(libelles, centres):
        y0 = c - (len(ls) - 1) * 9 + _TAILLE * 0.35
        for k, ligne in enumerate(ls):
            parties.append(_texte_svg(gauche - 8, y0 + 18 * k, ligne, _TAILLE, "end"))
    # Légende
    for x, y, t in legende:
        y = 8 + y
        if t["type"] == "bar":
            contour = (t.get("marker") or {}).get("line") or {}
            trait = f' stroke="{contour["color"]}" stroke-width="0.6"' if contour.get("color") else ""
            parties.append(f'<rect x="{x:.1f}" y="{y + 3}" width="15" height="15" '
                           f'fill="{(t.get("marker") or {}).get("color", "#4C72B0")}"{trait}/>')
        else:
            cx, cy = x + 7.5, y + 10.5
            parties.append(f'<polygon points="{cx},{cy - 7} {cx + 7},{cy} {cx},{cy + 7} {cx - 7},{cy}" '
                           f'fill="{(t.get("marker") or {}).get("color", "#000000")}"/>')
        parties.append(_texte_svg(x + 22, y + 16, t["name"], _TAILLE))
    hauteur = math.ceil(hauteur)
    famille = _x(POLICE)
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{_LARGEUR}" height="{hauteur}" '
           f'viewBox="0 0 {_LARGEUR} {hauteur}" font-family="{famille}">'
           f'<rect width="{_LARGEUR}" height="{hauteur}" fill="#FFFFFF"/>{"".join(parties)}</svg>')
    return svg, _LARGEUR, hauteur


# ====================================================================================================================
# Images des graphiques : SVG dessinés ici ; PNG pour Word par Typst ; kaleido pour le reste
# ====================================================================================================================

_VERROU_IMAGES = threading.Lock()   # un seul Chromium de rendu à la fois par processus (le serveur Streamlit)
DELAI_IMAGES = float(os.environ.get("PERR_DELAI_IMAGES", 180))


def _rendre_kaleido(graphiques: list[Graphique], delai: float) -> list[bytes]:
    """Les images (PNG) des graphiques que `_dessiner` ne sait pas lire, avec un seul navigateur.

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
    """Le dessin de chaque graphique (une fois par rapport : le PDF et le document Word le partagent) : SVG dessiné
    ici, ou PNG par kaleido pour une figure que le dessin ne sait pas lire. En cas d'échec, note la raison dans
    `rapport.images_indisponibles` : les rendus mettent alors un encadré à la place de chaque graphique."""
    a_faire = [g for g in rapport.graphiques() if g.png is None and g.svg is None]
    if not a_faire or rapport.images_indisponibles:
        return
    autres = []
    try:
        for g in a_faire:
            try:
                g.svg = _dessiner(g.description)[0]
            except NonDessinable:
                autres.append(g)
    except Exception as exc:  # noqa: BLE001 - le rapport doit sortir, graphiques ou pas
        journal.exception("Graphiques du rapport non dessinés")
        rapport.images_indisponibles = f"le dessin des graphiques a échoué ({type(exc).__name__})"
        for g in a_faire:
            g.svg = None
        return
    if not autres:
        return
    with _VERROU_IMAGES:
        try:
            images = _rendre_kaleido(autres, DELAI_IMAGES if delai is None else delai)
        except Exception as exc:  # noqa: BLE001 - le rapport doit sortir, graphiques ou pas
            journal.warning("Graphiques du rapport non rendus : %s", exc)
            rapport.images_indisponibles = (
                "le moteur de rendu des graphiques (kaleido avec Chromium) n'est pas disponible sur ce serveur"
                if isinstance(exc, ImportError) or "Chrome" in type(exc).__name__ or "Chrome" in str(exc)
                else f"le rendu des graphiques a échoué ({type(exc).__name__})")
            return   # les graphiques dessinés en SVG restent ; les autres sont remplacés par un encadré
    for g, png in zip(autres, images):
        g.png = png


PPI_PNG = 200   # 18 cm de large → 1 400 px environ : net à l'impression, léger dans un document Word


def images_png(rapport: Rapport) -> None:
    """Le PNG de chaque graphique dessiné en SVG (Word ne lit pas le SVG) : une compilation Typst pour tous, une page
    par graphique, à la taille où il est imprimé."""
    rendre_images(rapport)
    a_faire = [g for g in rapport.graphiques() if g.svg and g.png is None]
    if not a_faire:
        return
    import typst
    with tempfile.TemporaryDirectory(prefix="perr-png-") as dossier:
        pages = []
        for i, g in enumerate(a_faire):
            (Path(dossier) / f"g{i}.svg").write_text(g.svg, encoding="utf-8")
            pages.append(f'#page(width: 18cm, height: auto, margin: 0pt, image("g{i}.svg", width: 18cm))')
        (Path(dossier) / "png.typ").write_text("\n".join(pages), encoding="utf-8")
        images = typst.compile(str(Path(dossier) / "png.typ"), root=dossier, format="png", ppi=PPI_PNG)
    if isinstance(images, bytes):
        images = [images]
    for g, png in zip(a_faire, images):
        g.png = png


def taille_image(g: Graphique) -> tuple[float, float]:
    """Largeur et hauteur de l'image d'un graphique (celles du dessin SVG, sinon celles demandées à kaleido)."""
    if g.svg:
        import re
        m = re.match(r'<svg[^>]* width="([\d.]+)" height="([\d.]+)"', g.svg)
        if m:
            return float(m.group(1)), float(m.group(2))
    return float(g.largeur), float(g.hauteur)


def _texte_absent(rapport: Rapport) -> str:
    return (f"Graphique non disponible : {rapport.images_indisponibles}. Ses données figurent dans le tableau qui "
            "suit ou dans le classeur Excel du rapport.")
