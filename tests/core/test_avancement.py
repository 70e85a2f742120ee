"""Le modèle d'avancement, sur des cas calculés à la main.

D'abord la fonction pure `evaluer` (chaque statut, hausse et baisse, cibles intermédiaires, cible sans référence,
semestres, unités), puis de vraies bases : le petit référentiel des tests (tests/classeurs.py) enrichi de quelques
indicateurs, des dépôts écrits par `enregistrer_depot`, et l'agrégation au territoire, la remontée dans l'arbre, la
démonstration de Troyes.
"""
from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest

from perr_metrics.pilotage import avancement as av
from perr_metrics.pilotage.avancement import (ATTEINT, EN_BONNE_VOIE, EN_RETARD, NON_RENSEIGNE, SANS_CIBLE, STATUTS, TOLERANCE,
                                     Evaluation, evaluer)
from perr_metrics.depots.depot import enregistrer_depot
from perr_metrics.referentiel.classeur import importer_referentiel
from perr_metrics.referentiel.requetes import ProtocoleInconnu
from tests import classeurs

PROTO = "EQ2030-TEST"
A, B, V, T = "QN09301A", "QN09302B", "VA-GARE", "EPT-TEST"


def txt(s: str) -> str:
    """Les explications séparent nombre et unité par une espace insécable ; on compare avec des espaces simples."""
    return s.replace("\u00a0", " ")


# --------------------------------------------------------------------------------------------------------------------
# La fonction pure
# --------------------------------------------------------------------------------------------------------------------

# Hausse : référence 8 en 2020, cible 24 en 2022. En 2021, la trajectoire attend 16 ; marge 10 % × 16 = 1,6.
HAUSSE = dict(sens="hausse", unite="nombre", reference=8, annee_reference=2020, cibles={2022: 24})


def test_statuts_et_tolerance_sont_des_constantes():
    assert STATUTS == ("atteint", "en bonne voie", "en retard", "non renseigné", "sans cible")
    assert TOLERANCE == 0.10


def test_exemple_de_la_documentation():
    ev = evaluer(12, "2021", **HAUSSE)
    assert ev == Evaluation(EN_RETARD, 12.0, 16.0, 24.0, 2022, 0.25,
                            "12 en 2021 pour 16 attendus sur la trajectoire vers 24 en 2022 : écart de 4.")


@pytest.mark.parametrize("valeur, statut, progression", [
    (26, ATTEINT, 1.125),        # au-delà de la cible finale ; la progression n'est pas bornée
    (24, ATTEINT, 1.0),          # pile la cible finale
    (17, EN_BONNE_VOIE, 0.5625),  # au-dessus de la trajectoire
    (16, EN_BONNE_VOIE, 0.5),    # sur la trajectoire
    (14.4, EN_BONNE_VOIE, 0.4),  # 16 − 1,6 : à la limite de la tolérance
    (14.3, EN_RETARD, 0.39375),
    (6, EN_RETARD, -0.125),      # en dessous de la référence : progression négative
])
def test_hausse(valeur, statut, progression):
    ev = evaluer(valeur, "2021", **HAUSSE)
    assert ev.statut == statut
    assert ev.attendu == 16 and ev.cible_finale == 24 and ev.annee_cible == 2022
    assert ev.progression == pytest.approx(progression)


def test_explications_hausse():
    assert evaluer(26, "2021", **HAUSSE).explication == "Cible de 24 atteinte dès 2021 (26)."
    assert evaluer(17, "2021", **HAUSSE).explication == \
        "17 en 2021 pour 16 attendus sur la trajectoire vers 24 en 2022."
    assert evaluer(15, "2021", **HAUSSE).explication == (
        "15 en 2021 pour 16 attendus sur la trajectoire vers 24 en 2022 : écart de 1, dans la marge de tolérance "
        "(10 % du chemin à parcourir).")


# Baisse : 30 jours en 2020, cible 20 jours en 2025. En 2022 : 30 − 10 × 2/5 = 26 attendus ; marge 1.
BAISSE = dict(sens="baisse", unite="jours", reference=30, annee_reference=2020, cibles={2025: 20})


@pytest.mark.parametrize("valeur, statut, progression", [
    (19, ATTEINT, 1.1),
    (20, ATTEINT, 1.0),
    (25, EN_BONNE_VOIE, 0.5),
    (26, EN_BONNE_VOIE, 0.4),
    (26.8, EN_BONNE_VOIE, 0.32),   # 0,8 jour de plus qu'attendu : dans la marge d'un jour
    (27.5, EN_RETARD, 0.25),
    (32, EN_RETARD, -0.2),         # on s'éloigne de la cible
])
def test_baisse(valeur, statut, progression):
    ev = evaluer(valeur, "2022", **BAISSE)
    assert ev.statut == statut
    assert ev.attendu == pytest.approx(26)
    assert ev.progression == pytest.approx(progression)


