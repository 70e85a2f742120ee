"""Le rapport en PDF : HTML + CSS (perr_metrics/rapport/gabarit/) mis en pages par WeasyPrint, A4, sommaire avec
numéros de page, graphiques en PNG rendus hors ligne par kaleido (Chromium)."""
from __future__ import annotations

import base64
import html
from pathlib import Path

from perr_metrics.commun.formats import format_date
from .document import (Chiffres, Graphique, Liste, MENTION_DEMO, Paragraphe, Rapport, Tableau, _ecrire, _largeurs,
                       _majuscule, typographie)
from .graphiques import _texte_absent, rendre_images

GABARIT = Path(__file__).resolve().parent / "gabarit"


# ====================================================================================================================
# PDF (HTML + CSS → WeasyPrint)
# ====================================================================================================================

def _e(t) -> str:
    return html.escape(typographie(str(t)), quote=True)


def _css_chaine(t: str) -> str:
    return '"' + str(t).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


def _html_tableau(t: Tableau, numero: int) -> str:
    cols = t.colonnes
    aff = t.affichage()
    if aff.empty:
        return f'<p class="tableau-vide"><strong>{_e(t.legende)}</strong> — {_e(t.vide)}</p>'
    droite = set(t.droite)
    parties = [f'<table id="tableau-{numero}" class="{"details" if t.detail else "simple"}">'
               f"<caption>{_e(t.legende)}</caption><colgroup>"]
    parties += [f'<col style="width:{100 * w:.1f}%">' for w in _largeurs(t, cols)]
    parties.append("</colgroup><thead><tr>")
    a_droite = ' class="droite"'
    parties += [f'<th scope="col"{a_droite if c in droite else ""}>{_e(c)}</th>' for c in cols]
    parties.append("</tr></thead>" + ("" if t.detail else "<tbody>"))
    # La couleur d'un statut est un filet à gauche de sa case : pas d'élément de plus à mettre en pages (un petit carré
    # dans le texte coûtait un tiers du temps de WeasyPrint sur un gros protocole).
    colonnes = [(c, c in droite, t.pastilles.get(c)) for c in cols]
    detail = list(aff[t.detail]) if t.detail else None
    for i, ligne in enumerate(zip(*(aff[c] for c in cols))):
        a_detail = bool(detail and detail[i])
        if t.detail:
            parties.append('<tbody><tr class="avec-detail">' if a_detail else "<tbody><tr>")
        else:
            parties.append("<tr>")
        for j, ((c, a_droite, couleurs), v) in enumerate(zip(colonnes, ligne)):
            classe = ' class="droite"' if a_droite else ""
            if couleurs and v in couleurs:
                classe = f' class="statut" style="border-left-color:{couleurs[v]}"'
            balise = "th" if j == 0 else "td"
            portee = ' scope="row"' if j == 0 else ""
            parties.append(f"<{balise}{portee}{classe}>{_e(v)}</{balise}>")
        parties.append("</tr>")
        if t.detail:
            if a_detail:
                parties.append(f'<tr class="detail"><td colspan="{len(cols)}">{_e(detail[i])}</td></tr>')
            parties.append("</tbody>")
    parties.append(("" if t.detail else "</tbody>") + "</table>")
    return "".join(parties)


