"""Le rapport annuel d'évaluation : construit une fois, rendu en PDF, Word et Excel, et relu comme un lecteur le ferait.

Le rapport de Troyes 2021 (démonstration) est produit une fois pour le module, avec de vrais graphiques (kaleido et
Chromium) ; chaque format est relu (pdftotext, python-docx, openpyxl) et ses chiffres comparés à ceux du cœur. Le petit
référentiel des tests, presque sans valeurs, vérifie que rien ne casse quand les données manquent.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import pickle
import re
import shutil
import subprocess
import unicodedata
import zipfile

import docx
import openpyxl
import pandas as pd
import pytest

from perr_metrics import cli, rapport
from perr_metrics.depots import depot as depots
from perr_metrics.pilotage import avancement, suivi
from perr_metrics.referentiel import requetes
from tests.conftest import ADMIN, creer_coordination
from perr_metrics.stockage.magasin import Store
from perr_metrics.depots.depot import enregistrer_depot
from perr_metrics.commun.formats import format_valeur
from perr_metrics.referentiel.classeur import importer_referentiel
from tests import classeurs

TCM = "TCM-PERR-2019"
ESSAI = "EQ2030-TEST"
ETABLI_LE = dt.date(2022, 3, 15)
FIN_2021 = dt.date(2021, 12, 31)
INJECTION = "=HYPERLINK(\"http://exemple.invalid\";\"cliquez\")"


def normal(texte: str) -> str:
    """Les espaces insécables (fines ou non) deviennent des espaces ordinaires : on compare des mots, pas des espaces."""
    return (unicodedata.normalize("NFC", texte).replace("\u00a0", " ").replace("\u202f", " ")
            .replace("\u2060", ""))   # le gluon que Typst met devant un numéro de page du sommaire


def pages_pdf(contenu: bytes, tmp_path, mise_en_page: bool = True) -> list[str]:
    """Le texte de chaque page (pdftotext) ; sans `mise_en_page`, dans l'ordre de lecture, case par case."""
    chemin = tmp_path / "rapport.pdf"
    chemin.write_bytes(contenu)
    options = ["-layout"] if mise_en_page else []
    texte = subprocess.run(["pdftotext", *options, str(chemin), "-"], check=True, capture_output=True,
                           text=True).stdout
    return [normal(p) for p in texte.split("\f")[:-1]]


def texte_pdf(contenu: bytes, tmp_path) -> str:
    """Tout le texte, dans l'ordre de lecture, espaces et retours à la ligne réduits à une espace."""
    return " ".join(" ".join(pages_pdf(contenu, tmp_path, mise_en_page=False)).split())


# --------------------------------------------------------------------------------------------------------------------
# Troyes 2021, produit une fois
# --------------------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def troyes(base_demo, tmp_path_factory):
    """Une copie de la démonstration, avec quelques états d'engagements, et le rapport 2021 dans les trois formats."""
    dossier = tmp_path_factory.mktemp("rapport-troyes")
    chemin = dossier / "perr.duckdb"
    shutil.copyfile(base_demo, chemin)
    store = Store(chemin, delai_verrou=10, utilisateur=ADMIN)
    aujourd_hui = dt.date(2022, 12, 31)

    # Trois engagements que la démonstration laisse sans état : E1 en cours dès 2020 puis réalisé, E2 en cours avec un
    # commentaire qui ressemble à une formule, E3 reporté après la date du rapport (il n'y figure donc pas).
    etats = suivi.etats_courants(store, TCM)
    e1, e2, e3 = etats.loc[etats["etat"] == suivi.NON_RENSEIGNE, "code"].iloc[:3]

    def etat(engagement, e, date, commentaire=None):
        suivi.enregistrer_etat(store, TCM, engagement, e, date, commentaire, aujourd_hui=aujourd_hui)
    etat(e1, "en cours", dt.date(2020, 5, 4))
    etat(e1, "réalisé", dt.date(2021, 11, 2), "Quatre orientations engagées")
    etat(e2, "en cours", dt.date(2021, 3, 1), INJECTION)
    etat(e3, "reporté", dt.date(2022, 6, 10), "Effectifs non arrivés")

    r = rapport.construire_rapport(store, TCM, 2021, etabli_le=ETABLI_LE)
    contenus, erreurs = rapport.fichiers(r)
    assert not erreurs, erreurs
    return dict(store=store, rapport=r, dossier=dossier, engagements=(e1, e2, e3), **contenus)


def etats_au(store, date) -> dict:
    """Le dernier état de chaque engagement à une date, calculé ici indépendamment du rapport."""
    df = store.requete("SELECT engagement, etat, date_etat, saisi_le FROM etat_engagement WHERE protocole = ? "
                       "AND date_etat <= ? ORDER BY engagement, date_etat, saisi_le", [TCM, date])
    return df.groupby("engagement")["etat"].last().to_dict()


def test_structure_neutre(troyes):
    r = troyes["rapport"]
    store = troyes["store"]
    assert r.demonstration and r.titre == "Rapport annuel d'évaluation 2021"
    ancres = [s.ancre for s in r.sections]
    axes = requetes.arbre(store, TCM).query("profondeur == 1")
    assert [a for a in ancres if a.startswith("axe-")] == [f"axe-{c}" for c in axes["code"]]
    qpv = requetes.perimetres(store, TCM).query("niveau == 'QPV'")
    assert [a for a in ancres if a.startswith("qpv-")] == [f"qpv-{c.lower()}" for c in qpv["code"]]
    assert {"synthese", "synthese-statuts", "synthese-engagements", "synthese-completude", "synthese-evolutions",
            "quartiers", "annexe-signataires", "methode"} <= set(ancres)
    # Une annexe par signataire qui porte un engagement, déclare un indicateur ou a déposé pour 2021.
    sig = requetes.signataires(store, TCM)
    dep = depots.liste_depots(store, TCM)
    actifs = {s for s, e, i in zip(sig["code"], sig["nb_engagements"], sig["nb_indicateurs"]) if e or i}
    actifs |= set(dep.loc[dep["periode"].str.startswith("2021"), "signataire"])
    assert {a for a in ancres if a.startswith("annexe-") and a != "annexe-signataires"} == {
        f"annexe-{rapport._ancre(c)}" for c in actifs}
    # Chaque graphique a un texte de remplacement qui dit ce qu'il montre.
    graphiques = list(r.graphiques())
    assert len(graphiques) >= 5 and all(len(g.alt) > 80 for g in graphiques)


