"""Le rapport en Word (.docx) : python-docx, titres en styles « Titre 1/2 » numérotés par Word (une liste à plusieurs
niveaux attachée aux styles : 1., 1.1. ; Annexe A., A.1. pour les annexes), sommaire en champ TOC mis à jour à
l'ouverture, légendes « Tableau n » et « Figure n » en champs SEQ, tableaux à largeurs fixes ajustées à leurs mots,
en-têtes de tableaux répétés, images avec texte de remplacement, « Page X sur Y » en pied de page."""
from __future__ import annotations

import io
import re
from xml.sax.saxutils import escape as _xml

import pandas as pd

from perr_metrics.commun.formats import format_date
from .document import (Chiffres, Graphique, Liste, MENTION_DEMO, Paragraphe, Rapport, Tableau, _ecrire, _largeurs,
                       _majuscule, typographie)
from .graphiques import _texte_absent, images_png, taille_image


# ====================================================================================================================
# Word (.docx)
# ====================================================================================================================

_TWIPS_PAR_CM = 567
_LARGEUR_UTILE_CM = 17.0
_BLEU = "1F3A5F"
_ORANGE_DEMO = "B34700"


def _docx_champ(paragraphe, instruction: str, resultat: str = "1") -> None:
    """Un champ Word (PAGE, NUMPAGES, TOC…) en fin de paragraphe, avec son résultat provisoire."""
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls
    for xml in (f'<w:r {nsdecls("w")}><w:fldChar w:fldCharType="begin" w:dirty="true"/></w:r>',
                f'<w:r {nsdecls("w")}><w:instrText xml:space="preserve"> {_xml(instruction)} </w:instrText></w:r>',
                f'<w:r {nsdecls("w")}><w:fldChar w:fldCharType="separate"/></w:r>',
                f'<w:r {nsdecls("w")}><w:t xml:space="preserve">{_xml(resultat)}</w:t></w:r>',
                f'<w:r {nsdecls("w")}><w:fldChar w:fldCharType="end"/></w:r>'):
        paragraphe._p.append(parse_xml(xml))


def _docx_run(texte: str, *, gras=False, italique=False, couleur: str | None = None, taille: float = 8) -> str:
    rpr = ("<w:b/>" if gras else "") + ("<w:i/>" if italique else "") + \
          (f'<w:color w:val="{couleur}"/>' if couleur else "") + f'<w:sz w:val="{round(taille * 2)}"/>'
    return f'<w:r><w:rPr>{rpr}</w:rPr><w:t xml:space="preserve">{_xml(typographie(texte))}</w:t></w:r>'


def _docx_cellule(contenu: str, largeur: int, *, fond: str | None = None, droite=False, colonnes: int = 1) -> str:
    tcpr = f'<w:tcW w:w="{largeur}" w:type="dxa"/>' + (f'<w:gridSpan w:val="{colonnes}"/>' if colonnes > 1 else "")
    if fond:
        tcpr += f'<w:shd w:val="clear" w:color="auto" w:fill="{fond}"/>'
    ppr = '<w:spacing w:before="0" w:after="0"/>' + ('<w:jc w:val="right"/>' if droite else "")
    return f"<w:tc><w:tcPr>{tcpr}</w:tcPr><w:p><w:pPr>{ppr}</w:pPr>{contenu}</w:p></w:tc>"


_TWIPS_PAR_CARACTERE = 95    # largeur moyenne d'un caractère d'Arial 8 pt (un peu plus pour le gras de l'en-tête)
_MARGES_CASE = 160           # marges gauche et droite d'une case (70 + 70) et un peu d'air


