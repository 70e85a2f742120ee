"""La boucle des partenaires par courriel : relances des signataires en retard, accusés de réception, avis de dépôt.

**Relances** (`preparer_relances`, puis `envoyer_relances` ou `relances_en_eml`) : pour un protocole et une période, un
courriel par signataire (ou service) à qui il manque au moins une valeur ni reçue ni expliquée (`Completude.en_retard` ;
un signataire complet ne reçoit rien). Destinataires : les comptes contributeurs actifs rattachés au signataire qui ont
un courriel, et l'adresse de contact du signataire dans le référentiel ; sans aucune, ceux du signataire de
rattachement (l'État pour un de ses services). Le courriel, en français, dit ce qui manque, l'échéance, et joint le
modèle pré-rempli du signataire, avec le lien vers sa page « Déposer ».

**Pas deux fois le même jour** : une adresse qui a accepté la relance d'un signataire pour une période ne la reçoit plus
ce jour-là ; **tout est consigné** : chaque courriel essayé a sa ligne dans la table `courriel` (adresses qui l'ont
accepté, adresses refusées avec la raison) et au journal (« relance », « accusé de réception », « avis de dépôt »). Rien
n'est compté comme envoyé que le serveur n'a pas accepté.

**Accusé de réception** (`accuser_reception`) : après un dépôt accepté, à qui l'a déposé et aux contributeurs du
signataire : ce qui a été reçu, ce qui a changé, les motifs donnés, ce qui manque encore. **Avis de dépôt** : aux
administrateurs qui l'ont demandé (`demander_avis_depots`), un court message à chaque nouveau dépôt.

Sans serveur configuré (`commun.courriel.lire_configuration` rend None), rien n'est envoyé : les relances se téléchargent
en fichiers .eml à envoyer à la main.
"""
from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field

import pandas as pd

from perr_metrics.acces import journal
from perr_metrics.acces.droits import (ADMINISTRATEUR, CONTRIBUTEUR, exiger_portee, exiger_signataire, operation,
                                      utilisateur_de)
from perr_metrics.commun import courriel
from perr_metrics.commun.formats import format_date, format_date_heure, format_nombre
from perr_metrics.stockage.magasin import Store, prochain_id

from .depot import ResultatDepot, completude
from .echeances import Echeance, echeance_de
from .modele import ModeleImpossible, ecrire_modele_depot

RELANCE, ACCUSE, AVIS = "relance", "accusé de réception", "avis de dépôt"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LIGNES_MAX = 25          # valeurs manquantes énumérées dans le courriel (le modèle joint les a toutes)
SIGNATURE = "La coordination du protocole\n\n--\nCourriel envoyé par perr-metrics, le tableau de bord du protocole."


def _pluriel(n: int, mot: str, pluriel: str | None = None) -> str:
    return f"{format_nombre(n)} {mot if n <= 1 else (pluriel or mot + 's')}"


def lien_deposer(adresse: str | None, protocole: str, signataire: str, periode: str) -> str | None:
    """Le lien vers la page « Déposer » du signataire pour la période (None sans adresse du tableau de bord)."""
    if not adresse:
        return None
    from urllib.parse import urlencode
    return (adresse.rstrip("/") + "/deposer?"
            + urlencode({"protocole": protocole, "signataire": signataire, "periode": periode}))


# --------------------------------------------------------------------------------------------------------------------
# Les destinataires
# --------------------------------------------------------------------------------------------------------------------

def _adresses_du_signataire(con, protocole: str, signataire: str) -> list[tuple[str, str]]:
    """(adresse, d'où elle vient) : comptes contributeurs actifs du signataire, puis son contact du référentiel ; sans
    aucune, ceux du signataire de rattachement (et ainsi de suite)."""
    courant, vus = signataire, set()
    while courant and courant not in vus:
        vus.add(courant)
        adresses: dict[str, str] = {}
        for ident, adresse in con.execute(
                "SELECT identifiant, courriel FROM compte WHERE actif AND role = ? AND protocole = ? AND signataire = ? "
                "AND courriel IS NOT NULL ORDER BY identifiant", [CONTRIBUTEUR, protocole, courant]).fetchall():
            if courriel.adresse_valide(adresse):
                adresses.setdefault(adresse.strip(), f"compte {ident}")
        ligne = con.execute("SELECT courriel, rattache_a FROM signataire WHERE protocole = ? AND code = ?",
                            [protocole, courant]).fetchone()
        if ligne and courriel.adresse_valide(ligne[0]):
            adresses.setdefault(ligne[0].strip(), f"contact de {courant} (référentiel)")
        if adresses:
            return list(adresses.items())
        courant = ligne[1] if ligne else None
    return []


