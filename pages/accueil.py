"""Accueil : la première question de chaque rôle.

- un partenaire (contributeur) : ce qui est attendu de lui et pour quand, ses dépôts à corriger avec le commentaire de la
  coordination en entier, ses dépôts en attente de revue, ses indicateurs face à leurs cibles ;
- la coordination : ce qui attend sa revue (les dépôts confirmés malgré un avertissement d'abord), puis la structure du
  protocole ;
- un membre du COPIL arrive sur la vue d'ensemble (ui.navigation) ; cette page lui montre la structure du protocole.
"""
import pandas as pd
import streamlit as st

from perr_metrics.depots import depot as depots
from perr_metrics.pilotage import partenaire
from perr_metrics.referentiel import requetes
from perr_metrics import ui
from perr_metrics.commun.formats import format_date

u = ui.garde_page("consulter_referentiel")


def espace_du_partenaire(p: dict) -> None:
    periode = ui.choisir_periode(p, "Campagne")
    e = ui.lire(partenaire.espace_partenaire, p["code"], u.signataire, periode)
    st.subheader(e.nom)

    st.header("À corriger")
    if e.a_corriger.empty:
        st.success("Aucun de vos dépôts n'est marqué « à corriger ».", icon=":material/check_circle:")
    for r in e.a_corriger.itertuples():
        quand = ui.date_heure_texte(r.revu_le) if pd.notna(r.revu_le) else ""
        st.error(f"**Dépôt n° {r.id} — {ui.echapper(r.fichier_nom)}** (période {r.periode or 'non précisée'}, déposé "
                 f"le {ui.date_heure_texte(r.depose_le)}) : marqué « à corriger »"
                 + (f" le {quand}" if quand else "") + (f" par {ui.echapper(r.revu_par)}" if isinstance(r.revu_par, str)
                                                         else "") + ".\n\n"
                 + (f"Commentaire de la coordination : {ui.echapper(r.commentaire_revue)}"
                    if isinstance(r.commentaire_revue, str) else "La coordination n'a pas laissé de commentaire."),
                 icon=":material/edit_note:")
    if len(e.a_corriger):
        st.caption("Téléchargez le modèle de la période sur la page « Déposer » : il reprend vos dernières valeurs, "
                   "les lignes à corriger surlignées ; corrigez-les, puis déposez le fichier.")
        st.page_link("pages/deposer.py", label="Corriger et déposer", icon=":material/upload_file:")

    st.header("Ce qui est attendu de vous")
    manquants = e.attendus[~e.attendus["recu"]]
    echeance = (f"avant le {format_date(e.echeance)}" if e.echeance is not None else
                "la coordination n'a pas fixé de date limite")
    c = st.columns(3)
    c[0].metric(f"Valeurs attendues ({e.periode})", e.nb_attendus)
    c[1].metric("Reçues", e.nb_recus)
    c[2].metric("Échéance", format_date(e.echeance) if e.echeance is not None else "aucune")
    if not e.nb_attendus:
        st.info(f"Rien n'est attendu de vous pour {e.periode}.")
    elif manquants.empty:
        st.success(f"Toutes vos valeurs de {e.periode} sont arrivées.", icon=":material/check_circle:")
    else:
        st.warning(f"**{len(manquants)} valeur{'s' if len(manquants) > 1 else ''} à déposer pour {e.periode}**, "
                   f"{echeance}.", icon=":material/schedule:")
        noms = ui.lire(requetes.perimetres, p["code"])
        noms = dict(zip(noms["code"], noms["libelle"]))
        vue = manquants.assign(perimetre_txt=manquants["perimetre"].map(lambda c: noms.get(c, c)))
        ui.tableau(vue, {"libelle": "Indicateur", "perimetre_txt": "Périmètre", "periode": "Période"},
                   larges=("libelle",), height=min(38 + 35 * len(vue), 320))
        st.page_link("pages/deposer.py", label="Déposer vos valeurs", icon=":material/upload_file:")
    if len(e.en_attente):
        st.caption("En attente de revue par la coordination : " + " ; ".join(
            f"dépôt n° {r.id} ({ui.echapper(r.fichier_nom)}, {ui.date_heure_texte(r.depose_le)})"
            + (" — confirmé malgré un avertissement" if r.en_attente_de_revue else "")
            for r in e.en_attente.itertuples()) + ".")

    st.header(f"Vos indicateurs face à leurs cibles — {e.periode}")
    ind = e.indicateurs
    if ind.empty:
        st.info("Ni vous ni vos services ne déclarez d'indicateur dans ce protocole.")
    else:
        vue = ind.assign(
            valeur_txt=[ui.valeur_texte(v, un) for v, un in zip(ind["valeur"], ind["unite"])],
            attendu_txt=[ui.valeur_texte(v, un) for v, un in zip(ind["attendu"], ind["unite"])],
            cible_txt=[f"{ui.valeur_texte(v, un)} en {int(a)}" if pd.notna(v) and pd.notna(a) else ""
                       for v, un, a in zip(ind["cible_finale"], ind["unite"], ind["annee_cible"])],
            statut_txt=[f"{s} — {depots.MARQUE_EN_ATTENTE}" if m else (s or "")
                        for s, m in zip(ind["statut"], ind["en_attente_de_revue"] & ind["avertissement_force"])])
        ui.tableau(vue, {"libelle": "Indicateur", "perimetre_libelle": "Périmètre", "valeur_txt": "Valeur",
                         "statut_txt": "Statut", "attendu_txt": "Attendu sur la trajectoire",
                         "cible_txt": "Cible finale", "explication": "Explication"},
                   larges=("explication",), height=min(38 + 35 * len(vue), 460))
        with st.expander("Lire chaque explication en entier"):
            for r in vue.itertuples():
                st.markdown(f"**{ui.echapper(r.libelle)}** — {ui.echapper(r.perimetre_libelle)} : "
                            f"{ui.echapper(r.explication)}")


