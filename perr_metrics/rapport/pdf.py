"""Le rapport en PDF : le rapport neutre écrit en JSON (des textes déjà à la française), mis en pages par Typst selon
le gabarit perr_metrics/rapport/gabarit/rapport.typ ; A4, couverture, sommaire avec numéros de page, « Page X sur Y »,
signets, PDF balisé (accessibilité), graphiques en SVG dessinés sans navigateur.

Typst plutôt que WeasyPrint : le même rapport (Troyes 2022, 48 pages) se compose en moins d'une seconde au lieu de 15
à 19 s (docs/performance.md, « Le rapport annuel : PDF en N × le contenu »)."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

from perr_metrics.commun.formats import format_date
from .document import (Chiffres, Graphique, Liste, MENTION_DEMO, Paragraphe, Rapport, Tableau, _ecrire, _largeurs,
                       _majuscule, typographie)
from .graphiques import _texte_absent, rendre_images, taille_image

GABARIT = Path(__file__).resolve().parent / "gabarit"


# ====================================================================================================================
# PDF (rapport neutre → JSON → Typst)
# ====================================================================================================================

def _e(t) -> str:
    """Un texte tel qu'il est composé : typographie française (espaces fines et insécables)."""
    return typographie("" if t is None else str(t))


def _json_tableau(t: Tableau) -> dict:
    cols = t.colonnes
    aff = t.affichage()
    droite = set(t.droite)
    pastilles = [t.pastilles.get(c) for c in cols]
    lignes, couleurs = [], []
    for ligne in zip(*(aff[c] for c in cols)):
        lignes.append([_e(v) for v in ligne])
        couleurs.append([(p or {}).get(v) for p, v in zip(pastilles, ligne)])
    details = None
    if t.detail:
        details = [_e(x) if x else None for x in aff[t.detail]]
    return {"type": "tableau", "legende": _e(t.legende), "vide": _e(t.vide), "colonnes": [_e(c) for c in cols],
            "largeurs": [round(w, 4) for w in _largeurs(t, cols)], "droite": [c in droite for c in cols],
            "lignes": lignes, "couleurs": couleurs, "details": details}


def _json_bloc(rapport: Rapport, b, images: dict) -> dict | None:
    if isinstance(b, Paragraphe):
        return {"type": "paragraphe", "texte": _e(b.texte), "style": b.style}
    if isinstance(b, Liste):
        return {"type": "liste", "elements": [_e(x) for x in b.elements]}
    if isinstance(b, Chiffres):
        return {"type": "chiffres", "legende": _e(b.legende), "elements": [[_e(v), _e(lib)] for v, lib in b.elements]}
    if isinstance(b, Tableau):
        return _json_tableau(b) if b.dans_document else None
    if isinstance(b, Graphique):
        nom = None
        if b.svg or b.png:
            nom = f"graphique-{len(images) + 1}.{'svg' if b.svg else 'png'}"
            images[nom] = b.svg.encode("utf-8") if b.svg else b.png
        # Sur toute la largeur (18 cm), sauf un graphique très haut : sa hauteur reste sous 19 cm.
        largeur, hauteur = taille_image(b)
        largeur = min(1.0, 190 * largeur / (180 * hauteur))
        return {"type": "figure", "legende": _e(b.legende), "alt": _e(b.alt), "image": nom,
                "largeur": round(largeur, 4), "absent": _e(_texte_absent(rapport)) if nom is None else ""}
    raise TypeError(type(b))


def rapport_typst(rapport: Rapport) -> tuple[dict, dict[str, bytes]]:
    """Ce que le gabarit Typst met en pages : le rapport en JSON (textes à la française, typographie comprise) et les
    images des graphiques (nom de fichier → octets)."""
    p = rapport.protocole
    images: dict[str, bytes] = {}
    sections = []
    for s in rapport.sections:
        blocs = [j for j in (_json_bloc(rapport, b, images) for b in s.blocs) if j is not None]
        sections.append({"titre": _e(s.titre), "niveau": s.niveau, "ancre": s.ancre, "blocs": blocs})
    donnees = {
        "titre": _e(rapport.titre), "titre_document": f"{rapport.titre} — {p['territoire']}",
        "libelle": _e(p["libelle"]), "territoire_code": _e(f"{p['territoire']} · {p['code']}"),
        "mots_cles": ["PERR", "contrat de ville", "évaluation"]
        + (["données de démonstration"] if rapport.demonstration else []),
        "entete": _e(f"{p['territoire']} — {rapport.titre}"),
        "entete_demo": "Données de démonstration" if rapport.demonstration else "",
        "demonstration": rapport.demonstration,
        "mention_demo": _e(_majuscule(MENTION_DEMO.split(" : ", 1)[1])),
        "couverture": [[_e(k), _e(v)] for k, v in rapport.couverture],
        "pied_couverture": _e(f"Établi le {format_date(rapport.etabli_le)} par perr-metrics à partir des données "
                              "déposées par les partenaires, pour le comité de pilotage."),
        "sections": sections}
    return donnees, images


def pdf_octets(rapport: Rapport) -> bytes:
    """Le PDF du rapport (graphiques déjà rendus ou pas : voir `ecrire_pdf`)."""
    import typst
    donnees, images = rapport_typst(rapport)
    with tempfile.TemporaryDirectory(prefix="perr-rapport-") as dossier:
        racine = Path(dossier)
        (racine / "rapport.typ").write_bytes((GABARIT / "rapport.typ").read_bytes())
        (racine / "rapport.json").write_text(json.dumps(donnees, ensure_ascii=False), encoding="utf-8")
        for nom, contenu in images.items():
            (racine / nom).write_bytes(contenu)
        return typst.compile(str(racine / "rapport.typ"), root=dossier, format="pdf",
                             timestamp=None, pdf_tags=True)


def ecrire_pdf(rapport: Rapport, flux) -> None:
    """Le rapport en PDF : A4, couverture, sommaire paginé, « Page X sur Y », signets, PDF balisé (accessibilité)."""
    rendre_images(rapport)
    contenu = pdf_octets(rapport)
    _ecrire(flux, lambda f: f.write(contenu))
