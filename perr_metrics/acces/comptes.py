"""Les comptes : création, connexion, mots de passe, désactivation, portée, et les comptes de la démonstration.

Mots de passe hachés par argon2id (argon2-cffi, paramètres par défaut de la RFC 9106) ; jamais gardés ni journalisés en
clair. Après `ESSAIS_MAX` échecs de connexion en `FENETRE` pour un même identifiant (qu'il existe ou non : on ne révèle
pas quels comptes existent), les tentatives suivantes sont refusées jusqu'à la fin de la fenêtre. Une base neuve, sans
aucun compte, ne demande que la création du premier administrateur.

Portée (plusieurs organisations dans une instance) : un administrateur ou un lecteur peut être limité à des protocoles
(table `compte_protocole`) ; sans protocole, il couvre toute l'instance. Un administrateur limité ne voit et ne gère que
les comptes dont la portée tient dans la sienne ; ceux qu'il crée sans protocole reçoivent les siens. Le dernier
administrateur actif de toute l'instance ne peut être ni désactivé, ni rétrogradé, ni limité.
"""
from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from . import journal
from perr_metrics.stockage.magasin import Store
from .droits import (ADMINISTRATEUR, CONTRIBUTEUR, LIBELLES_ROLES, ROLES, AccesRefuse, Utilisateur, exiger,
                     exiger_portee, operation, ouverte, texte_portee, utilisateur_de)
from perr_metrics.commun.formats import format_date_heure

LONGUEUR_MIN = 12
ESSAIS_MAX = int(os.environ.get("PERR_ESSAIS_MAX", 5))
FENETRE = dt.timedelta(minutes=int(os.environ.get("PERR_BLOCAGE_MINUTES", 15)))
RE_IDENTIFIANT = re.compile(r"^[a-z0-9][a-z0-9._@-]{2,63}$")
RE_COURRIEL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

_hacheur = PasswordHasher()


class CompteRefuse(ValueError):
    """Une demande sur les comptes qui ne peut pas être satisfaite (identifiant pris, mot de passe trop court…)."""


class ConnexionRefusee(PermissionError):
    """Identifiant ou mot de passe incorrect, compte désactivé, trop de tentatives."""


@dataclass(frozen=True)
class CompteDemo:
    identifiant: str
    nom: str
    role: str
    mot_de_passe: str
    protocole: str | None = None
    signataire: str | None = None
    explication: str = ""
    courriel: str | None = None      # une adresse d'exemple (domaine réservé example.org) : relances, accusés


# Les comptes de la démonstration : leurs mots de passe sont publics (la page de connexion les affiche) et ne valent que
# pour les protocoles fictifs de la démonstration.
COMPTES_DEMO = (
    CompteDemo("coordination", "Équipe de coordination (démo)", ADMINISTRATEUR, "coordination-demo",
               explication="tout : référentiel, revue des dépôts, comptes, journal",
               courriel="coordination@demo.example.org"),
    CompteDemo("copil", "Membre du COPIL (démo)", "lecteur", "copil-demo-2024",
               explication="lit tous les tableaux de bord, ne change rien"),
    CompteDemo("caf-aube", "CAF de l'Aube (démo)", CONTRIBUTEUR, "caf-aube-demo",
               protocole="TCM-PERR-2019", signataire="CAF10",
               explication="dépose les chiffres de la CAF de l'Aube (Troyes) et suit ses engagements",
               courriel="caf-aube@demo.example.org"),
)


# --------------------------------------------------------------------------------------------------------------------
# Contrôles
# --------------------------------------------------------------------------------------------------------------------

def _verifier_mot_de_passe(mot_de_passe: str | None, identifiant: str) -> str:
    if mot_de_passe is None or len(mot_de_passe) < LONGUEUR_MIN:
        raise CompteRefuse(f"Le mot de passe doit compter au moins {LONGUEUR_MIN} caractères.")
    if mot_de_passe.strip().lower() == identifiant.lower():
        raise CompteRefuse("Le mot de passe ne peut pas être l'identifiant.")
    return _hacheur.hash(mot_de_passe)


def _normaliser(identifiant: str) -> str:
    ident = (identifiant or "").strip().lower()
    if not RE_IDENTIFIANT.match(ident):
        raise CompteRefuse(f"Identifiant « {identifiant} » invalide : de 3 à 64 caractères, lettres minuscules sans "
                           "accent, chiffres, « . », « _ », « - » ou « @ », en commençant par une lettre ou un chiffre.")
    return ident


