"""`python -m perr_metrics …` : la ligne de commande de la coordination (et des partenaires).

Chaque commande qui lit ou écrit la base agit au nom d'un compte : `--utilisateur IDENTIFIANT` (ou $PERR_UTILISATEUR)
et son mot de passe ($PERR_MOT_DE_PASSE, sinon demandé au terminal). Les droits du compte s'appliquent comme dans le
tableau de bord (un contributeur ne dépose que pour son signataire). Sans compte : `init`, `referentiel modele`, la
construction d'une base d'essai neuve (`demo`) et la création du premier administrateur d'une base qui n'en a aucun.

Codes de sortie : 0 succès ; 1 entrée refusée, opération impossible ou interdite, connexion refusée (message en français
sur la sortie d'erreur, ou `{"statut": "rejete", "erreurs": [...]}` avec `--json`) ; 2 erreur d'utilisation.
"""
from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path

import pandas as pd

from perr_metrics.referentiel import requetes
from perr_metrics.acces import sauvegarde
from perr_metrics.acces.comptes import CompteRefuse, ConnexionRefusee
from perr_metrics.stockage.magasin import BaseOccupee, ErreurBase, Store
from perr_metrics.acces.droits import ROLES, SYSTEME, AccesRefuse
from perr_metrics.commun.formats import format_nombre, format_pourcent
from perr_metrics.commun.erreurs import ImportRefuse, Rapport


class _Parser(argparse.ArgumentParser):
    """argparse, avec des messages d'erreur d'utilisation en français et le code de sortie 2."""

    def __init__(self, *args, **kwargs):
        kwargs["add_help"] = False
        super().__init__(*args, **kwargs)
        self.add_argument("-h", "--help", action="help", help="affiche cette aide et s'arrête")

    def error(self, message: str):  # noqa: D401 - signature d'argparse
        traductions = {
            "the following arguments are required": "arguments obligatoires manquants",
            "unrecognized arguments": "arguments non reconnus",
            "invalid choice": "choix invalide",
            "expected one argument": "une valeur est attendue",
            "argument ": "option ",
        }
        for en, fr in traductions.items():
            message = message.replace(en, fr)
        self.print_usage(sys.stderr)
        self.exit(2, f"Erreur d'utilisation : {message}\n")


def _date_au(texte: str):
    """`--au 2023-03-31` : une date AAAA-MM-JJ."""
    import datetime as dt
    try:
        return dt.date.fromisoformat(texte.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"date « {texte} » illisible : attendu AAAA-MM-JJ (par exemple 2023-03-31)")


