"""Les règles qui lisent la structure d'un protocole : arborescence, engagements, porteurs, signataires, territoires.

Chaque règle est petite, générique, et essayée sur les passages des textes sources qui l'ont motivée
(tests/core/test_brouillon.py). Le texte vient de `texte.lire_texte` : des lignes avec leur page. Rien ici n'est propre à un
territoire ; le vocabulaire des organismes est dans `lexique`, la résolution des porteurs dans `porteurs`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from perr_metrics.commun.cadres import CADRES_NATIONAUX
from perr_metrics.referentiel.brouillon.lexique import RE_EPCI, cle, departement, sans_accents
from perr_metrics.referentiel.brouillon.porteurs import Annuaire, Signataire, nom_epci
from perr_metrics.referentiel.brouillon.texte import LigneSource, Texte


@dataclass
class Noeud:
    code: str
    parent: str | None
    niveau: str
    libelle: str
    ordre: int
    page: int
    ligne: int
    extrait: str
    confiance: str = "moyenne"
    cadres: list[str] = field(default_factory=list)
    numero: str | None = None
    rang: int = 1
    engage: bool = False            # a au moins un engagement dessous : c'est un vrai nœud
    attend_libelle: bool = False


@dataclass
class Engagement:
    code: str
    axe: str
    parent: str | None
    libelle: str
    porteurs: list[str]
    formule: str
    type_item: str
    page: int
    ligne: int
    extrait: str
    confiance: str = "moyenne"
    levier: str = ""
    profondeur: int = 1
    note: str = ""


@dataclass
class Brouillon:
    titre: str
    territoire: str
    code_territoire: str
    annee_debut: int | None
    annee_fin: int | None
    noeuds: list[Noeud]
    engagements: list[Engagement]
    signataires: list[Signataire]
    communes: list[dict]
    quartiers: list[dict]
    a_verifier: list[dict]
    departement: str | None
    pages: int
    contrat: str = ""
    date_signature: str | None = None


# --------------------------------------------------------------------------------------------------------------------
# Les formes des lignes
# --------------------------------------------------------------------------------------------------------------------

PUCES = "-–—•▪◦○●■□❖→⇒➜➔➢➤►▶✓✔*+>"
SOUS_PUCES = "✓✔◦○▪o°"
RE_PUCE = re.compile(rf"^(?P<ind>\s*)(?P<m>[{re.escape(PUCES)}]|[o°©](?=\s)|e(?=\s+[A-ZÉ]))\s*"
                     rf"(?P<m2>[{re.escape(SOUS_PUCES)}](?=\s))?\s*(?P<reste>\S.*)$")
RE_NUMERO = re.compile(r"^\s*(?P<num>\d{1,2}(?:\.\d{1,2})*|[IVX]{1,4}|[A-H])[.)]\s+(?P<reste>[A-ZÉÈÀ«].*)$")
RE_FORMULE = re.compile(r"^(?P<qui>.{2,220}?)\s+s['’]\s*engagen?t?\s+[àa&]\s*:?\s*$", re.I)
RE_NOUS = re.compile(r"^(?:nous nous engageons|cela sera possible si)\b", re.I)
NIVEAUX = ("Objectif stratégique", "Objectif opérationnel", "Objectif général", "Orientation stratégique",
           "Axe stratégique", "Axe", "Enjeu", "Priorité", "Objectif", "Orientation", "Thématique", "Thème", "Pilier",
           "Volet", "Programme", "Chantier", "Mesure", "Action")
RE_NIVEAU = re.compile(
    r"^\s*[>➔►•-]?\s*(?P<nom>(?i:" + "|".join(n.replace(" ", r"s?\s+") for n in NIVEAUX) + r"))(?i:s)?\s*(?:n°\s*)?"
    r"(?P<num>\d{1,2}(?:\.\d{1,2})*(?![\d%])|[IVX]{1,4}(?=\s*[:.–-])|[A-H](?=\s*[:.–-]))\s*(?P<suite>.*)$")
RE_EN_SENGAGEANT = re.compile(
    r"^\s*En s['’]engageant\s+(?:plus efficacement\s+)?(?:en mati[èe]re d['’]\s*|en mati[èe]re de\s+|dans le domaine de la\s+|"
    r"dans le domaine de l['’]\s*|dans le domaine des?\s+|dans le domaine du\s+|en faveur de l['’]\s*|en faveur de la\s+|"
    r"en faveur des?\s+|en faveur du\s+|dans la\s+|dans le\s+|dans l['’]\s*|dans les\s+|pour la\s+|pour le\s+|pour l['’]\s*|"
    r"sur la\s+|sur le\s+)?(?P<lib>.+?)[,.;:]?\s*$", re.I)
HORS_ARBRE = ("PREAMBULE", "PRÉAMBULE", "ARTICLE", "RAPPEL", "PRECONISATION", "PRÉCONISATION", "RESULTAT", "RÉSULTAT",
              "EVALUATION", "ÉVALUATION", "METHODOLOGIE", "MÉTHODOLOGIE", "GOUVERNANCE", "SOMMAIRE", "INTRODUCTION",
              "CONSEIL COMMUNAUTAIRE", "CONSEIL MUNICIPAL", "DELIBERATION", "DÉLIBÉRATION", "PROTOCOLE", "AVENANT",
              "EN FAVEUR", "DES «", "DE VILLE", "CONTEXTE", "OBJECTIFS DU", "SIGNATURE", "VOTE", "ANNEXE")
FIN_DU_CORPS = re.compile(r"^\s*(?:\d\.\s*)?(?:table des sigles|glossaire|lexique des sigles|annexes?\b|"
                          r"circulaire du|liste des sigles)", re.I)
SECTION_CITEE = re.compile(r"^\s*PACTE DE DIJON\b|^\s*LES RESPONSABILIT[EÉ]S", re.I)
RE_SIGNATURE_FIN = re.compile(r"^\s*(?:Fait\s+[àa]\s+\S+|Signatures?\s*:?\s*$|Pour\s+l['’]\s*[EÉ]tat\s*,?\s*$)", re.I)
RE_ENTETE_TABLEAU = re.compile(r"\b(?:LEVIER\(?S?\)?|MOBILIS[EÉ]\(?S?\)?|PARTENAIRE\(?S?\)?|\(S\))", re.I)


def majuscules(texte: str) -> bool:
    lettres = [c for c in texte if c.isalpha()]
    return len(lettres) >= 6 and sum(c.isupper() for c in lettres) >= 0.8 * len(lettres)


def ocr_propre(texte: str) -> str:
    """Les glissements courants de l'OCR qui gênent les règles : « I'» pour « l' », apostrophes doublées."""
    texte = re.sub(r"\bI['’](?=[a-zéèêàâîôûç])", "l'", texte)
    texte = re.sub(r"(?<=\w)[’']{2,}", "'", texte)
    texte = texte.replace("’", "'")
    return texte


