"""KOS: iterative message passing for binary crowdsourcing (Karger, Oh & Shah, NIPS 2011)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from .. import memory
from ..em import (
    MAX_STAT_BUFFER_BYTES,
    EMAggregator,
    EMContext,
    EMFit,
    EMModel,
    em_constraints,
    item_uniforms,
    no_incremental_form,
    run_em,
)
from ..errors import InputError
from ..kernels._util import cap_chunks
from ..kernels.kos import initial_messages, kos_pass_parallel, kos_pass_slice, kos_posteriors
from ..table import AnnotationTable

__all__ = ["KOS", "KOSModel"]

#: mixed into the seed for the worker-id uniforms (the item ids use the seed itself)
_WORKER_SALT = 0x5DEECE66D


def _initial(part: EMContext, seed: int, worker_u: np.ndarray, random_init: bool) -> np.ndarray:
    """The part's initial edge messages ``y0``, computed once per part (kept in ``part.cache``)."""
    t = part.table
    key = ("kos_y0", seed, random_init)
    y0 = part.cache.get(key)
    if y0 is None or y0.shape[0] != t.n_annotations:
        iu = item_uniforms(t.items, seed) if random_init else np.zeros(t.n_items)
        y0 = np.empty(t.n_annotations)
        initial_messages(t.item_ptr, t.worker_codes, iu, worker_u, random_init, y0)
        part.cache[key] = y0
    return y0


def _pass(part: EMContext, prepared: tuple[Any, ...], q: np.ndarray, accumulate: bool
          ) -> tuple[np.ndarray, np.ndarray | None]:
    """``T`` of the part's items and (``accumulate``) the part's ``W`` per worker."""
    a, p, seed, worker_u, random_init = prepared
    t = part.table
    y0 = _initial(part, seed, worker_u, random_init)
    q = np.ascontiguousarray(q, dtype=np.float64)
    tout = np.empty(t.n_items)
    bounds = cap_chunks(part.chunks(), 8 * t.n_workers, MAX_STAT_BUFFER_BYTES) if part.parallel else None
    if bounds is None or bounds.shape[0] <= 2:
        w = np.zeros(t.n_workers)
        kos_pass_slice(t.item_ptr, t.worker_codes, t.label_codes, y0, a, p, q, 0, t.n_items, tout, w,
                       accumulate)
        return tout, (w if accumulate else None)
    wbuf = np.zeros((bounds.shape[0] - 1, t.n_workers))
    kos_pass_parallel(t.item_ptr, t.worker_codes, t.label_codes, y0, a, p, q, bounds, tout, wbuf, accumulate)
    return tout, (wbuf.sum(axis=0) if accumulate else None)


def _iterate_fn(part: EMContext, post: np.ndarray, prepared: tuple[Any, ...], items: tuple[np.ndarray, ...]
                ) -> tuple[tuple[np.ndarray], np.ndarray]:
    """``map_reduce`` function of one iteration: ``T`` per item (joined), ``W`` (summed)."""
    tout, w = _pass(part, prepared, items[0], True)
    return (tout,), w


def _agreement_fn(part: EMContext, post: np.ndarray, broadcast: Any, items: Any = ()) -> tuple[None, Any]:
    """Per worker: answers equal to the decision, and answers (summed over parts)."""
    t = part.table
    best = np.argmax(post, axis=1)
    hit = (t.label_codes == best[t.item_codes]).astype(np.float64)
    return None, np.bincount(t.worker_codes, weights=hit, minlength=t.n_workers)