def test_explications_baisse_avec_unite():
    assert txt(evaluer(27.5, "2022", **BAISSE).explication) == (
        "27,5 jours en 2022 pour 26 jours attendus sur la trajectoire vers 20 jours en 2025 : écart de 1,5 jour.")
    assert txt(evaluer(19, "2022", **BAISSE).explication) == "Cible de 20 jours atteinte dès 2022 (19 jours)."


# Référence 100 en 2020, cible intermédiaire 140 en 2022, cible finale 160 en 2026.
INTERMEDIAIRES = dict(sens="hausse", unite="nombre", reference=100, annee_reference=2020, cibles={2026: 160, 2022: 140})


@pytest.mark.parametrize("periode, attendu", [
    ("2019", 100),   # avant la référence : la référence
    ("2020", 100),
    ("2021", 120),   # entre la référence et la cible 2022
    ("2022", 140),   # l'année d'une cible : la cible
    ("2024", 150),   # entre les cibles 2022 et 2026
    ("2026", 160),
    ("2027", 160),   # après la cible finale : la cible finale
])
def test_trajectoire_par_les_cibles_intermediaires(periode, attendu):
    ev = evaluer(None, periode, **INTERMEDIAIRES)
    assert ev.attendu == pytest.approx(attendu)
    assert (ev.cible_finale, ev.annee_cible) == (160, 2026)


def test_cibles_intermediaires_statuts_et_progression():
    # En 2024, 150 attendus, marge 10 % × (160 − 100) = 6.
    assert evaluer(148, "2024", **INTERMEDIAIRES).statut == EN_BONNE_VOIE
    assert evaluer(143, "2024", **INTERMEDIAIRES).statut == EN_RETARD
    # La progression se mesure vers la cible finale, pas vers la cible intermédiaire.
    assert evaluer(130, "2021", **INTERMEDIAIRES).progression == pytest.approx(0.5)
    # Atteindre la cible intermédiaire ne suffit pas à « atteint ».
    assert evaluer(141, "2022", **INTERMEDIAIRES).statut == EN_BONNE_VOIE
    # Après l'année de la cible finale, on compare à la cible finale.
    assert evaluer(150, "2027", **INTERMEDIAIRES).explication == \
        "150 en 2027 pour une cible de 160 en 2026 : écart de 10."


def test_trajectoire_en_points():
    assert av.trajectoire(100, 2020, {2026: 160, 2022: 140}) == [(2020.0, 100.0), (2022.0, 140.0), (2026.0, 160.0)]
    assert av.valeur_attendue([], 2021) is None


def test_cible_sans_reference():
    sans_ref = dict(sens="hausse", unite="nombre", cibles={2022: 24})
    ev = evaluer(18, "2021", **sans_ref)
    assert ev.statut == EN_RETARD
    assert ev.attendu is None and ev.progression is None
    assert ev.explication == ("18 en 2021 pour une cible de 24 en 2022 ; sans valeur de référence, pas de "
                              "trajectoire : seule la cible finale est comparée.")
    ev = evaluer(25, "2021", **sans_ref)
    assert ev.statut == ATTEINT
    assert ev.explication == ("Cible de 24 atteinte dès 2021 (25) ; sans valeur de référence, seule la cible "
                              "finale est comparée.")


def test_sans_cible_et_non_renseigne():
    ev = evaluer(18, "2021", sens="hausse", reference=8, annee_reference=2020)
    assert (ev.statut, ev.valeur, ev.explication) == (SANS_CIBLE, 18.0, "Pas de cible fixée pour ce périmètre.")
    # Sans cible l'emporte : rien ne serait attendu de toute façon.
    assert evaluer(None, "2021", sens="hausse").statut == SANS_CIBLE
    ev = evaluer(None, "2021", **HAUSSE)
    assert (ev.statut, ev.attendu, ev.progression) == (NON_RENSEIGNE, 16, None)
    assert ev.explication == "Aucune valeur déposée pour 2021."
    # Une valeur manquante venue de pandas (NaN) est une valeur manquante.
    assert evaluer(float("nan"), "2021", **HAUSSE).statut == NON_RENSEIGNE


def test_cible_egale_a_la_reference():
    ev = evaluer(10, "2021", sens="hausse", reference=10, annee_reference=2020, cibles={2022: 10})
    assert (ev.statut, ev.progression) == (ATTEINT, None)
    ev = evaluer(9, "2021", sens="hausse", reference=10, annee_reference=2020, cibles={2022: 10})
    assert (ev.statut, ev.progression) == (EN_RETARD, None)


