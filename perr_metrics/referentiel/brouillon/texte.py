"""Le texte d'un protocole signé, ligne à ligne avec sa page : .pdf (couche texte, ou OCR si installé), .docx, .odt,
.txt, .md.

La lecture est confiée à des bibliothèques : pypdfium2 pour le PDF (choisie en mesurant sur les textes sources : la plus
rapide, 0,05 s pour 16 pages contre 0,3 s pour pypdf et 2,9 s pour pdfplumber, pour un texte aussi fidèle — voir
docs/brouillon.md), python-docx, odfpy. Aucune analyse de structure ici : seulement des lignes, des pages et les refus
clairs (fichier vide, abîmé, protégé, trop long, sans couche texte).
"""
from __future__ import annotations

import io
import re
import shutil
import subprocess
import tempfile
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from perr_metrics.commun.lecture import decoder_texte
from perr_metrics.commun.erreurs import Rapport

FORMATS = (".pdf", ".docx", ".odt", ".txt", ".md")
PAGES_MAX = 150                      # un protocole fait 10 à 60 pages ; au-delà, ce n'est pas un protocole seul
CARACTERES_PAR_PAGE = 4000           # pour borner un .txt, qui n'a pas de pages
TAILLE_MAX = 50 * 1024 * 1024
PUCES_GLYPHES = "✓✔➔➢➤►▶•▪◦○●■□❖→⇒➜"


class BrouillonRefuse(Exception):
    """Le document ne peut pas donner de brouillon : porte un rapport (code stable, message en français). Rien n'est écrit."""

    def __init__(self, rapport: Rapport):
        self.rapport = rapport
        super().__init__(" ".join(p.message for p in rapport.erreurs) or "Document refusé.")


def refuser(code: str, message: str, nom: str = "") -> BrouillonRefuse:
    r = Rapport()
    r.ajouter(code, message, "", "", nom)
    return BrouillonRefuse(r)


@dataclass(frozen=True)
class LigneSource:
    page: int
    ligne: int                       # numéro de la ligne dans sa page (1 pour la première)
    texte: str


@dataclass
class Texte:
    lignes: list[LigneSource]
    pages: int
    format: str
    duree: float = 0.0               # secondes passées à extraire le texte
    ocr: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def contenu(self) -> str:
        return "\n".join(l.texte for l in self.lignes)


def _nettoyer(ligne: str) -> str:
    ligne = unicodedata.normalize("NFC", ligne.replace("\ufffe", "-").replace("\u00ad", "").replace("\t", " "))
    ligne = ligne.replace("\u00a0", " ").replace("\u202f", " ").rstrip()
    # Un glyphe de puce (police de secours) est parfois rendu en fin de ligne par l'extracteur PDF : le remettre devant.
    brut = ligne.rstrip()
    if len(brut) > 2 and brut[-1] in PUCES_GLYPHES and brut[-2] == " ":
        tete = len(brut) - len(brut.lstrip())
        reste = brut[tete:-1].rstrip()
        if reste[:1] in "-–•":
            ligne = brut[:tete] + reste[0] + " " + brut[-1] + " " + reste[1:].lstrip()
        else:
            ligne = brut[:tete] + brut[-1] + " " + reste
    return ligne


def _depuis_pages(pages: list[str]) -> list[LigneSource]:
    lignes = []
    for p, contenu in enumerate(pages, 1):
        for i, l in enumerate(re.split(r"\r\n|\r|\n", contenu), 1):
            lignes.append(LigneSource(p, i, _nettoyer(l)))
    return lignes


def _texte_brut(donnees: bytes, nom: str) -> list[str]:
    contenu = decoder_texte(donnees)
    if contenu is None:  # pragma: no cover - cp1252 décode presque tout
        raise refuser("protocole-illisible", f"{nom} : encodage non reconnu (UTF-8 ou Windows-1252 attendu).", nom)
    if "\x00" in contenu[:2000]:
        raise refuser("protocole-illisible", f"{nom} n'est pas un fichier texte : enregistrez le protocole en .pdf, "
                      ".docx, .odt ou .txt.", nom)
    return contenu.split("\f")


