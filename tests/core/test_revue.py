"""La revue avant publication (issue 14) : une valeur confirmée malgré un avertissement est marquée partout où elle se lit
tant que la coordination n'a pas revu son dépôt ; le protocole choisit quand un dépôt compte (dès réception, après revue
des avertissements, après validation) ; la revue montre les valeurs du dépôt, ce qu'elles changent et leurs
avertissements ; « valeur précédente » a un seul sens (la valeur qui fait foi à la période précédente) ; le modèle d'une
période déjà déposée est pré-rempli.

Sur le petit référentiel d'essai (tests/classeurs.py) : PATROUILLES (ETAT-DDSP, par quartier, somme, 0 à 5 000).
"""
from __future__ import annotations

import io

import pandas as pd
import pytest
from openpyxl import load_workbook

from perr_metrics.acces.droits import AccesRefuse, Utilisateur
from perr_metrics.acces.journal import lire_journal
from perr_metrics.depots import depot as depots
from perr_metrics.depots.depot import (deposer, depots_en_attente, detail_depot, historique, liste_depots,
                                       problemes_nommes, revoir_depot, valeurs_courantes)
from perr_metrics.depots.modele import ecrire_modele_depot
from perr_metrics.pilotage import avancement
from perr_metrics.referentiel.classeur import donnees_protocole, exporter_referentiel, importer_referentiel
from tests import classeurs
from tests.core.test_depots import base_essai, essai  # noqa: F401 - les fixtures du petit référentiel
from tests.fichiers import PROTOCOLE, csv_long, lignes_modele, remplir_modele

Q1, Q2 = "QN09301A", "QN09302B"


def _deposer(store, lignes, nom, signataire="ETAT-DDSP", **options):
    res = deposer(store, csv_long(lignes), nom, protocole=PROTOCOLE, signataire=signataire, **options)
    assert res.statut == "accepte", res.rapport.texte()
    return res


def _choisir(store, tmp_path, valeurs_retenues=None, echeance=None):
    """Réimporte le référentiel d'essai avec « Valeurs prises en compte » et « Échéance des dépôts »."""
    d = classeurs.donnees()
    d["protocole"][0].update(valeurs_retenues=valeurs_retenues, echeance_depots=echeance)
    res = importer_referentiel(store, classeurs.ecrire(tmp_path, d, "choix.xlsx"))
    assert res.rapport.valide, res.rapport.texte()


def _courante(store, perimetre=Q1, periode="2025"):
    df = valeurs_courantes(store, PROTOCOLE).set_index(["indicateur", "perimetre", "periode"])
    cle = ("PATROUILLES", perimetre, periode)
    return df.loc[cle].to_dict() if cle in df.index else None


def _saut(store):
    """2024 : 100 et 100 ; 2025 : 400 (×4 : saut-important, confirmé) et 110."""
    _deposer(store, [["PATROUILLES", Q1, "2024", 100], ["PATROUILLES", Q2, "2024", 100]], "2024.csv")
    avant = deposer(store, csv_long([["PATROUILLES", Q1, "2025", 400], ["PATROUILLES", Q2, "2025", 110]]),
                    "2025.csv", protocole=PROTOCOLE, signataire="ETAT-DDSP")
    assert avant.statut == "a-confirmer"
    return _deposer(store, [["PATROUILLES", Q1, "2025", 400], ["PATROUILLES", Q2, "2025", 110]], "2025.csv",
                    accepter_avertissements=True)


# --------------------------------------------------------------------------------------------------------------------
# Les marques : la valeur confirmée malgré un avertissement, tant que son dépôt n'est pas revu
# --------------------------------------------------------------------------------------------------------------------

