"""Pages « Engagements », « Par QPV » et « Par signataire » sous AppTest : filtres, chiffres affichés, saisie d'un état,
import des contours, carte, liens partagés."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from perr_metrics.pilotage import suivi
from tests.ui.test_pages import app, metriques, textes


@pytest.fixture(autouse=True)
def _demo_sans_etats(request):
    """Ces tests construisent l'historique des états à partir de zéro : on retire les états fictifs de la démo."""
    if "store_demo" in request.fixturenames:
        request.getfixturevalue("store_demo").ecrire(lambda con: con.execute("DELETE FROM etat_engagement"))


TCM, BLOIS = "TCM-PERR-2019", "BLOIS-PERR-2020"
REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "qpv-2024.geojson"


def page(monkeypatch, store, chemin, **params):
    at = app(monkeypatch, store.chemin, **params)
    at.switch_page(chemin).run()
    assert not at.exception
    return at


def parametre(at, cle):
    v = at.query_params.get(cle)
    return v[0] if isinstance(v, list) else v


def figure(at, i=0) -> dict:
    return json.loads(at.get("plotly_chart")[i].proto.spec)


# --------------------------------------------------------------------------------------------------------------------
# Engagements
# --------------------------------------------------------------------------------------------------------------------

def test_engagements_filtres(monkeypatch, store_demo):
    at = page(monkeypatch, store_demo, "pages/engagements.py", protocole=TCM)
    assert metriques(at)["Non renseigné"] == "147"
    assert len(at.dataframe[1].value) == 147          # [0] : données du graphique ; [1] : la liste
    at.selectbox(key="axe").select("2").run()
    assert not at.exception
    liste = at.dataframe[1].value
    assert liste["Axe"].str.startswith("2 — ").all() and len(liste) == int(metriques(at)["Non renseigné"])
    assert parametre(at, "axe") == "2"
    at.selectbox(key="porteur").select("CAF10").run()
    liste = at.dataframe[1].value
    assert 0 < len(liste) < 52 and liste["Porteurs"].str.contains("CAF de l'Aube").all()
    at.selectbox(key="etat").select("réalisé").run()
    assert any("Aucun engagement ne correspond" in i.value for i in at.info)


def test_engagements_saisie_d_un_etat(monkeypatch, store_demo):
    at = page(monkeypatch, store_demo, "pages/engagements.py", protocole=TCM)
    at.selectbox(key="engagement").select("E005").run()
    assert parametre(at, "engagement") == "E005"
    assert any("Aucun état n'a encore été saisi" in i.value for i in at.info)

    # Reporté sans commentaire : refus en français, rien d'écrit.
    at.selectbox(key="nouvel_etat_etat").select("reporté")
    at.button(key="enregistrer_etat").click().run()
    assert not at.exception
    assert "doit être expliqué" in at.error[0].value
    assert suivi.historique_etats(store_demo, TCM, "E005").empty

    at.selectbox(key="nouvel_etat_etat").select("en cours")
    at.text_area(key="nouvel_etat_commentaire").input("Patrouilles renforcées depuis mars")
    at.button(key="enregistrer_etat").click().run()
    assert not at.exception and not at.error
    assert "État « en cours » enregistré pour l'engagement E005" in at.success[0].value
    historique = at.dataframe[-1].value
    assert historique[["État", "Commentaire", "Saisi par"]].values.tolist() == [
        ["en cours", "Patrouilles renforcées depuis mars", "Équipe de coordination (démo)"]]
    assert metriques(at)["En cours"] == "1" and metriques(at)["Non renseigné"] == "146"
    assert suivi.etats_courants(store_demo, TCM).set_index("code").loc["E005", "etat"] == "en cours"


