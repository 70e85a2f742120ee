"""Le stockage : le seul endroit qui ouvre la base DuckDB.

- `magasin` : `Store` (connexion, lectures, transactions d'écriture, base gardée ouverte par le tableau de bord et
  cédée au processus qui l'attend), le schéma et ses migrations, la copie brute pour la sauvegarde.

N'importe rien du projet, sinon `perr_metrics.commun` : les droits et le journal, qui s'appuient sur lui, sont au-dessus
(`perr_metrics.acces`). Un nouveau moteur de stockage se branche ici, derrière la même interface `Store`.
"""
