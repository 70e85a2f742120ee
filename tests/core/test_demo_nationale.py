"""La base d'essai nationale, à l'échelle régionale (40 protocoles, ≈ 1 million de valeurs) : déterminisme, forme,
intégrité référentielle, règles du référentiel respectées (réimport sans erreur), valeur qui fait foi.

L'échelle nationale se construit de la même façon (mêmes fonctions, plus de protocoles) ; sa durée est mesurée dans
docs/performance.md, pas ici.
"""
from __future__ import annotations

import re

import pytest

from perr_metrics.cli import main
from tests.conftest import ADMIN
from perr_metrics.stockage.magasin import Store
from perr_metrics.demo.nationale import CATALOGUE, construire
from perr_metrics.depots.depot import completude, valeurs_courantes
from perr_metrics.referentiel.classeur import RE_INSEE, RE_QPV_2024, exporter_referentiel, importer_referentiel

TABLES = ("protocole", "contrat", "perimetre", "perimetre_commune", "signataire", "noeud", "noeud_cadre", "engagement",
          "engagement_porteur", "engagement_cadre", "indicateur", "indicateur_engagement", "reference", "cible",
          "depot", "revue_depot", "valeur", "etat_engagement", "import_referentiel")


def empreinte(store: Store) -> dict[str, tuple]:
    """Par table : nombre de lignes et une somme de contrôle de toutes ses colonnes, indépendante de l'ordre ; pour les
    valeurs, en plus, des sommes entières (les sommes de flottants dépendent de l'ordre des threads)."""
    def lire(con):
        e = {t: con.execute(f"SELECT count(*), bit_xor(hash(x)) FROM {t} x").fetchone() for t in TABLES}
        e["valeur/sommes"] = con.execute(
            "SELECT sum(depot_id), sum(round(valeur * 10)::HUGEINT), count(commentaire) FROM valeur").fetchone()
        return e
    return store.lire(lire)


@pytest.fixture(scope="module")
def regionale(tmp_path_factory) -> Store:
    store = Store(tmp_path_factory.mktemp("regionale") / "regionale.duckdb", utilisateur=ADMIN)
    construire(store, "regionale", 7)
    return store


def q(store: Store, sql: str, params=None):
    return store.lire(lambda con: con.execute(sql, params or []).fetchall())


def un(store: Store, sql: str, params=None):
    return q(store, sql, params)[0][0]


def test_meme_graine_meme_base_par_la_ligne_de_commande(regionale, tmp_path, capsys):
    chemin = tmp_path / "bis.duckdb"
    assert main(["demo", "--echelle", "regionale", "--graine", "7", "--db", str(chemin)]) == 0
    assert "Base d'essai prête" in capsys.readouterr().out
    assert empreinte(Store(chemin, utilisateur=ADMIN)) == empreinte(regionale)


def test_autre_graine_autre_base(tmp_path):
    a, b = Store(tmp_path / "a.duckdb", utilisateur=ADMIN), Store(tmp_path / "b.duckdb", utilisateur=ADMIN)
    construire(a, "essai", 1)
    construire(b, "essai", 2)
    ea, eb = empreinte(a), empreinte(b)
    assert ea["valeur"] != eb["valeur"] and ea["valeur/sommes"] != eb["valeur/sommes"]


def test_base_non_vide_refusee(regionale, capsys):
    avant = empreinte(regionale)
    with pytest.raises(ValueError, match="contient déjà des protocoles"):
        construire(regionale, "essai")
    assert main(["demo", "--echelle", "regionale", "--db", str(regionale.chemin)]) == 1
    assert "base neuve" in capsys.readouterr().err
    assert empreinte(regionale) == avant


