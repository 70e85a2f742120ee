"""Un vrai serveur SMTP local pour les tests (aiosmtpd, dans un fil) : il reçoit ce que l'application envoie par
`smtplib` et le garde pour qu'on le relise (destinataires, objet, corps, pièces jointes). Il peut refuser des adresses
choisies (550), comme un serveur réel refuse une boîte inconnue."""
from __future__ import annotations

import socket
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller


def port_libre() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Recu:
    expediteur: str
    destinataires: list[str]
    message: EmailMessage

    @property
    def objet(self) -> str:
        return str(self.message["Subject"])

    @property
    def corps(self) -> str:
        return self.message.get_body(("plain",)).get_content()

    @property
    def pieces(self) -> dict[str, bytes]:
        return {p.get_filename(): p.get_content() for p in self.message.iter_attachments()}


@dataclass
class Boite:
    """Le gestionnaire du serveur : ce qu'il a reçu, les adresses qu'il refuse."""

    recus: list[Recu] = field(default_factory=list)
    refusees: set[str] = field(default_factory=set)
    verrou: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refusees:
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        msg = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        with self.verrou:
            self.recus.append(Recu(envelope.mail_from, list(envelope.rcpt_tos), msg))
        return "250 OK"

    def pour(self, adresse: str) -> list[Recu]:
        return [r for r in self.recus if adresse in r.destinataires]


@dataclass
class Serveur:
    boite: Boite
    port: int
    hote: str = "127.0.0.1"

    def environ(self, expediteur: str = "coordination@demo.example.org") -> dict[str, str]:
        """Les variables PERR_SMTP_… qui désignent ce serveur (sans chiffrement ni compte)."""
        return {"PERR_SMTP_HOTE": self.hote, "PERR_SMTP_PORT": str(self.port), "PERR_SMTP_SECURITE": "aucune",
                "PERR_SMTP_EXPEDITEUR": expediteur}


@contextmanager
def serveur_smtp():
    boite = Boite()
    port = port_libre()
    controleur = Controller(boite, hostname="127.0.0.1", port=port)
    controleur.start()
    try:
        yield Serveur(boite, port)
    finally:
        controleur.stop()
