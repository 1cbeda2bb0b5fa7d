"""M-MSR: worker skills by robust rank-one matrix completion (Ma & Olshevsky, NeurIPS 2020)."""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from .. import memory
from .._validation import Interval
from ..em import MAX_STAT_BUFFER_BYTES, EMAggregator, EMContext, EMFit, EMModel, no_incremental_form, run_em
from ..kernels._util import cap_chunks
from ..kernels.mmsr import (
    logodds_vote_parallel,
    logodds_vote_slice,
    mmsr_iterate,
    pair_stats_parallel,
    pair_stats_slice,
)
from ..table import AnnotationTable

__all__ = ["MMSR", "MMSRModel", "solve_mmsr"]


def _signs(c: np.ndarray, obs: np.ndarray, magnitude: np.ndarray) -> np.ndarray:
    """Signs of the skills: the leading eigenvector of the signed graph ``sign(C)`` on the
    observed pairs (for consistent signs ``sign(C_ij) = s_i s_j`` it is ``s`` times the
    Perron vector of the graph), oriented so that most workers (weighted by
    ``magnitude``) are better than random.  Workers without an observed pair: +1."""
    n = c.shape[0]
    s = np.where(obs, np.sign(c), 0.0)
    sign = np.ones(n)
    if not obs.any():
        return sign
    if n <= 64:
        vals, vecs = np.linalg.eigh(s)
        vec = vecs[:, -1]
    else:
        import scipy.sparse as sp
        from scipy.sparse.linalg import eigsh

        try:
            _, vecs = eigsh(sp.csr_matrix(s), k=1, which="LA", v0=np.ones(n), maxiter=20 * n, tol=1e-10)
            vec = vecs[:, 0]
        except Exception:  # ARPACK did not converge: the dense solver
            vals, vecs = np.linalg.eigh(s)
            vec = vecs[:, -1]
    scale = np.abs(vec).max()
    tiny = np.abs(vec) <= 1e-9 * scale
    sign = np.where(vec < 0, -1.0, 1.0)
    sign[tiny] = 1.0
    vote = float(np.sum(sign[~tiny]))
    if vote == 0.0:
        vote = float(np.sum(sign[~tiny] * magnitude[~tiny]))
    if vote < 0:
        sign[~tiny] = -sign[~tiny]
    return sign


