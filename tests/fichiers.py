"""Fabriquer les fichiers que les partenaires déposent vraiment, et ceux qu'on n'espère pas recevoir.

- tables longues en CSV (virgule ou point-virgule, UTF-8 ou Windows-1252) et en classeur openpyxl ;
- le modèle de dépôt rempli comme le ferait un partenaire (openpyxl garde protection, validations et feuille cachée) ;
- des fichiers réenregistrés par un vrai LibreOffice (conversion en lot, profil jetable), y compris chiffrés ;
- des fichiers abîmés ou hostiles : tronqués, renommés, OLE chiffré, un million de lignes vides, bombe zip.

Tout est construit en mémoire ou en flux : aucun test ne garde de gros fichier sur le disque.
"""
from __future__ import annotations

import io
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import textwrap
import zipfile
from pathlib import Path
from typing import Callable, Iterable

PROTOCOLE = "EQ2030-TEST"
ENTETE = ["indicateur", "perimetre", "periode", "valeur", "commentaire"]


# --------------------------------------------------------------------------------------------------------------------
# Tables longues
# --------------------------------------------------------------------------------------------------------------------

def csv_long(lignes: Iterable[Iterable], sep: str = ";", encodage: str = "utf-8", entete=ENTETE,
             fin: str = "\r\n") -> bytes:
    """Une table longue en CSV, écrite à la main comme un tableur l'exporte (champ entre guillemets s'il le faut)."""
    def champ(v) -> str:
        t = "" if v is None else str(v)
        if sep in t or '"' in t or "\n" in t:
            t = '"' + t.replace('"', '""') + '"'
        return t
    texte = fin.join(sep.join(champ(v) for v in l) for l in [entete, *lignes]) + fin
    return texte.encode(encodage)


def sauver(wb) -> bytes:
    flux = io.BytesIO()
    wb.save(flux)
    return flux.getvalue()


