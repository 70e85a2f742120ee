"""Les sections que demande le décret n° 2015-1118 au rapport annuel sur la mise en œuvre de la politique de la ville,
hors synthèse et axes (écrits par `contenu`) : le rappel des orientations, l'évolution de la situation des quartiers
(les indicateurs de contexte), les actions menées dans l'année, les moyens mobilisés, le début des résultats (ce qui
est en retard, et pourquoi), les perspectives et le renouvellement urbain (textes de la coordination), et l'annexe des
avis des conseils citoyens, tels que reçus.

Un indicateur se lit dans la section de sa nature (colonne « Nature » du référentiel, docs/referentiel.md) : contexte,
moyen, ou réalisation et résultat (sous leur axe, dans « Résultats »).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pandas as pd

from perr_metrics.pilotage import avancement
from perr_metrics.commun.formats import ESPACE_INSECABLE, format_date, format_nombre, format_pourcent
from perr_metrics.referentiel.requetes import SANS_PORTEUR
from .document import (COULEURS_ETATS, NON_RENSEIGNE, Paragraphe, Section, Tableau, _date, _majuscule, _pluriel,
                       _vide, accord, compte)
from .donnees import A_ACTUALISER, _Donnees, _memo
from . import sources
from . import textes
from .copil import blocs_du_texte

CONTEXTE, MOYEN = "contexte", "moyen"
NATURES_RESULTATS = ("réalisation", "résultat")
ORDRE_FINANCEMENTS = ("crédits spécifiques", "droit commun", None)


# ====================================================================================================================
# Titres (partagés avec le sommaire de l'aperçu)
# ====================================================================================================================

def titre_orientations(numero: int) -> str:
    return f"{numero}. Rappel des orientations du contrat"


def titre_situation(numero: int) -> str:
    return f"{numero}. Évolution de la situation des quartiers"


def titre_actions(numero: int, a: int) -> str:
    return f"{numero}. Actions menées en {a}"


def titre_moyens(numero: int, a: int) -> str:
    return f"{numero}. Moyens mobilisés en {a}"


def titre_resultats(numero: int, a: int) -> str:
    return f"{numero}. Résultats {a}"


def titre_perspectives(numero: int) -> str:
    return f"{numero}. Perspectives et améliorations"


def titre_renouvellement(numero: int) -> str:
    return f"{numero}. Renouvellement urbain"


def titre_annexe_avis(lettre: str) -> str:
    return f"Annexe {lettre}. Avis des conseils citoyens et des instances consultées"


def titre_avis(lettre: str, rang: int, avis) -> str:
    quand = f" ({format_date(avis.date_texte)})" if avis.date_texte else ""
    return f"{lettre}.{rang}. {avis.cle}{quand}"


# ====================================================================================================================
# Petites lectures partagées
# ====================================================================================================================

def _nature(d: _Donnees) -> dict:
    """Indicateur → sa nature (« résultat » si la base n'en dit rien)."""
    ind = d.indicateurs
    natures = ind["nature"] if "nature" in ind else [None] * len(ind)
    return _memo(d, "natures", lambda: {c: (n if isinstance(n, str) and n else "résultat")
                                        for c, n in zip(ind["code"], natures)})


def codes_de_nature(d: _Donnees, *natures: str) -> list[str]:
    nature = _nature(d)
    return [c for c in d.indicateurs["code"] if nature[c] in natures]


def _noms(d: _Donnees) -> dict:
    return _memo(d, "noms_signataires", lambda: dict(zip(d.signataires["code"], d.signataires["libelle"])))


def _evolution(v0, v1, unite) -> str:
    """« +1,2 points » pour un taux, « −4 % » pour un nombre ; « – » sans les deux valeurs."""
    if _vide(v0) or _vide(v1):
        return "–"
    if unite == "%":
        e = v1 - v0
        signe = "+" if e > 0 else "−" if e < 0 else ""
        return f"{signe}{format_nombre(abs(e))}{ESPACE_INSECABLE}{accord(abs(e), 'point')}"
    if not v0:
        return "–"
    e = 100 * (v1 - v0) / abs(v0)
    signe = "+" if e > 0 else "−" if e < 0 else ""
    return f"{signe}{format_pourcent(abs(e), 0)}"


def _ecart_points(v, autre, unite) -> str:
    if unite != "%" or _vide(v) or _vide(autre):
        return "–"
    e = v - autre
    signe = "+" if e > 0 else "−" if e < 0 else ""
    return f"{signe}{format_nombre(abs(e))}{ESPACE_INSECABLE}{accord(abs(e), 'point')}"


# ====================================================================================================================
# Rappel des orientations
# ====================================================================================================================

def section_orientations(d: _Donnees, numero: int) -> Section:
    p = d.p
    arbre = d.noeuds
    parents = dict(zip(d.arbre["code"], d.arbre["parent"]))
    n_eng: dict = {}
    for noeud in d.engagements["noeud"]:
        vus = set()
        while not _vide(noeud) and noeud not in vus:
            vus.add(noeud)
            n_eng[noeud] = n_eng.get(noeud, 0) + 1
            noeud = parents.get(noeud)
    colonnes = ["nb_atteint", "nb_en_bonne_voie", "nb_en_retard", "nb_non_renseigne", "nb_sans_cible"]
    base = int(arbre["profondeur"].min()) if len(arbre) else 1
    garde = [int(x) <= base + 1 for x in arbre["profondeur"]]
    a = arbre[garde]
    df = pd.DataFrame({
        "Axe / objectif": ["\u2003" * (int(n) - base) + f"{c} — {lib}" for n, c, lib in
                           zip(a["profondeur"], a["code"], a["libelle"])],
        "Engagements": [int(n_eng.get(c, 0)) for c in a["code"]],
        "Indicateurs": [int(sum(int(getattr(r, k)) for k in colonnes)) for r in a.itertuples()]}).reset_index(drop=True)
    axes = arbre[arbre["profondeur"] == base]
    texte = (f"Le protocole « {p['libelle']} » ({p['annee_debut']}–{p['annee_fin']}) décline le contrat de ville en "
             f"{_pluriel(len(axes), 'axe')} et {_pluriel(len(d.engagements), 'engagement')} des signataires, que "
             f"{_pluriel(len(d.indicateurs), 'indicateur')} permettent de suivre. Les axes et leurs objectifs :")
    blocs = []
    if not _vide(p.get("description")):
        blocs.append(Paragraphe(str(p["description"])))
    blocs += [Paragraphe(texte, "chapeau"),
              Tableau(df, "Les axes du protocole et leurs objectifs", "Orientations", droite=("Engagements",
                                                                                               "Indicateurs"),
                      largeurs={"Axe / objectif": 7, "Engagements": 1.3, "Indicateurs": 1.3})]
    blocs += _blocs_textes_et_volets(d, axes)
    return Section(titre_orientations(numero), 1, "orientations", blocs)


def _blocs_textes_et_volets(d: _Donnees, axes: pd.DataFrame) -> list:
    """Ce que le protocole écrit sous chaque racine (l'objectif stratégique d'une priorité, l'enjeu), dans ses mots
    (« Priorité P1 »), puis ses volets (cité éducative, annexe d'un quartier) avec les quartiers qu'ils concernent."""
    blocs = []
    for code, lib in zip(axes["code"], axes["libelle"]):
        t = d.textes_racines.get(code)
        if not _vide(t):
            blocs.append(Paragraphe(f"{d.mots_racines.get(code, 'Axe')} {code} — {lib} : {t}"))
    v = d.volets
    if v is not None and len(v):
        blocs.append(Paragraphe(
            f"Le protocole a aussi {_pluriel(len(v), 'volet', 'volets')} avec {accord(len(v), 'sa', 'leur')} "
            f"propre arborescence, dont les engagements sont suivis comme les autres (leurs racines sont parmi les "
            "axes ci-dessus) :", "chapeau"))
        blocs.append(Tableau(pd.DataFrame({
            "Volet": v["libelle"], "Nature": ["" if _vide(x) else x for x in v["nature"]],
            "Quartiers": ["tout le territoire" if _vide(x) else x for x in v["quartiers_libelles"]],
            "Engagements": v["nb_engagements"].astype("int64"),
            "Texte": ["" if _vide(x) else x for x in v["texte"]]}).reset_index(drop=True),
            "Les volets du protocole", "Volets", detail="Texte", facultatives=("Nature",), droite=("Engagements",),
            largeurs={"Volet": 4.5, "Nature": 2, "Quartiers": 3, "Engagements": 1.3}))
    return blocs


# ====================================================================================================================
# Évolution de la situation des quartiers : les indicateurs de contexte
# ====================================================================================================================

def blocs_contexte(d: _Donnees) -> list:
    """Chaque indicateur de contexte, quartier par quartier : sa valeur de l'année et de la précédente, et celle des
    autres quartiers du contrat (la même règle d'agrégation que le territoire, `avancement`)."""
    a = d.annee
    codes = codes_de_nature(d, CONTEXTE)
    if not codes:
        return [Paragraphe("Aucun indicateur de contexte (nature « contexte » dans le référentiel) : la situation des "
                           "quartiers se lit ci-dessous à travers les indicateurs de chaque quartier.", "note")]
    ev = d.evaluations[a]
    lignes_ctx = [x for x in ev.lignes_indicateurs if x.indicateur in set(codes)]
    qpv = d.perimetres[d.perimetres["niveau"] == "QPV"]
    quartiers = list(zip(qpv["code"], qpv["libelle"]))
    v1, v0 = d.valeurs.get(a, {}), d.valeurs.get(a - 1)
    libelle = dict(zip(d.indicateurs["code"], d.indicateurs["libelle"]))
    unite = dict(zip(d.indicateurs["code"], d.indicateurs["unite"]))
    niveau = dict(zip(d.indicateurs["code"], d.indicateurs["niveau"]))
    autres: dict = {}
    if len(quartiers) > 1:
        sous = replace(ev, lignes_indicateurs=[x for x in lignes_ctx if x.niveau == "QPV"])
        for q, _lib in quartiers:
            reste = [c for c, _ in quartiers if c != q]
            t = avancement._au_territoire(sous, reste)
            autres[q] = dict(zip(t["indicateur"], t["valeur"]))
    rangs = []
    for code in codes:
        lieux = quartiers if niveau[code] == "QPV" else [(d.p["code_territoire"], d.p["territoire"])] \
            if niveau[code] == "Territoire" else []
        for q, lib_q in lieux:
            x1 = v1.get((code, q))
            x0 = v0.get((code, q)) if v0 is not None else None
            if x1 is None and x0 is None:
                continue
            val1 = None if x1 is None else x1[0]
            val0 = None if x0 is None else x0[0]
            ligne = {"Indicateur": libelle[code], "Code": code, "Unité": unite[code], "Quartier": lib_q}
            if v0 is not None:
                ligne[f"Valeur {a - 1}"] = val0
            ligne[f"Valeur {a}"] = val1
            if v0 is not None:
                ligne["Sur un an"] = _evolution(val0, val1, unite[code])
            reste = autres.get(q, {}).get(code)
            ligne[f"Autres quartiers {a}"] = None if _vide(reste) else reste
            ligne["Écart aux autres quartiers"] = _ecart_points(val1, reste, unite[code])
            ligne["Source"] = sources.source(d, a, code, q)
            rangs.append(ligne)
    blocs = [Paragraphe(
        f"Les indicateurs de contexte décrivent la situation des quartiers, que le protocole ne maîtrise pas seul. "
        f"Pour chacun : la valeur de chaque quartier en {a}" + (f" et en {a - 1}" if v0 is not None else "")
        + ", et celle des autres quartiers du contrat réunis (même règle de calcul que pour le territoire : somme, ou "
          "taux recalculé) ; pour un taux, l'écart est en points. Le reste de l'intercommunalité hors quartiers "
          "demanderait la valeur de l'indicateur sur toute l'intercommunalité, que le référentiel ne recueille pas "
          "pour un indicateur déclaré par quartier.")]
    if not rangs:
        blocs.append(Paragraphe(f"Aucune valeur de contexte déposée pour {a}.", "note"))
        return blocs
    df = pd.DataFrame(rangs)
    valeurs = tuple(c for c in df.columns if c.startswith(("Valeur ", "Autres quartiers")))
    blocs.append(Tableau(
        df, f"Indicateurs de contexte par quartier en {a}", "Contexte des quartiers", unite="Unité",
        avec_unite=valeurs, masquees=("Code", "Unité"), droite=valeurs + ("Sur un an", "Écart aux autres quartiers"),
        largeurs={"Indicateur": 4.2, "Quartier": 2.4, **{c: 1.3 for c in valeurs}, "Sur un an": 1.3,
                  "Écart aux autres quartiers": 1.4, "Source": 3}))
    return blocs


# ====================================================================================================================
# Actions menées
# ====================================================================================================================

def section_actions(d: _Donnees, numero: int) -> Section:
    """Les engagements réalisés ou qui ont changé d'état dans l'année, par porteur (le premier nommé), avec leur
    commentaire."""
    a = d.annee
    eng = d.engagements
    noms = _noms(d)
    debut, fin = pd.Timestamp(dt.date(a, 1, 1)), pd.Timestamp(d.au)
    ordre_sig = {c: i for i, c in enumerate(d.signataires["code"])}
    avant_col, apres_col = f"État au 31/12/{a - 1}", f"État au {d.au:%d/%m/%Y}"
    lignes = []
    for r in eng.itertuples(index=False):
        avant = d.etats_avant.get(r.code, NON_RENSEIGNE)
        dans_l_annee = not _vide(r.date_etat) and debut <= pd.Timestamp(r.date_etat) <= fin
        if r.etat == avant and not dans_l_annee:
            continue
        porteurs = [] if _vide(r.porteurs) else r.porteurs.split(";")
        commentaire = ""
        if not _vide(r.commentaire):
            commentaire = f"« {r.commentaire} » ({r.auteur}, {_date(r.date_etat)})"
        elif not _vide(r.date_etat):
            commentaire = f"État du {_date(r.date_etat)}, sans commentaire ({r.auteur})."
        lignes.append((ordre_sig.get(porteurs[0], len(ordre_sig)) if porteurs else len(ordre_sig) + 1, {
            "Porteur": noms.get(porteurs[0], porteurs[0]) if porteurs else SANS_PORTEUR,
            "Avec": ", ".join(noms.get(c, c) for c in porteurs[1:]), "Code": r.code, "Parent": "" if _vide(r.parent) else r.parent,
            "Engagement": ("– " if not _vide(r.parent) else "") + _majuscule(r.libelle),
            avant_col: avant, apres_col: r.etat, "Depuis le": r.date_etat, "Commentaire": commentaire}))
    lignes.sort(key=lambda x: x[0])      # tri stable : l'ordre de l'arbre sous chaque porteur
    intro = (f"Les engagements réalisés, engagés, reportés ou abandonnés en {a} : ceux dont l'état au "
             f"{format_date(d.au)} diffère de celui au 31 décembre {a - 1}, ou a été mis à jour dans l'année. "
             "Ils sont classés par porteur (le premier nommé ; les autres dans la colonne « Avec »), chacun avec le "
             "dernier commentaire de son état.")
    if not lignes:
        return Section(titre_actions(numero, a), 1, "actions", [Paragraphe(intro), Paragraphe(
            f"Aucun engagement n'a changé d'état ni n'a été mis à jour en {a}.", "note")])
    df = pd.DataFrame([x[1] for x in lignes])
    comptes = df[apres_col].value_counts()
    par_porteur = df["Porteur"].value_counts(sort=False)
    resume = (f"{_pluriel(len(df), 'engagement')} en {a} : "
              + ", ".join(compte(int(comptes[e]), e) for e in
                          ("réalisé", "en cours", "non démarré", "reporté", "abandonné") if e in comptes)
              + f" au {format_date(d.au)}. Par porteur : "
              + ", ".join(f"{p} ({format_nombre(int(n))})" for p, n in par_porteur.items()) + ".")
    return Section(titre_actions(numero, a), 1, "actions", [
        Paragraphe(intro), Paragraphe(resume),
        Tableau(df, f"Engagements réalisés ou qui ont changé d'état en {a}, par porteur", "Actions menées",
                formats={"Depuis le": _date}, pastilles={avant_col: COULEURS_ETATS, apres_col: COULEURS_ETATS},
                detail="Commentaire", facultatives=("Avec", "Parent"),
                largeurs={"Porteur": 2.4, "Avec": 1.6, "Code": 0.9, "Parent": 0.9, "Engagement": 5.2,
                          avant_col: 1.6, apres_col: 1.6, "Depuis le": 1.7})])


# ====================================================================================================================
# Moyens mobilisés
# ====================================================================================================================

def section_moyens(d: _Donnees, numero: int) -> Section:
    a = d.annee
    codes = codes_de_nature(d, MOYEN)
    titre = titre_moyens(numero, a)
    modele = ("Les moyens sont les indicateurs de nature « moyen » du référentiel : les montants et les postes que les "
              "partenaires déclarent, chacun avec son financement — crédits spécifiques de la politique de la ville "
              "(programme 147, adultes-relais, FONJEP…) ou droit commun (les budgets ordinaires des partenaires "
              "mobilisés pour les quartiers). Le financeur est le signataire qui déclare l'indicateur.")
    if not codes:
        return Section(titre, 1, "moyens", [Paragraphe(modele), Paragraphe(
            "Aucun indicateur de moyens dans le référentiel de ce protocole : les montants mobilisés ne sont pas "
            "suivis ici.", "note")])
    ind = d.indicateurs.set_index("code")
    noms = _noms(d)
    v1, v0 = d.valeurs.get(a, {}), d.valeurs.get(a - 1)
    ter1 = dict(zip(d.ter[a]["indicateur"], d.ter[a]["valeur"]))
    ter0 = dict(zip(d.ter[a - 1]["indicateur"], d.ter[a - 1]["valeur"])) if a - 1 in d.ter else None
    ordre_sig = {c: i for i, c in enumerate(d.signataires["code"])}
    lignes = []
    for code in codes:
        r = ind.loc[code]
        fin = r["financement"] if "financement" in ind and isinstance(r["financement"], str) else None
        ligne = {"Financement": fin or "non précisé", "Financeur": noms.get(r["signataire"], r["signataire"]),
                 "Indicateur": r["libelle"], "Code": code, "Unité": r["unite"]}
        if ter0 is not None:
            ligne[f"Valeur {a - 1}"] = ter0.get(code)
        ligne[f"Valeur {a}"] = ter1.get(code)
        ligne["Source"] = sources.source(d, a, code)
        lignes.append(((ORDRE_FINANCEMENTS.index(fin), ordre_sig.get(r["signataire"], 0)), ligne))
    lignes.sort(key=lambda x: x[0])
    df = pd.DataFrame([x[1] for x in lignes])
    valeurs = tuple(c for c in df.columns if c.startswith("Valeur "))
    euros = [x[1] for x in lignes if x[1]["Unité"] == "€" and not _vide(x[1][f"Valeur {a}"])]
    phrases = []
    for fin in ORDRE_FINANCEMENTS:
        dans = [x for x in euros if x["Financement"] == (fin or "non précisé")]
        if dans:
            phrases.append(f"{fin or 'financement non précisé'} : {_pluriel(len(dans), 'montant déclaré', 'montants déclarés')}"
                           f" par {', '.join(dict.fromkeys(x['Financeur'] for x in dans))}")
    resume = (f"En {a}, " + " ; ".join(phrases) + ". Les montants ne sont pas additionnés : un indicateur peut en "
              "contenir un autre (un total et sa part sur un pilier)." if phrases else
              f"Aucun montant en euros déclaré pour {a}.")
    return Section(titre, 1, "moyens", [
        Paragraphe(modele), Paragraphe(resume),
        Tableau(df, f"Moyens mobilisés en {a}, par financement et par financeur", "Moyens", unite="Unité",
                avec_unite=valeurs, masquees=("Code", "Unité"), droite=valeurs,
                largeurs={"Financement": 1.8, "Financeur": 2.4, "Indicateur": 4.6, **{c: 1.5 for c in valeurs},
                          "Source": 3})])


# ====================================================================================================================
# Résultats : ce qui est en retard, et pourquoi
# ====================================================================================================================

def blocs_resultats(d: _Donnees) -> list:
    a = d.annee
    ter = d.ter[a]
    garde = set(codes_de_nature(d, *NATURES_RESULTATS))
    res = ter[ter["indicateur"].isin(garde)]
    comptes = res["statut"].value_counts()
    texte = (f"Les indicateurs de réalisation et de résultat ({format_nombre(len(res))}) en {a} : "
             + (", ".join(compte(int(comptes[s]), s) for s in avancement.STATUTS if s in comptes)
                or "aucun évalué")
             + f". Les engagements sont donnés dans leur état au {format_date(d.au)} ; un état qui n'a pas bougé "
               f"depuis plus d'un an est signalé « {A_ACTUALISER} ». Ci-dessous, les indicateurs en retard et ce que "
               "leurs partenaires en disent ; puis chaque axe.")
    blocs = [Paragraphe(texte)]
    retard = res[res["statut"] == avancement.EN_RETARD]
    if retard.empty:
        blocs.append(Paragraphe(f"Aucun indicateur de réalisation ou de résultat n'est en retard en {a}.", "note"))
        return blocs
    df = pd.DataFrame({
        "Indicateur": retard["libelle"], "Code": retard["indicateur"], "Unité": retard["unite"],
        f"Valeur {a}": retard["valeur"], "Attendu": retard["attendu"], "Cible": retard["cible_finale"],
        "Raisons données": [" ".join(sources.commentaires(d, a, c)) or "aucun commentaire du partenaire"
                            for c in retard["indicateur"]],
        "Source": [sources.source(d, a, c) for c in retard["indicateur"]]}).reset_index(drop=True)
    valeurs = (f"Valeur {a}", "Attendu", "Cible")
    blocs.append(Tableau(df, f"Indicateurs en retard en {a} et raisons données par les partenaires",
                         "Retards et raisons", unite="Unité", avec_unite=valeurs, masquees=("Code", "Unité"),
                         droite=valeurs, detail="Raisons données",
                         largeurs={"Indicateur": 5.2, **{c: 1.4 for c in valeurs}, "Source": 3.2}))
    return blocs


# ====================================================================================================================
# Perspectives, renouvellement urbain : les textes de la coordination
# ====================================================================================================================

_A_ECRIRE = {
    textes.PERSPECTIVES: "les perspectives d'évolution et les améliorations à apporter au regard des résultats obtenus "
                         "et des moyens mobilisés",
    textes.RENOUVELLEMENT: "l'avancement du projet de renouvellement urbain (NPNRU) et son articulation avec le "
                           "contrat de ville",
}


def section_texte(d: _Donnees, nature: str, titre: str, ancre: str) -> Section:
    t = d.textes.textes.get(nature)
    if t is None or not t.texte:
        return Section(titre, 1, ancre, [Paragraphe(
            f"À rédiger par la coordination : {_A_ECRIRE[nature]}. Ce texte s'écrit sur la page « Rapport annuel » "
            "et figure ensuite dans chaque rapport.", "note")])
    return Section(titre, 1, ancre, blocs_du_texte(t.texte) + [Paragraphe(
        f"Texte rédigé par {t.auteur or t.saisi_par}, le {format_date(t.saisi_le.date())} (version {t.version}).",
        "note")])


# ====================================================================================================================
# Annexe : les avis, tels que reçus
# ====================================================================================================================

def sections_avis(d: _Donnees, lettre: str) -> list[Section]:
    avis = d.textes.avis
    intro = [Paragraphe(
        "Les avis des conseils citoyens (et des conseils municipaux ou autres instances consultées) sur ce rapport, "
        "annexés tels qu'ils ont été reçus par la coordination.")]
    if not avis:
        intro.append(Paragraphe(f"Aucun avis joint pour {d.annee} à la date du rapport.", "note"))
    sections = [Section(titre_annexe_avis(lettre), 1, "avis", intro)]
    for i, t in enumerate(avis, start=1):
        note = (f"Avis rendu par {t.cle}" + (f" le {format_date(t.date_texte)}" if t.date_texte else "")
                + f" ; joint au rapport le {format_date(t.saisi_le.date())} par {t.saisi_par}.")
        if t.est_fichier:
            taille = f", {format_nombre((t.taille or 0) / 1024, 0)} Ko" if t.taille else ""
            blocs = [Paragraphe(note, "note"), Paragraphe(
                f"Avis reçu en PDF (« {t.fichier_nom} »{taille}), joint tel quel au rapport : il se télécharge sur "
                "la page « Rapport annuel » et accompagne le rapport transmis au conseil communautaire.")]
        else:
            blocs = [Paragraphe(note, "note")] + [Paragraphe(l.strip()) for l in (t.texte or "").split("\n")
                                                   if l.strip()]
        sections.append(Section(titre_avis(lettre, i, t), 2, f"avis-{i}", blocs))
    return sections
