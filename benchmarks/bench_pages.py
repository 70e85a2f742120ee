"""Banc d'essai des pages sur la base nationale (issue 4) : les lectures de chaque page et la page entière sous AppTest,
comparées à un agrégat nu sur la même table de valeurs, dans le même processus.

    python benchmarks/bench_pages.py [--db CHEMIN] [--protocole CODE] [--periode 2025] [--repetitions 3]
                                     [--pages vue_ensemble.py …] [--json FICHIER]

- **Agrégat nu** (la référence) : `SELECT indicateur, perimetre, periode, max(depot_id) FROM valeur WHERE protocole = ?
  GROUP BY ALL`, par `Store.requete` (ouverture de la base, requête, DataFrame, fermeture : le même chemin que chaque
  lecture d'une page). Mesuré avant chaque page, médiane de plusieurs essais.
- **Lectures de la page** : toutes les fonctions du cœur que la page appelle par `ui.lire` (celles-là mêmes : elles sont
  enregistrées pendant une exécution réelle de la page sous AppTest), rejouées hors de Streamlit et sans cache, dans
  l'ordre ; médiane du total. Les pages présentes dans pages/ sont toutes prises : une page ajoutée plus tard est mesurée
  au prochain lancement, sans rien changer ici.
- **Page sous AppTest** : `AppTest.from_file("dashboard.py")`, base `PERR_DB`, paramètres `?protocole=…&periode=…`,
  passage à la page, puis `run()` chronométré, cache des lectures vidé (« à froid » : un premier visiteur après un dépôt),
  puis une seconde exécution (« à chaud » : cache plein). Le temps passé dans la base (`Store.lire`) est noté à part.

Objectifs : lectures de chaque page ≤ 3 × l'agrégat nu ; chaque page ≤ 2 s sous AppTest.
Le protocole par défaut est le plus gros de la base (le plus de valeurs) : le cas le plus lent.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _commun import CACHE, RACINE, ecrire_json, machine, mediane, nombre, tableau  # noqa: E402

SQL_NU = "SELECT indicateur, perimetre, periode, max(depot_id) FROM valeur WHERE protocole = ? GROUP BY ALL"
BASE_PAR_DEFAUT = CACHE / "nationale.duckdb"


def base_nationale(chemin: Path) -> None:
    if chemin.exists():
        return
    from perr_metrics.db import Store
    from perr_metrics.demo_nationale import construire

    print(f"Construction de la base nationale dans {chemin} (une fois)…", flush=True)
    construire(Store(chemin), "nationale", progression=lambda m: print(f"  {m}", flush=True))


def agregat_nu(store, protocole: str, n: int = 5) -> float:
    temps = []
    for _ in range(n):
        t = time.perf_counter()
        store.requete(SQL_NU, [protocole])
        temps.append(time.perf_counter() - t)
    return mediane(temps)


class Enregistreur:
    """Remplace `ui.lire` le temps d'une exécution : note chaque lecture (fonction, arguments, durée) ; mesure aussi le
    temps passé dans `Store.lire` (toutes les lectures de la base, même celles qui ne passent pas par `ui.lire`)."""

    def __init__(self):
        from perr_metrics import ui
        from perr_metrics.db import Store

        self.ui, self.Store = ui, Store
        self.appels: list[tuple] = []
        self.dans_la_base = 0.0
        self._lire, self._store_lire = ui.lire, Store.lire

    def __enter__(self):
        enr = self

        def lire(fonction, *args):
            t = time.perf_counter()
            try:
                return enr._lire(fonction, *args)
            finally:
                enr.appels.append((fonction, args, time.perf_counter() - t))

        def store_lire(store, fn):
            t = time.perf_counter()
            try:
                return enr._store_lire(store, fn)
            finally:
                enr.dans_la_base += time.perf_counter() - t

        self.ui.lire = lire
        self.Store.lire = store_lire
        return self

    def __exit__(self, *exc):
        self.ui.lire = self._lire
        self.Store.lire = self._store_lire


def mesurer_page(page: str, chemin: Path, protocole: str, periode: str, repetitions: int) -> dict:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from perr_metrics.db import Store

    os.environ["PERR_DB"] = str(chemin)
    os.environ["PERR_DEMO"] = "0"
    at = AppTest.from_file(str(RACINE / "dashboard.py"), default_timeout=600)
    at.query_params["protocole"] = protocole
    at.query_params["periode"] = periode
    at.run()                                  # l'accueil : imports, base ouverte (non chronométré)
    st.cache_data.clear()
    at.switch_page(f"pages/{page}")
    with Enregistreur() as enr:
        t = time.perf_counter()
        at.run()
        froid = time.perf_counter() - t
    erreurs = [str(e.value)[:300] for e in at.exception] + [str(e.value)[:300] for e in at.error]
    t = time.perf_counter()
    at.run()
    chaud = time.perf_counter() - t
    # Les lectures de la page, rejouées sans cache ni Streamlit.
    store = Store(chemin)
    appels = [(f, a) for f, a, _ in enr.appels]
    totaux, detail = [], {}
    for _ in range(repetitions):
        total = 0.0
        for f, a in appels:
            t = time.perf_counter()
            f(store, *a)
            d = time.perf_counter() - t
            total += d
            detail.setdefault(f"{f.__module__.split('.')[-1]}.{f.__name__}", []).append(d)
        totaux.append(total)
    fonctions = {}
    for f, a in appels:
        cle = f"{f.__module__.split('.')[-1]}.{f.__name__}"
        fonctions[cle] = fonctions.get(cle, 0) + 1
    return dict(page=page, froid_s=froid, chaud_s=chaud, base_pendant_froid_s=enr.dans_la_base,
                lectures_s=mediane(totaux) if appels else 0.0, nb_lectures=len(appels), fonctions=fonctions,
                detail_s={k: sum(v) / repetitions for k, v in detail.items()}, erreurs=erreurs)


def main(argv=None) -> int:
    a = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    a.add_argument("--db", type=Path, default=BASE_PAR_DEFAUT, help="base nationale (construite si absente)")
    a.add_argument("--protocole", help="par défaut : celui qui a le plus de valeurs")
    a.add_argument("--periode", default="2025")
    a.add_argument("--repetitions", type=int, default=3)
    a.add_argument("--pages", nargs="+", help="noms de fichiers de pages/ (par défaut : toutes)")
    a.add_argument("--json", metavar="FICHIER")
    args = a.parse_args(argv)

    import logging
    logging.getLogger("streamlit").setLevel(logging.ERROR)
    from perr_metrics.db import Store

    info = machine()
    base_nationale(args.db)
    store = Store(args.db)
    store.initialiser()
    protocole = args.protocole or store.lire(lambda con: con.execute(
        "SELECT protocole FROM valeur GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1").fetchone()[0])
    taille = store.lire(lambda con: con.execute("""
        SELECT (SELECT count(*) FROM valeur), (SELECT count(*) FROM valeur WHERE protocole = $p),
               (SELECT count(*) FROM perimetre WHERE protocole = $p AND niveau = 'QPV'),
               (SELECT count(*) FROM depot WHERE protocole = $p)""", {"p": protocole}).fetchone())
    pages = args.pages or sorted(p.name for p in (RACINE / "pages").glob("*.py") if not p.name.startswith("_"))
    print(f"Base {args.db} : {taille[0]:,} valeurs ; protocole {protocole} : {taille[1]:,} valeurs, {taille[2]} "
          f"quartiers, {taille[3]} dépôts ; période {args.periode}.".replace(",", "\u202f"), flush=True)
    agregat_nu(store, protocole, 2)   # mise en route (fichier en cache)
    resultats = []
    for page in pages:
        nu = agregat_nu(store, protocole)
        try:
            r = mesurer_page(page, args.db, protocole, args.periode, args.repetitions)
        except Exception:  # noqa: BLE001 - on mesure les autres pages
            r = dict(page=page, erreurs=[traceback.format_exc(limit=3)[-600:]])
        r["agregat_nu_s"] = nu
        if "lectures_s" in r:
            r["ratio_lectures"] = r["lectures_s"] / nu
            print(f"  {page} : lectures {r['lectures_s']:.3f} s (× {r['ratio_lectures']:.1f} de {nu:.3f} s), AppTest "
                  f"{r['froid_s']:.2f} s à froid, {r['chaud_s']:.2f} s à chaud", flush=True)
        else:
            print(f"  {page} : non mesurée\n{r['erreurs'][0]}", flush=True)
        resultats.append(r)

    print(f"\nPages sur la base nationale — {info['date']}, {info['coeurs']} cœurs, charge "
          f"{info['charge_1min_au_debut']:.1f} au début ; protocole {protocole} ({taille[1]:,} valeurs sur "
          f"{taille[0]:,}), période {args.periode}\n".replace(",", "\u202f"))
    lignes = []
    for r in resultats:
        if "lectures_s" not in r:
            lignes.append(dict(page=r["page"], objectif="erreur"))
            continue
        ok = r["ratio_lectures"] <= 3 and r["froid_s"] <= 2
        lignes.append(dict(
            page=r["page"], n=r["nb_lectures"], lect=nombre(r["lectures_s"], 3), nu=nombre(r["agregat_nu_s"], 3),
            ratio=f"× {nombre(r['ratio_lectures'], 1)}", froid=nombre(r["froid_s"]), base=nombre(r["base_pendant_froid_s"]),
            chaud=nombre(r["chaud_s"]), objectif=("atteint" if ok else "non atteint") + (" (erreur)" if r["erreurs"] else "")))
    print(tableau(lignes, [("page", "Page"), ("n", "Lectures"), ("lect", "Lectures (s)"), ("nu", "Agrégat nu (s)"),
                           ("ratio", "Rapport"), ("froid", "AppTest à froid (s)"), ("base", "dont base (s)"),
                           ("chaud", "À chaud (s)"), ("objectif", "Objectifs ≤ 3× et ≤ 2 s")]))
    ecrire_json(args.json, dict(banc="pages", machine=info, base=str(args.db), protocole=protocole,
                                periode=args.periode, valeurs_total=taille[0], valeurs_protocole=taille[1],
                                sql_agregat_nu=SQL_NU, resultats=resultats))
    return 0


if __name__ == "__main__":
    sys.exit(main())