class KOSModel(EMModel):
    """Engine plug-in of KOS (see :mod:`crowdagg.kernels.kos` for the message algebra).

    Parameters ``a`` (scalar), ``P`` (per worker), ``Q`` (per item) and ``seed`` (the
    start's seed) describe every edge message ``y_e = a y0_e + P_j - A_e Q_i``.  The
    "E-step" computes ``T_i = sum_e A_e y_e`` (the item's score, the paper's final
    ``x_i``) and one-hot posteriors of ``sign(T_i)``; the "M-step" is one round of
    messages (``P += W``, ``Q += T``), after which ``a``, ``P``, ``Q`` are divided
    by their largest absolute value: the messages only matter up to a positive
    factor, and without it they grow geometrically (crowd-kit stops at 1e300).
    """

    worker_params = ("P",)
    item_params = ("Q",)
    global_params = ("a", "seed")
    label_axes: ClassVar[dict[str, tuple[int, ...]]] = {"P": (), "Q": (), "a": (), "seed": ()}
    convergence = "params"

    def __init__(self, random_init: bool = True) -> None:
        self.random_init = random_init

    def memory_terms(self, n_items: int, n_workers: int, n_labels: int) -> list[tuple[str, float]]:
        return [memory.posteriors(n_items, n_labels, 2), ("item messages Q and scores T, 4 copies",
                                                          4 * 8.0 * n_items)]
    # (plus 8 bytes per annotation for the initial messages, like the table's own arrays)

    def default_params(self, ctx: EMContext) -> dict[str, np.ndarray]:
        seed = float(ctx.rng.integers(0, 2**52)) if self.random_init else 0.0
        return {"a": np.ones(1), "P": np.zeros(ctx.n_workers), "Q": np.zeros(ctx.n_items),
                "seed": np.array([seed])}

    def prepare(self, ctx: EMContext, params: dict[str, np.ndarray]) -> tuple[Any, ...]:
        seed = int(params["seed"][0])
        cached = self.__dict__.get("_worker_u")
        if cached is not None and cached[0] == seed and cached[1].shape[0] == ctx.n_workers:
            wu = cached[1]
        else:
            wu = (item_uniforms(ctx.table.workers, seed ^ _WORKER_SALT) if self.random_init
                  else np.zeros(ctx.n_workers))
            self._worker_u = (seed, wu)
        return (float(params["a"][0]), np.ascontiguousarray(params["P"], dtype=np.float64), seed, wu,
                bool(self.random_init))

    def e_step_table(self, part: EMContext, prepared: tuple[Any, ...], items: dict[str, np.ndarray],
                     post: np.ndarray, accumulate: bool) -> tuple[float, Any]:
        tout, _ = _pass(part, prepared, items["Q"], False)
        gold = part.gold if part.gold is not None else np.full(part.table.n_items, -1, np.int64)
        score = kos_posteriors(tout, part.table.item_counts(), gold, post)
        return float(score), None

    def stats_from_posteriors(self, part: EMContext, post: np.ndarray) -> Any:
        return None

    def m_step(self, ctx: EMContext, params: dict[str, np.ndarray], stats: Any,
               executor: Any) -> dict[str, np.ndarray]:
        prepared = self.prepare(ctx, params)
        (t,), w = executor.map_reduce(_iterate_fn, prepared, (params["Q"],))
        a = float(params["a"][0])
        p = params["P"] + w
        q = params["Q"] + t
        scale = max(abs(a), float(np.abs(p).max(initial=0.0)), float(np.abs(q).max(initial=0.0)))
        if not np.isfinite(scale) or scale == 0.0:
            scale = 1.0
        return {"a": np.array([a / scale]), "P": p / scale, "Q": q / scale, "seed": params["seed"]}

    def delta(self, ctx: EMContext, old: dict[str, np.ndarray], new: dict[str, np.ndarray],
              ll_old: float, ll_new: float) -> float:
        return max(float(np.abs(new["P"] - old["P"]).max(initial=0.0)),
                   float(np.abs(new["Q"] - old["Q"]).max(initial=0.0)))


