"""La base : migrations, sauvegarde et restauration, deux processus sur un même fichier, un import tué en plein vol."""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import duckdb
import pytest

from perr_metrics.acces import sauvegarde
from perr_metrics.referentiel import requetes
from tests.conftest import ADMIN
from perr_metrics.stockage.magasin import VERSION_SCHEMA, BaseOccupee, ErreurBase, Store, migrer, version_de
from perr_metrics.referentiel.classeur import importer_referentiel
from tests import classeurs
from tests.core.test_referentiel import instantane

RACINE = Path(__file__).resolve().parents[2]


@pytest.mark.deux_moteurs
def test_base_neuve_au_dernier_schema(store):
    assert store.initialiser() == VERSION_SCHEMA
    cadres = store.requete("SELECT code FROM cadre")["code"]
    assert {"MOB-DROITS", "DIJON-5", "PAQTE-ACHETER", "FDR-LIEN-SOCIAL"} <= set(cadres)


def test_migration_depuis_la_version_precedente(tmp_path):
    """Une base restée au schéma 1 s'ouvre, passe au schéma courant, et garde ses données."""
    chemin = tmp_path / "ancienne.duckdb"
    con = duckdb.connect(str(chemin))
    assert migrer(con, jusqu_a=1) == 1
    con.execute("INSERT INTO protocole VALUES ('ANCIEN', 'Protocole de 2019', 'EPCI', 'EPCI', 2019, 2022, NULL, "
                "'2015', false, NULL, current_timestamp)")
    con.execute("INSERT INTO depot VALUES (1, 'ANCIEN', 'ETAT', '2019', 'agent', current_timestamp, 'f.xlsx', "
                "'abc', 'octets'::BLOB, 1, 'reçu', NULL)")
    con.execute("INSERT INTO valeur VALUES (1, 'ANCIEN', 'IND', 'QP010001', '2019', 2019, 12.5, NULL, 'Valeurs!D2')")
    con.close()

    store = Store(chemin, utilisateur=ADMIN)
    assert store.initialiser() == VERSION_SCHEMA
    assert store.requete("SELECT version FROM schema_version ORDER BY 1")["version"].tolist() == list(
        range(1, VERSION_SCHEMA + 1))
    assert requetes.protocoles(store)["code"].tolist() == ["ANCIEN"]
    assert store.requete("SELECT valeur, cellule FROM valeur").values.tolist() == [[12.5, "Valeurs!D2"]]
    assert store.lire(lambda c: c.execute("SELECT contenu FROM depot").fetchone()[0]) == b"octets"
    # Les tables de la version 2 sont là et utilisables.
    assert store.requete("SELECT count(*) AS n FROM etat_engagement")["n"][0] == 0


def test_base_plus_recente_que_l_application_refusee(tmp_path):
    chemin = tmp_path / "future.duckdb"
    con = duckdb.connect(str(chemin))
    migrer(con)
    con.execute("INSERT INTO schema_version VALUES (?, 'future', current_timestamp)", [VERSION_SCHEMA + 1])
    con.close()
    with pytest.raises(ErreurBase, match="plus récent"):
        Store(chemin, utilisateur=ADMIN).initialiser()


def test_fichier_qui_n_est_pas_une_base(tmp_path):
    chemin = tmp_path / "perr.duckdb"
    chemin.write_bytes(b"ceci n'est pas une base DuckDB" * 100)
    with pytest.raises(ErreurBase):
        Store(chemin, utilisateur=ADMIN).initialiser()


@pytest.mark.deux_moteurs
def test_sauvegarde_puis_restauration(store_demo, tmp_path):
    avant = instantane(store_demo)
    dossier = sauvegarde.sauvegarder(store_demo, tmp_path / "sauvegarde")
    assert (dossier / "schema.sql").exists()
    # On abîme la base après la sauvegarde…
    store_demo.ecrire(lambda con: con.execute("DELETE FROM valeur WHERE protocole = 'TCM-PERR-2019'"))
    assert instantane(store_demo) != avant
    # … et la restauration la remet exactement comme elle était, octets des fichiers déposés compris.
    assert sauvegarde.restaurer(store_demo, dossier) == VERSION_SCHEMA
    assert instantane(store_demo) == avant


def test_sauvegarde_refuse_un_dossier_non_vide(store, tmp_path):
    (tmp_path / "plein").mkdir()
    (tmp_path / "plein" / "x").write_text("x")
    with pytest.raises(ValueError, match="pas vide"):
        sauvegarde.sauvegarder(store, tmp_path / "plein")


def test_restauration_refuse_un_dossier_quelconque(store, tmp_path):
    with pytest.raises(ValueError, match="n'est pas un dossier de sauvegarde"):
        sauvegarde.restaurer(store, tmp_path)


# --------------------------------------------------------------------------------------------------------------------
# Deux processus, un fichier
# --------------------------------------------------------------------------------------------------------------------

