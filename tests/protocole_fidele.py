"""Un troisième protocole, fictif mais vraisemblable, écrit comme les protocoles réels l'écrivent (issue 15).

« Engagements Quartiers 2030 » d'une agglomération de la Meuse (Bar-le-Duc) : rien n'y est plié au modèle.

- un arbre dont les niveaux s'appellent « Priorité » et « Objectif » (pas « Axe » ni « Thématique »), avec le texte de
  l'objectif stratégique de chaque priorité ;
- des items de quatre natures : objectifs opérationnels et exemples d'actions **sans porteur**, engagements portés par
  un signataire, par un service de l'État ou par plusieurs, orientations attendues des autres signataires sans porteur ;
- deux volets : une cité éducative rattachée au QPV, une annexe rattachée au territoire de veille active ; un objectif
  du corps décliné pour le QPV (nœud rattaché à un quartier) ;
- des lignes de signature : l'État et la Ville signent deux actes (le contrat de ville de 2015 et ce contrat) ;
- un QPV de la géographie 2024 (code officiel `QN05501M`) et un territoire de veille active ;
- un indicateur en somme avec une référence par quartier (180 et 45) et une cible pour le territoire seulement.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from perr_metrics.referentiel.classeur import ecrire_classeur

CODE = "MGS-EQ2030"
QPV = "QN05501M"
VEILLE = "VA-FEDERATION"

DONNEES = {
    "protocole": [dict(code=CODE, titre="Contrat de ville « Engagements Quartiers 2030 » de Meuse Grand Sud",
                       territoire="Communauté d'agglomération Meuse Grand Sud", code_territoire="MGS",
                       annee_debut=2024, annee_fin=2030, date_signature=dt.date(2024, 3, 28), geographie="2024",
                       demonstration=True, description="Protocole fictif des tests : les natures d'items, les volets, "
                       "les signatures et les engagements sans porteur des protocoles réels.")],
    "contrats": [dict(code="CV-BLD-2015", libelle="Contrat de ville de Bar-le-Duc 2015-2020",
                      date_signature=dt.date(2015, 7, 3)),
                 dict(code="CV-MGS-2024", libelle="Contrat de ville Engagements Quartiers 2030 de Meuse Grand Sud",
                      date_signature=dt.date(2024, 3, 28))],
    "communes": [dict(insee="55029", nom="Bar-le-Duc", contrat="CV-MGS-2024")],
    "quartiers": [dict(code=QPV, libelle="Côte Sainte-Catherine-Libération", type="QPV", communes=["55029"]),
                  dict(code=VEILLE, libelle="Quartier de la Fédération", type="Veille active", communes=["55029"])],
    "signataires": [
        dict(code="ETAT", nom="État", categorie="État", signe=True),
        dict(code="ETAT-DDETS", nom="État – Direction départementale de l'emploi, du travail et des solidarités",
             categorie="Service de l'État", rattache_a="ETAT", signe=False),
        dict(code="MGS", nom="Communauté d'agglomération Meuse Grand Sud", categorie="EPCI", signe=True),
        dict(code="V-BLD", nom="Ville de Bar-le-Duc", categorie="Commune", signe=True, insee="55029"),
        dict(code="CD55", nom="Département de la Meuse", categorie="Département", signe=True),
        dict(code="CAF55", nom="Caisse d'allocations familiales de la Meuse", categorie="CAF", signe=True),
    ],
    "signatures": [
        dict(signataire="ETAT", qualite="Le préfet de la Meuse", representant="Jean Martin", acte="CV-BLD-2015",
             date=dt.date(2015, 7, 3)),
        dict(signataire="ETAT", qualite="La préfète de la Meuse", representant="Claire Dubois", acte=CODE,
             date=dt.date(2024, 3, 28)),
        dict(signataire="MGS", qualite="Le président de la communauté d'agglomération", representant="Paul Bernard",
             acte=CODE, date=dt.date(2024, 3, 28)),
        dict(signataire="V-BLD", qualite="La maire de Bar-le-Duc", representant="Anne Petit", acte="CV-BLD-2015",
             date=dt.date(2015, 7, 3)),
        dict(signataire="V-BLD", qualite="La maire de Bar-le-Duc", representant="Anne Petit", acte=CODE,
             date=dt.date(2024, 4, 2)),
        dict(signataire="CAF55", qualite="Le directeur", representant="Luc Moreau", acte=CODE, date=None),
    ],
    "volets": [
        dict(code="CE-CSC", libelle="Cité éducative de la Côte Sainte-Catherine", nature="Cité éducative",
             quartiers=[QPV], texte="Une alliance éducative autour des enfants et des jeunes de 0 à 25 ans du quartier.",
             ordre=1),
        dict(code="ANX-FED", libelle="Annexe — Quartier de la Fédération", nature="Annexe", quartiers=[VEILLE],
             texte="Le territoire de veille active garde l'attention des signataires.", ordre=2),
    ],
    "axes": [
        dict(code="P1", niveau="Priorité", libelle="Emploi et insertion professionnelle",
             texte="Objectif stratégique : ramener le taux de chômage des habitants au niveau de l'agglomération."),
        dict(code="P1.1", parent="P1", niveau="Objectif", libelle="Lever les freins à l'emploi des femmes"),
        dict(code="P1.2", parent="P1", niveau="Objectif", libelle="Rapprocher les entreprises des habitants",
             quartiers=[QPV], texte="Décliné pour la Côte Sainte-Catherine : un forum de l'emploi chaque année."),
        dict(code="P2", niveau="Priorité", libelle="Tranquillité et cadre de vie",
             texte="Objectif stratégique : un quartier où chacun se sent en sécurité."),
        dict(code="P2.1", parent="P2", niveau="Objectif", libelle="Renforcer la présence humaine"),
        dict(code="CE1", niveau="Objectif de la cité éducative", libelle="Conforter le rôle de l'école",
             volet="CE-CSC"),
        dict(code="CE2", niveau="Objectif de la cité éducative", libelle="Promouvoir la continuité éducative",
             volet="CE-CSC"),
        dict(code="CE3", niveau="Objectif de la cité éducative", libelle="Ouvrir le champ des possibles",
             volet="CE-CSC"),
        dict(code="FED1", niveau="Orientation", libelle="Veiller à la tranquillité du quartier de la Fédération",
             volet="ANX-FED"),
    ],
    "engagements": [
        dict(code="O1", axe="P1.1", libelle="Accompagner 200 femmes vers l'emploi d'ici 2030",
             nature="Objectif opérationnel"),
        dict(code="A1", axe="P1.1", parent="O1", libelle="Ouvrir une crèche à vocation d'insertion professionnelle",
             nature="Exemple d'action"),
        dict(code="E1", axe="P1.1", libelle="Mobiliser le service public de l'emploi dans le quartier",
             porteurs=["ETAT-DDETS"], formule="[État – DDETS]", nature="Engagement"),
        dict(code="E2", axe="P1.2", libelle="Organiser un forum de l'emploi chaque année",
             porteurs=["MGS", "V-BLD"], formule="L'agglomération et la Ville s'engagent à :", nature="Engagement"),
        dict(code="E3", axe="P2.1", libelle="Financer deux postes de médiateurs", porteurs=["V-BLD"],
             nature="Engagement"),
        dict(code="R1", axe="P2.1", libelle="Les bailleurs sociaux renforcent la présence de gardiens",
             nature="Orientation attendue des autres signataires"),
        dict(code="C1", axe="CE1", libelle="Scolariser les enfants de moins de trois ans", nature="Objectif opérationnel"),
        dict(code="C2", axe="CE2", libelle="Ouvrir l'école aux parents", porteurs=["ETAT"], nature="Engagement"),
        dict(code="C3", axe="CE3", libelle="Un stage de troisième pour chaque collégien", nature="Exemple d'action"),
        dict(code="F1", axe="FED1", libelle="Maintenir une permanence de la CAF", porteurs=["CAF55"],
             nature="Engagement"),
    ],
    "cadres": [],
    "indicateurs": [
        dict(code="DEFM-F", libelle="Demandeuses d'emploi accompagnées", unite="nombre", sens="hausse",
             periodicite="annuelle", niveau="QPV", agregation="somme", source="France Travail",
             signataire="ETAT-DDETS", engagements=["E1"]),
        dict(code="MEDIATEURS", libelle="Médiateurs en poste", unite="nombre", sens="hausse", periodicite="annuelle",
             niveau="Territoire", agregation="somme", signataire="V-BLD", engagements=["E3"]),
    ],
    "references": [dict(indicateur="DEFM-F", perimetre=QPV, annee=2023, valeur=180),
                   dict(indicateur="DEFM-F", perimetre=VEILLE, annee=2023, valeur=45),
                   dict(indicateur="MEDIATEURS", perimetre="MGS", annee=2023, valeur=0)],
    "cibles": [dict(indicateur="DEFM-F", perimetre="MGS", annee=2030, valeur=400),
               dict(indicateur="MEDIATEURS", perimetre="MGS", annee=2030, valeur=2)],
}


def ecrire(dossier: Path, donnees: dict | None = None, nom: str = "meuse-grand-sud.xlsx") -> Path:
    """Le classeur du protocole (ou de `donnees`, une variante), écrit comme le remplirait la coordination."""
    chemin = Path(dossier) / nom
    ecrire_classeur(chemin, DONNEES if donnees is None else donnees)
    return chemin
