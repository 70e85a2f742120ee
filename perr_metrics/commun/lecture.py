"""Lecture brute des classeurs et des CSV : chaque cellule telle qu'elle est, avec son adresse.

On lit avec python-calamine (bien plus rapide et sobre qu'openpyxl) et on fait l'interprétation nous-mêmes : un partenaire qui
a tapé `n/a` doit recevoir une réponse, pas un vide silencieux.
"""
from __future__ import annotations

import csv
import re
import io
from dataclasses import dataclass, field
from pathlib import Path

from python_calamine import CalamineWorkbook

from .formats import normaliser_entete

EXTENSIONS_CLASSEUR = (".xlsx", ".xlsm", ".xls", ".xlsb", ".ods")


class FichierIllisible(ValueError):
    """Le fichier n'a pas pu être ouvert ; le message dit pourquoi, en français. `code` : le code d'erreur stable."""

    code = "fichier-illisible"

    def __init__(self, message: str, code: str | None = None):
        super().__init__(message)
        if code:
            self.code = code


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


def decoder_texte(donnees: bytes) -> str | None:
    """Le texte d'un fichier d'un tableur ou d'un traitement de texte : UTF-8 (avec ou sans BOM), sinon Windows-1252 ;
    None si aucun des deux ne convient."""
    for encodage in ("utf-8-sig", "cp1252"):
        try:
            return donnees.decode(encodage)
        except UnicodeDecodeError:
            continue
    return None  # pragma: no cover - cp1252 décode presque tout


def _lire_csv_octets(donnees: bytes, nom: str) -> Feuille:
    texte = decoder_texte(donnees)
    if texte is None:  # pragma: no cover
        raise FichierIllisible(f"{nom} : encodage non reconnu (UTF-8 ou Windows-1252 attendu).")
    premiere = texte.split("\n", 1)[0]
    separateur = ";" if premiere.count(";") > premiere.count(",") else ","
    lecteur = csv.reader(io.StringIO(texte, newline=""), delimiter=separateur)
    try:
        lignes = [list(l) for l in lecteur]
    except csv.Error as exc:
        # Le module csv refuse un champ de plus de 131 072 caractères (des guillemets jamais refermés, le plus souvent).
        raise FichierIllisible(f"{nom} n'a pas pu être lu comme un CSV (ligne {lecteur.line_num}) : un champ est "
                               "démesuré, sans doute des guillemets jamais refermés. Ouvrez-le dans votre tableur et "
                               "enregistrez-le à nouveau au format CSV.") from exc
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
    if est_protege_par_mot_de_passe(donnees):
        raise FichierIllisible(f"{nom_fichier} est protégé par un mot de passe : enregistrez-le sans mot de passe puis "
                               "déposez-le à nouveau.", "fichier-protege")
    verifier_archive(donnees, nom_fichier)
    try:
        classeur = CalamineWorkbook.from_filelike(io.BytesIO(donnees))
    except Exception as exc:  # calamine lève plusieurs types selon le format
        raise _illisible(nom_fichier, donnees, exc) from exc
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
        raise _illisible(nom_fichier, donnees, exc) from exc
    finally:
        classeur.close()
    return feuilles


def _illisible(nom: str, donnees: bytes, exc: Exception) -> FichierIllisible:
    """L'erreur à rapporter quand calamine n'a pas pu ouvrir le fichier, avec le bon code (protégé ou illisible)."""
    if donnees[:4] == b"%PDF":
        return FichierIllisible(f"{nom} est un PDF, pas un classeur : déposez le fichier Excel (.xlsx) ou LibreOffice "
                                "(.ods).")
    if "password" in str(exc).lower() or type(exc).__name__ == "PasswordError":
        return FichierIllisible(f"{nom} est protégé par un mot de passe : enregistrez-le sans mot de passe puis "
                                "déposez-le à nouveau.", "fichier-protege")
    return FichierIllisible(f"{nom} n'a pas pu être lu comme un classeur (.xlsx, .ods) : il est peut-être abîmé ou "
                            "d'un autre format. Ouvrez-le dans votre tableur et enregistrez-le à nouveau au format .xlsx.")


def trouver_feuille(feuilles: dict[str, Feuille], *noms: str) -> Feuille | None:
    """La feuille dont le nom correspond à l'un des noms (sans tenir compte des accents, de la casse ni des espaces)."""
    voulus = {normaliser_entete(n).replace(" ", "") for n in noms}
    for nom, feuille in feuilles.items():
        if normaliser_entete(nom).replace(" ", "") in voulus:
            return feuille
    return None


