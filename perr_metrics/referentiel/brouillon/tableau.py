"""Les tableaux aplatis : un tableau « Engagements | Leviers | Partenaires » dont la reconnaissance de caractères (ou
l'export en texte) a rendu les colonnes ligne à ligne, mêlées.

Ce qu'on y voit (docs/brouillon.md, règles essayées dans tests/core/test_brouillon.py) :

- la colonne des engagements donne le texte ; une ligne y continue la précédente si elle commence par une minuscule, si la
  précédente finit sur un mot de liaison (« de la », « avec »…) ou, après « : », si elle n'est pas un nouvel infinitif ;
  un nouvel engagement commence par une puce ou par un infinitif ;
- les noms de partenaires finissent les lignes (« … des métiers Etat ») ou forment des lignes à eux seuls ; un nom coupé
  entre deux lignes (« Région Centre-Val de » / « Loire », « Conseil » / « Départemental 41 », « Chambres » /
  « Consulaires ») est recousu ;
- les sigles de levier (« PAQTE », « PIC ») précèdent les partenaires en fin de ligne ;
- la première colonne (« Développement », « Mobilité ») donne un mot en tête de ligne devant un infinitif, ou une ligne
  courte à elle seule : un intitulé de regroupement ;
- les cellules de partenaires, centrées verticalement dans leur rangée, débordent au-dessus ou au-dessous de
  l'engagement : chaque ligne de partenaires isolée entre deux engagements est donnée à l'un ou à l'autre (un nom déjà
  présent dans une rangée n'y est pas répété ; une rangée sans partenaire prend la cellule voisine ; sinon la plus proche) ;
- des bribes de caractères isolés (« . . . N . - ») sont du bruit.

Rien ici n'est propre à un territoire : le nom de l'EPCI vient du texte (`epci`), les autres noms du vocabulaire générique
(structure.NOMS_PORTEURS_FIN, lexique.ORGANISMES).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from perr_metrics.referentiel.brouillon.structure import (RE_PUCE, SOUS_PUCES, _ressemble_epci, detacher_fin,
                                                          est_infinitif)
from perr_metrics.referentiel.brouillon.texte import LigneSource

LIAISONS = {"de", "du", "des", "la", "le", "les", "à", "a", "au", "aux", "et", "ou", "en", "par", "pour", "sur", "dans",
            "avec", "d'", "l'", "un", "une", "son", "sa", "ses", "leur", "leurs", "vers", "entre", "que", "qui", "dont",
            "notamment", "afin", "sans", "chez", "grâce", "grace", "ainsi", "mais", "car", "tout", "tous", "plus"}
PONCTUATION_DE_TETE = set(".,;:’')(\"`|")
RE_SUITE_DE_NOM = re.compile(r"^(?:D[ée]partemental|R[ée]gional|[Cc]itoyen|[Cc]onsulaires?)\b")
RE_SUITE_DE_NOM_ENTIER = re.compile(r"^(?:D[ée]partemental|R[ée]gional)(?:\s+\d{2,3}\b)?\s*")
RE_NOM_INACHEVE = re.compile(r"(?:\s(?:de|du|des|d['’]))$|^(?:Conseil|Chambres?)$")
SEUIL_PLEINE = 0.6              # une ligne au moins aussi longue (× la largeur du tableau) a pu être coupée par la marge
RE_SIGLE_SEUL = re.compile(r"^[A-Z][A-Za-z]{1,5}[A-Z]$")


def _bruit(tok: str) -> bool:
    """Un jeton de bruit d'OCR : sans lettre ni chiffre, une lettre seule, ou deux caractères de casse mêlée."""
    alnum = [c for c in tok if c.isalnum()]
    if not alnum:
        return True
    if len(tok) == 1:
        return True
    return len(tok) == 2 and tok[0].islower() and tok[1].isupper()


