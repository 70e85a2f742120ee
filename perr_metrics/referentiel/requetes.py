"""Les lectures dont les pages et la ligne de commande ont besoin : une fonction par vue, un DataFrame en retour."""
from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pandas as pd

from perr_metrics.stockage.magasin import Store
from perr_metrics.acces.droits import operation, portee_de


#: Ce que montrent les pages, les exports et le rapport à la place des porteurs d'un engagement qui n'en a pas (un
#: objectif, une orientation attendue des autres signataires), et la ligne qui le compte parmi les signataires.
SANS_PORTEUR = "sans porteur désigné"


class ProtocoleInconnu(KeyError):
    def __init__(self, code: str):
        super().__init__(code)
        self.code = code

    def __str__(self) -> str:
        return f"Le protocole « {self.code} » n'existe pas dans cette base."


# Les effectifs de chaque protocole : des comptes groupés puis joints (une sous-requête par protocole et par table
# coûtait deux fois plus cher sur une base de 435 protocoles). Avec $code non nul, un seul protocole.
SQL_PROTOCOLES = """
    WITH n AS (SELECT protocole, count(*) AS nb FROM noeud GROUP BY 1),
    e AS (SELECT protocole, count(*) AS nb FROM engagement GROUP BY 1),
    i AS (SELECT protocole, count(*) AS nb FROM indicateur GROUP BY 1),
    s AS (SELECT protocole, count(*) AS nb FROM signataire GROUP BY 1),
    q AS (SELECT protocole, count(*) AS nb FROM perimetre WHERE niveau = 'QPV' GROUP BY 1)
    SELECT p.code, p.titre AS libelle, p.territoire, p.code_territoire, p.annee_debut, p.annee_fin,
           p.date_signature, p.geographie, p.demonstration, p.description, p.valeurs_retenues, p.echeance_depots,
           coalesce(n.nb, 0) AS nb_noeuds, coalesce(e.nb, 0) AS nb_engagements, coalesce(i.nb, 0) AS nb_indicateurs,
           coalesce(s.nb, 0) AS nb_signataires, coalesce(q.nb, 0) AS nb_quartiers
    FROM protocole p LEFT JOIN n ON n.protocole = p.code LEFT JOIN e ON e.protocole = p.code
    LEFT JOIN i ON i.protocole = p.code LEFT JOIN s ON s.protocole = p.code LEFT JOIN q ON q.protocole = p.code
    WHERE $code IS NULL OR p.code = $code
    ORDER BY p.annee_debut, p.territoire, p.code
"""


# Un seul protocole : les mêmes colonnes, chaque compte limité à lui (SQL_PROTOCOLES compte d'abord les lignes de tous
# les protocoles de chaque table, puis n'en garde qu'un : 8 à 10 ms au lieu de 1 à 2 sur la base nationale).
SQL_PROTOCOLE = """
    SELECT p.code, p.titre AS libelle, p.territoire, p.code_territoire, p.annee_debut, p.annee_fin,
           p.date_signature, p.geographie, p.demonstration, p.description, p.valeurs_retenues, p.echeance_depots,
           (SELECT count(*) FROM noeud WHERE protocole = $code) AS nb_noeuds,
           (SELECT count(*) FROM engagement WHERE protocole = $code) AS nb_engagements,
           (SELECT count(*) FROM indicateur WHERE protocole = $code) AS nb_indicateurs,
           (SELECT count(*) FROM signataire WHERE protocole = $code) AS nb_signataires,
           (SELECT count(*) FROM perimetre WHERE protocole = $code AND niveau = 'QPV') AS nb_quartiers
    FROM protocole p WHERE p.code = $code
"""


@operation("consulter_referentiel")
def protocoles(store: Store) -> pd.DataFrame:
    """Les protocoles de la base, avec leurs effectifs ; pour un compte limité à certains protocoles, les siens."""
    df = store.lire(lambda con: con.execute(SQL_PROTOCOLES, {"code": None}).df())
    portee = portee_de(store)
    return df if portee is None else df[df["code"].isin(portee)].reset_index(drop=True)


@operation("consulter_referentiel")
def protocole(store: Store, code: str) -> dict:
    df = store.lire(lambda con: con.execute(SQL_PROTOCOLE, {"code": code}).df())
    if df.empty:
        raise ProtocoleInconnu(code)
    return df.iloc[0].to_dict()


