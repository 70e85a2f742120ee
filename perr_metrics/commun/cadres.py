"""Les cadres nationaux auxquels les protocoles rattachent leurs axes et engagements (voir shared/reference)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Cadre:
    code: str
    referentiel: str
    libelle: str


MOBILISATION = "Mobilisation nationale pour les habitants des quartiers"
FEUILLE_DE_ROUTE = "Feuille de route du 18 juillet 2018"
DIJON = "Pacte de Dijon"
PAQTE = "PAQTE"

CADRES_NATIONAUX: tuple[Cadre, ...] = (
    Cadre("MOB-DROITS", MOBILISATION, "Garantir les mêmes droits aux habitants"),
    Cadre("MOB-EMANCIPATION", MOBILISATION, "Favoriser l'émancipation"),
    Cadre("MOB-REPUBLIQUE", MOBILISATION, "Faire République"),
    Cadre("FDR-SECURITE", FEUILLE_DE_ROUTE, "Sécurité"),
    Cadre("FDR-EDUCATION", FEUILLE_DE_ROUTE, "Éducation"),
    Cadre("FDR-EMPLOI", FEUILLE_DE_ROUTE, "Emploi"),
    Cadre("FDR-LOGEMENT", FEUILLE_DE_ROUTE, "Logement"),
    Cadre("FDR-LIEN-SOCIAL", FEUILLE_DE_ROUTE, "Lien social"),
    Cadre("DIJON-1", DIJON, "Développement économique, emploi et excellence numérique"),
    Cadre("DIJON-2", DIJON, "Habitat et renouvellement urbain"),
    Cadre("DIJON-3", DIJON, "Mobilités quotidiennes"),
    Cadre("DIJON-4", DIJON, "Jeunesse, éducation, formation, insertion"),
    Cadre("DIJON-5", DIJON, "Action sociale, santé, familles monoparentales, tranquillité publique et justice"),
    Cadre("PAQTE-SENSIBILISER", PAQTE, "Sensibiliser"),
    Cadre("PAQTE-FORMER", PAQTE, "Former"),
    Cadre("PAQTE-RECRUTER", PAQTE, "Recruter"),
    Cadre("PAQTE-ACHETER", PAQTE, "Acheter"),
)
