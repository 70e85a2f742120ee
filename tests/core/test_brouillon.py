"""Le brouillon de référentiel (docs/brouillon.md) : les règles sur les passages des textes sources qui les ont motivées,
les seuils mesurés sur les deux protocoles de démonstration (texte et PDF de LibreOffice), les refus clairs, la ligne de
commande, et l'import du brouillon après les seules corrections que demande la feuille « À vérifier »."""
from __future__ import annotations

import csv
import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook

from perr_metrics.referentiel.brouillon import structure, tableau
from perr_metrics.referentiel.brouillon.analyse import lire_structure
from perr_metrics.referentiel.brouillon.classeur import FEUILLE_A_VERIFIER, ecrire_brouillon, rediger_brouillon
from perr_metrics.referentiel.brouillon.texte import BrouillonRefuse, LigneSource, Texte, _nettoyer
from perr_metrics.referentiel.classeur import importer_referentiel, lire_referentiel

RACINE = Path(__file__).resolve().parents[2]
SEEDS = RACINE.parent / "shared" / "seeds"
TROYES = SEEDS / "000_c1c8bd9746410dd2.txt"
BLOIS = SEEDS / "002_f841699d1fdbb5b2.txt"
sys.path.insert(0, str(RACINE / "benchmarks"))
sans_seeds = pytest.mark.skipif(not TROYES.exists() or not BLOIS.exists(),
                                reason=f"textes sources absents : {SEEDS} (shared/ à côté du dépôt)")
sans_soffice = pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) absent")


def texte(contenu: str) -> Texte:
    lignes = [LigneSource(1, i, _nettoyer(l)) for i, l in enumerate(contenu.splitlines(), 1)]
    return Texte(lignes, 1, "txt")


# --------------------------------------------------------------------------------------------------------------------
# Les règles, chacune sur le passage qui l'a motivée
# --------------------------------------------------------------------------------------------------------------------

BLOC_SIGNATURE = """Conclu entre les signataires désignés ci-dessous :

L'État représenté par Monsieur le Préfet de l'Aube, Monsieur Thierry MOSIMANN

Et les collectivités locales :

La Communauté d'agglomération de Troyes Champagne Métropole représentée son Président
La commune de Troyes représentée par :
La commune des Noës-près-Troyes représentée par :
Le Département de l'Aube

PREAMBULE
"""


def test_formules_axes_themes_sous_puces_troyes():
    """« GARANTIR… » en capitales : un axe (cadre national reconnu) ; « En s'engageant en matière de … » : une
    thématique ; « L'État et la CAF s'engagent à : » : deux porteurs ; « - ✓ » : une déclinaison de l'item précédent ;
    « les villes et le Département » : toutes les communes signataires et le Département."""
    b = lire_structure(texte(BLOC_SIGNATURE + """
GARANTIR LES MEMES DROITS AUX HABITANTS

En s'engageant en matière de sécurité et de prévention de la délinquance

L'État et la CAF s'engagent à :

- renforcer la police de sécurité au quotidien suivant quatre orientations stratégiques :
 - ✓ renforcer la présence des policiers dans les QPV
- ✓ densifier les partenariats locaux
- mobiliser les moyens financiers du FIPD

Troyes Champagne Métropole, les villes et le Département s'engagent à :

- soutenir la Maison de la Justice et du Droit (MJD)
"""))
    assert [(n.code, n.niveau, n.libelle, n.cadres) for n in b.noeuds] == [
        ("1", "Axe", "Garantir les memes droits aux habitants", ["MOB-DROITS"]),
        ("1.1", "Thématique", "Sécurité et de prévention de la délinquance", [])]
    e = b.engagements
    assert [(x.code, x.parent, x.porteurs) for x in e[:4]] == [
        ("E001", None, ["ETAT", "CAF10"]), ("E002", "E001", ["ETAT", "CAF10"]), ("E003", "E001", ["ETAT", "CAF10"]),
        ("E004", None, ["ETAT", "CAF10"])]
    assert e[4].porteurs == ["TCM", "V-TROYES", "V-LES-NOES-PRES-TROYES", "CD10"]
    assert e[4].formule.startswith("Troyes Champagne Métropole, les villes")
    sig = {s.code: s for s in b.signataires}
    assert sig["ETAT"].signe and sig["ETAT"].ligne_signature.startswith("représenté par Monsieur le Préfet")
    assert sig["TCM"].categorie == "EPCI" and sig["CD10"].categorie == "Département"


