"""Les dépôts des partenaires : le modèle pré-rempli, chaque règle de contrôle avec sa cellule, l'écriture tout-ou-rien,
l'historique, la revue, la complétude, les accès simultanés, un dépôt tué en plein vol, et la ligne de commande.

Les fichiers sont fabriqués par les tests (tests/fichiers.py) ; les fichiers abîmés et ceux que réécrit LibreOffice sont
dans test_depots_fichiers.py.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from perr_metrics.cli import main
from perr_metrics.acces.droits import Utilisateur
from tests.conftest import ADMIN, creer_coordination
from perr_metrics.stockage.magasin import Store
from perr_metrics.depots.depot import (completude, deposer, fichier_du_depot, historique, liste_depots, revoir_depot,
                                 valeurs_courantes)
from perr_metrics.depots.modele import ModeleImpossible, ecrire_modele_depot
from perr_metrics.referentiel.classeur import importer_referentiel
from tests import classeurs
from tests.conftest import copie_de_base
from tests.core.test_referentiel import instantane
from tests.fichiers import PROTOCOLE, csv_long, lignes_modele, remplir_modele

RACINE = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------------------------------------------------
# Une base avec le petit référentiel d'essai (construite une fois, copiée pour chaque test)
# --------------------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def base_essai(tmp_path_factory) -> Path:
    dossier = tmp_path_factory.mktemp("essai")
    store = Store(dossier / "essai.duckdb", utilisateur=ADMIN)
    importer_referentiel(store, classeurs.ecrire(dossier))
    creer_coordination(store)
    return store.chemin


@pytest.fixture
def essai(base_essai, tmp_path, moteur, request) -> Store:
    """Le référentiel EQ2030-TEST (2024–2030), sans aucun dépôt (sur le fichier, ou sur le lac : `deux_moteurs`)."""
    return copie_de_base(base_essai, tmp_path, moteur, request)


def modele(store: Store, signataire: str, periode: str = "2025") -> bytes:
    flux = io.BytesIO()
    ecrire_modele_depot(store, PROTOCOLE, signataire, periode, flux)
    return flux.getvalue()


def accepte(store: Store, donnees: bytes, nom: str, signataire: str, **options):
    res = deposer(store, donnees, nom, protocole=options.pop("protocole", PROTOCOLE), signataire=signataire, **options)
    assert res.statut == "accepte", res.rapport.texte()
    return res


def refus(store: Store, donnees: bytes, nom: str = "v.csv", signataire: str = "EPT",
          **options) -> list[tuple[str, str]]:
    """Dépose un fichier qui doit être refusé ; vérifie que la base n'a pas bougé ; renvoie les (cellule, code)."""
    avant = instantane(store)
    res = deposer(store, donnees, nom, protocole=options.pop("protocole", PROTOCOLE), signataire=signataire, **options)
    assert res.statut == "rejete", res.rapport.texte()
    assert res.depot_id is None and res.nb_valeurs == 0
    assert instantane(store) == avant
    for p in res.rapport.problemes:
        assert p.code and p.message
    return res.rapport.aplatir()


def courantes(store: Store) -> dict[tuple[str, str, str], float]:
    df = valeurs_courantes(store, PROTOCOLE)
    return {(r.indicateur, r.perimetre, r.periode): r.valeur for r in df.itertuples()}


# --------------------------------------------------------------------------------------------------------------------
# Le modèle pré-rempli
# --------------------------------------------------------------------------------------------------------------------

ATTENDUS_2025 = {
    # L'État couvre son service (DDSP) ; PATROUILLES n'est attendu que sur les quartiers qui ont référence ou cible.
    "ETAT": [("PATROUILLES", "QN09301A", "2025"), ("PATROUILLES", "QN09302B", "2025")],
    "ETAT-DDSP": [("PATROUILLES", "QN09301A", "2025"), ("PATROUILLES", "QN09302B", "2025")],
    # APPRENTIS (semestriel, sans référence) : tous les périmètres du niveau QPV, veille active comprise, S1 et S2.
    "EPT": [("APPRENTIS", p, f"2025-S{s}") for p in ("QN09301A", "QN09302B", "VA-GARE") for s in (1, 2)]
    + [("JEUNES", p, "2025") for p in ("QN09301A", "QN09302B", "VA-GARE")]
    + [("TAUX-APPRENTIS", "QN09301A", "2025")],
    "CAF93": [("DELAI", "EPT-TEST", "2025")],
}


def test_modele_refuse_sans_valeur_attendue(essai):
    """La commune A ne déclare aucun indicateur : un modèle vide n'aurait pas de sens, on le dit."""
    from perr_metrics.depots.modele import ModeleImpossible
    with pytest.raises(ModeleImpossible, match="Aucune valeur n'est attendue"):
        ecrire_modele_depot(essai, PROTOCOLE, "V-A", "2025", io.BytesIO())


@pytest.mark.parametrize("signataire", list(ATTENDUS_2025))
def test_modele_une_ligne_par_valeur_attendue(essai, signataire):
    flux = io.BytesIO()
    n = ecrire_modele_depot(essai, PROTOCOLE, signataire, "2025", flux)
    assert n == len(ATTENDUS_2025[signataire])
    lignes = lignes_modele(flux.getvalue())
    assert list(lignes) == ATTENDUS_2025[signataire]
    assert list(lignes.values()) == list(range(2, n + 2))


