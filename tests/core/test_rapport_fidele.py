"""Le rapport annuel du troisième protocole (issue 15, tests/protocole_fidele.py) : il se lit dans les mots du
protocole — noms de ses niveaux, porteurs nommés ou « sans porteur désigné », nature de chaque item, volets, lignes de
signature, territoire de veille active appelé par son type —, ses phrases comptées sont accordées, et la référence
sommée sur les quartiers s'écrit avec son année."""
from __future__ import annotations

import datetime as dt
import io
import re

import openpyxl
import pytest

from perr_metrics import rapport
from perr_metrics.pilotage import suivi
from perr_metrics.referentiel import requetes
from perr_metrics.referentiel.classeur import importer_referentiel
from tests import protocole_fidele as pf
from tests.core.test_rapport_decret import texte_de

ETABLI = dt.date(2026, 1, 10)


@pytest.fixture(scope="module")
def fidele(tmp_path_factory):
    from perr_metrics.stockage.magasin import Store
    from tests.conftest import ADMIN
    dossier = tmp_path_factory.mktemp("rapport-fidele")
    s = Store(dossier / "perr.duckdb", delai_verrou=10, utilisateur=ADMIN)
    importer_referentiel(s, pf.ecrire(dossier))
    # Un objectif sans porteur et deux engagements réalisés en 2025 : des états à compter et à ranger par porteur.
    for code, commentaire in (("O1", "Quarante femmes accompagnées"), ("E3", "Deux médiateurs recrutés"),
                              ("C2", "Café des parents ouvert")):
        suivi.enregistrer_etat(s, pf.CODE, code, "réalisé", dt.date(2025, 6, 30), commentaire,
                               aujourd_hui=dt.date(2025, 6, 30))
    return s, rapport.construire_rapport(s, pf.CODE, 2025, etabli_le=ETABLI)


def _classeur(r) -> openpyxl.Workbook:
    flux = io.BytesIO()
    rapport.ecrire(r, "xlsx", flux)
    return openpyxl.load_workbook(io.BytesIO(flux.getvalue()))


def _tableaux(r, feuille_commence):
    return [b for x in r.sections for b in x.blocs if isinstance(b, rapport.Tableau)
            and b.feuille.startswith(feuille_commence)]


def test_les_axes_portent_le_nom_des_niveaux_du_protocole(fidele):
    s, r = fidele
    titres = [t for _, t in r.sommaire]
    assert "6.1. Priorité P1 — Emploi et insertion professionnelle" in titres
    assert "6.3. Objectif de la cité éducative CE1 — Conforter le rôle de l'école" in titres
    assert "6.6. Orientation FED1 — Veiller à la tranquillité du quartier de la Fédération" in titres
    assert not any(re.match(r"6\.\d+\. Axe ", t) for t in titres)
    assert rapport.apercu(s, pf.CODE, 2025, etabli_le=ETABLI).sommaire == r.sommaire


def test_porteurs_nommes_natures_et_sans_porteur_designe(fidele):
    s, r = fidele
    t = next(b for b in _tableaux(r, "Axe P1 engagements"))
    lignes = t.donnees.set_index("Code")
    assert lignes.loc["O1", "Porteurs"] == requetes.SANS_PORTEUR == lignes.loc["A1", "Porteurs"]
    assert lignes.loc["E2", "Porteurs"] == "Communauté d'agglomération Meuse Grand Sud, Ville de Bar-le-Duc"
    assert lignes.loc["E2", "Codes des porteurs"] == "MGS, V-BLD"
    assert list(lignes["Nature"]) == ["Objectif opérationnel", "Exemple d'action", "Engagement", "Engagement"]
    assert "Nature" in t.colonnes and "Codes des porteurs" not in t.colonnes   # imprimée ; les codes, au classeur
    # Les actions de l'année : un objectif sans porteur est rangé sous « sans porteur désigné », après les autres.
    actions = next(b for b in r.section("actions").blocs if isinstance(b, rapport.Tableau)).donnees
    assert list(actions["Porteur"]) == ["État", "Ville de Bar-le-Duc", requetes.SANS_PORTEUR]
    assert "3 engagements en 2025 : 3 réalisés au 31 décembre 2025" in texte_de(r.section("actions").blocs)