def test_la_valeur_forcee_est_marquee_jusqu_a_la_revue(essai):
    res = _saut(essai)
    # Dès réception (le choix par défaut) : elle compte, marquée.
    v = _courante(essai)
    assert (v["valeur"], v["depot_id"], v["en_attente_de_revue"], v["avertissement_force"]) == (
        400, res.depot_id, True, True)
    # L'autre valeur du même dépôt : son dépôt attend la revue, elle n'a pas eu d'avertissement.
    v2 = _courante(essai, Q2)
    assert (v2["en_attente_de_revue"], v2["avertissement_force"]) == (True, False)
    assert not _courante(essai, Q1, "2024")["en_attente_de_revue"]
    # L'avertissement reste attaché à sa valeur, et se lit dans l'historique.
    h = historique(essai, PROTOCOLE, "PATROUILLES", Q1).set_index("periode")
    assert h.loc["2025", "avertissement_code"] == "saut-important" and "×4" in h.loc["2025", "avertissement"]
    assert bool(h.loc["2025", "en_attente_de_revue"]) and pd.isna(h.loc["2024", "avertissement"])
    d = liste_depots(essai, PROTOCOLE).set_index("id")
    assert (d.loc[res.depot_id, "nb_avertissements"], bool(d.loc[res.depot_id, "en_attente_de_revue"])) == (1, True)

    # Les lignes d'avancement (pages, fiche, rapport) : au quartier, et au territoire (une somme qui la comprend).
    per = avancement.indicateurs_au_perimetre(essai, PROTOCOLE, "2025").set_index(["indicateur", "perimetre"])
    ligne = per.loc[("PATROUILLES", Q1)]
    assert bool(ligne["en_attente_de_revue"]) and bool(ligne["avertissement_force"])
    assert ligne["explication"].endswith("Valeur confirmée malgré un avertissement, en attente de revue par la "
                                         "coordination.")
    assert (bool(per.loc[("PATROUILLES", Q2), "en_attente_de_revue"]),
            bool(per.loc[("PATROUILLES", Q2), "avertissement_force"])) == (True, False)
    ter = avancement.indicateurs_au_territoire(essai, PROTOCOLE, "2025").set_index("indicateur")
    assert ter.loc["PATROUILLES", "valeur"] == 400 and bool(ter.loc["PATROUILLES", "en_attente_de_revue"])
    assert "Comprend une valeur confirmée malgré un avertissement" in ter.loc["PATROUILLES", "explication"]
    assert not ter.loc[ter.index != "PATROUILLES", "en_attente_de_revue"].any()
    assert not avancement.indicateurs_au_territoire(essai, PROTOCOLE, "2024")["en_attente_de_revue"].any()
    # Une sélection de quartiers sans la valeur forcée n'est pas marquée.
    sel = avancement.indicateurs_au_territoire(essai, PROTOCOLE, "2025", perimetres=[Q2]).set_index("indicateur")
    assert bool(sel.loc["PATROUILLES", "en_attente_de_revue"]) and not sel.loc["PATROUILLES", "avertissement_force"]

    # Revue : validée, la marque tombe (l'avertissement reste dans l'historique).
    revoir_depot(essai, res.depot_id, "validé", "Vérifié avec la DDSP : nouvelle brigade.")
    v = _courante(essai)
    assert (v["valeur"], v["en_attente_de_revue"], v["avertissement_force"]) == (400, False, True)
    assert not avancement.indicateurs_au_territoire(essai, PROTOCOLE, "2025")["en_attente_de_revue"].any()
    assert "Comprend" not in avancement.indicateurs_au_territoire(essai, PROTOCOLE, "2025").set_index(
        "indicateur").loc["PATROUILLES", "explication"]


def test_le_journal_garde_les_avertissements_et_la_revue(essai):
    res = _saut(essai)
    revoir_depot(essai, res.depot_id, "à corriger", "400 patrouilles : une faute de frappe ? Merci de vérifier.")
    j = lire_journal(essai)
    depot = j[(j["action"] == "dépôt") & (j["objet"] == f"dépôt n° {res.depot_id} : 2025.csv")].iloc[0]
    assert "1 avertissement(s) confirmé(s) : 2025!D2 (saut-important)" in depot["detail"]
    assert "en attente de revue" in depot["detail"]
    revue = j[j["action"] == "revue de dépôt"].iloc[0]
    assert revue["detail"] == ("à corriger (statut précédent : reçu) ; 1 avertissement confirmé au dépôt revu : "
                               "2025!D2 (saut-important) — 400 patrouilles : une faute de frappe ? Merci de vérifier.")


# --------------------------------------------------------------------------------------------------------------------
# Le protocole choisit quand un dépôt compte
# --------------------------------------------------------------------------------------------------------------------