@contextmanager
def _session(store):
    """Plusieurs lectures sur une seule connexion (`Store.session`) : ouvrir et refermer la base nationale coûte 40 à
    50 ms, plus que la plupart des requêtes d'une page. Une session déjà ouverte (le rapport en passe une) sert telle
    quelle. À réserver à des groupes de lectures courts : la base reste tenue pendant la session."""
    ouvrir = getattr(store, "session", None)
    if ouvrir is None:
        yield store
    else:
        with ouvrir() as session:
            yield session


def _verifier(store: Store, code: str) -> None:
    store.lire(lambda con: _verifier_con(con, code))


def _verifier_con(con, code: str) -> None:
    if not con.execute("SELECT count(*) FROM protocole WHERE code = ?", [code]).fetchone()[0]:
        raise ProtocoleInconnu(code)


def _verifiee(store: Store, code: str, sql: str, params) -> pd.DataFrame:
    """Vérifie que le protocole existe puis exécute la requête, sur la même connexion : ouvrir la base coûte plus cher
    (20 à 50 ms sur la base nationale, ouverture et fermeture) que la plupart de ces requêtes."""
    def lire(con):
        _verifier_con(con, code)
        return con.execute(sql, params).df()
    return store.lire(lire)


@operation("consulter_referentiel")
def signataires(store: Store, code: str) -> pd.DataFrame:
    """Les signataires et services d'un protocole, avec ce que chacun porte et déclare."""
    return _verifiee(store, code, """
        SELECT s.code, s.nom AS libelle, s.categorie, s.rattache_a, s.signe, s.insee,
               (SELECT count(*) FROM engagement_porteur x WHERE x.protocole = s.protocole AND x.signataire = s.code)
                   AS nb_engagements,
               (SELECT count(*) FROM indicateur i WHERE i.protocole = s.protocole AND i.signataire = s.code)
                   AS nb_indicateurs
        FROM signataire s WHERE s.protocole = ? ORDER BY s.ordre
    """, [code])


_SQL_INDICATEURS = """
    SELECT i.code, i.libelle, i.unite, i.signataire, s.nom AS signataire_nom, i.sens, i.periodicite, i.niveau,
           i.agregation, i.numerateur, i.denominateur, i.source, i.minimum, i.maximum, i.definition,
           x.engagements, i.nature, i.financement
    FROM indicateur i LEFT JOIN signataire s ON s.protocole = i.protocole AND s.code = i.signataire
    LEFT JOIN (SELECT indicateur, string_agg(engagement, ';' ORDER BY engagement) AS engagements
               FROM indicateur_engagement WHERE protocole = $code GROUP BY 1) x ON x.indicateur = i.code
    WHERE i.protocole = $code AND {filtre}
    ORDER BY i.ordre
"""


@operation("consulter_referentiel")
def indicateurs(store: Store, code: str, signataire: str | None = None) -> pd.DataFrame:
    """Les indicateurs d'un protocole (ceux que déclare un signataire si `signataire` est donné)."""
    return _verifiee(store, code, _SQL_INDICATEURS.format(filtre="($signataire IS NULL OR i.signataire = $signataire)"),
                     {"code": code, "signataire": signataire})


def _indicateur_et_composantes(con, code: str, indicateur: str) -> pd.DataFrame:
    """Les lignes d'`indicateurs` de l'indicateur, et de son numérateur et de son dénominateur s'il en a (dans le même
    ordre, avec les mêmes types), sur une connexion ouverte : ce que `vues._info_indicateur` prend de la table de tous
    les indicateurs, sans la lire toute. Aucune ligne pour un indicateur inconnu."""
    return con.execute(_SQL_INDICATEURS.format(filtre="""list_contains(
        (SELECT [code, numerateur, denominateur] FROM indicateur WHERE protocole = $code AND code = $indicateur),
        i.code)"""), {"code": code, "indicateur": indicateur}).df()


