"""Qui peut faire quoi : les rôles, la matrice des droits, et leur contrôle dans le cœur.

Chaque opération du cœur (fonction publique qui reçoit le magasin) est marquée `@operation("action")`. Le magasin porte
l'utilisateur qui agit (`Store.pour(utilisateur)`, posé à la connexion) ; l'enveloppe vérifie que son rôle permet
l'action avant d'exécuter quoi que ce soit, et lève sinon `AccesRefuse` avec un message en français. Les contributeurs
sont en plus limités à leur signataire (et à ses services) : les opérations concernées appellent `exiger_signataire`.

Plusieurs organisations dans une instance : un compte a une **portée**, les protocoles qu'il couvre (`Utilisateur.portee`,
None pour toute l'instance). Un contributeur couvre le protocole de son signataire ; un administrateur ou un lecteur, les
protocoles de son compte (table `compte_protocole`), ou toute l'instance s'il n'en a aucun. L'enveloppe de `@operation`
refuse une opération dont l'argument `protocole` (ou `code`, le code du protocole dans le référentiel) sort de la portée
(`exiger_protocole`) ; une opération qui vaut pour toute l'instance (sauvegarde, contours nationaux, ouverture de la vue
publique, démonstration) est marquée `@operation(…, instance=True)` et refusée à un compte limité (`exiger_instance`). Les
lectures qui listent des protocoles (ou des comptes, ou le journal) les filtrent par `portee_de`.

Ce contrôle ne dépend pas des pages : la ligne de commande et tout appel direct du cœur y passent aussi (tests :
tests/core/test_droits.py, une matrice « chaque opération × chaque rôle »).
"""
from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, replace
from typing import Callable, Iterable, TypeVar

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
    "relancer": ("relancer les partenaires par courriel", frozenset({ADMINISTRATEUR})),
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

# Les actions que la portée d'un compte ne limite pas : la vue publique est la même pour tous, connecté ou non.
ACTIONS_SANS_PORTEE = frozenset({"consulter_publication"})

# Les noms d'argument qui désignent le protocole d'une opération (le référentiel dit `code`).
ARGUMENTS_PROTOCOLE = ("protocole", "code")

# Le registre des opérations du cœur : « module.fonction » → action (rempli par le décorateur).
OPERATIONS: dict[str, str] = {}


class AccesRefuse(PermissionError):
    """L'utilisateur n'a pas le droit de faire cette opération ; le message, en français, dit pourquoi."""


@dataclass(frozen=True)
class Utilisateur:
    """Celui qui agit. `protocole` et `signataire` : le rattachement d'un contributeur ; `protocoles` : ceux d'un
    administrateur ou d'un lecteur limité à certains protocoles (None : toute l'instance)."""

    identifiant: str
    nom: str
    role: str
    protocole: str | None = None
    signataire: str | None = None
    courriel: str | None = None
    systeme: bool = False
    protocoles: frozenset[str] | None = None

    def __post_init__(self):
        if self.protocoles is not None and not isinstance(self.protocoles, frozenset):
            object.__setattr__(self, "protocoles", frozenset(self.protocoles))

    @property
    def libelle(self) -> str:
        return f"{self.nom} ({self.identifiant})"

    @property
    def portee(self) -> frozenset[str] | None:
        """Les protocoles que le compte couvre ; None : toute l'instance. Un contributeur : celui de son signataire."""
        if self.role == CONTRIBUTEUR:
            return frozenset({self.protocole}) if self.protocole else frozenset()
        if self.role == PUBLIC:
            return None
        return self.protocoles

    def couvre(self, protocole: str) -> bool:
        return self.portee is None or protocole in self.portee

    def peut(self, action: str) -> bool:
        return self.role in ACTIONS[action][1]

    def cle(self) -> tuple:
        """Ce qui distingue deux utilisateurs pour ce qu'ils peuvent lire (clé de cache des pages)."""
        return (self.role, self.protocole, self.signataire, self.portee)


def texte_portee(portee: Iterable[str] | None) -> str:
    """« toute l'instance », « le protocole TCM-PERR-2019 », « les protocoles A et B »."""
    if portee is None:
        return "toute l'instance"
    codes = sorted(portee)
    if not codes:
        return "aucun protocole"
    if len(codes) == 1:
        return f"le protocole {codes[0]}"
    return f"les protocoles {', '.join(codes[:-1])} et {codes[-1]}"


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


def _refuser(store, u: Utilisateur, action: str, message: str, objet: str | None = None,
             protocole: str | None = None):
    """Consigne le refus au journal (quand le magasin peut écrire) et lève `AccesRefuse`."""
    noter_refus(store, u, action, message, objet, protocole=protocole)
    raise AccesRefuse(message)


def exiger(store, action: str) -> Utilisateur:
    """Vérifie que l'utilisateur du magasin a le droit de faire `action` ; le renvoie."""
    u = utilisateur_de(store)
    texte, roles = ACTIONS[action]
    if u.role not in roles:
        _refuser(store, u, action, f"Opération refusée : votre rôle ({u.role}) "
                                   f"ne permet pas de {texte}.")
    return u


