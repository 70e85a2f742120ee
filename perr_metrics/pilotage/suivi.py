"""Le suivi des engagements : leur état (non démarré, en cours, réalisé, reporté, abandonné), son historique, et le
bilan d'un signataire (ses engagements, ses indicateurs, ses dépôts).

Chaque état saisi est gardé (table `etat_engagement`) : l'état courant d'un engagement est le dernier en date (date de
l'état, puis moment de la saisie) ; les précédents forment son historique. Un engagement dont personne n'a encore
renseigné l'état est « non renseigné », ce qui n'est pas la même chose que « non démarré ».
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import pandas as pd

from perr_metrics.acces import journal
from perr_metrics.stockage.magasin import Store
from perr_metrics.acces.droits import exiger_signataire, operation, perimetre_de, utilisateur_de
from perr_metrics.depots.depot import completude, liste_depots, signataires_couverts
from perr_metrics.commun.formats import format_date, lire_date
from perr_metrics.referentiel.requetes import SANS_PORTEUR, ProtocoleInconnu, _session

ETATS = ("non démarré", "en cours", "réalisé", "reporté", "abandonné")
NON_RENSEIGNE = "non renseigné"
#: Un engagement reporté ou abandonné doit dire pourquoi : c'est ce que le COPIL demandera.
ETATS_A_JUSTIFIER = ("reporté", "abandonné")

COLONNES_ETATS = [
    "code", "libelle", "formule", "levier", "echeance", "noeud", "noeud_libelle", "axe", "axe_libelle", "porteurs",
    "porteurs_noms", "etat", "date_etat", "commentaire", "auteur", "saisi_le", "nb_etats", "nature", "volet",
    "volet_libelle",
]


class EtatRefuse(ValueError):
    """Un état d'engagement refusé : `code` stable (docs/erreurs.md) et message en français. Rien n'est écrit."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class ConfirmationRequise(EtatRefuse):
    """L'état demandé ferait revenir l'engagement en arrière (`est_un_recul`) : rien n'est écrit tant que ce retour
    n'est pas confirmé (`enregistrer_etat(..., confirmer_recul=True)`). `actuel` : l'état courant qu'il remplacerait."""

    def __init__(self, code: str, message: str, actuel: str, date_actuelle: dt.date | None):
        super().__init__(code, message)
        self.actuel = actuel
        self.date_actuelle = date_actuelle


def est_un_recul(actuel: str | None, nouvel: str) -> bool:
    """Vrai si passer de l'état `actuel` (None ou « non renseigné » : aucun) à `nouvel` défait quelque chose : quitter
    « réalisé », ou revenir à « non démarré » depuis un engagement commencé, reporté ou abandonné."""
    if actuel in (None, NON_RENSEIGNE) or actuel == nouvel:
        return False
    return actuel == "réalisé" or nouvel == "non démarré"


def _lire_date_etat(date_etat) -> dt.date:
    if date_etat is None or (isinstance(date_etat, str) and not date_etat.strip()):
        raise EtatRefuse("date-invalide", "Indiquez la date de cet état.")
    if isinstance(date_etat, pd.Timestamp):
        return date_etat.date()
    try:
        return lire_date(date_etat)
    except (ValueError, TypeError):
        raise EtatRefuse("date-invalide", f"Date « {date_etat} » illisible : écrivez-la 12/02/2021 ou "
                                          "2021-02-12.") from None


