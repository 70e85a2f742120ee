"""Sauvegarde et restauration de toute la base, réservées à l'administrateur et consignées au journal.

La copie elle-même (EXPORT DATABASE en Parquet, reconstruction à côté puis substitution d'un coup) est l'affaire du
magasin (`Store.exporter`, `Store.remplacer_par`) ; ce module y ajoute le contrôle des droits et la trace.
"""
from __future__ import annotations

import os
from pathlib import Path

from perr_metrics.stockage.magasin import Store

from . import journal
from .droits import operation, utilisateur_de


@operation("sauvegarder", instance=True)
def sauvegarder(store: Store, dossier: str | os.PathLike) -> Path:
    """Écrit toute la base (schéma et données, octets des fichiers déposés compris) dans un dossier Parquet neuf. La
    ligne de journal de la sauvegarde y figure."""
    u = utilisateur_de(store)
    dossier = Path(dossier)
    if dossier.exists() and not dossier.is_dir():
        raise ValueError(f"{dossier} est un fichier, pas un dossier : choisissez un dossier neuf pour la sauvegarde.")
    if dossier.exists() and any(dossier.iterdir()):
        raise ValueError(f"Le dossier de sauvegarde {dossier} n'est pas vide : choisissez un dossier neuf.")
    store.ecrire(lambda con: journal.noter(con, u, "sauvegarde", objet=str(dossier)))
    return store.exporter(dossier)


@operation("sauvegarder", instance=True)
def restaurer(store: Store, dossier: str | os.PathLike) -> int:
    """Remplace la base par une sauvegarde ; rend la version du schéma après migration."""
    u = utilisateur_de(store)
    version = store.remplacer_par(dossier)
    store.ecrire(lambda con: journal.noter(con, u, "restauration", objet=str(dossier)))
    return version
