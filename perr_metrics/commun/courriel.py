"""Le courriel : la configuration du serveur SMTP, la composition d'un message, son envoi par la bibliothèque standard
(`smtplib`, `email`) et, sans serveur, le fichier .eml à envoyer à la main.

Configuration (README, « Courriels ») : les variables d'environnement `PERR_SMTP_HOTE`, `PERR_SMTP_PORT`,
`PERR_SMTP_SECURITE` (`aucune`, `starttls` ou `ssl`), `PERR_SMTP_UTILISATEUR`, `PERR_SMTP_MOT_DE_PASSE`,
`PERR_SMTP_EXPEDITEUR`, ou les mêmes clés dans `.streamlit/secrets.toml` (l'environnement l'emporte, clé par clé). Sans
`PERR_SMTP_HOTE`, aucun serveur n'est configuré : `lire_configuration` rend None.

L'envoi ne lève jamais pour un refus du serveur : il rend, message par message, les adresses qui l'ont accepté et celles
qui l'ont refusé, chacune avec sa raison en français. Un serveur injoignable refuse ainsi toutes les adresses ; rien
n'est compté comme envoyé qui ne l'a pas été. Ce module n'importe rien du projet (couche `commun`).
"""
from __future__ import annotations

import os
import re
import smtplib
import socket
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Mapping

CLES = ("PERR_SMTP_HOTE", "PERR_SMTP_PORT", "PERR_SMTP_SECURITE", "PERR_SMTP_UTILISATEUR", "PERR_SMTP_MOT_DE_PASSE",
        "PERR_SMTP_EXPEDITEUR", "PERR_URL_TABLEAU_DE_BORD")
SECURITES = {"aucune": 25, "starttls": 587, "ssl": 465}     # sécurité → port par défaut
DELAI = 20.0                                                 # secondes d'attente du serveur
RE_ADRESSE = re.compile(r"^[^@\s<>,;\"']+@[^@\s<>,;\"']+\.[^@\s<>,;\"']+$")
SANS_SERVEUR = ("Aucun serveur de courriel n'est configuré (PERR_SMTP_HOTE et les autres réglages PERR_SMTP_…, par "
                "l'environnement ou dans .streamlit/secrets.toml : voir le README) : rien n'est envoyé.")


class ConfigurationInvalide(ValueError):
    """Un réglage PERR_SMTP_… illisible ; le message, en français, dit lequel et ce qui est attendu."""


def adresse_valide(adresse: str | None) -> bool:
    """Une adresse de courriel plausible (nom@domaine.tld), sans espace ni séparateur."""
    return bool(adresse) and bool(RE_ADRESSE.match(str(adresse).strip()))


@dataclass(frozen=True)
class ConfigSMTP:
    hote: str
    port: int
    securite: str
    expediteur: str
    utilisateur: str | None = None
    mot_de_passe: str | None = field(default=None, repr=False)    # jamais affiché ni journalisé
    delai: float = DELAI

    @property
    def description(self) -> str:
        """Ce que la page et la ligne de commande peuvent montrer (jamais le mot de passe)."""
        return f"{self.hote}:{self.port} ({self.securite}), expéditeur {self.expediteur}"


def lire_secrets_toml(chemin: str | os.PathLike | None = None) -> dict:
    """Les clés PERR_SMTP_… d'un fichier secrets.toml (par défaut `.streamlit/secrets.toml` du dossier courant) ; {} si
    le fichier manque ou ne se lit pas (la configuration dit alors « aucun serveur », sans trace)."""
    import tomllib
    f = Path(chemin) if chemin else Path(".streamlit") / "secrets.toml"
    try:
        with open(f, "rb") as flux:
            contenu = tomllib.load(flux)
    except (OSError, ValueError):
        return {}
    return {k: contenu[k] for k in CLES if k in contenu}


