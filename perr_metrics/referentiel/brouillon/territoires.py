"""Le protocole lui-même (titre, territoire, années, contrat de ville), les communes et les quartiers nommés dans le
texte, rapprochés de la liste officielle des QPV de 2024 (data/reference/qpv-2024.csv) et des territoires de veille
active.
"""
from __future__ import annotations

import re

from perr_metrics.referentiel.brouillon.lexique import cle, code_de, qpv_officiels
from perr_metrics.referentiel.brouillon.structure import Lecteur, capitaliser

MOTS_VIDES = {"quartier", "quartiers", "nord", "sud", "est", "ouest", "centre", "ville", "haut", "bas", "les", "des", "de",
              "du", "la", "le", "sur", "cite", "residence", "secteur", "zone", "grand", "grande", "petit", "bourg",
              "gare", "plateau", "val", "vallee", "clos", "cour", "coteau", "coteaux", "ile", "saint", "sainte"}


def lire_protocole(lec: Lecteur) -> dict:
    contenu = lec.contenu
    titre = ""
    for k, l in enumerate(lec.lignes[:400]):
        t = re.sub(r"[*#_]+", "", l.texte).strip()
        if re.match(r"^(?:le\s+)?protocole d.?engagements? renforc", t, re.I) and len(t) < 200:
            morceaux = [t]
            for suite in lec.lignes[k + 1: k + 8]:
                s = re.sub(r"[*#_]+", "", suite.texte).strip()
                if not s:
                    continue
                if s.isupper() or re.match(r"^(?:EN FAVEUR|DES|DU|DE LA|DE)\b", s) and len(s) < 120:
                    morceaux.append(s)
                else:
                    break
            titre = capitaliser(" ".join(morceaux))
            break
    titre = titre or "Protocole d'engagements renforcés et réciproques"
    epci = [s for s in lec.annuaire.signataires.values() if s.categorie in ("EPCI", "EPT")]
    if not epci and lec.annuaire.epci:
        epci = [lec.annuaire.epci_nom(lec.annuaire.epci[0], 0, 0, "")]
    if not epci:
        compte: dict[str, int] = {}
        from perr_metrics.referentiel.brouillon.lexique import RE_EPCI
        for m in RE_EPCI.finditer(contenu):
            compte[m.group(0).strip()] = compte.get(m.group(0).strip(), 0) + 1
        if compte:
            nom = max(compte, key=compte.get)
            epci = [lec.annuaire.epci_nom(nom, 0, 0, nom)]
    territoire = epci[0].nom if epci else ""
    code_territoire = epci[0].code if epci else "TERRITOIRE"
    if not territoire:
        communes = [s for s in lec.annuaire.signataires.values() if s.categorie == "Commune"]
        territoire = communes[0].nom if communes else "Territoire à renseigner"
        lec.verifier("Protocole", "territoire (EPCI porteur) non trouvé : à renseigner", "Protocole", "", 1, 1, "")
    # La période du protocole : une plage d'années citée près de « période », « protocole » ou « PERR » ; à défaut,
    # la plus citée parmi celles qui finissent après 2019.
    motif = r"\b(20[12]\d)\s*[-–—/à]+\s*(20[123]\d)\b"
    periode = None
    for m in re.finditer(r"(?:p[ée]riode|protocole|PERR|P\.E\.R\.R)[^.\n]{0,40}?" + motif, contenu, re.I):
        a, b = int(m.group(1)), int(m.group(2))
        if 0 < b - a <= 10 and b >= 2020:
            periode = (a, b)
            break
    if periode is None:
        compte_p: dict[tuple[int, int], int] = {}
        for a, b in re.findall(motif, contenu):
            if 0 < int(b) - int(a) <= 10 and int(b) >= 2020:
                compte_p[(int(a), int(b))] = compte_p.get((int(a), int(b)), 0) + 1
        m_sig = re.search(r"[Ss]ign[ée] le [./ ]*\d*[./ ]*\d*[./ ]*(20\d\d)", contenu)
        if m_sig:
            an = int(m_sig.group(1))
            fins = [b for (a, b) in compte_p if b >= an]
            if fins:
                periode = (an, max(fins, key=lambda b: sum(v for (a, bb), v in compte_p.items() if bb == b)))
        if periode is None and compte_p:
            periode = max(compte_p, key=lambda p: (compte_p[p], p[0]))
    debut, fin = periode if periode else (None, None)
    if debut is None:
        lec.verifier("Protocole", "années de début et de fin non trouvées : à renseigner", "Protocole", "", 1, 1, "")
    contrat = ""
    m = re.search(r"contrat de ville (?:de |d['’]\s*|du )([A-ZÉ][\w'’ -]+?)(?:\s+\d{4}|\s+sign|[,.;:\n])", contenu)
    if m:
        contrat = m.group(1).strip()
    m_sig = re.search(r"[Ss]ign[ée] le (\d{1,2}[/ .]\d{1,2}[/ .]\d{4})", contenu)
    return {"titre": titre, "territoire": territoire, "code_territoire": code_territoire, "annee_debut": debut,
            "annee_fin": fin, "contrat": contrat, "date_signature": m_sig.group(1) if m_sig else None}


