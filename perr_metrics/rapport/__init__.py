"""Le rapport annuel d'évaluation d'un protocole, tiré de la base, en PDF, en Word (.docx) et en Excel (.xlsx).

Chaque protocole est évalué chaque année avant le COPIL. Le rapport est **construit une fois** sous une forme neutre
(`construire_rapport` → `Rapport` : des sections, des paragraphes, des tableaux en DataFrame aux en-têtes français, des
graphiques Plotly avec leur texte de remplacement), puis **rendu trois fois** :

- `ecrire_pdf` : le rapport en JSON mis en pages par Typst (gabarit perr_metrics/rapport/gabarit/rapport.typ), A4,
  sommaire avec numéros de page, PDF balisé, graphiques dessinés en SVG sans navigateur ;
- `ecrire_docx` : python-docx, titres en styles « Titre 1/2 » (Word construit le sommaire), en-têtes de tableaux répétés,
  images avec texte de remplacement, « Page X sur Y » en pied de page ;
- `ecrire_xlsx` : openpyxl, une feuille par tableau et une feuille « Sommaire » ; les textes sont typés texte (jamais une
  formule).

Les chiffres viennent du cœur, jamais d'un calcul parallèle : statuts et valeurs d'`avancement`, complétude et dépôts de
`depots`, états des engagements de `suivi` ; les nombres et les dates s'écrivent par `formats` (1 234,5 ; 12,5 % ;
12 février 2021). Un graphique que le dessin SVG ne sait pas lire passe par kaleido (Chromium) ; sans lui, il est
remplacé par un encadré qui le dit : le rapport sort quand même.

Les modules, de bas en haut (contrat « rapport » de .importlinter) :

- `document` : la forme neutre (`Rapport`, `Section`, `Paragraphe`, `Liste`, `Chiffres`, `Tableau`, `Graphique`), les
  constantes partagées (`FORMATS`, `TYPES_MIME`, `ETATS`, `MENTION_DEMO`…), `RapportImpossible` et les petites écritures
  à la française (`typographie`…) ;
- `donnees` : ce que le rapport lit, en une fois (`_charger` → `_Donnees`, et ses lectures SQL) ;
- `graphiques` : les figures Plotly (décrites en dictionnaires), leur dessin SVG (`rendre_images`), leurs PNG pour Word
  (`images_png`, par Typst) et, pour une figure que le dessin ne sait pas lire, kaleido (`DELAI_IMAGES`) ;
- `textes` : ce que la coordination écrit pour le rapport d'une année (synthèse, perspectives, renouvellement urbain) et
  les avis qu'elle y joint, versionnés, journalisés (`enregistrer_texte`, `joindre_avis`, `textes_du_rapport`…) ;
- `sources` : d'où vient chaque chiffre (« dépôt n° 47, CAF de l'Aube, 13 janvier 2023 ») et ce qu'en disent les
  partenaires ;
- `copil` : « L'essentiel pour le COPIL », la synthèse tirée des données (progrès, retards et leurs raisons, ce qui
  manque, questions), que le texte de la coordination remplace ;
- `decret` : les sections du décret n° 2015-1118 (rappel des orientations, situation des quartiers, actions menées,
  moyens mobilisés, résultats, perspectives, renouvellement urbain, avis des conseils citoyens) ;
- `contenu` : le rapport entier dans l'ordre du décret (synthèse, orientations, quartiers, actions, moyens, résultats
  et leurs axes, perspectives, renouvellement urbain, annexes : avis, signataires, méthode et sources) :
  `construire_rapport`, `apercu`, `synthese_proposee` ;
- `pdf` (`ecrire_pdf`, `rapport_typst`), `word` (`ecrire_docx`), `classeur` (`ecrire_xlsx`) : les trois rendus,
  indépendants les uns des autres ;
- ce paquet même : `ecrire` (un format), `fichiers` (plusieurs d'un coup), `generer` (construire et écrire), et les noms
  que la page, la ligne de commande et les tests emploient (`rapport.construire_rapport`, `rapport.FORMATS`…).

Importe `perr_metrics.pilotage`, `perr_metrics.depots`, `perr_metrics.referentiel`, `perr_metrics.acces`,
`perr_metrics.stockage` et `perr_metrics.commun` ; jamais Streamlit : la page « Rapport annuel », la ligne de commande
et les tests l'appellent de la même façon.
"""
from __future__ import annotations

import io

from perr_metrics.stockage.magasin import Store
from perr_metrics.acces.droits import operation
# Les noms qu'emploient la page « Rapport annuel », la ligne de commande et les tests (`rapport.construire_rapport`…).
from .document import (COULEURS_ETATS, ETATS, FORMATS, MENTION_DEMO, NON_RENSEIGNE, ORDRE_ETATS, POLICE, SANS_STATUT,
                       TYPES_MIME, Chiffres, Graphique, Liste, Paragraphe, Rapport, RapportImpossible, Section, Tableau,
                       journal, typographie)
