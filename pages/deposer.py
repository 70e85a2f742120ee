"""Déposer : télécharger son modèle, déposer son fichier, lire le contrôle, confirmer, voir ce qui a changé."""
import hashlib
import io

import streamlit as st

from perr_metrics.depots import depot as depots
from perr_metrics.depots import modele as modele_depot
from perr_metrics import ui

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

def problemes(res) -> None:
    """Les problèmes du fichier, nommés : nature, cellule, indicateur et périmètre (noms, codes entre parenthèses),
    valeur reçue, message en entier (le code, pour une recherche dans la documentation, en dernier)."""
    df = depots.problemes_nommes(res)
    if df.empty:
        return
    # Ce qui se lit d'abord (le problème, la cellule, la valeur, quoi faire), puis ce que la ligne concerne ; le code
    # en dernier. Le message en entier sous le tableau.
    ui.tableau(df, {"niveau": "Niveau", "nature": "Problème", "cellule": "Cellule", "valeur": "Valeur reçue",
                    "message": "Ce qu'il faut faire", "indicateur": "Indicateur", "perimetre": "Périmètre",
                    "code": "Code"}, larges=("message",),
                height=min(38 + 35 * len(df), 420))
    feuilles = sorted({f for f in df["feuille"] if f})
    st.caption((f"Cellules de la feuille « {feuilles[0]} ». " if len(feuilles) == 1 else "")
               + (f"Seuls les {res.rapport.plafond} premiers problèmes sont listés." if res.rapport.tronque else ""))
    with st.expander("Lire chaque problème en entier"):
        for r in df.itertuples():
            ou = " · ".join(x for x in (f"cellule {r.cellule}" if r.cellule else "", r.indicateur, r.perimetre) if x)
            st.markdown(f"**{ui.echapper(r.nature)}** ({ui.echapper(ou) or 'fichier'}) : {ui.echapper(r.message)} "
                        f"— code `{r.code}`")


def confirmation(res) -> None:
    """Ce que le dépôt a changé, avec les noms : la valeur précédente (celle qui fait foi à la période précédente,
    comme dans le modèle et l'avertissement), la valeur remplacée (même période), la nouvelle valeur."""
    ch = res.changements.copy()
    resume = ch["nature"].value_counts()
    st.markdown(" · ".join(f"**{resume.get(k, 0)}** {k}{'s' if resume.get(k, 0) > 1 else ''}"
                           for k in ("nouvelle", "modifiée", "inchangée")))
    unites = ch["unite"] if "unite" in ch else [None] * len(ch)
    ch["precedente_txt"] = [ui.valeur_texte(v, u) for v, u in zip(ch["precedente"], unites)]
    ch["ancienne_txt"] = [ui.valeur_texte(v, u) for v, u in zip(ch["ancienne"], unites)]
    ch["nouvelle_txt"] = [ui.valeur_texte(v, u) for v, u in zip(ch["nouvelle"], unites)]
    ch["indicateur_txt"] = [f"{n} ({c})" if isinstance(n, str) else c
                            for n, c in zip(ch.get("indicateur_libelle", ch["indicateur"]), ch["indicateur"])]
    ch["perimetre_txt"] = [n if isinstance(n, str) else c
                           for n, c in zip(ch.get("perimetre_libelle", ch["perimetre"]), ch["perimetre"])]
    ordre = {"modifiée": 0, "nouvelle": 1, "inchangée": 2}
    ch = ch.assign(rang=ch["nature"].map(ordre)).sort_values(["rang", "indicateur_txt", "perimetre_txt"])
    ui.tableau(ch, {"indicateur_txt": "Indicateur", "perimetre_txt": "Périmètre", "periode": "Période",
                    "nouvelle_txt": "Nouvelle valeur", "nature": "Changement", "ancienne_txt": "Valeur remplacée",
                    "precedente_txt": "Valeur précédente (période précédente)"},
               height=min(38 + 35 * len(ch), 460))
    st.caption("« Valeur précédente » : celle qui fait foi à la période précédente (la même que dans le modèle et "
               "les avertissements) ; « Valeur remplacée » : celle qui faisait foi pour la même période avant ce "
               "dépôt.")


