"""NumPy paths for small inputs (no kernel to compile on a first small fit) beside the kernels
for large ones: the small-range integer factorisation and the duplicate check give the same
codes and flags either way."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from crowdagg import factorize
from crowdagg.kernels.csr import factorize_dense_int


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-50, 50), min_size=1, max_size=300))
def test_numpy_path_equals_kernel(values):
    arr = np.asarray(values, dtype=np.int64)
    a, b = np.empty(len(arr), np.int64), np.empty(len(arr), np.int64)
    first_np = factorize._first_appearance_codes(arr, a)
    first_k = factorize_dense_int(arr, int(arr.min()), int(arr.max() - arr.min() + 1), b)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(first_np, first_k)
    # codes in order of first appearance
    assert a[0] == 0 and np.all(np.maximum.accumulate(a)[1:] - np.maximum.accumulate(a)[:-1] <= 1)


def test_both_sides_of_the_threshold(monkeypatch):
    rng = np.random.default_rng(0)
    arr = rng.integers(10, 40, 5000).astype(np.uint16)
    small = factorize._factorize_small_int_range(arr)
    monkeypatch.setattr(factorize, "_NUMPY_ROWS", 0)
    large = factorize._factorize_small_int_range(arr)
    np.testing.assert_array_equal(small[0], large[0])
    assert small[1].equals(large[1]) and small[1].dtype == large[1].dtype == np.uint16


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 6), st.integers(0, 4)), min_size=1, max_size=80), st.booleans())
def test_duplicate_flags_numpy_equals_kernel(pairs, keep_last):
    """The duplicate check of small tables (NumPy) flags the rows the kernel flags."""
    from crowdagg import table as tmod
    from crowdagg.kernels.csr import mark_duplicates

    items = np.array([p[0] for p in pairs])
    workers = np.array([p[1] for p in pairs], dtype=np.int32)
    order = np.argsort(items, kind="stable")  # item-CSR order, rows of an item in input order
    ptr = np.zeros(7 + 1, dtype=np.int64)
    np.add.at(ptr, items + 1, 1)
    ptr = np.cumsum(ptr)
    w = workers[order]
    got = tmod._mark_duplicates(ptr, w, 5, keep_last)
    np.testing.assert_array_equal(got, mark_duplicates(ptr, w, 5, keep_last))