def sans_bruit(ligne: str) -> str:
    """Retire les suites d'au moins trois jetons de bruit (« . . . N . - ») et la ponctuation isolée en tête de ligne
    (« . Chambres consulaires », « ’ ) Départemental 41 ») ; garde les puces."""
    jetons = ligne.split()
    sortie: list[str] = []
    i = 0
    while i < len(jetons):
        if _bruit(jetons[i]):
            j = i
            while j < len(jetons) and _bruit(jetons[j]):
                j += 1
            if j - i >= 3:
                i = j
                continue
        sortie.append(jetons[i])
        i += 1
    while sortie and all(c in PONCTUATION_DE_TETE for c in sortie[0]):
        sortie.pop(0)
    return " ".join(sortie)


def _charabia(tok: str) -> bool:
    """Un mot que l'OCR a rendu illisible (« V'"estitBlo'S », « ggEt:t », « I:gg ») : ponctuation au milieu, ou une
    majuscule collée derrière une minuscule."""
    t = tok.strip(".,;")
    if len(t) < 3:
        return False
    if sum(t.count(c) for c in "'\"’") >= 2 or re.search(r"\w[:\"]\w", t):
        return True
    return bool(re.search(r"[a-z]{2}[A-Z]", t)) and not RE_SIGLE_SEUL.match(t)


@dataclass
class Ligne:
    """Une ligne du tableau, ses morceaux reconnus."""
    rang: int                     # numéro de la ligne dans le tableau (les lignes vides comptent : elles marquent l'espace)
    source: LigneSource
    texte: str = ""               # la part de la colonne des engagements
    noms: list[str] = field(default_factory=list)
    leviers: list[str] = field(default_factory=list)
    etiquette: str = ""           # première colonne


@dataclass
class ItemTableau:
    """Un engagement lu dans un tableau : son texte, ses lignes, ses partenaires (noms bruts, résolus par l'appelant)."""
    morceaux: list[str]
    source: LigneSource
    profondeur: int
    lignes: list[int] = field(default_factory=list)
    leviers: list[str] = field(default_factory=list)
    noms: list[str] = field(default_factory=list)
    parent: int | None = None     # indice de l'item parent (déclinaison)
    etiquettes: list[tuple[str, LigneSource]] = field(default_factory=list)   # regroupements ouverts juste avant
    perdu: bool = False           # puce ou majuscule perdue par l'OCR (lu « assurer … » après un point)
    puce: str = ""

    @property
    def texte(self) -> str:
        t = ""
        for m in self.morceaux:
            if t.endswith("-") and m[:1].islower():
                t = t + m
            else:
                t = (t + " " + m) if t else m
        return re.sub(r"\s+", " ", t).strip(" ;,")

    @property
    def derniere(self) -> str:
        return self.morceaux[-1] if self.morceaux else ""


# --------------------------------------------------------------------------------------------------------------------
# Lignes : partenaires, leviers, première colonne
# --------------------------------------------------------------------------------------------------------------------