def test_crochets_porteur_et_service_de_l_etat():
    b = lire_structure(texte("""AXE UN POUR ESSAYER

L'État s'engage à :
- [État – DDSP] renforcer la présence des policiers
- [CAF et Département] soutenir les lieux d'accueil enfants-parents
"""))
    assert b.engagements[0].porteurs == ["ETAT-DDSP"]
    assert b.engagements[0].libelle == "renforcer la présence des policiers"
    assert {s.code: s.rattache_a for s in b.signataires}["ETAT-DDSP"] == "ETAT"
    assert b.engagements[1].porteurs[0].startswith("CAF")


def test_le_pacte_de_dijon_cite_n_est_pas_un_engagement():
    """« Nous nous engageons à : » et « Cela sera possible si l'État et ses services s'engagent à : » : le texte du
    Pacte de Dijon recopié, pas des engagements du protocole (Blois le recopie avant, Troyes après les signatures)."""
    b = lire_structure(texte("""PACTE DE DIJON DU 16 JUILLET 2018

Nous nous engageons a :
« Contribuer a la redynamisation économique, artisanale et commerciale

Cela sera possible si I'Etat et ses services s’engagent a :
« Garantir la stabilité des dispositifs

GARANTIR LES MEMES DROITS
L'État s'engage à :
- promouvoir le chèque énergie dans les QPV
Fait à TROYES, le...
Nous nous engageons à :
- Renforcer l'accès à l'emploi des populations les plus éloignées
"""))
    assert [e.libelle for e in b.engagements] == ["promouvoir le chèque énergie dans les QPV"]


def test_puce_rendue_en_fin_de_ligne_par_l_extracteur_pdf():
    """pypdfium2 rend le « ✓ » d'une police de secours en fin de ligne : il est remis devant."""
    assert _nettoyer(" - renforcer la présence des policiers dans les QPV ✓").strip() == \
        "- ✓ renforcer la présence des policiers dans les QPV"
    assert _nettoyer("PORTIER\ufffeGUENIN") == "PORTIER-GUENIN"


def test_tableau_aplati_partenaires_en_fin_de_ligne():
    """Blois : la colonne « partenaires » d'un tableau aplati par l'OCR finit les lignes (« … métiers Etat »)."""
    assert structure.detacher_fin("Resserrer la coordination des acteurs du Contrat de Ville PAQTE Etat", []) == \
        ("Resserrer la coordination des acteurs du Contrat de Ville", ["Etat"], ["PAQTE"])
    assert structure.ligne_de_partenaires("Ville de Blois", []) == ["Ville de Blois"]
    assert structure.ligne_de_partenaires("Favoriser la mobilité « individuelle » :", []) is None


# Passage de Blois (002_…txt, enjeu 5) recopié tel que l'OCR l'a aplati : engagements, noms de partenaires en fin de
# ligne, cellules qui débordent au-dessus de leur engagement, nom coupé (« Région Centre-Val de » / « I:gg »), bruit.
BLOIS_ENJEU_5 = """Poursuivre le développement d'actions de médiation sociale culturelle et sportive dans un souci d'aller « vers » le public, avec Ville de Blois
une dynamique de co-construction avec les habitants, notamment le public jeune. Etat
Former les acteurs de terrain aux valeurs de la République et a la laicité V'"estitBlo'S
CEuvrer au rapprochement population / institutions au sens large par I'organisation de sorties pour les jeunes des QPV, Ville de Blois
encadrées par les services de police, de gendarmerie nationale, d’'incendie et de secours et leurs partenaires dans les QPV Etat
Ville de Blois
Région Centre-Val de
Contribuer a la réécriture du Contrat Local de Santé I:gg
Conseil Départemental
41
s . . - . - . ) . ) e . Ville de Blois
outenir le dispositif des Promeneurs du Net (PDN) au titre des politiques générales de prévention portées par I'Etat (santé, Etat
délinquance, accés au droit...) CAF
. oA R . . . e . . . . Ville de Blois
Associer le Conseil Citoyen a la veille active sur le niveau d'insécurité de plusieurs lieux identifiés, notamment la Place Coty Etat
"""


