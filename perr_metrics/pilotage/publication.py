"""La vue publique : les indicateurs que la coordination choisit de montrer aux conseils citoyens et aux habitants.

Fermée par défaut. Un administrateur l'ouvre et marque, protocole par protocole, les indicateurs publiés ; un visiteur
non connecté (rôle « public ») ne voit alors que ces indicateurs, à l'échelle du territoire et des quartiers, avec leur
statut d'avancement — jamais les dépôts, les fichiers, les signataires qui les ont envoyés ni les engagements.
"""
from __future__ import annotations

import pandas as pd

from perr_metrics.acces import journal
from perr_metrics.stockage.magasin import Store
from perr_metrics.acces.droits import PUBLIC, AccesRefuse, en_systeme, operation, ouverte, utilisateur_de

CLE = "vue_publique"


@ouverte("savoir, avant toute connexion, s'il faut proposer la vue publique")
def vue_publique_ouverte(store: Store) -> bool:
    ligne = store.lire(lambda con: con.execute("SELECT valeur FROM parametre WHERE cle = ?", [CLE]).fetchone())
    return bool(ligne) and ligne[0] == "oui"


@operation("publier", instance=True)
def ouvrir_vue_publique(store: Store, ouvrir: bool) -> None:
    """Ouvre (ou ferme) la vue publique."""
    u = utilisateur_de(store)

    def ecrire(con):
        # Sans ON CONFLICT : le lac DuckLake n'a pas de clé primaire (perr_metrics/stockage/lac.py).
        con.execute("DELETE FROM parametre WHERE cle = ?", [CLE])
        con.execute("INSERT INTO parametre VALUES (?, ?)", [CLE, "oui" if ouvrir else "non"])
        journal.noter(con, u, "publication", objet="vue publique", detail="ouverte" if ouvrir else "fermée")

    store.ecrire(ecrire)


@operation("publier")
def publier(store: Store, protocole: str, indicateurs: list[str], publies: bool = True) -> int:
    """Publie (ou retire de la vue publique) des indicateurs d'un protocole ; renvoie le nombre de changements."""
    u = utilisateur_de(store)
    codes = list(dict.fromkeys(indicateurs))

    def ecrire(con):
        connus = {r[0] for r in con.execute("SELECT code FROM indicateur WHERE protocole = ?", [protocole]).fetchall()}
        inconnus = [c for c in codes if c not in connus]
        if inconnus:
            raise KeyError(f"Indicateur(s) inconnu(s) dans le protocole {protocole} : {', '.join(inconnus)}.")
        deja = {r[0] for r in con.execute("SELECT indicateur FROM publication WHERE protocole = ?",
                                          [protocole]).fetchall()}
        changes = [c for c in codes if (c in deja) != publies]
        for c in changes:
            if publies:
                con.execute("INSERT INTO publication VALUES (?, ?, current_timestamp, ?)",
                            [protocole, c, u.identifiant])
            else:
                con.execute("DELETE FROM publication WHERE protocole = ? AND indicateur = ?", [protocole, c])
        if changes:
            journal.noter(con, u, "publication", protocole=protocole,
                          objet=("publiés : " if publies else "retirés : ") + ", ".join(changes))
        return len(changes)

    return store.ecrire(ecrire)


def _exiger_ouverte(store: Store) -> None:
    if utilisateur_de(store).role == PUBLIC and not vue_publique_ouverte(store):
        raise AccesRefuse("La vue publique n'est pas ouverte : connectez-vous pour consulter le tableau de bord.")


@operation("consulter_publication")
def protocoles_publics(store: Store) -> pd.DataFrame:
    """Les protocoles qui ont au moins un indicateur publié."""
    _exiger_ouverte(store)
    return store.requete("""
        SELECT p.code, p.titre AS libelle, p.territoire, p.annee_debut, p.annee_fin, p.demonstration,
               count(*) AS nb_publies
        FROM publication x JOIN protocole p ON p.code = x.protocole
        JOIN indicateur i ON i.protocole = x.protocole AND i.code = x.indicateur
        GROUP BY ALL ORDER BY p.annee_debut, p.territoire""")


@operation("consulter_publication")
def indicateurs_publies(store: Store, protocole: str) -> pd.DataFrame:
    """Les indicateurs publiés d'un protocole (code, libellé, unité, sens, définition, source)."""
    _exiger_ouverte(store)
    return store.requete("""
        SELECT i.code, i.libelle, i.unite, i.sens, i.niveau, i.definition, i.source, x.publie_le
        FROM publication x JOIN indicateur i ON i.protocole = x.protocole AND i.code = x.indicateur
        WHERE x.protocole = ? ORDER BY i.ordre""", [protocole])


@operation("consulter_publication")
def situation_publique(store: Store, protocole: str, periode) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pour une période : chaque indicateur publié au territoire, puis par quartier, avec sa valeur, sa référence, sa
    cible, son statut et son explication — rien d'autre (ni dépôt, ni fichier, ni signataire)."""
    _exiger_ouverte(store)
    codes = list(indicateurs_publies(store, protocole)["code"])
    colonnes = ["indicateur", "libelle", "unite", "valeur", "reference", "annee_reference", "cible_finale",
                "annee_cible", "statut", "explication"]
    if not codes:
        return pd.DataFrame(columns=colonnes), pd.DataFrame(columns=colonnes + ["perimetre", "perimetre_libelle"])
    from .avancement import indicateurs_au_perimetre, indicateurs_au_territoire
    lecteur = en_systeme(store)   # les lectures du modèle d'avancement, limitées ici aux indicateurs publiés
    territoire = indicateurs_au_territoire(lecteur, protocole, periode, indicateurs=codes)
    par_perimetre = indicateurs_au_perimetre(lecteur, protocole, periode, indicateurs=codes)
    quartiers = par_perimetre[par_perimetre["niveau"] == "QPV"]
    return (territoire[colonnes].reset_index(drop=True),
            quartiers[colonnes + ["perimetre", "perimetre_libelle"]].reset_index(drop=True))