def test_par_defaut_des_reception_et_le_choix_s_exporte(essai, tmp_path):
    assert donnees_protocole(essai, PROTOCOLE)["protocole"][0]["valeurs_retenues"] == "dès réception"
    _choisir(essai, tmp_path, "après validation", "31/3")
    p = donnees_protocole(essai, PROTOCOLE)["protocole"][0]
    assert (p["valeurs_retenues"], p["echeance_depots"]) == ("après validation", "31/03")
    # Exporté puis réimporté tel quel.
    exporter_referentiel(essai, PROTOCOLE, tmp_path / "export.xlsx")
    ws = load_workbook(tmp_path / "export.xlsx")["Protocole"]
    entetes = [c.value for c in ws[1]]
    assert ws.cell(2, entetes.index("Valeurs prises en compte") + 1).value == "après validation"
    assert ws.cell(2, entetes.index("Échéance des dépôts") + 1).value == "31/03"
    assert importer_referentiel(essai, tmp_path / "export.xlsx").rapport.valide
    assert donnees_protocole(essai, PROTOCOLE)["protocole"][0]["valeurs_retenues"] == "après validation"


@pytest.mark.parametrize("echeance, attendu", [("15/04", "15/04"), ("1/3", "01/03"), (None, None)])
def test_echeance_lue(essai, tmp_path, echeance, attendu):
    _choisir(essai, tmp_path, None, echeance)
    assert donnees_protocole(essai, PROTOCOLE)["protocole"][0]["echeance_depots"] == attendu


@pytest.mark.parametrize("echeance", ["31/02", "mars", "2025"])
def test_echeance_illisible_refusee(essai, tmp_path, echeance):
    d = classeurs.donnees()
    d["protocole"][0].update(echeance_depots=echeance)
    with pytest.raises(Exception) as exc:
        importer_referentiel(essai, classeurs.ecrire(tmp_path, d, "choix.xlsx"))
    # Les codes fictifs des quartiers d'essai ne sont pas dans la liste officielle des QPV : avertis, pas refusés.
    assert [(p.cellule, p.code) for p in exc.value.rapport.problemes] == [
        ("Protocole!L2", "echeance-invalide"), ("Quartiers!A2", "code-qpv-inconnu"), ("Quartiers!A3", "code-qpv-inconnu")]


def test_apres_validation(essai, tmp_path):
    _choisir(essai, tmp_path, "après validation")
    premier = _deposer(essai, [["PATROUILLES", Q1, "2025", 100]], "v1.csv")
    # Reçu, pas encore validé : il ne compte pas, mais il est bien reçu (complétude) et attend la revue.
    assert _courante(essai) is None
    comp = depots.completude(essai, PROTOCOLE, "2025").par_signataire.set_index("signataire")
    assert comp.loc["ETAT-DDSP", "recus"] == 1
    assert historique(essai, PROTOCOLE, "PATROUILLES")["fait_foi"].tolist() == [False]
    revoir_depot(essai, premier.depot_id, "validé")
    assert _courante(essai)["valeur"] == 100
    # Un dépôt plus récent, non validé, ne remplace pas la valeur validée.
    second = _deposer(essai, [["PATROUILLES", Q1, "2025", 130]], "v2.csv")
    assert _courante(essai)["valeur"] == 100
    assert detail_depot(essai, second.depot_id).valeurs["remplacee"].tolist() == [100]
    revoir_depot(essai, second.depot_id, "validé")
    assert _courante(essai)["valeur"] == 130
    revoir_depot(essai, second.depot_id, "à corriger", "Erreur")
    assert _courante(essai)["valeur"] == 100


def test_apres_revue_des_avertissements(essai, tmp_path):
    _choisir(essai, tmp_path, "après revue des avertissements")
    res = _saut(essai)
    # Le dépôt sans avertissement compte dès réception ; celui confirmé malgré un avertissement attend la revue.
    assert _courante(essai, Q1, "2024")["valeur"] == 100
    assert _courante(essai) is None and _courante(essai, Q2) is None
    assert depots_en_attente(essai, PROTOCOLE)["id"].tolist()[0] == res.depot_id
    revoir_depot(essai, res.depot_id, "validé")
    v = _courante(essai)
    assert (v["valeur"], v["en_attente_de_revue"]) == (400, False)
    assert depots_en_attente(essai, PROTOCOLE).empty is False  # le dépôt de 2024, jamais revu, reste à voir
    assert res.depot_id not in depots_en_attente(essai, PROTOCOLE)["id"].tolist()


