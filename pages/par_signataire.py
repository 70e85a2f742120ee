"""Par signataire : ce qu'un signataire (et ses services) porte, où en sont ses engagements et ses indicateurs, et
s'il a envoyé ses chiffres."""
import math

import pandas as pd
import streamlit as st

from perr_metrics.pilotage import suivi
from perr_metrics import ui
from perr_metrics.pilotage.avancement import STATUTS, formater
from perr_metrics.commun.formats import format_pourcent

COULEURS_ETAT = {**ui.COULEURS_ETAT, suivi.NON_RENSEIGNE: "#EEEEEE"}


def barres(comptes: pd.Series, couleurs: dict, titre: str, nom: str) -> None:
    """Une barre par état ou statut, dans l'ordre des couleurs, avec son effectif."""
    df = pd.DataFrame({"quoi": list(couleurs), "nombre": [int(comptes.get(k, 0)) for k in couleurs]})
    df = df[df["nombre"] > 0]
    fig = ui.barres(df, "nombre", "quoi", "quoi", couleurs, titre, texte="nombre", dehors=True, legende=None,
                    hauteur=90 + 32 * len(df))
    fig.update_layout(xaxis=dict(dtick=max(1, math.ceil(df["nombre"].max() / 8))))   # des effectifs : pas de 0,2
    ui.graphique(fig, df.rename(columns={"quoi": "État ou statut", "nombre": titre}), nom)


ui.garde_page("consulter_pilotage")
st.title("Par signataire")
with ui.protections():
    p = ui.entete_protocole()
    if p is not None:
        code, periode = ui.selection_et_periode(p, ui.choisir_signataire_tous)
        if code:
            b = ui.lire(suivi.bilan_signataire, p["code"], code, periode)
            st.subheader(b.nom)
            if b.services:
                st.caption(f"Avec ses services : {', '.join(b.services)}.")
            eng, ind = b.engagements, b.indicateurs
            c = st.columns(5)
            c[0].metric("Engagements portés", len(eng))
            c[1].metric("dont portés seul", int((eng["portage"] == "seul").sum()))
            c[2].metric("Engagements réalisés", int((eng["etat"] == "réalisé").sum()))
            c[3].metric("Indicateurs en retard", f"{int((ind['statut'] == 'en retard').sum())} sur {len(ind)}")
            c[4].metric(f"Valeurs reçues ({periode})", f"{b.recus} sur {b.attendus}")

            st.header("Ses engagements")
            if eng.empty:
                st.info("Ni ce signataire ni ses services ne portent d'engagement.")
            else:
                barres(eng["etat"].value_counts(), COULEURS_ETAT, "Engagements", f"etats-{p['code']}-{code}")
                vue = eng.assign(quand=eng["date_etat"].map(lambda x: "" if pd.isna(x) else ui.date_texte(x)))
                ui.tableau(vue, {"code": "Code", "libelle": "Engagement", "portage": "Porté", "porteurs_noms":
                                 "Porteurs", "etat": "État", "quand": "Depuis le", "commentaire": "Commentaire"},
                           larges=("libelle",), height=min(38 + 35 * len(vue), 420))

            st.header(f"Ses indicateurs — {periode.replace('-S', ' semestre ')}")
            if ind.empty:
                st.info("Ni ce signataire ni ses services ne déclarent d'indicateur.")
            else:
                barres(ind["statut"].value_counts(), {s: ui.COULEURS_STATUT[s] for s in STATUTS}, "Indicateurs",
                       f"statuts-{p['code']}-{code}-{periode}")
                vue = ind.assign(valeur_txt=[formater(v, u) for v, u in zip(ind["valeur"], ind["unite"])],
                                 renseignes=[f"{r} sur {n}" for r, n in zip(ind["nb_renseignes"], ind["nb_perimetres"])])
                ui.tableau(vue, {"libelle": "Indicateur", "valeur_txt": "Valeur (territoire)", "statut": "Statut",
                                 "renseignes": "Périmètres renseignés", "explication": "Explication"},
                           larges=("libelle", "explication"))

            st.header("Ses dépôts")
            comp = b.completude.assign(taux_txt=b.completude["taux"].map(format_pourcent),
                                       dernier=b.completude["dernier_depot"].map(ui.date_heure_texte))
            if comp.empty:
                st.info(f"Rien n'est attendu de ce signataire pour {periode}.")
            else:
                st.markdown(f"**Valeurs attendues et reçues pour {periode.replace('-S', ' semestre ')}**")
                ui.tableau(comp, {"nom": "Signataire ou service", "attendus": "Attendues", "recus": "Reçues",
                                  "taux_txt": "Complétude", "statut": "Statut", "dernier": "Dernier dépôt"},
                           larges=("nom",))
            if b.depots.empty:
                st.info("Aucun dépôt de ce signataire ni de ses services.")
            else:
                st.markdown("**Tous ses dépôts**, du plus récent au plus ancien")
                dep = b.depots.assign(quand=b.depots["depose_le"].map(ui.date_heure_texte))
                ui.tableau(dep, {"id": "N°", "quand": "Déposé le", "signataire_nom": "Par", "periode": "Période",
                                 "fichier_nom": "Fichier", "utilisateur": "Utilisateur", "nb_valeurs": "Valeurs",
                                 "statut": "Statut"}, height=min(38 + 35 * len(dep), 320))
