"""`python -m perr_metrics …` : la ligne de commande de la coordination (et des partenaires).

Chaque commande qui lit ou écrit la base agit au nom d'un compte : `--utilisateur IDENTIFIANT` (ou $PERR_UTILISATEUR)
et son mot de passe ($PERR_MOT_DE_PASSE, sinon demandé au terminal). Les droits du compte s'appliquent comme dans le
tableau de bord (un contributeur ne dépose que pour son signataire). Sans compte : `init`, `referentiel modele`, la
construction d'une base d'essai neuve (`demo`) et la création du premier administrateur d'une base qui n'en a aucun.

Codes de sortie : 0 succès ; 1 entrée refusée, opération impossible ou interdite, connexion refusée (message en français
sur la sortie d'erreur, ou `{"statut": "rejete", "erreurs": [...]}` avec `--json`) ; 2 erreur d'utilisation ; 3 erreur
inattendue (un message en français avec une référence ; la trace complète au journal des erreurs et une ligne au journal,
voir `acces.incidents` ; jamais de trace Python à l'écran) ; 130 interrompu (Ctrl+C) ; 141 sortie fermée avant la fin
(`… | head`), sans message.

Les listes s'écrivent en tableau aligné à la française (`commun.exports.vers_texte`), ou en JSON avec `--json`.
"""
from __future__ import annotations

import argparse
import contextlib
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
from perr_metrics.commun.exports import vers_texte
from perr_metrics.commun.formats import format_nombre, format_pourcent
from perr_metrics.commun.erreurs import ImportRefuse, Rapport


# --------------------------------------------------------------------------------------------------------------------
# argparse en français. argparse traduit chacun de ses textes par `argparse._` (gettext) au moment où il s'en sert :
# en-têtes et aide de -h à la construction de l'analyseur, « usage: » à l'écriture de l'aide, messages d'erreur pendant
# l'analyse. `_en_francais()` y substitue le temps de ces appels (puis rend l'original : le reste du processus, pytest
# compris, n'en voit rien) une traduction par identifiant de message, celle de gettext, stable d'une version de Python à
# l'autre ; un identifiant inconnu (une future version) resterait en anglais, et tests/core/test_cli.py le verrait.
# --------------------------------------------------------------------------------------------------------------------

_TRADUCTIONS = {
    "usage: ": "Utilisation : ",
    "positional arguments": "Arguments",
    "options": "Options",
    "optional arguments": "Options",
    "subcommands": "Sous-commandes",
    "show this help message and exit": "affiche cette aide et s'arrête",
    "show program's version number and exit": "affiche la version et s'arrête",
    "argument %(argument_name)s: %(message)s": "argument %(argument_name)s : %(message)s",
    "unknown parser %(parser_name)r (choices: %(choices)s)":
        "commande inconnue : « %(parser_name)s » (possibles : %(choices)s)",
    "invalid choice: %(value)r (choose from %(choices)s)": "choix invalide : « %(value)s » (possibles : %(choices)s)",
    "invalid choice: %(value)r, maybe you meant %(closest)r? (choose from %(choices)s)":
        "choix invalide : « %(value)s » (vouliez-vous dire « %(closest)s » ? possibles : %(choices)s)",
    "invalid %(type)s value: %(value)r": "valeur invalide (%(type)s attendu) : « %(value)s »",
    "the following arguments are required: %s": "arguments obligatoires manquants : %s",
    "one of the arguments %s is required": "il faut l'un des arguments %s",
    "unrecognized arguments: %s": "arguments non reconnus : %s",
    "not allowed with argument %s": "incompatible avec l'argument %s",
    "ignored explicit argument %r": "valeur en trop : « %s »",
    "expected one argument": "une valeur est attendue",
    "expected at most one argument": "une valeur au plus est attendue",
    "expected at least one argument": "au moins une valeur est attendue",
    "ambiguous option: %(option)s could match %(matches)s": "option ambiguë : %(option)s peut désigner %(matches)s",
    "unexpected option string: %s": "option inattendue : %s",
    "can't open '%(filename)s': %(error)s": "impossible d'ouvrir « %(filename)s » : %(error)s",
    "%(prog)s: error: %(message)s\n": "%(prog)s : erreur : %(message)s\n",
    "option '%(option)s' is deprecated": "l'option « %(option)s » est abandonnée",
    "argument '%(argument_name)s' is deprecated": "l'argument « %(argument_name)s » est abandonné",
    "command '%(parser_name)s' is deprecated": "la commande « %(parser_name)s » est abandonnée",
}
_TRADUCTIONS_PLURIELS = {
    ("expected %s argument", "expected %s arguments"): ("%s valeur attendue", "%s valeurs attendues"),
}


