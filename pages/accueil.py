"""Accueil : choisir un protocole et comprendre sa structure en une minute."""
import streamlit as st

from perr_metrics.referentiel import requetes
from perr_metrics import ui

ui.garde_page("consulter_pilotage")
st.title("Protocoles d'engagements renforcés et réciproques")
with ui.protections():
    p = ui.entete_protocole()
    if p is not None:
        st.subheader(p["libelle"])
        contrats = ui.lire(requetes.contrats, p["code"])
        st.caption(f"Territoire : {p['territoire']} · Période {ui.periode_texte(p)} · Signature : "
                   f"{ui.date_texte(p['date_signature'])} · Avenant à : {' ; '.join(contrats['libelle'])}")
        c = st.columns(5)
        c[0].metric("Nœuds de l'arborescence", p["nb_noeuds"])
        c[1].metric("Engagements", p["nb_engagements"])
        c[2].metric("Indicateurs", p["nb_indicateurs"])
        c[3].metric("Signataires et partenaires", p["nb_signataires"])
        c[4].metric("Quartiers", p["nb_quartiers"])
        if p["description"]:
            with st.expander("À propos de ce protocole"):
                st.markdown(p["description"])

        st.header("Structure du protocole")
        arbre = ui.lire(requetes.arbre, p["code"])
        racines = arbre[arbre["profondeur"] == 1].melt(
            id_vars=["code", "libelle"], value_vars=["nb_engagements", "nb_indicateurs"], var_name="quoi",
            value_name="nombre")
        racines["quoi"] = racines["quoi"].map({"nb_engagements": "Engagements", "nb_indicateurs": "Indicateurs"})
        racines["axe"] = racines["code"] + " — " + racines["libelle"].str.slice(0, 60)
        fig = ui.barres(racines, "nombre", "axe", "quoi", {"Engagements": "#0072B2", "Indicateurs": "#E69F00"},
                        "Nombre", texte="nombre", groupees=True, hauteur=120 + 70 * len(racines) // 2)
        st.plotly_chart(fig, config={"displaylogo": False})
        arbre["intitule"] = [("\u2003" * (n - 1)) + f"{code} — {lib}" for n, code, lib in
                             zip(arbre["profondeur"], arbre["code"], arbre["libelle"])]
        ui.tableau(arbre, {"intitule": "Axe / thématique", "niveau": "Niveau", "nb_engagements": "Engagements",
                           "nb_indicateurs": "Indicateurs", "cadres": "Cadres nationaux"}, larges=("intitule",),
                   height=min(38 + 35 * len(arbre), 460))

        noeuds = dict(zip(arbre["code"], arbre["intitule"].str.strip()))
        choix = st.selectbox("Voir les engagements de", list(noeuds), format_func=noeuds.get, key=f"noeud-{p['code']}")
        eng = ui.lire(requetes.engagements, p["code"], choix)
        ui.tableau(eng, {"code": "Code", "libelle": "Engagement", "porteurs_noms": "Porteurs", "levier": "Levier",
                         "echeance": "Échéance"}, larges=("libelle", "porteurs_noms"))

        st.header("Signataires et partenaires")
        sig = ui.lire(requetes.signataires, p["code"])
        sig["signe_txt"] = sig["signe"].map({True: "oui", False: "non"})
        ui.tableau(sig, {"libelle": "Nom", "categorie": "Catégorie", "rattache_a": "Rattaché à",
                         "signe_txt": "Signe le protocole", "nb_engagements": "Engagements portés",
                         "nb_indicateurs": "Indicateurs déclarés"}, larges=("libelle",))

        st.header("Territoire")
        per = ui.lire(requetes.perimetres, p["code"])
        g, d = st.columns([1, 2])
        with g:
            st.markdown("**Communes**")
            ui.tableau(per[per["niveau"] == "Commune"], {"code": "Code INSEE", "libelle": "Commune"})
        with d:
            st.markdown("**Quartiers prioritaires et territoires de veille active**")
            ui.tableau(per[per["niveau"] == "QPV"], {"code": "Code", "libelle": "Quartier", "type": "Type",
                                                     "communes_noms": "Communes"}, larges=("libelle",))
