"""Sauvegarde et restauration de toute la base, copie d'un moteur à l'autre (fichier ↔ lac DuckLake) et entretien,
réservés à l'administrateur et consignés au journal.

La copie elle-même (EXPORT DATABASE en Parquet, reconstruction par les migrations puis les données, substitution d'un
coup) est l'affaire du magasin (`Store.exporter`, `Store.remplacer_par`, `Store.entretenir`) ; ce module y ajoute le
contrôle des droits et la trace.
"""
from __future__ import annotations

import os
import tempfile
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


@operation("sauvegarder", instance=True)
def copier_vers(store: Store, cible: Store) -> int:
    """Copie toute la base dans `cible`, une base vide de l'autre moteur (un fichier dans un lac DuckLake, ou l'inverse) :
    sauvegarde dans un dossier temporaire, puis restauration dans la cible, d'un coup. La ligne de journal de la copie
    est écrite dans la base d'origine avant la copie : la cible l'a aussi. Rend la version du schéma de la cible."""
    u = utilisateur_de(store)
    occupee = cible.requete("SELECT (SELECT count(*) FROM protocole) + (SELECT count(*) FROM compte) "
                            "+ (SELECT count(*) FROM journal) AS n")["n"][0]
    if occupee:
        raise ValueError(f"La base {cible.chemin} n'est pas vide : la copie se fait dans une base neuve.")
    store.ecrire(lambda con: journal.noter(con, u, "copie de la base", objet=str(cible.chemin),
                                           detail="vers un lac DuckLake" if cible.est_lac else "vers un fichier"))
    with tempfile.TemporaryDirectory(prefix="perr-copie-") as dossier:
        store.exporter(Path(dossier) / "copie")
        return cible.remplacer_par(Path(dossier) / "copie")


@operation("sauvegarder", instance=True)
def entretenir(store: Store) -> None:
    """L'entretien de la base (`CHECKPOINT`) : sur un lac, petits fichiers regroupés, anciens instantanés expirés,
    fichiers qui ne servent plus effacés ; sur un fichier, son journal versé dans la base."""
    u = utilisateur_de(store)
    store.entretenir()
    store.ecrire(lambda con: journal.noter(con, u, "entretien", detail="CHECKPOINT"))
