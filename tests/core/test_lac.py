"""Le lac DuckLake (perr_metrics/stockage/lac.py) : schéma sans contraintes, garanties tenues par le magasin, et plusieurs
processus en même temps — deux dépôts au même instant aboutissent, un même fichier n'est compté qu'une fois, un lecteur
ne bloque jamais un écrivain, une écriture qui perd tous ses essais répond en français sans rien écrire.

Les tests qui ont besoin d'un vrai lac sont sautés sans PostgreSQL (PERR_TEST_LAC, PERR_TEST_LAC_DONNEES : `bash .ci/run`
les donne, `.ci/postgres demarrer DOSSIER` sur un poste) ; le dépôt tué en plein vol sur le lac est
tests/core/test_depots.py::test_depot_tue_en_plein_vol_ne_laisse_rien[lac].
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from perr_metrics.acces import journal
from perr_metrics.acces.droits import SYSTEME
from perr_metrics.depots.depot import deposer, liste_depots
from perr_metrics.stockage import lac
from perr_metrics.stockage.magasin import MIGRATIONS, VERSION_SCHEMA, BaseModifiee, BaseOccupee, Store, prochain_id
from tests.conftest import ADMIN, copie_de_base
from tests.core.test_depots import _jamais_a_moitie, base_essai  # noqa: F401 (fixture)
from tests.fichiers import PROTOCOLE, csv_long

RACINE = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------------------------------------------------
# Sans PostgreSQL : le schéma du lac
# --------------------------------------------------------------------------------------------------------------------

def test_chaque_migration_passe_sur_le_lac_sans_contraintes():
    """Le DDL de chaque migration, privé de ses clés primaires, reste du SQL valide qui crée les mêmes tables et
    colonnes (essayé sur une base DuckDB en mémoire) ; aucune clé ne reste."""
    avec, sans = duckdb.connect(), duckdb.connect()
    for _titre, sql in MIGRATIONS:
        transpose = lac.sans_contraintes(sql)
        assert "PRIMARY KEY" not in transpose.upper()
        avec.execute(sql)
        sans.execute(transpose)
    colonnes = "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns ORDER BY ALL"
    assert avec.execute(colonnes).fetchall() == sans.execute(colonnes).fetchall()
    assert sans.execute("SELECT count(*) FROM duckdb_constraints() WHERE constraint_type IN "
                        "('PRIMARY KEY', 'UNIQUE')").fetchone()[0] == 0


@pytest.mark.parametrize("sql", ["CREATE TABLE t (a INTEGER UNIQUE)", "CREATE TABLE t (a INTEGER REFERENCES u (a))",
                                 "CREATE INDEX i ON t (a)", "CREATE SEQUENCE s"])
def test_une_contrainte_que_le_lac_ne_connait_pas_est_refusee_tout_de_suite(sql):
    with pytest.raises(ValueError, match="non transposable au lac"):
        lac.sans_contraintes(sql)


def test_sans_dossier_de_donnees_message_francais(monkeypatch):
    monkeypatch.delenv("PERR_LAKE_DONNEES", raising=False)
    from perr_metrics.stockage.magasin import ErreurBase
    with pytest.raises(ErreurBase, match="PERR_LAKE_DONNEES"):
        Store("ducklake:postgres:dbname=perr host=127.0.0.1")


# --------------------------------------------------------------------------------------------------------------------
# Sur un vrai lac
# --------------------------------------------------------------------------------------------------------------------

def test_lac_neuf_au_dernier_schema_sans_contraintes(lac_neuf):
    store = lac_neuf()
    assert store.est_lac and store.initialiser() == VERSION_SCHEMA
    assert store.lire(lambda con: con.execute(
        "SELECT count(*) FROM duckdb_constraints() WHERE database_name = current_database() "
        "AND constraint_type IN ('PRIMARY KEY', 'UNIQUE')").fetchone()[0]) == 0
    # Deux processus qui ouvrent le même lac neuf en même temps : un seul le crée, l'autre le trouve prêt.
    autre = subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(RACINE)!r})\n"
                            "from perr_metrics.stockage.magasin import Store\n"
                            f"print(Store({store.chemin!r}).initialiser())"],
                           capture_output=True, text=True, timeout=120)
    assert autre.stdout.strip() == str(VERSION_SCHEMA), autre.stderr
    assert store.requete("SELECT count(*) AS n FROM schema_version")["n"][0] == VERSION_SCHEMA


def test_identifiants_uniques_entre_fils_d_ecriture(lac_neuf):
    """Vingt écritures de quatre fils, chacune avec son identifiant max + 1 : tous différents."""
    import threading
    store = lac_neuf(SYSTEME)

    def ecrire():
        for _ in range(5):
            store.ecrire(lambda con: journal.noter(con, SYSTEME, "essai", objet="fil"))

    fils = [threading.Thread(target=ecrire) for _ in range(4)]
    for f in fils:
        f.start()
    for f in fils:
        f.join()
    ids = store.requete("SELECT id FROM journal WHERE action = 'essai'")["id"].tolist()
    assert len(ids) == 20 and len(set(ids)) == 20


def test_conflit_sans_issue_reponse_en_francais_et_rien_d_ecrit(lac_neuf, monkeypatch):
    """Une écriture dont chaque essai croise une autre écriture validée entre-temps (ici, un autre client du lac qui
    prend le jeton) : après ses essais, « réessayez », et rien d'elle n'est écrit."""
    store = lac_neuf(SYSTEME)
    store.initialiser()
    monkeypatch.setattr(lac, "ESSAIS", 3)
    monkeypatch.setattr(lac, "attendre_avant_essai", lambda essai: None)
    autre = duckdb.connect()
    lac.Lac.depuis(store.chemin).attacher(autre)
    essais = []

    def ecrire(con):
        essais.append(1)
        con.execute("INSERT INTO parametre VALUES ('essai', ?)", [str(len(essais))])
        con.execute(f"SELECT count(*) FROM {lac.TABLE_JETON}").fetchall()
        autre.execute(f"UPDATE {lac.TABLE_JETON} SET n = n + 1")   # une autre écriture, validée avant la nôtre

    with pytest.raises(BaseModifiee, match="modifiée en même temps par une autre opération : réessayez") as exc:
        store.ecrire(ecrire)
    assert isinstance(exc.value, BaseOccupee)       # affichée comme « base occupée » par les pages et la commande
    assert len(essais) == 3
    assert store.requete("SELECT count(*) AS n FROM parametre WHERE cle = 'essai'")["n"][0] == 0
    autre.close()


def test_la_signature_suit_les_ecritures_d_un_autre_processus(lac_neuf):
    store = lac_neuf(SYSTEME)
    avant = store.signature()
    assert store.signature() == avant
    subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(RACINE)!r})\n"
                    "from perr_metrics.stockage.magasin import Store\n"
                    "from perr_metrics.acces.droits import SYSTEME\nfrom perr_metrics.acces import journal\n"
                    f"Store({store.chemin!r}).ecrire(lambda con: journal.noter(con, SYSTEME, 'ailleurs'))"],
                   check=True, timeout=120)
    assert store.signature() != avant


# --------------------------------------------------------------------------------------------------------------------
# Plusieurs processus au même instant
# --------------------------------------------------------------------------------------------------------------------

DEPOSANT = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {racine!r})
    from perr_metrics.depots import depot as depots
    from perr_metrics.stockage import lac
    from perr_metrics.stockage.magasin import Store
    from perr_metrics.acces.droits import SYSTEME
    vrai, vraie_attente = depots.inserer_df, lac.attendre_avant_essai
    def lent(con, table, df):            # la transaction dure : les deux dépôts se recouvrent
        vrai(con, table, df)
        time.sleep({pause})
    def attente(essai):
        print("REJOUE", flush=True)
        vraie_attente(essai)
    depots.inserer_df, lac.attendre_avant_essai = lent, attente
    store = Store({chemin!r}, utilisateur=SYSTEME)
    store.initialiser()                  # le lac ouvert avant le départ
    print("PRET", flush=True)
    while not {depart!r} or not __import__("os").path.exists({depart!r}):
        time.sleep(0.01)
    res = depots.deposer(store, open({fichier!r}, "rb").read(), {nom!r}, protocole={protocole!r},
                         signataire={signataire!r}, accepter_avertissements=True)
    print("RESULTAT", res.statut, res.depot_id, flush=True)
""")


