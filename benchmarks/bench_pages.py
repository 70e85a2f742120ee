"""Banc d'essai des pages sur la base nationale (issue 4) : les lectures de chaque page et la page entière sous AppTest,
comparées à un agrégat nu sur la même table de valeurs, dans le même processus.

    python benchmarks/bench_pages.py [--db CHEMIN] [--protocole CODE] [--periode 2025] [--repetitions 3]
                                     [--pages vue_ensemble.py …] [--json FICHIER]
                                     [--comparer-a REVISION [--modules pilotage/vues rapport …]]

- **Agrégat nu** (la référence) : `SELECT indicateur, perimetre, periode, max(depot_id) FROM valeur WHERE protocole = ?
  GROUP BY ALL`, par `Store.requete` (ouverture de la base, requête, DataFrame, fermeture : le même chemin que chaque
  lecture d'une page). Mesuré avant chaque page, meilleur de plusieurs essais.
- **Lectures de la page** : les fonctions du cœur que la page appelle par `ui.lire` (celles-là mêmes : elles sont
  enregistrées pendant une exécution réelle de la page sous AppTest), rejouées hors de Streamlit et sans cache, dans
  l'ordre ; chaque lecture distincte (fonction et arguments) une fois, comme à froid où la seconde demande vient du
  cache (le nombre d'appels est noté à côté). Rejouées sur le magasin du tableau de bord, qui garde la base ouverte
  entre des lectures rapprochées (`Store(…, garde=…)`, voir db._Garde), base refermée avant chaque rejeu : une
  ouverture puis les lectures, comme une page affichée après un moment sans visite. Aussi rejouées avec une connexion
  par lecture (le tableau de bord d'avant, et la ligne de commande), pour comparaison. Les pages prises sont celles du
  menu de l'administrateur (`ui.PAGES`) : une page ajoutée au menu est mesurée au prochain lancement, sans rien changer
  ici.
- **Page sous AppTest** : `AppTest.from_file("dashboard.py")`, base `PERR_DB`, paramètres `?protocole=…&periode=…`,
  passage à la page, puis `run()` chronométré, cache des lectures vidé (« à froid » : un premier visiteur après un dépôt),
  puis une seconde exécution (« à chaud » : cache plein). Le temps passé dans la base (`Store.lire`) est noté à part,
  et le nombre d'ouvertures de la base pendant l'exécution à froid (base refermée juste avant).

Objectifs : lectures de chaque page ≤ 3 × l'agrégat nu ; chaque page ≤ 2 s sous AppTest. Chaque durée est le meilleur
de plusieurs essais (le minimum : sur une machine partagée, c'est la mesure que les autres processus dérangent le moins) ;
les médianes sont dans le JSON. Avec `--comparer-a REVISION`, les fonctions du cœur optimisées sont aussi mesurées
avant (telles qu'à cette révision) et après, en alternance dans le même processus ; avec en plus `--modules`, les
lectures de chaque page aussi, rejouées avec ces modules du cœur tels qu'à la révision (chemins dans les sous-paquets,
`pilotage/vues`, `rapport`…) et tels qu'aujourd'hui, en alternance.
Le protocole par défaut est le plus gros de la base (le plus de valeurs) : le cas le plus lent.
"""
from __future__ import annotations

import argparse
import datetime as dt
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
    from perr_metrics.stockage.magasin import Store
    from perr_metrics.acces.droits import SYSTEME
    from perr_metrics.demo.nationale import construire

    print(f"Construction de la base nationale dans {chemin} (une fois)…", flush=True)
    construire(Store(chemin, utilisateur=SYSTEME), "nationale", progression=lambda m: print(f"  {m}", flush=True))