def lire_configuration(environ: Mapping[str, str] | None = None,
                       secrets: Mapping[str, object] | None = None) -> ConfigSMTP | None:
    """La configuration du serveur, de l'environnement puis des secrets ; None sans `PERR_SMTP_HOTE`.

    Lève `ConfigurationInvalide` pour un port, une sécurité ou un expéditeur illisible."""
    environ = os.environ if environ is None else environ
    secrets = secrets or {}

    def cle(nom: str) -> str | None:
        v = environ.get(nom)
        if v in (None, ""):
            v = secrets.get(nom)
        return None if v in (None, "") else str(v).strip()

    hote = cle("PERR_SMTP_HOTE")
    if not hote:
        return None
    securite = (cle("PERR_SMTP_SECURITE") or "starttls").lower()
    if securite not in SECURITES:
        raise ConfigurationInvalide(f"PERR_SMTP_SECURITE vaut « {securite} » : attendu aucune, starttls ou ssl.")
    port_texte = cle("PERR_SMTP_PORT")
    try:
        port = int(port_texte) if port_texte else SECURITES[securite]
    except ValueError:
        raise ConfigurationInvalide(f"PERR_SMTP_PORT vaut « {port_texte} » : attendu un numéro de port (587).") from None
    if not 0 < port < 65536:
        raise ConfigurationInvalide(f"PERR_SMTP_PORT vaut {port} : attendu un numéro de port entre 1 et 65535.")
    expediteur = cle("PERR_SMTP_EXPEDITEUR")
    if not adresse_valide(expediteur):
        raise ConfigurationInvalide(f"PERR_SMTP_EXPEDITEUR vaut « {expediteur or ''} » : attendu l'adresse d'où "
                                    "partent les courriels (coordination@exemple.fr).")
    return ConfigSMTP(hote, port, securite, expediteur, cle("PERR_SMTP_UTILISATEUR"), cle("PERR_SMTP_MOT_DE_PASSE"))


def lire_adresse_tableau_de_bord(environ: Mapping[str, str] | None = None,
                                 secrets: Mapping[str, object] | None = None) -> str | None:
    """L'adresse du tableau de bord que citent les courriels (`PERR_URL_TABLEAU_DE_BORD`, https://perr.exemple.fr),
    pour le lien vers la page « Déposer » ; None si elle n'est pas donnée."""
    environ = os.environ if environ is None else environ
    v = environ.get("PERR_URL_TABLEAU_DE_BORD") or (secrets or {}).get("PERR_URL_TABLEAU_DE_BORD")
    return str(v).strip().rstrip("/") or None if v else None


def composer(expediteur: str, destinataires: list[str], objet: str, texte: str,
             pieces: list[tuple[str, bytes, str]] | tuple = ()) -> EmailMessage:
    """Un message en texte brut (UTF-8), avec ses pièces jointes `(nom, octets, type MIME)`."""
    msg = EmailMessage()
    msg["From"] = expediteur
    msg["To"] = ", ".join(destinataires)
    msg["Subject"] = objet
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=expediteur.rpartition("@")[2] or None)
    msg.set_content(texte)
    for nom, octets, mime in pieces:
        principal, _, secondaire = mime.partition("/")
        msg.add_attachment(octets, maintype=principal, subtype=secondaire or "octet-stream", filename=nom)
    return msg


def en_eml(msg: EmailMessage) -> bytes:
    """Le message tel qu'un logiciel de courriel l'ouvre (fichier .eml), pour l'envoyer à la main."""
    return msg.as_bytes()


@dataclass
class Envoi:
    """Le sort d'un message : les adresses qui l'ont accepté, celles qui l'ont refusé (adresse → raison en français)."""

    acceptes: list[str] = field(default_factory=list)
    refuses: dict[str, str] = field(default_factory=dict)

    @property
    def reussi(self) -> bool:
        return bool(self.acceptes)

    def resume(self) -> str:
        morceaux = []
        if self.acceptes:
            morceaux.append("envoyé à " + ", ".join(self.acceptes))
        morceaux += [f"{a} : {r}" for a, r in self.refuses.items()]
        return " ; ".join(morceaux)


def _texte_serveur(code, message) -> str:
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    return f"{code} {message}".strip()


