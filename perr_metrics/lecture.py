"""Lecture brute des classeurs et des CSV : chaque cellule telle qu'elle est, avec son adresse.

On lit avec python-calamine (bien plus rapide et sobre qu'openpyxl) et on fait l'interprétation nous-mêmes : un partenaire qui
a tapé `n/a` doit recevoir une réponse, pas un vide silencieux.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from python_calamine import CalamineWorkbook

from .formats import normaliser_entete

EXTENSIONS_CLASSEUR = (".xlsx", ".xlsm", ".xls", ".xlsb", ".ods")


class FichierIllisible(ValueError):
    """Le fichier n'a pas pu être ouvert ; le message dit pourquoi, en français."""


def lettre_colonne(indice: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    lettres = ""
    indice += 1
    while indice:
        indice, reste = divmod(indice - 1, 26)
        lettres = chr(65 + reste) + lettres
    return lettres


@dataclass
class Feuille:
    """Une feuille lue : `lignes[i][j]` est la cellule de la ligne i+1, colonne j+1 (adresses Excel)."""

    nom: str
    lignes: list[list] = field(default_factory=list)
    visible: bool = True
    fusions: list = field(default_factory=list)

    def adresse(self, ligne: int, colonne: int) -> str:
        """Adresse Excel d'une cellule (indices à partir de 0) : `Feuille!C12`."""
        return f"{self.nom}!{lettre_colonne(colonne)}{ligne + 1}"


def _lire_csv_octets(donnees: bytes, nom: str) -> Feuille:
    for encodage in ("utf-8-sig", "cp1252"):
        try:
            texte = donnees.decode(encodage)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - cp1252 décode presque tout
        raise FichierIllisible(f"{nom} : encodage non reconnu (UTF-8 ou Windows-1252 attendu).")
    premiere = texte.split("\n", 1)[0]
    separateur = ";" if premiere.count(";") > premiere.count(",") else ","
    lignes = [list(l) for l in csv.reader(io.StringIO(texte, newline=""), delimiter=separateur)]
    return Feuille(nom=nom, lignes=lignes)


def lire_classeur(source: str | Path | bytes, nom_fichier: str | None = None) -> dict[str, Feuille]:
    """Toutes les feuilles d'un classeur (.xlsx, .xlsm, .ods…), d'un CSV, ou d'un dossier de CSV (une feuille par fichier).

    Renvoie un dictionnaire nom de feuille → `Feuille`, dans l'ordre du classeur.
    """
    if isinstance(source, (str, Path)) and Path(source).is_dir():
        feuilles = {}
        for chemin in sorted(Path(source).glob("*.csv")):
            feuilles[chemin.stem] = _lire_csv_octets(chemin.read_bytes(), chemin.stem)
        if not feuilles:
            raise FichierIllisible(f"Le dossier {source} ne contient aucun fichier .csv.")
        return feuilles
    if isinstance(source, (str, Path)):
        nom_fichier = nom_fichier or Path(source).name
        try:
            donnees = Path(source).read_bytes()
        except OSError as exc:
            raise FichierIllisible(f"Impossible de lire {source} : {exc.strerror or exc}.") from exc
    else:
        donnees = source
        nom_fichier = nom_fichier or "fichier"
    if not donnees:
        raise FichierIllisible(f"Le fichier {nom_fichier} est vide.")
    extension = Path(nom_fichier).suffix.lower()
    if extension == ".csv":
        return {Path(nom_fichier).stem: _lire_csv_octets(donnees, Path(nom_fichier).stem)}
    try:
        classeur = CalamineWorkbook.from_filelike(io.BytesIO(donnees))
    except Exception as exc:  # calamine lève plusieurs types selon le format
        raise FichierIllisible(_message_illisible(nom_fichier, donnees, exc)) from exc
    feuilles = {}
    try:
        visibilites = {m.name: str(m.visible).lower().endswith("visible") for m in classeur.sheets_metadata}
        for nom in classeur.sheet_names:
            feuille = classeur.get_sheet_by_name(nom)
            lignes = feuille.to_python(skip_empty_area=False)
            feuilles[nom] = Feuille(
                nom=nom, lignes=[list(l) for l in lignes], visible=visibilites.get(nom, True),
                fusions=list(feuille.merged_cell_ranges or []),
            )
    except Exception as exc:
        raise FichierIllisible(_message_illisible(nom_fichier, donnees, exc)) from exc
    finally:
        classeur.close()
    return feuilles


def _message_illisible(nom: str, donnees: bytes, exc: Exception) -> str:
    if donnees[:4] == b"%PDF":
        return f"{nom} est un PDF, pas un classeur : déposez le fichier Excel (.xlsx) ou LibreOffice (.ods)."
    if donnees[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" and "password" in str(exc).lower():
        return f"{nom} est protégé par un mot de passe : enregistrez-le sans mot de passe puis déposez-le à nouveau."
    if "password" in str(exc).lower() or type(exc).__name__ == "PasswordError":
        return f"{nom} est protégé par un mot de passe : enregistrez-le sans mot de passe puis déposez-le à nouveau."
    return (f"{nom} n'a pas pu être lu comme un classeur (.xlsx, .ods) : il est peut-être abîmé ou d'un autre format. "
            "Ouvrez-le dans votre tableur et enregistrez-le à nouveau au format .xlsx.")


def trouver_feuille(feuilles: dict[str, Feuille], *noms: str) -> Feuille | None:
    """La feuille dont le nom correspond à l'un des noms (sans tenir compte des accents, de la casse ni des espaces)."""
    voulus = {normaliser_entete(n).replace(" ", "") for n in noms}
    for nom, feuille in feuilles.items():
        if normaliser_entete(nom).replace(" ", "") in voulus:
            return feuille
    return None


def est_vide(cellule) -> bool:
    return cellule is None or (isinstance(cellule, str) and not cellule.strip())