def a_revoir(p: dict) -> None:
    """Pour la coordination : les dépôts qui attendent sa revue."""
    attente = ui.lire(depots.depots_en_attente, p["code"])
    if attente.empty:
        st.success("Aucun dépôt n'attend votre revue.", icon=":material/task_alt:")
        return
    signales = int(attente["en_attente_de_revue"].sum())
    st.warning(f"**{len(attente)} dépôt{'s' if len(attente) > 1 else ''} à revoir**"
               + (f", dont {signales} confirmé{'s' if signales > 1 else ''} malgré un avertissement (leurs valeurs "
                  "sont marquées « " + depots.MARQUE_EN_ATTENTE + " » jusqu'à votre revue)" if signales else "")
               + ".", icon=":material/rate_review:")
    vue = attente.assign(
        quand=attente["depose_le"].map(ui.date_heure_texte),
        qui=[n if isinstance(n, str) else c for n, c in zip(attente["signataire_nom"], attente["signataire"])],
        avertis=[f"{n} confirmé{'s' if n > 1 else ''}" if n else "" for n in attente["nb_avertissements"]])
    ui.tableau(vue, {"id": "N°", "qui": "Signataire", "periode": "Période", "fichier_nom": "Fichier",
                     "quand": "Déposé le", "nb_valeurs": "Valeurs", "avertis": "Avertissements"},
               larges=("qui",), height=min(38 + 35 * len(vue), 320))
    st.page_link("pages/suivi_depots.py", label="Revoir les dépôts", icon=":material/fact_check:")


with ui.protections():
    if u is not None and u.role == "contributeur":
        st.title("Votre espace partenaire")
        p = ui.entete_protocole()
        if p is not None:
            espace_du_partenaire(p)
        st.stop()
    st.title("Protocoles d'engagements renforcés et réciproques")
    p = ui.entete_protocole()
    if p is not None and u is not None and u.peut("revoir_depot"):
        st.header("À revoir")
        a_revoir(p)
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
        cadres = ui.lire(requetes.cadres_du_protocole, p["code"])
        noms_cadres = dict(zip(cadres["code"], cadres["libelle"]))
        arbre["cadres_txt"] = [" ; ".join(noms_cadres.get(c, c) for c in x.split(";")) if isinstance(x, str) else ""
                               for x in arbre["cadres"]]
        ui.tableau(arbre, {"intitule": "Axe / thématique", "niveau": "Niveau", "nb_engagements": "Engagements",
                           "nb_indicateurs": "Indicateurs", "cadres_txt": "Cadres nationaux"},
                   larges=("intitule", "cadres_txt"),
                   height=min(38 + 35 * len(arbre), 460))

        noeuds = dict(zip(arbre["code"], arbre["intitule"].str.strip()))
        choix = st.selectbox("Voir les engagements de", list(noeuds), format_func=noeuds.get, key=f"noeud-{p['code']}")
        eng = ui.lire(requetes.engagements, p["code"], choix)
        ui.tableau(eng, {"code": "Code", "libelle": "Engagement", "porteurs_noms": "Porteurs", "levier": "Levier",
                         "echeance": "Échéance"}, larges=("libelle", "porteurs_noms"))

        st.header("Signataires et partenaires")
        sig = ui.lire(requetes.signataires, p["code"])
        sig["signe_txt"] = sig["signe"].map({True: "oui", False: "non"})
        noms_sig = dict(zip(sig["code"], sig["libelle"]))
        sig["rattache_txt"] = [noms_sig.get(c, c) if isinstance(c, str) else "" for c in sig["rattache_a"]]
        ui.tableau(sig, {"libelle": "Nom", "categorie": "Catégorie", "rattache_txt": "Rattaché à",
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
