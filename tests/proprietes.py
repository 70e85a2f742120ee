"""Outils des tests de propriétés (Hypothesis) : profils, valeurs de cellules de toutes sortes, écriture de classeurs
(.xlsx, .ods, .csv) à partir d'une grille mutée, et les invariants communs à tous les lecteurs de fichiers.

Profils (variable d'environnement `HYPOTHESIS_PROFILE`, voir docs/robustesse.md) :

- `ci` (par défaut) : graine fixe (`derandomize`), pas de base d'exemples, quelques dizaines de cas par test : c'est ce que
  lance `bash .ci/run`, en une à deux minutes pour tous les tests de propriétés ;
- `long` : graine au hasard à chaque lancement, `PERR_PROPRIETES_FACTEUR` fois plus de cas (20 par défaut), exemples
  qui échouent gardés dans `.hypothesis/` pour être rejoués.

Chaque test de propriétés compte les cas qu'il a essayés ; le total est affiché en fin de session (et recopié dans
docs/robustesse.md).
"""
from __future__ import annotations

import datetime as dt
import io
import os
import re
import zipfile
from collections import Counter
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

RACINE = Path(__file__).resolve().parent.parent

# --------------------------------------------------------------------------------------------------------------------
# Profils
# --------------------------------------------------------------------------------------------------------------------

_SANTE = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large,
          HealthCheck.filter_too_much, HealthCheck.large_base_example]
settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True,
                          suppress_health_check=_SANTE)
settings.register_profile("long", derandomize=False, deadline=None, print_blob=True, suppress_health_check=_SANTE)
PROFIL = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFIL)
FACTEUR = int(os.environ.get("PERR_PROPRIETES_FACTEUR", "20")) if PROFIL == "long" else 1


def cas(n: int) -> settings:
    """Les réglages d'un test : `n` cas sous le profil `ci`, `n × FACTEUR` sous le profil `long`."""
    return settings(max_examples=n * FACTEUR)


# Les bases de chaque cas sont copiées en mémoire (/dev/shm) quand c'est possible : chaque écriture de DuckDB se termine
# par une synchronisation du disque, qui coûte bien plus que le cas lui-même sur un disque partagé.
TEMPORAIRE = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None

CAS_ESSAYES: Counter = Counter()          # nom du test → cas essayés
ISSUES: Counter = Counter()               # (nom du test, issue) → cas


def compter(nom: str, issue: str) -> None:
    """Un cas essayé, et comment il a fini (« accepte », « refuse », « rejete »…)."""
    CAS_ESSAYES[nom] += 1
    ISSUES[nom, issue] += 1


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # importée dans tests/conftest.py
    if CAS_ESSAYES:
        terminalreporter.write_sep("-", f"tests de propriétés (profil {PROFIL}) : {sum(CAS_ESSAYES.values())} cas")
        for nom, n in sorted(CAS_ESSAYES.items()):
            detail = ", ".join(f"{issue} {k}" for (t, issue), k in sorted(ISSUES.items()) if t == nom)
            terminalreporter.write_line(f"{n:>7}  {nom} ({detail})")


# --------------------------------------------------------------------------------------------------------------------
# Valeurs de cellules
# --------------------------------------------------------------------------------------------------------------------

EMOJIS = ["🙂", "👩‍👩‍👧", "🇫🇷", "\u202e", "\u00a0", "\u202f", "ﬁ", "Ǆ", "\ufeff", "e\u0301", "٢٠٢٥", "𝟚𝟘𝟚𝟝"]
FORMULES = ["=1/0", "=A1", "=SUM(1,2)", '="texte"', "=1E+308*10", "=NA()", "=TODAY()", "=B2*100"]
NOMBRES_TEXTE = ["1 000 000 000 000", "1e400", "-1", "12,5 %", "1 234,5", "1.5", "0,0001", "NaN", "inf", "-0",
                 "1" * 400, "2147483648", "-2147483649", "99999", "100000", "2025-S1", "12/02/2021", "31/02/2021",
                 "oui", "non", "n/a", "#DIV/0!", "QN09301A", "93001", "EPT", ""]
ENTIERS_LIMITES = [0, -1, 1, 2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 10**12, 99_999, 100_000, 2**53, 2**63,
                   10**20, 1989, 1990, 1999, 2000, 2100, 2101]
FLOTTANTS_LIMITES = [0.5, -0.0, 1e15, 1e15 + 1, 1e16, -1e16, 1e308, 5e-324, 1e-5, 2.5e9, 0.1 + 0.2]