def decouper_lignes(lignes: list[LigneSource], epci: list[str]) -> list[Ligne]:
    """Chaque ligne du tableau, séparée en texte, noms de partenaires, sigles de levier et intitulé de première colonne."""
    textes = [sans_bruit(l.texte) for l in lignes]
    # « … le quartier Quinière Conseil » / « Départemental 41 » : le mot qui commence un nom coupé rejoint sa suite.
    for i, t in enumerate(textes):
        suivante = next((j for j in range(i + 1, min(i + 3, len(textes))) if textes[j]), None)
        if suivante is None:
            continue
        m = re.search(r"(?:^|\s)(Conseil|Chambres?)$", t)
        suite = RE_SUITE_DE_NOM_ENTIER.match(textes[suivante])
        if m and suite:
            # le nom recousu reste à la hauteur de son premier mot
            textes[i] = t + " " + suite.group(0).strip()
            textes[suivante] = textes[suivante][suite.end():].strip()
    sortie: list[Ligne] = []
    inacheve = False              # le dernier nom lu finit sur « de » : sa fin est sur la ligne suivante
    for rang, (l, t) in enumerate(zip(lignes, textes)):
        ligne = Ligne(rang, l)
        sortie.append(ligne)
        if not t:
            continue
        if inacheve:
            inacheve = False
            m = re.search(r"(?:^|\s)([A-ZÉ][\w-]+)\s*\.?$", t)
            if m and (m.start() == 0 or not t[:m.start()].rstrip().endswith(
                    tuple(LIAISONS))):
                precedent = next(x for x in reversed(sortie[:-1]) if x.noms)
                precedent.noms[-1] += " " + m.group(1)
                t = t[:m.start()].rstrip()
                if not t:
                    continue
        if re.fullmatch(r"\d{2,3}", t):            # « 41 » sous « Conseil Départemental »
            precedent = next((x for x in reversed(sortie[:-1]) if x.noms), None)
            if precedent is not None:
                precedent.noms[-1] += " " + t
            continue
        # Une ligne de noms et de sigles seulement (« PIC Etat », « Bailleurs sociaux », « Chambres consulaires »).
        reste, noms, leviers = detacher_fin("x x x " + t, epci)
        if noms and reste.strip() == "x x x":
            ligne.noms, ligne.leviers = noms, leviers
            inacheve = bool(RE_NOM_INACHEVE.search(noms[-1]))
            continue
        if (len(t.split()) == 1 or len(t.split()) == 2 and t[:1].isupper()) and _ressemble_epci(t.split()[-1], epci):
            ligne.noms = [epci[0]]
            continue
        texte, noms, leviers = detacher_fin(t, epci)
        mots = texte.split()
        if len(mots) == 2 and not noms and mots[0][:1].islower() and _ressemble_epci(mots[1], epci):
            texte, noms = mots[0], [epci[0]]          # « médicale Agglopolys » : fin de la première colonne, un nom
            mots = [mots[0]]
        if mots and _charabia(mots[-1]) and len(mots) >= 3:
            texte = " ".join(mots[:-1])
        ligne.texte, ligne.noms, ligne.leviers = texte.strip(), noms, leviers
        inacheve = bool(noms) and bool(RE_NOM_INACHEVE.search(noms[-1]))
        # Première colonne : « Développement Resserrer la coordination… », « Commerce Accompagner… ».
        mots = ligne.texte.split()
        for k in (1, 2):
            if len(mots) > k + 2 and all(w[:1].isupper() and not _infinitif(w) for w in mots[:k]) \
                    and mots[k][:1].isupper() and _infinitif(mots[k]) and not RE_PUCE.match(ligne.texte) \
                    and not any(w.isupper() for w in mots[:k]):
                ligne.etiquette = " ".join(mots[:k])
                ligne.texte = " ".join(mots[k:])
                break
    # « … d'orientation Chambres » / « … recherches de Consulaires » : une cellule à cheval sur deux rangées, le nom
    # recousu vaut pour les deux.
    avec_noms = [x for x in sortie if x.noms]
    for a, b in zip(avec_noms, avec_noms[1:]):
        if re.fullmatch(r"Conseil|Chambres?", a.noms[-1]) and RE_SUITE_DE_NOM.match(b.noms[0]) \
                and b.rang - a.rang <= 2:
            entier = a.noms[-1] + " " + b.noms[0]
            a.noms[-1] = b.noms[0] = entier
    return sortie


# --------------------------------------------------------------------------------------------------------------------
# Engagements
# --------------------------------------------------------------------------------------------------------------------

def _finit_sur_liaison(t: str) -> bool:
    mots = t.split()
    return bool(mots) and (mots[-1].lower() in LIAISONS or mots[-1].endswith(("'", "’", "«")))


