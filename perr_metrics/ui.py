"""La colle Streamlit, en un seul endroit : magasin partagé, lectures en cache, widgets communs, messages d'erreur.

Le reste du paquet ignore Streamlit. Les pages appellent ces fonctions et le cœur, et n'écrivent jamais de SQL.

Cache : les lectures sont mises en cache avec, pour clé, la signature du fichier de base (taille et date des fichiers
.duckdb et .wal) ; toute écriture, y compris par la ligne de commande dans un autre processus, change cette signature et
périme donc le cache sans qu'on ait à y penser.
"""
from __future__ import annotations

import logging
import os
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

import pandas as pd
import streamlit as st
from streamlit.runtime.scriptrunner import RerunException, StopException

from . import requetes
from .db import BaseOccupee, ErreurBase, Store
from .droits import SYSTEME
from .formats import format_date, format_nombre

journal = logging.getLogger("perr_metrics.ui")


@st.cache_resource(show_spinner=False)
def _store(chemin: str) -> Store:
    return Store(chemin, utilisateur=SYSTEME)  # provisoire : remplacé par la connexion


def store() -> Store:
    """Le magasin de l'application (chemin : $PERR_DB ou data/perr.duckdb)."""
    return _store(os.environ.get("PERR_DB") or str(Path("data") / "perr.duckdb"))


@st.cache_resource(show_spinner="Création de la base et chargement de la démonstration…")
def _preparer(chemin: str) -> bool:
    s = _store(chemin)
    s.initialiser()
    if s.est_vide() and os.environ.get("PERR_DEMO", "1") != "0":
        from .demo import charger_demo
        charger_demo(s)
    return True


def preparer_base() -> None:
    """Au premier démarrage : crée la base et y charge les protocoles de démonstration.

    Si la base est inutilisable, le message est affiché et la page s'arrête là.
    """
    pret = False
    with protections():
        pret = _preparer(str(store().chemin))
    if not pret:
        st.stop()


def signature_base() -> tuple:
    """Change à chaque écriture dans la base, quel que soit le processus qui écrit."""
    chemin = store().chemin
    sig = []
    for f in (chemin, Path(str(chemin) + ".wal")):
        try:
            st_ = f.stat()
            sig.append((st_.st_size, st_.st_mtime_ns))
        except FileNotFoundError:
            sig.append(None)
    return tuple(sig)


@st.cache_data(show_spinner=False, max_entries=512)
def _lecture(module: str, nom: str, signature: tuple, chemin: str, args: tuple):
    import importlib
    return getattr(importlib.import_module(module), nom)(_store(chemin), *args)


def lire(fonction: Callable, *args):
    """Appelle une fonction de lecture du cœur (`fonction(store, *args)`) à travers le cache ; la clé comprend la
    signature de la base, si bien qu'une écriture, d'où qu'elle vienne, périme le cache."""
    return _lecture(fonction.__module__, fonction.__name__, signature_base(), str(store().chemin), args)


def vider_cache() -> None:
    _lecture.clear()


# --------------------------------------------------------------------------------------------------------------------
# Erreurs : jamais de trace Python devant un utilisateur
# --------------------------------------------------------------------------------------------------------------------

@contextmanager
def protections():
    """Transforme toute exception en message français ; la trace va au journal du serveur, pas à l'écran."""
    try:
        yield
    except (StopException, RerunException):  # la mécanique de Streamlit (st.stop, st.rerun) doit passer
        raise
    except BaseOccupee as exc:
        st.warning(str(exc))
    except requetes.ProtocoleInconnu as exc:
        st.warning(str(exc))
    except ErreurBase as exc:
        st.error(str(exc))
    except Exception as exc:  # noqa: BLE001 - c'est précisément le filet
        journal.error("Erreur inattendue : %s", traceback.format_exc())
        st.error("Une erreur inattendue est survenue ; elle a été consignée dans le journal du serveur. "
                 "Rechargez la page ; si elle se reproduit, signalez-la à l'équipe de coordination.")


# --------------------------------------------------------------------------------------------------------------------
# Widgets communs
# --------------------------------------------------------------------------------------------------------------------

