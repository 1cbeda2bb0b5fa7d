"""Gold majority vote: worker weights from their accuracy on gold items, then a weighted vote."""

from __future__ import annotations

from numbers import Real
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from .. import memory
from .._validation import PROBABILITY, Interval, Options
from ..em import MAX_STAT_BUFFER_BYTES, EMAggregator, EMContext, EMFit, EMModel, run_em
from ..errors import GoldError, ParameterError
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
    #: ``fit`` needs gold answers (the command line asks for ``--gold`` before reading anything)
    _needs_gold: ClassVar[bool] = True
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

    def partial_fit(self, data: Any, *, gold: Any = None, forget: float = 1.0, **table_kwargs: Any
                    ) -> GoldMajorityVote:
        """Add one batch: its answers on gold items join the counts of the earlier batches, then
        the batch is voted with every worker's accuracy so far.

        The counts are exact sums (times ``forget`` per batch for the earlier ones), so with
        ``forget=1`` the skills equal those of one fit on the union of the batches.

        Parameters
        ----------
        data : AnnotationTable, DataFrame, pyarrow Table or path
            The batch (in-memory).  After the first batch its labels must lie in the fitted
            label set (pass ``labels=`` on the first call to fix it).
        gold : Series, mapping or DataFrame, optional
            Known labels of items of this batch.  A batch without gold is voted with the
            skills measured so far (the first batch needs gold).
        forget : float in (0, 1], default 1
            Weight of the earlier counts at each call.

        Returns
        -------
        self

        Raises
        ------
        GoldError
            No answer on a gold item in this batch or any earlier one.
        """
        self._validate_params()
        if isinstance(forget, bool) or not isinstance(forget, Real) or not 0.0 < float(forget) <= 1.0:
            raise ParameterError(f"GoldMajorityVote.partial_fit: forget must be a number in (0, 1], got {forget!r}")
        counts = self.__dict__.get("_gold_counts")
        if counts is not None and not isinstance(data, AnnotationTable) and "labels" not in table_kwargs:
            table_kwargs = {"labels": list(self.table_.labels), **table_kwargs}
        table = self._as_table(data, table_kwargs)
        g = table.encode_gold(gold) if gold is not None else np.full(table.n_items, -1, np.int64)
        gi = g[table.item_codes]
        on = gi >= 0
        right_b = pd.Series(np.bincount(table.worker_codes, weights=(on & (table.label_codes == gi)).astype(float),
                                        minlength=table.n_workers), index=table.workers)
        n_b = pd.Series(np.bincount(table.worker_codes, weights=on.astype(float), minlength=table.n_workers),
                        index=table.workers)
        if counts is not None:
            workers = counts[0].index.append(table.workers[~table.workers.isin(counts[0].index)])
            right = counts[0].reindex(workers, fill_value=0.0) * float(forget) + right_b.reindex(workers, fill_value=0.0)
            n = counts[1].reindex(workers, fill_value=0.0) * float(forget) + n_b.reindex(workers, fill_value=0.0)
        else:
            right, n = right_b, n_b
        if n.sum() == 0:
            raise GoldError("GoldMajorityVote: no worker answered a gold item, so no accuracy can be "
                            "measured; give gold answers for items that have annotations")
        default = float(right.sum() / n.sum()) if self.default_skill == "mean" else float(self.default_skill)
        skills = pd.Series(np.where(n > 0, right / n.where(n > 0, 1.0), default), index=n.index, name="skill")
        self.fit(table, gold=gold, init_params={"skills": skills.loc[table.workers]})
        self._gold_counts = (right, n)
        self.skills_ = skills
        self.default_skill_ = default
        self.gold_answers_ = n.rename("gold_answers")
        return self

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
