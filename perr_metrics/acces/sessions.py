"""Les sessions du tableau de bord, gardées dans la base : valables sur chaque processus serveur.

Une session survit au rechargement de la page, s'ouvre dans un nouvel onglet (un lien d'invitation au COPIL) et sur un
autre processus du même déploiement (plusieurs serveurs derrière un proxy inverse) : le navigateur garde un jeton
aléatoire dans un cookie (`perr_session`) ; la base n'en garde que l'empreinte SHA-256 (table `session_web`), avec le
compte, l'heure d'ouverture et celle de la dernière activité. Chaque processus relit la session à chaque page : la
déconnexion (la ligne disparaît) et l'expiration valent partout.

- Expiration : après `INACTIVITE` sans activité ($PERR_SESSION_MINUTES, 60 minutes) ou `DUREE_MAX` après l'ouverture
  ($PERR_SESSION_HEURES, 12 heures), la session est fermée (consignée au journal : « déconnexion », session expirée).
- Activité : notée dans la base au plus toutes les `PAS_ACTIVITE` (le douzième de l'inactivité permise, 5 minutes au
  plus) plutôt qu'à chaque page : une écriture par page périmerait les lectures en cache de tous les processus.
  L'inactivité est donc mesurée à `PAS_ACTIVITE` près (au pire, une session se ferme un douzième plus tôt).
- Un compte désactivé n'a plus de session valide, sur aucun processus.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
from dataclasses import dataclass

from perr_metrics.stockage.magasin import Store

from . import journal
from .comptes import recharger
from .droits import Utilisateur
from .marques import ouverte

INACTIVITE = dt.timedelta(minutes=float(os.environ.get("PERR_SESSION_MINUTES", 60)))
DUREE_MAX = dt.timedelta(hours=float(os.environ.get("PERR_SESSION_HEURES", 12)))
PAS_ACTIVITE = min(dt.timedelta(minutes=5), INACTIVITE / 12)

OUVERTE, INCONNUE, EXPIREE, COMPTE_INACTIF = "ouverte", "inconnue", "expirée", "compte désactivé"


def empreinte(jeton: str) -> str:
    """L'empreinte SHA-256 d'un jeton (256 bits aléatoires : une empreinte simple suffit, sans sel)."""
    return hashlib.sha256(jeton.encode()).hexdigest()


@dataclass(frozen=True)
class Examen:
    """Ce que dit la base d'un jeton : `etat` (OUVERTE, INCONNUE — jamais ouverte ou déjà fermée —, EXPIREE,
    COMPTE_INACTIF), l'utilisateur d'une session ouverte, et la session elle-même (`debut`, `activite`, `sso`)."""

    etat: str
    utilisateur: Utilisateur | None = None
    compte: str | None = None
    debut: dt.datetime | None = None
    activite: dt.datetime | None = None
    sso: bool = False

    @property
    def valide(self) -> bool:
        return self.etat == OUVERTE


def _expiree(debut: dt.datetime, activite: dt.datetime, maintenant: dt.datetime) -> bool:
    return maintenant - activite > INACTIVITE or maintenant - debut > DUREE_MAX


@ouverte("ouvrir la session d'un utilisateur qui vient de se connecter")
def ouvrir_session(store: Store, identifiant: str, *, sso: bool = False,
                   maintenant: dt.datetime | None = None) -> str:
    """Ouvre une session pour le compte `identifiant` (après une connexion réussie) ; renvoie le jeton, à poser dans
    le cookie du navigateur (la base n'en garde que l'empreinte). Retire au passage les sessions expirées."""
    maintenant = maintenant or dt.datetime.now()
    jeton = secrets.token_urlsafe(32)
    h = empreinte(jeton)

    def ecrire(con):
        con.execute("DELETE FROM session_web WHERE activite < ? OR debut < ? OR empreinte = ?",
                    [maintenant - INACTIVITE, maintenant - DUREE_MAX, h])
        con.execute("INSERT INTO session_web VALUES (?, ?, ?, ?, ?)", [h, identifiant, sso, maintenant, maintenant])

    store.ecrire(ecrire)
    return jeton


@ouverte("relire la session d'un navigateur, avant de savoir qui il est")
def examiner(store: Store, jeton: str | None, *, maintenant: dt.datetime | None = None) -> Examen:
    """Relit la session du jeton dans la base : ouverte (et son utilisateur, relu avec son rôle et sa portée à jour),
    inconnue (jamais ouverte, fermée ici ou sur un autre processus), expirée (fermée à l'instant, consignée au
    journal) ou d'un compte désactivé. Note l'activité d'une session ouverte (au plus toutes les `PAS_ACTIVITE`)."""
    if not jeton:
        return Examen(INCONNUE)
    maintenant = maintenant or dt.datetime.now()
    h = empreinte(jeton)
    ligne = store.lire(lambda con: con.execute(
        "SELECT compte, sso, debut, activite FROM session_web WHERE empreinte = ? ORDER BY activite DESC LIMIT 1",
        [h]).fetchone())
    if ligne is None:
        return Examen(INCONNUE)
    compte, sso, debut, activite = ligne
    if _expiree(debut, activite, maintenant):
        _fermer(store, h, compte, "session expirée")
        return Examen(EXPIREE, None, compte, debut, activite, bool(sso))
    u = recharger(store, compte)
    if u is None:
        _fermer(store, h, compte, "compte désactivé")
        return Examen(COMPTE_INACTIF, None, compte, debut, activite, bool(sso))
    if maintenant - activite >= PAS_ACTIVITE:
        store.ecrire(lambda con: con.execute("UPDATE session_web SET activite = ? WHERE empreinte = ?",
                                             [maintenant, h]))
        activite = maintenant
    return Examen(OUVERTE, u, compte, debut, activite, bool(sso))


@ouverte("relire la session d'un navigateur, avant de savoir qui il est")
def session_valide(store: Store, jeton: str | None, *, maintenant: dt.datetime | None = None) -> Utilisateur | None:
    """L'utilisateur de la session du jeton si elle est ouverte, non expirée et son compte actif ; None sinon."""
    return examiner(store, jeton, maintenant=maintenant).utilisateur


def _fermer(store: Store, h: str, compte: str | None, motif: str) -> bool:
    """Retire la session d'empreinte `h` et consigne la déconnexion dans la même transaction ; faux si elle n'existait
    plus (fermée entre-temps par un autre processus : rien à consigner)."""
    u = (recharger(store, compte) if compte else None) or (Utilisateur(compte, compte, "") if compte else None)

    def ecrire(con):
        if not con.execute("SELECT count(*) FROM session_web WHERE empreinte = ?", [h]).fetchone()[0]:
            return False
        con.execute("DELETE FROM session_web WHERE empreinte = ?", [h])
        journal.noter(con, u, "déconnexion", detail=motif)
        return True

    return store.ecrire(ecrire)


@ouverte("la déconnexion elle-même")
def fermer_session(store: Store, jeton: str | None, motif: str = "demandée") -> bool:
    """Ferme la session du jeton, pour tous les processus (consigné au journal) ; faux si elle était déjà fermée."""
    if not jeton:
        return False
    h = empreinte(jeton)
    compte = store.lire(lambda con: con.execute("SELECT any_value(compte) FROM session_web WHERE empreinte = ?",
                                                [h]).fetchone()[0])
    if compte is None:
        return False
    return _fermer(store, h, compte, motif)

