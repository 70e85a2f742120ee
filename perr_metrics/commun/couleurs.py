"""Les couleurs communes au tableau de bord et au rapport annuel, sans dépendance à Streamlit.

Palette d'Okabe et Ito, lisible par les daltoniens ; une couleur fixe par statut d'avancement et par état d'engagement, si
bien qu'un « en retard » a la même couleur à l'écran, dans le PDF et dans le document Word. La couleur ne porte jamais
seule l'information : le statut est toujours écrit à côté.
"""
from __future__ import annotations

PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
COULEURS_STATUT = {"atteint": "#009E73", "en bonne voie": "#56B4E9", "en retard": "#D55E00",
                   "non renseigné": "#BBBBBB", "sans cible": "#E69F00"}
COULEURS_ETAT = {"non démarré": "#BBBBBB", "en cours": "#56B4E9", "réalisé": "#009E73", "reporté": "#E69F00",
                 "abandonné": "#D55E00"}
#: Un engagement dont personne n'a saisi l'état : plus pâle que « non démarré », qui est une information.
COULEUR_ETAT_NON_RENSEIGNE = "#E6E6E6"
#: La complétude des dépôts d'un signataire (page « Suivi des dépôts » et rapport).
COULEURS_COMPLETUDE = {"complet": "#009E73", "partiel": "#E69F00", "aucune donnée": "#D55E00"}
