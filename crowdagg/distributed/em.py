"""Distributed fitting: the local EM engine's loop, with E-steps mapped over Dask pieces.

One iteration of every EM method is

1. the client computes the log-space parameters the kernels read (small:
   workers x labels x labels at most) and sends them to every worker once;
2. one task per piece runs the method's *serial* E-step slice kernel over all of
   the piece's items (the same kernel as the local path), keeps the piece's
   posteriors in the worker's memory and returns its partial statistics;
3. the statistics are tree-summed (``fan_in`` pieces per node) and gathered;
4. the client runs the plug-in's own ``m_step`` (the local code) on the sums.

No data moves between workers after the table is built.  The loop, the
initialisation (majority-vote posteriors computed per piece, then the plug-in's
M-step), the stopping rule, the log-likelihood history and the
:class:`~crowdagg.errors.ConvergenceWarning` are those of :func:`crowdagg.em.run_em`,
so a distributed fit gives the local fit's labels and parameters up to the order
of floating-point sums.

GLAD's M-step is the local block-coordinate Newton
(:meth:`crowdagg.methods.glad.GLADModel.m_step`): each piece updates its own
items' ``log_betas`` (a per-item solve) and returns them with its per-worker
gradient/curvature sums, which are tree-summed; the client takes the abilities'
Newton step.  The per-item parameters are held by the client (8 bytes per item)
and sent to the pieces at each alternation.  MACE's restarts are run one after the other.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_choice, check_float, check_int, check_random_state
from ..em import EMModel, align_params
from ..errors import ConvergenceWarning, GoldError, InputError
from ..gold import gold_by_item, gold_label_codes
from ..table import AnnotationTable
from . import _tasks as T
from .results import DaskAggregationResult, label_meta_dtype
from .table import DaskAnnotationTable

__all__ = ["fit", "DistributedEM"]

#: Pieces summed per node of the reduction tree.
FAN_IN = 8


# --------------------------------------------------------------------------- driver-side context
class DriverContext:
    """What plug-ins' ``m_step``/``delta``/``default_params``/``random_params`` read of
    the data, on the client: sizes, worker counts, the random generator, and the
    codebook table (workers and labels) for aligning warm-start parameters."""

    def __init__(self, dtable: DaskAnnotationTable, rng: np.random.Generator) -> None:
        self.dtable = dtable
        self.table: AnnotationTable = dtable.codebook
        self.gold = None
        self.parallel = False
        self.rng = rng
        self.iteration = 0

    @property
    def n_items(self) -> int:
        return self.dtable.n_items

    @property
    def n_workers(self) -> int:
        return self.dtable.n_workers

    @property
    def n_labels(self) -> int:
        return self.dtable.n_labels

    @property
    def n_annotations(self) -> int:
        return self.dtable.n_annotations

    def worker_counts(self) -> np.ndarray:
        return self.dtable.worker_counts().astype(np.float64)


def tree_sum(client: Any, futures: list[Any], fan_in: int = FAN_IN, combine: Any = None) -> Any:
    """Sum futures with a tree of ``combine`` tasks (default :func:`_tasks.add`); the root future."""
    combine = T.add if combine is None else combine
    level = list(futures)
    while len(level) > 1:
        level = [client.submit(combine, *level[i:i + fan_in], pure=False) if len(level[i:i + fan_in]) > 1
                 else level[i] for i in range(0, len(level), fan_in)]
    return level[0]


def nbytes(obj: Any) -> int:
    """Bytes of the arrays in a nest of tuples/lists/dicts (what crosses the network)."""
    if isinstance(obj, np.ndarray):
        return int(obj.nbytes)
    if isinstance(obj, (tuple, list)):
        return sum(nbytes(o) for o in obj)
    if isinstance(obj, dict):
        return sum(nbytes(o) for o in obj.values())
    if isinstance(obj, (float, int, np.floating, np.integer)):
        return 8
    return 0


def _kind(estimator: Any) -> str:
    name = type(estimator).__name__
    kinds = {"DawidSkene": "ds", "FastDawidSkene": "fds", "OneCoinDawidSkene": "oc", "MACE": "mace",
             "GLAD": "glad", "MajorityVote": "mv"}
    if name not in kinds:
        raise InputError(f"{name} has no distributed implementation; supported: {sorted(kinds)}")
    return kinds[name]


# --------------------------------------------------------------------------- the runner
class DistributedEM:
    """Runs one EM plug-in over a :class:`DaskAnnotationTable` (see the module docstring).

    Attributes
    ----------
    bytes_per_iteration : list of int
        Per iteration: bytes of the parameters broadcast to the pieces plus bytes of
        the statistics sent by every piece into the reduction tree.
    """

    def __init__(self, kind: str, model: EMModel, dtable: DaskAnnotationTable, gold: Any = None,
                 rng: np.random.Generator | None = None, fan_in: int = FAN_IN) -> None:
        self.kind = kind
        self.model = model
        self.dt = dtable
        self.client = dtable.client
        self.ctx = DriverContext(dtable, rng if rng is not None else np.random.default_rng(0))
        self.fan_in = fan_in
        self.gold = encode_gold(dtable, gold)
        self.has_gold = gold is not None
        self.bytes_per_iteration: list[int] = []
        self._offsets = np.concatenate([[0], np.cumsum(dtable.partition_sizes()[:, 0])]).astype(np.int64)

    # ----------------------------------------------------------------- pieces
    def _reduce(self, futures: list[Any]) -> Any:
        return self.client.gather(tree_sum(self.client, futures, self.fan_in))

    def mv_states(self) -> list[Any]:
        ones = self.client.scatter(np.ones(self.dt.n_workers), broadcast=True, hash=False)
        return [self.client.submit(T.mv_state, p, ones, g if self.has_gold else None, pure=False)
                for p, g in zip(self.dt.pieces, self.gold)]

    def prepare(self, params: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
        """Log-space parameters for the kernels (what is broadcast each iteration)."""
        k = self.dt.n_labels
        if self.kind in ("ds", "fds"):
            return (np.log(params["priors"]),
                    np.ascontiguousarray(np.log(params["confusions"]).transpose(0, 2, 1)))
        if self.kind == "oc":
            s = params["skills"]
            if k > 1:
                log_s, log_e = np.log(s), np.log((1.0 - s) / (k - 1))
            else:
                log_s, log_e = np.zeros_like(s), np.zeros_like(s)
            return np.log(params["priors"]), log_s, log_e
        if self.kind == "mace":
            from ..kernels.mace import mace_log_params

            return (np.full(k, -np.log(k)), *mace_log_params(params["spam"], params["know"], params["strategies"]))
        if self.kind == "glad":
            return self.model.log_prior(self.ctx), params["alphas"], *self.model.log_beta_prior
        raise ValueError(self.kind)  # pragma: no cover

    def e_step(self, params: dict[str, np.ndarray], accumulate: bool) -> tuple[float, Any, list[Any]]:
        """One distributed E-step: ``(loglik, summed statistics, state futures)``."""
        prep = self.prepare(params)
        pfut = self.client.scatter(prep, broadcast=True, hash=False)
        if self.kind == "glad":
            lb = params["log_betas"]
            o = self._offsets
            states = [self.client.submit(T.glad_estep, p, g, pfut, lb[o[i]:o[i + 1]], accumulate, pure=False)
                      for i, (p, g) in enumerate(zip(self.dt.pieces, self.gold))]
        else:
            fn = T.ESTEPS[self.kind]
            states = [self.client.submit(fn, p, g, pfut, accumulate, pure=False)
                      for p, g in zip(self.dt.pieces, self.gold)]
        small = [self.client.submit(T.loglik_and_stats, s, pure=False) for s in states]
        ll, stats = self._reduce(small)
        if self.kind == "glad":
            ll = float(ll) + self.model._log_gauss_priors(params["alphas"], params["log_betas"])
        self._moved = nbytes(prep) * len(self.dt.pieces) + nbytes(stats) * len(self.dt.pieces)
        return float(ll), stats, states

    def m_step(self, params: dict[str, np.ndarray], stats: Any, states: list[Any]) -> dict[str, np.ndarray]:
        if self.kind == "glad":
            return self._glad_m_step(params, states)
        return self.model.m_step(self.ctx, params, stats, None)

    def params_from_states(self, states: list[Any]) -> dict[str, np.ndarray]:
        """The plug-in's ``params_from_posteriors`` with posteriors kept on the pieces."""
        if self.kind == "glad":
            return self._glad_m_step(self.model.default_params(self.ctx), states, marginal=False)
        futs = [self.client.submit(T.init_stats, self.kind, p, g, s, pure=False)
                for p, g, s in zip(self.dt.pieces, self.gold, states)]
        return self.model.m_step(self.ctx, {}, self._reduce(futs), None)

    def _glad_m_step(self, params: dict[str, np.ndarray], states: list[Any], marginal: bool = True
                     ) -> dict[str, np.ndarray]:
        """The local :meth:`GLADModel._alternate` with the item pass mapped over the pieces:
        each piece updates its items' ``log_betas`` and returns them with its per-worker
        sums, which are tree-summed (the largest ``beta`` and change by a maximum)."""
        from ..kernels.glad import glad_alpha_update
        from ..methods.glad import ITEM_NEWTON_STEPS, M_STEP_TOL

        model = self.model
        (ma, sa), (mb, sb) = model.alpha_prior, model.log_beta_prior
        o = self._offsets
        client = self.client
        log_prior = model.log_prior(self.ctx)
        alphas = np.array(params["alphas"], dtype=np.float64)
        log_betas = np.array(params["log_betas"], dtype=np.float64)
        n_alt = 0
        for it in range(model.m_step_max_iter):
            pfut = client.scatter((log_prior, alphas), broadcast=True, hash=False)
            # the first pass of an EM M-step starts from the E-step's evaluation (as locally)
            futs = [client.submit(T.glad_items, p, s, g, pfut, log_betas[o[i]:o[i + 1]], marginal,
                                  (mb, sb, ITEM_NEWTON_STEPS), marginal and it == 0, pure=False)
                    for i, (p, s, g) in enumerate(zip(self.dt.pieces, states, self.gold))]
            sums = tree_sum(client, [client.submit(T.take, f, 1, pure=False) for f in futs], self.fan_in,
                            combine=T.add_add_max_max)
            parts = client.gather([client.submit(T.take, f, 0, pure=False) for f in futs])
            grad, curv, rmax, change = client.gather(sums)
            log_betas = np.concatenate(parts) if parts else np.zeros(0)
            change = max(float(change), float(glad_alpha_update(alphas, grad, curv, rmax, ma, sa, alphas)))
            n_alt += 1
            if change <= M_STEP_TOL:
                break
        model.m_step_n_iter.append(n_alt)
        return {"alphas": alphas, "log_betas": log_betas}

    # ----------------------------------------------------------------- the loop (crowdagg.em.run_em)
    def run(self, init: Any = "mv", max_iter: int = 100, tol: float = 1e-5, warn: bool = True
            ) -> dict[str, Any]:
        model = self.model
        if isinstance(init, dict):
            params = {k: np.array(v, dtype=np.float64) for k, v in init.items()}
        elif init == "mv":
            params = self.params_from_states(self.mv_states())
        elif init == "uniform":
            params = model.default_params(self.ctx)
        else:
            raise InputError(f"init must be 'mv', 'uniform' or a dict of parameters, got {init!r}")
        self.ctx.iteration = 0
        ll, stats, states = self.e_step(params, max_iter > 0)
        history: list[float] = []
        converged = False
        n_iter = 0
        d = np.inf
        for t in range(1, max_iter + 1):
            self.ctx.iteration = t
            new = self.m_step(params, stats, states)
            ll_new, stats, states = self.e_step(new, t < max_iter)
            self.bytes_per_iteration.append(self._moved)
            history.append(float(ll_new))
            n_iter = t
            d = model.delta(self.ctx, params, new, ll, ll_new)
            params, ll = new, ll_new
            if tol > 0 and d < tol:
                converged = True
                break
        if tol > 0 and not converged and max_iter > 0 and warn:
            warnings.warn(
                f"{type(model).__name__}: EM stopped at max_iter={max_iter} before the change "
                f"({d:.3g}) fell below tol={tol:g}; raise max_iter or tol",
                ConvergenceWarning, stacklevel=3)
        return {"params": params, "states": states, "loglik": np.asarray(history, dtype=np.float64),
                "n_iter": n_iter, "converged": converged}

    # ----------------------------------------------------------------- results
    def result(self, states: list[Any]) -> DaskAggregationResult:
        import dask
        import dask.dataframe as dd

        dtype = label_meta_dtype(self.dt.labels)
        parts = [dask.delayed(_em_frame)(p, s, g, dtype) for p, s, g in zip(self.dt.pieces, states, self.gold)]
        return DaskAggregationResult(dd.from_delayed(parts, meta=_frame_meta(self.dt), verify_meta=False),
                                     self.dt.labels)

    def item_series(self, values: np.ndarray, name: str) -> Any:
        """A per-item parameter held by the client as a Dask Series by item id."""
        import dask
        import dask.dataframe as dd

        o = self._offsets
        parts = [dask.delayed(T.item_series)(p, values[o[i]:o[i + 1]], name) for i, p in enumerate(self.dt.pieces)]
        meta = pd.Series(np.zeros(0), index=pd.Index([], dtype=self.dt.item_dtype, name="item"), name=name)
        return dd.from_delayed(parts, meta=meta, verify_meta=False)


