"""Les chemins rapides du modèle d'avancement donnent exactement ce que donne la fonction pure `evaluer` (et les
fonctions de trajectoire) : mêmes statuts, mêmes nombres au bit près, mêmes phrases.

L'évaluation d'un protocole n'appelle pas `evaluer` ligne à ligne : elle calcule une fois par lecture la trajectoire de
chaque (indicateur, périmètre) (`_fixes`, `_trajectoire_lue`) et les valeurs attendues de toutes les années en un
parcours (`_valeurs_attendues`), puis juge chaque ligne (`_juger`). Ces tests comparent ces chemins aux fonctions
publiques sur des cas choisis pour être piégeux (les cas calculés à la main sont dans test_avancement.py).
"""
from __future__ import annotations

import math
import random
from collections import namedtuple

import pandas as pd
import pytest

from perr_metrics.pilotage import avancement as av
from perr_metrics.pilotage.avancement import (NON_RENSEIGNE, _Donnees, _evaluer_perimetre, _tableau, _trajectoire_agregee,
                                     _trajectoire_lue, _valeurs_attendues, evaluer, lire_periode, trajectoire,
                                     valeur_attendue)

Ind = namedtuple("Ind", "indicateur libelle unite sens periodicite niveau agregation numerateur denominateur")


def _memes(a, b) -> bool:
    """Égaux au bit près (None et NaN compris)."""
    if a is None or b is None:
        return a is b
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return type(a) is type(b) and a == b


# Trajectoires dont les points intermédiaires ne tombent pas juste en virgule flottante (0,1 + 0,2 ≠ 0,3) : la valeur
# attendue à l'année d'un point intermédiaire vient du segment qui y arrive, pas du point lui-même.
TRAJECTOIRES = [
    [],
    [(2024.0, 5.0)],
    [(2020.0, 0.1), (2022.0, 0.3), (2025.0, 0.7)],
    [(2019.0, 12.5), (2021.0, 14.1), (2023.0, 13.3), (2026.0, 20.0)],
    [(2024.0, 100.0), (2031.0, 60.0)],
    [(2020.0, 1 / 3), (2021.0, 2 / 3), (2022.0, 1.0), (2030.0, 7.77)],
]


@pytest.mark.parametrize("points", TRAJECTOIRES)
def test_valeurs_attendues_en_un_parcours(points):
    instants = sorted({a for a, _ in points} | {2018.0, 2019.5, 2020.5, 2021.0, 2022.0, 2023.5, 2024.5, 2027.0,
                                                2031.0, 2040.0})
    rapides = _valeurs_attendues(points, instants)
    for t, v in zip(instants, rapides):
        assert _memes(v, valeur_attendue(points, t)), (points, t)


def test_valeurs_attendues_au_hasard():
    hasard = random.Random(4)
    for _ in range(300):
        annees = sorted(hasard.sample(range(2015, 2035), hasard.randint(1, 6)))
        points = [(float(a), hasard.uniform(-50, 50)) for a in annees]
        instants = sorted({float(a) for a in annees} | {hasard.randint(2012, 2038) + hasard.choice((0, -0.5))
                                                         for _ in range(6)})
        assert all(_memes(v, valeur_attendue(points, t))
                   for t, v in zip(instants, _valeurs_attendues(points, instants)))


@pytest.mark.parametrize("reference, annee, cibles", [
    (None, None, {2025: 10.0}),
    (3.0, 2020, {2022: 5.0, 2026: 9.0}),
    (3.0, 2022, {2022: 5.0, 2026: 9.0}),           # une cible de l'année de la référence l'emporte
    (0.1, 2020, {2021: 0.2, 2022: 0.3}),
    (7.0, 2019, {}),
])
def test_trajectoire_lue(reference, annee, cibles):
    assert _trajectoire_lue(reference, annee, cibles) == trajectoire(reference, annee, cibles)


def _donnees(periode: str, valeurs: dict, references: dict, cibles: dict) -> _Donnees:
    per = pd.DataFrame({"perimetre": ["T", "Q1", "Q2", "Q3"], "perimetre_libelle": ["Ter", "Q un", "Q deux", "Q trois"],
                        "niveau": ["Territoire", "QPV", "QPV", "QPV"]})
    return _Donnees("T", "Ter", lire_periode(periode), pd.DataFrame(), per, valeurs, references, cibles)