def est_vide(cellule) -> bool:
    return cellule is None or (isinstance(cellule, str) and not cellule.strip())


# --------------------------------------------------------------------------------------------------------------------
# Ce que calamine ne dit pas : formats pourcentage et formules sans valeur calculée
# --------------------------------------------------------------------------------------------------------------------

TAILLE_DECOMPRESSEE_MAX = 400 * 1024 * 1024   # au-delà, une archive .xlsx est une bombe, pas un tableau de bord
RATIO_COMPRESSION_MAX = 1000


class ArchiveSuspecte(FichierIllisible):
    code = "archive-suspecte"


def verifier_archive(donnees: bytes, nom: str) -> None:
    """Refuse une archive (.xlsx, .ods) qui se décompresserait démesurément (« bombe zip »), avant de l'ouvrir."""
    import zipfile

    if donnees[:2] != b"PK":
        return
    try:
        with zipfile.ZipFile(io.BytesIO(donnees)) as z:
            total = 0
            for info in z.infolist():
                total += info.file_size
                if info.compress_size and info.file_size / info.compress_size > RATIO_COMPRESSION_MAX \
                        and info.file_size > 50 * 1024 * 1024:
                    raise ArchiveSuspecte(f"{nom} se décompresserait en {info.file_size // 2**20} Mo à partir de "
                                          f"{max(info.compress_size // 1024, 1)} Ko : fichier refusé par précaution.")
            if total > TAILLE_DECOMPRESSEE_MAX:
                raise ArchiveSuspecte(f"{nom} se décompresserait en {total // 2**20} Mo : c'est bien plus qu'un "
                                      "tableau de valeurs ; fichier refusé par précaution.")
    except zipfile.BadZipFile:
        return  # calamine dira que le fichier est illisible


_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_BOF_CLASSEUR_BIFF8 = b"\x09\x08\x10\x00\x00\x06\x05\x00"   # enregistrement BOF (16 octets) du classeur .xls


def est_protege_par_mot_de_passe(donnees: bytes) -> bool:
    """Un .xlsx chiffré est un conteneur OLE qui porte un « EncryptedPackage » ; un .xls chiffré porte un enregistrement
    FILEPASS (0x002F) juste après le BOF du classeur. (calamine ne dit pas « mot de passe » pour un .xls lu en mémoire :
    il répond « format non reconnu ».)"""
    if donnees[:8] != _OLE:
        return False
    if "EncryptedPackage".encode("utf-16-le") in donnees:
        return True
    i = donnees.find(_BOF_CLASSEUR_BIFF8)
    return i >= 0 and donnees[i + 20:i + 22] == b"\x2f\x00"


_RE_CELLULE = re.compile(rb'<c r="([A-Z]+)(\d+)"([^>]*?)(/>|>(.*?)</c>)', re.S)
_RE_STYLE = re.compile(rb'\ss="(\d+)"')
_RE_TYPE = re.compile(rb'\st="([^"]*)"')


