"""Qui peut faire quoi : les rôles, la matrice des droits, et leur contrôle dans le cœur.

Chaque opération du cœur (fonction publique qui reçoit le magasin) est marquée `@operation("action")`. Le magasin porte
l'utilisateur qui agit (`Store.pour(utilisateur)`, posé à la connexion) ; l'enveloppe vérifie que son rôle permet
l'action avant d'exécuter quoi que ce soit, et lève sinon `AccesRefuse` avec un message en français. Les contributeurs
sont en plus limités à leur signataire (et à ses services) : les opérations concernées appellent `exiger_signataire`.

Ce contrôle ne dépend pas des pages : la ligne de commande et tout appel direct du cœur y passent aussi (tests :
tests/core/test_droits.py, une matrice « chaque opération × chaque rôle »).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import Callable, TypeVar

from .marques import ouverte  # noqa: F401 - l'autre marque des fonctions du cœur, employée par droits.ouverte
from .trace import noter_refus

F = TypeVar("F", bound=Callable)

ADMINISTRATEUR, CONTRIBUTEUR, LECTEUR, PUBLIC = "administrateur", "contributeur", "lecteur", "public"
ROLES = (ADMINISTRATEUR, CONTRIBUTEUR, LECTEUR)          # les rôles d'un compte
TOUS_LES_ROLES = ROLES + (PUBLIC,)                       # « public » : le visiteur non connecté de la vue publique

LIBELLES_ROLES = {
    ADMINISTRATEUR: "Administrateur (coordination)",
    CONTRIBUTEUR: "Contributeur (partenaire signataire)",
    LECTEUR: "Lecteur (membre du COPIL)",
    PUBLIC: "Public (vue publique)",
}

# action → (ce qu'elle permet, en français, pour les messages ; rôles qui l'ont)
ACTIONS: dict[str, tuple[str, frozenset[str]]] = {
    "consulter_referentiel": ("consulter le référentiel des protocoles",
                              frozenset({ADMINISTRATEUR, LECTEUR, CONTRIBUTEUR})),
    "consulter_pilotage": ("consulter les tableaux de bord du COPIL", frozenset({ADMINISTRATEUR, LECTEUR})),
    "consulter_depots": ("consulter les dépôts", frozenset({ADMINISTRATEUR, LECTEUR, CONTRIBUTEUR})),
    "consulter_engagements": ("consulter les engagements", frozenset({ADMINISTRATEUR, LECTEUR, CONTRIBUTEUR})),
    "deposer": ("déposer des valeurs d'indicateurs", frozenset({ADMINISTRATEUR, CONTRIBUTEUR})),
    "modifier_etat": ("mettre à jour l'état d'un engagement", frozenset({ADMINISTRATEUR, CONTRIBUTEUR})),
    "revoir_depot": ("revoir les dépôts des partenaires", frozenset({ADMINISTRATEUR})),
    "rediger_rapport": ("rédiger les textes du rapport annuel ou y joindre un avis", frozenset({ADMINISTRATEUR})),
    "administrer_referentiel": ("modifier le référentiel ou les contours des quartiers", frozenset({ADMINISTRATEUR})),
    "publier": ("choisir ce que montre la vue publique", frozenset({ADMINISTRATEUR})),
    "gerer_comptes": ("gérer les comptes", frozenset({ADMINISTRATEUR})),
    "consulter_journal": ("consulter le journal", frozenset({ADMINISTRATEUR})),
    "sauvegarder": ("sauvegarder ou restaurer la base", frozenset({ADMINISTRATEUR})),
    "consulter_publication": ("consulter les indicateurs publiés", frozenset(TOUS_LES_ROLES)),
}

# Les actions limitées, pour un contributeur, à son signataire et à ses services.
ACTIONS_LIMITEES_AU_SIGNATAIRE = frozenset({"consulter_depots", "consulter_engagements", "deposer", "modifier_etat"})

# Le registre des opérations du cœur : « module.fonction » → action (rempli par le décorateur).
OPERATIONS: dict[str, str] = {}


class AccesRefuse(PermissionError):
    """L'utilisateur n'a pas le droit de faire cette opération ; le message, en français, dit pourquoi."""


@dataclass(frozen=True)
class Utilisateur:
    """Celui qui agit. `protocole` et `signataire` : le rattachement d'un contributeur."""

    identifiant: str
    nom: str
    role: str
    protocole: str | None = None
    signataire: str | None = None
    courriel: str | None = None
    systeme: bool = False

    @property
    def libelle(self) -> str:
        return f"{self.nom} ({self.identifiant})"

    def peut(self, action: str) -> bool:
        return self.role in ACTIONS[action][1]

    def cle(self) -> tuple:
        """Ce qui distingue deux utilisateurs pour ce qu'ils peuvent lire (clé de cache des pages)."""
        return (self.role, self.protocole, self.signataire)


