"""Les dépôts des partenaires : contrôle, écriture tout-ou-rien, historique, revue, complétude.

Un dépôt = un fichier envoyé par un signataire (ou un de ses services). Ses octets sont gardés ; ses valeurs sont écrites avec
lui, dans une seule transaction. La valeur qui fait foi pour un (indicateur, périmètre, période) est celle du dépôt le plus
récent que la coordination n'a pas marqué « à corriger » ; les précédentes restent dans l'historique (la table `valeur` n'est
jamais modifiée ni vidée par un dépôt).
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
from perr_metrics.referentiel.classeur import inserer_df
from perr_metrics.referentiel.requetes import ProtocoleInconnu, _a_cote, _session
from .motifs import SQL_MOTIFS_COURANTS
from .validation import Contexte, _par_valeur, lire_depot, verifier

RE_PERIODE = re.compile(r"^(\d{4})(?:-S([12]))?$")
STATUTS_REVUE = ("validé", "à corriger")


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
    nb_motifs: int = 0


def enregistrer_depot(con: duckdb.DuckDBPyConnection, *, protocole: str, signataire: str, periode: str | None,
                      utilisateur: str, fichier_nom: str, contenu: bytes, valeurs: pd.DataFrame,
                      depose_le: dt.datetime | None = None, commentaire: str | None = None,
                      compte: str | None = None) -> Depot:
    """Écrit un dépôt et ses valeurs dans la transaction `con` (appelé depuis `Store.ecrire`).

    `valeurs` a les colonnes `indicateur`, `perimetre`, `periode`, `valeur` et, facultatives, `commentaire`, `cellule`,
    `motif`. Une ligne qui porte un motif (sans valeur) va dans `valeur_motif`, jamais dans `valeur`.
    """
    depot_id = prochain_id(con, "depot")
    motifs = valeurs[valeurs["motif"].notna()] if "motif" in valeurs.columns else valeurs.iloc[0:0]
    valeurs = valeurs[valeurs["motif"].isna()] if "motif" in valeurs.columns else valeurs
    empreinte = hashlib.sha256(contenu).hexdigest()
    con.execute(
        "INSERT INTO depot (id, protocole, signataire, periode, utilisateur, depose_le, fichier_nom, sha256, contenu, "
        "nb_valeurs, commentaire, compte) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [depot_id, protocole, signataire, periode, utilisateur, depose_le or dt.datetime.now(), fichier_nom,
         empreinte, contenu, len(valeurs), commentaire, compte])
    df = valeurs.copy()
    for col in ("commentaire", "cellule"):
        if col not in df.columns:
            df[col] = None
    df["depot_id"] = depot_id
    df["protocole"] = protocole
    df["annee"] = _par_valeur(df["periode"], annee_de)
    inserer_df(con, "valeur", df[["depot_id", "protocole", "indicateur", "perimetre", "periode", "annee", "valeur",
                                  "commentaire", "cellule"]])
    if len(motifs):
        m = motifs.copy()
        if "cellule" not in m.columns:
            m["cellule"] = None
        m["depot_id"] = depot_id
        m["protocole"] = protocole
        m["annee"] = _par_valeur(m["periode"], annee_de)
        inserer_df(con, "valeur_motif", m[["depot_id", "protocole", "indicateur", "perimetre", "periode", "annee",
                                           "motif", "commentaire", "cellule"]])
    return Depot(depot_id, protocole, signataire, periode, fichier_nom, empreinte, len(valeurs), len(motifs))


COLONNES_MOTIFS = ["motif", "motif_commentaire", "explique"]     # ajoutées au détail de la complétude (depots.motifs)
STATUTS_COMPLETUDE = ("complet", "complet avec motifs", "partiel", "aucune donnée")
STATUTS_A_JOUR = ("complet", "complet avec motifs")     # rien ne manque : pas de relance


def completude_par_signataire(compte: pd.DataFrame, sig: pd.DataFrame) -> pd.DataFrame:
    """La table de complétude par signataire (taux, statut, tri) à partir des comptes `signataire, attendus, recus` et,
    facultatif, `expliques` (valeurs manquantes dont le partenaire a donné le motif), et des signataires (`signataire,
    nom, dernier_depot`) ; partagée par `completude` et le rapport annuel.

    `manquants` = attendus − reçus − expliqués. Statut : « complet » (tout reçu), « complet avec motifs » (rien ne
    manque, certaines valeurs expliquées), « partiel », « aucune donnée » (ni valeur ni motif). Le taux reste celui
    des valeurs reçues : un motif n'est pas une valeur."""
    df = compte.merge(sig, on="signataire", how="left")
    df["recus"] = df["recus"].astype(int)
    df["expliques"] = df["expliques"].astype(int) if "expliques" in df.columns else 0
    df["manquants"] = df["attendus"] - df["recus"] - df["expliques"]
    df["taux"] = (100 * df["recus"] / df["attendus"]).round(1)
    df["statut"] = "partiel"
    df.loc[df["manquants"] == 0, "statut"] = "complet avec motifs"
    df.loc[df["recus"] == df["attendus"], "statut"] = "complet"
    df.loc[(df["recus"] == 0) & (df["expliques"] == 0), "statut"] = "aucune donnée"
    df = df.sort_values(["taux", "signataire"]).reset_index(drop=True)
    return df[["signataire", "nom", "attendus", "recus", "taux", "statut", "dernier_depot", "expliques", "manquants"]]