def _lignes(contenu: str) -> list[LigneSource]:
    return [LigneSource(1, i, _nettoyer(l)) for i, l in enumerate(contenu.splitlines(), 1)]


def test_tableau_aplati_cellules_rendues_a_leur_rangee_blois():
    """Une cellule de partenaires au-dessus de son engagement (« Ville de Blois », « Région Centre-Val de » au-dessus de
    « Contribuer… ») lui revient : le nom déjà présent dans la rangée du dessus la ferme ; le bruit (« s . . - . ») est
    retiré ; « outenir … » (majuscule perdue) après un engagement complet en commence un nouveau ; un mot illisible en
    fin de ligne (« V'"estitBlo'S ») n'entre pas dans le texte."""
    items = tableau.lire_tableau(_lignes(BLOIS_ENJEU_5), ["Agglopolys"])
    assert [(it.texte[:30], set(it.noms)) for it in items] == [
        ("Poursuivre le développement d'", {"Ville de Blois", "Etat"}),
        ("Former les acteurs de terrain ", set()),
        ("CEuvrer au rapprochement popul", {"Ville de Blois", "Etat"}),
        ("Contribuer a la réécriture du ", {"Ville de Blois", "Région Centre-Val de", "Conseil Départemental 41"}),
        ("outenir le dispositif des Prom", {"Ville de Blois", "Etat", "CAF"}),
        ("Associer le Conseil Citoyen a ", {"Ville de Blois", "Etat"})]
    assert items[1].texte == "Former les acteurs de terrain aux valeurs de la République et a la laicité"


def test_tableau_aplati_passage_ecrit_pour_le_test():
    """Un tableau inventé : cellule sous son engagement (la rangée sans nom la prend), nom coupé entre deux lignes
    (« Région Hauts-de- » … « Conseil » / « Départemental 59 »), sigle de levier, déclinaisons « o » sous un engagement
    sans partenaire propre (la cellule vaut pour le groupe), intitulé de première colonne devant un infinitif, nom
    précédé d'une préposition et suivi du point (« avec la CAF. ») gardé dans la phrase."""
    items = tableau.lire_tableau(_lignes("""Emploi
Ouvrir un guichet unique de l'emploi dans chaque quartier prioritaire en lien avec la CAF.

Etat
Conseil
Départemental 59

Logement Mobiliser les bailleurs pour :
o loger les jeunes en alternance ANRU Bailleurs sociaux
o réserver des logements aux femmes victimes de violences
Proposer des ateliers de mobilité aux habitants des quartiers, avec les auto-écoles
solidaires du territoire. Région Hauts-de-France
"""), [])
    assert [(it.texte, it.profondeur, set(it.noms)) for it in items] == [
        ("Ouvrir un guichet unique de l'emploi dans chaque quartier prioritaire en lien avec la CAF.", 1,
         {"Etat", "Conseil Départemental 59"}),
        ("Mobiliser les bailleurs pour :", 1, {"Bailleurs sociaux"}),
        ("loger les jeunes en alternance", 2, {"Bailleurs sociaux"}),
        ("réserver des logements aux femmes victimes de violences", 2, {"Bailleurs sociaux"}),
        ("Proposer des ateliers de mobilité aux habitants des quartiers, avec les auto-écoles solidaires du territoire.",
         1, {"Région Hauts-de-France"})]
    assert [e for it in items for e, _ in it.etiquettes] == ["Emploi", "Logement"]
    assert items[2].leviers == ["ANRU"]
    assert tableau.sans_bruit(". oA R . . . e . . . . Ville de Blois") == "Ville de Blois"
    assert tableau.sans_bruit("o un accès à l'apprentissage") == "o un accès à l'apprentissage"


