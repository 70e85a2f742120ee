"""Le rapport annuel selon le décret n° 2015-1118, lu comme un membre du COPIL, un évaluateur et la coordination le liraient
(Troyes et Blois 2022, démonstration) : les sections du décret, la synthèse qui dit pourquoi un indicateur est en retard,
chaque chiffre qui cite son dépôt, les états des engagements au 31 décembre, les textes et avis de la coordination
(versionnés, journalisés, sauvegardés), l'ordre de l'arbre des engagements, et la nature des indicateurs.
"""
from __future__ import annotations

import datetime as dt
import io
import re

import openpyxl
import pandas as pd
import pytest

from perr_metrics import cli, rapport
from perr_metrics.acces import journal, sauvegarde
from perr_metrics.depots import depot as depots
from perr_metrics.pilotage import avancement, suivi
from perr_metrics.referentiel import classeur as referentiel
from perr_metrics.stockage.magasin import Store
from tests import classeurs
from tests.conftest import ADMIN
from tests.core.test_referentiel import refus

TCM, BLOIS = "TCM-PERR-2019", "BLOIS-PERR-2020"
ETABLI = dt.date(2026, 12, 7)
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"
MOTS_DU_DECRET = ("Rappel des orientations", "Évolution de la situation des quartiers", "Actions menées",
                  "Moyens mobilisés", "Résultats", "Perspectives", "Renouvellement urbain",
                  "Avis des conseils citoyens")
RE_CITATION = re.compile(r"^dépôt n° \d+, [^,]+.*, \d{1,2}(er)? \w+ \d{4}$")


def texte_de(blocs) -> str:
    morceaux = []
    for b in blocs:
        if isinstance(b, rapport.Paragraphe):
            morceaux.append(b.texte)
        elif isinstance(b, rapport.Liste):
            morceaux += b.elements
        elif isinstance(b, rapport.Tableau):
            morceaux += [str(v) for v in b.donnees.astype(str).values.ravel()]
    return "\n".join(morceaux)


@pytest.fixture(scope="module")
def rapports(base_demo, tmp_path_factory):
    from tests.conftest import copie_de_base
    s = copie_de_base(base_demo, tmp_path_factory.mktemp("decret"))
    # Deux engagements de Blois qui bougent en 2022 : l'un réalisé, l'autre reporté, chacun avec son commentaire.
    etats = suivi.etats_courants(s, BLOIS)
    e1, e2 = etats.loc[etats["etat"] == suivi.NON_RENSEIGNE, "code"].iloc[:2]
    suivi.enregistrer_etat(s, BLOIS, e1, "réalisé", dt.date(2022, 6, 15), "Chantier livré en juin",
                           aujourd_hui=dt.date(2022, 6, 15))
    suivi.enregistrer_etat(s, BLOIS, e2, "reporté", dt.date(2022, 9, 1), "Opérateur défaillant, marché relancé",
                           aujourd_hui=dt.date(2022, 9, 1))
    return s, {code: rapport.construire_rapport(s, code, 2022, etabli_le=ETABLI) for code in (TCM, BLOIS)}