# Un indicateur compte pour un nœud s'il mesure un engagement rattaché au nœud ou à un descendant : (noeud,
# indicateur), chaque paire une fois, dans un ordre fixe (sans lui, DISTINCT rend les lignes dans un ordre variable).
# La règle d'`avancement.avancement_par_noeud` (avancement._SQL_APPARTENANCE), et les nombres d'indicateurs de `arbre`.
SQL_APPARTENANCE = """
    WITH n AS (SELECT code, chemin FROM noeud WHERE protocole = ?),
    m AS (SELECT DISTINCT x.indicateur, n.chemin FROM indicateur_engagement x
          JOIN engagement e ON e.protocole = x.protocole AND e.code = x.engagement
          JOIN n ON n.code = e.noeud WHERE x.protocole = ?)
    SELECT DISTINCT n.code AS noeud, m.indicateur FROM n JOIN m
      ON m.chemin = n.chemin OR starts_with(m.chemin, n.chemin || '.')
    ORDER BY noeud, indicateur"""

# L'arborescence sans le nombre d'indicateurs de chaque nœud (`_arbre` le tire de l'appartenance) : les engagements
# comptés par jointure groupée plutôt que par sous-requêtes corrélées (une par nœud).
_SQL_ARBRE = """
    WITH n AS (SELECT * FROM noeud WHERE protocole = ?),
    e AS (SELECT e.code, n.chemin FROM engagement e JOIN n ON n.code = e.noeud WHERE e.protocole = ?),
    ne AS (SELECT n.code, count(e.code) AS nb FROM n
           LEFT JOIN e ON e.chemin = n.chemin OR starts_with(e.chemin, n.chemin || '.') GROUP BY n.code),
    nc AS (SELECT noeud, string_agg(cadre, ';' ORDER BY cadre) AS cadres FROM noeud_cadre WHERE protocole = ?
           GROUP BY noeud)
    SELECT n.code, n.parent, n.niveau, n.libelle, n.profondeur, n.chemin, ne.nb AS nb_engagements, nc.cadres,
           n.texte, n.volet, v.libelle AS volet_libelle, nq.quartiers
    FROM n JOIN ne ON ne.code = n.code LEFT JOIN nc ON nc.noeud = n.code
    LEFT JOIN volet v ON v.protocole = n.protocole AND v.code = n.volet
    LEFT JOIN (SELECT noeud, string_agg(perimetre, ';' ORDER BY perimetre) AS quartiers FROM noeud_quartier
               WHERE protocole = ? GROUP BY noeud) nq ON nq.noeud = n.code
    ORDER BY n.chemin
"""


