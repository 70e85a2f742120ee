"""Lectures de la vue d'ensemble et de la fiche indicateur réécrites pour aller plus vite : mêmes résultats, au type près,
que le code d'avant, gardé ici comme référence ; sur la démonstration (Troyes, Blois) et sur une petite base d'essai
nationale (6 protocoles générés comme ceux de la base nationale).

- `requetes.protocole` : chaque compte limité au protocole (au lieu des comptes de tous les protocoles) ;
- `requetes.arbre` : le nombre d'indicateurs de chaque nœud tiré de l'appartenance des indicateurs aux nœuds ;
  `vues._pilotage` : arborescence, nœuds et appartenance en deux requêtes ;
- `requetes.perimetres` : communes groupées une fois (au lieu de sous-requêtes corrélées) ;
- `vues._donnees_serie` : la ligne de l'indicateur et de ses composantes seules, références et cibles prises dans ce que
  l'évaluation vient de lire ;
- `vues.provenance` : le dépôt qui fait foi cherché dans un dictionnaire ;
  `depots.completude` : comptes par signataire sans groupement de pandas ;
- `vues.etats_des_engagements` : les indicateurs de chaque engagement ajoutés sans jointure de pandas ;
- les valeurs qui font foi (`depots.SQL_VALEURS_COURANTES_DU_PROTOCOLE`) et l'historique d'un indicateur : la jointure
  limitée aux dépôts du protocole.
"""
from __future__ import annotations

import pandas as pd
import pytest

from perr_metrics.pilotage import avancement
from perr_metrics.depots import depot as depots
from perr_metrics.referentiel import requetes
from perr_metrics.pilotage import suivi
from perr_metrics.pilotage import vues
from perr_metrics.stockage.magasin import Store
from perr_metrics.demo.nationale import construire
from tests.conftest import ADMIN
from tests.core.test_lectures_bornees import _completude_d_origine, _nouveaux_depots_d_origine

DEMO = ["TCM-PERR-2019", "BLOIS-PERR-2020"]


@pytest.fixture(scope="module")
def nationale(tmp_path_factory) -> Store:
    """Une petite base d'essai nationale (6 protocoles, 2024–2031, dépôts « à corriger » compris) : jamais modifiée."""
    store = Store(tmp_path_factory.mktemp("essai-nationale") / "essai.duckdb", utilisateur=ADMIN)
    construire(store, "essai", 3)
    return store


def _protocoles(store) -> list[str]:
    return [c for c, in store.lire(lambda con: con.execute("SELECT code FROM protocole ORDER BY code").fetchall())]


def _bases(store_demo, nationale):
    return [(store_demo, DEMO), (nationale, _protocoles(nationale))]


def _memes(a: dict, b: dict) -> None:
    """Deux lignes (dictionnaires) égales, valeurs et types, valeurs manquantes (NaN, NaT) comprises."""
    assert list(a) == list(b)
    for k in a:
        x, y = a[k], b[k]
        assert type(x) is type(y), (k, x, y)
        assert x == y or (pd.isna(x) and pd.isna(y)), (k, x, y)


def egal(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a, b, check_exact=True)


# --------------------------------------------------------------------------------------------------------------------
# Le code d'avant
# --------------------------------------------------------------------------------------------------------------------

SQL_ARBRE_AVANT = """
    WITH n AS (SELECT * FROM noeud WHERE protocole = ?),
    e AS (SELECT e.code, n.chemin FROM engagement e JOIN n ON n.code = e.noeud WHERE e.protocole = ?),
    i AS (SELECT DISTINCT x.indicateur, e.chemin FROM indicateur_engagement x JOIN e ON e.code = x.engagement
          WHERE x.protocole = ?),
    ne AS (SELECT n.code, count(e.code) AS nb FROM n
           LEFT JOIN e ON e.chemin = n.chemin OR starts_with(e.chemin, n.chemin || '.') GROUP BY n.code),
    ni AS (SELECT n.code, count(DISTINCT i.indicateur) AS nb FROM n
           LEFT JOIN i ON i.chemin = n.chemin OR starts_with(i.chemin, n.chemin || '.') GROUP BY n.code),
    nc AS (SELECT noeud, string_agg(cadre, ';' ORDER BY cadre) AS cadres FROM noeud_cadre WHERE protocole = ?
           GROUP BY noeud)
    SELECT n.code, n.parent, n.niveau, n.libelle, n.profondeur, n.chemin, ne.nb AS nb_engagements,
           ni.nb AS nb_indicateurs, nc.cadres
    FROM n JOIN ne ON ne.code = n.code JOIN ni ON ni.code = n.code LEFT JOIN nc ON nc.noeud = n.code
    ORDER BY n.chemin
"""

