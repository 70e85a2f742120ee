"""Ce que dit le rapport : `construire_rapport` → `Rapport`, et son aperçu (`apercu` → `Apercu`).

Dans l'ordre du rapport : la synthèse (chiffres clés, indicateurs par statut, engagements par état, complétude des
dépôts, ce qui a changé depuis l'année précédente), une section par axe, les quartiers, puis les annexes (les
signataires, la méthode et les sources). Les titres des sections, le début de la synthèse et le choix des signataires
qui ont une fiche sont écrits d'une seule main pour le rapport et pour son aperçu.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from perr_metrics.pilotage import avancement
from perr_metrics.referentiel import requetes
from perr_metrics.commun.couleurs import COULEURS_COMPLETUDE, COULEURS_STATUT
from perr_metrics.stockage.magasin import Store
from perr_metrics.acces.droits import operation
from perr_metrics.commun.formats import ESPACE_INSECABLE, format_date, format_nombre, format_pourcent
from .document import (COULEURS_ETATS, Chiffres, Liste, MENTION_DEMO, NON_RENSEIGNE, ORDRE_ETATS, Paragraphe, Rapport,
                       RapportImpossible, SANS_STATUT, Section, Tableau, _RANG_STATUT, _ancre, _annee, _court, _date,
                       _date_heure, _majuscule, _nom_fichier, _pluriel, _pourcent, _score, _vide, accord, compte)
from .donnees import (A_ACTUALISER, _Donnees, _charger, _completudes, _depots, _engagements_et_etats, _extraire,
                      _indicateurs, _memo, _positions, _protocole_et_annee, _signataires, date_des_etats,
                      _mots_des_racines)
from . import copil, decret, sources, textes
from .graphiques import (_COLONNES_PROGRESSION, _compter, _graphique_completude, _graphique_etats, _graphique_statuts,
                         _progression)


# ====================================================================================================================
# Construction
# ====================================================================================================================

def _comptes(statuts) -> dict:
    comptes = {k: 0 for k in avancement.STATUTS}
    for s in statuts:
        if s in comptes:
            comptes[s] += 1
    return comptes


def _phrase_comptes(c: dict) -> str:
    morceaux = [compte(c[s], s) for s in avancement.STATUTS if c.get(s)]
    return ", ".join(morceaux) if morceaux else "aucun indicateur évalué"


def _tableau_statuts(statuts: pd.Series, legende: str) -> Tableau:
    valeurs = list(statuts)
    total, comptes = len(valeurs), _compter(valeurs)
    lignes = [(s, comptes.get(s, 0)) for s in avancement.STATUTS]
    sans = sum(1 for v in valeurs if _vide(v))
    if sans:
        lignes.append((SANS_STATUT, sans))
    lignes.append(("Total", total))
    df = pd.DataFrame(lignes, columns=["Statut", "Indicateurs"])
    df["Part (%)"] = [100 * n / total if total else None for n in df["Indicateurs"]]
    return Tableau(df, legende, "Statuts", formats={"Part (%)": _pourcent}, pastilles={"Statut": COULEURS_STATUT},
                   droite=("Indicateurs", "Part (%)"), largeurs={"Statut": 3, "Indicateurs": 1.2, "Part (%)": 1.2})


def _tableau_noeuds(noeuds: pd.DataFrame, legende: str, feuille: str) -> Tableau:
    base = int(noeuds["profondeur"].min()) if len(noeuds) else 1
    colonnes = ["Axe / thématique", "Atteint", "En bonne voie", "En retard", "Non renseigné", "Sans cible",
                "Score (%)"]
    df = pd.DataFrame({
        colonnes[0]: ["\u2003" * (int(n) - base) + f"{c} — {lib}" for n, c, lib in
                      zip(noeuds["profondeur"], noeuds["code"], noeuds["libelle"])],
        "Atteint": noeuds["nb_atteint"], "En bonne voie": noeuds["nb_en_bonne_voie"],
        "En retard": noeuds["nb_en_retard"], "Non renseigné": noeuds["nb_non_renseigne"],
        "Sans cible": noeuds["nb_sans_cible"], "Score (%)": noeuds["score"]}, columns=colonnes)
    return Tableau(df.reset_index(drop=True), legende, feuille, formats={"Score (%)": _score},
                   droite=tuple(colonnes[1:]), largeurs={colonnes[0]: 5.5, **{c: 1.05 for c in colonnes[1:]}})


def _couverture(d: _Donnees, etabli_le: dt.date) -> list[tuple[str, str]]:
    """La page de garde : le protocole, l'année, et trois dates distinctes — celle de l'état des engagements, celle
    des données (le dernier dépôt dont le rapport montre une valeur) et celle où le rapport est établi."""
    p, sig = d.p, d.signataires
    signe = sig["signe"].fillna(False).astype(bool)
    signataires = sig.loc[signe, "libelle"].tolist()
    partenaires = sig.loc[~signe & sig["rattache_a"].isna(), "libelle"].tolist()
    lignes = [
        ("Territoire", str(p["territoire"])),
        ("Période du protocole", f"{p['annee_debut']}–{p['annee_fin']}"),
        ("Contrats de ville", " ; ".join(
            str(r.libelle) + (f" (signé le {_date(r.date_signature)})" if not _vide(r.date_signature) else "")
            for r in d.contrats.itertuples()) or "non renseignés"),
        ("Signature du protocole", _date(p["date_signature"]) or "date non renseignée"),
        ("Signataires", ", ".join(signataires) or "non renseignés"),
    ]
    if partenaires:
        lignes.append(("Partenaires associés", ", ".join(partenaires)))
    donnees = sources.date_des_donnees(d)
    lignes += [("Année évaluée", str(d.annee)), ("État des engagements au", format_date(d.au)),
               ("Données", f"valeurs déposées jusqu'au {_date(donnees)}" if donnees is not None else
                "aucune valeur déposée"),
               ("Rapport établi le", format_date(etabli_le))]
    return lignes


# Les titres des sections : ceux du rapport et ceux du sommaire de son aperçu (`apercu`), d'une seule main.
_TITRES_SYNTHESE = [("1. Synthèse", 1), ("1.1. L'essentiel pour le COPIL", 2), ("1.2. Indicateurs par statut", 2),
                    ("1.3. Engagements par état", 2), ("1.4. Complétude des dépôts par signataire", 2)]


def _titre_evolutions(a: int) -> str:
    return f"1.5. Ce qui a changé depuis {a - 1}"


def _titre_axe(numero: int, rang: int, code, libelle, mot: str = "Axe") -> str:
    """« 6.1. Axe 1 — … », « 6.2. Priorité P2 — … » : le nom du niveau tel que le protocole l'écrit
    (`donnees._mots_des_racines`)."""
    return f"{numero}.{rang}. {mot} {code} — {libelle}"


def _titre_quartiers(numero: int) -> str:
    return decret.titre_situation(numero)


def _titre_quartier(numero: int, i: int, libelle) -> str:
    return f"{numero}.{i}. {libelle}"


def _titre_annexe_signataires(lettre: str) -> str:
    return f"Annexe {lettre}. Les signataires"


def _titre_signataire(lettre: str, rang: int, libelle) -> str:
    return f"{lettre}.{rang}. {libelle}"


def _titres_methode(lettre: str) -> list[tuple[str, int]]:
    return [(f"Annexe {lettre}. Méthode et sources", 1), (f"{lettre}.1. Le modèle d'avancement en bref", 2),
            (f"{lettre}.2. Sources des indicateurs", 2),
            (f"{lettre}.3. Les dépôts dont viennent les chiffres", 2)]


def _intro_synthese(p: dict, a: int, ter: pd.DataFrame, comp: pd.DataFrame,
                    eng: pd.DataFrame) -> tuple[list, dict]:
    """Les chiffres clés et le premier paragraphe de la synthèse (le début de sa section 1), et les comptes qu'ils
    disent : ce que montrent le rapport et son aperçu. `ter` : les indicateurs au territoire à l'année ; `comp` : la
    complétude par signataire ; `eng` : les engagements avec leur état."""
    statuts = ter["statut"]
    c = _comptes(statuts)
    n_ind = len(ter)
    attendus, recus = int(comp["attendus"].sum()), int(comp["recus"].sum())
    taux_comp = 100 * recus / attendus if attendus else None
    n_eng = len(eng)
    compte_etats = eng["etat"].value_counts()
    jugeables = c[avancement.ATTEINT] + c[avancement.EN_BONNE_VOIE] + c[avancement.EN_RETARD]
    bons = c[avancement.ATTEINT] + c[avancement.EN_BONNE_VOIE]
    chiffres = {"indicateurs": n_ind, "statuts": c, "sans_statut": int(statuts.isna().sum()),
                "engagements": n_eng, "etats": {e: int(compte_etats.get(e, 0)) for e in ORDRE_ETATS},
                "valeurs_attendues": attendus, "valeurs_recues": recus}

    intro = [
        Chiffres([
            (format_nombre(n_ind), "indicateurs suivis"),
            (format_nombre(bons), f"atteints ou en bonne voie, soit {_score(100 * bons / jugeables if jugeables else None)}"
                                  " des indicateurs jugeables"),
            (format_nombre(c[avancement.EN_RETARD]), "indicateurs en retard"),
            (_score(taux_comp), f"des valeurs {a} attendues sont reçues"),
            (format_nombre(n_eng), f"engagements, dont {format_nombre(int(compte_etats.get('réalisé', 0)))} réalisés"),
        ], legende=f"Chiffres clés {a}"),
        Paragraphe(
            f"En {a}, sur les {_pluriel(n_ind, 'indicateur')} du protocole : {_phrase_comptes(c)}"
            + (f" ; {_pluriel(int(statuts.isna().sum()), 'indicateur non agrégeable', 'indicateurs non agrégeables')}"
               f" {accord(int(statuts.isna().sum()), 'se lit', 'se lisent')} quartier par quartier"
               if statuts.isna().any() else "")
            + ". Ces statuts sont ceux du territoire entier, selon le modèle d'avancement résumé dans l'annexe "
              "« Méthode et sources »."),
    ]
    if p.get("demonstration"):
        intro.insert(0, Paragraphe(MENTION_DEMO, "alerte"))
    return intro, chiffres


def _synthese(d: _Donnees) -> tuple[list[Section], dict]:
    a = d.annee
    ter = d.ter[a]
    statuts = ter["statut"]
    comp = d.comp
    eng = d.engagements
    intro, chiffres = _intro_synthese(d.p, a, ter, comp, eng)
    n_eng = chiffres["engagements"]
    attendus, recus = chiffres["valeurs_attendues"], chiffres["valeurs_recues"]
    taux_comp = 100 * recus / attendus if attendus else None
    titres = [t for t, _ in _TITRES_SYNTHESE]
    sections = [Section(titres[0], 1, "synthese", intro),
                Section(titres[1], 2, "synthese-copil", copil.blocs_copil(d))]

    # -- Indicateurs par statut
    axes = d.noeuds[d.noeuds["profondeur"] == 1]
    lignes = [(_court(f"{r.code} — {r.libelle}", 50),
               {"atteint": r.nb_atteint, "en bonne voie": r.nb_en_bonne_voie, "en retard": r.nb_en_retard,
                "non renseigné": r.nb_non_renseigne, "sans cible": r.nb_sans_cible}) for r in axes.itertuples()]
    blocs = [_tableau_statuts(statuts, f"Indicateurs par statut en {a} (territoire entier)")]
    g = _graphique_statuts(lignes, f"Indicateurs par statut et par axe en {a}", "axe")
    if g:
        blocs.append(g)
    blocs.append(_tableau_noeuds(axes, f"Avancement des axes en {a}", "Avancement des axes"))
    blocs.append(Paragraphe("Score : part des indicateurs atteints ou en bonne voie parmi ceux que l'on peut juger "
                            "(atteints, en bonne voie, en retard). Un indicateur compte pour un axe s'il mesure l'un de "
                            "ses engagements ; il peut donc compter pour plusieurs axes.", "note"))
    sections.append(Section(titres[2], 2, "synthese-statuts", blocs))

    # -- Engagements par état
    df = pd.DataFrame({"État": ORDRE_ETATS, "Engagements": [chiffres["etats"][e] for e in ORDRE_ETATS]})
    df.loc[len(df)] = ["Total", n_eng]
    df["Part (%)"] = [100 * n / n_eng if n_eng else None for n in df["Engagements"]]
    n_nr = chiffres["etats"][NON_RENSEIGNE]
    n_vieux = int(eng["a_actualiser"].sum())
    blocs = [Paragraphe(
        f"État des {_pluriel(n_eng, 'engagement')} au {format_date(d.au)} : le dernier état saisi pour chacun à "
        "cette date. "
        + (f"{_pluriel(n_nr, 'engagement n’a', 'engagements n’ont')} encore aucun état saisi (« non renseigné », ce "
           "qui n'est pas « non démarré »)." if n_nr else "Chaque engagement a un état saisi.")
        + (f" {_pluriel(n_vieux, 'état date', 'états datent')} de plus d'un an (« {A_ACTUALISER} » dans les "
           "tableaux des engagements)." if n_vieux else ""))]
    blocs.append(Tableau(df, f"Engagements par état au {format_date(d.au)}", "Engagements par état",
                         formats={"Part (%)": _pourcent}, pastilles={"État": COULEURS_ETATS},
                         droite=("Engagements", "Part (%)"), largeurs={"État": 3, "Engagements": 1.2, "Part (%)": 1.2}))
    if d.etats_saisis:
        lignes_etats = []
        etats_par_axe: dict = {}
        for axe, etat in zip(eng["axe"], eng["etat"]):
            if not _vide(etat):
                sous = etats_par_axe.setdefault(axe, {})
                sous[etat] = sous.get(etat, 0) + 1
        for code, lib in zip(axes["code"], axes["libelle"]):
            sous = etats_par_axe.get(code, {})
            lignes_etats.append((_court(f"{code} — {lib}", 50), {e: sous.get(e, 0) for e in ORDRE_ETATS}))
        g = _graphique_etats(lignes_etats, f"Engagements par état et par axe au {format_date(d.au)}")
        if g:
            blocs.append(g)
    blocs += _blocs_par_signataire(d)
    sections.append(Section(titres[3], 2, "synthese-engagements", blocs))

    # -- Complétude
    incomplets = comp.loc[comp["statut"] != "complet", "nom"].tolist()
    if attendus:
        texte = (f"{format_nombre(recus)} valeurs {a} reçues sur {format_nombre(attendus)} attendues "
                 f"({_pourcent(taux_comp)}). " + (f"Dépôts incomplets : {', '.join(incomplets)}." if incomplets else
                                                  "Tous les signataires ont déposé ce qui était attendu."))
    else:
        texte = f"Aucune valeur n'est attendue pour {a}."
    blocs = [Paragraphe(texte)]
    g = _graphique_completude(comp, a)
    if g:
        blocs.append(g)
    blocs.append(_tableau_completude(comp, a))
    sections.append(Section(titres[4], 2, "synthese-completude", blocs))
    sections.append(Section(_titre_evolutions(a), 2, "synthese-evolutions", _evolutions(d)))
    return sections, chiffres


def _blocs_par_signataire(d: _Donnees) -> list:
    """Les engagements de chaque signataire et leur état au `au` (`suivi.engagements_par_signataire`), avec la ligne
    « sans porteur désigné » des objectifs et des orientations qui n'en ont aucun."""
    ps = d.par_signataire
    if ps is None or ps.empty:
        return []
    etats = [e for e in ORDRE_ETATS if e in ps.columns]
    df = pd.DataFrame({"Signataire": [_majuscule(n) for n in ps["nom"]],
                       "Engagements": ps["nb_engagements"].astype("int64"),
                       "Dont seul": ps["nb_seul"].astype("int64"),
                       **{_majuscule(e): ps[e].astype("int64") for e in etats}})
    sans = ps.loc[ps["signataire"].isna(), "nb_engagements"]
    texte = ("Un engagement porté par plusieurs signataires compte pour chacun ; celui d'un service compte aussi pour "
             "le signataire dont il relève.")
    if len(sans):
        n = int(sans.iloc[0])
        texte += (f" {_pluriel(n, 'item', 'items')} du protocole {accord(n, 'n’a', 'n’ont')} aucun porteur (un "
                  f"objectif, une orientation attendue des autres signataires) : {accord(n, 'il est compté', 'ils sont comptés')} "
                  f"à part, « {requetes.SANS_PORTEUR} ».")
    return [Paragraphe(texte, "note"), Tableau(
        df, f"Engagements par signataire et par état au {format_date(d.au)}", "Engagements par signataire",
        droite=tuple(df.columns[1:]), largeurs={"Signataire": 4.4, **{c: 1.2 for c in df.columns[1:]}})]