def _deja_relancees(con, protocole: str, periode: str, jour: dt.date) -> dict[str, dict[str, dt.datetime]]:
    """Signataire → {adresse qui a accepté sa relance ce jour-là : à quelle heure}."""
    deja: dict[str, dict[str, dt.datetime]] = {}
    for sig, destinataires, quand in con.execute(
            "SELECT signataire, destinataires, envoye_le FROM courriel WHERE nature = ? AND protocole = ? "
            "AND periode = ? AND CAST(envoye_le AS DATE) = ? AND destinataires IS NOT NULL ORDER BY envoye_le",
            [RELANCE, protocole, periode, jour]).fetchall():
        for a in destinataires.split(", "):
            if a:
                deja.setdefault(sig, {}).setdefault(a, quand)
    return deja


# --------------------------------------------------------------------------------------------------------------------
# Les relances
# --------------------------------------------------------------------------------------------------------------------

@dataclass
class Relance:
    """Le courriel de relance d'un signataire en retard, prêt à relire puis à envoyer."""

    protocole: str
    periode: str
    signataire: str
    nom: str
    adresses: list[tuple[str, str]]          # (adresse, origine) : toutes celles du signataire
    deja: dict[str, dt.datetime]             # adresses qui l'ont déjà acceptée aujourd'hui
    attendus: int
    recus: int
    expliques: int
    manquantes: pd.DataFrame                 # indicateur, libelle, perimetre, periode
    echeance: Echeance
    objet: str = ""
    texte: str = ""
    lien: str | None = None

    @property
    def destinataires(self) -> list[str]:
        """Les adresses à qui l'envoyer maintenant (sans celles qui l'ont déjà reçue aujourd'hui)."""
        return [a for a, _ in self.adresses if a not in self.deja]

    @property
    def envoyable(self) -> bool:
        return bool(self.destinataires)

    @property
    def empechement(self) -> str | None:
        """Pourquoi elle ne partira pas (None si elle peut partir)."""
        if not self.adresses:
            return ("aucune adresse : ni compte contributeur avec courriel, ni contact dans le référentiel (feuille "
                    "« Signataires », colonne « Courriel de contact »)")
        if not self.destinataires:
            heure = min(self.deja.values())
            return f"déjà relancé aujourd'hui ({format_date_heure(heure)})"
        return None

    @property
    def nom_fichier_modele(self) -> str:
        return f"depot-{self.protocole}-{self.signataire}-{self.periode}.xlsx"

    def as_dict(self) -> dict:
        return {"signataire": self.signataire, "nom": self.nom, "destinataires": self.destinataires,
                "adresses": [{"adresse": a, "origine": o, "deja_relancee": a in self.deja} for a, o in self.adresses],
                "attendus": self.attendus, "recus": self.recus, "expliques": self.expliques,
                "manquants": len(self.manquantes), "echeance": self.echeance.as_dict(), "objet": self.objet,
                "envoyable": self.envoyable, "empechement": self.empechement, "piece_jointe": self.nom_fichier_modele}


