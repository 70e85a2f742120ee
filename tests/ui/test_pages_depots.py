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
    assert ("J3", "valeur-non-numerique") in set(zip(rapport["Cellule"], rapport["Code"]))
    # Des noms là où une personne lit : la nature du problème, l'indicateur et le périmètre (code entre parenthèses).
    ligne = rapport[rapport["Cellule"] == "J3"].iloc[0]
    assert ligne["Problème"] == "Valeur non numérique"
    assert ligne["Indicateur"].endswith("(" + load_workbook(io.BytesIO(fichier))["Valeurs"]["A3"].value + ")")
    assert ligne["Périmètre"] == load_workbook(io.BytesIO(fichier))["Valeurs"]["D3"].value + " (" + \
        load_workbook(io.BytesIO(fichier))["Valeurs"]["C3"].value + ")"
    assert any("feuille « Valeurs »" in c.value for c in at.caption)
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
    # Le modèle d'une période déjà déposée arrive pré-rempli : le dépôt porte les deux valeurs saisies et les autres
    # valeurs déjà déposées, redéposées telles quelles.
    remplies = sum(1 for r in load_workbook(io.BytesIO(fichier))["Valeurs"].iter_rows(min_row=2) if r[9].value is not None)
    assert remplies > 2 and f"enregistré : {remplies} valeurs" in at.success[0].value
    dernier = depots.liste_depots(store_demo, "TCM-PERR-2019").iloc[0]
    assert dernier["utilisateur"] == "Équipe de coordination (démo)"       # le compte connecté, pas un nom tapé
    assert "1 valeur confirmée malgré un avertissement : la coordination revoit le dépôt." in at.success[0].value
    changements = at.dataframe[0].value
    assert set(changements["Changement"]) <= {"nouvelle", "modifiée", "inchangée"}
    # Des noms, et une seule « valeur précédente » : celle de 2021 (la période précédente), à côté de la valeur
    # de 2022 que le dépôt remplace.
    assert list(changements.columns) == ["Indicateur", "Périmètre", "Période", "Nouvelle valeur", "Changement",
                                         "Valeur remplacée", "Valeur précédente (période précédente)"]
    wb = load_workbook(io.BytesIO(fichier))["Valeurs"]
    ligne = changements[changements["Nouvelle valeur"].str.startswith("4")].iloc[0]
    assert ligne["Indicateur"] == f"{wb['B3'].value} ({wb['A3'].value})" and ligne["Périmètre"] == wb["D3"].value
    assert ligne["Valeur précédente (période précédente)"].replace("\u00a0", " ").startswith(
        (wb["I3"].value or "").replace("\u00a0", " ").split(" ")[0])
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
    at.selectbox(key="depot_choisi").set_value(dernier).run()
    # Les valeurs du dépôt, nommées, et ce qu'elles changent.
    valeurs = [d.value for d in at.dataframe if "Valeur remplacée" in d.value.columns][0]
    assert len(valeurs) == depots.detail_depot(store_demo, dernier).depot["nb_valeurs"]
    # Rien n'est choisi d'avance : ni décision, ni commentaire.
    radio = at.radio(key=f"revue_statut_{dernier}_0")
    assert radio.label == "Décision" and radio.value is None and at.text_area(key=f"revue_commentaire_{dernier}_0").value == ""
    enregistrer = [b for b in at.button if b.label == "Enregistrer la revue"][0]
    enregistrer.click().run()
    assert "Choisissez « validé » ou « à corriger »." in [e.value for e in at.error]
    at.radio(key=f"revue_statut_{dernier}_0").set_value("à corriger")
    [b for b in at.button if b.label == "Enregistrer la revue"][0].click().run()
    assert any("le commentaire est obligatoire" in e.value for e in at.error)
    assert depots.liste_depots(store_demo, "TCM-PERR-2019")["statut"].iloc[0] == "reçu"
    at.radio(key=f"revue_statut_{dernier}_0").set_value("à corriger")
    at.text_area(key=f"revue_commentaire_{dernier}_0").input("Valeurs de Gare à vérifier")
    [b for b in at.button if b.label == "Enregistrer la revue"][0].click().run()
    assert not at.exception
    assert f"Dépôt n° {dernier} marqué « à corriger »" in at.success[0].value
    assert depots.liste_depots(store_demo, "TCM-PERR-2019")["statut"].iloc[0] == "à corriger"
    # La revue suivante du même dépôt repart de rien, et l'historique de ses revues s'affiche en entier.
    assert at.radio(key=f"revue_statut_{dernier}_1").value is None
    assert at.text_area(key=f"revue_commentaire_{dernier}_1").value == ""
    assert any("Valeurs de Gare à vérifier" in i.value for i in at.info)