textes = st.one_of(
    st.text(max_size=30),
    st.sampled_from(EMOJIS),
    st.sampled_from(NOMBRES_TEXTE),
    st.text(min_size=100, max_size=600),
    st.builds(lambda c, n: c * n, st.sampled_from("xé🙂"), st.sampled_from([33_000, 131_073])),
)
nombres = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from(ENTIERS_LIMITES),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(FLOTTANTS_LIMITES),
)
dates = st.one_of(st.dates(min_value=dt.date(1900, 3, 1)), st.datetimes(min_value=dt.datetime(1900, 3, 1)),
                  st.sampled_from([dt.date(1899, 12, 31), dt.date(9999, 12, 31), dt.date(1989, 12, 31)]))
formules = st.sampled_from(FORMULES)
valeurs_cellule = st.one_of(st.none(), textes, nombres, dates, st.booleans(), formules)


def valeurs_limites(type_: str):
    """Des valeurs au bord de ce qu'une colonne typée accepte, pour viser les contrôles de bornes."""
    if type_ == "entier":
        return st.one_of(st.sampled_from(ENTIERS_LIMITES), st.integers(min_value=-(2**66), max_value=2**66),
                         st.sampled_from(FLOTTANTS_LIMITES))
    if type_ == "nombre":
        return st.one_of(st.sampled_from(FLOTTANTS_LIMITES + ENTIERS_LIMITES),
                         st.floats(allow_nan=False, allow_infinity=True),
                         st.sampled_from(["1" * 400, "1e400", "-1 000 000 000 000 000 000", "12,5 %"]))
    if type_ == "date":
        return st.one_of(dates, st.sampled_from(["01/01/0001", "31/12/9999", "1899-12-31", "29/02/2021", "2021-02-12",
                                                 "12 février 2021", "1er janvier 1901"]))
    return valeurs_cellule


# --------------------------------------------------------------------------------------------------------------------
# Une grille (feuille → lignes) mutée, puis écrite en .xlsx, .ods ou CSV
# --------------------------------------------------------------------------------------------------------------------

_RE_XML_INTERDIT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
Grille = dict  # nom de feuille → list[list[valeur]] (ordre des feuilles = ordre du classeur)

NOM_FEUILLE = st.one_of(st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=31).filter(lambda n: not re.search(r"[\[\]:*?/\\']", n)
                                                                  and n.strip() and n.lower() != "history"),
                        st.sampled_from(["Valeurs", "valeurs", "VALEURS ", "Axes", "axes", "Feuil1", "_perr", "Sheet"]))


def operations(feuilles_typees: dict[str, list[tuple[int, str]]] | None = None, max_ops: int = 5):
    """Une liste de mutations à appliquer à une grille. Les indices sont pris modulo la taille au moment d'appliquer.
    `feuilles_typees` : feuille → [(colonne, type)] des colonnes typées à viser par des valeurs limites."""
    i = st.integers(min_value=0, max_value=10**6)
    ops = [
        st.tuples(st.just("cellule"), i, i, i, valeurs_cellule),
        st.tuples(st.just("cellule"), i, i, i, valeurs_cellule),
        st.tuples(st.just("supprimer_ligne"), i, i),
        st.tuples(st.just("dupliquer_ligne"), i, i),
        st.tuples(st.just("ajouter_ligne"), i, st.lists(valeurs_cellule, max_size=12)),
        st.tuples(st.just("entete"), i, i, st.one_of(st.none(), textes)),
        st.tuples(st.just("renommer_feuille"), i, NOM_FEUILLE),
        st.tuples(st.just("supprimer_feuille"), i),
        st.tuples(st.just("ajouter_feuille"), NOM_FEUILLE, st.lists(st.lists(valeurs_cellule, max_size=6),
                                                                      max_size=4)),
    ]
    if feuilles_typees:
        cibles = [(f, j, t) for f, cols in feuilles_typees.items() for j, t in cols]
        ops += [st.tuples(st.just("typee"), st.sampled_from(cibles), i).flatmap(
            lambda c: st.tuples(st.just("typee"), st.just(c[1]), st.just(c[2]), valeurs_limites(c[1][2])))] * 3
    return st.lists(st.one_of(ops), max_size=max_ops)


