"""Les sélecteurs et saisies communs des pages : protocole, période, signataire, quartier, indicateur, nœud de
l'arborescence, téléversement. Leur valeur est gardée dans l'adresse (`?protocole=…&periode=…`) : un lien collé rouvre
la même vue.

Les lectures passent par `magasin.lire` (attribut du module, pas de copie du nom) : le banc des pages
(benchmarks/bench_pages.py) les enregistre en remplaçant cette fonction.
"""
from __future__ import annotations

from typing import Callable

import pandas as pd
import streamlit as st

from perr_metrics.commun.formats import format_nombre
from perr_metrics.referentiel import requetes
from perr_metrics.ui import magasin
from perr_metrics.ui.affichage import bandeau_demonstration
from perr_metrics.ui.magasin import store, utilisateur

def choisir_protocole() -> dict | None:
    """Sélecteur de protocole, gardé dans l'adresse (`?protocole=CODE`) pour qu'un lien ouvre la même vue."""
    df = magasin.lire(requetes.protocoles)
    u = utilisateur()
    if u is not None and u.role == "contributeur":    # un contributeur : le protocole de son signataire
        df = df[df["code"] == u.protocole].reset_index(drop=True)
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


def entete_protocole() -> dict | None:
    """L'en-tête commun des pages d'un protocole : son sélecteur (gardé dans l'adresse), puis le bandeau de
    démonstration s'il y a lieu. None s'il n'y a aucun protocole (le message est affiché)."""
    p = choisir_protocole()
    if p is not None:
        bandeau_demonstration(p)
    return p


def selection_et_periode(protocole: dict, choisir: Callable[[dict], str | None]) -> tuple[str | None, str]:
    """Un sélecteur propre à la page (`choisir(protocole)` : un quartier, un signataire…) et, à côté, la période
    (années et semestres)."""
    g, d = st.columns([3, 1])
    with g:
        choix = choisir(protocole)
    with d:
        periode = choisir_periode(protocole, semestres=True)
    return choix, periode


def _synchro(cle: str, options: list, format_func=None, libelle: str = "", defaut_index: int = 0):
    """Un sélecteur dont la valeur est gardée dans l'adresse (`?cle=valeur`) : un lien collé rouvre la même vue."""
    demande = st.query_params.get(cle)
    index = options.index(demande) if demande in options else defaut_index
    valeur = st.selectbox(libelle, options, index=index, format_func=format_func or str, key=cle)
    if st.query_params.get(cle) != valeur:
        st.query_params[cle] = valeur
    return valeur


def choisir_signataire(protocole: dict, libelle: str = "Signataire ou service") -> str | None:
    df = magasin.lire(requetes.signataires, protocole["code"])
    df = df[df["nb_indicateurs"] > 0] if (df["nb_indicateurs"] > 0).any() else df
    from perr_metrics.acces.droits import perimetre_de
    permis = perimetre_de(store(), protocole["code"])
    if permis is not None:      # un contributeur : son signataire et ses services
        df = df[df["code"].isin(permis)]
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


def televersement(libelle: str, types: list[str], cle: str, fichiers: str):
    """`st.file_uploader`, en français : Streamlit écrit « Upload » et « 50MB per file • XLSX » sans permettre de les
    traduire ; une feuille de style propre à ce sélecteur (`.st-key-<cle>`) remplace ces deux textes, à l'écran et sans
    toucher au fonctionnement. `fichiers` : ce qui est accepté, en clair (« Classeur .xlsx ou .ods »)."""
    taille = st.get_option("server.maxUploadSize")
    consigne = f"{fichiers} · {format_nombre(taille)} Mo au plus"

    def css(texte: str) -> str:
        return '"' + texte.replace("\\", "\\\\").replace('"', '\\"') + '"'

    zone = f".st-key-{cle} [data-testid='stFileUploaderDropzone']"
    st.html(f"<style>{zone} button p, {zone} [data-testid='stFileUploaderDropzoneInstructions'] span {{font-size: 0}}"
            f"{zone} button p::after {{content: {css('Choisir un fichier')}; font-size: 14px}}"
            f"{zone} [data-testid='stFileUploaderDropzoneInstructions'] span::after "
            f"{{content: {css(consigne)}; font-size: 14px}}</style>")
    return st.file_uploader(libelle, type=types, key=cle)


def choisir_qpv(protocole: dict, libelle: str = "Quartier") -> str | None:
    """Un quartier du protocole (QPV ou territoire de veille active), gardé dans l'adresse (`?qpv=CODE`)."""
    per = magasin.lire(requetes.perimetres, protocole["code"])
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
    df = magasin.lire(requetes.signataires, protocole["code"])
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
    df = magasin.lire(requetes.indicateurs, protocole["code"])
    if df.empty:
        st.info("Ce protocole n'a aucun indicateur (feuille « Indicateurs » du référentiel).")
        return None
    noms = dict(zip(df["code"], df["libelle"]))
    code = _synchro("indicateur", list(noms), lambda c: f"{noms[c]} ({c})", libelle)
    return df[df["code"] == code].iloc[0].to_dict()
