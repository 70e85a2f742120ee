"""La section « Relances » de « Suivi des dépôts » et l'accusé de réception de « Déposer », sous AppTest, contre un vrai
serveur SMTP local ; et sans serveur : le message et les .eml."""
from __future__ import annotations

import io
import zipfile

import pytest

from perr_metrics.acces.journal import lire_journal
from perr_metrics.depots import depot as depots
from tests.smtp import serveur_smtp
from tests.ui.test_pages import app
from tests.ui.test_pages_depots import XLSX, modele_rempli

TCM = "TCM-PERR-2019"


@pytest.fixture
def smtp(monkeypatch):
    with serveur_smtp() as serveur:
        for cle, v in serveur.environ().items():
            monkeypatch.setenv(cle, v)
        monkeypatch.setenv("PERR_URL_TABLEAU_DE_BORD", "https://perr.exemple.fr")
        yield serveur


def suivi(monkeypatch, store):
    return app(monkeypatch, store.chemin, page="suivi_depots.py", protocole=TCM, periode="2022")


def test_relances_apercu_choix_et_envoi(monkeypatch, store_demo, smtp):
    at = suivi(monkeypatch, store_demo)
    assert not at.exception
    assert any("Échéance de dépôt pour 2022 : 31 janvier 2023" in c.value for c in at.caption)
    assert any(h.value == "Relances" for h in at.header)
    choix = at.multiselect(key="relances_choix")
    assert len(choix.value) == 10
    textes = [t.value for t in at.text]
    assert any("la coordination attend de" in t and "il en manque" in t for t in textes)
    choix.set_value(["ETAT-DDSP", "BAILLEURS"]).run()
    at.button(key="envoyer_relances").click().run()
    assert not at.exception
    assert sorted(len(r.destinataires) for r in smtp.boite.recus) == [1, 1] and len(smtp.boite.recus) == 2
    assert any("ETAT-DDSP : envoyé — à etat-ddsp@demo.example.org" in s.value for s in at.success)
    assert "https://perr.exemple.fr/deposer?protocole=TCM-PERR-2019&signataire=ETAT-DDSP" in \
        smtp.boite.pour("etat-ddsp@demo.example.org")[0].corps
    # Relus après l'envoi : ces deux-là ne sont plus proposés aujourd'hui.
    assert not any("ETAT-DDSP" in o for o in at.multiselect(key="relances_choix").options)
    assert len(at.multiselect(key="relances_choix").options) == 8
    assert (lire_journal(store_demo, action="relance", limite=None)["resultat"] == "réussi").sum() == 2


def test_avis_de_depot_demande_puis_accuse_de_reception(monkeypatch, store_demo, smtp):
    at = suivi(monkeypatch, store_demo)
    at.toggle(key="avis_depots").set_value(True).run()
    assert not at.exception
    # Un dépôt par la page « Déposer » (la coordination pour la DDSP) : accusé au déposant, avis à la coordination.
    dep = app(monkeypatch, store_demo.chemin, page="deposer.py", protocole=TCM, signataire="ETAT-DDSP", periode="2022")
    assert any("Échéance de dépôt pour 2022" in m.value for m in dep.markdown)
    dep.file_uploader(key="depot").set_value(("ddsp-2022.xlsx", modele_rempli(store_demo, {2: 11}), XLSX)).run()
    assert not dep.exception
    assert dep.success and "enregistré" in dep.success[0].value
    # La coordination a déposé elle-même : elle reçoit l'accusé de réception (un seul courriel, pas d'avis en double).
    (recu,) = smtp.boite.pour("coordination@demo.example.org")
    # Le modèle est pré-rempli des valeurs déjà déposées : le fichier les redépose avec la ligne modifiée.
    n = int(depots.liste_depots(store_demo, TCM, "ETAT-DDSP")["nb_valeurs"].iloc[0])
    assert "Accusé de réception : dépôt n°" in recu.objet and f"Ce qui a été reçu : {n} valeur" in recu.corps
    assert "1 modifiée" in recu.corps and f"{n - 1} inchangée" in recu.corps
    assert any("Accusé de réception envoyé à coordination@demo.example.org" in c.value for c in dep.caption)
    assert at.toggle(key="avis_depots").value


def test_sans_serveur_la_page_le_dit_et_propose_les_eml(monkeypatch, store_demo, tmp_path):
    for cle in ("PERR_SMTP_HOTE", "PERR_URL_TABLEAU_DE_BORD"):
        monkeypatch.delenv(cle, raising=False)
    monkeypatch.chdir(tmp_path)
    at = suivi(monkeypatch, store_demo)
    assert not at.exception
    assert any("Aucun serveur de courriel n'est configuré" in i.value for i in at.info)
    at.button(key="preparer_eml").click().run()
    assert not at.exception
    bouton = [b for b in at.get("download_button") if "eml" in b.proto.label]
    assert bouton
    # Le dépôt par « Déposer » dit aussi qu'aucun accusé n'est parti.
    dep = app(monkeypatch, store_demo.chemin, page="deposer.py", protocole=TCM, signataire="ETAT-DDSP", periode="2022")
    dep.file_uploader(key="depot").set_value(("ddsp.xlsx", modele_rempli(store_demo, {2: 12}), XLSX)).run()
    assert any("Accusé de réception non envoyé : Aucun serveur de courriel" in c.value for c in dep.caption)
    assert depots.liste_depots(store_demo, TCM, "ETAT-DDSP")["fichier_nom"].iloc[0] == "ddsp.xlsx"