def _deposants(store: Store, tmp_path: Path, depots: list[tuple[str, bytes, str]], pause: float = 1.0):
    """Lance un processus par dépôt (signataire, octets, nom), tous prêts, puis les libère au même instant ; rend leurs
    sorties."""
    depart = tmp_path / "depart"
    procs = []
    for i, (signataire, donnees, nom) in enumerate(depots):
        fichier = tmp_path / f"depot-{i}.csv"
        fichier.write_bytes(donnees)
        script = DEPOSANT.format(racine=str(RACINE), pause=pause, chemin=str(store.chemin), depart=str(depart),
                                 fichier=str(fichier), nom=nom, protocole=PROTOCOLE, signataire=signataire)
        procs.append(subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True))
    try:
        for p in procs:
            assert p.stdout.readline().strip() == "PRET", p.stderr.read()
        depart.touch()
        return [p.communicate(timeout=240) for p in procs], [p.returncode for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()


@pytest.mark.lent
def test_deux_processus_deposent_au_meme_instant_pour_deux_partenaires(base_essai, tmp_path, request):  # noqa: F811
    essai = copie_de_base(base_essai, tmp_path, "lac", request)
    sorties, codes = _deposants(essai, tmp_path, [
        ("EPT", csv_long([["JEUNES", p, "2025", 100] for p in ("QN09301A", "QN09302B", "VA-GARE")]), "ept.csv"),
        ("CAF93", csv_long([["DELAI", "EPT-TEST", "2025", 28]]), "caf.csv"),
    ])
    assert codes == [0, 0], sorties
    resultats = [next(l for l in s.splitlines() if l.startswith("RESULTAT")).split() for s, _ in sorties]
    assert [r[1] for r in resultats] == ["accepte", "accepte"]
    assert sorted(int(r[2]) for r in resultats) == [1, 2]
    # Les deux transactions se recouvraient (une seconde de pause chacune) : l'une a été refusée puis rejouée.
    assert sum(s.count("REJOUE") for s, _ in sorties) >= 1
    df = _jamais_a_moitie(essai)
    assert sorted(df["n"]) == [1, 3]
    assert sorted(liste_depots(essai, PROTOCOLE)["signataire"]) == ["CAF93", "EPT"]
    lignes = essai.requete("SELECT id FROM journal WHERE action = 'dépôt'")["id"]
    assert len(lignes) == 2 and lignes.is_unique


@pytest.mark.lent
def test_le_meme_fichier_par_deux_processus_n_est_compte_qu_une_fois(base_essai, tmp_path, request):  # noqa: F811
    essai = copie_de_base(base_essai, tmp_path, "lac", request)
    donnees = csv_long([["DELAI", "EPT-TEST", "2025", 28]])
    sorties, codes = _deposants(essai, tmp_path, [("CAF93", donnees, "a.csv"), ("CAF93", donnees, "b.csv")])
    assert codes == [0, 0], sorties
    statuts = sorted(next(l for l in s.splitlines() if l.startswith("RESULTAT")).split()[1] for s, _ in sorties)
    assert statuts == ["accepte", "deja-depose"]
    assert len(liste_depots(essai, PROTOCOLE)) == 1
    _jamais_a_moitie(essai)


LECTEUR = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {racine!r})
    from perr_metrics.stockage.magasin import Store
    from perr_metrics.acces.droits import SYSTEME
    store = Store({chemin!r}, utilisateur=SYSTEME)
    with store.session() as s:           # une lecture longue : sa transaction (celle de la session) reste ouverte
        n = s.requete("SELECT count(*) AS n FROM depot")["n"][0]
        print("LIT", n, flush=True)
        fin = time.monotonic() + {duree}
        lectures = 0
        while time.monotonic() < fin:
            lectures += len(s.requete("SELECT * FROM valeur"))
        print("TOUJOURS", s.requete("SELECT count(*) AS n FROM depot")["n"][0], flush=True)