def _infinitif(mot: str) -> bool:
    """Un infinitif (« Renforcer », « Voir ») ; pas « D'améliorer », qui suit une préposition élidée, ni « Culture »."""
    m = mot.lower().strip("«» ,.:;")
    if re.search(r"ure$", m) and m not in ("conclure", "exclure", "inclure"):
        return False                                 # « Culture », « Structure » : des noms
    return est_infinitif(mot) and not re.search(r"['’]", mot)


def _commence_par_infinitif(t: str) -> bool:
    mots = t.split()
    return bool(mots) and _infinitif(mots[0])


def _puce(t: str) -> tuple[str, int, str] | None:
    """(texte, profondeur, puce) si la ligne commence par une puce ; « « Développer … » » en tête de ligne en est une
    (de premier rang) ; « o », « ° », « © » (ce que l'OCR fait d'une puce ronde) sont des sous-puces."""
    m = re.match(r"^(?:«|»|\*|\+)\s+(?P<reste>[A-ZÉÈ]\S*.*)$", t)
    if m and _commence_par_infinitif(m.group("reste")):
        return m.group("reste"), 1, "«"
    m = re.match(r"^(?P<m>[o°©]{1,2}|[-–•▪◦✓✔➔►])\s+(?P<reste>\S.*)$", t)
    if m:
        sous = m.group("m")[0] in SOUS_PUCES + "©"
        return m.group("reste"), 2 if sous else 1, m.group("m")[0]
    return None


def lire_tableau(lignes: list[LigneSource], epci: list[str], partenaires: bool = True) -> list[ItemTableau]:
    """Les engagements d'un tableau aplati, avec les noms de partenaires de leur rangée.

    `partenaires` : le tableau a une colonne de partenaires (son en-tête la nomme) ; sans elle, c'est une liste
    d'objectifs : une ligne par item, sauf suite évidente (minuscule, mot de liaison).
    """
    decoupees = decouper_lignes(lignes, epci)
    textes = [x for x in decoupees if x.texte]
    largeur = sorted(len(x.texte) for x in textes)[int(0.9 * (len(textes) - 1))] if textes else 80
    items: list[ItemTableau] = []
    etiquettes: list[tuple[str, LigneSource]] = []
    precedente: Ligne | None = None         # dernière ligne de texte lue
    for x in decoupees:
        if x.etiquette:
            etiquettes.append((x.etiquette, x.source))
        if not x.texte:
            continue
        t = x.texte
        p = precedente.texte if precedente is not None else ""
        item = items[-1] if items else None
        nouveau: tuple[str, int] | None = None
        perdu = False
        puce = _puce(t)
        marque = ""
        if puce:
            nouveau, marque = puce[:2], puce[2]
            # « - Éviter … » sous un engagement sans puce : une déclinaison.
            haut = next((it for it in reversed(items) if it.profondeur == 1), None)
            if marque in "-–•" and haut is not None and (not haut.puce or haut.puce not in "-–•"):
                nouveau = (nouveau[0], 2)
        elif item is None:
            if len(t.split()) <= 4 and not _commence_par_infinitif(t) and not re.search(r"[.:;]$", t):
                # La première ligne d'un tableau, courte et sans verbe : l'intitulé de la première colonne.
                etiquettes.append((t, x.source))
                precedente = x
                continue
            nouveau = (t, 1)
        elif t[:1].islower():
            # « assurer la mixité … » après « … des subventions. » : une puce perdue ; « outenir le dispositif … »
            # après un engagement complet : une majuscule perdue.
            if _commence_par_infinitif(t) and (re.search(r"[.;]$", p) or (
                    len(p) < 0.6 * largeur and not _finit_sur_liaison(p))):
                nouveau, perdu = (t, 2 if re.search(r"[.;]$", p) else 1), True
        elif _finit_sur_liaison(p):
            pass
        elif not partenaires:
            nouveau = (t, 1)
        elif p.endswith(":"):
            if _commence_par_infinitif(t):
                nouveau = (t, 1)
        elif re.search(r"[.;!?»]$", p) or _commence_par_infinitif(t) or len(p) < SEUIL_PLEINE * largeur:
            if len(t.split()) <= 4 and not _commence_par_infinitif(t) and not re.search(r"[.:;]$", t):
                # Une ligne courte, sans verbe, entre deux engagements : un intitulé de la première colonne.
                etiquettes.append((t, x.source))
                precedente = x
                continue
            nouveau = (t, 1)
        if nouveau is None and item is not None:
            item.morceaux.append(t)
            item.lignes.append(x.rang)
            item.leviers += [s for s in x.leviers if s not in item.leviers]
        else:
            texte, profondeur = nouveau
            it = ItemTableau([texte], x.source, profondeur, [x.rang], list(x.leviers), perdu=perdu, puce=marque)
            it.etiquettes, etiquettes = etiquettes, []
            if profondeur > 1:
                it.parent = next((i for i in range(len(items) - 1, -1, -1) if items[i].profondeur == 1), None)
                if it.parent is None:
                    it.profondeur = 1
                elif _suite_du_parent(items[it.parent], it):
                    # « o Axe 1, FA « … » » ou une apposition sans verbe sous un engagement qui ne finit pas par « : » :
                    # la suite du texte de l'engagement, pas une déclinaison.
                    items[it.parent].morceaux.append(texte)
                    items[it.parent].lignes.append(x.rang)
                    precedente = x
                    continue
            items.append(it)
        precedente = x
    _attribuer_partenaires(items, decoupees)
    return items