def test_engagements_realise_survit_a_un_clic_distrait(monkeypatch, store_demo):
    """Le formulaire part de l'état courant ; le renvoyer tel quel n'écrit rien ; revenir en arrière demande une
    confirmation, qu'« Annuler » (le bouton mis en avant) refuse et que « Confirmer » enregistre."""
    suivi.enregistrer_etat(store_demo, TCM, "E005", "réalisé", "2021-11-02", "Quatre orientations engagées")
    at = page(monkeypatch, store_demo, "pages/engagements.py", protocole=TCM, engagement="E005")
    assert at.selectbox(key="nouvel_etat_etat").value == "réalisé"
    assert any("actuellement : **réalisé** depuis le 2 novembre 2021" in m.value for m in at.markdown)
    assert any("Historique (1 état)" in h.value for h in at.subheader)

    at.button(key="enregistrer_etat").click().run()          # le clic distrait : rien ne change
    assert not at.exception and "déjà « réalisé » depuis le 2 novembre 2021 : rien à enregistrer" in at.error[0].value
    assert len(suivi.historique_etats(store_demo, TCM, "E005")) == 1

    at.selectbox(key="nouvel_etat_etat").select("non démarré")
    at.button(key="enregistrer_etat").click().run()          # un retour en arrière : confirmation demandée
    assert not at.exception and "le ferait revenir en arrière" in at.warning[-1].value
    assert len(suivi.historique_etats(store_demo, TCM, "E005")) == 1
    at.button(key="annuler_recul").click().run()
    assert "Rien n'a été enregistré : l'engagement E005 reste « réalisé » depuis le 2 novembre 2021." in \
        at.info[0].value
    assert at.selectbox(key="nouvel_etat_etat").value == "réalisé"
    assert suivi.etats_courants(store_demo, TCM).set_index("code").loc["E005", "etat"] == "réalisé"

    at.selectbox(key="nouvel_etat_etat").select("en cours")
    at.text_area(key="nouvel_etat_commentaire").input("Deuxième tranche relancée")
    at.button(key="enregistrer_etat").click().run()
    at.button(key="confirmer_recul").click().run()
    assert not at.exception
    assert "Retour en arrière confirmé (était « réalisé »)" in at.success[0].value
    assert at.dataframe[-1].value["État"].tolist() == ["en cours", "réalisé"]
    assert at.selectbox(key="nouvel_etat_etat").value == "en cours"


def test_engagements_lien_partage(monkeypatch, store_demo):
    tous = suivi.etats_courants(store_demo, BLOIS)
    code = tous.loc[tous["axe"] == "2", "code"].iloc[3]
    suivi.enregistrer_etat(store_demo, BLOIS, code, "reporté", "2021-06-01", "Attente du financement")
    at = page(monkeypatch, store_demo, "pages/engagements.py", protocole=BLOIS, axe="2", etat="reporté",
              engagement=code)
    assert at.selectbox(key="protocole").value == BLOIS
    assert at.selectbox(key="axe").value == "2"
    assert at.selectbox(key="etat").value == "reporté"
    assert at.selectbox(key="engagement").value == code
    liste = at.dataframe[1].value
    # Le premier niveau de Blois s'appelle « Enjeu » : la colonne dit le mot du protocole (issue 15).
    assert at.selectbox(key="axe").label == "Enjeu"
    axe2 = suivi.etats_courants(store_demo, BLOIS).set_index("code").loc[code, "axe_libelle"]
    assert liste[["Code", "Enjeu", "État", "Commentaire"]].values.tolist() == [
        [code, f"2 — {axe2}", "reporté", "Attente du financement"]]
    assert at.dataframe[-1].value["Saisi par"].tolist() == ["Administratrice de test"]


# --------------------------------------------------------------------------------------------------------------------
# Par QPV
# --------------------------------------------------------------------------------------------------------------------

def test_par_qpv_comparaison(monkeypatch, store_demo):
    at = page(monkeypatch, store_demo, "pages/par_qpv.py", protocole=TCM, periode="2021")
    at.selectbox(key="qpv").select("QN01003M").run()
    assert not at.exception and parametre(at, "qpv") == "QN01003M"
    comp = at.dataframe[0].value
    video = comp.set_index("Indicateur").loc["Nombre de caméras de vidéoprotection raccordées au CSU dans les QPV"]
    assert video["Ce quartier"] == "32"                   # Chantereigne en 2021
    assert video["Autres quartiers : min – médiane – max"] == "4 – 13 – 20 (7 quartiers)"
    assert video["Territoire : valeur · statut"] == "117 · en retard"
    assert sum(int(v) for v in metriques(at).values()) == len(comp)
    # Le graphique compare le quartier choisi (en gras) aux autres, pour l'indicateur choisi.
    fig = figure(at)
    noms = [y for t in fig["data"] for y in t["y"]]
    assert "<b>▶ Chantereigne Montvilliers Beau-Toquat</b>" in noms and len(noms) == 9
    assert fig["layout"]["separators"] == ", "
    # Sans contours importés : la carte prend les contours officiels livrés avec l'application (issue 15).
    assert not any("qpv importer" in i.value for i in at.info)
    assert len(at.get("plotly_chart")) == 2
    assert any("9 quartiers sur 9 sur la carte" in c.value and "livrés avec l'application" in c.value
               for c in at.caption)


def test_par_qpv_changer_d_indicateur_et_lien(monkeypatch, store_demo):
    at = page(monkeypatch, store_demo, "pages/par_qpv.py", protocole=BLOIS, qpv="VA-QUINIERE", periode="2021",
              indicateur="EDU-PARENTS")
    assert at.selectbox(key="qpv").value == "VA-QUINIERE"
    assert at.selectbox(key="periode").value == "2021"
    assert at.selectbox(key="indicateur").value == "EDU-PARENTS"
    noms = [y for t in figure(at)["data"] for y in t["y"]]
    assert "<b>▶ La Quinière</b>" in noms and len(noms) == 2
    at.selectbox(key="indicateur").select("EDU-DECROCHEURS").run()
    assert parametre(at, "indicateur") == "EDU-DECROCHEURS"
    assert not at.exception