def _rediger(r: Relance, titre: str, territoire: str, aujourdhui: dt.date) -> None:
    n = len(r.manquantes)
    r.objet = (f"[{territoire}] Relance : valeurs {r.periode} attendues de {r.nom} avant le "
               f"{format_date(r.echeance.date)}")
    lignes = [f"- {m.libelle} ({m.indicateur}) — {m.perimetre_libelle or m.perimetre}, {m.periode}"
              for m in r.manquantes.head(LIGNES_MAX).itertuples()]
    if n > LIGNES_MAX:
        lignes.append(f"- et {_pluriel(n - LIGNES_MAX, 'autre')} : toutes sont dans le modèle joint")
    etat = f"À ce jour : {_pluriel(r.recus, 'valeur reçue', 'valeurs reçues')} sur {format_nombre(r.attendus)} " \
           f"attendue{'s' if r.attendus > 1 else ''}"
    if r.expliques:
        etat += f", {_pluriel(r.expliques, 'valeur expliquée', 'valeurs expliquées')} (motif donné)"
    depot = (f"Déposez le fichier rempli sur la page « Déposer » du tableau de bord :\n{r.lien}" if r.lien else
             "Déposez le fichier rempli sur la page « Déposer » du tableau de bord du protocole.")
    r.texte = "\n".join([
        "Bonjour,",
        "",
        f"Pour le suivi du protocole « {titre} » ({r.protocole}), la coordination attend de {r.nom} ({r.signataire}) "
        f"les valeurs de la période {r.periode}.",
        "",
        r.echeance.phrase(aujourdhui) + ".",
        "",
        f"{etat} ; il en manque {format_nombre(n)} :",
        *lignes,
        "",
        f"Le modèle pré-rempli est joint à ce courriel ({r.nom_fichier_modele}) : saisissez chaque valeur dans la "
        "colonne « Valeur ». Si une valeur ne peut pas être donnée, laissez-la vide et choisissez son motif dans la "
        "colonne « Motif » (donnée non disponible, secret statistique, non concerné, ou autre avec un commentaire) : "
        "elle ne vous sera plus demandée.",
        "",
        depot,
        "",
        "Merci de votre contribution.",
        "",
        SIGNATURE,
    ])


@operation("relancer")
def preparer_relances(store: Store, protocole: str, periode: str, *, adresse_tableau_de_bord: str | None = None,
                      signataires: list[str] | None = None, aujourdhui: dt.date | None = None) -> list[Relance]:
    """Les relances d'une période, une par signataire en retard (limitées à `signataires` si donné), rédigées, avec
    leurs destinataires et ce qui les empêcherait de partir. N'écrit rien, n'envoie rien."""
    jour = aujourdhui or dt.date.today()
    comp = completude(store, protocole, str(periode))
    en_retard = [s for s in comp.en_retard if signataires is None or s in signataires]

    def lire(con):
        titre, territoire = con.execute("SELECT titre, territoire FROM protocole WHERE code = ?",
                                        [protocole]).fetchone()
        adresses = {s: _adresses_du_signataire(con, protocole, s) for s in en_retard}
        libelles = dict(con.execute("SELECT code, libelle FROM perimetre WHERE protocole = ?", [protocole]).fetchall())
        return (titre, territoire, adresses, _deja_relancees(con, protocole, str(periode), jour),
                echeance_de(con, protocole, str(periode)), libelles)

    titre, territoire, adresses, deja, ech, libelles = store.lire(lire)
    par = comp.par_signataire.set_index("signataire")
    detail = comp.detail
    relances = []
    for s in en_retard:
        manquantes = detail[(detail["signataire"] == s) & ~detail["recu"] & ~detail["explique"]]
        manquantes = manquantes[["indicateur", "libelle", "perimetre", "periode"]].assign(
            perimetre_libelle=lambda d: d["perimetre"].map(libelles)).reset_index(drop=True)
        ligne = par.loc[s]
        r = Relance(protocole, str(periode), s, str(ligne["nom"]), adresses[s], deja.get(s, {}),
                    int(ligne["attendus"]), int(ligne["recus"]), int(ligne["expliques"]), manquantes, ech,
                    lien=lien_deposer(adresse_tableau_de_bord, protocole, s, str(periode)))
        _rediger(r, titre, territoire, jour)
        relances.append(r)
    return relances


def _message_relance(store: Store, r: Relance, expediteur: str | None, destinataires: list[str]):
    flux = io.BytesIO()
    try:
        ecrire_modele_depot(store, r.protocole, r.signataire, r.periode, flux)
        pieces = [(r.nom_fichier_modele, flux.getvalue(), XLSX)]
    except ModeleImpossible:
        pieces = []
    return courriel.composer(expediteur or "", destinataires, r.objet, r.texte, pieces)