def _tableau_completude(comp: pd.DataFrame, annee: int) -> Tableau:
    df = pd.DataFrame({
        "Signataire": comp["nom"], "Attendues": comp["attendus"].astype("int64"),
        "Reçues": comp["recus"].astype("int64"), "Complétude (%)": comp["taux"], "Statut": comp["statut"],
        "Dernier dépôt": comp["dernier_depot"]})
    return Tableau(df, f"Complétude des dépôts {annee} par signataire", "Complétude",
                   formats={"Complétude (%)": _pourcent, "Dernier dépôt": _date},
                   pastilles={"Statut": COULEURS_COMPLETUDE}, droite=("Attendues", "Reçues", "Complétude (%)"),
                   largeurs={"Signataire": 4.4, "Attendues": 1.2, "Reçues": 1.1, "Complétude (%)": 1.4, "Statut": 1.7,
                             "Dernier dépôt": 2.2})


def _evolutions(d: _Donnees) -> list:
    a = d.annee
    if a - 1 not in d.ter:
        return [Paragraphe(f"{a} est la première année du protocole : il n'y a pas d'année précédente à comparer.")]
    avant, apres = d.ter[a - 1], d.ter[a]
    statut_avant = {k: (None if _vide(v) else v) for k, v in zip(avant["indicateur"], avant["statut"])}
    valeur_avant = dict(zip(avant["indicateur"], avant["valeur"]))
    lignes = []
    n = {"progresse": 0, "recule": 0, "autre changement": 0}
    for r in apres.itertuples(index=False):
        s1, s2 = statut_avant.get(r.indicateur), None if _vide(r.statut) else r.statut
        if s1 == s2:
            continue
        if s1 in _RANG_STATUT and s2 in _RANG_STATUT:
            sens = "progresse" if _RANG_STATUT[s2] > _RANG_STATUT[s1] else "recule"
        else:
            sens = "autre changement"
        n[sens] += 1
        lignes.append({"Indicateur": r.libelle, "Code": r.indicateur, "Unité": r.unite,
                       f"Statut {a - 1}": s1 or SANS_STATUT, f"Statut {a}": s2 or SANS_STATUT,
                       f"Valeur {a - 1}": valeur_avant.get(r.indicateur), f"Valeur {a}": r.valeur, "Évolution": sens})
    if lignes:
        texte = (f"De {a - 1} à {a}, {_pluriel(len(lignes), 'indicateur change', 'indicateurs changent')} de statut : "
                 f"{format_nombre(n['progresse'])} progresse{'nt' if n['progresse'] > 1 else ''}, "
                 f"{format_nombre(n['recule'])} recule{'nt' if n['recule'] > 1 else ''}, "
                 f"{_pluriel(n['autre changement'], 'autre changement', 'autres changements')} (vers ou depuis « non renseigné » ou « sans "
                 "cible »).")
    else:
        texte = f"Aucun indicateur ne change de statut de {a - 1} à {a}."
    blocs = [Paragraphe(texte)]
    if lignes:
        valeurs = (f"Valeur {a - 1}", f"Valeur {a}")
        blocs.append(Tableau(
            pd.DataFrame(lignes), f"Indicateurs dont le statut change de {a - 1} à {a}", "Évolutions indicateurs",
            pastilles={f"Statut {a - 1}": COULEURS_STATUT, f"Statut {a}": COULEURS_STATUT}, droite=valeurs,
            unite="Unité", avec_unite=valeurs, masquees=("Code", "Unité"),
            largeurs={"Indicateur": 6, f"Statut {a - 1}": 1.8, f"Statut {a}": 1.8, valeurs[0]: 1.3, valeurs[1]: 1.3,
                      "Évolution": 1.7}))
    if d.comp_avant is not None:
        (attendus0, recus0), c1 = d.comp_avant, d.comp
        t0 = 100 * recus0 / attendus0 if attendus0 else None
        t1 = 100 * c1["recus"].sum() / c1["attendus"].sum() if c1["attendus"].sum() else None
        blocs.append(Paragraphe(f"Complétude des dépôts : {_pourcent(t1)} des valeurs {a} attendues sont reçues, "
                                f"contre {_pourcent(t0)} pour {a - 1}."))
    eng = d.engagements
    change = [d.etats_avant.get(c, NON_RENSEIGNE) != e for c, e in zip(eng["code"], eng["etat"])]
    changes = eng[change]
    if changes.empty:
        blocs.append(Paragraphe(f"Aucun engagement n'a changé d'état du 31 décembre {a - 1} au "
                                f"{format_date(d.au)}."))
    else:
        blocs.append(Paragraphe(f"{_pluriel(len(changes), 'engagement a', 'engagements ont')} changé d'état du "
                                f"31 décembre {a - 1} au {format_date(d.au)}."))
        avant_col, apres_col = f"État au 31/12/{a - 1}", f"État au {d.au:%d/%m/%Y}"
        df = pd.DataFrame({
            "Code": changes["code"], "Parent": changes["parent"].fillna(""),
            "Engagement": changes["libelle"].map(_majuscule),
            avant_col: [d.etats_avant.get(c, NON_RENSEIGNE) for c in changes["code"]],
            apres_col: changes["etat"], "Depuis le": changes["date_etat"]}).reset_index(drop=True)
        blocs.append(Tableau(df, f"Engagements qui ont changé d'état du 31 décembre {a - 1} au {format_date(d.au)}",
                             "Évolutions engagements", formats={"Depuis le": _date},
                             pastilles={avant_col: COULEURS_ETATS, apres_col: COULEURS_ETATS},
                             facultatives=("Parent",),
                             largeurs={"Code": 1, "Parent": 1, "Engagement": 6, avant_col: 1.8, apres_col: 1.8,
                                       "Depuis le": 1.9}))
    return blocs