class KOS(EMAggregator):
    """KOS: iterative message passing for binary tasks (Karger, Oh & Shah 2011).

    Each answer is ``A = +1`` (first label) or ``-1`` (second label).  Task messages
    ``x_{i->j} = sum_{j' in i, j' != j} A_{ij'} y_{j'->i}`` and worker messages
    ``y_{j->i} = sum_{i' in j, i' != i} A_{i'j} x_{i'->j}`` alternate ``max_iter``
    times from ``y ~ N(1, 1)``; item ``i`` gets the sign of
    ``x_i = sum_j A_{ij} y_{j->i}``.  Messages are rescaled by a positive factor every
    iteration (signs unchanged; crowd-kit instead stops when they pass 1e300).

    Karger, D. R., Oh, S. & Shah, D. (2011).  Iterative learning for reliable
    crowdsourcing systems.  *Advances in Neural Information Processing Systems 24*;
    also *Operations Research* 62(1), 1-24 (2014), "Budget-optimal task allocation for
    reliable crowdsourcing systems".

    Parameters
    ----------
    max_iter : int >= 0, default 100
        Rounds of messages (crowd-kit's ``n_iter``, default 100).
    tol : float >= 0, default 0
        Stop when no rescaled per-worker or per-item message component changes by more
        than ``tol``; ``0`` runs ``max_iter`` rounds (as crowd-kit).
    init : {"random", "ones"}, default "random"
        ``"random"``: the paper's start, ``y_{j->i} = 1 + N(0, 1)`` drawn from
        ``random_state`` and the item and worker ids (not their positions, so the
        order of the rows changes nothing); ``"ones"``: every ``y_{j->i} = 1`` (the
        first round is then a leave-one-out majority vote), no randomness.
    random_state : None, int >= 0, SeedSequence, Generator or RandomState, default 0
        Seed of the ``"random"`` start (crowd-kit's default is 0 too).
    warm_start : bool, default False
        Continue from the fitted messages (by worker and item id).
    parallel : bool, default True
        Parallel kernels (item chunks).

    Attributes
    ----------
    labels_ : pandas.Series
        ``sign(x_i)``: the first label for ``x_i > 0``, the second for ``x_i < 0``;
        a tie (``x_i = 0``) goes to the first label (crowd-kit raises a ``KeyError``
        there).  Gold items (``fit(gold=...)``) take their gold label.
    probas_ : pandas.DataFrame
        One-hot rows of those decisions (``[0.5, 0.5]`` for a tie and for items
        without answers).  KOS is not a probabilistic model: ``x_i`` is a score
        defined up to a positive factor, so there is no calibrated probability.
    skills_ : pandas.Series
        Per worker id, the share of the worker's answers equal to the KOS labels
        (0 for a worker without answers).
    scores_ : numpy.ndarray
        ``sum_i |x_i|`` after each round (rescaled messages; a progress trace, not a
        likelihood).
    params_ : dict
        ``a``, ``P`` (per worker), ``Q`` (per item), ``seed``: the messages are
        ``y_e = a y0_e + P_j - A_e Q_i`` (see :mod:`crowdagg.kernels.kos`).
    n_iter_, converged_ : int, bool

    Raises
    ------
    InputError
        From ``fit`` when the data does not have exactly 2 labels (pass
        ``labels=[a, b]`` for data where only one of the two labels occurs).

    Notes
    -----
    Gold answers fix the gold items' output labels only; they do not enter the
    messages (the paper has no gold).  A distributed table runs the same plug-in
    through the EM core: the per-edge messages are never stored, only ``P`` and ``Q``.

    Examples
    --------
    >>> import pandas as pd, crowdagg
    >>> df = pd.DataFrame({"item": [1, 1, 1, 2, 2, 2], "worker": list("abcabc"),
    ...                    "label": ["y", "y", "n", "n", "n", "y"]})
    >>> crowdagg.KOS(init="ones").fit(df).labels_.tolist()
    ['y', 'n']
    """

    _inits = ("random", "ones")
    _history_attr = "scores_"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **em_constraints(("random", "ones")),
        "random_state": ["random_state"],
    }

    def __init__(self, max_iter: int = 100, tol: float = 0.0, init: str = "random", random_state: Any = 0,
                 warm_start: bool = False, parallel: bool = True) -> None:
        self.max_iter = max_iter
        self.tol = tol
        self.init = init
        self.random_state = random_state
        self.warm_start = warm_start
        self.parallel = parallel

    def _make_model(self) -> EMModel:
        return KOSModel(random_init=self.init != "ones")

    def _run(self, model: EMModel, executor: Any, init: str | dict[str, np.ndarray], max_iter: int,
             tol: float) -> EMFit:
        if executor.ctx.n_labels != 2:
            raise InputError(
                f"KOS is for binary tasks: the data has {executor.ctx.n_labels} label(s) "
                f"{list(executor.ctx.table.labels[:10])}; use another method (DawidSkene, MajorityVote) "
                "or, when only one of two labels occurs, pass labels=[first, second]")
        if isinstance(init, str):
            init = "uniform"
        return run_em(model, executor, init=init, max_iter=max_iter, tol=tol, stacklevel=4)

    def partial_fit(self, data: Any, **kwargs: Any) -> KOS:
        """Not available: KOS has no incremental form (its messages live on every item and answer of the data).

        Raises
        ------
        InputError
            Always; fit the union of the batches instead.
        """
        raise no_incremental_form("KOS", "its messages live on every item and answer of the data")

    def _set_fitted(self, table: AnnotationTable, params: dict[str, np.ndarray], executor: Any) -> None:
        _, agree = executor.map_reduce(_agreement_fn, None)
        n = executor.ctx.worker_counts()
        self.skills_ = pd.Series(np.where(n > 0, agree / np.maximum(n, 1.0), 0.0), index=table.workers,
                                 name="skill")
