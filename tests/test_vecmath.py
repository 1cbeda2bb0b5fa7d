"""kernels.vecmath: the branch-free log against numpy's."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit

from crowdagg.kernels.vecmath import log_pos


@njit(cache=False, error_model="numpy")
def _log_all(x, out):
    for i in range(x.shape[0]):  # the vectorised form the kernels use
        out[i] = log_pos(x[i])


def _ulps(got, want):
    return np.abs(got - want) / np.spacing(np.abs(want))


@pytest.mark.parametrize("lo, hi", [(1.0, 2.0), (0.5, 1.5), (1 - 1e-9, 1 + 1e-9), (1e-300, 1e-290), (1.0, 1e300),
                                    (2.2250738585072014e-308, 1e-300), (1.3, 1.5)])
def test_within_one_ulp_of_numpy(lo, hi):
    rng = np.random.default_rng(0)
    x = np.exp(rng.uniform(np.log(lo), np.log(hi), 200_000)) if hi / lo > 10 else rng.uniform(lo, hi, 200_000)
    out = np.empty_like(x)
    _log_all(x, out)
    want = np.log(x)
    exact = want == 0.0
    assert np.all(out[exact] == 0.0)
    assert _ulps(out[~exact], want[~exact]).max() <= 1.0


@pytest.mark.parametrize("x", [1.0, 2.0, 0.5, 4.0, np.sqrt(2.0), np.nextafter(np.sqrt(2.0), 0), np.nextafter(1.0, 2),
                               np.nextafter(1.0, 0), 2.2250738585072014e-308, 1.7976931348623157e308, np.e, 10.0])
def test_special_points(x):
    got = log_pos(float(x))
    want = float(np.log(x))
    assert got == want or abs(got - want) <= np.spacing(abs(want))


@settings(max_examples=300, deadline=None)
@given(st.floats(min_value=2.2250738585072014e-308, max_value=1e308, allow_nan=False, allow_infinity=False))
def test_any_positive_normal(x):
    want = float(np.log(x))
    got = log_pos(x)
    assert abs(got - want) <= max(np.spacing(abs(want)), 0.0)
