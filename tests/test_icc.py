"""Intraclass correlations (crowdagg.agreement.icc) against pingouin, the naive ANOVA of
tests/naive_ratings.py and the published 6 x 4 example of Shrout & Fleiss (1979)."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crowdagg.agreement import ICC_FORMS, icc
from crowdagg.errors import (
    AgreementUndefinedError,
    DroppedRowsWarning,
    DuplicateAnnotationError,
    InputError,
    LevelError,
    ParameterError,
)
from tests import naive_ratings as N

#: Shrout & Fleiss (1979), Table 2: 6 targets x 4 judges
SF = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]])
#: their Table 4 (two decimals): ICC(1,1), ICC(2,1), ICC(3,1), ICC(1,4), ICC(2,4), ICC(3,4)
SF_PUBLISHED = {"ICC1": 0.17, "ICC2": 0.29, "ICC3": 0.71, "ICC1k": 0.44, "ICC2k": 0.62, "ICC3k": 0.91}
#: R psych::ICC(sf) (psych's documented example, the same formulas as irr::icc):
#: F, df2, lower and upper bound
PSYCH = {
    "ICC1": (1.79, 18, -0.133, 0.72), "ICC2": (11.03, 15, 0.019, 0.76), "ICC3": (11.03, 15, 0.342, 0.95),
    "ICC1k": (1.79, 18, -0.884, 0.91), "ICC2k": (11.03, 15, 0.071, 0.93), "ICC3k": (11.03, 15, 0.676, 0.99),
}


def long(x: np.ndarray) -> pd.DataFrame:
    n, k = x.shape
    return pd.DataFrame([(f"t{i}", f"r{j}", x[i, j]) for i in range(n) for j in range(k)],
                        columns=["item", "worker", "label"])


def test_shrout_fleiss_published():
    r = icc(long(SF))
    assert list(r.index) == list(ICC_FORMS)
    assert list(r.columns) == ["type", "ICC", "F", "df1", "df2", "pval", "CI95_lower", "CI95_upper"]
    for form, value in SF_PUBLISHED.items():
        assert round(r.loc[form, "ICC"], 2) == value
    for form, (f, df2, lo, hi) in PSYCH.items():
        assert r.loc[form, "F"] == pytest.approx(f, abs=0.005)
        assert r.loc[form, "df1"] == 5 and r.loc[form, "df2"] == df2
        assert r.loc[form, "CI95_lower"] == pytest.approx(lo, abs=0.005)
        assert r.loc[form, "CI95_upper"] == pytest.approx(hi, abs=0.005)
    assert r.attrs["n_items"] == 6 and r.attrs["n_raters"] == 4


def _pingouin(df: pd.DataFrame) -> pd.DataFrame:
    pg = pytest.importorskip("pingouin", reason="pingouin (test extra) is not installed: no cross-check")
    old = dict(pg.options)
    pg.options["round"] = None
    pg.options["round.column.CI95"] = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return pg.intraclass_corr(df, targets="item", raters="worker", ratings="label")
    finally:
        pg.options.clear()
        pg.options.update(old)


@pytest.mark.parametrize("seed", range(6))
def test_matches_pingouin(seed):
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(3, 30)), int(rng.integers(2, 7))
    x = rng.normal(0, 1, (n, 1)) * rng.uniform(0, 3) + rng.normal(0, 1, (1, k)) + rng.normal(0, 1, (n, k))
    if seed % 2:
        x = np.round(x * 3)  # integer ratings too
    df = long(x)
    ours = icc(df)
    ref = _pingouin(df)
    for j, form in enumerate(ICC_FORMS):
        for col in ("ICC", "F", "df1", "df2", "pval"):
            assert ours.loc[form, col] == pytest.approx(ref.loc[j, col], rel=1e-9, abs=1e-12), (form, col)
        lo, hi = ref.loc[j, "CI95"]
        assert ours.loc[form, "CI95_lower"] == pytest.approx(lo, rel=1e-9, abs=1e-12)
        assert ours.loc[form, "CI95_upper"] == pytest.approx(hi, rel=1e-9, abs=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 12), st.integers(2, 6), st.integers(0, 2**31))
def test_matches_naive_anova_and_invariances(n, k, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 7, (n, k)).astype(float)
    if np.ptp(x) == 0:
        x[0, 0] += 1
    df = long(x)
    ref = N.icc_shrout_fleiss(x)
    try:
        r = icc(df)
    except AgreementUndefinedError as exc:
        # only where the reference has no usable value (a zero denominator: inf, NaN or ~1e16)
        assert any(not np.isfinite(ref[f]) or abs(ref[f]) > 1e9 or ref[f] > 1 for f in ICC_FORMS), (str(exc), ref)
        return
    for form in ICC_FORMS:
        if np.isfinite(ref[form]):
            assert r.loc[form, "ICC"] == pytest.approx(ref[form], rel=1e-9, abs=1e-12)
    # row order, relabelled items and raters, and an affine change of scale change nothing
    perm = rng.permutation(len(df))
    moved = df.iloc[perm].assign(item=lambda d: "x" + d["item"], worker=lambda d: d["worker"] + "y",
                                 label=lambda d: 2.5 * d["label"] - 7)
    r2 = icc(moved)
    assert np.allclose(r2["ICC"], r["ICC"], rtol=1e-9, atol=1e-12)
    # no interval is NaN (ICC(A,k)'s lower bound may be -inf); the exact F intervals of the
    # one-way and consistency forms hold their estimate (McGraw & Wong's approximate interval
    # of the agreement forms need not: n=2, k=5 gave ICC(A,1) -0.123 with upper bound -0.128)
    low, high = r.iloc[:, 6].to_numpy(float), r.iloc[:, 7].to_numpy(float)
    assert not np.isnan(low).any() and not np.isnan(high).any()
    exact = r.index.isin(["ICC1", "ICC3", "ICC1k", "ICC3k"])
    est = r["ICC"].to_numpy()
    assert (low[exact] <= est[exact] + 1e-9).all() and (est[exact] <= high[exact] + 1e-9).all()
    assert (est <= 1 + 1e-12).all()


@pytest.mark.parametrize(("ratings", "forms"), [
    ([[2, 1], [1, 6], [4, 2]], "ICC(A,k)"),                   # ICC(A,1) = -1/(k-1) = -1: ICC(A,k) divides by 0
    ([[1, 2], [2, 1]], "ICC(A,1), ICC(1,k), ICC(A,k), ICC(C,k)"),  # equal item means: MSR = 0
    ([[0, 3], [3, 2]], "ICC(A,k)"),                           # ICC(A,1) = -1.5: the formula gave ICC(A,k) = 6
])
def test_zero_denominator_is_undefined_not_huge(ratings, forms):
    """A form whose denominator is zero in exact arithmetic was returned as +-1.1e16 (with its
    interval's lower bound above the upper one), and ICC(A,k)'s negative one gave values above
    1; now the whole call says which forms."""
    with pytest.raises(AgreementUndefinedError, match=re.escape(f"denominator of {forms} is not positive")):
        icc(long(np.array(ratings, dtype=float)))


def test_constant_rater_offsets_give_the_limit_interval():
    """Rater b = rater a + 1 on every item: no residual (MSE = 0), so ICC(C,1) = 1 and
    F = inf, but ICC(A,1) < 1 is well defined. Its interval was NaN (then the whole call
    raised "degenerate mean squares"); it is now the limit as MSE -> 0, which a tiny
    residual reproduces."""
    x = np.array([[1, 2], [3, 4], [6, 7], [2, 3]], dtype=float)
    r = icc(long(x))
    assert r.loc["ICC3", "ICC"] == 1 and r.loc["ICC3k", "ICC"] == 1
    near = icc(long(x + np.array([[0, 1e-5], [0, -1e-5], [0, 0], [0, 0]])))
    cols = ["ICC", "CI95_lower", "CI95_upper"]
    for form in ("ICC2", "ICC2k"):
        np.testing.assert_allclose(r.loc[form, cols].to_numpy(float), near.loc[form, cols].to_numpy(float), rtol=1e-4)
        assert 0 < r.loc[form, "CI95_lower"] < r.loc[form, "ICC"] < r.loc[form, "CI95_upper"] < 1


def test_missing_ratings_complete_cases():
    df = long(SF)
    extra = pd.DataFrame({"item": ["t6", "t6"], "worker": ["r0", "r1"], "label": [3, 4]})
    with pytest.warns(DroppedRowsWarning, match="1 of 7 rated items"):
        r = icc(pd.concat([df, extra], ignore_index=True))
    assert r.attrs["n_items_dropped"] == 1
    assert np.allclose(r["ICC"], icc(df)["ICC"])
    with pytest.raises(InputError, match="missing='drop'"):
        icc(pd.concat([df, extra], ignore_index=True), missing="raise")


def test_perfect_agreement_no_nan():
    x = np.array([[1, 1, 1], [2, 2, 2], [5, 5, 5]], dtype=float)
    r = icc(long(x))
    assert np.allclose(r["ICC"], 1.0)
    assert np.isfinite(r[["ICC", "CI95_lower", "CI95_upper", "pval"]].to_numpy(dtype=float)).all()


def test_bad_input():
    with pytest.raises(LevelError):
        icc(pd.DataFrame({"item": [1, 1, 2, 2], "worker": [1, 2, 1, 2], "label": list("abab")}))
    with pytest.raises(AgreementUndefinedError):
        icc(long(np.ones((3, 3))))
    with pytest.raises(AgreementUndefinedError):
        icc(long(np.array([[1.0], [2.0]])))
    df = long(SF)
    with pytest.raises(DuplicateAnnotationError):
        icc(pd.concat([df, df.iloc[:1]]))
    with pytest.raises(InputError, match="one rating per"):
        icc(pd.concat([df, df.iloc[:1]]), duplicates="keep")
    with pytest.raises(ParameterError):
        icc(df, missing="pairwise")
    with pytest.raises(InputError, match="confidence"):
        icc(df, confidence=1.5)


def test_confidence_level_names_columns():
    r = icc(long(SF), confidence=0.9)
    assert "CI90_lower" in r.columns
    assert (r["CI90_lower"] >= icc(long(SF))["CI95_lower"] - 1e-12).all()