def _em_frame(piece: Any, state: Any, gold: np.ndarray, dtype: Any) -> pd.DataFrame:
    return T.result_frame(piece, state, T.label_codes_em(piece, state, gold), dtype)


def _mv_frame(piece: Any, state: Any, dtype: Any) -> pd.DataFrame:
    return T.result_frame(piece, state, state.stats, dtype)


def _frame_meta(dt: DaskAnnotationTable) -> pd.DataFrame:
    idx = pd.Index([], dtype=dt.item_dtype, name="item")
    df = pd.DataFrame({"label": pd.Series([], dtype=label_meta_dtype(dt.labels)),
                       "confidence": pd.Series([], dtype=np.float64)}, index=idx)
    for c in dt.labels:
        df[f"proba_{c}"] = pd.Series([], dtype=np.float64, index=idx)
    return df


# --------------------------------------------------------------------------- gold
def encode_gold(dt: DaskAnnotationTable, gold: Any) -> list[Any]:
    """Per-piece gold-code futures (all ``-1`` without gold); :class:`GoldError` as the local table."""
    client = dt.client
    if gold is None:
        return [client.submit(T.piece_gold, p, None, None, pure=False) for p in dt.pieces]
    idx, values = gold_by_item(gold)
    codes = gold_label_codes(dt.codebook, values)
    gi = client.scatter(idx, broadcast=True, hash=False)
    gc = client.scatter(codes, broadcast=True, hash=False)
    futs = [client.submit(_piece_gold_coerced, p, gi, gc, pure=False) for p in dt.pieces]
    found = sum(client.gather([client.submit(T.n_gold, f, pure=False) for f in futs]))
    if found != len(idx):
        raise GoldError(f"gold names {len(idx) - found} item(s) not in the table")
    return futs