BLOIS_ENJEU_1 = """ENJEU 1 DU CONTRAT
DE VILLE DE BLOIS

POURSUIVRE LE RENOUVELLEMENT URBAIN POUR GARANTIR LA MIXITE FONCTIONNELLE

Enjeu 2 du Contrat de Ville : dynamiser les quartiers

RAPPEL DU CONTEXTE ET DES ENJEUX

Depuis 2015, la Ville de Blois est engagée dans une démarche de renouvellement. Cette nouvelle convention prévoit :

- D'améliorer les conditions d’habitabilité par des travaux augmentant la performance énergétique des immeubles et
ainsi contribuer a la transition écologique du quartier,

En complément, la collectivité prévoit, en lien avec ses partenaires, la signature d'un avenant a la convention PRUIR dés 2020 pour venir renforcer son programme et
d'intervenir sur la réhabilitation thermique des logements sociaux et la restructuration commerciale du secteur Lorjou.
 Voir aboutir de fagon opérationnelle la stratégie de restructuration commerciale du secteur Lorjou.

Renforcer notre intervention sur le parc locatif social pour poursuivre la réhabilitation thermique des logements

Faire aboutir la démarche liée au Plan partenarial de gestion de la demande de logement social et d'information des
demandeurs (PPGDLSID) pour encourager une politique de peuplement adaptée et encourager les parcours résidentiels

- Eviter de concentrer les demandeurs de logement social les plus fragiles dans les QPV par une meilleure répartition
de l'offre de logements sociaux et une réelle coordination de leur attribution aux ménages.

o Contribuer & améliorer de trois points le taux d'attribution de logement sociaux hors QPV en faveur des ménages les
plus modestes pour leur permettre de vivre ailleurs que dans les quartiers les plus paupérisés.
 ENJEU 2 DU CONTRAT
"""


def test_liste_d_engagements_sans_titre_au_bout_du_contexte():
    """Blois, enjeu 1 : l'OCR a perdu le titre « ENGAGEMENTS … » ; les paragraphes qui commencent par un infinitif au bout
    du « Rappel du contexte », jusqu'au titre suivant, sont les engagements (sans porteur : à vérifier). Le contexte
    lui-même (« Depuis 2015 … », « - D'améliorer … », « En complément … ») n'en est pas."""
    b = lire_structure(texte(BLOIS_ENJEU_1))
    assert [(e.libelle[:25], e.parent) for e in b.engagements] == [
        ("Voir aboutir de fagon opé", None), ("Renforcer notre intervent", None), ("Faire aboutir la démarche", None),
        ("Eviter de concentrer les ", "E003"), ("Contribuer & améliorer de", "E003")]
    assert all(not e.porteurs for e in b.engagements)
    assert sum(1 for a in b.a_verifier if a["feuille"] == "Engagements") == 5


def test_liste_sans_titre_ecrite_pour_le_test():
    """Un contexte qui finit en prose ne donne rien ; deux infinitifs seulement ne suffisent pas."""
    entete = "AXE 1 : HABITAT\n\nL'État s'engage à :\n- soutenir les adultes relais\n\nRAPPEL DU CONTEXTE\n\n"
    b = lire_structure(texte(entete + "Le quartier compte 4 000 habitants.\n\nRénover les écoles reste une priorité "
                             "dont chacun convient, disait le rapport.\nAXE 2 : EMPLOI\n"))
    assert [e.libelle for e in b.engagements] == ["soutenir les adultes relais"]
    b = lire_structure(texte(entete + "Le quartier compte 4 000 habitants.\n\nRénover les écoles.\n\n"
                             "Ouvrir une maison de santé.\n\nCréer un jardin partagé.\nAXE 2 : EMPLOI\n"))
    assert [e.libelle for e in b.engagements][1:] == ["Rénover les écoles.", "Ouvrir une maison de santé.",
                                                      "Créer un jardin partagé."]


