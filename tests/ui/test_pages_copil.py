"""Les pages du COPIL sous AppTest : Vue d'ensemble, Par axe, Fiche indicateur.

Chaque chiffre affiché est comparé à ce que le cœur calcule directement (avancement, depots, suivi), les filtres sont
changés par leurs clés, et un lien collé (`?protocole=…&periode=…&noeud=…`) rouvre la même vue.
"""
from __future__ import annotations

import datetime as dt
import json

import pytest

from perr_metrics.pilotage import avancement as av
from perr_metrics.depots import depot as depots
from perr_metrics.referentiel import requetes
from perr_metrics.pilotage import suivi
from perr_metrics.commun.formats import format_pourcent
from tests.ui.test_pages import app, metriques, textes

TROYES, BLOIS = "TCM-PERR-2019", "BLOIS-PERR-2020"


def page(monkeypatch, store, fichier, **params):
    at = app(monkeypatch, store.chemin, **params)
    at.switch_page(f"pages/{fichier}").run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


def param(at, cle):
    v = at.query_params[cle]
    return v[0] if isinstance(v, list) else v


def tableau(at, colonne):
    """Le premier tableau affiché qui a cette colonne."""
    for df in at.dataframe:
        if colonne in df.value.columns:
            return df.value
    raise AssertionError(f"aucun tableau n'a de colonne « {colonne} »")


def figures(at) -> list[dict]:
    return [json.loads(f.proto.spec) for f in at.get("plotly_chart")]


def attendu_territoire(store, protocole, periode):
    t = av.indicateurs_au_territoire(store, protocole, periode)
    c = t["statut"].value_counts()
    a, b, r = (int(c.get(s, 0)) for s in ("atteint", "en bonne voie", "en retard"))
    return t, a, b, r


# --------------------------------------------------------------------------------------------------------------------
# Vue d'ensemble
# --------------------------------------------------------------------------------------------------------------------

def test_vue_ensemble_chiffres_cles(monkeypatch, store_demo):
    at = page(monkeypatch, store_demo, "vue_ensemble.py", protocole=TROYES, periode="2021")
    assert at.selectbox(key="periode").value == "2021"
    t, a, b, r = attendu_territoire(store_demo, TROYES, "2021")
    m = metriques(at)
    assert m["Score d'avancement"] == format_pourcent(100 * (a + b) / (a + b + r), 0)
    assert m["Atteints ou en bonne voie"] == f"{a + b} sur {a + b + r}"
    assert m["Indicateurs en retard"] == str(r)
    comp = depots.completude(store_demo, TROYES, "2021").par_signataire
    assert m["Complétude des dépôts"] == format_pourcent(100 * comp["recus"].sum() / comp["attendus"].sum())
    etats = suivi.etats_courants(store_demo, TROYES)["etat"]
    assert m["Engagements réalisés"] == f"{(etats == 'réalisé').sum()} sur {len(etats)}"
    assert any("Données de démonstration" in w.value for w in at.warning)
    # Le graphique des statuts et ses données : les comptes du modèle.
    statuts = tableau(at, "Indicateurs")
    assert dict(zip(statuts["Statut"], statuts["Indicateurs"])) == \
        {s: int(t["statut"].value_counts().get(s, 0)) for s in av.STATUTS}
    fig = figures(at)[0]
    assert fig["layout"]["separators"] == ", "
    assert {tr["marker"]["color"] for tr in fig["data"]} <= set(av_couleurs())
    # L'avancement des axes : une ligne par axe, avec le score du modèle.
    axes = tableau(at, "Score (%)")
    noeuds = av.avancement_par_noeud(store_demo, TROYES, "2021")
    assert list(axes["Axe"]) == ["1", "2", "3"]
    assert list(axes["Score (%)"]) == pytest.approx(list(noeuds.loc[noeuds["profondeur"] == 1, "score"]))


def av_couleurs():
    from perr_metrics import ui
    return list(ui.COULEURS_STATUT.values())


