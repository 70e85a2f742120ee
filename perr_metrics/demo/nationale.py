"""Une base d'essai à l'échelle nationale (ou régionale), générée de façon déterministe et vite.

`python -m perr_metrics demo --echelle nationale [--db CHEMIN] [--graine N]` construit l'état d'une base en fin de contrats :
environ 1 600 QPV de la géographie 2024 (codes `QN` + département sur 3 caractères + 2 chiffres + `M` ou `I`), 435
protocoles (un par EPCI ou EPT, avec ses communes, ses quartiers, une arborescence de 2 à 4 niveaux, 20 à 60 engagements et
leurs porteurs, 10 à 20 signataires dont les services de l'État), 150 indicateurs chacun (niveaux QPV, commune, territoire ;
sommes, taux avec numérateur et dénominateur, non agrégeables ; annuels et quelques semestriels), références et cibles,
8 années (2024–2031) et environ 10 millions de valeurs déposées.

Tout est **fictif** : noms de communes, de quartiers et de territoires, valeurs. Les protocoles sont marqués
« démonstration » et leur description le dit. Les 10 millions de lignes viennent de ce que chaque partenaire dépose son
fichier pré-rempli complet plusieurs fois par an (un dépôt provisoire, un définitif, puis des mises à jour ; parfois un
dépôt que la coordination marque « à corriger ») : environ 2,2 millions de valeurs distinctes, 4,6 dépôts chacune en
moyenne. Le contenu de chaque dépôt est un court texte qui dit « dépôt généré » (pas de fichier d'origine).

Vitesse : les petites tables (protocoles, arbres, engagements) sont construites protocole par protocole ; tout ce qui est
proportionnel aux valeurs est calculé en colonnes numpy, une boucle par indicateur du catalogue (150), puis inséré d'un bloc
depuis des tables Arrow (chaînes en dictionnaire), dans une seule transaction.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd
import pyarrow as pa

from perr_metrics.stockage.magasin import Store
from perr_metrics.acces.droits import operation
from perr_metrics.referentiel.classeur import inserer_df

ANNEE_DEBUT, ANNEE_FIN = 2024, 2031
ANNEE_REFERENCE, ANNEE_CIBLE, ANNEE_CIBLE_INTERMEDIAIRE = 2023, 2030, 2027
UTILISATEUR = "démonstration nationale"
GRAINE_PAR_DEFAUT = 2024


@dataclass(frozen=True)
class Echelle:
    nom: str
    nb_protocoles: int
    nb_qpv: int
    departements: tuple[str, ...] | None   # None : tous
    mises_a_jour: float                    # dépôts complets en plus du provisoire et du définitif, en moyenne


ECHELLES = {
    "nationale": Echelle("nationale", 435, 1600, None, 2.6),
    # Les Hauts-de-France, à peu près : de quoi tester vite (≈ 1 million de lignes).
    "regionale": Echelle("regionale", 40, 150, ("02", "59", "60", "62", "80"), 2.6),
    # Pour les tests unitaires seulement.
    "essai": Echelle("essai", 6, 18, ("10", "41"), 1.0),
}


# --------------------------------------------------------------------------------------------------------------------
# Vocabulaires : départements, noms fictifs, rôles des signataires, catalogue des 150 indicateurs
# --------------------------------------------------------------------------------------------------------------------

DEPARTEMENTS = [
    ("01", "Ain"), ("02", "Aisne"), ("03", "Allier"), ("04", "Alpes-de-Haute-Provence"), ("05", "Hautes-Alpes"),
    ("06", "Alpes-Maritimes"), ("07", "Ardèche"), ("08", "Ardennes"), ("09", "Ariège"), ("10", "Aube"), ("11", "Aude"),
    ("12", "Aveyron"), ("13", "Bouches-du-Rhône"), ("14", "Calvados"), ("15", "Cantal"), ("16", "Charente"),
    ("17", "Charente-Maritime"), ("18", "Cher"), ("19", "Corrèze"), ("2A", "Corse-du-Sud"), ("2B", "Haute-Corse"),
    ("21", "Côte-d'Or"), ("22", "Côtes-d'Armor"), ("23", "Creuse"), ("24", "Dordogne"), ("25", "Doubs"),
    ("26", "Drôme"), ("27", "Eure"), ("28", "Eure-et-Loir"), ("29", "Finistère"), ("30", "Gard"),
    ("31", "Haute-Garonne"), ("32", "Gers"), ("33", "Gironde"), ("34", "Hérault"), ("35", "Ille-et-Vilaine"),
    ("36", "Indre"), ("37", "Indre-et-Loire"), ("38", "Isère"), ("39", "Jura"), ("40", "Landes"), ("41", "Loir-et-Cher"),
    ("42", "Loire"), ("43", "Haute-Loire"), ("44", "Loire-Atlantique"), ("45", "Loiret"), ("46", "Lot"),
    ("47", "Lot-et-Garonne"), ("48", "Lozère"), ("49", "Maine-et-Loire"), ("50", "Manche"), ("51", "Marne"),
    ("52", "Haute-Marne"), ("53", "Mayenne"), ("54", "Meurthe-et-Moselle"), ("55", "Meuse"), ("56", "Morbihan"),
    ("57", "Moselle"), ("58", "Nièvre"), ("59", "Nord"), ("60", "Oise"), ("61", "Orne"), ("62", "Pas-de-Calais"),
    ("63", "Puy-de-Dôme"), ("64", "Pyrénées-Atlantiques"), ("65", "Hautes-Pyrénées"), ("66", "Pyrénées-Orientales"),
    ("67", "Bas-Rhin"), ("68", "Haut-Rhin"), ("69", "Rhône"), ("70", "Haute-Saône"), ("71", "Saône-et-Loire"),
    ("72", "Sarthe"), ("73", "Savoie"), ("74", "Haute-Savoie"), ("75", "Paris"), ("76", "Seine-Maritime"),
    ("77", "Seine-et-Marne"), ("78", "Yvelines"), ("79", "Deux-Sèvres"), ("80", "Somme"), ("81", "Tarn"),
    ("82", "Tarn-et-Garonne"), ("83", "Var"), ("84", "Vaucluse"), ("85", "Vendée"), ("86", "Vienne"),
    ("87", "Haute-Vienne"), ("88", "Vosges"), ("89", "Yonne"), ("90", "Territoire de Belfort"), ("91", "Essonne"),
    ("92", "Hauts-de-Seine"), ("93", "Seine-Saint-Denis"), ("94", "Val-de-Marne"), ("95", "Val-d'Oise"),
    ("971", "Guadeloupe"), ("972", "Martinique"), ("973", "Guyane"), ("974", "La Réunion"), ("976", "Mayotte"),
]
# Les départements où la politique de la ville pèse le plus (plus de quartiers, plus de contrats).
GRANDS = {"13": 4, "59": 5, "62": 3.5, "69": 3, "93": 4.5, "974": 3, "91": 2.5, "94": 2.5, "95": 2.5, "75": 2,
          "92": 2, "76": 2, "67": 2, "57": 2, "31": 2, "33": 2, "34": 2, "06": 2, "38": 1.8, "77": 2, "78": 2,
          "44": 1.6, "60": 1.8, "02": 1.6, "80": 1.5, "30": 1.6, "83": 1.6, "84": 1.5, "971": 1.6, "972": 1.4,
          "973": 1.4, "976": 1.6, "42": 1.5, "68": 1.5, "54": 1.5, "25": 1.3, "21": 1.2, "35": 1.2, "37": 1.2}
EPT = {"75", "92", "93", "94"}   # la métropole du Grand Paris : des établissements publics territoriaux

_DEBUTS = ["Beau", "Mont", "Val", "Roche", "Font", "Bel", "Cham", "Mar", "Ville", "Clair", "Haut", "Grand", "Bois",
           "Pont", "Mou", "Vern", "Sau", "Bri", "Lan", "Gué", "Ros", "Cour", "Vau", "Mes", "Ter", "Pra", "Lor", "Cal"]
_FINS = ["mont", "ville", "court", "lieu", "fort", "bourg", "champ", "val", "mesnil", "nay", "zac", "ignac", "ac",
         "ières", "oux", "ans", "erre", "ange", "eil", "ois", "ard", "ine", "elle", "y", "oles", "aine"]
_SUFFIXES = ["", "", "", "", "-sur-Loire", "-sur-Mer", "-la-Ville", "-les-Bains", "-le-Grand", "-en-Plaine",
             "-sur-Seine", "-la-Rivière", "-Saint-Pierre", "-lès-Forges"]
_QUARTIERS = ["Les Tilleuls", "Les Châtaigniers", "Centre-ville", "La Grande Borne", "Les Hauts", "Le Plateau",
              "Les Bruyères", "La Gare", "Les Peupliers", "Bellevue", "Le Val Fleuri", "Les Acacias", "La Source",
              "Les Glycines", "Le Moulin", "La Croix Blanche", "Les Érables", "Les Cèdres", "Le Parc", "Les Noës",
              "Beaulieu", "La Fontaine", "Les Sablons", "Le Canal", "Les Aubépines", "Saint-Exupéry", "Jean Moulin",
              "Pablo Picasso", "Les Marronniers", "La Roseraie"]

# Rôles : code du signataire dans chaque protocole, nom, catégorie, rattachement. Les onze premiers déclarent des
# indicateurs et sont présents partout ; les autres s'ajoutent selon le protocole.
ROLES = [
    ("ETAT", "État — préfecture", "État", None),
    ("ETAT-DDETS", "État — Direction départementale de l'emploi, du travail et des solidarités", "Service de l'État",
     "ETAT"),
    ("ETAT-DSDEN", "État — Direction des services départementaux de l'Éducation nationale", "Service de l'État", "ETAT"),
    ("ETAT-DDSP", "État — Police nationale (sécurité publique)", "Service de l'État", "ETAT"),
    ("EPCI", None, "EPCI", None),                       # nom et catégorie : ceux du territoire
    ("DEP", None, "Département", None),
    ("CAF", None, "CAF", None),
    ("CPAM", None, "CPAM", None),
    ("ARS", "Agence régionale de santé", "ARS", None),
    ("FT", "France Travail", "Opérateur public", None),
    ("BS1", None, "Bailleur social", None),
]
ROLES_FACULTATIFS = [
    ("ETAT-DDT", "État — Direction départementale des territoires", "Service de l'État", "ETAT"),
    ("REG", "Région", "Région", None),
    ("BS2", None, "Bailleur social", None),
    ("BS3", None, "Bailleur social", None),
    ("CCI", "Chambre de commerce et d'industrie", "Chambre consulaire", None),
    ("CMA", "Chambre de métiers et de l'artisanat", "Chambre consulaire", None),
    ("CC", "Conseil citoyen", "Conseil citoyen", None),
    ("ASSO", "Centre social (association)", "Association", None),
]
_BAILLEURS = ["Habitat {d}", "{d} Habitat", "Logis {d}", "Office public de l'habitat du {d}", "Vilogia", "CDC Habitat",
              "Action Logement Services", "Immobilière 3F", "Domofrance", "Partenord Habitat"]

AXES = [
    "Emploi, insertion et développement économique",
    "Éducation, jeunesse et réussite éducative",
    "Cadre de vie, logement et renouvellement urbain",
    "Santé, accès aux droits et solidarités",
    "Tranquillité publique, prévention et citoyenneté",
]
# Pour 3 ou 4 axes, certains thèmes se regroupent : thème → axe racine.
REGROUPEMENTS = {
    5: ([0, 1, 2, 3, 4], AXES),
    4: ([0, 1, 2, 3, 3], AXES[:3] + ["Santé, solidarités et tranquillité publique"]),
    3: ([0, 1, 2, 1, 2], ["Emploi et développement économique", "Éducation, santé et solidarités",
                          "Cadre de vie, tranquillité et renouvellement urbain"]),
}
CADRES_AXE = [["MOB-EMANCIPATION", "FDR-EMPLOI", "DIJON-1"], ["MOB-EMANCIPATION", "FDR-EDUCATION", "DIJON-4"],
              ["MOB-DROITS", "FDR-LOGEMENT", "DIJON-2"], ["MOB-DROITS", "DIJON-5"],
              ["MOB-REPUBLIQUE", "FDR-SECURITE", "FDR-LIEN-SOCIAL"]]
CADRES_ENGAGEMENT = [["PAQTE-RECRUTER", "PAQTE-FORMER", "FDR-EMPLOI"], ["FDR-EDUCATION", "PAQTE-SENSIBILISER"],
                     ["FDR-LOGEMENT"], ["MOB-DROITS"], ["FDR-SECURITE", "FDR-LIEN-SOCIAL"]]
THEMATIQUES = [
    ["Accès à l'emploi", "Insertion des jeunes", "Développement économique", "Formation et qualification",
     "Clauses d'insertion et achats"],
    ["Réussite scolaire", "Petite enfance", "Jeunesse et loisirs", "Parentalité", "Orientation et décrochage"],
    ["Habitat et peuplement", "Renouvellement urbain", "Gestion urbaine de proximité", "Mobilités",
     "Transition écologique"],
    ["Accès aux soins", "Prévention et promotion de la santé", "Accès aux droits", "Lutte contre la pauvreté",
     "Familles monoparentales"],
    ["Prévention de la délinquance", "Tranquillité résidentielle", "Citoyenneté et participation",
     "Lutte contre les discriminations", "Médiation sociale"],
]
ACTIONS = [
    ["renforcer l'accompagnement des demandeurs d'emploi résidant en QPV", "développer l'alternance et l'apprentissage",
     "mobiliser les entreprises du territoire (PAQTE)", "soutenir la création d'entreprises dans les quartiers",
     "inscrire des clauses d'insertion dans les marchés publics", "déployer le contrat d'engagement jeune"],
    ["dédoubler les classes de grande section, CP et CE1", "développer les cités éducatives",
     "créer des places d'accueil du jeune enfant", "lutter contre le décrochage scolaire",
     "proposer des stages de 3e de qualité", "renforcer l'accompagnement à la scolarité"],
    ["réhabiliter les logements sociaux", "rééquilibrer les attributions de logements sociaux",
     "améliorer la gestion urbaine de proximité", "désenclaver les quartiers par les transports",
     "accompagner les ménages en impayés", "végétaliser les espaces publics"],
    ["favoriser l'installation de médecins", "développer les actions de prévention santé",
     "faciliter l'accès aux droits (France services)", "lutter contre le non-recours aux prestations",
     "soutenir les familles monoparentales", "déployer des médiateurs santé"],
    ["renforcer la présence policière de proximité", "lutter contre les trafics de stupéfiants",
     "soutenir les conseils citoyens", "financer la prévention spécialisée", "déployer des adultes-relais",
     "lutter contre les discriminations à l'embauche"],
]
NIVEAUX_ARBRE = ["Axe", "Thématique", "Objectif stratégique", "Objectif opérationnel"]
ETATS_ENGAGEMENT = ("non démarré", "en cours", "réalisé", "reporté", "abandonné")


@dataclass(frozen=True)
class Ind:
    """Un indicateur du catalogue national. `base` : ce sur quoi il se calcule (indicateur de comptage) et `ratio` ; sinon
    `ordre_grandeur` pour un périmètre de taille moyenne."""

    code: str
    libelle: str
    unite: str
    sens: str
    niveau: str
    agregation: str
    role: str
    theme: int
    source: str
    ordre_grandeur: float = 0.0
    base: str | None = None
    ratio: float = 0.0
    numerateur: str | None = None
    denominateur: str | None = None
    semestriel: bool = False


def _catalogue() -> list[Ind]:
    c: list[Ind] = []

    def somme(code, lib, niveau, role, theme, source, og=0.0, base=None, ratio=0.0, sens="hausse", unite="nombre",
              sem=False):
        c.append(Ind(code, lib, unite, sens, niveau, "somme", role, theme, source, og, base, ratio, semestriel=sem))

    def taux(code, lib, niveau, role, theme, source, num, den, sens, sem=False):
        c.append(Ind(code, lib, "%", sens, niveau, "taux", role, theme, source, numerateur=num, denominateur=den,
                     semestriel=sem))

    def na(code, lib, niveau, role, theme, source, og, unite, sens, sem=False):
        c.append(Ind(code, lib, unite, sens, niveau, "non agrégeable", role, theme, source, og, semestriel=sem))

    Q, C, T = "QPV", "Commune", "Territoire"
    # --- Quartiers : population (INSEE, déclarée par l'EPCI)
    somme("POP-TOT", "Population municipale", Q, "EPCI", 4, "INSEE", 3500)
    somme("POP-1564", "Population de 15 à 64 ans", Q, "EPCI", 0, "INSEE", base="POP-TOT", ratio=0.62)
    somme("POP-M25", "Population de moins de 25 ans", Q, "EPCI", 1, "INSEE", base="POP-TOT", ratio=0.38)
    somme("POP-0-2", "Enfants de moins de 3 ans", Q, "EPCI", 1, "INSEE", base="POP-TOT", ratio=0.045)
    somme("MENAGES", "Ménages", Q, "EPCI", 2, "INSEE", base="POP-TOT", ratio=0.41)
    somme("FAM-MONO", "Familles monoparentales", Q, "EPCI", 3, "INSEE", base="MENAGES", ratio=0.24, sens="baisse")
    taux("TX-FAM-MONO", "Part des familles monoparentales parmi les ménages", Q, "EPCI", 3, "INSEE", "FAM-MONO",
         "MENAGES", "baisse")
    # --- Quartiers : emploi (France Travail)
    somme("DEFM-A", "Demandeurs d'emploi de catégorie A", Q, "FT", 0, "France Travail", base="POP-1564", ratio=0.12,
          sens="baisse", sem=True)
    somme("DEFM-A-F", "Demandeuses d'emploi de catégorie A", Q, "FT", 0, "France Travail", base="POP-1564",
          ratio=0.055, sens="baisse", sem=True)
    somme("DEFM-A-J", "Demandeurs d'emploi de catégorie A de moins de 26 ans", Q, "FT", 0, "France Travail",
          base="POP-M25", ratio=0.05, sens="baisse", sem=True)
    somme("DEFM-A-S", "Demandeurs d'emploi de catégorie A de 50 ans et plus", Q, "FT", 0, "France Travail",
          base="POP-1564", ratio=0.025, sens="baisse", sem=True)
    somme("DEFM-ABC", "Demandeurs d'emploi de catégories A, B et C", Q, "FT", 0, "France Travail", base="POP-1564",
          ratio=0.19, sens="baisse")
    somme("DELD", "Demandeurs d'emploi de longue durée", Q, "FT", 0, "France Travail", base="DEFM-ABC", ratio=0.45,
          sens="baisse")
    somme("FORMATION", "Entrées en formation de demandeurs d'emploi", Q, "FT", 0, "France Travail", base="DEFM-ABC",
          ratio=0.12)
    somme("RETOUR-EMPLOI", "Sorties vers l'emploi durable", Q, "FT", 0, "France Travail", base="DEFM-ABC", ratio=0.2)
    somme("CEJ", "Jeunes en contrat d'engagement jeune", Q, "FT", 0, "France Travail", base="POP-M25", ratio=0.02)
    taux("TX-DEFM-A", "Part des demandeurs d'emploi de catégorie A parmi les 15-64 ans", Q, "FT", 0, "France Travail",
         "DEFM-A", "POP-1564", "baisse", sem=True)
    taux("TX-DEFM-A-F", "Part des demandeuses d'emploi de catégorie A parmi les 15-64 ans", Q, "FT", 0,
         "France Travail", "DEFM-A-F", "POP-1564", "baisse")
    taux("TX-DEFM-A-J", "Part des jeunes demandeurs d'emploi parmi les moins de 25 ans", Q, "FT", 0,
         "France Travail", "DEFM-A-J", "POP-M25", "baisse", sem=True)
    taux("TX-DEFM-A-S", "Part des demandeurs d'emploi de 50 ans et plus parmi les 15-64 ans", Q, "FT", 0,
         "France Travail", "DEFM-A-S", "POP-1564", "baisse")
    taux("TX-DELD", "Part des demandeurs d'emploi de longue durée", Q, "FT", 0, "France Travail", "DELD", "DEFM-ABC",
         "baisse")
    taux("TX-FORMATION", "Taux d'accès à la formation des demandeurs d'emploi", Q, "FT", 0, "France Travail",
         "FORMATION", "DEFM-ABC", "hausse")
    taux("TX-RETOUR-EMPLOI", "Taux de retour à l'emploi durable", Q, "FT", 0, "France Travail", "RETOUR-EMPLOI",
         "DEFM-ABC", "hausse")
    taux("TX-CEJ", "Part des moins de 25 ans en contrat d'engagement jeune", Q, "FT", 0, "France Travail", "CEJ",
         "POP-M25", "hausse")
    # --- Quartiers : insertion (DDETS)
    somme("APPRENTIS", "Apprentis résidant dans le quartier", Q, "ETAT-DDETS", 0, "DARES", base="POP-M25", ratio=0.03)
    somme("CONTRATS-AIDES", "Contrats aidés (PEC) signés", Q, "ETAT-DDETS", 0, "ASP", base="POP-1564", ratio=0.006)
    somme("IAE", "Salariés en insertion par l'activité économique", Q, "ETAT-DDETS", 0, "ASP", base="POP-1564",
          ratio=0.008)
    somme("EMPLOIS-FRANCS", "Emplois francs signés", Q, "ETAT-DDETS", 0, "France Travail", base="POP-1564",
          ratio=0.004)
    somme("ADULTES-RELAIS", "Postes d'adultes-relais", Q, "ETAT-DDETS", 4, "ANCT", 2, unite="ETP")
    taux("TX-APPRENTIS", "Part des moins de 25 ans en apprentissage", Q, "ETAT-DDETS", 0, "DARES", "APPRENTIS",
         "POP-M25", "hausse")
    # --- Quartiers : CAF
    somme("ALLOC", "Allocataires de la CAF", Q, "CAF", 3, "CAF", base="MENAGES", ratio=0.55)
    somme("ALLOC-RSA", "Allocataires du RSA", Q, "CAF", 3, "CAF", base="ALLOC", ratio=0.2, sens="baisse")
    somme("ALLOC-AAH", "Allocataires de l'AAH", Q, "CAF", 3, "CAF", base="ALLOC", ratio=0.07)
    somme("ALLOC-BAS-REV", "Allocataires à bas revenus", Q, "CAF", 3, "CAF", base="ALLOC", ratio=0.45, sens="baisse")
    somme("PLACES-EAJE", "Places en établissement d'accueil du jeune enfant", Q, "CAF", 1, "CAF", base="POP-0-2",
          ratio=0.22)
    somme("CLAS", "Enfants accompagnés à la scolarité (CLAS)", Q, "CAF", 1, "CAF", base="POP-M25", ratio=0.03)
    taux("TX-RSA", "Part des allocataires du RSA", Q, "CAF", 3, "CAF", "ALLOC-RSA", "ALLOC", "baisse")
    taux("TX-BAS-REV", "Part des allocataires à bas revenus", Q, "CAF", 3, "CAF", "ALLOC-BAS-REV", "ALLOC", "baisse")
    taux("TX-EAJE", "Taux de couverture en accueil collectif du jeune enfant", Q, "CAF", 1, "CAF", "PLACES-EAJE",
         "POP-0-2", "hausse")
    # --- Quartiers : santé
    somme("CSS", "Bénéficiaires de la complémentaire santé solidaire", Q, "CPAM", 3, "CNAM", base="POP-TOT",
          ratio=0.22)
    somme("SANS-MT", "Assurés sans médecin traitant", Q, "CPAM", 3, "CNAM", base="POP-TOT", ratio=0.14, sens="baisse")
    somme("BILANS-SANTE", "Examens de prévention en santé réalisés", Q, "CPAM", 3, "CNAM", base="POP-TOT",
          ratio=0.02)
    taux("TX-CSS", "Part des habitants couverts par la complémentaire santé solidaire", Q, "CPAM", 3, "CNAM", "CSS",
         "POP-TOT", "hausse")
    taux("TX-SANS-MT", "Part des assurés sans médecin traitant", Q, "CPAM", 3, "CNAM", "SANS-MT", "POP-TOT", "baisse")
    somme("DEPISTAGES", "Dépistages organisés réalisés", Q, "ARS", 3, "ARS", base="POP-TOT", ratio=0.03)
    somme("ACTIONS-PREVENTION", "Actions de prévention santé", Q, "ARS", 3, "ARS", 6)
    somme("MEDIATEURS-SANTE", "Médiateurs santé", Q, "ARS", 3, "ARS", 0.6, unite="ETP")
    na("VACCINATION-ROR", "Couverture vaccinale ROR à 2 ans", Q, "ARS", 3, "ARS", 86, "%", "hausse")
    # --- Quartiers : éducation
    somme("ELEVES", "Élèves scolarisés du quartier", Q, "ETAT-DSDEN", 1, "Éducation nationale", base="POP-M25",
          ratio=0.55)
    somme("ELEVES-REP", "Élèves scolarisés en éducation prioritaire", Q, "ETAT-DSDEN", 1, "Éducation nationale",
          base="ELEVES", ratio=0.7)
    somme("RETARD-6E", "Élèves entrant en 6e avec au moins un an de retard", Q, "ETAT-DSDEN", 1,
          "Éducation nationale", base="ELEVES", ratio=0.018, sens="baisse")
    somme("DECROCHEURS", "Jeunes décrocheurs repérés", Q, "ETAT-DSDEN", 1, "Éducation nationale", base="ELEVES",
          ratio=0.012, sens="baisse")
    somme("CLASSES-DEDOUBLEES", "Classes dédoublées (GS, CP, CE1)", Q, "ETAT-DSDEN", 1, "Éducation nationale", 9)
    somme("CITES-EDUC", "Enfants et jeunes bénéficiaires de la cité éducative", Q, "ETAT-DSDEN", 1,
          "Éducation nationale", base="POP-M25", ratio=0.15)
    taux("TX-RETARD-6E", "Part des élèves entrant en 6e avec retard", Q, "ETAT-DSDEN", 1, "Éducation nationale",
         "RETARD-6E", "ELEVES", "baisse")
    taux("TX-DECROCHAGE", "Taux de décrochage scolaire", Q, "ETAT-DSDEN", 1, "Éducation nationale", "DECROCHEURS",
         "ELEVES", "baisse")
    na("REUSSITE-BREVET", "Taux de réussite au diplôme national du brevet", Q, "ETAT-DSDEN", 1, "Éducation nationale",
       78, "%", "hausse")
    na("ORIENT-GT", "Part des élèves orientés en seconde générale et technologique", Q, "ETAT-DSDEN", 1,
       "Éducation nationale", 52, "%", "hausse")
    # --- Quartiers : sécurité (semestriels pour la délinquance)
    somme("ATTEINTES-PERS", "Atteintes volontaires à l'intégrité physique", Q, "ETAT-DDSP", 4, "SSMSI",
          base="POP-TOT", ratio=0.008, sens="baisse", sem=True)
    somme("ATTEINTES-BIENS", "Atteintes aux biens", Q, "ETAT-DDSP", 4, "SSMSI", base="POP-TOT", ratio=0.025,
          sens="baisse", sem=True)
    somme("STUPS", "Infractions à la législation sur les stupéfiants", Q, "ETAT-DDSP", 4, "SSMSI", base="POP-TOT",
          ratio=0.006, sens="baisse", sem=True)
    somme("PRESENCE-POLICE", "Heures de présence policière de proximité", Q, "ETAT-DDSP", 4, "Police nationale", 900,
          unite="heures", sem=True)
    somme("INTERVENTIONS", "Interventions de police secours", Q, "ETAT-DDSP", 4, "Police nationale", base="POP-TOT",
          ratio=0.05, sens="baisse")
    taux("TX-ATTEINTES-PERS", "Atteintes à l'intégrité physique pour 100 habitants", Q, "ETAT-DDSP", 4, "SSMSI",
         "ATTEINTES-PERS", "POP-TOT", "baisse", sem=True)
    na("DELAI-INTERVENTION", "Délai moyen d'intervention", Q, "ETAT-DDSP", 4, "Police nationale", 14, "minutes",
       "baisse")
    # --- Quartiers : logement (bailleur)
    somme("LLS", "Logements sociaux", Q, "BS1", 2, "Bailleur", base="MENAGES", ratio=0.7)
    somme("LLS-VACANTS", "Logements sociaux vacants", Q, "BS1", 2, "Bailleur", base="LLS", ratio=0.045, sens="baisse")
    somme("LLS-REHAB", "Logements sociaux réhabilités", Q, "BS1", 2, "Bailleur", base="LLS", ratio=0.04)
    somme("IMPAYES", "Ménages en impayé de loyer", Q, "BS1", 2, "Bailleur", base="LLS", ratio=0.08, sens="baisse")
    somme("GARDIENS", "Gardiens et agents de proximité", Q, "BS1", 2, "Bailleur", 4, unite="ETP")
    somme("ATTRIBUTIONS", "Attributions de logements sociaux", Q, "BS1", 2, "Bailleur", base="LLS", ratio=0.07)
    taux("TX-VACANCE", "Taux de vacance du parc social", Q, "BS1", 2, "Bailleur", "LLS-VACANTS", "LLS", "baisse")
    taux("TX-IMPAYES", "Part des ménages en impayé", Q, "BS1", 2, "Bailleur", "IMPAYES", "LLS", "baisse")
    na("TX-ROTATION", "Taux de rotation dans le parc social", Q, "BS1", 2, "Bailleur", 7.5, "%", "hausse")
    na("SATISFACTION", "Locataires satisfaits (enquête annuelle)", Q, "BS1", 2, "Bailleur", 71, "%", "hausse")
    # --- Quartiers : Département
    somme("RSA-ACCOMP", "Bénéficiaires du RSA accompagnés", Q, "DEP", 3, "Département", base="ALLOC-RSA", ratio=0.8)
    somme("PROTECTION-ENFANCE", "Mesures de protection de l'enfance", Q, "DEP", 3, "Département", base="POP-M25",
          ratio=0.012, sens="baisse")
    somme("PREV-SPE", "Éducateurs de prévention spécialisée", Q, "DEP", 4, "Département", 1.5, unite="ETP")
    somme("PMI", "Consultations de protection maternelle et infantile", Q, "DEP", 3, "Département", base="POP-0-2",
          ratio=1.4)
    somme("COLLEGIENS-AIDES", "Collégiens bénéficiaires d'une aide départementale", Q, "DEP", 1, "Département",
          base="ELEVES", ratio=0.15)
    na("DELAI-PMI", "Délai moyen d'obtention d'un rendez-vous de PMI", Q, "DEP", 3, "Département", 21, "jours",
       "baisse")
    # --- Quartiers : EPCI (politique de la ville)
    somme("ASSOCIATIONS", "Associations financées au titre du contrat de ville", Q, "EPCI", 4, "EPCI", 12)
    somme("CREDITS-PV", "Crédits du contrat de ville engagés dans le quartier", Q, "EPCI", 4, "EPCI", 95000,
          unite="€")
    somme("ACTIONS-PV", "Actions financées dans le quartier", Q, "EPCI", 4, "EPCI", 18)
    somme("CONSEIL-CITOYEN", "Habitants membres du conseil citoyen", Q, "EPCI", 4, "EPCI", 14)
    somme("VVV", "Jeunes bénéficiaires de Ville Vie Vacances", Q, "EPCI", 1, "EPCI", base="POP-M25", ratio=0.06)
    somme("LICENCIES", "Licenciés sportifs", Q, "EPCI", 1, "EPCI", base="POP-M25", ratio=0.25)
    taux("TX-LICENCIES", "Part des moins de 25 ans licenciés d'un club", Q, "EPCI", 1, "EPCI", "LICENCIES", "POP-M25",
         "hausse")
    na("REVENU-MEDIAN", "Revenu disponible médian par unité de consommation", Q, "EPCI", 3, "INSEE", 13800, "€",
       "hausse")
    na("TX-PAUVRETE", "Taux de pauvreté", Q, "EPCI", 3, "INSEE", 43, "%", "baisse")
    na("NON-DIPLOMES", "Part des 15 ans et plus sans diplôme", Q, "EPCI", 1, "INSEE", 34, "%", "baisse")
    na("INDICE-JEUNESSE", "Indice de jeunesse", Q, "EPCI", 1, "INSEE", 1.4, "indice", "hausse")
    na("SURFACE-VEGETALISEE", "Part de l'espace public végétalisé", Q, "EPCI", 2, "EPCI", 18, "%", "hausse")

    # --- Communes
    somme("POP-COM", "Population de la commune", C, "EPCI", 4, "INSEE", 24000)
    somme("LOG-COM", "Résidences principales", C, "EPCI", 2, "INSEE", base="POP-COM", ratio=0.44)
    somme("LLS-COM", "Logements locatifs sociaux (SRU)", C, "EPCI", 2, "DDT", base="LOG-COM", ratio=0.3)
    taux("TX-LLS-COM", "Taux de logements locatifs sociaux (SRU)", C, "EPCI", 2, "DDT", "LLS-COM", "LOG-COM",
         "hausse")
    somme("DEMANDES-LLS-COM", "Demandes de logement social en attente", C, "BS1", 2, "SNE", base="LOG-COM",
          ratio=0.05, sens="baisse")
    somme("ATTRIB-COM", "Attributions de logements sociaux", C, "BS1", 2, "SNE", base="LLS-COM", ratio=0.07)
    somme("ATTRIB-HORS-QPV", "Attributions hors QPV à des ménages du premier quartile", C, "BS1", 2, "SNE",
          base="ATTRIB-COM", ratio=0.2)
    taux("TX-ATTRIB-Q1", "Part des attributions hors QPV au premier quartile", C, "BS1", 2, "SNE", "ATTRIB-HORS-QPV",
         "ATTRIB-COM", "hausse")
    na("DELAI-ATTRIB-COM", "Délai moyen d'attribution d'un logement social", C, "BS1", 2, "SNE", 19, "mois", "baisse")
    somme("ALLOC-COM", "Allocataires de la CAF", C, "CAF", 3, "CAF", base="POP-COM", ratio=0.22)
    somme("RSA-COM", "Allocataires du RSA", C, "CAF", 3, "CAF", base="ALLOC-COM", ratio=0.16, sens="baisse")
    taux("TX-RSA-COM", "Part des allocataires du RSA", C, "CAF", 3, "CAF", "RSA-COM", "ALLOC-COM", "baisse")
    somme("ENF-0-2-COM", "Enfants de moins de 3 ans", C, "CAF", 1, "INSEE", base="POP-COM", ratio=0.035)
    somme("EAJE-COM", "Places d'accueil collectif du jeune enfant", C, "CAF", 1, "CAF", base="ENF-0-2-COM",
          ratio=0.25)
    taux("TX-EAJE-COM", "Taux de couverture en accueil collectif", C, "CAF", 1, "CAF", "EAJE-COM", "ENF-0-2-COM",
         "hausse")
    somme("ELEVES-COM", "Élèves du premier degré", C, "ETAT-DSDEN", 1, "Éducation nationale", base="POP-COM",
          ratio=0.09)
    somme("ELEVES-REP-COM", "Élèves du premier degré en REP et REP+", C, "ETAT-DSDEN", 1, "Éducation nationale",
          base="ELEVES-COM", ratio=0.35)
    taux("TX-REP-COM", "Part des élèves en éducation prioritaire", C, "ETAT-DSDEN", 1, "Éducation nationale",
         "ELEVES-REP-COM", "ELEVES-COM", "hausse")
    somme("PETITS-DEJ", "Élèves bénéficiaires des petits déjeuners gratuits", C, "ETAT-DSDEN", 1,
          "Éducation nationale", base="ELEVES-COM", ratio=0.08)
    na("ABSENTEISME-COM", "Taux d'absentéisme des collégiens", C, "ETAT-DSDEN", 1, "Éducation nationale", 6.5, "%",
       "baisse")
    somme("FAITS-COM", "Faits de délinquance constatés", C, "ETAT-DDSP", 4, "SSMSI", base="POP-COM", ratio=0.045,
          sens="baisse", sem=True)
    na("ELUCIDATION-COM", "Taux d'élucidation", C, "ETAT-DDSP", 4, "SSMSI", 34, "%", "hausse")
    somme("POLICE-MUN", "Policiers municipaux", C, "EPCI", 4, "Commune", 12, unite="ETP")
    somme("CAMERAS", "Caméras de vidéoprotection", C, "EPCI", 4, "Commune", 40)
    somme("DEFM-COM", "Demandeurs d'emploi de catégorie A", C, "FT", 0, "France Travail", base="POP-COM",
          ratio=0.055, sens="baisse", sem=True)
    taux("TX-DEFM-COM", "Demandeurs d'emploi de catégorie A pour 100 habitants", C, "FT", 0, "France Travail",
         "DEFM-COM", "POP-COM", "baisse")
    somme("MEDECINS-COM", "Médecins généralistes en exercice", C, "CPAM", 3, "CNAM", base="POP-COM", ratio=0.0008)
    na("APL-MEDECINS", "Accessibilité potentielle localisée aux médecins", C, "CPAM", 3, "DREES", 3.1, "consultations",
       "hausse")
    somme("FRANCE-SERVICES", "Espaces France services", C, "ETAT", 3, "ANCT", 1.5)
    somme("EQUIP-SPORT", "Équipements sportifs de proximité", C, "EPCI", 1, "Commune", 14)
    somme("BUDGET-PV-COM", "Budget de la commune consacré à la politique de la ville", C, "EPCI", 4, "Commune",
          420000, unite="€")
    somme("COLLEGES-COM", "Collégiens", C, "DEP", 1, "Département", base="POP-COM", ratio=0.045)
    somme("AIDE-SOCIALE-COM", "Bénéficiaires de l'aide sociale à l'enfance", C, "DEP", 3, "Département",
          base="POP-COM", ratio=0.004, sens="baisse")
    na("DELAI-INSTRUCTION-RSA", "Délai d'instruction d'une demande de RSA", C, "DEP", 3, "Département", 24, "jours",
       "baisse")

    # --- Territoire
    somme("CREDITS-ETAT-PV", "Crédits de l'État pour la politique de la ville", T, "ETAT", 4, "ANCT", 1200000,
          unite="€")
    somme("POSTES-FONJEP", "Postes FONJEP", T, "ETAT", 4, "ANCT", 9)
    somme("CREDITS-EPCI-PV", "Crédits de l'EPCI pour le contrat de ville", T, "EPCI", 4, "EPCI", 800000, unite="€")
    somme("NPNRU-LOG-DEMOLIS", "Logements démolis (NPNRU)", T, "EPCI", 2, "ANRU", 120)
    somme("NPNRU-LOG-RECONST", "Logements reconstruits hors QPV (NPNRU)", T, "EPCI", 2, "ANRU", 90)
    somme("ENTREPRISES-CREEES", "Entreprises créées par des habitants des QPV", T, "EPCI", 0, "INSEE", 140)
    somme("PAQTE", "Entreprises engagées dans le PAQTE", T, "ETAT-DDETS", 0, "DDETS", 35)
    somme("STAGES-3E", "Stages de 3e proposés aux collégiens de REP+", T, "ETAT-DSDEN", 1, "Éducation nationale", 260)
    somme("HEURES-INSERTION", "Heures d'insertion réalisées (clauses sociales)", T, "EPCI", 0, "EPCI", 45000,
          unite="heures")
    somme("ACHATS-QPV", "Achats auprès d'entreprises implantées en QPV", T, "EPCI", 0, "EPCI", 1500000, unite="€")
    somme("OFFRES-EMPLOI", "Offres d'emploi déposées", T, "FT", 0, "France Travail", 9000)
    somme("RECRUT-QPV", "Recrutements d'habitants des QPV sur ces offres", T, "FT", 0, "France Travail",
          base="OFFRES-EMPLOI", ratio=0.14)
    taux("TX-RECRUT-QPV", "Part des offres pourvues par des habitants des QPV", T, "FT", 0, "France Travail",
         "RECRUT-QPV", "OFFRES-EMPLOI", "hausse")
    somme("MAISONS-SANTE", "Maisons et centres de santé", T, "ARS", 3, "ARS", 4)
    somme("CLS-ACTIONS", "Actions du contrat local de santé", T, "ARS", 3, "ARS", 25)
    somme("CONTRATS-SANTE-JEUNES", "Jeunes suivis par la mission locale (volet santé)", T, "ARS", 3, "ARS", 350)
    somme("PLACES-HEBERGEMENT", "Places d'hébergement d'urgence", T, "ETAT-DDETS", 3, "DDETS", 160)
    somme("TRAVAUX-GUP", "Diagnostics en marchant réalisés", T, "BS1", 2, "Bailleur", 10)
    somme("TFPB-ABATTEMENT", "Abattement de TFPB mobilisé", T, "BS1", 2, "Bailleur", 650000, unite="€")
    somme("CAF-FONDS-LOCAUX", "Fonds locaux de la CAF mobilisés", T, "CAF", 3, "CAF", 300000, unite="€")
    somme("PREVENTION-SPE-TERR", "Jeunes suivis en prévention spécialisée", T, "DEP", 4, "Département", 420)
    na("INDICE-SATISFACTION", "Indice de satisfaction des habitants (enquête)", T, "EPCI", 4, "EPCI", 6.1, "note",
       "hausse", sem=True)
    na("DELAI-PAIEMENT-SUBV", "Délai moyen de paiement des subventions", T, "EPCI", 4, "EPCI", 75, "jours", "baisse")
    return c


CATALOGUE = _catalogue()


# --------------------------------------------------------------------------------------------------------------------
# Construction
# --------------------------------------------------------------------------------------------------------------------

@dataclass
class Bilan:
    echelle: str
    graine: int
    comptes: dict[str, int] = field(default_factory=dict)
    durees: dict[str, float] = field(default_factory=dict)

    @property
    def duree(self) -> float:
        return sum(self.durees.values())


def _repartir(total: int, poids: np.ndarray, minimum: int = 0, maximum: np.ndarray | None = None) -> np.ndarray:
    """Répartit `total` en entiers proportionnels à `poids` (plus forts restes), avec un minimum et des plafonds."""
    n = len(poids)
    sortie = np.full(n, minimum, dtype=np.int64)
    reste = total - sortie.sum()
    cap = np.full(n, np.iinfo(np.int64).max) if maximum is None else np.asarray(maximum, dtype=np.int64)
    while reste > 0:
        libres = sortie < cap
        w = np.where(libres, poids, 0.0)
        if w.sum() <= 0:
            raise ValueError("répartition impossible")
        part = w / w.sum() * reste
        ajout = np.minimum(np.floor(part).astype(np.int64), cap - sortie)
        if ajout.sum() == 0:
            ordre = np.argsort(-(part - np.floor(part)), kind="stable")
            ordre = [i for i in ordre if libres[i]][:reste]
            ajout = np.zeros(n, dtype=np.int64)
            ajout[ordre] = 1
        sortie += ajout
        reste = total - sortie.sum()
    return sortie


def _nom_commune(rng: np.random.Generator) -> str:
    nom = _DEBUTS[rng.integers(len(_DEBUTS))] + _FINS[rng.integers(len(_FINS))]
    return nom + _SUFFIXES[rng.integers(len(_SUFFIXES))]


def _dep3(dep: str) -> str:
    return dep if len(dep) == 3 else "0" + dep


def _referentiel(echelle: Echelle, rng: np.random.Generator) -> dict:
    """Protocoles, périmètres, signataires, arbres, engagements : les petites tables, protocole par protocole."""
    deps = [d for d in DEPARTEMENTS if echelle.departements is None or d[0] in echelle.departements]
    codes_dep = [d[0] for d in deps]
    poids = np.array([GRANDS.get(c, 1.0) for c in codes_dep]) * rng.lognormal(0, 0.35, len(deps))
    qpv_dep = _repartir(echelle.nb_qpv, poids, 1, np.full(len(deps), 99))
    proto_dep = _repartir(echelle.nb_protocoles, poids ** 0.8, 1, qpv_dep)

    t = {k: [] for k in ("protocole", "contrat", "perimetre", "perimetre_commune", "signataire", "noeud", "noeud_cadre",
                         "engagement", "engagement_porteur", "engagement_cadre", "import_referentiel")}
    protos = []          # informations utiles au calcul des valeurs
    n_siren = 0
    for (dep, nom_dep), nq, npr in zip(deps, qpv_dep, proto_dep):
        part = rng.dirichlet(np.linspace(3.0, 0.6, npr)) if npr > 1 else np.ones(1)
        qpv_proto = _repartir(int(nq), part, 1)
        communes_libres = rng.permutation(np.arange(1, 100 if len(dep) == 3 else 990))
        n_com_dep = 0
        n_qpv_dep = 0
        for k, nqp in enumerate(qpv_proto, 1):
            n_siren += 1
            ept = dep in EPT
            code_terr = f"{200000000 + n_siren * 1117:09d}"
            n_com = int(max(1, min(25, round(nqp * rng.uniform(0.45, 0.9)))))
            communes = []
            for _ in range(n_com):
                num = int(communes_libres[n_com_dep])
                n_com_dep += 1
                insee = f"{dep}{num:02d}" if len(dep) == 3 else f"{dep}{num:03d}"
                communes.append((insee, _nom_commune(rng)))
            principale = communes[0][1]
            if ept:
                categorie, territoire = "EPT", f"Établissement public territorial de {principale}"
            elif nqp >= 12:
                categorie, territoire = "EPCI", f"Métropole de {principale}"
            elif nqp >= 5:
                categorie, territoire = "EPCI", f"Communauté d'agglomération de {principale}"
            else:
                categorie, territoire = "EPCI", (f"Communauté d'agglomération de {principale}" if rng.random() < 0.6
                                                 else f"Communauté de communes de {principale}")
            code = f"EQ2030-{_dep3(dep)}-{k:02d}"
            nb_contrats = 3 if ept and nqp >= 6 else (2 if ept and nqp >= 3 else 1)
            signe = dt.date(2024, int(rng.integers(3, 13)), int(rng.integers(1, 29)))
            t["protocole"].append(dict(
                code=code, titre=f"Contrat Engagements Quartiers 2030 — {territoire}", territoire=territoire,
                code_territoire=code_terr, annee_debut=ANNEE_DEBUT, annee_fin=ANNEE_FIN, date_signature=signe,
                geographie="2024", demonstration=True,
                description=("Protocole **fictif** de la base d'essai nationale (générée, graine "
                             f"{{graine}}) : territoire, communes, quartiers, signataires et valeurs sont inventés. "
                             f"Département : {nom_dep} ({dep}). Dépôts provisoires, définitifs et mises à jour de "
                             f"{ANNEE_DEBUT} à {ANNEE_FIN} : l'état d'une base en fin de contrat."),
                importe_le=dt.datetime(2024, 1, 2, 9, 0) + dt.timedelta(minutes=len(protos))))
            contrats = [f"CV-{code_terr}" + (f"-{j}" if nb_contrats > 1 else "") for j in range(1, nb_contrats + 1)]
            for j, cv in enumerate(contrats, 1):
                t["contrat"].append(dict(protocole=code, code=cv, libelle=f"Contrat de ville de {territoire}"
                                         + (f" — secteur {j}" if nb_contrats > 1 else "") + " 2024-2030",
                                         date_signature=signe, ordre=j))
            per = t["perimetre"]
            per.append(dict(protocole=code, code=code_terr, libelle=territoire, niveau="Territoire", type="Territoire",
                            contrat=None, ordre=0))
            for j, (insee, nom) in enumerate(communes, 1):
                per.append(dict(protocole=code, code=insee, libelle=nom, niveau="Commune", type="Commune",
                                contrat=contrats[(j - 1) % nb_contrats] if nb_contrats > 1 else None, ordre=j))
            quartiers = []
            for j in range(nqp):
                n_qpv_dep += 1
                com = [communes[j % n_com][0]]
                if n_com > 1 and rng.random() < 0.08:
                    com.append(communes[(j + 1) % n_com][0])
                lettre = "I" if len(com) > 1 else "M"
                q = f"QN{_dep3(dep)}{n_qpv_dep:02d}{lettre}"
                nom_q = _QUARTIERS[int(rng.integers(len(_QUARTIERS)))]
                if rng.random() < 0.4:
                    nom_q += f" — {communes[j % n_com][1]}"
                quartiers.append((q, nom_q, "QPV", com))
            for j in range(int(rng.choice([0, 1, 1, 2, 3]))):
                c = communes[j % n_com]
                quartiers.append((f"VA-{code_terr}-{j + 1}", f"Veille active — {c[1]}", "Veille active", [c[0]]))
            for j, (q, nom_q, typ, com) in enumerate(quartiers, 1):
                per.append(dict(protocole=code, code=q, libelle=nom_q, niveau="QPV", type=typ, contrat=None, ordre=j))
                for insee in com:
                    t["perimetre_commune"].append(dict(protocole=code, perimetre=q, insee=insee))

            # Signataires : les onze rôles qui déclarent, des rôles facultatifs et jusqu'à trois communes.
            sig = []
            for role, nom, cat, ratt in ROLES:
                if role == "EPCI":
                    nom, cat = territoire, categorie
                elif role == "DEP":
                    nom = f"Département — {nom_dep}"
                elif role == "CAF":
                    nom = f"Caisse d'allocations familiales — {nom_dep}"
                elif role == "CPAM":
                    nom = f"Caisse primaire d'assurance maladie — {nom_dep}"
                elif role == "BS1":
                    nom = _BAILLEURS[int(rng.integers(len(_BAILLEURS)))].format(d=nom_dep)
                sig.append((role, nom, cat, ratt, True, None))
            facultatifs = [ROLES_FACULTATIFS[i] for i in sorted(rng.choice(len(ROLES_FACULTATIFS),
                                                                           int(rng.integers(0, 7)), replace=False))]
            for role, nom, cat, ratt in facultatifs:
                if nom is None:
                    nom = _BAILLEURS[int(rng.integers(len(_BAILLEURS)))].format(d=nom_dep) + f" ({role})"
                sig.append((role, nom, cat, ratt, role != "ASSO", None))
            for insee, nom in communes[:int(rng.integers(1, 4))]:
                sig.append((f"COM-{insee}", f"Commune de {nom}", "Commune", None, True, insee))
            for j, (s, nom, cat, ratt, signe_p, insee) in enumerate(sig, 1):
                t["signataire"].append(dict(protocole=code, code=s, nom=nom, categorie=cat, rattache_a=ratt,
                                            signe=signe_p, insee=insee, ordre=j))
            codes_sig = [s[0] for s in sig]
            noms_sig = {s[0]: ("l'État" if s[0] == "ETAT" else s[1].split(" — ")[-1] if s[0].startswith("ETAT-")
                               else s[1]) for s in sig}

            # L'arbre : 3 à 5 axes, 2 à 4 niveaux.
            n_axes = int(rng.choice([3, 4, 4, 5, 5]))
            theme_axe, titres = REGROUPEMENTS[n_axes]
            profondeur = int(rng.choice([2, 3, 3, 4]))
            feuilles_par_axe: list[list[str]] = []
            for a in range(n_axes):
                code_a = str(a + 1)
                t["noeud"].append(dict(protocole=code, code=code_a, parent=None, niveau=NIVEAUX_ARBRE[0],
                                       libelle=titres[a], ordre=a + 1, profondeur=1, chemin=f"{a + 1:05d}"))
                themes = [th for th, ax in enumerate(theme_axe) if ax == a]
                for cadre in CADRES_AXE[themes[0]][:int(rng.integers(1, 3))]:
                    t["noeud_cadre"].append(dict(protocole=code, noeud=code_a, cadre=cadre))
                niveau_courant = [(code_a, f"{a + 1:05d}", themes)]
                for prof in range(2, profondeur + 1):
                    suivant = []
                    for parent, chemin, th in niveau_courant:
                        n_enf = int(rng.integers(2, 4)) if prof == 2 else int(rng.integers(1, 3))
                        for e in range(1, n_enf + 1):
                            c_e = f"{parent}.{e}"
                            theme = th[(e - 1) % len(th)]
                            if prof == 2:
                                lib = THEMATIQUES[theme][int(rng.integers(len(THEMATIQUES[theme])))]
                            else:
                                lib = ("Objectif : " if prof == 3 else "Action : ") + \
                                    ACTIONS[theme][int(rng.integers(len(ACTIONS[theme])))]
                            ch = f"{chemin}.{e:05d}"
                            t["noeud"].append(dict(protocole=code, code=c_e, parent=parent, niveau=NIVEAUX_ARBRE[prof - 1],
                                                   libelle=lib, ordre=e, profondeur=prof, chemin=ch))
                            suivant.append((c_e, ch, [theme]))
                    niveau_courant = suivant
                feuilles_par_axe.append([n[0] for n in niveau_courant])

            # Engagements : 20 à 60, sur les feuilles, avec leurs porteurs.
            n_eng = int(rng.integers(20, 61))
            axe_eng = np.sort(rng.integers(0, n_axes, n_eng))
            eng_par_axe: list[list[str]] = [[] for _ in range(n_axes)]
            themes_axes = [[th for th, ax in enumerate(theme_axe) if ax == a] for a in range(n_axes)]
            for j, a in enumerate(axe_eng, 1):
                c_e = f"E{j:03d}"
                feuille = feuilles_par_axe[a][int(rng.integers(len(feuilles_par_axe[a])))]
                theme = themes_axes[a][int(rng.integers(len(themes_axes[a])))]
                porteurs = list(dict.fromkeys(codes_sig[int(i)] for i in rng.integers(0, len(codes_sig),
                                                                                         int(rng.integers(1, 4)))))
                parent = eng_par_axe[a][-1] if eng_par_axe[a] and rng.random() < 0.1 else None
                noms = " et ".join(noms_sig[p] for p in porteurs)
                t["engagement"].append(dict(
                    protocole=code, code=c_e, noeud=feuille, parent=parent,
                    libelle=ACTIONS[theme][int(rng.integers(len(ACTIONS[theme])))].capitalize(),
                    formule=f"{noms[0].upper() + noms[1:]} s'engage{'nt' if len(porteurs) > 1 else ''} à :",
                    levier=None, echeance=str(int(rng.integers(2025, 2031))), ordre=j))
                for r, p in enumerate(porteurs, 1):
                    t["engagement_porteur"].append(dict(protocole=code, engagement=c_e, signataire=p, rang=r))
                if rng.random() < 0.3:
                    cadres = CADRES_ENGAGEMENT[theme]
                    t["engagement_cadre"].append(dict(protocole=code, engagement=c_e,
                                                      cadre=cadres[int(rng.integers(len(cadres)))]))
                eng_par_axe[a].append(c_e)
            # Un axe sans engagement n'arrive pas (au moins un par axe) : on en crée un au besoin.
            for a in range(n_axes):
                if not eng_par_axe[a]:
                    n_eng += 1
                    c_e = f"E{n_eng:03d}"
                    t["engagement"].append(dict(protocole=code, code=c_e, noeud=feuilles_par_axe[a][0], parent=None,
                                                libelle=ACTIONS[themes_axes[a][0]][0].capitalize(),
                                                formule="L'État s'engage à :", levier=None, echeance="2030",
                                                ordre=n_eng))
                    t["engagement_porteur"].append(dict(protocole=code, engagement=c_e, signataire="ETAT", rang=1))
                    eng_par_axe[a].append(c_e)
            t["import_referentiel"].append(dict(
                id=len(protos) + 1, protocole=code, importe_le=t["protocole"][-1]["importe_le"],
                fichier_nom="référentiel généré (démonstration nationale)",
                sha256=hashlib.sha256(code.encode()).hexdigest(), utilisateur=UTILISATEUR,
                resume=f"signataire : {len(sig)}, noeud : ?, engagement : {n_eng}, indicateur : {len(CATALOGUE)}"))
            protos.append(dict(code=code, code_territoire=code_terr, theme_axe=theme_axe, eng_par_axe=eng_par_axe,
                               n_qpv=nqp))
    return dict(tables=t, protos=protos)


def _arrondir(v: np.ndarray, unite: str) -> np.ndarray:
    """Un taux à 0,1 près entre 0 et 100 ; un comptage ou un montant en entier ; le reste à 0,1 près ; jamais négatif."""
    if unite == "%":
        return np.round(np.clip(v, 0.0, 100.0), 1)
    if unite in ("nombre", "€"):
        return np.maximum(np.rint(v), 0.0)
    return np.round(np.maximum(v, 0.0), 1)


_PERIODES = [str(a) for a in range(ANNEE_DEBUT, ANNEE_FIN + 1)] + \
    [f"{a}-S{s}" for a in range(ANNEE_DEBUT, ANNEE_FIN + 1) for s in (1, 2)]
_P_ANNUELLES = np.arange(0, ANNEE_FIN - ANNEE_DEBUT + 1)                         # indices dans _PERIODES
_P_SEMESTRES = np.arange(len(_P_ANNUELLES), len(_PERIODES))
_ANNEE_P = np.array([int(p[:4]) for p in _PERIODES])
_INSTANT_P = np.array([int(p[:4]) - (0.5 if p.endswith("S1") else 0.0) for p in _PERIODES])


def _aligner(valeurs: np.ndarray, sem_source: bool, sem_cible: bool) -> np.ndarray:
    """Les valeurs d'un indicateur (périmètres × périodes) aux périodes d'un autre : l'année pour ses deux semestres,
    le 2e semestre pour l'année."""
    if sem_source == sem_cible:
        return valeurs
    if sem_source:   # semestriel → annuel : le 2e semestre
        return valeurs[:, 1::2]
    return np.repeat(valeurs, 2, axis=1)


