"""Rapport annuel d'évaluation : le document du COPIL et du conseil communautaire (décret n° 2015-1118), tiré de la
base, en PDF, Word et Excel ; les textes que la coordination y écrit et les avis qu'elle y joint."""
import datetime as dt

import streamlit as st

from perr_metrics import rapport
from perr_metrics import ui
from perr_metrics.commun.formats import format_nombre, format_pourcent

ui.garde_page("consulter_pilotage")
st.title("Rapport annuel d'évaluation")
st.markdown("Le rapport que l'on remet au comité de pilotage et au conseil communautaire, établi à partir des valeurs "
            "déposées, sans ressaisie, dans l'ordre du décret n° 2015-1118 : synthèse pour le COPIL, rappel des "
            "orientations, évolution de la situation des quartiers, actions menées, moyens mobilisés, résultats par "
            "axe, perspectives, renouvellement urbain, avis des conseils citoyens, signataires et méthode. Le même "
            "contenu en PDF (à diffuser), en Word (à compléter) et en Excel (un onglet par tableau).")

with ui.protections():
    p = ui.entete_protocole()
    if p is not None:
        annee = ui.choisir_periode(p, "Année évaluée")
        a = int(annee)
        fin = min(dt.date(a, 12, 31), dt.date.today())
        au = st.date_input("État des engagements au", value=fin, key=f"rapport_au_{a}", format="DD/MM/YYYY",
                           help="Par défaut le 31 décembre de l'année évaluée : le rapport d'une année, refait plus tard, "
                                "donne alors les mêmes états. Ligne de commande : rapport … --au AAAA-MM-JJ.")
        # L'aperçu seulement (chiffres, début de la synthèse, sommaire) : le contenu entier du rapport n'est construit
        # que pour en préparer les fichiers.
        ap = ui.lire(rapport.apercu, p["code"], annee, au)
        c = ap.chiffres
        jugeables = sum(c["statuts"][s] for s in ("atteint", "en bonne voie", "en retard"))
        bons = c["statuts"]["atteint"] + c["statuts"]["en bonne voie"]
        attendus, recus = c["valeurs_attendues"], c["valeurs_recues"]

        st.subheader(f"Aperçu de la synthèse {annee}")
        m = st.columns(5)
        m[0].metric("Indicateurs suivis", format_nombre(c["indicateurs"]))
        m[1].metric("Atteints ou en bonne voie", format_nombre(bons),
                    help=f"{format_pourcent(100 * bons / jugeables if jugeables else None, 0)} des indicateurs jugeables")
        m[2].metric("En retard", format_nombre(c["statuts"]["en retard"]))
        m[3].metric("Valeurs reçues", format_pourcent(100 * recus / attendus if attendus else None, 0),
                    help=f"{format_nombre(recus)} valeurs reçues sur {format_nombre(attendus)} attendues")
        m[4].metric("Engagements réalisés", f"{format_nombre(c['etats']['réalisé'])} sur "
                                            f"{format_nombre(c['engagements'])}")
        for bloc in ap.synthese:
            if isinstance(bloc, rapport.Paragraphe) and bloc.style == "normal":
                st.markdown(bloc.texte)
        with st.expander("Sommaire du rapport"):
            st.markdown("\n".join(("  " * (niveau - 1)) + f"- {titre}" for niveau, titre in ap.sommaire))

        st.subheader("Télécharger le rapport")
        cle = ("rapport", p["code"], annee, au, ui.signature_base())
        if st.button("Préparer le rapport (PDF, Word et Excel)", type="primary", icon=":material/description:"):
            with st.spinner("Préparation du rapport : graphiques, PDF, Word et Excel… (quelques secondes à une "
                            "minute pour un gros protocole)"):
                r = ui.lire(rapport.construire_rapport, p["code"], annee, au)
                contenus, erreurs = rapport.fichiers(r)
                st.session_state["rapport"] = dict(cle=cle, fichiers=contenus, erreurs=erreurs,
                                                   sans_images=r.images_indisponibles)
        prets = st.session_state.get("rapport")
        prets = prets if prets and prets["cle"] == cle else dict(fichiers={}, erreurs={}, sans_images=None)
        fichiers = prets["fichiers"]
        for message in prets["erreurs"].values():
            st.error(message)
        if fichiers and prets["sans_images"]:
            st.warning(f"Graphiques remplacés par un encadré dans le PDF et le document Word : {prets['sans_images']}.")
        colonnes = st.columns(3)
        for col, (fmt, libelle) in zip(colonnes, (("pdf", "PDF"), ("docx", "Word"), ("xlsx", "Excel"))):
            donnees = fichiers.get(fmt)
            taille = f" ({format_nombre(len(donnees) / 1024, 0)} Ko)" if donnees else ""
            col.download_button(f"{libelle}{taille}", donnees or b"", f"{ap.nom_fichier}.{fmt}", rapport.TYPES_MIME[fmt],
                                key=f"telecharger-{fmt}", disabled=donnees is None, icon=":material/download:",
                                help=None if donnees else "Préparez d'abord le rapport.", width="stretch")

        # ------------------------------------------------------------------------------------------------------------
        # Les textes de la coordination et les avis joints : écrits par l'administrateur, lus par tous les lecteurs
        # du rapport ; chaque enregistrement est une nouvelle version (historique ci-dessous).
        # ------------------------------------------------------------------------------------------------------------
        st.subheader("Textes de la coordination et avis joints")
        u = ui.utilisateur()
        peut_ecrire = u is not None and u.peut("rediger_rapport")
        tx = ui.lire(rapport.textes_du_rapport, p["code"], a)
        st.markdown("Le rapport reprend la dernière version de chaque texte. Une ligne par paragraphe ; une ligne qui "
                    "commence par « - » est un élément de liste. Sans synthèse enregistrée, le rapport écrit celle "
                    "qu'il tire des données ; sans perspectives ni texte sur le renouvellement urbain, il dit qu'ils "
                    "restent à rédiger.")
        for nature in rapport.TEXTES:
            t = tx.textes.get(nature)
            etat = (f"version {t.version}, par {t.saisi_par} le {ui.date_heure_texte(t.saisi_le)}" if t
                    else "tirée des données" if nature == rapport.SYNTHESE else "pas encore rédigé")
            with st.expander(f"{rapport.LIBELLES_TEXTES[nature]} ({etat})", expanded=peut_ecrire and t is None):
                if not peut_ecrire:
                    st.markdown(ui.echapper(t.texte) if t else "_La coordination n'a rien enregistré pour cette "
                                                             "année._")
                    continue
                cle_texte = f"texte_{nature}_{p['code']}_{a}"
                if nature == rapport.SYNTHESE and st.button("Partir de la synthèse tirée des données",
                                                             key=f"proposer_{p['code']}_{a}",
                                                             icon=":material/auto_awesome:"):
                    st.session_state[cle_texte] = ui.lire(rapport.synthese_proposee, p["code"], annee, au)
                if cle_texte not in st.session_state:
                    st.session_state[cle_texte] = t.texte if t else ""
                with st.form(f"form_{cle_texte}"):
                    texte = st.text_area(rapport.LIBELLES_TEXTES[nature], key=cle_texte, height=300)
                    if st.form_submit_button("Enregistrer", type="primary", key=f"enregistrer_{cle_texte}"):
                        version = rapport.enregistrer_texte(ui.store(), p["code"], a, nature, texte)
                        ui.vider_cache()
                        st.success(f"{rapport.LIBELLES_TEXTES[nature]} enregistrée (version {version})"
                                   if nature == rapport.SYNTHESE else
                                   f"{rapport.LIBELLES_TEXTES[nature]} : version {version} enregistrée.")

        st.markdown("**Avis des conseils citoyens et des instances consultées**, annexés au rapport tels que reçus.")
        tx = ui.lire(rapport.textes_du_rapport, p["code"], a)
        if not tx.avis:
            st.caption(f"Aucun avis joint pour {a}.")
        for t in tx.avis:
            c1, c2 = st.columns([4, 1])
            quand = ui.date_texte(t.date_texte) if t.date_texte else "date non précisée"
            c1.markdown(f"**{ui.echapper(t.cle)}** — avis du {quand}, joint par {ui.echapper(t.saisi_par)} "
                        f"(version {t.version})" + (f" : PDF « {ui.echapper(t.fichier_nom)} »" if t.est_fichier else ""))
            if t.est_fichier:
                nom, octets = rapport.fichier_avis(ui.store(), p["code"], t.id)
                c2.download_button("PDF", octets, nom, "application/pdf", key=f"avis_pdf_{t.id}",
                                   icon=":material/download:")
            elif t.texte:
                c1.caption(ui.echapper(t.texte[:300] + ("…" if len(t.texte) > 300 else "")))
            if peut_ecrire and c2.button("Retirer", key=f"retirer_avis_{t.id}", icon=":material/delete:"):
                rapport.retirer_avis(ui.store(), p["code"], a, t.cle)
                ui.vider_cache()
                st.rerun()
        if peut_ecrire:
            with st.form(f"avis_{p['code']}_{a}", clear_on_submit=True):
                st.markdown("Joindre un avis")
                auteur = st.text_input("Instance qui rend l'avis", placeholder="Conseil citoyen des Chartreux",
                                       key="avis_auteur")
                date_avis = st.date_input("Date de l'avis", value=dt.date.today(), format="DD/MM/YYYY",
                                          key="avis_date")
                texte_avis = st.text_area("Texte de l'avis (tel que reçu)", key="avis_texte", height=150)
                pdf = st.file_uploader("… ou l'avis en PDF", type=["pdf"], key="avis_pdf")
                if st.form_submit_button("Joindre l'avis", key="joindre_avis"):
                    try:
                        version = rapport.joindre_avis(
                            ui.store(), p["code"], a, auteur, date_avis, texte=None if pdf else texte_avis,
                            fichier=pdf.getvalue() if pdf else None, fichier_nom=pdf.name if pdf else None)
                    except ValueError as exc:
                        st.error(str(exc))
                    else:
                        ui.vider_cache()
                        st.success(f"Avis de {auteur.strip()} joint au rapport {a} (version {version}).")

        historique = ui.lire(rapport.historique_textes, p["code"], a)
        if len(historique):
            with st.expander(f"Historique des textes et des avis {a} ({len(historique)} versions)"):
                ui.tableau(historique.assign(
                    quoi=[("Avis : " + c) if n == rapport.AVIS else rapport.LIBELLES_TEXTES.get(n, n)
                          for n, c in zip(historique["nature"], historique["cle"])],
                    contenu=[(f"PDF « {f} »" if isinstance(f, str) else
                              ((t[:120] + "…") if isinstance(t, str) and len(t) > 120 else t) if isinstance(t, str)
                              else "(retiré)") for t, f in zip(historique["texte"], historique["fichier_nom"])]),
                    {"quoi": "Texte ou avis", "version": "Version", "contenu": "Contenu", "saisi_par": "Par",
                     "saisi_le": "Le"}, larges=("contenu",))