SQL_PERIMETRES_AVANT = """
    SELECT p.code, p.libelle, p.niveau, p.type,
           (SELECT string_agg(c.insee, ';' ORDER BY c.insee) FROM perimetre_commune c
             WHERE c.protocole = p.protocole AND c.perimetre = p.code) AS communes,
           (SELECT string_agg(m.libelle, ', ' ORDER BY m.libelle) FROM perimetre_commune c JOIN perimetre m
             ON m.protocole = c.protocole AND m.code = c.insee
             WHERE c.protocole = p.protocole AND c.perimetre = p.code) AS communes_noms
    FROM perimetre p WHERE p.protocole = ?
    ORDER BY CASE p.niveau WHEN 'Territoire' THEN 0 WHEN 'Commune' THEN 1 ELSE 2 END, p.ordre
"""

SQL_HISTORIQUE_AVANT = """
    SELECT v.perimetre, v.periode, v.valeur, v.commentaire, v.cellule, d.id AS depot_id, d.fichier_nom,
           d.signataire, d.utilisateur, d.depose_le, d.statut,
           coalesce(v.depot_id = max(CASE WHEN d.statut <> 'à corriger' THEN v.depot_id END)
               OVER (PARTITION BY v.perimetre, v.periode, v.annee), false) AS fait_foi
    FROM valeur v JOIN depot d ON d.id = v.depot_id
    WHERE v.protocole = ? AND v.indicateur = ? AND (? IS NULL OR v.perimetre = ?)
    ORDER BY v.periode, v.perimetre, d.id
"""


def _provenance_avant(store, protocole, indicateur):
    h = store.requete(SQL_HISTORIQUE_AVANT, [protocole, indicateur, None, None])
    per = store.requete("SELECT code AS perimetre, libelle AS perimetre_libelle, ordre, CASE niveau WHEN "
                        "'Territoire' THEN 0 WHEN 'Commune' THEN 1 ELSE 2 END AS rang FROM perimetre "
                        "WHERE protocole = ?", [protocole])
    sig = store.requete("SELECT code AS signataire, nom AS signataire_nom FROM signataire WHERE protocole = ?",
                        [protocole])
    df = h.merge(per, on="perimetre", how="left").merge(sig, on="signataire", how="left")
    foi = df[df["fait_foi"]].drop_duplicates(["perimetre", "periode"]).set_index(["perimetre", "periode"])["depot_id"]
    remplacant = [foi.get((p, q)) for p, q in zip(df["perimetre"], df["periode"])]
    df["sort"] = [
        "fait foi" if f else
        "écartée : dépôt à corriger" if s == "à corriger" else
        f"remplacée par le dépôt n° {r}" if r is not None else "écartée"
        for f, s, r in zip(df["fait_foi"], df["statut"], remplacant)]
    df = df.sort_values(["periode", "rang", "ordre", "depot_id"], ascending=[False, True, True, False], kind="stable")
    return df.drop(columns=["rang", "ordre"]).reset_index(drop=True)


def _etats_des_engagements_avant(store, protocole, noeud):
    with store.session() as s:
        df = suivi.etats_courants(s, protocole)
        if noeud:
            df = df[df["code"].isin(requetes.engagements(s, protocole, noeud)["code"])]
        mesures = s.requete("""
            SELECT engagement AS code, string_agg(indicateur, ', ' ORDER BY indicateur) AS indicateurs
            FROM indicateur_engagement WHERE protocole = ? GROUP BY engagement""", [protocole])
    return df.merge(mesures, on="code", how="left").reset_index(drop=True)


def _comptes_avant(detail):
    return detail.groupby("signataire").agg(attendus=("recu", "size"), recus=("recu", "sum")).reset_index()


# --------------------------------------------------------------------------------------------------------------------
# Comparaisons
# --------------------------------------------------------------------------------------------------------------------

def test_une_valeur_a_le_protocole_de_son_depot(store_demo, nationale):
    """Ce sur quoi repose la jointure limitée aux dépôts du protocole."""
    for store, _ in _bases(store_demo, nationale):
        assert store.lire(lambda con: con.execute(
            "SELECT count(*) FROM valeur v JOIN depot d ON d.id = v.depot_id WHERE d.protocole <> v.protocole"
        ).fetchone()[0]) == 0