def _tenir_la_base(chemin: Path, secondes: float) -> subprocess.Popen:
    """Un autre processus ouvre la base en écriture et la garde `secondes` (comme un import en cours)."""
    script = textwrap.dedent(f"""
        import duckdb, sys, time
        con = duckdb.connect({str(chemin)!r})
        con.execute("SELECT 1")
        print("TENUE", flush=True)
        time.sleep({secondes})
        con.close()
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "TENUE"
    return proc


def test_lecture_attend_qu_un_autre_processus_lache_la_base(store_demo):
    proc = _tenir_la_base(store_demo.chemin, 1.5)
    try:
        debut = time.monotonic()
        df = requetes.protocoles(store_demo)        # doit attendre, pas échouer
        assert len(df) == 2
        assert time.monotonic() - debut > 0.5
    finally:
        proc.wait(timeout=30)


def test_base_occupee_trop_longtemps_message_francais(store_demo):
    impatient = Store(store_demo.chemin, delai_verrou=0.3, utilisateur=ADMIN)
    proc = _tenir_la_base(store_demo.chemin, 3)
    try:
        with pytest.raises(BaseOccupee, match="occupée par une autre opération"):
            requetes.protocoles(impatient)
    finally:
        proc.wait(timeout=30)


@pytest.mark.deux_moteurs
def test_la_ligne_de_commande_importe_pendant_que_le_tableau_de_bord_lit(store_demo, tmp_path):
    """Un processus importe par la ligne de commande pendant que celui-ci enchaîne les lectures : tous deux aboutissent."""
    classeur = classeurs.ecrire(tmp_path)
    env = dict(os.environ, PYTHONPATH=str(RACINE))
    proc = subprocess.Popen([sys.executable, "-m", "perr_metrics", "--db", str(store_demo.chemin), "referentiel",
                             "importer", str(classeur)], cwd=RACINE, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    lectures = 0
    while proc.poll() is None:
        assert len(requetes.protocoles(store_demo)) in (2, 3)
        lectures += 1
    sortie, erreur = proc.communicate()
    assert proc.returncode == 0, erreur
    assert lectures > 0
    assert len(requetes.protocoles(store_demo)) == 3


@pytest.mark.deux_moteurs
def test_import_tue_en_plein_vol_ne_laisse_rien(store_demo, tmp_path):
    """On tue (SIGKILL) un import au milieu de sa transaction : la base est exactement celle d'avant."""
    classeur = classeurs.ecrire(tmp_path)
    avant = instantane(store_demo)
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(RACINE)!r})
        from perr_metrics.referentiel import classeur as referentiel
        from perr_metrics.stockage.magasin import Store
        from perr_metrics.acces.droits import SYSTEME
        vrai = referentiel.inserer_df
        compte = 0
        def lent(con, table, df):
            global compte
            vrai(con, table, df)
            compte += 1
            if compte == 3:               # trois tables déjà écrites dans la transaction
                print("EN COURS", flush=True)
                time.sleep(60)
        referentiel.inserer_df = lent
        referentiel.importer_referentiel(Store({str(store_demo.chemin)!r}, utilisateur=SYSTEME), {str(classeur)!r})
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "EN COURS"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert instantane(store_demo) == avant
    # Et la base reste utilisable : le même import, sans interruption, passe.
    importer_referentiel(store_demo, classeur)
    assert "EQ2030-TEST" in set(requetes.protocoles(store_demo)["code"])


# --------------------------------------------------------------------------------------------------------------------
# La base gardée ouverte par le tableau de bord (db._Garde) : une connexion pour des lectures rapprochées, lâchée dès
# qu'un autre processus la demande.
# --------------------------------------------------------------------------------------------------------------------

def _gardee(store: Store, garde: float) -> Store:
    return Store(store.chemin, delai_verrou=20, utilisateur=ADMIN, garde=garde)


@contextlib.contextmanager
def _lectures_sans_relache(lire, nb_fils: int):
    """`nb_fils` fils appellent `lire()` sans interruption le temps du bloc ; donne la liste de leurs erreurs."""
    arret, erreurs = threading.Event(), []

    def boucle():
        while not arret.is_set():
            try:
                lire()
            except Exception as exc:  # noqa: BLE001
                erreurs.append(exc)

    fils = [threading.Thread(target=boucle) for _ in range(nb_fils)]
    for f in fils:
        f.start()
    try:
        yield erreurs
    finally:
        arret.set()
        for f in fils:
            f.join()


def _ouvrir_ailleurs(chemin: Path) -> bool:
    """Un autre processus peut-il ouvrir la base tout de suite (sans réessayer) ?"""
    script = f"import duckdb\ntry:\n    duckdb.connect({str(chemin)!r}).close(); print('OUI')\nexcept duckdb.IOException:\n" \
             f"    print('NON')"
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60).stdout.strip() == "OUI"


