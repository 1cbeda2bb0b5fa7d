"""Every published case in ../shared/agreement_cases/ (value, and SE/CI/z/pa/pe where given)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import crowdagg.agreement as A
from tests.conftest import SHARED

CASES = sorted((SHARED / "agreement_cases").glob("*.json")) if (SHARED / "agreement_cases").is_dir() else []


def compute(case: dict) -> A.AgreementResult:
    df = pd.DataFrame(case["data"], columns=["item", "worker", "label"])
    coef = case["coefficient"]
    if coef == "cohen_kappa" or coef.startswith("cohen_kappa_weighted_"):
        weights = None if coef == "cohen_kappa" else coef.rsplit("_", 1)[1]
        a, b = df["worker"].unique()
        return A.cohen_kappa(df, a, b, weights=weights)
    if coef in ("fleiss_kappa", "fleiss_kappa_generalized_missing"):
        return A.fleiss_kappa(df)
    if coef == "krippendorff_alpha":
        return A.krippendorff_alpha(df, case["level"])
    if coef == "krippendorff_alpha_irrcac":  # irrCAC's identity weights = nominal alpha
        return A.krippendorff_alpha(df, "nominal")
    if coef == "gwet_ac1":
        return A.gwet_ac(df)
    if coef.startswith("gwet_ac2_"):
        return A.gwet_ac(df, weights=coef.rsplit("_", 1)[1])
    if coef == "conger_kappa":
        return A.conger_kappa(df)
    if coef == "brennan_prediger":
        return A.brennan_prediger(df)
    raise AssertionError(f"unknown coefficient {coef!r} in case {case['name']}")


def _places(tol: float) -> float:
    # published figures are rounded: compare secondary figures at the case's precision
    return max(tol, 5e-4)


@pytest.mark.shared
@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_case(path, agreement_cases_dir):
    case = json.loads(path.read_text())
    res = compute(case)
    tol = case["tolerance"]
    assert res.value == pytest.approx(case["expected"], abs=tol), case["source"]
    t2 = _places(tol)
    if "expected_pa" in case:
        assert res.pa == pytest.approx(case["expected_pa"], abs=t2)
    if "expected_pe" in case:
        assert res.pe == pytest.approx(case["expected_pe"], abs=t2)
    if "expected_se" in case:
        assert res.se == pytest.approx(case["expected_se"], abs=t2)
    if "expected_ase" in case:
        assert res.se == pytest.approx(case["expected_ase"], abs=t2)
    if "expected_ase_h0" in case:
        assert res.details["se_h0"] == pytest.approx(case["expected_ase_h0"], abs=t2)
    if "expected_ci95" in case:
        assert res.ci[0] == pytest.approx(case["expected_ci95"][0], abs=t2)
        assert res.ci[1] == pytest.approx(case["expected_ci95"][1], abs=t2)
    for key in ("expected_z", "expected_z_irr"):
        if key in case:
            assert res.details["z"] == pytest.approx(case[key], abs=max(1e-4, 10 * tol))


def test_cases_present_or_skipped(agreement_cases_dir):
    # when ../shared is there, the parametrisation above must have found the cases
    assert len(CASES) >= 20
