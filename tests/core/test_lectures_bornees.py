"""Lectures réécrites pour aller plus vite (issue 4) : mêmes tables, au type près, que les requêtes d'origine, gardées
ici comme référence, sur la démonstration (Troyes, Blois : toutes leurs périodes, avant et après le protocole).

- `vues.nouveaux_depots` : dépôts candidats bornés par l'année, puis périodes lues entre des identifiants de dépôt
  extrêmes (et la requête d'origine quand il n'y a aucun candidat) ;
- `depots.completude` : l'année passée en nombre ;
- `requetes.arbre` et `suivi.etats_courants` : comptes et porteurs par jointures groupées au lieu de sous-requêtes
  corrélées.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from perr_metrics.depots import depot as depots
from perr_metrics.referentiel import requetes
from perr_metrics.pilotage import suivi
from perr_metrics.pilotage import vues
from perr_metrics.pilotage.avancement import lire_periode

PROTOCOLES = ["TCM-PERR-2019", "BLOIS-PERR-2020"]


def _nouveaux_depots_d_origine(store, protocole, periode):
    p = lire_periode(periode)
    depuis = vues.fin_de_periode(vues.periode_precedente(periode)) + dt.timedelta(days=1)
    df = store.requete("""
        WITH d AS (SELECT * FROM depot WHERE protocole = ? AND depose_le >= ?),
        v AS (SELECT depot_id, list(DISTINCT periode ORDER BY periode) AS periodes FROM valeur
              WHERE protocole = ? AND depot_id IN (SELECT id FROM d) GROUP BY depot_id)
        SELECT d.id, d.signataire, s.nom AS signataire_nom, d.periode, v.periodes, d.depose_le, d.fichier_nom,
               d.utilisateur, d.nb_valeurs, d.statut
        FROM d JOIN v ON v.depot_id = d.id
        LEFT JOIN signataire s ON s.protocole = d.protocole AND s.code = d.signataire
        ORDER BY d.depose_le DESC, d.id DESC
    """, [protocole, depuis, protocole])
    garde = [any(lire_periode(q).instant <= p.instant for q in liste) for liste in df["periodes"]]
    df = df[np.array(garde, dtype=bool)].copy()
    df["periodes"] = [", ".join(liste) for liste in df["periodes"]]
    return df.reset_index(drop=True)


def _periodes(store, protocole):
    p = requetes.protocole(store, protocole)
    annees = range(int(p["annee_debut"]) - 1, int(p["annee_fin"]) + 2)
    return [q for a in annees for q in (str(a), f"{a}-S1", f"{a}-S2")]


@pytest.mark.parametrize("protocole", PROTOCOLES)
def test_nouveaux_depots_comme_la_requete_d_origine(store_demo, protocole):
    vus = 0
    with store_demo.session() as s:
        for q in _periodes(s, protocole):
            attendu = _nouveaux_depots_d_origine(s, protocole, q)
            pd.testing.assert_frame_equal(vues.nouveaux_depots(s, protocole, q), attendu, check_exact=True)
            vus += len(attendu)
    assert vus > 0   # des dépôts retenus, pas seulement des tables vides


def test_nouveaux_depots_aucun_candidat(store_demo):
    """Avant le protocole : aucun dépôt candidat, la table vide a les types de la requête d'origine."""
    for q in ("2000", "2000-S1"):
        d = vues.nouveaux_depots(store_demo, "TCM-PERR-2019", q)
        assert d.empty
        pd.testing.assert_frame_equal(d, _nouveaux_depots_d_origine(store_demo, "TCM-PERR-2019", q))


