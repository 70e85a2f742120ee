"""Le parcours du texte, ligne à ligne : chaque ligne est d'abord reconnue par sa forme (titre en capitales, niveau
nommé et numéroté, « En s'engageant … », formule « X s'engage à : », puce, numéro, ligne de partenaires d'un tableau),
puis rangée dans l'arborescence ou dans l'engagement en cours. Les règles sont décrites et motivées dans
docs/brouillon.md ; chacune est essayée sur un passage des textes sources dans tests/core/test_brouillon.py.
"""
from __future__ import annotations

import re
from collections import Counter

from perr_metrics.referentiel.brouillon.lexique import RE_EPCI, cle
from perr_metrics.referentiel.brouillon.porteurs import Signataire, nom_epci
from perr_metrics.referentiel.brouillon.structure import (FIN_DU_CORPS, HORS_ARBRE, RE_CROCHETS, RE_EN_SENGAGEANT,
                                                          RE_ENTETE_TABLEAU, RE_FORMULE, RE_NIVEAU, RE_NOUS, RE_PUCE,
                                                          RE_SIGNATURE_FIN, SECTION_CITEE, SOUS_PUCES, Lecteur,
                                                          _ressemble_epci, cadre_de, capitaliser, est_infinitif,
                                                          majuscules)
from perr_metrics.referentiel.brouillon.tableau import lire_tableau

PREPOSITIONS = {"de", "du", "des", "la", "le", "les", "à", "a", "au", "aux", "et", "ou", "en", "par", "pour", "sur",
                "dans", "avec", "d'", "l'", "un", "une", "son", "sa", "ses", "leur", "leurs", "vers", "entre", "que",
                "qui", "dont", "notamment", "afin", "sans", "chez"}
RE_NUMERO_LISTE = re.compile(r"(?:^|\s)(?P<num>\d{1,2})\.\s+(?P<lib>[A-ZÉÈÀ][a-zéèêàâîôûç'].*)$")


def est_infinitif_strict(texte: str) -> bool:
    mots = texte.split()
    return bool(mots) and mots[0][:1].isupper() and est_infinitif(mots[0]) and not re.search(r"['’]", mots[0])


def titre_propre(t: str) -> str:
    return re.sub(r"[*#_]+", "", t).strip()


def _niveaux_explicites(lecteur: Lecteur) -> bool:
    vus = {(m.group("nom").lower(), m.group("num")) for l in lecteur.lignes if (m := RE_NIVEAU.match(l.texte))}
    return len(vus) >= 2


class Item:
    """Un engagement en cours de lecture : ses morceaux de texte, ses porteurs, sa première ligne."""

    def __init__(self, texte: str, l, profondeur: int, type_item: str):
        self.morceaux = [texte]
        self.l = l
        self.profondeur = profondeur
        self.noms: list[str] = []
        self.leviers: list[str] = []
        self.porteurs_crochets: list[str] | None = None
        self.type_item = type_item
        self.derniere = texte

    def ajouter(self, texte: str) -> None:
        if self.morceaux and self.morceaux[-1].endswith("-") and texte[:1].islower():
            self.morceaux[-1] = self.morceaux[-1] + texte
        else:
            self.morceaux.append(texte)
        self.derniere = texte

    @property
    def texte(self) -> str:
        return re.sub(r"\s+", " ", " ".join(self.morceaux)).strip()


def _continue(precedent: str, t: str, pleine: int) -> bool:
    """La ligne `t` continue-t-elle l'item dont la dernière ligne est `precedent` ?"""
    if not precedent:
        return False
    premier = t.split()[0] if t.split() else ""
    if t[:1].islower() or t[:1] in "(«\"'" or (t[:1].isdigit() and not re.match(r"^\d{1,2}[.)]\s", t)):
        return True
    if re.search(r"[.;:!?]\s*$", precedent):
        return False
    dernier = precedent.split()[-1].lower() if precedent.split() else ""
    if dernier in PREPOSITIONS or dernier.endswith("'"):
        return True
    if len(precedent) < 0.5 * pleine:
        return False
    if est_infinitif(premier):
        return False
    return len(precedent) >= 0.5 * pleine