def _largeurs_ajustees(t: Tableau, cols: list[str], aff) -> list[int]:
    """Les largeurs des colonnes (twips) : celles que demande le tableau, mais aucune plus étroite que son plus long mot
    (LibreOffice et Word couperaient sinon le mot en deux) ; la place prise par une colonne élargie l'est aux colonnes
    qui ont de la marge. Total : la largeur utile de la page."""
    total = round(_LARGEUR_UTILE_CM * _TWIPS_PAR_CM)
    voulues = [w * total for w in _largeurs(t, cols)]
    minimums = []
    for c in cols:
        mots = [m for v in [c, *aff[c]] for m in str(v).split()]
        minimums.append(max([len(m) for m in mots] + [2]) * _TWIPS_PAR_CARACTERE + _MARGES_CASE)
    if sum(minimums) >= total:
        return [round(m * total / sum(minimums)) for m in minimums]
    largeurs = list(voulues)
    for _ in range(len(cols)):
        manque = sum(max(0, m - w) for m, w in zip(minimums, largeurs))
        if manque <= 0.5:
            break
        largeurs = [max(m, w) for m, w in zip(minimums, largeurs)]
        marge = [w - m for m, w in zip(minimums, largeurs)]
        libre = sum(marge)
        largeurs = [w - manque * g / libre for w, g in zip(largeurs, marge)]
    largeurs = [round(w) for w in largeurs]
    largeurs[-1] += total - sum(largeurs)
    return largeurs


def _docx_xml_tableau(t: Tableau) -> str:
    """Le tableau en WordprocessingML, écrit d'un coup : python-docx, cellule par cellule, mettrait des secondes à
    écrire les tableaux d'un gros protocole. Ligne d'en-tête répétée en haut de chaque page (w:tblHeader), lignes
    insécables (w:cantSplit), titre du tableau pour les lecteurs d'écran (w:tblCaption)."""
    from docx.oxml.ns import nsdecls
    cols = t.colonnes
    aff = t.affichage()
    largeurs = _largeurs_ajustees(t, cols, aff)
    total = sum(largeurs)
    droite = set(t.droite)
    lignes = ['<w:tr><w:trPr><w:cantSplit/><w:tblHeader/></w:trPr>'
              + "".join(_docx_cellule(_docx_run(c, gras=True, couleur="FFFFFF"), w, fond=_BLEU, droite=c in droite)
                        for c, w in zip(cols, largeurs)) + "</w:tr>"]
    detail = list(aff[t.detail]) if t.detail else None
    for i, ligne in enumerate(zip(*(aff[c] for c in cols))):
        cellules = []
        for c, w, v in zip(cols, largeurs, ligne):
            couleur = t.pastilles.get(c, {}).get(v)
            contenu = (_docx_run("■ ", couleur=couleur.lstrip("#")) if couleur else "") + _docx_run(v)
            cellules.append(_docx_cellule(contenu, w, droite=c in droite))
        lignes.append("<w:tr><w:trPr><w:cantSplit/></w:trPr>" + "".join(cellules) + "</w:tr>")
        if detail and detail[i]:
            lignes.append("<w:tr><w:trPr><w:cantSplit/></w:trPr>"
                          + _docx_cellule(_docx_run(detail[i], italique=True, couleur="444444", taille=7.5), total,
                                          colonnes=len(cols)) + "</w:tr>")
    grille = "".join(f'<w:gridCol w:w="{w}"/>' for w in largeurs)
    return (f'<w:tbl {nsdecls("w")}><w:tblPr><w:tblStyle w:val="TableGrid"/><w:tblW w:w="{total}" w:type="dxa"/>'
            '<w:tblLayout w:type="fixed"/><w:tblCellMar><w:left w:w="70" w:type="dxa"/>'
            '<w:right w:w="70" w:type="dxa"/></w:tblCellMar><w:tblLook w:val="04A0" w:firstRow="1" '
            'w:lastRow="0" w:firstColumn="1" w:lastColumn="0" w:noHBand="0" w:noVBand="1"/>'
            f'<w:tblCaption w:val="{_xml(t.legende[:250], {chr(34): "&quot;"})}"/></w:tblPr>'
            f"<w:tblGrid>{grille}</w:tblGrid>{''.join(lignes)}</w:tbl>")


def _docx_tableau(doc, t: Tableau, numero: int | None) -> None:
    from docx.oxml import parse_xml
    from docx.shared import Pt
    legende = doc.add_paragraph(style="Caption")
    if numero is None:
        legende.add_run(typographie(t.legende)).bold = True
    else:
        _legende_numerotee(legende, "Tableau", numero, t.legende, gras=True)
    legende.paragraph_format.keep_with_next = True
    if t.donnees.empty:
        doc.add_paragraph(typographie(t.vide))
        return
    apres = doc.add_paragraph()
    apres.paragraph_format.space_after = Pt(4)
    apres._p.addprevious(parse_xml(_docx_xml_tableau(t)))