def test_chiffres_de_la_synthese_egaux_au_coeur(troyes):
    r, store = troyes["rapport"], troyes["store"]
    ter = avancement.indicateurs_au_territoire(store, TCM, "2021")
    attendu = ter["statut"].value_counts()
    assert r.chiffres["statuts"] == {s: int(attendu.get(s, 0)) for s in avancement.STATUTS}
    tableau = next(b for b in r.section("synthese-statuts").blocs if isinstance(b, rapport.Tableau))
    par_statut = dict(zip(tableau.donnees["Statut"], tableau.donnees["Indicateurs"]))
    assert par_statut["en retard"] == int((ter["statut"] == "en retard").sum()) > 0
    assert par_statut["Total"] == len(ter)
    # L'état des engagements au 31 décembre de l'année du rapport (le report daté de 2022 n'y est pas).
    au = etats_au(store, FIN_2021)
    codes = requetes.engagements(store, TCM)["code"]
    etats = pd.Series([au.get(c, rapport.NON_RENSEIGNE) for c in codes]).value_counts()
    assert r.chiffres["etats"] == {e: int(etats.get(e, 0)) for e in rapport.ORDRE_ETATS}
    assert r.chiffres["engagements"] == len(codes) == 147
    comp = depots.completude(store, TCM, "2021").par_signataire
    assert (r.chiffres["valeurs_attendues"], r.chiffres["valeurs_recues"]) == (comp["attendus"].sum(),
                                                                               comp["recus"].sum())


def test_ce_qui_a_change(troyes):
    blocs = troyes["rapport"].section("synthese-evolutions").blocs
    store = troyes["store"]
    avant = avancement.indicateurs_au_territoire(store, TCM, "2020").set_index("indicateur")["statut"]
    apres = avancement.indicateurs_au_territoire(store, TCM, "2021").set_index("indicateur")["statut"]
    changes = {i for i in apres.index if str(avant.get(i)) != str(apres[i])}
    tableaux = [b for b in blocs if isinstance(b, rapport.Tableau)]
    assert set(tableaux[0].donnees["Code"]) == changes
    # Les engagements dont l'état au 31 décembre 2020 diffère de celui au 31 décembre 2021.
    avant_, maintenant = etats_au(store, dt.date(2020, 12, 31)), etats_au(store, FIN_2021)
    attendus = {c for c in set(avant_) | set(maintenant) if avant_.get(c) != maintenant.get(c)}
    eng = tableaux[1].donnees.set_index("Code")
    assert set(eng.index) == attendus
    e1, e2, e3 = troyes["engagements"]
    assert eng.loc[e1, ["État au 31/12/2020", "État au 31/12/2021"]].tolist() == ["en cours", "réalisé"]
    assert eng.loc[e2, ["État au 31/12/2020", "État au 31/12/2021"]].tolist() == ["non renseigné", "en cours"]
    assert e3 not in eng.index


def test_valeurs_des_axes_egales_au_coeur(troyes):
    r, store = troyes["rapport"], troyes["store"]
    ter = {a: avancement.indicateurs_au_territoire(store, TCM, str(a)).set_index("indicateur") for a in (2019, 2021)}
    tableau = next(b for b in r.section("axe-1").blocs if isinstance(b, rapport.Tableau) and b.detail)
    df = tableau.donnees.set_index("Code")
    assert len(df) > 10
    for code, ligne in df.iterrows():
        for a in (2019, 2021):
            v = ter[a].at[code, "valeur"]
            assert (pd.isna(v) and pd.isna(ligne[f"Valeur {a}"])) or ligne[f"Valeur {a}"] == pytest.approx(v)
        s = ter[2021].at[code, "statut"]
        assert ligne["Statut"] == (s if isinstance(s, str) else rapport.SANS_STATUT)
        assert ligne["Explication"] == ter[2021].at[code, "explication"]
    # Imprimée, une valeur s'écrit à la française avec l'unité de son indicateur, la référence avec son année.
    aff = tableau.affichage().set_index(tableau.donnees["Code"])
    taux = ter[2021][(ter[2021]["unite"] == "%") & ter[2021]["valeur"].notna()].index
    code = next(c for c in taux if c in aff.index)
    assert aff.at[code, "Valeur 2021"] == format_valeur(ter[2021].at[code, "valeur"], "%")
    assert re.fullmatch(r"\d+,\d\u00a0% \(\d{4}\)", aff.at[code, "Référence"])


# --------------------------------------------------------------------------------------------------------------------
# Le PDF
# --------------------------------------------------------------------------------------------------------------------

