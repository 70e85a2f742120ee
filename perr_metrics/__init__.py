"""perr-metrics : le tableau de bord des protocoles d'engagements renforcés et réciproques des contrats de ville.

Le cœur (ce paquet) ne dépend pas de Streamlit : il sert la ligne de commande, les tests et les pages.
"""
__version__ = "0.1.0"