def test_modele_verrouille_controle_et_documente(essai):
    wb = load_workbook(io.BytesIO(modele(essai, "EPT")))
    assert wb.sheetnames == ["Instructions", "Valeurs", "_perr"]
    assert wb.active.title == "Valeurs"
    notice = "\n".join(str(c.value) for c in wb["Instructions"]["A"] if c.value)
    assert f"({PROTOCOLE})" in notice and "Signataire : EPT d'essai (EPT)" in notice and "Période : 2025" in notice
    assert "--signataire EPT --periode 2025" in notice
    ws = wb["Valeurs"]
    assert [c.value for c in ws[1]] == ["Code indicateur", "Indicateur", "Code périmètre", "Périmètre", "Période",
                                        "Unité", "Référence", "Cible", "Valeur précédente", "Valeur", "Motif",
                                        "Commentaire"]
    # Feuille protégée : colonnes clés verrouillées, Valeur, Motif et Commentaire ouvertes à la saisie.
    assert ws.protection.sheet
    for ligne in range(2, 12):
        assert all(ws.cell(ligne, j).protection.locked for j in range(1, 10))
        assert not any(ws.cell(ligne, j).protection.locked for j in (10, 11, 12))
    # Contrôle de saisie : un pourcentage entre 0 et 100 pour le taux (ligne 11), un nombre positif ailleurs ; le
    # motif d'une valeur non donnée, dans sa liste.
    validations = {str(dv.sqref): dv for dv in ws.data_validations.dataValidation}
    assert set(validations) == {"J11", "J2 J3 J4 J5 J6 J7 J8 J9 J10", "K2:K11"}
    assert (validations["K2:K11"].type, validations["K2:K11"].formula1) == (
        "list", '"donnée non disponible,secret statistique,non concerné,autre"')
    assert "À déposer au plus tard le 31 janvier 2026." in notice and "« Motif »" in notice
    assert (validations["J11"].type, validations["J11"].operator, validations["J11"].formula1,
            validations["J11"].formula2) == ("decimal", "between", "0", "100")
    autre = validations["J2 J3 J4 J5 J6 J7 J8 J9 J10"]
    assert (autre.type, autre.operator, autre.formula1) == ("decimal", "greaterThanOrEqual", "0")
    assert all(dv.showErrorMessage and dv.allow_blank for dv in validations.values())
    # Repères : référence et cible rappelées pour le taux.
    assert (ws["G11"].value, ws["H11"].value) == ("4,5\u00a0% (2023)", "9,0\u00a0% en 2030")
    # Métadonnées cachées (veryHidden : invisibles même dans « Afficher les feuilles »).
    meta = wb["_perr"]
    assert meta.sheet_state == "veryHidden"
    infos = {r[0].value: r[1].value for r in meta.iter_rows()}
    assert {k: infos[k] for k in ("modele", "protocole", "signataire", "periode", "lignes")} == dict(
        modele="perr-depot-1", protocole=PROTOCOLE, signataire="EPT", periode="2025", lignes="10")


def test_modele_d_un_semestre(essai):
    donnees = modele(essai, "EPT", "2025-S1")
    assert list(lignes_modele(donnees)) == [("APPRENTIS", p, "2025-S1") for p in ("QN09301A", "QN09302B", "VA-GARE")]
    valeurs = {cle: 10 + i for i, cle in enumerate(lignes_modele(donnees))}
    res = accepte(essai, remplir_modele(donnees, valeurs), "s1.xlsx", "EPT")
    assert res.periode == "2025-S1" and res.nb_valeurs == 3
    assert courantes(essai) == {k: float(v) for k, v in valeurs.items()}


def test_modele_rappelle_la_valeur_precedente_et_la_cible(essai):
    accepte(essai, csv_long([["PATROUILLES", "QN09301A", "2024", 130]]), "2024.csv", "ETAT-DDSP")
    ws = load_workbook(io.BytesIO(modele(essai, "ETAT-DDSP")))["Valeurs"]
    ligne = [c.value for c in ws[2]]
    assert ligne[:9] == ["PATROUILLES", "Patrouilles pédestres", "QN09301A", "Quartier des Deux Rives", "2025",
                         "nombre", "120 (2023)", "240 en 2030", "130"]
    ligne = [c.value for c in ws[3]]
    assert ligne[2] == "QN09302B" and ligne[6] == "80 (2023)" and not ligne[7] and not ligne[8]


@pytest.mark.parametrize("signataire, periode, message", [
    ("EPT", "2031", "hors du protocole"),
    ("EPT", "2023", "hors du protocole"),
    ("DDETS", "2025", "n'existe pas"),
])
def test_modele_impossible(essai, signataire, periode, message):
    with pytest.raises(ModeleImpossible, match=message):
        ecrire_modele_depot(essai, PROTOCOLE, signataire, periode, io.BytesIO())
    with pytest.raises(ModeleImpossible, match="n'existe pas"):
        ecrire_modele_depot(essai, "NANCY", "EPT", "2025", io.BytesIO())


def test_modele_rempli_puis_depose(essai):
    donnees = modele(essai, "EPT")
    valeurs = {cle: 10.0 * (i + 1) for i, cle in enumerate(ATTENDUS_2025["EPT"])}
    valeurs[("TAUX-APPRENTIS", "QN09301A", "2025")] = 12.5
    rempli = remplir_modele(donnees, valeurs, {("JEUNES", "VA-GARE", "2025"): "Estimation INSEE"})
    res = accepte(essai, rempli, "valeurs-EPT-2025.xlsx", "EPT")
    assert (res.nb_valeurs, res.periode) == (10, "2025")
    assert res.rapport.problemes == []
    assert courantes(essai) == valeurs
    detail = essai.requete("SELECT indicateur, perimetre, cellule, commentaire FROM valeur ORDER BY cellule")
    assert detail["cellule"].tolist() == sorted(f"Valeurs!J{i}" for i in range(2, 12))
    assert detail.set_index("cellule").loc["Valeurs!J10", "commentaire"] == "Estimation INSEE"


def test_l_etat_depose_pour_son_service(essai):
    """ETAT-DDSP est un service de l'État : l'État peut déposer ses indicateurs (l'inverse non)."""
    donnees = modele(essai, "ETAT")
    valeurs = {("PATROUILLES", "QN09301A", "2025"): 125, ("PATROUILLES", "QN09302B", "2025"): 85}
    accepte(essai, remplir_modele(donnees, valeurs), "etat.xlsx", "ETAT")
    assert courantes(essai) == valeurs
    assert liste_depots(essai, PROTOCOLE)["signataire"].tolist() == ["ETAT"]


def test_modele_de_la_demo_depose_et_complet(store_demo):
    """Sur la démonstration (Troyes), le modèle de la DDSP rempli des valeurs précédentes passe, et la DDSP est
    complète pour 2022."""
    flux = io.BytesIO()
    n = ecrire_modele_depot(store_demo, "TCM-PERR-2019", "ETAT-DDSP", "2022", flux)
    assert n == 18
    ws = load_workbook(flux)["Valeurs"]
    valeurs = {}
    for r in ws.iter_rows(min_row=2):
        precedente = r[8].value
        r[9].value = float(precedente.replace("\u00a0", "").replace(",", ".")) if precedente else 10
        valeurs[(r[0].value, r[2].value, r[4].value)] = r[9].value
    sortie = io.BytesIO()
    ws.parent.save(sortie)
    res = deposer(store_demo, sortie.getvalue(), "ddsp-2022.xlsx", protocole="TCM-PERR-2019", signataire="ETAT-DDSP")
    assert res.statut == "accepte", res.rapport.texte()
    assert res.nb_valeurs == 18
    comp = completude(store_demo, "TCM-PERR-2019", "2022").par_signataire.set_index("signataire")
    assert comp.loc["ETAT-DDSP", ["attendus", "recus", "statut"]].tolist() == [18, 18, "complet"]


# --------------------------------------------------------------------------------------------------------------------
# Chaque règle de contrôle, avec sa cellule ; la base reste intacte
# --------------------------------------------------------------------------------------------------------------------