def _ocr_disponible() -> str | None:
    """« ocrmypdf » ou « tesseract » s'ils sont installés avec le français, sinon None."""
    if shutil.which("tesseract"):
        try:
            langues = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.SubprocessError):
            return None
        if "fra" not in (langues.stdout + langues.stderr).split():
            return None
        return "ocrmypdf" if shutil.which("ocrmypdf") else "tesseract"
    return None


def _ocr(donnees: bytes, nom: str, outil: str) -> list[str]:
    import pypdfium2 as pdfium
    with tempfile.TemporaryDirectory(prefix="perr-ocr-") as dossier:
        entree = Path(dossier) / "entree.pdf"
        entree.write_bytes(donnees)
        if outil == "ocrmypdf":
            sortie = Path(dossier) / "sortie.pdf"
            r = subprocess.run(["ocrmypdf", "-q", "-l", "fra", "--force-ocr", str(entree), str(sortie)],
                               capture_output=True, text=True, timeout=1800)
            if r.returncode != 0:
                raise refuser("protocole-sans-texte", f"{nom} n'a pas de couche texte et la reconnaissance de caractères "
                              f"(ocrmypdf) a échoué : {r.stderr.strip()[:200]}", nom)
            doc = pdfium.PdfDocument(str(sortie))
            return [doc[i].get_textpage().get_text_range() for i in range(len(doc))]
        doc = pdfium.PdfDocument(str(entree))
        pages = []
        for i in range(len(doc)):
            image = Path(dossier) / f"p{i}.png"
            doc[i].render(scale=300 / 72).to_pil().save(image)
            r = subprocess.run(["tesseract", str(image), "-", "-l", "fra"], capture_output=True, text=True, timeout=300)
            pages.append(r.stdout)
        return pages


def _pdf(donnees: bytes, nom: str) -> tuple[list[str], bool]:
    import pypdfium2 as pdfium
    try:
        doc = pdfium.PdfDocument(donnees)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise refuser("protocole-protege", f"{nom} est protégé par un mot de passe : enregistrez-le sans mot de passe "
                          "(ou exportez-le à nouveau depuis le traitement de texte) puis recommencez.", nom) from exc
        raise refuser("protocole-illisible", f"{nom} n'a pas pu être lu comme un PDF : il est peut-être abîmé ou tronqué. "
                      "Exportez-le à nouveau depuis le traitement de texte.", nom) from exc
    n = len(doc)
    if n > PAGES_MAX:
        raise refuser("protocole-trop-long", f"{nom} compte {n} pages : un protocole en fait rarement plus de "
                      f"{PAGES_MAX}. Ne gardez que le protocole lui-même (sans ses annexes) et recommencez.", nom)
    pages = [doc[i].get_textpage().get_text_range() for i in range(n)]
    if sum(len(p.strip()) for p in pages) >= 20 * max(n, 1):
        return pages, False
    outil = _ocr_disponible()
    if outil is None:
        raise refuser("protocole-sans-texte", f"{nom} est un PDF numérisé (des images de pages, sans texte lisible). "
                      "Déposez le fichier exporté par le traitement de texte (.pdf non scanné, .docx, .odt), ou installez "
                      "la reconnaissance de caractères en français (paquets Debian ocrmypdf et tesseract-ocr-fra) et "
                      "recommencez.", nom)
    return _ocr(donnees, nom, outil), True


def _docx(donnees: bytes, nom: str) -> list[str]:
    import docx
    from docx.oxml.ns import qn
    try:
        document = docx.Document(io.BytesIO(donnees))
    except Exception as exc:  # noqa: BLE001 - python-docx lève des erreurs variées sur un fichier abîmé
        raise refuser("protocole-illisible", f"{nom} n'a pas pu être lu comme un document Word (.docx) : il est peut-être "
                      "abîmé, ou protégé par un mot de passe.", nom) from exc
    lignes = []

    def paragraphe(p) -> str:
        texte = "".join(t.text or "" for t in p.iter(qn("w:t")))
        ppr = p.find(qn("w:pPr"))
        style = ""
        if ppr is not None:
            st = ppr.find(qn("w:pStyle"))
            style = (st.get(qn("w:val")) or "") if st is not None else ""
            if ppr.find(qn("w:numPr")) is not None or "list" in style.lower() or "liste" in style.lower():
                ilvl = ppr.find(f"{qn('w:numPr')}/{qn('w:ilvl')}")
                niveau = int(ilvl.get(qn("w:val"))) if ilvl is not None else 0
                return " " * niveau + "- " + texte
        return texte

    for el in document.element.body.iterchildren():
        if el.tag == qn("w:p"):
            lignes.append(paragraphe(el))
        elif el.tag == qn("w:tbl"):
            for p in el.iter(qn("w:p")):
                lignes.append(paragraphe(p))
    return ["\n".join(lignes)]


