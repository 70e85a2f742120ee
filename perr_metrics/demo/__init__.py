"""Les données de démonstration et d'essai.

- `demonstration` : les protocoles réels de Troyes et de Blois (data/demo/), leurs valeurs et états fictifs,
  déterministes, et un compte par rôle ;
- `nationale` : une base d'essai fictive à l'échelle régionale ou nationale, pour les bancs d'essai.

Importe les dépôts, le référentiel et les comptes ; rien ne l'importe dans le cœur, sinon la colle Streamlit (`ui`) et
la ligne de commande, qui chargent la démonstration.
"""