def _indicateurs_de(d: _Donnees, positions: list[int]) -> pd.DataFrame:
    """Le tableau des indicateurs `positions` du territoire (`d.ter[d.annee]`), pris dans celui de tous ; construit à
    part sans ligne, ou quand une colonne de valeurs d'une année n'aurait aucune valeur (elle serait d'objets)."""
    ter = d.ter[d.annee]
    valeurs_annee = _valeurs_annee(d)
    codes = list(ter["indicateur"])
    if positions and all(any(valeurs_annee[y].get(codes[i]) is not None for i in positions) for y in d.annees):
        return _extraire(_memo(d, "tableau_indicateurs", lambda: _donnees_indicateurs(d, ter.reset_index(drop=True))),
                         positions)
    return _donnees_indicateurs(d, ter.take(positions).reset_index(drop=True))


def _indicateurs_axe(d: _Donnees, axe: str) -> pd.DataFrame:
    codes = [c for c in d.indicateurs["code"] if axe in d.axes_indicateur.get(c, ())]
    ter = d.ter[d.annee]
    return ter.loc[codes].reset_index(drop=True) if codes else ter.iloc[0:0].reset_index(drop=True)


def _valeurs_annee(d: _Donnees) -> dict:
    """Année → {indicateur: valeur au territoire}."""
    return _memo(d, "valeurs_annee", lambda: {y: dict(zip(d.ter[y]["indicateur"], d.ter[y]["valeur"]))
                                              for y in d.annees})


def _tableau_indicateurs(d: _Donnees, df: pd.DataFrame, legende: str, feuille: str) -> Tableau:
    return _tableau_indicateurs_de(d, _donnees_indicateurs(d, df), legende, feuille)


def _donnees_indicateurs(d: _Donnees, df: pd.DataFrame) -> pd.DataFrame:
    """Le tableau des indicateurs (lignes de `d.ter[d.annee]`) : référence, cible, valeur de chaque année, statut ;
    « Source » cite les dépôts de la valeur de l'année, « Précisions » (écrite sous la ligne) donne l'explication du
    statut et ce que les partenaires ont écrit à côté de leurs valeurs."""
    valeurs_annee = _valeurs_annee(d)
    a = d.annee
    commentaires = [sources.commentaires(d, a, c) for c in df["indicateur"]]
    return pd.DataFrame({
        "Indicateur": df["libelle"], "Code": df["indicateur"], "Unité": df["unite"], "Référence": df["reference"],
        "Année de référence": df["annee_reference"], "Cible": df["cible_finale"], "Année de la cible": df["annee_cible"],
        **{f"Valeur {y}": [valeurs_annee[y].get(c) for c in df["indicateur"]] for y in d.annees},
        "Statut": [SANS_STATUT if _vide(s) else s for s in df["statut"]], "Explication": df["explication"],
        "Source": [sources.source(d, a, c) for c in df["indicateur"]],
        "Commentaires des partenaires": [" ".join(c) for c in commentaires],
        "Précisions": [("" if _vide(e) else str(e)) + ("" if not c else
                                                       f" Commentaire{'s' if len(c) > 1 else ''} : {' ; '.join(c)}.")
                       for e, c in zip(df["explication"], commentaires)]})