def _arbre(con, code: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """`arbre` et l'appartenance des indicateurs aux nœuds (`SQL_APPARTENANCE` : noeud, indicateur), sur une connexion
    ouverte, sans vérifier le protocole. Le nombre d'indicateurs d'un nœud est son nombre de lignes d'appartenance : les
    indicateurs distincts qui mesurent un engagement du nœud ou d'un descendant, la règle même de la requête d'avant
    (une jointure groupée de plus, qui relisait ce que lit l'appartenance)."""
    df = con.execute(_SQL_ARBRE, [code, code, code, code]).df()
    appartenance = con.execute(SQL_APPARTENANCE, [code, code]).df()
    comptes = appartenance["noeud"].value_counts()
    nb = np.array([comptes.get(c, 0) for c in df["code"].tolist()], dtype="int64")
    df.insert(df.columns.get_loc("nb_engagements") + 1, "nb_indicateurs", nb)
    return df, appartenance


@operation("consulter_referentiel")
def arbre(store: Store, code: str) -> pd.DataFrame:
    """L'arborescence des axes, dans l'ordre, avec pour chaque nœud le nombre d'engagements et d'indicateurs qu'il
    contient, lui et ses descendants (un indicateur compte pour un nœud s'il mesure l'un de ses engagements), son texte
    (objectif stratégique, enjeu), son volet (`volet`, `volet_libelle` ; vides pour le corps du protocole, dont les
    nœuds viennent en premier) et les quartiers auxquels il est rattaché (`quartiers`, codes séparés par « ; »)."""
    def lire(con):
        _verifier_con(con, code)
        return _arbre(con, code)[0]
    return store.lire(lire)


@operation("consulter_referentiel")
def engagements(store: Store, code: str, noeud: str | None = None) -> pd.DataFrame:
    """Les engagements (d'un nœud et de ses descendants si `noeud` est donné), avec leurs porteurs en clair
    (`porteurs_noms` : `SANS_PORTEUR` pour un engagement qui n'en a pas ; `porteurs` reste vide), leur nature dans le
    vocabulaire du protocole (`nature`) et leur volet (`volet`, `volet_libelle`)."""
    return _verifiee(store, code, """
        WITH racine AS (SELECT chemin FROM noeud WHERE protocole = ? AND code = ?)
        SELECT e.code, e.noeud, n.libelle AS noeud_libelle, e.parent, e.libelle, e.formule, e.levier, e.echeance,
               (SELECT string_agg(x.signataire, ';' ORDER BY x.rang) FROM engagement_porteur x
                 WHERE x.protocole = e.protocole AND x.engagement = e.code) AS porteurs,
               coalesce((SELECT string_agg(s.nom, ', ' ORDER BY x.rang) FROM engagement_porteur x JOIN signataire s
                 ON s.protocole = x.protocole AND s.code = x.signataire
                 WHERE x.protocole = e.protocole AND x.engagement = e.code), ?) AS porteurs_noms,
               (SELECT string_agg(cadre, ';' ORDER BY cadre) FROM engagement_cadre c
                 WHERE c.protocole = e.protocole AND c.engagement = e.code) AS cadres,
               e.nature, n.volet, v.libelle AS volet_libelle
        FROM engagement e JOIN noeud n ON n.protocole = e.protocole AND n.code = e.noeud
        LEFT JOIN volet v ON v.protocole = n.protocole AND v.code = n.volet
        WHERE e.protocole = ?
          AND (? IS NULL OR n.chemin = (SELECT chemin FROM racine)
               OR starts_with(n.chemin, (SELECT chemin FROM racine) || '.'))
        ORDER BY e.ordre, e.code
    """, [code, noeud, SANS_PORTEUR, code, noeud])


# Les communes de chaque quartier groupées une fois pour le protocole (deux sous-requêtes corrélées par périmètre, sur
# les tables de tous les protocoles, coûtaient deux à trois fois plus sur la base nationale) : mêmes lignes, même ordre.
SQL_PERIMETRES = """
    WITH c AS (SELECT perimetre, string_agg(insee, ';' ORDER BY insee) AS communes
               FROM perimetre_commune WHERE protocole = $code GROUP BY perimetre),
    cn AS (SELECT c.perimetre, string_agg(m.libelle, ', ' ORDER BY m.libelle) AS communes_noms
           FROM perimetre_commune c JOIN perimetre m ON m.protocole = c.protocole AND m.code = c.insee
           WHERE c.protocole = $code GROUP BY c.perimetre)
    SELECT p.code, p.libelle, p.niveau, p.type, c.communes, cn.communes_noms
    FROM perimetre p LEFT JOIN c ON c.perimetre = p.code LEFT JOIN cn ON cn.perimetre = p.code
    WHERE p.protocole = $code
    ORDER BY CASE p.niveau WHEN 'Territoire' THEN 0 WHEN 'Commune' THEN 1 ELSE 2 END, p.ordre
"""


@operation("consulter_referentiel")
def perimetres(store: Store, code: str) -> pd.DataFrame:
    """Le territoire, ses communes et ses quartiers (QPV et veille active), avec les communes de chaque quartier."""
    return _verifiee(store, code, SQL_PERIMETRES, {"code": code})


@operation("consulter_referentiel")
def contrats(store: Store, code: str) -> pd.DataFrame:
    return _verifiee(store, code, "SELECT code, libelle, date_signature FROM contrat WHERE protocole = ? ORDER BY ordre",
                     [code])


@operation("consulter_referentiel")
def cadres_du_protocole(store: Store, code: str) -> pd.DataFrame:
    """Combien de nœuds et d'engagements se rattachent à chaque cadre national."""
    return _verifiee(store, code, """
        SELECT c.referentiel, c.code, c.libelle,
               (SELECT count(*) FROM noeud_cadre x WHERE x.protocole = ? AND x.cadre = c.code) AS nb_noeuds,
               (SELECT count(*) FROM engagement_cadre x WHERE x.protocole = ? AND x.cadre = c.code) AS nb_engagements
        FROM cadre c ORDER BY c.ordre
    """, [code, code])


@operation("consulter_referentiel")
def nombre_de_valeurs(store: Store, code: str) -> int:
    return store.lire(lambda con: con.execute("SELECT count(*) FROM valeur WHERE protocole = ?", [code]).fetchone()[0])


# --------------------------------------------------------------------------------------------------------------------
# Le protocole dans ses propres mots : noms des niveaux, natures des items, volets, signatures, rattachements aux quartiers
# --------------------------------------------------------------------------------------------------------------------

@operation("consulter_referentiel")
def niveaux(store: Store, code: str) -> pd.DataFrame:
    """Le nom de chaque niveau de l'arborescence, tel que le protocole l'écrit, volet par volet : colonnes volet (vide
    pour le corps), volet_libelle, profondeur (1 pour les racines), niveau (le nom le plus employé à cette profondeur :
    « Axe », « Priorité », « Enjeu »…), noms (tous les noms employés à cette profondeur, séparés par « ; », dans
    l'ordre de l'arbre) et nb_noeuds. Ce qu'une page, un export ou le rapport écrit au lieu d'« Axe » ou de
    « Thématique »."""
    df = _verifiee(store, code, """
        SELECT n.volet, v.libelle AS volet_libelle, n.profondeur, n.niveau, n.chemin
        FROM noeud n LEFT JOIN volet v ON v.protocole = n.protocole AND v.code = n.volet
        WHERE n.protocole = ? ORDER BY n.chemin
    """, [code])
    lignes = []
    for (volet, profondeur), g in df.groupby([df["volet"].fillna(""), "profondeur"], sort=False):
        comptes = g["niveau"].value_counts(sort=False)   # dans l'ordre de l'arbre : à égalité, le premier employé
        lignes.append(dict(volet=volet or None, volet_libelle=g["volet_libelle"].iloc[0],
                           profondeur=int(profondeur), niveau=comptes.idxmax(), noms=";".join(comptes.index),
                           nb_noeuds=len(g), premier=g["chemin"].iloc[0]))
    sortie = pd.DataFrame(lignes, columns=["volet", "volet_libelle", "profondeur", "niveau", "noms", "nb_noeuds",
                                           "premier"])
    # Le corps d'abord, puis les volets dans l'ordre de l'arbre ; chaque volet de sa racine à ses feuilles.
    ordre_volet = sortie.groupby(sortie["volet"].fillna(""), sort=False)["premier"].transform("min")
    sortie = sortie.assign(_v=ordre_volet, _c=sortie["volet"].notna())
    return sortie.sort_values(["_c", "_v", "profondeur"]).drop(columns=["premier", "_v", "_c"]).reset_index(drop=True)


@operation("consulter_referentiel")
def natures(store: Store, code: str) -> pd.DataFrame:
    """Le vocabulaire des natures d'items du protocole (objectif opérationnel, exemple d'action, engagement,
    orientation attendue des autres signataires…), dans l'ordre de leur première apparition : colonnes nature,
    nb_engagements, nb_sans_porteur. Vide si le protocole n'en donne aucune."""
    return _verifiee(store, code, """
        SELECT e.nature, count(*) AS nb_engagements,
               count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM engagement_porteur x WHERE x.protocole = e.protocole
                                                  AND x.engagement = e.code)) AS nb_sans_porteur
        FROM engagement e WHERE e.protocole = ? AND e.nature IS NOT NULL
        GROUP BY e.nature ORDER BY min(e.ordre), min(e.code)
    """, [code])


@operation("consulter_referentiel")
def volets(store: Store, code: str) -> pd.DataFrame:
    """Les volets (annexes, cités éducatives, projets de quartier) du protocole, dans l'ordre : code, libelle, nature,
    texte, quartiers (codes séparés par « ; »), quartiers_libelles (« Blois Nord, La Quinière »), nb_noeuds,
    nb_engagements. Vide pour un protocole d'une seule arborescence."""
    return _verifiee(store, code, """
        WITH q AS (SELECT x.volet, string_agg(x.perimetre, ';' ORDER BY p.ordre) AS quartiers,
                          string_agg(p.libelle, ', ' ORDER BY p.ordre) AS quartiers_libelles
                   FROM volet_quartier x JOIN perimetre p ON p.protocole = x.protocole AND p.code = x.perimetre
                   WHERE x.protocole = $code GROUP BY x.volet),
        n AS (SELECT volet, count(*) AS nb FROM noeud WHERE protocole = $code GROUP BY volet),
        e AS (SELECT n.volet, count(*) AS nb FROM engagement e JOIN noeud n ON n.protocole = e.protocole
              AND n.code = e.noeud WHERE e.protocole = $code GROUP BY n.volet)
        SELECT v.code, v.libelle, v.nature, v.texte, q.quartiers, q.quartiers_libelles,
               coalesce(n.nb, 0) AS nb_noeuds, coalesce(e.nb, 0) AS nb_engagements
        FROM volet v LEFT JOIN q ON q.volet = v.code LEFT JOIN n ON n.volet = v.code LEFT JOIN e ON e.volet = v.code
        WHERE v.protocole = $code ORDER BY v.ordre, v.code
    """, {"code": code})


@operation("consulter_referentiel")
def signatures(store: Store, code: str) -> pd.DataFrame:
    """Les lignes de signature, dans l'ordre des signataires : signataire, signataire_nom, qualite, representant, acte
    (tel qu'écrit), acte_libelle (le libellé du contrat de ville ou le titre du protocole quand l'acte en est le code,
    sinon l'acte tel qu'écrit), date_signature."""
    return _verifiee(store, code, """
        SELECT g.signataire, s.nom AS signataire_nom, g.qualite, g.representant, g.acte,
               coalesce(c.libelle, CASE WHEN g.acte = p.code THEN p.titre END, g.acte) AS acte_libelle,
               g.date_signature
        FROM signature g JOIN signataire s ON s.protocole = g.protocole AND s.code = g.signataire
        JOIN protocole p ON p.code = g.protocole
        LEFT JOIN contrat c ON c.protocole = g.protocole AND c.code = g.acte
        WHERE g.protocole = ? ORDER BY s.ordre, g.rang
    """, [code])


@operation("consulter_referentiel")
def rattachements_du_quartier(store: Store, code: str, quartier: str) -> pd.DataFrame:
    """Ce que le protocole attache à un quartier : ses volets (une cité éducative, un projet de quartier) et ses nœuds
    (une priorité déclinée pour ce quartier), chacun avec ses nœuds et engagements. Colonnes : sorte (« volet » ou
    « nœud »), code, libelle, nature (du volet) ou niveau (du nœud), texte, nb_noeuds, nb_engagements ; dans l'ordre des
    volets, puis de l'arbre."""
    return _verifiee(store, code, """
        WITH e AS (SELECT n.code, n.chemin, n.volet FROM engagement e JOIN noeud n ON n.protocole = e.protocole
                   AND n.code = e.noeud WHERE e.protocole = $code)
        SELECT 'volet' AS sorte, v.code, v.libelle, v.nature AS nature_ou_niveau, v.texte,
               (SELECT count(*) FROM noeud n WHERE n.protocole = $code AND n.volet = v.code) AS nb_noeuds,
               (SELECT count(*) FROM e WHERE e.volet = v.code) AS nb_engagements, 0 AS groupe, v.ordre AS rang,
               '' AS chemin
        FROM volet_quartier x JOIN volet v ON v.protocole = x.protocole AND v.code = x.volet
        WHERE x.protocole = $code AND x.perimetre = $quartier
        UNION ALL
        SELECT 'nœud', n.code, n.libelle, n.niveau, n.texte,
               (SELECT count(*) FROM noeud d WHERE d.protocole = $code
                  AND (d.chemin = n.chemin OR starts_with(d.chemin, n.chemin || '.'))),
               (SELECT count(*) FROM e WHERE e.chemin = n.chemin OR starts_with(e.chemin, n.chemin || '.')),
               1, 0, n.chemin
        FROM noeud_quartier x JOIN noeud n ON n.protocole = x.protocole AND n.code = x.noeud
        WHERE x.protocole = $code AND x.perimetre = $quartier
        ORDER BY groupe, rang, chemin
    """, {"code": code, "quartier": quartier}).drop(columns=["groupe", "rang", "chemin"]).rename(
        columns={"nature_ou_niveau": "nature"})
