"""Les vues du COPIL (perr_metrics/pilotage/vues.py), sur des cas calculés à la main et sur la démonstration.

Le petit référentiel des tests du modèle d'avancement (tests/core/test_avancement.py : 2024–2030, références 2023,
PATROUILLES A 120 → 160 en 2026 → 240 en 2030 et B 80 → 100 → 120, DELAI 34 → 20 jours, etc.) reçoit des dépôts datés ;
chaque vue est comparée à ce que le modèle d'avancement dit lui-même, jamais recalculée autrement.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from perr_metrics.pilotage import avancement as av
from perr_metrics.depots import depot as depots
from perr_metrics.referentiel import requetes
from perr_metrics.pilotage import vues
from perr_metrics.referentiel.classeur import importer_referentiel
from tests import classeurs
from tests.core.test_avancement import PROTO, VALEURS_2025, A, B, T, deposer, referentiel

TROYES, BLOIS = "TCM-PERR-2019", "BLOIS-PERR-2020"


@pytest.fixture
def essai(store, tmp_path):
    importer_referentiel(store, classeurs.ecrire(tmp_path, referentiel()))
    return store


def jour(a, m, j):
    return dt.datetime(a, m, j, 10, 0)


@pytest.fixture
def deux_annees(essai):
    """2024 puis 2025, avec des dépôts datés autour du 31 décembre 2024 (voir test_changements_a_la_main)."""
    ids = {}
    ids["avant"] = deposer(essai, [("ASSOCIATIONS", A, "2024", 5)], quand=jour(2024, 12, 20))
    ids["2024"] = deposer(essai, [("PATROUILLES", A, "2024", 133), ("PATROUILLES", B, "2024", 87),
                                  ("DELAI", T, "2024", 33)], quand=jour(2025, 1, 15))
    ids["2025"] = deposer(essai, [("PATROUILLES", A, "2025", 130), ("PATROUILLES", B, "2025", 85),
                                  ("DELAI", T, "2025", 29), ("PLACES", A, "2025", 20)], quand=jour(2026, 1, 20))
    ids["2026"] = deposer(essai, [("PATROUILLES", A, "2026", 170)], quand=jour(2026, 2, 1))
    ids["rattrapage"] = deposer(essai, [("ASSOCIATIONS", A, "2025", 6), ("ASSOCIATIONS", A, "2026", 7)],
                                quand=jour(2026, 3, 1))
    return ids


# --------------------------------------------------------------------------------------------------------------------
# Périodes
# --------------------------------------------------------------------------------------------------------------------

def test_periodes():
    assert vues.periodes(2020, 2022) == ["2020", "2021", "2022"]
    assert vues.periodes(2021, 2022, semestres=True) == ["2021-S1", "2021-S2", "2022-S1", "2022-S2"]
    assert [vues.periode_precedente(p) for p in ("2021", "2021-S2", "2021-S1", 2021)] == \
        ["2020", "2021-S1", "2020-S2", "2020"]
    assert vues.fin_de_periode("2021") == dt.date(2021, 12, 31)
    assert vues.fin_de_periode("2021-S1") == dt.date(2021, 6, 30)
    assert vues.fin_de_periode("2021-S2") == dt.date(2021, 12, 31)
    assert [vues.libelle_periode(p) for p in ("2021", "2021-S1", "2021-S2")] == \
        ["2021", "1er semestre 2021", "2e semestre 2021"]
    with pytest.raises(ValueError, match="Période"):
        vues.periode_precedente("2021-T3")


# --------------------------------------------------------------------------------------------------------------------
# Vue d'ensemble
# --------------------------------------------------------------------------------------------------------------------

def test_synthese_a_la_main(essai, deux_annees):
    s = vues.synthese(essai, PROTO, "2025")
    # PLACES atteint ; DELAI en bonne voie ; PATROUILLES en retard (215 pour 240 attendus, marge 16) ; APPRENTIS,
    # JEUNES et TAUX-APPRENTIS non renseignés ; ASSOCIATIONS sans cible ; DELAI-QPV non agrégeable.
    assert dict(zip(s.statuts["statut"], s.statuts["nombre"])) == {
        "atteint": 1, "en bonne voie": 1, "en retard": 1, "non renseigné": 3, "sans cible": 1}
    assert list(s.statuts["statut"]) == list(av.STATUTS)
    assert s.statuts["part"].sum() == pytest.approx(100, abs=0.2)
    assert (s.nb_indicateurs, s.nb_juges, s.nb_sans_valeur_ensemble) == (8, 3, 1)
    assert s.score == pytest.approx(200 / 3)


def test_synthese_sans_aucune_valeur(essai):
    s = vues.synthese(essai, PROTO, "2025")
    assert s.score is None and s.nb_juges == 0
    assert s.statuts["nombre"].sum() == 7


def test_changements_sans_aucun_depot(essai):
    """Sans aucun dépôt depuis la période précédente : rien de nouveau (une liste vide, pas une erreur)."""
    ch = vues.changements(essai, PROTO, "2025")
    assert ch.depots.empty and "periodes" in ch.depots.columns
    assert vues.nouveaux_depots(essai, PROTO, "2025").empty


def test_changements_a_la_main(essai, deux_annees):
    ch = vues.changements(essai, PROTO, "2025")
    assert (ch.periode, ch.precedente, ch.fin_precedente) == ("2025", "2024", dt.date(2024, 12, 31))
    # 2024 : PATROUILLES 220 pour 220 attendus et DELAI 33 pour 32 (marge 1,4) en bonne voie : score 100.
    assert ch.score_precedent == 100
    assert ch.statuts.to_dict("records") == [
        dict(indicateur="PATROUILLES", libelle="Patrouilles pédestres", statut_precedent="en bonne voie",
             statut="en retard", evolution="dégradation"),
        dict(indicateur="PLACES", libelle="Places", statut_precedent="non renseigné", statut="atteint",
             evolution="désormais jugé"),
    ]
    v = ch.variations.set_index("indicateur")
    # Classement : DELAI (+28,6 points du chemin 34 → 20), ASSOCIATIONS (sans cible : +20 %), PATROUILLES (−3,1 points).
    assert list(v.index) == ["DELAI", "ASSOCIATIONS", "PATROUILLES"]
    assert v.loc["DELAI", "variation"] == -4 and bool(v.loc["DELAI", "favorable"])       # un délai qui baisse
    assert v.loc["DELAI", "ecart_progression"] == pytest.approx(100 * (5 - 1) / 14)
    assert v.loc["ASSOCIATIONS", "variation_relative"] == pytest.approx(20)
    assert pd.isna(v.loc["ASSOCIATIONS", "ecart_progression"]) and v.loc["ASSOCIATIONS", "ampleur"] == 20
    assert (v.loc["PATROUILLES", "valeur_precedente"], v.loc["PATROUILLES", "valeur"]) == (220, 215)
    assert v.loc["PATROUILLES", "ecart_progression"] == pytest.approx(100 * (15 - 20) / 160)
    assert not bool(v.loc["PATROUILLES", "favorable"])
    assert list(ch.variations.columns) == vues.COLONNES_VARIATIONS


def test_nouveaux_depots(essai, deux_annees):
    ids = deux_annees
    d = vues.nouveaux_depots(essai, PROTO, "2025")
    # Reçus depuis le 1er janvier 2025, avec une valeur de 2025 ou d'avant : le rattrapage (2025 et 2026), celui de
    # 2025 et le rapport 2024 arrivé en janvier 2025 ; pas celui de décembre 2024, ni celui qui ne porte que sur 2026.
    assert list(d["id"]) == [ids["rattrapage"], ids["2025"], ids["2024"]]
    assert d["periodes"].iloc[0] == "2025, 2026"
    assert set(d.columns) >= {"signataire_nom", "depose_le", "fichier_nom", "utilisateur", "nb_valeurs", "statut"}
    # Au 1er semestre 2025, seules comptent les valeurs d'au plus tard mi-2025 : le rapport 2024.
    assert list(vues.nouveaux_depots(essai, PROTO, "2025-S1")["id"]) == [ids["2024"]]
    assert vues.changements(essai, PROTO, "2025").depots["id"].tolist() == list(d["id"])


def test_premiere_periode_sans_comparaison(essai, deux_annees):
    ch = vues.changements(essai, PROTO, "2024")
    assert ch.precedente is None and ch.score_precedent is None
    assert ch.statuts.empty and ch.variations.empty
    assert list(ch.statuts.columns) == vues.COLONNES_CHANGEMENTS_STATUT
    assert deux_annees["2024"] in set(ch.depots["id"]) and deux_annees["avant"] in set(ch.depots["id"])


def test_lecteur_en_cache_est_utilise(essai, deux_annees):
    """Les vues composées passent chaque lecture par `lire` : le tableau de bord y met son cache."""
    appels = []

    def lire(fonction, *args):
        appels.append((fonction.__name__, args))
        return fonction(essai, *args)

    # Les vues d'une période partagent une lecture (`_pilotage`) : l'évaluation au territoire de la période et de la
    # précédente, les nouveaux dépôts, l'arborescence ; passée par `lire`, elle n'est faite qu'une fois.
    ch = vues.changements(essai, PROTO, "2025", lire=lire)
    assert appels == [("_pilotage", (PROTO, "2025"))]
    brut = vues._pilotage(essai, PROTO, "2025")
    for q in ("2025", "2024"):
        pd.testing.assert_frame_equal(brut.territoire[q], av.indicateurs_au_territoire(essai, PROTO, q))
    pd.testing.assert_frame_equal(ch.depots, vues.nouveaux_depots(essai, PROTO, "2025"))
    for vue in (vues.synthese, vues.arbre_avancement, vues.indicateurs_du_noeud):
        appels.clear()
        vue(essai, PROTO, "2025", lire=lire)
        assert ("_pilotage", (PROTO, "2025")) in appels
        assert not {"indicateurs_au_territoire", "avancement_par_noeud"} & {nom for nom, _ in appels}
    appels.clear()
    # La série : toutes les périodes (2024 … 2030) en une seule lecture, limitée à l'indicateur, passée par `lire` ;
    # la situation à une de ces périodes reprend la même lecture (en cache, elle n'est faite qu'une fois).
    vues.serie_indicateur(essai, PROTO, "PATROUILLES", lire=lire)
    assert appels == [("_donnees_serie", (PROTO, "PATROUILLES"))]
    appels.clear()
    vues.situation(essai, PROTO, "2025", "PATROUILLES", lire=lire)
    assert appels == [("_donnees_serie", (PROTO, "PATROUILLES"))]


def test_demonstration_statuts_et_changements(store_demo):
    for periode in ("2021", "2022"):
        t = av.indicateurs_au_territoire(store_demo, TROYES, periode)
        s = vues.synthese(store_demo, TROYES, periode)
        assert dict(zip(s.statuts["statut"], s.statuts["nombre"])) == \
            {k: int(t["statut"].value_counts().get(k, 0)) for k in av.STATUTS}
        avant = av.indicateurs_au_territoire(store_demo, TROYES, str(int(periode) - 1)).set_index("indicateur")
        apres = t.set_index("indicateur")
        change = {i for i in apres.index if (apres.at[i, "statut"] or "-") != (avant.at[i, "statut"] or "-")}
        ch = vues.changements(store_demo, TROYES, periode)
        assert set(ch.statuts["indicateur"]) == change
        assert ch.variations["ampleur"].is_monotonic_decreasing
    # En 2022, des signataires n'ont rien envoyé : des indicateurs « ne sont plus jugés ».
    assert "plus jugé" in set(vues.changements(store_demo, TROYES, "2022").statuts["evolution"])


# --------------------------------------------------------------------------------------------------------------------
# Engagements
# --------------------------------------------------------------------------------------------------------------------

def saisir_etats(store, lignes):
    """(engagement, état, date de l'état, moment de la saisie) ; écrits tels quels dans la table du suivi."""
    store.ecrire(lambda con: [con.execute(
        "INSERT INTO etat_engagement VALUES (?, ?, ?, ?, NULL, 'test', ?, NULL)", [PROTO, e, etat, date_etat, saisi])
        for e, etat, date_etat, saisi in lignes])


def test_etats_des_engagements(essai):
    saisir_etats(essai, [
        ("E1", "en cours", dt.date(2025, 3, 1), jour(2025, 3, 2)),
        ("E1", "réalisé", dt.date(2025, 9, 1), jour(2025, 9, 2)),
        ("E1", "reporté", dt.date(2025, 6, 1), jour(2025, 10, 1)),     # saisi après coup, mais daté d'avant
        ("E2", "non démarré", dt.date(2025, 1, 1), jour(2025, 1, 2)),
        ("E2", "abandonné", dt.date(2025, 1, 1), jour(2025, 1, 3)),    # même date : la dernière saisie l'emporte
    ])
    e = vues.etats_des_engagements(essai, PROTO).set_index("code")
    assert e["etat"].to_dict() == {"E1": "réalisé", "E2": "abandonné", "E3": "non renseigné"}
    assert e.loc["E1", "indicateurs"] == "ASSOCIATIONS, DELAI, DELAI-QPV, PATROUILLES"
    assert e.loc["E3", "porteurs_noms"] == "EPT d'essai, Commune A"
    assert list(vues.etats_des_engagements(essai, PROTO, "1.1")["code"]) == ["E1", "E2"]
    assert list(vues.etats_des_engagements(essai, PROTO, "2")["code"]) == ["E3"]
    assert vues.etats_des_engagements(essai, PROTO, "2.1").empty
    r = vues.repartition_etats(vues.etats_des_engagements(essai, PROTO))
    assert list(r["etat"]) == list(vues.ETATS)
    assert dict(zip(r["etat"], r["nombre"])) == {"non démarré": 0, "en cours": 0, "réalisé": 1, "reporté": 0,
                                                 "abandonné": 1, "non renseigné": 1}
    assert r["part"].max() == pytest.approx(33.3)


def test_repartition_vide_et_etat_inconnu():
    vide = vues.repartition_etats(pd.DataFrame({"etat": []}))
    assert vide["nombre"].sum() == 0 and len(vide) == len(vues.ETATS)
    inconnu = vues.repartition_etats(pd.DataFrame({"etat": ["en cours", "suspendu"]}))
    assert dict(zip(inconnu["etat"], inconnu["nombre"]))["suspendu"] == 1


# --------------------------------------------------------------------------------------------------------------------
# Par axe
# --------------------------------------------------------------------------------------------------------------------

def test_arbre_fil_d_ariane_et_enfants(essai, deux_annees):
    arbre = vues.arbre_avancement(essai, PROTO, "2025")
    assert list(arbre["code"]) == ["1", "1.1", "1.1.1", "2", "2.1"]
    assert dict(zip(arbre["code"], arbre["nb_engagements"])) == {"1": 2, "1.1": 2, "1.1.1": 1, "2": 1, "2.1": 0}
    assert dict(zip(arbre["code"], arbre["niveau"]))["1.1"] == "Thématique"
    # 1.1 : PATROUILLES en retard, DELAI en bonne voie, ASSOCIATIONS sans cible (DELAI-QPV n'a pas de statut).
    un = arbre.set_index("code").loc["1.1"]
    assert (un["nb_en_retard"], un["nb_en_bonne_voie"], un["nb_sans_cible"], un["nb_juges"], un["score"]) == \
        (1, 1, 1, 2, 50)
    assert list(vues.fil_d_ariane(arbre, "1.1.1")["code"]) == ["1", "1.1", "1.1.1"]
    assert vues.fil_d_ariane(arbre, "").empty and vues.fil_d_ariane(arbre, "99").empty
    assert list(vues.enfants(arbre, None)["code"]) == ["1", "2"] == list(vues.axes(arbre)["code"])
    assert list(vues.enfants(arbre, "1")["code"]) == ["1.1"]
    assert vues.enfants(arbre, "1.1.1").empty
    long = vues.statuts_en_long(vues.axes(arbre))
    assert list(zip(long["code"], long["statut"], long["nombre"])) == [
        ("1", "en bonne voie", 1), ("1", "en retard", 1), ("1", "sans cible", 1),
        ("2", "atteint", 1), ("2", "non renseigné", 2)]


def test_indicateurs_du_noeud(essai, deux_annees):
    un = vues.indicateurs_du_noeud(essai, PROTO, "2025", "1.1").set_index("indicateur")
    assert list(un.index) == ["PATROUILLES", "DELAI", "DELAI-QPV", "ASSOCIATIONS"]    # ordre du référentiel
    assert un.loc["PATROUILLES", "engagements"] == "E1, E2"
    assert un.loc["PATROUILLES", "statut"] == "en retard" and un.loc["PATROUILLES", "valeur"] == 215
    assert un.loc["DELAI", "signataire_nom"] == "CAF"
    assert vues.indicateurs_du_noeud(essai, PROTO, "2025", "1.1.1").set_index("indicateur")["engagements"].to_dict() \
        == {"PATROUILLES": "E2"}
    assert vues.indicateurs_du_noeud(essai, PROTO, "2025", "2.1").empty
    tous = vues.indicateurs_du_noeud(essai, PROTO, "2025")
    assert len(tous) == 8 and pd.isna(tous.set_index("indicateur").loc["JEUNES", "engagements"])


def test_indicateurs_du_noeud_comptent_comme_l_avancement(store_demo):
    """Pour chaque nœud de Troyes et chaque axe de Blois, les indicateurs listés donnent exactement les comptes du
    modèle."""
    cache = {}

    def lire(fonction, *args):   # comme ui.lire : le calcul du protocole n'est fait qu'une fois
        cle = (fonction.__name__, args)
        if cle not in cache:
            cache[cle] = fonction(store_demo, *args)
        return cache[cle]

    for code in (TROYES, BLOIS):
        arbre = vues.arbre_avancement(store_demo, code, "2021", lire=lire)
        # Les comptes de l'arbre sont ceux du modèle, nœud par nœud (calculés ici à partir de l'évaluation partagée).
        pd.testing.assert_frame_equal(arbre[av.COLONNES_NOEUD], av.avancement_par_noeud(store_demo, code, "2021"))
        for r in (arbre if code == TROYES else vues.axes(arbre)).itertuples():
            ind = vues.indicateurs_du_noeud(store_demo, code, "2021", r.code, lire=lire)
            c = ind["statut"].value_counts()
            assert [int(c.get(s, 0)) for s in av.STATUTS] == \
                [r.nb_atteint, r.nb_en_bonne_voie, r.nb_en_retard, r.nb_non_renseigne, r.nb_sans_cible], r.code
            assert len(ind) == r.nb_indicateurs


# --------------------------------------------------------------------------------------------------------------------
# Fiche indicateur
# --------------------------------------------------------------------------------------------------------------------

def test_fiche_indicateur(essai):
    f = vues.fiche_indicateur(essai, PROTO, "TAUX-APPRENTIS")
    assert f.indicateur["libelle"] == "Part des jeunes en apprentissage" and f.indicateur["unite"] == "%"
    assert (f.indicateur["numerateur_libelle"], f.indicateur["denominateur_libelle"]) == \
        ("Apprentis résidant en QPV", "Jeunes de 16 à 25 ans")
    assert f.indicateur["signataire_nom"] == "EPT d'essai" and f.indicateur["source"] is None
    assert list(f.engagements["code"]) == ["E3"] and f.engagements["etat"].iloc[0] == "non renseigné"
    assert vues.fiche_indicateur(essai, PROTO, "JEUNES").engagements.empty
    with pytest.raises(vues.IndicateurInconnu, match="INCONNU"):
        vues.fiche_indicateur(essai, PROTO, "INCONNU")


@pytest.mark.parametrize("indicateur, attendu", [
    # Somme : références 120 + 80, cibles 160 + 100 en 2026 et 240 + 120 en 2030.
    ("PATROUILLES", [(2023, 200, "référence"), (2026, 260, "cible intermédiaire"), (2030, 360, "cible finale")]),
    # Taux recalculé : 100 × (5 + 3) / 400 = 2 % ; 100 × (19 + 10) / 400 = 7,25 %.
    ("TAUX-APPRENTIS", [(2023, 2, "référence"), (2030, 7.25, "cible finale")]),
    ("APPRENTIS", [(2023, 8, "référence"), (2030, 29, "cible finale")]),
    ("DELAI", [(2023, 34, "référence"), (2030, 20, "cible finale")]),     # déclaré au territoire
    ("PLACES", [(2023, 10, "référence"), (2030, 20, "cible finale")]),
    ("DELAI-QPV", []),                                                    # non agrégeable
    ("ASSOCIATIONS", []),                                                 # sans cible
])
def test_trajectoire_du_territoire(essai, indicateur, attendu):
    fiche = vues.fiche_indicateur(essai, PROTO, indicateur).indicateur
    traj = vues.trajectoire_du_territoire(vues.references_et_cibles(essai, PROTO, indicateur), fiche, T)
    assert [(a, pytest.approx(v), n) for a, v, n in zip(traj["annee"], traj["valeur"], traj["nature"])] == attendu


def test_trajectoire_du_territoire_est_celle_du_modele(store_demo):
    """Quand tous les périmètres attendus sont renseignés, la valeur attendue du modèle est sur la trajectoire
    tracée."""
    verifies = 0
    for code in (TROYES, BLOIS):
        p = requetes.protocole(store_demo, code)
        fiches = requetes.indicateurs(store_demo, code).set_index("code", drop=False)
        rc = vues.references_et_cibles(store_demo, code)          # tous les indicateurs d'un coup
        semestriels = set(fiches.index[fiches["periodicite"] == "semestrielle"])
        for periode in ("2020", "2021", "2021-S1"):
            t = av.indicateurs_au_territoire(store_demo, code, periode)
            # Sur l'année, un semestriel peut être jugé sur son 1er semestre : on le vérifie par semestre.
            t = t[t["indicateur"].isin(semestriels) == ("-S" in periode)]
            complets = t[(t["nb_renseignes"] == t["nb_perimetres"]) & t["attendu"].notna()]
            for r in complets.itertuples():
                traj = vues.trajectoire_du_territoire(rc, fiches.loc[r.indicateur].to_dict(), p["code_territoire"])
                points = list(zip(traj["annee"].astype(float), traj["valeur"]))
                instant = av.lire_periode(periode).instant
                assert av.valeur_attendue(points, instant) == pytest.approx(r.attendu), (code, r.indicateur, periode)
                assert traj["valeur"].iloc[-1] == pytest.approx(r.cible_finale)
                verifies += 1
    assert verifies > 50


def test_serie_indicateur(essai):
    deposer(essai, VALEURS_2025)
    s = vues.serie_indicateur(essai, PROTO, "PATROUILLES")
    assert list(s.territoire["periode"]) == [str(a) for a in range(2024, 2031)]
    ligne = s.territoire.set_index("periode").loc["2025"]
    assert (ligne["valeur"], ligne["statut"], ligne["instant"]) == (240, "en bonne voie", 2025.0)
    assert s.territoire.set_index("periode").loc["2024", "statut"] == "non renseigné"
    assert set(s.perimetres["perimetre"]) == {A, B}
    assert s.perimetres.set_index(["periode", "perimetre"]).loc[("2025", A), "valeur"] == 150
    assert list(s.trajectoire["annee"]) == [2023, 2026, 2030]
    # Sans le détail par périmètre : le territoire seul, et un tableau des périmètres vide mais bien formé.
    seul = vues.serie_indicateur(essai, PROTO, "PATROUILLES", par_perimetre=False)
    pd.testing.assert_frame_equal(seul.territoire, s.territoire)
    assert seul.perimetres.empty and list(seul.perimetres.columns) == list(s.perimetres.columns)
    # Un indicateur semestriel se suit par semestre : mi-2025 (2024,5), 8 + 3 apprentis.
    sem = vues.serie_indicateur(essai, PROTO, "APPRENTIS")
    assert list(sem.territoire["periode"][:3]) == ["2024-S1", "2024-S2", "2025-S1"]
    s1 = sem.territoire.set_index("periode").loc["2025-S1"]
    assert (s1["valeur"], s1["instant"]) == (11, 2024.5)
    assert [vues.libelle_instant(x, sem) for x in (2024.5, 2025.0, 2023)] == ["S1 2025", "S2 2025", "2023"]
    assert vues.libelle_instant(2025.0, s) == "2025"
    tab = vues.serie_en_tableau(s, s.perimetres[s.perimetres["perimetre"] == A])
    assert list(tab.columns) == ["Série", "Période", "Valeur", "Valeur attendue", "Statut"]
    assert set(tab["Série"]) == {"Territoire", "Trajectoire : référence", "Trajectoire : cible intermédiaire",
                                 "Trajectoire : cible finale", "Quartier des Deux Rives"}


def test_serie_et_situation_sont_les_evaluations_de_chaque_periode(store_demo):
    """Lue en une fois pour toutes les périodes et limitée à l'indicateur, la série donne, période par période, les
    lignes mêmes de l'évaluation de tout le protocole ; la situation aussi."""
    p = requetes.protocole(store_demo, TROYES)
    ind = requetes.indicateurs(store_demo, TROYES).set_index("code")
    choix = [ind.index[0], ind.index[-1]] + [
        ind.index[masque][0] for masque in (ind["periodicite"] == "semestrielle",
                                            (ind["agregation"] == "taux") & (ind["niveau"] == "QPV"),
                                            ind["agregation"] == "non agrégeable") if masque.any()]
    assert len(choix) == 5
    for code in choix:
        s = vues.serie_indicateur(store_demo, TROYES, code)
        qs = vues.periodes_de_l_indicateur(p, ind.loc[code, "periodicite"])
        assert list(s.territoire["periode"]) == qs
        for q in qs:
            t = av.indicateurs_au_territoire(store_demo, TROYES, q)
            t = t[t["indicateur"] == code].reset_index(drop=True)
            ici = s.territoire[s.territoire["periode"] == q].drop(columns=["periode", "instant"])
            pd.testing.assert_frame_equal(ici.reset_index(drop=True), t)
            per = av.indicateurs_au_perimetre(store_demo, TROYES, q)
            per = per[per["indicateur"] == code].reset_index(drop=True)
            ici = s.perimetres[s.perimetres["periode"] == q].drop(columns=["periode", "instant"])
            pd.testing.assert_frame_equal(ici.reset_index(drop=True), per)
            sit = vues.situation(store_demo, TROYES, q, code)
            pd.testing.assert_frame_equal(sit.perimetres, per)
            pd.testing.assert_series_equal(pd.Series(sit.territoire), pd.Series(t.iloc[0].to_dict()))


def test_situation(essai):
    deposer(essai, VALEURS_2025)
    s = vues.situation(essai, PROTO, "2025", "PATROUILLES")
    assert s.territoire["valeur"] == 240 and s.territoire["statut"] == "en bonne voie"
    assert list(s.perimetres["perimetre"]) == [A, B] and list(s.perimetres["valeur"]) == [150, 90]
    assert list(vues.perimetres_en_tableau(s.perimetres).columns)[:3] == ["Code", "Périmètre", "Valeur"]
    assert vues.situation(essai, PROTO, "2025", "INCONNU").territoire is None


def test_provenance(essai):
    premier = deposer(essai, [("PATROUILLES", A, "2025", 150), ("PATROUILLES", B, "2025", 90)],
                      quand=jour(2026, 1, 10))
    second = deposer(essai, [("PATROUILLES", A, "2025", 110)], quand=jour(2026, 2, 10))
    fautif = deposer(essai, [("PATROUILLES", A, "2025", 999)], quand=jour(2026, 3, 10))
    depots.revoir_depot(essai, fautif, "à corriger", "999 : faute de frappe")
    p = vues.provenance(essai, PROTO, "PATROUILLES")
    assert list(zip(p["perimetre"], p["depot_id"], p["valeur"], p["sort"])) == [
        (A, fautif, 999, "écartée : dépôt à corriger"),
        (A, second, 110, "fait foi"),
        (A, premier, 150, f"remplacée par le dépôt n° {second}"),
        (B, premier, 90, "fait foi"),
    ]
    assert p["perimetre_libelle"].iloc[0] == "Quartier des Deux Rives" and p["signataire_nom"].iloc[0] == "EPT d'essai"
    assert {"fichier_nom", "utilisateur", "depose_le", "cellule", "commentaire"} <= set(p.columns)
    assert vues.provenance(essai, PROTO, "JEUNES").empty


def test_provenance_de_la_demonstration(store_demo):
    """La démonstration corrige un dépôt par protocole : la valeur remplacée reste, marquée, avec son fichier."""
    for code in (TROYES, BLOIS):
        corriges = store_demo.requete("SELECT DISTINCT v.indicateur, d.id FROM valeur v JOIN depot d ON d.id = "
                                      "v.depot_id WHERE d.protocole = ? AND d.fichier_nom LIKE '%-corrige.csv'", [code])
        assert len(corriges) == 2
        for ind, neuf in zip(corriges["indicateur"], corriges["id"]):
            p = vues.provenance(store_demo, code, ind)
            r = p[p["sort"].str.startswith("remplacée")]
            assert len(r) == 1 and r["sort"].iloc[0] == f"remplacée par le dépôt n° {neuf}"
            assert r["depot_id"].iloc[0] < neuf
            assert p.loc[p["depot_id"] == neuf, "sort"].tolist() == ["fait foi"]