def _annee(texte: str) -> int:
    if not texte.strip().isdigit() or len(texte.strip()) != 4:
        raise argparse.ArgumentTypeError(f"année attendue (par exemple 2021), reçu « {texte} »")
    return int(texte)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m perr_metrics",
                description="Tableau de bord des protocoles d'engagements renforcés et réciproques.")
    p.add_argument("--db", help="chemin de la base DuckDB (par défaut : $PERR_DB ou data/perr.duckdb)")
    p.add_argument("--utilisateur", metavar="IDENTIFIANT",
                   help="le compte au nom duquel agir (par défaut : $PERR_UTILISATEUR) ; mot de passe : "
                        "$PERR_MOT_DE_PASSE, sinon demandé")
    sous = p.add_subparsers(dest="commande", metavar="COMMANDE", parser_class=_Parser)
    sous.required = True
    ajouter = sous.add_parser

    def add_parser(*a, **k):   # --utilisateur accepté aussi après la commande
        sp = ajouter(*a, **k)
        sp.add_argument("--utilisateur", metavar="IDENTIFIANT", default=argparse.SUPPRESS,
                        help="le compte au nom duquel agir")
        return sp
    sous.add_parser = add_parser

    s = sous.add_parser("init", help="crée la base (et charge la démonstration avec --demo)")
    s.add_argument("--demo", action="store_true", help="charge les protocoles de démonstration (Troyes, Blois)")

    s = sous.add_parser("protocoles", help="liste les protocoles")
    s.add_argument("--json", action="store_true")

    s = sous.add_parser("signataires", help="liste les signataires d'un protocole")
    s.add_argument("--protocole", required=True)
    s.add_argument("--json", action="store_true")

    s = sous.add_parser("indicateurs", help="liste les indicateurs d'un protocole")
    s.add_argument("--protocole", required=True)
    s.add_argument("--signataire", help="seulement ceux que déclare ce signataire")
    s.add_argument("--json", action="store_true")

    s = sous.add_parser("referentiel", help="modèle, import et export du classeur de référentiel")
    ref = s.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    ref.required = True
    r = ref.add_parser("modele", help="écrit le classeur vierge (instructions et listes déroulantes)")
    r.add_argument("fichier")
    r = ref.add_parser("importer", help="importe un classeur (crée ou met à jour un protocole), tout ou rien")
    r.add_argument("fichier")
    r.add_argument("--json", action="store_true")
    r = ref.add_parser("exporter", help="exporte un protocole dans un classeur")
    r.add_argument("--protocole", required=True)
    r.add_argument("fichier")

    s = sous.add_parser("modele", help="écrit le modèle de dépôt pré-rempli d'un signataire pour une période")
    s.add_argument("--protocole", required=True)
    s.add_argument("--signataire", required=True)
    s.add_argument("--periode", required=True, help="année (2021) ou semestre (2021-S1)")
    s.add_argument("fichier")

    s = sous.add_parser("depot", help="dépose un fichier de valeurs (modèle ou table longue), tout ou rien")
    s.add_argument("fichier")
    s.add_argument("--protocole", required=True)
    s.add_argument("--signataire", required=True)
    s.add_argument("--periode", help="année ou semestre du dépôt (par défaut : celle du modèle ou du fichier)")
    s.add_argument("--accepter-avertissements", action="store_true",
                   help="enregistre malgré les avertissements de vraisemblance")
    s.add_argument("--json", action="store_true")

    s = sous.add_parser("completude", help="ce que chaque signataire devait envoyer, ce qui est arrivé")
    s.add_argument("--protocole", required=True)
    s.add_argument("--periode", required=True)
    s.add_argument("--json", action="store_true")

    s = sous.add_parser("revue", help="marque un dépôt « validé » ou « à corriger »")
    s.add_argument("depot", type=int)
    s.add_argument("--statut", required=True, choices=["validé", "à-corriger"])
    s.add_argument("--commentaire")

    s = sous.add_parser("qpv", help="contours des quartiers (GeoJSON officiel de l'ANCT)")
    qpv = s.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    qpv.required = True
    r = qpv.add_parser("importer", help="importe les contours (remplace les précédents), tout ou rien")
    r.add_argument("fichier", help="FeatureCollection GeoJSON (ou archive .zip) aux propriétés code_qp, lib_qp")
    r.add_argument("--json", action="store_true")

    s = sous.add_parser("engagement", help="suivi de l'état des engagements")
    eng = s.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    eng.required = True
    r = eng.add_parser("etat", help="enregistre un nouvel état d'un engagement")
    r.add_argument("--protocole", required=True)
    r.add_argument("--engagement", required=True)
    r.add_argument("--etat", required=True, help="non démarré, en cours, réalisé, reporté ou abandonné")
    r.add_argument("--date", help="date de l'état (12/02/2021 ou 2021-02-12 ; par défaut aujourd'hui)")
    r.add_argument("--commentaire")

    s = sous.add_parser("demo", help="construit une base d'essai fictive (régionale ou nationale : 10 millions de valeurs)")
    s.add_argument("--echelle", choices=["regionale", "nationale"], default="regionale",
                   help="regionale : 40 protocoles, 1 million de valeurs ; nationale : 435 protocoles, 10 millions")
    s.add_argument("--graine", type=int, default=2024, help="graine du tirage (même graine, même base)")
    s.add_argument("--db", dest="db_demo", metavar="CHEMIN", help="base à créer (neuve ; par défaut --db ou $PERR_DB)")

    s = sous.add_parser("rapport", help="écrit le rapport annuel d'évaluation d'un protocole (PDF, Word ou Excel)")
    s.add_argument("--protocole", required=True)
    s.add_argument("--annee", required=True, type=_annee, help="année évaluée (dans la période du protocole)")
    s.add_argument("--format", choices=["pdf", "docx", "xlsx"],
                   help="pdf, docx ou xlsx (par défaut : l'extension du fichier)")
    s.add_argument("--au", type=_date_au, metavar="AAAA-MM-JJ",
                   help="date de l'état des engagements (par défaut : le 31 décembre de l'année évaluée)")
    s.add_argument("fichier")

    s = sous.add_parser("utilisateurs", help="comptes : ajouter, lister, désactiver, réactiver, changer un mot de passe")
    ut = s.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    ut.required = True
    r = ut.add_parser("ajouter", help="crée un compte (le premier d'une base neuve : un administrateur, sans connexion)")
    r.add_argument("identifiant")
    r.add_argument("--nom", required=True, help="prénom et nom (ou service), tel qu'il figurera au journal")
    r.add_argument("--role", required=True, choices=list(ROLES))
    r.add_argument("--courriel", help="pour l'authentification unique (ProConnect…) : le courriel du compte")
    r.add_argument("--protocole", help="contributeur : le protocole de son signataire")
    r.add_argument("--signataire", help="contributeur : son signataire ou service (code)")
    r.add_argument("--sans-mot-de-passe", action="store_true",
                   help="compte qui n'entre que par l'authentification unique (courriel obligatoire)")
    r = ut.add_parser("lister", help="liste les comptes")
    r.add_argument("--json", action="store_true")
    r = ut.add_parser("desactiver", help="désactive un compte (ses traces restent)")
    r.add_argument("identifiant")
    r = ut.add_parser("activer", help="réactive un compte désactivé")
    r.add_argument("identifiant")
    r = ut.add_parser("mot-de-passe", help="change le mot de passe d'un compte (le nouveau : $PERR_NOUVEAU_MOT_DE_PASSE "
                                           "ou demandé)")
    r.add_argument("identifiant")

    s = sous.add_parser("journal", help="le journal : connexions, dépôts, revues, imports, comptes, états")
    s.add_argument("--depuis", help="date de début (2024-03-01 ou 01/03/2024)")
    s.add_argument("--jusqu-a", dest="jusqua", help="date de fin, incluse")
    s.add_argument("--compte", help="seulement ce compte")
    s.add_argument("--action", help="seulement cette action (connexion, dépôt, revue de dépôt…)")
    s.add_argument("--csv", metavar="FICHIER", help="écrit le journal filtré en CSV (séparateur « ; »)")
    s.add_argument("--json", action="store_true")

    s = sous.add_parser("publication", help="la vue publique : ouvrir, fermer, publier ou retirer des indicateurs")
    pu = s.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    pu.required = True
    pu.add_parser("ouvrir", help="ouvre la vue publique (fermée par défaut)")
    pu.add_parser("fermer", help="ferme la vue publique")
    for nom, aide in (("publier", "publie des indicateurs"), ("retirer", "retire des indicateurs de la vue publique")):
        r = pu.add_parser(nom, help=aide)
        r.add_argument("--protocole", required=True)
        r.add_argument("indicateurs", nargs="+", metavar="INDICATEUR")

    s = sous.add_parser("sauvegarde", help="sauvegarde toute la base dans un dossier neuf")
    s.add_argument("dossier")
    s = sous.add_parser("restauration", help="remplace la base par une sauvegarde")
    s.add_argument("dossier")
    return p