# --------------------------------------------------------------------------------------------------------------------
# Ce que la revue montre
# --------------------------------------------------------------------------------------------------------------------

def test_le_detail_d_un_depot_pour_la_revue(essai):
    _deposer(essai, [["PATROUILLES", Q1, "2024", 100], ["PATROUILLES", Q2, "2024", 100]], "2024.csv")
    _deposer(essai, [["PATROUILLES", Q1, "2025", 120]], "2025a.csv")
    res = _deposer(essai, [["PATROUILLES", Q1, "2025", 400], ["PATROUILLES", Q2, "2025", 110]], "2025b.csv",
                   accepter_avertissements=True)
    d = detail_depot(essai, res.depot_id)
    assert (d.depot["signataire_nom"], d.depot["fichier_nom"], d.depot["statut"], d.depot["nb_avertissements"],
            bool(d.depot["en_attente_de_revue"]), d.valeurs_retenues) == (
        "État – DDSP", "2025b.csv", "reçu", 1, True, "dès réception")
    v = d.valeurs.set_index("perimetre")
    # L'avertissement d'abord ; la valeur remplacée (même période) et la précédente (période précédente).
    assert d.valeurs["perimetre"].tolist() == [Q1, Q2]
    assert v.loc[Q1, ["indicateur_libelle", "perimetre_libelle", "valeur", "remplacee", "precedente", "nature",
                      "avertissement_code", "cellule"]].tolist() == [
        "Patrouilles pédestres", "Quartier des Deux Rives", 400, 120, 100, "modifiée", "saut-important", "2025b!D2"]
    assert v.loc[Q2, ["remplacee", "precedente", "nature"]].tolist()[1:] == [100, "nouvelle"]
    assert pd.isna(v.loc[Q2, "remplacee"]) and pd.isna(v.loc[Q2, "avertissement"])
    assert v["fait_foi"].tolist() == [True, True]
    assert d.avertissements["perimetre"].tolist() == [Q1] and d.revues.empty
    revoir_depot(essai, res.depot_id, "à corriger", "Vérifiez 400.")
    d = detail_depot(essai, res.depot_id)
    assert d.revues[["statut", "commentaire"]].values.tolist() == [["à corriger", "Vérifiez 400."]]
    assert d.valeurs["fait_foi"].tolist() == [False, False]
    # Un partenaire ne voit que les dépôts de son signataire.
    caf = essai.pour(Utilisateur("agent-caf", "Agent CAF", "contributeur", PROTOCOLE, "CAF93"))
    with pytest.raises(AccesRefuse):
        detail_depot(caf, res.depot_id)
    with pytest.raises(KeyError):
        detail_depot(essai, 999)


def test_une_seule_valeur_precedente(essai):
    """Le modèle, l'avertissement et la confirmation disent la même « valeur précédente » : celle qui fait foi à la
    période précédente (28 en 2024), et la confirmation dit à part la valeur qu'elle remplace (30 en 2025)."""
    _deposer(essai, [["PATROUILLES", Q1, "2024", 28]], "2024.csv")
    _deposer(essai, [["PATROUILLES", Q1, "2025", 30]], "2025.csv")
    flux = io.BytesIO()
    ecrire_modele_depot(essai, PROTOCOLE, "ETAT-DDSP", "2025", flux)
    ws = load_workbook(io.BytesIO(flux.getvalue()))["Valeurs"]
    assert [c.value for c in ws[2]][8:10] == ["28", 30]       # valeur précédente, et la valeur déjà déposée
    res = deposer(essai, csv_long([["PATROUILLES", Q1, "2025", 1234.5]]), "2025b.csv", protocole=PROTOCOLE,
                  signataire="ETAT-DDSP")
    assert res.statut == "a-confirmer"
    assert res.rapport.avertissements[0].message.startswith("1\u00a0234,5 contre 28 à la période précédente (×44,1)")
    res = _deposer(essai, [["PATROUILLES", Q1, "2025", 1234.5]], "2025b.csv", accepter_avertissements=True)
    ch = res.changements.iloc[0]
    assert (ch["precedente"], ch["ancienne"], ch["nouvelle"], ch["nature"]) == (28, 30, 1234.5, "modifiée")
    assert (ch["indicateur_libelle"], ch["perimetre_libelle"], ch["unite"]) == (
        "Patrouilles pédestres", "Quartier des Deux Rives", "nombre")
    assert detail_depot(essai, res.depot_id).valeurs.iloc[0][["precedente", "remplacee"]].tolist() == [28, 30]