from .graphiques import images_png, rendre_images
from .contenu import (ANNEXE_AVIS, ANNEXE_METHODE, ANNEXE_SIGNATAIRES, Apercu, apercu, construire_rapport,
                      synthese_proposee)
from .textes import (AVIS, LIBELLES_TEXTES, PERSPECTIVES, RENOUVELLEMENT, SYNTHESE, TEXTES, Textes, enregistrer_texte,
                     fichier_avis, historique_textes, joindre_avis, retirer_avis, textes_du_rapport)
from .copil import blocs_du_texte
from .pdf import GABARIT, ecrire_pdf, rapport_typst
from .word import ecrire_docx
from .classeur import ecrire_xlsx
# Des noms internes que les tests emploient. Pour remplacer une fonction le temps d'un test, la remplacer dans son
# module (`perr_metrics.rapport.graphiques._rendre_kaleido`) : c'est là qu'elle est cherchée à chaque appel.
from .document import _ancre, _figure, _vide
from .donnees import (_au_perimetre_qpv, _charger, _completudes, _depots, _engagements, _etats_courants, _indicateurs,
                      _perimetres, _signataires)
from .contenu import (_donnees_indicateurs, _donnees_quartier, _engagements_de, _indicateurs_axe, _indicateurs_de,
                      _noms, _sections_annexes, _sections_quartiers, _tableau_depots, _tableau_engagements)
from .pdf import _e
from .classeur import _nom_feuille


# ====================================================================================================================
# Point d'entrée
# ====================================================================================================================

ECRIVAINS = {"pdf": ecrire_pdf, "docx": ecrire_docx, "xlsx": ecrire_xlsx}


def ecrire(rapport: Rapport, format: str, flux) -> None:
    """Écrit un rapport déjà construit dans le format demandé (`pdf`, `docx` ou `xlsx`)."""
    if format not in ECRIVAINS:
        raise RapportImpossible(f"Format « {format} » inconnu : pdf, docx ou xlsx.")
    ECRIVAINS[format](rapport, flux)


NOMS_FORMATS = {"pdf": "PDF", "docx": "document Word", "xlsx": "classeur Excel"}


def fichiers(rapport: Rapport, formats=FORMATS) -> tuple[dict[str, bytes], dict[str, str]]:
    """Écrit un rapport dans plusieurs formats d'un coup (les graphiques ne sont rendus qu'une fois). Renvoie
    `(contenus, erreurs)` : format → octets, et format → message en français pour un format qui n'a pas pu être écrit
    (les autres sortent quand même)."""
    contenus, erreurs = {}, {}
    for fmt in formats:
        flux = io.BytesIO()
        try:
            ecrire(rapport, fmt, flux)
        except RapportImpossible as exc:
            erreurs[fmt] = str(exc)
        except (ImportError, OSError) as exc:
            journal.exception("Rapport %s : format %s impossible", rapport.nom_fichier, fmt)
            erreurs[fmt] = (f"Le {NOMS_FORMATS.get(fmt, fmt)} ne peut pas être produit sur ce serveur : une bibliothèque "
                            f"manque ({type(exc).__name__} : {exc}). Les autres formats sont disponibles.")
        except Exception as exc:  # noqa: BLE001 - un format en échec ne doit pas priver des autres
            journal.exception("Rapport %s : échec du format %s", rapport.nom_fichier, fmt)
            erreurs[fmt] = (f"Le {NOMS_FORMATS.get(fmt, fmt)} n'a pas pu être écrit ({type(exc).__name__}) ; l'erreur "
                            "est consignée dans le journal du serveur.")
        else:
            contenus[fmt] = flux.getvalue()
    return contenus, erreurs


@operation("consulter_pilotage")
def generer(store: Store, protocole: str, annee: int | str, format: str, flux, *, au=None) -> Rapport:
    """Construit le rapport d'un protocole pour une année (engagements dans leur état au `au`, par défaut le 31
    décembre de l'année) et l'écrit dans `flux` (chemin ou fichier binaire) au format `pdf`, `docx` ou `xlsx`. Renvoie
    le rapport construit (pour en écrire d'autres formats sans tout refaire)."""
    if format not in ECRIVAINS:
        raise RapportImpossible(f"Format « {format} » inconnu : pdf, docx ou xlsx.")
    rapport = construire_rapport(store, protocole, annee, au=au)
    ecrire(rapport, format, flux)
    return rapport