@operation("modifier_etat")
def enregistrer_etat(store: Store, protocole: str, engagement: str, etat: str, date_etat, commentaire: str | None,
                     *, confirmer_recul: bool = False, aujourd_hui: dt.date | None = None) -> dict:
    """Enregistre un nouvel état d'un engagement, au nom de l'utilisateur du magasin ; les états précédents restent
    dans l'historique. Un contributeur ne met à jour que les engagements que porte son signataire (ou l'un de ses
    services).

    Refuse (lève `EtatRefuse`, rien n'est écrit) : un engagement absent du protocole, un état hors de `ETATS`, une
    date illisible ou postérieure à aujourd'hui, un engagement reporté ou abandonné sans commentaire, l'état courant
    répété sans commentaire (`etat-inchange` : un clic distrait ne change pas la date « depuis le »). Lève
    `ConfirmationRequise` (`recul-a-confirmer`) pour un retour en arrière (`est_un_recul` : « réalisé » → « non
    démarré »…) qui deviendrait l'état courant, sauf avec `confirmer_recul` ; le journal dit alors qu'il a été confirmé.
    Un état daté avant l'état courant complète l'historique sans le remplacer : ni recul, ni confirmation.

    Renvoie la ligne enregistrée, plus `precedent` (l'état courant avant elle, ou None), `courant` (devient-elle
    l'état courant ?) et `recul` (retour en arrière confirmé).
    """
    u = utilisateur_de(store)
    aujourd_hui = aujourd_hui or dt.date.today()
    etat = (etat or "").strip()
    auteur = u.nom
    commentaire = (commentaire or "").strip() or None
    if etat not in ETATS:
        raise EtatRefuse("etat-inconnu", f"État « {etat} » inconnu : choisissez parmi {', '.join(ETATS)}.")
    _exiger_porteur(store, "modifier_etat", protocole, engagement)
    jour = _lire_date_etat(date_etat)
    if jour > aujourd_hui:
        raise EtatRefuse("date-future", f"La date de l'état ({format_date(jour)}) est postérieure à aujourd'hui "
                                        f"({format_date(aujourd_hui)}) : un état constate ce qui est, pas ce qui "
                                        "est prévu.")
    if etat in ETATS_A_JUSTIFIER and not commentaire:
        raise EtatRefuse("commentaire-obligatoire", f"Un engagement {etat} doit être expliqué : indiquez la raison "
                                                    "en commentaire.")
    ligne = dict(protocole=protocole, engagement=engagement, etat=etat, date_etat=jour, commentaire=commentaire,
                 auteur=auteur, saisi_le=dt.datetime.now())

    def ecrire(con: duckdb.DuckDBPyConnection) -> None:
        if not con.execute("SELECT count(*) FROM protocole WHERE code = ?", [protocole]).fetchone()[0]:
            raise EtatRefuse("protocole-inconnu", f"Le protocole « {protocole} » n'existe pas dans cette base.")
        if not con.execute("SELECT count(*) FROM engagement WHERE protocole = ? AND code = ?",
                           [protocole, engagement]).fetchone()[0]:
            raise EtatRefuse("engagement-inconnu", f"L'engagement « {engagement} » n'existe pas dans le protocole "
                                                   f"{protocole}.")
        dernier = con.execute("SELECT etat, date_etat FROM etat_engagement WHERE protocole = ? AND engagement = ? "
                              "ORDER BY date_etat DESC, saisi_le DESC LIMIT 1", [protocole, engagement]).fetchone()
        actuel, depuis = (dernier[0], dernier[1]) if dernier else (None, None)
        courant = depuis is None or jour >= depuis
        if courant and actuel == etat and not commentaire:
            raise EtatRefuse("etat-inchange", f"L'engagement {engagement} est déjà « {etat} » depuis le "
                                              f"{format_date(depuis)} : rien à enregistrer. Choisissez un autre état, "
                                              "ou ajoutez un commentaire.")
        recul = courant and est_un_recul(actuel, etat)
        if recul and not confirmer_recul:
            raise ConfirmationRequise(
                "recul-a-confirmer", f"L'engagement {engagement} est « {actuel} » depuis le {format_date(depuis)} : "
                f"le passer à « {etat} » au {format_date(jour)} le ferait revenir en arrière. Confirmez ce retour, "
                "ou choisissez un autre état.", actuel, depuis)
        con.execute("INSERT INTO etat_engagement (protocole, engagement, etat, date_etat, commentaire, auteur, saisi_le,"
                    " compte) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", list(ligne.values()) + [u.identifiant])
        detail = f"{etat} au {format_date(jour)}" + (f" — {commentaire}" if commentaire else "")
        if recul:
            detail += f" (retour en arrière confirmé : était « {actuel} » depuis le {format_date(depuis)})"
        elif not courant:
            detail += f" (antérieur à l'état courant « {actuel} » du {format_date(depuis)} : ajouté à l'historique)"
        journal.noter(con, u, "état d'engagement", protocole=protocole, objet=engagement, detail=detail)
        ligne.update(precedent=actuel, courant=courant, recul=recul)

    store.ecrire(ecrire)
    return ligne


