"""Le référentiel d'un protocole : ce qui est promis, par qui, mesuré comment, où.

- `classeur` : le classeur du référentiel (lecture, contrôles de chaque cellule, import tout-ou-rien, export, modèle
  vierge) ; `docs/referentiel.md` le décrit feuille par feuille ;
- `requetes` : les lectures du référentiel que tout le reste emploie (protocoles, signataires, indicateurs,
  arborescence, engagements, périmètres), et les sessions de lecture.

Importe `perr_metrics.acces`, `perr_metrics.stockage` et `perr_metrics.commun`.
"""
