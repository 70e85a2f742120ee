"""Le vocabulaire générique des protocoles : les organismes publics qui signent ou portent des engagements (État et ses
services, collectivités, CAF, CPAM, ARS, opérateurs, bailleurs, chambres consulaires, conseils citoyens), les départements,
et la liste officielle des QPV de 2024 livrée dans data/reference/. Rien de propre à un territoire.
"""
from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

RACINE = Path(__file__).resolve().parents[3]
QPV_CSV = RACINE / "data" / "reference" / "qpv-2024.csv"


def sans_accents(texte: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", texte) if unicodedata.category(c) != "Mn")


def cle(texte: str) -> str:
    """Forme de comparaison : minuscules, sans accents, apostrophes et tirets en espaces, espaces simples."""
    t = sans_accents(texte).lower().replace("’", "'").replace("œ", "oe")
    t = re.sub(r"[^a-z0-9]+", " ", t)
    return re.sub(r"\s+", " ", t).strip()


def code_de(texte: str) -> str:
    t = sans_accents(texte).upper().replace("’", "'")
    t = re.sub(r"[^A-Z0-9]+", "-", t).strip("-")
    return t or "X"


# --------------------------------------------------------------------------------------------------------------------
# Organismes
# --------------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Organisme:
    motif: re.Pattern
    code: str                 # « {dep} » remplacé par le département du protocole
    nom: str
    categorie: str
    service_etat: bool = False


def _o(motif: str, code: str, nom: str, categorie: str, service: bool = False) -> Organisme:
    return Organisme(re.compile(motif, re.I), code, nom, categorie, service)


# L'ordre compte : le premier motif qui reconnaît un nom l'emporte (les services de l'État avant l'État).
ORGANISMES: tuple[Organisme, ...] = (
    _o(r"\bpr[ée]fectur\w*|\bpr[ée]fet\b", "ETAT-PREF", "État – Préfecture", "Service de l'État", True),
    _o(r"\bDDSP\b|s[ée]curit[ée] publique|\bpolice nationale\b", "ETAT-DDSP",
       "État – Direction départementale de la sécurité publique", "Service de l'État", True),
    _o(r"\bgendarmerie\b", "ETAT-GENDARMERIE", "État – Gendarmerie nationale", "Service de l'État", True),
    _o(r"\bDSDEN\b|\bDASEN\b|[ée]ducation nationale|\bacad[ée]mie\b|\brectorat\b", "ETAT-DSDEN",
       "État – Éducation nationale – DSDEN", "Service de l'État", True),
    _o(r"\bDDETS(?:PP)?\b", "ETAT-DDETS", "État – DDETS", "Service de l'État", True),
    _o(r"\bDIR+ECCTE\b|\bDREETS\b", "ETAT-DIRECCTE", "État – DIRECCTE / DREETS", "Service de l'État", True),
    _o(r"\bDDCS(?:PP)?\b", "ETAT-DDCSPP", "État – DDCSPP", "Service de l'État", True),
    _o(r"\bDDT(?:M)?\b", "ETAT-DDT", "État – Direction départementale des territoires", "Service de l'État", True),
    _o(r"\bDRAC\b", "ETAT-DRAC", "État – DRAC", "Service de l'État", True),
    _o(r"\bSDJES\b|\bDRAJES\b", "ETAT-SDJES", "État – SDJES", "Service de l'État", True),
    _o(r"\bjustice\b|\bparquet\b|\bPJJ\b|\bSPIP\b", "ETAT-JUSTICE", "État – Justice", "Service de l'État", True),
    _o(r"\b(?:l['’]\s*)?[EÉ]tat\b", "ETAT", "État", "État"),
    _o(r"\bCAF\b|caisse d['’]allocations familiales", "CAF{dep}", "CAF", "CAF"),
    _o(r"\bCPAM\b|caisse primaire d['’]assurance maladie", "CPAM{dep}", "CPAM", "CPAM"),
    _o(r"\bARS\b|agence r[ée]gionale de sant[ée]", "ARS", "ARS", "ARS"),
    _o(r"\bP[ôo]le emploi\b", "POLE-EMPLOI", "Pôle emploi", "Opérateur public"),
    _o(r"\bFrance Travail\b", "FRANCE-TRAVAIL", "France Travail", "Opérateur public"),
    _o(r"\bmissions? locales?\b", "MISSION-LOCALE", "Mission locale", "Association"),
    _o(r"\bBPI ?France\b|\bBpifrance\b", "BPI-FRANCE", "Bpifrance", "Opérateur public"),
    _o(r"\bBanque des territoires\b|\bCaisse des d[ée]p[ôo]ts\b", "BANQUE-TERRITOIRES", "Banque des territoires",
       "Opérateur public"),
    _o(r"\bbailleurs?(?: sociaux| social)?\b|\borganismes? HLM\b", "BAILLEURS", "Bailleurs sociaux", "Bailleur social"),
    _o(r"\bCCI\b|\bCCl\b|chambres? de commerce", "CCI{dep}", "CCI", "Chambre consulaire"),
    _o(r"\bCMA\b|chambres? des? m[ée]tiers", "CMA{dep}", "Chambre de métiers et de l'artisanat", "Chambre consulaire"),
    _o(r"\bchambres? consulaires?\b", "CCI{dep};CMA{dep}", "Chambres consulaires", "Chambre consulaire"),
    _o(r"\bconseils? citoyens?\b", "CONSEIL-CITOYEN", "Conseil citoyen", "Conseil citoyen"),
    _o(r"\bconseil (?:d[ée]partemental|g[ée]n[ée]ral)\b|\bd[ée]partement\b|\bCD ?\d{2}\b|^\(?CD\)?$", "CD{dep}", "Département",
       "Département"),
    _o(r"\bconseil r[ée]gional\b|\br[ée]gion\b|^\(?CR\)?$", "REGION", "Région", "Région"),
)

# Noms d'EPCI : « Communauté d'agglomération de X », « X Métropole », « Agglo… », « Grand X ».
RE_EPCI = re.compile(
    r"(?:Communaut[ée] (?:d['’]\s*agglom[ée]ration|urbaine|de communes)(?: de| du| des| d['’])?\s+)"
    r"(?P<a>[A-ZÉÈ][\w'’-]*(?:[ -](?:[A-ZÉÈ][\w'’-]*|de|du|des|la|le|les|et|sur|en))*)"
    r"|(?P<b>\b[A-ZÉÈ][\w'’-]+(?: [A-ZÉÈ][\w'’-]+)* M[ée]tropole\b)"
    r"|(?P<c>\bM[ée]tropole (?:de |du |d['’])?[A-ZÉÈ][\w'’-]+(?: [A-ZÉÈ][\w'’-]+)*)"
    r"|(?P<d>\b(?:[A-ZÉ][a-zé]*)?Agglo[a-zé]*\b(?: (?:du |de |d['’])?[A-ZÉ][\w'’-]+)*)"
    r"|(?P<e>\bGrand [A-ZÉÈ][\w'’-]+)"
)

# --------------------------------------------------------------------------------------------------------------------
# Départements
# --------------------------------------------------------------------------------------------------------------------

DEPARTEMENTS = {
    "01": "Ain", "02": "Aisne", "03": "Allier", "04": "Alpes-de-Haute-Provence", "05": "Hautes-Alpes",
    "06": "Alpes-Maritimes", "07": "Ardèche", "08": "Ardennes", "09": "Ariège", "10": "Aube", "11": "Aude",
    "12": "Aveyron", "13": "Bouches-du-Rhône", "14": "Calvados", "15": "Cantal", "16": "Charente",
    "17": "Charente-Maritime", "18": "Cher", "19": "Corrèze", "2A": "Corse-du-Sud", "2B": "Haute-Corse",
    "21": "Côte-d'Or", "22": "Côtes-d'Armor", "23": "Creuse", "24": "Dordogne", "25": "Doubs", "26": "Drôme",
    "27": "Eure", "28": "Eure-et-Loir", "29": "Finistère", "30": "Gard", "31": "Haute-Garonne", "32": "Gers",
    "33": "Gironde", "34": "Hérault", "35": "Ille-et-Vilaine", "36": "Indre", "37": "Indre-et-Loire", "38": "Isère",
    "39": "Jura", "40": "Landes", "41": "Loir-et-Cher", "42": "Loire", "43": "Haute-Loire", "44": "Loire-Atlantique",
    "45": "Loiret", "46": "Lot", "47": "Lot-et-Garonne", "48": "Lozère", "49": "Maine-et-Loire", "50": "Manche",
    "51": "Marne", "52": "Haute-Marne", "53": "Mayenne", "54": "Meurthe-et-Moselle", "55": "Meuse",
    "56": "Morbihan", "57": "Moselle", "58": "Nièvre", "59": "Nord", "60": "Oise", "61": "Orne",
    "62": "Pas-de-Calais", "63": "Puy-de-Dôme", "64": "Pyrénées-Atlantiques", "65": "Hautes-Pyrénées",
    "66": "Pyrénées-Orientales", "67": "Bas-Rhin", "68": "Haut-Rhin", "69": "Rhône", "70": "Haute-Saône",
    "71": "Saône-et-Loire", "72": "Sarthe", "73": "Savoie", "74": "Haute-Savoie", "75": "Paris",
    "76": "Seine-Maritime", "77": "Seine-et-Marne", "78": "Yvelines", "79": "Deux-Sèvres", "80": "Somme",
    "81": "Tarn", "82": "Tarn-et-Garonne", "83": "Var", "84": "Vaucluse", "85": "Vendée", "86": "Vienne",
    "87": "Haute-Vienne", "88": "Vosges", "89": "Yonne", "90": "Territoire de Belfort", "91": "Essonne",
    "92": "Hauts-de-Seine", "93": "Seine-Saint-Denis", "94": "Val-de-Marne", "95": "Val-d'Oise",
    "971": "Guadeloupe", "972": "Martinique", "973": "Guyane", "974": "La Réunion", "976": "Mayotte",
}


@lru_cache(maxsize=1)
def _motif_departements() -> tuple[re.Pattern, dict[str, str]]:
    par_nom = {cle(nom): code for code, nom in DEPARTEMENTS.items()}
    noms = sorted(DEPARTEMENTS.values(), key=len, reverse=True)
    alternatives = "|".join(re.escape(n).replace(r"\-", "[- ]").replace("'", "['’]") for n in noms)
    return re.compile(rf"(?:\b(?:de l['’]\s*|du |de la |des |de |d['’]\s*))({alternatives})\b"), par_nom


def departement(texte: str) -> str | None:
    """Le département le plus cité sous une forme sûre (« de l'Aube », « du Nord », « Conseil départemental 41 »)."""
    motif, par_nom = _motif_departements()
    comptes: dict[str, int] = {}
    for nom in motif.findall(texte):
        code = par_nom.get(cle(nom))
        if code:
            comptes[code] = comptes.get(code, 0) + 1
    for m in re.finditer(r"\b(?:[Dd][ée]partement(?:al)?|CD|CAF|CPAM|CCI|CMA)\s*(\d{2}|2A|2B|97\d)\b", texte):
        if m.group(1) in DEPARTEMENTS:
            comptes[m.group(1)] = comptes.get(m.group(1), 0) + 2
    return max(comptes, key=comptes.get) if comptes else None


# --------------------------------------------------------------------------------------------------------------------
# QPV officiels
# --------------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Qpv:
    code: str
    libelle: str
    communes: tuple[str, ...]

    @property
    def departement(self) -> str:
        d = self.code[2:5]
        return d[1:] if d.startswith("0") else d


@lru_cache(maxsize=1)
def qpv_officiels() -> tuple[Qpv, ...]:
    if not QPV_CSV.exists():  # pragma: no cover - livré avec le projet
        return ()
    with QPV_CSV.open(encoding="utf-8") as f:
        return tuple(Qpv(r["code_qp"], r["lib_qp"], tuple(c for c in r["insee_com"].split(";") if c))
                     for r in csv.DictReader(f))