def _tableau_indicateurs_de(d: _Donnees, t: pd.DataFrame, legende: str, feuille: str) -> Tableau:
    valeurs = tuple(["Référence", "Cible"] + [f"Valeur {y}" for y in d.annees])
    return Tableau(
        t, legende, feuille, unite="Unité", avec_unite=valeurs, droite=valeurs, detail="Précisions",
        masquees=("Code", "Unité", "Année de référence", "Année de la cible", "Explication",
                  "Commentaires des partenaires"),
        suffixes={"Référence": "Année de référence", "Cible": "Année de la cible"},
        formats={"Année de référence": _annee, "Année de la cible": _annee}, pastilles={"Statut": COULEURS_STATUT},
        vide="Aucun indicateur ne mesure les engagements de cet axe.",
        largeurs={"Indicateur": max(3.2, 7.4 - 0.9 * len(d.annees)), "Référence": 1.9, "Cible": 1.9,
                  **{f"Valeur {y}": 1.45 for y in d.annees}, "Statut": 1.9, "Source": 2.6})


def _tableau_engagements(eng: pd.DataFrame, legende: str, feuille: str, dans_document: bool = True,
                         noms: dict | None = None) -> Tableau:
    """Le tableau des engagements `eng`, construit à part ; `noms` : code → nom des signataires (`_noms`)."""
    return _tableau_engagements_de(_donnees_engagements(eng, noms), legende, feuille, dans_document)


def _engagements_de(d: _Donnees, positions: list[int], legende: str, feuille: str,
                    dans_document: bool = True) -> Tableau:
    """Le tableau des engagements `positions` de `d.engagements`, pris dans le tableau de tous les engagements (ses
    colonnes faites de listes sont toujours des textes : mêmes types que construit à part, s'il y a des lignes)."""
    if positions:
        df = _extraire(_memo(d, "tableau_engagements", lambda: _donnees_engagements(d.engagements, _noms(d))),
                       positions)
    else:
        df = _donnees_engagements(d.engagements.iloc[positions], _noms(d))
    return _tableau_engagements_de(df, legende, feuille, dans_document)


def _noms(d: _Donnees) -> dict:
    return _memo(d, "noms_signataires", lambda: dict(zip(d.signataires["code"], d.signataires["libelle"])))


def _noms_des_porteurs(porteurs, noms: dict | None) -> str:
    """« Ville de Bar-le-Duc, Communauté d'agglomération… » ; « sans porteur désigné » pour un engagement qui n'en a
    aucun (un objectif, une orientation attendue des autres signataires)."""
    if _vide(porteurs) or not porteurs:
        return requetes.SANS_PORTEUR
    return ", ".join((noms or {}).get(c, c) for c in porteurs.split(";"))


def _donnees_engagements(eng: pd.DataFrame, noms: dict | None = None) -> pd.DataFrame:
    """Le tableau des engagements : les porteurs par leur nom (« Porteurs ») et par leur code (« Codes des porteurs »,
    que seul le classeur reçoit), la nature de l'item dans le vocabulaire du protocole (imprimée s'il en donne)."""
    commentaires = []
    for com, quand, qui in zip(eng["commentaire"], eng["date_etat"], eng["auteur"]):
        if _vide(quand):
            commentaires.append("")
            continue
        source = f"{_date(quand)}" + ("" if _vide(qui) else f", {qui}")
        commentaires.append(f"{com} ({source})" if not _vide(com) else f"État du {source}.")
    df = pd.DataFrame({
        "Code": eng["code"], "Parent": ["" if _vide(p) else p for p in eng["parent"]], "Thématique": eng["noeud"],
        "Engagement": [("– " if not _vide(p) else "") + _majuscule(lib) for p, lib in zip(eng["parent"],
                                                                                          eng["libelle"])],
        "Nature": ["" if _vide(n) else n for n in (eng["nature"] if "nature" in eng else [None] * len(eng))],
        "Porteurs": [_noms_des_porteurs(p, noms) for p in eng["porteurs"]],
        "Codes des porteurs": [("" if _vide(p) else p.replace(";", ", ")) for p in eng["porteurs"]],
        "État": eng["etat"],
        "À actualiser": [A_ACTUALISER if x else "" for x in eng["a_actualiser"]],
        "Dernier commentaire": commentaires}).reset_index(drop=True)
    return df


def _tableau_engagements_de(df: pd.DataFrame, legende: str, feuille: str, dans_document: bool = True) -> Tableau:
    # Le dernier commentaire s'écrit sous l'engagement, sur toute la largeur : dans une colonne, il étirerait chaque
    # ligne sur cinq ou six lignes.
    return Tableau(df, legende, feuille, pastilles={"État": COULEURS_ETATS}, vide="Aucun engagement.",
                   detail="Dernier commentaire", dans_document=dans_document, masquees=("Codes des porteurs",),
                   facultatives=("Parent", "Nature", "À actualiser"),
                   largeurs={"Code": 1.0, "Parent": 1.0, "Thématique": 1.5, "Nature": 1.7, "Engagement": 6.4,
                             "Porteurs": 2.6, "État": 1.8, "À actualiser": 1.9})


def _section_axe(d: _Donnees, numero: int, rang: int, r) -> Section:
    a = d.annee
    # Les lignes de l'axe, prises dans des tableaux et des listes faits une fois pour tous les axes.
    ter = d.ter[a]
    par_code = _memo(d, "positions_ter", lambda: _positions(ter["indicateur"]))
    pos_ind = [i for c in d.indicateurs["code"] if r.code in d.axes_indicateur.get(c, ()) for i in par_code[c]]
    # Sous l'axe, ses indicateurs de réalisation et de résultat ; ceux de contexte et de moyens ont leur section.
    resultats = set(decret.codes_de_nature(d, *decret.NATURES_RESULTATS))
    codes_ter = _memo(d, "codes_ter", lambda: list(ter["indicateur"]))
    ailleurs = [i for i in pos_ind if codes_ter[i] not in resultats]
    pos_ind_tous, pos_ind = pos_ind, [i for i in pos_ind if codes_ter[i] in resultats]
    pos_eng = _memo(d, "engagements_par_axe", lambda: _positions(d.engagements["axe"])).get(r.code, [])
    etats_eng = _memo(d, "etats_engagements", lambda: list(d.engagements["etat"]))
    c = {"atteint": r.nb_atteint, "en bonne voie": r.nb_en_bonne_voie, "en retard": r.nb_en_retard,
         "non renseigné": r.nb_non_renseigne, "sans cible": r.nb_sans_cible}
    jugeables = r.nb_atteint + r.nb_en_bonne_voie + r.nb_en_retard
    etats = _compter(etats_eng[i] for i in pos_eng)
    texte = (f"{_pluriel(len(pos_eng), 'engagement')}, {_pluriel(len(pos_ind_tous), 'indicateur')}. "
             f"En {a} : {_phrase_comptes(c)}. ")
    bons = r.nb_atteint + r.nb_en_bonne_voie
    texte += (f"Score : {_score(r.score)} ({_pluriel(bons, 'indicateur atteint', 'indicateurs atteints')} ou en "
              f"bonne voie sur {format_nombre(jugeables)} {'jugeables' if jugeables > 1 else 'jugeable'}). "
              if jugeables else "Aucun indicateur ne peut encore être jugé (ni valeur, ni cible). ")
    if pos_eng:
        texte += "Engagements : " + ", ".join(compte(int(etats[e]), e) for e in ORDRE_ETATS if e in etats) + "."
    blocs = [Paragraphe(texte)]
    if ailleurs:
        blocs.append(Paragraphe(
            f"{_pluriel(len(ailleurs), 'indicateur de contexte ou de moyens', 'indicateurs de contexte ou de moyens')} "
            f"de cet axe ({', '.join(codes_ter[i] for i in ailleurs)}) se {'lit' if len(ailleurs) == 1 else 'lisent'} "
            "dans les sections « Évolution de la situation des quartiers » et « Moyens mobilisés » ; le score de "
            "l'axe les compte.", "note"))
    pos_sous = [i for i, n in enumerate(d.noeuds["code"]) if n != r.code and d.racine.get(n) == r.code]
    if pos_sous:
        blocs.append(_tableau_noeuds(d.noeuds.take(pos_sous), f"Avancement des thématiques de l'axe {r.code} en {a}",
                                     f"Axe {r.code} thématiques"))
    listes = _memo(d, "listes_ter", lambda: {c: list(ter[c]) for c in _COLONNES_PROGRESSION})
    g = _progression({c: [v[i] for i in pos_ind] for c, v in listes.items()}, a,
                     f"Progression des indicateurs de l'axe {r.code} vers leur cible ({a}) ; les indicateurs non "
                     "renseignés ou sans cible n'y figurent pas")
    if g:
        blocs.append(g)
    elif pos_ind:
        blocs.append(Paragraphe(f"Aucun indicateur de cet axe ne peut être jugé en {a} (ni atteint, ni en bonne voie, "
                                "ni en retard) : pas de graphique de progression.", "note"))
    blocs.append(_tableau_indicateurs_de(d, _indicateurs_de(d, pos_ind), f"Indicateurs de l'axe {r.code} : référence, "
                                         f"cible, valeurs et statut en {a}", f"Axe {r.code} indicateurs"))
    blocs.append(_engagements_de(d, pos_eng, f"Engagements de l'axe {r.code} : état et dernier commentaire",
                                 f"Axe {r.code} engagements"))
    return Section(_titre_axe(numero, rang, r.code, r.libelle, d.mots_racines.get(r.code, "Axe")), 2,
                   f"axe-{_ancre(r.code)}", blocs)