u = ui.garde_page("deposer")
st.title("Déposer des valeurs")
with ui.protections():
    p = ui.entete_protocole()
    if p is not None:
        g, m = st.columns([3, 1])
        with g:
            signataire = ui.choisir_signataire(p)
        with m:
            periode = ui.choisir_periode(p)
        st.caption(f"Vous déposez au nom de {ui.echapper(u.nom)} ({u.identifiant}) : chaque valeur en gardera la trace.")
        if signataire:
            st.subheader("1. Télécharger le modèle pré-rempli")
            flux = io.BytesIO()
            try:
                n = modele_depot.ecrire_modele_depot(ui.store(), p["code"], signataire, periode, flux)
            except modele_depot.ModeleImpossible as exc:
                st.info(str(exc))
            else:
                st.download_button(f"Modèle {signataire} — {periode} ({n} valeurs attendues)", flux.getvalue(),
                                   f"depot-{p['code']}-{signataire}-{periode}.xlsx", XLSX)
            st.caption("Le modèle liste les valeurs attendues de vous pour la période. Vous pouvez aussi déposer une "
                       "table à vous (.xlsx, .ods, .csv) aux colonnes indicateur, perimetre, periode, valeur, commentaire.")

            st.subheader("2. Déposer le fichier rempli")
            fichier = ui.televersement("Fichier de valeurs", ["xlsx", "xlsm", "ods", "csv"], "depot",
                                             "Classeur .xlsx, .xlsm, .ods ou fichier .csv")
            if fichier is not None:
                donnees = fichier.getvalue()
                cle = ("depot", hashlib.sha256(donnees).hexdigest(), p["code"], signataire, periode)
                confirmer = st.session_state.get("confirmer") == cle
                if cle not in st.session_state or confirmer:
                    barre = st.progress(0.0, text="Lecture du fichier…")
                    st.session_state[cle] = depots.deposer(
                        ui.store(), donnees, fichier.name, protocole=p["code"], signataire=signataire,
                        periode=periode, accepter_avertissements=confirmer,
                        progression=lambda f, t: barre.progress(f, text=t))
                    st.session_state.pop("confirmer", None)
                    barre.empty()
                    ui.vider_cache()
                res = st.session_state[cle]
                if res.statut == "rejete":
                    n_err = len(res.rapport.erreurs)
                    st.error(f"Fichier refusé : {n_err} problème{'s' if n_err > 1 else ''} à corriger. Rien n'a été "
                             "enregistré ; corrigez les cellules indiquées puis déposez le fichier à nouveau.")
                    problemes(res)
                elif res.statut == "a-confirmer":
                    st.warning("Le fichier est valide, mais certaines valeurs surprennent. Vérifiez-les : rien n'est "
                               "enregistré tant que vous ne confirmez pas.")
                    problemes(res)
                    st.caption("Si vous confirmez, ces valeurs sont enregistrées avec leur avertissement : elles "
                               "apparaissent « " + depots.MARQUE_EN_ATTENTE + " » jusqu'à ce que la coordination "
                               "revoie le dépôt" + ("." if p.get("valeurs_retenues") in (None, "dès réception") else
                                                    ", et ne comptent qu'après cette revue."))
                    if st.button("Je confirme ces valeurs : enregistrer le dépôt", type="primary"):
                        st.session_state["confirmer"] = cle
                        st.rerun()
                elif res.statut == "deja-depose":
                    st.info(f"Ce fichier a déjà été déposé (dépôt n° {res.depot_id}) : rien de nouveau à enregistrer.")
                else:
                    n_av = len(res.rapport.avertissements)
                    st.success(f"Dépôt n° {res.depot_id} enregistré : {res.nb_valeurs} valeurs, période "
                               f"{res.periode or 'multiple'}."
                               + (f" {n_av} valeur{'s' if n_av > 1 else ''} confirmée{'s' if n_av > 1 else ''} malgré "
                                  "un avertissement : la coordination revoit le dépôt." if n_av else ""))
                    confirmation(res)
