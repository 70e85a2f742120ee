"""Fiche indicateur : ce qu'il mesure, sa trajectoire d'année en année, sa valeur par quartier, et d'où vient chaque
chiffre (dépôt, fichier, partenaire, date, cellule)."""
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from perr_metrics.depots import depot as depots
from perr_metrics.referentiel import requetes
from perr_metrics import ui
from perr_metrics.pilotage import vues

AUCUN, TOUS = "aucun", "tous"
MARQUE = depots.MARQUE_EN_ATTENTE
SENS = {"hausse": "à la hausse", "baisse": "à la baisse"}
NIVEAUX = {"QPV": "quartier", "Commune": "commune", "Territoire": "territoire"}

ui.garde_page("consulter_pilotage")
st.title("Fiche indicateur")


def graphique_serie(serie, quartiers, unite):
    """La trajectoire attendue, des périmètres au choix (traits fins), et le territoire par-dessus (points aux couleurs
    de son statut)."""
    fig, t, traj = go.Figure(), serie.territoire, serie.trajectoire
    if len(traj):
        fig.add_scatter(x=traj["annee"], y=traj["valeur"], mode="lines", name="Trajectoire attendue",
                        line=dict(color="#000000", dash="dash", width=1.5))
        for nature, symbole in (("référence", "diamond"), ("cible", "star")):
            pts = traj[traj["nature"].str.startswith(nature)]
            fig.add_scatter(x=pts["annee"], y=pts["valeur"], mode="markers", name=nature.capitalize(),
                            marker=dict(symbol=symbole, size=13, color="#000000" if nature == "référence" else
                                        "#E69F00", line=dict(color="#000000", width=1)), text=pts["nature"],
                            hovertemplate="%{text} %{x} : %{y}<extra></extra>")
    couleurs = ui.PALETTE[1:]   # le bleu de la palette est celui du territoire
    for i, (libelle, g) in enumerate(quartiers.groupby("perimetre_libelle", sort=False)):
        fig.add_scatter(x=g["instant"], y=g["valeur"], mode="lines+markers", name=libelle, opacity=0.8,
                        line=dict(color=couleurs[i % len(couleurs)], width=1.5,
                                  dash=("solid", "dot", "dashdot")[i // len(couleurs) % 3]))
    if t["valeur"].notna().any():
        fig.add_scatter(x=t["instant"], y=t["valeur"], mode="lines+markers", name="Territoire",
                        line=dict(color=ui.PALETTE[0], width=3), customdata=t[["statut", "explication"]].fillna(""),
                        marker=dict(size=12, color=[ui.COULEURS_STATUT.get(s, "#FFFFFF") for s in t["statut"]],
                                    line=dict(color=ui.PALETTE[0], width=2)),
                        hovertemplate="%{y} : %{customdata[0]}<br>%{customdata[1]}<extra>Territoire</extra>")
    # Les valeurs confirmées malgré un avertissement, que la coordination n'a pas encore revues : cerclées.
    marquees = t[t["valeur"].notna() & t["en_attente_de_revue"].fillna(False).astype(bool)] \
        if "en_attente_de_revue" in t else t.iloc[0:0]
    if len(marquees):
        fig.add_scatter(x=marquees["instant"], y=marquees["valeur"], mode="markers", name=MARQUE.capitalize(),
                        marker=dict(symbol="circle-open", size=24, color="#D55E00", line=dict(width=3)),
                        hovertemplate="%{y} : " + MARQUE + "<extra></extra>")
    instants = sorted(set(t["instant"]) | set(traj["annee"].astype(float)) | set(quartiers["instant"]))
    fig.update_traces(showlegend=True)
    fig.update_layout(height=430, margin=dict(t=10, b=10, l=10, r=10), legend=dict(orientation="h", y=-0.15),
                      yaxis_title=unite, hovermode="closest",
                      xaxis=dict(tickvals=instants, ticktext=[vues.libelle_instant(x, serie) for x in instants]))
    return fig


with ui.protections():
    p = ui.choisir_protocole()
    ind = ui.choisir_indicateur(p) if p is not None else None
    if ind is not None:
        code, ci = p["code"], ind["code"]
        ui.bandeau_demonstration(p)
        periode = ui.choisir_periode(p, semestres=ind["periodicite"] == "semestrielle")
        fiche_complete = vues.fiche_indicateur(ui.store(), code, ci, lire=ui.lire)
        fiche = fiche_complete.indicateur
        st.header(fiche["libelle"])
        if fiche["definition"]:
            st.markdown(ui.echapper(fiche["definition"]))
        composantes = (f" : 100 × {fiche['numerateur_libelle']} ({fiche['numerateur']}) / "
                       f"{fiche['denominateur_libelle']} ({fiche['denominateur']})" if fiche["numerateur"] else "")
        st.caption(f"Code {ci} · unité : {fiche['unite']} · évolution souhaitée {SENS.get(fiche['sens'], '')} · "
                   f"périodicité {fiche['periodicite']} · déclaré par {NIVEAUX.get(fiche['niveau'], '')} · "
                   f"agrégation : {fiche['agregation']}{composantes} · source : {fiche['source'] or 'non précisée'} · "
                   f"déposé par {fiche['signataire_nom']} ({fiche['signataire']})")

        sit = vues.situation(ui.store(), code, periode, ci, lire=ui.lire)
        t = sit.territoire or {}
        u = fiche["unite"]
        c = st.columns(4)
        signalee = bool(t.get("en_attente_de_revue")) and t.get("valeur") is not None and pd.notna(t.get("valeur"))
        c[0].metric(f"Valeur {vues.libelle_periode(periode)}" + (" ⚠ en attente de revue" if signalee else ""),
                    ui.valeur_texte(t.get("valeur"), u) or "–",
                    help=f"Valeur {MARQUE} : la coordination n'a pas encore revu le dépôt." if signalee else None)
        c[1].metric("Statut", t.get("statut") or "–", help="Sans valeur d'ensemble : indicateur non agrégeable, "
                    "qui se lit périmètre par périmètre." if not t.get("statut") else None)
        c[2].metric("Attendu sur la trajectoire", ui.valeur_texte(t.get("attendu"), u) or "–")
        a_cible = pd.notna(t.get("annee_cible"))
        c[3].metric(f"Cible finale ({t['annee_cible']})" if a_cible else "Cible finale",
                    ui.valeur_texte(t["cible_finale"], u) if a_cible else "aucune")
        if signalee:
            st.warning(f"**Valeur {MARQUE}.** " + ("Elle" if t.get("avertissement_force") else "Elle comprend des "
                       "valeurs d'un dépôt qui") + " a été confirmée par le partenaire malgré un avertissement de "
                       "vraisemblance ; la coordination ne l'a pas encore revue. Le statut affiché peut changer après "
                       "la revue : voir « D'où viennent les chiffres » ci-dessous.", icon=":material/warning:")
        if t.get("explication"):
            st.info(t["explication"], icon=":material/lightbulb:")

        st.subheader("Engagements mesurés")
        eng = fiche_complete.engagements
        if eng.empty:
            st.caption("Cet indicateur ne mesure aucun engagement du protocole.")
        else:
            ui.tableau(eng, {"code": "Code", "libelle": "Engagement", "porteurs_noms": "Porteurs", "etat": "État"},
                       larges=("libelle",))

        st.subheader("D'une période à l'autre")
        per = ui.lire(requetes.perimetres, code)
        per = per[(per["niveau"] == fiche["niveau"]) & (per["niveau"] != "Territoire")]
        noms = dict(zip(per["code"], per["libelle"]))
        defaut = TOUS if fiche["agregation"] == "non agrégeable" and fiche["niveau"] != "Territoire" else AUCUN
        if st.session_state.setdefault("fiche_de", ci) != ci:     # autre indicateur : autres périmètres, autre défaut
            st.session_state["fiche_de"] = ci
            st.session_state["qpv_demande"] = defaut
        choix = ui.selecteur_pilote("qpv", [AUCUN, TOUS, *noms], {AUCUN: "Territoire seul", TOUS: "Tous les "
                                    "périmètres", **noms}.get, "Détail par périmètre", defaut)
        serie = vues.serie_indicateur(ui.store(), code, ci, lire=ui.lire, par_perimetre=choix != AUCUN)
        autres = serie.perimetres[serie.perimetres["niveau"] != "Territoire"]
        quartiers = autres if choix == TOUS else autres[autres["perimetre"] == choix]
        if serie.territoire["valeur"].isna().all() and quartiers["valeur"].isna().all() and serie.trajectoire.empty:
            st.info("Aucune valeur déposée et aucune cible fixée pour cet indicateur : rien à tracer.")
        else:
            ui.graphique(graphique_serie(serie, quartiers, u), vues.serie_en_tableau(serie, quartiers),
                         f"serie-{code}-{ci}", demonstration=bool(p["demonstration"]))
            if serie.trajectoire.empty:
                st.caption("Indicateur non agrégeable : pas de trajectoire d'ensemble, chaque périmètre a la sienne."
                           if fiche["agregation"] == "non agrégeable" and fiche["niveau"] != "Territoire" else
                           "Pas de cible fixée pour le territoire : pas de trajectoire à tracer.")
        st.subheader(f"Par périmètre — {vues.libelle_periode(periode)}")
        per = sit.perimetres
        per = per.assign(nom=per["perimetre_libelle"].map(lambda x: ui.abreger(x, 40)))
        if per["valeur"].isna().all():
            st.info(f"Aucune valeur par périmètre pour {vues.libelle_periode(periode)}.")
        else:
            fig = go.Figure()
            for statut, g in per.groupby("statut", sort=False):
                fig.add_bar(x=g["valeur"], y=g["nom"], orientation="h", name=statut,
                            marker_color=ui.COULEURS_STATUT[statut],
                            text=[ui.valeur_texte(v, u) + (" ⚠" if m and f else "") for v, m, f in
                                  zip(g["valeur"], g["en_attente_de_revue"].fillna(False),
                                      g["avertissement_force"].fillna(False))],
                            customdata=g["explication"], hovertemplate="%{customdata}<extra></extra>")
            fig.add_scatter(x=per["attendu"], y=per["nom"], mode="markers", name="Valeur attendue",
                            marker=dict(symbol="line-ns", size=22, line=dict(width=3, color="#000000")))
            fig.update_layout(height=140 + 34 * len(per), margin=dict(t=10, b=10, l=10, r=10), barmode="overlay",
                              yaxis=dict(categoryorder="array", categoryarray=list(per["nom"])[::-1]),
                              legend=dict(orientation="h", y=1.02, yanchor="bottom"), xaxis_title=u)
            ui.graphique(fig, vues.perimetres_en_tableau(per), f"perimetres-{code}-{ci}-{periode}",
                         demonstration=bool(p["demonstration"]))

        st.subheader("D'où viennent les chiffres")
        prov = ui.lire(vues.provenance, code, ci)
        if not st.toggle("Toutes les périodes", key="toutes_periodes"):
            prov = prov[prov["periode"].str.startswith(periode) if len(periode) == 4 else prov["periode"] == periode]
        if prov.empty:
            st.info("Aucune valeur déposée pour cet indicateur" + ("." if st.session_state.get("toutes_periodes") else
                                                                    f" en {vues.libelle_periode(periode)}."))
        else:
            vue = prov.assign(valeur_txt=[ui.valeur_texte(v, u) + (" ⚠" if m == MARQUE else "")
                                          for v, m in zip(prov["valeur"], prov["marque"])],
                              quand=prov["depose_le"].map(ui.date_heure_texte),
                              alerte=prov["avertissement"].fillna(""))
            if (prov["marque"] != "").any():
                st.warning(f"⚠ : valeur {MARQUE}. La colonne « Revue » marque aussi les autres valeurs de son dépôt ; "
                           "« Avertissement confirmé » donne l'avertissement.", icon=":material/warning:")
            # Le commentaire du partenaire tout de suite après la valeur et son sort (il était hors de l'écran).
            ui.tableau(vue, {"periode": "Période", "perimetre_libelle": "Périmètre", "valeur_txt": "Valeur",
                             "sort": "Sort", "marque": "Revue", "commentaire": "Commentaire",
                             "alerte": "Avertissement confirmé", "depot_id": "Dépôt n°", "cellule": "Cellule",
                             "signataire_nom": "Signataire", "utilisateur": "Déposé par", "quand": "Déposé le",
                             "fichier_nom": "Fichier"}, larges=("marque", "commentaire", "alerte"))
            longs = vue[(vue["commentaire"].fillna("") != "") | (vue["alerte"] != "")]
            if len(longs):
                with st.expander("Lire les commentaires et les avertissements en entier"):
                    for r in longs.itertuples():
                        st.markdown(f"**{r.periode} — {ui.echapper(r.perimetre_libelle)}** (dépôt n° {r.depot_id}, "
                                    f"{r.sort}) : " + " ".join(x for x in (
                                        f"commentaire : {ui.echapper(r.commentaire)}."
                                        if isinstance(r.commentaire, str) and r.commentaire else "",
                                        f"Avertissement confirmé : {ui.echapper(r.alerte)}" if r.alerte else "") if x))
            ids = list(dict.fromkeys(prov["depot_id"]))
            fichiers = dict(zip(prov["depot_id"], prov["fichier_nom"]))
            g, d = st.columns([3, 1], vertical_alignment="bottom")
            choisi = g.selectbox("Fichier d'origine", ids, format_func=lambda i: f"dépôt n° {i} — {fichiers[i]}",
                                 key="depot_fiche")
            nom, octets = ui.lire(depots.fichier_du_depot, int(choisi))
            d.download_button("Télécharger le fichier", octets, nom, key="telecharger_fiche",
                              icon=":material/download:")
        st.caption("La valeur qui fait foi est celle du dépôt le plus récent parmi ceux qui comptent (selon le "
                   f"protocole : valeurs prises en compte {p.get('valeurs_retenues') or 'dès réception'}, jamais un "
                   "dépôt marqué « à corriger ») ; les autres restent ici, avec leur fichier.")