def portee_de(store) -> frozenset[str] | None:
    """Les protocoles que couvre l'utilisateur du magasin (None : toute l'instance) : pour filtrer une liste."""
    return utilisateur_de(store).portee


def exiger_protocole(store, action: str, protocole: str | None, objet: str | None = None) -> Utilisateur:
    """Refuse (journalisé) une opération sur un protocole que le compte ne couvre pas ; renvoie l'utilisateur."""
    u = utilisateur_de(store)
    if protocole is None or action in ACTIONS_SANS_PORTEE or u.couvre(protocole):
        return u
    if u.role == CONTRIBUTEUR:
        qui = (f"votre compte est rattaché à {u.signataire} du protocole {u.protocole}" if u.signataire
               else "votre compte n'est rattaché à aucun signataire")
    else:
        qui = f"votre compte ne couvre que {texte_portee(u.portee)}"
    _refuser(store, u, action, f"Opération refusée : {qui} ; il ne peut pas {ACTIONS[action][0]} pour le "
                               f"protocole {protocole}.", objet or protocole, protocole=protocole)
    return u  # pragma: no cover - _refuser lève


def exiger_portee(store, action: str, protocoles: Iterable[str] | None, objet: str | None = None) -> Utilisateur:
    """Refuse une opération sur une portée (un ensemble de protocoles, None : toute l'instance) plus large que celle
    du compte : un administrateur limité ne crée ni ne modifie un compte qui déborde de ses protocoles."""
    u = utilisateur_de(store)
    if u.portee is None:
        return u
    if protocoles is None:
        return exiger_instance(store, action, objet)
    for p in sorted(protocoles):
        exiger_protocole(store, action, p, objet)
    return u


def exiger_instance(store, action: str, objet: str | None = None) -> Utilisateur:
    """Refuse (journalisé) à un compte limité à certains protocoles une opération qui vaut pour toute l'instance."""
    u = utilisateur_de(store)
    if u.portee is None or action in ACTIONS_SANS_PORTEE:
        return u
    texte = ACTIONS[action][0]
    _refuser(store, u, action, f"Opération refusée : votre compte ne couvre que {texte_portee(u.portee)} ; "
                               f"{texte} vaut pour toute l'instance : c'est le rôle d'un administrateur de toute "
                               "l'instance.", objet)
    return u  # pragma: no cover - _refuser lève


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


def _lecteur_du_protocole(fn: Callable) -> Callable[[tuple, dict], object] | None:
    """Comment retrouver, dans un appel de `fn(store, …)`, la valeur de son argument `protocole` (ou `code`)."""
    params = list(inspect.signature(fn).parameters.values())
    for nom in ARGUMENTS_PROTOCOLE:
        p = next((p for p in params if p.name == nom), None)
        if p is None:
            continue
        rang = params.index(p) - 1           # sans le magasin
        positionnel = p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        defaut = None if p.default is p.empty else p.default

        def lire(args: tuple, kwargs: dict, nom=nom, rang=rang, positionnel=positionnel, defaut=defaut):
            if nom in kwargs:
                return kwargs[nom]
            if positionnel and len(args) > rang:
                return args[rang]
            return defaut
        return lire
    return None


def operation(action: str, *, instance: bool = False) -> Callable[[F], F]:
    """Marque une opération du cœur : le rôle de l'utilisateur du magasin (premier argument) doit permettre `action`,
    et sa portée couvrir le protocole de l'appel (argument `protocole` ou `code`, quand il est donné) ; `instance` :
    l'opération vaut pour toute l'instance, refusée à un compte limité à certains protocoles."""
    if action not in ACTIONS:
        raise ValueError(f"Action inconnue : {action}")

    def decorer(fn: F) -> F:
        lire_protocole = None if instance else _lecteur_du_protocole(fn)

        @functools.wraps(fn)
        def enveloppe(store, *args, **kwargs):
            u = exiger(store, action)
            if u.portee is not None:
                if instance:
                    exiger_instance(store, action)
                elif lire_protocole is not None:
                    protocole = lire_protocole(args, kwargs)
                    if isinstance(protocole, str):
                        exiger_protocole(store, action, protocole)
            return fn(store, *args, **kwargs)

        enveloppe.__operation__ = action
        enveloppe.__instance__ = instance
        OPERATIONS[f"{fn.__module__}.{fn.__name__}"] = action
        return enveloppe  # type: ignore[return-value]

    return decorer



def en_systeme(store):
    """Le même magasin, au nom de l'installation : pour qu'une opération déjà autorisée (la vue publique, limitée aux
    indicateurs publiés) s'appuie sur des lectures réservées à d'autres rôles. À n'employer qu'après un contrôle."""
    return store.pour(replace(SYSTEME, nom=f"{SYSTEME.nom} pour {utilisateur_de(store).identifiant}"))
