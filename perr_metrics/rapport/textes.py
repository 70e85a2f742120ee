"""Ce que la coordination écrit pour le rapport annuel d'un protocole, et les avis qu'elle y joint.

Pour chaque protocole et chaque année : trois textes (`synthèse`, `perspectives`, `renouvellement urbain`), et autant
d'avis que d'instances qui en rendent un (un conseil citoyen, un conseil municipal…), chacun en texte ou en PDF, avec
son auteur et sa date. Tout est gardé dans la table `texte_rapport` : chaque enregistrement est une **nouvelle
version** (rien n'est effacé ni réécrit), écrite avec sa ligne de journal (« texte du rapport ») ; le rapport prend la
dernière version de chacun, la page « Rapport annuel » en montre l'historique. Une version vide (ni texte ni fichier)
retire le texte ou l'avis du rapport. Les sauvegardes (EXPORT DATABASE) emportent la table comme les autres.

Écrire : l'administrateur (la coordination), action « rediger_rapport ». Lire : qui peut lire le rapport
(« consulter_pilotage »).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from perr_metrics.stockage.magasin import Store, prochain_id
from perr_metrics.acces import journal
from perr_metrics.acces.droits import operation, utilisateur_de
from perr_metrics.referentiel import requetes
from .document import RapportImpossible, _vide

SYNTHESE, PERSPECTIVES, RENOUVELLEMENT, AVIS = "synthèse", "perspectives", "renouvellement urbain", "avis"
#: Les textes que la coordination rédige, dans l'ordre de la page.
TEXTES = (SYNTHESE, PERSPECTIVES, RENOUVELLEMENT)
LIBELLES_TEXTES = {SYNTHESE: "Synthèse", PERSPECTIVES: "Perspectives", RENOUVELLEMENT: "Renouvellement urbain"}
TAILLE_MAX_AVIS = 20 * 1024 * 1024     # un avis en PDF : 20 Mo au plus
TAILLE_MAX_TEXTE = 100_000             # caractères


@dataclass(frozen=True)
class Texte:
    """La dernière version d'un texte ou d'un avis. `fichier` : les octets d'un avis en PDF (None pour un texte)."""

    id: int
    nature: str
    cle: str
    version: int
    texte: str | None
    fichier_nom: str | None
    auteur: str | None
    date_texte: dt.date | None
    saisi_par: str
    saisi_le: dt.datetime
    taille: int | None = None

    @property
    def est_fichier(self) -> bool:
        return bool(self.fichier_nom)


@dataclass(frozen=True)
class Textes:
    """Ce que le rapport d'une année reprend de la coordination : ses textes (nature → `Texte`) et les avis, dans
    l'ordre de leur date."""

    textes: dict
    avis: list

    def texte(self, nature: str) -> str | None:
        t = self.textes.get(nature)
        return t.texte if t is not None else None


AUCUN = Textes({}, [])


def _verifier(store, protocole: str, annee: int) -> int:
    p = requetes.protocole(store, protocole)
    annee = int(annee)
    if not int(p["annee_debut"]) <= annee <= int(p["annee_fin"]):
        raise RapportImpossible(f"L'année {annee} est hors de la période du protocole {protocole} "
                                f"({p['annee_debut']}–{p['annee_fin']}).")
    return annee


def _ecrire_version(store, protocole: str, annee: int, nature: str, cle: str, *, texte=None, fichier_nom=None,
                    fichier=None, auteur=None, date_texte=None) -> int:
    u = utilisateur_de(store)

    def ecrire(con):
        version = int(con.execute("SELECT coalesce(max(version), 0) + 1 FROM texte_rapport WHERE protocole = ? AND "
                                  "annee = ? AND nature = ? AND cle = ?", [protocole, annee, nature, cle]).fetchone()[0])
        con.execute("INSERT INTO texte_rapport VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [prochain_id(con, "texte_rapport"), protocole, annee, nature, cle, version, texte, fichier_nom,
                     fichier, auteur, date_texte, u.identifiant, u.nom, dt.datetime.now()])
        retire = texte is None and fichier is None
        journal.noter(con, u, "texte du rapport", protocole=protocole,
                      objet=f"{annee} — {nature}" + (f" — {cle}" if nature == AVIS else ""),
                      detail=f"version {version}" + (" (retiré)" if retire else
                                                     f" ({fichier_nom})" if fichier_nom else
                                                     f" ({len(texte)} caractères)"))
        return version

    return store.ecrire(ecrire)


def _propre(texte: str | None) -> str | None:
    if texte is None:
        return None
    texte = str(texte).replace("\r\n", "\n").strip()
    if len(texte) > TAILLE_MAX_TEXTE:
        raise ValueError(f"Texte trop long ({len(texte)} caractères) : {TAILLE_MAX_TEXTE} au plus.")
    return texte or None


@operation("rediger_rapport")
def enregistrer_texte(store: Store, protocole: str, annee: int, nature: str, texte: str | None) -> int:
    """Enregistre une nouvelle version d'un texte de la coordination (`synthèse`, `perspectives`, `renouvellement
    urbain`) pour le rapport d'une année ; un texte vide le retire (le rapport reprend alors sa synthèse tirée des
    données, ou dit que le texte reste à écrire). Renvoie le numéro de la version."""
    if nature not in TEXTES:
        raise ValueError(f"Texte « {nature} » inconnu : {', '.join(TEXTES)}.")
    annee = _verifier(store, protocole, annee)
    u = utilisateur_de(store)
    texte = _propre(texte)
    return _ecrire_version(store, protocole, annee, nature, nature, texte=texte,
                           auteur=u.nom if texte else None, date_texte=dt.date.today() if texte else None)