def test_semestres():
    # Le 1er semestre 2021 est à mi-chemin entre fin 2020 et fin 2021 : 8 + 16 × 0,5 / 2 = 12 attendus.
    ev = evaluer(12, "2021-S1", **HAUSSE)
    assert (ev.statut, ev.attendu) == (EN_BONNE_VOIE, 12)
    assert ev.explication == "12 au 1er semestre 2021 pour 12 attendus sur la trajectoire vers 24 en 2022."
    # Le 2e semestre vaut la fin de l'année.
    assert evaluer(16, "2021-S2", **HAUSSE).attendu == 16
    assert evaluer(None, "2021-S1", **HAUSSE).explication == "Aucune valeur déposée pour le 1er semestre 2021."
    assert evaluer(30, "2022-S1", **HAUSSE).explication == "Cible de 24 atteinte dès le 1er semestre 2022 (30)."


def test_unites_dans_les_explications():
    taux = dict(sens="hausse", unite="%", reference=10, annee_reference=2020, cibles={2022: 18})
    assert txt(evaluer(12.5, "2021", **taux).explication) == (
        "12,5 % en 2021 pour 14,0 % attendus sur la trajectoire vers 18,0 % en 2022 : écart de 1,5 point.")
    euros = dict(sens="hausse", unite="€", reference=1000, annee_reference=2020, cibles={2022: 3000})
    assert txt(evaluer(1200, "2021", **euros).explication) == (
        "1 200 € en 2021 pour 2 000 € attendus sur la trajectoire vers 3 000 € en 2022 : écart de 800 €.")
    heures = dict(sens="hausse", unite="heures", reference=0, annee_reference=2020, cibles={2022: 40})
    assert txt(evaluer(1, "2021", **heures).explication) == (
        "1 heure en 2021 pour 20 heures attendues sur la trajectoire vers 40 heures en 2022 : écart de 19 heures.")


def test_periode_et_sens_invalides():
    with pytest.raises(ValueError, match="Période"):
        evaluer(1, "2021-T3", **HAUSSE)
    with pytest.raises(ValueError, match="Sens"):
        evaluer(1, "2021", sens="stable")


# --------------------------------------------------------------------------------------------------------------------
# Une vraie base : le référentiel d'essai enrichi
# --------------------------------------------------------------------------------------------------------------------

def _indicateur(code, **champs):
    base = dict(code=code, libelle=code.capitalize(), unite="nombre", sens="hausse", periodicite="annuelle",
                niveau="QPV", agregation="somme", signataire="EPT")
    base.update(champs)
    return base


def referentiel(**modifs) -> dict:
    """Le référentiel minimal des tests, avec des références et cibles calculables à la main (2023 → 2030, 2025 est
    aux 2/7 du chemin) et de quoi exercer chaque règle :

    - PATROUILLES (somme) : A 120 → 160 en 2026 → 240 en 2030 ; B 80 → 100 en 2026 → 120 en 2030 ;
    - APPRENTIS (somme, semestriel) : A 5 → 19, B 3 → 10 ; JEUNES (somme) : A 100 → 100, B 300 → 300 ;
    - TAUX-APPRENTIS = 100 × APPRENTIS / JEUNES, avec aussi ses propres références et cibles par quartier ;
    - DELAI (territoire, non agrégeable, baisse, jours) : 34 → 20 ; DELAI-QPV (quartiers, non agrégeable) ;
    - ASSOCIATIONS : une référence, pas de cible ; PLACES : une cible, jamais de valeur.
    L'arbre : 1 → 1.1 → 1.1.1, et 2 → 2.1 (sans engagement).
    """
    d = classeurs.donnees()
    d["axes"].append(dict(code="2.1", parent="2", niveau="Objectif", libelle="Objectif sans indicateur"))
    ind = {i["code"]: i for i in d["indicateurs"]}
    ind["PATROUILLES"]["engagements"] = ["E2", "E1"]   # compté une seule fois pour le nœud 1.1
    d["indicateurs"] += [
        _indicateur("DELAI-QPV", unite="jours", sens="baisse", agregation="non agrégeable", engagements=["E1"]),
        _indicateur("ASSOCIATIONS", engagements=["E1"]),
        _indicateur("PLACES", unite="places", engagements=["E3"]),
    ]
    ref = [("PATROUILLES", A, 120), ("PATROUILLES", B, 80), ("APPRENTIS", A, 5), ("APPRENTIS", B, 3),
           ("JEUNES", A, 100), ("JEUNES", B, 300), ("TAUX-APPRENTIS", A, 5), ("TAUX-APPRENTIS", B, 1),
           ("DELAI", T, 34), ("DELAI-QPV", A, 40), ("ASSOCIATIONS", A, 5), ("PLACES", A, 10)]
    cib = [("PATROUILLES", A, 2026, 160), ("PATROUILLES", A, 2030, 240), ("PATROUILLES", B, 2026, 100),
           ("PATROUILLES", B, 2030, 120), ("APPRENTIS", A, 2030, 19), ("APPRENTIS", B, 2030, 10),
           ("JEUNES", A, 2030, 100), ("JEUNES", B, 2030, 300), ("TAUX-APPRENTIS", A, 2030, 19),
           ("TAUX-APPRENTIS", B, 2030, 3.5), ("DELAI", T, 2030, 20), ("DELAI-QPV", A, 2030, 20),
           ("PLACES", A, 2030, 20)]
    d["references"] = [dict(indicateur=i, perimetre=p, annee=2023, valeur=v) for i, p, v in ref]
    d["cibles"] = [dict(indicateur=i, perimetre=p, annee=a, valeur=v) for i, p, a, v in cib]
    d.update(modifs)
    return d


