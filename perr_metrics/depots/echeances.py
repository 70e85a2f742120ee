"""Les échéances de dépôt : la date limite à laquelle les partenaires envoient les valeurs d'une période.

Un seul mécanisme, partout (pages « Accueil », « Déposer » et « Suivi des dépôts », espace du partenaire, ligne de
commande `completude` et `relances`, instructions du modèle de dépôt, relances). L'échéance d'une période est, dans
cet ordre (docs/referentiel.md, « Échéances de dépôt ») :

1. la ligne de cette période dans la feuille facultative « Échéances » du référentiel (une date par période : `2022`,
   `2022-S1`) ;
2. sinon l'« Échéance des dépôts » de la feuille Protocole (`JJ/MM`) : ce jour de l'année qui suit celle de la période
   (`31/03` : les valeurs de 2022, et de 2022-S1 ou 2022-S2, avant le 31 mars 2023) ;
3. sinon la **règle par défaut** : le **31 janvier de l'année N + 1** pour une année N et son second semestre N-S2,
   le **31 juillet de l'année N** pour le premier semestre N-S1.
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
RE_JOUR_MOIS = re.compile(r"^(\d{1,2})/(\d{1,2})$")
# D'où vient une échéance : la feuille « Échéances », l'« Échéance des dépôts » du protocole, la règle par défaut.
REFERENTIEL, PROTOCOLE, PAR_DEFAUT = "référentiel", "protocole", "règle par défaut"
REGLE = ("le 31 janvier de l'année suivante (le 31 juillet de l'année pour un premier semestre), sauf échéance fixée "
         "dans la feuille « Échéances » du référentiel ou « Échéance des dépôts » du protocole")


def echeance_par_defaut(periode: str) -> dt.date:
    """`2022` → 31 janvier 2023 ; `2022-S1` → 31 juillet 2022 ; `2022-S2` → 31 janvier 2023."""
    m = RE_PERIODE.match(str(periode))
    if not m:
        raise ValueError(f"Période illisible : « {periode} » (attendu 2021 ou 2021-S1).")
    annee = int(m.group(1))
    if m.group(2) == "1":
        return dt.date(annee, 7, 31)
    return dt.date(annee + 1, 1, 31)


def echeance_du_protocole(jour_mois: str | None, periode: str) -> dt.date | None:
    """L'« Échéance des dépôts » du protocole (`JJ/MM`) appliquée à une période : « 31/03 » et 2022 (ou 2022-S1) →
    31 mars 2023 ; « 29/02 » une année non bissextile → 28 février. None sans échéance du protocole."""
    m = RE_JOUR_MOIS.match(str(jour_mois or "").strip())
    p = RE_PERIODE.match(str(periode))
    if not m or not p:
        return None
    annee, mois, jour = int(p.group(1)) + 1, int(m.group(2)), int(m.group(1))
    try:
        return dt.date(annee, mois, jour)
    except ValueError:
        if (mois, jour) == (2, 29):
            return dt.date(annee, 2, 28)
        raise


@dataclass(frozen=True)
class Echeance:
    periode: str
    date: dt.date
    source: str          # REFERENTIEL (feuille « Échéances »), PROTOCOLE (« Échéance des dépôts ») ou PAR_DEFAUT

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
        origine = ", règle par défaut" if self.source == PAR_DEFAUT else ""
        return f"Échéance de dépôt pour {self.periode} : {self.texte} ({quand}{origine})"

    def as_dict(self) -> dict:
        return {"periode": self.periode, "date_limite": self.date.isoformat(), "source": self.source}


def echeance_de(con: duckdb.DuckDBPyConnection, protocole: str, periode: str) -> Echeance:
    """L'échéance lue sur une connexion ouverte (pour les opérations du cœur qui l'emploient) : la feuille
    « Échéances », sinon l'« Échéance des dépôts » du protocole, sinon la règle par défaut."""
    par_defaut = echeance_par_defaut(periode)
    ligne = con.execute("SELECT date_limite FROM echeance WHERE protocole = ? AND periode = ?",
                        [protocole, str(periode)]).fetchone()
    if ligne is not None:
        d = ligne[0]
        return Echeance(str(periode), d.date() if isinstance(d, dt.datetime) else d, REFERENTIEL)
    jour_mois = con.execute("SELECT echeance_depots FROM protocole WHERE code = ?", [protocole]).fetchone()
    du_protocole = echeance_du_protocole(jour_mois[0] if jour_mois else None, str(periode))
    if du_protocole is not None:
        return Echeance(str(periode), du_protocole, PROTOCOLE)
    return Echeance(str(periode), par_defaut, PAR_DEFAUT)


@operation("consulter_depots")
def echeance(store: Store, protocole: str, periode: str) -> Echeance:
    """La date limite de dépôt d'une période : celle de la feuille « Échéances », sinon l'« Échéance des dépôts » du
    protocole, sinon la règle par défaut."""
    return store.lire(lambda con: echeance_de(con, protocole, str(periode)))