def _exiger_porteur(store: Store, action: str, protocole: str, engagement: str) -> None:
    """Pour un contributeur : l'engagement doit être porté par son signataire ou l'un de ses services."""
    permis = perimetre_de(store, protocole)
    if permis is None:
        return
    porteurs = store.lire(lambda con: {r[0] for r in con.execute(
        "SELECT signataire FROM engagement_porteur WHERE protocole = ? AND engagement = ?",
        [protocole, engagement]).fetchall()})
    communs = porteurs & permis
    # Refus (au journal) si l'engagement n'est pas le sien : on nomme ses porteurs.
    exiger_signataire(store, action, protocole, communs or (porteurs or {"(aucun porteur)"}),
                      objet=f"engagement {engagement}")


def _verifier(con: duckdb.DuckDBPyConnection, protocole: str) -> None:
    if not con.execute("SELECT count(*) FROM protocole WHERE code = ?", [protocole]).fetchone()[0]:
        raise ProtocoleInconnu(protocole)


@operation("consulter_engagements")
def etats_courants(store: Store, protocole: str) -> pd.DataFrame:
    """Chaque engagement du protocole, dans l'ordre du référentiel, avec son axe (nœud racine de l'arborescence), ses
    porteurs et son dernier état (date, commentaire, auteur) ; « non renseigné » s'il n'a encore aucun état. Un
    engagement sans porteur a `porteurs` vide et `porteurs_noms` à `SANS_PORTEUR` (« sans porteur désigné »). Aussi :
    sa nature dans le vocabulaire du protocole (`nature`) et son volet (`volet`, `volet_libelle`, vides pour le corps).

    Le dernier état est celui de la date la plus récente ; à date égale, le dernier saisi.
    """
    def lire(con):
        _verifier(con, protocole)
        return con.execute("""
            WITH dernier AS (
                SELECT engagement, count(*) AS nb_etats,
                       arg_max(struct_pack(etat, date_etat, commentaire, auteur, saisi_le), (date_etat, saisi_le)) AS d
                FROM etat_engagement WHERE protocole = $p GROUP BY engagement),
            -- les porteurs de chaque engagement, groupés une fois (plutôt que deux sous-requêtes par engagement)
            p AS (SELECT engagement, string_agg(signataire, ';' ORDER BY rang) AS porteurs FROM engagement_porteur
                  WHERE protocole = $p GROUP BY engagement),
            pn AS (SELECT x.engagement, string_agg(s.nom, ', ' ORDER BY x.rang) AS porteurs_noms
                   FROM engagement_porteur x JOIN signataire s ON s.protocole = x.protocole AND s.code = x.signataire
                   WHERE x.protocole = $p GROUP BY x.engagement)
            SELECT e.code, e.libelle, e.formule, e.levier, e.echeance, e.noeud, n.libelle AS noeud_libelle,
                   r.code AS axe, r.libelle AS axe_libelle, p.porteurs, coalesce(pn.porteurs_noms, $sp) AS porteurs_noms,
                   coalesce(dernier.d.etat, $nr) AS etat, dernier.d.date_etat AS date_etat,
                   dernier.d.commentaire AS commentaire, dernier.d.auteur AS auteur, dernier.d.saisi_le AS saisi_le,
                   coalesce(dernier.nb_etats, 0) AS nb_etats, e.nature, n.volet, v.libelle AS volet_libelle
            FROM engagement e
            JOIN noeud n ON n.protocole = e.protocole AND n.code = e.noeud
            LEFT JOIN volet v ON v.protocole = n.protocole AND v.code = n.volet
            LEFT JOIN noeud r ON r.protocole = e.protocole AND r.chemin = split_part(n.chemin, '.', 1)
            LEFT JOIN dernier ON dernier.engagement = e.code
            LEFT JOIN p ON p.engagement = e.code
            LEFT JOIN pn ON pn.engagement = e.code
            WHERE e.protocole = $p
            ORDER BY e.ordre, e.code
        """, {"p": protocole, "nr": NON_RENSEIGNE, "sp": SANS_PORTEUR}).df()

    df = store.lire(lire)
    df["nb_etats"] = df["nb_etats"].astype("int64")
    permis = perimetre_de(store, protocole)
    if permis is not None:   # un contributeur : les engagements que porte son signataire
        df = df[df["porteurs"].fillna("").map(lambda p: bool(permis & set(p.split(";"))))].reset_index(drop=True)
    return df[COLONNES_ETATS]