def _controler(con, identifiant: str, nom: str, role: str, courriel: str | None, protocole: str | None,
               signataire: str | None, protocoles=None) -> tuple[str | None, str | None, str | None]:
    if not (nom or "").strip():
        raise CompteRefuse("Indiquez le nom de la personne (il figure dans le journal et sur chaque dépôt).")
    if role not in ROLES:
        raise CompteRefuse(f"Rôle « {role} » inconnu : choisissez parmi {', '.join(ROLES)}.")
    courriel = (courriel or "").strip().lower() or None
    if courriel:
        if not RE_COURRIEL.match(courriel):
            raise CompteRefuse(f"Courriel « {courriel} » invalide.")
        autre = con.execute("SELECT identifiant FROM compte WHERE courriel = ? AND identifiant <> ?",
                            [courriel, identifiant]).fetchone()
        if autre:
            raise CompteRefuse(f"Le courriel {courriel} est déjà celui du compte « {autre[0]} ».")
    if role == CONTRIBUTEUR:
        if not protocole or not signataire:
            raise CompteRefuse("Un contributeur est rattaché à un protocole et à un signataire (ou un service).")
        if not con.execute("SELECT count(*) FROM signataire WHERE protocole = ? AND code = ?",
                           [protocole, signataire]).fetchone()[0]:
            raise CompteRefuse(f"Le signataire « {signataire} » n'existe pas dans le protocole « {protocole} ».")
        if protocoles and set(protocoles) != {protocole}:
            raise CompteRefuse(f"Un contributeur ne couvre que le protocole de son signataire ({protocole}).")
        return courriel, protocole, signataire
    if protocole or signataire:
        raise CompteRefuse(f"Seul un contributeur est rattaché à un signataire ; un compte {role} est limité à des "
                           "protocoles par --protocole (page « Comptes » : « Protocoles »), ou voit toute l'instance.")
    return courriel, None, None


def _normaliser_protocoles(protocoles) -> list[str] | None:
    """La portée demandée pour un administrateur ou un lecteur : codes uniques et triés ; None (ou vide) : toute
    l'instance."""
    if protocoles is None:
        return None
    if isinstance(protocoles, str):
        protocoles = [protocoles]
    codes = sorted({(p or "").strip() for p in protocoles} - {""})
    return codes or None


def _ecrire_portee(con, identifiant: str, role: str, protocoles: list[str] | None) -> None:
    """Remplace les protocoles d'un compte (aucune ligne : toute l'instance ; un contributeur n'en a pas ici)."""
    con.execute("DELETE FROM compte_protocole WHERE compte = ?", [identifiant])
    if role != CONTRIBUTEUR and protocoles:
        con.executemany("INSERT INTO compte_protocole VALUES (?, ?)", [(identifiant, p) for p in protocoles])


def protocoles_inconnus(con, protocoles) -> list[str]:
    """Ceux des protocoles demandés qui ne sont pas (encore) dans la base : le compte les couvrira dès leur import."""
    return [p for p in (protocoles or []) if not con.execute("SELECT count(*) FROM protocole WHERE code = ?",
                                                             [p]).fetchone()[0]]


def _portee_ligne(ligne: dict) -> frozenset[str] | None:
    if ligne["role"] == CONTRIBUTEUR:
        return frozenset({ligne["protocole"]}) if ligne["protocole"] else frozenset()
    return frozenset(ligne["protocoles"]) if ligne.get("protocoles") else None


def _utilisateur(ligne) -> Utilisateur:
    protocoles = _portee_ligne(ligne) if ligne["role"] != CONTRIBUTEUR else None
    return Utilisateur(ligne["identifiant"], ligne["nom"], ligne["role"], ligne["protocole"], ligne["signataire"],
                       ligne["courriel"], protocoles=protocoles)


def _ligne(con, identifiant: str) -> dict | None:
    df = con.execute("SELECT * FROM compte WHERE identifiant = ?", [identifiant]).df()
    if df.empty:
        return None
    ligne = {k: (None if pd.isna(v) else v) if not isinstance(v, (list, dict)) else v
             for k, v in df.iloc[0].to_dict().items()}
    ligne["protocoles"] = [r[0] for r in con.execute(
        "SELECT DISTINCT protocole FROM compte_protocole WHERE compte = ? ORDER BY protocole", [identifiant]).fetchall()]
    return ligne


