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
        vue = df.assign(quand=df["date_etat"].map(lambda x: "" if pd.isna(x) else ui.date_texte(x)),
                        axe_nom=df["axe"] + " — " + df["axe_libelle"].fillna(""))
        # Tout tient en 1 440 px ; les longs textes passent à la ligne (« Saisi par » est dans l'historique). La
        # colonne « Nature » (vocabulaire du protocole) ne vient que s'il en donne, prise sur le libellé.
        ui.tableau(vue, {"code": "Code", "libelle": "Engagement", **({"nature": "Nature"} if natures else {}),
                         "axe_nom": mot_axe, "porteurs_noms": "Porteurs", "etat": "État", "quand": "Depuis le",
                         "commentaire": "Commentaire"},
                   largeurs={"code": 55, "libelle": 240 if natures else 280, **({"nature": 110} if natures else {}),
                             "axe_nom": 130, "porteurs_noms": 130, "etat": 90, "quand": 110, "commentaire": 160},
                   row_height=ui.LIGNE_A_LA_LIGNE, height=min(38 + (ui.LIGNE_A_LA_LIGNE + 1) * len(vue), 520))

        st.header("Suivre un engagement")
        libelles = {r.code: f"{r.code} — {ui.abreger(r.libelle, 90)}" for r in df.itertuples()}
        code = ui._synchro("engagement", list(libelles), libelles.get, "Engagement")
        e = df.set_index("code").loc[code]
        formule = e["formule"] if isinstance(e["formule"], str) else ""
        st.markdown(f"**{code}** — {ui.echapper(formule)} {ui.echapper(e['libelle'])}")
        details = [f"Porté par : {e['porteurs_noms'] or requetes.SANS_PORTEUR}", f"{e['axe']} — {e['noeud_libelle']}"]
        details += [f"{k} : {e[c]}" for k, c in (("Nature", "nature"), ("Volet", "volet_libelle")) if pd.notna(e[c])]
        details += [f"{k} : {e[c]}" for k, c in (("Levier", "levier"), ("Échéance", "echeance")) if pd.notna(e[c])]
        st.caption(ui.echapper(" · ".join(details)))
        if (message := st.session_state.pop("etat_enregistre", None)):
            st.success(message)
        if (message := st.session_state.pop("etat_annule", None)):
            st.info(message)

        hist = ui.lire(suivi.historique_etats, p["code"], code)
        st.subheader("Historique" + (f" ({len(hist)} état{'s' if len(hist) > 1 else ''})" if len(hist) else ""))
        if hist.empty:
            st.info("Aucun état n'a encore été saisi pour cet engagement.")
        else:
            hist = hist.assign(quand=hist["date_etat"].map(ui.date_texte), saisi=hist["saisi_le"].map(
                ui.date_heure_texte))
            ui.tableau(hist, {"quand": "Date", "etat": "État", "commentaire": "Commentaire", "auteur": "Saisi par",
                              "saisi": "Saisi le"}, larges=("commentaire",))

        actuel = e["etat"]
        depuis = "" if pd.isna(e["date_etat"]) else f" depuis le {ui.date_texte(e['date_etat'])}"

        def enregistrer(nouvel: str, jour, commentaire: str, confirmer: bool = False) -> None:
            try:
                ligne = suivi.enregistrer_etat(ui.store(), p["code"], code, nouvel, jour, commentaire,
                                               confirmer_recul=confirmer)
            except suivi.ConfirmationRequise as exc:
                st.session_state["etat_a_confirmer"] = dict(engagement=code, etat=nouvel, jour=jour,
                                                            commentaire=commentaire, message=str(exc))
                st.rerun()
            except suivi.EtatRefuse as exc:
                st.error(str(exc))
            else:
                ui.vider_cache()
                st.session_state.pop("etat_a_confirmer", None)
                texte = f"État « {nouvel} » enregistré pour l'engagement {code}."
                if not ligne["courant"]:
                    texte += (f" Daté avant l'état courant (« {ligne['precedent']} »), il complète l'historique ; "
                              "l'état courant ne change pas.")
                elif ligne["recul"]:
                    texte += f" Retour en arrière confirmé (était « {ligne['precedent']} »)."
                st.session_state["etat_enregistre"] = texte
                st.rerun()

        if not u.peut("modifier_etat"):
            st.caption("Les porteurs et la coordination mettent à jour l'état des engagements ; votre rôle les "
                       "consulte.")
        else:
            # Le formulaire repart de l'état courant de l'engagement affiché : à chaque changement d'engagement ou
            # après chaque état enregistré, ses champs sont remis à zéro (et une confirmation en attente oubliée).
            base = (p["code"], code, actuel, int(e["nb_etats"]))
            if st.session_state.get("nouvel_etat_base") != base:
                for cle in ("nouvel_etat_etat", "nouvel_etat_date", "nouvel_etat_commentaire", "etat_a_confirmer"):
                    st.session_state.pop(cle, None)
                st.session_state["nouvel_etat_base"] = base
            attente = st.session_state.get("etat_a_confirmer")
            if attente and attente["engagement"] == code:
                st.warning(attente["message"], icon=":material/undo:")
                g, d, _ = st.columns([2, 1, 2])
                if d.button("Annuler", key="annuler_recul", type="primary", width="stretch"):
                    st.session_state.pop("etat_a_confirmer", None)
                    st.session_state["etat_annule"] = (f"Rien n'a été enregistré : l'engagement {code} reste "
                                                       f"« {actuel} »{depuis}.")
                    st.rerun()
                if g.button(f"Confirmer le retour à « {attente['etat']} »", key="confirmer_recul", width="stretch"):
                    enregistrer(attente["etat"], attente["jour"], attente["commentaire"], confirmer=True)
            else:
                with st.form("nouvel_etat"):
                    st.markdown(f"**Nouvel état** — actuellement : **{actuel}**{depuis}")
                    a, b = st.columns(2)
                    nouvel = a.selectbox("État", suivi.ETATS, index=suivi.ETATS.index(actuel) if actuel in suivi.ETATS
                                         else None, placeholder="Choisissez un état", key="nouvel_etat_etat")
                    jour = b.date_input("Date de l'état", value=dt.date.today(), max_value=dt.date.today(),
                                        format="DD/MM/YYYY", key="nouvel_etat_date")
                    commentaire = st.text_area("Commentaire (obligatoire pour un engagement reporté ou abandonné)",
                                               key="nouvel_etat_commentaire")
                    n = len(hist)
                    st.caption(("Cet état s'ajoutera à l'historique ci-dessus "
                                f"({n} état{'s' if n > 1 else ''}) ; " if n else "Ce sera le premier état de cet "
                                "engagement ; ") + f"saisi au nom de {ui.echapper(u.nom)}. Revenir en arrière "
                               "(quitter « réalisé », revenir à « non démarré ») demande une confirmation.")
                    if st.form_submit_button("Enregistrer l'état", type="primary", key="enregistrer_etat"):
                        if nouvel is None:
                            st.error("Choisissez un état.")
                        else:
                            enregistrer(nouvel, jour, commentaire)