RE_REFERENCE = re.compile(r"^(?:Axe|Fiche|FA|Action|Article|Annexe|Volet)\b[^«]{0,20}«.+»\s*[;.]?$", re.I)


def _suite_du_parent(parent: ItemTableau, item: ItemTableau) -> bool:
    t = item.morceaux[0]
    if RE_REFERENCE.match(t):
        return True
    premier = t.split()[0].lower() if t.split() else ""
    return not parent.texte.endswith(":") and not _infinitif(premier) and premier not in (
        "un", "une", "des", "le", "la", "les", "l'", "en", "au", "aux", "à", "a") and not premier[:1].isdigit()


# --------------------------------------------------------------------------------------------------------------------
# Partenaires : chaque cellule à sa rangée
# --------------------------------------------------------------------------------------------------------------------

def _rangees(items: list[ItemTableau]) -> list[list[int]]:
    """Les rangées du tableau : un engagement et ses déclinaisons forment une seule rangée si l'engagement n'a pas de
    partenaire sur ses propres lignes (la cellule de partenaires couvre alors tout le groupe)."""
    rangees: list[list[int]] = []
    for i, it in enumerate(items):
        if it.parent is not None and rangees and it.parent in rangees[-1] and not items[it.parent].noms:
            rangees[-1].append(i)
        else:
            rangees.append([i])
    return rangees