def _piece_gold_coerced(piece: Any, gold_items: pd.Index, codes: np.ndarray) -> np.ndarray:
    from ..table import _coerce_like

    return T.piece_gold(piece, _coerce_like(gold_items, piece.table.items), codes)


# --------------------------------------------------------------------------- public entry point
def fit(estimator: Any, table: DaskAnnotationTable, *, gold: Any = None, init_params: Any = None,
        fan_in: int = FAN_IN) -> Any:
    """Fit a crowdagg estimator on a :class:`DaskAnnotationTable`; returns the estimator.

    Supported: :class:`~crowdagg.MajorityVote` (``tie="first"``),
    :class:`~crowdagg.DawidSkene`, :class:`~crowdagg.FastDawidSkene`,
    :class:`~crowdagg.OneCoinDawidSkene`, :class:`~crowdagg.GLAD` and
    :class:`~crowdagg.MACE`, with their own parameters (``parallel`` is ignored:
    kernels run serially inside Dask tasks).

    After the fit the estimator has its usual fitted attributes, except that the
    per-item ones are Dask collections: ``labels_`` (Series), ``probas_``
    (DataFrame), ``result_`` (:class:`~crowdagg.distributed.DaskAggregationResult`
    with ``compute()``/``to_parquet``), GLAD's ``betas_`` and MACE's
    ``entropies_``.  Per-worker parameters are pandas, indexed by worker id.
    ``table_`` is the distributed table and ``bytes_per_iteration_`` the bytes
    broadcast and reduced at each iteration.

    Parameters
    ----------
    estimator : crowdagg estimator
    table : DaskAnnotationTable
    gold : Series, mapping or DataFrame, optional
        Known labels by item id (broadcast to every piece: meant for a modest
        number of gold items).
    init_params : fitted estimator or dict, optional
        Warm start (not for GLAD, whose item parameters are per item).
    fan_in : int
        Pieces per node of the statistics reduction tree.
    """
    if not isinstance(table, DaskAnnotationTable):
        raise InputError(f"fit expects a DaskAnnotationTable, got {type(table).__name__}")
    fan_in = check_int("fan_in", fan_in, 2)
    kind = _kind(estimator)
    if kind == "mv":
        return _fit_mv(estimator, table)
    max_iter, tol = estimator._check_common()
    model = estimator._make_model()
    rng = check_random_state(getattr(estimator, "random_state", None))
    runner = DistributedEM(kind, model, table, gold=gold, rng=rng, fan_in=fan_in)
    source = init_params
    if source is None and estimator.warm_start and hasattr(estimator, "params_"):
        prev = estimator.table_
        source = {**estimator.params_, "workers": prev.workers, "labels": prev.labels}
    if source is None and not isinstance(estimator.init, str):
        source = estimator.init
    if source is not None and kind == "glad":
        raise InputError("GLAD warm starts are not supported on a DaskAnnotationTable (per-item parameters)")
    init = align_params(model, runner.ctx, source) if source is not None else estimator.init

    if kind == "mace":
        res = _run_mace(estimator, runner, init if source is not None else None, max_iter, tol)
    else:
        res = runner.run(init, max_iter, tol)
    params = res["params"]
    estimator.params_ = params
    estimator.n_iter_ = res["n_iter"]
    estimator.converged_ = res["converged"]
    estimator.loglik_ = res["loglik"]
    estimator.table_ = table
    estimator.bytes_per_iteration_ = np.asarray(runner.bytes_per_iteration, dtype=np.int64)
    result = runner.result(res["states"])
    estimator.result_ = result
    estimator.labels_ = result.labels
    estimator.probas_ = result.probas
    book = table.codebook
    if kind in ("ds", "fds", "oc"):
        estimator._set_fitted(book, params)
    elif kind == "glad":
        estimator.alphas_ = pd.Series(params["alphas"], index=table.workers, name="alpha")
        estimator.betas_ = runner.item_series(np.exp(params["log_betas"]), "beta")
        estimator.m_step_n_iter_ = np.asarray(model.m_step_n_iter, dtype=np.int64)
    else:
        spam, know, st = params["spam"], params["know"], params["strategies"]
        estimator.spam_ = pd.Series(spam / (spam + know), index=table.workers, name="spam")
        estimator.strategies_ = pd.DataFrame(st / st.sum(axis=1, keepdims=True), index=table.workers,
                                             columns=table.labels)
        import dask
        import dask.dataframe as dd

        parts = [dask.delayed(T.entropy_series)(p, s) for p, s in zip(table.pieces, res["states"])]
        meta = pd.Series(np.zeros(0), index=pd.Index([], dtype=table.item_dtype, name="item"), name="entropy")
        estimator.entropies_ = dd.from_delayed(parts, meta=meta, verify_meta=False)
    return estimator