def capitaliser(texte: str) -> str:
    t = texte.strip()
    if majuscules(t):
        t = t.lower()
    return t[:1].upper() + t[1:]


def est_infinitif(mot: str) -> bool:
    m = sans_accents(mot.lower().strip("«» ,.:;"))
    return len(m) >= 4 and bool(re.search(r"(?:er|ir|re|oir|dre)$", m)) and m not in (
        "entre", "notre", "votre", "autre", "cadre", "titre", "centre", "ordre", "lettre", "offre", "chiffre")


# --------------------------------------------------------------------------------------------------------------------
# Porteurs dans le texte d'un item : crochets, parenthèses, colonne de tableau aplatie
# --------------------------------------------------------------------------------------------------------------------

RE_CROCHETS = re.compile(r"^\s*\[(?P<qui>[^\]]{2,120})\]\s*")
RE_PARENTHESE_FIN = re.compile(r"\s*\((?P<qui>[^()]{2,60})\)\s*\.?\s*$")
NOMS_PORTEURS_FIN = re.compile(
    r"(?:^|\s)(?P<nom>(?:La |Le |Les )?(?:Ville de [A-ZÉ][\w'-]+|[EÉ]tat|Conseil\s+D[ée]partemental(?:\s+\d{2})?|"
    r"D[ée]partemental\s+\d{2}|R[ée]gion(?:\s+[A-ZÉ][\w-]+(?:-[\w]+)*)?(?:\s+de)?|CAF|CPAM|ARS|Bailleurs sociaux|"
    r"Chambres\s+[Cc]onsulaires|BPI France|Bpifrance|P[ôo]le emploi|France Travail|Mission locale|"
    r"\([EÉ]tat\)|\(CR\)|\(CD\)|Consulaires|Chambres))\s*\.?\s*$")