def test_vue_ensemble_ce_qui_a_change(monkeypatch, store_demo):
    at = page(monkeypatch, store_demo, "vue_ensemble.py", protocole=TROYES, periode="2022")
    assert any(h.value == "Ce qui a changé depuis 2021" for h in at.header)
    avant = av.indicateurs_au_territoire(store_demo, TROYES, "2021").set_index("indicateur")["statut"]
    apres = av.indicateurs_au_territoire(store_demo, TROYES, "2022").set_index("indicateur")["statut"]
    changes = {i for i in apres.index if (apres[i] or "") != (avant[i] or "")}
    statuts = tableau(at, "Évolution")
    assert set(statuts["Indicateur"]) == changes
    assert [t.label for t in at.tabs][0] == f"Statuts qui ont changé ({len(changes)})"
    # Les dépôts reçus depuis le 31 décembre 2021 et portant sur 2022 ou avant.
    recus = tableau(at, "Déposé le")
    attendus = depots.liste_depots(store_demo, TROYES)
    attendus = attendus[attendus["depose_le"] >= dt.datetime(2022, 1, 1)]
    assert set(recus["N°"]) == set(attendus["id"])
    assert "Dépôts reçus depuis le 31 décembre 2021" in [t.label for t in at.tabs][2]
    # Le score a baissé depuis 2021 : l'écart est affiché en points, à la baisse.
    score = next(m for m in at.metric if m.label == "Score d'avancement")
    assert score.proto.delta.startswith("-") and score.proto.delta.endswith("points")


def test_vue_ensemble_changer_de_periode_et_premiere_periode(monkeypatch, store_demo):
    at = page(monkeypatch, store_demo, "vue_ensemble.py", protocole=TROYES, periode="2021")
    at.selectbox(key="periode").select("2019").run()
    assert not at.exception and param(at, "periode") == "2019"
    _, a, b, r = attendu_territoire(store_demo, TROYES, "2019")
    assert metriques(at)["Atteints ou en bonne voie"] == f"{a + b} sur {a + b + r}"
    assert any("Première période du protocole" in i.value for i in at.info)
    at.selectbox(key="periode").select("2021-S1").run()
    assert not at.exception and param(at, "periode") == "2021-S1"


def test_vue_ensemble_etats_des_engagements(monkeypatch, store_demo):
    # Sans aucun état saisi : tous « non renseigné », et la page le dit.
    store_demo.ecrire(lambda con: con.execute("DELETE FROM etat_engagement WHERE protocole = ?", [TROYES]))
    at = page(monkeypatch, store_demo, "vue_ensemble.py", protocole=TROYES, periode="2022")
    assert metriques(at)["Engagements réalisés"] == "0 sur 147"
    assert any("Aucun état d'engagement n'a encore été saisi" in i.value for i in at.info)
    # Deux états pour E001 (le dernier en date compte), un pour E002.
    store_demo.ecrire(lambda con: con.executemany(
        "INSERT INTO etat_engagement VALUES (?, ?, ?, ?, NULL, 'test', ?, NULL)",
        [(TROYES, "E001", "en cours", dt.date(2021, 3, 1), dt.datetime(2021, 3, 1)),
         (TROYES, "E001", "réalisé", dt.date(2022, 3, 1), dt.datetime(2022, 3, 1)),
         (TROYES, "E002", "reporté", dt.date(2022, 3, 1), dt.datetime(2022, 3, 1))]))
    at = page(monkeypatch, store_demo, "vue_ensemble.py", protocole=TROYES, periode="2022")
    assert metriques(at)["Engagements réalisés"] == "1 sur 147"
    etats = tableau(at, "Engagements")
    assert dict(zip(etats["État"], etats["Engagements"])) == {
        "non démarré": 0, "en cours": 0, "réalisé": 1, "reporté": 1, "abandonné": 0, "non renseigné": 145}
    assert not any("Aucun état d'engagement" in i.value for i in at.info)


