"""Un petit référentiel valide, écrit en vrai classeur .xlsx, que les tests abîment à volonté.

Il exerce ce que les protocoles réels font varier : deux contrats de ville, un QPV sur deux communes, un territoire de
veille active, un service de l'État, un engagement porté par deux signataires, un arbre à trois niveaux, un taux.
"""
from __future__ import annotations

import copy
from pathlib import Path

from perr_metrics.referentiel.classeur import ecrire_classeur

REFERENTIEL_MINIMAL = {
    "protocole": [dict(code="EQ2030-TEST", titre="Engagements Quartiers 2030 — territoire d'essai",
                       territoire="Établissement public territorial d'essai", code_territoire="EPT-TEST",
                       annee_debut=2024, annee_fin=2030, date_signature=None, geographie="2024",
                       demonstration=False, description="Protocole d'essai des tests.")],
    "contrats": [dict(code="CV-A", libelle="Contrat de ville de la commune A"),
                 dict(code="CV-B", libelle="Contrat de ville de la commune B")],
    "communes": [dict(insee="93001", nom="Commune A", contrat="CV-A"),
                 dict(insee="93002", nom="Commune B", contrat="CV-B")],
    "quartiers": [dict(code="QN09301A", libelle="Quartier des Deux Rives", type="QPV", communes=["93001", "93002"]),
                  dict(code="QN09302B", libelle="Cité Haute", type="QPV", communes=["93002"]),
                  dict(code="VA-GARE", libelle="Secteur de la gare", type="Veille active", communes=["93001"])],
    "signataires": [dict(code="ETAT", nom="État", categorie="État", signe=True),
                    dict(code="ETAT-DDSP", nom="État – DDSP", categorie="Service de l'État", rattache_a="ETAT",
                         signe=False),
                    dict(code="EPT", nom="EPT d'essai", categorie="EPT", signe=True),
                    dict(code="V-A", nom="Commune A", categorie="Commune", signe=True, insee="93001"),
                    dict(code="CAF93", nom="CAF", categorie="CAF", signe=True)],
    "axes": [dict(code="1", niveau="Axe", libelle="Garantir les mêmes droits", cadres=["MOB-DROITS"]),
             dict(code="1.1", parent="1", niveau="Thématique", libelle="Tranquillité publique", cadres=["FDR-SECURITE"]),
             dict(code="1.1.1", parent="1.1", niveau="Objectif opérationnel", libelle="Présence policière"),
             dict(code="2", niveau="Axe", libelle="Favoriser l'émancipation", cadres=["MOB-EMANCIPATION"])],
    "engagements": [dict(code="E1", axe="1.1", libelle="Renforcer la présence des services publics",
                         porteurs=["ETAT", "CAF93"], formule="L'État et la CAF s'engagent à :", levier="CLS",
                         echeance="2026"),
                    dict(code="E2", axe="1.1.1", parent="E1", libelle="Augmenter les patrouilles pédestres",
                         porteurs=["ETAT-DDSP"], formule="[État – DDSP]"),
                    dict(code="E3", axe="2", libelle="Doubler le nombre d'apprentis", porteurs=["EPT", "V-A"],
                         cadres=["PAQTE-FORMER"])],
    "cadres": [],
    "indicateurs": [
        dict(code="PATROUILLES", libelle="Patrouilles pédestres", unite="nombre", sens="hausse",
             periodicite="annuelle", niveau="QPV", agregation="somme", source="DDSP", signataire="ETAT-DDSP",
             engagements=["E2"], minimum=0, maximum=5000),
        dict(code="APPRENTIS", libelle="Apprentis résidant en QPV", unite="nombre", sens="hausse",
             periodicite="semestrielle", niveau="QPV", agregation="somme", signataire="EPT", engagements=["E3"]),
        dict(code="JEUNES", libelle="Jeunes de 16 à 25 ans", unite="nombre", sens="hausse", periodicite="annuelle",
             niveau="QPV", agregation="somme", signataire="EPT"),
        dict(code="TAUX-APPRENTIS", libelle="Part des jeunes en apprentissage", unite="%", sens="hausse",
             periodicite="annuelle", niveau="QPV", agregation="taux", numerateur="APPRENTIS",
             denominateur="JEUNES", signataire="EPT", engagements=["E3"], minimum=0, maximum=100),
        dict(code="DELAI", libelle="Délai moyen d'ouverture des droits", unite="jours", sens="baisse",
             periodicite="annuelle", niveau="Territoire", agregation="non agrégeable", signataire="CAF93",
             engagements=["E1"]),
    ],
    "references": [dict(indicateur="PATROUILLES", perimetre="QN09301A", annee=2023, valeur=120),
                   dict(indicateur="PATROUILLES", perimetre="QN09302B", annee=2023, valeur=80),
                   dict(indicateur="TAUX-APPRENTIS", perimetre="QN09301A", annee=2023, valeur=4.5),
                   dict(indicateur="DELAI", perimetre="EPT-TEST", annee=2023, valeur=31.5)],
    "cibles": [dict(indicateur="PATROUILLES", perimetre="QN09301A", annee=2030, valeur=240),
               dict(indicateur="PATROUILLES", perimetre="QN09301A", annee=2026, valeur=160),
               dict(indicateur="TAUX-APPRENTIS", perimetre="QN09301A", annee=2030, valeur=9),
               dict(indicateur="DELAI", perimetre="EPT-TEST", annee=2030, valeur=20)],
}


def donnees(**modifs) -> dict:
    """Une copie profonde du référentiel minimal, avec des feuilles remplacées."""
    d = copy.deepcopy(REFERENTIEL_MINIMAL)
    d.update(modifs)
    return d


def ecrire(dossier: Path, d: dict | None = None, nom: str = "referentiel.xlsx") -> Path:
    chemin = Path(dossier) / nom
    ecrire_classeur(chemin, d if d is not None else REFERENTIEL_MINIMAL)
    return chemin