def choisir_protocole() -> dict | None:
    """Sélecteur de protocole, gardé dans l'adresse (`?protocole=CODE`) pour qu'un lien ouvre la même vue."""
    df = lire(requetes.protocoles)
    if df.empty:
        st.info("Aucun protocole dans la base. Importez un classeur de référentiel (page « Référentiel ») ou lancez "
                "`python -m perr_metrics init --demo`.")
        return None
    codes = list(df["code"])
    demande = st.query_params.get("protocole")
    if demande and demande not in codes:
        st.warning(f"Le protocole « {demande} » demandé par le lien n'existe pas dans cette base : choisissez-en un.")
    index = codes.index(demande) if demande in codes else 0
    libelles = {r.code: f"{r.territoire} — {r.annee_debut}–{r.annee_fin} ({r.code})" for r in df.itertuples()}
    code = st.selectbox("Protocole", codes, index=index, format_func=libelles.get, key="protocole")
    if st.query_params.get("protocole") != code:
        st.query_params["protocole"] = code
    return df[df["code"] == code].iloc[0].to_dict()


def bandeau_demonstration(protocole: dict) -> None:
    if protocole.get("demonstration"):
        st.warning("**Données de démonstration.** Le référentiel reprend le protocole réel ; les valeurs des "
                   "indicateurs, les références et les cibles sont fictives.", icon=":material/science:")


def tableau(df: pd.DataFrame, colonnes: dict[str, str], larges: tuple[str, ...] = (), **kwargs) -> None:
    """Un tableau aux en-têtes français (`colonnes` : nom technique → en-tête affiché). Les cases vides restent vides
    (jamais « None ») ; les colonnes de `larges` (noms techniques) prennent la place dont elles ont besoin."""
    vue = df[list(colonnes)].copy()
    for c in vue.columns:
        if not pd.api.types.is_numeric_dtype(vue[c]) and not pd.api.types.is_datetime64_any_dtype(vue[c]):
            vue[c] = vue[c].astype(object).where(vue[c].notna(), "")
    config = {colonnes[c]: st.column_config.TextColumn(width="large") for c in larges}
    st.dataframe(vue.rename(columns=colonnes), hide_index=True, width="stretch", column_config=config, **kwargs)


def periode_texte(protocole: dict) -> str:
    return f"{protocole['annee_debut']}–{protocole['annee_fin']}"


def date_texte(d) -> str:
    if d is None or (isinstance(d, float) and pd.isna(d)) or d is pd.NaT:
        return "non renseignée"
    return format_date(pd.Timestamp(d).date())


def nombre(x) -> str:
    return format_nombre(x)


def _synchro(cle: str, options: list, format_func=None, libelle: str = "", defaut_index: int = 0):
    """Un sélecteur dont la valeur est gardée dans l'adresse (`?cle=valeur`) : un lien collé rouvre la même vue."""
    demande = st.query_params.get(cle)
    index = options.index(demande) if demande in options else defaut_index
    valeur = st.selectbox(libelle, options, index=index, format_func=format_func or str, key=cle)
    if st.query_params.get(cle) != valeur:
        st.query_params[cle] = valeur
    return valeur


def choisir_signataire(protocole: dict, libelle: str = "Signataire ou service") -> str | None:
    df = lire(requetes.signataires, protocole["code"])
    df = df[df["nb_indicateurs"] > 0] if (df["nb_indicateurs"] > 0).any() else df
    if df.empty:
        st.info("Ce protocole n'a aucun signataire.")
        return None
    noms = dict(zip(df["code"], df["libelle"]))
    return _synchro("signataire", list(noms), lambda c: f"{noms[c]} ({c})", libelle)


def choisir_periode(protocole: dict, libelle: str = "Période", semestres: bool = False) -> str:
    """Les années du protocole (et leurs semestres si demandé) ; par défaut la dernière année écoulée du protocole."""
    annees = [str(a) for a in range(int(protocole["annee_debut"]), int(protocole["annee_fin"]) + 1)]
    options = []
    for a in annees:
        options.append(a)
        if semestres:
            options += [f"{a}-S1", f"{a}-S2"]
    import datetime as _dt
    courante = str(min(int(protocole["annee_fin"]), _dt.date.today().year - 1))
    defaut = options.index(courante) if courante in options else len(options) - 1
    return _synchro("periode", options, lambda p: p.replace("-S", " — semestre "), libelle, defaut)