def _afficher(df: pd.DataFrame, colonnes: list[str], en_json: bool) -> None:
    if en_json:
        propre = df[colonnes].astype(object).where(df[colonnes].notna(), None)
        print(json.dumps(propre.to_dict("records"), ensure_ascii=False, indent=2, default=str))
    elif df.empty:
        print("(aucun)")
    else:
        print(df[colonnes].to_string(index=False))


def _refus(rapport: Rapport, en_json: bool, message: str) -> int:
    if en_json:
        print(json.dumps({
            "statut": "rejete",
            "erreurs": [dict(feuille=p.feuille, cellule=p.cellule, code=p.code, message=p.message, valeur=p.valeur)
                        for p in rapport.erreurs],
            "avertissements": [dict(feuille=p.feuille, cellule=p.cellule, code=p.code, message=p.message,
                                    valeur=p.valeur) for p in rapport.avertissements],
        }, ensure_ascii=False, indent=2))
    print(message, file=sys.stderr)
    print(rapport.texte(), file=sys.stderr)
    return 1


def _depot(args, store: Store) -> int:
    from perr_metrics.depots.depot import deposer
    chemin = Path(args.fichier)
    if not chemin.is_file():
        print(f"Le fichier {chemin} n'existe pas.", file=sys.stderr)
        return 1
    res = deposer(store, chemin.read_bytes(), chemin.name, protocole=args.protocole, signataire=args.signataire,
                  periode=args.periode, accepter_avertissements=args.accepter_avertissements)
    if args.json:
        print(json.dumps(res.as_dict(), ensure_ascii=False, indent=2))
    if res.rapport.problemes:
        print(res.rapport.texte(), file=sys.stderr)
    if res.statut == "accepte":
        if not args.json:
            modifiees = int((res.changements["nature"] == "modifiée").sum()) if not res.changements.empty else 0
            print(f"Dépôt n° {res.depot_id} enregistré : {res.nb_valeurs} valeurs ({modifiees} modifiée(s) par "
                  "rapport aux valeurs précédentes).")
        return 0
    if res.statut == "deja-depose":
        print(f"Ce fichier a déjà été déposé (dépôt n° {res.depot_id}) : rien de nouveau n'a été enregistré.",
              file=sys.stderr)
        return 0
    if res.statut == "a-confirmer":
        print("Rien n'a été enregistré : vérifiez les avertissements ci-dessus, puis relancez avec "
              "--accepter-avertissements pour confirmer.", file=sys.stderr)
        return 1
    print("Fichier refusé : rien n'a été enregistré.", file=sys.stderr)
    return 1