def agregat_nu(store, protocole: str, n: int = 5) -> float:
    """Le meilleur de n essais (sur une machine partagée, le minimum est la mesure la moins bruitée). Toujours base
    fermée au départ : la base gardée par le tableau de bord (s'il en reste une ouverte dans ce processus) est lâchée
    avant chaque essai, sinon la requête la reprendrait, ouverte et au cache de blocs plein (0,04 s au lieu de 0,1)."""
    temps = []
    for _ in range(n):
        magasin_garde(store.chemin).lacher()
        t = time.perf_counter()
        store.requete(SQL_NU, [protocole])
        temps.append(time.perf_counter() - t)
    return min(temps)


class Enregistreur:
    """Remplace `ui.lire` le temps d'une exécution : note chaque lecture (fonction, arguments, durée) ; mesure aussi le
    temps passé dans `Store.lire` (toutes les lectures de la base, même celles qui ne passent pas par `ui.lire`).
    `ui.lire` est remplacée sur le paquet (les pages l'y cherchent) et dans ui.magasin, qui la définit (les sélecteurs
    communs de ui.selecteurs l'y cherchent)."""

    def __init__(self):
        from perr_metrics import ui
        from perr_metrics.stockage.magasin import Store

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

        self.ui.lire = self.ui.magasin.lire = lire
        self.Store.lire = store_lire
        return self

    def __exit__(self, *exc):
        self.ui.lire = self.ui.magasin.lire = self._lire
        self.Store.lire = self._store_lire