def _compte_existant(con, identifiant: str) -> dict:
    ligne = _ligne(con, identifiant)
    if ligne is None:
        raise CompteRefuse(f"Le compte « {identifiant} » n'existe pas.")
    return ligne


def _inserer(con, identifiant, nom, role, courriel, protocole, signataire, hache, demonstration=False):
    maintenant = dt.datetime.now()
    con.execute("INSERT INTO compte (identifiant, nom, courriel, role, protocole, signataire, actif, mot_de_passe, "
                "demonstration, cree_le, modifie_le) VALUES (?, ?, ?, ?, ?, ?, true, ?, ?, ?, ?)",
                [identifiant, nom.strip(), courriel, role, protocole, signataire, hache, demonstration, maintenant,
                 maintenant])


def _decrire(role, protocole, signataire, courriel, protocoles=None) -> str:
    texte = LIBELLES_ROLES[role]
    if signataire:
        texte += f", {signataire} ({protocole})"
    elif role != CONTRIBUTEUR:
        texte += f", {texte_portee(protocoles or None)}"
    if courriel:
        texte += f", {courriel}"
    return texte


# --------------------------------------------------------------------------------------------------------------------
# Installation : le premier administrateur, les comptes de la démonstration
# --------------------------------------------------------------------------------------------------------------------

@ouverte("savoir s'il faut proposer la création du premier administrateur, avant toute connexion")
def aucun_compte(store: Store) -> bool:
    """Vrai tant qu'aucun compte n'existe : le tableau de bord ne propose alors que la création du premier
    administrateur (et la ligne de commande l'accepte sans connexion)."""
    return store.lire(lambda con: con.execute("SELECT count(*) FROM compte").fetchone()[0] == 0)


@ouverte("le premier compte d'une base qui n'en a aucun (refusé dès qu'un compte existe)")
def creer_premier_administrateur(store: Store, identifiant: str, nom: str, mot_de_passe: str,
                                 courriel: str | None = None) -> Utilisateur:
    """Le premier compte d'une base neuve, administrateur. Refusé dès qu'un compte existe."""
    ident = _normaliser(identifiant)
    hache = _verifier_mot_de_passe(mot_de_passe, ident)

    def ecrire(con):
        if con.execute("SELECT count(*) FROM compte").fetchone()[0]:
            raise AccesRefuse("Il existe déjà des comptes : seul un administrateur peut en créer d'autres.")
        c, _, _ = _controler(con, ident, nom, ADMINISTRATEUR, courriel, None, None)
        _inserer(con, ident, nom, ADMINISTRATEUR, c, None, None, hache)
        u = Utilisateur(ident, nom.strip(), ADMINISTRATEUR, courriel=c)
        journal.noter(con, u, "compte créé", objet=ident, detail="premier administrateur de la base")
        return u

    return store.ecrire(ecrire)


@operation("gerer_comptes", instance=True)
def creer_comptes_demo(store: Store) -> list[CompteDemo]:
    """Les comptes de la démonstration (un par rôle), s'ils n'existent pas ; ceux dont le protocole manque sont omis."""
    u = utilisateur_de(store)
    haches = {c.identifiant: _hacheur.hash(c.mot_de_passe) for c in COMPTES_DEMO}

    def ecrire(con):
        crees = []
        for c in COMPTES_DEMO:
            if con.execute("SELECT count(*) FROM compte WHERE identifiant = ?", [c.identifiant]).fetchone()[0]:
                continue
            if c.signataire and not con.execute("SELECT count(*) FROM signataire WHERE protocole = ? AND code = ?",
                                                [c.protocole, c.signataire]).fetchone()[0]:
                continue
            _inserer(con, c.identifiant, c.nom, c.role, c.courriel, c.protocole, c.signataire, haches[c.identifiant],
                     True)
            journal.noter(con, u, "compte créé", objet=c.identifiant, detail="compte de démonstration, "
                          + _decrire(c.role, c.protocole, c.signataire, c.courriel))
            crees.append(c)
        return crees

    return store.ecrire(ecrire)


