"""La marque des fonctions du cœur ouvertes sans droits particuliers (l'autre marque, `@operation`, est dans `droits`)."""
from __future__ import annotations

from typing import Callable, TypeVar

F = TypeVar("F", bound=Callable)
def ouverte(raison: str) -> Callable[[F], F]:
    """Marque une fonction du cœur ouverte sans droits particuliers, et dit pourquoi (se connecter, par exemple, se
    fait avant d'avoir un utilisateur). Le test de complétude des droits exige l'une de ces deux marques."""
    def decorer(fn: F) -> F:
        fn.__operation__ = None
        fn.__ouverte__ = raison
        return fn
    return decorer
