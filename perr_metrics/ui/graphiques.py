"""Les graphiques : palette sûre pour les daltoniens, barres horizontales décrites pour plotly.graph_objects, données
et téléchargements (CSV, Excel) à côté de chaque graphique."""
from __future__ import annotations

import pandas as pd
import streamlit as st

# Palette d'Okabe et Ito, lisible par les daltoniens ; une couleur fixe par statut d'avancement. Elles vivent dans
# perr_metrics/commun/couleurs.py, que le rapport annuel (sans Streamlit) partage.
from perr_metrics.commun.couleurs import COULEURS_ETAT, COULEURS_STATUT, PALETTE  # noqa: F401


def telechargements(df: pd.DataFrame, nom: str, cle: str | None = None) -> None:
    """Deux boutons : les données en CSV (séparateur « ; », UTF-8 avec BOM, pour Excel) et en .xlsx. Les textes qui
    commencent par =, +, - ou @ sont neutralisés : un tableur ne les prendra pas pour des formules. Les fichiers ne
    sont écrits qu'au clic (téléchargement différé de Streamlit) : un classeur par graphique à chaque affichage de la
    page coûtait 20 ms chacun."""
    from perr_metrics.commun.exports import vers_csv, vers_xlsx
    cle = cle or nom
    df = df.copy()     # la table telle qu'affichée, même si l'appelant la modifie ensuite
    g, d, _ = st.columns([1, 1, 4])
    g.download_button("Données (CSV)", lambda: vers_csv(df), f"{nom}.csv", "text/csv", key=f"csv-{cle}",
                      icon=":material/download:")
    d.download_button("Données (Excel)", lambda: vers_xlsx(df, nom[:31]), f"{nom}.xlsx",
                      "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key=f"xlsx-{cle}",
                      icon=":material/download:")


# La barre d'outils des graphiques en français. Le Plotly.js que livre Streamlit n'enregistre que la langue anglaise :
# `locale: "fr"` seul n'y change rien. La traduction passe donc par `config.locales` (propre à chaque graphique), avec
# les clés exactes qu'emploie ce Plotly.js (« Download plot as a PNG » depuis Plotly.js 3) ; les formats de dates et
# de nombres à la française avec.
_MOIS = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre", "novembre",
         "décembre"]
LOCALE_FR = {
    "dictionary": {
        "Autoscale": "Échelle automatique",
        "Box Select": "Sélection rectangulaire",
        "Compare data on hover": "Comparer les données au survol",
        "Double-click to zoom back out": "Double-cliquer pour dézoomer",
        "Download plot": "Télécharger le graphique",
        "Download plot as a PNG": "Télécharger le graphique (PNG)",
        "Download plot as JSON": "Télécharger le graphique (JSON)",
        "Image download succeeded": "Image téléchargée",
        "Lasso Select": "Sélection au lasso",
        "Pan": "Déplacer",
        "Preparing image - this may take a few seconds": "Préparation de l'image : quelques secondes…",
        "Reset": "Réinitialiser",
        "Reset axes": "Réinitialiser les axes",
        "Reset view": "Réinitialiser la vue",
        "Reset views": "Réinitialiser les vues",
        "Show closest data on hover": "Afficher la donnée la plus proche au survol",
        "Sorry, there was a problem downloading your image!": "Le téléchargement de l'image a échoué.",
        "Toggle Spike Lines": "Afficher ou masquer les repères",
        "Toggle show closest data on hover": "Afficher ou masquer la donnée la plus proche au survol",
        "Zoom": "Zoomer",
        "Zoom in": "Zoom avant",
        "Zoom out": "Zoom arrière",
    },
    "format": {
        "days": ["dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi"],
        "shortDays": ["dim.", "lun.", "mar.", "mer.", "jeu.", "ven.", "sam."],
        "months": _MOIS,
        "shortMonths": ["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.",
                        "déc."],
        "date": "%d/%m/%Y",
        "decimal": ",",
        "thousands": "\u202f",
    },
}
CONFIG_PLOTLY = {"displaylogo": False, "locale": "fr", "locales": {"fr": LOCALE_FR},
                 # Les seuls outils utiles ici : l'image PNG, le zoom, le retour à la vue d'origine.
                 "modeBarButtonsToRemove": ["select2d", "lasso2d", "toggleSpikelines", "hoverClosestCartesian",
                                            "hoverCompareCartesian"],
                 "toImageButtonOptions": {"format": "png", "scale": 2}}


