"""La boucle des partenaires contre un vrai serveur SMTP local (aiosmtpd) : relances, accusés de réception, avis de
dépôt, échéances, motifs des valeurs manquantes, pannes du serveur, .eml sans serveur, ligne de commande."""
from __future__ import annotations

import datetime as dt
import email
import io
import json
from email import policy

import pytest

from perr_metrics.acces.droits import Utilisateur
from perr_metrics.acces.journal import lire_journal
from perr_metrics.commun import courriel
from perr_metrics.depots import depot as depots
from perr_metrics.depots import echeances, motifs, relances
from perr_metrics.depots.modele import ecrire_modele_depot
from tests.core.test_cli import lancer
from tests.fichiers import remplir_modele
from tests.smtp import port_libre, serveur_smtp

TCM = "TCM-PERR-2019"
CAF = Utilisateur("caf-aube", "CAF de l'Aube (démo)", "contributeur", TCM, "CAF10", "caf-aube@demo.example.org")


@pytest.fixture
def smtp():
    with serveur_smtp() as serveur:
        yield serveur


def config(serveur) -> courriel.ConfigSMTP:
    return courriel.lire_configuration(serveur.environ(), None)


def test_configuration_par_l_environnement_puis_les_secrets():
    assert courriel.lire_configuration({}, {}) is None
    c = courriel.lire_configuration({"PERR_SMTP_HOTE": "smtp.exemple.fr", "PERR_SMTP_EXPEDITEUR": "a@exemple.fr"},
                                    {"PERR_SMTP_SECURITE": "ssl", "PERR_SMTP_MOT_DE_PASSE": "secret",
                                     "PERR_SMTP_UTILISATEUR": "compte"})
    assert (c.hote, c.port, c.securite, c.utilisateur, c.mot_de_passe) == ("smtp.exemple.fr", 465, "ssl", "compte",
                                                                          "secret")
    assert "secret" not in repr(c) and "secret" not in c.description
    assert courriel.lire_configuration({"PERR_SMTP_HOTE": "h", "PERR_SMTP_EXPEDITEUR": "a@b.fr"}).port == 587
    for mauvais, message in (({"PERR_SMTP_SECURITE": "tls"}, "aucune, starttls ou ssl"),
                             ({"PERR_SMTP_PORT": "vingt-cinq"}, "numéro de port"),
                             ({"PERR_SMTP_EXPEDITEUR": "pas une adresse"}, "PERR_SMTP_EXPEDITEUR")):
        with pytest.raises(courriel.ConfigurationInvalide, match=message):
            courriel.lire_configuration({"PERR_SMTP_HOTE": "h", "PERR_SMTP_EXPEDITEUR": "a@b.fr"} | mauvais)


def test_secrets_toml(tmp_path):
    f = tmp_path / "secrets.toml"
    f.write_text('PERR_SMTP_HOTE = "smtp.exemple.fr"\nPERR_SMTP_PORT = 2525\nPERR_SMTP_EXPEDITEUR = "c@exemple.fr"\n'
                 'PERR_URL_TABLEAU_DE_BORD = "https://perr.exemple.fr/"\n[auth]\nredirect_uri = "x"\n')
    secrets = courriel.lire_secrets_toml(f)
    assert courriel.lire_configuration({}, secrets).port == 2525
    assert courriel.lire_adresse_tableau_de_bord({}, secrets) == "https://perr.exemple.fr"
    assert courriel.lire_secrets_toml(tmp_path / "absent.toml") == {}


def test_echeance_par_defaut_et_du_referentiel(store_demo):
    assert echeances.echeance_par_defaut("2022") == dt.date(2023, 1, 31)
    assert echeances.echeance_par_defaut("2022-S1") == dt.date(2022, 7, 31)
    assert echeances.echeance_par_defaut("2022-S2") == dt.date(2023, 1, 31)
    e = echeances.echeance(store_demo, TCM, "2021")      # data/demo/troyes/echeances.csv
    assert (e.date, e.source, e.texte) == (dt.date(2022, 2, 28), "référentiel", "28 février 2022")
    e = echeances.echeance(store_demo, TCM, "2022")
    assert e.source == "règle par défaut"
    assert e.phrase(dt.date(2023, 1, 21)) == ("Échéance de dépôt pour 2022 : 31 janvier 2023 (dans 10 jours, règle "
                                              "par défaut)")
    assert "dépassée de 1\u00a0032 jours" in e.phrase(dt.date(2025, 11, 28))