def test_valeurs_courantes_du_protocole_comme_avant(store_demo, nationale):
    for store, protocoles in _bases(store_demo, nationale):
        for c in protocoles:
            avant = store.requete(depots.SQL_VALEURS_COURANTES + " ORDER BY ALL", [c])
            egal(store.requete(depots.SQL_VALEURS_COURANTES_DU_PROTOCOLE + " ORDER BY ALL", [c]), avant)
            assert len(avant)


def test_protocole_comme_avant(store_demo, nationale):
    for store, protocoles in _bases(store_demo, nationale):
        for c in protocoles:
            avant = store.lire(lambda con: con.execute(requetes.SQL_PROTOCOLES, {"code": c}).df()).iloc[0].to_dict()
            _memes(requetes.protocole(store, c), avant)
    with pytest.raises(requetes.ProtocoleInconnu):
        requetes.protocole(store_demo, "INCONNU")


def test_arbre_et_structure_des_noeuds_comme_avant(store_demo, nationale):
    for store, protocoles in _bases(store_demo, nationale):
        for c in protocoles:
            arbre = requetes.arbre(store, c)
            avant = store.requete(SQL_ARBRE_AVANT, [c] * 4)
            egal(arbre[list(avant.columns)], avant)   # texte, volet et quartiers (issue 15) viennent après
            assert (arbre["nb_indicateurs"] > 0).any()
            d = vues._pilotage(store, c, "2025")
            egal(d.arbre, arbre)
            noeuds, appartenance = avancement._structure_des_noeuds(store, c)
            egal(d.noeuds, noeuds)
            egal(d.appartenance, appartenance)


def test_pilotage_sur_une_session(store_demo):
    """Les lectures de `_pilotage` passent aussi par une session déjà ouverte (celle du rapport, par exemple)."""
    seul = vues._pilotage(store_demo, "TCM-PERR-2019", "2022")
    with store_demo.session() as s:
        d = vues._pilotage(s, "TCM-PERR-2019", "2022")
    for nom in ("nouveaux_depots", "arbre", "noeuds", "appartenance"):
        egal(getattr(d, nom), getattr(seul, nom))
    assert len(d.nouveaux_depots)
    for q in d.territoire:
        egal(d.territoire[q], seul.territoire[q])
    with pytest.raises(requetes.ProtocoleInconnu):
        vues._pilotage(store_demo, "INCONNU", "2022")


def test_nouveaux_depots_comme_la_requete_d_origine_base_nationale(nationale):
    vus = 0
    with nationale.session() as s:
        for c in _protocoles(nationale):
            for q in ("2023", "2024", "2024-S2", "2025", "2025-S1", "2027", "2031", "2032"):
                attendu = _nouveaux_depots_d_origine(s, c, q)
                egal(vues.nouveaux_depots(s, c, q), attendu)
                vus += len(attendu)
    assert vus > 0


def test_perimetres_comme_avant(store_demo, nationale):
    for store, protocoles in _bases(store_demo, nationale):
        for c in protocoles:
            per = requetes.perimetres(store, c)
            egal(per, store.requete(SQL_PERIMETRES_AVANT, [c]))
            assert per["communes"].notna().any()


def _indicateurs(store, c):
    return [i for i, in store.lire(lambda con: con.execute(
        "SELECT code FROM indicateur WHERE protocole = ? ORDER BY ordre", [c]).fetchall())]


def _serie_comme_avant(store, c, i):
    d = vues._donnees_serie(store, c, i)
    info = vues._info_indicateur(requetes.indicateurs(store, c), i)
    if info is None:
        assert d.indicateur is None
        return d
    _memes(d.indicateur, info)
    p = requetes.protocole(store, c)
    assert d.periodes == vues.periodes_de_l_indicateur(p, info["periodicite"])
    ter, per = avancement._indicateurs_par_periode(store, c, d.periodes, indicateurs=[i])
    egal(d.territoire, ter)
    egal(d.perimetres, per)
    egal(d.references_et_cibles, vues.references_et_cibles(store, c, i))
    return d


def _echantillon(store, c, pas):
    """Un indicateur sur `pas`, plus tous les taux à numérateur et dénominateur, et un code inconnu."""
    inds = _indicateurs(store, c)
    taux = [i for i, in store.lire(lambda con: con.execute(
        "SELECT code FROM indicateur WHERE protocole = ? AND numerateur IS NOT NULL ORDER BY ordre", [c]).fetchall())]
    return list(dict.fromkeys(inds[::pas] + taux[:3])) + ["INCONNU"]