def test_pdf_couverture_sommaire_pagination(troyes, tmp_path):
    pages = pages_pdf(troyes["pdf"], tmp_path)
    n = len(pages)
    assert 20 < n < 80
    couverture = pages[0]
    assert "Rapport annuel d'évaluation 2021" in couverture
    assert "Troyes Champagne Métropole" in couverture and "DONNÉES DE DÉMONSTRATION" in couverture
    assert "Ville de Troyes" in couverture   # les signataires
    assert "15 mars 2022" in couverture      # la date, à la française
    for i, page in enumerate(pages[1:], start=2):
        assert f"Page {i} sur {n}" in page
        assert "Données de démonstration" in page
    # Le sommaire (sur deux pages : le rapport suit les sections du décret) renvoie à la bonne page pour chaque section.
    sommaire = pages[1] + pages[2]
    assert "Sommaire" in pages[1]
    entrees = re.findall(r"^\s*(\S.*?)\s*\.{3,}\s*(\d+)\s*$", sommaire, flags=re.M)
    assert len(entrees) == len(troyes["rapport"].sections)
    for titre, page in entrees:
        assert titre in pages[int(page) - 1].replace("\n", " ") or titre[:30] in pages[int(page) - 1], titre


def test_pdf_pages_pleines_et_vues(troyes, tmp_path):
    """Page par page : aucune page ne tient qu'une ligne de tableau orpheline ou un titre seul (assez de texte sous
    l'en-tête) ; quelques pages mises en images (pdftoppm) : elles ne sont pas blanches."""
    pages = pages_pdf(troyes["pdf"], tmp_path)
    for i, page in enumerate(pages[1:], start=2):
        lignes = [l for l in page.splitlines() if l.strip()]
        corps = [l for l in lignes[1:] if not re.search(r"Page \d+ sur \d+", l)]
        assert len(corps) >= 8, (i, corps)
    chemin = tmp_path / "rapport.pdf"
    subprocess.run(["pdftoppm", "-r", "30", "-png", "-f", "1", "-l", "4", str(chemin), str(tmp_path / "p")],
                   check=True, capture_output=True)
    from PIL import Image, ImageStat
    images = sorted(tmp_path.glob("p-*.png"))
    assert len(images) == 4
    for image in images:
        assert ImageStat.Stat(Image.open(image).convert("L")).mean[0] < 250     # de l'encre sur chaque page


def test_pdf_contenu_et_formats_francais(troyes, tmp_path):
    texte = texte_pdf(troyes["pdf"], tmp_path)
    r, store = troyes["rapport"], troyes["store"]
    ter = avancement.indicateurs_au_territoire(store, TCM, "2021")
    en_retard = int((ter["statut"] == "en retard").sum())
    assert f"{en_retard} en retard" in texte
    for s in r.sections:
        assert " ".join(s.titre.split()[:4]) in texte, s.titre
    assert "Annexe B. Les signataires" in texte and "Annexe C. Méthode et sources" in texte
    assert re.search(r"\d+,\d %", texte)                 # 12,5 %
    assert re.search(r"\d{1,2} (janvier|février|mars) 2022", texte)   # dates des dépôts
    assert "Quatre orientations engagées" in texte      # dernier commentaire d'un engagement
    # Une valeur d'un tableau d'axe, telle que le cœur la calcule.
    ligne = ter[(ter["unite"] == "%") & ter["valeur"].notna()].iloc[0]
    assert normal(format_valeur(ligne["valeur"], "%")) in texte


def _structure_pdf(contenu: bytes) -> tuple[dict, list[str], list[str]]:
    """Le catalogue d'un PDF, les textes de remplacement (/Alt) et les types des éléments de sa structure balisée."""
    from pypdf import PdfReader
    lecteur = PdfReader(io.BytesIO(contenu))
    catalogue = lecteur.trailer["/Root"]
    alts, types, pile = [], [], [catalogue["/StructTreeRoot"]]
    while pile:
        e = pile.pop()
        e = e.get_object() if hasattr(e, "get_object") else e
        if isinstance(e, list):
            pile.extend(e)
            continue
        if not hasattr(e, "get"):
            continue
        if "/S" in e:
            types.append(str(e["/S"]))
        if "/Alt" in e:
            alts.append(str(e["/Alt"]))
        if "/K" in e:
            pile.append(e["/K"])
    return catalogue, alts, types


def test_pdf_accessible(troyes):
    """PDF balisé : langue, signets, structure (titres, tableaux, figures), texte de remplacement de chaque graphique."""
    r = troyes["rapport"]
    catalogue, alts, types = _structure_pdf(troyes["pdf"])
    assert str(catalogue["/Lang"]).startswith("fr")
    assert catalogue["/MarkInfo"]["/Marked"]
    assert "/Outlines" in catalogue                               # signets
    assert {"/H1", "/H2", "/Table", "/TH", "/TD", "/Figure"} <= set(types)
    assert types.count("/Table") >= 20
    if r.images_indisponibles is None:
        for g in r.graphiques():
            assert rapport._e(g.alt) in alts


def test_graphiques_dessines_en_svg(troyes, tmp_path):
    """Les graphiques sont dessinés en SVG sans navigateur (PDF) ; Word en reçoit le PNG. Les libellés ne sont pas
    tronqués, et la légende est dans le dessin (au-dessus du tracé), jamais sur le texte qui suit."""
    r = troyes["rapport"]
    assert r.images_indisponibles is None
    for g in r.graphiques():
        assert g.svg.startswith("<svg") and g.png.startswith(b"\x89PNG")
    progression = [g for g in r.graphiques() if "attendu en" in g.svg]
    assert progression
    for g in progression:
        hauteur = float(re.search(r'height="(\d+)"', g.svg).group(1))
        y = float(re.search(r'y="([\d.]+)"[^>]*>attendu en', g.svg).group(1))
        assert 0 < y < 60 < hauteur
        textes = " ".join(re.findall(r">([^<]*)</text>", g.svg))
        # Chaque libellé d'indicateur en entier (coupé en lignes entre les mots, pas tronqué).
        for trace in g.description["traces"]:
            for y in trace["y"]:
                assert " ".join(str(y).split()).replace("'", "&#x27;") in " ".join(textes.split()) or all(
                    m.replace("'", "&#x27;") in textes for m in str(y).split())
        assert "…" not in textes
    texte = texte_pdf(troyes["pdf"], tmp_path)
    assert texte.count("Figure ") >= len(list(r.graphiques()))