def test_le_modele_d_une_periode_deja_deposee_est_pre_rempli(essai):
    _deposer(essai, [["PATROUILLES", Q1, "2025", 125, "compté à la main"], ["PATROUILLES", Q2, "2025", 85]],
             "2025.csv")
    fautif = _deposer(essai, [["PATROUILLES", Q2, "2025", 850]], "2025b.csv", accepter_avertissements=True)
    revoir_depot(essai, fautif.depot_id, "à corriger", "850 : un zéro de trop ? Le quartier en comptait 85 en 2025.")
    flux = io.BytesIO()
    ecrire_modele_depot(essai, PROTOCOLE, "ETAT-DDSP", "2025", flux)
    wb = load_workbook(io.BytesIO(flux.getvalue()))
    ws = wb["Valeurs"]
    col = {c.value: i for i, c in enumerate(ws[1])}      # par en-tête : « Motif » (K) précède « Commentaire » (L)
    assert [(c[col["Valeur"]].value, c[col["Motif"]].value, c[col["Commentaire"]].value)
            for c in ws.iter_rows(min_row=2)] == [(125, None, "compté à la main"), (850, None, None)]
    # La ligne du dépôt « à corriger » est surlignée ; les instructions donnent le commentaire de la coordination.
    assert ws["J3"].fill.fgColor.rgb.endswith("F8CBAD") and ws["J2"].fill.fgColor.rgb.endswith("FFF9D6")
    notice = "\n".join(str(c.value) for c in wb["Instructions"]["A"] if c.value)
    assert (f"À CORRIGER : la coordination a marqué votre dépôt n° {fautif.depot_id} (2025b.csv) « à corriger »"
            in notice)
    assert "« 850 : un zéro de trop ? Le quartier en comptait 85 en 2025. »" in notice
    assert "2 valeurs sur 2 pré-remplies avec votre dernier dépôt" in notice
    # Le partenaire corrige la seule ligne fautive et redépose le fichier : le reste est redéposé à l'identique.
    rempli = remplir_modele(flux.getvalue(), {("PATROUILLES", Q2, "2025"): 86})
    res = _deposer_fichier(essai, rempli)
    assert sorted(res.changements["nature"]) == ["inchangée", "modifiée"]
    assert _courante(essai, Q2)["valeur"] == 86 and _courante(essai)["valeur"] == 125


def _deposer_fichier(store, donnees):
    res = deposer(store, donnees, "corrige.xlsx", protocole=PROTOCOLE, signataire="ETAT-DDSP")
    assert res.statut == "accepte", res.rapport.texte()
    return res