def _legende_numerotee(paragraphe, quoi: str, numero: int, texte: str, gras: bool = False) -> None:
    """« Tableau n — … » : le numéro est un champ SEQ (Word renumérote les légendes quand on ajoute ou retire un
    tableau) ; son résultat provisoire est le numéro calculé ici."""
    paragraphe.add_run(f"{quoi} ").bold = gras
    _docx_champ(paragraphe, f"SEQ {quoi} \\* ARABIC", str(numero))
    if gras:
        for r in paragraphe._p.findall(".//{http://schemas.openxmlformats.org/wordprocessingml/2006/main}r")[-5:]:
            r.insert(0, _rpr_gras())
    paragraphe.add_run(typographie(f" — {texte}")).bold = gras


def _rpr_gras():
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls
    return parse_xml(f'<w:rPr {nsdecls("w")}><w:b/></w:rPr>')


# Le numéro qu'écrit le contenu en tête d'un titre (« 2. », « 5.3. », « Annexe A. », « A.4. ») : Word le met lui-même.
_NUMERO_TITRE = re.compile(r"^(?:(Annexe) [A-Z]\.|[A-Z]\.\d+\.|\d+(?:\.\d+)*\.)\s+")
_NUM_CORPS, _NUM_ANNEXES = 101, 102


def _docx_numerotation(doc) -> None:
    """Deux listes à plusieurs niveaux pour les titres : « 1. », « 1.1. » (attachée aux styles Titre 1 et Titre 2) et
    « Annexe A. », « A.1. » (mise sur les titres des annexes)."""
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls, qn
    numerotation = doc.part.numbering_part.element

    def niveau(ilvl: int, fmt: str, texte: str, style: str) -> str:
        return (f'<w:lvl w:ilvl="{ilvl}"><w:start w:val="1"/><w:numFmt w:val="{fmt}"/><w:pStyle w:val="{style}"/>'
                f'<w:lvlText w:val="{texte}"/><w:lvlJc w:val="left"/><w:pPr><w:ind w:left="0" w:firstLine="0"/>'
                '</w:pPr></w:lvl>')

    premier_num = numerotation.find(qn("w:num"))
    for ident, niveaux in ((_NUM_CORPS, [("decimal", "%1.", "Heading1"), ("decimal", "%1.%2.", "Heading2")]),
                           (_NUM_ANNEXES, [("upperLetter", "Annexe %1.", "Heading1"),
                                           ("upperLetter", "%1.%2.", "Heading2")])):
        abstrait = parse_xml(f'<w:abstractNum {nsdecls("w")} w:abstractNumId="{ident}"><w:multiLevelType '
                             'w:val="multilevel"/>' + "".join(niveau(i, f, x, st) for i, (f, x, st)
                                                             in enumerate(niveaux)) + "</w:abstractNum>")
        if niveaux[1][0] == "upperLetter":   # A.1. : la lettre de l'annexe, puis un nombre
            abstrait[2].find(qn("w:numFmt")).set(qn("w:val"), "decimal")
            abstrait[2].find(qn("w:lvlText")).set(qn("w:val"), "%1.%2.")
        if premier_num is not None:
            premier_num.addprevious(abstrait)
        else:
            numerotation.append(abstrait)
        numerotation.append(parse_xml(f'<w:num {nsdecls("w")} w:numId="{ident}"><w:abstractNumId w:val="{ident}"/>'
                                      "</w:num>"))
    for nom, ilvl, num in (("Heading 1", 0, _NUM_CORPS), ("Heading 2", 1, _NUM_CORPS), ("TOC Heading", 0, 0)):
        # (le titre du sommaire hérite de Titre 1 : sans numéro)
        ppr = doc.styles[nom].element.get_or_add_pPr()
        ppr.insert(0, parse_xml(f'<w:numPr {nsdecls("w")}><w:ilvl w:val="{ilvl}"/><w:numId w:val="{num}"/>'
                                "</w:numPr>"))