# --------------------------------------------------------------------------------------------------------------------
# Word
# --------------------------------------------------------------------------------------------------------------------

def test_docx(troyes):
    d = docx.Document(io.BytesIO(troyes["docx"]))
    r = troyes["rapport"]
    titres = [(p.style.name, p.text) for p in d.paragraphs if p.style.name.startswith("Heading")]
    # Les numéros des titres sont ceux de Word (liste à plusieurs niveaux attachée aux styles), pas du texte tapé.
    assert [t for _, t in titres] == [rapport.typographie(re.sub(r"^(Annexe [A-Z]\.|[A-Z]\.\d+\.|[\d.]+\.)\s+", "",
                                                                 s.titre)) for s in r.sections]
    assert {n for n, _ in titres} == {"Heading 1", "Heading 2"}
    assert "w:numPr" in d.styles["Heading 1"].element.xml and "w:numPr" in d.styles["Heading 2"].element.xml
    numerotation = d.part.numbering_part.element.xml
    assert 'w:lvlText w:val="%1."' in numerotation and 'w:lvlText w:val="%1.%2."' in numerotation
    assert 'w:lvlText w:val="Annexe %1."' in numerotation and 'w:val="upperLetter"' in numerotation
    corps = d.element.body.xml
    # Les légendes numérotées par des champs SEQ (Word les renumérote), une par tableau et par graphique.
    assert corps.count("SEQ Tableau") >= 20 and corps.count("SEQ Figure") == len(list(r.graphiques()))
    assert 'TOC \\o "1-2"' in corps                               # le champ sommaire
    assert "w:updateFields" in d.settings.element.xml            # mis à jour à l'ouverture
    assert "DONNÉES DE DÉMONSTRATION" in "\n".join(p.text for p in d.paragraphs)
    pied = d.sections[0].footer._element.xml
    assert "PAGE" in pied and "NUMPAGES" in pied
    assert round(d.sections[0].page_width.cm, 1) == 21.0 and round(d.sections[0].page_height.cm, 1) == 29.7
    # Chaque tableau a sa ligne d'en-tête répétée ; chaque image, son texte de remplacement.
    donnees = [t for t in d.tables if "w:tblCaption" in t._tbl.xml]   # les autres sont de mise en page
    assert len(donnees) >= 20
    for t in donnees:
        assert "w:tblHeader" in t.rows[0]._tr.xml
    descriptions = [s._inline.docPr.get("descr") for s in d.inline_shapes]
    if r.images_indisponibles is None:
        assert len(descriptions) == len(list(r.graphiques())) and all(len(x) > 80 for x in descriptions)
    # Une valeur d'un tableau d'axe, à la française.
    store = troyes["store"]
    ter = avancement.indicateurs_au_territoire(store, TCM, "2021")
    ligne = ter[(ter["unite"] == "%") & ter["valeur"].notna()].iloc[0]
    cellules = {c.text for t in d.tables for row in t.rows for c in row.cells}
    assert format_valeur(ligne["valeur"], "%") in cellules


def test_docx_tableaux_a_largeurs_fixes_sans_mot_coupe(troyes):
    """Chaque tableau a des largeurs fixes qui tiennent dans la page (17 cm), et aucune colonne n'est plus étroite que
    son plus long mot quand la page le permet."""
    from perr_metrics.rapport import word
    d = docx.Document(io.BytesIO(troyes["docx"]))
    for t in d.tables:
        xml = t._tbl.xml
        if "w:tblCaption" not in xml:
            continue
        assert 'w:tblLayout w:type="fixed"' in xml
        grille = [int(x) for x in re.findall(r'<w:gridCol w:w="(\d+)"', xml)]
        assert abs(sum(grille) - 17 * 567) <= len(grille)
    for _, t in troyes["rapport"].tableaux():
        if isinstance(t, rapport.Tableau) and t.dans_document and len(t.donnees):
            cols, aff = t.colonnes, t.affichage()
            largeurs = word._largeurs_ajustees(t, cols, aff)
            minimums = [max(len(m) for v in [c, *aff[c]] for m in (str(v).split() or [""]))
                        * word._TWIPS_PAR_CARACTERE + word._MARGES_CASE for c in cols]
            if sum(minimums) < 17 * 567:
                assert all(w >= m - 1 for w, m in zip(largeurs, minimums)), t.legende


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice absent")
def test_libreoffice_ouvre_le_document_et_le_classeur(troyes, tmp_path):
    """LibreOffice ouvre le document Word et le classeur sans erreur (conversion en PDF) ; dans le document, les titres
    portent les numéros que Word (ou LibreOffice) calcule, et les légendes leur numéro de champ."""
    for fmt in ("docx", "xlsx"):
        source = tmp_path / f"rapport-{fmt}.{fmt}"
        source.write_bytes(troyes[fmt])
        subprocess.run(["soffice", f"-env:UserInstallation=file://{tmp_path}/lo", "--headless", "--convert-to", "pdf",
                        "--outdir", str(tmp_path), str(source)], check=True, capture_output=True, timeout=240)
        assert (tmp_path / f"rapport-{fmt}.pdf").read_bytes()[:5] == b"%PDF-"
    texte = normal(subprocess.run(["pdftotext", "-layout", str(tmp_path / "rapport-docx.pdf"), "-"],
                                  capture_output=True, text=True, check=True).stdout)
    assert re.search(r"^\s*2\.\s+Rappel des orientations", texte, flags=re.M)
    assert re.search(r"^\s*6\.1\.\s+Axe 1", texte, flags=re.M)
    assert re.search(r"^\s*Annexe B\.\s+Les signataires", texte, flags=re.M)
    assert re.search(r"^\s*B\.1\.\s+\S", texte, flags=re.M)
    assert "Tableau 1 — " in texte and "Figure 1 — " in texte