def _sections_quartiers(d: _Donnees, numero: int) -> list[Section]:
    a = d.annee
    qpv = d.perimetres[d.perimetres["niveau"] == "QPV"]
    titre = _titre_quartiers(numero)
    if qpv.empty:
        return [Section(titre, 1, "quartiers", [Paragraphe("Ce protocole ne déclare aucun quartier.")])]
    ter = d.ter[a]
    valeur_ter = dict(zip(ter["indicateur"], ter["valeur"]))
    statut_ter = {k: (SANS_STATUT if _vide(s) else s) for k, s in zip(ter["indicateur"], ter["statut"])}
    # Les lignes de chaque quartier, prises dans un tableau fait une fois pour tous (et non un groupe par quartier).
    per_q = d.per[d.per["niveau"] == "QPV"]
    par_quartier = _positions(per_q["perimetre"])
    statuts_q = list(per_q["statut"])
    quartiers = list(qpv.itertuples())
    lignes_graph, resume = [], []
    for q in quartiers:
        pos = par_quartier.get(q.code, [])
        c = _comptes(statuts_q[i] for i in pos)
        lignes_graph.append((_court(q.libelle, 40), c))
        resume.append({"Quartier": q.libelle, "Code": q.code, "Type": q.type, "Communes": q.communes_noms,
                       "Indicateurs": len(pos), **{_majuscule(s): c[s] for s in avancement.STATUTS}})
    intro = decret.blocs_contexte(d) + [Paragraphe(
        f"Puis, pour chaque quartier, les indicateurs qui y ont une valeur, une référence ou une cible, évalués sur le "
        f"quartier et comparés au territoire entier en {a}. Pour un taux, l'écart au territoire est en points ; pour un "
        "nombre, la part du quartier dans le total du territoire.")]
    g = _graphique_statuts(lignes_graph, f"Indicateurs par statut et par quartier en {a}", "quartier")
    if g:
        intro.append(g)
    df = pd.DataFrame(resume)
    intro.append(Tableau(df, f"Les quartiers : indicateurs suivis et statuts en {a}", "Quartiers",
                         droite=tuple(df.columns[4:]), masquees=("Type",),
                         largeurs={"Quartier": 3.2, "Code": 1.8, "Communes": 3, "Indicateurs": 1.35,
                                   **{_majuscule(s): 1.25 for s in avancement.STATUTS}}))
    sections = [Section(titre, 1, "quartiers", intro)]
    tous = None
    codes_q = list(per_q["indicateur"])
    for i, q in enumerate(quartiers, start=1):
        pos = par_quartier.get(q.code, [])
        # La colonne du territoire est faite d'une liste : sans aucune valeur, pandas en ferait une colonne d'objets.
        if pos and any(valeur_ter.get(codes_q[j]) is not None for j in pos):
            if tous is None:
                tous = _donnees_quartier(per_q, a, valeur_ter, statut_ter, d)
            df = _extraire(tous, pos)
        else:
            df = _donnees_quartier(per_q.take(pos) if pos else d.per.iloc[0:0], a, valeur_ter, statut_ter, d)
        tab = Tableau(
            df, f"{q.libelle} : indicateurs du quartier comparés au territoire en {a}", f"{_mot_type(q.type)} {q.code}",
            unite="Unité", avec_unite=(f"Quartier {a}", "Cible du quartier", f"Territoire {a}"),
            formats={"Année de la cible": _annee}, masquees=("Code", "Unité", "Année de la cible"),
            suffixes={"Cible du quartier": "Année de la cible"},
            pastilles={"Statut du quartier": COULEURS_STATUT, "Statut du territoire": COULEURS_STATUT},
            droite=(f"Quartier {a}", "Cible du quartier", f"Territoire {a}", "Comparaison au territoire"),
            vide="Aucun indicateur n'a de valeur, de référence ni de cible pour ce quartier.",
            largeurs={"Indicateur": 5.4, f"Quartier {a}": 1.3, "Cible du quartier": 1.7, "Statut du quartier": 1.8,
                      f"Territoire {a}": 1.4, "Statut du territoire": 1.8, "Comparaison au territoire": 1.6,
                      "Source": 2.6})
        c = _comptes(statuts_q[j] for j in pos)
        type_q = "Territoire de veille active" if q.type == "Veille active" else "Quartier prioritaire"
        plusieurs = ";" in str(q.communes or "")
        texte = (f"{type_q} {q.code}, commune{'s' if plusieurs else ''} : {q.communes_noms or 'non renseignée'}. "
                 + (f"{_pluriel(len(pos), 'indicateur suivi', 'indicateurs suivis')} en {a} : {_phrase_comptes(c)}."
                    if len(pos) else "Aucun indicateur n'y est suivi."))
        sections.append(Section(_titre_quartier(numero, i, q.libelle), 2, f"qpv-{_ancre(q.code)}",
                                [Paragraphe(texte, "chapeau"), tab]))
    return sections


def _mot_type(type_q) -> str:
    """Le mot d'un quartier selon son type : « QPV », ou « Veille active » pour un territoire de veille active (jamais
    appelé « QPV »)."""
    return "Veille active" if type_q == "Veille active" else "QPV"


def _donnees_quartier(sous: pd.DataFrame, a: int, valeur_ter: dict, statut_ter: dict, d: _Donnees) -> pd.DataFrame:
    """Le tableau d'un quartier (les lignes de `d.per` de ce quartier), comparé au territoire ; « Source » cite le dépôt
    de la valeur du quartier."""
    comparaisons = []
    for code, unite, v in zip(sous["indicateur"], sous["unite"], sous["valeur"]):
        vt = valeur_ter.get(code)
        if _vide(v) or _vide(vt):
            comparaisons.append("–")
        elif unite == "%":
            e = v - vt
            signe = "+" if e > 0 else "−" if e < 0 else ""
            comparaisons.append(f"{signe}{format_nombre(abs(e))}{ESPACE_INSECABLE}"
                                f"point{'s' if abs(e) >= 2 else ''}")
        elif vt:
            comparaisons.append(f"{format_pourcent(100 * v / vt, 0)} du total")
        else:
            comparaisons.append("–")
    df = pd.DataFrame({
        "Indicateur": sous["libelle"], "Code": sous["indicateur"], "Unité": sous["unite"],
        f"Quartier {a}": sous["valeur"], "Cible du quartier": sous["cible_finale"],
        "Année de la cible": sous["annee_cible"], "Statut du quartier": sous["statut"],
        f"Territoire {a}": [valeur_ter.get(c) for c in sous["indicateur"]],
        "Statut du territoire": [statut_ter.get(c, SANS_STATUT) for c in sous["indicateur"]],
        "Comparaison au territoire": comparaisons,
        "Source": [sources.citation(d, [x]) for x in sous["depot_id"]]}).reset_index(drop=True)
    return df


def _couverts(sig: pd.DataFrame, code: str) -> set[str]:
    """Le signataire et, récursivement, ses services."""
    enfants: dict[str, list[str]] = {}
    for c, parent in zip(sig["code"], sig["rattache_a"]):
        if not _vide(parent):
            enfants.setdefault(parent, []).append(c)
    vus, pile = set(), [code]
    while pile:
        c = pile.pop()
        if c not in vus:
            vus.add(c)
            pile.extend(enfants.get(c, []))
    return vus


def _fiches_signataires(sig: pd.DataFrame, porteurs: list[set], par_sig_ind: dict,
                        par_sig_dep: dict) -> tuple[list[tuple], list[str]]:
    """Les signataires qui ont une fiche dans l'annexe — ceux qui portent un engagement, déclarent un indicateur ou ont
    déposé pour l'année —, chacun avec les positions de ses engagements, indicateurs et dépôts, dans l'ordre ; et les
    noms des autres. `porteurs` : les porteurs de chaque engagement ; `par_sig_ind`, `par_sig_dep` : signataire →
    positions de ses indicateurs, de ses dépôts de l'année."""
    fiches, sans_rien = [], []
    for s in sig.itertuples():
        mes_eng = [i for i, ps in enumerate(porteurs) if s.code in ps]
        mes_ind = par_sig_ind.get(s.code, [])
        mes_dep = par_sig_dep.get(s.code, [])
        if not mes_eng and not mes_ind and not mes_dep:
            sans_rien.append(s.libelle)
        else:
            fiches.append((s, mes_eng, mes_ind, mes_dep))
    return fiches, sans_rien


