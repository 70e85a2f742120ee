"""Le stockage : le seul endroit qui ouvre la base, fichier DuckDB ou lac DuckLake.

- `magasin` : `Store` (connexion, lectures, transactions d'écriture, base gardée ouverte par le tableau de bord et
  cédée au processus qui l'attend), le schéma et ses migrations, la sauvegarde et la restauration brutes (au même format
  pour les deux moteurs) ;
- `lac` : ce qui diffère sur un lac DuckLake (catalogue PostgreSQL, données Parquet partagées) : la connexion du
  processus, le schéma sans contraintes, le jeton des écritures et leurs essais en cas de conflit ;
- `erreurs` : les erreurs des deux moteurs (base occupée, modifiée en même temps, illisible), en français.

N'importe rien du projet, sinon `perr_metrics.commun` : les droits et le journal, qui s'appuient sur lui, sont au-dessus
(`perr_metrics.acces`). Rien au-dessus ne sait sur quel moteur il tourne.
"""
