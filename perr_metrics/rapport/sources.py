"""D'où vient chaque chiffre du rapport : le dépôt de chaque valeur (« dépôt n° 47, CAF de l'Aube, 13 janvier
2023 »), et ce que le partenaire a écrit à côté.

Les valeurs qui font foi gardent l'identifiant de leur dépôt (`depot_id`) ; une valeur du territoire agrégée des
quartiers vient des dépôts de ses quartiers (et, pour un taux, de ceux de son numérateur et de son dénominateur).
"""
from __future__ import annotations

import pandas as pd

from .document import _date, _vide
from .donnees import _Donnees, _memo


def _infos_depots(d: _Donnees) -> dict:
    """Dépôt → (nom du signataire, date du dépôt)."""
    return _memo(d, "infos_depots", lambda: {int(i): (n, q) for i, n, q in zip(d.depots["id"], d.depots["signataire_nom"],
                                                                              d.depots["depose_le"])})


def citation(d: _Donnees, ids) -> str:
    """« dépôt n° 47, CAF de l'Aube, 13 janvier 2023 » ; plusieurs dépôts séparés par « ; » ; rien sans dépôt."""
    infos = _infos_depots(d)
    morceaux = []
    for i in sorted({int(i) for i in ids if not _vide(i)}):
        nom, quand = infos.get(i, (None, None))
        morceaux.append(f"dépôt n° {i}" + ("" if _vide(nom) else f", {nom}") + ("" if _vide(quand) else
                                                                                f", {_date(quand)}"))
    return " ; ".join(morceaux)


def _composantes(d: _Donnees) -> dict:
    """Indicateur → ses codes dont viennent les valeurs (lui-même ; pour un taux, aussi son numérateur et son
    dénominateur)."""
    def calcul():
        ev = d.evaluations.get(d.annee)
        if ev is None:
            return {}
        ind = ev.indicateurs
        return {c: [c] + [x for x in (n, m) if isinstance(x, str)]
                for c, n, m in zip(ind["indicateur"], ind["numerateur"], ind["denominateur"])}
    return _memo(d, "composantes", calcul)


def _par_indicateur(d: _Donnees, annee: int) -> dict:
    """Indicateur → [(périmètre, dépôt)] des valeurs qui font foi de l'année."""
    def calcul():
        # Dans l'ordre des périmètres (territoire, communes, quartiers) : les valeurs sont lues sans ordre fixe, et le
        # rapport doit dire la même chose d'une fois à l'autre.
        ordre = {c: i for i, c in enumerate(d.perimetres["code"])}
        groupes: dict = {}
        for (i, p), (_v, _periode, dep) in sorted(d.valeurs.get(annee, {}).items(),
                                                  key=lambda x: (x[0][0], ordre.get(x[0][1], len(ordre)), x[0][1])):
            groupes.setdefault(i, []).append((p, dep))
        return groupes
    return _memo(d, ("par_indicateur", annee), calcul)


def depots_de(d: _Donnees, annee: int, indicateur: str, perimetre: str | None = None) -> list[int]:
    """Les dépôts des valeurs qui font l'indicateur une année : sur un périmètre, ou (sans `perimetre`) toutes celles
    de l'indicateur et de ses composantes (la valeur du territoire)."""
    groupes = _par_indicateur(d, annee)
    ids = set()
    for code in _composantes(d).get(indicateur, [indicateur]):
        for p, dep in groupes.get(code, ()):
            if (perimetre is None or p == perimetre) and not _vide(dep):
                ids.add(int(dep))
    return sorted(ids)


def source(d: _Donnees, annee: int, indicateur: str, perimetre: str | None = None) -> str:
    """La colonne « Source » d'une valeur : `citation` de ses dépôts."""
    return citation(d, depots_de(d, annee, indicateur, perimetre))


def depots_cites(d: _Donnees) -> list[int]:
    """Les dépôts de toutes les valeurs que montre le rapport : chaque valeur qui fait foi, de chaque année du rapport
    (la première du protocole jusqu'à l'année évaluée)."""
    return sorted({int(dep) for a in d.annees for (_v, _p, dep) in d.valeurs.get(a, {}).values() if not _vide(dep)})


def commentaires(d: _Donnees, annee: int, indicateur: str, perimetre: str | None = None) -> list[str]:
    """Ce que les partenaires ont écrit à côté des valeurs d'un indicateur (et de ses composantes) une année, chacun
    cité avec son dépôt et, pour une valeur d'un quartier, le quartier : « « Poste vacant » (Ville de Blois, dépôt
    n° 12, 13 janvier 2023 ; Quartiers nord) »."""
    libelles = _memo(d, "libelles_perimetres", lambda: dict(zip(d.perimetres["code"], d.perimetres["libelle"])))
    groupes = _par_indicateur(d, annee)
    valeurs = d.valeurs.get(annee, {})
    vus: dict = {}
    for code in _composantes(d).get(indicateur, [indicateur]):
        for p, dep in groupes.get(code, ()):
            if perimetre is not None and p != perimetre:
                continue
            texte = d.commentaires.get((code, p, valeurs[(code, p)][1]))
            if texte:
                vus.setdefault(texte, []).append((p, dep))
    sortie = []
    for texte, ou in vus.items():
        deps = [dep for _p, dep in ou]
        lieux = [libelles.get(p, p) for p, _dep in ou if p != d.p.get("code_territoire")]
        sortie.append(f"« {texte} » ({citation(d, deps)}" + (f" ; {', '.join(dict.fromkeys(lieux))}" if lieux and
                                                              perimetre is None else "") + ")")
    return sortie


def date_des_donnees(d: _Donnees) -> pd.Timestamp | None:
    """Le dernier dépôt dont le rapport montre une valeur (la date de ses données)."""
    infos = _infos_depots(d)
    dates = [infos[i][1] for i in depots_cites(d) if i in infos and not _vide(infos[i][1])]
    return max(dates) if dates else None