def _porteurs(eng: pd.DataFrame) -> list[set]:
    return [set(("" if _vide(p) else p).split(";")) for p in eng["porteurs"]]


def _sections_annexes(d: _Donnees, lettre: str) -> list[Section]:
    a = d.annee
    sig = d.signataires
    eng = d.engagements
    porteurs = _porteurs(eng)
    ind = d.indicateurs
    ter = d.ter[a]
    valeur_ter = dict(zip(ter["indicateur"], ter["valeur"]))
    statut_ter = {k: (SANS_STATUT if _vide(s) else s) for k, s in zip(ter["indicateur"], ter["statut"])}
    renseignes = {k: f"{int(r)} sur {int(n)}" for k, r, n in zip(ter["indicateur"], ter["nb_renseignes"],
                                                                   ter["nb_perimetres"])}
    comp = {r.signataire: r for r in d.comp.itertuples()}
    dep = _depots_annee(d)
    noms = dict(zip(sig["code"], sig["libelle"]))
    ordre_sig = list(sig["code"])
    # Les lignes de chaque signataire, prises dans des tableaux faits une fois pour tous (et non trois filtres de
    # tables larges et trois DataFrame par signataire).
    par_sig_ind, par_sig_dep = _positions(ind["signataire"]), _positions(dep["signataire"])
    codes_eng, etats_eng, codes_ind = list(eng["code"]), list(eng["etat"]), list(ind["code"])
    tous_ind = tous_dep = None
    sections = []
    fiches, sans_rien = _fiches_signataires(sig, porteurs, par_sig_ind, par_sig_dep)
    for s, mes_eng, mes_ind, mes_dep in fiches:
        infos = [f"{s.categorie} ({s.code})", "signe le protocole" if s.signe else "ne signe pas le protocole"]
        if not _vide(s.rattache_a):
            infos.append(f"rattaché à : {noms.get(s.rattache_a, s.rattache_a)}")
        services = sorted(_couverts(sig, s.code) - {s.code}, key=ordre_sig.index)
        if services:
            infos.append("services : " + ", ".join(noms[c] for c in services))
        blocs = [Paragraphe(" ; ".join(infos) + ".")]
        if s.code in comp:
            c = comp[s.code]
            blocs.append(Paragraphe(
                f"Dépôts {a} : {format_nombre(int(c.recus))} valeurs reçues sur {format_nombre(int(c.attendus))} "
                f"attendues ({_pourcent(c.taux)}, {c.statut})"
                + (f" ; dernier dépôt le {_date(c.dernier_depot)}." if not _vide(c.dernier_depot) else ".")))
        if not mes_eng:
            blocs.append(Paragraphe("Aucun engagement porté en propre.", "note"))
        else:
            # Imprimés, les engagements d'un signataire répéteraient mot pour mot ceux des axes (un engagement commun
            # à sept signataires y figurerait sept fois) : le document en donne les codes par état, le classeur la
            # liste complète.
            par_etat: dict = {}
            for i in mes_eng:
                if not _vide(etats_eng[i]):
                    par_etat.setdefault(etats_eng[i], []).append(codes_eng[i])
            seul = sum(len(ps) == 1 for ps, garde in zip(porteurs, [s.code in ps for ps in porteurs]) if garde)
            texte = (f"{_pluriel(len(mes_eng), 'engagement porté', 'engagements portés')}"
                     + (f", dont {format_nombre(seul)} seul" if seul else ", tous avec d'autres signataires")
                     + " (intitulés dans les sections des axes) : "
                     + " ; ".join(f"{e} ({len(par_etat[e])}) : {', '.join(par_etat[e])}" for e in ORDRE_ETATS
                                  if e in par_etat) + ".")
            blocs.append(Paragraphe(texte))
            blocs.append(_engagements_de(d, mes_eng, f"Engagements portés par {s.libelle}", f"{s.code} engagements",
                                         dans_document=False))
        if mes_ind:
            # Deux colonnes sont faites de listes : sans aucune valeur, pandas en ferait des colonnes d'objets.
            if all(any(x.get(codes_ind[i]) is not None for i in mes_ind) for x in (valeur_ter, renseignes)):
                if tous_ind is None:
                    tous_ind = _donnees_indicateurs_signataire(ind, a, valeur_ter, statut_ter, renseignes)
                df = _extraire(tous_ind, mes_ind)
            else:
                df = _donnees_indicateurs_signataire(ind.take(mes_ind), a, valeur_ter, statut_ter, renseignes)
            blocs.append(Tableau(
                df, f"Indicateurs déclarés par {s.libelle} (valeur et statut du territoire en {a})",
                f"{s.code} indicateurs", unite="Unité", avec_unite=(f"Valeur {a}",), masquees=("Code", "Unité"),
                pastilles={"Statut": COULEURS_STATUT}, droite=(f"Valeur {a}", "Périmètres renseignés"),
                largeurs={"Indicateur": 6.2, "Niveau": 1.4, f"Valeur {a}": 1.4, "Statut": 1.9,
                          "Périmètres renseignés": 1.7}))
        else:
            blocs.append(Paragraphe("Aucun indicateur déclaré.", "note"))
        if mes_dep:
            if tous_dep is None:
                tous_dep = _donnees_depots(dep, avec_signataire=False)
            blocs.append(_tableau_depots_de(_extraire(tous_dep, mes_dep), f"Dépôts de {s.libelle} pour {a}",
                                            f"{s.code} dépôts"))
        elif mes_ind:
            blocs.append(Paragraphe(f"Aucun dépôt pour {a}.", "note"))
        sections.append(Section(_titre_signataire(lettre, len(sections) + 1, s.libelle), 2, f"annexe-{_ancre(s.code)}",
                                blocs))
    intro = [Paragraphe(
        f"Pour chaque signataire et partenaire : les engagements qu'il porte (seul ou avec d'autres) et leur état, les "
        f"indicateurs qu'il déclare et leur statut en {a}, ses dépôts pour {a} avec leur date. La liste complète de ses "
        "engagements, avec leurs intitulés, est aussi dans le classeur Excel du rapport.")]
    if sans_rien:
        intro.append(Paragraphe("Sans engagement porté, indicateur déclaré ni dépôt : " + ", ".join(sans_rien) + "."))
    intro += _blocs_signatures(d)
    return [Section(_titre_annexe_signataires(lettre), 1, "annexe-signataires", intro)] + sections


def _blocs_signatures(d: _Donnees) -> list:
    """Les lignes de signature telles que le protocole les écrit (`requetes.signatures`) : qui a signé quel acte, en
    quelle qualité, quand ; plusieurs par signataire (le contrat de ville, puis le protocole). Une liste et non un
    tableau : le classeur du rapport garde une feuille par sujet, et le référentiel exporté les a toutes."""
    g = d.signatures
    if g is None or g.empty:
        return []
    lignes = []
    for r in g.itertuples(index=False):
        qui = ", ".join(str(x) for x in (r.qualite, r.representant) if not _vide(x))
        quand = f"signé le {_date(r.date_signature)}" if not _vide(r.date_signature) else "date non renseignée"
        lignes.append(f"{r.signataire_nom}{f' ({qui})' if qui else ''} : {r.acte_libelle or 'acte non précisé'}, "
                      f"{quand}.")
    n = len(lignes)
    return [Paragraphe(f"{_pluriel(n, 'ligne de signature', 'lignes de signature')}, telles que le protocole "
                       f"{accord(n, 'l’écrit', 'les écrit')} :"), Liste(lignes)]


def _donnees_indicateurs_signataire(ind: pd.DataFrame, a: int, valeur_ter: dict, statut_ter: dict,
                                    renseignes: dict) -> pd.DataFrame:
    """Le tableau des indicateurs que déclare un signataire (les lignes `ind` de `d.indicateurs`)."""
    return pd.DataFrame({
        "Indicateur": ind["libelle"], "Code": ind["code"], "Niveau": ind["niveau"],
        "Unité": ind["unite"], f"Valeur {a}": [valeur_ter.get(c) for c in ind["code"]],
        "Statut": [statut_ter.get(c, SANS_STATUT) for c in ind["code"]],
        "Périmètres renseignés": [renseignes.get(c) for c in ind["code"]]}).reset_index(drop=True)


def _depots_annee(d: _Donnees) -> pd.DataFrame:
    """Les dépôts pour l'année du rapport (ses semestres compris)."""
    return _memo(d, "depots_annee", lambda: _depots_de_l_annee(d.depots, d.annee))