""")


@pytest.mark.lent
def test_un_lecteur_ne_bloque_jamais_un_ecrivain(base_essai, tmp_path, request):  # noqa: F811
    """Un autre processus tient une transaction de lecture ouverte et lit sans relâche pendant 30 s : les dépôts de ce
    processus passent pendant ce temps, sans attendre ; le lecteur garde sa vue (instantané) jusqu'au bout."""
    essai = copie_de_base(base_essai, tmp_path, "lac", request)
    essai.initialiser()
    lecteur = subprocess.Popen([sys.executable, "-c", LECTEUR.format(racine=str(RACINE), chemin=str(essai.chemin),
                                                                     duree=30)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert lecteur.stdout.readline().split() == ["LIT", "0"], lecteur.stderr.read()
        debut = time.monotonic()
        for i in range(3):
            res = deposer(essai, csv_long([["JEUNES", "QN09301A", str(2024 + i), 100 + i]]), f"v{i}.csv",
                          protocole=PROTOCOLE, signataire="EPT", accepter_avertissements=True)
            assert res.statut == "accepte"
        duree = time.monotonic() - debut
        assert lecteur.poll() is None            # le lecteur lisait encore
        assert duree < 25, duree
        assert len(liste_depots(essai, PROTOCOLE)) == 3
        sortie, erreur = lecteur.communicate(timeout=120)
        assert lecteur.returncode == 0, erreur
        assert sortie.split() == ["TOUJOURS", "0"]   # sa transaction voyait l'instantané de son début
    finally:
        if lecteur.poll() is None:
            lecteur.kill()


def test_prochain_id_dans_la_transaction(lac_neuf):
    store = lac_neuf(SYSTEME)
    premiers = [store.ecrire(lambda con: (prochain_id(con, "journal"),
                                           journal.noter(con, SYSTEME, "essai"))[0]) for _ in range(3)]
    assert premiers == [1, 2, 3]


# --------------------------------------------------------------------------------------------------------------------
# La ligne de commande : copier d'un moteur à l'autre, entretien
# --------------------------------------------------------------------------------------------------------------------

def test_cli_du_fichier_au_lac_et_retour(store_demo, lac_neuf, tmp_path, capsys):
    from perr_metrics.cli import main
    from tests.core.test_referentiel import instantane

    avant = instantane(store_demo)
    lac_vide = lac_neuf()
    donnees = os.environ["PERR_LAKE_DONNEES"]
    code = main(["--db", str(store_demo.chemin), "stockage", "vers-lac", lac_vide.chemin, "--donnees", donnees])
    sortie = capsys.readouterr()
    assert code == 0, sortie.err
    assert "copiée dans ducklake:postgres:" in sortie.out and "2 protocoles" in sortie.out
    assert instantane(lac_vide) == avant
    # La ligne de journal de la copie est dans les deux bases ; le journal a été copié en entier.
    assert store_demo.requete("SELECT count(*) AS n FROM journal WHERE action = 'copie de la base'")["n"][0] == 1
    assert (lac_vide.requete("SELECT * FROM journal ORDER BY id").values.tolist()
            == store_demo.requete("SELECT * FROM journal ORDER BY id").values.tolist())

    # Une seconde copie dans le même lac est refusée : il n'est plus vide.
    code = main(["--db", str(store_demo.chemin), "stockage", "vers-lac", lac_vide.chemin, "--donnees", donnees])
    assert code == 1 and "n'est pas vide" in capsys.readouterr().err

    # L'entretien du lac ne change rien aux données.
    assert main(["--db", lac_vide.chemin, "stockage", "entretien"]) == 0
    assert "Entretien de ducklake:postgres:" in capsys.readouterr().out
    assert instantane(lac_vide) == avant

    # Et retour : du lac à un fichier neuf, avec ses clés primaires.
    retour = tmp_path / "retour" / "perr.duckdb"
    assert main(["--db", lac_vide.chemin, "stockage", "vers-fichier", str(retour)]) == 0, capsys.readouterr().err
    fichier = Store(retour, utilisateur=ADMIN)
    assert instantane(fichier) == avant
    assert fichier.lire(lambda con: con.execute("SELECT count(*) FROM duckdb_constraints() "
                                                "WHERE constraint_type = 'PRIMARY KEY'").fetchone()[0]) > 10
    assert main(["--db", lac_vide.chemin, "stockage", "vers-fichier", str(retour)]) == 1
    assert "existe déjà" in capsys.readouterr().err


def test_cli_stockage_refus_en_francais(store_demo, capsys):
    from perr_metrics.cli import main

    assert main(["--db", str(store_demo.chemin), "stockage", "vers-lac", "/tmp/pas-un-lac"]) == 1
    assert "n'est pas un lac DuckLake" in capsys.readouterr().err
    assert main(["--db", str(store_demo.chemin), "stockage", "vers-fichier", "/tmp/x.duckdb"]) == 1
    assert "déjà un fichier" in capsys.readouterr().err
    assert main(["--db", str(store_demo.chemin), "stockage", "entretien"]) == 0
    assert store_demo.requete("SELECT count(*) AS n FROM journal WHERE action = 'entretien'")["n"][0] == 1