def appliquer(grille: Grille, ops) -> Grille:
    """Applique les mutations à une copie de la grille (la ligne 0 de chaque feuille est sa ligne d'en-têtes)."""
    g = {nom: [list(l) for l in lignes] for nom, lignes in grille.items()}
    for op in ops:
        noms = list(g)
        genre = op[0]
        if genre == "ajouter_feuille":
            if op[1] not in g and len(g) < 40:
                g[op[1]] = [list(l) for l in op[2]]
            continue
        if not noms:
            continue
        if genre == "typee":
            (f, j, _), n, v = op[1], op[2], op[3]
            if f in g and len(g[f]) > 1:
                ligne = g[f][1 + n % (len(g[f]) - 1)]
                ligne.extend([None] * (j + 1 - len(ligne)))
                ligne[j] = v
            continue
        f = noms[op[1] % len(noms)]
        lignes = g[f]
        if genre == "cellule":
            if lignes:
                ligne = lignes[op[2] % len(lignes)]
                j = op[3] % (len(ligne) + 2)
                ligne.extend([None] * (j + 1 - len(ligne)))
                ligne[j] = op[4]
        elif genre == "supprimer_ligne" and lignes:
            del lignes[op[2] % len(lignes)]
        elif genre == "dupliquer_ligne" and lignes:
            k = op[2] % len(lignes)
            lignes.insert(k + 1, list(lignes[k]))
        elif genre == "ajouter_ligne":
            lignes.append(list(op[2]))
        elif genre == "entete" and lignes:
            j = op[2] % (len(lignes[0]) + 1)
            lignes[0].extend([None] * (j + 1 - len(lignes[0])))
            lignes[0][j] = op[3]
        elif genre == "renommer_feuille":
            if op[2] not in g:
                g = {(op[2] if n == f else n): v for n, v in g.items()}
        elif genre == "supprimer_feuille":
            del g[f]
    return g


