"""Vue d'ensemble : où en est le protocole à une période, pourquoi, et ce qui a changé depuis la précédente."""
import streamlit as st

from perr_metrics.depots import depot as depots
from perr_metrics import ui
from perr_metrics.pilotage import vues
from perr_metrics.commun.couleurs import COULEUR_ETAT_NON_RENSEIGNE
from perr_metrics.commun.formats import format_pourcent

COULEURS_ETATS = {**ui.COULEURS_ETAT, vues.ETATS[-1]: COULEUR_ETAT_NON_RENSEIGNE}

ui.garde_page("consulter_pilotage")
st.title("Vue d'ensemble")


with ui.protections():
    p = ui.entete_protocole()
    if p is not None:
        code = p["code"]
        periode = ui.choisir_periode(p, semestres=True)
        syn = vues.synthese(ui.store(), code, periode, lire=ui.lire)
        ch = vues.changements(ui.store(), code, periode, lire=ui.lire)
        comp = ui.lire(depots.completude, code, periode).par_signataire
        eng = ui.lire(vues.etats_des_engagements, code, None)
        n = dict(zip(syn.statuts["statut"], syn.statuts["nombre"]))
        attendus, recus = int(comp["attendus"].sum()), int(comp["recus"].sum())
        evolution = None if syn.score is None or ch.score_precedent is None else syn.score - ch.score_precedent
        c = st.columns(5)
        c[0].metric("Score d'avancement", format_pourcent(syn.score, 0), ui.points_texte(evolution) or None,
                    help="Part des indicateurs atteints ou en bonne voie parmi ceux que l'on peut juger (atteints, "
                         "en bonne voie, en retard), au territoire entier ; l'écart est celui de la période "
                         "précédente.")
        c[1].metric("Atteints ou en bonne voie", f"{n['atteint'] + n['en bonne voie']} sur {syn.nb_juges}")
        c[2].metric("Indicateurs en retard", n["en retard"])
        c[3].metric("Complétude des dépôts", format_pourcent(100 * recus / attendus if attendus else None),
                    help=f"{ui.nombre(recus)} valeurs reçues sur {ui.nombre(attendus)} attendues.")
        c[4].metric("Engagements réalisés", f"{int((eng['etat'] == 'réalisé').sum())} sur {len(eng)}")
        retard = comp[comp["statut"] != "complet"]
        if len(retard):
            st.warning(f"**{len(retard)} signataire(s) à relancer** pour {vues.libelle_periode(periode)} : "
                       + " ; ".join(f"{r.nom} ({r.recus}/{r.attendus})" for r in retard.itertuples()))
            st.page_link("pages/suivi_depots.py", label="Voir le suivi des dépôts", icon=":material/fact_check:",
                         query_params={"protocole": code, "periode": periode})

        g, d = st.columns(2)
        with g:
            st.subheader("Indicateurs par statut")
            fig = ui.barres_empilees(syn.statuts, "statut", "statut", ui.COULEURS_STATUT, "Indicateurs")
            fig.update_layout(showlegend=False)
            ui.graphique(fig, syn.statuts.rename(columns={"statut": "Statut", "nombre": "Indicateurs",
                                                           "part": "Part (%)"}), f"statuts-{code}-{periode}")
            if syn.nb_sans_valeur_ensemble:
                st.caption(f"Et {syn.nb_sans_valeur_ensemble} indicateur(s) non agrégeable(s), sans valeur "
                           "d'ensemble : ils se lisent quartier par quartier.")
        with d:
            st.subheader("Engagements par état")
            rep = vues.repartition_etats(eng)
            fig = ui.barres_empilees(rep, "etat", "etat", COULEURS_ETATS, "Engagements")
            fig.update_layout(showlegend=False)
            ui.graphique(fig, rep.rename(columns={"etat": "État", "nombre": "Engagements", "part": "Part (%)"}),
                         f"etats-{code}")
            if rep["nombre"].iloc[:-1].sum() == 0:
                st.info("Aucun état d'engagement n'a encore été saisi : tous sont « non renseigné ». Les porteurs et "
                        "la coordination les saisissent sur la page « Engagements ».")
            st.caption("Dernier état saisi de chaque engagement, quelle que soit la période choisie.")

        st.subheader("Avancement par axe")
        axes = vues.axes(vues.arbre_avancement(ui.store(), code, periode, lire=ui.lire))
        long = vues.statuts_en_long(axes)
        if long.empty:
            st.info("Aucun indicateur n'est rattaché aux axes de ce protocole.")
        else:
            long["axe"] = [f"{c} — {ui.abreger(l)}<br>score {format_pourcent(s, 0)}"
                           for c, l, s in zip(long["code"], long["libelle"], long["score"])]
            fig = ui.barres_empilees(long, "axe", "statut", ui.COULEURS_STATUT, "Indicateurs")
            ui.graphique(fig, axes[["code", "libelle", "score", "nb_juges", *vues.COLONNES_STATUT.values()]].rename(
                columns={"code": "Axe", "libelle": "Libellé", "score": "Score (%)", "nb_juges": "Jugeables",
                         **{c: s.capitalize() for s, c in vues.COLONNES_STATUT.items()}}), f"axes-{code}-{periode}")

        st.header(f"Ce qui a changé depuis {vues.libelle_periode(ch.precedente)}" if ch.precedente else
                  "Ce qui a changé")
        if ch.precedente is None:
            st.info("Première période du protocole : pas de période précédente à laquelle comparer statuts et "
                    "valeurs.")
        t1, t2, t3 = st.tabs([f"Statuts qui ont changé ({len(ch.statuts)})", "Valeurs qui ont le plus bougé",
                              f"Dépôts reçus depuis le {ui.date_texte(ch.fin_precedente)} ({len(ch.depots)})"])
        with t1:
            ui.tableau(ch.statuts, {"indicateur": "Indicateur", "libelle": "Libellé", "statut_precedent": "Avant",
                                    "statut": "Maintenant", "evolution": "Évolution"}, larges=("libelle",))
        with t2:
            v = ch.variations.head(10)
            v = v.assign(avant=[ui.valeur_texte(x, u) for x, u in zip(v["valeur_precedente"], v["unite"])],
                         apres=[ui.valeur_texte(x, u) for x, u in zip(v["valeur"], v["unite"])],
                         relative=v["variation_relative"].map(ui.pourcent_signe_texte),
                         chemin=v["ecart_progression"].map(ui.points_texte),
                         sens_txt=v["favorable"].map({True: "favorable", False: "défavorable"}))
            ui.tableau(v, {"libelle": "Indicateur", "avant": "Avant", "apres": "Maintenant",
                           "relative": "Variation", "chemin": "Part du chemin vers la cible", "sens_txt": "Sens"},
                       larges=("libelle",))
            st.caption("Classées par part du chemin référence → cible gagnée ou perdue ; à défaut de cible, par "
                       "variation relative.")
        with t3:
            dep = ch.depots.assign(quand=ch.depots["depose_le"].map(ui.date_heure_texte))
            ui.tableau(dep, {"id": "N°", "quand": "Déposé le", "signataire_nom": "Signataire", "fichier_nom": "Fichier",
                             "periodes": "Périodes", "nb_valeurs": "Valeurs", "statut": "Statut"})