LIAISONS_PHRASE = {"avec", "de", "du", "des", "par", "pour", "et", "en", "au", "aux", "à", "a", "sur", "dans", "chez",
                   "entre", "vers"}
RE_ACRONYME_FIN = re.compile(r"(?<![Dd]u )(?<![Dd]e )(?<![Ll]e )(?<![Ll]a )(?<![Dd]es )(?<!l')(?<!d')\s(?P<sigle>"
                             r"[A-Z][A-Za-z]{1,5}[A-Z])\s*$")


def detacher_fin(ligne: str, epci: list[str]) -> tuple[str, list[str], list[str]]:
    """Retire de la fin d'une ligne de tableau aplati les noms de partenaires et les sigles de levier qui y ont glissé."""
    noms: list[str] = []
    leviers: list[str] = []
    for _ in range(5):
        m = NOMS_PORTEURS_FIN.search(ligne)
        avant = ligne[:m.start()].split() if m else []
        # « … avec BPI France. » : un nom précédé d'une préposition et suivi du point final appartient à la phrase.
        dans_la_phrase = bool(m) and bool(avant) and m.group(0).rstrip().endswith(".") and (
            avant[-1].lower() in LIAISONS_PHRASE or avant[-1].lower() in ("le", "la", "les", "l'")
            and len(avant) >= 2 and avant[-2].lower() in LIAISONS_PHRASE)
        if m and len(avant) >= 2 and not dans_la_phrase:
            noms.insert(0, m.group("nom").strip("() "))
            ligne = ligne[:m.start()].rstrip()
            continue
        dernier = ligne.split()[-1] if ligne.split() else ""
        # « … de la Ville et d'Agglopolys » : un nom élidé (d', l') appartient à la phrase.
        if epci and len(ligne.split()) >= 3 and not re.match(r"^[dlDL]['’]", dernier) \
                and _ressemble_epci(dernier, epci):
            noms.insert(0, epci[0])
            ligne = ligne[: ligne.rfind(dernier)].rstrip()
            continue
        a = RE_ACRONYME_FIN.search(ligne)
        mot_avant = ligne[:a.start()].split()[-1].lower() if a and ligne[:a.start()].split() else ""
        # « … au sein du QPV », « … dans les QPV » : un sigle après un article ou une préposition est dans la phrase.
        if a and (noms or a.group("sigle").isupper()) and len(ligne[:a.start()].split()) >= 3 \
                and not ligne[:a.start()].rstrip().endswith((",", "(")) \
                and mot_avant not in LIAISONS_PHRASE | {"le", "la", "les", "l'", "d'", "un", "une", "son", "sa", "ses"}:
            leviers.insert(0, a.group("sigle"))
            ligne = ligne[:a.start()].rstrip()
            continue
        break
    return ligne, noms, leviers


def _ressemble_epci(mot: str, epci: list[str]) -> bool:
    import difflib
    m = cle(mot).replace(" ", "")
    if len(m) < 5:
        return False
    return any(difflib.SequenceMatcher(None, m, cle(n).replace(" ", "")).ratio() >= 0.6 for n in epci)


def ligne_de_partenaires(ligne: str, epci: list[str]) -> list[str] | None:
    """Une ligne qui ne contient que des noms de partenaires (colonne d'un tableau aplati), ou None."""
    t = ligne.strip(" .,;:'\"")
    if not t or len(t) > 60:
        return None
    reste, noms, _ = detacher_fin("x x x " + t, epci)
    if noms and reste.strip() == "x x x":
        return noms
    if _ressemble_epci(t, epci) and len(t.split()) <= 2:
        return [epci[0]]
    return None


# --------------------------------------------------------------------------------------------------------------------
# Lecture
# --------------------------------------------------------------------------------------------------------------------

