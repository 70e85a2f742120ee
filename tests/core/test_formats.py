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