def test_relances_envoyees_lues_sur_le_serveur_et_deposees(store_demo, smtp, tmp_path):
    """La boucle : relance reçue par le serveur (destinataires, objet, corps français, modèle joint), modèle rempli et
    déposé par le compte du partenaire, accusé de réception reçu, complétude qui bouge, tout au journal."""
    from perr_metrics.acces.comptes import creer_compte
    creer_compte(store_demo, "cpam", "CPAM de l'Aube", "contributeur", "un mot de passe long", protocole=TCM,
                 signataire="CPAM10", courriel="stats@cpam-aube.example.org")
    a_relancer = relances.preparer_relances(store_demo, TCM, "2022", adresse_tableau_de_bord="https://perr.exemple.fr")
    comp = depots.completude(store_demo, TCM, "2022")
    assert [r.signataire for r in a_relancer] == comp.en_retard and len(a_relancer) == 10
    assert "CAF10" not in comp.en_retard                     # un signataire complet ne reçoit rien
    cpam = next(r for r in a_relancer if r.signataire == "CPAM10")
    assert cpam.destinataires == ["stats@cpam-aube.example.org", "cpam10@demo.example.org"]
    envois = relances.envoyer_relances(store_demo, a_relancer, config(smtp))
    assert [e.statut for e in envois] == ["envoyé"] * 10
    recus = smtp.boite.pour("stats@cpam-aube.example.org")
    assert len(recus) == 1 and len(smtp.boite.recus) == 10
    m = recus[0]
    assert sorted(m.destinataires) == ["cpam10@demo.example.org", "stats@cpam-aube.example.org"]
    assert m.expediteur == "coordination@demo.example.org"
    assert m.objet == ("[Troyes Champagne Métropole] Relance : valeurs 2022 attendues de CPAM de l'Aube avant le 31 "
                       "janvier 2023")
    corps = m.corps
    assert "la coordination attend de CPAM de l'Aube (CPAM10) les valeurs de la période 2022" in corps
    assert "Échéance de dépôt pour 2022 : 31 janvier 2023" in corps
    assert "il en manque 55 :" in corps and "(SAN-BILANS)" in corps and "et 30 autres" in corps
    assert ("https://perr.exemple.fr/deposer?protocole=TCM-PERR-2019&signataire=CPAM10&periode=2022") in corps
    assert list(m.pieces) == ["depot-TCM-PERR-2019-CPAM10-2022.xlsx"]

    # Le partenaire remplit la pièce jointe (une valeur, un motif) et la dépose avec son compte.
    from openpyxl import load_workbook
    piece = m.pieces["depot-TCM-PERR-2019-CPAM10-2022.xlsx"]
    ws = load_workbook(io.BytesIO(piece))["Valeurs"]
    cles = [(r[0].value, r[2].value, str(r[4].value)) for r in ws.iter_rows(min_row=2) if r[0].value]
    valeurs = {c: 10 + i for i, c in enumerate(cles[:-1])}
    rempli = remplir_modele(piece, valeurs, motifs={cles[-1]: "Secret statistique"})
    partenaire = store_demo.pour(Utilisateur("cpam", "CPAM de l'Aube", "contributeur", TCM, "CPAM10",
                                             "stats@cpam-aube.example.org"))
    res = depots.deposer(partenaire, rempli, "depot-cpam.xlsx", protocole=TCM, signataire="CPAM10",
                         accepter_avertissements=True)
    assert res.statut == "accepte", res.rapport.texte()
    assert (res.nb_valeurs, len(res.motifs)) == (54, 1)
    accuses = relances.accuser_reception(partenaire, res, config(smtp), protocole=TCM, signataire="CPAM10")
    assert [(e.nature, e.statut) for e in accuses] == [("accusé de réception", "envoyé")]
    accuse = smtp.boite.recus[-1]
    assert accuse.destinataires == ["stats@cpam-aube.example.org"]
    assert accuse.objet.startswith("[Troyes Champagne Métropole] Accusé de réception : dépôt n° ")
    assert f"Votre dépôt n° {res.depot_id}" in accuse.corps and "54 valeurs — 54 nouvelles" in accuse.corps
    assert f"{cles[-1][0]} — {cles[-1][1]}, 2022 : secret statistique" in accuse.corps
    assert "rien ne manque plus" in accuse.corps
    # Une seule fois par dépôt.
    assert relances.accuser_reception(partenaire, res, config(smtp), protocole=TCM, signataire="CPAM10")[0].statut \
        == "non envoyé"

    # La complétude bouge : 54 reçues, 1 expliquée, plus rien à relancer pour la CPAM.
    ligne = depots.completude(store_demo, TCM, "2022").par_signataire.set_index("signataire").loc["CPAM10"]
    assert (ligne["recus"], ligne["expliques"], ligne["manquants"], ligne["statut"]) == (54, 1, 0,
                                                                                         "complet avec motifs")
    assert "CPAM10" not in [r.signataire for r in relances.preparer_relances(store_demo, TCM, "2022")]
    # Le motif n'est jamais un zéro : absent des valeurs, présent dans les lectures des motifs.
    courantes = depots.valeurs_courantes(store_demo, TCM)
    assert courantes[(courantes["indicateur"] == cles[-1][0]) & (courantes["perimetre"] == cles[-1][1])
                     & (courantes["periode"] == "2022")].empty
    mo = motifs.motifs_courants(store_demo, TCM, 2022)
    assert mo[["indicateur", "perimetre", "motif"]].values.tolist() == [[cles[-1][0], cles[-1][1],
                                                                          "secret statistique"]]
    # Au journal : qui, quoi, résultat.
    j = lire_journal(store_demo, limite=None)
    rel = j[j["action"] == "relance"]
    assert len(rel) == 10 and set(rel["resultat"]) == {"réussi"}
    assert rel["detail"].str.contains("stats@cpam-aube.example.org").any()
    assert (j["action"] == "accusé de réception").sum() == 1
    assert len(relances.courriels_envoyes(store_demo, TCM)) == 11


