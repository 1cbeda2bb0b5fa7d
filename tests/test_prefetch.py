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
