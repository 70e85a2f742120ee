"""Ce que changerait l'import d'un classeur de référentiel, calculé sans rien écrire : nœuds de l'arborescence (texte,
volet et quartiers compris), engagements (porteurs et nature compris), indicateurs, références, cibles, volets et
lignes de signature ajoutés, modifiés ou retirés.

La page « Référentiel » le montre avant de demander confirmation ; l'import lui-même reste
`classeur.importer_referentiel` (tout ou rien). Les mêmes contrôles que l'import s'appliquent : un classeur refusé
(cellule invalide, retrait de ce qui porte déjà des valeurs, des dépôts ou un suivi) lève `ImportRefuse` ici aussi.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass

import pandas as pd

from perr_metrics.acces.droits import exiger_protocole, operation
from perr_metrics.commun.erreurs import ImportRefuse
from perr_metrics.commun.formats import format_date, format_nombre
from perr_metrics.referentiel.classeur import _controler_contre_la_base, _tables, lire_referentiel
from perr_metrics.stockage.magasin import Store

AJOUTE, MODIFIE, RETIRE = "ajouté", "modifié", "retiré"

# (catégorie affichée, table, clé, colonne du libellé, colonnes comparées → leur nom en clair)
_CATEGORIES = (
    ("Nœuds", "noeud", ("code",), "libelle",
     {"libelle": "libellé", "parent": "parent", "niveau": "niveau", "ordre": "ordre", "texte": "texte",
      "volet": "volet", "quartiers": "quartiers"}),
    ("Engagements", "engagement", ("code",), "libelle",
     {"libelle": "libellé", "noeud": "nœud", "formule": "formule", "levier": "levier", "echeance": "échéance",
      "porteurs": "porteurs", "nature": "nature"}),
    ("Indicateurs", "indicateur", ("code",), "libelle",
     {"libelle": "libellé", "unite": "unité", "sens": "sens", "periodicite": "périodicité", "niveau": "niveau",
      "agregation": "agrégation", "signataire": "signataire", "minimum": "minimum", "maximum": "maximum",
      "definition": "définition", "source": "source", "numerateur": "numérateur", "denominateur": "dénominateur",
      "engagements": "engagements mesurés"}),
    ("Références", "reference", ("indicateur", "perimetre", "annee"), None, {"valeur": "valeur"}),
    ("Cibles", "cible", ("indicateur", "perimetre", "annee"), None, {"valeur": "valeur"}),
    ("Volets", "volet", ("code",), "libelle",
     {"libelle": "libellé", "nature": "nature", "texte": "texte", "ordre": "ordre", "quartiers": "quartiers"}),
    ("Signatures", "signature", ("signataire", "rang"), "representant",
     {"qualite": "qualité", "representant": "représentant", "acte": "acte", "date_signature": "date"}),
)
CATEGORIES = tuple(c[0] for c in _CATEGORIES)


@dataclass
class Apercu:
    """`changements` : une ligne par élément ajouté, modifié ou retiré (colonnes categorie, code, libelle,
    changement, detail) ; `resume` : par catégorie, le nombre d'ajoutés, de modifiés et de retirés."""

    protocole: str
    titre: str
    existe: bool
    changements: pd.DataFrame
    compte: dict[str, int]

    @property
    def resume(self) -> pd.DataFrame:
        c = self.changements
        lignes = []
        for cat in CATEGORIES:
            sous = c[c["categorie"] == cat]["changement"].value_counts()
            lignes.append(dict(categorie=cat, ajoutes=int(sous.get(AJOUTE, 0)), modifies=int(sous.get(MODIFIE, 0)),
                               retires=int(sous.get(RETIRE, 0))))
        return pd.DataFrame(lignes)

    @property
    def vide(self) -> bool:
        return self.changements.empty


def _normal(v):
    """Une valeur comparable d'une table à l'autre (None pour ce qui manque, nombres en float, dates en texte)."""
    if v is None:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if v is pd.NaT:
        return None
    if isinstance(v, (list, tuple)):
        return tuple(v)
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
        v = v.item()
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)):
        return float(v)
    if hasattr(v, "isoformat"):
        return v.isoformat()[:10]
    return str(v)


def _texte(v) -> str:
    if v is None:
        return "(vide)"
    if isinstance(v, tuple):
        return ", ".join(map(str, v)) or "(aucun)"
    if isinstance(v, float):
        return format_nombre(v)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):            # une date (de signature) : en toutes lettres
        return format_date(dt.date.fromisoformat(v))
    return f"« {v} »"