@operation("rediger_rapport")
def joindre_avis(store: Store, protocole: str, annee: int, auteur: str, date_avis: dt.date | str, *,
                 texte: str | None = None, fichier: bytes | None = None, fichier_nom: str | None = None) -> int:
    """Joint au rapport d'une année l'avis d'une instance (`auteur` : « Conseil citoyen des Chartreux »), rendu le
    `date_avis`, tel qu'il a été reçu : un texte, ou un PDF (`fichier`, `fichier_nom`). Un nouvel avis de la même
    instance pour la même année en est une nouvelle version. Renvoie le numéro de la version."""
    annee = _verifier(store, protocole, annee)
    auteur = " ".join(str(auteur or "").split())
    if not auteur:
        raise ValueError("Dites qui a rendu l'avis (par exemple « Conseil citoyen des Chartreux »).")
    try:
        date_avis = date_avis if isinstance(date_avis, dt.date) else dt.date.fromisoformat(str(date_avis))
    except ValueError:
        raise ValueError(f"Date de l'avis illisible : « {date_avis} » (attendu AAAA-MM-JJ).") from None
    texte = _propre(texte)
    if fichier is not None:
        if texte:
            raise ValueError("Un avis est un texte ou un PDF, pas les deux.")
        if len(fichier) > TAILLE_MAX_AVIS:
            raise ValueError(f"Fichier trop lourd ({len(fichier) // 1024} Ko) : 20 Mo au plus.")
        if not bytes(fichier[:1024]).lstrip().startswith(b"%PDF-"):
            raise ValueError("Le fichier joint n'est pas un PDF : joignez l'avis en PDF, ou collez-en le texte.")
        fichier_nom = (fichier_nom or "avis.pdf").replace("/", "_").replace("\\", "_")
    elif not texte:
        raise ValueError("L'avis est vide : collez son texte ou joignez-le en PDF.")
    return _ecrire_version(store, protocole, annee, AVIS, auteur, texte=texte, fichier=fichier,
                           fichier_nom=fichier_nom if fichier is not None else None, auteur=auteur,
                           date_texte=date_avis)


@operation("rediger_rapport")
def retirer_avis(store: Store, protocole: str, annee: int, auteur: str) -> int:
    """Retire du rapport l'avis d'une instance (une version vide : les précédentes restent dans l'historique)."""
    annee = _verifier(store, protocole, annee)
    return _ecrire_version(store, protocole, annee, AVIS, auteur)


_SQL_DERNIERES = """
    SELECT id, nature, cle, version, texte, fichier_nom, auteur, date_texte, saisi_par, saisi_le,
           octet_length(fichier) AS taille
    FROM texte_rapport WHERE protocole = ? AND annee = ?
    QUALIFY row_number() OVER (PARTITION BY nature, cle ORDER BY version DESC) = 1
    ORDER BY nature, date_texte, cle
"""


def _textes(store, protocole: str, annee: int) -> Textes:
    """Les dernières versions (non vides), sans contrôle de droits : pour le rapport, qui a vérifié les siens."""
    lignes = store.requete(_SQL_DERNIERES, [protocole, int(annee)])
    textes, avis = {}, []
    for r in lignes.to_dict("records"):
        if _vide(r["texte"]) and _vide(r["fichier_nom"]):
            continue
        t = Texte(id=int(r["id"]), nature=r["nature"], cle=r["cle"], version=int(r["version"]),
                  texte=None if _vide(r["texte"]) else r["texte"],
                  fichier_nom=None if _vide(r["fichier_nom"]) else r["fichier_nom"],
                  auteur=None if _vide(r["auteur"]) else r["auteur"],
                  date_texte=None if _vide(r["date_texte"]) else pd.Timestamp(r["date_texte"]).date(),
                  saisi_par=r["saisi_par"], saisi_le=pd.Timestamp(r["saisi_le"]).to_pydatetime(),
                  taille=None if _vide(r["taille"]) else int(r["taille"]))
        if t.nature == AVIS:
            avis.append(t)
        else:
            textes[t.nature] = t
    avis.sort(key=lambda t: (t.date_texte or dt.date.min, t.cle))
    return Textes(textes, avis)


@operation("consulter_pilotage")
def textes_du_rapport(store: Store, protocole: str, annee: int) -> Textes:
    """Ce que le rapport d'une année reprend de la coordination : la dernière version de chaque texte et de chaque
    avis (ceux qui ont été retirés n'y sont pas)."""
    return _textes(store, protocole, _verifier(store, protocole, annee))


@operation("consulter_pilotage")
def historique_textes(store: Store, protocole: str, annee: int) -> pd.DataFrame:
    """Toutes les versions des textes et des avis d'une année, la plus récente d'abord (sans les octets des fichiers) :
    id, nature, cle, version, texte, fichier_nom, taille, auteur, date_texte, saisi_par, saisi_le."""
    annee = _verifier(store, protocole, annee)
    return store.requete("""
        SELECT id, nature, cle, version, texte, fichier_nom, octet_length(fichier) AS taille, auteur, date_texte,
               saisi_par, saisi_le
        FROM texte_rapport WHERE protocole = ? AND annee = ? ORDER BY saisi_le DESC, id DESC""", [protocole, annee])


@operation("consulter_pilotage")
def fichier_avis(store: Store, protocole: str, id_texte: int) -> tuple[str, bytes]:
    """Le PDF d'un avis tel qu'il a été reçu : (nom du fichier, octets)."""
    ligne = store.lire(lambda con: con.execute(
        "SELECT fichier_nom, fichier FROM texte_rapport WHERE protocole = ? AND id = ? AND fichier IS NOT NULL",
        [protocole, int(id_texte)]).fetchone())
    if ligne is None:
        raise KeyError(f"Aucun fichier d'avis n° {id_texte} pour le protocole {protocole}.")
    return ligne[0], bytes(ligne[1])