def test_vue_ensemble_blois_par_lien(monkeypatch, store_demo):
    at = page(monkeypatch, store_demo, "vue_ensemble.py", protocole=BLOIS, periode="2022")
    assert at.selectbox(key="protocole").value == BLOIS and at.selectbox(key="periode").value == "2022"
    _, a, b, r = attendu_territoire(store_demo, BLOIS, "2022")
    assert metriques(at)["Atteints ou en bonne voie"] == f"{a + b} sur {a + b + r}"
    assert len(tableau(at, "Score (%)")) == 5


# --------------------------------------------------------------------------------------------------------------------
# Par axe
# --------------------------------------------------------------------------------------------------------------------

def test_par_axe_lien_vers_un_noeud(monkeypatch, store_demo):
    at = page(monkeypatch, store_demo, "par_axe.py", protocole=TROYES, periode="2021", noeud="2.4")
    assert at.selectbox(key="noeud").value == "2.4" and at.selectbox(key="periode").value == "2021"
    assert any(h.value == "Thématique 2.4 — Emploi et insertion professionnelle" for h in at.header)
    ligne = av.avancement_par_noeud(store_demo, TROYES, "2021").set_index("code").loc["2.4"]
    m = metriques(at)
    assert m["Score d'avancement"] == format_pourcent(ligne["score"], 0)
    assert m["En retard"] == str(ligne["nb_en_retard"])
    assert m["Atteints ou en bonne voie"] == \
        f"{ligne['nb_atteint'] + ligne['nb_en_bonne_voie']} sur " \
        f"{ligne['nb_atteint'] + ligne['nb_en_bonne_voie'] + ligne['nb_en_retard']}"
    # Les indicateurs du nœud, regroupés par statut, chacun avec son explication.
    etiquettes = [e.label for e in at.expander]
    assert f"En retard ({ligne['nb_en_retard']})" in etiquettes
    assert f"En bonne voie ({ligne['nb_en_bonne_voie']})" in etiquettes
    t = av.indicateurs_au_territoire(store_demo, TROYES, "2021").set_index("indicateur")
    assert t.loc["EMP-GARANTIE-JEUNES", "explication"].replace("*", r"\*") in textes(at) or \
        "Garantie jeunes" in textes(at)
    assert "fiche_indicateur?protocole=TCM-PERR-2019&periode=2021&indicateur=EMP-PAQTE" in textes(at)
    # Ses engagements, avec leurs porteurs et leur état.
    eng = tableau(at, "Porteurs")
    assert list(eng["Code"]) == list(requetes.engagements(store_demo, TROYES, "2.4")["code"])
    courants = suivi.etats_courants(store_demo, TROYES).set_index("code")["etat"]
    assert list(eng["État"]) == [courants[c] for c in eng["Code"]]
    assert any("n'a pas de subdivision" in c.value for c in at.caption)


def test_par_axe_descendre_et_remonter(monkeypatch, store_demo):
    at = page(monkeypatch, store_demo, "par_axe.py", protocole=TROYES, periode="2022")
    # La racine : les trois axes, avec leurs scores.
    assert at.selectbox(key="noeud").value == ""
    enfants = tableau(at, "Score")
    assert list(enfants["Code"]) == ["1", "2", "3"]
    noeuds = av.avancement_par_noeud(store_demo, TROYES, "2022").set_index("code")
    assert list(enfants["Score"]) == [format_pourcent(noeuds.at[c, "score"], 0) for c in ("1", "2", "3")]
    assert list(enfants["En retard"]) == [noeuds.at[c, "nb_en_retard"] for c in ("1", "2", "3")]
    # Descendre par le sélecteur…
    at.selectbox(key="noeud").select("2").run()
    assert not at.exception and param(at, "noeud") == "2"
    assert list(tableau(at, "Score")["Code"]) == ["2.1", "2.2", "2.3", "2.4"]
    at.selectbox(key="noeud").select("2.3").run()
    assert param(at, "noeud") == "2.3"
    # …et remonter par le fil d'Ariane.
    at.button(key="fil-2").click().run()
    assert not at.exception and param(at, "noeud") == "2" and at.selectbox(key="noeud").value == "2"
    at.button(key="fil-racine").click().run()
    assert not at.exception and at.selectbox(key="noeud").value == ""
    assert not [w for w in at.warning if "Session State" in w.value]