# (nom, lignes du CSV « v.csv » — colonnes A indicateur, B perimetre, C periode, D valeur —, signataire, options,
#  problèmes attendus). La première ligne de données est la ligne 2.
CAS = [
    ("indicateur-inconnu", [["FANTOME", "QN09301A", "2025", 5]], "EPT", {}, [("v!A2", "indicateur-inconnu")]),
    ("perimetre-inconnu", [["JEUNES", "QN09399Z", "2025", 5]], "EPT", {}, [("v!B2", "perimetre-inconnu")]),
    ("perimetre-hors-niveau", [["JEUNES", "EPT-TEST", "2025", 5], ["DELAI", "QN09301A", "2025", 30]], "CAF93", {},
     [("v!A2", "indicateur-autre-signataire"), ("v!B2", "perimetre-hors-niveau"), ("v!B3", "perimetre-hors-niveau")]),
    ("indicateur-autre-signataire", [["PATROUILLES", "QN09301A", "2025", 5]], "EPT", {},
     [("v!A2", "indicateur-autre-signataire")]),
    ("service-ne-depose-pas-pour-le-parent-ni-un-autre", [["JEUNES", "QN09301A", "2025", 5]], "ETAT-DDSP", {},
     [("v!A2", "indicateur-autre-signataire")]),
    ("valeur-obligatoire", [["", "QN09301A", "2025", 5], ["JEUNES", "", "2025", 5], ["JEUNES", "QN09302B", "", 5]],
     "EPT", {}, [("v!A2", "valeur-obligatoire"), ("v!B3", "valeur-obligatoire"), ("v!C4", "valeur-obligatoire")]),
    ("periode-hors-protocole", [["JEUNES", "QN09301A", "2031", 5], ["JEUNES", "QN09302B", "2023", 5]], "EPT", {},
     [("v!C2", "periode-hors-protocole"), ("v!C3", "periode-hors-protocole")]),
    ("periode-incompatible-annuel", [["JEUNES", "QN09301A", "2025-S1", 5]], "EPT", {},
     [("v!C2", "periode-incompatible")]),
    ("periode-incompatible-semestriel", [["APPRENTIS", "QN09301A", "2025", 5]], "EPT", {},
     [("v!C2", "periode-incompatible")]),
    ("periode-invalide", [["JEUNES", "QN09301A", "2025-T3", 5], ["JEUNES", "QN09302B", "deux mille", 5],
                          ["JEUNES", "VA-GARE", "S1 2025", 5]], "EPT", {},
     [("v!C2", "periode-invalide"), ("v!C3", "periode-invalide"), ("v!C4", "periode-invalide")]),
    ("periode-differente", [["JEUNES", "QN09301A", "2025", 5], ["JEUNES", "QN09302B", "2026", 5]], "EPT",
     {"periode": "2025"}, [("v!C3", "periode-differente")]),
    ("valeur-non-numerique", [["JEUNES", "QN09301A", "2025", "n/a"], ["JEUNES", "QN09302B", "2025", "NC"],
                              ["JEUNES", "VA-GARE", "2025", "abc"], ["APPRENTIS", "VA-GARE", "2025-S1", "12,5,3"]],
     "EPT", {}, [("v!D2", "valeur-non-numerique"), ("v!D3", "valeur-non-numerique"), ("v!D4", "valeur-non-numerique"),
                 ("v!D5", "valeur-non-numerique")]),
    ("taux-hors-bornes", [["TAUX-APPRENTIS", "QN09301A", "2025", 140], ["TAUX-APPRENTIS", "QN09302B", "2025", -3]],
     "EPT", {}, [("v!D2", "taux-hors-bornes"), ("v!D3", "taux-hors-bornes")]),
    ("valeur-negative", [["JEUNES", "QN09301A", "2025", -3]], "EPT", {}, [("v!D2", "valeur-negative")]),
    ("valeur-negative-minimum-zero", [["PATROUILLES", "QN09301A", "2025", "-5"]], "ETAT-DDSP", {},
     [("v!D2", "valeur-negative")]),
    ("ligne-dupliquee", [["JEUNES", "QN09301A", "2025", 5], ["JEUNES", "QN09302B", "2025", 6],
                         ["JEUNES", "QN09301A", "2025", 7]], "EPT", {}, [("v!A4", "ligne-dupliquee")]),
    ("ligne-dupliquee-periode-ecrite-autrement", [["APPRENTIS", "QN09301A", "2025-S1", 5],
                                                  ["APPRENTIS", "QN09301A", "2025 s1", 6]], "EPT", {},
     [("v!A3", "ligne-dupliquee")]),
    ("pourcentage-inattendu", [["JEUNES", "QN09301A", "2025", "12 %"]], "EPT", {}, [("v!D2", "pourcentage-inattendu")]),
]


@pytest.mark.parametrize("lignes, signataire, options, attendu", [c[1:] for c in CAS], ids=[c[0] for c in CAS])
def test_chaque_erreur_a_sa_cellule(essai, lignes, signataire, options, attendu):
    assert sorted(refus(essai, csv_long(lignes), "v.csv", signataire, **options)) == sorted(attendu)


def test_toutes_les_erreurs_d_un_coup(essai):
    """Un fichier avec plusieurs fautes : toutes sont listées, pas seulement la première."""
    lignes = [["FANTOME", "QN09301A", "2025", 5], ["JEUNES", "QN09301A", "2031", 5],
              ["JEUNES", "QN09302B", "2025", "NC"], ["TAUX-APPRENTIS", "QN09301A", "2025", 140],
              ["JEUNES", "VA-GARE", "2025", 9]]
    assert sorted(refus(essai, csv_long(lignes))) == [
        ("v!A2", "indicateur-inconnu"), ("v!C3", "periode-hors-protocole"), ("v!D4", "valeur-non-numerique"),
        ("v!D5", "taux-hors-bornes")]


@pytest.mark.parametrize("options, attendu", [
    (dict(periode="2025-T1"), [("", "periode-invalide")]),
    (dict(periode="25"), [("", "periode-invalide")]),
    (dict(periode="2035"), [("", "periode-hors-protocole")]),
    (dict(protocole="NANCY"), [("", "protocole-inconnu")]),
    (dict(signataire="DDETS"), [("", "signataire-inconnu")]),
])
def test_erreurs_du_depot_lui_meme(essai, options, attendu):
    """Période, protocole ou signataire du dépôt (pas d'une cellule). La période du dépôt est contrôlée même quand le
    fichier n'a pas de colonne période : c'est elle qui serait écrite sur chaque ligne."""
    donnees = csv_long([["JEUNES", "QN09301A", 5]], entete=["indicateur", "perimetre", "valeur"])
    signataire = options.pop("signataire", "EPT")
    assert refus(essai, donnees, "v.csv", signataire, **options) == attendu