def test_pas_deux_fois_le_meme_jour_et_adresse_refusee(store_demo, smtp):
    """Une adresse refusée (550) a son message ; les autres partent ; seule l'adresse refusée est retentée le même
    jour, celles qui ont reçu ne reçoivent pas deux fois."""
    smtp.boite.refusees.add("etat-dsden@demo.example.org")
    a_relancer = relances.preparer_relances(store_demo, TCM, "2022")
    envois = {e.signataire: e for e in relances.envoyer_relances(store_demo, a_relancer, config(smtp))}
    assert envois["ETAT-DSDEN"].statut == "échoué"
    assert envois["ETAT-DSDEN"].refuses == {
        "etat-dsden@demo.example.org": "adresse refusée par le serveur (550 5.1.1 Mailbox unavailable)"}
    assert sum(e.statut == "envoyé" for e in envois.values()) == 9
    assert len(smtp.boite.recus) == 9
    # Le même jour : rien pour ceux qui ont reçu ; la relance refusée, elle, peut être retentée.
    de_nouveau = relances.preparer_relances(store_demo, TCM, "2022")
    assert [r.signataire for r in de_nouveau if r.envoyable] == ["ETAT-DSDEN"]
    assert all(r.empechement.startswith("déjà relancé aujourd'hui") for r in de_nouveau if r.signataire != "ETAT-DSDEN")
    smtp.boite.refusees.clear()
    envois = relances.envoyer_relances(store_demo, de_nouveau, config(smtp))
    assert [e.statut for e in envois if e.statut != "non envoyé"] == ["envoyé"]
    assert len(smtp.boite.recus) == 10
    # Le lendemain, on peut relancer à nouveau.
    lendemain = dt.datetime.now() + dt.timedelta(days=1)
    envois = relances.envoyer_relances(store_demo, relances.preparer_relances(store_demo, TCM, "2022"), config(smtp),
                                       maintenant=lendemain)
    assert all(e.statut == "envoyé" for e in envois)
    j = lire_journal(store_demo, action="relance", limite=None)
    assert (j["resultat"] == "échoué").sum() == 1 and "550" in j.loc[j["resultat"] == "échoué", "detail"].iloc[0]


