"""The string factorization kernels (crowdagg.kernels.strings) and their use by the table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from naive_strings import factorize, hash_bytes

from crowdagg import as_table
from crowdagg.factorize import _factorize, _factorize_strings
from crowdagg.kernels import strings as K


def buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    _, ob, db = arr.buffers()
    off_type = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    offsets = np.frombuffer(ob, dtype=off_type)[arr.offset: arr.offset + len(arr) + 1]
    data = np.frombuffer(db, dtype=np.uint8) if db is not None else np.zeros(0, np.uint8)
    return offsets, data


def kernel_hashes(arr: pa.Array) -> list[int]:
    offsets, data = buffers(arr)
    out = np.empty(len(arr), dtype=np.uint64)
    with np.errstate(over="ignore"):
        K.hash_strings(offsets, data, out)
    serial = np.empty(len(arr), dtype=np.uint64)
    with np.errstate(over="ignore"):
        K.hash_strings_serial(offsets, data, serial)
    assert np.array_equal(out, serial)
    return [int(h) for h in out]


EDGE = ["", "a", "abcdefg", "abcdefgh", "abcdefghi", "x" * 16, "y" * 17, "é好" * 7, "0", " ", "a\x00"]


@pytest.mark.parametrize("large", [False, True])
def test_hash_matches_reference(large):
    arr = pa.array(EDGE, type=pa.large_string() if large else pa.string())
    assert kernel_hashes(arr) == [hash_bytes(v.encode()) for v in EDGE]


def test_hash_of_sliced_array_and_tail_at_buffer_end():
    # the last string ends the data buffer: its tail is read byte by byte, not by a wide load
    arr = pa.array(["zz", "abc", "defghijklm", "q"]).slice(1)
    assert kernel_hashes(arr) == [hash_bytes(v.encode()) for v in ["abc", "defghijklm", "q"]]


def test_hash_separates_lengths_and_trailing_zeros():
    # zero padding of the last word must not make "a" and "a\0" (or "" and "\0") equal
    hs = kernel_hashes(pa.array(["", "\x00", "a", "a\x00", "a\x00\x00\x00\x00\x00\x00\x00"]))
    assert len(set(hs)) == 5


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=20), min_size=1, max_size=30))
def test_hash_property(values):
    assert kernel_hashes(pa.array(values)) == [hash_bytes(v.encode()) for v in values]


@pytest.mark.parametrize("code_type", [np.int32, np.int64])
def test_factorize_hashes_matches_reference_and_grows(code_type):
    rng = np.random.default_rng(0)
    keys = rng.integers(0, 2**63, size=60_000, dtype=np.int64).astype(np.uint64)
    hashes = keys[rng.integers(0, 60_000, size=200_000)]  # ~58000 distinct: the table grows twice
    hashes[5:9] = hashes[4]  # runs of equal keys take the previous row's code
    hashes[-1] = hashes[0] ^ np.uint64(2**18)  # a different key in the same slot as row 0 (final table: 2**18 slots)
    codes = np.empty(hashes.size, dtype=code_type)
    first = K.factorize_hashes(hashes, codes)
    want_codes, want_first = factorize(hashes.tolist())
    assert codes.tolist() == want_codes
    assert first.tolist() == want_first


def test_factorize_hashes_grouped_keys_presize_the_table():
    # 40000 runs of 3 equal keys (a grouped item column), then the first keys again
    keys = np.arange(1, 40_001, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    hashes = np.concatenate([np.repeat(keys, 3), keys[:50]])
    codes = np.empty(hashes.size, dtype=np.int32)
    first = K.factorize_hashes(hashes, codes)
    want_codes, want_first = factorize(hashes.tolist())
    assert codes.tolist() == want_codes and first.tolist() == want_first


def test_factorize_hashes_probes_past_occupied_slots():
    # keys equal modulo every table size share a first slot: linear probing separates them
    hashes = np.array([5, 5 + 2**40, 5, 5 + 2**41, 5 + 2**40, 6], dtype=np.uint64)
    codes = np.empty(6, dtype=np.int32)
    assert K.factorize_hashes(hashes, codes).tolist() == [0, 1, 3, 5]
    assert codes.tolist() == [0, 1, 0, 2, 1, 3]


def test_nulls_are_left_out_of_the_codes():
    codes, uniques = _factorize_strings(pa.array([None, "b", "a", None, "a", "c", None]))
    assert codes.tolist() == [-1, 0, 1, -1, 1, 2, -1]
    assert uniques.to_pylist() == ["b", "a", "c"]


def test_chunks_are_coded_as_one_column():
    chunks = pa.chunked_array([pa.array(["x", None, "y"]), pa.array([], pa.string()),
                               pa.array(["y", "z", "x"]).slice(1), pa.array(["w"])])
    codes, uniques = _factorize_strings(chunks)
    assert codes.tolist() == [0, -1, 1, 2, 0, 3]
    assert uniques.to_pylist() == ["x", "y", "z", "w"]
    codes, uniques = _factorize_strings(pa.chunked_array([], pa.large_string()))
    assert codes.tolist() == [] and uniques.to_pylist() == []


@pytest.mark.parametrize("kernel", ["codes_match_strings", "codes_match_strings_serial"])
def test_codes_match_strings_catches_a_wrong_code(monkeypatch, kernel):
    monkeypatch.setattr(K, "codes_match_strings", getattr(K, kernel))
    offsets, data = buffers(pa.array(["ab", "cd", "ab", None]))
    u_offsets, u_data = buffers(pa.array(["ab", "cd"]))
    ok = np.array([0, 1, 0, -1], np.int32)
    assert K.codes_match_strings(offsets, data, ok, u_offsets, u_data)
    for bad in ([0, 0, 0, -1], [0, 1, 1, -1]):
        assert not K.codes_match_strings(offsets, data, np.array(bad, np.int32), u_offsets, u_data)
    # same first bytes, different length or a different byte past the first word
    offsets, data = buffers(pa.array(["abcdefghij", "abcdefghik", "abcdefgh"]))
    u_offsets, u_data = buffers(pa.array(["abcdefghij"]))
    assert K.codes_match_strings(offsets, data, np.array([0, -1, -1], np.int32), u_offsets, u_data)
    assert not K.codes_match_strings(offsets, data, np.array([-1, 0, -1], np.int32), u_offsets, u_data)
    assert not K.codes_match_strings(offsets, data, np.array([-1, -1, 0], np.int32), u_offsets, u_data)


# --------------------------------------------------------------------------- through the table
def columns(values):
    yield "str", pd.Series(values, dtype="str")
    yield "string[pyarrow]", pd.Series(values, dtype="string[pyarrow]")
    yield "arrow large_string", pd.Series(values, dtype=pd.ArrowDtype(pa.large_string()))
    yield "arrow string_view", pd.Series(values, dtype=pd.ArrowDtype(pa.string_view()))
    yield "pa.Array", pa.array(values)
    half = len(values) // 2
    yield "pa.ChunkedArray", pa.chunked_array([pa.array(values[:half], pa.string()),
                                               pa.array(values[half:], pa.string())])
    yield "sliced pa.Array", pa.array(["pad", *values]).slice(1)


def check_factorize(values):
    want_codes, want_first = factorize(values)
    want_uniques = [values[r] for r in want_first]
    for name, col in columns(values):
        if all(v is None for v in values) and name.startswith("pa."):
            col = col.cast(pa.string())  # else Arrow infers the null type, tested below
        codes, uniques = _factorize(col, "c", "id")
        assert codes.tolist() == want_codes, name
        assert uniques.tolist() == want_uniques, name
        if isinstance(col, pd.Series):
            assert uniques.dtype == col.dtype, name  # the uniques keep the column's dtype


def test_factorize_every_arrow_string_column():
    check_factorize(["b", None, "a", "b", "", "a", "longer than eight", None, "é好", ""])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.none(), st.sampled_from(["", "a", "ab", "a" * 9]), st.text(max_size=12)),
                min_size=2, max_size=40))
def test_factorize_property(values):
    check_factorize(values)


def test_hash_collision_falls_back_to_exact_factorization(monkeypatch):
    def constant_hash(offsets, data, out):  # every string collides
        out[:] = 42

    monkeypatch.setattr(K, "hash_rows", constant_hash)
    arr = pa.array(["x", "y", "x", None, "z"])
    assert _factorize_strings(arr) is None  # the verification pass sees the collision
    codes, uniques = _factorize(pd.Series(arr, dtype="str"), "c", "id")
    assert codes.tolist() == [0, 1, 0, -1, 2]
    assert uniques.tolist() == ["x", "y", "z"]
    t = as_table(pd.DataFrame({"task": pd.Series(["i1", "i2", "i1"], dtype="str"),
                                  "worker": pd.Series(["w1", "w1", "w2"], dtype="str"),
                                  "label": ["a", "b", "a"]}))
    assert t.items.tolist() == ["i1", "i2"] and t.workers.tolist() == ["w1", "w2"]


def test_all_null_and_empty_columns():
    codes, uniques = _factorize_strings(pa.array([None, None], pa.string()))
    assert codes.tolist() == [-1, -1] and uniques.to_pylist() == []
    codes, uniques = _factorize_strings(pa.array([], pa.string()))
    assert codes.tolist() == [] and uniques.to_pylist() == []


def test_null_typed_arrow_column_has_no_uniques():
    codes, uniques = _factorize(pa.array([None, None]), "c", "id")
    assert codes.tolist() == [-1, -1] and len(uniques) == 0