def _depots_de_l_annee(dep: pd.DataFrame, annee: int) -> pd.DataFrame:
    return dep[dep["periode"].fillna("").str.startswith(str(annee))]


def _tableau_depots(dep: pd.DataFrame, legende: str, feuille: str, avec_signataire: bool = True) -> Tableau:
    return _tableau_depots_de(_donnees_depots(dep, avec_signataire), legende, feuille)


def _donnees_depots(dep: pd.DataFrame, avec_signataire: bool = True) -> pd.DataFrame:
    df = pd.DataFrame({
        "N°": dep["id"].astype("int64"), "Déposé le": dep["depose_le"], "Signataire": dep["signataire_nom"],
        "Période": dep["periode"], "Fichier": dep["fichier_nom"], "Valeurs": dep["nb_valeurs"].astype("int64"),
        "Par": dep["utilisateur"], "Revue": dep["statut"]}).reset_index(drop=True)
    if not avec_signataire:
        df = df.drop(columns=["Signataire"])
    return df


def _tableau_depots_de(df: pd.DataFrame, legende: str, feuille: str) -> Tableau:
    return Tableau(df, legende, feuille, formats={"Déposé le": _date_heure}, droite=("N°", "Valeurs"),
                   vide="Aucun dépôt.",
                   largeurs={"N°": 0.8, "Déposé le": 3.1, "Signataire": 3.4, "Période": 1.2, "Fichier": 3.8,
                             "Valeurs": 1.1, "Par": 2, "Revue": 1.3})


def _sections_methode(d: _Donnees, lettre: str, etabli_le: dt.date) -> list[Section]:
    a = d.annee
    tol = format_nombre(avancement.TOLERANCE * 100)
    statuts = pd.DataFrame([
        (avancement.SANS_CIBLE, "Aucune cible n'est fixée pour ce périmètre : rien n'est attendu, on ne juge pas."),
        (avancement.NON_RENSEIGNE, f"Une cible existe, mais aucune valeur n'a été déposée pour {a}."),
        (avancement.ATTEINT, "La valeur atteint ou dépasse la cible finale dans le sens souhaité, même avant "
                             "l'échéance."),
        (avancement.EN_BONNE_VOIE, "La valeur est au niveau de la trajectoire de la référence à la cible, ou en deçà "
                                   f"de moins de {tol} % du chemin à parcourir."),
        (avancement.EN_RETARD, "Sinon."),
    ], columns=["Statut", "Quand"])
    donnees = sources.date_des_donnees(d)
    intro = [Paragraphe(
        f"Ce rapport est établi le {format_date(etabli_le)} à partir de la base perr-metrics, sans ressaisie ; ses "
        + (f"valeurs sont celles déposées jusqu'au {_date(donnees)}" if donnees is not None else
           "tableaux ne contiennent encore aucune valeur déposée")
        + f", l'état des engagements celui du {format_date(d.au)}. Refait plus tard, il donne les mêmes états "
          "(ceux qui datent d'avant cette date) ; une valeur déposée depuis y entrerait, avec son dépôt. Chaque "
        "chiffre vient des valeurs déposées par les partenaires, et cite son dépôt (colonne « Source »). Pour chaque "
        "indicateur, périmètre et période, la "
        "valeur retenue est celle du dépôt le plus récent que la coordination n'a pas marqué « à corriger » ; les "
        "valeurs antérieures restent dans l'historique de la base.")]
    if d.p.get("demonstration"):
        intro.append(Paragraphe(MENTION_DEMO, "alerte"))
    titres = [t for t, _ in _titres_methode(lettre)]
    sections = [Section(titres[0], 1, "methode", intro)]
    sections.append(Section(titres[1], 2, "methode-modele", [
        Paragraphe("Le statut de chaque indicateur est décidé, dans cet ordre, par le modèle d'avancement de "
                   "perr-metrics (décrit en détail dans sa documentation, « Le modèle d'avancement ») :"),
        Tableau(statuts, "Les cinq statuts d'un indicateur", "Méthode statuts", pastilles={"Statut": COULEURS_STATUT},
                largeurs={"Statut": 1.5, "Quand": 6.5}),
        Liste([
            "La trajectoire relie la valeur de référence aux cibles (intermédiaires puis finale) ; la valeur attendue "
            "une année donnée est la cible de l'année ou l'interpolation linéaire entre les deux points qui "
            "l'encadrent. Une valeur annuelle vaut pour la fin de l'année.",
            f"La marge de tolérance vaut {tol} % de l'écart entre la cible finale et la référence : en deçà de la "
            "trajectoire de moins que cette marge, un indicateur reste « en bonne voie ».",
            "Sans valeur de référence, seule la cible finale est comparée : l'indicateur est « atteint » ou « en "
            "retard ».",
            "Du quartier au territoire : une somme additionne les valeurs des quartiers renseignés et les compare à la "
            "somme de leurs références et cibles ; un taux est recalculé (somme des numérateurs sur somme des "
            "dénominateurs), jamais moyenné ; un indicateur non agrégeable se lit quartier par quartier.",
            "La progression est la part du chemin parcouru : (valeur − référence) / (cible finale − référence).",
            "Le score d'un axe est la part des indicateurs atteints ou en bonne voie parmi ceux que l'on peut juger ; "
            "les indicateurs non renseignés ou sans cible n'y entrent pas.",
        ])]))
    ind = d.indicateurs
    sources_ind = ind["source"].fillna("non précisée")
    if len(ind):
        # Le groupement de pandas (une fonction par groupe) fait en un parcours : mêmes groupes, dans le même ordre.
        groupes: dict = {}
        for source, signataire in zip(sources_ind, ind["signataire"]):
            g = groupes.setdefault(source, [0, {}])
            g[0] += 1
            if not _vide(signataire):
                g[1][signataire] = None
        src = pd.DataFrame({"source": pd.array(list(groupes), dtype=sources_ind.dtype),
                            "n": [g[0] for g in groupes.values()],
                            "par": [", ".join(g[1]) for g in groupes.values()]})
    else:
        src = ind.assign(source=sources_ind).groupby("source", sort=False).agg(
            n=("code", "size"), par=("signataire", lambda s: ", ".join(dict.fromkeys(s.dropna())))).reset_index()
    src = src.sort_values(["n", "source"], ascending=[False, True])
    df = pd.DataFrame({"Source": src["source"], "Indicateurs": src["n"].astype("int64"),
                       "Déclarés par": src["par"]}).reset_index(drop=True)
    sig = d.signataires
    sigles = pd.DataFrame({"Code": sig["code"], "Signataire ou partenaire": sig["libelle"],
                           "Catégorie": sig["categorie"], "Signe le protocole": sig["signe"].astype(bool)})
    sections.append(Section(titres[2], 2, "methode-sources", [
        Paragraphe("La source de chaque indicateur est celle que déclare le référentiel du protocole ; le signataire "
                   "qui le déclare dépose ses valeurs. Les tableaux des engagements nomment leurs porteurs (« sans porteur "
                   "désigné » pour un item qui n'en a aucun) ; le classeur Excel donne aussi leurs codes."),
        Tableau(df, "Sources des indicateurs", "Sources", droite=("Indicateurs",),
                largeurs={"Source": 3.5, "Indicateurs": 1.1, "Déclarés par": 4.5}),
        Tableau(sigles, "Codes des signataires et partenaires", "Signataires",
                largeurs={"Code": 1.8, "Signataire ou partenaire": 4.5, "Catégorie": 2, "Signe le protocole": 1.3})]))
    # Les dépôts de chaque valeur que montre le rapport, de toutes ses années, et les autres dépôts de l'année (ceux
    # qu'un dépôt plus récent remplace, ou marqués « à corriger »).
    cites = set(sources.depots_cites(d))
    annee_ids = set(_depots_annee(d)["id"].astype("int64"))
    dep = d.depots[d.depots["id"].astype("int64").isin(cites | annee_ids)].sort_values("depose_le")
    tab = _tableau_depots(dep, f"Les dépôts dont viennent les chiffres du rapport, et les autres dépôts pour {a}",
                          "Dépôts")
    tab.donnees["Fait foi"] = ["oui" if int(i) in cites else "non" for i in tab.donnees["N°"]]
    tab.largeurs["Fait foi"] = 1
    autres = len(dep) - len(cites & set(dep['id'].astype('int64')))
    sections.append(Section(titres[3], 2, "methode-depots", [
        Paragraphe(f"{_pluriel(len(cites), 'dépôt')} {accord(len(cites), 'fournit', 'fournissent')} les valeurs "
                   f"de ce rapport, de {d.annees[0]} à {a} (« Fait foi » : oui) ; "
                   f"{_pluriel(autres, 'autre dépôt', 'autres dépôts')} pour {a} "
                   f"{accord(autres, 'n’en fournit', 'n’en fournissent')} aucune : une valeur plus récente "
                   f"{accord(autres, 'le', 'les')} remplace, ou {accord(autres, 'il est marqué', 'ils sont marqués')} "
                   "« à corriger ». Du plus ancien au plus récent ; le numéro est celui que citent les colonnes "
                   "« Source »."),
        tab]))
    return sections