def afficher_rapport(rapport) -> None:
    """Le rapport de contrôle d'un fichier : une ligne par problème, avec sa cellule, la valeur reçue et le message."""
    df = pd.DataFrame(rapport.lignes())
    if df.empty:
        return
    df["niveau"] = df["niveau"].map({"erreur": "Erreur", "avertissement": "Avertissement"}).fillna(df["niveau"])
    tableau(df, {"niveau": "Niveau", "cellule": "Cellule", "valeur": "Valeur reçue", "message": "Problème",
                 "code": "Code"}, larges=("message",))
    if rapport.tronque:
        st.caption(f"Seuls les {rapport.plafond} premiers problèmes sont listés.")


def date_heure_texte(d) -> str:
    from .formats import format_date_heure
    if d is None or d is pd.NaT or (isinstance(d, float) and pd.isna(d)):
        return ""
    return format_date_heure(pd.Timestamp(d).to_pydatetime())


def garde_page() -> None:
    """À appeler en tête de chaque page.

    Un lien direct vers une page (`…/deposer?protocole=…`, celui d'une invitation au COPIL) ouvert en premier sur un
    serveur qui vient de démarrer : parce que le projet a un dossier `pages/`, Streamlit exécute alors la page seule, à
    l'ancienne, sans passer par dashboard.py (ni configuration, ni base préparée, ni navigation). On bascule en navigation
    explicite et on exécute dashboard.py à la place, dans la même exécution (sans relance, pour ne perdre aucune action
    de l'utilisateur) : il configure l'application et ouvre la page demandée, avec ses paramètres.
    """
    import runpy

    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        ctx = get_script_run_ctx()
        principal = ctx.pages_manager.main_script_path if ctx else str(Path(__file__).resolve().parents[1] /
                                                                          "dashboard.py")
        runpy.run_path(str(principal), run_name="__main__")
        st.stop()


# --------------------------------------------------------------------------------------------------------------------
# Graphiques : palette sûre pour les daltoniens, données et téléchargements à côté de chaque graphique
# --------------------------------------------------------------------------------------------------------------------

# Palette d'Okabe et Ito, lisible par les daltoniens ; une couleur fixe par statut d'avancement. Elles vivent dans
# perr_metrics/couleurs.py, que le rapport annuel (sans Streamlit) partage.
from .couleurs import COULEURS_ETAT, COULEURS_STATUT, PALETTE  # noqa: E402,F401


def telechargements(df: pd.DataFrame, nom: str, cle: str | None = None) -> None:
    """Deux boutons : les données en CSV (séparateur « ; », UTF-8 avec BOM, pour Excel) et en .xlsx. Les textes qui
    commencent par =, +, - ou @ sont neutralisés : un tableur ne les prendra pas pour des formules."""
    from .exports import vers_csv, vers_xlsx
    cle = cle or nom
    g, d, _ = st.columns([1, 1, 4])
    g.download_button("Données (CSV)", vers_csv(df), f"{nom}.csv", "text/csv", key=f"csv-{cle}",
                      icon=":material/download:")
    d.download_button("Données (Excel)", vers_xlsx(df, nom[:31]), f"{nom}.xlsx",
                      "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key=f"xlsx-{cle}",
                      icon=":material/download:")


def graphique(fig, donnees: pd.DataFrame, nom: str, demonstration: bool = False) -> None:
    """Un graphique Plotly en français, suivi de son tableau de données (repliable) et des téléchargements."""
    fig.update_layout(separators=", ", font=dict(family="Source Sans Pro, sans-serif"))
    st.plotly_chart(fig, config={"displaylogo": False, "locale": "fr"}, key=f"fig-{nom}")
    with st.expander("Données du graphique"):
        if demonstration:
            st.caption("Données de démonstration.")
        st.dataframe(donnees, hide_index=True, width="stretch")
        telechargements(donnees, nom)


# --------------------------------------------------------------------------------------------------------------------
# Sélecteurs des pages Par QPV et Par signataire
# --------------------------------------------------------------------------------------------------------------------