# --------------------------------------------------------------------------------------------------------------------
# Excel
# --------------------------------------------------------------------------------------------------------------------

def test_xlsx(troyes):
    """Quelques longues tables (et non une feuille par tableau), aux valeurs typées : nombres, taux de 0 à 1 au format
    pourcentage, euros au format monétaire ; aucun texte ne devient une formule."""
    wb = openpyxl.load_workbook(io.BytesIO(troyes["xlsx"]))
    r = troyes["rapport"]
    assert wb.sheetnames[:5] == ["Sommaire", "Synthèse", "Indicateurs", "Engagements", "Dépôts"]
    # Une feuille par sujet (les sections du décret en ajoutent : orientations, contexte, moyens, retards, sources), jamais
    # une par tableau : au moins trois tableaux du rapport par feuille en moyenne.
    assert len(wb.sheetnames) <= 22 and 3 * len(wb.sheetnames) < len(list(r.tableaux()))
    assert all(len(n) <= 31 for n in wb.sheetnames)
    assert len({n.lower() for n in wb.sheetnames}) == len(wb.sheetnames)
    sommaire = wb["Sommaire"]
    liens = [c.hyperlink.location or c.hyperlink.target for c in sommaire["B"] if c.hyperlink]
    assert len(liens) == len(wb.sheetnames) - 1
    assert any("Données de démonstration" == c.value for c in sommaire["A"])
    # Aucune formule, même pour un commentaire qui en a l'air : il reste du texte.
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f", (ws.title, c.coordinate, c.value)
    trouve = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row
              if isinstance(c.value, str) and c.value.startswith(INJECTION)]
    assert trouve and all(c.data_type == "s" for c in trouve)
    # Chiffres clés en nombres.
    synthese = {lib: (v, fmt) for lib, v, fmt in ((row[0].value, row[1].value, row[1].number_format)
                                                  for row in wb["Synthèse"].iter_rows(min_row=2))}
    assert isinstance(synthese["indicateurs suivis"][0], int) and synthese["indicateurs suivis"][1] == "#,##0"
    assert all(isinstance(v, (int, float)) for v, _ in synthese.values())
    assert any(fmt == "0.0%" and 0 <= v <= 1 for v, fmt in synthese.values())
    # Indicateurs : une ligne par indicateur × périmètre × période, valeurs égales au cœur, taux en pourcentages.
    ws = wb["Indicateurs"]
    entetes = [c.value for c in ws[1]]
    assert ws.freeze_panes == "B2" and ws.auto_filter.ref.startswith("A1:")
    ter = {a: avancement.indicateurs_au_territoire(troyes["store"], TCM, str(a)).set_index("indicateur")
           for a in (2019, 2020, 2021)}
    n = formats = pourcents = euros = 0
    for row in ws.iter_rows(min_row=2):
        ligne = dict(zip(entetes, (c.value for c in row)))
        cellule = row[entetes.index("Valeur")]
        if ligne["Périmètre"] != "Territoire":
            continue
        v = ter[int(ligne["Période"])].at[ligne["Code"], "valeur"]
        if pd.isna(v):
            assert ligne["Valeur"] is None
            continue
        attendu = v / 100 if ligne["Unité"] == "%" else v
        assert ligne["Valeur"] == pytest.approx(attendu)
        assert isinstance(ligne["Valeur"], (int, float))
        formats += ligne["Unité"] == "%" and cellule.number_format == "0.0%"
        pourcents += ligne["Unité"] == "%"
        euros += ligne["Unité"] == "€" and "€" in cellule.number_format
        n += 1
    # Chaque taux au format pourcentage (les indicateurs de contexte ont leur propre feuille : moins de taux ici).
    assert n > 100 and formats == pourcents > 5
    # Les montants (nature « moyen ») sont dans la feuille « Moyens », au format monétaire.
    moyens = wb["Moyens"]
    entetes_moyens = [c.value for c in moyens[1]]
    for row in moyens.iter_rows(min_row=2):
        ligne = dict(zip(entetes_moyens, row))
        for c in (v for k, v in ligne.items() if str(k).startswith("Valeur") and v.value is not None):
            assert isinstance(c.value, (int, float))
            euros += ligne["Unité"].value == "€" and "€" in c.number_format
    assert euros > 0
    assert {c.value for c in ws["D"][1:]} - {"Territoire"}            # les quartiers aussi
    # Les engagements, une fois chacun, avec leurs porteurs (la liste complète de ceux d'un signataire, que le PDF
    # résume, se filtre dans la colonne Porteurs).
    eng = [c.value for c in wb["Engagements"]["A"][1:]]
    assert len(eng) == len(set(eng)) == 147
    # Les porteurs par leur nom (issue 15), leurs codes dans la colonne d'à côté, que seul le classeur reçoit.
    entetes_eng = [c.value for c in wb["Engagements"][1]]
    noms, codes = entetes_eng.index("Porteurs"), entetes_eng.index("Codes des porteurs")
    lignes_tcm = [r for r in wb["Engagements"].iter_rows(min_row=2) if "TCM" in str(r[codes].value).split(", ")]
    assert len(lignes_tcm) > 50
    assert all("Troyes Champagne Métropole" in str(r[noms].value) for r in lignes_tcm)


def test_xlsx_sans_formule_au_niveau_du_fichier(troyes):
    with zipfile.ZipFile(io.BytesIO(troyes["xlsx"])) as z:
        feuilles = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/")]
    assert not any("<f>" in f for f in feuilles)


# --------------------------------------------------------------------------------------------------------------------
# Un protocole presque sans valeurs
# --------------------------------------------------------------------------------------------------------------------

