"""« L'essentiel pour le COPIL » : la synthèse sur laquelle un comité de pilotage peut agir.

Tirée des données (`synthese_generee`) : ce qui progresse le plus, ce qui est en retard et pourquoi (les commentaires
des partenaires sur leurs valeurs et ceux des engagements, cités avec leur auteur et leur dépôt), ce qui manque
(complétude, dépôts non revus, états d'engagements absents ou anciens), et les questions que les données posent au
COPIL. C'est un texte simple que la coordination peut reprendre sur la page « Rapport annuel » : une ligne par
paragraphe, une ligne qui commence par « - » est un élément de liste, une ligne qui finit par « : » annonce ce qui la
suit. Le texte enregistré par la coordination remplace le texte tiré des données (`textes`).
"""
from __future__ import annotations

from perr_metrics.pilotage import avancement
from perr_metrics.commun.formats import format_date, format_nombre
from .document import Liste, Paragraphe, _RANG_STATUT, _court, _date, _majuscule, _pluriel, _pourcent, _score, _v, \
    _vide, accord
from .donnees import _Donnees
from . import sources
from . import textes

MAX_LIGNES = 6     # éléments d'une liste de la synthèse, au plus (la suite est dite en nombre)


def _liste(elements: list[str], reste: str) -> list[str]:
    """Les `MAX_LIGNES` premiers éléments, et une ligne qui compte les autres (`reste` : « autres indicateurs »)."""
    if len(elements) <= MAX_LIGNES:
        return elements
    n = len(elements) - MAX_LIGNES + 1
    return elements[:MAX_LIGNES - 1] + [f"- Et {_pluriel(n, reste.split('|')[0], reste.split('|')[1])}."]


def _progres(d: _Donnees) -> list[str]:
    a = d.annee
    ter = d.ter[a]
    avant = d.ter.get(a - 1)
    lignes = []
    if avant is not None:
        prog0 = dict(zip(avant["indicateur"], avant["progression"]))
        statut0 = dict(zip(avant["indicateur"], avant["statut"]))
        gains = []
        for r in ter.itertuples(index=False):
            p0, p1 = prog0.get(r.indicateur), r.progression
            if _vide(p0) or _vide(p1) or r.statut not in _RANG_STATUT or p1 <= p0:
                continue
            gains.append((p1 - p0, r, p0, statut0.get(r.indicateur)))
        gains.sort(key=lambda g: -g[0])
        for _gain, r, p0, s0 in gains:
            change = (f", passé de « {s0} » à « {r.statut} »" if isinstance(s0, str) and s0 != r.statut
                      else f", {r.statut}")
            lignes.append(f"- {_majuscule(r.libelle)} : {_score(100 * p0)} du chemin vers la cible en {a - 1}, "
                          f"{_score(100 * r.progression)} en {a}{change} ({_v(r.valeur, r.unite)} en {a}).")
    else:
        bons = [r for r in ter.itertuples(index=False) if r.statut in (avancement.ATTEINT, avancement.EN_BONNE_VOIE)
                and not _vide(r.progression)]
        bons.sort(key=lambda r: -r.progression)
        lignes = [f"- {_majuscule(r.libelle)} : {_score(100 * r.progression)} du chemin vers la cible parcouru en "
                  f"{a} ({r.statut}, {_v(r.valeur, r.unite)})." for r in bons]
    if not lignes:
        return [f"Aucun indicateur ne se rapproche de sa cible en {a} plus qu'en {a - 1}." if avant is not None
                else f"Aucun indicateur n'est encore atteint ni en bonne voie en {a}."]
    return ["Ce qui progresse le plus :"] + _liste(lignes, "autre indicateur qui progresse|autres indicateurs qui "
                                                           "progressent")