def test_serveur_injoignable_rien_n_est_compte_comme_envoye(store_demo):
    injoignable = courriel.ConfigSMTP("127.0.0.1", port_libre(), "aucune", "coordination@demo.example.org",
                                      delai=3)
    a_relancer = relances.preparer_relances(store_demo, TCM, "2022")[:3]
    envois = relances.envoyer_relances(store_demo, a_relancer, injoignable)
    assert [e.statut for e in envois] == ["échoué"] * 3
    for e in envois:
        (raison,) = e.refuses.values()
        assert raison.startswith("non envoyé : le serveur de courriel 127.0.0.1:") and "injoignable" in raison
    envoyes = relances.courriels_envoyes(store_demo)
    assert list(envoyes["resultat"]) == ["échoué"] * 3 and envoyes["destinataires"].isna().all()
    # Rien n'ayant été accepté, la relance reste à faire aujourd'hui même.
    assert all(r.envoyable for r in relances.preparer_relances(store_demo, TCM, "2022"))


def test_sans_serveur_les_eml(store_demo):
    a_relancer = relances.preparer_relances(store_demo, TCM, "2022", signataires=["ETAT-DDSP"])
    assert relances.envoyer_relances(store_demo, a_relancer, None)[0].raison == courriel.SANS_SERVEUR
    (nom, octets), = relances.relances_en_eml(store_demo, a_relancer)
    assert nom == "relance-TCM-PERR-2019-ETAT-DDSP-2022.eml"
    msg = email.message_from_bytes(octets, policy=policy.default)
    assert msg["To"] == "etat-ddsp@demo.example.org" and msg["X-Unsent"] == "1" and msg["From"] is None
    assert "il en manque 3 :" in msg.get_body(("plain",)).get_content()
    assert [p.get_filename() for p in msg.iter_attachments()] == ["depot-TCM-PERR-2019-ETAT-DDSP-2022.xlsx"]
    assert relances.courriels_envoyes(store_demo).empty      # rien n'est consigné : rien n'est parti


def test_signataire_sans_adresse(store_demo):
    store_demo.ecrire(lambda con: con.execute("UPDATE signataire SET courriel = NULL WHERE protocole = ?", [TCM]))
    r = relances.preparer_relances(store_demo, TCM, "2022")
    assert all(not x.envoyable and x.empechement.startswith("aucune adresse") for x in r)
    # Un service sans adresse : celle de son signataire de rattachement (l'État).
    store_demo.ecrire(lambda con: con.execute("UPDATE signataire SET courriel = 'prefecture@exemple.fr' "
                                              "WHERE protocole = ? AND code = 'ETAT'", [TCM]))
    ddsp = relances.preparer_relances(store_demo, TCM, "2022", signataires=["ETAT-DDSP"])[0]
    assert ddsp.adresses == [("prefecture@exemple.fr", "contact de ETAT (référentiel)")]


def test_avis_de_depot_aux_administrateurs_qui_le_demandent(store_demo, smtp):
    coordination = store_demo.pour(Utilisateur("coordination", "Équipe de coordination (démo)", "administrateur"))
    assert not relances.avis_depots_demande(coordination)
    relances.demander_avis_depots(coordination, True)
    assert relances.avis_depots_demande(coordination)
    caf = store_demo.pour(CAF)
    flux = io.BytesIO()
    ecrire_modele_depot(caf, TCM, "CAF10", "2022", flux)
    ws_cles = [(r[0], r[2], r[4]) for r in _lignes(flux.getvalue())]
    rempli = remplir_modele(flux.getvalue(), {c: 7 for c in ws_cles})
    res = depots.deposer(caf, rempli, "caf-2022.xlsx", protocole=TCM, signataire="CAF10",
                         accepter_avertissements=True)
    assert res.statut == "accepte"
    envois = relances.accuser_reception(caf, res, config(smtp), protocole=TCM, signataire="CAF10",
                                        adresse_tableau_de_bord="https://perr.exemple.fr")
    assert [(e.nature, e.acceptes) for e in envois] == [
        ("accusé de réception", ["caf-aube@demo.example.org"]), ("avis de dépôt", ["coordination@demo.example.org"])]
    avis = smtp.boite.pour("coordination@demo.example.org")[0]
    assert "Nouveau dépôt n°" in avis.objet and "CAF de l'Aube" in avis.corps
    assert "https://perr.exemple.fr/suivi_depots?protocole=TCM-PERR-2019" in avis.corps
    accuse = smtp.boite.pour("caf-aube@demo.example.org")[0]
    assert "modifiées" in accuse.corps and "Ce qui a changé :" in accuse.corps and " → 7" in accuse.corps


