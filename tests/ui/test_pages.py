"""Les pages sous AppTest : ce qu'elles montrent, les filtres, l'adresse partageable, les erreurs en français."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests import classeurs

RACINE = Path(__file__).resolve().parents[2]
PAGES = sorted(p.name for p in (RACINE / "pages").glob("*.py"))
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def app(monkeypatch, chemin, compte: str | None = "coordination", page: str | None = None, **params) -> AppTest:
    """Le tableau de bord sous AppTest, sur la base `chemin`, avec une session ouverte au nom de `compte` (par défaut
    l'administrateur de la démonstration ; None : personne n'est connecté), sur la page `page` (fichier de pages/)."""
    import datetime as dt
    monkeypatch.setenv("PERR_DB", str(chemin))
    at = AppTest.from_file(str(RACINE / "dashboard.py"), default_timeout=60)
    if compte:
        maintenant = dt.datetime.now()
        at.session_state["perr_session"] = {"compte": compte, "debut": maintenant, "activite": maintenant,
                                            "sso": False}
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    if page:
        at.switch_page(f"pages/{page}").run()
    return at


def textes(at) -> str:
    morceaux = [e.value for e in at.markdown] + [e.value for e in at.caption] + [e.value for e in at.subheader]
    morceaux += [e.value for e in at.title] + [e.value for e in at.header]
    return "\n".join(str(m) for m in morceaux)


def metriques(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_premier_demarrage_cree_la_base_et_la_demo(monkeypatch, tmp_path):
    chemin = tmp_path / "data" / "perr.duckdb"
    at = app(monkeypatch, chemin)
    assert not at.exception
    assert chemin.exists()
    options = at.selectbox(key="protocole").options
    assert len(options) == 2
    assert any("(TCM-PERR-2019)" in o for o in options) and any("(BLOIS-PERR-2020)" in o for o in options)
    assert any("Données de démonstration" in w.value for w in at.warning)


def test_accueil_troyes(monkeypatch, store_demo):
    at = app(monkeypatch, store_demo.chemin)
    at.selectbox(key="protocole").select("TCM-PERR-2019").run()
    assert not at.exception
    assert at.query_params["protocole"] == ["TCM-PERR-2019"] or at.query_params["protocole"] == "TCM-PERR-2019"
    m = metriques(at)
    assert m["Engagements"] == "147" and m["Quartiers"] == "9"
    assert "Troyes Champagne Métropole" in textes(at)
    # (devant la structure, l'administrateur a d'abord les dépôts à revoir : les tableaux se cherchent par leurs
    # colonnes)
    tableaux = [d.value for d in at.dataframe]
    arbre = [t for t in tableaux if "Axe / thématique" in t.columns][0]
    assert arbre["Engagements"].iloc[0] == 55 and len(arbre) == 17
    signataires = [t for t in tableaux if "Signe le protocole" in t.columns][0]
    assert "CAF de l'Aube" in set(signataires["Nom"])
    quartiers = [t for t in tableaux if "Quartier" in t.columns][0]
    assert len(quartiers) == 9 and "La Chapelle-Saint-Luc" in " ".join(quartiers["Communes"])
    # Descendre dans un nœud : ses engagements et leurs porteurs.
    at.selectbox(key="noeud-TCM-PERR-2019").select("2.4").run()
    engagements = [d.value for d in at.dataframe if "Engagement" in d.value.columns][0]
    assert engagements["Engagement"].str.contains("doublant le nombre d'apprentis").any()


def test_lien_partage_ouvre_le_meme_protocole(monkeypatch, store_demo):
    at = app(monkeypatch, store_demo.chemin, protocole="BLOIS-PERR-2020")
    assert not at.exception
    assert at.selectbox(key="protocole").value == "BLOIS-PERR-2020"
    assert metriques(at)["Engagements"] == "80"
    assert "Agglopolys" in textes(at)


def test_protocole_inconnu_dans_l_adresse(monkeypatch, store_demo):
    at = app(monkeypatch, store_demo.chemin, protocole="NULLE-PART")
    assert not at.exception
    assert at.selectbox(key="protocole").value in {"TCM-PERR-2019", "BLOIS-PERR-2020"}


def test_base_vide_sans_demo_demande_le_premier_administrateur(monkeypatch, tmp_path):
    """Une base neuve sans démonstration n'a aucun compte : seule la création du premier administrateur est proposée,
    puis il est connecté et voit que la base n'a encore aucun protocole."""
    monkeypatch.setenv("PERR_DEMO", "0")
    at = app(monkeypatch, tmp_path / "vide.duckdb", compte=None)
    assert not at.exception
    assert at.title[0].value == "Créer le premier compte administrateur"
    champs = at.text_input
    champs[0].input("marie.curie")
    champs[1].input("Marie Curie, politique de la ville")
    champs[3].input("un mot de passe long")
    champs[4].input("un mot de passe différent")
    at.button[0].click().run()
    assert at.error and "diffèrent" in at.error[0].value
    at.text_input[3].input("un mot de passe long")
    at.text_input[4].input("un mot de passe long")
    at.button[0].click().run()
    assert not at.exception and not at.error
    assert at.session_state["perr_session"]["compte"] == "marie.curie"
    assert any("Aucun protocole" in i.value for i in at.info)