@pytest.fixture
def essai(store, tmp_path):
    importer_referentiel(store, classeurs.ecrire(tmp_path, referentiel()))
    return store


def deposer(store, lignes, signataire="EPT", quand=None) -> int:
    """Un dépôt de (indicateur, périmètre, période, valeur) ; renvoie son numéro."""
    valeurs = pd.DataFrame(lignes, columns=["indicateur", "perimetre", "periode", "valeur"])
    valeurs["valeur"] = valeurs["valeur"].astype(float)
    depot = store.ecrire(lambda con: enregistrer_depot(
        con, protocole=PROTO, signataire=signataire, periode=None, utilisateur="test", fichier_nom="test.csv",
        contenu=repr(lignes).encode(), valeurs=valeurs, depose_le=quand))
    return depot.id


# Les valeurs 2025 du cas de base.
VALEURS_2025 = [
    ("PATROUILLES", A, "2025", 150), ("PATROUILLES", B, "2025", 90),            # 240 = l'attendu
    ("APPRENTIS", A, "2025-S1", 8), ("APPRENTIS", A, "2025-S2", 10),
    ("APPRENTIS", B, "2025-S1", 3), ("APPRENTIS", B, "2025-S2", 6),
    ("JEUNES", A, "2025", 100), ("JEUNES", B, "2025", 300),
    ("TAUX-APPRENTIS", A, "2025", 10), ("TAUX-APPRENTIS", B, "2025", 2),
    ("DELAI", T, "2025", 31), ("DELAI-QPV", A, "2025", 25), ("ASSOCIATIONS", A, "2025", 6),
]


def _ligne(df: pd.DataFrame, indicateur: str, perimetre: str | None = None) -> pd.Series:
    masque = df["indicateur"] == indicateur
    if perimetre is not None:
        masque &= df["perimetre"] == perimetre
    assert masque.sum() == 1, (indicateur, perimetre)
    return df[masque].iloc[0]


def test_au_perimetre(essai):
    depot = deposer(essai, VALEURS_2025)
    df = av.indicateurs_au_perimetre(essai, PROTO, "2025")
    assert list(df.columns) == av.COLONNES_PERIMETRE
    # Une ligne par (indicateur, périmètre) qui a une référence, une cible ou une valeur ; dans l'ordre du référentiel.
    assert list(zip(df["indicateur"], df["perimetre"]))[:3] == [("PATROUILLES", A), ("PATROUILLES", B),
                                                                 ("APPRENTIS", A)]
    assert len(df) == 12   # 2 × 4 indicateurs par quartier (A, B) + DELAI, DELAI-QPV, ASSOCIATIONS, PLACES
    p = _ligne(df, "PATROUILLES", A)
    # 120 + (160 − 120) × 2/3 = 146,67 attendus en 2025 ; 150 est au-delà.
    assert p["valeur"] == 150 and p["reference"] == 120 and p["annee_reference"] == 2023
    assert p["cible_finale"] == 240 and p["annee_cible"] == 2030
    assert p["attendu"] == pytest.approx(120 + 40 * 2 / 3)
    assert p["progression"] == pytest.approx(30 / 120)
    assert p["statut"] == EN_BONNE_VOIE and p["depot_id"] == depot
    assert p["perimetre_libelle"] == "Quartier des Deux Rives" and p["niveau"] == "QPV"
    assert _ligne(df, "ASSOCIATIONS", A)["statut"] == SANS_CIBLE
    assert _ligne(df, "PLACES", A)["statut"] == NON_RENSEIGNE
    # Un indicateur du territoire : la ligne du périmètre territoire. Baisse : 34 − 14 × 2/7 = 30 attendus, marge 1,4.
    d = _ligne(df, "DELAI", T)
    assert (d["attendu"], d["statut"], d["niveau"]) == (30, EN_BONNE_VOIE, "Territoire")
    assert "dans la marge de tolérance" in d["explication"]
    assert df["explication"].str.len().min() > 0


