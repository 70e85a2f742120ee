"""`python -m perr_metrics` : listes, référentiel, sauvegarde, codes de sortie et JSON."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from perr_metrics.cli import main
from tests import classeurs
from tests.core.test_referentiel import instantane

RACINE = Path(__file__).resolve().parents[2]


def lancer(capsys, *args) -> tuple[int, str, str]:
    code = main(list(args))
    sortie = capsys.readouterr()
    return code, sortie.out, sortie.err


def premier_administrateur(capsys, db: str) -> None:
    """Une base neuve : son premier compte, administrateur, créé sans connexion."""
    code, out, err = lancer(capsys, "--db", db, "utilisateurs", "ajouter", "coordination", "--nom", "Coordination",
                            "--role", "administrateur")
    assert code == 0, err


def test_vraie_commande_init_demo_et_listes(tmp_path):
    """Le vrai `python -m perr_metrics`, dans un sous-processus, avec la base donnée par PERR_DB."""
    env = dict(os.environ, PERR_DB=str(tmp_path / "perr.duckdb"), PYTHONPATH=str(RACINE))
    r = subprocess.run([sys.executable, "-m", "perr_metrics", "init", "--demo"], cwd=tmp_path, env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "TCM-PERR-2019" in r.stdout
    env.pop("PERR_UTILISATEUR")
    r = subprocess.run([sys.executable, "-m", "perr_metrics", "protocoles", "--json"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert r.returncode == 1 and "Indiquez votre compte" in r.stderr
    r = subprocess.run([sys.executable, "-m", "perr_metrics", "--utilisateur", "coordination", "protocoles", "--json"],
                       cwd=tmp_path, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert {p["code"] for p in json.loads(r.stdout)} == {"TCM-PERR-2019", "BLOIS-PERR-2020"}
    r = subprocess.run([sys.executable, "-m", "perr_metrics", "inconnue"], cwd=tmp_path, env=env,
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert "Erreur d'utilisation" in r.stderr


def test_listes_json(store_demo, capsys):
    db = str(store_demo.chemin)
    code, out, _ = lancer(capsys, "--db", db, "protocoles", "--json")
    assert code == 0
    protos = json.loads(out)
    assert all({"code", "libelle"} <= set(p) for p in protos)
    code, out, _ = lancer(capsys, "--db", db, "signataires", "--protocole", "TCM-PERR-2019", "--json")
    sig = {s["code"]: s for s in json.loads(out)}
    assert sig["CAF10"]["libelle"] == "CAF de l'Aube"
    code, out, _ = lancer(capsys, "--db", db, "indicateurs", "--protocole", "TCM-PERR-2019", "--json")
    ind = json.loads(out)
    assert len(ind) >= 30 and all({"code", "libelle", "unite", "signataire"} <= set(i) for i in ind)
    code, out, _ = lancer(capsys, "--db", db, "indicateurs", "--protocole", "TCM-PERR-2019", "--signataire",
                          "ETAT-DDSP", "--json")
    assert {i["signataire"] for i in json.loads(out)} == {"ETAT-DDSP"}
    code, out, _ = lancer(capsys, "--db", db, "signataires", "--protocole", "TCM-PERR-2019")
    assert code == 0 and "CAF de l'Aube" in out


def test_protocole_inconnu(store_demo, capsys):
    code, _, err = lancer(capsys, "--db", str(store_demo.chemin), "signataires", "--protocole", "NANCY")
    assert code == 1 and "n'existe pas" in err


def test_usage(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["indicateurs"])
    assert exc.value.code == 2
    assert "arguments obligatoires manquants" in capsys.readouterr().err


def test_referentiel_modele_importer_exporter(tmp_path, capsys):
    db = str(tmp_path / "perr.duckdb")
    modele = tmp_path / "modele.xlsx"
    assert lancer(capsys, "--db", db, "referentiel", "modele", str(modele))[0] == 0
    assert modele.exists()
    premier_administrateur(capsys, db)
    classeur = classeurs.ecrire(tmp_path)
    code, out, _ = lancer(capsys, "--db", db, "referentiel", "importer", str(classeur), "--json")
    assert code == 0 and json.loads(out)["statut"] == "accepte"
    export = tmp_path / "export.xlsx"
    code, out, _ = lancer(capsys, "--db", db, "referentiel", "exporter", "--protocole", "EQ2030-TEST", str(export))
    assert code == 0 and export.exists()
    code, out, _ = lancer(capsys, "--db", db, "referentiel", "importer", str(export))
    assert code == 0 and "mis à jour" in out


def test_referentiel_refuse_json_et_code_1(tmp_path, capsys):
    db = str(tmp_path / "perr.duckdb")
    premier_administrateur(capsys, db)
    d = classeurs.donnees()
    d["engagements"][0]["porteurs"] = ["ETAT", "MYSTERE"]
    classeur = classeurs.ecrire(tmp_path, d)
    code, out, err = lancer(capsys, "--db", db, "referentiel", "importer", str(classeur), "--json")
    assert code == 1
    rapport = json.loads(out)
    assert rapport["statut"] == "rejete"
    assert {"feuille": "Engagements", "cellule": "Engagements!E2", "code": "porteur-inconnu"}.items() <= \
        rapport["erreurs"][0].items()
    assert "Engagements!E2" in err and "MYSTERE" in err
    # Le même rapport, en clair, sans --json.
    code, out, err = lancer(capsys, "--db", db, "referentiel", "importer", str(classeur))
    assert code == 1 and "[porteur-inconnu] Engagements!E2" in err


def test_referentiel_fichier_absent(tmp_path, capsys):
    premier_administrateur(capsys, str(tmp_path / "x.duckdb"))
    code, _, err = lancer(capsys, "--db", str(tmp_path / "x.duckdb"), "referentiel", "importer",
                          str(tmp_path / "nulle-part.xlsx"))
    assert code == 1 and "n'existe pas" in err


def test_sauvegarde_restauration(store_demo, tmp_path, capsys):
    db = str(store_demo.chemin)
    avant = instantane(store_demo)
    assert lancer(capsys, "--db", db, "sauvegarde", str(tmp_path / "svg"))[0] == 0
    store_demo.ecrire(lambda con: con.execute("DELETE FROM depot"))
    code, out, _ = lancer(capsys, "--db", db, "restauration", str(tmp_path / "svg"))
    assert code == 0 and "restaurée" in out
    assert instantane(store_demo) == avant
    code, _, err = lancer(capsys, "--db", db, "sauvegarde", str(tmp_path / "svg"))
    assert code == 1 and "pas vide" in err


# --------------------------------------------------------------------------------------------------------------------
# argparse en français : usage, en-têtes, aide, et chaque sorte d'erreur d'utilisation (code 2).
# --------------------------------------------------------------------------------------------------------------------

ANGLAIS = ("usage:", "options:", "positional arguments", "optional arguments", "choose from", "required", "error:",
           "show this help", "invalid choice", "invalid int", "unrecognized", "expected one argument", "Traceback")


def sans_anglais(texte: str) -> None:
    for mot in ANGLAIS:
        assert mot not in texte, f"« {mot} » dans :\n{texte}"


def commande(*args, env=None, cwd=None, entree=None) -> subprocess.CompletedProcess:
    """Le vrai `python -m perr_metrics`, dans un sous-processus."""
    env = dict(os.environ if env is None else env, PYTHONPATH=str(RACINE))
    return subprocess.run([sys.executable, "-m", "perr_metrics", *args], env=env, cwd=cwd or RACINE,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL if entree is None else None)


def sous_commandes() -> list[list[str]]:
    """Chaque commande et chaque action, telles que l'analyseur les connaît."""
    import argparse

    from perr_metrics.cli import _parser

    def parcourir(p, chemin):
        sous = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)]
        if not sous:
            return [chemin]
        return [c for nom, sp in sous[0].choices.items() for c in parcourir(sp, [*chemin, nom])]
    return parcourir(_parser(), [])


