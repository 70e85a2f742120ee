"""Ce qui entoure les pages : aucune dépréciation de Streamlit (les tests échouent sur la première), le premier
démarrage qui montre sa progression, le français dans le cadre de Streamlit (barre d'outils des graphiques, menu ⋮),
les sections du menu selon le rôle."""
from __future__ import annotations

import json
import tomllib

import pytest
from streamlit.testing.v1 import AppTest

from tests.ui.test_pages import RACINE, app


def test_une_depreciation_de_streamlit_est_attrapee(sans_appel_deprecie_de_streamlit):
    """Le filet de tests/conftest.py voit ce que Streamlit émet vraiment : un message au logger de
    streamlit.deprecation_util, pas un DeprecationWarning — ici pour l'ancien st.components.v1.html, sous AppTest."""
    def ancien():
        import streamlit.components.v1 as components
        components.html("<p>ancien</p>", height=0)

    AppTest.from_function(ancien).run()
    messages = list(sans_appel_deprecie_de_streamlit.messages)
    sans_appel_deprecie_de_streamlit.messages.clear()      # sinon ce test-ci échouerait, à raison
    assert any("st.iframe" in m and "components.v1.html" in m for m in messages), messages


def test_cookie_pose_sans_composant_deprecie():
    source = (RACINE / "perr_metrics" / "ui" / "session.py").read_text()
    assert "components" not in source.replace("`st.components.v1.html`, déprécié", "")
    assert "st.html(" in source and "unsafe_allow_javascript=True" in source


def test_barre_d_outils_des_graphiques_en_francais(monkeypatch, store_demo):
    at = app(monkeypatch, store_demo.chemin, page="par_axe.py", protocole="TCM-PERR-2019")
    assert not at.exception
    graphiques = at.get("plotly_chart")
    assert graphiques
    for g in graphiques:
        config = json.loads(g.proto.config)
        assert config["locale"] == "fr" and config["displaylogo"] is False
        dico = config["locales"]["fr"]["dictionary"]
        # Les clés exactes du Plotly.js livré par Streamlit (sinon la traduction ne s'applique pas).
        assert dico["Download plot as a PNG"] == "Télécharger le graphique (PNG)" and dico["Pan"] == "Déplacer"
        assert config["locales"]["fr"]["format"]["decimal"] == ","


def test_cles_de_la_traduction_presentes_dans_le_plotly_de_streamlit():
    import streamlit
    from perr_metrics.ui.graphiques import LOCALE_FR
    from pathlib import Path
    js = "".join(p.read_text(errors="replace") for p in
                 (Path(streamlit.__file__).parent / "static" / "static" / "js").glob("PlotlyChart*.js"))
    absentes = [k for k in LOCALE_FR["dictionary"] if f"`{k}`" not in js and f'"{k}"' not in js]
    assert not absentes, absentes


def test_cadre_streamlit_reduit_a_ce_qui_est_francais():
    config = tomllib.loads((RACINE / ".streamlit" / "config.toml").read_text())
    assert config["client"]["toolbarMode"] == "minimal"
    # showSidebarNavigation = false cacherait aussi le menu de st.navigation (vu dans le navigateur) : laissé à vrai.
    assert config["client"].get("showSidebarNavigation", True) is True
    assert 'menu_items={"Get help": None, "Report a bug": None, "About": None}' in (RACINE / "dashboard.py").read_text()


@pytest.mark.parametrize("compte, attendu", [
    ("copil", {"Pilotage": ["Accueil", "Vue d'ensemble", "Par axe", "Par QPV", "Par signataire", "Fiche indicateur",
                            "Engagements", "Rapport annuel", "Suivi des dépôts"]}),
    # L'accueil d'un partenaire est son espace (pilotage.partenaire) : il ouvre « Mon suivi ».
    ("caf-aube", {"Mon suivi": ["Accueil", "Engagements", "Déposer", "Suivi des dépôts"]}),
    ("coordination", {"Partenaires": ["Déposer", "Suivi des dépôts"]}),
])
def test_sections_du_menu_selon_le_role(monkeypatch, store_demo, compte, attendu):
    """Le COPIL ne trouve ni « Suivi des dépôts » ni « Rapport annuel » sous « Partenaires » ; un partenaire trouve
    ce qu'il a à faire sous « Mon suivi »."""
    from perr_metrics.ui.navigation import PAGES
    role = {"copil": "lecteur", "caf-aube": "contributeur", "coordination": "administrateur"}[compte]
    sections: dict[str, list[str]] = {}
    for p in PAGES:
        if role in p.roles and p.fichier != "pages/indicateurs_publies.py":
            sections.setdefault(p.section(role), []).append(p.titre)
    for section, titres in attendu.items():
        assert sections[section] == titres
    if role == "lecteur":
        assert "Partenaires" not in sections


ACCUEIL = "Protocoles d'engagements renforcés et réciproques"


# La racine mène la coordination à l'accueil, le partenaire à son espace, le COPIL à la vue d'ensemble (navigation
# réconciliée à l'intégration de parcours-a et parcours-b).
@pytest.mark.parametrize("compte, titre", [("copil", "Vue d'ensemble"), ("caf-aube", "Votre espace partenaire"),
                                           ("coordination", ACCUEIL), (None, "Connexion")])
def test_la_racine_ouvre_l_accueil_du_role_sous_sa_propre_adresse(monkeypatch, store_demo, compte, titre):
    at = app(monkeypatch, store_demo.chemin, compte=compte)
    assert not at.exception
    assert at.title[0].value == titre
