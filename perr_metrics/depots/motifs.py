"""Les motifs des valeurs manquantes : un partenaire qui ne peut pas donner une valeur le dit, avec sa raison.

Dans le modèle de dépôt, la colonne « Motif » (liste déroulante) à côté de « Valeur » ; dans une table longue, la colonne
`motif`. Une ligne sans valeur mais avec un motif est gardée avec le dépôt (table `valeur_motif`, jamais dans `valeur` :
un motif n'est jamais pris pour un zéro) ; la complétude la compte « expliquée », à part des valeurs reçues et des
manquantes ; la fiche indicateur et le rapport annuel la montrent à côté de l'indicateur.

Quel motif fait foi : pour un (indicateur, périmètre, période), celui du dépôt le plus récent qui n'est pas « à
corriger », **tant qu'aucune valeur reçue ne fait foi** — une valeur reçue, même plus ancienne, l'emporte sur un motif.
"""
from __future__ import annotations

import pandas as pd

from perr_metrics.acces.droits import operation
from perr_metrics.commun.formats import normaliser_entete
from perr_metrics.stockage.magasin import Store

MOTIFS = ("donnée non disponible", "secret statistique", "non concerné", "autre")
AUTRE = "autre"
_NORMES = {normaliser_entete(m): m for m in MOTIFS}


def normaliser_motif(v) -> str | None:
    """Le motif canonique (`Secret statistique` → `secret statistique`, sans tenir compte des accents ni de la casse) ;
    None s'il n'est pas de la liste."""
    return _NORMES.get(normaliser_entete(str(v)))


# Le motif le plus récent de chaque (indicateur, périmètre, période), parmi les dépôts qui ne sont pas « à corriger ».
# Paramètre nommé : $protocole.
SQL_MOTIFS_COURANTS = """
    SELECT indicateur, perimetre, periode, annee, motif, commentaire AS motif_commentaire, depot_id AS motif_depot_id
    FROM (SELECT m.*, row_number() OVER (PARTITION BY m.indicateur, m.perimetre, m.periode
                                         ORDER BY m.depot_id DESC) AS rang
          FROM valeur_motif m JOIN depot d ON d.id = m.depot_id AND d.protocole = m.protocole
          WHERE m.protocole = $protocole AND d.statut <> 'à corriger')
    WHERE rang = 1
"""


@operation("consulter_pilotage")
def motifs_courants(store: Store, protocole: str, annee: int | None = None,
                    indicateur: str | None = None) -> pd.DataFrame:
    """Les valeurs attendues que les partenaires ont déclarées non données, avec leur motif, là où aucune valeur reçue
    ne fait foi : `indicateur, libelle, unite, perimetre, perimetre_libelle, periode, annee, motif,
    motif_commentaire, motif_depot_id, signataire, fichier_nom, depose_le`. Pour la fiche indicateur et le rapport
    annuel (une ligne par valeur expliquée)."""
    return store.lire(lambda con: con.execute(f"""
        WITH m AS ({SQL_MOTIFS_COURANTS})
        SELECT m.indicateur, i.libelle, i.unite, m.perimetre, p.libelle AS perimetre_libelle, m.periode, m.annee,
               m.motif, m.motif_commentaire, m.motif_depot_id, d.signataire, d.fichier_nom, d.depose_le
        FROM m JOIN depot d ON d.id = m.motif_depot_id
        LEFT JOIN indicateur i ON i.protocole = $protocole AND i.code = m.indicateur
        LEFT JOIN perimetre p ON p.protocole = $protocole AND p.code = m.perimetre
        WHERE ($annee IS NULL OR m.annee = $annee) AND ($indicateur IS NULL OR m.indicateur = $indicateur)
          AND NOT EXISTS (SELECT 1 FROM valeur v JOIN depot dv ON dv.id = v.depot_id
                          WHERE v.protocole = $protocole AND dv.statut <> 'à corriger'
                            AND v.indicateur = m.indicateur AND v.perimetre = m.perimetre AND v.periode = m.periode)
        ORDER BY i.ordre, m.perimetre, m.periode
    """, {"protocole": protocole, "annee": annee, "indicateur": indicateur}).df())