@ouverte("la page de connexion montre les comptes de démonstration")
def comptes_demo_affiches(store: Store) -> list[CompteDemo]:
    """Les comptes de démonstration encore actifs et au mot de passe d'origine : la page de connexion les affiche.
    (Un administrateur qui change l'un de ces mots de passe le retire de la liste.)"""
    lignes = store.lire(lambda con: con.execute(
        "SELECT identifiant, mot_de_passe FROM compte WHERE demonstration AND actif").fetchall())
    haches = dict(lignes)
    garder = []
    for c in COMPTES_DEMO:
        h = haches.get(c.identifiant)
        if h and _verifie(h, c.mot_de_passe):
            garder.append(c)
    return garder


def _verifie(hache: str | None, mot_de_passe: str) -> bool:
    if not hache:
        return False
    try:
        return _hacheur.verify(hache, mot_de_passe)
    except (VerificationError, InvalidHashError):
        return False


# --------------------------------------------------------------------------------------------------------------------
# Connexion
# --------------------------------------------------------------------------------------------------------------------

def _echecs_recents(con, identifiant: str, maintenant: dt.datetime) -> tuple[int, dt.datetime | None]:
    """Échecs de connexion depuis le dernier succès, dans la fenêtre ; et l'heure du plus ancien d'entre eux."""
    n, premier = con.execute("""
        SELECT count(*), min(horodatage) FROM journal
        WHERE action = 'connexion' AND resultat = 'échoué' AND compte = ? AND horodatage > ?
          AND id > coalesce((SELECT max(id) FROM journal WHERE action = 'connexion' AND resultat = 'réussi'
                             AND compte = ?), 0)
    """, [identifiant, maintenant - FENETRE, identifiant]).fetchone()
    return int(n), premier


@ouverte("la connexion elle-même")
def authentifier(store: Store, identifiant: str, mot_de_passe: str, *, origine: str = "tableau de bord",
                 maintenant: dt.datetime | None = None) -> Utilisateur:
    """Vérifie un identifiant et un mot de passe ; renvoie l'utilisateur, ou lève `ConnexionRefusee` avec un message
    qui ne dit pas si c'est l'identifiant ou le mot de passe qui est faux. Tout est consigné au journal."""
    maintenant = maintenant or dt.datetime.now()
    ident = (identifiant or "").strip().lower()

    n, premier = store.lire(lambda con: _echecs_recents(con, ident, maintenant))
    if n >= ESSAIS_MAX:
        reprise = premier + FENETRE
        journal.noter_seul(store, None, "connexion", resultat="refusé", compte=ident, objet=origine,
                           detail=f"trop de tentatives : {n} échecs", horodatage=maintenant)
        raise ConnexionRefusee(f"Trop de tentatives de connexion échouées pour « {ident} » : réessayez après le "
                               f"{format_date_heure(reprise)}, ou demandez à la coordination de changer le mot de "
                               "passe.")
    ligne = store.lire(lambda con: _ligne(con, ident))
    ok = ligne is not None and bool(ligne["actif"]) and _verifie(ligne["mot_de_passe"], mot_de_passe or "")
    if not ok:
        detail = ("identifiant inconnu" if ligne is None else "compte désactivé" if not ligne["actif"]
                  else "mot de passe incorrect")
        journal.noter_seul(store, None, "connexion", resultat="échoué", compte=ident, objet=origine, detail=detail,
                           horodatage=maintenant)
        if ligne is not None and not ligne["actif"] and _verifie(ligne["mot_de_passe"], mot_de_passe or ""):
            raise ConnexionRefusee("Ce compte est désactivé : adressez-vous à l'équipe de coordination.")
        reste = ESSAIS_MAX - n - 1
        suite = (f" Encore {reste} essai{'s' if reste > 1 else ''} avant un blocage de "
                 f"{int(FENETRE.total_seconds() // 60)} minutes." if 0 < reste <= 2 else "")
        raise ConnexionRefusee("Identifiant ou mot de passe incorrect." + suite)
    u = _utilisateur(ligne)

    def ecrire(con):
        con.execute("UPDATE compte SET derniere_connexion = ? WHERE identifiant = ?", [maintenant, ident])
        journal.noter(con, u, "connexion", objet=origine, horodatage=maintenant)
        if _hacheur.check_needs_rehash(ligne["mot_de_passe"]):
            con.execute("UPDATE compte SET mot_de_passe = ? WHERE identifiant = ?",
                        [_hacheur.hash(mot_de_passe), ident])

    store.ecrire(ecrire)
    return u