def test_garde_une_ouverture_pour_des_lectures_rapprochees_de_plusieurs_fils(store_demo):
    gardee = _gardee(store_demo, 30)
    try:
        for _ in range(5):
            assert len(requetes.protocoles(gardee)) == 2
        erreurs, resultats = [], []

        def lire():
            try:
                for _ in range(5):
                    resultats.append(len(requetes.engagements(gardee, "TCM-PERR-2019")))
            except Exception as exc:  # noqa: BLE001
                erreurs.append(exc)

        fils = [threading.Thread(target=lire) for _ in range(4)]
        for f in fils:
            f.start()
        for f in fils:
            f.join()
        assert not erreurs
        assert len(set(resultats)) == 1 and len(resultats) == 20
        assert gardee.ouvertures == 1
        assert not _ouvrir_ailleurs(store_demo.chemin)      # la base est bien tenue entre deux lectures
        gardee.lacher()
        assert _ouvrir_ailleurs(store_demo.chemin)
        assert len(requetes.protocoles(gardee)) == 2 and gardee.ouvertures == 2
    finally:
        gardee.lacher()


def test_garde_lache_la_base_apres_son_delai_d_inactivite(store_demo):
    gardee = _gardee(store_demo, 0.2)
    requetes.protocoles(gardee)
    fin = time.monotonic() + 10
    while gardee._garde._con is not None and time.monotonic() < fin:
        time.sleep(0.05)
    assert _ouvrir_ailleurs(store_demo.chemin)


def test_la_ligne_de_commande_passe_pendant_que_le_tableau_de_bord_lit_sans_relache(store_demo, tmp_path):
    """Quatre fils lisent sans interruption sur la base gardée (jamais inactive, garde de 10 min) pendant qu'un import
    en ligne de commande attend la base : il la signale, le tableau de bord la lâche, l'import passe, les lectures
    reprennent (sans erreur) et voient le nouveau protocole."""
    gardee = _gardee(store_demo, 600)
    requetes.protocoles(gardee)
    classeur = classeurs.ecrire(tmp_path)
    vus = set()
    with _lectures_sans_relache(lambda: vus.add(len(requetes.protocoles(gardee))), 4) as erreurs:
        env = dict(os.environ, PYTHONPATH=str(RACINE), PERR_DB_DELAI="20")
        proc = subprocess.run([sys.executable, "-m", "perr_metrics", "--db", str(store_demo.chemin), "referentiel",
                               "importer", str(classeur)], cwd=RACINE, env=env, capture_output=True, text=True,
                              timeout=120)
        time.sleep(0.3)
    gardee.lacher()
    assert proc.returncode == 0, proc.stderr
    assert not erreurs
    assert vus == {2, 3}
    assert gardee.ouvertures >= 2                  # lâchée pour l'import, rouverte après
    assert not list(store_demo.chemin.parent.glob("*.attente.*"))   # l'import a retiré son signal


def test_garde_une_lecture_imbriquee_ne_cede_pas_sa_place(store_demo):
    """Un fil qui tient déjà un curseur (une session de lecture, celle du rapport) en obtient un autre même quand un
    autre processus attend : il ne rendrait jamais le premier sinon."""
    from perr_metrics.stockage.magasin import _signal

    gardee = _gardee(store_demo, 30)
    signal_ = _signal(store_demo.chemin, 999999)
    try:
        with gardee.session() as s:
            signal_.touch()
            debut = time.monotonic()
            assert len(requetes.protocoles(s)) == 2
            assert len(requetes.protocoles(gardee)) == 2
            assert time.monotonic() - debut < 5
    finally:
        signal_.unlink()
        gardee.lacher()


def test_garde_ecritures_et_lectures_du_meme_processus_en_parallele(store_demo):
    from perr_metrics.acces import comptes
    from perr_metrics.acces.droits import LECTEUR

    gardee = _gardee(store_demo, 30)
    with _lectures_sans_relache(lambda: requetes.indicateurs(gardee, "TCM-PERR-2019"), 3) as erreurs:
        for i in range(5):
            comptes.creer_compte(gardee, f"lecteur-{i}", f"Lecteur {i}", LECTEUR, mot_de_passe="un-long-mot-de-passe")
    assert not erreurs
    noms = set(comptes.lister_comptes(gardee)["identifiant"])
    assert {f"lecteur-{i}" for i in range(5)} <= noms
    gardee.lacher()
    # Écrit sur le disque : un autre processus le lit.
    assert {f"lecteur-{i}" for i in range(5)} <= set(comptes.lister_comptes(Store(store_demo.chemin,
                                                                                   utilisateur=ADMIN))["identifiant"])


def test_restauration_avec_la_base_gardee(store_demo, tmp_path):
    gardee = _gardee(store_demo, 30)
    assert len(requetes.protocoles(gardee)) == 2
    sauvegarde.sauvegarder(gardee, tmp_path / "sauvegarde")
    gardee.ecrire(lambda con: con.execute("DELETE FROM publication"))
    importer_referentiel(gardee, classeurs.ecrire(tmp_path))
    assert len(requetes.protocoles(gardee)) == 3
    sauvegarde.restaurer(gardee, tmp_path / "sauvegarde")
    assert len(requetes.protocoles(gardee)) == 2
    gardee.lacher()