def choisir_qpv(protocole: dict, libelle: str = "Quartier") -> str | None:
    """Un quartier du protocole (QPV ou territoire de veille active), gardé dans l'adresse (`?qpv=CODE`)."""
    per = lire(requetes.perimetres, protocole["code"])
    quartiers = per[per["niveau"] == "QPV"]
    if quartiers.empty:
        st.info("Ce protocole ne déclare aucun quartier (feuille « Quartiers » du référentiel).")
        return None
    noms = {r.code: f"{r.libelle} ({r.code}{', veille active' if r.type == 'Veille active' else ''})"
            for r in quartiers.itertuples()}
    return _synchro("qpv", list(noms), noms.get, libelle)


def choisir_signataire_tous(protocole: dict, libelle: str = "Signataire ou service") -> str | None:
    """Tout signataire ou service qui porte un engagement ou déclare un indicateur (ou dont un service le fait),
    gardé dans l'adresse (`?signataire=CODE`). Les services sont présentés sous leur signataire."""
    df = lire(requetes.signataires, protocole["code"])
    actifs = df[(df["nb_engagements"] > 0) | (df["nb_indicateurs"] > 0)]
    garder = set(actifs["code"]) | set(actifs["rattache_a"].dropna())
    df = df[df["code"].isin(garder)]
    if df.empty:
        st.info("Ce protocole n'a aucun signataire qui porte un engagement ou déclare un indicateur.")
        return None
    noms = {r.code: ("\u2003" if isinstance(r.rattache_a, str) else "") + f"{r.libelle} ({r.code})"
            for r in df.itertuples()}
    return _synchro("signataire", list(noms), noms.get, libelle)


# --------------------------------------------------------------------------------------------------------------------
# Sélecteurs et écritures des pages du COPIL (Vue d'ensemble, Par axe, Fiche indicateur)
# --------------------------------------------------------------------------------------------------------------------

def selecteur_pilote(cle: str, options: list, format_func, libelle: str, defaut=None):
    """Comme `_synchro` (valeur gardée dans l'adresse, `?cle=valeur`), mais la page peut aussi imposer la valeur :
    `st.session_state[cle + "_demande"] = valeur` (dans un rappel, ou avant la création du sélecteur), et la boîte
    suit. La valeur vit dans `st.session_state[cle]`, posée avant la création du sélecteur : oublier l'état du widget
    ou lui passer un autre `index` laisserait le navigateur afficher l'ancienne valeur, et modifier son état après
    coup ferait avertir Streamlit. L'adresse est mise à jour pendant l'exécution de la page (changée dans un rappel,
    elle n'irait pas au navigateur)."""
    demande = st.session_state.pop(f"{cle}_demande", None)
    if demande is None and cle not in st.session_state:
        demande = st.query_params.get(cle)
    if demande is not None or st.session_state.get(cle) not in options:     # autre protocole : autres options
        st.session_state[cle] = demande if demande in options else (defaut if defaut in options else options[0])
    valeur = st.selectbox(libelle, options, format_func=format_func, key=cle)
    if st.query_params.get(cle) != valeur:
        st.query_params[cle] = valeur
    return valeur


def choisir_noeud(arbre: pd.DataFrame, libelle: str = "Axe, thématique ou objectif") -> str:
    """Un nœud de l'arborescence, gardé dans l'adresse (`?noeud=CODE`) ; « » (chaîne vide) : tout le protocole.
    `arbre` : les colonnes code, libelle, profondeur, dans l'ordre de l'arbre. `aller_au_noeud` en change."""
    noms = {"": "Tout le protocole"}
    noms |= {c: "\u2003" * (int(n) - 1) + f"{c} — {l}"
             for c, l, n in zip(arbre["code"], arbre["libelle"], arbre["profondeur"])}
    return selecteur_pilote("noeud", list(noms), noms.get, libelle)


def aller_au_noeud(code: str) -> None:
    """Rappel (`on_click`, `on_select`) qui ouvre un autre nœud (voir `selecteur_pilote`)."""
    st.session_state["noeud_demande"] = code or ""