@operation("consulter_engagements")
def historique_etats(store: Store, protocole: str, engagement: str) -> pd.DataFrame:
    """Tous les états saisis pour un engagement, du plus récent au plus ancien (colonnes etat, date_etat,
    commentaire, auteur, saisi_le)."""
    _exiger_porteur(store, "consulter_engagements", protocole, engagement)

    def lire(con):
        _verifier(con, protocole)
        return con.execute("""
            SELECT etat, date_etat, commentaire, auteur, saisi_le FROM etat_engagement
            WHERE protocole = ? AND engagement = ? ORDER BY date_etat DESC, saisi_le DESC
        """, [protocole, engagement]).df()
    return store.lire(lire)


@operation("consulter_engagements")
def engagements_filtres(store: Store, protocole: str, axe: str | None = None, porteur: str | None = None,
                        etat: str | None = None, nature: str | None = None) -> pd.DataFrame:
    """`etats_courants`, restreint à un axe (nœud racine), à un porteur (lui ou l'un de ses services ; `SANS_PORTEUR` :
    les engagements qui n'en ont aucun), à un état (`NON_RENSEIGNE` compris) et à une nature."""
    df = etats_courants(store, protocole)
    if axe:
        df = df[df["axe"] == axe]
    if nature:
        df = df[df["nature"] == nature]
    if porteur == SANS_PORTEUR:
        df = df[df["porteurs"].isna() | (df["porteurs"] == "")]
    elif porteur:
        couverts = store.lire(lambda con: signataires_couverts(con, protocole, porteur))
        df = df[df["porteurs"].fillna("").map(lambda p: bool(couverts & set(p.split(";"))))]
    if etat:
        df = df[df["etat"] == etat]
    return df.reset_index(drop=True)


@operation("consulter_engagements")
def engagements_par_signataire(store: Store, protocole: str, etats: dict | None = None) -> pd.DataFrame:
    """Combien d'engagements porte chaque signataire, et où ils en sont : une ligne par signataire (dans l'ordre du
    référentiel) qui porte au moins un engagement, lui-même ou par ses services, puis une dernière ligne
    `SANS_PORTEUR` (« sans porteur désigné », signataire vide) pour les engagements qui n'en ont aucun, s'il y en a :
    ils ne disparaissent jamais des comptes.

    Colonnes : signataire, nom, nb_engagements (portés par lui ou ses services), nb_seul (sans autre porteur), puis une
    colonne par état (`ETATS`, puis `NON_RENSEIGNE`). Un engagement porté par deux signataires compte pour chacun : la
    somme de la colonne dépasse alors le nombre d'engagements du protocole. Un contributeur ne voit que les siens.

    `etats` (code → état) remplace les états courants : ceux à une date passée, pour le rapport d'une année (un
    engagement absent est « non renseigné »).
    """
    df = etats_courants(store, protocole)
    if etats is not None:
        df = df.assign(etat=[etats.get(c, NON_RENSEIGNE) for c in df["code"]])

    def lire(con):
        sig = con.execute("SELECT code, nom FROM signataire WHERE protocole = ? ORDER BY ordre", [protocole]).fetchall()
        return [(c, n, signataires_couverts(con, protocole, c)) for c, n in sig]

    signataires = store.lire(lire)
    porteurs = [set(p.split(";")) if isinstance(p, str) and p else set() for p in df["porteurs"]]
    etats = list(ETATS) + [NON_RENSEIGNE]
    lignes = []
    for code, nom, couverts in signataires:
        garde = [bool(ps & couverts) for ps in porteurs]
        if not any(garde):
            continue
        sous = df[garde]
        seul = sum(ps <= couverts for ps, g in zip(porteurs, garde) if g)
        lignes.append(dict(signataire=code, nom=nom, nb_engagements=int(sum(garde)), nb_seul=int(seul),
                           **{e: int((sous["etat"] == e).sum()) for e in etats}))
    sans = [not ps for ps in porteurs]
    if any(sans):
        sous = df[sans]
        lignes.append(dict(signataire=None, nom=SANS_PORTEUR, nb_engagements=int(sum(sans)), nb_seul=0,
                           **{e: int((sous["etat"] == e).sum()) for e in etats}))
    return pd.DataFrame(lignes, columns=["signataire", "nom", "nb_engagements", "nb_seul", *etats])


