"""Vue publique (administrateurs) : l'ouvrir ou la fermer, choisir les indicateurs publiés de chaque protocole."""
import streamlit as st

from perr_metrics.pilotage import publication
from perr_metrics.referentiel import requetes
from perr_metrics import ui

ui.garde_page("publier")
st.title("Vue publique")
st.markdown("La vue publique montre, sans compte, les indicateurs que vous choisissez (valeur au territoire et par "
            "quartier, cible, statut) aux conseils citoyens et aux habitants. Jamais les dépôts, les fichiers ni les "
            "engagements. Elle est fermée par défaut.")
with ui.protections():
    ouverte = publication.vue_publique_ouverte(ui.store())
    if st.toggle("Vue publique ouverte", value=ouverte, key="vue_publique") != ouverte:
        publication.ouvrir_vue_publique(ui.store(), not ouverte)
        ui.vider_cache()
        st.rerun()
    p = ui.choisir_protocole()
    if p is not None:
        ind = ui.lire(requetes.indicateurs, p["code"])
        deja = set(publication.indicateurs_publies(ui.store(), p["code"])["code"])
        noms = dict(zip(ind["code"], ind["libelle"]))
        choix = st.multiselect("Indicateurs publiés", list(noms), default=[c for c in noms if c in deja],
                               format_func=lambda c: f"{noms[c]} ({c})", key=f"publies-{p['code']}",
                               placeholder="Choisissez les indicateurs à publier")
        if st.button("Enregistrer la sélection", type="primary"):
            ajout = publication.publier(ui.store(), p["code"], [c for c in choix if c not in deja], True)
            retrait = publication.publier(ui.store(), p["code"], [c for c in deja if c not in choix], False)
            ui.vider_cache()
            st.success(f"{ajout} indicateur(s) publié(s), {retrait} retiré(s).")