SQL_VALEURS_COURANTES = """
    SELECT v.indicateur, v.perimetre, v.periode, v.annee,
           arg_max(v.valeur, v.depot_id) AS valeur, max(v.depot_id) AS depot_id
    FROM valeur v JOIN depot d ON d.id = v.depot_id
    WHERE v.protocole = ? AND d.statut <> 'à corriger'
    GROUP BY v.indicateur, v.perimetre, v.periode, v.annee
"""

# Les mêmes lignes, la jointure limitée aux dépôts du protocole : une valeur a toujours le protocole de son dépôt (les
# deux écrits ensemble par `enregistrer_depot`, et par la base d'essai nationale), mais DuckDB ne le sait pas. Sans ce
# filtre, il construit sa table de hachage sur tous les dépôts de la base (170 000 sur la base nationale : 30 à 50 ms
# base juste ouverte) ; avec lui, sur les quelques centaines du protocole.
SQL_VALEURS_COURANTES_DU_PROTOCOLE = SQL_VALEURS_COURANTES.replace(
    "JOIN depot d ON d.id = v.depot_id", "JOIN depot d ON d.id = v.depot_id AND d.protocole = v.protocole")
assert SQL_VALEURS_COURANTES_DU_PROTOCOLE != SQL_VALEURS_COURANTES


@operation("consulter_pilotage")
def valeurs_courantes(store: Store, protocole: str) -> pd.DataFrame:
    """La valeur qui fait foi par (indicateur, périmètre, période) : celle du dépôt le plus récent, parmi les dépôts que
    la coordination n'a pas marqués « à corriger ». C'est elle que montrent les graphiques et le rapport."""
    return store.requete(SQL_VALEURS_COURANTES + " ORDER BY ALL", [protocole])



def _contexte(con: duckdb.DuckDBPyConnection, protocole: str, signataire: str) -> Contexte | str:
    p = con.execute("SELECT annee_debut, annee_fin FROM protocole WHERE code = ?", [protocole]).fetchone()
    if p is None:
        return f"Le protocole « {protocole} » n'existe pas dans cette base."
    couverts = signataires_couverts(con, protocole, signataire)
    if not couverts:
        return f"Le signataire « {signataire} » n'existe pas dans le protocole {protocole}."
    ind = con.execute("SELECT code, unite, periodicite, niveau, signataire, minimum, maximum FROM indicateur "
                      "WHERE protocole = ?", [protocole]).df().set_index("code")
    per = con.execute("SELECT code, niveau FROM perimetre WHERE protocole = ?", [protocole]).df().set_index("code")
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
    motifs: pd.DataFrame = field(default_factory=pd.DataFrame)   # lignes sans valeur, avec leur motif

    def as_dict(self) -> dict:
        def lignes(ps):
            return [dict(feuille=p.feuille, cellule=p.cellule, code=p.code, message=p.message, valeur=p.valeur)
                    for p in ps]
        return {"statut": self.statut, "erreurs": lignes(self.rapport.erreurs),
                "avertissements": lignes(self.rapport.avertissements), "valeurs": self.nb_valeurs,
                "motifs": len(self.motifs), "depot_id": self.depot_id}


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
        if not lecture.rapport.valide:
            raise _Abandon(ResultatDepot("rejete", lecture.rapport))
        if lecture.rapport.avertissements and not accepter_avertissements:
            raise _Abandon(ResultatDepot("a-confirmer", lecture.rapport))
        avancer(0.8, f"Enregistrement de {len(valeurs)} valeurs…")
        motifs = valeurs[valeurs["motif"].notna()].reset_index(drop=True)
        changements = _changements(valeurs[valeurs["motif"].isna()], ctx.precedentes)
        annees = set(valeurs["periode"].str[:4].unique())
        periode_depot = periode or lecture.meta.get("periode") or (annees.pop() if len(annees) == 1 else None)
        n = len(lecture.rapport.avertissements)
        depot = enregistrer_depot(
            con, protocole=protocole, signataire=signataire, periode=periode_depot, utilisateur=u.nom,
            fichier_nom=nom_fichier, contenu=donnees, valeurs=valeurs, compte=u.identifiant,
            commentaire=f"{n} avertissement{'s' if n > 1 else ''} confirmé{'s' if n > 1 else ''} au dépôt" if n else None)
        journal.noter(con, u, "dépôt", protocole=protocole, objet=f"dépôt n° {depot.id} : {nom_fichier}",
                      detail=f"signataire {signataire}, période {periode_depot or 'non précisée'}, "
                             f"{depot.nb_valeurs} valeurs"
                             + (f", {depot.nb_motifs} valeur(s) manquante(s) expliquée(s)" if depot.nb_motifs else "")
                             + (f", {n} avertissement(s) confirmé(s)" if n else ""))
        return ResultatDepot("accepte", lecture.rapport, depot.id, depot.nb_valeurs, changements, periode_depot,
                             motifs)

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