def solve_mmsr(agree: np.ndarray, common: np.ndarray, n_labels: int, n_tasks: int, u0: np.ndarray,
               max_iter: int, tol: float) -> dict[str, Any]:
    """Worker skills from the worker-pair statistics (Ma & Olshevsky 2020, Algorithm 1).

    ``C_ij = (K agree_ij / common_ij - 1) / (K - 1)`` on the pairs with common items
    estimates ``s_i s_j`` (``s``: how much better than random a worker is, in
    ``[-1/(K-1), 1]``); M-MSR fits ``|C| ~ u v^T`` robustly from ``u = v = u0``
    (:func:`crowdagg.kernels.mmsr.mmsr_iterate`), ``|s| = u / sqrt(|u| / |v|)`` (0 when ``u``
    or ``v`` is 0: every observed ``C_ij`` is 0), signs
    by :func:`_signs`, then ``s`` is clipped to
    ``[-1/(K-1) + 1/sqrt(n_tasks), 1 - 1/sqrt(n_tasks)]`` and turned into the
    probability of a right answer ``p = s (K-1)/K + 1/K`` and the vote weight
    ``log(p (K-1) / (1-p))``.  Workers without a common item with anyone get the mean
    ``s`` of the others (1/2 when nobody shares an item).

    Returns a dict: ``weights``, ``skills`` (``p``), ``s``, ``n_iter``, ``loss``, ``u``, ``v``, ``trim``
    (F, the number of values trimmed on each side: ``floor(d/2) - 1`` for the smallest
    number ``d`` of co-workers of a worker that has any, at least 0).
    """
    k = n_labels
    n = agree.shape[0]
    if k < 2 or n == 0:
        return {"weights": np.zeros(n), "skills": np.ones(n), "s": np.ones(n), "n_iter": 0,
                "loss": np.zeros(0), "trim": 0}
    obs = common > 0
    np.fill_diagonal(obs, False)
    c = np.zeros((n, n))
    c[obs] = (k * agree[obs] / common[obs] - 1.0) / (k - 1)
    degree = obs.sum(axis=0)
    dmin = int(degree[degree > 0].min()) if (degree > 0).any() else 0
    trim = max(dmin // 2 - 1, 0)
    rows, cols = np.nonzero(obs)
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=ptr[1:])
    u = np.array(u0, dtype=np.float64)
    v = u.copy()
    loss = np.zeros(max(max_iter, 0))
    n_iter = mmsr_iterate(ptr, cols.astype(np.int64), np.abs(c[rows, cols]), u, v, trim, float(max(n_tasks, 1)),
                          int(max_iter), float(tol), loss)
    nu, nv = float(np.linalg.norm(u)), float(np.linalg.norm(v))
    # u = 0 or v = 0: every observed |C_ij| is 0 (all pairs at chance level), so |s| = 0
    mag = u / math.sqrt(nu / nv) if nu > 0 and nv > 0 else np.zeros(n)
    s = _signs(c, obs, np.abs(mag)) * mag
    hi = 1.0 - 1.0 / math.sqrt(max(n_tasks, 1))
    lo = -1.0 / (k - 1) + 1.0 / math.sqrt(max(n_tasks, 1))
    s = np.maximum(np.minimum(s, hi), lo)
    alone = degree == 0
    if alone.any():
        s[alone] = float(s[~alone].mean()) if (~alone).any() else 0.5
        s = np.maximum(np.minimum(s, hi), lo)
    p = s * (k - 1) / k + 1.0 / k
    weights = np.log(p * (k - 1) / (1.0 - p))
    return {"weights": weights, "skills": p, "s": s, "n_iter": int(n_iter), "loss": loss[:n_iter],
            "trim": trim, "u": u, "v": v}