def test_sans_colonne_periode_la_periode_du_depot_s_applique(essai):
    donnees = csv_long([["JEUNES", "QN09301A", 5], ["APPRENTIS", "QN09301A", 7]], entete=["indicateur", "perimetre",
                                                                                         "valeur"])
    # Sans période : refusé, la colonne manque.
    assert refus(essai, donnees) == [("v!1:1", "colonne-manquante")]
    # Avec 2026 : le semestriel ne peut pas recevoir une année ; l'erreur pointe sur l'indicateur.
    assert refus(essai, donnees, periode="2026") == [("v!A3", "periode-incompatible")]
    res = accepte(essai, donnees[: donnees.index(b"APPRENTIS")], "v.csv", "EPT", periode="2026")
    assert courantes(essai) == {("JEUNES", "QN09301A", "2026"): 5.0} and res.periode == "2026"


def test_modele_d_un_autre_signataire(essai):
    rempli = remplir_modele(modele(essai, "EPT"), {("JEUNES", "QN09301A", "2025"): 5})
    assert refus(essai, rempli, "m.xlsx", "CAF93") == [("_perr", "modele-autre-signataire"),
                                                       ("Valeurs!A8", "indicateur-autre-signataire")]


def test_modele_d_une_autre_periode(essai):
    rempli = remplir_modele(modele(essai, "EPT"), {("JEUNES", "QN09301A", "2025"): 5})
    assert refus(essai, rempli, "m.xlsx", "EPT", periode="2026") == [("_perr", "modele-autre-periode"),
                                                                     ("Valeurs!E8", "periode-differente")]
    # Sans période indiquée, celle du modèle s'applique.
    assert accepte(essai, rempli, "m.xlsx", "EPT").periode == "2025"


def test_modele_d_un_autre_protocole(essai):
    def autre_protocole(wb):
        wb["_perr"]["B2"] = "TCM-PERR-2019"
    rempli = remplir_modele(modele(essai, "EPT"), {("JEUNES", "QN09301A", "2025"): 5}, modifier=autre_protocole)
    assert refus(essai, rempli, "m.xlsx", "EPT") == [("_perr", "modele-autre-protocole")]


def test_modele_vierge_refuse(essai):
    assert refus(essai, modele(essai, "EPT"), "m.xlsx") == [("Valeurs", "fichier-vide")]


def test_une_ligne_sans_valeur_n_est_pas_deposee(essai):
    """Une valeur inconnue se laisse vide : la ligne ne compte pas, même avec un commentaire."""
    rempli = remplir_modele(modele(essai, "EPT"), {("JEUNES", "QN09301A", "2025"): 5},
                            {("JEUNES", "QN09302B", "2025"): "Donnée non disponible avant juin"})
    res = accepte(essai, rempli, "m.xlsx", "EPT")
    assert res.nb_valeurs == 1 and courantes(essai) == {("JEUNES", "QN09301A", "2025"): 5.0}


# --------------------------------------------------------------------------------------------------------------------
# Avertissements : rien n'est écrit tant que le partenaire n'a pas confirmé
# --------------------------------------------------------------------------------------------------------------------

def test_hors_bornes_plausibles_a_confirmer(essai):
    donnees = csv_long([["PATROUILLES", "QN09301A", "2025", "6 000"], ["PATROUILLES", "QN09302B", "2025", 90]])
    avant = instantane(essai)
    res = deposer(essai, donnees, "v.csv", protocole=PROTOCOLE, signataire="ETAT-DDSP")
    assert res.statut == "a-confirmer" and res.depot_id is None
    assert res.rapport.aplatir() == [("v!D2", "hors-bornes-plausibles")]
    assert res.rapport.avertissements[0].niveau == "avertissement" and res.rapport.valide
    assert instantane(essai) == avant
    res = deposer(essai, donnees, "v.csv", protocole=PROTOCOLE, signataire="ETAT-DDSP", accepter_avertissements=True)
    assert res.statut == "accepte" and res.nb_valeurs == 2
    assert courantes(essai)[("PATROUILLES", "QN09301A", "2025")] == 6000
    assert liste_depots(essai, PROTOCOLE)["commentaire"].tolist() == ["1 avertissement confirmé au dépôt"]


def test_saut_important_a_confirmer(essai):
    accepte(essai, csv_long([["PATROUILLES", "QN09301A", "2025", 100], ["PATROUILLES", "QN09302B", "2025", 100]]),
            "2025.csv", "ETAT-DDSP")
    # ×4 sur un quartier, ÷4 sur l'autre, par rapport à l'année précédente.
    donnees = csv_long([["PATROUILLES", "QN09301A", "2026", 400], ["PATROUILLES", "QN09302B", "2026", 25]])
    avant = instantane(essai)
    res = deposer(essai, donnees, "2026.csv", protocole=PROTOCOLE, signataire="ETAT-DDSP")
    assert res.statut == "a-confirmer"
    assert res.rapport.aplatir() == [("2026!D2", "saut-important"), ("2026!D3", "saut-important")]
    assert "×4" in res.rapport.avertissements[0].message
    assert instantane(essai) == avant
    # Un saut de ×2,9 ne dit rien ; les semestres se comparent au semestre précédent.
    accepte(essai, csv_long([["PATROUILLES", "QN09301A", "2026", 290]]), "2026b.csv", "ETAT-DDSP")
    accepte(essai, csv_long([["APPRENTIS", "QN09301A", "2025-S2", 10]]), "s2.csv", "EPT")
    res = deposer(essai, csv_long([["APPRENTIS", "QN09301A", "2026-S1", 40]]), "s1.csv", protocole=PROTOCOLE,
                  signataire="EPT")
    assert res.rapport.aplatir() == [("s1!D2", "saut-important")]
    assert deposer(essai, csv_long([["APPRENTIS", "QN09301A", "2026-S1", 40]]), "s1.csv", protocole=PROTOCOLE,
                   signataire="EPT", accepter_avertissements=True).statut == "accepte"


def test_une_erreur_l_emporte_sur_les_avertissements(essai):
    donnees = csv_long([["PATROUILLES", "QN09301A", "2025", 6000], ["PATROUILLES", "QN09302B", "2025", "NC"]])
    assert refus(essai, donnees, "v.csv", "ETAT-DDSP", accepter_avertissements=True) == [
        ("v!D3", "valeur-non-numerique"), ("v!D2", "hors-bornes-plausibles")]


# --------------------------------------------------------------------------------------------------------------------
# Ce qui est gardé : le fichier, son empreinte, qui et quand ; la valeur la plus récente fait foi
# --------------------------------------------------------------------------------------------------------------------