def test_niveau_nomme_et_liste_numerotee():
    """« Enjeu 2 du Contrat de Ville : dynamiser … » est un nœud nommé ; « thématiques a destination » n'en est pas un."""
    m = structure.RE_NIVEAU.match("Enjeu 2 du Contrat de Ville : dynamiser les quartiers")
    assert m and m.group("nom") == "Enjeu" and m.group("num") == "2"
    assert structure.RE_NIVEAU.match("thématiques a destination des opérateurs") is None
    assert structure.RE_EN_SENGAGEANT.match("En s'engageant dans le soutien à la parentalité").group("lib") == \
        "soutien à la parentalité"


def test_un_texte_qui_n_est_pas_un_protocole_est_refuse():
    with pytest.raises(BrouillonRefuse) as exc:
        rediger_brouillon("Une recette de cuisine.\n\nFaire fondre le beurre, ajouter la farine.\n".encode(), "r.txt")
    assert exc.value.rapport.erreurs[0].code == "protocole-non-reconnu"
    assert "ne ressemble pas à un protocole" in str(exc.value)


# --------------------------------------------------------------------------------------------------------------------
# Les documents mauvais : un message clair, rien d'écrit
# --------------------------------------------------------------------------------------------------------------------

def _pdf_vierge(pages: int) -> bytes:
    from pypdf import PdfWriter
    w = PdfWriter()
    for _ in range(pages):
        w.add_blank_page(width=595, height=842)
    flux = io.BytesIO()
    w.write(flux)
    return flux.getvalue()


def _pdf_chiffre() -> bytes:
    from pypdf import PdfWriter
    w = PdfWriter()
    w.add_blank_page(width=595, height=842)
    w.encrypt("secret")
    flux = io.BytesIO()
    w.write(flux)
    return flux.getvalue()


@pytest.mark.parametrize("donnees, nom, code", [
    (b"", "vide.txt", "protocole-vide"),
    (b"   \n\n  ", "blanc.md", "protocole-vide"),
    (b"%PDF-1.7\n1 0 obj<<>>\ntronque", "abime.pdf", "protocole-illisible"),
    (b"PK\x03\x04nimportequoi", "abime.docx", "protocole-illisible"),
    (b"PK\x03\x04nimportequoi", "abime.odt", "protocole-illisible"),
    (b"des octets", "protocole.rtf", "format-non-pris-en-charge"),
    (("Le texte d'une page de protocole qui se répète encore et encore. " * 60 + "\n") * 300, "long.txt",
     "protocole-trop-long"),
])
def test_documents_refuses(donnees, nom, code, tmp_path):
    if isinstance(donnees, str):
        donnees = donnees.encode()
    with pytest.raises(BrouillonRefuse) as exc:
        rediger_brouillon(donnees, nom)
    assert [p.code for p in exc.value.rapport.erreurs] == [code]


def test_pdf_protege_trop_long_ou_numerise():
    with pytest.raises(BrouillonRefuse) as exc:
        rediger_brouillon(_pdf_chiffre(), "protege.pdf")
    assert exc.value.rapport.erreurs[0].code == "protocole-protege"
    assert "mot de passe" in str(exc.value)
    with pytest.raises(BrouillonRefuse) as exc:
        rediger_brouillon(_pdf_vierge(300), "annuaire.pdf")
    assert exc.value.rapport.erreurs[0].code == "protocole-trop-long"
    assert "300 pages" in str(exc.value)
    if shutil.which("tesseract") is None:
        with pytest.raises(BrouillonRefuse) as exc:
            rediger_brouillon(_pdf_vierge(2), "scanne.pdf")
        assert exc.value.rapport.erreurs[0].code == "protocole-sans-texte"
        assert "tesseract-ocr-fra" in str(exc.value)