def test_par_axe_noeud_sans_indicateur(monkeypatch, store_demo):
    # Blois 1.1 : un axe stratégique sans engagement rattaché.
    at = page(monkeypatch, store_demo, "par_axe.py", protocole=BLOIS, periode="2021", noeud="1.1")
    assert any("Aucun indicateur ne mesure" in i.value for i in at.info)
    assert any("Aucun engagement n'est rattaché" in i.value for i in at.info)
    assert metriques(at)["Score d'avancement"] == "–"


def test_par_axe_noeud_inconnu_dans_le_lien(monkeypatch, store_demo):
    at = page(monkeypatch, store_demo, "par_axe.py", protocole=TROYES, periode="2021", noeud="9.9")
    assert at.selectbox(key="noeud").value == ""


# --------------------------------------------------------------------------------------------------------------------
# Fiche indicateur
# --------------------------------------------------------------------------------------------------------------------

def test_fiche_indicateur_par_lien(monkeypatch, store_demo):
    at = page(monkeypatch, store_demo, "fiche_indicateur.py", protocole=TROYES, periode="2021",
              indicateur="SAN-SANS-MT-TAUX")
    assert at.selectbox(key="indicateur").value == "SAN-SANS-MT-TAUX"
    assert any(h.value == "Part des assurés des QPV sans médecin traitant" for h in at.header)
    t = av.indicateurs_au_territoire(store_demo, TROYES, "2021").set_index("indicateur").loc["SAN-SANS-MT-TAUX"]
    m = metriques(at)
    assert m["Valeur 2021"] == av.formater(t["valeur"], "%")
    assert m["Statut"] == t["statut"]
    assert m["Attendu sur la trajectoire"] == av.formater(t["attendu"], "%")
    assert m[f"Cible finale ({t['annee_cible']})"] == av.formater(t["cible_finale"], "%")
    assert any(t["explication"] == i.value for i in at.info)
    assert "taux : 100 × Nombre d'assurés" in textes(at)
    assert list(tableau(at, "Engagement")["Code"]) == ["E039", "E040"]
    # La série : le territoire, la trajectoire, la référence et la cible.
    noms = {tr.get("name") for tr in figures(at)[0]["data"]}
    assert {"Territoire", "Trajectoire attendue", "Référence", "Cible"} <= noms
    # Par périmètre : une barre par statut, les valeurs du modèle.
    par = av.indicateurs_au_perimetre(store_demo, TROYES, "2021")
    par = par[par["indicateur"] == "SAN-SANS-MT-TAUX"]
    assert {tr["name"] for tr in figures(at)[1]["data"]} == set(par["statut"]) | {"Valeur attendue"}
    donnees = tableau(at, "Explication")
    assert list(donnees["Valeur"]) == list(par["valeur"]) and list(donnees["Statut"]) == list(par["statut"])
    # D'où viennent les chiffres : les valeurs déposées pour 2021, avec leur dépôt et leur fichier.
    h = depots.historique(store_demo, TROYES, "SAN-SANS-MT-TAUX")
    prov = tableau(at, "Sort")
    assert len(prov) == (h["periode"] == "2021").sum()
    assert set(prov["Fichier"]) == set(h.loc[h["periode"] == "2021", "fichier_nom"])
    assert set(prov["Sort"]) == {"fait foi"}
    bouton = [b for b in at.get("download_button") if "Télécharger le fichier" in b.proto.label]
    assert bouton


def test_fiche_changer_d_indicateur_et_de_detail(monkeypatch, store_demo):
    at = page(monkeypatch, store_demo, "fiche_indicateur.py", protocole=TROYES, periode="2021",
              indicateur="SAN-SANS-MT-TAUX")
    traces = len(figures(at)[0]["data"])
    at.selectbox(key="qpv").select("tous").run()
    assert not at.exception and param(at, "qpv") == "tous"
    assert len(figures(at)[0]["data"]) == traces + 9          # un tracé par quartier
    at.selectbox(key="qpv").select("QN01001I").run()
    assert len(figures(at)[0]["data"]) == traces + 1
    at.selectbox(key="indicateur").select("SEC-VIDEO").run()
    assert not at.exception and param(at, "indicateur") == "SEC-VIDEO"
    assert at.selectbox(key="qpv").value == "aucun" and param(at, "qpv") == "aucun"   # autre indicateur : remis à zéro
    assert any(h.value.startswith("Nombre de caméras") for h in at.header)
    at.toggle(key="toutes_periodes").set_value(True).run()
    assert len(tableau(at, "Sort")) == len(depots.historique(store_demo, TROYES, "SEC-VIDEO"))