# (sens, unite, periodicite, valeur (valeur, période), référence (année, valeur), cibles)
CAS = [
    ("hausse", "%", "annuelle", (55.0, "2021"), (2018, 40.0), {2020: 50.0, 2023: 70.0}),          # au-dessus
    ("hausse", "%", "annuelle", (51.0, "2021"), (2018, 40.0), {2020: 50.0, 2023: 70.0}),          # dans la marge
    ("hausse", "%", "annuelle", (40.0, "2021"), (2018, 40.0), {2020: 50.0, 2023: 70.0}),          # en retard
    ("hausse", "%", "annuelle", (72.0, "2021"), (2018, 40.0), {2020: 50.0, 2023: 70.0}),          # atteint
    ("baisse", "jours", "annuelle", (18.0, "2021"), (2019, 20.0), {2024: 12.0}),                  # baisse, en retard
    ("baisse", "jours", "annuelle", (1.0, "2021"), (2019, 20.0), {2024: 12.0}),                   # baisse, atteint
    ("baisse", "heures", "annuelle", (16.5, "2021"), (2019, 20.0), {2024: 12.0}),                 # dans la marge
    ("hausse", "nombre", "annuelle", (5.0, "2021"), None, {2023: 10.0}),                          # sans référence
    ("hausse", "places", "annuelle", (12.0, "2021"), None, {2023: 10.0}),                         # atteinte sans réf.
    ("hausse", "€", "annuelle", None, (2018, 1000.0), {2023: 2000.0}),                             # non renseigné
    ("hausse", None, "annuelle", (3.0, "2021"), (2018, 1.0), None),                                # sans cible
    ("hausse", "%", "annuelle", (0.3, "2022"), (2020, 0.1), {2021: 0.2, 2022: 0.3, 2025: 0.35}),  # arrondis
    ("hausse", "%", "annuelle", (80.0, "2026"), (2020, 50.0), {2025: 90.0}),                       # après la cible
    ("hausse", "%", "semestrielle", (52.0, "2021-S1"), (2020, 50.0), {2022: 60.0}),               # semestre
    ("baisse", "personnes", "annuelle", (1.0, "2021"), (2020, 1.0), {2023: 1.0}),                  # cible = réf.
    ("hausse", "%", "annuelle", (float("nan"), "2021"), (2018, float("nan")), {2023: 70.0, 2022: float("nan")}),
]


@pytest.mark.parametrize("periode", ["2021", "2021-S1", "2021-S2", "2022"])
@pytest.mark.parametrize("cas", CAS)
def test_evaluation_d_un_perimetre_egale_a_evaluer(cas, periode):
    sens, unite, periodicite, valeur, reference, cibles = cas
    ind = Ind("I", "Indicateur", unite, sens, periodicite, "QPV", "somme", None, None)
    valeurs = {} if valeur is None else {("I", "Q1"): (valeur[0], valeur[1], 7)}
    references = {} if reference is None else {("I", "Q1"): reference}
    toutes_cibles = {} if cibles is None else {("I", "Q1"): cibles}
    d = _donnees(periode, valeurs, references, toutes_cibles)
    # deux fois : la seconde avec la trajectoire gardée par la lecture
    for _ in range(2):
        ev, depot_id = _evaluer_perimetre(ind, "Q1", d)
        attendu = evaluer(None if valeur is None else valeur[0], periode if valeur is None else valeur[1], sens=sens,
                          unite=unite, reference=None if reference is None else reference[1],
                          annee_reference=None if reference is None else reference[0], cibles=cibles)
        if attendu.statut == NON_RENSEIGNE and periodicite == "annuelle" and d.periode.semestre == 1:
            attendu = av._avec(attendu, explication=av._explication_annuelle_au_s1(d))
        assert ev.statut == attendu.statut and ev.explication == attendu.explication
        for champ in ("valeur", "attendu", "cible_finale", "annee_cible", "progression"):
            assert _memes(getattr(ev, champ), getattr(attendu, champ)), champ
        assert depot_id == (None if valeur is None else 7)


def test_sens_inconnu_refuse_aussi_par_le_chemin_rapide():
    ind = Ind("I", "Indicateur", "%", "stable", "annuelle", "QPV", "somme", None, None)
    d = _donnees("2021", {("I", "Q1"): (3.0, "2021", 1)}, {}, {("I", "Q1"): {2023: 5.0}})
    with pytest.raises(ValueError, match="Sens"):
        _evaluer_perimetre(ind, "Q1", d)


def _trajectoire_agregee_simple(composantes, C, f, d):
    """Le calcul d'origine, année par année (avant `_trajectoire_agregee`)."""
    a_ref = all((c, p) in d.references for c in composantes for p in C)
    points = {(c, p): trajectoire(*(d.references[(c, p)][::-1] if a_ref else (None, None)), d.cibles[(c, p)])
              for c in composantes for p in C}
    annees = sorted({a for pts in points.values() for a, _ in pts})
    agregee = {a: f([sum(valeur_attendue(points[(c, p)], a) for p in C) for c in composantes]) for a in annees}
    agregee = {int(a): v for a, v in agregee.items() if v is not None}
    reference = annee_reference = None
    if a_ref and agregee:
        annee_reference = min(d.references[(c, p)][0] for c in composantes for p in C)
        reference = agregee.pop(annee_reference, None)
        if reference is None:
            annee_reference = None
    return a_ref, reference, annee_reference, agregee


