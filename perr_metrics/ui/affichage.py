"""L'affichage commun des pages : tableaux aux en-têtes français, textes formatés (nombres, dates, valeurs avec leur
unité, écarts), texte de l'utilisateur échappé pour le Markdown, bandeau de démonstration, rapport de contrôle d'un
fichier. Rien n'y lit la base."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from perr_metrics.commun.formats import format_date, format_nombre

def bandeau_demonstration(protocole: dict) -> None:
    if protocole.get("demonstration"):
        st.warning("**Données de démonstration.** Le référentiel reprend le protocole réel ; les valeurs des "
                   "indicateurs, les références et les cibles sont fictives.", icon=":material/science:")


#: La hauteur de ligne (px) à partir de laquelle st.dataframe fait passer les longs textes à la ligne dans leur case
#: (le tableau de Streamlit 1.67 ne le fait qu'au-delà de 4 rem, 64 px) : trois lignes de texte.
LIGNE_A_LA_LIGNE = 72


def tableau(df: pd.DataFrame, colonnes: dict[str, str], larges: tuple[str, ...] = (),
            largeurs: dict[str, str | int] | None = None, **kwargs) -> None:
    """Un tableau aux en-têtes français (`colonnes` : nom technique → en-tête affiché). Les cases vides restent vides
    (jamais « None ») ; les colonnes de `larges` (noms techniques) prennent la place dont elles ont besoin ; `largeurs`
    fixe celle d'autres colonnes (« small », « medium », « large » ou des pixels), pour que tout tienne à l'écran.
    Avec `row_height` (kwargs), les longs textes passent à la ligne dans leur case."""
    vue = df[list(colonnes)].copy()
    for c in vue.columns:
        if not pd.api.types.is_numeric_dtype(vue[c]) and not pd.api.types.is_datetime64_any_dtype(vue[c]):
            vue[c] = vue[c].astype(object).where(vue[c].notna(), "")
    config = {colonnes[c]: st.column_config.TextColumn(width="large") for c in larges}
    config |= {colonnes[c]: st.column_config.Column(width=w) for c, w in (largeurs or {}).items()}
    st.dataframe(vue.rename(columns=colonnes), hide_index=True, width="stretch", column_config=config, **kwargs)


def periode_texte(protocole: dict) -> str:
    return f"{protocole['annee_debut']}–{protocole['annee_fin']}"


def date_texte(d) -> str:
    if d is None or (isinstance(d, float) and pd.isna(d)) or d is pd.NaT:
        return "non renseignée"
    return format_date(pd.Timestamp(d).date())


def nombre(x) -> str:
    return format_nombre(x)


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
    from perr_metrics.commun.formats import format_date_heure
    if d is None or d is pd.NaT or (isinstance(d, float) and pd.isna(d)):
        return ""
    return format_date_heure(pd.Timestamp(d).to_pydatetime())


def valeur_texte(x, unite: str | None) -> str:
    """Une valeur avec son unité pour un tableau (`12,5 %`, `1 200 €`, `18 jours`) ; vide si elle manque."""
    from perr_metrics.pilotage.avancement import formater
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
