"""Banc d'essai de l'import d'un dépôt (issue 3) : l'import de bout en bout comparé à une lecture nue du même fichier.

    python benchmarks/bench_import.py [--tailles 10000 200000] [--repetitions 3] [--sans-libreoffice] [--json F]
    python benchmarks/bench_import.py --profil 200000      # où passe le temps de l'import (pyinstrument ou cProfile)

Ce qui est mesuré, pour chaque taille :
- **lecture nue** : `CalamineWorkbook.from_path(f).get_sheet_by_name("Valeurs").to_python()`, rien d'autre ;
- **import** : `depots.deposer(...)` — lecture de tout le classeur, contrôles contre le référentiel, écriture du dépôt et
  de ses valeurs dans la base, tout ou rien — sur une copie fraîche de la base à chaque fois.

Chaque mesure tourne dans un processus neuf (modules déjà importés, base déjà ouverte une fois, comme dans le tableau de
bord) ; la mémoire est le pic de mémoire résidente au-dessus de celle d'avant l'opération (VmHWM remis à zéro par
/proc/self/clear_refs). Le rapport de temps est pris **dans le même processus** : celui qui importe relit ensuite le fichier
à nu. Objectifs : import ≤ 2 × lecture nue, en temps comme en mémoire.

Les fichiers suivent le modèle de dépôt (feuille « Valeurs » aux colonnes de perr_metrics/depots/modele.py, feuille
d'instructions, feuille cachée `_perr`), écrits une fois avec openpyxl puis réenregistrés par LibreOffice quand il est là :
un fichier de tableur réel a une table de chaînes partagées et des dimensions, ce que n'a pas un fichier openpyxl en mode
écriture seule. Ils sont gardés dans benchmarks/.cache/ (ignoré par git).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _commun import CACHE, RACINE, chrono, ecrire_json, machine, mediane, mesure, nombre, tableau  # noqa: E402

VERSION_JEU = "import-v1"
PROTOCOLE = "BENCH-IMPORT"
PERIODE = "2025"
NB_QPV = 1000
SIGNATAIRES = {10_000: ("PETIT", 10), 200_000: ("GRAND", 200)}    # taille → (signataire, nb d'indicateurs × 1000 QPV)
DEPARTEMENTS = ["059", "062", "093", "013", "069", "091", "094", "095", "974", "076", "067"]


# --------------------------------------------------------------------------------------------------------------------
# Préparation (une fois) : le référentiel, les valeurs de l'année précédente, les fichiers
# --------------------------------------------------------------------------------------------------------------------

def _referentiel_csv(dossier: Path) -> None:
    import csv

    def ecrire(nom, entetes, lignes):
        with open(dossier / f"{nom}.csv", "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f, delimiter=";")
            w.writerow(entetes)
            w.writerows(lignes)

    dossier.mkdir(parents=True, exist_ok=True)
    ecrire("protocole", ["Code", "Titre", "Territoire", "Code territoire", "Année de début", "Année de fin",
                         "Géographie", "Démonstration"],
           [[PROTOCOLE, "Protocole du banc d'essai des imports", "Territoire d'essai", "BENCH", 2024, 2031, "2024",
             "oui"]])
    ecrire("contrats", ["Code", "Libellé"], [["CV-BENCH", "Contrat de ville d'essai"]])
    qpv, communes = [], []
    for k in range(NB_QPV):
        dep = DEPARTEMENTS[k // 91]
        numero = (k % 91) // 10 + 1      # dix quartiers par commune
        insee = dep + f"{numero:02d}" if dep.startswith("97") else dep[1:] + f"{numero:03d}"
        if not communes or communes[-1][0] != insee:
            communes.append([insee, f"Commune {insee}"])
        qpv.append([f"QN{dep}{k % 91 + 1:02d}M", f"Quartier {k + 1}", "QPV", insee])
    ecrire("communes", ["Code INSEE", "Nom"], communes)
    ecrire("quartiers", ["Code", "Libellé", "Type", "Communes"], qpv)
    ecrire("signataires", ["Code", "Nom", "Catégorie", "Signataire du protocole"],
           [["GRAND", "Grand déclarant (200 indicateurs)", "Opérateur public", "oui"],
            ["PETIT", "Petit déclarant (10 indicateurs)", "CAF", "oui"]])
    ecrire("axes", ["Code", "Niveau", "Libellé"], [["1", "Axe", "Axe d'essai"]])
    ecrire("engagements", ["Code", "Axe", "Libellé", "Porteurs"], [["E1", "1", "Engagement d'essai", "GRAND;PETIT"]])
    indicateurs = []
    for sig, n in SIGNATAIRES.values():
        for j in range(1, n + 1):
            pct = j % 4 == 0
            indicateurs.append([f"{sig[0]}{j:03d}", f"Indicateur {j} de {sig}", "%" if pct else "nombre", "hausse",
                                "annuelle", "QPV", "non agrégeable" if pct else "somme", sig, 0,
                                100 if pct else ""])
    ecrire("indicateurs", ["Code", "Libellé", "Unité", "Sens", "Périodicité", "Niveau", "Agrégation", "Signataire",
                           "Minimum", "Maximum"], indicateurs)


def preparer_base(chemin: Path) -> None:
    """Le référentiel (1 000 QPV, 210 indicateurs) et les valeurs 2024 de tous les (indicateur, QPV) : le contrôle des
    sauts par rapport à la période précédente a ainsi de quoi travailler, comme en vrai."""
    import numpy as np
    import pandas as pd

    from perr_metrics.stockage.magasin import Store
    from perr_metrics.acces.droits import SYSTEME
    from perr_metrics.depots.depot import enregistrer_depot
    from perr_metrics.referentiel.classeur import importer_referentiel

    with tempfile.TemporaryDirectory() as tmp:
        _referentiel_csv(Path(tmp) / "ref")
        store = Store(chemin, utilisateur=SYSTEME)
        importer_referentiel(store, Path(tmp) / "ref")
    ind = store.requete("SELECT code, unite, signataire FROM indicateur WHERE protocole = ?", [PROTOCOLE])
    qpv = store.requete("SELECT code FROM perimetre WHERE protocole = ? AND niveau = 'QPV'", [PROTOCOLE])["code"]
    rng = np.random.default_rng(3)

    def ecrire(con):
        for sig, groupe in ind.groupby("signataire"):
            df = groupe.merge(qpv.rename("perimetre"), how="cross")
            pct = df["unite"] == "%"
            df["valeur"] = np.where(pct, np.round(rng.uniform(5, 95, len(df)), 1),
                                    np.rint(rng.uniform(10, 5000, len(df))))
            v = df.rename(columns={"code": "indicateur"}).assign(periode="2024")[
                ["indicateur", "perimetre", "periode", "valeur"]]
            enregistrer_depot(con, protocole=PROTOCOLE, signataire=sig, periode="2024", utilisateur="banc d'essai",
                              fichier_nom=f"valeurs-2024-{sig}.csv", contenu=f"valeurs 2024 {sig}".encode(),
                              valeurs=v)

    store.ecrire(ecrire)
    store.lire(lambda con: con.execute("CHECKPOINT"))


def ecrire_fichier(base: Path, signataire: str, chemin: Path) -> int:
    """Le modèle de dépôt rempli, aux colonnes et feuilles de perr_metrics/depots/modele.py (openpyxl, écriture seule)."""
    import datetime as dt

    import numpy as np
    from openpyxl import Workbook

    from perr_metrics.stockage.magasin import Store
    from perr_metrics.acces.droits import SYSTEME
    from perr_metrics.depots.modele import COLONNES, lignes_du_modele
    from perr_metrics.depots.validation import FEUILLE_META, FEUILLE_VALEURS, VERSION_MODELE

    _, lignes = lignes_du_modele(Store(base, utilisateur=SYSTEME), PROTOCOLE, signataire, PERIODE)
    rng = np.random.default_rng(len(lignes))
    wb = Workbook(write_only=True)
    notice = wb.create_sheet("Instructions")
    for l in (f"Dépôt des valeurs — banc d'essai ({len(lignes)} lignes)", "", f"Signataire : {signataire}",
              f"Période : {PERIODE}"):
        notice.append([l])
    ws = wb.create_sheet(FEUILLE_VALEURS)
    ws.append([t for t, _ in COLONNES])
    bruit = rng.normal(0, 0.04, len(lignes))
    commentaires = rng.random(len(lignes)) < 0.02
    for k, r in enumerate(lignes.itertuples()):
        prec = r.precedente if r.precedente is not None else 100.0
        v = round(min(max(prec * (1 + bruit[k]), 0), 100), 1) if r.unite == "%" else float(round(prec * (1 + bruit[k])))
        ws.append([r.indicateur, r.libelle, r.perimetre, r.perimetre_libelle, r.periode, r.unite, r.reference,
                   r.cible, r.precedente_texte, v, "Valeur provisoire" if commentaires[k] else None])
    meta = wb.create_sheet(FEUILLE_META)
    for k, v in [("modele", VERSION_MODELE), ("protocole", PROTOCOLE), ("signataire", signataire),
                 ("periode", PERIODE), ("genere_le", dt.datetime(2026, 1, 15, 9).isoformat()),
                 ("lignes", str(len(lignes)))]:
        meta.append([k, v])
    meta.sheet_state = "veryHidden"
    wb.save(chemin)
    return len(lignes)


def reenregistrer_libreoffice(chemin: Path) -> bool:
    """Réenregistre le classeur avec LibreOffice (table de chaînes partagées, dimensions) ; False s'il n'est pas là."""
    if not shutil.which("soffice"):
        return False
    with tempfile.TemporaryDirectory() as sortie, tempfile.TemporaryDirectory() as profil:
        r = subprocess.run(["soffice", f"-env:UserInstallation=file://{profil}", "--headless", "--convert-to", "xlsx",
                            "--outdir", sortie, str(chemin)], capture_output=True, text=True, timeout=1800)
        produit = Path(sortie) / chemin.name
        if r.returncode != 0 or not produit.exists():
            print(f"LibreOffice n'a pas converti {chemin.name} : {r.stderr.strip()[:300]}", file=sys.stderr)
            return False
        shutil.move(str(produit), chemin)
    return True


def preparer(tailles: list[int], libreoffice: bool, refaire: bool = False) -> dict:
    dossier = CACHE / VERSION_JEU
    if refaire and dossier.exists():
        shutil.rmtree(dossier)
    dossier.mkdir(parents=True, exist_ok=True)
    base = dossier / "base.duckdb"
    if not base.exists():
        print("Préparation de la base d'essai (référentiel de 1 000 QPV, valeurs 2024)…", flush=True)
        preparer_base(base)
    fichiers = {}
    for taille in tailles:
        signataire = SIGNATAIRES[taille][0]
        suffixe = "libreoffice" if libreoffice else "openpyxl"
        chemin = dossier / f"depot-{taille}-{suffixe}.xlsx"
        if not chemin.exists():
            print(f"Écriture du fichier de {taille} lignes ({suffixe})…", flush=True)
            brut = dossier / f"depot-{taille}.xlsx"
            with chrono() as c:
                n = ecrire_fichier(base, signataire, brut)
            assert n == taille, (n, taille)
            print(f"  openpyxl : {c['secondes']:.1f} s", flush=True)
            if libreoffice:
                with chrono() as c:
                    ok = reenregistrer_libreoffice(brut)
                if not ok:
                    raise SystemExit("LibreOffice indisponible : relancez avec --sans-libreoffice.")
                print(f"  LibreOffice : {c['secondes']:.1f} s", flush=True)
            brut.rename(chemin)
        fichiers[taille] = dict(chemin=chemin, signataire=signataire, octets=chemin.stat().st_size)
    return dict(base=base, fichiers=fichiers)


# --------------------------------------------------------------------------------------------------------------------
# Mesures, chacune dans un processus neuf
# --------------------------------------------------------------------------------------------------------------------

def _lecture_nue(chemin: Path) -> int:
    from python_calamine import CalamineWorkbook

    return len(CalamineWorkbook.from_path(str(chemin)).get_sheet_by_name("Valeurs").to_python())


def _mesurer(quoi: str, chemin: Path, base: Path | None, signataire: str | None) -> dict:
    """Exécuté dans le sous-processus : une seule opération mesurée (plus, pour l'import, une lecture nue ensuite)."""
    import pandas  # noqa: F401 - les imports lourds hors mesure
    import python_calamine  # noqa: F401

    from perr_metrics.stockage.magasin import Store
    from perr_metrics.acces.droits import SYSTEME
    from perr_metrics.depots.depot import deposer

    if quoi == "lecture":
        with mesure() as m:
            n = _lecture_nue(chemin)
        return dict(m, lignes=n)
    with tempfile.TemporaryDirectory() as tmp:
        copie = Path(tmp) / "base.duckdb"
        shutil.copyfile(base, copie)
        store = Store(copie, utilisateur=SYSTEME)
        store.initialiser()
        with mesure() as m:
            res = deposer(store, chemin.read_bytes(), chemin.name, protocole=PROTOCOLE, signataire=signataire,
                          periode=PERIODE, accepter_avertissements=True)
        if res.statut != "accepte":
            raise SystemExit(f"Dépôt non accepté ({res.statut}) : {res.rapport.texte()[:2000]}")
        with chrono() as nue:
            _lecture_nue(chemin)
        return dict(m, valeurs=res.nb_valeurs, avertissements=len(res.rapport.avertissements),
                    lecture_nue_meme_processus=nue["secondes"])


def _sous_processus(quoi: str, chemin: Path, base: Path, signataire: str) -> dict:
    r = subprocess.run([sys.executable, __file__, "--mesure", quoi, str(chemin), str(base), signataire],
                       capture_output=True, text=True, cwd=RACINE)
    if r.returncode != 0:
        raise SystemExit(f"La mesure « {quoi} » a échoué :\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def profiler(taille: int, libreoffice: bool) -> None:
    prep = preparer([taille], libreoffice)
    f = prep["fichiers"][taille]
    from perr_metrics.stockage.magasin import Store
    from perr_metrics.acces.droits import SYSTEME
    from perr_metrics.depots.depot import deposer

    with tempfile.TemporaryDirectory() as tmp:
        copie = Path(tmp) / "base.duckdb"
        shutil.copyfile(prep["base"], copie)
        store = Store(copie, utilisateur=SYSTEME)
        store.initialiser()
        donnees = f["chemin"].read_bytes()

        def importer():
            return deposer(store, donnees, f["chemin"].name, protocole=PROTOCOLE, signataire=f["signataire"],
                           periode=PERIODE, accepter_avertissements=True)
        try:
            from pyinstrument import Profiler
        except ImportError:
            import cProfile
            import pstats
            cProfile.runctx("importer()", globals(), locals(), "/tmp/bench_import.prof")
            pstats.Stats("/tmp/bench_import.prof").sort_stats("cumulative").print_stats(30)
            return
        p = Profiler(interval=0.002)
        p.start()
        res = importer()
        p.stop()
        print(p.output_text(unicode=True, color=False))
        print(res.statut, res.nb_valeurs)


def main(argv=None) -> int:
    a = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    a.add_argument("--tailles", type=int, nargs="+", default=[10_000, 200_000], choices=sorted(SIGNATAIRES))
    a.add_argument("--repetitions", type=int, default=3)
    a.add_argument("--sans-libreoffice", action="store_true", help="fichiers openpyxl bruts (moins réalistes)")
    a.add_argument("--refaire", action="store_true", help="reconstruit la base et les fichiers du cache")
    a.add_argument("--json", metavar="FICHIER")
    a.add_argument("--profil", type=int, metavar="TAILLE", help="profile un import de cette taille, sans mesurer")
    a.add_argument("--mesure", nargs=4, metavar=("QUOI", "FICHIER", "BASE", "SIGNATAIRE"), help=argparse.SUPPRESS)
    args = a.parse_args(argv)
    if args.mesure:
        quoi, chemin, base, signataire = args.mesure
        print(json.dumps(_mesurer(quoi, Path(chemin), Path(base), signataire)))
        return 0
    libreoffice = not args.sans_libreoffice and shutil.which("soffice") is not None
    if args.profil:
        profiler(args.profil, libreoffice)
        return 0
    info = machine()
    prep = preparer(args.tailles, libreoffice, args.refaire)
    resultats = []
    for taille in args.tailles:
        f = prep["fichiers"][taille]
        lectures, imports = [], []
        for k in range(args.repetitions):
            ordre = ("lecture", "import") if k % 2 == 0 else ("import", "lecture")
            for quoi in ordre:
                m = _sous_processus(quoi, f["chemin"], prep["base"], f["signataire"])
                (lectures if quoi == "lecture" else imports).append(m)
                print(f"  {taille} lignes, {quoi} n° {k + 1} : {m['secondes']:.2f} s, pic {m['pic_rss_mio']:.0f} Mio",
                      flush=True)
        t_lecture = mediane([m["secondes"] for m in lectures])
        t_import = mediane([m["secondes"] for m in imports])
        ratio_meme_processus = mediane([m["secondes"] / m["lecture_nue_meme_processus"] for m in imports])
        mem_lecture = mediane([m["pic_rss_mio"] for m in lectures])
        mem_import = mediane([m["pic_rss_mio"] for m in imports])
        resultats.append(dict(
            lignes=taille, octets=f["octets"], fichier=f["chemin"].name,
            lecture_nue_s=t_lecture, import_s=t_import,
            lecture_nue_meme_processus_s=mediane([m["lecture_nue_meme_processus"] for m in imports]),
            ratio_temps=ratio_meme_processus, ratio_temps_entre_processus=t_import / t_lecture,
            pic_lecture_mio=mem_lecture, pic_import_mio=mem_import, ratio_memoire=mem_import / mem_lecture,
            mesures=dict(lecture=lectures, imports=imports)))

    print(f"\nImport d'un dépôt contre lecture nue (python-calamine) — {info['date']}, {info['coeurs']} cœurs, "
          f"charge {info['charge_1min_au_debut']:.1f} au début ; médianes de {args.repetitions} mesures ; fichiers "
          f"{'réenregistrés par LibreOffice' if libreoffice else 'openpyxl bruts'}\n")
    lignes = [dict(
        taille=nombre(r["lignes"], 0), octets=nombre(r["octets"] / 2**20, 1), lecture=nombre(r["lecture_nue_s"]),
        imp=nombre(r["import_s"]), rt=f"× {nombre(r['ratio_temps'])}", ml=nombre(r["pic_lecture_mio"], 0),
        mi=nombre(r["pic_import_mio"], 0), rm=f"× {nombre(r['ratio_memoire'])}",
        objectif=("atteint" if r["ratio_temps"] <= 2 and r["ratio_memoire"] <= 2 else "non atteint")) for r in resultats]
    print(tableau(lignes, [("taille", "Lignes"), ("octets", "Fichier (Mio)"), ("lecture", "Lecture nue (s)"),
                           ("imp", "Import (s)"), ("rt", "Rapport temps"), ("ml", "Pic lecture (Mio)"),
                           ("mi", "Pic import (Mio)"), ("rm", "Rapport mémoire"), ("objectif", "Objectif ≤ 2×")]))
    print("\nRapport temps : import / lecture nue du même fichier dans le même processus. Pics : mémoire résidente "
          "au-dessus de celle d'avant l'opération, chaque opération dans un processus neuf.")
    ecrire_json(args.json, dict(banc="import", machine=info, libreoffice=libreoffice, repetitions=args.repetitions,
                                resultats=resultats))
    return 0


if __name__ == "__main__":
    sys.exit(main())