def test_forme(regionale):
    s = regionale
    assert un(s, "SELECT count(*) FROM protocole") == 40
    assert un(s, "SELECT count(*) FROM protocole WHERE NOT demonstration OR annee_debut <> 2024 OR annee_fin <> 2031 "
                 "OR geographie <> '2024' OR description NOT LIKE '%fictif%'") == 0
    assert un(s, "SELECT count(*) FROM perimetre WHERE type = 'QPV'") == 150
    assert {r[0] for r in q(s, "SELECT count(*) FROM indicateur GROUP BY protocole")} == {150}
    # Un mélange de niveaux, d'agrégations, de périodicités.
    niveaux = dict(q(s, "SELECT niveau, count(DISTINCT code) FROM indicateur GROUP BY ALL"))
    assert set(niveaux) == {"QPV", "Commune", "Territoire"} and min(niveaux.values()) >= 20
    agregations = dict(q(s, "SELECT agregation, count(DISTINCT code) FROM indicateur GROUP BY ALL"))
    assert set(agregations) == {"somme", "taux", "non agrégeable"} and min(agregations.values()) >= 15
    assert 5 <= un(s, "SELECT count(DISTINCT code) FROM indicateur WHERE periodicite = 'semestrielle'") <= 25
    # Arbres de 2 à 4 niveaux, 20 à 60 engagements (un de plus au plus, pour qu'aucun axe ne soit vide), 10 à 20
    # signataires dont des services de l'État.
    profondeurs = {r[0] for r in q(s, "SELECT max(profondeur) FROM noeud GROUP BY protocole")}
    assert profondeurs <= {2, 3, 4} and len(profondeurs) >= 2
    eng = [r[0] for r in q(s, "SELECT count(*) FROM engagement GROUP BY protocole")]
    assert min(eng) >= 20 and max(eng) <= 62
    sig = [r[0] for r in q(s, "SELECT count(*) FROM signataire GROUP BY protocole")]
    assert min(sig) >= 12 and max(sig) <= 21
    assert un(s, "SELECT count(DISTINCT protocole) FROM signataire WHERE categorie = 'Service de l''État'") == 40
    # 8 années de valeurs, plusieurs dépôts par valeur, des dépôts revus.
    assert [r[0] for r in q(s, "SELECT DISTINCT annee FROM valeur ORDER BY 1")] == list(range(2024, 2032))
    n, distinctes = q(s, "SELECT count(*), count(DISTINCT (protocole, indicateur, perimetre, periode)) FROM valeur")[0]
    assert 700_000 < n < 1_300_000 and 3.5 < n / distinctes < 6
    statuts = dict(q(s, "SELECT statut, count(*) FROM depot GROUP BY ALL"))
    assert set(statuts) == {"reçu", "validé", "à corriger"}
    assert un(s, "SELECT count(*) FROM revue_depot") == statuts["validé"] + statuts["à corriger"]
    assert un(s, "SELECT count(*) FROM depot WHERE decode(contenu) NOT LIKE 'Dépôt généré%'") == 0
    assert un(s, "SELECT count(*) FROM depot d WHERE nb_valeurs <> (SELECT count(*) FROM valeur v "
                 "WHERE v.depot_id = d.id)") == 0
    assert un(s, "SELECT count(*) FROM etat_engagement WHERE etat IN ('reporté', 'abandonné') "
                 "AND commentaire IS NULL") == 0


