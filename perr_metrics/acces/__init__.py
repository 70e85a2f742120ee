"""Qui agit, et ce qu'il a le droit de faire : comptes, droits, journal, sauvegarde.

- `droits` : les rôles, la matrice des droits, le décorateur `@operation` que porte chaque opération du cœur ;
- `comptes` : comptes, mots de passe (argon2id), connexion, blocage, authentification unique, comptes de démonstration ;
- `journal` : qui a fait quoi et quand, écrit dans la transaction de chaque opération ;
- `sauvegarde` : sauvegarde et restauration de toute la base (administrateur), consignées au journal ;
- `incidents` : les erreurs inattendues, une référence à citer, le détail au journal des erreurs et au journal.

Importe `perr_metrics.stockage` et `perr_metrics.commun`, rien d'autre.
"""
