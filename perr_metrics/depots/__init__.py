"""Les dépôts des partenaires : leurs fichiers de valeurs, du modèle pré-rempli à la valeur qui fait foi.

- `validation` : lecture et contrôle complet d'un fichier déposé (modèle ou table longue ; .xlsx, .ods, .csv) ;
- `modele` : le modèle de dépôt pré-rempli d'un signataire pour une période ;
- `depot` : l'écriture tout-ou-rien d'un dépôt avec les octets de son fichier, la revue, l'historique, la valeur qui fait
  foi et la complétude (qui devait envoyer quoi, qui est en retard).

Importe `perr_metrics.referentiel` et les couches au-dessous ; jamais le pilotage ni le rapport.
"""
