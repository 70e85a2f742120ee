"""Les protocoles de démonstration (Troyes Champagne Métropole, Blois) et leurs valeurs fictives, déterministes.

Les référentiels viennent des documents réels (data/demo/*/, format de docs/referentiel.md). Les valeurs 2019–2022 sont
inventées : chaque page, export et rapport qui les montre le dit (champ `demonstration` du protocole).
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import random
from pathlib import Path

import pandas as pd

from perr_metrics.stockage.magasin import Store
from perr_metrics.acces.comptes import creer_comptes_demo
from perr_metrics.acces.droits import operation
from perr_metrics.depots.depot import enregistrer_depot
from perr_metrics.referentiel.classeur import importer_referentiel

DOSSIER_DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
PROTOCOLES_DEMO = ("troyes", "blois")
UTILISATEUR_DEMO = "démonstration"

UNITES_CONTINUES = {"%", "€", "jours", "heures", "ETP", "mois", "ans"}


def _graine(*morceaux: str) -> int:
    return int(hashlib.sha256("|".join(morceaux).encode()).hexdigest()[:16], 16)


@operation("administrer_referentiel")
def charger_demo(store: Store, dossier: Path = DOSSIER_DEMO, progres=None) -> list[str]:
    """Importe les protocoles de démonstration absents de la base et génère leurs valeurs. Renvoie leurs codes.

    `progres(texte, part)`, s'il est donné, est appelé avant chaque étape (part de 0 à 1) : le tableau de bord en fait
    la barre de progression du premier démarrage."""
    codes = []
    etapes = 3 * len(PROTOCOLES_DEMO) + 1
    fait = 0

    def etape(texte: str) -> None:
        nonlocal fait
        if progres is not None:
            progres(texte, fait / etapes)
        fait += 1

    for nom in PROTOCOLES_DEMO:
        etape(f"Import du référentiel de démonstration « {nom.capitalize()} »…")
        resultat = importer_referentiel(store, dossier / nom)
        codes.append(resultat.protocole)
        deja = store.lire(lambda con: con.execute("SELECT count(*) FROM valeur WHERE protocole = ?",
                                                  [resultat.protocole]).fetchone()[0])
        etape(f"Valeurs fictives des indicateurs de {resultat.protocole}…")
        if not deja:
            generer_valeurs(store, resultat.protocole)
        etape(f"États fictifs des engagements de {resultat.protocole}…")
        if not deja:
            generer_etats(store, resultat.protocole)
    etape("Comptes de démonstration…")
    creer_comptes_demo(store)
    if progres is not None:
        progres("Démonstration prête.", 1.0)
    return codes


COMMENTAIRES_DEMO = {
    "en cours": "Action engagée ; premier bilan au prochain comité technique (démonstration).",
    "réalisé": "Action réalisée ; bilan présenté au COPIL (démonstration).",
    "reporté": "Reporté faute de financement cette année ; nouvelle échéance à fixer (démonstration).",
    "abandonné": "Abandonné : dispositif national supprimé (démonstration).",
    "non démarré": None,
}


@operation("administrer_referentiel")
def generer_etats(store: Store, code: str) -> int:
    """L'état d'avancement fictif de chaque engagement, avec son historique (un à trois états par engagement).

    Chaque engagement suit un parcours tiré d'une graine fixe : non démarré → en cours → réalisé, ou un report, ou un
    abandon ; un engagement sur dix environ reste sans état renseigné. Renvoie le nombre d'états écrits.
    """
    debut, fin, engagements = store.lire(lambda con: (
        *con.execute("SELECT annee_debut, annee_fin FROM protocole WHERE code = ?", [code]).fetchone(),
        [r[0] for r in con.execute("SELECT code FROM engagement WHERE protocole = ? ORDER BY ordre",
                                   [code]).fetchall()]))
    parcours = [["en cours", "réalisé"], ["en cours"], ["non démarré", "en cours"], ["en cours", "reporté"],
                ["non démarré"], ["en cours", "abandonné"], ["réalisé"], []]
    poids = [22, 30, 12, 8, 6, 3, 9, 10]
    lignes = []
    for eng in engagements:
        rng = random.Random(_graine(code, "etat", eng))
        etapes = rng.choices(parcours, weights=poids)[0]
        jour = dt.date(debut, 3, 1) + dt.timedelta(days=rng.randint(0, 240))
        for etat in etapes:
            lignes.append(dict(protocole=code, engagement=eng, etat=etat, date_etat=jour,
                               commentaire=COMMENTAIRES_DEMO[etat], auteur=UTILISATEUR_DEMO,
                               saisi_le=dt.datetime.combine(jour, dt.time(10, 0))))
            jour = min(jour + dt.timedelta(days=rng.randint(150, 500)), dt.date(fin, 12, 15))
    if lignes:
        from perr_metrics.referentiel.classeur import inserer_df
        store.ecrire(lambda con: inserer_df(con, "etat_engagement", pd.DataFrame(lignes)))
    return len(lignes)


# Ce qu'un partenaire écrit à côté d'une valeur qui marque le pas (fictif, comme les valeurs) : le rapport annuel le cite
# pour dire pourquoi un indicateur est en retard.
RAISONS_DEMO = (
    "Poste de coordinateur vacant pendant six mois ; recrutement finalisé en fin d'année (démonstration).",
    "Action décalée au second semestre faute de locaux disponibles dans le quartier (démonstration).",
    "Changement de logiciel de suivi : une partie de l'activité n'a pas pu être comptée (démonstration).",
    "Financement notifié tardivement ; l'action n'a démarré qu'en septembre (démonstration).",
    "Public difficile à mobiliser malgré les actions d'aller-vers ; nouvelle méthode à l'étude (démonstration).",
)


def _periodes(annee: int, periodicite: str) -> list[tuple[str, float]]:
    """Les périodes d'une année et la fraction d'année écoulée à leur fin."""
    if periodicite == "semestrielle":
        return [(f"{annee}-S1", annee - 0.5), (f"{annee}-S2", float(annee))]
    return [(str(annee), float(annee))]


def _arrondir(v: float, unite: str) -> float:
    if unite == "%":
        return round(min(max(v, 0.0), 100.0), 1)
    if unite in UNITES_CONTINUES:
        return round(max(v, 0.0), 1)
    return float(max(round(v), 0))


@operation("administrer_referentiel")
def generer_valeurs(store: Store, code: str) -> int:
    """Valeurs fictives de chaque indicateur, pour chaque périmètre qui a une référence et chaque période du protocole.

    Chaque (indicateur, périmètre) suit un profil tiré d'une graine fixe (en avance, dans les temps, en retard, à
    l'arrêt) ; quelques valeurs manquent, un signataire n'a pas envoyé la dernière année, et un dépôt est corrigé par un
    second : de quoi montrer tous les statuts, la complétude et l'historique. Renvoie le nombre de valeurs écrites.
    """
    def lire(con):
        p = con.execute("SELECT annee_debut, annee_fin FROM protocole WHERE code = ?", [code]).fetchone()
        ind = con.execute("SELECT code, unite, periodicite, agregation, numerateur, denominateur, signataire "
                          "FROM indicateur WHERE protocole = ? ORDER BY ordre", [code]).df()
        ref = con.execute("SELECT indicateur, perimetre, annee, valeur FROM reference WHERE protocole = ?", [code]).df()
        cib = con.execute("SELECT indicateur, perimetre, arg_max(annee, annee) AS annee, arg_max(valeur, annee) AS valeur "
                          "FROM cible WHERE protocole = ? GROUP BY ALL", [code]).df()
        return p, ind, ref, cib

    (debut, fin), ind, ref, cib = store.lire(lire)
    cibles = {(r.indicateur, r.perimetre): (int(r.annee), float(r.valeur)) for r in cib.itertuples()}
    refs = {(r.indicateur, r.perimetre): (int(r.annee), float(r.valeur)) for r in ref.itertuples()}
    signataires = sorted(set(ind["signataire"]))
    # Un signataire sur quatre environ n'a pas encore envoyé la dernière année.
    retardataires = {s for s in signataires if _graine(code, "retard", s) % 4 == 0} or {signataires[0]}

    lignes: list[dict] = []
    generees: dict[tuple[str, str, str], float] = {}
    composes = ind[(ind["agregation"] == "taux") & ind["numerateur"].notna() & ind["denominateur"].notna()]
    simples = ind.drop(composes.index)
    for i in simples.itertuples():
        for (indic, per), (annee_ref, base) in refs.items():
            if indic != i.code:
                continue
            annee_cible, cible = cibles.get((indic, per), (fin, base))
            rng = random.Random(_graine(code, indic, per))
            profil = rng.choices([1.15, 0.95, 0.55, 0.15], weights=[2, 4, 3, 1])[0]
            ecart = cible - base
            for annee in range(debut, fin + 1):
                for periode, instant in _periodes(annee, i.periodicite):
                    fraction = min(max((instant - annee_ref) / max(annee_cible - annee_ref, 1), 0.0), 1.2)
                    bruit = rng.gauss(0, 0.04) * (abs(ecart) or abs(base) or 1)
                    v = _arrondir(base + ecart * fraction * profil + bruit, i.unite)
                    generees[(indic, per, periode)] = v
                    # Un partenaire en retard dit pourquoi, une fois sur trois environ.
                    raison = (RAISONS_DEMO[_graine(code, "raison", indic, per, periode) % len(RAISONS_DEMO)]
                              if profil < 0.9 and annee > debut
                              and _graine(code, "dit", indic, per, periode) % 3 == 0 else None)
                    lignes.append(dict(indicateur=indic, perimetre=per, periode=periode, annee=annee, valeur=v,
                                       signataire=i.signataire, commentaire=raison))
    for i in composes.itertuples():
        for (indic, per, periode), num in list(generees.items()):
            if indic != i.numerateur:
                continue
            den = generees.get((i.denominateur, per, periode))
            if den:
                lignes.append(dict(indicateur=i.code, perimetre=per, periode=periode, annee=int(periode[:4]),
                                   valeur=round(100 * num / den, 1), signataire=i.signataire, commentaire=None))

    df = pd.DataFrame(lignes)
    if df.empty:
        return 0
    # Quelques trous, et la dernière année absente pour les retardataires.
    garde = [
        not (r.annee == fin and r.signataire in retardataires)
        and _graine(code, "trou", r.indicateur, r.perimetre, r.periode) % 25 != 0
        for r in df.itertuples()
    ]
    df = df[garde]

    def ecrire(con):
        n = 0
        premier = True
        for (signataire, annee), groupe in df.groupby(["signataire", "annee"], sort=True):
            rng = random.Random(_graine(code, "depot", signataire, str(annee)))
            quand = dt.datetime(annee + 1, rng.randint(1, 3), rng.randint(1, 28), rng.randint(8, 17), rng.randint(0, 59))
            valeurs = groupe[["indicateur", "perimetre", "periode", "valeur", "commentaire"]].reset_index(drop=True)
            enregistrer_depot(con, protocole=code, signataire=signataire, periode=str(annee),
                              utilisateur=UTILISATEUR_DEMO, fichier_nom=f"demo-{signataire}-{annee}.csv",
                              contenu=_csv(valeurs), valeurs=valeurs, depose_le=quand)
            n += len(valeurs)
            if premier and len(valeurs) >= 4:
                # Un dépôt corrigé un mois plus tard : deux valeurs changent, l'historique garde les deux.
                premier = False
                corrige = valeurs.head(2).copy()
                corrige["valeur"] = corrige["valeur"] + 1
                corrige["commentaire"] = "Correction après vérification (démonstration)"
                enregistrer_depot(con, protocole=code, signataire=signataire, periode=str(annee),
                                  utilisateur=UTILISATEUR_DEMO, fichier_nom=f"demo-{signataire}-{annee}-corrige.csv",
                                  contenu=_csv(corrige), valeurs=corrige, depose_le=quand + dt.timedelta(days=30))
                n += len(corrige)
        return n

    return store.ecrire(ecrire)


def _csv(valeurs: pd.DataFrame) -> bytes:
    flux = io.StringIO()
    w = csv.writer(flux, delimiter=";")
    w.writerow(["indicateur", "perimetre", "periode", "valeur", "commentaire"])
    for r in valeurs.itertuples():
        commentaire = getattr(r, "commentaire", "") or ""
        w.writerow([r.indicateur, r.perimetre, r.periode, f"{r.valeur:g}".replace(".", ","), commentaire])
    return flux.getvalue().encode("utf-8")