def test_la_valeur_qui_fait_foi(essai):
    deposer(essai, [("PATROUILLES", A, "2025", 150)], quand=dt.datetime(2026, 1, 10))
    deposer(essai, [("PATROUILLES", A, "2025", 110)], quand=dt.datetime(2026, 2, 10))
    assert _ligne(av.indicateurs_au_perimetre(essai, PROTO, "2025"), "PATROUILLES", A)["valeur"] == 110
    # Un dépôt plus récent, marqué « à corriger » par la coordination, ne fait pas foi.
    fautif = deposer(essai, [("PATROUILLES", A, "2025", 999)], quand=dt.datetime(2026, 3, 10))
    essai.ecrire(lambda con: con.execute("UPDATE depot SET statut = 'à corriger' WHERE id = ?", [fautif]))
    p = _ligne(av.indicateurs_au_perimetre(essai, PROTO, "2025"), "PATROUILLES", A)
    assert p["valeur"] == 110 and p["depot_id"] != fautif


def test_somme_sur_tous_les_quartiers(essai):
    deposer(essai, VALEURS_2025)
    df = av.indicateurs_au_territoire(essai, PROTO, "2025")
    assert list(df.columns) == av.COLONNES_TERRITOIRE
    p = _ligne(df, "PATROUILLES")
    # Références 120 + 80 ; cibles 240 + 120 en 2030 ; attendu 146,67 + 93,33 = 240.
    assert (p["valeur"], p["reference"], p["cible_finale"], p["annee_cible"]) == (240, 200, 360, 2030)
    assert p["attendu"] == pytest.approx(240)
    assert p["statut"] == EN_BONNE_VOIE
    assert (p["nb_perimetres"], p["nb_renseignes"]) == (2, 2)
    assert (p["perimetre"], p["perimetre_libelle"]) == (T, "Établissement public territorial d'essai")
    assert txt(p["explication"]) == "Somme sur les 2 quartiers. 240 en 2025 pour 240 attendus sur la trajectoire " \
                                    "vers 360 en 2030."


def test_somme_avec_un_quartier_manquant(essai):
    deposer(essai, [("PATROUILLES", A, "2025", 150)])
    p = _ligne(av.indicateurs_au_territoire(essai, PROTO, "2025"), "PATROUILLES")
    # Seul A est renseigné : on le compare à sa propre trajectoire, pas à la cible de A + B (360).
    assert (p["valeur"], p["reference"], p["cible_finale"]) == (150, 120, 240)
    assert p["attendu"] == pytest.approx(120 + 40 * 2 / 3)
    assert p["statut"] == EN_BONNE_VOIE
    assert (p["nb_perimetres"], p["nb_renseignes"]) == (2, 1)
    assert p["explication"].startswith("Somme sur le seul quartier renseigné sur 2. 150 en 2025")


def test_somme_sans_aucune_valeur(essai):
    p = _ligne(av.indicateurs_au_territoire(essai, PROTO, "2025"), "PATROUILLES")
    assert p["statut"] == NON_RENSEIGNE and pd.isna(p["valeur"])
    assert p["cible_finale"] == 360          # la cible de l'ensemble reste affichée
    assert p["explication"] == "Aucun quartier renseigné sur 2. Aucune valeur déposée pour 2025."


def test_somme_quand_un_quartier_renseigne_n_a_pas_de_cible(essai):
    deposer(essai, VALEURS_2025 + [("APPRENTIS", V, "2025-S2", 4)])
    p = _ligne(av.indicateurs_au_territoire(essai, PROTO, "2025"), "APPRENTIS")
    # La comparaison porte sur A et B (10 + 6 = 16, au-delà des 9 + 5 = 14 attendus) ; V (sans cible) est cité à part.
    assert (p["valeur"], p["attendu"], p["cible_finale"], p["statut"]) == (16, 14, 29, EN_BONNE_VOIE)
    assert (p["nb_perimetres"], p["nb_renseignes"]) == (3, 3)
    assert "(2 sur 3)" in p["explication"] and "tous les périmètres renseignés : 20." in p["explication"]