def test_aide_en_francais_pour_chaque_commande(capsys):
    """`-h` de la commande principale et de chaque commande et action : en français, code 0."""
    chemins = sous_commandes()
    assert ["referentiel", "importer"] in chemins and ["utilisateurs", "lister"] in chemins and len(chemins) > 25
    for chemin in [[], *chemins]:
        with pytest.raises(SystemExit) as exc:
            main([*chemin, "--help"])
        assert exc.value.code == 0
        out = capsys.readouterr().out
        sans_anglais(out)
        assert out.startswith("Utilisation : python -m perr_metrics"), out
        assert "affiche cette aide et s'arrête" in out and "Options :" in out
    # Les options sans aide sont une faute : chaque option et argument dit à quoi il sert.
    import argparse

    from perr_metrics.cli import _parser

    def sans_aide(p, chemin):
        manque = [f"{' '.join(chemin)} {a.option_strings or a.dest}" for a in p._actions
                  if not a.help and not isinstance(a, argparse._SubParsersAction)]
        for a in p._actions:
            if isinstance(a, argparse._SubParsersAction):
                for nom, sp in a.choices.items():
                    manque += sans_aide(sp, [*chemin, nom])
        return manque
    assert sans_aide(_parser(), []) == []


def test_vraie_aide_en_francais():
    r = commande("--help")
    assert r.returncode == 0 and r.stderr == ""
    sans_anglais(r.stdout)
    assert "Arguments :" in r.stdout and "Options :" in r.stdout and "referentiel" in r.stdout
    r = commande("referentiel", "importer", "-h")
    assert r.returncode == 0
    sans_anglais(r.stdout)
    assert "Utilisation : python -m perr_metrics referentiel importer" in r.stdout