@pytest.mark.deux_moteurs
def test_le_depot_garde_le_fichier_et_sa_trace(essai):
    donnees = csv_long([["DELAI", "EPT-TEST", "2025", "28,5"]], encodage="cp1252")
    debut = dt.datetime.now()
    agent = essai.pour(Utilisateur("agent-caf93", "agent@caf93.fr", "contributeur", PROTOCOLE, "CAF93"))
    res = accepte(agent, donnees, "délais CAF 2025.csv", "CAF93")
    d = liste_depots(essai, PROTOCOLE).iloc[0]
    assert d["id"] == res.depot_id
    assert (d["signataire"], d["periode"], d["utilisateur"], d["fichier_nom"], d["nb_valeurs"], d["statut"]) == (
        "CAF93", "2025", "agent@caf93.fr", "délais CAF 2025.csv", 1, "reçu")
    assert debut - dt.timedelta(seconds=1) <= d["depose_le"] <= dt.datetime.now()
    assert d["sha256"] == hashlib.sha256(donnees).hexdigest() and d["taille"] == len(donnees)
    assert essai.requete("SELECT protocole FROM depot")["protocole"].tolist() == [PROTOCOLE]
    assert fichier_du_depot(essai, res.depot_id) == ("délais CAF 2025.csv", donnees)
    with pytest.raises(KeyError):
        fichier_du_depot(essai, 999)


@pytest.mark.deux_moteurs
def test_le_meme_fichier_deux_fois(essai):
    donnees = csv_long([["DELAI", "EPT-TEST", "2025", 28]])
    premier = accepte(essai, donnees, "a.csv", "CAF93")
    avant = instantane(essai)
    res = deposer(essai, donnees, "autre-nom.csv", protocole=PROTOCOLE, signataire="CAF93")
    assert (res.statut, res.depot_id, res.nb_valeurs) == ("deja-depose", premier.depot_id, 0)
    assert instantane(essai) == avant


@pytest.mark.deux_moteurs
def test_le_depot_le_plus_recent_fait_foi(essai):
    premier = accepte(essai, csv_long([["JEUNES", "QN09301A", "2025", 100], ["JEUNES", "QN09302B", "2025", 200]]),
                      "v1.csv", "EPT")
    second = accepte(essai, csv_long([["JEUNES", "QN09301A", "2025", 110], ["JEUNES", "QN09302B", "2025", 200],
                                      ["JEUNES", "VA-GARE", "2025", 50]]), "v2.csv", "EPT")
    changements = {r.perimetre: (r.ancienne if pd.notna(r.ancienne) else None, r.nouvelle, r.nature)
                   for r in second.changements.itertuples()}
    assert changements == {"QN09301A": (100.0, 110.0, "modifiée"), "QN09302B": (200.0, 200.0, "inchangée"),
                           "VA-GARE": (None, 50.0, "nouvelle")}
    assert set(premier.changements["nature"]) == {"nouvelle"}
    assert courantes(essai) == {("JEUNES", "QN09301A", "2025"): 110, ("JEUNES", "QN09302B", "2025"): 200,
                                ("JEUNES", "VA-GARE", "2025"): 50}
    assert valeurs_courantes(essai, PROTOCOLE).set_index("perimetre").loc["QN09301A", "depot_id"] == second.depot_id
    h = historique(essai, PROTOCOLE, "JEUNES", "QN09301A")
    assert list(zip(h["valeur"], h["depot_id"], h["fait_foi"], h["fichier_nom"], h["cellule"])) == [
        (100.0, premier.depot_id, False, "v1.csv", "v1!D2"), (110.0, second.depot_id, True, "v2.csv", "v2!D2")]
    assert len(historique(essai, PROTOCOLE, "JEUNES")) == 5


@pytest.mark.deux_moteurs
def test_a_corriger_rend_la_main_a_la_valeur_precedente(essai):
    premier = accepte(essai, csv_long([["JEUNES", "QN09301A", "2025", 100]]), "v1.csv", "EPT")
    fautif = accepte(essai, csv_long([["JEUNES", "QN09301A", "2025", 1000], ["JEUNES", "QN09302B", "2025", 7]]),
                     "v2.csv", "EPT")
    revoir_depot(essai, fautif.depot_id, "à corriger", "Erreur d'un facteur 10")
    assert courantes(essai) == {("JEUNES", "QN09301A", "2025"): 100}
    h = historique(essai, PROTOCOLE, "JEUNES", "QN09301A").set_index("depot_id")
    assert bool(h.loc[premier.depot_id, "fait_foi"]) and not bool(h.loc[fautif.depot_id, "fait_foi"])
    assert h.loc[fautif.depot_id, "statut"] == "à corriger"
    d = liste_depots(essai, PROTOCOLE).set_index("id")
    assert d.loc[fautif.depot_id, "commentaire_revue"] == "Erreur d'un facteur 10"
    # Validé ensuite : ses valeurs refont foi. La revue est gardée en entier.
    revoir_depot(essai, fautif.depot_id, "validé", None)
    assert courantes(essai)[("JEUNES", "QN09301A", "2025")] == 1000
    assert essai.requete("SELECT statut FROM revue_depot ORDER BY revu_le")["statut"].tolist() == ["à corriger",
                                                                                                   "validé"]
    with pytest.raises(ValueError, match="Statut de revue inconnu"):
        revoir_depot(essai, fautif.depot_id, "rejeté", None)
    with pytest.raises(KeyError):
        revoir_depot(essai, 999, "validé", None)


def test_historique_fait_foi_comme_les_valeurs_courantes(essai):
    """`fait_foi` (une fenêtre sur les valeurs de l'indicateur) marque exactement les valeurs de `valeurs_courantes`,
    dépôts « à corriger », périmètres et semestres compris, avec ou sans filtre de périmètre."""
    accepte(essai, csv_long([["JEUNES", "QN09301A", "2025", 100], ["APPRENTIS", "QN09301A", "2025-S1", 3]]),
            "v1.csv", "EPT")
    fautif = accepte(essai, csv_long([["JEUNES", "QN09301A", "2025", 1000], ["JEUNES", "QN09302B", "2025", 7],
                                      ["APPRENTIS", "QN09301A", "2025-S1", 4]]), "v2.csv", "EPT")
    accepte(essai, csv_long([["JEUNES", "VA-GARE", "2025", 50], ["APPRENTIS", "QN09301A", "2025-S2", 5]]),
            "v3.csv", "EPT")
    revoir_depot(essai, fautif.depot_id, "à corriger", None)
    cour = valeurs_courantes(essai, PROTOCOLE)
    for indicateur in ("JEUNES", "APPRENTIS"):
        attendu = {(r.perimetre, r.periode, r.depot_id) for r in cour[cour["indicateur"] == indicateur].itertuples()}
        h = historique(essai, PROTOCOLE, indicateur)
        assert h["fait_foi"].dtype == bool
        assert {(r.perimetre, r.periode, r.depot_id) for r in h[h["fait_foi"]].itertuples()} == attendu
        for perimetre in ("QN09301A", "QN09302B", "VA-GARE"):
            hp = historique(essai, PROTOCOLE, indicateur, perimetre)
            assert hp.to_dict("records") == h[h["perimetre"] == perimetre].to_dict("records")


