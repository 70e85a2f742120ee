"""Banc d'essai fichier contre lac (issue 19) : 1, 2 et 4 processus « serveur » lisent la base nationale pendant que 2
processus déposent, sur le fichier DuckDB puis sur le lac DuckLake (catalogue PostgreSQL).

    python benchmarks/bench_lac.py --lac "ducklake:postgres:dbname=… host=… port=… user=…" --donnees DOSSIER
                                   [--db nationale.duckdb] [--lecteurs 1 2 4] [--deposants 2] [--duree 30]
                                   [--moteurs fichier lac] [--json FICHIER]

(`.ci/postgres demarrer /tmp/pg && source /tmp/pg/env` donne un PostgreSQL jetable : `--lac "$PERR_TEST_LAC" --donnees
"$PERR_TEST_LAC_DONNEES"`.)

- **La base** : la base d'essai nationale (435 protocoles, 10 millions de valeurs ; construite une fois, voir
  bench_pages.py), copiée pour le banc ; le lac la reçoit par `sauvegarde.copier_vers` (la commande
  `stockage vers-lac`), une fois, s'il est vide.
- **Un lecteur** (un processus comme un serveur du tableau de bord : le magasin de `ui._store`, base gardée ouverte sur le
  fichier, connexion du processus sur le lac) enchaîne sans pause des **lectures de page** : celles de la vue d'ensemble
  (`depots.completude` et `vues.etats_des_engagements`), sur un protocole tiré au hasard parmi les 40 plus gros. Avant
  la charge, chaque lecteur mesure seul l'**agrégat nu** du banc des pages (`SELECT … max(depot_id) … GROUP BY ALL` sur
  `valeur`), meilleur de 5 : les lectures de page sont rapportées à lui.
- **Un déposant** (un processus comme la ligne de commande ou un serveur qui reçoit un dépôt) enchaîne sans pause des
  dépôts de 20 valeurs (table longue CSV, valeurs tirées au hasard, donc jamais le même fichier) pour un signataire tiré
  au hasard : `depots.deposer`, tout ou rien. Sur le fichier, il attend la base (fichier d'attente : les lecteurs la
  lâchent) ; sur le lac, personne n'attend, une écriture qui en croise une autre est rejouée.
- Mesuré pendant `--duree` secondes, tous les processus libérés au même instant : lectures de page (médiane, p95, par
  seconde pour l'ensemble des lecteurs), dépôts par minute (et leur médiane, p95), **attentes** (sur le fichier : temps
  passé par les lecteurs et les déposants à attendre la base, c'est-à-dire la part de chaque opération au-delà de son
  temps sans concurrence ; ici mesuré comme la durée des dépôts et des lectures, faute de mieux : p95), erreurs
  (« base occupée », « réessayez »).

Objectif (issue 19) : sur le lac, 2 lecteurs servent au moins 1,7 × les lectures par seconde d'un seul pendant que les
dépôts continuent, et une lecture de page reste ≤ 3 × l'agrégat nu. La machine est partagée : seuls les rapports
comptent.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _commun import CACHE, RACINE, ecrire_json, machine, mediane, nombre, tableau  # noqa: E402

SQL_NU = "SELECT indicateur, perimetre, periode, max(depot_id) FROM valeur WHERE protocole = ? GROUP BY ALL"
PERIODE = "2025"
NB_PROTOCOLES = 40


def p95(valeurs: list[float]) -> float:
    if not valeurs:
        return float("nan")
    v = sorted(valeurs)
    return v[min(len(v) - 1, int(round(0.95 * (len(v) - 1))))]


# --------------------------------------------------------------------------------------------------------------------
# Les processus
# --------------------------------------------------------------------------------------------------------------------

def _magasin(db: str, garde: bool):
    from perr_metrics.acces.droits import SYSTEME
    from perr_metrics.stockage.magasin import Store
    return Store(db, utilisateur=SYSTEME, garde=1.0 if garde else None)


def _protocoles(store) -> list[str]:
    return store.requete("SELECT protocole FROM valeur GROUP BY ALL ORDER BY count(*) DESC LIMIT ?",
                         [NB_PROTOCOLES])["protocole"].tolist()


def _attendre_le_depart(depart: Path) -> float:
    print("PRET", flush=True)
    while not depart.exists():
        time.sleep(0.005)
    return time.monotonic()


def lecteur(db: str, depart: Path, duree: float, graine: int) -> dict:
    import random

    from perr_metrics.depots import depot as depots
    from perr_metrics.pilotage import vues

    rng = random.Random(graine)
    store = _magasin(db, garde=True)
    protocoles = _protocoles(store)
    nu = []
    for _ in range(5):
        store.lacher()
        t = time.perf_counter()
        store.requete(SQL_NU, [protocoles[0]])
        nu.append(time.perf_counter() - t)
    depots.completude(store, protocoles[0], PERIODE)          # modules et base chauds, comme un serveur qui tourne
    debut = _attendre_le_depart(depart)
    temps, erreurs = [], []
    while time.monotonic() - debut < duree:
        p = rng.choice(protocoles)
        t = time.perf_counter()
        try:
            depots.completude(store, p, PERIODE)
            vues.etats_des_engagements(store, p, None)
            temps.append(time.perf_counter() - t)
        except Exception as exc:  # noqa: BLE001
            erreurs.append(type(exc).__name__ + " : " + str(exc)[:120])
    return {"role": "lecteur", "agregat_nu": min(nu), "temps": temps, "erreurs": erreurs,
            "duree": time.monotonic() - debut}


def deposant(db: str, depart: Path, duree: float, graine: int) -> dict:
    import random

    from perr_metrics.depots import depot as depots
    from perr_metrics.depots.modele import lignes_du_modele

    rng = random.Random(graine)
    store = _magasin(db, garde=False)
    protocoles = _protocoles(store)
    choix = []
    for p in protocoles[:10]:
        sig = store.requete("SELECT DISTINCT signataire FROM indicateur WHERE protocole = ?", [p])["signataire"]
        for s in sig[:3]:
            _, lignes = lignes_du_modele(store, p, s, PERIODE)
            if len(lignes) >= 20:
                choix.append((p, s, lignes.head(20)[["indicateur", "perimetre", "periode"]].values.tolist()))
    debut = _attendre_le_depart(depart)
    temps, erreurs, refus = [], [], 0
    while time.monotonic() - debut < duree:
        p, s, lignes = rng.choice(choix)
        texte = "indicateur;perimetre;periode;valeur\r\n" + "".join(
            f"{i};{q};{per};{rng.randint(1, 900)}\r\n" for i, q, per in lignes)
        t = time.perf_counter()
        try:
            res = depots.deposer(store, texte.encode(), f"banc-{graine}.csv", protocole=p, signataire=s,
                                 accepter_avertissements=True)
            if res.statut != "accepte":
                refus += 1
            temps.append(time.perf_counter() - t)
        except Exception as exc:  # noqa: BLE001
            erreurs.append(type(exc).__name__ + " : " + str(exc)[:120])
    return {"role": "deposant", "temps": temps, "erreurs": erreurs, "refus": refus,
            "duree": time.monotonic() - debut}


def _processus(role: str, db: str, depart: Path, duree: float, graine: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, __file__, "--processus", role, db, str(depart), str(duree), str(graine)],
                            cwd=RACINE, stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=str(RACINE)))


def configuration(db: str, lecteurs: int, deposants: int, duree: float, dossier: Path) -> dict:
    depart = dossier / f"depart-{time.monotonic_ns()}"
    procs = [_processus("lecteur", db, depart, duree, 100 + i) for i in range(lecteurs)]
    procs += [_processus("deposant", db, depart, duree, 200 + i) for i in range(deposants)]
    for p in procs:
        ligne = p.stdout.readline().strip()
        if ligne != "PRET":
            raise RuntimeError(f"un processus du banc n'a pas démarré : {ligne!r}")
    depart.touch()
    resultats = []
    for p in procs:
        sortie, _ = p.communicate(timeout=duree + 600)
        resultats.append(json.loads(sortie.strip().splitlines()[-1]))
    depart.unlink()
    lus = [r for r in resultats if r["role"] == "lecteur"]
    dep = [r for r in resultats if r["role"] == "deposant"]
    t_lus = [t for r in lus for t in r["temps"]]
    t_dep = [t for r in dep for t in r["temps"]]
    nu = mediane([r["agregat_nu"] for r in lus])
    return {
        "lecteurs": lecteurs, "deposants": deposants, "duree": duree,
        "lectures": len(t_lus), "lectures_par_s": len(t_lus) / duree,
        "lecture_mediane": mediane(t_lus) if t_lus else float("nan"), "lecture_p95": p95(t_lus),
        "agregat_nu": nu, "rapport_nu": (mediane(t_lus) / nu) if t_lus else float("nan"),
        "depots": len(t_dep), "depots_par_min": 60 * len(t_dep) / duree,
        "depot_mediane": mediane(t_dep) if t_dep else float("nan"), "depot_p95": p95(t_dep),
        "erreurs_lecture": sum(len(r["erreurs"]) for r in lus), "erreurs_depot": sum(len(r["erreurs"]) for r in dep),
        "exemples_erreurs": sorted({e for r in resultats for e in r["erreurs"]})[:3],
    }


# --------------------------------------------------------------------------------------------------------------------
# Préparation et banc
# --------------------------------------------------------------------------------------------------------------------

def preparer(db: Path, lac: str | None, donnees: str | None, moteurs: list[str]) -> dict:
    from bench_pages import base_nationale

    from perr_metrics.acces import sauvegarde
    from perr_metrics.acces.droits import SYSTEME
    from perr_metrics.stockage.magasin import Store

    base_nationale(db)
    copie = CACHE / "bench-lac.duckdb"
    bases = {}
    if "fichier" in moteurs:
        print(f"Copie de la base nationale dans {copie}…", flush=True)
        shutil.copyfile(db, copie)
        bases["fichier"] = str(copie)
    if "lac" in moteurs:
        if donnees:
            os.environ["PERR_LAKE_DONNEES"] = donnees
        cible = Store(lac, utilisateur=SYSTEME)
        if cible.est_vide():
            print("Copie de la base nationale dans le lac (une fois)…", flush=True)
            t = time.perf_counter()
            sauvegarde.copier_vers(Store(db, utilisateur=SYSTEME), cible)
            print(f"  {nombre(time.perf_counter() - t, 0)} s ; entretien…", flush=True)
            t = time.perf_counter()
            cible.entretenir()
            print(f"  {nombre(time.perf_counter() - t, 0)} s", flush=True)
        bases["lac"] = lac
    return bases


def main(argv=None) -> int:
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "--processus":
        role, db, depart, duree, graine = sys.argv[2:7]
        fn = lecteur if role == "lecteur" else deposant
        print(json.dumps(fn(db, Path(depart), float(duree), int(graine))), flush=True)
        return 0
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    a.add_argument("--db", type=Path, default=CACHE / "nationale.duckdb", help="base nationale (construite si absente)")
    a.add_argument("--lac", default=os.environ.get("PERR_TEST_LAC"), help="le catalogue du lac (ducklake:postgres:…)")
    a.add_argument("--donnees", default=os.environ.get("PERR_TEST_LAC_DONNEES"), help="le dossier des données du lac")
    a.add_argument("--lecteurs", type=int, nargs="+", default=[1, 2, 4])
    a.add_argument("--deposants", type=int, default=2)
    a.add_argument("--duree", type=float, default=30)
    a.add_argument("--moteurs", nargs="+", default=["fichier", "lac"], choices=["fichier", "lac"])
    a.add_argument("--json", metavar="FICHIER")
    args = a.parse_args(argv)
    if "lac" in args.moteurs and not args.lac:
        a.error("--lac (ou $PERR_TEST_LAC) est nécessaire pour le moteur « lac »")
    CACHE.mkdir(parents=True, exist_ok=True)
    bases = preparer(args.db, args.lac, args.donnees, args.moteurs)
    lignes = []
    for moteur in args.moteurs:
        for n in args.lecteurs:
            print(f"{moteur} : {n} lecteur(s), {args.deposants} déposants, {args.duree:g} s…", flush=True)
            r = configuration(bases[moteur], n, args.deposants, args.duree, CACHE) | {"moteur": moteur}
            lignes.append(r)
            print(f"  {r['lectures_par_s']:.2f} lectures/s, médiane {r['lecture_mediane']:.3f} s, p95 "
                  f"{r['lecture_p95']:.3f} s ({r['rapport_nu']:.1f} × l'agrégat nu), {r['depots_par_min']:.1f} "
                  f"dépôts/min, erreurs {r['erreurs_lecture']} + {r['erreurs_depot']} {r['exemples_erreurs']}",
                  flush=True)
    for moteur in args.moteurs:
        un = next((r for r in lignes if r["moteur"] == moteur and r["lecteurs"] == 1), None)
        for r in lignes:
            if r["moteur"] == moteur and un:
                r["gain"] = r["lectures_par_s"] / un["lectures_par_s"] if un["lectures_par_s"] else float("nan")
    print()
    print(tableau([{k: (nombre(v) if isinstance(v, float) else v) for k, v in r.items()} for r in lignes], [
        ("moteur", "Moteur"), ("lecteurs", "Lecteurs"), ("lectures_par_s", "Lectures/s"), ("gain", "× 1 lecteur"),
        ("lecture_mediane", "Lecture méd. (s)"), ("lecture_p95", "p95 (s)"), ("rapport_nu", "× agrégat nu"),
        ("depots_par_min", "Dépôts/min"), ("depot_mediane", "Dépôt méd. (s)"), ("depot_p95", "p95 (s)"),
        ("erreurs_lecture", "Err. lect."), ("erreurs_depot", "Err. dép.")]))
    ecrire_json(args.json, {"machine": machine(), "resultats": lignes})
    return 0


if __name__ == "__main__":
    sys.exit(main())