@ouverte("la connexion elle-même")
def connexion_sso(store: Store, courriel: str | None, *, fournisseur: str) -> Utilisateur:
    """Une connexion par l'authentification unique (OpenID Connect) : le courriel vérifié par le fournisseur désigne
    le compte local, qui doit exister et être actif ; c'est lui qui donne le rôle."""
    c = (courriel or "").strip().lower()
    ligne = store.lire(lambda con: con.execute("SELECT identifiant FROM compte WHERE courriel = ?", [c]).fetchone()) \
        if c else None
    ligne = store.lire(lambda con: _ligne(con, ligne[0])) if ligne else None
    if ligne is None or not ligne["actif"]:
        journal.noter_seul(store, None, "connexion", resultat="échoué", compte=c or "(sans courriel)",
                           objet=f"authentification unique ({fournisseur})",
                           detail="aucun compte pour ce courriel" if ligne is None else "compte désactivé")
        if ligne is None:
            raise ConnexionRefusee(f"Aucun compte n'est associé au courriel {c or '(non transmis)'} : demandez à "
                                   "l'équipe de coordination de vous en créer un avec ce courriel.")
        raise ConnexionRefusee("Ce compte est désactivé : adressez-vous à l'équipe de coordination.")
    u = _utilisateur(ligne)

    def ecrire(con):
        con.execute("UPDATE compte SET derniere_connexion = current_timestamp WHERE identifiant = ?", [u.identifiant])
        journal.noter(con, u, "connexion", objet=f"authentification unique ({fournisseur})")

    store.ecrire(ecrire)
    return u


@ouverte("relire le compte d'une session ouverte")
def recharger(store: Store, identifiant: str) -> Utilisateur | None:
    """L'utilisateur d'une session ouverte, relu à chaque page : None si son compte a été désactivé entre-temps (et son
    rôle à jour s'il a changé)."""
    ligne = store.lire(lambda con: _ligne(con, identifiant))
    if ligne is None or not ligne["actif"]:
        return None
    return _utilisateur(ligne)


@ouverte("la déconnexion elle-même")
def deconnexion(store: Store, utilisateur: Utilisateur, motif: str = "demandée") -> None:
    journal.noter_seul(store, utilisateur, "déconnexion", detail=motif)


# --------------------------------------------------------------------------------------------------------------------
# Gestion des comptes (administrateurs)
# --------------------------------------------------------------------------------------------------------------------

@operation("gerer_comptes")
def creer_compte(store: Store, identifiant: str, nom: str, role: str, mot_de_passe: str | None = None, *,
                 courriel: str | None = None, protocole: str | None = None,
                 signataire: str | None = None, protocoles=None) -> Utilisateur:
    """Un nouveau compte. Sans mot de passe, le compte n'entre que par l'authentification unique (courriel requis).
    `protocoles` : la portée d'un administrateur ou d'un lecteur (aucun : toute l'instance ; pour un administrateur
    limité, les siens)."""
    u = utilisateur_de(store)
    ident = _normaliser(identifiant)
    if mot_de_passe is None and not courriel:
        raise CompteRefuse("Donnez un mot de passe, ou un courriel pour un compte qui se connecte par "
                           "l'authentification unique.")
    portee = _normaliser_protocoles(protocoles) if role != CONTRIBUTEUR else None
    if role != CONTRIBUTEUR and portee is None and u.portee is not None:
        portee = sorted(u.portee)          # un administrateur limité crée des comptes de ses protocoles
    if role != CONTRIBUTEUR:
        exiger_portee(store, "gerer_comptes", portee, objet=ident)
    hache = _verifier_mot_de_passe(mot_de_passe, ident) if mot_de_passe is not None else None

    def ecrire(con):
        if con.execute("SELECT count(*) FROM compte WHERE identifiant = ?", [ident]).fetchone()[0]:
            raise CompteRefuse(f"L'identifiant « {ident} » est déjà pris.")
        c, p, s = _controler(con, ident, nom, role, courriel, protocole, signataire, protocoles)
        _inserer(con, ident, nom, role, c, p, s, hache)
        _ecrire_portee(con, ident, role, portee)
        journal.noter(con, u, "compte créé", protocole=p or (portee[0] if portee and len(portee) == 1 else None),
                      objet=ident, detail=_decrire(role, p, s, c, portee))
        return Utilisateur(ident, nom.strip(), role, p, s, c, protocoles=portee)

    return store.ecrire(ecrire)