def test_taux_recalcule_et_non_moyenne(essai):
    deposer(essai, VALEURS_2025)
    par_quartier = av.indicateurs_au_perimetre(essai, PROTO, "2025")
    taux = par_quartier[par_quartier["indicateur"] == "TAUX-APPRENTIS"]
    assert sorted(taux["valeur"]) == [2, 10]                  # moyenne des taux : 6 %
    t = _ligne(av.indicateurs_au_territoire(essai, PROTO, "2025"), "TAUX-APPRENTIS")
    # 100 × (10 + 6) / (100 + 300) = 4 % : B pèse trois fois plus que A.
    assert t["valeur"] == pytest.approx(4.0)
    assert t["valeur"] != pytest.approx(taux["valeur"].mean())
    # Référence 100 × (5 + 3) / 400 = 2 % ; cible 100 × (19 + 10) / 400 = 7,25 % ;
    # attendu 2025 : apprentis 9 + 5 = 14 sur 400 jeunes = 3,5 %.
    assert (t["reference"], t["annee_reference"], t["annee_cible"]) == (2.0, 2023, 2030)
    assert t["cible_finale"] == pytest.approx(7.25)
    assert t["attendu"] == pytest.approx(3.5)
    assert t["statut"] == EN_BONNE_VOIE
    assert t["progression"] == pytest.approx((4 - 2) / (7.25 - 2))
    assert "jamais une moyenne des taux" in t["explication"]


def test_taux_recalcule_sur_un_quartier_sans_depot_du_taux(essai):
    deposer(essai, [l for l in VALEURS_2025 if l[0] != "TAUX-APPRENTIS"])
    t = _ligne(av.indicateurs_au_perimetre(essai, PROTO, "2025"), "TAUX-APPRENTIS", B)
    # 100 × 6 / 300, sans dépôt du taux lui-même (donc sans numéro de dépôt).
    assert t["valeur"] == pytest.approx(2.0) and pd.isna(t["depot_id"])


def test_taux_avec_des_cibles_par_quartier_seulement(store, tmp_path):
    d = referentiel()
    d["cibles"] = [c for c in d["cibles"] if c["indicateur"] not in ("APPRENTIS", "JEUNES")]
    importer_referentiel(store, classeurs.ecrire(tmp_path, d))
    deposer(store, VALEURS_2025)
    t = _ligne(av.indicateurs_au_territoire(store, PROTO, "2025"), "TAUX-APPRENTIS")
    # La valeur se recalcule ; la cible de l'ensemble ne peut pas venir d'une moyenne des cibles par quartier.
    assert t["valeur"] == pytest.approx(4.0)
    assert t["statut"] == SANS_CIBLE and pd.isna(t["cible_finale"])
    assert "ne se moyennent pas" in t["explication"] and "APPRENTIS" in t["explication"]


def test_taux_compare_a_la_cible_du_territoire(store, tmp_path):
    d = referentiel()
    d["cibles"] = [c for c in d["cibles"] if c["indicateur"] not in ("APPRENTIS", "JEUNES")]
    importer_referentiel(store, classeurs.ecrire(tmp_path, d))
    # Le classeur refuse aujourd'hui une cible au territoire pour un indicateur suivi par quartier
    # (perimetre-hors-niveau) : on l'écrit directement pour exercer la règle de repli.
    store.ecrire(lambda con: (
        con.execute("INSERT INTO reference VALUES (?, 'TAUX-APPRENTIS', ?, 2023, 3)", [PROTO, T]),
        con.execute("INSERT INTO cible VALUES (?, 'TAUX-APPRENTIS', ?, 2030, 10)", [PROTO, T])))
    deposer(store, VALEURS_2025)
    t = _ligne(av.indicateurs_au_territoire(store, PROTO, "2025"), "TAUX-APPRENTIS")
    # 3 + 7 × 2/7 = 5 % attendus, marge 0,7 : 4 % est en retard.
    assert (t["valeur"], t["reference"], t["cible_finale"], t["attendu"]) == (pytest.approx(4), 3, 10, 5)
    assert t["statut"] == EN_RETARD
    assert "cible fixée pour l'ensemble du territoire" in t["explication"]


def test_non_agregeable(essai):
    deposer(essai, VALEURS_2025)
    df = av.indicateurs_au_territoire(essai, PROTO, "2025")
    q = _ligne(df, "DELAI-QPV")
    assert q["statut"] is None and pd.isna(q["valeur"]) and pd.isna(q["cible_finale"])
    assert q["explication"] == ("Pas de valeur d'ensemble (indicateur non agrégeable) : ses valeurs se lisent "
                                "périmètre par périmètre (1 quartier renseigné sur 1).")
    # Non agrégeable mais déclaré pour le territoire : sa valeur est celle du territoire.
    t = _ligne(df, "DELAI")
    assert (t["valeur"], t["attendu"], t["statut"], t["nb_perimetres"], t["nb_renseignes"]) == \
        (31, 30, EN_BONNE_VOIE, 1, 1)


