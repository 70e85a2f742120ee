"""Les problèmes trouvés dans un fichier : des données, avec un code stable, une position et un message en français.

Les codes sont documentés dans docs/erreurs.md (un test vérifie que chaque code y figure).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

ERREUR = "erreur"
AVERTISSEMENT = "avertissement"


@dataclass(frozen=True)
class Probleme:
    code: str
    message: str
    feuille: str = ""
    cellule: str = ""          # « Engagements!C12 », ou « Engagements » pour une feuille entière
    valeur: str = ""
    niveau: str = ERREUR

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Rapport:
    """Résultat d'une validation : tous les problèmes d'un coup (plafonné), jamais une exception au premier."""

    problemes: list[Probleme] = field(default_factory=list)
    plafond: int = 1000
    tronque: bool = False
    stats: dict = field(default_factory=dict)

    def ajouter(self, code: str, message: str, feuille: str = "", cellule: str = "", valeur=None,
                niveau: str = ERREUR) -> None:
        if len(self.problemes) >= self.plafond:
            self.tronque = True
            return
        if isinstance(valeur, float) and valeur.is_integer():
            valeur = int(valeur)
        texte = "" if valeur is None else (valeur.isoformat() if hasattr(valeur, "isoformat") else str(valeur))
        if len(texte) > 200:
            texte = texte[:197] + "…"
        self.problemes.append(Probleme(code, message, feuille, cellule, texte, niveau))

    @property
    def erreurs(self) -> list[Probleme]:
        return [p for p in self.problemes if p.niveau == ERREUR]

    @property
    def avertissements(self) -> list[Probleme]:
        return [p for p in self.problemes if p.niveau == AVERTISSEMENT]

    @property
    def valide(self) -> bool:
        return not self.erreurs

    def aplatir(self) -> list[tuple[str, str]]:
        """`[("Engagements!C12", "porteur-inconnu"), …]` : la forme sur laquelle les tests comparent."""
        return [(p.cellule, p.code) for p in self.problemes]

    def lignes(self) -> list[dict]:
        """Une ligne par problème, avec les en-têtes que montrent la page, la ligne de commande et le JSON."""
        return [
            {"niveau": p.niveau, "feuille": p.feuille, "cellule": p.cellule, "code": p.code,
             "valeur": p.valeur, "message": p.message}
            for p in self.problemes
        ]

    def texte(self) -> str:
        """Le rapport en lignes lisibles pour un terminal."""
        lignes = []
        for p in self.problemes:
            ou = p.cellule or p.feuille or "fichier"
            prefixe = "Erreur" if p.niveau == ERREUR else "Avertissement"
            lignes.append(f"{prefixe} [{p.code}] {ou} : {p.message}")
        if self.tronque:
            lignes.append(f"… et d'autres problèmes (seuls les {self.plafond} premiers sont listés).")
        return "\n".join(lignes)


class ImportRefuse(Exception):
    """Un fichier refusé : porte le rapport complet. Rien n'a été écrit."""

    def __init__(self, rapport: Rapport):
        self.rapport = rapport
        n = len(rapport.erreurs)
        super().__init__(f"{n} erreur{'s' if n > 1 else ''}, rien n'a été importé.")
