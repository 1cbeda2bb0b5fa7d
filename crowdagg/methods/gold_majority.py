"""Gold majority vote: worker weights from their accuracy on gold items, then a weighted vote."""

from __future__ import annotations

from numbers import Real
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from .. import memory
from .._validation import PROBABILITY, Interval, Options
from ..em import MAX_STAT_BUFFER_BYTES, EMAggregator, EMContext, EMFit, EMModel, run_em
from ..errors import GoldError, InputError
from ..kernels._util import cap_chunks
from ..kernels.em import wv_estep_parallel, wv_estep_slice
from ..table import AnnotationTable

__all__ = ["GoldMajorityVote", "GoldVoteModel"]


class GoldVoteModel(EMModel):
    """Engine plug-in: pass 0 counts each worker's right answers on gold items (summable
    over parts), the one "M-step" turns them into accuracies, the last pass is the vote
    weighted by them (the weighted-vote kernel of Wawa)."""

    worker_params = ("skills",)
    label_axes: ClassVar[dict[str, tuple[int, ...]]] = {"skills": ()}
    convergence = "params"
    param_domains: ClassVar[dict[str, Any]] = {"skills": PROBABILITY}

    def __init__(self, default_skill: str | float = "mean", fitted_default: float = 1.0) -> None:
        self.default_skill = default_skill
        self.fitted_default = fitted_default
        self.pooled = np.nan

    def memory_terms(self, n_items: int, n_workers: int, n_labels: int) -> list[tuple[str, float]]:
        return [memory.posteriors(n_items, n_labels, 2), memory.per_worker("worker accuracies", n_workers, 1, 4)]

    def default_params(self, ctx: EMContext) -> dict[str, np.ndarray]:
        return {"skills": np.full(ctx.n_workers, self.fitted_default)}

    def prepare(self, ctx: EMContext, params: dict[str, np.ndarray]) -> np.ndarray:
        return np.ascontiguousarray(params["skills"], dtype=np.float64)

    def e_step_table(self, part: EMContext, prepared: np.ndarray, items: dict[str, np.ndarray],
                     post: np.ndarray, accumulate: bool) -> tuple[float, Any]:
        t = part.table
        gold = part.gold if part.gold is not None else np.full(t.n_items, -1, np.int64)
        bounds = cap_chunks(part.chunks(), 8 * t.n_workers, MAX_STAT_BUFFER_BYTES) if part.parallel else None
        if bounds is None or bounds.shape[0] <= 2:
            score = wv_estep_slice(t.item_ptr, t.worker_codes, t.label_codes, gold, prepared, 0, t.n_items,
                                   post, np.zeros(t.n_workers), False)
        else:
            abuf = np.zeros((bounds.shape[0] - 1, t.n_workers))
            sbuf = np.zeros(bounds.shape[0] - 1)
            wv_estep_parallel(t.item_ptr, t.worker_codes, t.label_codes, gold, prepared, bounds, post, abuf, sbuf,
                              False)
            score = sbuf.sum()
        return float(score), (self.stats_from_posteriors(part, post) if accumulate else None)

    def stats_from_posteriors(self, part: EMContext, post: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per worker: right answers on gold items, answers on gold items."""
        t = part.table
        gold = part.gold if part.gold is not None else np.full(t.n_items, -1, np.int64)
        g = gold[t.item_codes]
        on_gold = g >= 0
        right = np.bincount(t.worker_codes, weights=(on_gold & (t.label_codes == g)).astype(np.float64),
                            minlength=t.n_workers)
        n = np.bincount(t.worker_codes, weights=on_gold.astype(np.float64), minlength=t.n_workers)
        return right, n

    def m_step(self, ctx: EMContext, params: dict[str, np.ndarray], stats: Any,
               executor: Any) -> dict[str, np.ndarray]:
        right, n = stats
        if n.sum() == 0:
            raise GoldError("GoldMajorityVote: no worker answered a gold item, so no accuracy can be "
                            "measured; give gold answers for items that have annotations")
        self.pooled = float(right.sum() / n.sum())
        default = self.pooled if self.default_skill == "mean" else float(self.default_skill)
        return {"skills": np.where(n > 0, right / np.maximum(n, 1.0), default)}


class GoldMajorityVote(EMAggregator):
    """Majority vote weighted by each worker's accuracy on gold items.

    Each worker's skill is the share of their answers on gold items that equal the gold
    label; every item then gets the label with the largest sum of its voters' skills
    (as crowd-kit's ``GoldMajorityVote``).  Workers who answered no gold item get
    ``default_skill`` (crowd-kit requires every worker to have answered gold).

    Parameters
    ----------
    default_skill : "mean" or float in [0, 1], default "mean"
        Skill of a worker without answers on gold items: ``"mean"`` is the pooled
        accuracy of all answers on gold items (right answers / answers, over every
        worker), a number is used as it is (``1.0``: such workers vote as in plain
        majority vote, ``0.0``: they are ignored).
    parallel : bool, default True

    Attributes
    ----------
    labels_ : pandas.Series
        Weighted-vote winner (ties: the first label).  Gold items take their gold
        label (crowd-kit votes on them too).
    probas_ : pandas.DataFrame
        Weighted vote shares (one-hot on gold items; uniform without answers or when
        every voter has skill 0).
    skills_ : pandas.Series
        Accuracy on gold items per worker id (``default_skill`` for the others).
    gold_answers_ : pandas.Series
        Number of answers on gold items per worker id.
    default_skill_ : float
        The skill given to workers without gold answers.

    Raises
    ------
    GoldError
        ``fit`` without ``gold``, or when no annotated item has a gold answer.

    References
    ----------
    Ustalov, D., Pavlichenko, N. & Tseitlin, B. (2024).  Learning from crowds with
    Crowd-Kit.  *Journal of Open Source Software*, 9(96), 6227.

    Examples
    --------
    >>> import pandas as pd, crowdagg
    >>> df = pd.DataFrame({"item": ["t1", "t1", "t1", "t2", "t2", "t2"],
    ...                    "worker": ["p1", "p2", "p3"] * 2, "label": [0, 0, 1, 1, 0, 1]})
    >>> gmv = crowdagg.GoldMajorityVote().fit(df, gold={"t1": 0})
    >>> gmv.skills_.tolist(), gmv.labels_.tolist()
    ([1.0, 1.0, 0.0], [0, 0])
    """

    _history_attr = "scores_"
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "default_skill": [Options(("mean",)), Interval(Real, 0, 1)],
        "parallel": ["boolean"],
    }
    init = "uniform"
    warm_start = False
    max_iter = 1
    tol = 0.0

    def __init__(self, default_skill: str | float = "mean", parallel: bool = True) -> None:
        self.default_skill = default_skill
        self.parallel = parallel

    def _make_model(self) -> EMModel:
        return GoldVoteModel(self.default_skill, float(self.__dict__.get("default_skill_", 1.0)))

    def fit(self, data: Any, *, gold: Any = None, init_params: Any = None, **table_kwargs: Any
            ) -> GoldMajorityVote:
        """Measure the workers' accuracy on ``gold`` and vote.

        Parameters
        ----------
        data : AnnotationTable, DataFrame, pyarrow Table, path or DaskAnnotationTable
        gold : Series, mapping or DataFrame
            Known labels by item id (required).
        init_params : fitted GoldMajorityVote or dict, optional
            Vote with these skills (by worker id) instead of measuring them.

        Returns
        -------
        self
        """
        self._validate_params()
        if gold is None and init_params is None:
            raise GoldError("GoldMajorityVote needs gold answers: fit(data, gold=...) with known labels by "
                            "item id (or use MajorityVote / Wawa)")
        return super().fit(data, gold=gold, init_params=init_params, **table_kwargs)

    def partial_fit(self, data: Any, **kwargs: Any) -> GoldMajorityVote:
        """Not available yet (the gold counts would add up over batches, but the core's
        incremental loop does not keep them for this plug-in).

        Raises
        ------
        InputError
            Always; fit the union of the batches instead.
        """
        raise InputError("GoldMajorityVote has no incremental form yet; call fit on the union of the batches")

    def _run(self, model: EMModel, executor: Any, init: str | dict[str, np.ndarray], max_iter: int,
             tol: float) -> EMFit:
        if not isinstance(init, str):
            return run_em(model, executor, init=init, max_iter=0, tol=0.0)
        res = run_em(model, executor, init="uniform", max_iter=1, tol=0.0)
        self._stats = model
        return res

    def _set_fitted(self, table: AnnotationTable, params: dict[str, np.ndarray], executor: Any) -> None:
        model = self.__dict__.pop("_stats", None)
        self.skills_ = pd.Series(params["skills"], index=table.workers, name="skill")
        if model is not None:
            self.default_skill_ = model.pooled if self.default_skill == "mean" else float(self.default_skill)
            _, n = executor.map_reduce(_gold_counts, None)
            self.gold_answers_ = pd.Series(n.astype(np.int64), index=table.workers, name="gold_answers")


def _gold_counts(part: EMContext, post: np.ndarray, broadcast: Any, items: Any = ()) -> tuple[None, Any]:
    t = part.table
    gold = part.gold if part.gold is not None else np.full(t.n_items, -1, np.int64)
    return None, np.bincount(t.worker_codes, weights=(gold[t.item_codes] >= 0).astype(np.float64),
                             minlength=t.n_workers)