def choisir_indicateur(protocole: dict, libelle: str = "Indicateur") -> dict | None:
    """Un indicateur du protocole, gardé dans l'adresse (`?indicateur=CODE`) ; sa ligne de `requetes.indicateurs`."""
    df = lire(requetes.indicateurs, protocole["code"])
    if df.empty:
        st.info("Ce protocole n'a aucun indicateur (feuille « Indicateurs » du référentiel).")
        return None
    noms = dict(zip(df["code"], df["libelle"]))
    code = _synchro("indicateur", list(noms), lambda c: f"{noms[c]} ({c})", libelle)
    return df[df["code"] == code].iloc[0].to_dict()


def valeur_texte(x, unite: str | None) -> str:
    """Une valeur avec son unité pour un tableau (`12,5 %`, `1 200 €`, `18 jours`) ; vide si elle manque."""
    from .avancement import formater
    return "" if x is None or pd.isna(x) else formater(x, unite)


def points_texte(x) -> str:
    """Un écart de pourcentages en points, signé : `+4,5 points`, `-2 points` (le tiret simple en tête est ce que
    `st.metric` reconnaît pour afficher une baisse)."""
    if x is None or pd.isna(x):
        return ""
    return ("+" if x > 0 else "") + format_nombre(x) + "\u00a0point" + ("s" if abs(x) >= 2 else "")


def pourcent_signe_texte(x) -> str:
    """Une variation relative, signée : `+55 %`, `-3,2 %` ; vide si elle manque."""
    if x is None or pd.isna(x):
        return ""
    return ("+" if x > 0 else "") + format_nombre(x) + "\u00a0%"


def tableau_liens(df: pd.DataFrame, colonnes: dict[str, str], larges: tuple[str, ...] = (),
                  liens: dict[str, str] | None = None, **kwargs):
    """Comme `tableau`, avec des colonnes de liens (`liens` : nom technique → texte du lien, l'adresse étant la valeur
    de la colonne) ; les autres arguments vont à `st.dataframe` (key, on_select, selection_mode, height…)."""
    vue = df[list(colonnes)].copy()
    for c in vue.columns:
        if not pd.api.types.is_numeric_dtype(vue[c]) and not pd.api.types.is_datetime64_any_dtype(vue[c]):
            vue[c] = vue[c].astype(object).where(vue[c].notna(), "")
    config = {colonnes[c]: st.column_config.TextColumn(width="large") for c in larges}
    config |= {colonnes[c]: st.column_config.LinkColumn(display_text=texte) for c, texte in (liens or {}).items()}
    return st.dataframe(vue.rename(columns=colonnes), hide_index=True, width="stretch", column_config=config,
                        **kwargs)


def echapper(texte) -> str:
    """Un texte de l'utilisateur (libellé, explication) inséré dans du Markdown, sans qu'un `*`, un `_`, un `[` ou un
    `$` n'y soient pris pour de la mise en forme ; vide s'il manque."""
    if texte is None or (not isinstance(texte, str) and pd.isna(texte)):
        return ""
    for c in "\\`*_[]<>$~|":
        texte = texte.replace(c, "\\" + c)
    return texte


def barres_empilees(df: pd.DataFrame, y: str, couleur: str, couleurs: dict, libelle_x: str):
    """Des barres horizontales (une par valeur de `y`, dans l'ordre du tableau), empilées par `couleur` avec une couleur
    fixe par statut ou état (`couleurs`, dans l'ordre des légendes), le compte (`nombre`) écrit dans chaque part."""
    import plotly.express as px
    n = df[y].nunique()
    fig = px.bar(df, x="nombre", y=y, color=couleur, orientation="h", text="nombre", color_discrete_map=couleurs,
                 category_orders={y: list(dict.fromkeys(df[y])), couleur: list(couleurs)},
                 labels={"nombre": libelle_x, y: "", couleur: ""})
    fig.update_traces(marker_line_color="#888888", marker_line_width=0.5, textposition="inside")
    fig.update_layout(height=130 + 48 * n, margin=dict(t=10, b=10, l=10, r=10), separators=", ",
                      legend=dict(orientation="h", y=-0.25 if n > 3 else -0.5, title=""))
    return fig


def abreger(texte: str, n: int = 45) -> str:
    """Un libellé raccourci pour l'axe d'un graphique (le libellé entier reste dans les données du graphique)."""
    return texte if len(texte) <= n else texte[:n - 1].rstrip() + "…"