def classeur_long(lignes: Iterable[Iterable], entete=ENTETE, feuille: str = "Valeurs",
                  formats: dict[str, str] | None = None, avant: Iterable[Iterable] = ()) -> bytes:
    """Une table longue dans un classeur openpyxl. `formats` : adresse → format de nombre (`{"D2": "0.0%"}`) ;
    `avant` : des lignes (titre…) au-dessus des en-têtes."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = feuille
    for l in avant:
        ws.append(list(l))
    ws.append(list(entete))
    for l in lignes:
        ws.append(list(l))
    for adresse, fmt in (formats or {}).items():
        ws[adresse].number_format = fmt
    return sauver(wb)


# --------------------------------------------------------------------------------------------------------------------
# Le modèle de dépôt, rempli
# --------------------------------------------------------------------------------------------------------------------

def lignes_modele(donnees: bytes) -> dict[tuple[str, str, str], int]:
    """(indicateur, périmètre, période) → numéro de ligne de la feuille « Valeurs » du modèle."""
    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(donnees))["Valeurs"]
    return {(r[0].value, r[2].value, str(r[4].value)): r[0].row for r in ws.iter_rows(min_row=2) if r[0].value}


def remplir_modele(donnees: bytes, valeurs: dict[tuple[str, str, str], object],
                   commentaires: dict[tuple[str, str, str], str] | None = None,
                   formats: dict[tuple[str, str, str], str] | None = None,
                   modifier: Callable | None = None,
                   motifs: dict[tuple[str, str, str], str] | None = None) -> bytes:
    """Remplit les colonnes Valeur, Motif et Commentaire du modèle (trouvées par leur en-tête), comme un partenaire,
    avec openpyxl (qui garde la protection, les validations et la feuille de métadonnées). `modifier(wb)` peut abîmer
    le classeur ensuite."""
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(donnees))
    ws = wb["Valeurs"]
    colonne = {c.value: c.column for c in ws[1]}
    index = {(r[0].value, r[2].value, str(r[4].value)): r[0].row for r in ws.iter_rows(min_row=2) if r[0].value}
    for cle, v in valeurs.items():
        ws.cell(row=index[cle], column=colonne["Valeur"], value=v)
    for cle, c in (commentaires or {}).items():
        ws.cell(row=index[cle], column=colonne["Commentaire"], value=c)
    for cle, m in (motifs or {}).items():
        ws.cell(row=index[cle], column=colonne["Motif"], value=m)
    for cle, fmt in (formats or {}).items():
        ws.cell(row=index[cle], column=colonne["Valeur"]).number_format = fmt
    if modifier:
        modifier(wb)
    return sauver(wb)


# --------------------------------------------------------------------------------------------------------------------
# Fichiers abîmés ou hostiles
# --------------------------------------------------------------------------------------------------------------------

PDF = (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> "
       b"endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")


def tronque(donnees: bytes) -> bytes:
    """Un téléversement interrompu : la première moitié des octets."""
    return donnees[: len(donnees) // 2]


def reecrire_zip(donnees: bytes, membres: dict[str, Callable[[bytes], bytes]]) -> bytes:
    """Recopie une archive (.xlsx, .ods) en transformant certains membres."""
    source = zipfile.ZipFile(io.BytesIO(donnees))
    sortie = io.BytesIO()
    with zipfile.ZipFile(sortie, "w", zipfile.ZIP_DEFLATED) as z:
        for info in source.infolist():
            contenu = source.read(info.filename)
            if info.filename in membres:
                contenu = membres[info.filename](contenu)
            z.writestr(info.filename, contenu)
    return sortie.getvalue()


def chemin_feuille(donnees: bytes, nom: str) -> str:
    """Le membre XML d'une feuille d'un .xlsx, d'après workbook.xml et ses relations."""
    z = zipfile.ZipFile(io.BytesIO(donnees))
    classeur = z.read("xl/workbook.xml").decode()
    liens = z.read("xl/_rels/workbook.xml.rels").decode()
    rid = re.search(r'<sheet\b[^>]*name="' + re.escape(nom) + r'"[^>]*r:id="([^"]+)"', classeur).group(1)
    cible = re.search(r'<Relationship\b[^>]*Id="' + rid + r'"[^>]*Target="([^"]+)"', liens) or \
        re.search(r'<Relationship\b[^>]*Target="([^"]+)"[^>]*Id="' + rid + '"', liens)
    cible = cible.group(1)
    return cible.lstrip("/") if cible.startswith("/") else "xl/" + cible


