"""Les échéances de dépôt : la date limite à laquelle les partenaires envoient les valeurs d'une période.

Elle se fixe, protocole par protocole, dans la feuille facultative « Échéances » du classeur du référentiel (une ligne par
période : `2022`, `2022-S1` ; docs/referentiel.md). Sans ligne pour une période, la **règle par défaut** s'applique :

- une année N (et son second semestre, N-S2) : le **31 janvier de l'année N + 1** ;
- le premier semestre N-S1 : le **31 juillet de l'année N**.

L'échéance se montre partout où l'on choisit une période de dépôt (pages « Déposer » et « Suivi des dépôts », ligne
de commande `completude` et `relances`), dans les instructions du modèle de dépôt et dans chaque relance.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import duckdb

from perr_metrics.acces.droits import operation
from perr_metrics.commun.formats import format_date, format_nombre
from perr_metrics.stockage.magasin import Store

RE_PERIODE = re.compile(r"^(\d{4})(?:-S([12]))?$")
REFERENTIEL, PAR_DEFAUT = "référentiel", "règle par défaut"
REGLE = ("le 31 janvier de l'année suivante (le 31 juillet de l'année pour un premier semestre), sauf échéance fixée "
         "dans la feuille « Échéances » du référentiel")


def echeance_par_defaut(periode: str) -> dt.date:
    """`2022` → 31 janvier 2023 ; `2022-S1` → 31 juillet 2022 ; `2022-S2` → 31 janvier 2023."""
    m = RE_PERIODE.match(str(periode))
    if not m:
        raise ValueError(f"Période illisible : « {periode} » (attendu 2021 ou 2021-S1).")
    annee = int(m.group(1))
    if m.group(2) == "1":
        return dt.date(annee, 7, 31)
    return dt.date(annee + 1, 1, 31)


@dataclass(frozen=True)
class Echeance:
    periode: str
    date: dt.date
    source: str          # « référentiel » ou « règle par défaut »

    @property
    def texte(self) -> str:
        """`31 janvier 2023`."""
        return format_date(self.date)

    def jours_restants(self, aujourdhui: dt.date | None = None) -> int:
        return (self.date - (aujourdhui or dt.date.today())).days

    def phrase(self, aujourdhui: dt.date | None = None) -> str:
        """`Échéance : 31 janvier 2023 (dépassée de 12 jours)` — pour une page, un courriel, la ligne de commande."""
        n = self.jours_restants(aujourdhui)
        if n > 1:
            quand = f"dans {format_nombre(n)} jours"
        elif n == 1:
            quand = "demain"
        elif n == 0:
            quand = "aujourd'hui"
        else:
            quand = f"dépassée de {format_nombre(-n)} jour{'s' if n < -1 else ''}"
        origine = "" if self.source == REFERENTIEL else ", règle par défaut"
        return f"Échéance de dépôt pour {self.periode} : {self.texte} ({quand}{origine})"

    def as_dict(self) -> dict:
        return {"periode": self.periode, "date_limite": self.date.isoformat(), "source": self.source}


def echeance_de(con: duckdb.DuckDBPyConnection, protocole: str, periode: str) -> Echeance:
    """L'échéance lue sur une connexion ouverte (pour les opérations du cœur qui l'emploient)."""
    par_defaut = echeance_par_defaut(periode)
    ligne = con.execute("SELECT date_limite FROM echeance WHERE protocole = ? AND periode = ?",
                        [protocole, str(periode)]).fetchone()
    if ligne is None:
        return Echeance(str(periode), par_defaut, PAR_DEFAUT)
    d = ligne[0]
    return Echeance(str(periode), d.date() if isinstance(d, dt.datetime) else d, REFERENTIEL)


@operation("consulter_depots")
def echeance(store: Store, protocole: str, periode: str) -> Echeance:
    """La date limite de dépôt d'une période : celle du référentiel, sinon la règle par défaut."""
    return store.lire(lambda con: echeance_de(con, protocole, str(periode)))