def test_codes_valides(regionale):
    s = regionale
    qpv = [r[0] for r in q(s, "SELECT code FROM perimetre WHERE type = 'QPV'")]
    assert all(RE_QPV_2024.match(c) for c in qpv) and len(set(qpv)) == len(qpv)
    # M : monocommunal, I : intercommunal, comme dans les codes officiels.
    for code, n in q(s, "SELECT perimetre, count(*) FROM perimetre_commune WHERE perimetre LIKE 'QN%' GROUP BY 1"):
        assert code.endswith("I" if n > 1 else "M")
    insee = [r[0] for r in q(s, "SELECT code FROM perimetre WHERE niveau = 'Commune'")]
    assert all(RE_INSEE.match(c) for c in insee) and len(set(insee)) == len(insee)
    assert all(c[:2] in ("02", "59", "60", "62", "80") for c in insee)
    # Le département du code QPV (sur 3 caractères : 059, 02A, 974) est celui de ses communes.
    assert all(c[2:5] == (i[:3] if i.startswith("97") else "0" + i[:2])
               for c, i in q(s, "SELECT perimetre, insee FROM perimetre_commune WHERE perimetre LIKE 'QN%'"))
    codes = [r[0] for r in q(s, "SELECT code FROM indicateur UNION SELECT code FROM protocole UNION "
                                "SELECT code FROM engagement UNION SELECT code FROM noeud")]
    assert all(re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", c) for c in codes)


def test_integrite_referentielle(regionale):
    s = regionale
    orphelins = {
        "valeur→indicateur": """SELECT count(*) FROM valeur v ANTI JOIN indicateur i
                                ON i.protocole = v.protocole AND i.code = v.indicateur""",
        "valeur→périmètre": """SELECT count(*) FROM valeur v ANTI JOIN perimetre p
                               ON p.protocole = v.protocole AND p.code = v.perimetre""",
        "valeur au niveau de l'indicateur": """
            SELECT count(*) FROM valeur v JOIN indicateur i ON i.protocole = v.protocole AND i.code = v.indicateur
            JOIN perimetre p ON p.protocole = v.protocole AND p.code = v.perimetre WHERE p.niveau <> i.niveau""",
        "période selon la périodicité": """
            SELECT count(*) FROM valeur v JOIN indicateur i ON i.protocole = v.protocole AND i.code = v.indicateur
            WHERE (i.periodicite = 'semestrielle') <> contains(v.periode, '-S')
               OR v.annee <> CAST(v.periode[1:4] AS INTEGER)""",
        "valeur→dépôt du même protocole, du signataire de l'indicateur": """
            SELECT count(*) FROM valeur v JOIN indicateur i ON i.protocole = v.protocole AND i.code = v.indicateur
            LEFT JOIN depot d ON d.id = v.depot_id
            WHERE d.id IS NULL OR d.protocole <> v.protocole OR d.signataire <> i.signataire
               OR d.periode <> CAST(v.annee AS VARCHAR)""",
        "dépôt→signataire": """SELECT count(*) FROM depot d ANTI JOIN signataire s
                               ON s.protocole = d.protocole AND s.code = d.signataire""",
        "référence→indicateur, périmètre": """
            SELECT count(*) FROM (SELECT protocole, indicateur, perimetre FROM reference
                                  UNION ALL SELECT protocole, indicateur, perimetre FROM cible) r
            LEFT JOIN indicateur i ON i.protocole = r.protocole AND i.code = r.indicateur
            LEFT JOIN perimetre p ON p.protocole = r.protocole AND p.code = r.perimetre
            WHERE i.code IS NULL OR p.code IS NULL OR (p.niveau <> i.niveau AND p.niveau <> 'Territoire')""",
        "quartier→commune": """SELECT count(*) FROM perimetre_commune c ANTI JOIN perimetre p
                               ON p.protocole = c.protocole AND p.code = c.insee AND p.niveau = 'Commune'""",
        "engagement→nœud": """SELECT count(*) FROM engagement e ANTI JOIN noeud n
                              ON n.protocole = e.protocole AND n.code = e.noeud""",
        "porteur→signataire": """SELECT count(*) FROM engagement_porteur x ANTI JOIN signataire s
                                 ON s.protocole = x.protocole AND s.code = x.signataire""",
        "indicateur→engagement": """SELECT count(*) FROM indicateur_engagement x ANTI JOIN engagement e
                                    ON e.protocole = x.protocole AND e.code = x.engagement""",
        "indicateur sans engagement": """SELECT count(*) FROM indicateur i ANTI JOIN indicateur_engagement x
                                         ON x.protocole = i.protocole AND x.indicateur = i.code""",
        "taux→composantes en somme au même niveau": """
            SELECT count(*) FROM indicateur t
            LEFT JOIN indicateur n ON n.protocole = t.protocole AND n.code = t.numerateur
            LEFT JOIN indicateur d ON d.protocole = t.protocole AND d.code = t.denominateur
            WHERE t.agregation = 'taux' AND (n.agregation IS DISTINCT FROM 'somme'
               OR d.agregation IS DISTINCT FROM 'somme' OR n.niveau <> t.niveau OR d.niveau <> t.niveau)""",
        "revue→dépôt": "SELECT count(*) FROM revue_depot r ANTI JOIN depot d ON d.id = r.depot_id",
        "état→engagement": """SELECT count(*) FROM etat_engagement x ANTI JOIN engagement e
                              ON e.protocole = x.protocole AND e.code = x.engagement""",
    }
    assert {nom: un(s, sql) for nom, sql in orphelins.items()} == {nom: 0 for nom in orphelins}
    assert un(s, "SELECT count(*) FROM valeur WHERE valeur < 0 OR isnan(valeur)") == 0
    assert un(s, """SELECT count(*) FROM valeur v JOIN indicateur i ON i.protocole = v.protocole
                    AND i.code = v.indicateur JOIN depot d ON d.id = v.depot_id
                    WHERE i.unite = '%' AND v.valeur > 100 AND d.statut <> 'à corriger'""") == 0


def test_les_identifiants_suivent_les_dates(regionale):
    assert un(regionale, """SELECT count(*) FROM (SELECT id, depose_le, lag(depose_le) OVER (ORDER BY id) AS avant
                            FROM depot) WHERE depose_le < avant""") == 0


def test_valeur_qui_fait_foi_et_taux_coherents(regionale):
    s = regionale
    code = un(s, "SELECT protocole FROM perimetre WHERE type = 'QPV' GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1")
    cour = valeurs_courantes(s, code)
    a_corriger = {r[0] for r in q(s, "SELECT id FROM depot WHERE statut = 'à corriger'")}
    assert a_corriger and not set(cour["depot_id"]) & a_corriger
    # Un taux déposé est, à l'arrondi près, 100 × numérateur / dénominateur déposés pour le même périmètre.
    taux = [i for i in CATALOGUE if i.agregation == "taux" and not i.semestriel]
    v = cour.set_index(["indicateur", "perimetre", "periode"])["valeur"]
    verifies = 0
    for ind in taux:
        for (i, p, per), t in v[v.index.get_level_values(0) == ind.code].items():
            num, den = v.get((ind.numerateur, p, per)), v.get((ind.denominateur, p, per))
            if num is not None and den:
                assert t == pytest.approx(100 * num / den, abs=0.051), (i, p, per)
                verifies += 1
    assert verifies > 100
    comp = completude(s, code, "2025")
    assert comp.par_signataire["attendus"].sum() > 0 and 0.9 < comp.par_signataire["recus"].sum() / \
        comp.par_signataire["attendus"].sum() < 1


def test_le_referentiel_genere_respecte_les_regles_du_classeur(regionale, tmp_path):
    """Exporté au format du classeur puis réimporté dans une base neuve : aucune erreur (tous les contrôles de
    docs/referentiel.md passent), et les mêmes comptes."""
    codes = [r[0] for r in q(regionale, """SELECT protocole FROM perimetre GROUP BY 1
                                            ORDER BY count(*) DESC, 1""")]
    neuve = Store(tmp_path / "reimport.duckdb", utilisateur=ADMIN)
    for code in (codes[0], codes[-1]):
        classeur = tmp_path / f"{code}.xlsx"
        exporter_referentiel(regionale, code, classeur)
        res = importer_referentiel(neuve, classeur)
        assert res.rapport.valide and res.cree
        for table in ("perimetre", "signataire", "noeud", "engagement", "indicateur", "reference", "cible"):
            assert un(neuve, f"SELECT count(*) FROM {table} WHERE protocole = ?", [code]) == \
                un(regionale, f"SELECT count(*) FROM {table} WHERE protocole = ?", [code]), table


# --------------------------------------------------------------------------------------------------------------------
# Les lectures allégées pour les grandes bases (docs/performance.md) donnent exactement les mêmes lignes
# --------------------------------------------------------------------------------------------------------------------

def test_avancement_filtre_par_indicateur_et_par_periode(regionale):
    import pandas as pd

    from perr_metrics.pilotage import avancement as av

    code = un(regionale, "SELECT protocole FROM perimetre WHERE type = 'QPV' GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1")
    periodes = ["2024", "2025", "2025-S1", "2031"]
    # Un taux semestriel (composantes semestrielle et annuelle), un taux de commune, une somme, un non agrégeable, un
    # indicateur du territoire, un code inconnu.
    choisis = ["TX-ATTEINTES-PERS", "TX-LLS-COM", "POP-TOT", "REVENU-MEDIAN", "TX-RECRUT-QPV", "INCONNU"]
    for q in periodes:
        t, p = av.indicateurs_au_territoire(regionale, code, q), av.indicateurs_au_perimetre(regionale, code, q)
        for i in choisis:
            attendu_t = t[t["indicateur"] == i].reset_index(drop=True)
            attendu_p = p[p["indicateur"] == i].reset_index(drop=True)
            pd.testing.assert_frame_equal(av.indicateurs_au_territoire(regionale, code, q, indicateurs=[i]), attendu_t,
                                          check_dtype=not attendu_t.empty)
            pd.testing.assert_frame_equal(av.indicateurs_au_perimetre(regionale, code, q, indicateurs=[i]), attendu_p,
                                          check_dtype=not attendu_p.empty)
    for un_par_un, groupe in (
            (lambda q: av.indicateurs_au_territoire(regionale, code, q), av.indicateurs_au_territoire_par_periode),
            (lambda q: av.indicateurs_au_perimetre(regionale, code, q), av.indicateurs_au_perimetre_par_periode)):
        attendu = pd.concat([un_par_un(q).assign(periode=q) for q in periodes], ignore_index=True)
        attendu = attendu[["periode"] + [c for c in attendu.columns if c != "periode"]]
        pd.testing.assert_frame_equal(groupe(regionale, code, periodes), attendu)
    filtre = av.indicateurs_au_perimetre_par_periode(regionale, code, periodes, indicateurs=["POP-TOT"])
    assert set(filtre["indicateur"]) == {"POP-TOT"} and set(filtre["periode"]) == set(periodes)