class Lecteur:
    def __init__(self, texte: Texte):
        self.texte = texte
        self.lignes = [LigneSource(l.page, l.ligne, ocr_propre(l.texte)) for l in texte.lignes]
        contenu = "\n".join(l.texte for l in self.lignes)
        self.contenu = contenu
        self.departement = departement(contenu)
        self.annuaire = Annuaire(self.departement)
        self.noeuds: list[Noeud] = []
        self.engagements: list[Engagement] = []
        self.a_verifier: list[dict] = []
        self.pile: list[Noeud] = []                # chemin du nœud courant
        self.rangs: dict[str, int] = {}            # nom de niveau → rang (ordre d'apparition)
        self.ignores: dict[str, int] = {}
        longueurs = sorted(len(l.texte.strip()) for l in self.lignes if l.texte.strip())
        self.pleine = longueurs[int(len(longueurs) * 0.9)] if longueurs else 80

    # --- a vérifier ---------------------------------------------------------------------------------------------------
    def verifier(self, quoi: str, probleme: str, feuille: str, code: str, page: int, ligne: int, extrait: str) -> None:
        self.a_verifier.append({"quoi": quoi, "probleme": probleme, "feuille": feuille, "code": code, "page": page,
                                "ligne": ligne, "extrait": extrait[:300]})

    # --- signataires -------------------------------------------------------------------------------------------------
    def lire_signataires(self) -> None:
        """Le bloc « Conclu entre… » / « Entre les soussignés » du début, et la liste du préambule."""
        debut = None
        for i, l in enumerate(self.lignes[:600]):
            if re.search(r"\b(?:conclu entre|entre les soussign|signataires d[ée]sign[ée]s|il est convenu entre|"
                         r"^entre\s*:?\s*$)", l.texte, re.I):
                debut = i
                break
        if debut is not None:
            for l in self.lignes[debut + 1: debut + 60]:
                t = l.texte.strip()
                if not t:
                    continue
                if re.match(r"^(?:PR[EÉ]AMBULE|Article\b|IL EST CONVENU|Vu\b)", t, re.I) or RE_FORMULE.match(t):
                    break
                self._ligne_de_signature(t, l)
        # Le préambule : « … signature de ce protocole … entre A, les communes de B, C et D, l'État et … »
        for l in self.lignes[:800]:
            m = re.search(r"signature de ce protocole.{0,80}?\bentre\s+(?P<liste>.+?)(?:\.|$)", l.texte, re.I)
            if m:
                for morceau in re.split(r",\s*|\s+et\s+", m.group("liste")):
                    self._nom_du_preambule(morceau.strip(), l)

    def _ligne_de_signature(self, t: str, l: LigneSource) -> None:
        rep = re.split(r"\s+repr[ée]sent[ée]e?s?\b", t, maxsplit=1)
        qui = rep[0].strip(" :,")
        ligne_sig = ("représenté" + rep[1]).strip(" :") if len(rep) > 1 else ""
        if ligne_sig.rstrip(" :").lower() in ("représenté par", "représentée par"):
            ligne_sig = ""
        qui_sans = re.sub(r"^(?:Et\s+)?(?:l['’]\s*|la\s+|le\s+|les\s+)", "", qui, flags=re.I)
        if not qui_sans or len(qui_sans) > 150:
            return
        m_commune = re.match(r"^(?:commune|ville)\s+(?:de\s+|des\s+|du\s+|d['’]\s*)(?P<nom>.+)$", qui_sans, re.I)
        if m_commune:
            nom = m_commune.group("nom")
            if re.match(r"^commune\s+des\s+", qui_sans, re.I):
                nom = "Les " + nom
            s = self.annuaire.commune(nom, l.page, l.ligne, t, signe=True)
        else:
            m = RE_EPCI.search(qui_sans)
            if m and re.match(r"Communaut|M[ée]tropole|Agglo|Grand", qui_sans):
                s = self.annuaire.epci_nom(nom_epci(m), l.page, l.ligne, t, signe=True)
            else:
                trouves = self.annuaire._organisme(qui_sans, l.page, l.ligne, t, signe=True)
                if not trouves or re.match(r"^(?:autres signataires|et les collectivit)", qui_sans, re.I):
                    return
                s = trouves[0]
        s.signe = True
        s.confiance = "haute"
        if ligne_sig:
            s.ligne_signature = ligne_sig

    def _nom_du_preambule(self, morceau: str, l: LigneSource) -> None:
        morceau = re.sub(r"^(?:les communes de|la commune de|les villes de|la ville de)\s+", "", morceau, flags=re.I)
        if not morceau or re.search(r"partenaires|associ", morceau, re.I):
            return
        if self.annuaire._connu(morceau):
            return
        if RE_EPCI.fullmatch(morceau) or self.annuaire._organisme(morceau, l.page, l.ligne, l.texte):
            return
        if re.match(r"^[A-ZÉ][\w'’ -]+$", morceau) and len(morceau.split()) <= 5:
            # Une commune nommée au préambule (« les communes de A, B et C ») : partenaire, signature à vérifier.
            for s in self.annuaire.signataires.values():
                if s.categorie == "Commune" and cle(s.nom).replace("ville de ", "").replace(" ", "") == \
                        cle(morceau).replace(" ", ""):
                    return
            self.annuaire.commune(morceau, l.page, l.ligne, l.texte, signe=False)

    # --- arborescence ------------------------------------------------------------------------------------------------
    def _rang(self, niveau: str) -> int:
        cle_n = niveau.lower()
        if cle_n not in self.rangs:
            self.rangs[cle_n] = len(self.rangs) + 1
        return self.rangs[cle_n]

    def _trouver(self, niveau: str, numero: str | None, parent: Noeud | None) -> Noeud | None:
        for n in self.noeuds:
            if numero and n.numero == numero and n.niveau.lower() == niveau.lower() and n.rang == 1:
                return n
        return None

    def ouvrir_noeud(self, niveau: str, libelle: str, l: LigneSource, rang: int, numero: str | None = None,
                     sans_entrer: bool = False) -> Noeud:
        while self.pile and self.pile[-1].rang >= rang:
            self.pile.pop()
        parent = self.pile[-1] if self.pile else None
        existant = self._trouver(niveau, numero, parent) if rang == 1 else None
        if existant:
            if libelle and (not existant.libelle or existant.attend_libelle):
                existant.libelle = libelle
                existant.attend_libelle = False
            noeud = existant
        else:
            freres = [n for n in self.noeuds if n.parent == (parent.code if parent else None)]
            propre = numero.split(".")[-1] if numero else None
            code = (f"{parent.code}." if parent else "") + (propre or str(len(freres) + 1))
            if any(n.code == code for n in self.noeuds):
                code = (f"{parent.code}." if parent else "") + str(len(freres) + 1)
                while any(n.code == code for n in self.noeuds):
                    code += "b"
            noeud = Noeud(code, parent.code if parent else None, niveau, libelle, len(freres) + 1, l.page, l.ligne,
                          l.texte.strip(), numero=numero, rang=rang)
            self.noeuds.append(noeud)
        if not sans_entrer:
            self.pile.append(noeud)
        return noeud

    def courant(self) -> Noeud | None:
        return self.pile[-1] if self.pile else None

    # --- engagements -------------------------------------------------------------------------------------------------
    def ajouter_engagement(self, libelle: str, porteurs: list[str], formule: str, l: LigneSource, profondeur: int,
                           extrait: str, confiance: str, type_item: str = "engagement", leviers: list[str] = ()) -> \
            Engagement | None:
        libelle = re.sub(r"\s+", " ", libelle).strip(" ;,")
        if len(libelle) < 8:
            return None
        noeud = self.courant()
        if noeud is None:
            noeud = self.ouvrir_noeud("Axe", "Engagements", l, 1)
            noeud.confiance = "faible"
        for n in self.pile:
            n.engage = True
        parent = None
        if profondeur > 1:
            for e in reversed(self.engagements):
                if e.axe != noeud.code:
                    break
                if e.profondeur < profondeur:
                    parent = e.code
                    break
        e = Engagement(f"E{len(self.engagements) + 1:03d}", noeud.code, parent, libelle, list(porteurs), formule,
                       type_item, l.page, l.ligne, extrait, confiance, ", ".join(leviers), profondeur)
        self.engagements.append(e)
        return e


CADRES_PAR_CLE = {cle(c.libelle): c.code for c in CADRES_NATIONAUX}


def cadre_de(libelle: str) -> str | None:
    """Le code d'un cadre national dont l'intitulé est cité (« Garantir les mêmes droits aux habitants »)."""
    import difflib
    k = cle(libelle)
    for kc, code in CADRES_PAR_CLE.items():
        if len(kc) >= 12 and (kc in k and len(k) <= len(kc) + 25 or difflib.SequenceMatcher(None, k, kc).ratio() >= 0.85):
            return code
    return None