def _odt(donnees: bytes, nom: str) -> list[str]:
    from odf import teletype
    from odf.namespaces import TEXTNS
    from odf.opendocument import load
    try:
        document = load(io.BytesIO(donnees))
    except Exception as exc:  # noqa: BLE001 - odfpy lève des erreurs variées sur un fichier abîmé
        raise refuser("protocole-illisible", f"{nom} n'a pas pu être lu comme un document OpenDocument (.odt) : il est "
                      "peut-être abîmé, ou protégé par un mot de passe.", nom) from exc
    lignes = []

    def parcourir(noeud, profondeur_liste: int) -> None:
        for enfant in noeud.childNodes:
            if enfant.nodeType != enfant.ELEMENT_NODE:
                continue
            ns, local = enfant.qname
            if ns == TEXTNS and local in ("p", "h"):
                texte = teletype.extractText(enfant)
                lignes.append((" " * (profondeur_liste - 1) + "- " + texte) if profondeur_liste else texte)
            elif ns == TEXTNS and local == "list":
                parcourir(enfant, profondeur_liste + 1)
            else:
                parcourir(enfant, profondeur_liste)

    parcourir(document.text, 0)
    return ["\n".join(lignes)]


def lire_texte(source: str | Path | bytes, nom_fichier: str | None = None) -> Texte:
    """Le texte du document, ligne à ligne avec sa page. Lève BrouillonRefuse si le document ne peut pas être lu."""
    if isinstance(source, (str, Path)):
        chemin = Path(source)
        nom = nom_fichier or chemin.name
        try:
            donnees = chemin.read_bytes()
        except OSError as exc:
            raise refuser("protocole-illisible", f"Impossible de lire {chemin} : {exc.strerror or exc}.", nom) from exc
    else:
        donnees = bytes(source)
        nom = nom_fichier or "document"
    extension = Path(nom).suffix.lower()
    if not donnees.strip():
        raise refuser("protocole-vide", f"{nom} est vide : il n'y a rien à lire.", nom)
    if len(donnees) > TAILLE_MAX:
        raise refuser("protocole-trop-long", f"{nom} pèse {len(donnees) // (1024 * 1024)} Mo : un protocole seul en pèse "
                      "bien moins. Ne gardez que le protocole (sans ses annexes) et recommencez.", nom)
    if donnees[:5] == b"%PDF-" and extension != ".pdf":
        extension = ".pdf"
    if extension not in FORMATS:
        raise refuser("format-non-pris-en-charge", f"{nom} : format non pris en charge. Formats lus : "
                      + ", ".join(FORMATS) + ".", nom)
    debut = time.perf_counter()
    ocr = False
    if extension == ".pdf":
        pages, ocr = _pdf(donnees, nom)
    elif extension == ".docx":
        pages = _docx(donnees, nom)
    elif extension == ".odt":
        pages = _odt(donnees, nom)
    else:
        pages = _texte_brut(donnees, nom)
    duree = time.perf_counter() - debut
    lignes = _depuis_pages(pages)
    caracteres = sum(len(l.texte) for l in lignes)
    if not any(l.texte.strip() for l in lignes):
        raise refuser("protocole-vide", f"{nom} ne contient aucun texte.", nom)
    if extension != ".pdf" and caracteres > PAGES_MAX * CARACTERES_PAR_PAGE:
        raise refuser("protocole-trop-long", f"{nom} compte environ {caracteres // CARACTERES_PAR_PAGE} pages de texte : "
                      f"un protocole en fait rarement plus de {PAGES_MAX}. Ne gardez que le protocole lui-même (sans "
                      "ses annexes) et recommencez.", nom)
    return Texte(lignes, len(pages), extension.lstrip("."), duree, ocr)