@pytest.fixture
def geojson() -> bytes:
    if not REFERENCE.exists():
        pytest.skip(f"GeoJSON de référence absent ({REFERENCE}) : déposez qpv-2024.geojson dans ../shared/reference.")
    return REFERENCE.read_bytes()


def test_par_qpv_import_des_contours_puis_carte(monkeypatch, store_demo, geojson):
    at = page(monkeypatch, store_demo, "pages/par_qpv.py", protocole=TCM, qpv="QN01001I", periode="2021")
    at.file_uploader(key="contours").set_value(("mauvais.geojson", b'{"type": "Feature"}', "application/json")).run()
    assert not at.exception
    assert "Fichier des contours refusé" in at.error[0].value
    assert "geojson-pas-featurecollection" in set(at.dataframe[-1].value["Code"])

    at.file_uploader(key="contours").set_value(("qpv-2024.geojson", geojson, "application/geo+json")).run()
    assert not at.exception and not at.error
    assert "1\u00a0584 contours importés" in at.success[0].value and "9 quartiers sur 9" in at.success[0].value
    carte = figure(at, 1)
    polygones = [t for t in carte["data"] if t.get("fill") == "toself"]
    assert len(polygones) == 9
    assert [t["line"]["width"] for t in carte["data"] if t.get("mode") == "lines" and "fill" not in t] == [7, 3]
    assert "<b>Gare</b>" in next(t for t in carte["data"] if t.get("mode") == "text")["text"]
    assert any("9 quartiers sur 9 sur la carte" in c.value for c in at.caption)

    # Blois : un quartier sur deux a un contour officiel ; la page le dit.
    at = page(monkeypatch, store_demo, "pages/par_qpv.py", protocole=BLOIS, periode="2021")
    assert any("1 quartier sur 2 sur la carte ; sans contour officiel : VA-QUINIERE" in c.value for c in at.caption)


# --------------------------------------------------------------------------------------------------------------------
# Par signataire
# --------------------------------------------------------------------------------------------------------------------

def test_par_signataire(monkeypatch, store_demo):
    suivi.enregistrer_etat(store_demo, TCM, "E001", "réalisé", "2021-12-01", None)
    at = page(monkeypatch, store_demo, "pages/par_signataire.py", protocole=TCM, signataire="ETAT", periode="2021")
    assert at.selectbox(key="signataire").value == "ETAT"
    m = metriques(at)
    assert m["Engagements portés"] == "80" and m["Engagements réalisés"] == "1"
    assert "État" in textes(at) and "Avec ses services" in textes(at)
    recus, attendus = (int(x) for x in m["Valeurs reçues (2021)"].split(" sur "))
    assert 0 < recus <= attendus
    assert len(at.get("plotly_chart")) == 2

    at.selectbox(key="signataire").select("CAF10").run()
    assert not at.exception and parametre(at, "signataire") == "CAF10"
    assert "CAF de l'Aube" in textes(at)
    depots = at.dataframe[-1].value
    assert set(depots["Par"]) == {"CAF de l'Aube"}
    completude = at.dataframe[-2].value
    assert completude["Signataire ou service"].tolist() == ["CAF de l'Aube"]


def test_par_signataire_semestre_et_cas_vides(monkeypatch, store_demo):
    # Le Département de Loir-et-Cher porte 3 engagements mais ne déclare aucun indicateur.
    at = page(monkeypatch, store_demo, "pages/par_signataire.py", protocole=BLOIS, signataire="CD41",
              periode="2021-S1")
    assert at.selectbox(key="signataire").value == "CD41"
    assert at.selectbox(key="periode").value == "2021-S1"
    assert not at.error
    assert metriques(at)["Engagements portés"] == "3"
    infos = " ".join(i.value for i in at.info)
    assert "Ni ce signataire ni ses services ne déclarent d'indicateur." in infos
    assert "Rien n'est attendu de ce signataire pour 2021-S1." in infos
    assert "Aucun dépôt de ce signataire ni de ses services." in infos
    # La CPAM, l'inverse : un indicateur, aucun engagement.
    at.selectbox(key="signataire").select("CPAM41").run()
    assert not at.exception
    assert "Ni ce signataire ni ses services ne portent d'engagement." in " ".join(i.value for i in at.info)
    assert metriques(at)["Engagements portés"] == "0"
    # Un signataire qui ne porte ni ne déclare rien n'est pas proposé.
    options = at.selectbox(key="signataire").options
    assert any("(CPAM41)" in o for o in options) and not any("(CONSEIL-CITOYEN)" in o for o in options)
