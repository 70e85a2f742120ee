"""Accueil : choisir un protocole et comprendre sa structure en une minute."""
import plotly.express as px
import streamlit as st

from perr_metrics import requetes, ui

st.title("Protocoles d'engagements renforcés et réciproques")
with ui.protections():
    p = ui.choisir_protocole()
    if p is not None:
        ui.bandeau_demonstration(p)
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
            st.markdown(p["description"])

        st.header("Structure du protocole")
        arbre = ui.lire(requetes.arbre, p["code"])
        gauche, droite = st.columns([3, 2])
        with gauche:
            arbre["intitule"] = [("\u2003" * (n - 1)) + f"{code} — {lib}" for n, code, lib in
                                 zip(arbre["profondeur"], arbre["code"], arbre["libelle"])]
            ui.tableau(arbre, {"intitule": "Axe / thématique", "niveau": "Niveau", "nb_engagements": "Engagements",
                               "nb_indicateurs": "Indicateurs", "cadres": "Cadres nationaux"}, height=420)
        with droite:
            fig = px.sunburst(arbre, ids="code", parents=arbre["parent"].fillna(""), names="libelle",
                              values="nb_engagements", branchvalues="total",
                              color_discrete_sequence=px.colors.qualitative.Safe)
            fig.update_traces(hovertemplate="%{label}<br>%{value} engagements<extra></extra>")
            fig.update_layout(margin=dict(t=10, b=10, l=10, r=10), height=420)
            st.plotly_chart(fig, config={"displaylogo": False, "locale": "fr"})

        noeuds = dict(zip(arbre["code"], arbre["intitule"].str.strip()))
        choix = st.selectbox("Voir les engagements de", list(noeuds), format_func=noeuds.get, key="noeud")
        eng = ui.lire(requetes.engagements, p["code"], choix)
        ui.tableau(eng, {"code": "Code", "libelle": "Engagement", "porteurs_noms": "Porteurs", "levier": "Levier",
                         "echeance": "Échéance"})

        st.header("Signataires et partenaires")
        sig = ui.lire(requetes.signataires, p["code"])
        sig["signe_txt"] = sig["signe"].map({True: "oui", False: "non"})
        ui.tableau(sig, {"libelle": "Nom", "categorie": "Catégorie", "rattache_a": "Rattaché à",
                         "signe_txt": "Signe le protocole", "nb_engagements": "Engagements portés",
                         "nb_indicateurs": "Indicateurs déclarés"})

        st.header("Territoire")
        per = ui.lire(requetes.perimetres, p["code"])
        g, d = st.columns(2)
        with g:
            st.markdown("**Communes**")
            ui.tableau(per[per["niveau"] == "Commune"], {"code": "Code INSEE", "libelle": "Commune"})
        with d:
            st.markdown("**Quartiers prioritaires et territoires de veille active**")
            ui.tableau(per[per["niveau"] == "QPV"], {"code": "Code", "libelle": "Quartier", "type": "Type",
                                                     "communes_noms": "Communes"})