def test_indicateur_sans_cible(essai):
    deposer(essai, VALEURS_2025)
    a = _ligne(av.indicateurs_au_territoire(essai, PROTO, "2025"), "ASSOCIATIONS")
    assert (a["statut"], a["valeur"], a["reference"], a["annee_reference"]) == (SANS_CIBLE, 6, 5, 2023)
    assert pd.isna(a["cible_finale"]) and pd.isna(a["attendu"]) and pd.isna(a["progression"])
    assert a["explication"] == ("Somme sur le seul quartier. Pas de cible fixée pour ces périmètres. "
                                "Valeur 2025 : 6.")


def test_periodes_semestrielles(essai):
    deposer(essai, VALEURS_2025 + [("APPRENTIS", V, "2025-S1", 2)])
    annee = av.indicateurs_au_perimetre(essai, PROTO, "2025")
    # L'année d'un indicateur semestriel : le 2e semestre, à défaut le 1er.
    assert _ligne(annee, "APPRENTIS", B)["valeur"] == 6
    v = _ligne(annee, "APPRENTIS", V)
    assert v["valeur"] == 2 and v["statut"] == SANS_CIBLE
    s1 = av.indicateurs_au_perimetre(essai, PROTO, "2025-S1")
    b = _ligne(s1, "APPRENTIS", B)
    # Mi-2025 = 2024,5 : 3 + 7 × 1,5/7 = 4,5 attendus, marge 0,7 ; 3 est en retard.
    assert (b["valeur"], b["attendu"], b["statut"]) == (3, 4.5, EN_RETARD)
    assert b["explication"].startswith("3 au 1er semestre 2025 pour 4,5 attendus")
    # Un indicateur annuel n'a pas de valeur au 1er semestre ; au 2e, sa valeur annuelle vaut.
    p = _ligne(s1, "PATROUILLES", A)
    assert p["statut"] == NON_RENSEIGNE and p["explication"].startswith("Indicateur annuel : pas de valeur au 1er")
    assert _ligne(av.indicateurs_au_perimetre(essai, PROTO, "2025-S2"), "PATROUILLES", A)["valeur"] == 150


def test_annee_d_un_semestriel_par_le_premier_semestre(essai):
    deposer(essai, [("APPRENTIS", A, "2025-S1", 8), ("APPRENTIS", B, "2025-S1", 3)])
    p = _ligne(av.indicateurs_au_territoire(essai, PROTO, "2025"), "APPRENTIS")
    # Faute de 2e semestre, le 1er : 11 comparés à l'attendu de mi-2025 (2024,5), et non aux 14 de fin 2025 :
    # A 5 + 14 × 1,5/7 = 8, B 3 + 7 × 1,5/7 = 4,5, soit 12,5 ; marge 10 % × (29 − 8) = 2,1.
    assert (p["valeur"], p["attendu"], p["statut"]) == (11, pytest.approx(12.5), EN_BONNE_VOIE)
    assert "au 1er semestre 2025" in p["explication"]


def test_selection_de_quartiers(essai):
    deposer(essai, VALEURS_2025)
    df = av.indicateurs_au_territoire(essai, PROTO, "2025", perimetres=[A])
    # Les indicateurs du territoire ne disent rien d'un quartier : omis, sauf si le territoire est sélectionné.
    assert "DELAI" not in set(df["indicateur"])
    p = _ligne(df, "PATROUILLES")
    assert (p["valeur"], p["cible_finale"], p["nb_perimetres"], pd.isna(p["perimetre"])) == (150, 240, 1, True)
    assert "DELAI" in set(av.indicateurs_au_territoire(essai, PROTO, "2025", perimetres=[A, T])["indicateur"])
    with pytest.raises(ValueError, match="QN99999Z"):
        av.indicateurs_au_territoire(essai, PROTO, "2025", perimetres=["QN99999Z"])