def parcourir(lec: Lecteur) -> None:
    L = lec.lignes
    explicites = _niveaux_explicites(lec)
    mode: str | None = None           # None | formule | tableau | cite | hors
    formule = ""
    porteurs_formule: list[str] = []
    item: Item | None = None
    noeud_liste = None                # le nœud d'une liste numérotée dont on lit la suite de l'intitulé
    attendu = 0                       # prochain numéro d'une liste d'objectifs
    puces_vues = False
    noms_suivants: list[str] = []
    if not lec.annuaire.epci:
        # Sans bloc de signature, l'EPCI est le nom d'intercommunalité le plus cité (trois fois au moins).
        comptes = Counter(nom_epci(m) for m in RE_EPCI.finditer(lec.contenu))
        for nom, n in comptes.most_common():
            if n >= 3 and cle(nom) not in ("agglomeration", "metropole", "agglo", "communaute"):
                lec.annuaire.epci.append(nom)
                break
    epci = lec.annuaire.epci
    nombre_cite = 0
    precedente = ""
    tampon: list = []                 # les lignes du tableau en cours, lues d'un coup à sa fin (tableau.lire_tableau)
    partenaires_tableau = False       # l'en-tête du tableau nomme une colonne de partenaires
    contexte: list | None = None      # les lignes d'un « Rappel du contexte », où finit parfois une liste sans titre

    def fermer_item():
        nonlocal item
        if item is None:
            return
        texte = item.texte
        extrait = " ".join(item.morceaux)[:300]
        porteurs = list(porteurs_formule) if mode == "formule" else []
        confiance = "haute" if porteurs else "faible"
        if item.porteurs_crochets is not None:
            porteurs, confiance = item.porteurs_crochets, "haute"
        type_item = item.type_item
        lec.ajouter_engagement(texte, porteurs, formule if mode == "formule" else "", item.l, item.profondeur,
                               extrait, confiance, type_item, item.leviers)
        item = None

    def noms_en_codes(noms: list[str], l) -> list[str]:
        codes: list[str] = []
        for n in noms:
            if epci and len(n.split()) <= 2 and _ressemble_epci(n.split()[-1], epci):
                trouves = [lec.annuaire.epci_nom(epci[0], l.page, l.ligne, n).code]
            else:
                trouves = lec.annuaire.resoudre(n, l.page, l.ligne, n)[0]
            codes += [c for c in trouves if c not in codes]
        return codes

    def ajouter_items(items, confiance_sans: str = "faible") -> None:
        base = lec.courant()
        for it in items:
            for etiquette, src in it.etiquettes:
                if base is not None:
                    n = lec.ouvrir_noeud("Objectif", capitaliser(etiquette), src, base.rang + 1)
                    n.confiance = "liste"
            porteurs = noms_en_codes(it.noms, it.source)
            lec.ajouter_engagement(it.texte, porteurs, "", it.source, it.profondeur, " ".join(it.morceaux)[:300],
                                   "moyenne" if porteurs else confiance_sans, "engagement", it.leviers)

    def fermer_tableau():
        if tampon:
            ajouter_items(lire_tableau(tampon, epci, partenaires_tableau))
            tampon.clear()

    def fermer_contexte():
        """« Rappel du contexte » puis, sans titre (perdu par l'OCR), la liste des engagements : la suite d'au moins
        trois paragraphes qui commencent par un infinitif et mènent jusqu'au titre suivant."""
        nonlocal contexte
        if contexte:
            items = lire_tableau(contexte, epci, True)
            fin = len(items)
            while fin > 0 and (items[fin - 1].profondeur > 1 or est_infinitif_strict(items[fin - 1].texte)):
                fin -= 1
            while fin < len(items) and items[fin].profondeur > 1:
                fin += 1
            suite = items[fin:]
            if sum(1 for it in suite if it.profondeur == 1) >= 3:
                for it in suite:
                    it.etiquettes = []
                ajouter_items(suite)
        contexte = None

    def fermer_tout():
        fermer_item()
        fermer_tableau()
        fermer_contexte()

    for i, l in enumerate(L):
        brut = l.texte
        t = brut.strip()
        if not t:
            if mode == "tableau" and tampon:
                tampon.append(l)           # les lignes vides d'un tableau aplati marquent l'espace entre ses rangées
            continue
        if (lec.engagements or item is not None) and (FIN_DU_CORPS.match(t) or RE_SIGNATURE_FIN.match(t)):
            fermer_tout()
            break
        if SECTION_CITEE.match(t) or RE_NOUS.match(t):
            fermer_tout()
            mode = "cite"
            continue
        # --- formule « X et Y s'engagent à : » -------------------------------------------------------------------
        m = RE_FORMULE.match(t)
        if m and len(t) < 250 and not RE_PUCE.match(brut):
            fermer_tout()
            qui = re.sub(r"^(?:cela sera possible si|ainsi|de son c[ôo]t[ée],?|pour sa part,?)\s+", "", m.group("qui"),
                         flags=re.I)
            codes, inconnus = lec.annuaire.resoudre(qui, l.page, l.ligne, t)
            for nom in inconnus:
                s = lec.annuaire.ajouter(Signataire("P-" + re.sub(r"[^A-Z0-9]+", "-", cle(nom).upper()).strip("-"),
                                                    nom, "Autre", page=l.page, ligne=l.ligne, extrait=t,
                                                    confiance="faible", alias={cle(nom)}))
                codes.append(s.code)
            mode, formule, porteurs_formule, puces_vues = "formule", t, codes, False
            noeud_liste = None
            continue
        propre = titre_propre(t)
        # --- titres en capitales ---------------------------------------------------------------------------------
        if majuscules(propre) and len(propre) <= 200 and not RE_PUCE.match(brut) and not RE_NIVEAU.match(propre):
            fermer_tout()
            noeud_liste = None
            haut = propre.upper()
            courant = lec.courant()
            if courant is not None and courant.attend_libelle and not haut.startswith("DE VILLE") \
                    and not any(h in haut for h in HORS_ARBRE) and "ENGAGEMENT" not in haut:
                courant.libelle = capitaliser(propre)
                courant.attend_libelle = False
                courant.page, courant.ligne = l.page, l.ligne
                continue
            if "ENGAGEMENT" in haut and "PROTOCOLE" not in haut:
                entete = bool(RE_ENTETE_TABLEAU.search(propre))
                partenaires_tableau = entete or (partenaires_tableau and mode == "tableau")
                if "TRANSVERSA" in haut and lec.pile:
                    # « ENGAGEMENTS TRANSVERSAUX 2020 - 2022 » : un regroupement sous le niveau courant.
                    libelle = capitaliser(RE_ENTETE_TABLEAU.sub("", propre).strip(" -—"))
                    libelle = re.sub(r"\s*-\s*", "-", libelle) if re.search(r"\d\s*-\s*\d", libelle) else libelle
                    n = lec.ouvrir_noeud("Engagements transversaux", libelle, l, lec.pile[0].rang + 1)
                    n.confiance = "liste"
                mode = "tableau"
                continue
            if mode == "cite":
                mode = None
            if any(h in haut for h in HORS_ARBRE):
                mode = "hors" if mode != "tableau" else "tableau"
                if mode == "tableau" and ("RAPPEL" in haut or "PRECONIS" in haut or "RESULTAT" in haut):
                    mode = "hors"
                if "RAPPEL" in haut or "CONTEXTE" in haut:
                    contexte = []
                continue
            if explicites:
                if mode == "tableau":
                    partenaires_tableau = partenaires_tableau or bool(RE_ENTETE_TABLEAU.search(propre))
                    continue
                mode = "hors" if mode is None else mode
                continue
            if len(propre.split()) >= 2:
                noeud = lec.ouvrir_noeud("Axe", capitaliser(propre), l, 1)
                code = cadre_de(propre)
                if code and code not in noeud.cadres:
                    noeud.cadres.append(code)
                mode = None
            continue
        # --- niveau nommé et numéroté : « Enjeu 2 … », « Axe 1 : … », « Objectif stratégique 1.2 … » ---------------
        mn = RE_NIVEAU.match(propre)
        if mn and not (mode in ("formule", "tableau") and RE_PUCE.match(brut)):
            suite = re.sub(r"^(?:du|de la|de l'|des?)\s+contrat(?:\s+de\s+ville)?(?:\s+de\s+[\w' -]+?)?(?=\s*[:–-]|$)", "",
                           mn.group("suite").strip(" .:–-"), flags=re.I).strip(" .:–-")
            voisinage = " ".join(x.texte for x in L[max(0, i - 4): i + 5])
            code = cadre_de(suite) if suite else None
            if code and code.startswith("DIJON") and re.search(r"pacte de dijon", voisinage, re.I):
                haut_pile = lec.pile[0] if lec.pile else None
                if haut_pile is not None and code not in haut_pile.cadres:
                    haut_pile.cadres.append(code)
                continue
            fermer_tout()
            nom = capitaliser(re.sub(r"\s+", " ", mn.group("nom")))
            nom = re.sub(r"^(Axe|Objectif|Orientation)s\b", r"\1", nom)
            rang = lec._rang(nom)  # noqa: SLF001
            noeud = lec.ouvrir_noeud(nom, capitaliser(suite) if suite else "", l, rang, mn.group("num"))
            noeud.attend_libelle = not suite
            if suite:
                noeud.attend_libelle = False
            code = cadre_de(suite) if suite else None
            if code and code not in noeud.cadres:
                noeud.cadres.append(code)
            mode, attendu, noeud_liste = None, 1, None
            continue
        # --- « En s'engageant en matière de … » : un nœud sous l'axe courant --------------------------------------
        me = RE_EN_SENGAGEANT.match(t)
        if me and len(t) <= 200 and not t.rstrip().endswith(":"):
            fermer_tout()
            rang = (lec.pile[0].rang + 1) if lec.pile else 2
            lec.ouvrir_noeud("Thématique", capitaliser(me.group("lib")), l, rang)
            mode, noeud_liste = None, None
            continue
        # --- liste numérotée d'objectifs sous un niveau nommé ------------------------------------------------------
        if explicites and mode not in ("formule", "tableau", "cite") and attendu:
            mm = RE_NUMERO_LISTE.search(t)
            if mm and int(mm.group("num")) == attendu and lec.pile:
                fenetre = " ".join(x.texte for x in L[max(0, i - 6): i + 8]).lower()
                niveau = "Axe stratégique" if re.search(r"axes?\s+strat", fenetre) else "Objectif"
                parent = lec.pile[0]
                while len(lec.pile) > 1:
                    lec.pile.pop()
                noeud_liste = lec.ouvrir_noeud(niveau, mm.group("lib").strip(), l, parent.rang + 1,
                                               mm.group("num"), sans_entrer=True)
                noeud_liste.confiance = "liste"
                attendu += 1
                continue
            if noeud_liste is not None and t[:1].islower() and not RE_PUCE.match(brut):
                noeud_liste.libelle = (noeud_liste.libelle + " " + t).strip()
                continue
            noeud_liste = None
        # --- engagements ------------------------------------------------------------------------------------------
        if mode == "tableau":
            tampon.append(l)
            continue
        if mode == "hors" and contexte is not None:
            contexte.append(l)
        if mode != "formule":
            continue
        noms, leviers = [], []
        pm = RE_PUCE.match(brut)
        if pm:
            texte = pm.group("reste")
            sous = bool(pm.group("m2")) or pm.group("m") in SOUS_PUCES or (len(pm.group("ind")) >= 1 and mode == "formule"
                                                                          and pm.group("m") in "-–•")
            profondeur = 2 if sous else 1
            mc = RE_CROCHETS.match(texte)
            fermer_item()
            item = Item(texte, l, profondeur, "engagement")
            if mc:
                codes, _ = lec.annuaire.resoudre(mc.group("qui"), l.page, l.ligne, t)
                item.porteurs_crochets = codes
                item.morceaux = [texte[mc.end():]]
            puces_vues = True
        elif item is not None and _continue(item.derniere, t, lec.pleine):
            item.ajouter(t)
        elif mode == "formule" and puces_vues:
            fermer_tout()
            mode = None
            continue
        else:
            fermer_item()
            item = Item(t, l, 1, "engagement")
            mc = RE_CROCHETS.match(t)
            if mc:
                codes, _ = lec.annuaire.resoudre(mc.group("qui"), l.page, l.ligne, t)
                item.porteurs_crochets = codes
                item.morceaux = [t[mc.end():]]
        if item is not None:
            item.noms += noms
            item.leviers += [x for x in leviers if x not in item.leviers]
        precedente = t
    fermer_tout()
    del nombre_cite, noms_suivants, precedente