def _completude_d_origine(con, protocole, periode):
    return con.execute(f"""
        WITH a AS ({depots.SQL_ATTENDUS}),
        c AS (SELECT * FROM ({depots.SQL_VALEURS_COURANTES.replace('?', '$protocole')})
              WHERE annee = CAST(left($periode, 4) AS INTEGER))
        SELECT a.*, c.valeur, c.depot_id, c.depot_id IS NOT NULL AS recu
        FROM a LEFT JOIN c ON c.indicateur = a.indicateur AND c.perimetre = a.perimetre AND c.periode = a.periode
        ORDER BY a.signataire, a.ordre, a.perimetre, a.periode
    """, {"protocole": protocole, "periode": str(periode)}).df()


@pytest.mark.parametrize("protocole", PROTOCOLES)
def test_completude_comme_la_requete_d_origine(store_demo, protocole):
    recus = 0
    for q in _periodes(store_demo, protocole):
        detail = depots.completude(store_demo, protocole, q).detail
        attendu = store_demo.lire(lambda con: _completude_d_origine(con, protocole, q))
        # Les colonnes d'origine à l'identique ; celles des motifs (depots.motifs) s'y ajoutent, vides ici.
        pd.testing.assert_frame_equal(detail.drop(columns=depots.COLONNES_MOTIFS), attendu, check_exact=True)
        assert not detail["explique"].any()
        recus += int(detail["recu"].sum())
    assert recus > 0


SQL_ARBRE_D_ORIGINE = """
    WITH n AS (SELECT * FROM noeud WHERE protocole = ?),
    e AS (SELECT e.code, n.chemin FROM engagement e JOIN n ON n.code = e.noeud WHERE e.protocole = ?),
    i AS (SELECT DISTINCT x.indicateur, e.chemin FROM indicateur_engagement x JOIN e ON e.code = x.engagement
          WHERE x.protocole = ?)
    SELECT n.code, n.parent, n.niveau, n.libelle, n.profondeur, n.chemin,
           (SELECT count(*) FROM e WHERE e.chemin = n.chemin OR starts_with(e.chemin, n.chemin || '.'))
               AS nb_engagements,
           (SELECT count(DISTINCT indicateur) FROM i WHERE i.chemin = n.chemin
               OR starts_with(i.chemin, n.chemin || '.')) AS nb_indicateurs,
           (SELECT string_agg(cadre, ';' ORDER BY cadre) FROM noeud_cadre c WHERE c.protocole = n.protocole
               AND c.noeud = n.code) AS cadres
    FROM n ORDER BY n.chemin
"""


@pytest.mark.parametrize("protocole", PROTOCOLES)
def test_arbre_comme_la_requete_d_origine(store_demo, protocole):
    arbre = requetes.arbre(store_demo, protocole)
    origine = store_demo.requete(SQL_ARBRE_D_ORIGINE, [protocole] * 3)
    # Les colonnes d'origine à l'identique ; texte, volet et quartiers (issue 15) viennent après.
    pd.testing.assert_frame_equal(arbre[list(origine.columns)], origine, check_exact=True)
    assert (arbre["nb_engagements"] > 0).any() and (arbre["nb_indicateurs"] > 0).any()


def test_etats_courants_porteurs_comme_les_sous_requetes(store_demo):
    for protocole in PROTOCOLES:
        df = suivi.etats_courants(store_demo, protocole)
        attendu = store_demo.requete("""
            SELECT e.code,
                   (SELECT string_agg(x.signataire, ';' ORDER BY x.rang) FROM engagement_porteur x
                     WHERE x.protocole = e.protocole AND x.engagement = e.code) AS porteurs,
                   (SELECT string_agg(s.nom, ', ' ORDER BY x.rang) FROM engagement_porteur x JOIN signataire s
                     ON s.protocole = x.protocole AND s.code = x.signataire
                     WHERE x.protocole = e.protocole AND x.engagement = e.code) AS porteurs_noms
            FROM engagement e WHERE e.protocole = ? ORDER BY e.ordre, e.code""", [protocole])
        pd.testing.assert_frame_equal(df[["code", "porteurs", "porteurs_noms"]], attendu, check_exact=True)
        assert df["porteurs"].notna().any()