def xlsx(grille: Grille, cachees: tuple[str, ...] = ()) -> bytes:
    """La grille en .xlsx (openpyxl, écriture en flux) : un texte qui commence par « = » devient une formule, sans
    valeur calculée, comme l'écrit un programme."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    for nom, lignes in grille.items():
        ws = wb.create_sheet(_RE_XML_INTERDIT.sub("?", nom))
        if nom in cachees and len(grille) > 1:
            ws.sheet_state = "veryHidden"
        for l in lignes:
            ws.append([_pour_openpyxl(v) for v in l])
    if not grille:
        wb.create_sheet("Feuil1")
    flux = io.BytesIO()
    wb.save(flux)
    return flux.getvalue()


def _pour_openpyxl(v):
    if isinstance(v, str):
        # openpyxl refuse les caractères de contrôle (un tableur ne les écrit pas non plus) : on les garde visibles.
        return _RE_XML_INTERDIT.sub("?", v)[:32_767]
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 2**63:
        return float(v)
    return v


_ODS_TETE = ('<?xml version="1.0" encoding="UTF-8"?>'
             '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
             'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
             'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
             'xmlns:of="urn:oasis:names:tc:opendocument:xmlns:of:1.2" office:version="1.2">'
             '<office:body><office:spreadsheet>')


def ods(grille: Grille) -> bytes:
    """La grille en .ods (OpenDocument écrit à la main : nombres, dates, booléens, textes, formules sans résultat)."""
    corps = [_ODS_TETE]
    for nom, lignes in (grille or {"Feuille1": []}).items():
        corps.append(f"<table:table table:name={quoteattr(_RE_XML_INTERDIT.sub('?', nom))}>")
        for l in lignes:
            corps.append("<table:table-row>")
            for v in l:
                corps.append(_cellule_ods(v))
            corps.append("</table:table-row>")
        corps.append("</table:table>")
    corps.append("</office:spreadsheet></office:body></office:document-content>")
    manifeste = ('<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
                 'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
                 '<manifest:file-entry manifest:full-path="/" '
                 'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
                 '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
                 '</manifest:manifest>')
    flux = io.BytesIO()
    with zipfile.ZipFile(flux, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("META-INF/manifest.xml", manifeste, zipfile.ZIP_DEFLATED)
        z.writestr("content.xml", "".join(corps), zipfile.ZIP_DEFLATED)
    return flux.getvalue()


def _cellule_ods(v) -> str:
    if v is None:
        return "<table:table-cell/>"
    if isinstance(v, bool):
        return f'<table:table-cell office:value-type="boolean" office:boolean-value="{str(v).lower()}"/>'
    if isinstance(v, (int, float)):
        return f'<table:table-cell office:value-type="float" office:value="{float(v)!r}"/>'
    if isinstance(v, dt.datetime):
        return f'<table:table-cell office:value-type="date" office:date-value="{v.replace(tzinfo=None).isoformat()}"/>'
    if isinstance(v, dt.date):
        return f'<table:table-cell office:value-type="date" office:date-value="{v.isoformat()}"/>'
    texte = _RE_XML_INTERDIT.sub("?", str(v))
    if texte.startswith("="):
        return f'<table:table-cell table:formula={quoteattr("of:" + texte)}/>'
    return f'<table:table-cell office:value-type="string"><text:p>{escape(texte)}</text:p></table:table-cell>'


def texte_csv(v) -> str:
    if v is None:
        return ""
    if isinstance(v, dt.datetime):
        return v.strftime("%d/%m/%Y %H:%M")
    if isinstance(v, dt.date):
        return v.strftime("%d/%m/%Y")
    if isinstance(v, bool):
        return "VRAI" if v else "FAUX"
    if isinstance(v, float):
        return repr(v).replace(".", ",")
    return str(v)


def csv(lignes, sep: str = ";", encodage: str = "utf-8") -> bytes:
    def champ(v) -> str:
        t = texte_csv(v)
        if sep in t or '"' in t or "\n" in t or "\r" in t:
            t = '"' + t.replace('"', '""') + '"'
        return t
    return "".join(sep.join(champ(v) for v in l) + "\r\n" for l in lignes).encode(encodage, errors="replace")


FORMATS_CSV = st.tuples(st.sampled_from([";", ","]), st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"]))


def abimer(donnees: bytes, ops) -> bytes:
    """Des octets retournés, remplacés, coupés ou ajoutés."""
    b = bytearray(donnees)
    for genre, position, octet in ops:
        if not b:
            break
        k = position % len(b)
        if genre == "retourner":
            b[k] ^= 1 << (octet % 8)
        elif genre == "remplacer":
            b[k] = octet
        elif genre == "couper":
            del b[k:]
        elif genre == "inserer":
            b[k:k] = bytes([octet]) * (1 + octet % 7)
    return bytes(b)


octets_abimes = st.lists(st.tuples(st.sampled_from(["retourner", "remplacer", "couper", "inserer"]),
                                   st.integers(min_value=0, max_value=10**7), st.integers(0, 255)),
                         min_size=1, max_size=4)


# --------------------------------------------------------------------------------------------------------------------
# Invariants
# --------------------------------------------------------------------------------------------------------------------

CODES_DOCUMENTES = set(re.findall(r"`([a-z0-9]+(?:-[a-z0-9]+)+)`", (RACINE / "docs" / "erreurs.md").read_text()))

# Les problèmes qui portent sur le fichier entier, ou sur un paramètre du dépôt, et non sur une cellule.
CODES_SANS_CELLULE = {"fichier-illisible", "fichier-protege", "archive-suspecte", "fichier-trop-gros", "fichier-vide",
                      "feuille-manquante", "periode-invalide", "periode-hors-protocole", "protocole-inconnu",
                      "signataire-inconnu", "geojson-illisible", "geojson-pas-featurecollection",
                      "geojson-sans-code-qp"}
# Les codes qui disent d'une cellule remplie qu'elle ne convient pas : la valeur reçue doit être rapportée.
CODES_AVEC_VALEUR = {"entier-invalide", "nombre-invalide", "date-invalide", "code-invalide", "valeur-hors-liste",
                     "entier-hors-limites", "nombre-hors-limites", "date-hors-limites", "texte-trop-long",
                     "valeur-non-numerique", "valeur-date", "annee-invalide", "code-insee-invalide",
                     "code-qpv-invalide"}
_ANGLAIS = re.compile(r"Traceback|Error\b|Exception|\bcould not\b|\bcannot\b|\bNone\b|\bnan\b|\binf\b|out of range")
_ADRESSE = re.compile(r"^(?P<feuille>.+)!(?P<reste>[A-Z]+\d+|\d+:\d+)$")


def verifier_probleme(p) -> None:
    """Un problème rapporté : code documenté, message en français, feuille et cellule nommées, valeur rapportée."""
    assert p.code in CODES_DOCUMENTES, f"code non documenté dans docs/erreurs.md : {p.code}"
    # Le message peut citer la valeur reçue entre guillemets (« inf », « None ») : c'est le reste qui doit être français.
    sans_citations = re.sub(r"«[^»]*»", "«»", p.message)
    assert p.message and not _ANGLAIS.search(sans_citations), f"message qui n'est pas du français : {p.message!r}"
    if p.niveau != "erreur":
        return
    assert p.cellule or p.code in CODES_SANS_CELLULE, f"{p.code} sans cellule : {p!r}"
    m = _ADRESSE.match(p.cellule)
    if m:
        assert p.feuille and m.group("feuille") == p.feuille, f"cellule {p.cellule!r} hors de sa feuille {p.feuille!r}"
    if p.code in CODES_AVEC_VALEUR:
        assert p.valeur != "", f"{p.code} en {p.cellule} sans la valeur reçue : {p!r}"


def verifier_refus(rapport) -> None:
    assert rapport.erreurs, "refus sans erreur"
    for p in rapport.problemes:
        verifier_probleme(p)