def test_sections_du_decret(rapports):
    s, rs = rapports
    for code, r in rs.items():
        titres = [t for _, t in r.sommaire]
        for mots in MOTS_DU_DECRET:
            assert any(mots in t for t in titres), (code, mots)
        # Dans l'ordre du décret, puis les annexes.
        ancres = [x.ancre for x in r.sections if x.niveau == 1]
        assert ancres[:9] == ["synthese", "orientations", "quartiers", "actions", "moyens", "resultats",
                              "perspectives", "renouvellement-urbain", "avis"]
        # L'aperçu de la page annonce le même sommaire.
        assert rapport.apercu(s, code, 2022, etabli_le=ETABLI).sommaire == r.sommaire
        # Les axes sont sous « Résultats », avec leurs seuls indicateurs de réalisation et de résultat.
        natures = dict(zip(*[rapport._indicateurs(s, code)[c] for c in ("code", "nature")]))
        for x in r.sections:
            if x.ancre.startswith("axe-"):
                assert x.niveau == 2 and x.titre.startswith("6.")
                t = next(b for b in x.blocs if isinstance(b, rapport.Tableau) and b.detail == "Précisions")
                assert {natures[c] for c in t.donnees["Code"]} <= {"réalisation", "résultat"}
        # Le contexte des quartiers : chaque quartier, l'année précédente et les autres quartiers.
        ctx = next(b for b in r.section("quartiers").blocs if isinstance(b, rapport.Tableau))
        assert {natures[c] for c in ctx.donnees["Code"]} == {"contexte"}
        assert {"Valeur 2021", "Valeur 2022", "Sur un an", "Autres quartiers 2022"} <= set(ctx.donnees.columns)
        # Les autres quartiers réunis, pour chaque valeur d'un indicateur agrégeable.
        renseignees = ctx.donnees[ctx.donnees["Valeur 2022"].notna() & (ctx.donnees["Code"] != "EMP-TX-ACTIVITE")]
        assert len(renseignees) and renseignees["Autres quartiers 2022"].notna().all()
        # Les perspectives et le renouvellement urbain restent à écrire : le rapport le dit.
        assert "À rédiger par la coordination" in texte_de(r.section("perspectives").blocs)
    # Les moyens : par financement et financeur.
    moyens = {code: next(b for b in r.section("moyens").blocs if isinstance(b, rapport.Tableau)).donnees
              for code, r in rs.items()}
    assert "crédits spécifiques" in set(moyens[BLOIS]["Financement"])
    assert {"droit commun", "crédits spécifiques"} <= set(moyens[TCM]["Financement"])
    assert "CAF" not in set(moyens[TCM]["Financeur"])    # le financeur : le signataire qui déclare l'indicateur
    # Le contexte « autres quartiers » : la règle d'agrégation d'avancement sur les autres quartiers.
    r = rs[TCM]
    ctx = next(b for b in r.section("quartiers").blocs if isinstance(b, rapport.Tableau)).donnees
    ligne = ctx[ctx["Code"] == "PE-ASSMAT"].iloc[0]
    qpv = rapport._perimetres(s, TCM).query("niveau == 'QPV'")
    code_q = qpv.loc[qpv["libelle"] == ligne["Quartier"], "code"].iloc[0]
    autres = [c for c in qpv["code"] if c != code_q]
    attendu = avancement.indicateurs_au_territoire(s, TCM, "2022", perimetres=autres).set_index("indicateur")
    assert ligne["Autres quartiers 2022"] == pytest.approx(attendu.at["PE-ASSMAT", "valeur"])


def test_actions_menees_par_porteur_avec_commentaires(rapports):
    s, rs = rapports
    r = rs[BLOIS]
    t = next(b for b in r.section("actions").blocs if isinstance(b, rapport.Tableau))
    df = t.donnees
    assert t.detail == "Commentaire" and len(df)
    # Chaque ligne : un changement d'état depuis le 31 décembre 2021, ou un état daté de 2022.
    for row in df.itertuples(index=False):
        assert row[5] != row[6] or (row[7] is not None and str(row[7])[:4] == "2022")
    # Regroupées par porteur (le premier nommé), dans l'ordre des signataires.
    porteurs = list(df["Porteur"])
    assert porteurs == sorted(porteurs, key=lambda p: [i for i, x in enumerate(dict.fromkeys(porteurs)) if x == p][0])
    assert any(c.startswith("« Chantier livré en juin » (") for c in df["Commentaire"])
    assert any("Opérateur défaillant" in c for c in df["Commentaire"])