def test_le_modele_reprend_le_motif_d_une_valeur_non_donnee(essai):
    """Une ligne déposée sans valeur, avec son motif, est pré-remplie de son motif et de son commentaire (colonnes
    « Motif » et « Commentaire ») ; le modèle redéposé tel quel garde la valeur expliquée."""
    entete = ["indicateur", "perimetre", "periode", "valeur", "motif", "commentaire"]
    res = deposer(essai, csv_long([["PATROUILLES", Q1, "2025", 125, None, None],
                                   ["PATROUILLES", Q2, "2025", None, "autre", "brigade dissoute en 2025"]],
                                  entete=entete), "2025.csv", protocole=PROTOCOLE, signataire="ETAT-DDSP")
    assert res.statut == "accepte" and len(res.motifs) == 1, res.rapport.texte()
    flux = io.BytesIO()
    ecrire_modele_depot(essai, PROTOCOLE, "ETAT-DDSP", "2025", flux)
    wb = load_workbook(io.BytesIO(flux.getvalue()))
    ws = wb["Valeurs"]
    col = {c.value: i for i, c in enumerate(ws[1])}
    assert [(c[col["Valeur"]].value, c[col["Motif"]].value, c[col["Commentaire"]].value)
            for c in ws.iter_rows(min_row=2)] == [(125, None, None), (None, "autre", "brigade dissoute en 2025")]
    notice = "\n".join(str(c.value) for c in wb["Instructions"]["A"] if c.value)
    assert "2 valeurs sur 2 pré-remplies avec votre dernier dépôt" in notice
    res = _deposer_fichier(essai, flux.getvalue())
    assert len(res.motifs) == 1 and res.nb_valeurs == 1
    comp = depots.completude(essai, PROTOCOLE, "2025")
    ligne = comp.detail.set_index(["indicateur", "perimetre"]).loc[("PATROUILLES", Q2)]
    assert (bool(ligne["recu"]), bool(ligne["explique"]), ligne["motif"]) == (False, True, "autre")


def test_le_modele_d_une_periode_neuve_reste_vide(essai):
    flux = io.BytesIO()
    ecrire_modele_depot(essai, PROTOCOLE, "ETAT-DDSP", "2026", flux)
    ws = load_workbook(io.BytesIO(flux.getvalue()))["Valeurs"]
    assert all(v.value is None for c in ws.iter_rows(min_row=2) for v in c[9:12])    # Valeur, Motif, Commentaire
    assert list(lignes_modele(flux.getvalue()))


def test_les_problemes_portent_des_noms(essai):
    res = deposer(essai, csv_long([["PATROUILLES", Q1, "2025", "NC"], ["PATROUILLES", Q2, "2025", 6000]]), "v.csv",
                  protocole=PROTOCOLE, signataire="ETAT-DDSP")
    assert res.statut == "rejete"
    df = problemes_nommes(res)
    assert df.to_dict("records")[0] == dict(
        niveau="Erreur", nature="Valeur non numérique", feuille="v", cellule="D2",
        indicateur="Patrouilles pédestres (PATROUILLES)", perimetre="Quartier des Deux Rives (QN09301A)",
        valeur="NC", message=res.rapport.erreurs[0].message, code="valeur-non-numerique")
    assert df["nature"].tolist() == ["Valeur non numérique", "Hors des valeurs plausibles"]
    assert df["perimetre"].tolist()[1] == "Cité Haute (QN09302B)"
    # Un problème du fichier entier n'a ni indicateur ni périmètre.
    vide = deposer(essai, b"", "vide.csv", protocole=PROTOCOLE, signataire="ETAT-DDSP")
    assert problemes_nommes(vide)[["nature", "indicateur", "perimetre"]].values.tolist() == [["Fichier vide", "", ""]]
    assert all(depots.nature_du_probleme(c) != c for c in depots.NATURES)


# --------------------------------------------------------------------------------------------------------------------
# L'espace d'un partenaire (son accueil)
# --------------------------------------------------------------------------------------------------------------------