@pytest.mark.parametrize("args,attendu", [
    ([], "arguments obligatoires manquants : COMMANDE"),                           # commande manquante
    (["referentiel"], "arguments obligatoires manquants : ACTION"),                # action manquante
    (["inconnue"], "choix invalide : « inconnue » (possibles : init, protocoles"),  # commande inconnue
    (["indicateurs"], "arguments obligatoires manquants : --protocole"),           # option obligatoire
    (["referentiel", "importer"], "arguments obligatoires manquants : FICHIER"),   # argument positionnel manquant
    (["protocoles", "--bof"], "arguments non reconnus : --bof"),                   # argument inconnu
    (["revue", "douze", "--statut", "validé"], "nombre entier attendu, reçu « douze »"),  # type invalide
    (["demo", "--graine", "x"], "nombre entier attendu, reçu « x »"),
    (["revue", "12", "--statut", "ok"], "choix invalide : « ok » (possibles : validé, à-corriger)"),
    (["rapport", "--protocole", "P", "--annee", "21", "r.pdf"], "année attendue (par exemple 2021), reçu « 21 »"),
    (["signataires", "--protocole"], "argument --protocole : une valeur est attendue"),
    (["publication", "publier", "--protocole", "P"], "arguments obligatoires manquants : INDICATEUR"),
])
def test_erreurs_d_utilisation_en_francais(capsys, args, attendu):
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    sortie = capsys.readouterr()
    assert sortie.out == ""
    sans_anglais(sortie.err)
    assert sortie.err.startswith("Utilisation : python -m perr_metrics")
    assert "Erreur d'utilisation : " in sortie.err and attendu in sortie.err, sortie.err
    assert "--help" in sortie.err.splitlines()[-1]


def test_argparse_rendu_a_l_anglais_apres_la_commande(capsys):
    """La traduction ne vaut que le temps de la ligne de commande : le reste du processus garde argparse tel quel."""
    import argparse
    with pytest.raises(SystemExit):
        main(["inconnue"])
    capsys.readouterr()
    assert argparse.ArgumentParser(prog="x").format_usage().startswith("usage: x")


def test_vraie_erreur_d_utilisation():
    r = commande("revue", "12", "--statut", "ok")
    assert r.returncode == 2 and r.stdout == ""
    sans_anglais(r.stderr)
    assert "choix invalide : « ok »" in r.stderr


# --------------------------------------------------------------------------------------------------------------------
# Les listes : tableaux alignés à la française ; le JSON, lui, tel que le README le décrit.
# --------------------------------------------------------------------------------------------------------------------

INTRUS = ("NaN", "None", "NaT", "<NA>", "True", "False", "nan")


def sans_intrus(texte: str) -> None:
    import re
    for mot in INTRUS:
        assert not re.search(rf"\b{re.escape(mot)}\b", texte), f"« {mot} » dans :\n{texte}"


LISTES = [
    (["protocoles"], ["Code", "Libellé", "Territoire", "Début", "Fin", "Engagements", "Indicateurs"]),
    (["signataires", "--protocole", "TCM-PERR-2019"], ["Code", "Libellé", "Catégorie", "Rattaché à",
                                                       "Signe le protocole"]),
    (["indicateurs", "--protocole", "TCM-PERR-2019"], ["Code", "Libellé", "Unité", "Signataire", "Périodicité"]),
    (["utilisateurs", "lister"], ["Identifiant", "Nom", "Rôle", "Courriel", "Actif", "Dernière connexion"]),
    (["journal"], ["Date", "Compte", "Rôle", "Action", "Résultat", "Objet", "Détail"]),
    (["completude", "--protocole", "TCM-PERR-2019", "--periode", "2021"], ["Signataire", "Attendues", "Reçues",
                                                                           "Taux", "Dernier dépôt"]),
]