@dataclass
class Envoi:
    """Ce qu'est devenu un courriel : `statut` « envoyé », « envoyé en partie », « échoué » ou « non envoyé »
    (empêché : pas d'adresse, déjà relancé aujourd'hui, pas de serveur), avec chaque adresse refusée et sa raison."""

    signataire: str
    nature: str
    statut: str
    acceptes: list[str] = field(default_factory=list)
    refuses: dict[str, str] = field(default_factory=dict)
    raison: str | None = None
    objet: str = ""

    def as_dict(self) -> dict:
        return {"signataire": self.signataire, "nature": self.nature, "statut": self.statut,
                "acceptes": self.acceptes, "refuses": self.refuses, "raison": self.raison, "objet": self.objet}

    def phrase(self) -> str:
        """Une ligne en français pour la page et la ligne de commande."""
        if self.statut == "non envoyé":
            return f"{self.signataire} : non envoyé — {self.raison}"
        morceaux = [f"{self.signataire} : {self.statut}"]
        if self.acceptes:
            morceaux.append("à " + ", ".join(self.acceptes))
        morceaux += [f"{a} : {raison}" for a, raison in self.refuses.items()]
        return " — ".join(morceaux)


def _statut(e: courriel.Envoi) -> str:
    if e.acceptes and e.refuses:
        return "envoyé en partie"
    return "envoyé" if e.acceptes else "échoué"


def _consigner(con, u, nature: str, envoi: courriel.Envoi, *, protocole: str, periode: str | None,
               signataire: str | None, depot_id: int | None, objet: str, detail: str, quand: dt.datetime) -> None:
    """La ligne de la table `courriel` et celle du journal, dans la transaction `con`."""
    statut = _statut(envoi)
    con.execute("INSERT INTO courriel (id, nature, protocole, periode, signataire, depot_id, destinataires, refuses, "
                "objet, envoye_le, resultat, detail, compte) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [prochain_id(con, "courriel"), nature, protocole, periode, signataire, depot_id,
                 ", ".join(envoi.acceptes) or None,
                 " ; ".join(f"{a} : {r}" for a, r in envoi.refuses.items()) or None,
                 objet, quand, statut, detail, u.identifiant])
    journal.noter(con, u, nature, resultat=journal.REUSSI if envoi.acceptes else journal.ECHOUE, protocole=protocole,
                  objet=objet, detail=f"{statut} ; {envoi.resume()} ; {detail}", horodatage=quand)


@operation("relancer")
def envoyer_relances(store: Store, relances: list[Relance], config: courriel.ConfigSMTP | None,
                     maintenant: dt.datetime | None = None) -> list[Envoi]:
    """Envoie les relances (chacune à ses adresses qui ne l'ont pas déjà reçue aujourd'hui, relu juste avant l'envoi),
    puis consigne chaque courriel essayé dans la table `courriel` et au journal, en une transaction. Une adresse
    refusée n'empêche pas les autres ; un serveur injoignable refuse toutes les adresses, avec sa raison."""
    u = utilisateur_de(store)
    exiger_portee(store, "relancer", {r.protocole for r in relances})   # un administrateur limité : ses protocoles
    if config is None:
        return [Envoi(r.signataire, RELANCE, "non envoyé", raison=courriel.SANS_SERVEUR, objet=r.objet)
                for r in relances]
    quand = maintenant or dt.datetime.now()
    a_envoyer, resultats = [], []
    deja = {}
    if relances:
        deja = {(r.protocole, r.periode): store.lire(lambda con, r=r: _deja_relancees(con, r.protocole, r.periode,
                                                                                      quand.date()))
                for r in relances}
    for r in relances:
        r.deja = deja[(r.protocole, r.periode)].get(r.signataire, {})
        if not r.envoyable:
            resultats.append(Envoi(r.signataire, RELANCE, "non envoyé", raison=r.empechement, objet=r.objet))
            continue
        resultats.append(None)
        a_envoyer.append((len(resultats) - 1, r, _message_relance(store, r, config.expediteur, r.destinataires)))
    envois = courriel.envoyer(config, [m for _, _, m in a_envoyer])

    def ecrire(con):
        for (i, r, _), e in zip(a_envoyer, envois):
            _consigner(con, u, RELANCE, e, protocole=r.protocole, periode=r.periode, signataire=r.signataire,
                       depot_id=None, objet=r.objet,
                       detail=f"relance de {r.signataire} pour {r.periode} : {len(r.manquantes)} valeur(s) manquante(s), "
                              f"échéance {r.echeance.texte}", quand=quand)

    if a_envoyer:
        store.ecrire(ecrire)
    for (i, r, _), e in zip(a_envoyer, envois):
        resultats[i] = Envoi(r.signataire, RELANCE, _statut(e), e.acceptes, e.refuses, objet=r.objet)
    return resultats