def lignes_vides_formatees(donnees: bytes, feuille: str = "Valeurs", n: int = 1_000_000) -> bytes:
    """Ajoute `n` lignes vides mais mises en forme (style, hauteur) sous le tableau, comme un partenaire qui a
    formaté des colonnes entières ; le XML est écrit en flux, la dimension annoncée couvre tout."""
    membre = chemin_feuille(donnees, feuille)
    source = zipfile.ZipFile(io.BytesIO(donnees))
    xml = source.read(membre)
    derniere = max(int(m) for m in re.findall(rb'<row r="(\d+)"', xml))
    debut, _, fin = xml.partition(b"</sheetData>")
    debut = re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:K%d"' % (derniere + n), debut)
    sortie = io.BytesIO()
    with zipfile.ZipFile(sortie, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        for info in source.infolist():
            if info.filename != membre:
                z.writestr(info.filename, source.read(info.filename))
                continue
            zi = zipfile.ZipInfo(membre)
            zi.compress_type = zipfile.ZIP_DEFLATED
            with z.open(zi, "w", force_zip64=True) as f:
                f.write(debut)
                for bloc in range(derniere + 1, derniere + n + 1, 50_000):
                    f.write(b"".join(b'<row r="%d" ht="15" customHeight="1"><c r="J%d" s="1"/><c r="K%d" s="1"/></row>'
                                     % (i, i, i) for i in range(bloc, min(bloc + 50_000, derniere + n + 1))))
                f.write(b"</sheetData>" + fin)
    return sortie.getvalue()


def bombe_zip(mo: int = 500, niveau: int = 9) -> bytes:
    """Un « .xlsx » dont la feuille se décompresse en `mo` Mo d'espaces : une vraie archive (CRC et tailles justes,
    `zipfile` la relit en entier), où le flux deflate d'un Mo d'espaces est compressé une fois puis répété (vidage
    complet entre les blocs : chacun se décode sans les précédents). 500 Mo tiennent en 500 Ko, en une fraction de
    seconde."""
    import zlib

    bloc = b" " * (1 << 20)
    c = zlib.compressobj(niveau, zlib.DEFLATED, -15)
    premier = c.compress(bloc) + c.flush(zlib.Z_FULL_FLUSH)
    suivant = c.compress(bloc) + c.flush(zlib.Z_FULL_FLUSH)
    assert c.compress(bloc) + c.flush(zlib.Z_FULL_FLUSH) == suivant    # régime établi : le même octet pour octet
    donnees = premier + suivant * (mo - 1) + c.flush(zlib.Z_FINISH)
    crc = 0
    for _ in range(mo):
        crc = zlib.crc32(bloc, crc)
    taille = mo << 20
    assert taille < 2**32
    nom = b"xl/worksheets/sheet1.xml"
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(donnees), taille, len(nom), 0) + nom
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc, len(donnees), taille, len(nom),
                          0, 0, 0, 0, 0, 0) + nom
    fin = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(local) + len(donnees), 0)
    return local + donnees + central + fin


