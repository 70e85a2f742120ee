"""Ce que lit le rapport, en une fois (`_charger` → `_Donnees`), avant d'en écrire une ligne.

Les chiffres viennent du cœur, jamais d'un calcul parallèle : statuts et valeurs d'`avancement`, complétude et dépôts de
`depots`, états des engagements de `suivi`. Les lectures propres au rapport (`_SQL_…`) rendent les mêmes lignes, dans le
même ordre et aux mêmes types, que les lectures du cœur dont elles prennent la règle (et le droit), sans les colonnes
dont le rapport ne se sert pas.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Callable

import pandas as pd

from perr_metrics.pilotage import avancement, suivi
from perr_metrics.depots import depot as depots
from perr_metrics.referentiel import requetes
from perr_metrics.acces.droits import exiger, perimetre_de
from .document import NON_RENSEIGNE, RapportImpossible, _vide
from . import textes as textes_rapport


# ====================================================================================================================
# Lecture des données, en une fois
# ====================================================================================================================

@dataclass
class _Donnees:
    p: dict
    annee: int
    annees: list[int]
    contrats: pd.DataFrame
    signataires: pd.DataFrame
    perimetres: pd.DataFrame
    arbre: pd.DataFrame     # code, parent des nœuds, dans l'ordre de l'arborescence
    indicateurs: pd.DataFrame
    engagements: pd.DataFrame
    etats_avant: dict
    ter: dict               # année → indicateurs_au_territoire, indexé par indicateur
    per: pd.DataFrame
    noeuds: pd.DataFrame
    comp: pd.DataFrame      # depots.completude(…, annee).par_signataire
    comp_avant: tuple | None   # (attendues, reçues) de l'année précédente, toutes les lignes de sa complétude
    depots: pd.DataFrame
    racine: dict            # code de nœud → code de son axe (nœud racine)
    axes_indicateur: dict   # indicateur → [axes], dans l'ordre de l'arbre
    etats_saisis: bool      # au moins un état d'engagement saisi
    au: dt.date = None      # la date de l'état des engagements (31 décembre de l'année, ou celle demandée)
    textes: textes_rapport.Textes = textes_rapport.AUCUN   # ce qu'a écrit la coordination, les avis joints
    valeurs: dict = field(default_factory=dict)    # année → {(indicateur, périmètre): (valeur, période, dépôt)}
    commentaires: dict = field(default_factory=dict)   # (indicateur, périmètre, période) → commentaire du partenaire
    evaluations: dict = field(default_factory=dict, repr=False)   # année → données d'avancement (`avancement._Donnees`)
    memo: dict = field(default_factory=dict, repr=False)   # ce que plusieurs sections partagent, calculé une fois
    # Le protocole dans ses propres mots (issue 15) : le nom du niveau de chaque racine (« Axe », « Priorité »,
    # « Enjeu », celui d'un volet), les volets, les lignes de signature, et les engagements par signataire au `au`.
    mots_racines: dict = field(default_factory=dict)
    textes_racines: dict = field(default_factory=dict)   # code d'une racine → ce que le protocole écrit sous elle
    volets: pd.DataFrame | None = None
    signatures: pd.DataFrame | None = None
    par_signataire: pd.DataFrame | None = None


def _racines(store, protocole: str) -> pd.DataFrame:
    return store.requete("SELECT code, volet, texte FROM noeud WHERE protocole = ? AND profondeur = 1", [protocole])


def _mots_des_racines(store, protocole: str, racines: pd.DataFrame | None = None) -> dict:
    """Code de chaque racine de l'arborescence → le nom de son niveau (`requetes.niveaux` : le nom le plus employé à la
    profondeur 1 de son volet, ou du corps du protocole)."""
    niv = requetes.niveaux(store, protocole)
    mots = {("" if _vide(v) else v): n for v, p, n in zip(niv["volet"], niv["profondeur"], niv["niveau"]) if p == 1}
    racines = _racines(store, protocole) if racines is None else racines
    return {c: mots.get("" if _vide(v) else v, "Axe") for c, v in zip(racines["code"], racines["volet"])}


def _memo(d: _Donnees, cle, calcul: Callable):
    """`calcul()`, fait une fois par rapport (des tableaux complets dont chaque section prend ses lignes)."""
    if cle not in d.memo:
        d.memo[cle] = calcul()
    return d.memo[cle]


def _extraire(complet: pd.DataFrame, positions: list[int]) -> pd.DataFrame:
    """Les lignes `positions` (dans l'ordre) d'un tableau construit une fois pour toutes les lignes, renumérotées de
    0 : le tableau même que l'on construirait pour ces seules lignes, chaque colonne gardant son type, sans refaire un
    DataFrame ni refiltrer une table large par axe, quartier ou signataire (avec les chaînes d'Arrow de pandas 3, une
    sélection de lignes coûte près d'une milliseconde). Les appelants construisent au contraire le tableau à part quand
    ses types pourraient différer : aucune ligne, ou une colonne faite d'une liste sans aucune valeur (pandas en ferait
    une colonne d'objets)."""
    return complet.take(positions).reset_index(drop=True)


def _positions(cles) -> dict:
    """Clé → positions de ses lignes, dans l'ordre (un groupement fait une fois au lieu d'un filtre par clé)."""
    groupes: dict = {}
    for i, k in enumerate(cles):
        groupes.setdefault(k, []).append(i)
    return groupes


def _etats_au(store, protocole: str, jusqu_au: dt.date | None) -> pd.DataFrame:
    """Le dernier état de chaque engagement qui en a un, à une date (toutes dates si None) : le plus récent en date
    d'état, puis le dernier saisi — la règle de `suivi.etats_courants`. Colonnes code, etat, date_etat, commentaire,
    auteur."""
    df = store.requete("""
        SELECT engagement AS code,
               arg_max(struct_pack(etat, date_etat, commentaire, auteur), (date_etat, saisi_le)) AS d
        FROM etat_engagement WHERE protocole = ? AND (CAST(? AS DATE) IS NULL OR date_etat <= ?)
        GROUP BY engagement
    """, [protocole, jusqu_au, jusqu_au])
    colonnes = ["etat", "date_etat", "commentaire", "auteur"]
    return pd.DataFrame({"code": df["code"], **{c: [d[c] for d in df["d"]] for c in colonnes}},
                        columns=["code"] + colonnes)


# Les états courants de `suivi.etats_courants` (même règle : le dernier état de chaque engagement, le plus récent en
# date d'état, puis le dernier saisi ; mêmes lignes, mêmes jointures, mêmes types), sans les colonnes dont le rapport
# ne se sert pas (porteurs et leurs noms, par des sous-requêtes : deux à trois fois plus lentes, base juste ouverte).
_SQL_ETATS_COURANTS = """
    WITH dernier AS (
        SELECT engagement, arg_max(struct_pack(etat, date_etat, commentaire, auteur, saisi_le), (date_etat, saisi_le)) AS d
        FROM etat_engagement WHERE protocole = $p GROUP BY engagement)
    SELECT e.code, coalesce(dernier.d.etat, $nr) AS etat, dernier.d.date_etat AS date_etat,
           dernier.d.commentaire AS commentaire, dernier.d.auteur AS auteur
    FROM engagement e
    JOIN noeud n ON n.protocole = e.protocole AND n.code = e.noeud
    LEFT JOIN noeud r ON r.protocole = e.protocole AND r.chemin = split_part(n.chemin, '.', 1)
    LEFT JOIN dernier ON dernier.engagement = e.code
    WHERE e.protocole = $p
    ORDER BY e.ordre, e.code
"""


def _etats_courants(store, protocole: str) -> pd.DataFrame:
    """Les états courants, ceux que montre la page « Engagements » (`suivi.etats_courants`, et son droit), des
    engagements qui en ont un : colonnes code, etat, date_etat, commentaire, auteur."""
    exiger(store, "consulter_engagements")
    df = store.lire(lambda con: con.execute(_SQL_ETATS_COURANTS, {"p": protocole, "nr": NON_RENSEIGNE}).df())
    return df[df["etat"] != NON_RENSEIGNE]


# Les valeurs attendues et reçues de chaque signataire, pour l'année du rapport et la précédente, en une lecture : la
# règle de `depots.completude` (attendus : `depots.SQL_ATTENDUS` ; reçues : celles qui font foi,
# `depots.SQL_VALEURS_COURANTES`, de la même année et de la même période), comptée par DuckDB au lieu du détail de
# chaque valeur attendue. Les (indicateur, périmètre) attendus ne dépendent pas de l'année, et les périodes attendues
# d'une année sont l'année ou ses semestres (« 2024 », « 2024-S1 », « 2024-S2 ») : les attendus de l'année précédente
# sont ceux de l'année, à l'année près (une seule copie de SQL_ATTENDUS : sa préparation coûte plus que son exécution).
# Les bornes d'années sont des constantes : DuckDB ne lit que les groupes de lignes de ces années (les valeurs sont
# écrites dans l'ordre des dépôts).
def _sql_comptes_completude() -> str:
    return f"""
        WITH a AS ({depots.SQL_ATTENDUS}),
        ay AS (SELECT y.annee, a.signataire, a.indicateur, a.perimetre,
                      CAST(y.annee AS VARCHAR) || a.periode[5:] AS periode
               FROM a, (SELECT unnest(range($premiere, $annee + 1)) AS annee) y),
        c AS (SELECT * FROM ({depots.SQL_VALEURS_COURANTES.replace('?', '$protocole')})
              WHERE annee BETWEEN $premiere AND $annee)
        SELECT ay.annee, ay.signataire, count(*) AS attendus, count(c.depot_id) AS recus
        FROM ay LEFT JOIN c ON c.annee = ay.annee AND c.indicateur = ay.indicateur AND c.perimetre = ay.perimetre
                           AND c.periode = ay.periode
        WHERE ay.signataire IS NOT NULL
        GROUP BY ay.annee, ay.signataire ORDER BY ay.annee, ay.signataire
    """


def _completudes(store, protocole: str, annee: int, avec_avant: bool) -> tuple[pd.DataFrame, tuple | None]:
    """`depots.completude(…, annee).par_signataire` (même droit, mêmes lignes, mêmes types) et, avec `avec_avant`, les
    totaux (attendues, reçues) de l'année précédente — tout ce que le rapport en prend —, en une lecture."""
    exiger(store, "consulter_depots")
    periode = str(annee)

    def lire(con):
        comptes = con.execute(_sql_comptes_completude(), {
            "protocole": protocole, "periode": periode, "annee": annee,
            "premiere": annee - 1 if avec_avant else annee}).df()
        sig = con.execute("""
            SELECT s.code AS signataire, s.nom,
                   (SELECT max(d.depose_le) FROM depot d WHERE d.protocole = s.protocole AND d.signataire = s.code
                     AND d.periode LIKE ? || '%') AS dernier_depot
            FROM signataire s WHERE s.protocole = ?""", [periode[:4], protocole]).df()
        return comptes, sig

    comptes, sig = store.lire(lire)
    permis = perimetre_de(store, protocole)
    if permis is not None:
        comptes = comptes[comptes["signataire"].isin(permis)]
        sig = sig[sig["signataire"].isin(permis)]
    avant = None
    if avec_avant:
        c0 = comptes[comptes["annee"] == annee - 1]
        avant = (c0["attendus"].sum(), c0["recus"].sum())
    compte = comptes[comptes["annee"] == annee]
    if compte.empty:    # aucune valeur attendue : le calcul de depots, tel quel (types d'un tableau vide)
        return depots.completude(store, protocole, periode).par_signataire, avant
    # La suite de depots.completude, la même fonction.
    compte = compte[["signataire", "attendus", "recus"]].reset_index(drop=True)
    return depots.completude_par_signataire(compte, sig), avant


# Les engagements de `requetes.engagements` (mêmes lignes, même ordre, mêmes types), avec les seules colonnes dont le
# rapport se sert : sans les noms des porteurs, les cadres, la formule, le levier, l'échéance ni le libellé du nœud.
_SQL_ENGAGEMENTS = """
    SELECT e.code, e.noeud, e.parent, e.libelle,
           (SELECT string_agg(x.signataire, ';' ORDER BY x.rang) FROM engagement_porteur x
             WHERE x.protocole = e.protocole AND x.engagement = e.code) AS porteurs, e.nature
    FROM engagement e JOIN noeud n ON n.protocole = e.protocole AND n.code = e.noeud
    WHERE e.protocole = ?
    ORDER BY e.ordre, e.code
"""


def _engagements(store, protocole: str) -> pd.DataFrame:
    """`requetes.engagements(store, protocole)`, ses colonnes code, noeud, parent, libelle, porteurs et nature (même
    droit)."""
    exiger(store, "consulter_referentiel")
    return store.requete(_SQL_ENGAGEMENTS, [protocole])


# Les signataires de `requetes.signataires` (mêmes lignes, même ordre, mêmes types), sans le nombre d'engagements et
# d'indicateurs de chacun (deux sous-requêtes sur les tables de tous les protocoles), dont le rapport ne se sert pas.
_SQL_SIGNATAIRES = """
    SELECT s.code, s.nom AS libelle, s.categorie, s.rattache_a, s.signe, s.insee
    FROM signataire s WHERE s.protocole = ? ORDER BY s.ordre
"""


def _signataires(store, protocole: str) -> pd.DataFrame:
    """`requetes.signataires(store, protocole)`, ses colonnes code, libelle, categorie, rattache_a, signe et insee
    (même droit)."""
    exiger(store, "consulter_referentiel")
    return store.requete(_SQL_SIGNATAIRES, [protocole])


# Les indicateurs de `requetes.indicateurs` (mêmes lignes, même ordre, mêmes types), avec les seules colonnes dont le
# rapport se sert.
_SQL_INDICATEURS = """
    SELECT i.code, i.libelle, i.unite, i.signataire, i.niveau, i.source, x.engagements, i.nature, i.financement
    FROM indicateur i
    LEFT JOIN (SELECT indicateur, string_agg(engagement, ';' ORDER BY engagement) AS engagements
               FROM indicateur_engagement WHERE protocole = $code GROUP BY 1) x ON x.indicateur = i.code
    WHERE i.protocole = $code
    ORDER BY i.ordre
"""


def _indicateurs(store, protocole: str) -> pd.DataFrame:
    """`requetes.indicateurs(store, protocole)`, ses colonnes code, libelle, unite, signataire, niveau, source,
    engagements, nature et financement (même droit)."""
    exiger(store, "consulter_referentiel")
    return store.lire(lambda con: con.execute(_SQL_INDICATEURS, {"code": protocole}).df())


def _perimetres(store, protocole: str) -> pd.DataFrame:
    """`requetes.perimetres(store, protocole)` (même droit)."""
    exiger(store, "consulter_referentiel")
    return store.lire(lambda con: con.execute(requetes.SQL_PERIMETRES, {"code": protocole}).df())


# Les dépôts de `depots.liste_depots` (mêmes lignes, même ordre, mêmes types), sans les colonnes dont le rapport ne se
# sert pas : la taille du fichier (octet_length du contenu : lire les fichiers déposés quadruple la lecture), son
# empreinte et le dernier commentaire de revue.
_SQL_DEPOTS = """
    SELECT d.id, d.signataire, s.nom AS signataire_nom, d.periode, d.utilisateur, d.depose_le, d.fichier_nom,
           d.nb_valeurs, d.statut
    FROM depot d LEFT JOIN signataire s ON s.protocole = d.protocole AND s.code = d.signataire
    WHERE d.protocole = ?
    ORDER BY d.id DESC
"""


def _depots(store, protocole: str) -> pd.DataFrame:
    """`depots.liste_depots(store, protocole)`, ses colonnes id, signataire, signataire_nom, periode, utilisateur,
    depose_le, fichier_nom, nb_valeurs et statut (même droit ; un contributeur ne voit que ses signataires)."""
    exiger(store, "consulter_depots")
    permis = perimetre_de(store, protocole)
    df = store.requete(_SQL_DEPOTS, [protocole])
    return df if permis is None else df[df["signataire"].isin(permis)].reset_index(drop=True)


_COLONNES_CHAINES = [c for c in avancement.COLONNES_PERIMETRE
                     if c not in avancement._FLOTTANTS + avancement._ENTIERS + ("statut",)]


def _au_perimetre_qpv(d) -> pd.DataFrame:
    """Les lignes des quartiers (niveau « QPV ») d'`avancement._au_perimetre(d)`, seules dont le rapport se sert,
    évaluées sans évaluer le territoire ni les communes : les mêmes lignes dans le même ordre, aux mêmes types (index
    mis à part, que le rapport n'emploie pas). Une colonne de chaînes sans aucune valeur sur les quartiers serait
    d'objets là où la table entière aurait des chaînes : dans ce cas (et sans aucune ligne), la table entière."""
    per = d.perimetres
    sous = replace(d, perimetres=per[per["niveau"] == "QPV"].reset_index(drop=True))
    df = avancement._au_perimetre(sous)
    if df.empty or any(df[c].dtype == object for c in _COLONNES_CHAINES):
        df = avancement._au_perimetre(d)
    return df


#: Un état d'engagement qui n'a pas bougé depuis plus longtemps est signalé (sauf un engagement réalisé ou abandonné).
DELAI_ACTUALISATION = dt.timedelta(days=365)
A_ACTUALISER = "non mis à jour depuis plus d'un an"


def _ordre_arbre(eng: pd.DataFrame) -> pd.DataFrame:
    """Les engagements dans l'ordre de l'arbre : chaque engagement suivi de ses sous-engagements (eux-mêmes suivis des
    leurs), dans l'ordre du référentiel à chaque niveau (à Blois, B004, sous-engagement de B003, vient après B003)."""
    codes = list(eng["code"])
    connus = set(codes)
    enfants: dict = {}
    racines = []
    for i, (c, p) in enumerate(zip(codes, eng["parent"])):
        if _vide(p) or p not in connus or p == c:
            racines.append(i)
        else:
            enfants.setdefault(p, []).append(i)
    ordre, vus = [], set()

    def suivre(i):
        if i in vus:
            return
        vus.add(i)
        ordre.append(i)
        for j in enfants.get(codes[i], []):
            suivre(j)
    for i in racines:
        suivre(i)
    ordre += [i for i in range(len(codes)) if i not in vus]    # un cycle (refusé à l'import) : à la fin
    return eng.take(ordre).reset_index(drop=True) if ordre != list(range(len(codes))) else eng


def _engagements_et_etats(store, protocole: str, au: dt.date) -> tuple[pd.DataFrame, bool]:
    """Les engagements (`_engagements`), dans l'ordre de l'arbre, avec l'état de chacun au `au` (« non renseigné »
    sans état) et s'il y a au moins un état saisi. Colonne `a_actualiser` : un état ni réalisé ni abandonné qui date
    de plus d'un an au `au`. Aujourd'hui ou après, les états courants (ceux de la page « Engagements ») ; avant, les
    états saisis depuis avec une date postérieure sont ignorés (le rapport d'une année se refait à l'identique)."""
    eng = _engagements(store, protocole)
    etats = (_etats_courants(store, protocole) if au >= dt.date.today()
             else _etats_au(store, protocole, au))
    eng = _ordre_arbre(eng.merge(etats, on="code", how="left"))
    etats_saisis = bool(eng["etat"].notna().any())
    eng["etat"] = eng["etat"].fillna(NON_RENSEIGNE)
    limite = pd.Timestamp(au - DELAI_ACTUALISATION)
    eng["a_actualiser"] = [not _vide(d) and e not in ("réalisé", "abandonné") and pd.Timestamp(d) < limite
                           for e, d in zip(eng["etat"], eng["date_etat"])]
    return eng, etats_saisis


def date_des_etats(annee: int, au: dt.date | None, etabli_le: dt.date) -> dt.date:
    """La date de l'état des engagements d'un rapport : celle demandée (`au`), sinon le 31 décembre de l'année — ou
    le jour où il est établi, si l'année n'est pas finie."""
    if au is not None:
        return au
    return min(dt.date(annee, 12, 31), etabli_le)


# Les commentaires que les partenaires ont écrits à côté des valeurs qui font foi (`depots.SQL_VALEURS_COURANTES`), des
# années du rapport : ce qu'ils disent de leurs chiffres, que le rapport cite avec leur dépôt.
_SQL_COMMENTAIRES = f"""
    SELECT c.indicateur, c.perimetre, c.periode, v.commentaire
    FROM ({depots.SQL_VALEURS_COURANTES_DU_PROTOCOLE.replace('?', '$p')}) c
    JOIN valeur v ON v.depot_id = c.depot_id AND v.indicateur = c.indicateur AND v.perimetre = c.perimetre
                 AND v.periode = c.periode
    WHERE c.annee BETWEEN $debut AND $fin AND v.commentaire IS NOT NULL AND trim(v.commentaire) <> ''
"""


def _commentaires(store, protocole: str, debut: int, fin: int) -> dict:
    lignes = store.lire(lambda con: con.execute(_SQL_COMMENTAIRES, {"p": protocole, "debut": debut,
                                                                    "fin": fin}).fetchall())
    return {(i, p, q): str(c).strip() for i, p, q, c in lignes}


def _protocole_et_annee(store, protocole: str, annee: int) -> dict:
    """Le protocole (`requetes.protocole`), l'année vérifiée : dans sa période, sinon `RapportImpossible`."""
    p = requetes.protocole(store, protocole)
    debut, fin = int(p["annee_debut"]), int(p["annee_fin"])
    if not debut <= annee <= fin:
        raise RapportImpossible(f"L'année {annee} est hors de la période du protocole {protocole} "
                                f"({debut}–{fin}) : choisissez une année de {debut} à {fin}.")
    return p


def _charger(store, protocole: str, annee: int, etabli_le: dt.date, au: dt.date | None = None) -> _Donnees:
    p = _protocole_et_annee(store, protocole, annee)
    debut = int(p["annee_debut"])
    annees = list(range(debut, annee + 1))
    # Toutes les années du rapport sur une lecture des valeurs (et non une par année), et l'année du rapport évaluée
    # une fois (et non trois : au territoire, par périmètre, par nœud) ; les tables mêmes
    # qu'`indicateurs_au_territoire`, `indicateurs_au_perimetre` et `avancement_par_noeud` (droit vérifié par
    # `construire_rapport`).
    ds = avancement._charger_periodes(store, protocole, [str(a) for a in annees], avec_noeuds=True)
    d = ds[-1]    # l'année du rapport
    # L'arborescence : les nœuds que la lecture des valeurs vient de lire, dans l'ordre de `requetes.arbre` (par
    # chemin), au lieu de la relire avec ses effectifs, dont le rapport ne se sert pas.
    arbre = d.noeuds[["code", "parent"]]
    parents = dict(zip(arbre["code"], arbre["parent"]))

    def racine_de(code):
        vus = set()
        while not _vide(parents.get(code)) and code not in vus:
            vus.add(code)
            code = parents[code]
        return code
    racine = {c: racine_de(c) for c in arbre["code"]}

    au = date_des_etats(annee, au, etabli_le)
    eng, etats_saisis = _engagements_et_etats(store, protocole, au)
    eng["axe"] = eng["noeud"].map(racine)
    etats_avant = {}
    if annee > debut:
        avant = _etats_au(store, protocole, dt.date(annee - 1, 12, 31))
        etats_avant = dict(zip(avant["code"], avant["etat"]))

    ind = _indicateurs(store, protocole)
    axe_eng = dict(zip(eng["code"], eng["axe"]))
    ordre_axes = {c: i for i, c in enumerate(arbre["code"])}
    axes_indicateur = {}
    for code, liste in zip(ind["code"], ind["engagements"]):
        axes = {axe_eng[e] for e in ("" if _vide(liste) else liste).split(";") if e in axe_eng}
        axes_indicateur[code] = sorted(axes, key=ordre_axes.get)

    tables = [avancement._au_territoire(x, None) for x in ds]
    ter = {a: t.set_index("indicateur", drop=False) for a, t in zip(annees, tables)}
    comp, comp_avant = _completudes(store, protocole, annee, annee > debut)
    racines = _racines(store, protocole)
    return _Donnees(
        p=p, annee=annee, annees=annees, contrats=requetes.contrats(store, protocole),
        signataires=_signataires(store, protocole), perimetres=_perimetres(store, protocole),
        arbre=arbre, indicateurs=ind, engagements=eng, etats_avant=etats_avant, ter=ter,
        per=_au_perimetre_qpv(d),
        noeuds=avancement.comptes_par_noeud(d.noeuds, d.appartenance, tables[-1]),
        comp=comp, comp_avant=comp_avant,
        depots=_depots(store, protocole), racine=racine, axes_indicateur=axes_indicateur,
        etats_saisis=etats_saisis, au=au, textes=textes_rapport._textes(store, protocole, annee),
        valeurs={a: x.valeurs for a, x in zip(annees, ds)},
        commentaires=_commentaires(store, protocole, debut, annee),
        evaluations=dict(zip(annees, ds)), mots_racines=_mots_des_racines(store, protocole, racines),
        textes_racines={c: t for c, t in zip(racines["code"], racines["texte"]) if not _vide(t)},
        volets=requetes.volets(store, protocole), signatures=requetes.signatures(store, protocole),
        par_signataire=suivi.engagements_par_signataire(store, protocole, dict(zip(eng["code"], eng["etat"]))))
