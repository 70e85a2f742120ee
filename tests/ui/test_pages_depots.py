"""Pages « Déposer » et « Suivi des dépôts » sous AppTest : dépôt refusé, à confirmer, accepté ; complétude ; revue."""
from __future__ import annotations

import io

from openpyxl import load_workbook

from perr_metrics.depots import depot as depots
from perr_metrics.depots.modele import ecrire_modele_depot
from tests.ui.test_pages import app

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PARAMS = dict(protocole="TCM-PERR-2019", signataire="ETAT-DDSP", periode="2022")


def modele_rempli(store, valeurs: dict[int, object]) -> bytes:
    """Le modèle de la DDSP pour 2022, rempli : {ligne Excel: valeur} ; les autres lignes restent vides."""
    flux = io.BytesIO()
    ecrire_modele_depot(store, "TCM-PERR-2019", "ETAT-DDSP", "2022", flux)
    wb = load_workbook(io.BytesIO(flux.getvalue()))
    ws = wb["Valeurs"]
    for ligne, v in valeurs.items():
        ws.cell(row=ligne, column=10, value=v)
    sortie = io.BytesIO()
    wb.save(sortie)
    return sortie.getvalue()


def deposer_page(monkeypatch, store, compte="coordination", **params):
    return app(monkeypatch, store.chemin, compte=compte, page="deposer.py", **{**PARAMS, **params})


def test_modele_telechargeable(monkeypatch, store_demo):
    at = deposer_page(monkeypatch, store_demo)
    assert not at.exception
    boutons = at.get("download_button")
    assert boutons and "18 valeurs attendues" in boutons[0].proto.label


def test_depot_refuse_montre_les_cellules(monkeypatch, store_demo):
    at = deposer_page(monkeypatch, store_demo)
    fichier = modele_rempli(store_demo, {2: 10, 3: "n/a", 4: "12,5"})
    at.file_uploader(key="depot").set_value(("ddsp-2022.xlsx", fichier, XLSX)).run()
    assert not at.exception
    assert "Fichier refusé" in at.error[0].value
    rapport = at.dataframe[0].value
    assert ("Valeurs!J3", "valeur-non-numerique") in set(zip(rapport["Cellule"], rapport["Code"]))
    assert len(depots.liste_depots(store_demo, "TCM-PERR-2019", "ETAT-DDSP")) == 4   # rien de plus


def test_depot_avertissements_confirmes_puis_changements(monkeypatch, store_demo):
    avant = len(depots.liste_depots(store_demo, "TCM-PERR-2019"))
    at = deposer_page(monkeypatch, store_demo)
    fichier = modele_rempli(store_demo, {2: 10, 3: 4999})      # 4999 : saut important par rapport à 2021
    at.file_uploader(key="depot").set_value(("ddsp-2022.xlsx", fichier, XLSX)).run()
    assert not at.exception
    assert "certaines valeurs surprennent" in at.warning[-1].value
    assert len(depots.liste_depots(store_demo, "TCM-PERR-2019")) == avant   # rien d'écrit avant confirmation
    at.button[0].click().run()
    assert not at.exception
    assert "enregistré : 2 valeurs" in at.success[0].value
    dernier = depots.liste_depots(store_demo, "TCM-PERR-2019").iloc[0]
    assert dernier["utilisateur"] == "Équipe de coordination (démo)"       # le compte connecté, pas un nom tapé
    changements = at.dataframe[0].value
    assert set(changements["Changement"]) <= {"nouvelle", "modifiée", "inchangée"}
    assert len(depots.liste_depots(store_demo, "TCM-PERR-2019")) == avant + 1
    # Le même fichier, redéposé : reconnu, pas compté deux fois.
    at2 = deposer_page(monkeypatch, store_demo)
    at2.file_uploader(key="depot").set_value(("encore.xlsx", fichier, XLSX)).run()
    assert "déjà été déposé" in at2.info[0].value


def test_un_contributeur_ne_depose_que_pour_son_signataire(monkeypatch, store_demo):
    """La CAF de l'Aube (démonstration) : un seul protocole, un seul signataire proposé, même si l'adresse en demande
    un autre ; son modèle ; un dépôt enregistré à son nom."""
    at = deposer_page(monkeypatch, store_demo, compte="caf-aube", protocole="BLOIS-PERR-2020")
    assert not at.exception
    assert at.selectbox(key="protocole").options == ["Troyes Champagne Métropole — 2019–2022 (TCM-PERR-2019)"]
    assert at.selectbox(key="signataire").options == ["CAF de l'Aube (CAF10)"]
    boutons = at.get("download_button")
    assert boutons and "Modèle CAF10 — 2022" in boutons[0].proto.label
    flux = io.BytesIO()
    ecrire_modele_depot(store_demo, "TCM-PERR-2019", "CAF10", "2022", flux)
    wb = load_workbook(io.BytesIO(flux.getvalue()))
    for ligne in range(2, wb["Valeurs"].max_row + 1):
        wb["Valeurs"].cell(row=ligne, column=10, value=wb["Valeurs"].cell(row=ligne, column=9).value or 1)
    sortie = io.BytesIO()
    wb.save(sortie)
    at.file_uploader(key="depot").set_value(("caf-2022.xlsx", sortie.getvalue(), XLSX)).run()
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    confirmer = [b for b in at.button if b.label.startswith("Je confirme")]
    if confirmer:                     # avertissements éventuels : le contributeur confirme
        confirmer[0].click().run()
    assert at.success and "enregistré" in at.success[0].value
    d = depots.liste_depots(store_demo, "TCM-PERR-2019").iloc[0]
    assert (d["signataire"], d["utilisateur"]) == ("CAF10", "CAF de l'Aube (démo)")


def test_suivi_completude_et_revue(monkeypatch, store_demo):
    at = app(monkeypatch, store_demo.chemin, protocole="TCM-PERR-2019", periode="2022")
    at.switch_page("pages/suivi_depots.py").run()
    assert not at.exception
    comp = depots.completude(store_demo, "TCM-PERR-2019", "2022")
    m = {x.label: x.value for x in at.metric}
    assert m["Valeurs attendues"] == str(int(comp.par_signataire["attendus"].sum()))
    assert m["Signataires en retard"] == str(len(comp.en_retard))
    assert any("À relancer" in w.value for w in at.warning)
    dernier = int(depots.liste_depots(store_demo, "TCM-PERR-2019")["id"].iloc[0])
    at.radio[0].set_value("à corriger")
    at.text_input[0].input("Valeurs de Gare à vérifier")
    at.button[0].click().run()
    assert not at.exception
    assert f"Dépôt n° {dernier} marqué « à corriger »" in at.success[0].value
    assert depots.liste_depots(store_demo, "TCM-PERR-2019")["statut"].iloc[0] == "à corriger"