def _rapport(args, store: Store) -> int:
    import io

    from . import rapport
    fmt = args.format or Path(args.fichier).suffix.lower().lstrip(".")
    if fmt not in rapport.FORMATS:
        print("Erreur d'utilisation : précisez --format pdf, docx ou xlsx (ou un fichier .pdf, .docx, .xlsx).",
              file=sys.stderr)
        return 2
    try:
        r = rapport.construire_rapport(store, args.protocole, args.annee, au=args.au)
        flux = io.BytesIO()   # écrit d'un coup : jamais de fichier à moitié écrit
        rapport.ecrire(r, fmt, flux)
    except rapport.RapportImpossible as exc:
        print(str(exc), file=sys.stderr)
        return 1
    Path(args.fichier).write_bytes(flux.getvalue())
    if r.images_indisponibles and fmt != "xlsx":
        print(f"Graphiques remplacés par un encadré : {r.images_indisponibles}.", file=sys.stderr)
    taille = len(flux.getvalue()) / 1024
    print(f"{r.titre} du protocole {args.protocole} écrit : {args.fichier} ({fmt.upper()}, "
          f"{format_nombre(taille, 0)} Ko).")
    return 0


class _Sortie(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


def _secret(variable: str, invite: str, confirmer: bool = False) -> str:
    """Un mot de passe : depuis la variable d'environnement, sinon demandé au terminal (sans écho)."""
    valeur = os.environ.get(variable)
    if valeur is not None:
        return valeur
    if not sys.stdin.isatty():
        raise _Sortie(1, f"Mot de passe manquant : donnez-le dans la variable {variable} (ou lancez la commande "
                         "dans un terminal, qui le demandera).")
    valeur = getpass.getpass(invite)
    if confirmer and getpass.getpass("Confirmez : ") != valeur:
        raise _Sortie(1, "Les deux saisies du mot de passe diffèrent : rien n'a été changé.")
    return valeur


def _connecter(args, store: Store) -> Store:
    """Le magasin au nom du compte de la commande, après vérification de son mot de passe (journalisée)."""
    from perr_metrics.acces.comptes import authentifier
    ident = getattr(args, "utilisateur", None) or os.environ.get("PERR_UTILISATEUR")
    if not ident:
        raise _Sortie(1, "Indiquez votre compte : --utilisateur IDENTIFIANT (ou la variable PERR_UTILISATEUR), et "
                         "son mot de passe dans PERR_MOT_DE_PASSE ou au terminal. Une base neuve : créez d'abord son "
                         "administrateur (python -m perr_metrics utilisateurs ajouter …).")
    mdp = _secret("PERR_MOT_DE_PASSE", f"Mot de passe de {ident} : ")
    return store.pour(authentifier(store, ident, mdp, origine="ligne de commande"))


def _sans_compte(args, store: Store) -> bool:
    """Les commandes permises sans compte : elles n'exposent ni ne changent aucune donnée d'une base habitée."""
    c = args.commande
    if c == "referentiel" and args.action == "modele":
        return True
    if c == "demo":      # une base d'essai neuve (`construire` refuse une base qui a des protocoles)
        return _aucun_compte(store)
    if c == "init":
        return not args.demo or _aucun_compte(store)
    if c == "utilisateurs" and args.action == "ajouter":
        return _aucun_compte(store)
    return False


def _aucun_compte(store: Store) -> bool:
    from perr_metrics.acces.comptes import aucun_compte
    store.initialiser()
    return aucun_compte(store)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    store = Store(args.db_demo if args.commande == "demo" and args.db_demo else args.db)
    try:
        if _sans_compte(args, store):
            store = store.pour(SYSTEME)
        else:
            store = _connecter(args, store)
        return _executer(args, store)
    except _Sortie as exc:
        print(str(exc), file=sys.stderr)
        return exc.code
    except (BaseOccupee, ErreurBase, ConnexionRefusee, AccesRefuse, CompteRefuse) as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except requetes.ProtocoleInconnu as exc:
        print(str(exc), file=sys.stderr)
        return 1


def _utilisateurs(args, store: Store) -> int:
    from perr_metrics.acces import comptes
    if args.action == "ajouter":
        premier = store.utilisateur.systeme
        if premier and args.role != "administrateur":
            raise _Sortie(1, "Cette base n'a encore aucun compte : le premier doit être un administrateur "
                             "(--role administrateur).")
        mdp = None if args.sans_mot_de_passe else _secret(
            "PERR_NOUVEAU_MOT_DE_PASSE", f"Mot de passe du compte {args.identifiant} : ", confirmer=True)
        if premier:
            u = comptes.creer_premier_administrateur(store, args.identifiant, args.nom, mdp, args.courriel)
        else:
            u = comptes.creer_compte(store, args.identifiant, args.nom, args.role, mdp, courriel=args.courriel,
                                     protocole=args.protocole, signataire=args.signataire)
        print(f"Compte « {u.identifiant} » créé ({u.role}{', ' + u.signataire if u.signataire else ''}).")
        return 0
    if args.action == "lister":
        df = comptes.lister_comptes(store)
        _afficher(df, ["identifiant", "nom", "role", "protocole", "signataire", "courriel", "actif",
                       "derniere_connexion"], args.json)
        return 0
    if args.action in ("desactiver", "activer"):
        comptes.activer_compte(store, args.identifiant, args.action == "activer")
        print(f"Compte « {args.identifiant} » {'réactivé' if args.action == 'activer' else 'désactivé'}.")
        return 0
    if args.action == "mot-de-passe":
        nouveau = _secret("PERR_NOUVEAU_MOT_DE_PASSE", f"Nouveau mot de passe de {args.identifiant} : ",
                          confirmer=True)
        ancien = os.environ.get("PERR_MOT_DE_PASSE")
        comptes.changer_mot_de_passe(store, args.identifiant, nouveau, ancien)
        print(f"Mot de passe du compte « {args.identifiant} » changé.")
        return 0
    raise AssertionError(args.action)  # pragma: no cover


def _journal(args, store: Store) -> int:
    from perr_metrics.commun.exports import vers_csv
    from perr_metrics.commun.formats import lire_date
    from perr_metrics.acces.journal import lire_journal
    try:
        debut = lire_date(args.depuis) if args.depuis else None
        fin = lire_date(args.jusqua) if args.jusqua else None
    except (ValueError, TypeError):
        raise _Sortie(2, "Erreur d'utilisation : date illisible (écrivez 2024-03-01 ou 01/03/2024).") from None
    df = lire_journal(store, debut=debut, fin=fin, compte=args.compte, action=args.action, limite=None)
    if args.csv:
        Path(args.csv).write_bytes(vers_csv(df))
        print(f"{len(df)} ligne(s) du journal écrites : {args.csv}")
        return 0
    _afficher(df, ["horodatage", "compte", "role", "action", "resultat", "protocole", "objet", "detail"], args.json)
    return 0


def _publication(args, store: Store) -> int:
    from perr_metrics.pilotage import publication
    if args.action in ("ouvrir", "fermer"):
        publication.ouvrir_vue_publique(store, args.action == "ouvrir")
        print(f"Vue publique {'ouverte' if args.action == 'ouvrir' else 'fermée'}.")
        return 0
    try:
        n = publication.publier(store, args.protocole, args.indicateurs, args.action == "publier")
    except KeyError as exc:
        raise _Sortie(1, exc.args[0]) from None
    print(f"{n} indicateur(s) {'publié(s)' if args.action == 'publier' else 'retiré(s) de la vue publique'}.")
    return 0


def _executer(args, store: Store) -> int:
    c = args.commande
    if c == "init":
        version = store.initialiser()
        print(f"Base {store.chemin} prête (schéma version {version}).")
        if args.demo:
            from perr_metrics.demo.demonstration import charger_demo
            codes = charger_demo(store)
            print(f"Démonstration chargée : {', '.join(codes)}.")
        return 0
    if c == "utilisateurs":
        return _utilisateurs(args, store)
    if c == "journal":
        return _journal(args, store)
    if c == "publication":
        return _publication(args, store)
    if c == "protocoles":
        _afficher(requetes.protocoles(store), ["code", "libelle", "territoire", "annee_debut", "annee_fin",
                                               "nb_engagements", "nb_indicateurs"], args.json)
        return 0
    if c == "signataires":
        _afficher(requetes.signataires(store, args.protocole),
                  ["code", "libelle", "categorie", "rattache_a", "signe", "nb_engagements", "nb_indicateurs"],
                  args.json)
        return 0
    if c == "indicateurs":
        _afficher(requetes.indicateurs(store, args.protocole, args.signataire),
                  ["code", "libelle", "unite", "signataire", "niveau", "agregation", "sens", "periodicite"], args.json)
        return 0
    if c == "referentiel":
        from perr_metrics.referentiel import classeur as referentiel
        if args.action == "modele":
            referentiel.ecrire_modele(args.fichier)
            print(f"Modèle vierge écrit : {args.fichier}")
            return 0
        if args.action == "importer":
            if not Path(args.fichier).exists():
                print(f"Le fichier {args.fichier} n'existe pas.", file=sys.stderr)
                return 1
            try:
                res = referentiel.importer_referentiel(store, args.fichier)
            except ImportRefuse as exc:
                return _refus(exc.rapport, args.json, f"Classeur refusé : {exc}")
            if args.json:
                print(json.dumps({"statut": "accepte", "protocole": res.protocole, "cree": res.cree,
                                  "erreurs": [], "avertissements": [p.as_dict() for p in res.rapport.avertissements],
                                  "compte": res.compte}, ensure_ascii=False, indent=2))
            else:
                quoi = "créé" if res.cree else "mis à jour"
                print(f"Protocole {res.protocole} {quoi} : {res.compte['noeud']} nœuds, {res.compte['engagement']} "
                      f"engagements, {res.compte['indicateur']} indicateurs, {res.compte['signataire']} signataires.")
                if res.rapport.avertissements:
                    print(res.rapport.texte(), file=sys.stderr)
            return 0
        if args.action == "exporter":
            requetes.protocole(store, args.protocole)
            referentiel.exporter_referentiel(store, args.protocole, args.fichier)
            print(f"Protocole {args.protocole} exporté : {args.fichier}")
            return 0
    if c == "modele":
        from perr_metrics.depots.modele import ModeleImpossible, ecrire_modele_depot
        try:
            n = ecrire_modele_depot(store, args.protocole, args.signataire, args.periode, args.fichier)
        except ModeleImpossible as exc:
            print(str(exc), file=sys.stderr)
            return 1
        print(f"Modèle écrit : {args.fichier} ({n} valeur{'s' if n > 1 else ''} attendue{'s' if n > 1 else ''}).")
        return 0
    if c == "depot":
        return _depot(args, store)
    if c == "completude":
        from perr_metrics.depots.depot import completude
        try:
            comp = completude(store, args.protocole, args.periode)
        except ValueError as exc:
            print(str(exc), file=sys.stderr)
            return 1
        if args.json:
            print(json.dumps(comp.as_dict(), ensure_ascii=False, indent=2, default=str))
        else:
            df = comp.par_signataire.copy()
            df["taux"] = df["taux"].map(lambda x: format_pourcent(x))
            print(f"Complétude {args.protocole} — {args.periode} : {int(df['recus'].sum())} valeurs reçues sur "
                  f"{int(df['attendus'].sum())} attendues.")
            print(df[["signataire", "nom", "attendus", "recus", "taux", "statut"]].to_string(index=False))
            if comp.en_retard:
                print(f"En retard : {', '.join(comp.en_retard)}")
        return 0
    if c == "revue":
        from perr_metrics.depots.depot import revoir_depot
        try:
            revoir_depot(store, args.depot, args.statut.replace("-", " "), args.commentaire)
        except KeyError as exc:
            print(exc.args[0], file=sys.stderr)
            return 1
        print(f"Dépôt n° {args.depot} marqué « {args.statut.replace('-', ' ')} ».")
        return 0
    if c == "qpv":
        from perr_metrics.pilotage.geo import importer_contours
        if not Path(args.fichier).is_file():
            print(f"Le fichier {args.fichier} n'existe pas.", file=sys.stderr)
            return 1
        try:
            res = importer_contours(store, args.fichier)
        except ImportRefuse as exc:
            return _refus(exc.rapport, args.json, f"Fichier des contours refusé : {exc}")
        if args.json:
            print(json.dumps({"statut": "accepte", "contours": res.nb_contours, "remplaces": res.nb_precedents,
                              "avertissements": [p.as_dict() for p in res.rapport.avertissements],
                              "protocoles": res.couverture.to_dict("records")}, ensure_ascii=False, indent=2))
        else:
            print(f"{res.nb_contours} contours importés ({res.nb_precedents} remplacés).")
            for r in res.couverture.itertuples():
                manque = f" ; sans contour : {r.sans_contour}" if r.sans_contour else ""
                print(f"  {r.protocole} : {r.nb_avec_contour} quartier(s) sur {r.nb_quartiers} ont un contour{manque}")
            if res.rapport.avertissements:
                print(res.rapport.texte(), file=sys.stderr)
        return 0
    if c == "engagement":
        import datetime as dt

        from perr_metrics.pilotage.suivi import EtatRefuse, enregistrer_etat
        try:
            ligne = enregistrer_etat(store, args.protocole, args.engagement, args.etat, args.date or dt.date.today(),
                                     args.commentaire)
        except EtatRefuse as exc:
            print(f"Refusé [{exc.code}] : {exc}", file=sys.stderr)
            return 1
        from perr_metrics.commun.formats import format_date
        print(f"Engagement {args.engagement} : « {ligne['etat']} » au {format_date(ligne['date_etat'])} enregistré.")
        return 0
    if c == "demo":
        from perr_metrics.demo.nationale import construire
        cible = store
        print(f"Construction de la base d'essai {args.echelle} (graine {args.graine}) dans {cible.chemin}…")
        try:
            bilan = construire(cible, args.echelle, args.graine, progression=lambda m: print(f"  {m}", flush=True))
        except ValueError as exc:
            print(str(exc), file=sys.stderr)
            return 1
        n = bilan.comptes
        print(f"Base d'essai prête en {bilan.duree:.0f} s : {n['protocole']} protocoles, {n['indicateur']} indicateurs, "
              f"{n['depot']} dépôts, {n['valeur']} valeurs.")
        return 0
    if c == "rapport":
        return _rapport(args, store)
    if c == "sauvegarde":
        try:
            dossier = sauvegarde.sauvegarder(store, args.dossier)
        except ValueError as exc:
            print(str(exc), file=sys.stderr)
            return 1
        print(f"Sauvegarde écrite dans {dossier}")
        return 0
    if c == "restauration":
        try:
            version = sauvegarde.restaurer(store, args.dossier)
        except ValueError as exc:
            print(str(exc), file=sys.stderr)
            return 1
        print(f"Base {store.chemin} restaurée depuis {args.dossier} (schéma version {version}).")
        return 0
    raise AssertionError(c)  # pragma: no cover
