"""Read ahead: run an iterator in a background thread, one or two items ahead.

A streamed Parquet read (:func:`crowdagg.ingest.parquet_batches`) alternates two kinds of
work that both release the GIL: Arrow decoding a record batch, and the Numba kernels
coding the previous batch's ids.  :func:`read_ahead` decodes batch ``k + 1`` while batch
``k`` is coded, so a two-core machine does both at once; at most ``depth + 2`` batches
are alive at a time (the one being coded, ``depth`` queued, and the one the producer is
making or waiting to queue).  Items come out in the iterator's order, exceptions raised by the iterator
are raised in the consumer at the same position, and closing the returned generator
(or dropping it) stops the producer thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

__all__ = ["read_ahead"]

T = TypeVar("T")

_END = object()


class _Raised:
    """An exception of the producer, handed to the consumer."""

    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def read_ahead(source: Iterator[T], depth: int = 1) -> Iterator[T]:
    """The items of ``source``, produced by a daemon thread up to ``depth`` items ahead.

    Parameters
    ----------
    source : iterator
        Any iterator; it is advanced only by the background thread.
    depth : int, default 1
        Items queued ahead of the consumer (each one held in memory).

    Yields
    ------
    The items of ``source`` in order; an exception of ``source`` is re-raised here.
    """
    q: queue.Queue[object] = queue.Queue(maxsize=max(int(depth), 1))
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in source:
                if not put(item):
                    break
            else:
                put(_END)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            put(_Raised(exc))
        finally:
            close = getattr(source, "close", None)
            if stop.is_set() and close is not None:
                close()

    thread = threading.Thread(target=produce, name="crowdagg-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                return
            if isinstance(item, _Raised):
                raise item.exc
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()