def test_le_depot_suivant_compare_aux_valeurs_qui_font_foi(essai):
    """Après un dépôt « à corriger », le partenaire redépose : les changements se comptent par rapport à ce qui fait
    foi (le dépôt d'avant), pas au dépôt écarté."""
    accepte(essai, csv_long([["JEUNES", "QN09301A", "2025", 100]]), "v1.csv", "EPT")
    fautif = accepte(essai, csv_long([["JEUNES", "QN09301A", "2025", 1000]]), "v2.csv", "EPT",
                     accepter_avertissements=True)
    revoir_depot(essai, fautif.depot_id, "à corriger", None)
    res = accepte(essai, csv_long([["JEUNES", "QN09301A", "2025", 100, "corrigé"]]), "v3.csv", "EPT")
    assert res.changements["nature"].tolist() == ["inchangée"]


# --------------------------------------------------------------------------------------------------------------------
# Complétude
# --------------------------------------------------------------------------------------------------------------------

def test_completude_sur_un_cas_construit_a_la_main(essai):
    # EPT : 6 semestriels (APPRENTIS : 3 périmètres du niveau, S1 et S2) + 3 JEUNES + 1 taux (seul périmètre avec
    # référence ou cible) = 10. DDSP : 2 quartiers avec référence. CAF : le territoire. Reçus : EPT 4, CAF 1.
    accepte(essai, csv_long([["APPRENTIS", "QN09301A", "2025-S1", 3], ["APPRENTIS", "QN09301A", "2025-S2", 4],
                             ["JEUNES", "QN09301A", "2025", 90], ["TAUX-APPRENTIS", "QN09301A", "2025", 4.4]]),
            "ept.csv", "EPT")
    accepte(essai, csv_long([["DELAI", "EPT-TEST", "2025", 30]]), "caf.csv", "CAF93")
    # Une valeur hors des attendus (périmètre sans référence) ne compte pas ; une autre année non plus.
    accepte(essai, csv_long([["TAUX-APPRENTIS", "QN09302B", "2025", 3], ["JEUNES", "QN09302B", "2024", 80]]),
            "hors.csv", "EPT")
    comp = completude(essai, PROTOCOLE, "2025")
    t = comp.par_signataire
    assert list(t.itertuples(index=False, name=None))[0][:6] == ("ETAT-DDSP", "État – DDSP", 2, 0, 0.0,
                                                                 "aucune donnée")
    assert [tuple(r) for r in t[["signataire", "attendus", "recus", "taux", "statut"]].values] == [
        ("ETAT-DDSP", 2, 0, 0.0, "aucune donnée"), ("EPT", 10, 4, 40.0, "partiel"), ("CAF93", 1, 1, 100.0, "complet")]
    assert comp.en_retard == ["ETAT-DDSP", "EPT"]
    assert pd.isna(t.set_index("signataire").loc["ETAT-DDSP", "dernier_depot"])
    assert pd.notna(t.set_index("signataire").loc["EPT", "dernier_depot"])
    assert len(comp.detail) == 13 and int(comp.detail["recu"].sum()) == 5
    d = comp.as_dict()
    assert (d["periode"], d["attendus"], d["recus"], d["en_retard"]) == ("2025", 13, 5, ["ETAT-DDSP", "EPT"])
    # Un semestre : seuls les indicateurs semestriels sont attendus.
    s1 = completude(essai, PROTOCOLE, "2025-S1").par_signataire
    assert [tuple(r) for r in s1[["signataire", "attendus", "recus", "taux"]].values] == [("EPT", 3, 1, 33.3)]
    # Un dépôt à corriger ne compte plus.
    caf = liste_depots(essai, PROTOCOLE, "CAF93")["id"].iloc[0]
    revoir_depot(essai, int(caf), "à corriger", None)
    assert completude(essai, PROTOCOLE, "2025").en_retard == ["CAF93", "ETAT-DDSP", "EPT"]
    with pytest.raises(ValueError, match="Période illisible"):
        completude(essai, PROTOCOLE, "l'an dernier")


def test_completude_l_etat_remplit_pour_son_service(essai):
    accepte(essai, remplir_modele(modele(essai, "ETAT"), {("PATROUILLES", "QN09301A", "2025"): 1,
                                                          ("PATROUILLES", "QN09302B", "2025"): 2}), "e.xlsx", "ETAT")
    t = completude(essai, PROTOCOLE, "2025").par_signataire.set_index("signataire")
    assert t.loc["ETAT-DDSP", ["attendus", "recus", "statut"]].tolist() == [2, 2, "complet"]


# --------------------------------------------------------------------------------------------------------------------
# Accès simultanés et arrêt brutal
# --------------------------------------------------------------------------------------------------------------------

def _jamais_a_moitie(store: Store) -> pd.DataFrame:
    """Chaque dépôt a exactement le nombre de valeurs qu'il annonce."""
    df = store.requete("""SELECT d.id, d.nb_valeurs, count(v.depot_id) AS n FROM depot d
                          LEFT JOIN valeur v ON v.depot_id = d.id GROUP BY ALL ORDER BY d.id""")
    assert (df["nb_valeurs"] == df["n"]).all(), df
    assert store.requete("SELECT count(*) AS n FROM valeur WHERE depot_id NOT IN (SELECT id FROM depot)")["n"][0] == 0
    return df


@pytest.mark.deux_moteurs
def test_deux_depots_en_meme_temps_dans_un_processus(essai):
    fichiers = {
        "a.csv": csv_long([["JEUNES", p, str(a), 10 + a - 2024] for a in range(2024, 2031)
                           for p in ("QN09301A", "QN09302B", "VA-GARE")]),
        "b.csv": csv_long([["APPRENTIS", p, f"{a}-S{s}", 5] for a in range(2024, 2031) for s in (1, 2)
                           for p in ("QN09301A", "QN09302B", "VA-GARE")]),
    }
    depart = threading.Barrier(len(fichiers))
    resultats = {}

    def deposer_en_parallele(nom):
        depart.wait()
        resultats[nom] = deposer(essai, fichiers[nom], nom, protocole=PROTOCOLE, signataire="EPT")

    fils = [threading.Thread(target=deposer_en_parallele, args=(n,)) for n in fichiers]
    for f in fils:
        f.start()
    for f in fils:
        f.join(timeout=60)
    assert {n: r.statut for n, r in resultats.items()} == {"a.csv": "accepte", "b.csv": "accepte"}
    df = _jamais_a_moitie(essai)
    assert sorted(df["n"]) == [21, 42]
    assert len({r.depot_id for r in resultats.values()}) == 2