def test_l_espace_du_partenaire(essai, tmp_path):
    from perr_metrics.pilotage import partenaire
    import datetime as dt
    _choisir(essai, tmp_path, None, "31/03")
    ddsp = essai.pour(Utilisateur("agent-ddsp", "Agent DDSP", "contributeur", PROTOCOLE, "ETAT-DDSP"))
    assert partenaire.campagne(2024, 2030, dt.date(2026, 2, 1)) == "2025"
    assert partenaire.campagne(2019, 2022, dt.date(2026, 2, 1)) == "2022"
    assert partenaire.campagne(2024, 2030, dt.date(2024, 2, 1)) == "2024"
    e = partenaire.espace_partenaire(ddsp, PROTOCOLE, "ETAT-DDSP", "2025")
    assert (e.nom, e.periode, e.echeance, e.nb_attendus, e.nb_recus) == ("État – DDSP", "2025", dt.date(2026, 3, 31),
                                                                         2, 0)
    assert e.a_corriger.empty and e.en_attente.empty
    # Ses indicateurs face à leurs cibles, même sans valeur.
    assert set(e.indicateurs["indicateur"]) == {"PATROUILLES"}
    fautif = _deposer(ddsp, [["PATROUILLES", Q1, "2025", 400]], "2025.csv", accepter_avertissements=True)
    revoir_depot(essai, fautif.depot_id, "à corriger", "400 : vraiment ? " * 10)
    e = partenaire.espace_partenaire(ddsp, PROTOCOLE, "ETAT-DDSP", "2025")
    assert e.a_corriger["id"].tolist() == [fautif.depot_id]
    assert e.a_corriger.iloc[0]["commentaire_revue"] == "400 : vraiment ? " * 10      # en entier
    assert e.nb_recus == 0     # un dépôt « à corriger » ne compte pas comme reçu
    # Redéposé : il n'est plus à corriger, le nouveau attend la revue.
    corrige = _deposer(ddsp, [["PATROUILLES", Q1, "2025", 140], ["PATROUILLES", Q2, "2025", 90]], "2025b.csv")
    e = partenaire.espace_partenaire(ddsp, PROTOCOLE, "ETAT-DDSP", "2025")
    assert e.a_corriger.empty and e.en_attente["id"].tolist() == [corrige.depot_id] and e.nb_recus == 2
    ligne = e.indicateurs.set_index("perimetre").loc[Q1]
    assert (ligne["valeur"], ligne["cible_finale"], ligne["annee_cible"]) == (140, 240, 2030)


def test_une_seule_echeance_feuille_puis_protocole_puis_regle_par_defaut(essai, tmp_path):
    """L'échéance d'une période, la même pour l'espace du partenaire et pour le reste (depots.echeances) : la feuille
    « Échéances », sinon l'« Échéance des dépôts » du protocole (l'année qui suit la période), sinon la règle par
    défaut."""
    import datetime as dt
    from perr_metrics.depots import echeances
    from perr_metrics.pilotage import partenaire
    ddsp = essai.pour(Utilisateur("agent-ddsp", "Agent DDSP", "contributeur", PROTOCOLE, "ETAT-DDSP"))

    def lue(periode):
        e = echeances.echeance(essai, PROTOCOLE, periode)
        return e.date, e.source

    assert lue("2025") == (dt.date(2026, 1, 31), echeances.PAR_DEFAUT)
    assert lue("2025-S1") == (dt.date(2025, 7, 31), echeances.PAR_DEFAUT)
    assert partenaire.espace_partenaire(ddsp, PROTOCOLE, "ETAT-DDSP", "2025").echeance == dt.date(2026, 1, 31)
    _choisir(essai, tmp_path, None, "31/03")
    assert lue("2025") == lue("2025-S1") == lue("2025-S2") == (dt.date(2026, 3, 31), echeances.PROTOCOLE)
    assert "règle par défaut" not in echeances.echeance(essai, PROTOCOLE, "2025").phrase(dt.date(2026, 3, 1))
    d = classeurs.donnees()
    d["protocole"][0].update(echeance_depots="31/03")
    d["echeances"] = [{"periode": "2025", "date_limite": dt.date(2026, 2, 15)}]
    res = importer_referentiel(essai, classeurs.ecrire(tmp_path, d, "echeances.xlsx"))
    assert res.rapport.valide, res.rapport.texte()
    assert lue("2025") == (dt.date(2026, 2, 15), echeances.REFERENTIEL)
    assert lue("2025-S1") == (dt.date(2026, 3, 31), echeances.PROTOCOLE)      # la feuille ne fixe que 2025
    assert lue("2026") == (dt.date(2027, 3, 31), echeances.PROTOCOLE)
    assert partenaire.espace_partenaire(ddsp, PROTOCOLE, "ETAT-DDSP", "2025").echeance == dt.date(2026, 2, 15)
    # Un 29 février tombe le 28 une année non bissextile.
    assert echeances.echeance_du_protocole("29/02", "2026") == dt.date(2027, 2, 28)
    assert echeances.echeance_du_protocole("29/02", "2027") == dt.date(2028, 2, 29)
    assert echeances.echeance_du_protocole(None, "2027") is None