def _retards(d: _Donnees) -> tuple[list[str], list[str], list[str]]:
    """Les lignes « en retard, et pourquoi », les libellés des indicateurs en retard sans commentaire, et les codes
    des engagements reportés."""
    a = d.annee
    ter = d.ter[a]
    retard = [r for r in ter.itertuples(index=False) if r.statut == avancement.EN_RETARD]
    # Ceux dont le partenaire dit pourquoi d'abord, puis les plus loin de leur trajectoire.
    dits_de = {r.indicateur: sources.commentaires(d, a, r.indicateur) for r in retard}
    retard.sort(key=lambda r: (not dits_de[r.indicateur], r.progression if not _vide(r.progression) else 0))
    lignes, muets, lignes_eng = [], [], []
    for r in retard:
        dits = dits_de[r.indicateur]
        attendu = "" if _vide(r.attendu) else f" pour {_v(r.attendu, r.unite)} attendus"
        debut = f"- {_majuscule(r.libelle)} : {_v(r.valeur, r.unite)} en {a}{attendu}"
        if dits:
            lignes.append(f"{debut}. Le partenaire l'explique : {' ; '.join(dits[:2])}.")
        else:
            lignes.append(f"{debut} ; aucune explication du partenaire.")
            muets.append(_court(r.libelle, 70))
    eng = d.engagements
    reportes = []
    for r in eng.itertuples(index=False):
        if r.etat not in ("reporté", "abandonné"):
            continue
        reportes.append(r.code)
        pourquoi = (f" : « {r.commentaire} » ({r.auteur}, {_date(r.date_etat)})" if not _vide(r.commentaire)
                    else f" le {_date(r.date_etat)}, sans commentaire")
        lignes_eng.append(f"- Engagement {r.code} ({_court(_majuscule(r.libelle), 80)}) {r.etat}{pourquoi}.")
    # Les engagements commentés d'abord.
    lignes_eng.sort(key=lambda x: "sans commentaire" in x)
    lignes = (_liste(lignes, "autre indicateur en retard|autres indicateurs en retard")
              + _liste(lignes_eng, "autre engagement reporté ou abandonné|autres engagements reportés ou abandonnés"))
    if not lignes:
        return [f"Aucun indicateur n'est en retard en {a}, aucun engagement reporté ni abandonné au "
                f"{format_date(d.au)}."], muets, reportes
    n_ret = len(retard)
    tete = (f"Ce qui est en retard, et pourquoi ({_pluriel(n_ret, 'indicateur')} en retard, "
            f"{_pluriel(len(reportes), 'engagement reporté ou abandonné', 'engagements reportés ou abandonnés')}) :")
    return [tete] + lignes, muets, reportes


def _manques(d: _Donnees) -> tuple[list[str], dict]:
    a = d.annee
    comp = d.comp
    attendus, recus = int(comp["attendus"].sum()), int(comp["recus"].sum())
    lignes = []
    n = {}
    if attendus:
        manquent = attendus - recus
        n["manquent"] = manquent
        incomplets = comp.loc[comp["statut"] != "complet", "nom"].tolist()
        n["incomplets"] = incomplets
        lignes.append(f"- {format_nombre(manquent)} {accord(manquent, 'valeur attendue manque', 'valeurs attendues manquent')} "
                      f"pour {a} sur {format_nombre(attendus)} ({_pourcent(100 * manquent / attendus)})"
                      + (f" ; dépôts incomplets : {', '.join(incomplets[:8])}"
                         + (f" et {_pluriel(len(incomplets) - 8, 'autre')}" if len(incomplets) > 8 else "")
                         if incomplets else "") + ".")
    dep = d.depots[d.depots["periode"].fillna("").str.startswith(str(a))]
    non_revus = int((dep["statut"] == "reçu").sum())
    n["non_revus"] = non_revus
    if len(dep):
        if non_revus == len(dep):
            debut = (f"Le seul dépôt pour {a} n'a pas été revu" if len(dep) == 1 else
                     f"Aucun des {format_nombre(len(dep))} dépôts pour {a} n'a été revu")
            lignes.append(f"- {debut} par la coordination : les chiffres sont ceux des partenaires, non vérifiés.")
        elif non_revus:
            lignes.append(f"- {format_nombre(non_revus)} {accord(non_revus, 'dépôt', 'dépôts')} sur "
                          f"{format_nombre(len(dep))} pour {a} {accord(non_revus, 'n’a', 'n’ont')} pas encore été "
                          f"{accord(non_revus, 'revu', 'revus')} par la coordination.")
    eng = d.engagements
    sans = int((eng["etat"] == "non renseigné").sum())
    vieux = int(eng["a_actualiser"].sum()) if "a_actualiser" in eng else 0
    n["sans_etat"], n["a_actualiser"] = sans, vieux
    if sans:
        lignes.append(f"- {_pluriel(sans, 'engagement n’a', 'engagements n’ont')} aucun état saisi au "
                      f"{format_date(d.au)}.")
    if vieux:
        lignes.append(f"- {_pluriel(vieux, 'engagement a', 'engagements ont')} un état qui date de plus d'un an "
                      f"({accord(vieux, 'signalé', 'signalés')} « non mis à jour depuis plus d'un an »).")
    if not lignes:
        return ["Rien ne manque : toutes les valeurs attendues sont reçues et revues, chaque engagement a un état "
                "récent."], n
    return ["Ce qui manque :"] + lignes, n