def _series(ref: dict, rng: np.random.Generator) -> dict:
    """Références, cibles et valeurs « finales » (celles qui font foi) de chaque indicateur sur chaque périmètre."""
    per = pd.DataFrame(ref["tables"]["perimetre"])
    codes_proto = [p["code"] for p in ref["protos"]]
    idx_proto = {c: i for i, c in enumerate(codes_proto)}
    per["p"] = per["protocole"].map(idx_proto).astype(np.int32)
    per["g"] = np.arange(len(per), dtype=np.int32)
    # Taille de chaque périmètre (facteur commun à tous ses indicateurs) ; le territoire suit le nombre de quartiers.
    taille = rng.lognormal(0.0, 0.45, len(per))
    n_qpv = np.array([p["n_qpv"] for p in ref["protos"]])
    terr = per["niveau"].to_numpy() == "Territoire"
    taille[terr] = (0.6 + 0.25 * n_qpv[per["p"].to_numpy()[terr]]) * rng.lognormal(0, 0.2, terr.sum())
    par_niveau = {n: per.index[per["niveau"] == n].to_numpy() for n in ("QPV", "Commune", "Territoire")}

    resultats: dict[str, dict] = {}
    refs, cibles, cles = [], [], []
    for i_ind, ind in enumerate(CATALOGUE):
        g = par_niveau[ind.niveau]
        n = len(g)
        periodes = _P_SEMESTRES if ind.semestriel else _P_ANNUELLES
        instants = _INSTANT_P[periodes]
        signe = 1.0 if ind.sens == "hausse" else -1.0
        if ind.agregation == "taux":
            num, den = resultats[ind.numerateur], resultats[ind.denominateur]
            vn = _aligner(num["valeurs"], num["sem"], ind.semestriel)
            vd = _aligner(den["valeurs"], den["sem"], ind.semestriel)
            with np.errstate(divide="ignore", invalid="ignore"):
                valeurs = np.where(vd > 0, 100.0 * vn / vd, np.nan)
                base = np.where(den["base"] > 0, 100.0 * num["base"] / den["base"], np.nan)
                cible = np.where(den["cible"] > 0, 100.0 * num["cible"] / den["cible"], np.nan)
            valeurs, base, cible = (_arrondir(x, "%") for x in (valeurs, base, cible))
        else:
            if ind.base is not None:
                b = resultats[ind.base]
                base = b["base"] * ind.ratio * rng.lognormal(0.0, 0.25, n)
            elif ind.agregation == "somme":
                base = ind.ordre_grandeur * taille[g] * rng.lognormal(0.0, 0.3, n)
            else:   # non agrégeable : autour de l'ordre de grandeur, pas proportionnel à la taille
                base = ind.ordre_grandeur * rng.lognormal(0.0, 0.15, n)
            effort = rng.uniform(0.05, 0.35, n)
            cible = base * (1.0 + signe * effort)
            if ind.base is not None:   # un comptage ne dépasse pas sa base (les demandeurs d'emploi, la population)
                plafond = resultats[ind.base]["cible"] * 0.97
                cible = np.minimum(cible, np.maximum(plafond, 0))
                base = np.minimum(base, resultats[ind.base]["base"] * 0.97)
            profil = rng.choice(np.array([1.15, 0.95, 0.55, 0.15]), n, p=[0.2, 0.4, 0.3, 0.1])
            fraction = np.clip((instants - ANNEE_REFERENCE) / (ANNEE_CIBLE - ANNEE_REFERENCE), 0.0, 1.2)
            ecart = (cible - base)[:, None]
            bruit = rng.normal(0.0, 0.04, (n, len(periodes))) * np.maximum(np.abs(ecart), 0.02 * base[:, None] + 0.5)
            valeurs = base[:, None] + ecart * fraction[None, :] * profil[:, None] + bruit
            if ind.base is not None:
                b = resultats[ind.base]
                valeurs = np.minimum(valeurs, 0.98 * _aligner(b["valeurs"], b["sem"], ind.semestriel))
            valeurs, base, cible = (_arrondir(x, ind.unite) for x in (valeurs, base, cible))
        resultats[ind.code] = dict(valeurs=valeurs, base=base, cible=cible, sem=ind.semestriel, g=g)

        # Références (quelques-unes manquent) et cibles finales (quelques-unes manquent), parfois intermédiaires.
        a_ref = (rng.random(n) > 0.02) & np.isfinite(base)
        a_cible = (rng.random(n) > 0.04) & np.isfinite(cible)
        refs.append(pd.DataFrame(dict(g=g[a_ref], i=i_ind, annee=ANNEE_REFERENCE, valeur=base[a_ref])))
        cibles.append(pd.DataFrame(dict(g=g[a_cible], i=i_ind, annee=ANNEE_CIBLE, valeur=cible[a_cible])))
        inter = a_cible & a_ref & (rng.random(n) < 0.3)
        v_inter = _arrondir(base + (cible - base) * (ANNEE_CIBLE_INTERMEDIAIRE - ANNEE_REFERENCE)
                            / (ANNEE_CIBLE - ANNEE_REFERENCE), ind.unite)
        cibles.append(pd.DataFrame(dict(g=g[inter], i=i_ind, annee=ANNEE_CIBLE_INTERMEDIAIRE, valeur=v_inter[inter])))
        # Des cibles d'ensemble pour le territoire (somme des cibles des périmètres), pour un indicateur sur quatre.
        if ind.agregation == "somme" and ind.niveau != "Territoire":
            pp = per["p"].to_numpy()[g]
            tot_c = np.bincount(pp, weights=np.where(a_cible, cible, 0.0), minlength=len(codes_proto))
            tot_b = np.bincount(pp, weights=np.where(a_ref, base, 0.0), minlength=len(codes_proto))
            choisis = np.flatnonzero(rng.random(len(codes_proto)) < 0.25)
            g_terr = per.index[terr].to_numpy()[choisis]   # le territoire de chaque protocole (un par protocole)
            cibles.append(pd.DataFrame(dict(g=g_terr, i=i_ind, annee=ANNEE_CIBLE,
                                            valeur=_arrondir(tot_c[choisis], ind.unite))))
            refs.append(pd.DataFrame(dict(g=g_terr, i=i_ind, annee=ANNEE_REFERENCE,
                                          valeur=_arrondir(tot_b[choisis], ind.unite))))
        # Les clés (périmètre, période) et leur valeur finale.
        cles.append(dict(g=np.repeat(g, len(periodes)).astype(np.int32),
                         i=np.full(n * len(periodes), i_ind, dtype=np.int16),
                         t=np.tile(periodes, n).astype(np.int8),
                         v=valeurs.ravel()))
    cles_df = {k: np.concatenate([c[k] for c in cles]) for k in ("g", "i", "t", "v")}
    ok = np.isfinite(cles_df["v"])
    cles_df = {k: v[ok] for k, v in cles_df.items()}
    return dict(per=per, refs=pd.concat(refs, ignore_index=True), cibles=pd.concat(cibles, ignore_index=True),
                cles=cles_df)