def _changements(valeurs: pd.DataFrame, precedentes: pd.DataFrame) -> pd.DataFrame:
    """Ce que le dépôt change par rapport aux valeurs qui faisaient foi."""
    cles = ["indicateur", "perimetre", "periode"]
    avant = precedentes[cles + ["valeur"]].rename(columns={"valeur": "ancienne"}) if not precedentes.empty else \
        pd.DataFrame(columns=cles + ["ancienne"])
    df = valeurs[cles + ["valeur"]].rename(columns={"valeur": "nouvelle"}).merge(avant, on=cles, how="left")
    df["nature"] = "inchangée"
    df.loc[df["ancienne"].isna(), "nature"] = "nouvelle"
    df.loc[df["ancienne"].notna() & (df["ancienne"] != df["nouvelle"]), "nature"] = "modifiée"
    return df


# --------------------------------------------------------------------------------------------------------------------
# Revue, historique, fichiers
# --------------------------------------------------------------------------------------------------------------------

@operation("revoir_depot")
def revoir_depot(store: Store, depot_id: int, statut: str, commentaire: str | None = None) -> None:
    """La coordination marque un dépôt « validé » ou « à corriger » (les valeurs d'un dépôt à corriger ne font plus foi)."""
    u = utilisateur_de(store)
    if statut not in STATUTS_REVUE:
        raise ValueError(f"Statut de revue inconnu : « {statut} » (attendu : {', '.join(STATUTS_REVUE)}).")

    def ecrire(con):
        ligne = con.execute("SELECT protocole, fichier_nom FROM depot WHERE id = ?", [depot_id]).fetchone()
        if ligne is None:
            raise KeyError(f"Le dépôt n° {depot_id} n'existe pas.")
        con.execute("INSERT INTO revue_depot (depot_id, statut, commentaire, auteur, revu_le, compte) "
                    "VALUES (?, ?, ?, ?, current_timestamp, ?)", [depot_id, statut, commentaire, u.nom, u.identifiant])
        con.execute("UPDATE depot SET statut = ? WHERE id = ?", [statut, depot_id])
        journal.noter(con, u, "revue de dépôt", protocole=ligne[0], objet=f"dépôt n° {depot_id} : {ligne[1]}",
                      detail=statut + (f" — {commentaire}" if commentaire else ""))

    store.ecrire(ecrire)