def _avec_liste(df: pd.DataFrame, liens: pd.DataFrame, colonne: str, cle: str, valeur: str,
                ordre: str | None = None) -> pd.DataFrame:
    """`df` avec une colonne `colonne` : pour chaque code, le tuple des `valeur` de `liens` dont `cle` est ce code."""
    if df.empty:
        return df.assign(**{colonne: []})
    if liens.empty:
        return df.assign(**{colonne: [() for _ in range(len(df))]})
    liens = liens.sort_values(ordre or valeur)
    par = liens.groupby(cle)[valeur].agg(tuple)
    return df.assign(**{colonne: df["code"].map(par).map(lambda x: x if isinstance(x, tuple) else ())})


def _completer(tables: dict) -> dict:
    tables = dict(tables)
    tables["engagement"] = _avec_liste(tables["engagement"], tables["engagement_porteur"], "porteurs", "engagement",
                                       "signataire", "rang")
    tables["indicateur"] = _avec_liste(tables["indicateur"], tables["indicateur_engagement"], "engagements",
                                       "indicateur", "engagement")
    tables["noeud"] = _avec_liste(tables["noeud"], tables["noeud_quartier"], "quartiers", "noeud", "perimetre")
    tables["volet"] = _avec_liste(tables["volet"], tables["volet_quartier"], "quartiers", "volet", "perimetre")
    return tables


def _index(df: pd.DataFrame, cle: tuple[str, ...], colonnes: list[str], libelle: str | None) -> dict:
    sortie = {}
    if df.empty:
        return sortie
    for r in df.to_dict("records"):
        k = tuple(_normal(r[c]) for c in cle)
        sortie[k] = ({c: _normal(r.get(c)) for c in colonnes}, r.get(libelle) if libelle else None)
    return sortie


def _code(cle: tuple, categorie: str) -> str:
    if len(cle) == 1:
        return str(cle[0])
    if len(cle) == 2:                      # une ligne de signature : signataire et rang
        return f"{cle[0]} · {int(cle[1]) if isinstance(cle[1], float) else cle[1]}"
    indicateur, perimetre, annee = cle
    return f"{indicateur} · {perimetre} · {int(annee) if isinstance(annee, float) else annee}"


@operation("administrer_referentiel")
def apercu_import(store: Store, source, nom_fichier: str | None = None) -> Apercu:
    """Ce que changerait `classeur.importer_referentiel(store, source, nom_fichier)`, sans rien écrire.

    Lève `ImportRefuse` (avec le rapport complet) si l'import serait refusé."""
    ref = lire_referentiel(source, nom_fichier)
    if not ref.rapport.valide:
        raise ImportRefuse(ref.rapport)
    nouvelles = _completer(_tables(ref))
    code = ref.code
    # Un administrateur limité à certains protocoles ne prévisualise que l'import des siens (comme l'import lui-même).
    exiger_protocole(store, "administrer_referentiel", code, objet=nom_fichier)

    def lire(con):
        existe = con.execute("SELECT count(*) FROM protocole WHERE code = ?", [code]).fetchone()[0] > 0
        if existe:
            _controler_contre_la_base(con, ref)
        actuelles = {t: con.execute(f"SELECT * FROM {t} WHERE protocole = ?", [code]).df()
                     for t in ("noeud", "engagement", "engagement_porteur", "indicateur", "indicateur_engagement",
                               "reference", "cible", "volet", "volet_quartier", "noeud_quartier", "signature")}
        return existe, actuelles

    existe, actuelles = store.lire(lire)
    if not ref.rapport.valide:
        raise ImportRefuse(ref.rapport)
    actuelles = _completer(actuelles)

    lignes = []
    for categorie, table, cle, libelle, colonnes in _CATEGORIES:
        avant = _index(actuelles[table], cle, list(colonnes), libelle)
        apres = _index(nouvelles[table], cle, list(colonnes), libelle)
        for k, (valeurs, nom) in apres.items():
            if k not in avant:
                detail = "" if libelle else f"valeur {_texte(valeurs['valeur'])}"
                lignes.append(dict(categorie=categorie, code=_code(k, categorie), libelle=nom or "",
                                   changement=AJOUTE, detail=detail))
                continue
            anciennes = avant[k][0]
            diffs = [f"{colonnes[c]} : {_texte(anciennes[c])} → {_texte(valeurs[c])}" for c in colonnes
                     if anciennes[c] != valeurs[c]]
            if diffs:
                lignes.append(dict(categorie=categorie, code=_code(k, categorie), libelle=nom or "",
                                   changement=MODIFIE, detail=" ; ".join(diffs)))
        for k, (valeurs, nom) in avant.items():
            if k not in apres:
                detail = "" if libelle else f"valeur {_texte(valeurs['valeur'])}"
                lignes.append(dict(categorie=categorie, code=_code(k, categorie), libelle=nom or "",
                                   changement=RETIRE, detail=detail))
    changements = pd.DataFrame(lignes, columns=["categorie", "code", "libelle", "changement", "detail"])
    compte = {k: len(v) for k, v in nouvelles.items()}
    return Apercu(code, ref.protocole.get("titre") or code, existe, changements, compte)