def lire_territoires(lec: Lecteur) -> tuple[list[dict], list[dict]]:
    """Communes (celles des signataires et celles que nomme le texte) et quartiers rapprochés des QPV officiels."""
    contenu = lec.contenu
    cle_contenu = " " + cle(contenu) + " "
    dep = lec.departement
    candidats = [q for q in qpv_officiels() if dep and q.departement == dep]
    quartiers: list[dict] = []
    for q in candidats:
        mots = [m for m in cle(q.libelle).split() if len(m) >= 4 and m not in MOTS_VIDES]
        entier = " " + cle(q.libelle) + " " in cle_contenu
        distinctifs = [m for m in mots if f" {m} " in cle_contenu]
        if entier or (mots and distinctifs and len(distinctifs) >= max(1, len(mots) // 2)):
            quartiers.append({"code": q.code, "libelle": q.libelle, "type": "QPV", "communes": list(q.communes),
                              "confiance": "haute" if entier else "moyenne",
                              "extrait": _extrait(contenu, distinctifs[0] if distinctifs else q.libelle)})
    # Territoires de veille active : « territoire de veille active … : le quartier X »
    for m in re.finditer(r"veille active[^.\n]{0,120}?(?:quartier|secteur)s?\s+(?:de\s+la\s+|de\s+l['’]\s*|du\s+|de\s+|"
                         r"des\s+)?(?P<nom>[A-ZÉÈ][\w'’-]+(?:\s+[A-ZÉÈ][\w'’-]+)*)", contenu):
        nom = m.group("nom")
        code = "VA-" + code_de(nom)
        if not any(x["code"] == code for x in quartiers):
            quartiers.append({"code": code, "libelle": nom, "type": "Veille active", "communes": [],
                              "confiance": "moyenne", "extrait": m.group(0)})
    communes: list[dict] = []
    insee_qpv = sorted({c for q in quartiers for c in q["communes"]})
    for s in lec.annuaire.signataires.values():
        if s.categorie == "Commune":
            nom = re.sub(r"^Ville (?:de |des |du |d['’])", "", s.nom)
            communes.append({"insee": s.insee, "nom": nom, "signataire": s.code, "page": s.page, "ligne": s.ligne,
                             "extrait": s.extrait})
    # Les codes INSEE ne sont pas devinés d'un nom (la liste des communes n'est pas livrée) : ceux des QPV reconnus
    # sont proposés, le rapprochement nom ↔ code est laissé à vérifier, sauf s'il n'y a qu'une commune et un code.
    if len(communes) == 1 and len(insee_qpv) == 1:
        communes[0]["insee"] = insee_qpv[0]
        for s in lec.annuaire.signataires.values():
            if s.code == communes[0]["signataire"]:
                s.insee = insee_qpv[0]
    connus = {c["insee"] for c in communes if c["insee"]}
    for q in quartiers:
        if not q["communes"] and len(connus) == 1:
            q["communes"] = sorted(connus)
    for q in quartiers:
        if q["type"] == "QPV":
            manquants = [c for c in q["communes"] if c not in connus]
            if manquants:
                lec.verifier("Quartier", f"QPV {q['code']} : code(s) INSEE de ses communes ({', '.join(manquants)}) à "
                             "rapprocher des communes de la feuille Communes", "Quartiers", q["code"], 0, 0,
                             q["extrait"])
        else:
            lec.verifier("Quartier", "territoire de veille active : " + ("commune(s) à renseigner, et " if not
                         q["communes"] else "") + "code officiel s'il est devenu QPV en 2024", "Quartiers", q["code"],
                         0, 0, q["extrait"])
    for c in communes:
        if not c["insee"]:
            lec.verifier("Commune", "code INSEE à renseigner" + (f" (codes des QPV reconnus : {', '.join(insee_qpv)})"
                                                                   if insee_qpv else ""),
                         "Communes", c["nom"], c["page"], c["ligne"], c["extrait"])
    if not quartiers:
        lec.verifier("Quartier", "aucun quartier prioritaire reconnu dans le texte : à renseigner (feuille Quartiers)",
                     "Quartiers", "", 0, 0, "")
    return communes, quartiers


def _extrait(contenu: str, mot: str) -> str:
    m = re.search(re.escape(mot), contenu, re.I)
    if not m:
        return ""
    return contenu[max(0, m.start() - 80): m.end() + 80].replace("\n", " ")