def _comparaison_d_origine(store, protocole, periode, quartier):
    """`geo.comparaison_quartier` d'avant : tous les quartiers évalués, puis le quartier choisi et les valeurs des
    autres pris dans la table par périmètre."""
    from perr_metrics.pilotage import avancement
    from perr_metrics.pilotage import geo
    per = requetes.perimetres(store, protocole)
    du_niveau = requetes.indicateurs(store, protocole)
    codes = du_niveau.loc[du_niveau["niveau"] == "QPV", "code"]
    ter, par_perimetre = avancement._indicateurs_par_periode(store, protocole, [periode],
                                                             indicateurs=codes.tolist() or None)
    df = geo._par_quartier(par_perimetre.drop(columns="periode"), per, du_niveau, codes, protocole, None)
    inds = geo._lignes_par_code(du_niveau[du_niveau["niveau"] == "QPV"].set_index("code"))
    autres = geo._lignes_par_code(df[(df["perimetre"] != quartier) & df["valeur"].notna()].groupby("indicateur")[
        "valeur"].agg(nb_autres="count", autres_min="min", autres_mediane="median", autres_max="max"))
    ici = geo._lignes_par_code(df[df["perimetre"] == quartier].set_index("indicateur"))
    ter = geo._lignes_par_code(ter.drop(columns="periode").set_index("indicateur"))
    lignes = []
    for code, i in inds.items():
        if code not in ici and code not in autres:
            continue
        q, a, t = ici.get(code), autres.get(code), ter.get(code)
        lignes.append(dict(
            indicateur=code, libelle=i["libelle"], unite=i["unite"], sens=i["sens"], agregation=i["agregation"],
            valeur=None if q is None else q["valeur"], statut=None if q is None else q["statut"],
            explication="Ni valeur, ni référence, ni cible pour ce quartier." if q is None else q["explication"],
            cible_finale=None if q is None else q["cible_finale"], annee_cible=None if q is None else q["annee_cible"],
            depot_id=None if q is None else q["depot_id"], nb_autres=0 if a is None else int(a["nb_autres"]),
            autres_min=None if a is None else a["autres_min"], autres_mediane=None if a is None else a["autres_mediane"],
            autres_max=None if a is None else a["autres_max"],
            territoire_valeur=None if t is None else t["valeur"], territoire_statut=None if t is None else t["statut"]))
    out = pd.DataFrame(lignes, columns=geo.COLONNES_COMPARAISON)
    for c in ("valeur", "cible_finale", "autres_min", "autres_mediane", "autres_max", "territoire_valeur"):
        out[c] = pd.to_numeric(out[c], errors="coerce").astype("float64")
    return out


@pytest.mark.parametrize("protocole", PROTOCOLES)
def test_comparaison_quartier_comme_avant(store_demo, protocole):
    """Seul le quartier choisi est évalué, les autres ne donnent que leurs valeurs : la même table qu'en évaluant
    tous les quartiers (chaque quartier, des années, un semestre, une année hors du protocole)."""
    from perr_metrics.pilotage import geo
    with store_demo.session() as s:
        p = requetes.protocole(s, protocole)
        per = requetes.perimetres(s, protocole)
        quartiers = per.loc[per["niveau"] == "QPV", "code"].tolist()
        debut = int(p["annee_debut"])
        autres_vus = 0
        for q in [str(debut), str(debut + 2), f"{debut + 1}-S1", "2040"]:
            for quartier in quartiers:
                df = geo.comparaison_quartier(s, protocole, q, quartier)
                pd.testing.assert_frame_equal(df, _comparaison_d_origine(s, protocole, q, quartier), check_exact=True)
                autres_vus += int(df["nb_autres"].sum())
        assert autres_vus > 0
        with pytest.raises(KeyError):
            geo.comparaison_quartier(s, protocole, str(debut), "QZZZ")