# La portée de chaque compte, en liste triée de codes (NULL : toute l'instance).
SQL_PORTEES = """
    SELECT c.identifiant AS compte,
           CASE WHEN c.role = 'contributeur' THEN [c.protocole]
                ELSE (SELECT list(DISTINCT cp.protocole ORDER BY cp.protocole) FROM compte_protocole cp
                      WHERE cp.compte = c.identifiant) END AS protocoles
    FROM compte c"""


@operation("gerer_comptes")
def lister_comptes(store: Store) -> pd.DataFrame:
    """Les comptes, sans les mots de passe (la colonne `sso_seul` dit s'il n'en a pas) ; `protocoles` : la portée de
    chacun (liste de codes, None pour toute l'instance). Un administrateur limité ne voit que les comptes dont la
    portée tient dans la sienne."""
    u = utilisateur_de(store)
    df = store.requete(f"""
        SELECT c.identifiant, c.nom, c.courriel, c.role, c.protocole, c.signataire, s.nom AS signataire_nom, c.actif,
               c.mot_de_passe IS NULL AS sso_seul, c.demonstration, c.cree_le, c.derniere_connexion,
               CASE WHEN len(pt.protocoles) > 0 THEN pt.protocoles END AS protocoles
        FROM compte c LEFT JOIN signataire s ON s.protocole = c.protocole AND s.code = c.signataire
        LEFT JOIN ({SQL_PORTEES}) pt ON pt.compte = c.identifiant
        ORDER BY c.actif DESC, c.role, c.identifiant""")
    df["protocoles"] = pd.Series([list(p) if isinstance(p, (list, tuple, np.ndarray)) and len(p) else None
                                  for p in df["protocoles"]], index=df.index, dtype=object)
    if u.portee is not None:
        garder = [p is not None and set(p) <= u.portee for p in df["protocoles"]]
        df = df[garder].reset_index(drop=True)
    return df


def _administrateurs_actifs(con) -> int:
    """Les administrateurs actifs de toute l'instance (sans protocole)."""
    return con.execute("SELECT count(*) FROM compte c WHERE role = 'administrateur' AND actif AND NOT EXISTS "
                       "(SELECT 1 FROM compte_protocole cp WHERE cp.compte = c.identifiant)").fetchone()[0]


def _exiger_compte_de_la_portee(store: Store, ident: str) -> dict:
    """Le compte à gérer, s'il existe ; refusé (journalisé) à un administrateur limité quand sa portée déborde."""
    ligne = store.lire(lambda con: _ligne(con, ident))
    if ligne is None:
        raise CompteRefuse(f"Le compte « {ident} » n'existe pas.")
    if utilisateur_de(store).portee is not None:
        exiger_portee(store, "gerer_comptes", _portee_ligne(ligne), objet=ident)
    return ligne


@operation("gerer_comptes")
def activer_compte(store: Store, identifiant: str, actif: bool) -> None:
    """Désactive (ou réactive) un compte ; ses dépôts et ses traces restent. Le dernier administrateur actif ne peut
    pas être désactivé."""
    u = utilisateur_de(store)
    ident = (identifiant or "").strip().lower()
    _exiger_compte_de_la_portee(store, ident)

    def ecrire(con):
        ligne = _compte_existant(con, ident)
        if (not actif and ligne["role"] == ADMINISTRATEUR and ligne["actif"] and not ligne["protocoles"]
                and _administrateurs_actifs(con) <= 1):
            raise CompteRefuse("C'est le dernier administrateur actif : créez-en un autre avant de le désactiver.")
        con.execute("UPDATE compte SET actif = ?, modifie_le = current_timestamp WHERE identifiant = ?", [actif, ident])
        journal.noter(con, u, "compte réactivé" if actif else "compte désactivé", objet=ident)

    store.ecrire(ecrire)