def test_engagements_par_signataire_avec_la_ligne_sans_porteur(fidele):
    s, r = fidele
    t = next(b for b in r.section("synthese-engagements").blocs
             if isinstance(b, rapport.Tableau) and b.feuille == "Engagements par signataire")
    attendu = suivi.engagements_par_signataire(s, pf.CODE)
    assert list(t.donnees["Engagements"]) == list(attendu["nb_engagements"])
    assert list(t.donnees["Réalisé"]) == list(attendu["réalisé"])
    derniere = t.donnees.iloc[-1]
    assert derniere["Signataire"] == "Sans porteur désigné" and derniere["Engagements"] == 5
    assert derniere["Réalisé"] == 1 and derniere["Non renseigné"] == 4
    assert "5 items du protocole n’ont aucun porteur" in texte_de(r.section("synthese-engagements").blocs)


def test_textes_volets_et_signatures(fidele):
    s, r = fidele
    orientations = texte_de(r.section("orientations").blocs)
    assert ("Priorité P1 — Emploi et insertion professionnelle : Objectif stratégique : ramener le taux de chômage"
            in orientations)
    volets = next(b for b in r.section("orientations").blocs if isinstance(b, rapport.Tableau)
                  and b.feuille == "Volets").donnees
    assert list(volets["Volet"]) == ["Cité éducative de la Côte Sainte-Catherine", "Annexe — Quartier de la Fédération"]
    assert list(volets["Quartiers"]) == ["Côte Sainte-Catherine-Libération", "Quartier de la Fédération"]
    assert list(volets["Engagements"]) == [3, 1]
    liste = next(b for b in r.section("annexe-signataires").blocs if isinstance(b, rapport.Liste))
    assert len(liste.elements) == 6 and sum(e.startswith("Ville de Bar-le-Duc (") for e in liste.elements) == 2
    assert liste.elements[0] == ("État (Le préfet de la Meuse, Jean Martin) : Contrat de ville de Bar-le-Duc "
                                 "2015-2020, signé le 3 juillet 2015.")
    assert liste.elements[4].endswith(f"{pf.DONNEES['protocole'][0]['titre']}, signé le 2 avril 2024.")
    assert liste.elements[5].endswith(", date non renseignée.")
    assert "6 lignes de signature, telles que le protocole les écrit :" in texte_de(
        r.section("annexe-signataires").blocs)


def test_la_veille_active_est_appelee_par_son_type(fidele):
    s, r = fidele
    feuilles = [b.feuille for x in r.sections for b in x.blocs if isinstance(b, rapport.Tableau)]
    assert f"Veille active {pf.VEILLE}" in feuilles and f"QPV {pf.QPV}" in feuilles
    assert f"QPV {pf.VEILLE}" not in feuilles
    assert f"Territoire de veille active {pf.VEILLE}" in texte_de(r.section(f"qpv-{pf.VEILLE.lower()}").blocs)
    # Le classeur retrouve le code du périmètre des deux sortes de quartiers.
    wb = _classeur(r)
    ws = wb["Indicateurs"]
    entetes = [c.value for c in ws[1]]
    codes = {row[entetes.index("Code du périmètre")].value for row in ws.iter_rows(min_row=2)}
    assert {pf.QPV, pf.VEILLE} <= codes
    # « Nature » des engagements dans la feuille Engagements, et seulement là : pas de collision avec les indicateurs.
    assert "Nature" in [c.value for c in wb["Engagements"][1]] and "Nature" not in entetes


def test_phrases_comptees_accordees(fidele):
    s, r = fidele
    tout = "\n".join(texte_de(x.blocs) for x in r.sections)
    assert "2 non renseignés" in tout and "3 réalisés" in tout
    for faute in (r"\b([2-9]|\d{2,}) (non renseigné|réalisé|non démarré|reporté|abandonné|atteint)(?![s\w])",
                  r"\b\d+ autre changements", r"\b1 indicateurs? non agrégeables? se lisent"):
        assert not re.search(faute, tout), (faute, re.search(faute, tout))


def test_reference_sommee_ecrite_avec_son_annee(fidele):
    s, r = fidele
    t = next(b for b in _tableaux(r, "Axe P1 indicateurs"))
    ligne = t.donnees.set_index("Code").loc["DEFM-F"]
    assert ligne["Référence"] == 225 and ligne["Année de référence"] == 2023
    assert ligne["Précisions"].rstrip().endswith("Référence sommée sur les 2 quartiers.")
    imprime = t.affichage().set_index("Code").loc["DEFM-F"]
    assert imprime["Référence"] == "225 (2023)" and not imprime["Référence"].startswith("–")