def _lignes(donnees: bytes):
    from openpyxl import load_workbook
    ws = load_workbook(io.BytesIO(donnees))["Valeurs"]
    return [[c.value for c in r] for r in ws.iter_rows(min_row=2) if r[0].value]


def test_cli_relances_essai_envoi_et_json(store_demo, smtp, capsys, monkeypatch, tmp_path):
    db = str(store_demo.chemin)
    monkeypatch.chdir(tmp_path)           # aucun .streamlit/secrets.toml ici
    code, out, err = lancer(capsys, "--db", db, "relances", "--protocole", TCM, "--periode", "2022")
    assert code == 0, err
    assert "10 signataire(s) en retard" in out and "Essai à blanc : rien n'a été envoyé" in out
    assert "aucun serveur de courriel n'est configuré" in out and not smtp.boite.recus
    code, _, err = lancer(capsys, "--db", db, "relances", "--protocole", TCM, "--periode", "2022", "--envoyer")
    assert code == 1 and "Aucun serveur de courriel n'est configuré" in err and "--eml" in err
    (tmp_path / "eml").mkdir()
    code, out, _ = lancer(capsys, "--db", db, "relances", "--protocole", TCM, "--periode", "2022", "--eml",
                          str(tmp_path / "eml"), "--signataire", "ETAT-DDSP")
    assert code == 0 and [f.name for f in (tmp_path / "eml").iterdir()] == ["relance-TCM-PERR-2019-ETAT-DDSP-2022.eml"]
    for cle, v in smtp.environ().items():
        monkeypatch.setenv(cle, v)
    code, out, err = lancer(capsys, "--db", db, "relances", "--protocole", TCM, "--periode", "2022", "--envoyer",
                            "--json")
    assert code == 0, err
    res = json.loads(out)
    assert set(res) == {"protocole", "periode", "serveur", "relances", "envois"}
    assert [e["statut"] for e in res["envois"]] == ["envoyé"] * 10 and len(smtp.boite.recus) == 10
    assert res["relances"][0]["echeance"] == {"periode": "2022", "date_limite": "2023-01-31",
                                              "source": "règle par défaut"}
    code, out, _ = lancer(capsys, "--db", db, "relances", "--protocole", TCM, "--periode", "2022", "--envoyer")
    assert code == 0 and out.count("non envoyé — déjà relancé aujourd'hui") == 10 and len(smtp.boite.recus) == 10
    code, _, err = lancer(capsys, "--db", db, "relances", "--protocole", TCM, "--periode", "20xx")
    assert code == 1 and "Période illisible" in err
    monkeypatch.setenv("PERR_SMTP_SECURITE", "tls")
    code, _, err = lancer(capsys, "--db", db, "relances", "--protocole", TCM, "--periode", "2022")
    assert code == 1 and "Configuration du courriel illisible" in err


def test_cli_completude_montre_les_motifs_et_l_echeance(store_demo, capsys):
    d = depots.completude(store_demo, TCM, "2022").detail
    m = d[(d["signataire"] == "ETAT-DDSP") & ~d["recu"]].iloc[0]
    rempli = ("indicateur;perimetre;periode;valeur;motif;commentaire\n"
              f"{m.indicateur};{m.perimetre};{m.periode};;autre;caméras en panne\n")
    res = depots.deposer(store_demo, rempli.encode(), "motif.csv", protocole=TCM, signataire="ETAT-DDSP")
    assert res.statut == "accepte", res.rapport.texte()
    code, out, _ = lancer(capsys, "--db", str(store_demo.chemin), "completude", "--protocole", TCM, "--periode",
                          "2022")
    assert code == 0 and "1 expliquées (motif donné)" in out and "Échéance de dépôt pour 2022 : 31 janvier 2023" in out
    assert "Expliquées" in out.splitlines()[2]