def _traduire(message: str) -> str:
    return _TRADUCTIONS.get(message, message)


def _traduire_pluriel(singulier: str, pluriel: str, n: int) -> str:
    fr = _TRADUCTIONS_PLURIELS.get((singulier, pluriel))
    if fr is None:
        return singulier if n == 1 else pluriel
    return fr[0] if n in (0, 1) else fr[1]


@contextlib.contextmanager
def _en_francais():
    """argparse parle français le temps du bloc (réentrant ; un seul fil : la ligne de commande)."""
    avant = argparse._, argparse.ngettext
    argparse._, argparse.ngettext = _traduire, _traduire_pluriel
    try:
        yield
    finally:
        argparse._, argparse.ngettext = avant


class _Formateur(argparse.HelpFormatter):
    """Les en-têtes de l'aide à la française : « Options : »."""

    def start_section(self, heading):
        super().start_section(f"{heading} " if heading else heading)


class _Parser(argparse.ArgumentParser):
    """argparse en français (usage, en-têtes, aide, erreurs), erreurs d'utilisation en code de sortie 2."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _Formateur)
        with _en_francais():
            super().__init__(*args, **kwargs)

    def parse_args(self, *args, **kwargs):
        with _en_francais():
            return super().parse_args(*args, **kwargs)

    def parse_known_args(self, *args, **kwargs):
        with _en_francais():
            return super().parse_known_args(*args, **kwargs)

    def _check_value(self, action, value):
        # Comme argparse, les choix possibles écrits sans guillemets de Python.
        if action.choices is not None and value not in action.choices:
            possibles = ", ".join(map(str, action.choices))
            raise argparse.ArgumentError(action, f"choix invalide : « {value} » (possibles : {possibles})")

    def format_usage(self):
        with _en_francais():
            return super().format_usage()

    def format_help(self):
        with _en_francais():
            return super().format_help()

    def error(self, message: str):  # noqa: D401 - signature d'argparse
        self.print_usage(sys.stderr)
        self.exit(2, f"Erreur d'utilisation : {message}\nAide : {self.prog} --help\n")


def _entier(texte: str) -> int:
    try:
        return int(texte)
    except ValueError:
        raise argparse.ArgumentTypeError(f"nombre entier attendu, reçu « {texte} »") from None


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


_AIDE_JSON = "écrit le résultat en JSON (pour un script)"
_AIDE_PROTOCOLE = "code du protocole (python -m perr_metrics protocoles les liste)"


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m perr_metrics",
                description="Tableau de bord des protocoles d'engagements renforcés et réciproques.")
    p.add_argument("--db", metavar="CHEMIN", help="chemin de la base DuckDB (par défaut : $PERR_DB ou data/perr.duckdb)")
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
    s.add_argument("--json", action="store_true", help=_AIDE_JSON)

    s = sous.add_parser("signataires", help="liste les signataires d'un protocole")
    s.add_argument("--protocole", required=True, help=_AIDE_PROTOCOLE)
    s.add_argument("--json", action="store_true", help=_AIDE_JSON)

    s = sous.add_parser("indicateurs", help="liste les indicateurs d'un protocole")
    s.add_argument("--protocole", required=True, help=_AIDE_PROTOCOLE)
    s.add_argument("--signataire", help="seulement ceux que déclare ce signataire")
    s.add_argument("--json", action="store_true", help=_AIDE_JSON)

    s = sous.add_parser("referentiel", help="modèle, import et export du classeur de référentiel")
    ref = s.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    ref.required = True
    r = ref.add_parser("modele", help="écrit le classeur vierge (instructions et listes déroulantes)")
    r.add_argument("fichier", metavar="FICHIER", help="le classeur .xlsx à écrire")
    r = ref.add_parser("importer", help="importe un classeur (crée ou met à jour un protocole), tout ou rien")
    r.add_argument("fichier", metavar="FICHIER", help="le classeur de référentiel à importer (.xlsx)")
    r.add_argument("--json", action="store_true", help=_AIDE_JSON)
    r = ref.add_parser("exporter", help="exporte un protocole dans un classeur")
    r.add_argument("--protocole", required=True, help=_AIDE_PROTOCOLE)
    r.add_argument("fichier", metavar="FICHIER", help="le classeur .xlsx à écrire")
    r = ref.add_parser("brouillon", help="lit le protocole signé (.pdf, .docx, .odt, .txt, .md) et écrit un classeur "
                                         "du référentiel rempli, à vérifier puis importer")
    r.add_argument("protocole", metavar="PROTOCOLE", help="le texte du protocole signé (.pdf, .docx, .odt, .txt, .md)")
    r.add_argument("fichier", metavar="BROUILLON.xlsx", help="le classeur du brouillon à écrire")
    r.add_argument("--json", action="store_true", help=_AIDE_JSON)

    s = sous.add_parser("modele", help="écrit le modèle de dépôt pré-rempli d'un signataire pour une période")
    s.add_argument("--protocole", required=True, help=_AIDE_PROTOCOLE)
    s.add_argument("--signataire", required=True, help="code du signataire (ou service)")
    s.add_argument("--periode", required=True, help="année (2021) ou semestre (2021-S1)")
    s.add_argument("fichier", metavar="FICHIER", help="le classeur .xlsx à écrire")

    s = sous.add_parser("depot", help="dépose un fichier de valeurs (modèle ou table longue), tout ou rien")
    s.add_argument("fichier", metavar="FICHIER", help="le fichier de valeurs (modèle .xlsx rempli, ou table longue .xlsx ou .csv)")
    s.add_argument("--protocole", required=True, help=_AIDE_PROTOCOLE)
    s.add_argument("--signataire", required=True, help="code du signataire (ou service)")
    s.add_argument("--periode", help="année ou semestre du dépôt (par défaut : celle du modèle ou du fichier)")
    s.add_argument("--accepter-avertissements", action="store_true",
                   help="enregistre malgré les avertissements de vraisemblance")
    s.add_argument("--json", action="store_true", help=_AIDE_JSON)

    s = sous.add_parser("completude", help="ce que chaque signataire devait envoyer, ce qui est arrivé")
    s.add_argument("--protocole", required=True, help=_AIDE_PROTOCOLE)
    s.add_argument("--periode", required=True, help="année (2021) ou semestre (2021-S1)")
    s.add_argument("--json", action="store_true", help=_AIDE_JSON)

    s = sous.add_parser("revue", help="marque un dépôt « validé » ou « à corriger »")
    s.add_argument("depot", type=_entier, metavar="NUMERO", help="numéro du dépôt")
    s.add_argument("--statut", required=True, choices=["validé", "à-corriger"], help="validé ou à-corriger")
    s.add_argument("--commentaire", help="le commentaire joint à la revue (à corriger : quoi)")

    s = sous.add_parser("qpv", help="contours des quartiers (GeoJSON officiel de l'ANCT)")
    qpv = s.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    qpv.required = True
    r = qpv.add_parser("importer", help="importe les contours (remplace les précédents), tout ou rien")
    r.add_argument("fichier", metavar="FICHIER", help="FeatureCollection GeoJSON (ou archive .zip) aux propriétés code_qp, lib_qp")
    r.add_argument("--json", action="store_true", help=_AIDE_JSON)

    s = sous.add_parser("engagement", help="suivi de l'état des engagements")
    eng = s.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    eng.required = True
    r = eng.add_parser("etat", help="enregistre un nouvel état d'un engagement")
    r.add_argument("--protocole", required=True, help=_AIDE_PROTOCOLE)
    r.add_argument("--engagement", required=True, help="code de l'engagement (E001…)")
    r.add_argument("--etat", required=True, help="non démarré, en cours, réalisé, reporté ou abandonné")
    r.add_argument("--date", help="date de l'état (12/02/2021 ou 2021-02-12 ; par défaut aujourd'hui)")
    r.add_argument("--commentaire", help="le commentaire joint à l'état")
    r.add_argument("--confirmer-recul", action="store_true",
                   help="confirme un retour en arrière (quitter « réalisé », revenir à « non démarré »)")

    s = sous.add_parser("demo", help="construit une base d'essai fictive (régionale ou nationale : 10 millions de valeurs)")
    s.add_argument("--echelle", choices=["regionale", "nationale"], default="regionale",
                   help="regionale : 40 protocoles, 1 million de valeurs ; nationale : 435 protocoles, 10 millions")
    s.add_argument("--graine", type=_entier, metavar="N", default=2024, help="graine du tirage (même graine, même base)")
    s.add_argument("--db", dest="db_demo", metavar="CHEMIN", help="base à créer (neuve ; par défaut --db ou $PERR_DB)")

    s = sous.add_parser("rapport", help="écrit le rapport annuel d'évaluation d'un protocole (PDF, Word ou Excel)")
    s.add_argument("--protocole", required=True, help=_AIDE_PROTOCOLE)
    s.add_argument("--annee", required=True, type=_annee, help="année évaluée (dans la période du protocole)")
    s.add_argument("--format", choices=["pdf", "docx", "xlsx"],
                   help="pdf, docx ou xlsx (par défaut : l'extension du fichier)")
    s.add_argument("--au", type=_date_au, metavar="AAAA-MM-JJ",
                   help="date de l'état des engagements (par défaut : le 31 décembre de l'année évaluée)")
    s.add_argument("fichier", metavar="FICHIER", help="le fichier à écrire (.pdf, .docx ou .xlsx)")

    s = sous.add_parser("utilisateurs", help="comptes : ajouter, lister, désactiver, réactiver, changer un mot de passe")
    ut = s.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    ut.required = True
    r = ut.add_parser("ajouter", help="crée un compte (le premier d'une base neuve : un administrateur, sans connexion)")
    r.add_argument("identifiant", metavar="IDENTIFIANT", help="identifiant du compte")
    r.add_argument("--nom", required=True, help="prénom et nom (ou service), tel qu'il figurera au journal")
    r.add_argument("--role", required=True, choices=list(ROLES), help="le rôle du compte")
    r.add_argument("--courriel", help="pour l'authentification unique (ProConnect…) : le courriel du compte")
    r.add_argument("--protocole", help="contributeur : le protocole de son signataire")
    r.add_argument("--signataire", help="contributeur : son signataire ou service (code)")
    r.add_argument("--sans-mot-de-passe", action="store_true",
                   help="compte qui n'entre que par l'authentification unique (courriel obligatoire)")
    r = ut.add_parser("lister", help="liste les comptes")
    r.add_argument("--json", action="store_true", help=_AIDE_JSON)
    r = ut.add_parser("desactiver", help="désactive un compte (ses traces restent)")
    r.add_argument("identifiant", metavar="IDENTIFIANT", help="identifiant du compte")
    r = ut.add_parser("activer", help="réactive un compte désactivé")
    r.add_argument("identifiant", metavar="IDENTIFIANT", help="identifiant du compte")
    r = ut.add_parser("mot-de-passe", help="change le mot de passe d'un compte (le nouveau : $PERR_NOUVEAU_MOT_DE_PASSE "
                                           "ou demandé)")
    r.add_argument("identifiant", metavar="IDENTIFIANT", help="identifiant du compte")

    s = sous.add_parser("journal", help="le journal : connexions, dépôts, revues, imports, comptes, états")
    s.add_argument("--depuis", help="date de début (2024-03-01 ou 01/03/2024)")
    s.add_argument("--jusqu-a", dest="jusqua", help="date de fin, incluse")
    s.add_argument("--compte", help="seulement ce compte")
    s.add_argument("--action", help="seulement cette action (connexion, dépôt, revue de dépôt…)")
    s.add_argument("--csv", metavar="FICHIER", help="écrit le journal filtré en CSV (séparateur « ; »)")
    s.add_argument("--json", action="store_true", help=_AIDE_JSON)

    s = sous.add_parser("publication", help="la vue publique : ouvrir, fermer, publier ou retirer des indicateurs")
    pu = s.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    pu.required = True
    pu.add_parser("ouvrir", help="ouvre la vue publique (fermée par défaut)")
    pu.add_parser("fermer", help="ferme la vue publique")
    for nom, aide in (("publier", "publie des indicateurs"), ("retirer", "retire des indicateurs de la vue publique")):
        r = pu.add_parser(nom, help=aide)
        r.add_argument("--protocole", required=True, help=_AIDE_PROTOCOLE)
        r.add_argument("indicateurs", nargs="+", metavar="INDICATEUR", help="code d'un indicateur (plusieurs possibles)")

    s = sous.add_parser("sauvegarde", help="sauvegarde toute la base dans un dossier neuf")
    s.add_argument("dossier", metavar="DOSSIER", help="un dossier neuf (ou vide), où écrire la sauvegarde")
    s = sous.add_parser("restauration", help="remplace la base par une sauvegarde")
    s.add_argument("dossier", metavar="DOSSIER", help="le dossier d'une sauvegarde")
    return p


# Les listes : en-têtes en français, dans l'ordre affiché (les clés du JSON restent les noms des colonnes).
_ANNEE = {"annee_debut": str, "annee_fin": str}   # une année s'écrit sans séparateur de milliers
COLONNES_PROTOCOLES = {"code": "Code", "libelle": "Libellé", "territoire": "Territoire", "annee_debut": "Début",
                       "annee_fin": "Fin", "nb_engagements": "Engagements", "nb_indicateurs": "Indicateurs"}
COLONNES_SIGNATAIRES = {"code": "Code", "libelle": "Libellé", "categorie": "Catégorie", "rattache_a": "Rattaché à",
                        "signe": "Signe le protocole", "nb_engagements": "Engagements",
                        "nb_indicateurs": "Indicateurs"}
COLONNES_INDICATEURS = {"code": "Code", "libelle": "Libellé", "unite": "Unité", "signataire": "Signataire",
                        "niveau": "Niveau", "agregation": "Agrégation", "sens": "Sens", "periodicite": "Périodicité"}
COLONNES_COMPTES = {"identifiant": "Identifiant", "nom": "Nom", "role": "Rôle", "protocole": "Protocole",
                    "signataire": "Signataire", "courriel": "Courriel", "actif": "Actif",
                    "derniere_connexion": "Dernière connexion"}
COLONNES_JOURNAL = {"horodatage": "Date", "compte": "Compte", "role": "Rôle", "action": "Action",
                    "resultat": "Résultat", "protocole": "Protocole", "objet": "Objet", "detail": "Détail"}
COLONNES_COMPLETUDE = {"signataire": "Signataire", "nom": "Nom", "attendus": "Attendues", "recus": "Reçues",
                       "taux": "Taux", "statut": "Statut", "dernier_depot": "Dernier dépôt"}


def _json(objet) -> str:
    """Le JSON des commandes : accents tels quels, dates ISO (`str` d'une date ou d'un horodatage), jamais NaN."""
    return json.dumps(objet, ensure_ascii=False, indent=2, default=str, allow_nan=False)


def _afficher(df: pd.DataFrame, colonnes: dict[str, str], en_json: bool, formats: dict | None = None) -> None:
    """Une liste : en JSON (une liste d'objets aux noms des colonnes, null pour ce qui manque), sinon un tableau aligné
    à la française (commun.exports.vers_texte)."""
    if en_json:
        choisies = df[list(colonnes)]
        propre = choisies.astype(object).where(choisies.notna(), None)
        print(_json(propre.to_dict("records")))
    else:
        print(vers_texte(df, colonnes, formats))


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


def _brouillon(args) -> int:
    """`referentiel brouillon PROTOCOLE BROUILLON.xlsx` : sans compte ni base ; rien n'est écrit si le document est refusé."""
    from perr_metrics.referentiel.brouillon.classeur import ecrire_brouillon, rediger_brouillon
    from perr_metrics.referentiel.brouillon.texte import BrouillonRefuse
    source = _fichier_a_lire(args.protocole)
    try:
        res = rediger_brouillon(source)
    except BrouillonRefuse as exc:
        return _refus(exc.rapport, args.json, "Document refusé : aucun brouillon n'a été écrit.")
    _ecrire_fichier(args.fichier, lambda flux: ecrire_brouillon(res, flux, source.name))
    b = res.brouillon
    if args.json:
        print(json.dumps({"statut": "ecrit", "fichier": str(args.fichier), "engagements": len(b.engagements),
                          "noeuds": len(b.noeuds), "signataires": len(b.signataires), "quartiers": len(b.quartiers),
                          "a_verifier": len(b.a_verifier), "pages": res.texte.pages,
                          "secondes": round(res.duree_totale, 3)}, ensure_ascii=False, indent=2))
    else:
        print(f"Brouillon écrit : {args.fichier} — {len(b.noeuds)} nœuds, {len(b.engagements)} engagements, "
              f"{len(b.signataires)} signataires, {len(b.quartiers)} quartiers, lus sur {res.texte.pages} page(s) en "
              f"{format_nombre(res.duree_totale, 1)} s. {len(b.a_verifier)} point(s) à vérifier : feuille « À vérifier ».")
    return 0


def _depot(args, store: Store) -> int:
    from perr_metrics.depots.depot import deposer
    chemin = _fichier_a_lire(args.fichier)
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


def _raison(exc: OSError) -> str:
    """La cause d'une erreur du système de fichiers, en français."""
    import errno
    raisons = {errno.ENOENT: "dossier ou fichier introuvable", errno.EACCES: "accès refusé",
               errno.EPERM: "opération interdite", errno.ENOSPC: "disque plein", errno.EISDIR: "c'est un dossier",
               errno.ENOTDIR: "un élément du chemin n'est pas un dossier", errno.EROFS: "disque en lecture seule",
               errno.EDQUOT: "quota de disque dépassé", errno.ENAMETOOLONG: "nom trop long"}
    return raisons.get(exc.errno, f"erreur du système (errno {exc.errno})" if exc.errno else "erreur du système")


def _fichier_a_lire(chemin) -> Path:
    """Le fichier donné à lire, s'il existe et peut être lu ; sinon un message (code 1)."""
    chemin = Path(chemin)
    if not chemin.exists():
        raise _Sortie(1, f"Le fichier {chemin} n'existe pas.")
    if not chemin.is_file():
        raise _Sortie(1, f"{chemin} n'est pas un fichier (un dossier ?) : donnez le chemin d'un fichier.")
    try:
        with open(chemin, "rb"):
            pass
    except OSError as exc:
        raise _Sortie(1, f"Le fichier {chemin} ne peut pas être lu : {_raison(exc)}.") from None
    return chemin


def _ecrire_fichier(chemin, ecrire):
    """Écrit le fichier demandé d'un coup, une fois tout son contenu prêt : `ecrire(flux)` remplit un flux en mémoire,
    posé ensuite à côté puis renommé. Jamais de fichier à moitié écrit ; un dossier absent ou interdit, un disque plein
    donnent un message (code 1). Rend ce que rend `ecrire`."""
    import io

    flux = io.BytesIO()
    resultat = ecrire(flux)
    chemin = Path(chemin)
    provisoire = None
    try:
        provisoire = chemin.parent / f".{chemin.name}.{os.getpid()}.provisoire"
        with open(provisoire, "wb") as f:
            f.write(flux.getvalue())
        os.replace(provisoire, chemin)
        provisoire = None
    except OSError as exc:
        raise _Sortie(1, f"Impossible d'écrire le fichier {chemin} : {_raison(exc)}. Rien n'a été écrit.") from None
    finally:
        if provisoire is not None and os.path.exists(provisoire):
            os.remove(provisoire)
    return resultat


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
    _ecrire_fichier(args.fichier, lambda f: f.write(flux.getvalue()))
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
    if c == "referentiel" and args.action in ("modele", "brouillon"):
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


SORTIE_FERMEE = 141   # la sortie a été fermée avant la fin (`… | head`) : comme un outil Unix tué par SIGPIPE (128 + 13)
ERREUR_INATTENDUE = 3


def main(argv: list[str] | None = None) -> int:
    """La ligne de commande ; rend le code de sortie (voir la docstring du module). Une erreur d'utilisation sort par
    `SystemExit(2)` (argparse), `-h` par `SystemExit(0)`."""
    args = _parser().parse_args(argv)
    try:
        code = _lancer(args)
        sys.stdout.flush()   # dans le try : une sortie fermée se voit ici plutôt qu'à l'arrêt de Python
        return code
    except BrokenPipeError:
        return _sortie_fermee()


def _sortie_fermee() -> int:
    """Le lecteur de notre sortie est parti (`… | head -1`) : on s'arrête sans un mot, comme le recommande la
    documentation de Python, en branchant la sortie sur /dev/null pour que Python, en vidant son tampon à l'arrêt,
    n'écrive pas d'erreur à son tour."""
    try:
        nul = os.open(os.devnull, os.O_WRONLY)
        os.dup2(nul, sys.stdout.fileno())
        os.close(nul)
    except (OSError, ValueError, AttributeError):   # une sortie sans descripteur (tests) : rien à rebrancher
        pass
    return SORTIE_FERMEE


def _contexte(args) -> str:
    """La commande telle que l'utilisateur la reconnaîtra : « referentiel importer », « protocoles »."""
    return " ".join(x for x in (args.commande, getattr(args, "action", None)) if x)


def _ce_qui_reste(args) -> str:
    """Ce qui a été enregistré quand `args` s'est interrompu en route. Chaque écriture dans la base est une
    transaction (`Store.ecrire`, tout ou rien) et chaque fichier demandé est écrit d'un coup à la fin : rien, sauf
    pour les commandes qui enchaînent plusieurs écritures."""
    c = args.commande
    if c == "init" and args.demo:
        return ("la base est créée, la démonstration peut être chargée en partie (chaque étape l'est d'un coup) : "
                "pour une démonstration complète, repartez d'une base neuve")
    if c == "demo":
        return "la base d'essai est peut-être incomplète : supprimez-la avant de recommencer"
    if c == "sauvegarde":
        return (f"aucune donnée n'a été modifiée, mais le dossier {args.dossier} est peut-être incomplet : ne le "
                "gardez pas comme sauvegarde")
    if c == "restauration":
        return ("la base est soit restée telle quelle, soit entièrement remplacée par la sauvegarde, jamais à moitié : "
                "vérifiez-la (python -m perr_metrics protocoles)")
    return "rien n'a été enregistré"


def _lancer(args) -> int:
    store = None
    try:
        store = Store(args.db_demo if args.commande == "demo" and args.db_demo else args.db)
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
    except BrokenPipeError:
        raise
    except KeyboardInterrupt:
        print(f"\nInterrompu : {_ce_qui_reste(args)}.", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - aucune trace Python ne doit atteindre l'utilisateur
        from perr_metrics.acces.incidents import signaler
        reference = signaler(store, exc, _contexte(args), protocole=getattr(args, "protocole", None))
        print(f"Erreur inattendue (référence {reference}) pendant « {_contexte(args)} » : {_ce_qui_reste(args)}. "
              "Transmettez cette référence à l'équipe qui administre perr-metrics.", file=sys.stderr)
        return ERREUR_INATTENDUE


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
        _afficher(df, COLONNES_COMPTES, args.json)
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
        _ecrire_fichier(args.csv, lambda flux: flux.write(vers_csv(df)))
        print(f"{len(df)} ligne(s) du journal écrites : {args.csv}")
        return 0
    _afficher(df, COLONNES_JOURNAL, args.json)
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
        _afficher(requetes.protocoles(store), COLONNES_PROTOCOLES, args.json, _ANNEE)
        return 0
    if c == "signataires":
        _afficher(requetes.signataires(store, args.protocole), COLONNES_SIGNATAIRES, args.json)
        return 0
    if c == "indicateurs":
        _afficher(requetes.indicateurs(store, args.protocole, args.signataire), COLONNES_INDICATEURS, args.json)
        return 0
    if c == "referentiel":
        from perr_metrics.referentiel import classeur as referentiel
        if args.action == "brouillon":
            return _brouillon(args)
        if args.action == "modele":
            _ecrire_fichier(args.fichier, lambda flux: referentiel.ecrire_modele(flux))
            print(f"Modèle vierge écrit : {args.fichier}")
            return 0
        if args.action == "importer":
            _fichier_a_lire(args.fichier)
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
            _ecrire_fichier(args.fichier, lambda flux: referentiel.exporter_referentiel(store, args.protocole, flux))
            print(f"Protocole {args.protocole} exporté : {args.fichier}")
            return 0
    if c == "modele":
        from perr_metrics.depots.modele import ModeleImpossible, ecrire_modele_depot
        try:
            n = _ecrire_fichier(args.fichier, lambda flux: ecrire_modele_depot(store, args.protocole, args.signataire,
                                                                               args.periode, flux))
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
            print(_json(comp.as_dict()))
        else:
            df = comp.par_signataire
            print(f"Complétude {args.protocole} — {args.periode} : {format_nombre(df['recus'].sum())} valeurs reçues "
                  f"sur {format_nombre(df['attendus'].sum())} attendues.")
            print(vers_texte(df, COLONNES_COMPLETUDE, {"taux": format_pourcent}))
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
        _fichier_a_lire(args.fichier)
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
                                     args.commentaire, confirmer_recul=args.confirmer_recul)
        except EtatRefuse as exc:
            suite = " Relancez avec --confirmer-recul pour le confirmer." if exc.code == "recul-a-confirmer" else ""
            print(f"Refusé [{exc.code}] : {exc}{suite}", file=sys.stderr)
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
