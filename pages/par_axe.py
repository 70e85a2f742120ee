"""Par axe : descendre dans l'arborescence du protocole, avec l'avancement, les indicateurs et les engagements de chaque
nœud."""
from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from perr_metrics import ui
from perr_metrics.referentiel import requetes
from perr_metrics.pilotage import vues
from perr_metrics.commun.formats import format_pourcent

ui.garde_page("consulter_pilotage")
st.title("Avancement par axe")

with ui.protections():
    p = ui.entete_protocole()
    if p is not None:
        code = p["code"]
        g, d = st.columns([1, 3])
        with g:
            periode = ui.choisir_periode(p, semestres=True)
        arbre = vues.arbre_avancement(ui.store(), code, periode, lire=ui.lire)
        if arbre.empty:
            st.info("Ce protocole n'a pas d'arborescence d'axes (feuille « Axes » du référentiel).")
            st.stop()
        with d:
            noeud = ui.choisir_noeud(arbre)
        fil = vues.fil_d_ariane(arbre, noeud)
        with st.container(horizontal=True, vertical_alignment="center", gap="small", key="fil-d-ariane"):
            st.button("Tout le protocole", key="fil-racine", type="tertiary", icon=":material/home:",
                      on_click=ui.aller_au_noeud, args=("",), disabled=not noeud)
            for r in fil.itertuples():
                st.markdown("›")
                st.button(f"{r.code} — {ui.abreger(r.libelle, 40)}", key=f"fil-{r.code}",
                          type="tertiary", on_click=ui.aller_au_noeud, args=(r.code,), disabled=r.code == noeud)

        if noeud:
            ici = fil.iloc[-1]
            st.header(f"{ici['niveau']} {ici['code']} — {ici['libelle']}")
            if isinstance(ici.get("texte"), str) and ici["texte"]:
                st.markdown(ui.echapper(ici["texte"]))   # l'objectif stratégique, l'enjeu : le texte du protocole
            n = {s: int(ici[c]) for s, c in vues.COLONNES_STATUT.items()}
            score, nb_eng = ici["score"], int(ici["nb_engagements"])
        else:
            syn = vues.synthese(ui.store(), code, periode, lire=ui.lire)
            st.header(p["libelle"])
            n, score, nb_eng = dict(zip(syn.statuts["statut"], syn.statuts["nombre"])), syn.score, p["nb_engagements"]
        c = st.columns(5)
        c[0].metric("Score d'avancement", format_pourcent(score, 0),
                    help="Part des indicateurs atteints ou en bonne voie parmi ceux que l'on peut juger.")
        c[1].metric("Atteints ou en bonne voie", f"{n['atteint'] + n['en bonne voie']} sur "
                                                  f"{n['atteint'] + n['en bonne voie'] + n['en retard']}")
        c[2].metric("En retard", n["en retard"])
        c[3].metric("Non renseignés", n["non renseigné"])
        c[4].metric("Engagements", nb_eng)

        enf = vues.enfants(arbre, noeud)
        if enf.empty:
            st.caption("Ce nœud n'a pas de subdivision.")
        else:
            st.subheader(f"Subdivisions ({len(enf)})")
            long = vues.statuts_en_long(enf)
            if not long.empty:
                long["noeud"] = [f"{c} — {ui.abreger(l)}" for c, l in zip(long["code"], long["libelle"])]
                fig = ui.barres_empilees(long, "noeud", "statut", ui.COULEURS_STATUT, "Indicateurs")
                ui.graphique(fig, long[["code", "libelle", "statut", "nombre"]].rename(columns={
                    "code": "Code", "libelle": "Libellé", "statut": "Statut", "nombre": "Indicateurs"}),
                    f"subdivisions-{code}-{noeud or 'protocole'}-{periode}")
            st.caption("Cliquez sur une ligne pour descendre dans ce nœud. Le graphique omet les subdivisions qu'aucun "
                       "indicateur ne mesure.")
            cle = f"enfants-{noeud or 'racine'}"
            ui.tableau_liens(enf.assign(score_txt=enf["score"].map(lambda s: format_pourcent(s, 0)),
                                        libelle=enf["libelle"].map(lambda x: ui.abreger(x, 70))), {
                "code": "Code", "libelle": "Libellé", "score_txt": "Score", "nb_atteint": "Atteints",
                "nb_en_bonne_voie": "En bonne voie", "nb_en_retard": "En retard", "nb_non_renseigne": "Non renseignés",
                "nb_engagements": "Engagements"}, key=cle, selection_mode="single-row",
                on_select=lambda: [ui.aller_au_noeud(enf["code"].iloc[i])
                                   for i in st.session_state[cle].selection.rows])

        ind = vues.indicateurs_du_noeud(ui.store(), code, periode, noeud or None, lire=ui.lire)
        st.subheader(f"Indicateurs ({len(ind)})")
        if ind.empty:
            st.info("Aucun indicateur ne mesure les engagements de ce nœud : son avancement ne peut pas être mesuré.")
        else:
            ind["statut"] = ind["statut"].fillna(vues.SANS_VALEUR_ENSEMBLE)
            ordre = [*vues.STATUTS, vues.SANS_VALEUR_ENSEMBLE]
            for statut, groupe in sorted(ind.groupby("statut", sort=False), key=lambda g: ordre.index(g[0])):
                with st.expander(f"{statut.capitalize()} ({len(groupe)})", expanded=statut == "en retard"):
                    for r in groupe.itertuples():
                        cible = f" · cible {ui.valeur_texte(r.cible_finale, r.unite)} en {r.annee_cible}" if pd.notna(
                            r.annee_cible) else ""
                        lien = "fiche_indicateur?" + urlencode(dict(protocole=code, periode=periode,
                                                                    indicateur=r.indicateur))
                        valeur = ui.valeur_texte(r.valeur, r.unite) or "pas de valeur"
                        st.markdown(f"**{ui.echapper(r.libelle)}** · {valeur}{cible} · [fiche]({lien})  \n"
                                    f"{ui.echapper(r.explication)} :gray[Déclaré par {ui.echapper(r.signataire_nom)}.]")
            ui.telechargements(ind[list(vues.EXPORT_INDICATEURS)].rename(columns=vues.EXPORT_INDICATEURS),
                               f"indicateurs-{code}-{noeud or 'protocole'}-{periode}")

        eng = ui.lire(vues.etats_des_engagements, code, noeud or None)
        st.subheader(f"Engagements ({len(eng)})")
        if eng.empty:
            st.info("Aucun engagement n'est rattaché à ce nœud ni à ses subdivisions.")
        else:
            # Les indicateurs par leur nom, le code à côté (la fiche et les exports les nomment par leur code).
            noms = ui.lire(requetes.indicateurs, code)
            noms = dict(zip(noms["code"], noms["libelle"]))
            indicateurs_txt = ["" if not isinstance(x, str) else " ; ".join(
                f"{noms.get(c.strip(), c.strip())} ({c.strip()})" for c in x.split(",")) for x in eng["indicateurs"]]
            ui.tableau(eng.assign(depuis=eng["date_etat"].map(lambda x: "" if pd.isna(x) else ui.date_texte(x)),
                                  indicateurs_txt=indicateurs_txt),
                       {"code": "Code", "libelle": "Engagement", "etat": "État", "depuis": "Depuis le",
                        "porteurs_noms": "Porteurs", "indicateurs_txt": "Indicateurs"},
                       larges=("libelle", "indicateurs_txt"))