ANNEXE_AVIS, ANNEXE_SIGNATAIRES, ANNEXE_METHODE = "A", "B", "C"


def _annee_lue(annee) -> int:
    try:
        return int(str(annee).strip())
    except ValueError:
        raise RapportImpossible(f"Année « {annee} » illisible : attendu une année comme 2021.") from None


@dataclass
class Apercu:
    """Ce que montre la page « Rapport annuel » avant qu'on ne prépare les fichiers : les chiffres clés et le début
    de la synthèse, et le sommaire du rapport — les mêmes que ceux de `construire_rapport` (mêmes fonctions), sans
    construire le contenu de chaque axe, quartier et signataire ni évaluer l'année précédente."""

    protocole: dict
    annee: int
    chiffres: dict                     # `Rapport.chiffres`
    synthese: list                     # les blocs de la section « 1. Synthèse » (chiffres clés, premier paragraphe)
    sommaire: list[tuple[int, str]]    # (niveau, titre) de chaque section du rapport, dans l'ordre

    @property
    def nom_fichier(self) -> str:
        """Le nom des fichiers du rapport, sans extension (`Rapport.nom_fichier`)."""
        return _nom_fichier(self.protocole, self.annee)


def _sommaire(annee: int, axes: pd.DataFrame, qpv, avis: list, signataires: list,
              mots: dict | None = None) -> list[tuple[int, str]]:
    """(niveau, titre) de chaque section du rapport, dans l'ordre : ce qu'écrit `construire_rapport` et que montre
    l'aperçu. `axes` : code et libellé des axes ; `qpv` : les libellés des quartiers ; `avis` : les avis joints ;
    `signataires` : les libellés de ceux qui ont une fiche."""
    sommaire = [(n, t) for t, n in _TITRES_SYNTHESE] + [(2, _titre_evolutions(annee))]
    sommaire.append((1, decret.titre_orientations(2)))
    sommaire.append((1, _titre_quartiers(3)))
    sommaire += [(2, _titre_quartier(3, i, libelle)) for i, libelle in enumerate(qpv, start=1)]
    sommaire += [(1, decret.titre_actions(4, annee)), (1, decret.titre_moyens(5, annee)),
                 (1, decret.titre_resultats(6, annee))]
    sommaire += [(2, _titre_axe(6, i, code, libelle, (mots or {}).get(code, "Axe")))
                 for i, (code, libelle) in enumerate(zip(axes["code"], axes["libelle"]), start=1)]
    sommaire += [(1, decret.titre_perspectives(7)), (1, decret.titre_renouvellement(8))]
    sommaire.append((1, decret.titre_annexe_avis(ANNEXE_AVIS)))
    sommaire += [(2, decret.titre_avis(ANNEXE_AVIS, i, t)) for i, t in enumerate(avis, start=1)]
    sommaire.append((1, _titre_annexe_signataires(ANNEXE_SIGNATAIRES)))
    sommaire += [(2, _titre_signataire(ANNEXE_SIGNATAIRES, k, lib)) for k, lib in enumerate(signataires, start=1)]
    sommaire += [(n, t) for t, n in _titres_methode(ANNEXE_METHODE)]
    return sommaire


@operation("consulter_pilotage")
def apercu(store: Store, protocole: str, annee: int | str, au: dt.date | None = None, *,
           etabli_le: dt.date | None = None) -> Apercu:
    """L'aperçu du rapport de `construire_rapport(store, protocole, annee, etabli_le=…, au=…)` (mêmes erreurs, mêmes
    droits) : une lecture des valeurs de la seule année, l'évaluation au territoire, la complétude de l'année, les
    engagements et leur état, et de quoi nommer les sections (axes, quartiers, avis, signataires qui ont une fiche)."""
    annee = _annee_lue(annee)
    etabli_le = etabli_le or dt.date.today()
    date_etats = date_des_etats(annee, au, etabli_le)
    with requetes._session(store) as s:
        p = _protocole_et_annee(s, protocole, annee)
        d = avancement._charger_periodes(s, protocole, [str(annee)])[0]
        comp, _ = _completudes(s, protocole, annee, False)
        ter = avancement._au_territoire(d, None)
        axes = s.requete(avancement._SQL_NOEUDS, [protocole]).query("profondeur == 1")
        eng = _engagements_et_etats(s, protocole, date_etats)[0]
        ind, sig = _indicateurs(s, protocole), _signataires(s, protocole)
        dep = _depots_de_l_annee(_depots(s, protocole), annee)
        avis = textes._textes(s, protocole, annee).avis
        mots = _mots_des_racines(s, protocole)
    intro, chiffres = _intro_synthese(p, annee, ter, comp, eng)
    qpv = d.perimetres.loc[d.perimetres["niveau"] == "QPV", "perimetre_libelle"]
    fiches, _ = _fiches_signataires(sig, _porteurs(eng), _positions(ind["signataire"]), _positions(dep["signataire"]))
    return Apercu(p, annee, chiffres, intro, _sommaire(annee, axes, qpv, avis, [f[0].libelle for f in fiches],
                                                       mots))


@operation("consulter_pilotage")
def construire_rapport(store: Store, protocole: str, annee: int | str, au: dt.date | None = None, *,
                       etabli_le: dt.date | None = None) -> Rapport:
    """Le contenu du rapport annuel d'un protocole pour une année, indépendant du format : les sections du rapport
    sur la mise en œuvre de la politique de la ville (décret n° 2015-1118), avec la synthèse pour le COPIL.

    `etabli_le` (aujourd'hui par défaut) est la date où le rapport est établi ; `au`, celle de l'état des engagements
    (par défaut le 31 décembre de l'année, ou `etabli_le` si l'année n'est pas finie) : le rapport d'une année, refait
    plus tard, donne les mêmes états. Lève `requetes.ProtocoleInconnu` pour un protocole absent de la base et
    `RapportImpossible` pour une année hors de sa période (messages en français). Les graphiques n'ont pas encore
    d'image : `rendre_images` (appelé par `ecrire_pdf` et `ecrire_docx`) les produit.
    """
    annee = _annee_lue(annee)
    etabli_le = etabli_le or dt.date.today()
    with requetes._session(store) as session:   # une session déjà ouverte sert telle quelle
        d = _charger(session, protocole, annee, etabli_le, au)
    synthese, chiffres = _synthese(d)
    sections = list(synthese)
    sections.append(decret.section_orientations(d, 2))
    sections += _sections_quartiers(d, 3)
    sections.append(decret.section_actions(d, 4))
    sections.append(decret.section_moyens(d, 5))
    sections.append(Section(decret.titre_resultats(6, annee), 1, "resultats", decret.blocs_resultats(d)))
    axes = d.noeuds[d.noeuds["profondeur"] == 1]
    for i, r in enumerate(axes.itertuples(), start=1):
        sections.append(_section_axe(d, 6, i, r))
    sections.append(decret.section_texte(d, textes.PERSPECTIVES, decret.titre_perspectives(7), "perspectives"))
    sections.append(decret.section_texte(d, textes.RENOUVELLEMENT, decret.titre_renouvellement(8),
                                         "renouvellement-urbain"))
    sections += decret.sections_avis(d, ANNEXE_AVIS)
    sections += _sections_annexes(d, ANNEXE_SIGNATAIRES)
    sections += _sections_methode(d, ANNEXE_METHODE, etabli_le)
    return Rapport(protocole=d.p, annee=annee, titre=f"Rapport annuel d'évaluation {annee}",
                   demonstration=bool(d.p.get("demonstration")), etabli_le=etabli_le,
                   couverture=_couverture(d, etabli_le), sections=sections, chiffres=chiffres, au=d.au)


@operation("consulter_pilotage")
def synthese_proposee(store: Store, protocole: str, annee: int | str, au: dt.date | None = None) -> str:
    """La synthèse pour le COPIL tirée des données (celle qu'écrit le rapport quand la coordination n'en a pas
    enregistré), en texte simple, pour que la coordination la reprenne sur la page « Rapport annuel »."""
    annee = _annee_lue(annee)
    with requetes._session(store) as session:
        d = _charger(session, protocole, annee, dt.date.today(), au)
    return copil.synthese_generee(d)