class MMSRModel(EMModel):
    """Engine plug-in of M-MSR: pass 0 gathers the worker-pair statistics (summable over
    items, so over Dask pieces), the one "M-step" solves M-MSR on the driver
    (:func:`solve_mmsr`), the last pass is the log-odds weighted vote."""

    worker_params = ("weights",)
    label_axes: ClassVar[dict[str, tuple[int, ...]]] = {"weights": ()}
    convergence = "params"
    memory_advice = ("M-MSR holds worker x worker matrices: drop workers with few answers or use "
                     "DawidSkene / MajorityVote")

    def __init__(self, max_iter: int = 10000, tol: float = 1e-10) -> None:
        self.max_iter = max_iter
        self.tol = tol
        self.info: dict[str, Any] = {}

    def memory_terms(self, n_items: int, n_workers: int, n_labels: int) -> list[tuple[str, float]]:
        return [memory.posteriors(n_items, n_labels, 2),
                (f"worker-pair statistics, {n_workers:,}^2 workers, 6 copies", 6 * 8.0 * n_workers**2)]

    def default_params(self, ctx: EMContext) -> dict[str, np.ndarray]:
        return {"weights": np.zeros(ctx.n_workers)}

    def prepare(self, ctx: EMContext, params: dict[str, np.ndarray]) -> np.ndarray:
        return np.ascontiguousarray(params["weights"], dtype=np.float64)

    def e_step_table(self, part: EMContext, prepared: np.ndarray, items: dict[str, np.ndarray],
                     post: np.ndarray, accumulate: bool) -> tuple[float, Any]:
        t = part.table
        gold = part.gold if part.gold is not None else np.full(t.n_items, -1, np.int64)
        bounds = part.chunks()
        if part.parallel and bounds.shape[0] > 2:
            sbuf = np.zeros(bounds.shape[0] - 1)
            logodds_vote_parallel(t.item_ptr, t.worker_codes, t.label_codes, gold, prepared, bounds, post, sbuf)
            ll = float(sbuf.sum())
        else:
            ll = float(logodds_vote_slice(t.item_ptr, t.worker_codes, t.label_codes, gold, prepared, 0,
                                          t.n_items, post))
        return ll, (self.stats_from_posteriors(part, post) if accumulate else None)

    def stats_from_posteriors(self, part: EMContext, post: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        t = part.table
        n = t.n_workers
        bounds = cap_chunks(part.chunks(), 16 * n * n, MAX_STAT_BUFFER_BYTES) if part.parallel else None
        if bounds is None or bounds.shape[0] <= 2:
            agree = np.zeros((n, n))
            common = np.zeros((n, n))
            pair_stats_slice(t.item_ptr, t.worker_codes, t.label_codes, 0, t.n_items, agree, common)
        else:
            abuf = np.zeros((bounds.shape[0] - 1, n, n))
            cbuf = np.zeros((bounds.shape[0] - 1, n, n))
            pair_stats_parallel(t.item_ptr, t.worker_codes, t.label_codes, bounds, abuf, cbuf)
            agree, common = abuf.sum(axis=0), cbuf.sum(axis=0)
        return agree, common, float(np.count_nonzero(t.item_counts()))

    def m_step(self, ctx: EMContext, params: dict[str, np.ndarray], stats: Any,
               executor: Any) -> dict[str, np.ndarray]:
        agree, common, n_tasks = stats
        u0 = ctx.rng.random(ctx.n_workers)
        self.info = solve_mmsr(agree, common, ctx.n_labels, int(n_tasks), u0, self.max_iter, self.tol)
        return {"weights": self.info["weights"]}


class MMSR(EMAggregator):
    """M-MSR (matrix mean-subsequence-reduced): worker skills from the agreement between
    workers by robust rank-one matrix completion, then a log-odds weighted vote.

    Under the one-coin model (worker ``i`` right with probability ``p_i``, else a
    uniformly chosen wrong label), the agreement rate of two workers gives
    ``E[C_ij] = s_i s_j`` with ``C_ij = (K agree_ij / common_ij - 1) / (K - 1)`` and
    ``s_i = (K p_i - 1) / (K - 1)``.  M-MSR completes this rank-one matrix from the
    observed pairs, trimming the ``F`` most extreme values on each side of a worker's
    own estimate at every step (robust to up to ``F`` adversarial co-workers); see
    :func:`solve_mmsr`.  Items get the label with the largest sum of
    ``log(p (K-1) / (1-p))`` over its voters.

    Ma, Q. & Olshevsky, A. (2020).  Adversarial crowdsourcing through robust rank-one
    matrix completion.  *Advances in Neural Information Processing Systems 33*.

    Parameters
    ----------
    max_iter : int >= 0, default 10000
        M-MSR iterations at most (crowd-kit's ``n_iter``, default 10000).
    tol : float >= 0, default 1e-10
        Stop when the Frobenius norm of the change of ``u v^T`` falls below ``tol``.
    random_state : None, int >= 0, SeedSequence, Generator or RandomState, default 0
        Seed of the uniform start ``u = v`` (in worker-code order).
    parallel : bool, default True
        Parallel kernels for the pair statistics and the vote.

    Attributes
    ----------
    labels_ : pandas.Series
        Label of largest weighted vote; ties to the first label.  Gold items
        (``fit(gold=...)``) take their gold label (gold does not enter the skills).
    probas_ : pandas.DataFrame
        ``softmax`` of the summed log-odds weights: the one-coin model's posterior
        under a uniform class prior with the estimated skills.
    skills_ : pandas.Series
        ``p``: the estimated probability that the worker answers right.
    weights_ : pandas.Series
        The vote weights ``log(p (K-1) / (1-p))`` (crowd-kit's ``skills_``).
    loss_history_ : numpy.ndarray
        The change of ``u v^T`` after each M-MSR iteration.
    n_iter_, converged_ : int, bool
        M-MSR iterations run; whether ``tol`` was reached.
    trim_ : int
        ``F``, the number of values trimmed on each side.

    Notes
    -----
    Differences from crowd-kit 1.4.2 (where it departs from the paper): ``F`` is
    never negative (crowd-kit's ``floor(d/2) - 1`` is -1 as soon as one worker shares
    items with at most one other worker, and ``x[-1:]`` then keeps only the largest
    value); the signs come from the observed pairs only (crowd-kit's sign step reads
    the unobserved entries of ``C`` as ``-1/(K-1)``, i.e. as negative correlation,
    and builds dense matrices with one row per positively correlated pair); a
    worker with no co-worker gets the mean skill (crowd-kit keeps its random start);
    entries whose divisor is 0 are skipped instead of producing infinities; when
    ``|C|`` has no rank-one fit with finite entries (e.g. a worker agreeing with two
    co-workers who are at chance level with each other) the iterations drift apart
    geometrically and crowd-kit overflows to NaN skills, here a drifting scale is
    rebalanced and skill magnitudes are capped at 100 on the balanced scale (then clipped
    as above; inactive on a consistent fit); when every observed pair is at chance level
    (all ``C_ij = 0``) the skills are 0 (crowd-kit divides by the zero ``v``: NaN).
    The statistics are worker x worker matrices (memory: 48 bytes x workers^2,
    refused up front beyond the memory limit); a distributed table sums them over
    its pieces.

    Examples
    --------
    >>> import crowdagg
    >>> crowd = crowdagg.datasets.make_crowd(n_items=200, n_workers=10, random_state=0)
    >>> m = crowdagg.MMSR().fit(crowd.annotations)
    >>> bool((m.labels_ == crowd.truth).mean() > 0.8)
    True
    """

    _history_attr = "loss_history_"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "max_iter": [Interval(Integral, 0, None)],
        "tol": [Interval(Real, 0, None)],
        "random_state": ["random_state"],
        "parallel": ["boolean"],
    }
    #: no warm start: M-MSR is solved from the statistics in one step
    init = "uniform"
    warm_start = False

    def __init__(self, max_iter: int = 10000, tol: float = 1e-10, random_state: Any = 0,
                 parallel: bool = True) -> None:
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.parallel = parallel

    def _make_model(self) -> EMModel:
        return MMSRModel(int(self.max_iter), float(self.tol))

    def _run(self, model: EMModel, executor: Any, init: str | dict[str, np.ndarray], max_iter: int,
             tol: float) -> EMFit:
        if not isinstance(init, str):  # fit(init_params=...): vote with the given weights
            return run_em(model, executor, init=init, max_iter=0, tol=0.0)
        res = run_em(model, executor, init="uniform", max_iter=1, tol=0.0)
        info = model.info
        loss = np.asarray(info["loss"], dtype=np.float64)
        self.trim_ = int(info["trim"])
        return EMFit(params=res.params, posteriors=res.posteriors, loglik=loss, n_iter=int(info["n_iter"]),
                     converged=bool(loss.size and loss[-1] < tol))

    def partial_fit(self, data: Any, **kwargs: Any) -> MMSR:
        """Not available: MMSR has no incremental form (its skills come from one solve over the worker-pair statistics of all the data).

        Raises
        ------
        InputError
            Always; fit the union of the batches instead.
        """
        raise no_incremental_form("MMSR", "its skills come from one solve over the worker-pair statistics of all the data")

    def _set_fitted(self, table: AnnotationTable, params: dict[str, np.ndarray], executor: Any) -> None:
        w = params["weights"]
        k = table.n_labels
        if k < 2:
            p = np.ones_like(w)
        else:
            e = np.exp(np.minimum(w, 700.0))
            p = e / (k - 1 + e)
        self.weights_ = pd.Series(w, index=table.workers, name="weight")
        self.skills_ = pd.Series(p, index=table.workers, name="skill")
