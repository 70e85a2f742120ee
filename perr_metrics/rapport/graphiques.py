"""Les graphiques du rapport (Plotly, décrits en dictionnaires) et leur mise en images.

`rendre_images` produit le PNG de chaque graphique, hors ligne, par kaleido (Chromium), une fois par rapport : le PDF et
le document Word les partagent. Sans Chromium (ou sans kaleido), chaque graphique est remplacé par un encadré qui le
dit : le rapport sort quand même.
"""
from __future__ import annotations

import asyncio
import os
import threading

import pandas as pd

from perr_metrics.pilotage import avancement
from perr_metrics.commun.couleurs import COULEURS_COMPLETUDE, COULEURS_STATUT
from perr_metrics.commun.formats import format_pourcent
from .document import (COULEURS_ETATS, Graphique, ORDRE_ETATS, Rapport, _RANG_STATUT, _court, _description, _vide,
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