def test_donnees_serie_comme_avant(store_demo, nationale):
    taux = 0
    for store, protocoles in _bases(store_demo, nationale):
        with store.session() as s:   # (une connexion : ouvrir la base pour chaque lecture serait long)
            for c in protocoles:
                for i in _echantillon(s, c, 3 if store is store_demo else 15):
                    d = _serie_comme_avant(s, c, i)
                    taux += d.indicateur is not None and d.indicateur["numerateur"] is not None
    assert taux > 0


def test_donnees_serie_sans_reference_ni_cible(store_demo):
    """Sans aucune référence ni cible : la table vide des références et cibles a les types de la requête."""
    c = "TCM-PERR-2019"
    i, num = store_demo.lire(lambda con: con.execute(
        "SELECT code, numerateur FROM indicateur WHERE protocole = ? AND numerateur IS NOT NULL ORDER BY ordre LIMIT 1",
        [c]).fetchone())
    store_demo.ecrire(lambda con: (con.execute("DELETE FROM reference WHERE protocole = ?", [c]),
                                   con.execute("DELETE FROM cible WHERE protocole = ? AND indicateur <> ?", [c, num])))
    assert len(_serie_comme_avant(store_demo, c, i).references_et_cibles)
    store_demo.ecrire(lambda con: con.execute("DELETE FROM cible WHERE protocole = ?", [c]))
    assert _serie_comme_avant(store_demo, c, i).references_et_cibles.empty


REVUE = ["retenu", "en_attente_de_revue", "avertissement_code", "avertissement"]


def test_provenance_et_historique_comme_avant(store_demo, nationale):
    sorts = set()
    for store, protocoles in _bases(store_demo, nationale):
        with store.session() as s:
            for c in protocoles:
                for i in _echantillon(s, c, 3 if store is store_demo else 10):
                    prov = vues.provenance(s, c, i)
                    # Les colonnes de la revue avant publication (retenu, marques, avertissement confirmé) viennent
                    # après celles d'avant, qui ne changent pas ; elles ont leurs tests (test_depots, test_vues).
                    egal(prov.drop(columns=REVUE + ["marque"]), _provenance_avant(s, c, i))
                    egal(depots.historique(s, c, i).drop(columns=REVUE),
                         s.requete(SQL_HISTORIQUE_AVANT, [c, i, None, None]))
                    sorts |= {x.split(" n° ")[0] for x in prov["sort"]}
    assert sorts == {"fait foi", "remplacée par le dépôt", "écartée : dépôt à corriger"}


def test_completude_comme_avant(store_demo, nationale):
    for store, protocoles in _bases(store_demo, nationale):
        with store.session() as s:
            for c in protocoles:
                for q in ("2021", "2024", "2025", "2025-S1", "2026-S2", "2040"):
                    comp = depots.completude(s, c, q)
                    # Les colonnes d'avant à l'identique ; celles des motifs s'y ajoutent (aucun motif dans ces bases).
                    egal(comp.detail.drop(columns=depots.COLONNES_MOTIFS),
                         s.lire(lambda con: _completude_d_origine(con, c, q)))
                    assert not comp.detail["explique"].any() and comp.detail["motif"].isna().all()
                    egal(depots._comptes(comp.detail).drop(columns="expliques"), _comptes_avant(comp.detail))
                    egal(depots._comptes(comp.detail.iloc[:0]).drop(columns="expliques"),
                         _comptes_avant(comp.detail.iloc[:0]))


def test_etats_des_engagements_comme_avant(store_demo, nationale):
    for store, protocoles in _bases(store_demo, nationale):
        for c in protocoles:
            for noeud in [None] + requetes.arbre(store, c)["code"].tolist()[:2]:
                egal(vues.etats_des_engagements(store, c, noeud), _etats_des_engagements_avant(store, c, noeud))
    # Sans aucun indicateur rattaché : la jointure d'avant, telle quelle.
    store_demo.ecrire(lambda con: con.execute("DELETE FROM indicateur_engagement WHERE protocole = ?", [DEMO[0]]))
    eng = vues.etats_des_engagements(store_demo, DEMO[0], None)
    egal(eng, _etats_des_engagements_avant(store_demo, DEMO[0], None))
    assert eng["indicateurs"].isna().all()
