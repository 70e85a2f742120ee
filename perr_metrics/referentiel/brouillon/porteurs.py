"""Les porteurs et les signataires : bloc de signature et préambule, formules « X et Y s'engagent à : », crochets
« [État – DDSP] » et parenthèses « (État) », colonne « partenaires » d'un tableau aplati. Un nom est rapporté à un
signataire par le vocabulaire générique des organismes publics (lexique.ORGANISMES) ou au nom d'un EPCI trouvé dans le
texte ; ce qui n'est reconnu nulle part devient un signataire « Autre » à vérifier.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from perr_metrics.referentiel.brouillon.lexique import ORGANISMES, RE_EPCI, cle, code_de


@dataclass
class Signataire:
    code: str
    nom: str
    categorie: str
    rattache_a: str | None = None
    signe: bool = False
    insee: str | None = None
    ligne_signature: str = ""
    page: int = 0
    ligne: int = 0
    extrait: str = ""
    confiance: str = "moyenne"
    alias: set[str] = field(default_factory=set)


RE_SEPARATEURS = re.compile(r"\s*,\s*|\s+et\s+|\s*;\s*|\s*/\s*|\s+&\s+")
RE_ARTICLE = re.compile(r"^(?:l['’]\s*|les?\s+|la\s+|du\s+|des\s+|de\s+|d['’]\s*|aux?\s+)", re.I)


def nom_epci(m: re.Match) -> str:
    """Le nom d'un EPCI reconnu par RE_EPCI, sans « Communauté d'agglomération de »."""
    return next(g for g in m.groups() if g)


class Annuaire:
    """Les signataires du brouillon, et la résolution d'un nom de porteur en codes de signataires."""

    def __init__(self, departement: str | None):
        self.dep = departement or ""
        self.signataires: dict[str, Signataire] = {}
        self.epci: list[str] = []            # noms d'EPCI lus dans le texte

    # --- ajout -------------------------------------------------------------------------------------------------------
    def ajouter(self, s: Signataire) -> Signataire:
        existant = self.signataires.get(s.code)
        if existant:
            existant.signe = existant.signe or s.signe
            if s.ligne_signature and not existant.ligne_signature:
                existant.ligne_signature = s.ligne_signature
            if s.confiance == "haute":
                existant.confiance = "haute"
            existant.alias |= s.alias
            return existant
        if s.categorie == "Service de l'État" and not s.rattache_a:
            s.rattache_a = "ETAT"
            if "ETAT" not in self.signataires:
                self.ajouter(Signataire("ETAT", "État", "État", page=s.page, ligne=s.ligne, extrait=s.extrait))
        self.signataires[s.code] = s
        return s

    def _organisme(self, nom: str, page: int, ligne: int, extrait: str, signe: bool = False) -> list[Signataire]:
        for o in ORGANISMES:
            if o.motif.search(nom):
                sortie = []
                plusieurs = ";" in o.code
                for code in o.code.split(";"):
                    # « Chambres consulaires » : la CCI et la CMA, chacune sous son propre nom.
                    propre = next((x for x in ORGANISMES if x.code == code), o) if plusieurs else o
                    code = code.replace("{dep}", self.dep)
                    libelle = propre.nom
                    if o.categorie in ("Département",) and self.dep:
                        libelle = f"Département ({self.dep})"
                    sortie.append(self.ajouter(Signataire(code, libelle, propre.categorie, signe=signe, page=page,
                                                          ligne=ligne, extrait=extrait, alias={cle(nom)})))
                return sortie
        return []

    def commune(self, nom: str, page: int, ligne: int, extrait: str, signe: bool = False) -> Signataire:
        nom = nom.strip(" .,:;")
        code = "V-" + code_de(nom)
        return self.ajouter(Signataire(code, f"Ville de {nom}", "Commune", signe=signe, page=page, ligne=ligne,
                                       extrait=extrait, alias={cle(nom), cle("ville de " + nom)}))

    def epci_nom(self, nom: str, page: int, ligne: int, extrait: str, signe: bool = False) -> Signataire:
        nom = nom.strip(" .,:;")
        mots = [m for m in re.split(r"[\s'’-]+", nom) if m and m[0].isupper()]
        code = "".join(m[0] for m in mots).upper() if len(mots) >= 3 else code_de(nom)
        if nom not in self.epci:
            self.epci.append(nom)
        return self.ajouter(Signataire(code, nom, "EPCI", signe=signe, page=page, ligne=ligne, extrait=extrait,
                                       alias={cle(nom)}))

    # --- résolution --------------------------------------------------------------------------------------------------
    def par_categorie(self, *categories: str, signataires_seulement: bool = True) -> list[str]:
        return [s.code for s in self.signataires.values() if s.categorie in categories
                and (s.signe or not signataires_seulement)]

    def _connu(self, morceau: str) -> list[str]:
        k = cle(morceau)
        if not k:
            return []
        memes = [s.code for s in self.signataires.values() if k in s.alias or k == cle(s.nom)]
        if memes:
            return memes           # « Chambres consulaires » : la CCI et la CMA
        for nom in self.epci:
            kn = cle(nom)
            if kn and (kn in k or (len(k) >= 6 and difflib.SequenceMatcher(None, k, kn).ratio() >= 0.75)):
                return [code for code, s in self.signataires.items() if s.categorie == "EPCI" and cle(s.nom) == kn]
        return []

    def resoudre(self, texte: str, page: int, ligne: int, extrait: str) -> tuple[list[str], list[str]]:
        """Codes des porteurs nommés dans `texte` (« L'État, la CAF et les collectivités »), et les noms non reconnus."""
        codes: list[str] = []
        inconnus: list[str] = []
        for morceau in RE_SEPARATEURS.split(texte.strip(" :.()[]")):
            morceau = morceau.strip(" .:()[]«»\"")
            if not morceau:
                continue
            sans_article = RE_ARTICLE.sub("", morceau).strip()
            k = cle(sans_article)
            trouves: list[str] = []
            if re.fullmatch(r"(?:ses )?services(?: de l.?[ée]tat)?", k) or k in ("ses services",):
                trouves = ["ETAT"] if "ETAT" in self.signataires else []
            elif re.fullmatch(r"collectivites(?: locales| territoriales)?|partenaires signataires|signataires", k):
                trouves = self.par_categorie("EPCI", "EPT", "Commune", "Département")
            elif re.fullmatch(r"villes|communes|villes signataires|communes signataires", k):
                trouves = self.par_categorie("Commune")
            elif re.fullmatch(r"(?:ville|commune) (?:de |d )?(.+)", k):
                nom = re.sub(r"^(?:ville|commune)\s+(?:de\s+|d['’]\s*)?", "", sans_article, flags=re.I)
                trouves = self._connu(sans_article) or [self.commune(nom, page, ligne, extrait).code]
            else:
                trouves = self._connu(sans_article)
                if not trouves:
                    m = RE_EPCI.search(sans_article)
                    if m and len(m.group(0)) >= len(sans_article) - 4:
                        trouves = [self.epci_nom(nom_epci(m), page, ligne, extrait).code]
                if not trouves:
                    trouves = [s.code for s in self._organisme(sans_article, page, ligne, extrait)]
            if trouves:
                codes += [c for c in trouves if c not in codes]
            elif k and k not in ("nous", "partenaires", "partenaires associes"):
                inconnus.append(morceau)
        return codes, inconnus
