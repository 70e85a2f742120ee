"""Écritures françaises des nombres et des dates."""
import datetime as dt

import pytest

from perr_metrics.commun.formats import (NombreInvalide, format_date, format_date_heure, format_nombre, format_pourcent,
                                  lire_date, lire_nombre, neutraliser_formule)

NBSP = "\u00a0"


@pytest.mark.parametrize("x,attendu", [
    (1234.5, f"1{NBSP}234,5"), (1234567, f"1{NBSP}234{NBSP}567"), (0, "0"), (-2.25, "-2,2"), (12.0, "12"),
    (0.04, "0,04"), (None, "–"), (float("nan"), "–"),
])
def test_format_nombre(x, attendu):
    assert format_nombre(x) == attendu


def test_format_pourcent_et_dates():
    assert format_pourcent(12.5) == f"12,5{NBSP}%"
    assert format_date(dt.date(2021, 2, 12)) == "12 février 2021"
    assert format_date(dt.date(2021, 8, 1)) == "1er août 2021"
    assert format_date_heure(dt.datetime(2021, 12, 3, 9, 5)) == "3 décembre 2021 à 9 h 05"


@pytest.mark.parametrize("saisie,attendu", [
    ("1 234,5", (1234.5, False)), (f"1{NBSP}234,5", (1234.5, False)), ("1\u202f234", (1234.0, False)),
    ("12,5 %", (12.5, True)), ("12.5", (12.5, False)), (3.0, (3.0, False)), ("-4", (-4.0, False)),
])
def test_lire_nombre(saisie, attendu):
    assert lire_nombre(saisie) == attendu


@pytest.mark.parametrize("saisie", ["n/a", "abc", "", "1,2,3", True, dt.date(2021, 1, 1), float("nan")])
def test_lire_nombre_refuse(saisie):
    with pytest.raises(NombreInvalide):
        lire_nombre(saisie)


def test_lire_date():
    assert lire_date("12/02/2021") == dt.date(2021, 2, 12)
    assert lire_date("2021-02-12") == dt.date(2021, 2, 12)
    assert lire_date("1er août 2021") == dt.date(2021, 8, 1)
    with pytest.raises(ValueError):
        lire_date("demain")


def test_neutraliser_formule():
    assert neutraliser_formule("=SUM(A1)") == "'=SUM(A1)"
    assert neutraliser_formule("@SUM(A1)") == "'@SUM(A1)"
    assert neutraliser_formule("Texte") == "Texte"
    assert neutraliser_formule(12) == 12


# --------------------------------------------------------------------------------------------------------------------
# Accord et pluriel du texte généré (issue 15) : 0, 1 et n
# --------------------------------------------------------------------------------------------------------------------

def test_accord_sur_zero_un_et_n():
    from perr_metrics.commun.formats import accord, pluriel
    assert [accord(n, "indicateur") for n in (0, 1, 21)] == ["aucun indicateur", "1 indicateur", "21 indicateurs"]
    assert [accord(n, "commune", feminin=True) for n in (0, 1, 2)] == ["aucune commune", "1 commune", "2 communes"]
    assert accord(1234, "indicateur") == "1\u00a0234 indicateurs"
    assert [accord(n, "non renseigné", "non renseignés") for n in (0, 1, 21)] == [
        "aucun non renseigné", "1 non renseigné", "21 non renseignés"]
    assert [accord(n, "autre changement", "autres changements") for n in (1, 21)] == [
        "1 autre changement", "21 autres changements"]
    assert accord(0, "valeur", zero="rien") == "rien"
    assert accord(0, "indicateur", zero="0 indicateur") == "0 indicateur"
    n = 1
    assert (f"{accord(n, 'indicateur non agrégeable', 'indicateurs non agrégeables')} "
            f"{pluriel(n, 'se lit', 'se lisent')} quartier par quartier") == \
        "1 indicateur non agrégeable se lit quartier par quartier"
    n = 3
    assert f"{accord(n, 'engagement')} {pluriel(n, 'réalisé')}" == "3 engagements réalisés"
    assert [pluriel(n, m) for n, m in ((2, "local"), (2, "niveau"), (2, "enjeu"), (2, "prix"), (0, "jour"),
                                       (1.5, "jour"), (2.5, "jour"))] == [
        "locaux", "niveaux", "enjeux", "prix", "jour", "jour", "jours"]
    with pytest.raises(ValueError):
        pluriel(2, "exemple d'action")
    assert pluriel(2, "exemple d'action", "exemples d'actions") == "exemples d'actions"