def test_la_synthese_dit_pourquoi_et_quoi_decider(rapports):
    s, rs = rapports
    for code, r in rs.items():
        texte = texte_de(r.section("synthese-copil").blocs)
        for tete in ("Ce qui progresse le plus", "Ce qui est en retard, et pourquoi", "Ce qui manque",
                     "Questions pour le COPIL"):
            assert tete in texte, (code, tete)
        # Un commentaire de partenaire sur une valeur en retard, cité avec son dépôt.
        assert re.search(r"Le partenaire l'explique : « [^»]+ » \(dépôt n° \d+, ", texte), code
        # Ce qui manque : la complétude et les dépôts que personne n'a revus.
        comp = depots.completude(s, code, "2022").par_signataire
        manquent = int(comp["attendus"].sum() - comp["recus"].sum())
        assert f"{manquent} valeurs attendues manquent pour 2022" in texte.replace("\u202f", " ").replace("\xa0", " ")
        assert "n'a été revu par la coordination" in texte
    # Le même commentaire, dans « Résultats » : les raisons données par les partenaires.
    assert re.search(r"Engagement \w+ \(.+\) reporté : « Opérateur défaillant, marché relancé » \(Administratrice "
                     r"de test, 1er septembre 2022\)", texte_de(rs[BLOIS].section("synthese-copil").blocs))
    r = rs[TCM]
    retards = next(b for b in r.section("resultats").blocs if isinstance(b, rapport.Tableau)).donnees
    commentaires = s.requete("SELECT DISTINCT commentaire FROM valeur WHERE protocole = ? AND annee = 2022 AND "
                             "commentaire LIKE '%(démonstration).'", [TCM])["commentaire"]
    assert any(c in " ".join(retards["Raisons données"]) for c in commentaires)


def test_chaque_valeur_cite_son_depot(rapports):
    s, rs = rapports
    r = rs[TCM]
    dep = depots.liste_depots(s, TCM).set_index("id")
    vus = 0
    for section, t in r.tableaux():
        if not isinstance(t, rapport.Tableau) or "Source" not in t.donnees.columns or t.feuille == "Sources":
            continue
        for source in t.donnees["Source"]:
            for morceau in filter(None, str(source).split(" ; ")):
                assert RE_CITATION.match(morceau), morceau
                n = int(re.search(r"n° (\d+)", morceau).group(1))
                assert dep.at[n, "signataire_nom"] in morceau
                vus += 1
    assert vus > 100
    # L'annexe : les dépôts de toutes les valeurs montrées, quelle que soit leur année.
    annexe = next(b for b in r.section("methode-depots").blocs if isinstance(b, rapport.Tableau)).donnees
    periodes = set(annexe.loc[annexe["Fait foi"] == "oui", "Période"])
    assert {"2019", "2020", "2021", "2022"} <= periodes
    valeurs = depots.valeurs_courantes(s, TCM)
    assert set(valeurs["depot_id"]) <= set(annexe["N°"])
    # La page de garde : trois dates distinctes.
    couverture = dict(r.couverture)
    assert couverture["État des engagements au"] == "31 décembre 2022"
    assert couverture["Données"].startswith("valeurs déposées jusqu'au ")
    assert couverture["Rapport établi le"] == "7 décembre 2026"


