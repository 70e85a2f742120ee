"""Les dépôts des partenaires : contrôle, écriture tout-ou-rien, historique, revue, complétude.

Un dépôt = un fichier envoyé par un signataire (ou un de ses services). Ses octets sont gardés ; ses valeurs sont écrites avec
lui, dans une seule transaction. La valeur qui fait foi pour un (indicateur, périmètre, période) est celle du dépôt le plus
récent parmi ceux qui comptent ; les précédentes restent dans l'historique (la table `valeur` n'est jamais modifiée ni vidée
par un dépôt). Le protocole choisit quand un dépôt compte (colonne « Valeurs prises en compte » du référentiel,
`VALEURS_RETENUES`) : dès réception (hors dépôts marqués « à corriger »), après revue des avertissements confirmés, ou
seulement une fois « validé ».

Une valeur confirmée malgré un avertissement garde cet avertissement (`valeur.avertissement`) ; tant que la coordination
n'a pas revu son dépôt, chaque lecture des valeurs la marque (`en_attente_de_revue`, `avertissement_force`).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass, field
from typing import Callable

import duckdb
import numpy as np
import pandas as pd

from perr_metrics.acces import journal
from perr_metrics.stockage.magasin import Store, prochain_id
from perr_metrics.acces.droits import (exiger_signataire, operation, perimetre_de, signataires_couverts,
                                      utilisateur_de)
from perr_metrics.commun.erreurs import Rapport
from perr_metrics.referentiel.classeur import VALEURS_RETENUES, inserer_df
from perr_metrics.referentiel.requetes import ProtocoleInconnu, _session
from .validation import Contexte, _par_valeur, lire_depot, periode_precedente, verifier

RE_PERIODE = re.compile(r"^([0-9]{4})(?:-S([12]))?$")   # chiffres ASCII (`\d` accepterait « ٢٠٢٥ »)
STATUTS_REVUE = ("validé", "à corriger")
#: Quand les valeurs d'un dépôt comptent (colonne « Valeurs prises en compte » de la feuille Protocole).
DES_RECEPTION, APRES_REVUE, APRES_VALIDATION = VALEURS_RETENUES
#: Le marqueur d'une valeur confirmée malgré un avertissement, tant que son dépôt n'est pas revu.
MARQUE_EN_ATTENTE = "confirmée malgré un avertissement, en attente de revue"


def annee_de(periode: str) -> int:
    """`2021` → 2021 ; `2021-S2` → 2021."""
    m = RE_PERIODE.match(str(periode))
    if not m:
        raise ValueError(periode)
    return int(m.group(1))


# --------------------------------------------------------------------------------------------------------------------
# Écriture d'un dépôt
# --------------------------------------------------------------------------------------------------------------------

@dataclass
class Depot:
    id: int
    protocole: str
    signataire: str
    periode: str | None
    fichier_nom: str
    sha256: str
    nb_valeurs: int


def enregistrer_depot(con: duckdb.DuckDBPyConnection, *, protocole: str, signataire: str, periode: str | None,
                      utilisateur: str, fichier_nom: str, contenu: bytes, valeurs: pd.DataFrame,
                      depose_le: dt.datetime | None = None, commentaire: str | None = None,
                      compte: str | None = None, nb_avertissements: int = 0) -> Depot:
    """Écrit un dépôt et ses valeurs dans la transaction `con` (appelé depuis `Store.ecrire`).

    `valeurs` a les colonnes `indicateur`, `perimetre`, `periode`, `valeur` et, facultatives, `commentaire`, `cellule`,
    `avertissement_code` et `avertissement` (l'avertissement que le partenaire a confirmé sur cette valeur).
    """
    depot_id = prochain_id(con, "depot")
    empreinte = hashlib.sha256(contenu).hexdigest()
    con.execute(
        "INSERT INTO depot (id, protocole, signataire, periode, utilisateur, depose_le, fichier_nom, sha256, contenu, "
        "nb_valeurs, commentaire, compte, nb_avertissements) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [depot_id, protocole, signataire, periode, utilisateur, depose_le or dt.datetime.now(), fichier_nom,
         empreinte, contenu, len(valeurs), commentaire, compte, nb_avertissements])
    df = valeurs.copy()
    for col in ("commentaire", "cellule", "avertissement_code", "avertissement"):
        if col not in df.columns:
            df[col] = None
    df["depot_id"] = depot_id
    df["protocole"] = protocole
    df["annee"] = _par_valeur(df["periode"], annee_de)
    inserer_df(con, "valeur", df[["depot_id", "protocole", "indicateur", "perimetre", "periode", "annee", "valeur",
                                  "commentaire", "cellule", "avertissement_code", "avertissement"]])
    return Depot(depot_id, protocole, signataire, periode, fichier_nom, empreinte, len(valeurs))


def completude_par_signataire(compte: pd.DataFrame, sig: pd.DataFrame) -> pd.DataFrame:
    """La table de complétude par signataire (taux, statut, tri) à partir des comptes `signataire, attendus, recus` et
    des signataires (`signataire, nom, dernier_depot`) ; partagée par `completude` et le rapport annuel."""
    df = compte.merge(sig, on="signataire", how="left")
    df["recus"] = df["recus"].astype(int)
    df["taux"] = (100 * df["recus"] / df["attendus"]).round(1)
    df["statut"] = "partiel"
    df.loc[df["recus"] == df["attendus"], "statut"] = "complet"
    df.loc[df["recus"] == 0, "statut"] = "aucune donnée"
    df = df.sort_values(["taux", "signataire"]).reset_index(drop=True)
    return df[["signataire", "nom", "attendus", "recus", "taux", "statut", "dernier_depot"]]


# Un dépôt compte-t-il ? Selon le choix de son protocole (`p`, `d` : le protocole et le dépôt de la valeur).
SQL_DEPOT_RETENU = """(CASE p.valeurs_retenues
        WHEN 'après validation' THEN d.statut = 'validé'
        WHEN 'après revue des avertissements' THEN d.statut = 'validé'
            OR (d.statut = 'reçu' AND coalesce(d.nb_avertissements, 0) = 0)
        ELSE d.statut <> 'à corriger' END)"""
# Un dépôt confirmé malgré un avertissement, que la coordination n'a pas encore revu.
SQL_EN_ATTENTE = "(d.statut = 'reçu' AND coalesce(d.nb_avertissements, 0) > 0)"

# La valeur qui fait foi, et ses marques : `en_attente_de_revue` (son dépôt a des avertissements confirmés et n'est pas
# encore revu) et `avertissement_force` (cette valeur-là a été confirmée malgré un avertissement).
SQL_VALEURS_COURANTES = f"""
    SELECT v.indicateur, v.perimetre, v.periode, v.annee,
           arg_max(v.valeur, v.depot_id) AS valeur, max(v.depot_id) AS depot_id,
           arg_max({SQL_EN_ATTENTE}, v.depot_id) AS en_attente_de_revue,
           arg_max(v.avertissement IS NOT NULL, v.depot_id) AS avertissement_force
    FROM valeur v JOIN depot d ON d.id = v.depot_id JOIN protocole p ON p.code = v.protocole
    WHERE v.protocole = ? AND {SQL_DEPOT_RETENU}
    GROUP BY v.indicateur, v.perimetre, v.periode, v.annee
"""
# Les valeurs reçues (la complétude : ce qui est arrivé, validé ou non), quel que soit le choix du protocole : le dépôt
# le plus récent qui n'est pas « à corriger ».
SQL_VALEURS_RECUES = SQL_VALEURS_COURANTES.replace(SQL_DEPOT_RETENU, "d.statut <> 'à corriger'")
assert SQL_VALEURS_RECUES != SQL_VALEURS_COURANTES

# Les mêmes lignes, la jointure limitée aux dépôts du protocole : une valeur a toujours le protocole de son dépôt (les
# deux écrits ensemble par `enregistrer_depot`, et par la base d'essai nationale), mais DuckDB ne le sait pas. Sans ce
# filtre, il construit sa table de hachage sur tous les dépôts de la base (170 000 sur la base nationale : 30 à 50 ms
# base juste ouverte) ; avec lui, sur les quelques centaines du protocole.
SQL_VALEURS_COURANTES_DU_PROTOCOLE = SQL_VALEURS_COURANTES.replace(
    "JOIN depot d ON d.id = v.depot_id", "JOIN depot d ON d.id = v.depot_id AND d.protocole = v.protocole")
assert SQL_VALEURS_COURANTES_DU_PROTOCOLE != SQL_VALEURS_COURANTES
SQL_VALEURS_RECUES_DU_PROTOCOLE = SQL_VALEURS_RECUES.replace(
    "JOIN depot d ON d.id = v.depot_id", "JOIN depot d ON d.id = v.depot_id AND d.protocole = v.protocole")


@operation("consulter_pilotage")
def valeurs_courantes(store: Store, protocole: str) -> pd.DataFrame:
    """La valeur qui fait foi par (indicateur, périmètre, période) : celle du dépôt le plus récent, parmi les dépôts qui
    comptent selon le protocole (`VALEURS_RETENUES` : par défaut, tous sauf ceux marqués « à corriger »). C'est elle que
    montrent les graphiques et le rapport. Colonnes : indicateur, perimetre, periode, annee, valeur, depot_id,
    en_attente_de_revue (son dépôt, confirmé malgré un avertissement, attend la revue de la coordination) et
    avertissement_force (cette valeur a été confirmée malgré un avertissement)."""
    return store.requete(SQL_VALEURS_COURANTES + " ORDER BY ALL", [protocole])



def _contexte(con: duckdb.DuckDBPyConnection, protocole: str, signataire: str) -> Contexte | str:
    p = con.execute("SELECT annee_debut, annee_fin FROM protocole WHERE code = ?", [protocole]).fetchone()
    if p is None:
        return f"Le protocole « {protocole} » n'existe pas dans cette base."
    couverts = signataires_couverts(con, protocole, signataire)
    if not couverts:
        return f"Le signataire « {signataire} » n'existe pas dans le protocole {protocole}."
    ind = con.execute("SELECT code, unite, periodicite, niveau, signataire, minimum, maximum, libelle FROM indicateur "
                      "WHERE protocole = ?", [protocole]).df().set_index("code")
    per = con.execute("SELECT code, niveau, libelle FROM perimetre WHERE protocole = ?", [protocole]).df().set_index(
        "code")
    codes = [c for c, s in ind["signataire"].items() if s in couverts]
    prec = con.execute(f"SELECT * FROM ({SQL_VALEURS_COURANTES}) WHERE indicateur IN (SELECT unnest(?))",
                       [protocole, codes]).df()
    return Contexte(protocole, p[0], p[1], signataire, couverts, ind, per, prec)


@dataclass
class ResultatDepot:
    """`statut` : « accepte », « rejete », « deja-depose » ou « a-confirmer » (avertissements à confirmer)."""

    statut: str
    rapport: Rapport
    depot_id: int | None = None
    nb_valeurs: int = 0
    changements: pd.DataFrame = field(default_factory=pd.DataFrame)
    periode: str | None = None
    # Ce que désigne chaque ligne du fichier (numéro de ligne → indicateur et périmètre, codes et noms) : de quoi
    # nommer, dans le tableau des problèmes, ce que chaque cellule concerne (`problemes_nommes`).
    reperes: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        def lignes(ps):
            return [dict(feuille=p.feuille, cellule=p.cellule, code=p.code, message=p.message, valeur=p.valeur)
                    for p in ps]
        return {"statut": self.statut, "erreurs": lignes(self.rapport.erreurs),
                "avertissements": lignes(self.rapport.avertissements), "valeurs": self.nb_valeurs,
                "depot_id": self.depot_id}


class _Abandon(Exception):
    """Sortie de la transaction sans rien écrire."""

    def __init__(self, resultat: ResultatDepot):
        self.resultat = resultat


@operation("deposer")
def deposer(store: Store, donnees: bytes, nom_fichier: str, *, protocole: str, signataire: str,
            periode: str | None = None, accepter_avertissements: bool = False,
            progression: Callable[[float, str], None] | None = None) -> ResultatDepot:
    """Contrôle un fichier et, s'il est bon, l'enregistre avec ses valeurs, tout ou rien, au nom de l'utilisateur du
    magasin (un contributeur ne dépose que pour son signataire et ses services).

    Un fichier déjà déposé à l'identique (même empreinte SHA-256) pour ce signataire n'est pas compté deux fois. Si le
    contrôle ne trouve que des avertissements, rien n'est écrit tant que `accepter_avertissements` n'est pas vrai.
    Chaque dépôt enregistré, et chaque fichier rejeté, est consigné au journal.
    """
    u = utilisateur_de(store)
    exiger_signataire(store, "deposer", protocole, signataire, objet=nom_fichier)
    avancer = progression or (lambda f, m: None)
    avancer(0.05, "Lecture du fichier…")
    if periode is not None and not RE_PERIODE.match(periode):
        r = Rapport()
        r.ajouter("periode-invalide", "Période illisible : attendu une année (2021) ou un semestre (2021-S1).",
                  "", "", periode)
        return _rejet(store, ResultatDepot("rejete", r), protocole, signataire, nom_fichier)
    lecture = lire_depot(donnees, nom_fichier)
    if not lecture.rapport.valide:
        return _rejet(store, ResultatDepot("rejete", lecture.rapport), protocole, signataire, nom_fichier)
    avancer(0.5, f"Contrôle de {len(lecture.lignes)} lignes…")
    empreinte = hashlib.sha256(donnees).hexdigest()

    def ecrire(con: duckdb.DuckDBPyConnection) -> ResultatDepot:
        deja = con.execute("SELECT id, nb_valeurs FROM depot WHERE protocole = ? AND signataire = ? AND sha256 = ? "
                           "ORDER BY id LIMIT 1", [protocole, signataire, empreinte]).fetchone()
        if deja:
            raise _Abandon(ResultatDepot("deja-depose", lecture.rapport, deja[0], 0))
        ctx = _contexte(con, protocole, signataire)
        if isinstance(ctx, str):
            lecture.rapport.ajouter("signataire-inconnu" if "signataire" in ctx else "protocole-inconnu", ctx)
            raise _Abandon(ResultatDepot("rejete", lecture.rapport))
        valeurs = verifier(lecture, ctx, periode)
        reperes = _reperes(lecture, ctx)
        if not lecture.rapport.valide:
            raise _Abandon(ResultatDepot("rejete", lecture.rapport, reperes=reperes))
        if lecture.rapport.avertissements and not accepter_avertissements:
            raise _Abandon(ResultatDepot("a-confirmer", lecture.rapport, reperes=reperes))
        avancer(0.8, f"Enregistrement de {len(valeurs)} valeurs…")
        changements = _changements(valeurs, ctx.precedentes, ctx)
        annees = set(valeurs["periode"].str[:4].unique())
        periode_depot = periode or lecture.meta.get("periode") or (annees.pop() if len(annees) == 1 else None)
        avertissements = lecture.rapport.avertissements
        n = len(avertissements)
        # Chaque avertissement confirmé reste attaché à sa valeur (même cellule) : la revue et les pages le montrent.
        par_cellule = {a.cellule: a for a in avertissements}
        trouves = [par_cellule.get(c) for c in valeurs["cellule"].tolist()] if "cellule" in valeurs else []
        if trouves:
            valeurs = valeurs.assign(avertissement_code=[a.code if a else None for a in trouves],
                                     avertissement=[a.message if a else None for a in trouves])
        depot = enregistrer_depot(
            con, protocole=protocole, signataire=signataire, periode=periode_depot, utilisateur=u.nom,
            fichier_nom=nom_fichier, contenu=donnees, valeurs=valeurs, compte=u.identifiant, nb_avertissements=n,
            commentaire=f"{n} avertissement{'s' if n > 1 else ''} confirmé{'s' if n > 1 else ''} au dépôt" if n else None)
        cellules = ", ".join(f"{a.cellule} ({a.code})" for a in avertissements[:20]) + (" …" if n > 20 else "")
        journal.noter(con, u, "dépôt", protocole=protocole, objet=f"dépôt n° {depot.id} : {nom_fichier}",
                      detail=f"signataire {signataire}, période {periode_depot or 'non précisée'}, "
                             f"{depot.nb_valeurs} valeurs" + (f", {n} avertissement(s) confirmé(s) : {cellules} ; "
                                                              "en attente de revue" if n else ""))
        return ResultatDepot("accepte", lecture.rapport, depot.id, depot.nb_valeurs, changements, periode_depot,
                             reperes)

    try:
        resultat = store.ecrire(ecrire)
    except _Abandon as abandon:
        resultat = abandon.resultat
        if resultat.statut == "rejete":
            _rejet(store, resultat, protocole, signataire, nom_fichier)
    avancer(1.0, "Terminé.")
    return resultat


def _rejet(store: Store, resultat: ResultatDepot, protocole: str, signataire: str, nom_fichier: str) -> ResultatDepot:
    """Un fichier rejeté laisse une trace au journal (la coordination voit qui a essayé, et pourquoi cela a échoué)."""
    n = len(resultat.rapport.erreurs)
    premiere = resultat.rapport.erreurs[0].message if n else ""
    journal.noter_seul(store, utilisateur_de(store), "dépôt", resultat=journal.ECHOUE, protocole=protocole,
                       objet=nom_fichier, detail=f"signataire {signataire} : {n} erreur{'s' if n > 1 else ''}"
                                             + (f" ; {premiere}" if premiere else ""))
    return resultat


def _changements(valeurs: pd.DataFrame, precedentes: pd.DataFrame, ctx: Contexte | None = None) -> pd.DataFrame:
    """Ce que le dépôt change par rapport aux valeurs qui faisaient foi : pour chaque valeur, `ancienne` (celle qui
    faisait foi pour la même période, et que le dépôt remplace), `precedente` (la valeur qui fait foi à la période
    précédente : la même « valeur précédente » que le modèle et l'avertissement de saut), `nouvelle` et `nature`
    (nouvelle, modifiée, inchangée) ; avec `ctx`, les noms de l'indicateur et du périmètre et l'unité."""
    cles = ["indicateur", "perimetre", "periode"]
    avant = precedentes[cles + ["valeur"]].drop_duplicates(cles) if not precedentes.empty else \
        pd.DataFrame(columns=cles + ["valeur"])
    avant = avant.astype({c: object for c in cles})
    df = valeurs[cles + ["valeur"]].rename(columns={"valeur": "nouvelle"}).astype({c: object for c in cles})
    df = df.merge(avant.rename(columns={"valeur": "ancienne"}), on=cles, how="left")
    df["periode_precedente"] = [periode_precedente(p) if p else "" for p in df["periode"]]
    df = df.merge(avant.rename(columns={"periode": "periode_precedente", "valeur": "precedente"}),
                  on=["indicateur", "perimetre", "periode_precedente"], how="left")
    df["ancienne"] = pd.to_numeric(df["ancienne"], errors="coerce")
    df["precedente"] = pd.to_numeric(df["precedente"], errors="coerce")
    df["nature"] = "inchangée"
    df.loc[df["ancienne"].isna(), "nature"] = "nouvelle"
    df.loc[df["ancienne"].notna() & (df["ancienne"] != df["nouvelle"]), "nature"] = "modifiée"
    if ctx is not None:
        df["indicateur_libelle"] = df["indicateur"].map(ctx.indicateurs["libelle"])
        df["unite"] = df["indicateur"].map(ctx.indicateurs["unite"])
        df["perimetre_libelle"] = df["perimetre"].map(ctx.perimetres["libelle"])
    return df


def _reperes(lecture, ctx: Contexte) -> dict[int, tuple]:
    """Numéro de ligne du fichier → (code et nom de l'indicateur, code et nom du périmètre), pour les lignes lues."""
    df = lecture.lignes
    if df is None or df.empty or "ligne" not in df:
        return {}
    noms_i = ctx.indicateurs["libelle"].to_dict() if "libelle" in ctx.indicateurs else {}
    noms_p = ctx.perimetres["libelle"].to_dict() if "libelle" in ctx.perimetres else {}
    sortie = {}
    for ligne, i, p in zip(df["ligne"].tolist(), df["indicateur"].tolist(), df["perimetre"].tolist()):
        i = "" if i is None or (isinstance(i, float) and np.isnan(i)) else str(i).strip()
        p = "" if p is None or (isinstance(p, float) and np.isnan(p)) else str(p).strip()
        if i.endswith(".0") and i[:-2].isdigit():
            i = i[:-2]
        if p.endswith(".0") and p[:-2].isdigit():
            p = p[:-2]
        sortie[int(ligne)] = (i, noms_i.get(i, ""), p, noms_p.get(p, ""))
    return sortie


#: Le nom, pour une personne, de chaque problème d'un fichier de valeurs (le code reste à côté, pour la recherche).
NATURES = {
    "fichier-illisible": "Fichier illisible", "fichier-protege": "Fichier protégé", "fichier-vide": "Fichier vide",
    "archive-suspecte": "Archive suspecte", "fichier-trop-gros": "Fichier trop gros",
    "feuille-manquante": "Feuille manquante", "colonne-manquante": "Colonne manquante",
    "valeur-obligatoire": "Case obligatoire vide", "indicateur-inconnu": "Indicateur inconnu",
    "indicateur-autre-signataire": "Indicateur d'un autre signataire", "perimetre-inconnu": "Périmètre inconnu",
    "perimetre-hors-niveau": "Périmètre d'un autre niveau", "periode-invalide": "Période illisible",
    "periode-hors-protocole": "Période hors du protocole", "periode-differente": "Autre période",
    "periode-incompatible": "Période incompatible", "formule-sans-valeur": "Formule sans résultat",
    "valeur-non-numerique": "Valeur non numérique", "valeur-date": "Date au lieu d'un nombre",
    "pourcentage-inattendu": "Pourcentage inattendu", "taux-hors-bornes": "Taux hors de 0 à 100",
    "valeur-negative": "Valeur négative", "ligne-dupliquee": "Ligne en double",
    "hors-bornes-plausibles": "Hors des valeurs plausibles", "saut-important": "Écart important avec la période "
    "précédente", "modele-autre-protocole": "Modèle d'un autre protocole",
    "modele-autre-signataire": "Modèle d'un autre signataire", "modele-autre-periode": "Modèle d'une autre période",
    "signataire-inconnu": "Signataire inconnu", "protocole-inconnu": "Protocole inconnu",
}


def nature_du_probleme(code: str) -> str:
    """« valeur-non-numerique » → « Valeur non numérique » (à défaut d'un nom connu, le code lisiblement)."""
    return NATURES.get(code) or code.replace("-", " ").capitalize()


def problemes_nommes(resultat: ResultatDepot) -> pd.DataFrame:
    """Les problèmes d'un dépôt, pour une personne : niveau, nature (nom), feuille, cellule (sans la feuille), indicateur
    et périmètre que la ligne concerne (noms, codes entre parenthèses), valeur reçue, message, code."""
    lignes = []
    for p in resultat.rapport.problemes:
        cellule = p.cellule.split("!", 1)[1] if "!" in p.cellule else p.cellule
        m = re.match(r"^[A-Z]+(\d+)$", cellule)
        i_code, i_nom, p_code, p_nom = resultat.reperes.get(int(m.group(1)), ("", "", "", "")) if m else ("",) * 4
        lignes.append(dict(
            niveau="Erreur" if p.niveau == "erreur" else "Avertissement", nature=nature_du_probleme(p.code),
            feuille=p.feuille, cellule=cellule,
            indicateur=f"{i_nom} ({i_code})" if i_nom else i_code, perimetre=f"{p_nom} ({p_code})" if p_nom else p_code,
            valeur=p.valeur, message=p.message, code=p.code))
    return pd.DataFrame(lignes, columns=["niveau", "nature", "feuille", "cellule", "indicateur", "perimetre", "valeur",
                                         "message", "code"])


# --------------------------------------------------------------------------------------------------------------------
# Revue, historique, fichiers
# --------------------------------------------------------------------------------------------------------------------

@operation("revoir_depot")
def revoir_depot(store: Store, depot_id: int, statut: str, commentaire: str | None = None) -> None:
    """La coordination marque un dépôt « validé » ou « à corriger » (les valeurs d'un dépôt à corriger ne font plus foi ;
    selon le protocole, celles d'un dépôt validé se mettent alors à compter). Le journal garde le statut choisi, celui
    d'avant, le commentaire en entier et les avertissements confirmés que la revue a couverts."""
    u = utilisateur_de(store)
    if statut not in STATUTS_REVUE:
        raise ValueError(f"Statut de revue inconnu : « {statut} » (attendu : {', '.join(STATUTS_REVUE)}).")

    def ecrire(con):
        ligne = con.execute("SELECT protocole, fichier_nom, statut, coalesce(nb_avertissements, 0) FROM depot "
                            "WHERE id = ?", [depot_id]).fetchone()
        if ligne is None:
            raise KeyError(f"Le dépôt n° {depot_id} n'existe pas.")
        avertis = con.execute("SELECT cellule, avertissement_code FROM valeur WHERE depot_id = ? AND avertissement "
                              "IS NOT NULL ORDER BY cellule LIMIT 20", [depot_id]).fetchall()
        con.execute("INSERT INTO revue_depot (depot_id, statut, commentaire, auteur, revu_le, compte) "
                    "VALUES (?, ?, ?, ?, current_timestamp, ?)", [depot_id, statut, commentaire, u.nom, u.identifiant])
        con.execute("UPDATE depot SET statut = ? WHERE id = ?", [statut, depot_id])
        n = ligne[3]
        detail = f"{statut} (statut précédent : {ligne[2]})"
        if n:
            detail += (f" ; {n} avertissement{'s' if n > 1 else ''} confirmé{'s' if n > 1 else ''} au dépôt revu"
                       f"{'s' if n > 1 else ''} : " + ", ".join(f"{c} ({k})" for c, k in avertis)
                       + (" …" if n > len(avertis) else ""))
        journal.noter(con, u, "revue de dépôt", protocole=ligne[0], objet=f"dépôt n° {depot_id} : {ligne[1]}",
                      detail=detail + (f" — {commentaire}" if commentaire else ""))

    store.ecrire(ecrire)


@operation("consulter_depots")
def liste_depots(store: Store, protocole: str, signataire: str | None = None) -> pd.DataFrame:
    """Les dépôts d'un protocole, du plus récent au plus ancien (sans les octets des fichiers). Un contributeur ne voit
    que ceux de son signataire et de ses services. `nb_avertissements` : les avertissements confirmés au dépôt ;
    `en_attente_de_revue` : confirmé malgré un avertissement et pas encore revu ; `commentaire_revue`, `revu_par`,
    `revu_le` : la dernière revue."""
    if signataire is not None:
        exiger_signataire(store, "consulter_depots", protocole, signataire)
    permis = perimetre_de(store, protocole)
    df = store.requete(f"""
        SELECT d.id, d.signataire, s.nom AS signataire_nom, d.periode, d.utilisateur, d.depose_le, d.fichier_nom,
               d.sha256, d.nb_valeurs, octet_length(d.contenu) AS taille, d.statut, d.commentaire,
               r.commentaire AS commentaire_revue, coalesce(d.nb_avertissements, 0) AS nb_avertissements,
               {SQL_EN_ATTENTE} AS en_attente_de_revue, r.auteur AS revu_par, r.revu_le
        FROM depot d LEFT JOIN signataire s ON s.protocole = d.protocole AND s.code = d.signataire
        LEFT JOIN (SELECT depot_id, arg_max(commentaire, revu_le) AS commentaire, arg_max(auteur, revu_le) AS auteur,
                          max(revu_le) AS revu_le FROM revue_depot GROUP BY depot_id) r ON r.depot_id = d.id
        WHERE d.protocole = ? AND (? IS NULL OR d.signataire = ?)
        ORDER BY d.id DESC
    """, [protocole, signataire, signataire])
    return df if permis is None else df[df["signataire"].isin(permis)].reset_index(drop=True)


@dataclass
class DetailDepot:
    """Ce que la coordination examine avant de revoir un dépôt (`detail_depot`)."""

    depot: dict                  # id, signataire, signataire_nom, periode, utilisateur, depose_le, fichier_nom, statut…
    valeurs: pd.DataFrame        # chaque valeur du dépôt, avec ce qu'elle change et son avertissement
    revues: pd.DataFrame         # les revues précédentes (statut, commentaire, auteur, revu_le), la plus récente d'abord
    valeurs_retenues: str        # le choix du protocole (VALEURS_RETENUES)

    @property
    def avertissements(self) -> pd.DataFrame:
        return self.valeurs[self.valeurs["avertissement"].notna()].reset_index(drop=True)


@operation("consulter_depots")
def detail_depot(store: Store, depot_id: int) -> DetailDepot:
    """Un dépôt, ses valeurs et ce qu'elles changent : pour chacune, l'indicateur et le périmètre (codes et noms),
    l'unité, la période, la valeur déposée, son commentaire, sa cellule, l'avertissement confirmé (code et message),
    `remplacee` (la valeur qui faisait foi avant ce dépôt pour la même période, parmi les dépôts antérieurs qui
    comptent), `precedente` (la valeur qui fait foi à la période précédente), `fait_foi` (elle est la valeur qui fait
    foi aujourd'hui) et `nature` (nouvelle, modifiée, inchangée). Un contributeur ne voit que les dépôts de son
    signataire et de ses services."""
    def lire(con):
        d = con.execute(f"""
            SELECT d.id, d.protocole, d.signataire, s.nom AS signataire_nom, d.periode, d.utilisateur, d.depose_le,
                   d.fichier_nom, d.nb_valeurs, d.statut, d.commentaire, coalesce(d.nb_avertissements, 0)
                   AS nb_avertissements, {SQL_EN_ATTENTE} AS en_attente_de_revue,
                   coalesce(p.valeurs_retenues, '{DES_RECEPTION}') AS valeurs_retenues
            FROM depot d JOIN protocole p ON p.code = d.protocole
            LEFT JOIN signataire s ON s.protocole = d.protocole AND s.code = d.signataire
            WHERE d.id = ?""", [depot_id]).df()
        if d.empty:
            raise KeyError(f"Le dépôt n° {depot_id} n'existe pas.")
        protocole = d.at[0, "protocole"]
        valeurs = con.execute(f"""
            WITH dv AS (SELECT * FROM valeur WHERE depot_id = $id),
            cles AS (SELECT DISTINCT indicateur, perimetre, periode FROM dv
                     UNION SELECT DISTINCT indicateur, perimetre, CASE
                        WHEN periode LIKE '%-S2' THEN left(periode, 4) || '-S1'
                        WHEN periode LIKE '%-S1' THEN CAST(CAST(left(periode, 4) AS INTEGER) - 1 AS VARCHAR) || '-S2'
                        ELSE CAST(TRY_CAST(periode AS INTEGER) - 1 AS VARCHAR) END FROM dv),
            autres AS (SELECT v.indicateur, v.perimetre, v.periode, v.valeur, v.depot_id
                       FROM valeur v JOIN depot d ON d.id = v.depot_id AND d.protocole = v.protocole
                       JOIN protocole p ON p.code = v.protocole
                       SEMI JOIN cles c ON c.indicateur = v.indicateur AND c.perimetre = v.perimetre
                                       AND c.periode = v.periode
                       WHERE v.protocole = $protocole AND {SQL_DEPOT_RETENU}),
            avant AS (SELECT indicateur, perimetre, periode, arg_max(valeur, depot_id) AS remplacee FROM autres
                      WHERE depot_id < $id GROUP BY ALL),
            foi AS (SELECT indicateur, perimetre, periode, max(depot_id) AS depot_foi, arg_max(valeur, depot_id)
                    AS valeur_foi FROM autres GROUP BY ALL)
            SELECT dv.indicateur, i.libelle AS indicateur_libelle, i.unite, dv.perimetre,
                   pe.libelle AS perimetre_libelle, dv.periode, dv.valeur, dv.commentaire, dv.cellule,
                   dv.avertissement_code, dv.avertissement, avant.remplacee, prec.valeur_foi AS precedente,
                   coalesce(f.depot_foi = $id, false) AS fait_foi
            FROM dv
            LEFT JOIN indicateur i ON i.protocole = dv.protocole AND i.code = dv.indicateur
            LEFT JOIN perimetre pe ON pe.protocole = dv.protocole AND pe.code = dv.perimetre
            LEFT JOIN avant USING (indicateur, perimetre, periode)
            LEFT JOIN foi f USING (indicateur, perimetre, periode)
            LEFT JOIN foi prec ON prec.indicateur = dv.indicateur AND prec.perimetre = dv.perimetre
                AND prec.periode = CASE
                    WHEN dv.periode LIKE '%-S2' THEN left(dv.periode, 4) || '-S1'
                    WHEN dv.periode LIKE '%-S1' THEN CAST(CAST(left(dv.periode, 4) AS INTEGER) - 1 AS VARCHAR) || '-S2'
                    ELSE CAST(TRY_CAST(dv.periode AS INTEGER) - 1 AS VARCHAR) END
            ORDER BY dv.avertissement IS NULL, i.ordre, pe.ordre, dv.periode
        """, {"id": depot_id, "protocole": protocole}).df()
        revues = con.execute("SELECT statut, commentaire, auteur, revu_le FROM revue_depot WHERE depot_id = ? "
                             "ORDER BY revu_le DESC", [depot_id]).df()
        return d, valeurs, revues

    d, valeurs, revues = store.lire(lire)
    info = d.iloc[0].to_dict()
    exiger_signataire(store, "consulter_depots", info["protocole"], info["signataire"], objet=f"dépôt n° {depot_id}")
    valeurs["nature"] = "inchangée"
    valeurs.loc[valeurs["remplacee"].isna(), "nature"] = "nouvelle"
    valeurs.loc[valeurs["remplacee"].notna() & (valeurs["remplacee"] != valeurs["valeur"]), "nature"] = "modifiée"
    return DetailDepot(info, valeurs, revues, info.pop("valeurs_retenues"))


@operation("consulter_depots")
def depots_en_attente(store: Store, protocole: str) -> pd.DataFrame:
    """Ce qui attend la revue de la coordination : les dépôts jamais revus, ceux confirmés malgré un avertissement en
    premier, puis du plus ancien au plus récent (`liste_depots`, mêmes colonnes)."""
    df = liste_depots(store, protocole)
    df = df[df["statut"] == "reçu"]
    return df.sort_values(["en_attente_de_revue", "id"], ascending=[False, True]).reset_index(drop=True)


@operation("consulter_depots")
def fichier_du_depot(store: Store, depot_id: int) -> tuple[str, bytes]:
    """Le nom et les octets d'origine d'un fichier déposé (pour un contributeur : un dépôt de son signataire)."""
    ligne = store.lire(lambda con: con.execute("SELECT fichier_nom, contenu, protocole, signataire FROM depot "
                                               "WHERE id = ?", [depot_id]).fetchone())
    if ligne is None:
        raise KeyError(f"Le dépôt n° {depot_id} n'existe pas.")
    exiger_signataire(store, "consulter_depots", ligne[2], ligne[3], objet=f"dépôt n° {depot_id}")
    return ligne[0], bytes(ligne[1])


@operation("consulter_pilotage")
def historique(store: Store, protocole: str, indicateur: str, perimetre: str | None = None) -> pd.DataFrame:
    """Toutes les valeurs déposées pour un indicateur, avec leur dépôt d'origine (fichier, signataire, date) ; la
    colonne `fait_foi` marque celle que montrent les graphiques."""
    # Un seul parcours de `valeur` : la valeur qui fait foi (celle de `SQL_VALEURS_COURANTES`) est celle du dépôt le
    # plus récent de son (périmètre, période), parmi les dépôts qui comptent (`SQL_DEPOT_RETENU`) — une fenêtre.
    # Après les colonnes d'origine : `retenu` (son dépôt compte), `en_attente_de_revue`, l'avertissement confirmé.
    return store.requete(f"""
        SELECT v.perimetre, v.periode, v.valeur, v.commentaire, v.cellule, d.id AS depot_id, d.fichier_nom,
               d.signataire, d.utilisateur, d.depose_le, d.statut,
               coalesce(v.depot_id = max(CASE WHEN {SQL_DEPOT_RETENU} THEN v.depot_id END)
                   OVER (PARTITION BY v.perimetre, v.periode, v.annee), false) AS fait_foi,
               {SQL_DEPOT_RETENU} AS retenu, {SQL_EN_ATTENTE} AS en_attente_de_revue,
               v.avertissement_code, v.avertissement
        FROM valeur v JOIN depot d ON d.id = v.depot_id AND d.protocole = v.protocole
        JOIN protocole p ON p.code = v.protocole
        WHERE v.protocole = ? AND v.indicateur = ? AND (? IS NULL OR v.perimetre = ?)
        ORDER BY v.periode, v.perimetre, d.id
    """, [protocole, indicateur, perimetre, perimetre])


# --------------------------------------------------------------------------------------------------------------------
# Ce qui est attendu, et la complétude
# --------------------------------------------------------------------------------------------------------------------

SQL_ATTENDUS = """
    -- Les périmètres attendus d'un indicateur : ceux qui ont une référence ou une cible s'il y en a, sinon tous les
    -- périmètres de son niveau. Les périodes : l'année, ou ses deux semestres pour un indicateur semestriel.
    WITH i AS (SELECT * FROM indicateur WHERE protocole = $protocole),
    fixes AS (SELECT indicateur, perimetre FROM reference WHERE protocole = $protocole
              UNION SELECT indicateur, perimetre FROM cible WHERE protocole = $protocole),
    per AS (
        SELECT i.code AS indicateur, f.perimetre FROM i JOIN fixes f ON f.indicateur = i.code
        JOIN perimetre p ON p.protocole = i.protocole AND p.code = f.perimetre AND p.niveau = i.niveau
        UNION ALL
        SELECT i.code, p.code FROM i JOIN perimetre p ON p.protocole = i.protocole AND p.niveau = i.niveau
            WHERE NOT EXISTS (SELECT 1 FROM fixes f JOIN perimetre q ON q.protocole = i.protocole AND q.code = f.perimetre
                          WHERE f.indicateur = i.code AND q.niveau = i.niveau)),
    periodes AS (
        SELECT i.code AS indicateur, unnest(CASE
            WHEN i.periodicite = 'semestrielle' AND len($periode) = 4 THEN [$periode || '-S1', $periode || '-S2']
            WHEN i.periodicite = 'semestrielle' THEN [$periode]
            WHEN len($periode) = 4 THEN [$periode]
            ELSE [] END) AS periode
        FROM i)
    SELECT i.signataire, i.code AS indicateur, i.libelle, i.unite, per.perimetre, periodes.periode, i.ordre
    FROM i JOIN per ON per.indicateur = i.code JOIN periodes ON periodes.indicateur = i.code
"""


def attendus(con: duckdb.DuckDBPyConnection, protocole: str, periode: str) -> pd.DataFrame:
    """Chaque (indicateur, périmètre, période) qu'un signataire devait envoyer pour une année ou un semestre."""
    return con.execute(SQL_ATTENDUS + " ORDER BY i.ordre, per.perimetre, periodes.periode",
                       {"protocole": protocole, "periode": periode}).df()


@dataclass
class Completude:
    periode: str
    par_signataire: pd.DataFrame     # signataire, nom, attendus, recus, taux, statut, dernier_depot
    detail: pd.DataFrame             # chaque attendu, avec recu (bool)

    @property
    def en_retard(self) -> list[str]:
        return list(self.par_signataire.loc[self.par_signataire["statut"] != "complet", "signataire"])

    def as_dict(self) -> dict:
        df = self.par_signataire.astype(object).where(self.par_signataire.notna(), None)
        return {"periode": self.periode, "signataires": df.to_dict("records"), "en_retard": self.en_retard,
                "attendus": int(self.par_signataire["attendus"].sum()),
                "recus": int(self.par_signataire["recus"].sum())}


@operation("consulter_depots")
def completude(store: Store, protocole: str, periode: str) -> Completude:
    """Pour une année (ou un semestre) : ce que chaque signataire devait envoyer, ce qui est arrivé, qui est en retard.
    Un contributeur ne voit que les lignes de son signataire et de ses services."""
    if not RE_PERIODE.match(str(periode)):
        raise ValueError(f"Période illisible : « {periode} » (attendu 2021 ou 2021-S1).")

    def lire(con):
        if not con.execute("SELECT count(*) FROM protocole WHERE code = ?", [protocole]).fetchone()[0]:
            raise ProtocoleInconnu(protocole)
        return con.execute(f"""
            WITH a AS ({SQL_ATTENDUS}),
            -- Les valeurs reçues (validées ou non, hors dépôts « à corriger »), pour l'année demandée seulement
            -- (les attendus n'en portent pas d'autre) ;
            -- l'année passée en nombre : une constante que DuckDB pousse jusqu'à la lecture de `valeur` (et ses
            -- cartes de zones), ce qu'il ne fait pas de `CAST(left($periode, 4) AS INTEGER)`.
            c AS (SELECT * FROM ({SQL_VALEURS_RECUES_DU_PROTOCOLE.replace('?', '$protocole')})
                  WHERE annee = $annee)
            SELECT a.*, c.valeur, c.depot_id, c.depot_id IS NOT NULL AS recu
            FROM a LEFT JOIN c ON c.indicateur = a.indicateur AND c.perimetre = a.perimetre AND c.periode = a.periode
            ORDER BY a.signataire, a.ordre, a.perimetre, a.periode
        """, {"protocole": protocole, "periode": str(periode), "annee": int(str(periode)[:4])}).df()

    def signataires(con):
        return con.execute("""
            SELECT s.code AS signataire, s.nom,
                   (SELECT max(d.depose_le) FROM depot d WHERE d.protocole = s.protocole AND d.signataire = s.code
                     AND d.periode LIKE ? || '%') AS dernier_depot
            FROM signataire s WHERE s.protocole = ?""", [str(periode)[:4], protocole]).df()

    with _session(store) as s:   # une connexion pour les deux lectures
        detail = s.lire(lire)
        sig = s.lire(signataires)
    permis = perimetre_de(store, protocole)
    if permis is not None:
        detail = detail[detail["signataire"].isin(permis)].reset_index(drop=True)
        sig = sig[sig["signataire"].isin(permis)]
    return Completude(str(periode), completude_par_signataire(_comptes(detail), sig), detail)


def _comptes(detail: pd.DataFrame) -> pd.DataFrame:
    """Par signataire (dans l'ordre de leurs codes) : attendus (lignes du détail) et recus (lignes reçues), la table
    de `detail.groupby("signataire").agg(attendus=("recu", "size"), recus=("recu", "sum")).reset_index()`, mêmes
    types, comptée dans des dictionnaires (le groupement de pandas coûtait plusieurs millisecondes pour quelques
    milliers de lignes)."""
    attendus: dict[str, int] = {}
    recus: dict[str, int] = {}
    for s, r in zip(detail["signataire"].tolist(), detail["recu"].tolist()):
        attendus[s] = attendus.get(s, 0) + 1
        recus[s] = recus.get(s, 0) + bool(r)
    cles = sorted(attendus)
    return pd.DataFrame({"signataire": pd.array(cles, dtype=detail["signataire"].dtype),
                         "attendus": np.array([attendus[c] for c in cles], dtype="int64"),
                         "recus": np.array([recus[c] for c in cles], dtype="int64")})