def test_fiche_valeur_remplacee_et_non_agregeable(monkeypatch, store_demo):
    corrige = store_demo.requete("SELECT v.indicateur, v.periode, d.id FROM valeur v JOIN depot d ON d.id = v.depot_id "
                                 "WHERE d.protocole = ? AND d.fichier_nom LIKE '%-corrige.csv' LIMIT 1", [TROYES])
    ind, periode, neuf = corrige.iloc[0]
    at = page(monkeypatch, store_demo, "fiche_indicateur.py", protocole=TROYES, periode=periode[:4], indicateur=ind)
    prov = tableau(at, "Sort")
    assert f"remplacée par le dépôt n° {neuf}" in set(prov["Sort"])
    # Un indicateur non agrégeable : pas de valeur d'ensemble, les quartiers sont tracés d'office.
    at.selectbox(key="indicateur").select("EMP-DELAI-ML").run()
    assert not at.exception
    assert metriques(at)["Statut"] == "–"
    assert any("pas de trajectoire d'ensemble" in c.value for c in at.caption)
    assert at.selectbox(key="qpv").value == "tous"


def test_fiche_sans_valeur_pour_la_periode(monkeypatch, store_demo):
    # La CPAM n'a rien envoyé pour 2022.
    at = page(monkeypatch, store_demo, "fiche_indicateur.py", protocole=TROYES, periode="2022", indicateur="SAN-BILANS")
    assert metriques(at)["Statut"] == "non renseigné"
    assert any("Aucune valeur par périmètre pour 2022" in i.value for i in at.info)
    assert any("Aucune valeur déposée pour cet indicateur en 2022" in i.value for i in at.info)


def test_fiche_indicateur_sans_cible(monkeypatch, store_demo):
    store_demo.ecrire(lambda con: con.execute("DELETE FROM cible WHERE protocole = ? AND indicateur = 'SEC-VIDEO'",
                                              [TROYES]))
    at = page(monkeypatch, store_demo, "fiche_indicateur.py", protocole=TROYES, periode="2021", indicateur="SEC-VIDEO")
    assert metriques(at)["Statut"] == "sans cible" and metriques(at)["Cible finale"] == "aucune"
    assert any("pas de trajectoire à tracer" in c.value for c in at.caption)


@pytest.mark.parametrize("protocole", [TROYES, BLOIS])
def test_chaque_sorte_d_indicateur_et_de_noeud_s_affiche(monkeypatch, store_demo, protocole):
    """Un indicateur de chaque sorte (niveau, agrégation, périodicité) sur la fiche, et les nœuds de chaque profondeur
    (avec et sans indicateurs) sur « Par axe », sans erreur ni « None » affiché."""
    ind = requetes.indicateurs(store_demo, protocole)
    sortes = ind.drop_duplicates(["niveau", "agregation", "periodicite"])["code"]
    at = page(monkeypatch, store_demo, "fiche_indicateur.py", protocole=protocole, periode="2021")
    for code in sortes:
        at.selectbox(key="indicateur").select(code).run()
        assert not at.exception and not at.error, code
        assert "None" not in textes(at) and "nan" not in textes(at).lower().split(), code
    arbre = requetes.arbre(store_demo, protocole)
    noeuds = arbre.drop_duplicates(["profondeur", "nb_indicateurs"])["code"]
    at.switch_page("pages/par_axe.py").run()
    for code in noeuds:
        at.selectbox(key="noeud").select(code).run()
        assert not at.exception and not at.error, code
        assert "None" not in textes(at), code