def test_avancement_par_noeud_sur_trois_niveaux(essai):
    deposer(essai, [
        ("PATROUILLES", A, "2025", 150), ("PATROUILLES", B, "2025", 90),          # en bonne voie
        ("DELAI", T, "2025", 32),                                                  # en retard (30 attendus ± 1,4)
        ("ASSOCIATIONS", A, "2025", 6),                                            # sans cible
        ("APPRENTIS", A, "2025-S2", 20), ("APPRENTIS", B, "2025-S2", 12),          # 32 ≥ 29 : atteint
        ("JEUNES", A, "2025", 100), ("JEUNES", B, "2025", 300),                    # taux 8 % ≥ 7,25 % : atteint
        ("DELAI-QPV", A, "2025", 25),                                              # non agrégeable : pas compté
    ])                                                                             # PLACES : non renseigné
    df = av.avancement_par_noeud(essai, PROTO, "2025")
    assert list(df.columns) == av.COLONNES_NOEUD
    assert list(df["code"]) == ["1", "1.1", "1.1.1", "2", "2.1"]
    assert list(df["profondeur"]) == [1, 2, 3, 1, 2]
    comptes = {r.code: (r.nb_atteint, r.nb_en_bonne_voie, r.nb_en_retard, r.nb_non_renseigne, r.nb_sans_cible)
               for r in df.itertuples()}
    assert comptes == {
        "1.1.1": (0, 1, 0, 0, 0),   # PATROUILLES
        "1.1": (0, 1, 1, 0, 1),     # + DELAI, ASSOCIATIONS ; PATROUILLES (E1 et E2) compté une fois
        "1": (0, 1, 1, 0, 1),       # rien de plus en propre
        "2": (2, 0, 0, 1, 0),       # APPRENTIS, TAUX-APPRENTIS, PLACES
        "2.1": (0, 0, 0, 0, 0),
    }
    scores = dict(zip(df["code"], df["score"]))
    assert scores["1.1.1"] == 100 and scores["1.1"] == 50 and scores["1"] == 50 and scores["2"] == 100
    assert math.isnan(scores["2.1"])
    assert av.score(0, 0, 0) is None and av.score(1, 1, 2) == 50


def test_protocole_inconnu(store):
    with pytest.raises(ProtocoleInconnu):
        av.indicateurs_au_territoire(store, "INCONNU", "2025")


# --------------------------------------------------------------------------------------------------------------------
# La démonstration
# --------------------------------------------------------------------------------------------------------------------

def test_demonstration_troyes_2021(store_demo):
    code = "TCM-PERR-2019"
    par_perimetre = av.indicateurs_au_perimetre(store_demo, code, "2021")
    territoire = av.indicateurs_au_territoire(store_demo, code, "2021")
    noeuds = av.avancement_par_noeud(store_demo, code, "2021")
    vus = set(par_perimetre["statut"]) | set(territoire["statut"].dropna())
    assert {ATTEINT, EN_BONNE_VOIE, EN_RETARD, NON_RENSEIGNE} <= vus
    for df in (par_perimetre, territoire):
        assert df["explication"].map(lambda e: isinstance(e, str) and len(e.strip()) > 0).all()
    assert set(par_perimetre["statut"]) <= set(STATUTS)
    assert set(territoire["statut"].dropna()) <= set(STATUTS)
    assert len(territoire) == territoire["indicateur"].nunique() == 62
    assert len(noeuds) == 17 and noeuds["score"].between(0, 100).all()
    # Chaque indicateur agrégeable a un statut au territoire ; les deux non agrégeables par quartier ou commune, non.
    assert territoire["statut"].isna().sum() == 2


def test_demonstration_sans_cible(store_demo):
    # La démonstration fixe une cible partout ; sans les cibles d'un indicateur, il passe « sans cible ».
    store_demo.ecrire(lambda con: con.execute(
        "DELETE FROM cible WHERE protocole = 'TCM-PERR-2019' AND indicateur = 'SEC-VIDEO'"))
    territoire = av.indicateurs_au_territoire(store_demo, "TCM-PERR-2019", "2021")
    assert _ligne(territoire, "SEC-VIDEO")["statut"] == SANS_CIBLE
    assert (_ligne(av.indicateurs_au_perimetre(store_demo, "TCM-PERR-2019", "2021"), "SEC-VIDEO", "QN01001I")["statut"]
            == SANS_CIBLE)


def test_exemple_complet_de_docs_avancement():
    """L'exemple chiffré de docs/avancement.md."""
    regle = dict(sens="hausse", unite="nombre", annee_reference=2020)
    chartreux = evaluer(9, "2021", reference=5, cibles={2022: 15}, **regle)
    assert (chartreux.statut, chartreux.attendu, chartreux.progression) == (EN_BONNE_VOIE, 10, 0.4)
    guesde = evaluer(3, "2021", reference=3, cibles={2022: 9}, **regle)
    assert (guesde.statut, guesde.attendu, guesde.progression) == (EN_RETARD, 6, 0)
    territoire = evaluer(9 + 3, "2021", reference=5 + 3, cibles={2022: 15 + 9}, **regle)
    assert (territoire.statut, territoire.attendu, territoire.progression) == (EN_RETARD, 16, 0.25)
    assert territoire.explication == "12 en 2021 pour 16 attendus sur la trajectoire vers 24 en 2022 : écart de 4."
    assert av.score(1, 2, 1) == 75
