"""L'espace d'un partenaire : ce qui est attendu de lui et pour quand, ses dépôts à corriger avec le commentaire de la
coordination, ses dépôts en attente de revue, et ses indicateurs face à leurs cibles (la page d'accueil d'un
contributeur). Un contributeur n'y lit que son signataire et ses services, sans le droit de consulter tout le pilotage :
l'opération vérifie ce rattachement, puis lit l'avancement de ses seuls indicateurs au nom de l'installation.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from perr_metrics.acces.droits import en_systeme, exiger_signataire, operation, signataires_couverts
from perr_metrics.depots import depot as depots
from perr_metrics.referentiel.requetes import ProtocoleInconnu
from perr_metrics.stockage.magasin import Store

from . import avancement


@dataclass
class EspacePartenaire:
    signataire: str
    nom: str
    periode: str
    echeance: dt.date | None          # la date avant laquelle les valeurs de la période sont attendues
    attendus: pd.DataFrame            # chaque valeur attendue : indicateur, libelle, unite, perimetre, periode, recu…
    a_corriger: pd.DataFrame          # ses dépôts « à corriger » pas encore suivis d'un nouveau dépôt (liste_depots)
    en_attente: pd.DataFrame          # ses dépôts pas encore revus (liste_depots)
    indicateurs: pd.DataFrame         # ses indicateurs par périmètre, face à leurs cibles (indicateurs_au_perimetre)

    @property
    def nb_attendus(self) -> int:
        return len(self.attendus)

    @property
    def nb_recus(self) -> int:
        return int(self.attendus["recu"].sum()) if len(self.attendus) else 0


def campagne(annee_debut: int, annee_fin: int, aujourd_hui: dt.date | None = None) -> str:
    """La période que les partenaires renseignent en ce moment : l'année écoulée, ramenée dans le protocole."""
    annee = (aujourd_hui or dt.date.today()).year - 1
    return str(min(max(annee, int(annee_debut)), int(annee_fin)))


def echeance_de(echeance: str | None, periode: str) -> dt.date | None:
    """« 31/03 » et 2022 → 31 mars 2023 ; « 31/03 » et 2022-S1 → 31 mars 2023 aussi (l'échéance est annuelle)."""
    if not echeance:
        return None
    jour, mois = (int(x) for x in str(echeance).split("/"))
    return dt.date(int(str(periode)[:4]) + 1, mois, jour)


@operation("consulter_depots")
def espace_partenaire(store: Store, protocole: str, signataire: str, periode: str | None = None) -> EspacePartenaire:
    """Ce qu'un partenaire (le signataire et ses services) doit savoir en arrivant, pour une période (par défaut, la
    campagne en cours : `campagne`)."""
    exiger_signataire(store, "consulter_depots", protocole, signataire)

    def lire(con):
        p = con.execute("SELECT annee_debut, annee_fin, echeance_depots FROM protocole WHERE code = ?",
                        [protocole]).fetchone()
        if p is None:
            raise ProtocoleInconnu(protocole)
        nom = con.execute("SELECT nom FROM signataire WHERE protocole = ? AND code = ?",
                          [protocole, signataire]).fetchone()
        couverts = signataires_couverts(con, protocole, signataire)
        ind = con.execute("SELECT code FROM indicateur WHERE protocole = ? AND list_contains(CAST(? AS VARCHAR[]), "
                          "signataire)", [protocole, sorted(couverts)]).fetchall()
        return p, (nom[0] if nom else signataire), couverts, [i[0] for i in ind]

    (debut, fin, echeance), nom, couverts, codes = store.lire(lire)
    periode = str(periode or campagne(debut, fin))
    comp = depots.completude(store, protocole, periode)
    attendus = comp.detail[comp.detail["signataire"].isin(couverts)].reset_index(drop=True)
    liste = depots.liste_depots(store, protocole)
    liste = liste[liste["signataire"].isin(couverts)].reset_index(drop=True)
    # Un dépôt « à corriger » l'est encore tant qu'aucun dépôt plus récent n'est venu pour la même période.
    suivis = [bool(((liste["id"] > r.id) & (liste["periode"] == r.periode)).any()) for r in liste.itertuples()]
    a_corriger = liste[(liste["statut"] == "à corriger") & ~pd.Series(suivis, dtype=bool)].reset_index(drop=True)
    en_attente = liste[liste["statut"] == "reçu"].reset_index(drop=True)
    if codes:
        ind = avancement.indicateurs_au_perimetre(en_systeme(store), protocole, periode, indicateurs=codes)
        ind = ind[ind["indicateur"].isin(codes)].reset_index(drop=True)
    else:
        ind = avancement.indicateurs_au_perimetre(en_systeme(store), protocole, periode).iloc[0:0]
    return EspacePartenaire(signataire, nom, periode, echeance_de(echeance, periode), attendus, a_corriger,
                            en_attente, ind)