@pytest.mark.deux_moteurs
@pytest.mark.lent
def test_la_ligne_de_commande_depose_pendant_un_autre_depot(essai, tmp_path):
    """Un processus dépose par la ligne de commande pendant que celui-ci dépose aussi : les deux aboutissent (ou l'un
    répond « base occupée »), jamais à moitié."""
    fichier = tmp_path / "caf.csv"
    fichier.write_bytes(csv_long([["DELAI", "EPT-TEST", str(a), 30 - a + 2024] for a in range(2024, 2031)]))
    env = dict(os.environ, PYTHONPATH=str(RACINE), PERR_DB_DELAI="20")
    proc = subprocess.Popen([sys.executable, "-m", "perr_metrics", "--db", str(essai.chemin), "depot", str(fichier),
                             "--protocole", PROTOCOLE, "--signataire", "CAF93", "--json"], cwd=RACINE, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    mes_depots = []
    for i in range(40):
        res = deposer(essai, csv_long([["JEUNES", "QN09301A", str(2024 + i % 7), 100 + i]]), f"ept-{i}.csv",
                      protocole=PROTOCOLE, signataire="EPT", accepter_avertissements=True)
        assert res.statut == "accepte"
        mes_depots.append(res.depot_id)
        if proc.poll() is not None and i >= 5:
            break
    sortie, erreur = proc.communicate(timeout=60)
    if proc.returncode == 0:
        assert json.loads(sortie)["statut"] == "accepte"
        attendus = len(mes_depots) + 1
    else:
        assert proc.returncode == 1 and "occupée" in erreur, erreur
        attendus = len(mes_depots)
    df = _jamais_a_moitie(essai)
    assert len(df) == attendus


@pytest.mark.deux_moteurs
@pytest.mark.lent
def test_depot_tue_en_plein_vol_ne_laisse_rien(essai, tmp_path):
    """On tue (SIGKILL) un dépôt après l'écriture du dépôt et de ses valeurs, avant la validation de la transaction :
    la base est exactement celle d'avant, et le même dépôt passe ensuite."""
    accepte(essai, csv_long([["JEUNES", "QN09301A", "2024", 90]]), "avant.csv", "EPT")
    fichier = tmp_path / "ept.csv"
    fichier.write_bytes(csv_long([["JEUNES", p, "2025", 100] for p in ("QN09301A", "QN09302B", "VA-GARE")]))
    avant = instantane(essai)
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(RACINE)!r})
        from perr_metrics.depots import depot as depots
        from perr_metrics.stockage.magasin import Store
        from perr_metrics.acces.droits import SYSTEME
        vrai = depots.inserer_df
        def lent(con, table, df):
            vrai(con, table, df)
            n = con.execute("SELECT count(*) FROM depot").fetchone()[0]
            print("EN COURS", n, len(df), flush=True)
            time.sleep(60)
        depots.inserer_df = lent
        donnees = open({str(fichier)!r}, "rb").read()
        depots.deposer(Store({str(essai.chemin)!r}, utilisateur=SYSTEME), donnees, "ept.csv", protocole={PROTOCOLE!r}, signataire="EPT")
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        ligne = proc.stdout.readline().split()
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
    # Il a été tué dans la transaction : le dépôt (2e) et ses 3 valeurs écrits, pas encore validés.
    assert ligne == ["EN", "COURS", "2", "3"]
    assert proc.returncode == -signal.SIGKILL
    assert instantane(essai) == avant
    res = accepte(essai, fichier.read_bytes(), "ept.csv", "EPT")
    assert res.nb_valeurs == 3
    _jamais_a_moitie(essai)


# --------------------------------------------------------------------------------------------------------------------
# Ligne de commande
# --------------------------------------------------------------------------------------------------------------------