def test_listes_en_tableaux_francais(store_demo, capsys):
    db = str(store_demo.chemin)
    for args, entetes in LISTES:
        code, out, err = lancer(capsys, "--db", db, *args)
        assert code == 0, err
        sans_intrus(out)
        lignes = out.splitlines()
        entete = next(l for l in lignes if l.startswith(entetes[0]))
        assert all(e in entete for e in entetes), (args, entete)
    # Valeurs à la française : oui/non, dates en toutes lettres, années sans séparateur, pourcentages.
    out = lancer(capsys, "--db", db, "signataires", "--protocole", "TCM-PERR-2019")[1]
    assert " oui " in out and " non " in out
    out = lancer(capsys, "--db", db, "utilisateurs", "lister")[1]
    assert " oui" in out
    import re
    out = lancer(capsys, "--db", db, "journal")[1]
    assert re.search(r"\d{1,2}(er)? [a-zéû]+ 20\d\d à \d{1,2} h \d\d", out), out
    out = lancer(capsys, "--db", db, "protocoles")[1]
    assert "2019" in out and "2\u00a0019" not in out
    out = lancer(capsys, "--db", db, "completude", "--protocole", "TCM-PERR-2019", "--periode", "2021")[1]
    assert re.search(r"\d+,\d\u00a0%", out) and "2022 à" in out
    # Colonnes alignées : chaque colonne de l'en-tête commence au même endroit que ses valeurs (texte à gauche).
    lignes = lancer(capsys, "--db", db, "indicateurs", "--protocole", "TCM-PERR-2019")[1].splitlines()
    debut = lignes[0].index("Libellé")
    assert all(l[debut - 2:debut] == "  " and l[debut] != " " for l in lignes[1:])


def test_vers_texte_cellules_vides_et_francaises():
    import datetime as dt

    import numpy as np
    import pandas as pd

    from perr_metrics.commun.exports import vers_texte
    df = pd.DataFrame({"t": ["a", None, np.nan], "b": pd.Series([True, None, False], dtype=object),
                       "bb": pd.array([True, None, False], dtype="boolean"), "n": [1234.5, np.nan, 3.0],
                       "i": pd.array([1200, None, 7], dtype="Int64"),
                       "d": pd.to_datetime(["2021-02-12", None, "2021-08-01"]),
                       "h": [pd.Timestamp("2021-02-12 14:05"), pd.NaT, None],
                       "j": [dt.date(2021, 2, 12), None, pd.NA]})
    texte = vers_texte(df, {c: c.upper() for c in df.columns})
    sans_intrus(texte)
    assert "oui" in texte and "non" in texte and "1\u00a0234,5" in texte and "1\u00a0200" in texte
    assert "12 février 2021 à 14 h 05" in texte and "1er août 2021" in texte and "12 février 2021  " in texte
    assert texte.splitlines()[2].strip() == ""   # la ligne où tout manque : des cellules vides
    assert vers_texte(df.iloc[0:0], {"t": "T"}) == "(aucun)"


def test_json_sans_nan_et_tel_que_documente(store_demo, capsys):
    db = str(store_demo.chemin)

    def refuser(constante):
        raise AssertionError(f"{constante} dans le JSON")
    for args, _ in LISTES:
        code, out, err = lancer(capsys, "--db", db, *args, "--json")
        assert code == 0, err
        donnees = json.loads(out, parse_constant=refuser)
        if args[0] in ("protocoles", "signataires", "indicateurs"):
            assert isinstance(donnees, list) and all({"code", "libelle"} <= set(d) for d in donnees)
    comptes = json.loads(lancer(capsys, "--db", db, "utilisateurs", "lister", "--json")[1])
    assert {c["identifiant"]: c["actif"] for c in comptes}["coordination"] is True
    assert any(c["courriel"] is None for c in comptes)


