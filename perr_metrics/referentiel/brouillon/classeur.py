"""Le classeur du brouillon : le format du référentiel (referentiel.classeur.ecrire_classeur, mêmes feuilles, mêmes
listes déroulantes), plus, à droite de chaque ligne tirée du texte, d'où elle vient (page, ligne, extrait) et la confiance
de la lecture — des colonnes que l'import ignore —, et une feuille « À vérifier » ouverte en premier.
"""
from __future__ import annotations

import datetime as dt
import io
import time
from dataclasses import dataclass
from pathlib import Path

from perr_metrics.referentiel.brouillon.analyse import lire_structure
from perr_metrics.referentiel.brouillon.structure import Brouillon
from perr_metrics.referentiel.brouillon.texte import Texte, lire_texte
from perr_metrics.referentiel.classeur import FEUILLES, ecrire_classeur

FEUILLE_A_VERIFIER = "À vérifier"
COLONNES_SOURCE = ("Source : page", "Source : ligne", "Source : extrait", "Confiance")


@dataclass
class ResultatBrouillon:
    brouillon: Brouillon
    texte: Texte
    duree_extraction: float
    duree_totale: float


def rediger_brouillon(source, nom_fichier: str | None = None) -> ResultatBrouillon:
    """Lit le protocole et en tire le brouillon. Lève texte.BrouillonRefuse (rien n'est écrit) si c'est impossible."""
    debut = time.perf_counter()
    texte = lire_texte(source, nom_fichier)
    nom = nom_fichier or (Path(source).name if isinstance(source, (str, Path)) else "document")
    brouillon = lire_structure(texte, nom)
    return ResultatBrouillon(brouillon, texte, texte.duree, time.perf_counter() - debut)


def donnees(b: Brouillon, nom: str = "") -> tuple[dict[str, list[dict]], dict[str, list[tuple]]]:
    """Les lignes de chaque feuille au format du référentiel, et leur provenance (page, ligne, extrait, confiance)."""
    annee = b.annee_debut or dt.date.today().year
    code_protocole = f"{b.code_territoire}-PERR-{annee}"
    contrat = f"CV-{b.code_territoire}"
    d: dict[str, list[dict]] = {}
    src: dict[str, list[tuple]] = {}
    d["protocole"] = [{
        "code": code_protocole, "titre": b.titre, "territoire": b.territoire, "code_territoire": b.code_territoire,
        "annee_debut": b.annee_debut, "annee_fin": b.annee_fin, "date_signature": b.date_signature,
        "geographie": "2024", "demonstration": False,
        "description": f"Brouillon tiré de « {nom} » le {dt.date.today():%d/%m/%Y} par perr-metrics : à relire et corriger "
                       "avant import (feuille « À vérifier »)."}]
    d["contrats"] = [{"code": contrat, "libelle": f"Contrat de ville de {b.contrat or b.territoire}"}]
    d["communes"] = [{"insee": c["insee"], "nom": c["nom"], "contrat": contrat} for c in b.communes]
    src["communes"] = [(c["page"], c["ligne"], c["extrait"], "haute" if c["insee"] else "faible") for c in b.communes]
    d["quartiers"] = [{"code": q["code"], "libelle": q["libelle"], "type": q["type"], "communes": q["communes"]}
                      for q in b.quartiers]
    src["quartiers"] = [("", "", q["extrait"], q["confiance"]) for q in b.quartiers]
    d["signataires"] = [{"code": s.code, "nom": s.nom, "categorie": s.categorie, "rattache_a": s.rattache_a,
                         "signe": s.signe, "insee": s.insee} for s in b.signataires]
    src["signataires"] = [(s.page or "", s.ligne or "", (s.ligne_signature + " — " if s.ligne_signature else "")
                           + s.extrait, s.confiance) for s in b.signataires]
    d["axes"] = [{"code": n.code, "parent": n.parent, "niveau": n.niveau, "libelle": n.libelle, "ordre": n.ordre,
                  "cadres": n.cadres} for n in b.noeuds]
    src["axes"] = [(n.page, n.ligne, n.extrait, n.confiance) for n in b.noeuds]
    ordres: dict[tuple, int] = {}
    lignes = []
    for e in b.engagements:
        k = (e.axe, e.parent)
        ordres[k] = ordres.get(k, 0) + 1
        lignes.append({"code": e.code, "axe": e.axe, "parent": e.parent, "libelle": e.libelle, "porteurs": e.porteurs,
                       "formule": e.formule, "levier": e.levier, "ordre": ordres[k]})
    d["engagements"] = lignes
    src["engagements"] = [(e.page, e.ligne, e.extrait, e.confiance) for e in b.engagements]
    return d, src


def ecrire_brouillon(resultat: ResultatBrouillon, chemin_ou_flux, nom: str = "") -> None:
    """Écrit le classeur du brouillon (format du référentiel + provenance + « À vérifier »)."""
    from openpyxl import load_workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    b = resultat.brouillon
    lignes, provenance = donnees(b, nom)
    tampon = io.BytesIO()
    ecrire_classeur(tampon, lignes)
    wb = load_workbook(io.BytesIO(tampon.getvalue()))
    gris = PatternFill("solid", fgColor="EDEDED")
    for spec in FEUILLES:
        if spec.fichier not in provenance:
            continue
        ws = wb[spec.nom]
        premiere = len(spec.colonnes) + 2          # une colonne vide entre les données et leur provenance
        for j, titre in enumerate(COLONNES_SOURCE):
            c = ws.cell(row=1, column=premiere + j, value=titre)
            c.font = Font(bold=True, italic=True)
            c.fill = gris
        ws.column_dimensions[ws.cell(row=1, column=premiere + 2).column_letter].width = 60
        for i, valeurs in enumerate(provenance[spec.fichier], 2):
            for j, v in enumerate(valeurs):
                cellule = ws.cell(row=i, column=premiere + j, value=v if v != "" else None)
                if isinstance(v, str):
                    cellule.data_type = "s"
    ws = wb.create_sheet(FEUILLE_A_VERIFIER, 0)
    ws.cell(row=1, column=1, value=f"Brouillon tiré de « {nom} » : {len(b.engagements)} engagements, {len(b.noeuds)} "
                                  f"nœuds, {len(b.signataires)} signataires. Chaque ligne ci-dessous est à vérifier "
                                  "dans la feuille indiquée avant l'import (referentiel importer).").font = Font(bold=True)
    entetes = ("Feuille", "Code", "Élément", "À vérifier", "Source : page", "Source : ligne", "Source : extrait")
    for j, titre in enumerate(entetes, 1):
        c = ws.cell(row=3, column=j, value=titre)
        c.font = Font(bold=True)
        c.fill = gris
    for i, a in enumerate(b.a_verifier, 4):
        for j, v in enumerate((a["feuille"], a["code"], a["quoi"], a["probleme"], a["page"] or None,
                               a["ligne"] or None, a["extrait"]), 1):
            cellule = ws.cell(row=i, column=j, value=v)
            cellule.alignment = Alignment(wrap_text=j in (4, 7), vertical="top")
            if isinstance(v, str):
                cellule.data_type = "s"
    for lettre, largeur in zip("ABCDEFG", (14, 22, 14, 60, 10, 10, 70)):
        ws.column_dimensions[lettre].width = largeur
    ws.freeze_panes = "A4"
    wb.active = 0
    wb.save(chemin_ou_flux)