def conteneur_ole(flux: dict[str, bytes]) -> bytes:
    """Un conteneur OLE (Compound File Binary, version 3) minimal mais valide, avec au plus trois flux à la racine
    (chacun complété à 4 Ko au moins, pour rester dans les secteurs ordinaires, sans mini-flux)."""
    secteur = 512
    fin_chaine, libre, secteur_fat, pas_de_flux = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFF
    assert 1 <= len(flux) <= 3
    # Les frères d'un répertoire forment un arbre rouge-noir ordonné (longueur du nom, puis majuscules) : une chaîne
    # de frères droits, dans cet ordre, en est un valide.
    noms = sorted(flux, key=lambda n: (len(n), n.upper()))
    contenus = [flux[n].ljust(max(4096, -(-len(flux[n]) // secteur) * secteur), b"\x00") for n in noms]
    fat, debuts, suivant = [secteur_fat, fin_chaine], [], 2
    for c in contenus:
        n = len(c) // secteur
        debuts.append(suivant)
        fat += list(range(suivant + 1, suivant + n)) + [fin_chaine]
        suivant += n
    assert len(fat) <= secteur // 4
    fat += [libre] * (secteur // 4 - len(fat))

    def entree(nom: str, type_: int, droite=pas_de_flux, enfant=pas_de_flux, debut=fin_chaine, taille=0) -> bytes:
        n = (nom + "\x00").encode("utf-16-le") if nom else b""
        return (n.ljust(64, b"\x00") + struct.pack("<HBB3I", len(n), type_, 1, pas_de_flux, droite, enfant)
                + bytes(16) + struct.pack("<I", 0) + bytes(16) + struct.pack("<IQ", debut, taille))

    repertoire = entree("Root Entry", 5, enfant=1)
    for i, (nom, c) in enumerate(zip(noms, contenus)):
        repertoire += entree(nom, 2, droite=i + 2 if i + 1 < len(noms) else pas_de_flux, debut=debuts[i],
                             taille=len(c))
    repertoire = repertoire.ljust(secteur, b"\x00")
    entete = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(16) + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + bytes(6)
              + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, fin_chaine, 0, fin_chaine, 0)
              + struct.pack("<109I", 0, *([libre] * 108)))
    assert len(entete) == secteur and len(repertoire) == secteur
    return entete + struct.pack(f"<{secteur // 4}I", *fat) + repertoire + b"".join(contenus)


def ole_chiffre() -> bytes:
    """Ce qu'Excel écrit pour un .xlsx protégé par mot de passe : un conteneur OLE avec les flux `EncryptionInfo` et
    `EncryptedPackage` (contenu factice, structure valide : `file` le dit « CDFV2 Encrypted »). Fabriqué à la main
    parce que LibreOffice 7.4 n'écrit pas de .xlsx chiffré sans interface (voir `xls_chiffre_libreoffice` pour un
    vrai fichier chiffré, au format .xls)."""
    info = (b"\x04\x00\x04\x00\x40\x00\x00\x00" + b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
            b'<encryption xmlns="http://schemas.microsoft.com/office/2006/encryption"/>')
    paquet = struct.pack("<Q", 12345) + bytes((i * 37) % 256 for i in range(4088))
    return conteneur_ole({"EncryptionInfo": info, "EncryptedPackage": paquet})


def projet_vba() -> bytes:
    """Un `vbaProject.bin` de synthèse : un conteneur OLE dont un flux porte le texte d'une macro `Workbook_Open`
    (pas du p-code compilé : seul Excel l'exécuterait, et il n'est là que pour que le fichier en porte une)."""
    macro = (b'Attribute VB_Name = "ThisWorkbook"\r\nPrivate Sub Workbook_Open()\r\n'
             b'    Shell "sh -c \'touch /tmp/perr-macro-executee\'"\r\nEnd Sub\r\n')
    projet = b'ID="{00000000-0000-0000-0000-000000000000}"\r\nDocument=ThisWorkbook/&H00000000\r\nName="VBAProject"\r\n'
    return conteneur_ole({"PROJECT": projet, "ThisWorkbook": macro})


def ajouter_macro(xlsm: bytes) -> bytes:
    """Ajoute un projet VBA (`xl/vbaProject.bin`, sa relation et son type) à un classeur .xlsm."""
    def types(xml: bytes) -> bytes:
        return xml.replace(b"</Types>", b'<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"'
                                        b"/></Types>")

    def liens(xml: bytes) -> bytes:
        return xml.replace(b"</Relationships>", b'<Relationship Id="rIdVba" Type="http://schemas.microsoft.com/'
                                                b'office/2006/relationships/vbaProject" Target="vbaProject.bin"/>'
                                                b"</Relationships>")
    flux = io.BytesIO(reecrire_zip(xlsm, {"[Content_Types].xml": types, "xl/_rels/workbook.xml.rels": liens}))
    with zipfile.ZipFile(flux, "a") as z:
        z.writestr("xl/vbaProject.bin", projet_vba())
    return flux.getvalue()


# --------------------------------------------------------------------------------------------------------------------
# LibreOffice
# --------------------------------------------------------------------------------------------------------------------

def libreoffice_present() -> bool:
    return shutil.which("soffice") is not None


def libreoffice(fichiers: Iterable[Path], format_: str, dossier: Path, profil: Path,
                infilter: str | None = None) -> list[Path]:
    """Convertit des fichiers en un seul appel de `soffice --headless --convert-to` (≈ 1,5 s quel que soit leur
    nombre). `format_` : `xlsx`, `ods`, `xlsm:Calc MS Excel 2007 VBA XML`… ; `infilter` s'applique à tous les fichiers
    (options du filtre CSV par exemple). Renvoie les chemins produits, dans l'ordre."""
    fichiers = [Path(f) for f in fichiers]
    dossier.mkdir(parents=True, exist_ok=True)
    commande = ["soffice", f"-env:UserInstallation={profil.resolve().as_uri()}", "--headless", "--norestore"]
    if infilter:
        commande.append(f"--infilter={infilter}")
    commande += ["--convert-to", format_, "--outdir", str(dossier), *map(str, fichiers)]
    r = subprocess.run(commande, capture_output=True, text=True, timeout=300)
    extension = format_.split(":")[0]
    sorties = [dossier / f"{f.stem}.{extension}" for f in fichiers]
    manquants = [str(s) for s in sorties if not s.exists()]
    if manquants:
        raise RuntimeError(f"LibreOffice n'a pas produit {manquants} :\n{r.stdout}\n{r.stderr}")
    return sorties


_SCRIPT_UNO = textwrap.dedent("""
    import os, subprocess, sys, time
    import uno
    from com.sun.star.beans import PropertyValue

    def propriete(nom, valeur):
        p = PropertyValue()
        p.Name, p.Value = nom, valeur
        return p

    binaire, profil, source, destination, filtre, mot_de_passe = sys.argv[1:7]
    tuyau = "perr-tests-%d" % os.getpid()
    # soffice.bin directement (pas le script soffice) : le processus lancé est celui qu'on arrête. Sur un profil neuf,
    # il s'arrête aussitôt avec le code 81 (« relancez-moi ») : c'est d'ordinaire le script soffice qui le relance.
    def lancer():
        return subprocess.Popen([binaire, "-env:UserInstallation=" + profil, "--headless", "--invisible", "--norestore",
                                 "--accept=pipe,name=%s;urp;" % tuyau], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    proc = lancer()
    bureau = None
    try:
        local = uno.getComponentContext()
        resolveur = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
        ctx = None
        for _ in range(1200):
            code = proc.poll()
            if code == 81:
                proc = lancer()
            elif code is not None:
                sys.exit("soffice.bin s'est arrêté (code %s)" % code)
            try:
                ctx = resolveur.resolve("uno:pipe,name=%s;urp;StarOffice.ComponentContext" % tuyau)
                break
            except Exception:
                time.sleep(0.05)
        if ctx is None:
            sys.exit("soffice.bin ne répond pas")
        bureau = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
        doc = bureau.loadComponentFromURL(uno.systemPathToFileUrl(source), "_blank", 0, (propriete("Hidden", True),))
        doc.storeToURL(uno.systemPathToFileUrl(destination),
                       (propriete("FilterName", filtre), propriete("Password", mot_de_passe)))
        doc.close(True)
    finally:
        try:
            bureau.terminate()
        except Exception:
            pass
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
""")


def xls_chiffre_libreoffice(source: Path, destination: Path, profil: Path) -> Path | None:
    """Un vrai classeur .xls protégé par mot de passe, enregistré par LibreOffice (par UNO : la conversion en ligne de
    commande ne sait pas chiffrer). None si python3-uno manque."""
    python_systeme = "/usr/bin/python3"
    if not Path(python_systeme).exists() or subprocess.run([python_systeme, "-c", "import uno"],
                                                          capture_output=True).returncode != 0:
        return None
    binaire = Path(os.path.realpath(shutil.which("soffice"))).parent / "soffice.bin"
    r = subprocess.run([python_systeme, "-c", _SCRIPT_UNO, str(binaire), profil.resolve().as_uri(), str(source),
                        str(destination), "MS Excel 97", "secret"], capture_output=True, text=True, timeout=120)
    if r.returncode != 0 or not destination.exists():
        raise RuntimeError(f"Chiffrement par LibreOffice impossible :\n{r.stdout}\n{r.stderr}")
    return destination


def profil_libreoffice(dossier: Path | None = None) -> Path:
    """Un profil LibreOffice jetable, neuf (deux soffice ne partagent jamais un profil), dans `dossier` s'il est donné
    (un dossier temporaire de pytest, nettoyé avec les autres)."""
    return Path(tempfile.mkdtemp(prefix="lo-profile-perr-", dir=dossier))


if __name__ == "__main__":  # pragma: no cover - fabrique un fichier à la main : python -m tests.fichiers ole X.xlsx
    quoi, chemin = sys.argv[1:3]
    Path(chemin).write_bytes({"ole": ole_chiffre, "bombe": bombe_zip}[quoi]())