# --------------------------------------------------------------------------------------------------------------------
# Une sortie fermée avant la fin (`… | head -1`) : arrêt sans un mot.
# --------------------------------------------------------------------------------------------------------------------

def test_sortie_fermee_sans_trace(store_demo, monkeypatch):
    monkeypatch.setenv("PERR_DB", str(store_demo.chemin))
    # Le lecteur part avant la première ligne : l'écriture échoue à coup sûr (EPIPE).
    for args in (["indicateurs", "--protocole", "TCM-PERR-2019"], ["completude", "--protocole", "TCM-PERR-2019",
                                                                    "--periode", "2021", "--json"]):
        p = subprocess.Popen([sys.executable, "-m", "perr_metrics", *args], cwd=RACINE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=dict(os.environ, PYTHONPATH=str(RACINE)))
        p.stdout.close()
        err = p.stderr.read().decode()
        assert p.wait() == 141, err
        assert err == ""
    # Et le vrai tuyau du shell : une ligne, aucune trace.
    r = subprocess.run(f"'{sys.executable}' -m perr_metrics indicateurs --protocole TCM-PERR-2019 --json | head -1",
                       shell=True, cwd=RACINE, capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=str(RACINE)))
    assert r.stdout == "[\n" and r.stderr == ""


# --------------------------------------------------------------------------------------------------------------------
# Aucune trace Python n'atteint l'utilisateur : une erreur inattendue devient un message, une référence, le code 3.
# --------------------------------------------------------------------------------------------------------------------

def test_erreur_inattendue_pendant_un_import(store_demo, tmp_path, capsys, monkeypatch):
    """Une panne au milieu d'un import (le protocole et une partie de ses tables déjà remplacés dans la transaction) :
    un message en français avec une référence, le code 3, la base inchangée, la référence au journal des erreurs
    (avec la trace) et au journal."""
    import re

    from perr_metrics.referentiel import classeur
    from perr_metrics.acces.journal import lire_journal

    db = str(store_demo.chemin)
    export = tmp_path / "export.xlsx"
    assert lancer(capsys, "--db", db, "referentiel", "exporter", "--protocole", "TCM-PERR-2019", str(export))[0] == 0
    avant = instantane(store_demo)
    journal_des_erreurs = tmp_path / "incidents" / "erreurs.log"
    monkeypatch.setenv("PERR_JOURNAL_ERREURS", str(journal_des_erreurs))
    vrai, appels = classeur.inserer_df, []

    def en_panne(con, table, df):
        appels.append(table)
        if len(appels) == 4:
            raise RuntimeError("panne simulée au milieu de l'import")
        return vrai(con, table, df)
    monkeypatch.setattr(classeur, "inserer_df", en_panne)

    code, out, err = lancer(capsys, "--db", db, "referentiel", "importer", str(export))
    assert code == 3 and len(appels) == 4
    assert out == "" and "Traceback" not in err and "RuntimeError" not in err
    m = re.fullmatch(r"Erreur inattendue \(référence (E-\d{8}-[0-9a-f]{6})\) pendant « referentiel importer » : rien "
                     r"n'a été enregistré\. Transmettez cette référence à l'équipe qui administre perr-metrics\.\n", err)
    assert m, err
    reference = m.group(1)
    assert instantane(store_demo) == avant
    detail = journal_des_erreurs.read_text()
    assert reference in detail and "Traceback" in detail and "panne simulée au milieu de l'import" in detail
    assert "referentiel importer" in detail and "compte coordination" in detail
    lignes = lire_journal(store_demo, action="erreur inattendue")
    assert len(lignes) == 1
    ligne = lignes.iloc[0]
    assert ligne["compte"] == "coordination" and ligne["resultat"] == "échoué"
    assert ligne["objet"] == "referentiel importer" and reference in ligne["detail"]


def test_erreur_inattendue_en_vrai_sous_processus(store_demo, tmp_path):
    """Sans pouvoir écrire le journal des erreurs où on le demande : repli dans le dossier temporaire, et toujours
    aucune trace à l'écran. La panne : une base au schéma abîmé (une table de moins)."""
    store_demo.ecrire(lambda con: con.execute("DROP TABLE indicateur_engagement"))
    env = dict(os.environ, PERR_DB=str(store_demo.chemin), PERR_JOURNAL_ERREURS="/proc/interdit/erreurs.log",
               TMPDIR=str(tmp_path))
    r = commande("indicateurs", "--protocole", "TCM-PERR-2019", env=env)
    assert r.returncode == 3, r.stderr
    assert r.stdout == "" and "Traceback" not in r.stderr
    assert r.stderr.startswith("Erreur inattendue (référence E-") and "« indicateurs »" in r.stderr
    reference = r.stderr.split("référence ")[1].split(")")[0]
    assert reference in (tmp_path / "perr-metrics-erreurs.log").read_text()