def _docx_titre(doc, titre: str, niveau: int) -> None:
    """Un titre en style Titre 1/2, numéroté par Word : le numéro écrit par le contenu est retiré ; un titre d'annexe
    prend la numérotation des annexes ; un titre sans numéro n'en reçoit pas."""
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls
    m = _NUMERO_TITRE.match(titre)
    par = doc.add_heading(typographie(titre[m.end():] if m else titre), level=niveau)
    if m and re.match(r"^(Annexe |[A-Z]\.)", titre):
        num = _NUM_ANNEXES
    elif m:
        return
    else:
        num = 0   # aucun numéro
    par._p.get_or_add_pPr().insert(0, parse_xml(f'<w:numPr {nsdecls("w")}><w:ilvl w:val="{niveau - 1}"/>'
                                                 f'<w:numId w:val="{num}"/></w:numPr>'))


def _docx_styles(doc) -> None:
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls
    from docx.shared import Pt, RGBColor
    normal = doc.styles["Normal"]
    normal.font.name = "Arial"
    normal.font.size = Pt(10)
    normal.element.get_or_add_rPr().append(parse_xml(f'<w:lang {nsdecls("w")} w:val="fr-FR"/>'))
    for nom, taille in (("Heading 1", 17), ("Heading 2", 13), ("Title", 26), ("TOC Heading", 17)):
        style = doc.styles[nom]
        style.font.name = "Arial"
        style.font.size = Pt(taille)
        style.font.color.rgb = RGBColor.from_string(_BLEU)
    doc.styles["Heading 1"].paragraph_format.page_break_before = True
    doc.styles["Caption"].font.size = Pt(9)
    doc.styles["Caption"].font.color.rgb = RGBColor(0x33, 0x33, 0x33)


def _docx_fond_paragraphe(paragraphe, couleur: str) -> None:
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls
    paragraphe._p.get_or_add_pPr().append(
        parse_xml(f'<w:shd {nsdecls("w")} w:val="clear" w:color="auto" w:fill="{couleur}"/>'))