@pytest.fixture
def store_essai(store, tmp_path):
    importer_referentiel(store, classeurs.ecrire(tmp_path))
    valeurs = pd.DataFrame([dict(indicateur="PATROUILLES", perimetre="QN09301A", periode="2024", valeur=131.0)])
    store.ecrire(lambda con: enregistrer_depot(con, protocole=ESSAI, signataire="ETAT-DDSP", periode="2024",
                                               utilisateur="test", fichier_nom="ddsp-2024.csv", contenu=b"x",
                                               valeurs=valeurs, depose_le=dt.datetime(2025, 2, 12, 10, 30)))
    creer_coordination(store)
    return store


def sans_graphiques(monkeypatch):
    """Le dessin des graphiques en échec (simulé) : chaque graphique est remplacé par un encadré."""
    def refus(*args, **kwargs):
        raise RuntimeError("dessin impossible (simulé)")
    monkeypatch.setattr("perr_metrics.rapport.graphiques._dessiner", refus)
    monkeypatch.setattr("perr_metrics.rapport.graphiques._rendre_kaleido", refus)


def test_protocole_presque_vide(store_essai, monkeypatch, tmp_path):
    sans_graphiques(monkeypatch)
    r = rapport.construire_rapport(store_essai, ESSAI, 2024, etabli_le=ETABLI_LE)
    contenus, erreurs = rapport.fichiers(r)
    assert not erreurs and set(contenus) == {"pdf", "docx", "xlsx"}
    assert not r.demonstration and r.images_indisponibles
    ter = avancement.indicateurs_au_territoire(store_essai, ESSAI, "2024")
    assert r.chiffres["statuts"]["non renseigné"] == int((ter["statut"] == "non renseigné").sum())
    assert r.chiffres["etats"]["non renseigné"] == 3

    texte = texte_pdf(contenus["pdf"], tmp_path)
    assert "Données de démonstration" not in texte and "DONNÉES DE DÉMONSTRATION" not in texte
    assert "Graphique non disponible" in texte            # l'encadré qui remplace chaque graphique
    assert "2024 est la première année du protocole" in texte
    for q in ("Quartier des Deux Rives", "Cité Haute", "Secteur de la gare"):
        assert q in texte
    assert "Territoire de veille active VA-GARE" in texte
    for s in ("État – DDSP", "EPT d'essai", "CAF"):
        assert f". {s}" in texte
    assert "12 février 2025" in texte                    # la date du dépôt
    assert "Axe 1 — Garantir les mêmes droits" in texte and "Axe 2 — Favoriser l'émancipation" in texte

    d = docx.Document(io.BytesIO(contenus["docx"]))
    assert any("Graphique non disponible" in p.text for p in d.paragraphs)
    assert not d.inline_shapes
    wb = openpyxl.load_workbook(io.BytesIO(contenus["xlsx"]))
    assert "Sommaire" == wb.sheetnames[0]
    assert "QN09301A" in {c.value for c in wb["Indicateurs"]["E"]}


def test_sans_chromium_le_rapport_sort_quand_meme(store_essai, monkeypatch):
    """Une figure que le dessin ne sait pas lire (une figure Plotly toute faite) passe par kaleido : un vrai échec de
    kaleido (navigateur introuvable), et non une simulation, ne lève rien et n'attend pas ; cette figure est remplacée
    par un encadré, les autres restent dessinées."""
    monkeypatch.setenv("BROWSER_PATH", "/chemin/inexistant/chromium")
    r = rapport.construire_rapport(store_essai, ESSAI, 2024)
    graphiques = list(r.graphiques())
    graphiques[0].description = graphiques[0].figure      # une figure Plotly toute faite
    rapport.rendre_images(r, delai=60)
    assert r.images_indisponibles and "Chromium" in r.images_indisponibles
    assert graphiques[0].png is None and graphiques[0].svg is None
    assert all(g.svg for g in graphiques[1:])
    flux = io.BytesIO()
    rapport.ecrire_docx(r, flux)
    assert flux.getvalue()[:2] == b"PK"


def test_annee_et_protocole_refuses(store_essai):
    with pytest.raises(rapport.RapportImpossible, match="hors de la période du protocole EQ2030-TEST"):
        rapport.construire_rapport(store_essai, ESSAI, 2031)
    with pytest.raises(requetes.ProtocoleInconnu):
        rapport.construire_rapport(store_essai, "INCONNU", 2024)
    with pytest.raises(rapport.RapportImpossible, match="Format"):
        rapport.ecrire(rapport.construire_rapport(store_essai, ESSAI, 2024), "odt", io.BytesIO())


# --------------------------------------------------------------------------------------------------------------------
# Construction rapide : même contenu par tous les chemins
# --------------------------------------------------------------------------------------------------------------------

def contenu(r: rapport.Rapport) -> list:
    """Tout le contenu d'un rapport, comparable : textes, tableaux (DataFrame), figures (JSON)."""
    out = [r.titre, r.couverture, r.chiffres]
    for s in r.sections:
        out.append((s.titre, s.niveau, s.ancre))
        for b in s.blocs:
            if isinstance(b, rapport.Tableau):
                out.append((b.legende, b.feuille, b.colonnes, b.donnees))
            elif isinstance(b, rapport.Graphique):
                out.append((b.alt, b.legende, b.hauteur, b.figure.to_json()))
            else:
                out.append(b)
    return out


def assert_meme_contenu(a: list, b: list) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b):
        if isinstance(x, tuple) and x and isinstance(x[-1], pd.DataFrame):
            assert x[:-1] == y[:-1]
            pd.testing.assert_frame_equal(x[-1], y[-1], check_exact=True)   # valeurs, types et index
        else:
            assert x == y


def test_rapport_sur_une_session_egal_au_rapport_du_magasin(troyes):
    """Sur une session déjà ouverte (celle d'une page), le même rapport que par le magasin."""
    store = troyes["store"]
    with store.session() as s:
        sur_session = rapport.construire_rapport(s, TCM, 2021, etabli_le=ETABLI_LE)
    assert_meme_contenu(contenu(sur_session), contenu(troyes["rapport"]))