def test_ligne_de_commande_ecrit_ou_refuse_sans_rien_ecrire(tmp_path, capsys):
    from perr_metrics.cli import main
    vide = tmp_path / "vide.pdf"
    vide.write_bytes(b"")
    sortie = tmp_path / "brouillon.xlsx"
    assert main(["referentiel", "brouillon", str(vide), str(sortie)]) == 1
    assert not sortie.exists()
    assert "Document refusé" in capsys.readouterr().err
    source = tmp_path / "protocole.md"
    source.write_text(BLOC_SIGNATURE + "\nAXE UN\n\nL'État s'engage à :\n- soutenir les adultes relais\n",
                      encoding="utf-8")
    assert main(["referentiel", "brouillon", str(source), str(sortie)]) == 0
    assert "Brouillon écrit" in capsys.readouterr().out
    wb = load_workbook(sortie)
    assert wb.sheetnames[0] == FEUILLE_A_VERIFIER and "Engagements" in wb.sheetnames


def test_docx_et_odt(tmp_path):
    import docx
    d = docx.Document()
    d.add_paragraph("SOLIDARITE ET SANTE POUR TOUS")
    d.add_paragraph("L'État et la CPAM s'engagent à :")
    d.add_paragraph("lutter contre le renoncement aux soins", style="List Bullet")
    d.add_paragraph("proposer des bilans de santé", style="List Bullet")
    flux = io.BytesIO()
    d.save(flux)
    b = rediger_brouillon(flux.getvalue(), "p.docx").brouillon
    assert [(e.libelle, e.porteurs) for e in b.engagements] == [
        ("lutter contre le renoncement aux soins", ["ETAT", "CPAM"]), ("proposer des bilans de santé", ["ETAT", "CPAM"])]

    from odf.opendocument import OpenDocumentText
    from odf.text import List, ListItem, P
    o = OpenDocumentText()
    o.text.addElement(P(text="SOLIDARITE ET SANTE POUR TOUS"))
    o.text.addElement(P(text="L'État s'engage à :"))
    liste = List()
    for t in ("lutter contre le renoncement aux soins", "proposer des bilans de santé"):
        item = ListItem()
        item.addElement(P(text=t))
        liste.addElement(item)
    o.text.addElement(liste)
    flux = io.BytesIO()
    o.write(flux)
    b = rediger_brouillon(flux.getvalue(), "p.odt").brouillon
    assert [(e.libelle, e.porteurs) for e in b.engagements] == [
        ("lutter contre le renoncement aux soins", ["ETAT"]), ("proposer des bilans de santé", ["ETAT"])]


# --------------------------------------------------------------------------------------------------------------------
# Les deux protocoles de démonstration : seuils mesurés, PDF, import
# --------------------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pdfs(tmp_path_factory):
    from bench_brouillon import en_pdf
    if shutil.which("soffice") is None or not TROYES.exists():
        return {}
    d = tmp_path_factory.mktemp("pdf")
    return {nom: en_pdf(chemin, d) for nom, chemin in (("troyes", TROYES), ("blois", BLOIS))}


@sans_seeds
def test_troyes_texte_atteint_les_seuils():
    from bench_brouillon import mesurer
    m = mesurer(TROYES, RACINE / "data" / "demo" / "troyes")
    for cle in ("rappel_engagements", "precision_engagements", "rappel_liens", "precision_liens"):
        assert m[cle] >= 0.9, (cle, m[cle], m["manques"], m["en_trop"])
    assert m["rappel_noeuds"] >= 0.9 and m["precision_noeuds"] >= 0.9


@sans_seeds
@sans_soffice
def test_troyes_pdf_de_libreoffice_donne_le_meme_brouillon(pdfs):
    from bench_brouillon import mesurer
    texte_seul = rediger_brouillon(TROYES).brouillon
    pdf = rediger_brouillon(pdfs["troyes"]).brouillon
    assert [(e.libelle, e.porteurs, e.parent, e.axe) for e in pdf.engagements] == \
        [(e.libelle, e.porteurs, e.parent, e.axe) for e in texte_seul.engagements]
    m = mesurer(pdfs["troyes"], RACINE / "data" / "demo" / "troyes")
    assert m["rappel_liens"] >= 0.9 and m["precision_liens"] >= 0.9
    assert m["duree"] <= 10 * max(m["duree_extraction"], 0.05)