def changer_mot_de_passe(store: Store, identifiant: str, nouveau: str, ancien: str | None = None) -> None:
    """Un administrateur change le mot de passe de n'importe quel autre compte ; chacun change le sien en donnant
    l'ancien."""
    u = utilisateur_de(store)
    ident = (identifiant or "").strip().lower()
    soi_meme = ident == u.identifiant and not u.systeme
    if not soi_meme:
        exiger(store, "gerer_comptes")
        _exiger_compte_de_la_portee(store, ident)
    hache = _verifier_mot_de_passe(nouveau, ident)

    def ecrire(con):
        ligne = _compte_existant(con, ident)
        if soi_meme and not _verifie(ligne["mot_de_passe"], ancien or ""):
            raise CompteRefuse("L'ancien mot de passe est incorrect.")
        con.execute("UPDATE compte SET mot_de_passe = ?, modifie_le = current_timestamp WHERE identifiant = ?",
                    [hache, ident])
        if not soi_meme:    # changé par un administrateur (mot de passe perdu ou compromis) : ses sessions sont fermées
            con.execute("DELETE FROM session_web WHERE compte = ?", [ident])
        journal.noter(con, u, "mot de passe changé", objet=ident,
                      detail="par l'intéressé" if soi_meme else "par un administrateur")

    store.ecrire(ecrire)


changer_mot_de_passe.__operation__ = "gerer_comptes"    # ou soi-même (contrôlé dans la fonction)


@operation("gerer_comptes")
def modifier_compte(store: Store, identifiant: str, *, nom: str | None = None, role: str | None = None,
                    courriel: str | None = None, protocole: str | None = None,
                    signataire: str | None = None, protocoles=...) -> Utilisateur:
    """Change le nom, le rôle, le courriel, le rattachement ou la portée d'un compte (les champs laissés à None ne
    changent pas, sauf le rattachement, qui suit le rôle ; `protocoles` : la nouvelle portée d'un administrateur ou
    d'un lecteur, None ou [] pour toute l'instance, non donné pour la garder)."""
    u = utilisateur_de(store)
    ident = (identifiant or "").strip().lower()
    avant = _exiger_compte_de_la_portee(store, ident)
    nouveau_role = role or avant["role"]
    if nouveau_role == CONTRIBUTEUR:
        portee = None
    elif protocoles is ...:
        portee = (avant["protocoles"] or None) if avant["role"] != CONTRIBUTEUR else None
        if portee is None and u.portee is not None and avant["role"] == CONTRIBUTEUR:
            portee = sorted(u.portee)       # un contributeur devenu lecteur, par un administrateur limité : ses protocoles
    else:
        portee = _normaliser_protocoles(protocoles)
    if nouveau_role != CONTRIBUTEUR and u.portee is not None:
        exiger_portee(store, "gerer_comptes", portee, objet=ident)   # None : toute l'instance, refusée

    def ecrire(con):
        ligne = _compte_existant(con, ident)
        instance_avant = ligne["role"] == ADMINISTRATEUR and not ligne["protocoles"]
        instance_apres = nouveau_role == ADMINISTRATEUR and not portee
        if instance_avant and not instance_apres and ligne["actif"] and _administrateurs_actifs(con) <= 1:
            raise CompteRefuse("C'est le dernier administrateur actif de toute l'instance : il garde son rôle et "
                               "toute l'instance.")
        n = nom if nom is not None else ligne["nom"]
        c_in = courriel if courriel is not None else ligne["courriel"]
        p_in = protocole if protocole is not None else (ligne["protocole"] if nouveau_role == CONTRIBUTEUR else None)
        s_in = signataire if signataire is not None else (ligne["signataire"] if nouveau_role == CONTRIBUTEUR
                                                          else None)
        c, p, s = _controler(con, ident, n, nouveau_role, c_in, p_in, s_in)
        con.execute("UPDATE compte SET nom = ?, role = ?, courriel = ?, protocole = ?, signataire = ?, "
                    "modifie_le = current_timestamp WHERE identifiant = ?", [n.strip(), nouveau_role, c, p, s, ident])
        _ecrire_portee(con, ident, nouveau_role, portee)
        journal.noter(con, u, "compte modifié", protocole=p or (portee[0] if portee and len(portee) == 1 else None),
                      objet=ident, detail=_decrire(nouveau_role, p, s, c, portee))
        return Utilisateur(ident, n.strip(), nouveau_role, p, s, c, protocoles=portee)

    return store.ecrire(ecrire)
