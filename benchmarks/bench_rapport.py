"""Banc d'essai du rapport annuel (issue 16) : la construction du contenu, la mise en images des graphiques et chacun
des trois rendus, mesurés côte à côte dans le même processus, sur le plus gros rapport de la démonstration.

    python benchmarks/bench_rapport.py [--db CHEMIN] [--protocole TCM-PERR-2019] [--annee 2022] [--repetitions 5]
                                       [--json FICHIER] [--garder DOSSIER]

- **Contenu** (la référence) : `construire_rapport(store, protocole, annee)` — les lectures du cœur et la forme
  neutre (sections, tableaux, descriptions des graphiques), rien d'écrit ;
- **Graphiques** : `rendre_images` sur un rapport neuf (les images de chaque graphique, une fois par rapport) ;
- **PDF avec ses graphiques** : `ecrire_pdf` sur un rapport neuf, graphiques compris — l'objectif de l'issue 16 :
  au plus 5 × le contenu ;
- **PDF**, **Word**, **Excel** : chaque rendu seul, graphiques déjà faits.

Les mesures alternent (contenu, graphiques, PDF, Word, Excel, puis de nouveau) : une machine partagée dérange toutes les
mesures d'un tour à peu près de même. Chaque durée est le meilleur de `--repetitions` tours (le minimum, la mesure que
les autres processus dérangent le moins) ; les médianes sont dans le JSON. Pas de seuil vérifié automatiquement : les
chiffres et la décision sont dans docs/performance.md (« Le rapport annuel : PDF en N × le contenu »).

La base de démonstration est construite une fois dans benchmarks/.cache/demo.duckdb (`python -m perr_metrics --db …
init --demo`).
"""
from __future__ import annotations

import argparse
import io
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _commun import CACHE, RACINE, chrono, ecrire_json, machine, mediane, nombre, tableau  # noqa: E402

BASE_PAR_DEFAUT = CACHE / "demo.duckdb"


def base_demo(chemin: Path) -> None:
    if chemin.exists():
        return
    chemin.parent.mkdir(parents=True, exist_ok=True)
    print(f"Construction de la base de démonstration dans {chemin} (une fois)…", flush=True)
    subprocess.run([sys.executable, "-m", "perr_metrics", "--db", str(chemin), "init", "--demo"], cwd=RACINE,
                   check=True)


def pages_pdf(contenu: bytes) -> int:
    from pypdf import PdfReader
    return len(PdfReader(io.BytesIO(contenu)).pages)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, default=BASE_PAR_DEFAUT)
    parser.add_argument("--protocole", default="TCM-PERR-2019")
    parser.add_argument("--annee", type=int, default=2022)
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--json")
    parser.add_argument("--garder", type=Path, help="dossier où écrire les trois fichiers du dernier tour")
    args = parser.parse_args(argv)

    base_demo(args.db)
    from perr_metrics.acces.droits import SYSTEME
    from perr_metrics.stockage.magasin import Store
    from perr_metrics import rapport

    store = Store(args.db, utilisateur=SYSTEME)
    # Un tour à blanc : modules importés, moteurs chargés (comme dans le tableau de bord qui a déjà servi).
    r = rapport.construire_rapport(store, args.protocole, args.annee)
    rapport.fichiers(r)

    temps: dict[str, list[float]] = {k: [] for k in ("contenu", "graphiques", "pdf_complet", "pdf", "docx", "xlsx")}
    tailles, pages, nb_graphiques = {}, None, 0
    for tour in range(args.repetitions):
        with chrono() as c:
            r = rapport.construire_rapport(store, args.protocole, args.annee)
        temps["contenu"].append(c["secondes"])
        nb_graphiques = len(list(r.graphiques()))
        with chrono() as c:
            rapport.rendre_images(r)
        temps["graphiques"].append(c["secondes"])
        neuf = rapport.construire_rapport(store, args.protocole, args.annee)
        flux = io.BytesIO()
        with chrono() as c:
            rapport.ecrire(neuf, "pdf", flux)          # graphiques compris
        temps["pdf_complet"].append(c["secondes"])
        for fmt in ("pdf", "docx", "xlsx"):
            flux = io.BytesIO()
            with chrono() as c:
                rapport.ecrire(r, fmt, flux)
            temps[fmt].append(c["secondes"])
            tailles[fmt] = len(flux.getvalue())
            if fmt == "pdf":
                pages = pages_pdf(flux.getvalue())
            if args.garder and tour == args.repetitions - 1:
                args.garder.mkdir(parents=True, exist_ok=True)
                (args.garder / f"{r.nom_fichier}.{fmt}").write_bytes(flux.getvalue())
        print(f"  tour {tour + 1} : " + ", ".join(f"{k} {nombre(v[-1])} s" for k, v in temps.items()), flush=True)

    ref = min(temps["contenu"])
    noms = {"contenu": "Contenu (construire_rapport)", "graphiques": f"{nb_graphiques} graphiques (rendre_images)",
            "pdf_complet": "PDF avec ses graphiques", "pdf": "PDF seul", "docx": "Word seul", "xlsx": "Excel seul"}
    lignes = [{"etape": noms[k], "meilleur": nombre(min(v)), "mediane": nombre(mediane(v)),
               "ratio": f"× {nombre(min(v) / ref, 1)}"} for k, v in temps.items()]
    print(f"\nRapport {args.protocole} {args.annee} : {pages} pages PDF, {nb_graphiques} graphiques ; "
          f"{args.repetitions} tours, meilleur et médiane (s), rapport au meilleur du contenu\n")
    print(tableau(lignes, [("etape", "Étape"), ("meilleur", "Meilleur"), ("mediane", "Médiane"),
                           ("ratio", "× contenu")]))
    ratio = min(temps["pdf_complet"]) / ref
    print(f"\nPDF avec ses graphiques : × {nombre(ratio, 1)} le contenu (objectif ≤ 5) ; tailles : "
          + ", ".join(f"{k} {nombre(v / 1024, 0)} Kio" for k, v in tailles.items()))
    ecrire_json(args.json, {"machine": machine(), "protocole": args.protocole, "annee": args.annee,
                            "pages_pdf": pages, "graphiques": nb_graphiques, "tailles": tailles,
                            "temps": temps, "meilleurs": {k: min(v) for k, v in temps.items()},
                            "medianes": {k: mediane(v) for k, v in temps.items()}, "ratio_pdf_complet": ratio})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