def _attribuer_partenaires(items: list[ItemTableau], lignes: list[Ligne]) -> None:
    if not items:
        return
    proprietaire: dict[int, int] = {}           # ligne → item dont elle porte le texte
    for i, it in enumerate(items):
        for r in it.lignes:
            proprietaire[r] = i
    # Les noms écrits sur les lignes d'un engagement sont les siens.
    for x in lignes:
        if x.texte and x.rang in proprietaire and x.noms:
            items[proprietaire[x.rang]].noms += x.noms
    rangees = _rangees(items)
    etendue = [(min(l for i in r for l in items[i].lignes), max(l for i in r for l in items[i].lignes)) for r in rangees]
    noms_de: list[list[str]] = [[n for i in r for n in items[i].noms] for r in rangees]
    propres = [bool(n) for n in noms_de]
    lignes_de: list[list[float]] = [[x.rang for i in r for x in lignes if x.rang in items[i].lignes and x.noms]
                                    for r in rangees]
    # Les lignes de noms seuls, regroupées en blocs entre deux rangées.
    seules = [x for x in lignes if x.noms and not x.texte]
    blocs: list[list[Ligne]] = []
    for x in seules:
        if blocs and not any(blocs[-1][-1].rang < r < x.rang for r in proprietaire):
            blocs[-1].append(x)
        else:
            blocs.append([x])
    # Une rangée qui recevra des noms d'un bloc placé dans ses lignes ou juste après elles.
    suivants = {k: any(etendue[k][0] < b[0].rang and (k + 1 >= len(rangees) or b[-1].rang < etendue[k + 1][0])
                       for b in blocs) for k in range(len(rangees))}

    def cle_noms(n: str) -> str:
        return re.sub(r"[^a-z]", "", n.lower())[:8]

    def donner(k: int, bloc: list[Ligne]) -> None:
        for x in bloc:
            noms_de[k] += x.noms
            lignes_de[k].append(x.rang)

    for bloc in blocs:
        debut, fin = bloc[0].rang, bloc[-1].rang
        avant = max((k for k in range(len(rangees)) if etendue[k][0] <= debut), default=None)
        if avant is not None and etendue[avant][1] > fin:         # au milieu des lignes d'une rangée
            donner(avant, bloc)
            continue
        apres = avant + 1 if avant is not None and avant + 1 < len(rangees) else (0 if avant is None else None)
        if avant is None or apres is None:
            donner(avant if apres is None else apres, bloc)
            continue
        # Un nom déjà présent dans une rangée la ferme : ce qui le suit va à la rangée d'après ; un nom déjà présent
        # dans la rangée d'après ferme le bloc de l'autre côté.
        coupe_min, coupe_max = 0, len(bloc)
        deja_avant = {cle_noms(n) for n in noms_de[avant]}
        deja_apres = {cle_noms(n) for n in noms_de[apres]}
        for j, x in enumerate(bloc):
            if any(cle_noms(n) in deja_avant for n in x.noms):
                coupe_max = min(coupe_max, j)
                break
        for j in range(len(bloc) - 1, -1, -1):
            if any(cle_noms(n) in deja_apres for n in bloc[j].noms):
                coupe_min = max(coupe_min, j + 1)
                break
        if coupe_min >= coupe_max:
            coupe = coupe_max
        elif coupe_min > 0 or coupe_max < len(bloc):
            # le reste va au plus proche
            reste = bloc[coupe_min:coupe_max]
            coupe = coupe_max if _plus_pres_de_avant(reste, etendue[avant], etendue[apres]) else coupe_min
        else:
            # La plus proche ; une rangée qui n'aurait sinon aucun partenaire attire la cellule (deux lignes d'avance).
            vide_avant = not noms_de[avant]
            vide_apres = not noms_de[apres] and not suivants.get(apres, False) and not propres[apres]
            centre = (bloc[0].rang + bloc[-1].rang) / 2
            cout_avant = abs(centre - sum(etendue[avant]) / 2) - (2 if vide_avant else 0)
            cout_apres = abs(centre - sum(etendue[apres]) / 2) - (2 if vide_apres else 0)
            coupe = len(bloc) if cout_avant < cout_apres else 0
        donner(avant, bloc[:coupe])
        donner(apres, bloc[coupe:])
    for k, r in enumerate(rangees):
        vus: list[str] = []
        for n in noms_de[k]:
            if cle_noms(n) not in {cle_noms(v) for v in vus}:
                vus.append(n)
        for i in r:
            items[i].noms = list(vus)
    # Une déclinaison sans cellule à elle prend les partenaires de son engagement.
    for it in items:
        if not it.noms and it.parent is not None:
            it.noms = list(items[it.parent].noms)


def _plus_pres_de_avant(bloc: list[Ligne], avant: tuple[int, int], apres: tuple[int, int]) -> bool:
    centre = (bloc[0].rang + bloc[-1].rang) / 2
    return abs(centre - sum(avant) / 2) <= abs(centre - sum(apres) / 2)