@operation("relancer")
def relances_en_eml(store: Store, relances: list[Relance], expediteur: str | None = None) -> list[tuple[str, bytes]]:
    """Les relances en fichiers .eml (à ouvrir puis envoyer depuis sa messagerie, quand aucun serveur n'est configuré) :
    `(nom du fichier, octets)`. Rien n'est consigné : rien n'est envoyé."""
    fichiers = []
    for r in relances:
        if not r.adresses:
            continue
        msg = _message_relance(store, r, expediteur, [a for a, _ in r.adresses])
        if not expediteur:
            del msg["From"]
        msg["X-Unsent"] = "1"          # ouvert comme un brouillon à envoyer par les messageries qui le comprennent
        fichiers.append((f"relance-{r.protocole}-{r.signataire}-{r.periode}.eml", courriel.en_eml(msg)))
    return fichiers


# --------------------------------------------------------------------------------------------------------------------
# Accusé de réception et avis de dépôt
# --------------------------------------------------------------------------------------------------------------------

@operation("relancer")
def demander_avis_depots(store: Store, oui: bool = True) -> None:
    """Un administrateur demande (ou ne demande plus) un courriel à chaque nouveau dépôt, à l'adresse de son compte."""
    u = utilisateur_de(store)

    def ecrire(con):
        con.execute("UPDATE compte SET avis_depots = ?, modifie_le = current_timestamp WHERE identifiant = ?",
                    [bool(oui), u.identifiant])
        journal.noter(con, u, "compte modifié", objet=u.identifiant,
                      detail="avis par courriel de chaque nouveau dépôt : " + ("demandé" if oui else "arrêté"))

    store.ecrire(ecrire)


@operation("relancer")
def avis_depots_demande(store: Store) -> bool:
    """L'administrateur connecté reçoit-il un avis à chaque nouveau dépôt ?"""
    u = utilisateur_de(store)
    ligne = store.lire(lambda con: con.execute("SELECT avis_depots FROM compte WHERE identifiant = ?",
                                               [u.identifiant]).fetchone())
    return bool(ligne and ligne[0])


def _texte_accuse(res: ResultatDepot, info: dict, comp_sig: dict | None, ech: Echeance, u, lien: str | None) -> str:
    ch = res.changements
    compte = ch["nature"].value_counts() if not ch.empty else pd.Series(dtype=int)
    lignes = [
        "Bonjour,",
        "",
        f"Votre dépôt n° {res.depot_id} pour le protocole « {info['titre']} » ({info['protocole']}) a bien été reçu "
        f"et enregistré le {format_date_heure(info['depose_le'])}, au nom de {u.nom} ({u.identifiant}).",
        "",
        f"Fichier : {info['fichier_nom']} (empreinte SHA-256 {info['sha256'][:16]}…)",
        f"Signataire : {info['signataire_nom']} ({info['signataire']}) — période {res.periode or 'multiple'}",
        "",
        f"Ce qui a été reçu : {_pluriel(res.nb_valeurs, 'valeur')} — "
        f"{_pluriel(int(compte.get('nouvelle', 0)), 'nouvelle')}, "
        f"{_pluriel(int(compte.get('modifiée', 0)), 'modifiée')}, "
        f"{_pluriel(int(compte.get('inchangée', 0)), 'inchangée')} par rapport aux valeurs précédentes.",
    ]
    modifiees = ch[ch["nature"] == "modifiée"] if not ch.empty else ch
    if len(modifiees):
        lignes += ["", "Ce qui a changé :"]
        for m in modifiees.head(LIGNES_MAX).itertuples():
            lignes.append(f"- {m.indicateur} — {m.perimetre}, {m.periode} : {format_nombre(m.ancienne)} → "
                          f"{format_nombre(m.nouvelle)}")
        if len(modifiees) > LIGNES_MAX:
            lignes.append(f"- et {_pluriel(len(modifiees) - LIGNES_MAX, 'autre')}")
    if len(res.motifs):
        lignes += ["", f"Valeurs non données, avec leur motif ({format_nombre(len(res.motifs))}) :"]
        for m in res.motifs.head(LIGNES_MAX).itertuples():
            commentaire = f" ({m.commentaire})" if isinstance(m.commentaire, str) and m.commentaire else ""
            lignes.append(f"- {m.indicateur} — {m.perimetre}, {m.periode} : {m.motif}{commentaire}")
    if comp_sig is not None:
        etat = (f"Pour {comp_sig['periode']} : {_pluriel(comp_sig['recus'], 'valeur reçue', 'valeurs reçues')} sur "
                f"{format_nombre(comp_sig['attendus'])} attendue{'s' if comp_sig['attendus'] > 1 else ''}")
        if comp_sig["expliques"]:
            etat += f", {_pluriel(comp_sig['expliques'], 'expliquée')}"
        etat += (" : rien ne manque plus. Merci !" if comp_sig["manquants"] == 0 else
                 f" ; il en manque encore {format_nombre(comp_sig['manquants'])}. {ech.phrase()}.")
        lignes += ["", etat]
    if lien:
        lignes += ["", f"Vos dépôts et leur suivi : {lien}"]
    lignes += ["", "La coordination pourra revenir vers vous si une valeur appelle une question.", "", SIGNATURE]
    return "\n".join(lignes)