def lancer(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    sortie = capsys.readouterr()
    return code, sortie.out, sortie.err


CLES_PROBLEME = {"feuille", "cellule", "code", "message", "valeur"}


@pytest.mark.deux_moteurs
def test_cli_modele_puis_depot(essai, tmp_path, capsys):
    db = essai.chemin
    chemin = tmp_path / "modele-EPT.xlsx"
    code, out, _ = lancer(capsys, "--db", db, "modele", "--protocole", PROTOCOLE, "--signataire", "EPT", "--periode",
                          "2025", chemin)
    assert code == 0 and "10 valeurs attendues" in out
    assert list(lignes_modele(chemin.read_bytes())) == ATTENDUS_2025["EPT"]
    code, _, err = lancer(capsys, "--db", db, "modele", "--protocole", PROTOCOLE, "--signataire", "EPT", "--periode",
                          "2040", tmp_path / "x.xlsx")
    assert code == 1 and "hors du protocole" in err and not (tmp_path / "x.xlsx").exists()

    rempli = tmp_path / "rempli.xlsx"
    rempli.write_bytes(remplir_modele(chemin.read_bytes(), {("JEUNES", "QN09301A", "2025"): 12,
                                                            ("TAUX-APPRENTIS", "QN09301A", "2025"): "4,5"}))
    # Le dépôt par le compte du contributeur de l'EPT (créé par la coordination), son mot de passe par l'environnement.
    code, _, err = lancer(capsys, "--db", db, "utilisateurs", "ajouter", "ept@exemple.fr", "--nom", "Agent de l'EPT",
                          "--role", "contributeur", "--protocole", PROTOCOLE, "--signataire", "EPT")
    assert code == 0, err
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PERR_MOT_DE_PASSE", "coordination-demo")   # celui de $PERR_NOUVEAU_MOT_DE_PASSE à la création
        code, out, _ = lancer(capsys, "--db", db, "depot", rempli, "--protocole", PROTOCOLE, "--signataire", "EPT",
                              "--utilisateur", "ept@exemple.fr", "--json")
    assert code == 0
    res = json.loads(out)
    assert set(res) == {"statut", "erreurs", "avertissements", "valeurs", "motifs", "depot_id"}
    assert (res["statut"], res["erreurs"], res["avertissements"], res["valeurs"]) == ("accepte", [], [], 2)
    depots_ = liste_depots(essai, PROTOCOLE)
    assert depots_["utilisateur"].tolist() == ["Agent de l'EPT"]
    assert essai.requete("SELECT compte FROM depot")["compte"].tolist() == ["ept@exemple.fr"]
    # Le même fichier encore : rien de nouveau, et ce n'est pas une erreur.
    code, out, err = lancer(capsys, "--db", db, "depot", rempli, "--protocole", PROTOCOLE, "--signataire", "EPT",
                            "--json")
    assert code == 0 and json.loads(out)["statut"] == "deja-depose"
    assert json.loads(out)["depot_id"] == res["depot_id"] and "déjà été déposé" in err
    # Sans --json : une phrase.
    autre = tmp_path / "autre.csv"
    autre.write_bytes(csv_long([["JEUNES", "QN09301A", "2025", 13]]))
    code, out, _ = lancer(capsys, "--db", db, "depot", autre, "--protocole", PROTOCOLE, "--signataire", "EPT")
    assert code == 0 and "1 valeurs (1 modifiée(s)" in out


def test_cli_depot_refuse_json_et_code_1(essai, tmp_path, capsys):
    fichier = tmp_path / "v.csv"
    fichier.write_bytes(csv_long([["JEUNES", "QN09301A", "2025", "NC"], ["FANTOME", "QN09301A", "2025", 1]]))
    avant = instantane(essai)
    code, out, err = lancer(capsys, "--db", essai.chemin, "depot", fichier, "--protocole", PROTOCOLE, "--signataire",
                            "EPT", "--json")
    assert code == 1 and instantane(essai) == avant
    res = json.loads(out)
    assert (res["statut"], res["valeurs"], res["depot_id"], res["avertissements"]) == ("rejete", 0, None, [])
    assert all(set(p) == CLES_PROBLEME for p in res["erreurs"])
    assert {(p["feuille"], p["cellule"], p["code"], p["valeur"]) for p in res["erreurs"]} == {
        ("v", "v!D2", "valeur-non-numerique", "NC"), ("v", "v!A3", "indicateur-inconnu", "FANTOME")}
    assert "[valeur-non-numerique] v!D2" in err and "rien n'a été enregistré" in err
    # Sans --json : rien sur la sortie standard, le rapport sur la sortie d'erreur.
    code, out, err = lancer(capsys, "--db", essai.chemin, "depot", fichier, "--protocole", PROTOCOLE, "--signataire",
                            "EPT")
    assert code == 1 and out == "" and "[indicateur-inconnu] v!A3" in err


def test_cli_avertissements_a_confirmer(essai, tmp_path, capsys):
    fichier = tmp_path / "v.csv"
    fichier.write_bytes(csv_long([["PATROUILLES", "QN09301A", "2025", 9999]]))
    args = ["--db", essai.chemin, "depot", fichier, "--protocole", PROTOCOLE, "--signataire", "ETAT", "--json"]
    code, out, err = lancer(capsys, *args)
    res = json.loads(out)
    assert code == 1 and res["statut"] == "a-confirmer" and res["erreurs"] == []
    assert [(p["cellule"], p["code"]) for p in res["avertissements"]] == [("v!D2", "hors-bornes-plausibles")]
    assert all(set(p) == CLES_PROBLEME for p in res["avertissements"])
    assert "--accepter-avertissements" in err and valeurs_courantes(essai, PROTOCOLE).empty
    code, out, _ = lancer(capsys, *args, "--accepter-avertissements")
    assert code == 0 and json.loads(out)["statut"] == "accepte"


def test_cli_usage_et_fichier_absent(essai, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--db", str(essai.chemin), "depot", "f.csv", "--protocole", PROTOCOLE])
    assert exc.value.code == 2 and "arguments obligatoires manquants" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["--db", str(essai.chemin), "revue", "1", "--statut", "rejeté"])
    assert exc.value.code == 2
    capsys.readouterr()
    code, _, err = lancer(capsys, "--db", essai.chemin, "depot", tmp_path / "absent.csv", "--protocole", PROTOCOLE,
                          "--signataire", "EPT")
    assert code == 1 and "n'existe pas" in err


def test_cli_vrai_processus_refus(essai, tmp_path):
    """Le vrai `python -m perr_metrics depot`, dans un sous-processus : refus, code 1, JSON sur la sortie standard.
    (Le cas accepté, code 0, est lancé pour de vrai par le test des deux processus ; l'usage, code 2, ci-dessus.)"""
    mauvais = tmp_path / "mauvais.csv"
    mauvais.write_bytes(csv_long([["DELAI", "EPT-TEST", "2025", "n/a"]]))
    env = dict(os.environ, PYTHONPATH=str(RACINE))
    r = subprocess.run([sys.executable, "-m", "perr_metrics", "--db", str(essai.chemin), "depot", str(mauvais),
                        "--protocole", PROTOCOLE, "--signataire", "CAF93", "--json"], cwd=RACINE, env=env,
                       capture_output=True, text=True)
    assert r.returncode == 1
    res = json.loads(r.stdout)
    assert res["statut"] == "rejete" and [(p["cellule"], p["code"], p["valeur"]) for p in res["erreurs"]] == [
        ("mauvais!D2", "valeur-non-numerique", "n/a")]
    assert "Fichier refusé" in r.stderr


@pytest.mark.deux_moteurs
def test_cli_completude_et_revue(essai, tmp_path, capsys):
    accepte(essai, csv_long([["DELAI", "EPT-TEST", "2025", 30]]), "caf.csv", "CAF93")
    accepte(essai, csv_long([["JEUNES", "QN09301A", "2025", 90]]), "ept.csv", "EPT")
    code, out, _ = lancer(capsys, "--db", essai.chemin, "completude", "--protocole", PROTOCOLE, "--periode", "2025",
                          "--json")
    assert code == 0
    res = json.loads(out)
    assert set(res) == {"periode", "signataires", "en_retard", "attendus", "recus", "expliques", "manquants",
                        "echeance"}
    assert (res["periode"], res["attendus"], res["recus"], res["en_retard"]) == ("2025", 13, 2, ["ETAT-DDSP", "EPT"])
    assert (res["expliques"], res["manquants"]) == (0, 11)
    assert res["echeance"] == {"periode": "2025", "date_limite": "2026-01-31", "source": "règle par défaut"}
    par = {s["signataire"]: s for s in res["signataires"]}
    assert set(par["EPT"]) == {"signataire", "nom", "attendus", "recus", "taux", "statut", "dernier_depot",
                               "expliques", "manquants"}
    assert (par["EPT"]["recus"], par["EPT"]["taux"], par["CAF93"]["statut"]) == (1, 10.0, "complet")
    assert par["ETAT-DDSP"]["dernier_depot"] is None
    code, out, _ = lancer(capsys, "--db", essai.chemin, "completude", "--protocole", PROTOCOLE, "--periode", "2025")
    assert code == 0 and "2 valeurs reçues sur 13 attendues" in out and "En retard : ETAT-DDSP, EPT" in out
    code, _, err = lancer(capsys, "--db", essai.chemin, "completude", "--protocole", PROTOCOLE, "--periode", "bientôt")
    assert code == 1 and "Période illisible" in err
    code, _, err = lancer(capsys, "--db", essai.chemin, "completude", "--protocole", "NANCY", "--periode", "2025")
    assert code == 1

    caf = int(liste_depots(essai, PROTOCOLE, "CAF93")["id"].iloc[0])
    code, out, _ = lancer(capsys, "--db", essai.chemin, "revue", caf, "--statut", "à-corriger", "--commentaire",
                          "Délai en heures, pas en jours")
    assert code == 0 and "à corriger" in out
    assert liste_depots(essai, PROTOCOLE, "CAF93")["statut"].tolist() == ["à corriger"]
    code, _, err = lancer(capsys, "--db", essai.chemin, "revue", 999, "--statut", "validé")
    assert code == 1 and "n'existe pas" in err
