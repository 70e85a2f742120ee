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