def _run_mace(est: Any, runner: DistributedEM, start_params: dict | None, max_iter: int, tol: float
              ) -> dict[str, Any]:
    """MACE's restarts (as :meth:`crowdagg.MACE.fit`), each a distributed EM run."""
    n_restarts = check_int("n_restarts", est.n_restarts, 1)
    noise = check_float("noise", est.noise, 0.0)
    if start_params is not None:
        starts: list[Any] = [start_params]
    else:
        starts = [est.init if est.init != "random" else None] + [None] * (n_restarts - 1)
    best: dict[str, Any] | None = None
    best_r = 0
    scores: list[float] = []
    for r, start in enumerate(starts):
        init = runner.model.random_params(runner.ctx, noise) if start is None else start
        res = runner.run(init, max_iter, tol, warn=False)
        scores.append(float(res["loglik"][-1]) if res["loglik"].size else -np.inf)
        if best is None or scores[r] > scores[best_r]:
            best, best_r = res, r
        else:
            del res
    assert best is not None
    est.best_restart_ = best_r
    if tol > 0 and max_iter > 0 and not best["converged"]:
        warnings.warn(f"MACE: the kept run stopped at max_iter={max_iter} before the change fell below "
                      f"tol={tol:g}; raise max_iter or tol", ConvergenceWarning, stacklevel=3)
    est.restart_loglik_ = np.asarray(scores)
    return best


def _fit_mv(est: Any, table: DaskAnnotationTable) -> Any:
    import dask
    import dask.dataframe as dd

    check_choice("tie", est.tie, ("first", "random"))
    if est.tie != "first":
        raise InputError("MajorityVote(tie='random') draws ties in item order, which a distributed table "
                         "does not have; use tie='first'")
    weights = est._worker_weights(table.codebook)
    client = table.client
    wfut = client.scatter(weights, broadcast=True, hash=False)
    states = [client.submit(T.mv_state, p, wfut, None, pure=False) for p in table.pieces]
    dtype = label_meta_dtype(table.labels)
    parts = [dask.delayed(_mv_frame)(p, s, dtype) for p, s in zip(table.pieces, states)]
    result = DaskAggregationResult(dd.from_delayed(parts, meta=_frame_meta(table), verify_meta=False), table.labels)
    est.table_ = table
    est.result_ = result
    est.labels_ = result.labels
    est.probas_ = result.probas
    return est
