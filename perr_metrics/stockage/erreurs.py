"""Les erreurs du stockage, communes aux deux moteurs (fichier DuckDB, lac DuckLake) ; leur message est en français et
s'affiche tel quel (page ou ligne de commande)."""
from __future__ import annotations

from pathlib import Path


class BaseOccupee(RuntimeError):
    """La base est tenue par un autre processus au-delà du délai d'attente."""

    def __init__(self, chemin: Path, delai: float):
        super().__init__(
            f"La base {chemin} est occupée par une autre opération (import en cours ?) depuis plus de "
            f"{delai:g} s. Réessayez dans un instant."
        )


class BaseModifiee(BaseOccupee):
    """Sur le lac : une écriture est restée en conflit avec d'autres, écrites en même temps, après tous ses essais.
    Rien n'en a été écrit."""

    def __init__(self, message: str):
        RuntimeError.__init__(self, message)


class ErreurBase(RuntimeError):
    """Fichier de base illisible, ou d'une version plus récente que l'application."""