def inspecter_xlsx(donnees: bytes, feuille: str, colonnes: set[str],
                   jusqu_a: int | None = None) -> tuple[set[str], set[str]]:
    """Pour les colonnes données d'une feuille .xlsx : les cellules au format pourcentage, et les cellules à formule
    dont le classeur n'a pas gardé de valeur calculée. Adresses sans le nom de feuille (`F12`).

    `jusqu_a` : dernière ligne utile ; on s'arrête après (les lignes sont dans l'ordre), ce qui évite de parcourir un
    million de lignes vides mais mises en forme sous le tableau."""
    import posixpath
    import zipfile

    try:
        z = zipfile.ZipFile(io.BytesIO(donnees))
        classeur = z.read("xl/workbook.xml")
        liens = z.read("xl/_rels/workbook.xml.rels")
    except (zipfile.BadZipFile, KeyError):
        return set(), set()
    rid = None
    for m in re.finditer(rb"<sheet\b[^>]*>", classeur):
        balise = m.group(0)
        nom = re.search(rb'name="([^"]*)"', balise)
        if nom and _xml_texte(nom.group(1)) == feuille:
            r = re.search(rb'r:id="([^"]*)"', balise) or re.search(rb'\bid="([^"]*)"', balise)
            rid = r.group(1) if r else None
    if rid is None:
        return set(), set()
    cible = None
    for m in re.finditer(rb"<Relationship\b[^>]*>", liens):
        if re.search(rb'Id="' + re.escape(rid) + rb'"', m.group(0)):
            cible = re.search(rb'Target="([^"]*)"', m.group(0)).group(1).decode()
    if cible is None:
        return set(), set()
    chemin = cible.lstrip("/") if cible.startswith("/") else posixpath.normpath(posixpath.join("xl", cible))
    try:
        xml = z.read(chemin)
    except KeyError:
        return set(), set()
    pourcent_styles = _styles_pourcent(z)
    if not pourcent_styles and b"<f" not in xml:
        return set(), set()
    pourcents, formules = set(), set()
    for m in _RE_CELLULE.finditer(xml):
        if jusqu_a is not None and int(m.group(2)) > jusqu_a:
            break
        col = m.group(1).decode()
        if col not in colonnes:
            continue
        adresse = col + m.group(2).decode()
        s = _RE_STYLE.search(m.group(3))
        if s and int(s.group(1)) in pourcent_styles:
            pourcents.add(adresse)
        contenu = m.group(5) or b""
        # Sans résultat enregistré : pas de <v> (ou vide) sur une formule numérique. Une formule texte recalculée dont le
        # résultat est la chaîne vide (=SI(A2="";"";…)) porte t="str" et <v></v> : elle a bien été calculée.
        type_ = _RE_TYPE.search(m.group(3))
        if b"<f" in contenu and not re.search(rb"<v>[^<]+</v>", contenu) and \
                (type_ is None or type_.group(1) == b"n"):
            formules.add(adresse)
    return pourcents, formules


def _xml_texte(b: bytes) -> str:
    import html

    return html.unescape(b.decode("utf-8"))


def _styles_pourcent(z) -> set[int]:
    try:
        styles = z.read("xl/styles.xml")
    except KeyError:
        return set()
    formats_pourcent = {9, 10}
    for m in re.finditer(rb'<numFmt\b[^>]*numFmtId="(\d+)"[^>]*formatCode="([^"]*)"', styles):
        code = re.sub(r'"[^"]*"|\\.', "", _xml_texte(m.group(2)))
        if "%" in code:
            formats_pourcent.add(int(m.group(1)))
    bloc = re.search(rb"<cellXfs\b.*?</cellXfs>", styles, re.S)
    if not bloc:
        return set()
    indices = set()
    for i, xf in enumerate(re.finditer(rb"<xf\b[^>]*>", bloc.group(0))):
        n = re.search(rb'numFmtId="(\d+)"', xf.group(0))
        if n and int(n.group(1)) in formats_pourcent:
            indices.add(i)
    return indices


def inspecter_ods(donnees: bytes, feuille: str, colonnes: set[str],
                  jusqu_a: int | None = None) -> tuple[set[str], set[str]]:
    """Même chose pour un .ods : cellules de type pourcentage, formules sans valeur."""
    import xml.etree.ElementTree as ET
    import zipfile

    T = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
    O = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
    try:
        contenu = zipfile.ZipFile(io.BytesIO(donnees)).open("content.xml")
    except (zipfile.BadZipFile, KeyError):
        return set(), set()
    pourcents, formules = set(), set()
    dans_feuille, ligne = False, 0
    for evenement, el in ET.iterparse(contenu, events=("start", "end")):
        if el.tag == T + "table":
            if evenement == "start":
                dans_feuille, ligne = el.get(T + "name") == feuille, 0
            else:
                if dans_feuille:
                    break
                el.clear()
        elif el.tag == T + "table-row" and evenement == "end":
            if dans_feuille:
                colonne = 0
                for cellule in el:
                    rep = int(cellule.get(T + "number-columns-repeated", "1"))
                    if rep == 1 or cellule.get(O + "value-type") or cellule.get(T + "formula"):
                        lettre = lettre_colonne(colonne)
                        if lettre in colonnes:
                            adresse = f"{lettre}{ligne + 1}"
                            if cellule.get(O + "value-type") == "percentage":
                                pourcents.add(adresse)
                            if cellule.get(T + "formula") and cellule.get(O + "value") is None \
                                    and cellule.get(O + "value-type") in (None, "float", "percentage"):
                                formules.add(adresse)
                    colonne += rep
                ligne += int(el.get(T + "number-rows-repeated", "1"))
                if jusqu_a is not None and ligne >= jusqu_a:
                    break
            el.clear()
    return pourcents, formules
