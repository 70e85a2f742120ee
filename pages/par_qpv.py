"""Par QPV : un quartier comparé aux autres et au territoire, et la carte des quartiers."""
import hashlib
import textwrap

import pandas as pd
import streamlit as st

from perr_metrics.pilotage import geo
from perr_metrics.referentiel import requetes
from perr_metrics.commun.formats import accord
from perr_metrics import ui
from perr_metrics.pilotage.avancement import STATUTS, formater
from perr_metrics.commun.erreurs import ImportRefuse

u = ui.garde_page("consulter_pilotage")
st.title("Par QPV")
with ui.protections():
    p = ui.entete_protocole()
    if p is not None:
        q, periode = ui.selection_et_periode(p, ui.choisir_qpv)
        comp = ui.lire(geo.comparaison_quartier, p["code"], periode, q) if q else pd.DataFrame()
        if q and comp.empty:
            st.info("Aucun indicateur n'est suivi par quartier dans ce protocole : voyez la vue d'ensemble.")
        elif q:
            compte = comp["statut"].value_counts()
            for col, s in zip(st.columns(len(STATUTS)), STATUTS):
                col.metric(s.capitalize(), int(compte.get(s, 0)))
            txt = lambda col: [formater(v, u) if pd.notna(v) else "" for v, u in zip(comp[col], comp["unite"])]  # noqa
            vue = comp.assign(court=comp["libelle"].map(lambda x: textwrap.shorten(x, 70, placeholder=" …")),
                              v=txt("valeur"), mini=txt("autres_min"), med=txt("autres_mediane"),
                              maxi=txt("autres_max"), ter=txt("territoire_valeur"))
            vue["autres"] = ["" if n == 0 else f"{m} (1 quartier)" if n == 1 else f"{a} – {m} – {z} ({n} quartiers)"
                             for a, m, z, n in zip(vue["mini"], vue["med"], vue["maxi"], vue["nb_autres"])]
            vue["ter"] = [f"{v} · {s}" if isinstance(s, str) else v
                          for v, s in zip(vue["ter"], vue["territoire_statut"])]
            ui.tableau(vue, {"court": "Indicateur", "v": "Ce quartier", "statut": "Statut",
                             "autres": "Autres quartiers : min – médiane – max", "ter": "Territoire : valeur · statut",
                             "explication": "Explication"}, larges=("explication",))
            st.caption("Territoire : la valeur de l'ensemble, agrégée selon la règle de l'indicateur (somme des "
                       "quartiers, taux recalculé). Les indicateurs suivis par commune ou pour le territoire entier "
                       "sont dans la vue d'ensemble.")

            # Ce que le protocole attache à ce quartier : une cité éducative, un projet de quartier, une priorité.
            attaches = ui.lire(requetes.rattachements_du_quartier, p["code"], q)
            if not attaches.empty:
                st.header("Ce que le protocole prévoit pour ce quartier")
                for r in attaches.itertuples():
                    sorte = r.nature if isinstance(r.nature, str) else ("Volet" if r.sorte == "volet" else "")
                    st.markdown(f"**{ui.echapper(sorte)} — {ui.echapper(r.libelle)}** "
                                f"({ui.echapper(accord(r.nb_engagements, 'engagement'))})")
                    if isinstance(r.texte, str) and r.texte:
                        st.caption(ui.echapper(r.texte))

            st.header("Comparer les quartiers")
            libelles = dict(zip(comp["indicateur"], comp["libelle"]))
            ind = ui._synchro("indicateur", list(libelles), libelles.get, "Indicateur")
            i = comp.set_index("indicateur").loc[ind]
            vals = ui.lire(geo.valeurs_par_quartier, p["code"], periode, ind)
            ecrire = lambda x: formater(x, i["unite"])  # noqa: E731
            reperes = {"médiane des autres quartiers": i["autres_mediane"]} if i["nb_autres"] > 1 else {}
            if i["agregation"] == "taux":
                reperes["territoire"] = i["territoire_valeur"]
            titre = textwrap.shorten(i["libelle"], 90, placeholder=" …") + f" ({i['unite']})"
            fig = geo.barres_quartiers(vals, choisi=q, titre=titre,
                                       couleurs=ui.COULEURS_STATUT, texte_valeur=ecrire, reperes=reperes)
            donnees = vals[["perimetre", "perimetre_libelle", "type", "valeur", "cible_finale", "statut",
                            "explication"]].rename(columns={
                "perimetre": "Code", "perimetre_libelle": "Quartier", "type": "Type", "valeur": "Valeur",
                "cible_finale": "Cible finale", "statut": "Statut", "explication": "Explication"})
            ui.graphique(fig, donnees, f"quartiers-{p['code']}-{ind}-{periode}", p["demonstration"])

            st.header("Carte des quartiers")
            if (message := st.session_state.pop("contours_importes", None)):
                st.success(message)
            charges = ui.lire(geo.etat_contours)
            couv = ui.lire(geo.couverture, p["code"])
            avec = int(couv["nb_avec_contour"].sum())
            if charges["nb_contours"] == 0:
                st.info("Les contours des quartiers ne sont pas encore chargés. Téléchargez le GeoJSON des contours "
                        "des QPV sur data.gouv.fr (jeu « Quartiers prioritaires de la politique de la ville », "
                        "fichier qpv-2024-geojson.zip) et importez-le ci-dessous, ou en ligne de commande : "
                        "`python -m perr_metrics qpv importer FICHIER.geojson`.")
            elif avec == 0:
                st.warning(f"Aucun quartier de ce protocole n'a de contour parmi les {ui.nombre(charges['nb_contours'])}"
                           f" chargés : le protocole suit la géographie {p['geographie']}, importez les contours de "
                           "cette géographie.")
            else:
                fc = ui.lire(geo.contours_du_protocole, p["code"])
                carte = geo.carte(fc, vals, choisi=q, titre=i["unite"], texte_valeur=ecrire,
                                  inverser=i["sens"] == "baisse")
                ui.graphique(carte, donnees, f"carte-{p['code']}-{ind}-{periode}", p["demonstration"])
                manque = couv["sans_contour"].iloc[0]
                st.caption(f"{avec} quartier{'s' if avec > 1 else ''} sur {int(couv['nb_quartiers'].sum())} sur la "
                           f"carte{f' ; sans contour officiel : {manque}' if manque else ''}. Contours : "
                           + (f"{charges['fichier_nom']}, importés le {ui.date_heure_texte(charges['importe_le'])}."
                              if charges.get("nb_importes") else f"{charges['source']}."))

        if not u.peut("administrer_referentiel") or u.portee is not None:   # les contours valent pour l'instance
            if ui.lire(geo.etat_contours)["nb_contours"] == 0:
                st.caption("Les contours des quartiers ne sont pas encore chargés : la coordination les importe.")
            st.stop()
        with st.expander("Importer les contours des quartiers", expanded=ui.lire(geo.etat_contours)["nb_contours"] == 0):
            st.caption("Le GeoJSON officiel de l'ANCT (ou son archive .zip) : une FeatureCollection dont chaque entité "
                       "porte code_qp, lib_qp et insee_com. Un nouvel import remplace les contours précédents, pour "
                       "tous les protocoles.")
            if (message := st.session_state.pop("contours_importes", None)):
                st.success(message)
            fichier = ui.televersement("Fichier des contours", ["geojson", "json", "zip"], "contours",
                                             "GeoJSON (.geojson, .json) ou archive .zip")
            if fichier is not None:
                donnees_fichier = fichier.getvalue()
                cle = ("contours", hashlib.sha256(donnees_fichier).hexdigest())
                if cle not in st.session_state:
                    try:
                        res = geo.importer_contours(ui.store(), donnees_fichier, fichier.name)
                    except ImportRefuse as exc:
                        st.session_state[cle] = exc.rapport
                    else:
                        st.session_state[cle] = True
                        ui.vider_cache()
                        ici = res.couverture[res.couverture["protocole"] == p["code"]]
                        st.session_state["contours_importes"] = (
                            f"{ui.nombre(res.nb_contours)} contours importés depuis {res.fichier_nom}"
                            + (f" ; ce protocole : {int(ici['nb_avec_contour'].sum())} quartiers sur "
                               f"{int(ici['nb_quartiers'].sum())} ont un contour." if not ici.empty else "."))
                        st.rerun()
                if st.session_state[cle] is not True:
                    st.error("Fichier des contours refusé : rien n'a été importé.")
                    ui.afficher_rapport(st.session_state[cle])