@pytest.mark.parametrize("cas", ["troyes", "essai"])
def test_tableaux_par_groupe_egaux_aux_tableaux_construits_a_part(cas, request):
    """Les tableaux d'un axe, d'un quartier ou d'un signataire sont pris dans un tableau de toutes les lignes : ce sont
    ceux que l'on construirait pour ces seules lignes (types compris), groupe vide compris."""
    if cas == "troyes":
        store, code, annee = request.getfixturevalue("troyes")["store"], TCM, 2021
    else:
        store, code, annee = request.getfixturevalue("store_essai"), ESSAI, 2024
    with store.session() as s:
        d = rapport._charger(s, code, annee, ETABLI_LE)
    egal = pd.testing.assert_frame_equal
    eng, ter = d.engagements, d.ter[annee]
    axes = list(d.noeuds.loc[d.noeuds["profondeur"] == 1, "code"]) + ["AXE-INCONNU"]
    for axe in axes:
        pos = [i for i, a in enumerate(eng["axe"]) if a == axe]
        a_part = rapport._tableau_engagements(eng[eng["axe"] == axe].reset_index(drop=True), "l", "f",
                                              noms=rapport._noms(d))
        egal(rapport._engagements_de(d, pos, "l", "f").donnees, a_part.donnees, check_exact=True)
        egal(rapport._indicateurs_de(d, [i for i, c in enumerate(ter["indicateur"])
                                         if axe in d.axes_indicateur.get(c, ())]),
             rapport._donnees_indicateurs(d, rapport._indicateurs_axe(d, axe)), check_exact=True)
    for c in d.signataires["code"]:
        pos = [i for i, ps in enumerate(eng["porteurs"]) if c in str(ps).split(";")]
        egal(rapport._engagements_de(d, pos, "l", "f").donnees,
             rapport._tableau_engagements(eng.take(pos).reset_index(drop=True), "l", "f", noms=rapport._noms(d)).donnees,
             check_exact=True)
    # Les annexes et les quartiers, par le rapport entier : chaque tableau égal à celui construit à part.
    sections = {s.ancre: s for s in rapport._sections_annexes(d, "A") + rapport._sections_quartiers(d, 3)}
    valeur_ter = dict(zip(ter["indicateur"], ter["valeur"]))
    statut_ter = {k: (rapport.SANS_STATUT if rapport._vide(s) else s) for k, s in zip(ter["indicateur"], ter["statut"])}
    qpv = d.per[d.per["niveau"] == "QPV"]
    for q in d.perimetres.loc[d.perimetres["niveau"] == "QPV", "code"]:
        tab = sections[f"qpv-{rapport._ancre(q)}"].blocs[1]
        sous = qpv[qpv["perimetre"] == q]
        egal(tab.donnees, rapport._donnees_quartier(sous if len(sous) else d.per.iloc[0:0], annee, valeur_ter,
                                                    statut_ter, d), check_exact=True)
    dep = d.depots[d.depots["periode"].fillna("").str.startswith(str(annee))]
    for c in d.signataires["code"]:
        s = sections.get(f"annexe-{rapport._ancre(c)}")
        for t in (s.blocs if s else []):
            if isinstance(t, rapport.Tableau) and t.feuille == f"{c} dépôts":
                egal(t.donnees, rapport._tableau_depots(dep[dep["signataire"] == c], "l", "f",
                                                        avec_signataire=False).donnees, check_exact=True)


def test_lectures_du_chargement_egales_aux_fonctions_du_coeur(troyes, store_essai):
    """Le chargement du rapport lit moins que les fonctions du cœur, avec les mêmes résultats (types compris) :
    complétude de l'année par signataire et totaux de la précédente (`depots.completude`, contributeur compris : ses
    seuls signataires), dépôts (`depots.liste_depots`), engagements, indicateurs et signataires (`requetes`) aux
    colonnes employées, périmètres (`requetes.perimetres`), arborescence (`requetes.arbre`), états courants
    (`suivi.etats_courants`), lignes des quartiers (`avancement._au_perimetre`)."""
    from perr_metrics.acces.droits import Utilisateur

    egal = pd.testing.assert_frame_equal
    cas = [(troyes["store"], TCM, range(2019, 2024)), (store_essai, ESSAI, range(2024, 2027))]
    rapides = 0
    for store, code, annees in cas:
        sig = requetes.signataires(store, code)["code"].iloc[0]
        contributeur = store.pour(Utilisateur("contrib", "Contributeur", "contributeur", code, sig))
        for s in (store, contributeur):
            for a in annees:
                par_signataire, avant = rapport._completudes(s, code, a, True)
                egal(par_signataire, depots.completude(s, code, str(a)).par_signataire, check_exact=True)
                c0 = depots.completude(s, code, str(a - 1)).par_signataire
                assert avant == (c0["attendus"].sum(), c0["recus"].sum())
                assert rapport._completudes(s, code, a, False)[1] is None
            dep = rapport._depots(s, code)
            egal(dep, depots.liste_depots(s, code)[list(dep.columns)], check_exact=True)
        ind = rapport._indicateurs(store, code)
        egal(ind, requetes.indicateurs(store, code)[list(ind.columns)], check_exact=True)
        egal(rapport._perimetres(store, code), requetes.perimetres(store, code), check_exact=True)
        sigs = rapport._signataires(store, code)
        egal(sigs, requetes.signataires(store, code)[list(sigs.columns)], check_exact=True)
        eng = rapport._engagements(store, code)
        egal(eng, requetes.engagements(store, code)[list(eng.columns)], check_exact=True)
        d = rapport._charger(store, code, annees[0], ETABLI_LE)
        egal(d.arbre, requetes.arbre(store, code)[["code", "parent"]], check_exact=True)
        etats = suivi.etats_courants(store, code)
        egal(rapport._etats_courants(store, code),
             etats.loc[etats["etat"] != suivi.NON_RENSEIGNE, ["code", "etat", "date_etat", "commentaire", "auteur"]],
             check_exact=True)
        for a in annees:
            d = avancement._charger(store, code, str(a))
            tout, qpv = avancement._au_perimetre(d), rapport._au_perimetre_qpv(d)
            # (la table entière quand les quartiers n'y suffisent pas ; le rapport n'en prend que les quartiers)
            rapides += bool(len(qpv)) and set(qpv["niveau"]) == {"QPV"}
            egal(qpv[qpv["niveau"] == "QPV"].reset_index(drop=True),
                 tout[tout["niveau"] == "QPV"].reset_index(drop=True), check_exact=True)
    assert rapides     # les quartiers seuls, sur la démonstration au moins


