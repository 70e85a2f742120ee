"""Le pilotage : ce que lit le COPIL, calculé à partir du référentiel et des valeurs qui font foi.

- `avancement` : le modèle d'avancement (statuts, trajectoires, agrégation au territoire, score par nœud ;
  `docs/avancement.md`) ;
- `vues` : les lectures des pages de pilotage (vue d'ensemble, par axe, fiche d'un indicateur, provenance) ;
- `suivi` : l'état des engagements, son historique, le bilan d'un signataire ;
- `geo` : les contours des QPV (GeoJSON de l'ANCT), la carte et la comparaison d'un quartier ;
- `publication` : la vue publique (indicateurs publiés, ouverture).

Importe `perr_metrics.depots` et les couches au-dessous.
"""