@pytest.mark.parametrize("taux", [False, True])
@pytest.mark.parametrize("avec_references", [True, "en partie", False])
def test_trajectoire_agregee_egale_au_calcul_annee_par_annee(taux, avec_references):
    hasard = random.Random(11)
    composantes = ["N", "D"] if taux else ["S"]
    C = ["Q1", "Q2", "Q3"]
    references, cibles = {}, {}
    for c in composantes:
        for i, p in enumerate(C):
            if avec_references is True or (avec_references == "en partie" and i != 1):
                references[(c, p)] = (2019 + i, round(hasard.uniform(1, 90), 1))
            cibles[(c, p)] = {a: round(hasard.uniform(1, 90), 1) / 3 for a in sorted(hasard.sample(range(2021, 2031),
                                                                                                        3))}
    if taux:   # un dénominateur nul une année : pas de taux cette année-là
        cibles[("D", "Q1")] = {2022: 0.0, 2026: 4.0}
        cibles[("D", "Q2")] = {2022: 0.0, 2026: 5.0}
        cibles[("D", "Q3")] = {2022: 0.0, 2026: 6.0}
        references.pop(("D", "Q1"), None) if avec_references == "en partie" else None

    def f(sommes):
        if not taux:
            return sommes[0]
        return 100.0 * sommes[0] / sommes[1] if sommes[1] else None

    d = _donnees("2024", {}, references, cibles)
    attendu = _trajectoire_agregee_simple(composantes, C, f, d)
    for _ in range(2):   # la seconde fois, trajectoires et valeurs attendues gardées par la lecture
        obtenu = _trajectoire_agregee(composantes, C, f, d)
        assert obtenu[:3] == attendu[:3]
        assert list(obtenu[3].items()) == list(attendu[3].items())
        assert all(_memes(obtenu[3][a], attendu[3][a]) for a in attendu[3])


def _tableau_simple(lignes, colonnes):
    """La construction d'origine de `_tableau` (une table d'objets, puis les conversions)."""
    df = pd.DataFrame(lignes, columns=colonnes)
    for col in ("valeur", "reference", "cible_finale", "attendu", "progression"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype("float64")
    df["statut"] = df["statut"].astype(object).where(df["statut"].notna(), None)
    for col in ("annee_reference", "annee_cible", "depot_id", "nb_perimetres", "nb_renseignes"):
        if col in df:
            df[col] = pd.array(df[col].tolist(), dtype="Int64")
    return df


def _ligne(**champs):
    base = dict(indicateur="I", libelle="Indicateur", unite="%", sens="hausse", perimetre="Q1",
                perimetre_libelle="Q un", niveau="QPV", valeur=1.5, reference=None, annee_reference=None,
                cible_finale=3.0, annee_cible=2025, attendu=None, progression=None, statut="en retard",
                explication="…", depot_id=4, nb_perimetres=3, nb_renseignes=1, en_attente_de_revue=False,
                avertissement_force=False)
    base.update(champs)
    return base


@pytest.mark.parametrize("lignes", [
    [_ligne()],
    [_ligne(), _ligne(statut=None, valeur=None, unite=None, depot_id=None, perimetre=None)],
    [_ligne(statut=None, unite=None, perimetre=None, annee_cible=None, cible_finale=None)],
    [_ligne(reference=2.0, annee_reference=2019, progression=0.25, attendu=2.5), _ligne(valeur=float("nan"))],
])
@pytest.mark.parametrize("colonnes", [av.COLONNES_PERIMETRE, av.COLONNES_TERRITOIRE])
def test_tableau_colonne_par_colonne(lignes, colonnes):
    lignes = [{c: l[c] for c in colonnes} for l in lignes]
    pd.testing.assert_frame_equal(_tableau(lignes, colonnes), _tableau_simple(lignes, colonnes), check_exact=True)
    pd.testing.assert_frame_equal(_tableau([], colonnes), _tableau_simple([], colonnes), check_exact=True)


def test_les_periodes_d_une_lecture_partagent_les_trajectoires(store_demo):
    """Une lecture de plusieurs périodes (trajectoires gardées et partagées entre elles) donne les tables des lectures
    d'une période chacune."""
    periodes = ["2019", "2020", "2021", "2021-S1", "2022", "2022-S2"]
    ensemble = av._evaluations_au_territoire(store_demo, "TCM-PERR-2019", periodes)
    ter, per = av._indicateurs_par_periode(store_demo, "TCM-PERR-2019", periodes)
    for q in periodes:
        seul = av.indicateurs_au_territoire(store_demo, "TCM-PERR-2019", q)
        pd.testing.assert_frame_equal(ensemble[q], seul, check_exact=True)
        pd.testing.assert_frame_equal(ter[ter["periode"] == q].drop(columns="periode").reset_index(drop=True), seul,
                                      check_exact=True, check_dtype=False)
        par_perimetre = av.indicateurs_au_perimetre(store_demo, "TCM-PERR-2019", q)
        pd.testing.assert_frame_equal(per[per["periode"] == q].drop(columns="periode").reset_index(drop=True),
                                      par_perimetre, check_exact=True, check_dtype=False)
