"""Page « Référentiel » sous AppTest : un réimport montre ce qu'il changerait et attend la confirmation ; la page montre
le référentiel en base."""
from __future__ import annotations

import copy

from tests import classeurs
from tests.ui.test_pages import XLSX, app, metriques


def test_reimport_apercu_puis_confirmation(monkeypatch, store_demo, tmp_path):
    at = app(monkeypatch, store_demo.chemin, page="referentiel.py")
    at.file_uploader(key="classeur").set_value(("v1.xlsx", classeurs.ecrire(tmp_path).read_bytes(), XLSX)).run()
    at.button(key="confirmer_import").click().run()
    assert "EQ2030-TEST créé" in at.success[0].value

    d = copy.deepcopy(classeurs.REFERENTIEL_MINIMAL)
    d["engagements"][0]["libelle"] = "Renforcer la présence des services publics de proximité"
    d["cibles"][0]["valeur"] = 300
    v2 = classeurs.ecrire(tmp_path, d, "v2.xlsx").read_bytes()
    at.file_uploader(key="classeur").set_value(("v2.xlsx", v2, XLSX)).run()
    assert not at.exception and not at.success           # rien d'importé d'office
    resume = at.dataframe[0].value.set_index("Quoi")
    assert resume.loc["Engagements", "Modifiés"] == 1 and resume.loc["Cibles", "Modifiés"] == 1
    assert resume["Ajoutés"].sum() == 0 and resume["Retirés"].sum() == 0
    detail = at.dataframe[1].value
    assert detail[["Code", "Changement", "Ce qui change"]].values.tolist()[0] == [
        "E1", "modifié", "libellé : « Renforcer la présence des services publics » → « Renforcer la présence des "
        "services publics de proximité »"]
    libelle = lambda: store_demo.requete("SELECT libelle FROM engagement WHERE protocole = 'EQ2030-TEST' "  # noqa: E731
                                         "AND code = 'E1'")["libelle"][0]
    assert libelle() == "Renforcer la présence des services publics"
    at.button(key="confirmer_import").click().run()
    assert not at.exception and "EQ2030-TEST mis à jour" in at.success[0].value
    assert libelle() == "Renforcer la présence des services publics de proximité"


def test_referentiel_en_base(monkeypatch, store_demo):
    at = app(monkeypatch, store_demo.chemin, page="referentiel.py")
    at.selectbox(key="referentiel_vu").select("TCM-PERR-2019").run()
    assert not at.exception
    m = metriques(at)
    assert m["Engagements"] == "147" and m["Nœuds"] == "17"
    engagements = at.dataframe[1].value
    assert len(engagements) == 147 and engagements["Porteurs"].str.len().min() > 0