def graphique(fig, donnees: pd.DataFrame, nom: str, demonstration: bool = False) -> None:
    """Un graphique Plotly en français (barre d'outils comprise), suivi de son tableau de données (repliable) et des
    téléchargements."""
    fig.update_layout(separators=", ", font=dict(family="Source Sans Pro, sans-serif"))
    st.plotly_chart(fig, config=CONFIG_PLOTLY | {"toImageButtonOptions": {"format": "png", "scale": 2,
                                                                           "filename": nom}}, key=f"fig-{nom}")
    with st.expander("Données du graphique"):
        if demonstration:
            st.caption("Données de démonstration.")
        st.dataframe(donnees, hide_index=True, width="stretch")
        telechargements(donnees, nom)


def barres(df: pd.DataFrame, x: str, y: str, couleur: str, couleurs: dict, libelle_x: str, *,
           texte: str | None = None, dehors: bool = False, groupees: bool = False, hauteur: int | None = None,
           legende: str | None = "", survol: dict[str, str] | None = None, bornes_x: list | None = None):
    """Des barres horizontales : une ligne par valeur de `y`, dans l'ordre du tableau, de haut en bas ; une série par
    valeur de `couleur`, dans l'ordre de `couleurs` (valeur → couleur fixe), empilées, ou côte à côte avec `groupees`.

    `texte` : la colonne écrite dans chaque barre (à l'extérieur avec `dehors`) ; `legende` : le titre de la légende
    (None : pas de légende) ; `survol` : des colonnes de plus dans l'infobulle (colonne → libellé) ; `bornes_x` : l'étendue
    de l'axe des x. La figure est décrite en dictionnaires pour `plotly.graph_objects` : plotly.express mettait dix fois
    plus de temps (0,1 s par graphique, à chaque affichage de la page)."""
    import plotly.graph_objects as go
    lignes = list(dict.fromkeys(df[y]))
    traces = []
    for valeur, teinte in couleurs.items():
        g = df[df[couleur] == valeur]
        if g.empty:
            continue
        bulle = "%{y}<br>" + (f"{valeur} : " if valeur != g[y].iloc[0] else "") + "%{x}"
        trace = dict(type="bar", orientation="h", x=g[x].tolist(), y=g[y].tolist(), name=str(valeur),
                     marker=dict(color=teinte, line=dict(color="#888888", width=0.5)))
        if survol:
            trace["customdata"] = g[list(survol)].astype(object).where(g[list(survol)].notna(), "").values.tolist()
            bulle += "".join(f"<br>{libelle} : %{{customdata[{i}]}}" for i, libelle in enumerate(survol.values()))
        if texte:
            # « auto » : dans la barre, à côté si elle est trop étroite pour le texte.
            trace |= dict(text=g[texte].tolist(), textposition="outside" if dehors else "auto", cliponaxis=not dehors)
        traces.append(trace | dict(hovertemplate=bulle + "<extra></extra>"))
    n = len(lignes)
    layout = dict(
        barmode="group" if groupees else "stack", height=hauteur or 130 + 48 * n, separators=", ",
        margin=dict(t=10, b=10, l=10, r=30 if dehors else 10), showlegend=legende is not None,
        xaxis=dict(title=dict(text=libelle_x), **({"range": bornes_x} if bornes_x else {})),
        yaxis=dict(title=dict(text=""), categoryorder="array", categoryarray=lignes, autorange="reversed"),
        # La légende au-dessus du graphique, à gauche : à une distance fixe des barres, quelle que soit leur hauteur.
        legend=dict(orientation="h", x=0, xanchor="left", y=1, yanchor="bottom", title=dict(text=legende or ""),
                    traceorder="normal"))
    return go.Figure(data=traces, layout=layout)


def barres_empilees(df: pd.DataFrame, y: str, couleur: str, couleurs: dict, libelle_x: str):
    """Des barres horizontales (une par valeur de `y`, dans l'ordre du tableau), empilées par `couleur` avec une couleur
    fixe par statut ou état (`couleurs`, dans l'ordre des légendes), le compte (`nombre`) écrit dans chaque part."""
    return barres(df, "nombre", y, couleur, couleurs, libelle_x, texte="nombre")


def abreger(texte: str, n: int = 45) -> str:
    """Un libellé raccourci pour l'axe d'un graphique (le libellé entier reste dans les données du graphique)."""
    return texte if len(texte) <= n else texte[:n - 1].rstrip() + "…"