def test_interruption(store_demo, capsys, monkeypatch):
    from perr_metrics.referentiel import requetes

    def interrompre(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(requetes, "protocoles", interrompre)
    code, out, err = lancer(capsys, "--db", str(store_demo.chemin), "protocoles")
    assert code == 130 and "Interrompu : rien n'a été enregistré." in err and "Traceback" not in err


@pytest.mark.parametrize("args,attendu", [
    (["signataires", "--protocole", "NANCY"], "n'existe pas"),
    (["referentiel", "exporter", "--protocole", "NANCY", "{tmp}/x.xlsx"], "n'existe pas"),
    (["referentiel", "importer", "{tmp}/absent.xlsx"], "n'existe pas"),
    (["referentiel", "importer", "{tmp}"], "n'est pas un fichier"),
    (["referentiel", "importer", "{tmp}/faux.xlsx"], "fichier-illisible"),
    (["depot", "{tmp}/faux.xlsx", "--protocole", "TCM-PERR-2019", "--signataire", "ETAT-DDSP"], "fichier-illisible"),
    (["depot", "{tmp}/absent.xlsx", "--protocole", "TCM-PERR-2019", "--signataire", "ETAT-DDSP"], "n'existe pas"),
    (["qpv", "importer", "{tmp}/faux.xlsx"], "geojson-illisible"),
    (["modele", "--protocole", "TCM-PERR-2019", "--signataire", "ETAT-DDSP", "--periode", "20xx", "{tmp}/m.xlsx"],
     "Période illisible"),
    (["modele", "--protocole", "TCM-PERR-2019", "--signataire", "ETAT-DDSP", "--periode", "2021",
      "{tmp}/absent/m.xlsx"], "Impossible d'écrire le fichier"),
    (["completude", "--protocole", "TCM-PERR-2019", "--periode", "20xx"], "Période illisible"),
    (["revue", "99999", "--statut", "validé"], "n'existe pas"),
    (["engagement", "etat", "--protocole", "NANCY", "--engagement", "E1", "--etat", "en cours"], "n'existe pas"),
    (["rapport", "--protocole", "NANCY", "--annee", "2021", "{tmp}/r.pdf"], "n'existe pas"),
    (["journal", "--depuis", "hier"], "date illisible"),
    (["publication", "publier", "--protocole", "NANCY", "X"], "inconnu"),
    (["sauvegarde", "{tmp}/faux.xlsx"], "pas un dossier"),
    (["restauration", "{tmp}/absent"], "n'est pas un dossier de sauvegarde"),
    (["utilisateurs", "desactiver", "personne"], "n'existe pas"),
    (["--db", "{tmp}", "protocoles"], "est un dossier"),
])
def test_mauvais_arguments_sans_trace(store_demo, tmp_path, capsys, args, attendu):
    (tmp_path / "faux.xlsx").write_text("pas un classeur")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if args[0] != "--db":
        args = ["--db", str(store_demo.chemin), *args]
    code, out, err = lancer(capsys, *args)
    assert code in (1, 2), err
    assert attendu in err and "Traceback" not in err + out and "Erreur inattendue" not in err
    assert not list(tmp_path.glob("**/*.provisoire"))


def test_engagement_recul_a_confirmer(store_demo, capsys):
    db = str(store_demo.chemin)
    base = ["--db", db, "engagement", "etat", "--protocole", "TCM-PERR-2019", "--engagement", "E004"]
    store_demo.ecrire(lambda con: con.execute("DELETE FROM etat_engagement WHERE engagement = 'E004'"))
    assert lancer(capsys, *base, "--etat", "réalisé", "--date", "2021-03-01")[0] == 0
    code, _, err = lancer(capsys, *base, "--etat", "non démarré")
    assert code == 1 and "[recul-a-confirmer]" in err and "--confirmer-recul" in err
    code, out, _ = lancer(capsys, *base, "--etat", "non démarré", "--confirmer-recul")
    assert code == 0 and "« non démarré »" in out