@operation("consulter_depots")
def liste_depots(store: Store, protocole: str, signataire: str | None = None) -> pd.DataFrame:
    """Les dépôts d'un protocole, du plus récent au plus ancien (sans les octets des fichiers). Un contributeur ne voit
    que ceux de son signataire et de ses services."""
    if signataire is not None:
        exiger_signataire(store, "consulter_depots", protocole, signataire)
    permis = perimetre_de(store, protocole)
    df = store.requete("""
        SELECT d.id, d.signataire, s.nom AS signataire_nom, d.periode, d.utilisateur, d.depose_le, d.fichier_nom,
               d.sha256, d.nb_valeurs, octet_length(d.contenu) AS taille, d.statut, d.commentaire,
               (SELECT r.commentaire FROM revue_depot r WHERE r.depot_id = d.id ORDER BY r.revu_le DESC LIMIT 1)
                   AS commentaire_revue
        FROM depot d LEFT JOIN signataire s ON s.protocole = d.protocole AND s.code = d.signataire
        WHERE d.protocole = ? AND (? IS NULL OR d.signataire = ?)
        ORDER BY d.id DESC
    """, [protocole, signataire, signataire])
    return df if permis is None else df[df["signataire"].isin(permis)].reset_index(drop=True)


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
    # plus récent de son (périmètre, période), parmi les dépôts qui ne sont pas « à corriger » — une fenêtre.
    return store.requete("""
        SELECT v.perimetre, v.periode, v.valeur, v.commentaire, v.cellule, d.id AS depot_id, d.fichier_nom,
               d.signataire, d.utilisateur, d.depose_le, d.statut,
               coalesce(v.depot_id = max(CASE WHEN d.statut <> 'à corriger' THEN v.depot_id END)
                   OVER (PARTITION BY v.perimetre, v.periode, v.annee), false) AS fait_foi
        FROM valeur v JOIN depot d ON d.id = v.depot_id AND d.protocole = v.protocole
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
    par_signataire: pd.DataFrame     # signataire, nom, attendus, recus, taux, statut, dernier_depot, expliques, manquants
    detail: pd.DataFrame             # chaque attendu, avec recu (bool), explique (bool), motif, motif_commentaire

    @property
    def en_retard(self) -> list[str]:
        """Les signataires à qui il manque au moins une valeur ni reçue ni expliquée (ceux qu'on relance)."""
        return list(self.par_signataire.loc[~self.par_signataire["statut"].isin(STATUTS_A_JOUR), "signataire"])

    def as_dict(self) -> dict:
        df = self.par_signataire.astype(object).where(self.par_signataire.notna(), None)
        return {"periode": self.periode, "signataires": df.to_dict("records"), "en_retard": self.en_retard,
                "attendus": int(self.par_signataire["attendus"].sum()),
                "recus": int(self.par_signataire["recus"].sum()),
                "expliques": int(self.par_signataire["expliques"].sum()),
                "manquants": int(self.par_signataire["manquants"].sum())}


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
            -- Les valeurs qui font foi, pour l'année demandée seulement (les attendus n'en portent pas d'autre) ;
            -- l'année passée en nombre : une constante que DuckDB pousse jusqu'à la lecture de `valeur` (et ses
            -- cartes de zones), ce qu'il ne fait pas de `CAST(left($periode, 4) AS INTEGER)`.
            c AS (SELECT * FROM ({SQL_VALEURS_COURANTES_DU_PROTOCOLE.replace('?', '$protocole')})
                  WHERE annee = $annee),
            -- Les motifs des valeurs non données (depots.motifs) : ils n'expliquent que ce qui n'est pas reçu.
            m AS (SELECT * FROM ({SQL_MOTIFS_COURANTS}) WHERE annee = $annee)
            SELECT a.*, c.valeur, c.depot_id, c.depot_id IS NOT NULL AS recu,
                   CASE WHEN c.depot_id IS NULL THEN m.motif END AS motif,
                   CASE WHEN c.depot_id IS NULL THEN m.motif_commentaire END AS motif_commentaire,
                   c.depot_id IS NULL AND m.motif IS NOT NULL AS explique
            FROM a LEFT JOIN c ON c.indicateur = a.indicateur AND c.perimetre = a.perimetre AND c.periode = a.periode
            LEFT JOIN m ON m.indicateur = a.indicateur AND m.perimetre = a.perimetre AND m.periode = a.periode
            ORDER BY a.signataire, a.ordre, a.perimetre, a.periode
        """, {"protocole": protocole, "periode": str(periode), "annee": int(str(periode)[:4])}).df()

    def signataires(autre):
        return autre.lire(lambda con: con.execute("""
            SELECT s.code AS signataire, s.nom,
                   (SELECT max(d.depose_le) FROM depot d WHERE d.protocole = s.protocole AND d.signataire = s.code
                     AND d.periode LIKE ? || '%') AS dernier_depot
            FROM signataire s WHERE s.protocole = ?""", [str(periode)[:4], protocole]).df())

    with _session(store) as s:   # les signataires lus à côté, pendant la lecture du détail
        with _a_cote(s, signataires) as a_cote:
            detail = s.lire(lire)
        sig = a_cote.result()
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
    expliques: dict[str, int] = {}
    explique = detail["explique"].tolist() if "explique" in detail.columns else [False] * len(detail)
    for s, r, e in zip(detail["signataire"].tolist(), detail["recu"].tolist(), explique):
        attendus[s] = attendus.get(s, 0) + 1
        recus[s] = recus.get(s, 0) + bool(r)
        expliques[s] = expliques.get(s, 0) + bool(e)
    cles = sorted(attendus)
    return pd.DataFrame({"signataire": pd.array(cles, dtype=detail["signataire"].dtype),
                         "attendus": np.array([attendus[c] for c in cles], dtype="int64"),
                         "recus": np.array([recus[c] for c in cles], dtype="int64"),
                         "expliques": np.array([expliques[c] for c in cles], dtype="int64")})