def test_etats_au_31_decembre_et_date_demandee(store_demo, monkeypatch, tmp_path):
    s = store_demo
    eng = suivi.etats_courants(s, BLOIS)
    code = eng.loc[eng["etat"] == suivi.NON_RENSEIGNE, "code"].iloc[0]
    suivi.enregistrer_etat(s, BLOIS, code, "en cours", dt.date(2023, 2, 1), "Lancé en 2023",
                           aujourd_hui=dt.date(2023, 2, 1))
    r = rapport.construire_rapport(s, BLOIS, 2022, etabli_le=ETABLI)
    assert r.au == dt.date(2022, 12, 31)
    tous = rapport._tableau_engagements(rapport._charger(s, BLOIS, 2022, ETABLI).engagements, "l", "f").donnees
    assert tous.set_index("Code").at[code, "État"] == rapport.NON_RENSEIGNE    # saisi pour 2023 : absent
    # Refait plus tard, même rapport ; à une autre date, l'état de cette date.
    assert rapport.construire_rapport(s, BLOIS, 2022, etabli_le=dt.date(2030, 1, 1)).chiffres == r.chiffres
    r2 = rapport.construire_rapport(s, BLOIS, 2022, dt.date(2023, 3, 1), etabli_le=ETABLI)
    assert r2.chiffres["etats"]["en cours"] == r.chiffres["etats"]["en cours"] + 1
    assert "1er mars 2023" in dict(r2.couverture)["État des engagements au"]
    # Un état « en cours » vieux de plus d'un an est signalé.
    d = rapport._charger(s, BLOIS, 2022, ETABLI)
    dates = pd.to_datetime(d.engagements["date_etat"])
    vieux = d.engagements[(d.engagements["etat"] == "en cours") & (dates < pd.Timestamp(2021, 12, 31))]
    assert len(vieux) and d.engagements.loc[vieux.index, "a_actualiser"].all()
    tab = rapport._tableau_engagements(d.engagements, "l", "f").donnees.set_index("Code")
    assert set(tab.loc[vieux["code"], "À actualiser"]) == {"non mis à jour depuis plus d'un an"}
    # La ligne de commande : --au.
    monkeypatch.setattr("perr_metrics.rapport.graphiques._rendre_kaleido", lambda g, delai: [None for _ in g])
    from tests.conftest import creer_coordination
    try:
        creer_coordination(s)
    except Exception:  # noqa: BLE001 - la démonstration a déjà son compte de coordination
        pass
    sortie = tmp_path / "r.xlsx"
    assert cli.main(["--db", str(s.chemin), "rapport", "--protocole", BLOIS, "--annee", "2022", "--au",
                     "2023-03-01", str(sortie)]) == 0
    wb = openpyxl.load_workbook(sortie)
    assert any("État au 01/03/2023" in str(c.value) for ws in wb.worksheets for row in ws.iter_rows()
               for c in row if c.value)
    with pytest.raises(SystemExit) as fin:
        cli.main(["--db", str(s.chemin), "rapport", "--protocole", BLOIS, "--annee", "2022", "--au", "hier",
                  str(sortie)])
    assert fin.value.code == 2


def test_engagements_de_blois_dans_l_ordre_de_l_arbre(rapports):
    s, rs = rapports
    eng = rapport._engagements(s, BLOIS)
    parents = dict(zip(eng["code"], eng["parent"]))
    assert parents["B004"] == "B003"
    d = rapport._charger(s, BLOIS, 2022, ETABLI)
    codes = list(d.engagements["code"])
    assert codes.index("B003") < codes.index("B004") < codes.index("B005")
    # Chaque sous-engagement suit son parent (ou un autre sous-engagement du même parent).
    for i, c in enumerate(codes):
        p = parents.get(c)
        if isinstance(p, str):
            j = codes.index(p)
            assert j < i and all(isinstance(parents.get(x), str) for x in codes[j + 1:i])
    # La colonne « Parent » dans les tableaux des engagements du rapport et du classeur.
    axe = next(x for x in rs[BLOIS].sections if x.ancre == "axe-1")
    t = next(b for b in axe.blocs if isinstance(b, rapport.Tableau) and b.feuille.endswith("engagements"))
    assert "Parent" in t.colonnes and t.donnees.set_index("Code").at["B004", "Parent"] == "B003"