@operation("deposer")
def accuser_reception(store: Store, resultat: ResultatDepot, config: courriel.ConfigSMTP | None, *, protocole: str,
                      signataire: str, adresse_tableau_de_bord: str | None = None,
                      maintenant: dt.datetime | None = None) -> list[Envoi]:
    """Après un dépôt accepté : l'accusé de réception (à qui a déposé et aux contributeurs du signataire) et l'avis de
    dépôt (aux administrateurs qui l'ont demandé), chacun consigné ; une seule fois par dépôt. Rien sans serveur (un
    `Envoi` « non envoyé » le dit) ni pour un dépôt refusé, à confirmer ou déjà fait."""
    u = utilisateur_de(store)
    exiger_signataire(store, "deposer", protocole, signataire, objet=f"dépôt n° {resultat.depot_id}")
    if resultat.statut != "accepte" or resultat.depot_id is None:
        return []
    if config is None:
        return [Envoi(signataire, ACCUSE, "non envoyé", raison=courriel.SANS_SERVEUR)]
    quand = maintenant or dt.datetime.now()

    def lire(con):
        ligne = con.execute("""
            SELECT d.fichier_nom, d.sha256, d.depose_le, d.signataire, s.nom, p.titre, p.territoire, d.periode, d.protocole,
                   (SELECT count(*) FROM courriel c WHERE c.depot_id = d.id AND c.nature = ?) AS deja
            FROM depot d JOIN protocole p ON p.code = d.protocole
            LEFT JOIN signataire s ON s.protocole = d.protocole AND s.code = d.signataire
            WHERE d.id = ?""", [ACCUSE, resultat.depot_id]).fetchone()
        if ligne is None or ligne[8] != protocole or ligne[3] != signataire:
            raise KeyError(f"Le dépôt n° {resultat.depot_id} n'est pas un dépôt de {signataire} ({protocole}).")
        contributeurs = [a for a, origine in _adresses_du_signataire(con, protocole, signataire)
                         if origine.startswith("compte ")]
        admins = [a for (a,) in con.execute(
            "SELECT courriel FROM compte WHERE actif AND role = ? AND avis_depots AND courriel IS NOT NULL "
            "ORDER BY identifiant", [ADMINISTRATEUR]).fetchall() if courriel.adresse_valide(a)]
        ech = echeance_de(con, protocole, ligne[7]) if ligne[7] else None
        return ligne, contributeurs, admins, ech

    ligne, contributeurs, admins, ech = store.lire(lire)
    if ligne[9]:
        return [Envoi(signataire, ACCUSE, "non envoyé", raison=f"accusé de réception du dépôt n° {resultat.depot_id} "
                                                               "déjà envoyé")]
    info = dict(fichier_nom=ligne[0], sha256=ligne[1], depose_le=ligne[2], signataire=ligne[3],
                signataire_nom=ligne[4] or ligne[3], titre=ligne[5], territoire=ligne[6], protocole=protocole)
    comp_sig = None
    if resultat.periode and ech is not None:
        comp = completude(store, protocole, resultat.periode).par_signataire
        comp = comp[comp["signataire"] == signataire]
        if not comp.empty:
            c = comp.iloc[0]
            comp_sig = dict(periode=resultat.periode, attendus=int(c["attendus"]), recus=int(c["recus"]),
                            expliques=int(c["expliques"]), manquants=int(c["manquants"]))
    destinataires = list(dict.fromkeys(([u.courriel] if courriel.adresse_valide(u.courriel) else []) + contributeurs))
    lien = lien_deposer(adresse_tableau_de_bord, protocole, signataire, resultat.periode or "")
    messages, natures = [], []
    objet_accuse = (f"[{info['territoire']}] Accusé de réception : dépôt n° {resultat.depot_id} de "
                    f"{info['signataire_nom']} ({resultat.periode or 'période multiple'})")
    if destinataires:
        messages.append(courriel.composer(config.expediteur, destinataires, objet_accuse,
                                          _texte_accuse(resultat, info, comp_sig, ech, u, lien)))
        natures.append((ACCUSE, objet_accuse))
    resultats = [] if destinataires else [Envoi(signataire, ACCUSE, "non envoyé", raison=(
        "aucune adresse : ni le compte qui a déposé ni les contributeurs du signataire n'ont de courriel"))]
    admins = [a for a in admins if a not in destinataires]
    if admins:
        objet_avis = (f"[{info['territoire']}] Nouveau dépôt n° {resultat.depot_id} : {info['signataire_nom']}, "
                      f"{resultat.periode or 'période multiple'}")
        texte = "\n".join([
            "Bonjour,", "",
            f"{u.nom} ({u.identifiant}) a déposé le fichier {info['fichier_nom']} pour {info['signataire_nom']} "
            f"({signataire}), période {resultat.periode or 'multiple'}, le {format_date_heure(info['depose_le'])} : "
            f"{_pluriel(resultat.nb_valeurs, 'valeur')}"
            + (f", {_pluriel(len(resultat.motifs), 'valeur expliquée', 'valeurs expliquées')}" if len(resultat.motifs)
               else "") + ".",
            "",
            "Le dépôt est à revoir sur la page « Suivi des dépôts »"
            + (f" : {adresse_tableau_de_bord.rstrip('/')}/suivi_depots?protocole={protocole}"
               if adresse_tableau_de_bord else "."),
            "",
            "Vous recevez cet avis parce que vous l'avez demandé (page « Suivi des dépôts », section « Relances »).",
            "", SIGNATURE])
        messages.append(courriel.composer(config.expediteur, admins, objet_avis, texte))
        natures.append((AVIS, objet_avis))
    if not messages:
        return resultats
    envois = courriel.envoyer(config, messages)

    def ecrire(con):
        for (nature, objet), e in zip(natures, envois):
            _consigner(con, u, nature, e, protocole=protocole, periode=resultat.periode, signataire=signataire,
                       depot_id=resultat.depot_id, objet=objet, detail=f"dépôt n° {resultat.depot_id}", quand=quand)

    store.ecrire(ecrire)
    return resultats + [Envoi(signataire, nature, _statut(e), e.acceptes, e.refuses, objet=objet)
                        for (nature, objet), e in zip(natures, envois)]


@operation("consulter_journal")
def courriels_envoyes(store: Store, protocole: str | None = None, nature: str | None = None) -> pd.DataFrame:
    """Les courriels essayés, du plus récent au plus ancien : nature, signataire, période, dépôt, adresses acceptées et
    refusées, objet, date, résultat, compte."""
    return store.requete("SELECT id, nature, protocole, periode, signataire, depot_id, destinataires, refuses, objet, "
                         "envoye_le, resultat, detail, compte FROM courriel WHERE (? IS NULL OR protocole = ?) "
                         "AND (? IS NULL OR nature = ?) ORDER BY id DESC", [protocole, protocole, nature, nature])