def _tables_indicateurs(ref: dict, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Le catalogue recopié dans chaque protocole, et le lien de chaque indicateur à un engagement de son thème."""
    cat = pd.DataFrame([dict(code=i.code, libelle=i.libelle, unite=i.unite, sens=i.sens,
                             periodicite="semestrielle" if i.semestriel else "annuelle", niveau=i.niveau,
                             agregation=i.agregation, numerateur=i.numerateur, denominateur=i.denominateur,
                             source=i.source, signataire=i.role,
                             minimum=0.0 if i.unite == "%" else None, maximum=100.0 if i.unite == "%" else None,
                             definition=f"Indicateur du catalogue national de démonstration ({i.source}).")
                        for i in CATALOGUE])
    cat["ordre"] = np.arange(1, len(cat) + 1)
    codes = [p["code"] for p in ref["protos"]]
    ind = cat.loc[np.tile(np.arange(len(cat)), len(codes))].reset_index(drop=True)
    ind.insert(0, "protocole", np.repeat(codes, len(cat)))
    liens = []
    themes = np.array([i.theme for i in CATALOGUE])
    for p in ref["protos"]:
        axes = np.array(p["theme_axe"])[themes]
        tirage = rng.random(len(CATALOGUE))
        for k, (code_i, a) in enumerate(zip(cat["code"], axes)):
            engs = p["eng_par_axe"][a]
            liens.append((p["code"], code_i, engs[int(tirage[k] * len(engs))]))
            if tirage[k] < 0.15 and len(engs) > 1:
                autre = engs[(int(tirage[k] * len(engs)) + 1) % len(engs)]
                liens.append((p["code"], code_i, autre))
    return ind, pd.DataFrame(liens, columns=["protocole", "indicateur", "engagement"])


def _dictionnaire(indices: np.ndarray, valeurs: list[str] | np.ndarray) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(indices.astype(np.int32)), pa.array(list(valeurs), pa.string()))


def _depots(ref: dict, s: dict, echelle: Echelle, graine: int, rng: np.random.Generator) -> dict:
    """Les dépôts (plusieurs fichiers complets par signataire et par an) et les lignes de `valeur`, en colonnes."""
    c = s["cles"]
    per = s["per"]
    p_de_g = per["p"].to_numpy()
    role_de_i = np.array([sorted({i.role for i in CATALOGUE}).index(i.role) for i in CATALOGUE], dtype=np.int16)
    roles = sorted({i.role for i in CATALOGUE})
    p = p_de_g[c["g"]]
    r = role_de_i[c["i"]]
    annee = _ANNEE_P[c["t"]]
    n_annees = ANNEE_FIN - ANNEE_DEBUT + 1
    # Quelques trous (3 %), et un couple (protocole, signataire) sur cinq n'a pas encore envoyé la dernière année.
    garde = rng.random(len(p)) > 0.03
    retard = rng.random(len(ref["protos"]) * len(roles)) < 0.2
    garde &= ~((annee == ANNEE_FIN) & retard[p * len(roles) + r])
    c = {k: v[garde] for k, v in c.items()}
    p, r, annee = p[garde], r[garde], annee[garde]
    groupe = (p.astype(np.int64) * len(roles) + r) * n_annees + (annee - ANNEE_DEBUT)
    ordre_per = per["ordre"].to_numpy()[c["g"]] + np.where(per["niveau"].to_numpy()[c["g"]] == "QPV", 1000,
                                                           np.where(per["niveau"].to_numpy()[c["g"]] == "Commune",
                                                                    500, 0))
    tri = np.lexsort((c["t"], ordre_per, c["i"], groupe))
    c = {k: v[tri] for k, v in c.items()}
    groupe = groupe[tri]
    K = len(groupe)
    groupes, debut_g, taille_g = np.unique(groupe, return_index=True, return_counts=True)
    G = len(groupes)

    # Nombre de dépôts complets par groupe : provisoire + définitif + mises à jour ; 2 % ont en plus un dernier dépôt
    # que la coordination a marqué « à corriger » (ses valeurs ne font pas foi).
    n_bons = 2 + rng.poisson(echelle.mises_a_jour, G)
    a_corriger = rng.random(G) < 0.02
    n_dep = n_bons + a_corriger
    D = int(n_dep.sum())
    dep_groupe = np.repeat(np.arange(G), n_dep)
    rang = np.arange(D) - np.repeat(np.cumsum(n_dep) - n_dep, n_dep)       # 0, 1, 2… dans le groupe
    est_corrige = a_corriger[dep_groupe] & (rang == n_dep[dep_groupe] - 1)
    dernier_bon = rang == n_bons[dep_groupe] - 1
    # Dates : année N+1 ; provisoire en janvier-février, puis des écarts de 10 à 70 jours.
    g_p = groupes // (len(roles) * n_annees)
    g_r = (groupes // n_annees) % len(roles)
    g_a = ANNEE_DEBUT + groupes % n_annees
    jour0 = (np.array([np.datetime64(f"{a + 1}-01-05", "s") for a in range(ANNEE_DEBUT, ANNEE_FIN + 1)])
             [g_a - ANNEE_DEBUT] + (rng.integers(0, 45, G) * 86400).astype("timedelta64[s]"))
    ecarts = rng.integers(10, 70, D) * 86400                              # en jours entiers
    ecarts[rang == 0] = 0
    cs = np.cumsum(ecarts)
    cumul = cs - np.repeat(cs[np.cumsum(n_dep) - n_dep], n_dep)          # jours écoulés depuis le provisoire
    heure = rng.integers(8 * 3600, 18 * 3600, D)
    quand = jour0[dep_groupe] + (cumul + heure).astype("timedelta64[s]")
    # Les identifiants suivent l'ordre chronologique, comme dans une vraie base.
    ordre = np.lexsort((rang, dep_groupe, quand))
    depot_id = np.empty(D, dtype=np.int64)
    depot_id[ordre] = np.arange(1, D + 1)

    # Lignes de `valeur` : chaque dépôt renvoie toutes les valeurs de son groupe, dans l'ordre des identifiants.
    d_ord = ordre                                           # dépôts dans l'ordre des identifiants
    tailles = taille_g[dep_groupe[d_ord]]
    R = int(tailles.sum())
    debut_lignes = np.cumsum(tailles) - tailles
    cle = (np.repeat(debut_g[dep_groupe[d_ord]] - debut_lignes, tailles) + np.arange(R)).astype(np.int64)
    finale = c["v"][cle]
    valeur = finale.copy()
    unite_i = np.array([{"%": 2}.get(i.unite, 0 if i.unite in ("nombre", "€") else 1) for i in CATALOGUE])
    # Avant le dernier bon dépôt, 12 % des valeurs diffèrent (provisoires, erreurs corrigées ensuite). Les calculs ne
    # portent que sur les lignes concernées.
    pas_final = np.repeat(~dernier_bon[d_ord] & ~est_corrige[d_ord], tailles)
    ch = np.flatnonzero(pas_final & (rng.random(R) < 0.12))
    f, genre = finale[ch], unite_i[c["i"][cle[ch]]]
    ecart = f * rng.normal(0.0, 0.06, len(ch))
    autre = f + np.where(genre == 0, np.rint(ecart) + np.sign(ecart), np.round(ecart, 1))
    valeur[ch] = np.where(genre == 2, np.clip(autre, 0, 100), np.maximum(autre, 0))
    # Le dépôt « à corriger » : une valeur sur quatre saisie avec une virgule décalée.
    co = np.flatnonzero(np.repeat(est_corrige[d_ord], tailles) & (rng.random(R) < 0.25))
    f, genre = finale[co], unite_i[c["i"][cle[co]]]
    valeur[co] = np.where(genre == 2, np.round(f / 10, 1), f * 10)
    # Commentaire sur les valeurs que le dernier bon dépôt change par rapport au précédent du même groupe.
    pos = np.empty(D, dtype=np.int64)                       # position de chaque dépôt dans l'ordre des identifiants
    pos[d_ord] = np.arange(D)
    d_prec = np.full(D, -1, dtype=np.int64)                 # par position : celle du dépôt précédent du groupe
    a_prec = np.flatnonzero(rang > 0)
    d_prec[pos[a_prec]] = pos[a_prec - 1]
    cible = np.flatnonzero(np.repeat(dernier_bon[d_ord] & (d_prec >= 0), tailles))
    decalage = np.repeat(debut_lignes[np.maximum(d_prec, 0)] - debut_lignes, tailles)
    commente = np.zeros(R, dtype=bool)
    commente[cible] = valeur[cible] != valeur[cible + decalage[cible]]

    i_de_cle = c["i"][cle]
    g_de_cle = c["g"][cle]
    t_de_cle = c["t"][cle]
    valeurs = pa.table({
        "depot_id": pa.array(np.repeat(np.arange(1, D + 1, dtype=np.int64), tailles)),
        "protocole": _dictionnaire(p_de_g[g_de_cle], [x["code"] for x in ref["protos"]]),
        "indicateur": _dictionnaire(i_de_cle, [i.code for i in CATALOGUE]),
        "perimetre": _dictionnaire(g_de_cle, per["code"].tolist()),
        "periode": _dictionnaire(t_de_cle, _PERIODES),
        "annee": pa.array(_ANNEE_P[t_de_cle].astype(np.int32)),
        "valeur": pa.array(valeur),
        "commentaire": pa.DictionaryArray.from_arrays(
            pa.array(np.zeros(R, dtype=np.int32), mask=~commente),
            pa.array(["Valeur corrigée après vérification (démonstration)"])),
        "cellule": pa.nulls(R, pa.string()),
    })

    # La table des dépôts, dans l'ordre des identifiants.
    g_ord = dep_groupe[d_ord]
    codes_proto = [x["code"] for x in ref["protos"]]
    statut = np.where(est_corrige[d_ord], "à corriger", "reçu").astype(object)
    valide = dernier_bon[d_ord] & (rng.random(D) < 0.5)
    statut[valide] = "validé"
    quand_ord = quand[d_ord]
    rang_ord, n_ord = rang[d_ord], n_dep[dep_groupe[d_ord]]
    nature = np.where(rang_ord == 0, "provisoire", np.where(rang_ord == 1, "definitif", "mise-a-jour"))
    nature[est_corrige[d_ord]] = "a-corriger"
    contenus, empreintes, noms = [], [], []
    for gp, gr, ga, rg, nd, n, nat in zip(g_p[g_ord].tolist(), g_r[g_ord].tolist(), g_a[g_ord].tolist(),
                                          rang_ord.tolist(), n_ord.tolist(), tailles.tolist(), nature.tolist()):
        octets = (f"Dépôt généré (base d'essai nationale, graine {graine}) : aucun fichier d'origine. Protocole "
                  f"{codes_proto[gp]}, signataire {roles[gr]}, année {ga}, dépôt {rg + 1} sur {nd}, {n} valeurs.\n"
                  ).encode()
        contenus.append(octets)
        empreintes.append(hashlib.sha256(octets).hexdigest())
        noms.append(f"depot-genere-{roles[gr]}-{ga}-{rg + 1}-{nat}.txt")
    depots = pa.table({
        "id": pa.array(np.arange(1, D + 1, dtype=np.int64)),
        "protocole": _dictionnaire(g_p[g_ord], codes_proto),
        "signataire": _dictionnaire(g_r[g_ord], roles),
        "periode": pa.array([str(a) for a in g_a[g_ord]]),
        "utilisateur": pa.array([UTILISATEUR] * D, pa.string()),
        "depose_le": pa.array(quand_ord.astype("datetime64[us]")),
        "fichier_nom": pa.array(noms),
        "sha256": pa.array(empreintes),
        "contenu": pa.array(contenus, pa.binary()),
        "nb_valeurs": pa.array(tailles.astype(np.int32)),
        "statut": pa.array(statut.tolist()),
        "commentaire": pa.nulls(D, pa.string()),
    })
    revus = np.flatnonzero(statut != "reçu")
    revues = pd.DataFrame(dict(
        depot_id=revus + 1, statut=statut[revus],
        commentaire=np.where(statut[revus] == "à corriger", "Valeurs multipliées par dix : virgule décalée ?", None),
        auteur="Coordination (démonstration)",
        revu_le=(quand_ord[revus] + np.timedelta64(3 * 86400, "s")).astype("datetime64[us]")))
    return dict(valeur=valeurs, depot=depots, revue_depot=revues)


def _etats(ref: dict, rng: np.random.Generator) -> pd.DataFrame:
    """L'état d'avancement de chaque engagement, saisi une à quatre fois de 2024 à 2031."""
    eng = pd.DataFrame(ref["tables"]["engagement"])
    n = len(eng)
    nb = rng.integers(0, 5, n)                 # 0 : jamais renseigné
    e = np.repeat(np.arange(n), nb)
    k = np.arange(len(e)) - np.repeat(np.cumsum(nb) - nb, nb)
    dernier = k == np.repeat(nb, nb) - 1
    fin = rng.choice(np.array(ETATS_ENGAGEMENT), len(e), p=[0.05, 0.3, 0.45, 0.12, 0.08])
    etat = np.where(k == 0, "non démarré", "en cours").astype(object)
    etat[dernier & (k > 0)] = fin[dernier & (k > 0)]
    ecarts = rng.integers(60, 500, len(e))
    debut = np.cumsum(nb) - nb
    ecarts[debut[nb > 0]] = rng.integers(30, 400, int((nb > 0).sum()))
    cs = np.cumsum(ecarts)
    jours = cs - np.repeat(cs[debut[nb > 0]] - ecarts[debut[nb > 0]], nb[nb > 0])
    date = np.datetime64("2024-03-01") + jours.astype("timedelta64[D]")
    date = np.minimum(date, np.datetime64("2031-12-31"))
    commentaire = np.where(np.isin(etat, ["reporté", "abandonné"]),
                           "Faute de financement, l'action est " + etat.astype(str) + " (démonstration).", None)
    return pd.DataFrame(dict(
        protocole=eng["protocole"].to_numpy()[e], engagement=eng["code"].to_numpy()[e], etat=etat,
        date_etat=date.astype("datetime64[s]"), commentaire=commentaire, auteur="Coordination (démonstration)",
        saisi_le=(date.astype("datetime64[s]") + np.timedelta64(10 * 3600, "s"))))


@operation("administrer_referentiel", instance=True)
def construire(store: Store, echelle: str = "nationale", graine: int = GRAINE_PAR_DEFAUT,
               progression: Callable[[str], None] | None = None) -> Bilan:
    """Construit la base d'essai dans `store`, qui doit être vide (aucun protocole). Déterministe : même échelle, même
    graine → mêmes tables (les dates d'import et de revue comprises). Renvoie les comptes et les durées par étape."""
    if echelle not in ECHELLES:
        raise ValueError(f"Échelle inconnue : « {echelle} » (attendu : {', '.join(ECHELLES)}).")
    e = ECHELLES[echelle]
    dire = progression or (lambda m: None)
    bilan = Bilan(echelle, graine)
    store.initialiser()
    if not store.est_vide():
        raise ValueError(f"La base {store.chemin} contient déjà des protocoles : la base d'essai se construit dans une "
                         "base neuve (choisissez un autre chemin avec --db).")
    rng = np.random.default_rng(graine)
    t0 = time.perf_counter()

    def etape(nom: str):
        nonlocal t0
        t = time.perf_counter()
        bilan.durees[nom] = t - t0
        dire(f"{nom} : {t - t0:.1f} s")
        t0 = t

    ref = _referentiel(e, np.random.default_rng(rng.integers(2**63)))
    etape("référentiel")
    s = _series(ref, np.random.default_rng(rng.integers(2**63)))
    etape("références, cibles et valeurs finales")
    ind, liens = _tables_indicateurs(ref, np.random.default_rng(rng.integers(2**63)))
    d = _depots(ref, s, e, graine, np.random.default_rng(rng.integers(2**63)))
    etats = _etats(ref, np.random.default_rng(rng.integers(2**63)))
    etape("dépôts et lignes de valeurs")

    per = s["per"]
    codes_i = np.array([i.code for i in CATALOGUE], dtype=object)

    def ref_ou_cible(df: pd.DataFrame) -> pd.DataFrame:
        # Dans l'ordre où un import de référentiel les écrit : protocole par protocole.
        df = df.assign(p=per["p"].to_numpy()[df["g"]]).sort_values(["p", "i", "g", "annee"], kind="stable")
        return pd.DataFrame(dict(protocole=per["protocole"].to_numpy()[df["g"]], indicateur=codes_i[df["i"]],
                                 perimetre=per["code"].to_numpy()[df["g"]], annee=df["annee"].astype(np.int32),
                                 valeur=df["valeur"].astype(float)))

    tables = {k: pd.DataFrame(v) for k, v in ref["tables"].items()}
    tables["protocole"]["description"] = tables["protocole"]["description"].str.replace("{graine}", str(graine))
    tables["perimetre"] = per.drop(columns=["p", "g"])
    tables["indicateur"] = ind
    tables["indicateur_engagement"] = liens.drop_duplicates()
    tables["reference"] = ref_ou_cible(s["refs"])
    tables["cible"] = ref_ou_cible(s["cibles"])
    tables["etat_engagement"] = etats
    n_noeuds = tables["noeud"].groupby("protocole").size()
    tables["import_referentiel"]["resume"] = [
        r.replace("noeud : ?", f"noeud : {n_noeuds[p]}") for r, p in zip(tables["import_referentiel"]["resume"],
                                                                         tables["import_referentiel"]["protocole"])]

    def ecrire(con):
        con.execute("SET enable_progress_bar = false")
        for nom in ("protocole", "contrat", "perimetre", "perimetre_commune", "signataire", "noeud", "noeud_cadre",
                    "engagement", "engagement_porteur", "engagement_cadre", "indicateur", "indicateur_engagement",
                    "reference", "cible", "import_referentiel", "etat_engagement"):
            inserer_df(con, nom, tables[nom])
        inserer_df(con, "depot", d["depot"])
        inserer_df(con, "revue_depot", d["revue_depot"])
        inserer_df(con, "valeur", d["valeur"])

    store.ecrire(ecrire)
    from perr_metrics.acces.comptes import creer_comptes_demo
    creer_comptes_demo(store)
    etape("écriture dans la base")
    store.lire(lambda con: con.execute("CHECKPOINT"))
    etape("checkpoint")
    bilan.comptes = {k: len(v) for k, v in tables.items()} | {"depot": d["depot"].num_rows,
                                                               "revue_depot": len(d["revue_depot"]),
                                                               "valeur": d["valeur"].num_rows}
    return bilan