def synthese_generee(d: _Donnees) -> str:
    """La synthèse tirée des données, en texte simple (voir la docstring du module)."""
    a = d.annee
    progres = _progres(d)
    retards, muets, reportes = _retards(d)
    manques, n = _manques(d)
    questions = []
    if muets:
        questions.append(f"- Quelles raisons et quelles mesures pour {accord(len(muets), 'l’indicateur', 'les indicateurs')} "
                         f"en retard que {accord(len(muets), 'son partenaire n’a', 'leurs partenaires n’ont')} pas "
                         f"{accord(len(muets), 'commenté', 'commentés')} ({' ; '.join(muets[:4])}"
                         + (" …" if len(muets) > 4 else "") + ") ?")
    if reportes:
        questions.append(f"- Faut-il reprogrammer, confier à un autre porteur ou abandonner "
                         f"{accord(len(reportes), 'l’engagement reporté ou abandonné', 'les engagements reportés ou abandonnés')}"
                         f" ({', '.join(reportes[:10])}{' …' if len(reportes) > 10 else ''}) ?")
    if n.get("incomplets"):
        questions.append(f"- Comment obtenir avant le prochain COPIL les valeurs {a} manquantes de "
                         f"{', '.join(n['incomplets'][:5])}{' …' if len(n['incomplets']) > 5 else ''} ?")
    if n.get("non_revus"):
        questions.append(f"- Le COPIL accepte-t-il en l'état les chiffres des {_pluriel(n['non_revus'], 'dépôt non revu', 'dépôts non revus')}, "
                         "ou demande-t-il qu'ils soient vérifiés avant la diffusion du rapport ?")
    if n.get("a_actualiser") or n.get("sans_etat"):
        questions.append("- Demander aux porteurs des engagements sans état, ou dont l'état date de plus d'un an, de "
                         "le mettre à jour ?")
    if not questions:
        questions.append("- Aucune question particulière ne ressort des données.")
    lignes = [f"Synthèse {a}, tirée des données de perr-metrics (état des engagements au {format_date(d.au)})."]
    lignes += progres + retards + manques + ["Questions pour le COPIL :"] + questions
    return "\n".join(lignes)


def blocs_du_texte(texte: str) -> list:
    """Le texte simple de la synthèse (ou de tout texte de la coordination) en blocs : une ligne, un paragraphe ; les
    lignes qui commencent par « - » ou « • », une liste ; une ligne qui finit par « : », un chapeau (gardé avec ce qui
    le suit)."""
    blocs, liste = [], []
    for ligne in str(texte or "").replace("\r\n", "\n").split("\n"):
        t = ligne.strip()
        if t.startswith(("- ", "• ", "* ")):
            liste.append(t[2:].strip())
            continue
        if liste:
            blocs.append(Liste(liste))
            liste = []
        if t:
            blocs.append(Paragraphe(t, "chapeau" if t.endswith(":") else "normal"))
    if liste:
        blocs.append(Liste(liste))
    return blocs


def blocs_copil(d: _Donnees) -> list:
    """Les blocs de « L'essentiel pour le COPIL » : le texte de la coordination s'il y en a un, sinon la synthèse tirée
    des données, et une note qui dit lequel."""
    t = d.textes.textes.get(textes.SYNTHESE)
    if t is not None and t.texte:
        return blocs_du_texte(t.texte) + [Paragraphe(
            f"Synthèse rédigée par {t.auteur or t.saisi_par}, le {format_date(t.saisi_le.date())} (version "
            f"{t.version}).", "note")]
    return blocs_du_texte(synthese_generee(d)) + [Paragraphe(
        "Synthèse tirée des données par perr-metrics : la coordination peut la reprendre et la compléter sur la page "
        "« Rapport annuel » (le texte enregistré remplace alors celui-ci).", "note")]
