"""Wawa and ZeroBasedSkill: worker weights from agreement with the aggregate, iterated."""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from .._validation import Domain, Interval
from ..em import MAX_STAT_BUFFER_BYTES, EMAggregator, EMContext, EMModel, em_constraints
from ..kernels._util import cap_chunks
from ..kernels.em import (
    sum_chunks,
    wv_agreement,
    wv_estep_fixed_parallel,
    wv_estep_fixed_slice,
    wv_estep_parallel,
    wv_estep_slice,
    wv_rows,
)
from ..table import AnnotationTable

__all__ = ["Wawa", "ZeroBasedSkill", "WeightedVoteModel"]


def _fixed_width(n_workers: int, n_labels: int) -> bool:
    """Whether the weighted vote runs the 2-4 class kernel: its ``W x K^2`` weight rows
    and agreement cells (8 bytes each, per chunk) within
    :data:`~crowdagg.em.MAX_STAT_BUFFER_BYTES`; beyond (millions of workers) the generic
    kernel's ``W`` agreement counts."""
    return 2 <= n_labels <= 4 and 8 * n_workers * n_labels**2 <= MAX_STAT_BUFFER_BYTES


class WeightedVoteModel(EMModel):
    """Engine plug-in: weighted majority vote with worker skills as weights.

    "E-step": weighted vote shares per item and the aggregate label (gold label,
    or first label of maximal share).  "M-step": each worker's agreement rate
    ``acc[w]`` with the aggregate labels; then ``skills += lr_t (acc - skills)``
    with ``lr_t = lr_init * lr_reduce_factor ** (t // lr_steps_to_reduce)`` at
    iteration ``t`` (``lr = 1``: Wawa, skills = agreement), projected onto
    ``[0, 1]`` (a learning rate above 1 overshoots; the projection keeps every
    skill an agreement rate and every weight non-negative).  Workers without
    answers keep their skill.  Convergence: largest absolute skill change.
    """

    worker_params = ("skills",)
    global_params = ()
    label_axes: ClassVar[dict[str, tuple[int, ...]]] = {"skills": ()}
    convergence = "params"
    #: skills are agreement rates and vote weights: in [0, 1] (0 is a legitimate weight)
    param_domains: ClassVar[dict[str, Domain]] = {"skills": Domain(0.0, 1.0)}

    def __init__(self, init_skill: float | None = None, lr_init: float = 1.0,
                 lr_steps_to_reduce: int = 0, lr_reduce_factor: float = 1.0) -> None:
        self.init_skill = init_skill
        self.lr_init = lr_init
        self.lr_steps_to_reduce = lr_steps_to_reduce
        self.lr_reduce_factor = lr_reduce_factor

    def memory_terms(self, n_items: int, n_workers: int, n_labels: int) -> list[tuple[str, float]]:
        terms = super().memory_terms(n_items, n_workers, n_labels)
        if _fixed_width(n_workers, n_labels):  # the fixed-width kernel's weight rows and agreement cells
            terms.append((f"weighted-vote rows and agreement cells, {n_workers:,} workers x {n_labels}^2 labels, "
                          "2 copies", 2 * 8.0 * n_workers * n_labels**2))
        return terms

    def default_params(self, ctx: EMContext) -> dict[str, np.ndarray]:
        s = 1.0 if self.init_skill is None else self.init_skill
        return {"skills": np.full(ctx.n_workers, s)}

    def _n_workers_answers(self, ctx: EMContext) -> np.ndarray:
        return ctx.worker_counts()  # once per run (kept in ctx.cache), not a bincount per iteration

    def _lr(self, t: int) -> float:
        if self.lr_steps_to_reduce <= 0:
            return self.lr_init
        return self.lr_init * self.lr_reduce_factor ** (t // self.lr_steps_to_reduce)

    def _update(self, ctx: EMContext, old: np.ndarray, agree: np.ndarray, lr: float) -> dict[str, np.ndarray]:
        n_w = self._n_workers_answers(ctx)
        has = n_w > 0
        acc = np.where(has, agree / np.where(has, n_w, 1.0), old)
        return {"skills": np.clip(old + lr * (acc - old), 0.0, 1.0)}

    def stats_from_posteriors(self, part: EMContext, post: np.ndarray) -> np.ndarray:
        t = part.table
        best = np.argmax(post, axis=1)
        return np.bincount(t.worker_codes, weights=(t.label_codes == best[t.item_codes]).astype(np.float64),
                           minlength=t.n_workers)

    def initial_m_step(self, ctx: EMContext, stats: Any, executor: Any) -> dict[str, np.ndarray]:
        return self._update(ctx, self.default_params(ctx)["skills"], stats, 1.0)

    def prepare(self, ctx: EMContext, params: dict[str, np.ndarray]) -> tuple[np.ndarray, Any]:
        w = np.ascontiguousarray(params["skills"], dtype=np.float64)
        k = ctx.n_labels
        # 2-4 classes: the weights as (worker, label) rows for the fixed-width kernel
        return w, (wv_rows(w, k) if _fixed_width(ctx.n_workers, k) else None)

    def e_step_table(self, part: EMContext, prepared: tuple[np.ndarray, Any], items: dict[str, np.ndarray],
                     post: np.ndarray, accumulate: bool) -> tuple[float, Any]:
        """The weighted vote of every item and each worker's agreement count: for 2-4
        classes :func:`~crowdagg.kernels.em.wv_estep_fixed_slice` (Dawid-Skene's pair
        index, bit-identical to the generic kernel), else
        :func:`~crowdagg.kernels.em.wv_estep_slice`; serial on one chunk."""
        t = part.table
        k = t.n_labels
        w, rows = prepared
        if rows is not None and post.shape[1] == k:
            return self._e_step_fixed(part, rows, post, accumulate)
        # one agreement row per chunk: fewer chunks when they would pass MAX_STAT_BUFFER_BYTES
        bounds = cap_chunks(part.chunks(), 8 * t.n_workers, MAX_STAT_BUFFER_BYTES) if part.parallel else None
        if bounds is None or bounds.shape[0] <= 2:
            agree = np.zeros(t.n_workers)
            score = wv_estep_slice(t.item_ptr, t.worker_codes, t.label_codes, part.gold, w, 0, t.n_items,
                                   post, agree, accumulate)
            return float(score), agree
        n_chunks = bounds.shape[0] - 1
        abuf = self.buffer("agree", (n_chunks, t.n_workers))
        sbuf = self.buffer("score", (n_chunks,))
        wv_estep_parallel(t.item_ptr, t.worker_codes, t.label_codes, part.gold, w, bounds, post, abuf, sbuf,
                          accumulate)
        return float(sbuf.sum()), abuf.sum(axis=0)

    def _e_step_fixed(self, part: EMContext, rows: tuple[np.ndarray, np.ndarray], post: np.ndarray,
                      accumulate: bool) -> tuple[float, np.ndarray]:
        """2-4 classes: the agreement counts as (worker, label, aggregate label) cells
        (``hits``, ``W K^2`` per chunk), reduced to one count per worker."""
        t = part.table
        k = t.n_labels
        vrows, pw = rows
        width = (0.0,) * k
        cells = t.n_workers * k * k
        bounds = cap_chunks(part.chunks(), 8 * cells, MAX_STAT_BUFFER_BYTES) if part.parallel else None
        if bounds is None or bounds.shape[0] <= 2:
            # (fresh: a Dask worker's threads share this plug-in object between pieces)
            hits = np.zeros(cells if accumulate else 0)
            score = wv_estep_fixed_slice(t.item_ptr, t.worker_label_pairs, part.kernel_gold(), vrows, pw,
                                         0, t.n_items, post, hits, accumulate, width)
        else:
            n_chunks = bounds.shape[0] - 1
            hbuf = self.buffer("hits_chunks", (n_chunks, cells)) if accumulate else np.zeros((n_chunks, 0))
            sbuf = self.buffer("score", (n_chunks,))
            wv_estep_fixed_parallel(t.item_ptr, t.worker_label_pairs, part.kernel_gold(), vrows, pw, bounds,
                                    post, hbuf, sbuf, accumulate, width)
            score = sbuf.sum()
            hits = sum_chunks(hbuf) if accumulate else None
        agree = wv_agreement(hits, k) if accumulate else np.zeros(t.n_workers)
        return float(score), agree

    def m_step(self, ctx: EMContext, params: dict[str, np.ndarray], stats: Any,
               executor: Any) -> dict[str, np.ndarray]:
        return self._update(ctx, params["skills"], stats, self._lr(ctx.iteration))


class _WVBase(EMAggregator):
    _inits = ("uniform", "mv")
    #: the vote score is not a log-likelihood (it was called ``loglik_`` before 0.x)
    _history_attr = "scores_"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = em_constraints(_inits)

    def _set_fitted(self, table: AnnotationTable, params: dict[str, np.ndarray], executor: Any) -> None:
        self.skills_ = pd.Series(params["skills"], index=table.workers, name="skill")


class Wawa(_WVBase):
    """Wawa ("worker agreement with aggregate"): majority vote weighted by each
    worker's agreement with the plain majority vote.

    With the defaults (``init="uniform"``, ``max_iter=1``) this is the classic
    method: a plain majority vote (all weights 1), each worker's skill = share of
    their answers equal to it, then a vote weighted by the skills.  ``max_iter > 1``
    iterates (skills = agreement with the previous weighted vote) until the skills
    change by less than ``tol``.  Ties go to the first label.

    Appen (Figure Eight) "worker agreement with aggregate" metric; as implemented in
    Ustalov, D., Pavlichenko, N. & Tseitlin, B. (2024).  Learning from crowds with
    Crowd-Kit.  *Journal of Open Source Software*, 9(96), 6227.

    Parameters
    ----------
    max_iter : int >= 0, default 1
        Rounds of (skills from the current aggregate, weighted vote).
    tol : float >= 0, default 0
        Stop when no skill changes by more than ``tol``; ``0`` runs ``max_iter`` rounds.
    init : {"uniform", "mv"}, default "uniform"
        ``"uniform"``: first vote with equal weights; ``"mv"``: skills from the majority
        vote before the first weighted vote (so ``max_iter=0`` is classic Wawa).
    warm_start : bool, default False
        Start from the fitted skills (by worker id).  Warm-start skills (also
        ``fit(init_params=...)``) must lie in [0, 1]; others raise
        :class:`~crowdagg.errors.InitParamsError`.
    parallel : bool, default True

    Attributes
    ----------
    labels_, probas_ : weighted-vote labels and shares
    skills_ : pandas.Series
        Agreement rate per worker id.
    n_iter_, converged_ : int, bool
        Rounds run; whether ``tol`` was reached.
    scores_ : numpy.ndarray
        Vote score after each round (the summed winning shares; not a
        log-likelihood, hence not called ``loglik_`` as on the EM methods).
    """

    def __init__(self, max_iter: int = 1, tol: float = 0.0, init: str = "uniform",
                 warm_start: bool = False, parallel: bool = True) -> None:
        self.max_iter = max_iter
        self.tol = tol
        self.init = init
        self.warm_start = warm_start
        self.parallel = parallel

    def _make_model(self) -> EMModel:
        return WeightedVoteModel()


class ZeroBasedSkill(_WVBase):
    """ZeroBasedSkill: weighted majority vote whose worker skills move toward their
    agreement with the aggregate, with a decaying learning rate.

    Skills start at ``1 / K + eps``; iteration ``t`` votes with the current skills,
    then sets ``skills += lr_t * (agreement - skills)`` with ``lr_t = lr_init *
    lr_reduce_factor ** (t // lr_steps_to_reduce)``; the returned labels are the vote
    with the final skills.  As in Crowd-Kit (Ustalov, Pavlichenko & Tseitlin 2024,
    *JOSS* 9(96), 6227).

    Parameters
    ----------
    max_iter : int >= 0, default 100
    tol : float >= 0, default 0
        Stop early when no skill changes by more than ``tol`` (``0``: run ``max_iter``).
    init : {"uniform", "mv"}, default "uniform"
        ``"uniform"``: skills ``min(1/K + eps, 1)``; ``"mv"``: agreement with majority vote.
    lr_init : float > 0, default 1.0
        Initial learning rate.  Above 1 the update overshoots; skills are then
        projected onto [0, 1].
    lr_steps_to_reduce : int >= 1, default 20
    lr_reduce_factor : float in (0, 1], default 0.5
    eps : float in [0, 1], default 1e-5
    warm_start : bool, default False
        Start from the fitted skills; warm-start skills must lie in [0, 1].
    parallel : bool, default True

    Attributes
    ----------
    labels_, probas_, skills_, n_iter_, converged_, scores_ : as in :class:`Wawa`
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **_WVBase._parameter_constraints,
        "lr_init": [Interval(Real, 0, None, closed="neither")],
        "lr_steps_to_reduce": [Interval(Integral, 1, None)],
        "lr_reduce_factor": [Interval(Real, 0, 1, closed="right")],
        "eps": [Interval(Real, 0, 1)],
    }

    def __init__(self, max_iter: int = 100, tol: float = 0.0, init: str = "uniform",
                 lr_init: float = 1.0, lr_steps_to_reduce: int = 20, lr_reduce_factor: float = 0.5,
                 eps: float = 1e-5, warm_start: bool = False, parallel: bool = True) -> None:
        self.max_iter = max_iter
        self.tol = tol
        self.init = init
        self.lr_init = lr_init
        self.lr_steps_to_reduce = lr_steps_to_reduce
        self.lr_reduce_factor = lr_reduce_factor
        self.eps = eps
        self.warm_start = warm_start
        self.parallel = parallel

    def _make_model(self) -> EMModel:
        # validated by fit (_parameter_constraints)
        lr, steps = float(self.lr_init), int(self.lr_steps_to_reduce)
        factor, eps = float(self.lr_reduce_factor), float(self.eps)
        return _ZBSModel(eps=eps, lr_init=lr, lr_steps_to_reduce=steps, lr_reduce_factor=factor)


class _ZBSModel(WeightedVoteModel):
    def __init__(self, eps: float, **kw: Any) -> None:
        super().__init__(**kw)
        self.eps = eps

    def default_params(self, ctx: EMContext) -> dict[str, np.ndarray]:
        return {"skills": np.full(ctx.n_workers, min(1.0 / ctx.n_labels + self.eps, 1.0))}
