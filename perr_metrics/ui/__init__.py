"""La colle Streamlit : le seul endroit du projet qui importe Streamlit.

Les pages (pages/*.py) et dashboard.py appellent ce paquet et le cœur, et n'écrivent jamais de SQL ; le cœur ignore
Streamlit. Le paquet possède ce qui n'existe que dans le serveur web :

- `magasin` : le magasin partagé du serveur, la signature du fichier de base, les lectures en cache (`lire`,
  `vider_cache`), au nom de l'utilisateur connecté (`utilisateur`, `store`) ;
- `erreurs` : `protections()`, qui change toute exception en message français (jamais de trace à l'écran) ;
- `session` : ouverture, reprise (cookie), expiration et fermeture d'une session ; authentification unique ;
- `navigation` : préparation de la base au démarrage, pages du menu selon le rôle, bandeau, `garde_page` ;
- `selecteurs` : protocole, période, signataire, quartier, indicateur, nœud (gardés dans l'adresse), téléversement ;
- `affichage` : tableaux, textes formatés, échappement du Markdown, bandeau de démonstration, rapport de contrôle ;
- `graphiques` : palette, barres, graphique avec ses données et leurs téléchargements.

Les pages n'importent que le paquet (`from perr_metrics import ui` ; `ui.lire(...)`) : les noms ci-dessous en sont
l'interface. Remplacer l'un d'eux sur le paquet (un banc, un test) ne change pas les appels faits depuis les modules
du paquet eux-mêmes : remplacer aussi l'attribut du module qui le définit (`ui.magasin.lire`).
"""
from __future__ import annotations

from perr_metrics.ui.affichage import (LIGNE_A_LA_LIGNE, afficher_rapport, bandeau_demonstration, date_heure_texte,
                                       date_texte, echapper,
                                       nombre, periode_texte, points_texte, pourcent_signe_texte, tableau,
                                       tableau_liens, valeur_texte)
from perr_metrics.ui.erreurs import protections
from perr_metrics.ui.graphiques import (CONFIG_PLOTLY, COULEURS_ETAT, COULEURS_STATUT, PALETTE, abreger, barres,
                                        barres_empilees, graphique, telechargements)
from perr_metrics.ui.magasin import (GARDE_PAR_DEFAUT, _store, lire, signature_base, store, utilisateur,
                                     vider_cache)
from perr_metrics.ui.navigation import (PAGES, bandeau_utilisateur, garde_page, message_page_introuvable, navigation,
                                        pages_du_role, preparer_base)
from perr_metrics.ui.selecteurs import (_synchro, aller_au_noeud, choisir_indicateur, choisir_noeud, choisir_periode,
                                        choisir_protocole, choisir_qpv, choisir_signataire, choisir_signataire_tous,
                                        entete_protocole, selecteur_pilote, selection_et_periode, televersement)
from perr_metrics.ui.session import (COOKIE, COOKIE_DEMANDE, DUREE_MAX, INACTIVITE, fermer_session, fournisseur_sso,
                                     nom_fournisseur, ouvrir_session, sso_connecte, verifier_session)

__all__ = [
    # magasin
    "GARDE_PAR_DEFAUT", "lire", "signature_base", "store", "utilisateur", "vider_cache",
    # erreurs
    "protections",
    # session
    "COOKIE", "COOKIE_DEMANDE", "DUREE_MAX", "INACTIVITE", "fermer_session", "fournisseur_sso", "nom_fournisseur",
    "ouvrir_session", "sso_connecte", "verifier_session",
    # navigation
    "PAGES", "bandeau_utilisateur", "garde_page", "message_page_introuvable", "navigation", "pages_du_role",
    "preparer_base",
    # sélecteurs
    "aller_au_noeud", "choisir_indicateur", "choisir_noeud", "choisir_periode", "choisir_protocole", "choisir_qpv",
    "choisir_signataire", "choisir_signataire_tous", "entete_protocole", "selecteur_pilote", "selection_et_periode",
    "televersement",
    # affichage
    "LIGNE_A_LA_LIGNE", "afficher_rapport", "bandeau_demonstration", "date_heure_texte", "date_texte", "echapper",
    "nombre",
    "periode_texte", "points_texte", "pourcent_signe_texte", "tableau", "tableau_liens", "valeur_texte",
    # graphiques
    "CONFIG_PLOTLY", "COULEURS_ETAT", "COULEURS_STATUT", "PALETTE", "abreger", "barres", "barres_empilees", "graphique",
    "telechargements",
    # privés, employés par des pages (`_synchro`) et par le banc des pages (`_store`)
    "_store", "_synchro",
]