def _raison_connexion(config: ConfigSMTP, exc: BaseException) -> str:
    ou = f"{config.hote}:{config.port}"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return (f"le serveur de courriel {ou} a refusé l'identifiant ou le mot de passe (PERR_SMTP_UTILISATEUR, "
                "PERR_SMTP_MOT_DE_PASSE)")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return (f"le serveur de courriel {ou} ne propose pas ce qui est demandé (STARTTLS ou authentification) : "
                "vérifiez PERR_SMTP_SECURITE")
    if isinstance(exc, ssl.SSLError):
        return (f"la connexion chiffrée avec le serveur de courriel {ou} a échoué : vérifiez PERR_SMTP_SECURITE "
                "(aucune, starttls ou ssl) et PERR_SMTP_PORT")
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return f"le serveur de courriel {ou} ne répond pas (plus de {config.delai:g} s)"
    if isinstance(exc, socket.gaierror):
        return f"le serveur de courriel « {config.hote} » est introuvable (nom inconnu) : vérifiez PERR_SMTP_HOTE"
    if isinstance(exc, ConnectionRefusedError):
        return f"le serveur de courriel {ou} est injoignable (connexion refusée)"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"le serveur de courriel {ou} a refusé la connexion ({_texte_serveur(exc.smtp_code, exc.smtp_error)})"
    if isinstance(exc, smtplib.SMTPException):
        return f"le serveur de courriel {ou} a interrompu l'échange"
    return f"le serveur de courriel {ou} est injoignable ({exc.__class__.__name__})"


def _ouvrir(config: ConfigSMTP) -> smtplib.SMTP:
    if config.securite == "ssl":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(config.hote, config.port, timeout=config.delai,
                                              context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(config.hote, config.port, timeout=config.delai)
    try:
        smtp.ehlo()
        if config.securite == "starttls":
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if config.utilisateur:
            smtp.login(config.utilisateur, config.mot_de_passe or "")
    except BaseException:
        smtp.close()
        raise
    return smtp


def destinataires_de(msg: EmailMessage) -> list[str]:
    return [a.strip() for a in str(msg.get("To", "")).split(",") if a.strip()]


def envoyer(config: ConfigSMTP, messages: list[EmailMessage]) -> list[Envoi]:
    """Envoie les messages par une connexion au serveur (rouverte si elle tombe) ; rend un `Envoi` par message, dans
    l'ordre. Ne lève pas pour un refus ou un serveur injoignable : chaque adresse refusée a sa raison."""
    envois: list[Envoi] = []
    smtp: smtplib.SMTP | None = None
    panne: str | None = None
    try:
        for msg in messages:
            adresses = destinataires_de(msg)
            envoi = Envoi()
            envois.append(envoi)
            if smtp is None and panne is None:
                try:
                    smtp = _ouvrir(config)
                except (OSError, smtplib.SMTPException) as exc:
                    panne = _raison_connexion(config, exc)
            if panne is not None:
                envoi.refuses = {a: f"non envoyé : {panne}" for a in adresses}
                continue
            try:
                refuses = smtp.send_message(msg, to_addrs=adresses)
            except smtplib.SMTPRecipientsRefused as exc:
                envoi.refuses = {a: "adresse refusée par le serveur (" + _texte_serveur(*exc.recipients[a]) + ")"
                                 if a in exc.recipients else "adresse refusée par le serveur" for a in adresses}
                continue
            except smtplib.SMTPSenderRefused as exc:
                raison = (f"l'expéditeur {config.expediteur} est refusé par le serveur "
                          f"({_texte_serveur(exc.smtp_code, exc.smtp_error)}) : vérifiez PERR_SMTP_EXPEDITEUR")
                envoi.refuses = {a: f"non envoyé : {raison}" for a in adresses}
                continue
            except smtplib.SMTPDataError as exc:
                raison = f"message refusé par le serveur ({_texte_serveur(exc.smtp_code, exc.smtp_error)})"
                envoi.refuses = {a: f"non envoyé : {raison}" for a in adresses}
                continue
            except (OSError, smtplib.SMTPException) as exc:
                # La connexion est tombée pendant ce message : il n'est pas compté comme envoyé ; la suivante est
                # rouverte pour les messages qui restent.
                envoi.refuses = {a: f"non envoyé : {_raison_connexion(config, exc)}" for a in adresses}
                try:
                    smtp.close()
                finally:
                    smtp = None
                continue
            envoi.refuses = {a: "adresse refusée par le serveur (" + _texte_serveur(*r) + ")"
                             for a, r in (refuses or {}).items()}
            envoi.acceptes = [a for a in adresses if a not in envoi.refuses]
    finally:
        if smtp is not None:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()
    return envois