def test_base_abimee_message_et_pas_de_trace(monkeypatch, tmp_path):
    chemin = tmp_path / "abimee.duckdb"
    chemin.write_bytes(b"n'importe quoi" * 500)
    at = app(monkeypatch, chemin)
    assert not at.exception
    assert at.error and "n'est pas une base perr-metrics lisible" in at.error[0].value


@pytest.mark.parametrize("page", PAGES)
def test_chaque_page_s_affiche_sans_exception(monkeypatch, store_demo, tmp_path, page):
    if page == "premier_administrateur.py":          # la page d'une base sans compte
        monkeypatch.setenv("PERR_DEMO", "0")
        at = app(monkeypatch, tmp_path / "neuve.duckdb", compte=None)
    elif page == "connexion.py":                      # la page de qui n'est pas connecté
        at = app(monkeypatch, store_demo.chemin, compte=None)
    else:
        if page == "indicateurs_publies.py":          # la vue publique, ouverte, un indicateur publié
            from perr_metrics.pilotage import publication
            publication.ouvrir_vue_publique(store_demo, True)
            publication.publier(store_demo, "TCM-PERR-2019", ["SEC-VIDEO"])
        at = app(monkeypatch, store_demo.chemin, page=page)
    assert not at.exception
    assert at.title
    if page == "acces_refuse.py":
        assert "n'est pas ouverte à votre rôle" in at.error[0].value
    else:
        assert not at.error, [e.value for e in at.error]


def test_referentiel_refus_puis_import(monkeypatch, store_demo, tmp_path):
    at = app(monkeypatch, store_demo.chemin)
    at.switch_page("pages/referentiel.py").run()
    d = classeurs.donnees()
    d["quartiers"][0]["code"] = "QPV-1"
    mauvais = classeurs.ecrire(tmp_path, d, "mauvais.xlsx").read_bytes()
    at.file_uploader(key="classeur").set_value(("mauvais.xlsx", mauvais, XLSX)).run()
    assert not at.exception
    assert "Classeur refusé" in at.error[0].value
    rapport = at.dataframe[0].value
    assert ("Quartiers!A2", "code-qpv-invalide") in set(zip(rapport["Cellule"], rapport["Code"]))
    bon = classeurs.ecrire(tmp_path).read_bytes()
    at.file_uploader(key="classeur").set_value(("bon.xlsx", bon, XLSX)).run()
    assert not at.exception
    # D'abord l'aperçu de ce qui serait créé ; rien n'est écrit avant la confirmation.
    assert any("Ce que changerait l'import" in h.value for h in at.subheader)
    assert store_demo.requete("SELECT count(*) AS n FROM protocole WHERE code = 'EQ2030-TEST'")["n"][0] == 0
    at.button(key="confirmer_import").click().run()
    assert not at.exception
    assert "EQ2030-TEST créé" in at.success[0].value
    assert any("EQ2030-TEST" in o for o in at.selectbox(key="export").options)
