"""Une erreur inattendue pendant une page (issue 20, point 3) : un seul message français avec une référence, jamais de
trace à l'écran ; la trace, la page et le compte au journal du serveur sous la même référence ; rien d'écrit."""
from __future__ import annotations

import logging
import re
import tomllib

import pytest

from perr_metrics.acces import journal
from perr_metrics.pilotage import vues
from tests.ui.test_pages import RACINE, app

TCM = "TCM-PERR-2019"
REFERENCE = re.compile(r"référence (E-\d{8}-[0-9a-f]{6})")


class Panne(RuntimeError):
    """L'erreur inattendue provoquée par les tests."""


def reference_affichee(at) -> str:
    """La référence du seul message d'erreur de la page, qui dit aussi que rien n'a été enregistré."""
    assert not at.exception, [e.value for e in at.exception]
    messages = [e.value for e in at.error]
    assert len(messages) == 1, messages
    assert messages[0].startswith("Une erreur inattendue est survenue (référence E-")
    assert "rien n'a été enregistré" in messages[0] and "Transmettez cette référence à la coordination" in messages[0]
    assert "Panne" not in messages[0] and "Traceback" not in messages[0]
    return REFERENCE.search(messages[0]).group(1)


def signalement(caplog, reference: str) -> logging.LogRecord:
    """La ligne du journal du serveur qui porte la référence."""
    lignes = [r for r in caplog.records if r.name == "perr_metrics.ui" and reference in r.getMessage()]
    assert len(lignes) == 1, [r.getMessage() for r in caplog.records]
    return lignes[0]


def contenu(store) -> tuple:
    """Ce qu'une écriture de la page Vue publique changerait : les indicateurs publiés et le journal."""
    return store.lire(lambda con: (con.execute("SELECT * FROM publication ORDER BY ALL").fetchall(),
                                   con.execute("SELECT count(*) FROM journal").fetchone()[0]))


def test_une_ecriture_qui_echoue_n_ecrit_rien_et_donne_une_reference(monkeypatch, store_demo, caplog):
    """Publier un indicateur, la ligne de journal de l'écriture échouant dans sa transaction : l'insertion de la
    publication est annulée avec elle ; la page le dit, avec une référence, sans trace."""
    at = app(monkeypatch, store_demo.chemin, page="publication.py", protocole=TCM)
    assert not at.exception and not at.error
    avant = contenu(store_demo)
    noter = journal.noter

    def noter_en_panne(con, utilisateur, action, **kwargs):
        if action == "publication":
            raise Panne("le disque a disparu")
        return noter(con, utilisateur, action, **kwargs)

    monkeypatch.setattr(journal, "noter", noter_en_panne)
    at.multiselect(key=f"publies-{TCM}").select("SEC-VIDEO")
    with caplog.at_level(logging.ERROR, logger="perr_metrics.ui"):
        [b for b in at.button if b.label == "Enregistrer la sélection"][0].click().run()
    reference = reference_affichee(at)
    assert not at.success
    ligne = signalement(caplog, reference)
    assert isinstance(ligne.exc_info[1], Panne)
    assert "page publication.py" in ligne.getMessage() and "compte coordination" in ligne.getMessage()
    apres = contenu(store_demo)
    # Rien de l'écriture : ni publication, ni sa ligne de journal ; seule la trace de l'incident, avec sa référence.
    assert apres[0] == avant[0]
    assert apres[1] == avant[1] + 1
    action, detail = store_demo.lire(lambda con: con.execute(
        "SELECT action, detail FROM journal ORDER BY id DESC LIMIT 1").fetchone())
    assert action == "erreur inattendue" and reference in detail


def test_une_lecture_qui_echoue_donne_une_reference(monkeypatch, store_demo, caplog):
    """Une lecture du cœur qui échoue sur la Vue d'ensemble : le message et sa référence, le journal du serveur."""
    def synthese(*args, **kwargs):
        raise Panne("lecture impossible")

    originale = vues.synthese
    monkeypatch.setattr(vues, "synthese", synthese)
    with caplog.at_level(logging.ERROR, logger="perr_metrics.ui"):
        at = app(monkeypatch, store_demo.chemin, page="vue_ensemble.py", protocole=TCM, periode="2021")
    reference = reference_affichee(at)
    ligne = signalement(caplog, reference)
    assert isinstance(ligne.exc_info[1], Panne) and "page vue_ensemble.py" in ligne.getMessage()
    # La panne passée, la page s'affiche de nouveau, sans message.
    monkeypatch.setattr(vues, "synthese", originale)
    at.run()
    assert not at.exception and not at.error
    assert at.title[0].value == "Vue d'ensemble"


def test_une_erreur_dans_la_navigation_est_rattrapee_par_le_tableau_de_bord(monkeypatch, store_demo, caplog):
    """Une erreur hors du `with ui.protections()` des pages, dans la navigation (le menu se demande si la vue publique
    est ouverte) : le filet de dashboard.py, autour de la navigation et de `page.run()`, la rattrape de même."""
    from perr_metrics.pilotage import publication

    def vue_publique_ouverte(store):
        raise Panne("paramètre illisible")

    monkeypatch.setattr(publication, "vue_publique_ouverte", vue_publique_ouverte)
    with caplog.at_level(logging.ERROR, logger="perr_metrics.ui"):
        at = app(monkeypatch, store_demo.chemin, protocole=TCM)
    ligne = signalement(caplog, reference_affichee(at))
    assert isinstance(ligne.exc_info[1], Panne) and "compte coordination" in ligne.getMessage()


def test_la_mecanique_de_streamlit_traverse_les_protections():
    from streamlit.runtime.scriptrunner import RerunException, StopException

    from perr_metrics.ui import protections
    for exc in (StopException(), RerunException(None)):
        with pytest.raises(type(exc)):
            with protections():
                raise exc


def test_streamlit_ne_montre_aucun_detail_d_erreur():
    config = tomllib.loads((RACINE / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] == "none"
