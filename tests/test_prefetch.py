"""crowdagg._prefetch.read_ahead: the streamed Parquet read decodes the next batch while
the current one is coded; order, errors and early stops must be those of the source."""

from __future__ import annotations

import threading
import time

import pytest

from crowdagg._prefetch import read_ahead


def test_items_in_order():
    assert list(read_ahead(iter(range(1000)), depth=2)) == list(range(1000))


def test_empty_source():
    assert list(read_ahead(iter([]))) == []


def test_error_raised_at_its_position():
    def src():
        yield 1
        yield 2
        raise ValueError("bad batch")

    got = []
    with pytest.raises(ValueError, match="bad batch"):
        for x in read_ahead(src()):
            got.append(x)
    assert got == [1, 2]


def test_bounded_lookahead():
    made = []

    def src():
        for i in range(100):
            made.append(i)
            yield i

    it = read_ahead(src(), depth=1)
    assert next(it) == 0
    time.sleep(0.2)
    # one consumed, at most one queued, one being put: never the whole source
    assert len(made) <= 3
    it.close()


def test_close_stops_the_producer_and_closes_the_source():
    closed = threading.Event()

    def src():
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.set()

    before = threading.active_count()
    it = read_ahead(src())
    assert next(it) == 0
    it.close()
    assert closed.wait(2.0)
    deadline = time.monotonic() + 2.0
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() <= before


def test_consumer_exception_stops_the_producer():
    closed = threading.Event()

    def src():
        try:
            yield from range(10**9)
        finally:
            closed.set()

    with pytest.raises(RuntimeError):
        for x in read_ahead(src()):
            if x == 3:
                raise RuntimeError("consumer failed")
    assert closed.wait(2.0)


def _read_ahead_threads():
    return [t for t in threading.enumerate() if t.name == "crowdagg-read-ahead"]


def test_failed_streamed_read_leaves_no_thread(tmp_path, monkeypatch):
    """An error while coding a batch (here a simulated interrupt on the second batch) must
    stop the read-ahead thread at once, even while the caller still holds the traceback."""
    import numpy as np
    import pandas as pd

    import crowdagg
    from crowdagg import factorize, ingest

    n = 5 * ingest.PARQUET_BATCH_ROWS // 4
    df = pd.DataFrame({"item": np.char.add("i", (np.arange(n) % 997).astype(str)),
                       "worker": np.char.add("w", (np.arange(n) % 13).astype(str)),
                       "label": np.arange(n) % 3})
    path = tmp_path / "a.parquet"
    df.to_parquet(path, row_group_size=n // 4)
    calls = {"n": 0}
    real_add = factorize.StreamCodes.add

    def add(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == 3:  # item column of the second batch
            raise KeyboardInterrupt
        return real_add(self, *a, **k)

    monkeypatch.setattr(factorize.StreamCodes, "add", add)
    held = None
    try:
        crowdagg.AnnotationTable.read_parquet(path, duplicates="keep")
    except KeyboardInterrupt as exc:
        held = exc  # the frame of read_parquet stays alive through the traceback
        assert _read_ahead_threads() == []
    assert held is not None
    monkeypatch.undo()
    assert crowdagg.AnnotationTable.read_parquet(path, duplicates="keep").n_annotations == n
    assert _read_ahead_threads() == []