def repartition(df: pd.DataFrame, par: str = "axe") -> pd.DataFrame:
    """Nombre d'engagements par `par` (axe) et par état, dans l'ordre des états (« non renseigné » en dernier) :
    colonnes par, etat, nombre ; les couples sans engagement sont omis."""
    ordre = list(ETATS) + [NON_RENSEIGNE]
    if df.empty:
        return pd.DataFrame({par: [], "etat": [], "nombre": []})
    r = df.groupby([par, "etat"], sort=False).size().rename("nombre").reset_index()
    r["rang"] = r["etat"].map(ordre.index)
    return r.sort_values([par, "rang"]).drop(columns="rang").reset_index(drop=True)


# --------------------------------------------------------------------------------------------------------------------
# Le bilan d'un signataire
# --------------------------------------------------------------------------------------------------------------------

@dataclass
class BilanSignataire:
    """Ce qu'un signataire (et ses services) porte et déclare, pour une période.

    - `engagements` : `etats_courants` des engagements qu'il porte, plus `portage` (« seul » ou « avec d'autres ») et
      `par` (lui ou ceux de ses services qui le portent) ;
    - `indicateurs` : ses indicateurs au territoire (`avancement.indicateurs_au_territoire`), plus le signataire qui
      les déclare ;
    - `completude` : les lignes de `depots.completude` du signataire et de ses services ;
    - `depots` : leurs dépôts, du plus récent au plus ancien.
    """

    signataire: str
    nom: str
    services: list[str]            # les noms de ses services
    engagements: pd.DataFrame
    indicateurs: pd.DataFrame
    completude: pd.DataFrame
    depots: pd.DataFrame

    @property
    def attendus(self) -> int:
        return int(self.completude["attendus"].sum())

    @property
    def recus(self) -> int:
        return int(self.completude["recus"].sum())


@operation("consulter_pilotage")
def bilan_signataire(store: Store, protocole: str, signataire: str, periode: str) -> BilanSignataire:
    """Les engagements d'un signataire (portés seul ou avec d'autres, y compris par ses services) avec leur état, ses
    indicateurs avec leur statut pour la période, et où en sont ses dépôts."""
    from .avancement import indicateurs_au_territoire

    def lire(con):
        _verifier(con, protocole)
        ligne = con.execute("SELECT nom FROM signataire WHERE protocole = ? AND code = ?",
                            [protocole, signataire]).fetchone()
        if ligne is None:
            raise KeyError(f"Le signataire « {signataire} » n'existe pas dans le protocole {protocole}.")
        couverts = signataires_couverts(con, protocole, signataire)
        noms = dict(con.execute("SELECT code, nom FROM signataire WHERE protocole = ?", [protocole]).fetchall())
        declarants = dict(con.execute("SELECT code, signataire FROM indicateur WHERE protocole = ?",
                                      [protocole]).fetchall())
        return ligne[0], couverts, noms, declarants

    with _session(store) as s:   # une connexion pour les cinq lectures (une session déjà ouverte sert telle quelle)
        nom, couverts, noms, declarants = s.lire(lire)
        ind = indicateurs_au_territoire(s, protocole, periode)
        comp = completude(s, protocole, periode).par_signataire
        eng = etats_courants(s, protocole)
        dep = liste_depots(s, protocole)
    porteurs = eng["porteurs"].fillna("").str.split(";")
    eng = eng.assign(
        par=[", ".join(noms.get(c, c) for c in ps if c in couverts) for ps in porteurs],
        portage=["seul" if set(ps) <= couverts else "avec d'autres" for ps in porteurs],
    )[[bool(couverts & set(ps)) for ps in porteurs]].reset_index(drop=True)

    ind = ind.assign(signataire=ind["indicateur"].map(declarants))
    ind = ind[ind["signataire"].isin(couverts)].reset_index(drop=True)
    ind["signataire_nom"] = ind["signataire"].map(noms)

    comp = comp[comp["signataire"].isin(couverts)].reset_index(drop=True)
    dep = dep[dep["signataire"].isin(couverts)].reset_index(drop=True)
    services = [noms.get(c, c) for c in sorted(couverts - {signataire})]
    return BilanSignataire(signataire, nom, services, eng, ind, comp, dep)