def test_textes_et_avis_versionnes_journalises_sauvegardes(store_demo, tmp_path):
    s = store_demo
    assert rapport.enregistrer_texte(s, BLOIS, 2022, "synthèse", "Une année de transition.\n- Retards : emploi.") == 1
    assert rapport.enregistrer_texte(s, BLOIS, 2022, "synthèse", "Une année de reprise :\n- Emploi en hausse.") == 2
    rapport.enregistrer_texte(s, BLOIS, 2022, "perspectives", "Relancer le comité technique emploi.")
    rapport.joindre_avis(s, BLOIS, 2022, "Conseil citoyen Blois Nord", "2023-04-03", texte="Avis favorable.")
    rapport.joindre_avis(s, BLOIS, 2022, "Conseil municipal de Blois", dt.date(2023, 4, 10), fichier=PDF,
                         fichier_nom="deliberation.pdf")
    with pytest.raises(ValueError, match="pas un PDF"):
        rapport.joindre_avis(s, BLOIS, 2022, "X", "2023-04-03", fichier=b"PK\x03\x04", fichier_nom="a.docx")
    with pytest.raises(ValueError, match="vide"):
        rapport.joindre_avis(s, BLOIS, 2022, "X", "2023-04-03", texte="  ")
    with pytest.raises(rapport.RapportImpossible, match="hors de la période"):
        rapport.enregistrer_texte(s, BLOIS, 2031, "synthèse", "x")

    tx = rapport.textes_du_rapport(s, BLOIS, 2022)
    assert tx.texte("synthèse").startswith("Une année de reprise") and tx.textes["synthèse"].version == 2
    assert [a.cle for a in tx.avis] == ["Conseil citoyen Blois Nord", "Conseil municipal de Blois"]
    assert len(rapport.historique_textes(s, BLOIS, 2022)) == 5
    j = journal.lire_journal(s)
    assert (j["action"] == "texte du rapport").sum() == 5

    r = rapport.construire_rapport(s, BLOIS, 2022, etabli_le=ETABLI)
    copil = r.section("synthese-copil").blocs
    assert copil[0] == rapport.Paragraphe("Une année de reprise :", "chapeau")
    assert copil[1] == rapport.Liste(["Emploi en hausse."])
    assert "version 2" in copil[-1].texte
    assert "Relancer le comité technique emploi." in texte_de(r.section("perspectives").blocs)
    avis = [x for x in r.sections if x.ancre.startswith("avis-")]
    assert [x.titre for x in avis] == ["A.1. Conseil citoyen Blois Nord (3 avril 2023)",
                                       "A.2. Conseil municipal de Blois (10 avril 2023)"]
    assert "Avis favorable." in texte_de(avis[0].blocs) and "deliberation.pdf" in texte_de(avis[1].blocs)
    assert rapport.apercu(s, BLOIS, 2022, etabli_le=ETABLI).sommaire == r.sommaire

    # Retirer un avis : une version vide ; l'historique garde tout.
    rapport.retirer_avis(s, BLOIS, 2022, "Conseil citoyen Blois Nord")
    assert [a.cle for a in rapport.textes_du_rapport(s, BLOIS, 2022).avis] == ["Conseil municipal de Blois"]
    assert len(rapport.historique_textes(s, BLOIS, 2022)) == 6

    # Une sauvegarde emporte les textes et les avis, octets du PDF compris.
    dossier = sauvegarde.sauvegarder(s, tmp_path / "sauvegarde")
    autre = Store(tmp_path / "autre.duckdb", utilisateur=ADMIN)
    autre.initialiser()
    sauvegarde.restaurer(autre, dossier)
    assert rapport.textes_du_rapport(autre, BLOIS, 2022) == rapport.textes_du_rapport(s, BLOIS, 2022)
    pdf = rapport.textes_du_rapport(autre, BLOIS, 2022).avis[0]
    assert rapport.fichier_avis(autre, BLOIS, pdf.id) == ("deliberation.pdf", PDF)


def test_nature_des_indicateurs_dans_le_referentiel(store, store_demo, tmp_path):
    # Exportée telle qu'importée (le financement avec la nature).
    flux = io.BytesIO()
    referentiel.exporter_referentiel(store_demo, TCM, flux)
    ws = openpyxl.load_workbook(io.BytesIO(flux.getvalue()))["Indicateurs"]
    entetes = [c.value.rstrip(" *") if c.value else c.value for c in ws[1]]
    col = entetes.index("Nature")
    natures = {row[0].value: row[col].value for row in ws.iter_rows(min_row=2) if row[0].value}
    assert natures["LOG-TFPB"] == "moyen (droit commun)" and natures["ASSO-FONJEP"] == "moyen (crédits spécifiques)"
    assert natures["EMP-CHOMAGE-TAUX"] == "contexte" and natures["EMP-APPRENTIS"] == "résultat"
    # Sans la colonne : « résultat » ; une valeur hors de la liste est refusée, avec sa cellule.
    referentiel.importer_referentiel(store, classeurs.ecrire(tmp_path))
    assert set(rapport._indicateurs(store, "EQ2030-TEST")["nature"]) == {"résultat"}
    d = classeurs.donnees()
    d["indicateurs"][0]["nature"] = "impact"
    assert any(code == "valeur-hors-liste" and cellule.startswith("Indicateurs!")
               for cellule, code in refus(store, classeurs.ecrire(tmp_path, d, "mauvais.xlsx")))