def test_motifs_controles_au_depot(store_demo):
    d = depots.completude(store_demo, TCM, "2022").detail
    m = d[(d["signataire"] == "ETAT-DDSP") & ~d["recu"]].head(3).reset_index(drop=True)
    cles = [f"{r.indicateur};{r.perimetre};{r.periode}" for r in m.itertuples()]
    fichier = ("indicateur;perimetre;periode;valeur;motif;commentaire\n"
               f"{cles[0]};;pas le temps;\n{cles[1]};12;Secret statistique;\n{cles[2]};;Autre;\n").encode()
    res = depots.deposer(store_demo, fichier, "motifs.csv", protocole=TCM, signataire="ETAT-DDSP")
    assert res.statut == "rejete"
    assert [(p.code, p.cellule, p.valeur) for p in res.rapport.erreurs] == [
        ("motif-inconnu", "motifs!E2", "pas le temps"), ("motif-avec-valeur", "motifs!E3", "Secret statistique"),
        ("motif-sans-commentaire", "motifs!E4", "Autre")]
    fichier = ("indicateur;perimetre;periode;valeur;motif;commentaire\n"
               f"{cles[0]};;NON CONCERNÉ;\n{cles[1]};;donnee non disponible;\n{cles[2]};;autre;refonte du SI\n").encode()
    res = depots.deposer(store_demo, fichier, "motifs.csv", protocole=TCM, signataire="ETAT-DDSP")
    assert res.statut == "accepte" and res.nb_valeurs == 0
    assert list(res.motifs["motif"]) == ["non concerné", "donnée non disponible", "autre"]
    ligne = depots.completude(store_demo, TCM, "2022").par_signataire.set_index("signataire").loc["ETAT-DDSP"]
    assert (ligne["expliques"], ligne["manquants"]) == (3, 0) and ligne["statut"] == "complet avec motifs"
    # Une valeur reçue ensuite l'emporte sur le motif.
    premier = m.iloc[0]
    depots.deposer(store_demo, f"indicateur;perimetre;periode;valeur\n{cles[0]};5\n".encode(), "v.csv",
                   protocole=TCM, signataire="ETAT-DDSP", accepter_avertissements=True)
    mo = motifs.motifs_courants(store_demo, TCM, 2022)
    assert premier.indicateur + premier.perimetre not in set(mo["indicateur"] + mo["perimetre"]) and len(mo) == 2
    # Un dépôt « à corriger » ne donne plus ses motifs.
    depots.revoir_depot(store_demo, int(res.depot_id), "à corriger")
    assert motifs.motifs_courants(store_demo, TCM, 2022).empty


def test_referentiel_contacts_et_echeances(tmp_path):
    import shutil

    from perr_metrics.demo.demonstration import DOSSIER_DEMO
    from perr_metrics.referentiel.classeur import lire_referentiel
    dossier = tmp_path / "troyes"
    shutil.copytree(DOSSIER_DEMO / "troyes", dossier)
    sig = (dossier / "signataires.csv").read_text(encoding="utf-8").replace("caf10@demo.example.org", "caf10 arobase")
    (dossier / "signataires.csv").write_text(sig, encoding="utf-8")
    (dossier / "echeances.csv").write_text("Période,Date limite\n2021,28/02/2022\n2021,15/03/2022\n2030,1/1/2031\n"
                                           "vingt,1/1/2022\n2022-s1,bientôt\n", encoding="utf-8")
    ref = lire_referentiel(dossier)
    assert sorted((p.code, p.cellule) for p in ref.rapport.erreurs) == [
        ("courriel-invalide", "Signataires!G17"), ("date-invalide", "Échéances!B6"),
        ("ligne-dupliquee", "Échéances!3:3"), ("periode-hors-protocole", "Échéances!A4"),
        ("periode-invalide", "Échéances!A5")]