def mesurer_page(page: str, chemin: Path, protocole: str, periode: str, repetitions: int,
                 repetitions_apptest: int = 2, avant: dict | None = None) -> dict:
    """Avec `avant` ({nom d'un module du cœur : ce module à une révision}, voir `modules_a_la_revision`), les lectures
    de la page sont aussi rejouées avec les fonctions de ces modules-là à la révision, en alternance avec celles
    d'aujourd'hui (l'une puis l'autre, puis l'inverse), base gardée refermée avant chaque rejeu."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["PERR_DB"] = str(chemin)
    os.environ["PERR_DEMO"] = "0"
    froids, chauds = [], []
    for k in range(repetitions_apptest):
        at = AppTest.from_file(str(RACINE / "dashboard.py"), default_timeout=600)
        maintenant = dt.datetime.now()     # une session ouverte au nom de l'administrateur du banc (voir `compte`)
        at.session_state["perr_session"] = {"compte": COMPTE, "debut": maintenant, "activite": maintenant,
                                            "sso": False}
        at.query_params["protocole"] = protocole
        at.query_params["periode"] = periode
        at.run()                                  # l'accueil : imports, base ouverte (non chronométré)
        st.cache_data.clear()
        at.switch_page(f"pages/{page}")
        garde = magasin_garde(chemin)
        garde.lacher()
        ouvertures = garde.ouvertures
        with Enregistreur() as e:
            t = time.perf_counter()
            at.run()
            froids.append(time.perf_counter() - t)
        if k == 0:
            enr = e
            ouvertures_froid = garde.ouvertures - ouvertures
            erreurs = [str(x.value)[:300] for x in at.exception] + [str(x.value)[:300] for x in at.error]
        t = time.perf_counter()
        at.run()
        chauds.append(time.perf_counter() - t)
    froid, chaud = min(froids), min(chauds)
    # Les lectures de la page, rejouées sans cache ni Streamlit. Une lecture que la page demande deux fois (deux vues
    # qui partagent une évaluation) n'est faite qu'une fois à froid, la seconde venant du cache : on ne rejoue que
    # les lectures distinctes (fonction et arguments), dans l'ordre de leur premier appel.
    store = magasin(chemin)
    tous_appels = [(f, a) for f, a, _ in enr.appels]
    appels = list({(f.__module__, f.__name__, repr(a)): (f, a) for f, a in tous_appels}.values())

    def rejouer(s, rep, detail):
        total = 0.0
        for f, a in appels:
            t = time.perf_counter()
            f(s, *a)
            d = time.perf_counter() - t
            total += d
            if detail is not None:
                detail.setdefault(f"{f.__module__.split('.')[-1]}.{f.__name__}", [0.0] * repetitions)[rep] += d
        return total

    # Les mêmes lectures, chacune prise dans son module à la révision `avant` quand il y est (sinon celle d'aujourd'hui,
    # notée à part : une fonction ajoutée depuis).
    appels_avant, absentes = [], []
    for f, a in appels if avant else ():
        g = getattr(avant.get(f.__module__), f.__name__, None)
        if g is None:
            absentes.append(f"{f.__module__}.{f.__name__}")
        appels_avant.append((g or f, a))

    def rejouer_avant(s):
        t = time.perf_counter()
        for f, a in appels_avant:
            f(s, *a)
        return time.perf_counter() - t

    totaux, par_lecture, detail, totaux_avant = [], [], {}, []
    gardee = magasin_garde(chemin)
    for rep in range(repetitions):
        if appels_avant and rep % 2 == 0:
            gardee.lacher()
            totaux_avant.append(rejouer_avant(gardee))
        # Comme dans le tableau de bord : la base gardée ouverte entre les lectures, refermée avant (première visite
        # après un moment sans lecture : l'ouverture et un cache de blocs vide sont comptés).
        gardee.lacher()
        totaux.append(rejouer(gardee, rep, detail))
        if appels_avant and rep % 2 == 1:
            gardee.lacher()
            totaux_avant.append(rejouer_avant(gardee))
        # Les mêmes lectures avec une connexion chacune (la ligne de commande ; le tableau de bord avant la garde). La
        # base gardée d'abord refermée : sinon chaque connexion reprendrait la base déjà ouverte dans ce processus.
        gardee.lacher()
        par_lecture.append(rejouer(store, rep, None))
    gardee.lacher()
    fonctions = {}
    for f, a in tous_appels:
        cle = f"{f.__module__.split('.')[-1]}.{f.__name__}"
        fonctions[cle] = fonctions.get(cle, 0) + 1
    comparaison = dict(lectures_avant_s=min(totaux_avant), lectures_avant_mediane_s=mediane(totaux_avant),
                       lectures_avant_essais_s=totaux_avant, lectures_essais_s=totaux,
                       absentes_a_la_revision=absentes) if totaux_avant else {}
    return dict(**comparaison, page=page, froid_s=froid, chaud_s=chaud, froids_s=froids, chauds_s=chauds,
                base_pendant_froid_s=enr.dans_la_base, lectures_s=min(totaux) if appels else 0.0,
                lectures_mediane_s=mediane(totaux) if appels else 0.0, nb_lectures=len(appels),
                nb_appels=len(tous_appels), fonctions=fonctions,
                lectures_par_connexion_s=min(par_lecture) if appels else 0.0, ouvertures_froid=ouvertures_froid,
                detail_s={k: min(v) for k, v in detail.items()}, erreurs=erreurs)


def magasin_garde(chemin: Path):
    """Le magasin du tableau de bord (`ui._store`) : il garde la base ouverte entre des lectures rapprochées."""
    from perr_metrics import ui
    from perr_metrics.acces.droits import SYSTEME

    return ui._store(str(chemin)).pour(SYSTEME)


COMPTE = "banc-pages"


def compte(store) -> None:
    """Le compte administrateur au nom duquel les pages sont ouvertes sous AppTest (créé une fois dans la base)."""
    from perr_metrics.acces import comptes
    from perr_metrics.acces.droits import ADMINISTRATEUR

    if comptes.recharger(store, COMPTE) is None:
        comptes.creer_compte(store, COMPTE, "Banc d'essai des pages", ADMINISTRATEUR,
                             mot_de_passe="banc-pages-" + os.urandom(8).hex())


def magasin(chemin: Path):
    """Le magasin de la base d'essai, au nom de l'installation (le cœur vérifie les droits de chaque opération)."""
    from perr_metrics.stockage.magasin import Store
    from perr_metrics.acces.droits import SYSTEME

    return Store(chemin, utilisateur=SYSTEME)


def module_a_la_revision(revision: str, chemin: str):
    """Le module du cœur `perr_metrics/<chemin>.py` (« pilotage/vues », « depots/depot » ; un paquet par son dossier :
    « rapport » pour `perr_metrics/rapport/__init__.py`) tel qu'il était à une révision git de la disposition en
    sous-paquets. Ses imports absolus (`from perr_metrics.x.y import …`) et relatifs (`from . import avancement`,
    `from .avancement import …`, au niveau du module ou dans une fonction) visent le paquet actuel."""
    import subprocess
    import types

    chemin = _chemin_du_module(chemin)
    nom = chemin.replace("/", ".")
    candidats = [f"perr_metrics/{chemin}.py", f"perr_metrics/{chemin}/__init__.py"]
    for fichier in candidats:
        r = subprocess.run(["git", "-C", str(RACINE), "show", f"{revision}:{fichier}"], capture_output=True, text=True)
        if r.returncode == 0:
            break
    else:
        raise SystemExit(f"Ni {candidats[0]} ni {candidats[1]} à la révision {revision} (les chemins sont ceux des "
                         f"sous-paquets : « pilotage/vues », « depots/depot », « rapport »…).")
    paquet = f"perr_metrics.{nom}" if fichier.endswith("__init__.py") else f"perr_metrics.{nom}".rpartition(".")[0]
    module = types.ModuleType(f"avant_{nom.replace('.', '_')}")
    # Les imports relatifs se résolvent par __package__ ; __file__ est celui du fichier actuel, pour ce que le module
    # trouve à côté de lui (le gabarit du rapport) ; la révision est dans le nom de fichier des traces d'erreur.
    module.__package__ = paquet
    module.__file__ = str(RACINE / fichier)
    if fichier.endswith("__init__.py"):
        module.__path__ = [str((RACINE / fichier).parent)]
    sys.modules[module.__name__] = module          # les dataclasses le cherchent là
    exec(compile(r.stdout, f"<{revision}:{fichier}>", "exec"), module.__dict__)
    return module


def _chemin_du_module(chemin: str) -> str:
    return chemin.strip("/").removesuffix(".py").removeprefix("perr_metrics/").removesuffix("/__init__")


def modules_a_la_revision(revision: str, chemins: list[str]) -> dict:
    """Plusieurs modules du cœur à une révision (`module_a_la_revision`), liés entre eux : chargés dans l'ordre donné
    (les couches du bas d'abord : « referentiel/requetes depots/depot pilotage/suivi pilotage/vues rapport »), chacun
    importe la version à la révision de ceux chargés avant lui (`from perr_metrics.referentiel import requetes`,
    `from perr_metrics.depots.depot import completude`…), les autres modules restant ceux d'aujourd'hui. Rend
    {nom du module d'aujourd'hui (perr_metrics.pilotage.vues) : module à la révision}."""
    import importlib

    noms = ["perr_metrics." + _chemin_du_module(c).replace("/", ".") for c in chemins]
    actuels = {n: importlib.import_module(n) for n in noms}   # tous importés avant toute substitution
    anciens: dict = {}
    try:
        for c, nom in zip(chemins, noms):
            anciens[nom] = module_a_la_revision(revision, c)
            parent, _, court = nom.rpartition(".")
            sys.modules[nom] = anciens[nom]
            setattr(sys.modules[parent], court, anciens[nom])
    finally:
        for nom, actuel in actuels.items():
            parent, _, court = nom.rpartition(".")
            sys.modules[nom] = actuel
            setattr(sys.modules[parent], court, actuel)
    return anciens


def comparer(store, protocole: str, periode: str, revision: str, repetitions: int) -> list[dict]:
    """Les fonctions du cœur optimisées, avant (à `revision`) et après, alternées dans le même processus ; le meilleur
    de `repetitions` essais de chaque côté."""
    from perr_metrics.pilotage import avancement
    from perr_metrics.depots import depot as depots
    from perr_metrics.referentiel import requetes

    av = modules_a_la_revision(revision, ["referentiel/requetes", "depots/depot", "pilotage/avancement"])
    A, D, R = (av[f"perr_metrics.{n}"] for n in ("pilotage.avancement", "depots.depot", "referentiel.requetes"))
    annees = [str(a) for a in range(2024, 2032)]
    indicateur = store.lire(lambda con: con.execute(
        "SELECT code FROM indicateur WHERE protocole = ? AND agregation = 'taux' ORDER BY ordre LIMIT 1",
        [protocole]).fetchone()[0])

    def serie_avant(mod, filtre):
        for q in annees:
            t = mod.indicateurs_au_territoire(store, protocole, q)
            p = mod.indicateurs_au_perimetre(store, protocole, q)
            if filtre:
                t, p = t[t["indicateur"] == indicateur], p[p["indicateur"] == indicateur]

    cas = [
        ("requetes.protocoles", lambda: R.protocoles(store), lambda: requetes.protocoles(store)),
        ("requetes.protocole", lambda: R.protocole(store, protocole), lambda: requetes.protocole(store, protocole)),
        ("requetes.indicateurs", lambda: R.indicateurs(store, protocole), lambda: requetes.indicateurs(store, protocole)),
        ("depots.completude", lambda: D.completude(store, protocole, periode),
         lambda: depots.completude(store, protocole, periode)),
        ("depots.historique", lambda: D.historique(store, protocole, indicateur),
         lambda: depots.historique(store, protocole, indicateur)),
        ("avancement.indicateurs_au_territoire", lambda: A.indicateurs_au_territoire(store, protocole, periode),
         lambda: avancement.indicateurs_au_territoire(store, protocole, periode)),
        ("avancement.indicateurs_au_perimetre", lambda: A.indicateurs_au_perimetre(store, protocole, periode),
         lambda: avancement.indicateurs_au_perimetre(store, protocole, periode)),
        ("avancement.avancement_par_noeud", lambda: A.avancement_par_noeud(store, protocole, periode),
         lambda: avancement.avancement_par_noeud(store, protocole, periode)),
        ("série sur 8 ans, tout le protocole (16 appels → 2)", lambda: serie_avant(A, False),
         lambda: (avancement.indicateurs_au_territoire_par_periode(store, protocole, annees),
                  avancement.indicateurs_au_perimetre_par_periode(store, protocole, annees))),
        (f"série sur 8 ans d'un indicateur ({indicateur} ; 16 appels → 2 filtrés)", lambda: serie_avant(A, True),
         lambda: (avancement.indicateurs_au_territoire_par_periode(store, protocole, annees, indicateurs=[indicateur]),
                  avancement.indicateurs_au_perimetre_par_periode(store, protocole, annees,
                                                                  indicateurs=[indicateur]))),
    ]
    sortie = []
    for nom, avant, apres in cas:
        ta, tn = [], []
        for _ in range(repetitions):
            for f, liste in ((avant, ta), (apres, tn)):
                t = time.perf_counter()
                f()
                liste.append(time.perf_counter() - t)
        sortie.append(dict(fonction=nom, avant_s=min(ta), apres_s=min(tn), gain=min(ta) / min(tn)))
        print(f"  {nom} : {min(ta):.3f} s → {min(tn):.3f} s", flush=True)
    return sortie


def main(argv=None) -> int:
    a = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    a.add_argument("--db", type=Path, default=BASE_PAR_DEFAUT, help="base nationale (construite si absente)")
    a.add_argument("--protocole", help="par défaut : celui qui a le plus de valeurs")
    a.add_argument("--periode", default="2025")
    a.add_argument("--repetitions", type=int, default=3, help="rejeux des lectures de chaque page")
    a.add_argument("--repetitions-apptest", type=int, default=2, help="exécutions à froid de chaque page")
    a.add_argument("--pages", nargs="+", help="noms de fichiers de pages/ (par défaut : toutes)")
    a.add_argument("--comparer-a", metavar="REVISION", help="compare aussi les fonctions du cœur optimisées à leur "
                   "version de cette révision git (avant / après, dans le même processus)")
    a.add_argument("--modules", nargs="+", metavar="CHEMIN", help="avec --comparer-a : les lectures de chaque page "
                   "rejouées aussi avec ces modules du cœur à la révision, en alternance (chemins dans les "
                   "sous-paquets, les couches du bas d'abord : referentiel/requetes depots/depot pilotage/vues…)")
    a.add_argument("--sans-pages", action="store_true", help="seulement la comparaison avant / après")
    a.add_argument("--json", metavar="FICHIER")
    args = a.parse_args(argv)
    if args.modules and not args.comparer_a:
        a.error("--modules va avec --comparer-a REVISION")

    import logging
    logging.getLogger("streamlit").setLevel(logging.ERROR)
    info = machine()
    base_nationale(args.db)
    store = magasin(args.db)
    store.initialiser()
    compte(store)
    protocole = args.protocole or store.lire(lambda con: con.execute(
        "SELECT protocole FROM valeur GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1").fetchone()[0])
    taille = store.lire(lambda con: con.execute("""
        SELECT (SELECT count(*) FROM valeur), (SELECT count(*) FROM valeur WHERE protocole = $p),
               (SELECT count(*) FROM perimetre WHERE protocole = $p AND niveau = 'QPV'),
               (SELECT count(*) FROM depot WHERE protocole = $p)""", {"p": protocole}).fetchone())
    # Les pages du menu de l'administrateur (le compte du banc) : toutes les pages de données. Les autres fichiers de
    # pages/ (connexion, premier administrateur, accès refusé) ne lisent rien à mesurer ; « Indicateurs publiés » n'est
    # au menu que vue publique ouverte (fermée dans la base d'essai) et lit les mêmes évaluations que la fiche.
    from perr_metrics import ui
    pages = [] if args.sans_pages else args.pages or [
        Path(f).name for f in ui.pages_du_role("administrateur") if f != "pages/indicateurs_publies.py"]
    print(f"Base {args.db} : {taille[0]:,} valeurs ; protocole {protocole} : {taille[1]:,} valeurs, {taille[2]} "
          f"quartiers, {taille[3]} dépôts ; période {args.periode}.".replace(",", "\u202f"), flush=True)
    agregat_nu(store, protocole, 2)   # mise en route (fichier en cache)
    avant = modules_a_la_revision(args.comparer_a, args.modules) if args.modules else None
    resultats = []
    for page in pages:
        nu = agregat_nu(store, protocole)
        try:
            r = mesurer_page(page, args.db, protocole, args.periode, args.repetitions, args.repetitions_apptest,
                             avant)
        except Exception:  # noqa: BLE001 - on mesure les autres pages
            r = dict(page=page, erreurs=[traceback.format_exc(limit=3)[-600:]])
        r["agregat_nu_s"] = nu
        if "lectures_s" in r:
            print(f"  {page} : lectures {r['lectures_s']:.3f} s (agrégat nu juste avant : {nu:.3f} s), AppTest "
                  f"{r['froid_s']:.2f} s à froid, {r['chaud_s']:.2f} s à chaud"
                  + (f" ; à {args.comparer_a} : {r['lectures_avant_s']:.3f} s" if "lectures_avant_s" in r else ""),
                  flush=True)
        else:
            print(f"  {page} : non mesurée\n{r['erreurs'][0]}", flush=True)
        resultats.append(r)
    # La référence : le meilleur agrégat nu de tout le run (chaque durée est un meilleur de N ; le minimum du run est
    # l'estimation la moins dérangée par les autres processus de la machine).
    nu_run = min([r["agregat_nu_s"] for r in resultats] + [agregat_nu(store, protocole)])
    for r in resultats:
        if "lectures_s" in r:
            r["ratio_lectures"] = r["lectures_s"] / nu_run
            r["ratio_par_connexion"] = r["lectures_par_connexion_s"] / nu_run
            if "lectures_avant_s" in r:
                r["ratio_avant"] = r["lectures_avant_s"] / nu_run

    print(f"\nPages sur la base nationale — {info['date']}, {info['coeurs']} cœurs, charge "
          f"{info['charge_1min_au_debut']:.1f} au début ; protocole {protocole} ({taille[1]:,} valeurs sur "
          f"{taille[0]:,}), période {args.periode} ; agrégat nu : {nu_run:.3f} s (meilleur du run)\n"
          .replace(",", "\u202f"))
    lignes = []
    for r in resultats:
        if "lectures_s" not in r:
            lignes.append(dict(page=r["page"], objectif="erreur"))
            continue
        ok = r["ratio_lectures"] <= 3 and r["froid_s"] <= 2
        lignes.append(dict(
            page=r["page"], n=f"{r['nb_lectures']} ({r['nb_appels']})", lect=nombre(r["lectures_s"], 3),
            ratio=f"× {nombre(r['ratio_lectures'], 1)}", session=f"× {nombre(r['ratio_par_connexion'], 1)}",
            froid=nombre(r["froid_s"]), base=nombre(r["base_pendant_froid_s"]), ouv=str(r["ouvertures_froid"]),
            chaud=nombre(r["chaud_s"]), objectif=("atteint" if ok else "non atteint") + (" (erreur)" if r["erreurs"] else "")))
        if "lectures_avant_s" in r:
            lignes[-1].update(avant=f"{nombre(r['lectures_avant_s'], 3)} (× {nombre(r['ratio_avant'], 2)})",
                              apres=f"× {nombre(r['ratio_lectures'], 2)}",
                              ecart=f"{100 * (r['lectures_s'] / r['lectures_avant_s'] - 1):+.0f} %".replace("-", "−")
                              + (" *" if r["absentes_a_la_revision"] else ""))
    colonnes = [("page", "Page"), ("n", "Lectures (appels)"), ("lect", "Lectures (s)"),
                ("ratio", "Rapport à l'agrégat nu"), ("session", "Une connexion par lecture"),
                ("froid", "AppTest à froid (s)"), ("base", "dont base (s)"), ("ouv", "Ouvertures"),
                ("chaud", "À chaud (s)"), ("objectif", "Objectifs ≤ 3× et ≤ 2 s")]
    if avant is not None:
        colonnes[3:4] = [("avant", f"À {args.comparer_a} (s, rapport)"), ("apres", "Aujourd'hui (rapport)"),
                         ("ecart", "Écart")]
    print(tableau(lignes, colonnes))
    if avant is not None:
        print(f"Lectures rejouées en alternance avec {', '.join(args.modules)} à {args.comparer_a} ; meilleur de "
              f"{args.repetitions} de chaque côté. * : une lecture absente à la révision, rejouée telle "
              f"qu'aujourd'hui des deux côtés.")
    comparaison = None
    if args.comparer_a:
        print(f"\nFonctions du cœur, avant ({args.comparer_a}) et après, alternées — meilleur de "
              f"{max(args.repetitions, 3)} essais :", flush=True)
        comparaison = comparer(store, protocole, args.periode, args.comparer_a, max(args.repetitions, 3))
        print()
        print(tableau([dict(f=c["fonction"], a=nombre(c["avant_s"], 3), n=nombre(c["apres_s"], 3),
                            g=f"× {nombre(c['gain'], 1)}") for c in comparaison],
                      [("f", "Fonction"), ("a", "Avant (s)"), ("n", "Après (s)"), ("g", "Gain")]))
    try:
        info["charge_1min_a_la_fin"] = os.getloadavg()[0]
    except OSError:  # pragma: no cover
        pass
    print(f"Charge (1 min) : {info['charge_1min_au_debut']} au début, {info.get('charge_1min_a_la_fin')} à la fin.")
    ecrire_json(args.json, dict(banc="pages", machine=info, base=str(args.db), protocole=protocole,
                                periode=args.periode, valeurs_total=taille[0], valeurs_protocole=taille[1],
                                sql_agregat_nu=SQL_NU, agregat_nu_s=nu_run, resultats=resultats,
                                comparaison=comparaison))
    return 0


if __name__ == "__main__":
    sys.exit(main())
