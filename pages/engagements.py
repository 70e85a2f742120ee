"""Engagements : où en est chaque engagement du protocole, son historique, et la saisie d'un nouvel état."""
import datetime as dt

import pandas as pd
import streamlit as st

from perr_metrics.referentiel import requetes
from perr_metrics.pilotage import suivi
from perr_metrics import ui

TOUS = "tous"
COULEURS = {**ui.COULEURS_ETAT, suivi.NON_RENSEIGNE: "#EEEEEE"}

u = ui.garde_page("consulter_engagements")
st.title("Engagements")
with ui.protections():
    p = ui.entete_protocole()
    if p is not None:
        arbre = ui.lire(requetes.arbre, p["code"])
        axes = dict(zip(arbre.loc[arbre["profondeur"] == 1, "code"], arbre.loc[arbre["profondeur"] == 1, "libelle"]))
        sig = ui.lire(requetes.signataires, p["code"])
        noms = {**dict(zip(sig["code"], sig["libelle"])), requetes.SANS_PORTEUR: requetes.SANS_PORTEUR.capitalize()}
        # Les mots du protocole : le nom de ses niveaux (« Priorité », « Enjeu »…) et les natures de ses items.
        niv = ui.lire(requetes.niveaux, p["code"])
        niveau_1 = niv.loc[niv["volet"].isna() & (niv["profondeur"] == 1), "niveau"]
        mot_axe = niveau_1.iloc[0] if len(niveau_1) else "Axe"
        natures = list(ui.lire(requetes.natures, p["code"])["nature"])
        colonnes = st.columns([2, 2, 1, 2] if natures else [2, 2, 1])
        with colonnes[0]:
            axe = ui._synchro("axe", [TOUS, *axes], lambda c: "Tous" if c == TOUS else f"{c} — {axes[c]}", mot_axe)
        with colonnes[1]:
            porteur = ui._synchro("porteur", [TOUS, *noms], lambda c: "Tous" if c == TOUS else noms[c],
                                  "Porteur (et ses services)")
        with colonnes[2]:
            etat = ui._synchro("etat", [TOUS, *suivi.ETATS, suivi.NON_RENSEIGNE],
                               lambda c: "Tous" if c == TOUS else c, "État")
        nature = TOUS
        if natures:
            with colonnes[3]:
                nature = ui._synchro("nature", [TOUS, *natures], lambda c: "Toutes" if c == TOUS else c, "Nature")
        df = ui.lire(suivi.engagements_filtres, p["code"], None if axe == TOUS else axe,
                     None if porteur == TOUS else porteur, None if etat == TOUS else etat,
                     None if nature == TOUS else nature)
        if df.empty:
            st.info("Aucun engagement ne correspond à ces filtres.")
            st.stop()
        compte = df["etat"].value_counts()
        for col, e in zip(st.columns(6), [*suivi.ETATS, suivi.NON_RENSEIGNE]):
            col.metric(e.capitalize(), int(compte.get(e, 0)))
        rep = suivi.repartition(df.assign(axe=df["axe"] + " — " + df["axe_libelle"].str.slice(0, 50)))
        fig = ui.barres(rep, "nombre", "axe", "etat", COULEURS, "Engagements", legende="État",
                        hauteur=110 + 45 * rep["axe"].nunique())
        ui.graphique(fig, rep.rename(columns={"axe": mot_axe, "etat": "État", "nombre": "Engagements"}),
                     f"etats-engagements-{p['code']}")
        vue = df.assign(quand=df["date_etat"].map(lambda x: "" if pd.isna(x) else ui.date_texte(x)))
        ui.tableau(vue, {"code": "Code", "libelle": "Engagement", **({"nature": "Nature"} if natures else {}),
                         "axe": mot_axe, "porteurs_noms": "Porteurs", "etat": "État", "quand": "Depuis le", "commentaire": "Commentaire", "auteur": "Saisi par"},
                   larges=("libelle",), height=min(38 + 35 * len(vue), 420))

        st.header("Suivre un engagement")
        libelles = {r.code: f"{r.code} — {r.libelle[:90]}" for r in df.itertuples()}
        code = ui._synchro("engagement", list(libelles), libelles.get, "Engagement")
        e = df.set_index("code").loc[code]
        formule = e["formule"] if isinstance(e["formule"], str) else ""
        st.markdown(f"**{code}** — {formule} {e['libelle']}")
        details = [f"Porté par : {e['porteurs_noms'] or requetes.SANS_PORTEUR}", f"{e['axe']} — {e['noeud_libelle']}"]
        details += [f"{k} : {e[c]}" for k, c in (("Nature", "nature"), ("Volet", "volet_libelle")) if pd.notna(e[c])]
        details += [f"{k} : {e[c]}" for k, c in (("Levier", "levier"), ("Échéance", "echeance")) if pd.notna(e[c])]
        st.caption(" · ".join(details))
        if (message := st.session_state.pop("etat_enregistre", None)):
            st.success(message)
        if not u.peut("modifier_etat"):
            st.caption("Les porteurs et la coordination mettent à jour l'état des engagements ; votre rôle les "
                       "consulte.")
        else:
            with st.form("nouvel_etat", clear_on_submit=True):
                st.markdown(f"**Nouvel état** (actuellement : {e['etat']})")
                a, b = st.columns(2)
                nouvel = a.selectbox("État", suivi.ETATS, key="nouvel_etat_etat")
                jour = b.date_input("Date de l'état", value=dt.date.today(), max_value=dt.date.today(),
                                    format="DD/MM/YYYY", key="nouvel_etat_date")
                commentaire = st.text_area("Commentaire (obligatoire pour un engagement reporté ou abandonné)",
                                           key="nouvel_etat_commentaire")
                st.caption(f"Saisi au nom de {ui.echapper(u.nom)}.")
                if st.form_submit_button("Enregistrer l'état", type="primary", key="enregistrer_etat"):
                    try:
                        suivi.enregistrer_etat(ui.store(), p["code"], code, nouvel, jour, commentaire)
                    except suivi.EtatRefuse as exc:
                        st.error(str(exc))
                    else:
                        ui.vider_cache()
                        st.session_state["etat_enregistre"] = f"État « {nouvel} » enregistré pour l'engagement {code}."
                        st.rerun()
        hist = ui.lire(suivi.historique_etats, p["code"], code)
        st.subheader("Historique")
        if hist.empty:
            st.info("Aucun état n'a encore été saisi pour cet engagement.")
        else:
            hist = hist.assign(quand=hist["date_etat"].map(ui.date_texte), saisi=hist["saisi_le"].map(
                ui.date_heure_texte))
            ui.tableau(hist, {"quand": "Date", "etat": "État", "commentaire": "Commentaire", "auteur": "Saisi par",
                              "saisi": "Saisi le"}, larges=("commentaire",))