@sans_seeds
def test_blois_plancher_mesure():
    """Blois (OCR, tableaux aplatis), texte : la cible de 90 % est atteinte sur les engagements (rappel et précision),
    sur la précision des liens et sur le rappel des liens dont le texte écrit les porteurs. Le rappel sur tous les liens
    de la démonstration reste bas (49 % mesurés) : elle a déduit d'ailleurs les porteurs de 38 engagements dont la
    rangée n'en nomme aucun (docs/brouillon.md) ; il est gardé à son niveau pour qu'il ne recule pas."""
    from bench_brouillon import mesurer
    m = mesurer(BLOIS, RACINE / "data" / "demo" / "blois")
    for cle in ("rappel_engagements", "precision_engagements", "precision_liens", "rappel_liens_ecrits"):
        assert m[cle] >= 0.9, (cle, m[cle], m["manques"], m["en_trop"], m["ecarts_liens"])
    assert m["rappel_liens"] >= 0.45
    assert m["rappel_signataires_nommes"] >= 0.5


def _corriger_selon_a_verifier(chemin: Path, demo: Path) -> set[tuple[str, str]]:
    """Les corrections qu'un chef de projet ferait en lisant « À vérifier » : codes INSEE des communes, quartiers dont
    les communes ne sont pas au protocole, porteurs manquants. Renvoie les (feuille, code) que la feuille signalait."""
    wb = load_workbook(chemin)
    signales = {(r[0], str(r[1])) for r in wb[FEUILLE_A_VERIFIER].iter_rows(min_row=4, values_only=True) if r[0]}
    with open(demo / "communes.csv", encoding="utf-8") as f:
        insee = {r["Nom"].lower().replace("-", " ").replace("les ", ""): r["Code INSEE"] for r in csv.DictReader(f)}
    ws = wb["Communes"]
    for ligne in ws.iter_rows(min_row=2):
        if ligne[1].value and not ligne[0].value:
            assert ("Communes", ligne[1].value) in signales
            ligne[0].value = insee.get(ligne[1].value.lower().replace("-", " ").replace("les ", ""))
    connus = {l[0].value for l in ws.iter_rows(min_row=2) if l[0].value}
    ws = wb["Quartiers"]
    for i in range(ws.max_row, 1, -1):
        communes = [c for c in str(ws.cell(i, 4).value or "").split(";") if c]
        if ws.cell(i, 1).value and (not communes or not all(c in connus for c in communes)):
            assert ("Quartiers", ws.cell(i, 1).value) in signales
            ws.delete_rows(i)
    territoire = wb["Protocole"].cell(2, 4).value
    ws = wb["Engagements"]
    for ligne in ws.iter_rows(min_row=2):
        if ligne[0].value and not ligne[4].value:
            assert ("Engagements", ligne[0].value) in signales
            ligne[4].value = territoire
    wb.save(chemin)
    return signales


@sans_seeds
@pytest.mark.parametrize("nom, source", [("troyes", TROYES), ("blois", BLOIS)])
def test_le_brouillon_s_importe_apres_les_corrections_demandees(nom, source, store, tmp_path):
    res = rediger_brouillon(source)
    chemin = tmp_path / f"{nom}.xlsx"
    ecrire_brouillon(res, chemin, source.name)
    # Tel quel : seules manquent les corrections signalées. (Un engagement sans porteur n'est plus une erreur depuis
    # l'issue 15 : le brouillon de Blois, dont tous les porteurs ne sont pas nommés, peut même s'importer tel quel.)
    tel_quel = lire_referentiel(chemin).rapport
    signales = _corriger_selon_a_verifier(chemin, RACINE / "data" / "demo" / nom)
    for p in tel_quel.erreurs:
        assert p.feuille in {f for f, _ in signales}, p
    r = importer_referentiel(store, chemin)
    assert r.compte["engagement"] == len(res.brouillon.engagements)
