"""A complete small crowdagg method: a vote weighted by each worker's estimated accuracy.

The example a newcomer copies (see ``docs/architecture.md``).  Worker ``w``
answers the true label with probability ``acc[w]`` and each other label with
``(1 - acc[w]) / (K - 1)``; true labels have priors ``priors[k]``.  EM: the
E-step is a vote in which a worker's answer counts ``log(acc (K-1) / (1-acc))``;
the M-step sets each accuracy to the worker's expected share of right answers.

Written once against the slice-level contract of :mod:`crowdagg.em`, it runs on
an in-memory table (one part) and on a ``DaskAnnotationTable`` (one part per
piece) without a line of Dask code, and passes ``crowdagg.testing.check_aggregator``
(``tests/test_plugin_example.py``).  Plain NumPy keeps it short; a production
method calls Numba slice kernels instead (``crowdagg/kernels/``).
"""

from __future__ import annotations

from numbers import Real
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from crowdagg._validation import PROBABILITY, Interval, simplex
from crowdagg.em import EMAggregator, EMContext, EMModel, em_constraints


class AccuracyVoteModel(EMModel):
    """The EM plug-in: parameters ``acc`` (per worker) and ``priors`` (per label)."""

    worker_params = ("acc",)
    global_params = ("priors",)
    label_axes: ClassVar[dict[str, tuple[int, ...]]] = {"acc": (), "priors": (0,)}
    param_domains: ClassVar[dict[str, Any]] = {"acc": PROBABILITY, "priors": simplex(0)}

    def __init__(self, pseudo_count: float = 1.0) -> None:
        self.pseudo_count = pseudo_count

    def default_params(self, ctx: EMContext) -> dict[str, np.ndarray]:
        return {"acc": np.full(ctx.n_workers, 0.7), "priors": np.full(ctx.n_labels, 1.0 / ctx.n_labels)}

    def prepare(self, ctx: EMContext, params: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
        # what every part reads, computed once per E-step: log priors, log-probabilities
        # of a right and of a given wrong answer
        k = max(ctx.n_labels - 1, 1)
        acc = params["acc"]
        return np.log(params["priors"]), np.log(acc), np.log((1.0 - acc) / k)

    def e_step_table(self, part: EMContext, prepared: tuple[np.ndarray, ...], items: dict[str, np.ndarray],
                     post: np.ndarray, accumulate: bool) -> tuple[float, Any]:
        t = part.table
        log_prior, log_right, log_wrong = prepared
        w = t.worker_codes
        log_post = np.tile(log_prior, (t.n_items, 1))
        log_post += np.bincount(t.item_codes, weights=log_wrong[w], minlength=t.n_items)[:, None]
        np.add.at(log_post, (t.item_codes, t.label_codes), (log_right - log_wrong)[w])
        top = log_post.max(axis=1, keepdims=True)
        norm = top[:, 0] + np.log(np.exp(log_post - top).sum(axis=1))
        post[:] = np.exp(log_post - norm[:, None])
        gold = part.gold >= 0
        post[gold] = 0.0
        post[np.flatnonzero(gold), part.gold[gold]] = 1.0
        loglik = float(norm[t.item_counts() > 0].sum())
        return loglik, self.stats_from_posteriors(part, post) if accumulate else None

    def stats_from_posteriors(self, part: EMContext, post: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        # summable statistics: expected right answers per worker, expected class totals
        t = part.table
        right = np.bincount(t.worker_codes, weights=post[t.item_codes, t.label_codes], minlength=t.n_workers)
        used = (t.item_counts() > 0) | (part.gold >= 0)
        return right, post[used].sum(axis=0)

    def m_step(self, ctx: EMContext, params: dict[str, np.ndarray], stats: Any,
               executor: Any) -> dict[str, np.ndarray]:
        right, totals = stats
        a = self.pseudo_count
        return {"acc": (right + a) / (ctx.worker_counts() + 2 * a),
                "priors": (totals + a) / (totals.sum() + a * totals.shape[0])}


class AccuracyVote(EMAggregator):
    """Vote weighted by estimated worker accuracy (one-coin EM in plain NumPy).

    Parameters
    ----------
    max_iter : int >= 0, default 50
    tol : float >= 0, default 1e-6
        Stop when the log-likelihood per annotation changes by less than ``tol``.
    init : {"mv", "uniform"}, default "mv"
    pseudo_count : float > 0, default 1.0
        Beta / Dirichlet pseudo-count of the M-step.
    warm_start : bool, default False
    parallel : bool, default True
        Unused (plain NumPy); every EM estimator has it.

    Attributes
    ----------
    skills_ : pandas.Series
        Accuracy per worker id (the probability that the worker's answer is right).
    priors_ : pandas.Series
        Class priors by label.
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        **em_constraints(EMAggregator._inits),
        "pseudo_count": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, max_iter: int = 50, tol: float = 1e-6, init: str = "mv", pseudo_count: float = 1.0,
                 warm_start: bool = False, parallel: bool = True) -> None:
        self.max_iter = max_iter
        self.tol = tol
        self.init = init
        self.pseudo_count = pseudo_count
        self.warm_start = warm_start
        self.parallel = parallel

    def _make_model(self) -> EMModel:
        return AccuracyVoteModel(float(self.pseudo_count))

    def _set_fitted(self, table: Any, params: dict[str, np.ndarray], executor: Any) -> None:
        self.skills_ = pd.Series(params["acc"], index=table.workers, name="skill")
        self.priors_ = pd.Series(params["priors"], index=table.labels, name="prior")


__all__ = ["AccuracyVote", "AccuracyVoteModel"]