def test_apercu_egal_au_rapport(troyes, store_essai):
    """L'aperçu de la page (chiffres, début de la synthèse, sommaire) est celui du rapport entier, qu'il ne construit
    pas : chaque année de la démonstration (Troyes avec des états saisis, à la date du rapport et aujourd'hui ; Blois)
    et du petit référentiel (première année, quartiers sans valeurs, signataires sans rien)."""
    store = troyes["store"]
    cas = [(store, TCM, range(2019, 2023), ETABLI_LE), (store, TCM, (2021,), None),
           (store, "BLOIS-PERR-2020", range(2020, 2023), ETABLI_LE), (store_essai, ESSAI, (2024, 2025), None)]
    vus = 0
    for s, code, annees, le in cas:
        for a in annees:
            r = rapport.construire_rapport(s, code, a, etabli_le=le)
            ap = rapport.apercu(s, code, str(a), etabli_le=le)
            assert (ap.protocole, ap.annee, ap.nom_fichier) == (r.protocole, r.annee, r.nom_fichier)
            assert ap.chiffres == r.chiffres
            assert ap.synthese == r.section("synthese").blocs
            assert ap.sommaire == r.sommaire
            vus += len(ap.sommaire)
    assert vus > 300
    with pytest.raises(rapport.RapportImpossible, match="hors de la période du protocole EQ2030-TEST"):
        rapport.apercu(store_essai, ESSAI, 2031)
    with pytest.raises(rapport.RapportImpossible, match="illisible"):
        rapport.apercu(store_essai, ESSAI, "deux mille")
    with pytest.raises(requetes.ProtocoleInconnu):
        rapport.apercu(store_essai, "INCONNU", 2024)


def test_figures_construites_a_la_demande(store_essai):
    """Les figures Plotly ne sont construites qu'à la première demande (la mise en images) ; le rapport se met en
    cache (pickle) avant comme après."""
    r = rapport.construire_rapport(store_essai, ESSAI, 2024)
    graphiques = list(r.graphiques())
    assert graphiques and all(g._fig is None for g in graphiques)
    copie = pickle.loads(pickle.dumps(r))
    for g, h in zip(graphiques, copie.graphiques()):
        fig = g.figure
        assert type(fig).__name__ == "Figure" and g.figure is fig             # construite une fois
        assert fig.to_json() == rapport._figure(**g.description).to_json() == h.figure.to_json()
    # Une figure déjà construite passe aussi par pickle (le JSON peut alors changer d'ordre de clés, pas de contenu).
    assert [json.loads(g.figure.to_json()) for g in pickle.loads(pickle.dumps(r)).graphiques()] == [
        json.loads(g.figure.to_json()) for g in graphiques]


# --------------------------------------------------------------------------------------------------------------------
# Ligne de commande et petites fonctions
# --------------------------------------------------------------------------------------------------------------------

def test_ligne_de_commande(store_essai, monkeypatch, tmp_path, capsys):
    sans_graphiques(monkeypatch)
    db = str(store_essai.chemin)
    sortie = tmp_path / "rapport.xlsx"
    assert cli.main(["--db", db, "rapport", "--protocole", ESSAI, "--annee", "2024", str(sortie)]) == 0
    assert openpyxl.load_workbook(sortie).sheetnames[0] == "Sommaire"
    assert cli.main(["--db", db, "rapport", "--protocole", ESSAI, "--annee", "2024", "--format", "docx",
                     str(tmp_path / "r.docx")]) == 0
    assert cli.main(["--db", db, "rapport", "--protocole", ESSAI, "--annee", "2031", str(sortie)]) == 1
    assert "hors de la période" in capsys.readouterr().err
    assert cli.main(["--db", db, "rapport", "--protocole", "INCONNU", "--annee", "2024", str(sortie)]) == 1
    assert "n'existe pas" in capsys.readouterr().err
    assert cli.main(["--db", db, "rapport", "--protocole", ESSAI, "--annee", "2024", str(tmp_path / "r.txt")]) == 2
    with pytest.raises(SystemExit) as fin:
        cli.main(["--db", db, "rapport", "--protocole", ESSAI, "--annee", "deux-mille", str(sortie)])
    assert fin.value.code == 2
    assert "année" in capsys.readouterr().err


def test_typographie_et_noms_de_feuilles():
    assert rapport.typographie("Statut : en retard ; « atteint » ?") == \
        "Statut\u00a0: en retard\u202f; «\u00a0atteint\u00a0»\u202f?"
    pris = set()
    noms = [rapport._nom_feuille(n, pris) for n in ["Axe 1 indicateurs"] * 2 + ["a" * 40, "Dépôts [2021] : T/E?"]]
    assert noms[0] == "Axe 1 indicateurs" and noms[1] == "Axe 1 indicateurs (2)"
    assert len(noms[2]) == 31 and not re.search(r"[\[\]:*?/\\]", noms[3])