def _html_bloc(rapport: Rapport, b, compteurs: dict) -> str:
    if isinstance(b, Paragraphe):
        return f'<p class="{b.style}">{_e(b.texte)}</p>'
    if isinstance(b, Liste):
        return "<ul>" + "".join(f"<li>{_e(x)}</li>" for x in b.elements) + "</ul>"
    if isinstance(b, Chiffres):
        cases = "".join(f'<div class="chiffre"><span class="valeur">{_e(v)}</span><span class="libelle">{_e(lib)}'
                        "</span></div>" for v, lib in b.elements)
        return f'<div class="chiffres" role="group" aria-label="{_e(b.legende)}">{cases}</div>'
    if isinstance(b, Tableau):
        if not b.dans_document:
            return ""
        compteurs["tableau"] += 1
        return _html_tableau(b, compteurs["tableau"])
    if isinstance(b, Graphique):
        compteurs["figure"] += 1
        n = compteurs["figure"]
        legende = f"<figcaption>Figure {n} — {_e(b.legende)}</figcaption>"
        if b.png:
            # Sur toute la largeur (18 cm), sauf un graphique très haut : sa hauteur reste sous 19 cm.
            largeur = min(100.0, 100.0 * 190 * b.largeur / (180 * b.hauteur))
            return (f'<figure id="figure-{n}"><img src="data:image/png;base64,{base64.b64encode(b.png).decode()}" '
                    f'alt="{_e(b.alt)}" style="width:{largeur:.0f}%">{legende}</figure>')
        return (f'<figure id="figure-{n}"><div class="graphique-absent" role="img" aria-label="{_e(b.alt)}">'
                f'<p>{_e(_texte_absent(rapport))}</p><p class="alt">{_e(b.alt)}</p></div>{legende}</figure>')
    raise TypeError(type(b))


def rapport_html(rapport: Rapport) -> str:
    """Le rapport en une page HTML autonome (CSS et images incluses), celle que WeasyPrint met en pages."""
    p = rapport.protocole
    css = (GABARIT / "rapport.css").read_text(encoding="utf-8")
    css = (css.replace("/*ENTETE*/", _css_chaine(typographie(f"{p['territoire']} — {rapport.titre}")))
           .replace("/*DEMO*/", _css_chaine("Données de démonstration" if rapport.demonstration else "")))
    compteurs = {"tableau": 0, "figure": 0}
    fiche = "".join(f'<tr><th scope="row">{_e(k)}</th><td>{_e(v)}</td></tr>' for k, v in rapport.couverture)
    demo = (f'<div class="bandeau-demo" role="note"><strong>Données de démonstration</strong>'
            f"{_e(_majuscule(MENTION_DEMO.split(' : ', 1)[1]))}</div>" if rapport.demonstration else "")
    pied = (f"Établi le {format_date(rapport.etabli_le)} par perr-metrics à partir des données déposées par les "
            "partenaires, pour le comité de pilotage.")
    corps = [
        '<section class="couverture"><div class="surtitre">Contrat de ville — Protocole d\'engagements renforcés et '
        f'réciproques</div><h1 class="titre">{_e(rapport.titre)}</h1><p class="protocole">{_e(p["libelle"])}</p>'
        f'<p class="territoire">{_e(p["territoire"])} · {_e(p["code"])}</p>{demo}'
        f'<table class="fiche"><caption>Le protocole</caption><tbody>{fiche}</tbody></table>'
        f'<p class="pied-couverture">{_e(pied)}</p></section>']
    entrees = "".join(f'<li class="n{s.niveau}"><a href="#{s.ancre}">{_e(s.titre)}</a></li>' for s in rapport.sections)
    corps.append(f'<nav class="sommaire" aria-label="Sommaire"><h1>Sommaire</h1><ol>{entrees}</ol></nav>')
    for s in rapport.sections:
        classe = ' class="chapitre"' if s.niveau == 1 else ""
        blocs = "".join(_html_bloc(rapport, b, compteurs) for b in s.blocs)
        corps.append(f'<section{classe}><h{s.niveau} id="{s.ancre}">{_e(s.titre)}</h{s.niveau}>{blocs}</section>')
    return (f'<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><title>{_e(rapport.titre)} — '
            f'{_e(p["territoire"])}</title><meta name="author" content="perr-metrics">'
            f'<meta name="description" content="{_e(p["libelle"])}"><meta name="generator" content="perr-metrics">'
            f"<style>{css}</style></head><body>{''.join(corps)}</body></html>")


def ecrire_pdf(rapport: Rapport, flux) -> None:
    """Le rapport en PDF : A4, couverture, sommaire paginé, « Page X sur Y », signets, PDF balisé (accessibilité)."""
    from weasyprint import HTML
    rendre_images(rapport)
    document = HTML(string=rapport_html(rapport), base_url=str(GABARIT))
    _ecrire(flux, lambda f: document.write_pdf(f, pdf_tags=True))
