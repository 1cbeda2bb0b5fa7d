"""Majority vote, plain and weighted."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from .. import memory
from .._validation import Options, check_random_state
from ..base import BaseAggregator, is_distributed_table
from ..em import initial_posteriors
from ..errors import NotFittedError, WeightsError
from ..table import AnnotationTable

__all__ = ["MajorityVote"]


def _agreement(table: AnnotationTable, codes: np.ndarray) -> np.ndarray:
    """Per worker, the number of answers equal to the item's winning label ``codes``."""
    hit = (table.label_codes == codes[table.item_codes]).astype(np.float64)
    return np.bincount(table.worker_codes, weights=hit, minlength=table.n_workers)


def _skills(table: AnnotationTable, agree: np.ndarray, counts: np.ndarray) -> pd.Series:
    return pd.Series(np.where(counts > 0, agree / np.maximum(counts, 1), 0.0), index=table.workers, name="skill")


def _piece_agreement(part: Any, post: np.ndarray, vote: tuple[np.ndarray, int | None], items: Any = ()) -> Any:
    """:func:`_agreement` on a Dask piece (a ``map_reduce`` function): the piece's winning
    labels recounted with the fit's ``(weights, tie_seed)``."""
    _, codes = initial_posteriors(part.table, None, False, *vote)
    return None, _agreement(part.table, codes)


class MajorityVote(BaseAggregator):
    """Majority vote (optionally weighted by worker).

    Each item gets the label with the most votes; ``probas_`` are the vote shares
    (weighted shares with ``weights``).

    Parameters
    ----------
    weights : Series, mapping or array, optional
        One non-negative weight per worker: a Series or mapping indexed by worker
        id (every worker of the data must have one), or an array in the table's
        worker-code order.  ``None`` means plain majority vote.
    tie : {"first", "random"}
        How ties are broken.  ``"first"`` (default, deterministic) picks the tied
        label that comes first in the label set (``table.labels``, sorted unless
        ``labels=`` was given).  ``"random"`` picks uniformly among the tied labels,
        with one uniform per item *id* drawn from ``random_state``
        (:func:`crowdagg.em.item_uniforms`): the same tie-breaks whatever the order
        of the rows, and on a distributed table.
    random_state : None, int >= 0, numpy SeedSequence, Generator or RandomState
        Seed for ``tie="random"``.  Same seed, same data: same labels.  Checked by
        ``fit`` even when unused (negative ints and bools raise
        :class:`~crowdagg.errors.ParameterError`).

    Attributes
    ----------
    labels_ : pandas.Series
        Winning label per item (missing for items without annotations).
    probas_ : pandas.DataFrame
        Vote shares, items x labels.  Items without annotations (or whose voters
        all have weight 0) get uniform shares.
    result_ : AggregationResult
        Both of the above, with ``to_pandas``/``to_polars``.
    skills_ : pandas.Series
        Per worker id, the share of the worker's answers that agree with the
        consensus label (not a model probability: majority vote has no worker model;
        0 for a worker without answers).

    Examples
    --------
    >>> import pandas as pd, crowdagg
    >>> df = pd.DataFrame({"item": [1, 1, 1, 2, 2], "worker": list("abcab"),
    ...                    "label": ["x", "x", "y", "y", "y"]})
    >>> crowdagg.MajorityVote().fit(df).labels_.tolist()
    ['x', 'y']
    """

    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {
        "weights": ["no_validation"],  # checked against the table: WeightsError
        "tie": [Options(("first", "random"))],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        weights: Any = None,
        tie: Literal["first", "random"] = "first",
        random_state: Any = None,
    ) -> None:
        self.weights = weights
        self.tie = tie
        self.random_state = random_state

    def _worker_weights(self, table: AnnotationTable) -> np.ndarray:
        if self.weights is None:
            return np.ones(table.n_workers, dtype=np.float64)
        try:
            w, known = table.encode_worker_values(self.weights, name="weights")
        except (TypeError, ValueError) as exc:
            raise WeightsError(f"weights: {exc}") from None
        if not known.all():
            missing = table.workers[~known]
            raise WeightsError(
                f"weights are missing for {len(missing)} worker(s) of the data: "
                f"{missing[:5].tolist()}"
            )
        if not np.all(np.isfinite(w)) or (w < 0).any():
            raise WeightsError("weights must be finite and non-negative")
        return w

    def _vote(self, table: AnnotationTable) -> tuple[np.ndarray, np.ndarray]:
        # refuse before allocating items x labels shares
        memory.check(type(self).__name__, [memory.posteriors(table.n_items, table.n_labels)], memory.DEFAULT_ADVICE)
        self._validate_params()
        return initial_posteriors(table, None, True, self._worker_weights(table), self._tie_seed())

    def _tie_seed(self) -> int | None:
        """The seed of the random tie-breaks (``tie="random"``), one integer drawn from
        ``random_state``; ``None`` for ``tie="first"``."""
        if self.tie != "random":
            return None
        return int(check_random_state(self.random_state).integers(0, 2**63 - 1))

    def fit(self, data: Any, **table_kwargs: Any) -> MajorityVote:
        """Count the votes.

        Parameters
        ----------
        data : AnnotationTable, DataFrame (pandas/polars), pyarrow Table or path
            The annotations.  ``table_kwargs`` (``item_col``, ``labels``,
            ``duplicates``, ...) are used when ``data`` is not a table yet.

        Returns
        -------
        self
        """
        self._validate_params()
        if is_distributed_table(data):
            self._no_table_options(table_kwargs)
            executor = data.executor(gold=None)
            vote = (self._worker_weights(executor.ctx.table), self._tie_seed())
            codes = executor.vote(vote[0], gold=False, tie_seed=vote[1])
            executor.set_result(self, executor.posteriors, codes)
            _, agree = executor.map_reduce(_piece_agreement, vote)
            self._skills, self._skills_from = _skills(executor.ctx.table, agree, executor.ctx.worker_counts()), None
            return self
        table = self._as_table(data, table_kwargs)
        post, codes = self._vote(table)
        self._set_result(table, post, codes)
        # skills_ is counted on first access: the count is a pass over every annotation (and the
        # expansion of the item codes), which would add half again to a plain vote
        self._skills, self._skills_from = None, (table, codes)
        return self

    @property
    def skills_(self) -> pd.Series:
        """Per worker id, the share of the worker's answers that agree with the consensus
        label (computed on first access; see the class docstring)."""
        if self.__dict__.get("_skills") is None:
            pending = self.__dict__.get("_skills_from")
            if pending is None:
                raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(data) first")
            table, codes = pending
            self._skills, self._skills_from = _skills(table, _agreement(table, codes), table.worker_counts()), None
        return self._skills

    def _predict_posteriors(self, table: AnnotationTable) -> np.ndarray:
        return self._vote(table)[0]

    def predict(self, data: Any = None, **table_kwargs: Any) -> pd.Series:
        """Labels of the fitted data, or majority vote on new ``data`` (same tie rule)."""
        self._check_fitted()
        if data is None:
            return self.labels_
        from ..results import decode_labels

        table = self._new_table(data, table_kwargs)
        return decode_labels(table.labels, self._vote(table)[1], table.items)