# Les opérations d'installation (création de la démonstration, premier démarrage) agissent en administrateur
# « système » ; le journal les attribue à ce nom.
SYSTEME = Utilisateur("systeme", "Installation", ADMINISTRATEUR, systeme=True)
VISITEUR = Utilisateur("public", "Visiteur", PUBLIC)


def utilisateur_de(store) -> Utilisateur:
    u = getattr(store, "utilisateur", None)
    if u is None:
        raise AccesRefuse("Opération refusée : aucun utilisateur identifié. Connectez-vous (tableau de bord) ou "
                          "indiquez votre compte (--utilisateur, ligne de commande).")
    return u


def _refuser(store, u: Utilisateur, action: str, message: str, objet: str | None = None):
    """Consigne le refus au journal (quand le magasin peut écrire) et lève `AccesRefuse`."""
    noter_refus(store, u, action, message, objet)
    raise AccesRefuse(message)


def exiger(store, action: str) -> Utilisateur:
    """Vérifie que l'utilisateur du magasin a le droit de faire `action` ; le renvoie."""
    u = utilisateur_de(store)
    texte, roles = ACTIONS[action]
    if u.role not in roles:
        _refuser(store, u, action, f"Opération refusée : votre rôle ({u.role}) "
                                   f"ne permet pas de {texte}.")
    return u


def signataires_couverts(con, protocole: str, signataire: str) -> set[str]:
    """Le signataire et, récursivement, ses services : un dépôt de l'État peut porter les indicateurs de la DDSP."""
    lignes = con.execute("""
        WITH RECURSIVE c(code) AS (
            SELECT code FROM signataire WHERE protocole = ? AND code = ?
            UNION SELECT s.code FROM signataire s JOIN c ON s.rattache_a = c.code WHERE s.protocole = ?)
        SELECT code FROM c""", [protocole, signataire, protocole]).fetchall()
    return {l[0] for l in lignes}


def perimetre(con, u: Utilisateur, protocole: str) -> set[str] | None:
    """Les signataires pour lesquels `u` agit dans `protocole` : tous (None) sauf pour un contributeur, limité à son
    signataire et à ses services (ensemble vide hors de son protocole)."""
    if u.role != CONTRIBUTEUR:
        return None
    if protocole != u.protocole or not u.signataire:
        return set()
    return signataires_couverts(con, protocole, u.signataire)


def perimetre_de(store, protocole: str) -> set[str] | None:
    """`perimetre` pour l'utilisateur du magasin (None : pas de limite)."""
    u = utilisateur_de(store)
    if u.role != CONTRIBUTEUR:
        return None
    return store.lire(lambda con: perimetre(con, u, protocole))


def exiger_signataire(store, action: str, protocole: str, signataires: str | set[str] | list[str],
                      objet: str | None = None) -> None:
    """Pour un contributeur : refuse si l'un des `signataires` n'est ni le sien ni l'un de ses services."""
    u = utilisateur_de(store)
    if u.role != CONTRIBUTEUR:
        return
    demandes = {signataires} if isinstance(signataires, str) else set(signataires)
    permis = perimetre_de(store, protocole)
    if not demandes or not demandes <= permis:
        hors = ", ".join(sorted(demandes - permis)) or "aucun"
        rattache = f"{u.signataire} du protocole {u.protocole}" if u.signataire else "aucun signataire"
        _refuser(store, u, action,
                 f"Opération refusée : votre compte est rattaché à {rattache} ; il ne peut pas "
                 f"{ACTIONS[action][0]} pour {hors} (protocole {protocole}).", objet)


def operation(action: str) -> Callable[[F], F]:
    """Marque une opération du cœur : le rôle de l'utilisateur du magasin (premier argument) doit permettre `action`."""
    if action not in ACTIONS:
        raise ValueError(f"Action inconnue : {action}")

    def decorer(fn: F) -> F:
        @functools.wraps(fn)
        def enveloppe(store, *args, **kwargs):
            exiger(store, action)
            return fn(store, *args, **kwargs)

        enveloppe.__operation__ = action
        OPERATIONS[f"{fn.__module__}.{fn.__name__}"] = action
        return enveloppe  # type: ignore[return-value]

    return decorer



def en_systeme(store):
    """Le même magasin, au nom de l'installation : pour qu'une opération déjà autorisée (la vue publique, limitée aux
    indicateurs publiés) s'appuie sur des lectures réservées à d'autres rôles. À n'employer qu'après un contrôle."""
    return store.pour(replace(SYSTEME, nom=f"{SYSTEME.nom} pour {utilisateur_de(store).identifiant}"))