def ecrire_docx(rapport: Rapport, flux) -> None:
    """Le rapport en document Word modifiable : titres en styles de titre (le sommaire est un champ Word, mis à jour à
    l'ouverture), en-têtes de tableaux répétés, images avec texte de remplacement, « Page X sur Y » en pied de page."""
    import docx
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml import parse_xml
    from docx.oxml.ns import nsdecls
    from docx.shared import Cm, Pt, RGBColor

    images_png(rapport)
    p = rapport.protocole
    doc = docx.Document()
    _docx_styles(doc)
    _docx_numerotation(doc)
    sect = doc.sections[0]
    sect.page_width, sect.page_height = Cm(21), Cm(29.7)
    sect.left_margin = sect.right_margin = Cm(2)
    sect.top_margin = sect.bottom_margin = Cm(2)
    prop = doc.core_properties
    prop.title = f"{rapport.titre} — {p['territoire']}"
    prop.subject = str(p["libelle"])
    prop.author = "perr-metrics"
    prop.language = "fr-FR"
    prop.keywords = "PERR ; contrat de ville ; évaluation" + (" ; données de démonstration" if rapport.demonstration
                                                              else "")

    entete = sect.header.paragraphs[0]
    entete.add_run(typographie(f"{p['territoire']} — {rapport.titre}"))
    if rapport.demonstration:
        demo = sect.header.add_paragraph()
        demo.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        r = demo.add_run("Données de démonstration")
        r.bold, r.font.size = True, Pt(8)
        r.font.color.rgb = RGBColor.from_string(_ORANGE_DEMO)
    pied = sect.footer.paragraphs[0]
    pied.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    pied.add_run("Page ")
    _docx_champ(pied, "PAGE")
    pied.add_run(" sur ")
    _docx_champ(pied, "NUMPAGES")
    for par in (entete, pied):
        for r in par.runs:
            r.font.size = Pt(8)

    # Couverture
    sur = doc.add_paragraph("Contrat de ville — Protocole d'engagements renforcés et réciproques")
    sur.runs[0].font.color.rgb = RGBColor(0x55, 0x55, 0x55)
    doc.add_paragraph(typographie(rapport.titre), style="Title")
    doc.add_paragraph().add_run(typographie(str(p["libelle"]))).bold = True
    doc.add_paragraph(typographie(f"{p['territoire']} · {p['code']}"))
    if rapport.demonstration:
        par = doc.add_paragraph()
        r = par.add_run("DONNÉES DE DÉMONSTRATION")
        r.bold, r.font.size = True, Pt(16)
        r.font.color.rgb = RGBColor.from_string(_ORANGE_DEMO)
        par.add_run("\n" + typographie(_majuscule(MENTION_DEMO.split(" : ", 1)[1])))
        _docx_fond_paragraphe(par, "FCE8D9")
    fiche = Tableau(pd.DataFrame(rapport.couverture, columns=["Le protocole", ""]), "Le protocole", "",
                    largeurs={"Le protocole": 1.2, "": 3.3})
    _docx_tableau(doc, fiche, None)
    doc.add_paragraph(typographie(f"Établi le {format_date(rapport.etabli_le)} par perr-metrics à partir des données "
                                  "déposées par les partenaires, pour le comité de pilotage."))

    # Sommaire : un champ TOC que Word met à jour à l'ouverture (w:updateFields) ; en attendant, son résultat
    # provisoire liste les titres, pour les logiciels qui ne le recalculent pas.
    titre = doc.add_paragraph("Sommaire", style="TOC Heading")
    titre.paragraph_format.page_break_before = True
    par = doc.add_paragraph()
    _docx_champ(par, 'TOC \\o "1-2" \\h \\z \\u',
                "Pour afficher les numéros de page : clic droit sur le sommaire, « Mettre à jour les champs ».")
    for s in rapport.sections:
        e = doc.add_paragraph(typographie(s.titre))
        e.paragraph_format.left_indent = Cm(0.6 * (s.niveau - 1))
        e.paragraph_format.space_after = Pt(0)
        if s.niveau == 1:
            e.runs[0].bold = True
    doc.settings.element.append(parse_xml(f'<w:updateFields {nsdecls("w")} w:val="true"/>'))

    compteurs = {"tableau": 0, "figure": 0}
    for s in rapport.sections:
        _docx_titre(doc, s.titre, s.niveau)
        for b in s.blocs:
            if isinstance(b, Paragraphe):
                par = doc.add_paragraph(typographie(b.texte))
                if b.style == "note":
                    par.runs[0].font.size = Pt(8.5)
                    par.runs[0].font.color.rgb = RGBColor(0x55, 0x55, 0x55)
                elif b.style == "chapeau":
                    par.paragraph_format.keep_with_next = True
                elif b.style == "alerte":
                    par.runs[0].bold = True
                    par.runs[0].font.color.rgb = RGBColor.from_string(_ORANGE_DEMO)
                    _docx_fond_paragraphe(par, "FCE8D9")
            elif isinstance(b, Liste):
                for x in b.elements:
                    doc.add_paragraph(typographie(x), style="List Bullet")
            elif isinstance(b, Chiffres):
                table = doc.add_table(rows=2, cols=len(b.elements))
                table.style = doc.styles["Table Grid"]
                for j, (v, lib) in enumerate(b.elements):
                    r = table.cell(0, j).paragraphs[0].add_run(typographie(v))
                    r.bold, r.font.size = True, Pt(15)
                    r.font.color.rgb = RGBColor.from_string(_BLEU)
                    table.cell(1, j).paragraphs[0].add_run(typographie(lib)).font.size = Pt(8)
                doc.add_paragraph()
            elif isinstance(b, Tableau):
                if b.dans_document:
                    compteurs["tableau"] += 1
                    _docx_tableau(doc, b, compteurs["tableau"])
            elif isinstance(b, Graphique):
                compteurs["figure"] += 1
                if b.png:
                    largeur, hauteur = taille_image(b)
                    largeur = min(_LARGEUR_UTILE_CM, 19.0 * largeur / hauteur)
                    doc.add_picture(io.BytesIO(b.png), width=Cm(largeur))
                    doc_pr = doc.inline_shapes[-1]._inline.docPr
                    doc_pr.set("descr", b.alt)
                    doc_pr.set("title", b.legende)
                    doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
                    doc.paragraphs[-1].paragraph_format.keep_with_next = True
                else:
                    par = doc.add_paragraph(typographie(_texte_absent(rapport)))
                    par.runs[0].italic = True
                    _docx_fond_paragraphe(par, "F0F0F0")
                    doc.add_paragraph(typographie(b.alt)).runs[0].font.size = Pt(8)
                _legende_numerotee(doc.add_paragraph(style="Caption"), "Figure", compteurs["figure"], b.legende)
    _ecrire(flux, doc.save)
