"""Hyper-parameter constraints, seeds and warm-start domains (issue 13, helper P1).

* every estimator declares a constraint for every ``__init__`` parameter;
* values drawn from inside the constraints fit without any exception and give
  probabilities in [0, 1] whose rows sum to 1, finite parameters and skills;
* values drawn from outside raise :class:`~crowdagg.errors.ParameterError` from
  ``fit`` (never from ``set_params``), before any work;
* one seed rule (:func:`crowdagg._validation.check_random_state`);
* warm starts are checked against each plug-in's ``param_domains`` once, with a
  documented floor for probabilities of exactly 0 or 1.
"""

from __future__ import annotations

import inspect
import os
import warnings
from numbers import Integral
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crowdagg
from crowdagg._validation import PROB_FLOOR, Interval, Options, Pair, _satisfies, check_random_state
from crowdagg.em import EMContext, run_em
from crowdagg.errors import CrowdaggError, InitParamsError, NumericalError, ParameterError
from crowdagg.methods.wawa import WeightedVoteModel
from crowdagg.table import AnnotationTable

NOJIT = os.environ.get("NUMBA_DISABLE_JIT") == "1"
ESTIMATORS = ["MajorityVote", "Wawa", "ZeroBasedSkill", "DawidSkene", "OneCoinDawidSkene", "FastDawidSkene",
              "GLAD", "MACE"]
#: keep the fits of the property tests short: upper bounds for the iteration counts drawn
CAPS = {"max_iter": 6, "n_restarts": 3, "m_step_max_iter": 6, "lr_steps_to_reduce": 10}
HSET = settings(max_examples=8 if NOJIT else 30, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


def _cls(name: str) -> type:
    return getattr(crowdagg, name)


@pytest.fixture(scope="module")
def crowd() -> pd.DataFrame:
    return crowdagg.datasets.make_crowd(40, 8, 3, per_item=3, random_state=0).annotations


# --------------------------------------------------------------------------- declarations
@pytest.mark.parametrize("name", ESTIMATORS)
def test_every_init_parameter_has_a_constraint(name):
    cls = _cls(name)
    params = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    assert sorted(cls._parameter_constraints) == sorted(params)
    # the defaults satisfy their own constraints
    est = cls()
    est._validate_params()


# --------------------------------------------------------------------------- strategies
def _inside(constraint: Any, name: str) -> st.SearchStrategy:
    if constraint is None:
        return st.none()
    if constraint == "boolean":
        return st.booleans()
    if constraint == "random_state":
        return st.one_of(st.none(), st.integers(0, 2**40), st.integers(0, 9).map(np.random.default_rng),
                         st.integers(0, 9).map(np.random.SeedSequence), st.integers(0, 9).map(np.random.RandomState))
    if isinstance(constraint, Options):
        return st.sampled_from(constraint.options)
    if isinstance(constraint, Pair):
        return st.tuples(_inside(constraint.first, name), _inside(constraint.second, name))
    if isinstance(constraint, Interval):
        if constraint.type is Integral:
            lo = 0 if constraint.left is None else int(constraint.left)
            hi = CAPS.get(name, 50) if constraint.right is None else int(constraint.right)
            return st.integers(lo, hi).filter(constraint.is_satisfied_by)
        lo = -1e6 if constraint.left is None else constraint.left
        hi = 1e6 if constraint.right is None else constraint.right
        return st.floats(lo, hi, allow_nan=False, allow_infinity=False).filter(constraint.is_satisfied_by)
    return st.nothing()  # types (init as a Mapping / estimator), "no_validation": not drawn


#: combinations of values, each inside its constraint, that the estimator refuses together (with a
#: ParameterError from fit naming both, tested with the estimator)
JOINTLY_INVALID = {
    "MACE": lambda p: p["restart_criterion"] == "elbo" and p["method"] != "vb",  # the ELBO is VB's objective
}


def _inside_params(cls: type) -> st.SearchStrategy:
    out = {}
    for name, rules in cls._parameter_constraints.items():
        options = [s for s in (_inside(c, name) for c in rules) if not s.is_empty]
        if options:
            out[name] = st.one_of(options)
    invalid = JOINTLY_INVALID.get(cls.__name__)
    drawn = st.fixed_dictionaries(out)
    return drawn if invalid is None else drawn.filter(lambda p: not invalid(p))


_OUTSIDE_CANDIDATES = [float("nan"), float("inf"), -float("inf"), -1, -1e-3, 0, 0.0, 1.5, 2.0, 1e7, 1e300, -1e7,
                       True, False, "x", "mv", None, (1.0,), (1.0, float("nan")), (0.0, 0.0), (1.0, 1e9),
                       [1.0, -1.0], np.float64(np.nan), np.int64(-2), 10**30]


def _outside(cls: type, name: str) -> list[Any]:
    rules = cls._parameter_constraints[name]
    if "no_validation" in rules:
        return []
    return [v for v in _OUTSIDE_CANDIDATES if not any(_satisfies(c, v) for c in rules)]


def _check_output(est: Any) -> None:
    p = est.probas_.to_numpy()
    assert np.all(np.isfinite(p)) and p.min() >= 0.0 and p.max() <= 1.0 + 1e-12
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-9)
    if hasattr(est, "skills_"):
        assert np.all(np.isfinite(est.skills_.to_numpy()))
    for arr in getattr(est, "params_", {}).values():
        assert np.all(np.isfinite(arr))


# --------------------------------------------------------------------------- properties
@pytest.mark.parametrize("name", ESTIMATORS)
def test_parameters_inside_the_constraints_give_valid_output(name, crowd):
    cls = _cls(name)

    @HSET
    @given(_inside_params(cls))
    def check(params):
        est = cls(**params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning with the short fits drawn
            try:
                est.fit(crowd)
            except CrowdaggError as exc:  # pragma: no cover - would be a defect too
                pytest.fail(f"{name}(**{params}) raised {type(exc).__name__}: {exc}")
        _check_output(est)

    check()


@pytest.mark.parametrize("name", ESTIMATORS)
def test_parameters_outside_the_constraints_raise_parameter_error(name, crowd):
    cls = _cls(name)
    pairs = [(p, v) for p in cls._parameter_constraints for v in _outside(cls, p)]
    assert pairs

    @HSET
    @given(st.sampled_from(pairs))
    def check(pair):
        param, value = pair
        est = cls().set_params(**{param: value})  # stored, never checked here
        assert est.get_params()[param] is value
        with pytest.raises(ParameterError, match=rf"{name}: {param} must be"):
            est.fit(crowd)

    check()


def test_fit_checks_parameters_before_any_work(tmp_path):
    # a missing file would raise InputFileNotFoundError if fit read it first
    with pytest.raises(ParameterError, match="max_iter"):
        crowdagg.DawidSkene(max_iter=-1).fit(tmp_path / "nope.csv")
    with pytest.raises(ParameterError, match="random_state"):
        crowdagg.MajorityVote(random_state=-1).fit(tmp_path / "nope.csv")


def test_message_names_estimator_parameter_rule_and_value(crowd):
    with pytest.raises(ParameterError) as info:
        crowdagg.ZeroBasedSkill(lr_reduce_factor=2.5).fit(crowd)
    assert str(info.value) == "ZeroBasedSkill: lr_reduce_factor must be a finite number in (0, 1], got 2.5"


def test_predict_on_new_data_rechecks_parameters(crowd):
    ds = crowdagg.DawidSkene(max_iter=2, tol=0).fit(crowd)
    ds.set_params(smoothing=-1.0)
    with pytest.raises(ParameterError, match="smoothing"):
        ds.predict(crowd)


@pytest.mark.parametrize("lr", [1.5, 1.99, 3.0, 50.0, 1e6])
def test_zbs_learning_rate_above_one_keeps_skills_in_unit_interval(lr, crowd):
    m = crowdagg.ZeroBasedSkill(lr_init=lr, lr_steps_to_reduce=3, lr_reduce_factor=1.0, max_iter=7).fit(crowd)
    s = m.skills_.to_numpy()
    assert s.min() >= 0.0 and s.max() <= 1.0
    _check_output(m)


# --------------------------------------------------------------------------- seeds
@pytest.mark.parametrize("seed", [None, 0, 7, 2**40, np.int64(3), np.uint8(5)])
def test_seed_accepted(seed):
    assert isinstance(check_random_state(seed), np.random.Generator)


def test_seed_generator_is_used_as_is_and_others_are_reproducible():
    g = np.random.default_rng(1)
    assert check_random_state(g) is g
    a = check_random_state(np.random.SeedSequence(4)).random(3)
    b = check_random_state(np.random.SeedSequence(4)).random(3)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(check_random_state(9).random(3), check_random_state(9).random(3))
    assert isinstance(check_random_state(np.random.RandomState(0)), np.random.Generator)


@pytest.mark.parametrize("seed", [-1, np.int64(-5), True, np.bool_(False), 1.0, "1", [1, 2], object()])
def test_seed_refused(seed):
    with pytest.raises(ParameterError, match="random_state must be None, an int >= 0"):
        check_random_state(seed)


@pytest.mark.parametrize("call", [
    lambda df: crowdagg.MACE(random_state=-2).fit(df),
    lambda df: crowdagg.MajorityVote(tie="random", random_state=-2).fit(df),
    lambda df: crowdagg.agreement.fleiss_kappa(df, n_boot=3, random_state=-2),
    lambda df: crowdagg.agreement.krippendorff_alpha(df, n_boot=3, random_state=-2),
    lambda df: crowdagg.datasets.make_crowd(10, 3, 2, per_item=2, random_state=-2),
], ids=["mace", "mv", "fleiss", "krippendorff", "make_crowd"])
def test_every_seed_goes_through_one_rule(call, crowd):
    with pytest.raises(ParameterError, match="random_state"):
        call(crowd)


# --------------------------------------------------------------------------- warm starts
def _ds_source(t: AnnotationTable, conf: np.ndarray, priors: Any) -> dict[str, Any]:
    return {"confusions": conf, "priors": priors, "workers": t.workers, "labels": t.labels}


def test_probabilities_of_zero_and_one_are_floored_not_refused(crowd):
    t = AnnotationTable.from_pandas(crowd)
    k = t.n_labels
    conf = np.tile(np.eye(k), (t.n_workers, 1, 1))  # every worker "perfect": log(0) without the floor
    priors = np.eye(k)[0]
    src = _ds_source(t, conf, priors)
    m = crowdagg.DawidSkene(max_iter=0).fit(t, init_params=src)
    _check_output(m)
    assert m.params_["confusions"].min() == pytest.approx(PROB_FLOOR / (1 + (k - 1) * PROB_FLOOR))
    np.testing.assert_allclose(m.params_["confusions"].sum(axis=2), 1.0)
    np.testing.assert_array_equal(conf, np.tile(np.eye(k), (t.n_workers, 1, 1)))  # input not mutated
    _check_output(crowdagg.DawidSkene(max_iter=5, tol=0).fit(t, init_params=src))
    # one-coin skills of exactly 0 and 1; MACE spam 0 / know 1; Wawa weights 0
    skills = pd.Series(np.where(np.arange(t.n_workers) % 2, 1.0, 0.0), index=t.workers)
    oc = crowdagg.OneCoinDawidSkene(max_iter=3, tol=0).fit(t, init_params={"skills": skills, "priors": priors})
    _check_output(oc)
    zeros = pd.Series(0.0, index=t.workers)
    mace = crowdagg.MACE(max_iter=3, tol=0).fit(t, init_params={
        "spam": zeros, "know": zeros + 1.0, "strategies": pd.DataFrame(0.0, index=t.workers, columns=t.labels)})
    _check_output(mace)
    w = crowdagg.Wawa(max_iter=0).fit(t, init_params={"skills": zeros})
    _check_output(w)
    np.testing.assert_allclose(w.probas_.to_numpy(), 1.0 / k)


@pytest.mark.parametrize("bad", [
    {"priors": [0.5, 0.6, -0.1]}, {"priors": [np.nan, 0.5, 0.5]}, {"priors": [0.2, 0.2, 0.2]},
    {"priors": [np.inf, 0, 0]}, {"conf": -1.0}, {"conf": 2.0}, {"conf": np.nan},
])
def test_out_of_domain_warm_starts_refused(bad, crowd):
    t = AnnotationTable.from_pandas(crowd)
    k = t.n_labels
    conf = np.full((t.n_workers, k, k), 1.0 / k)
    if "conf" in bad:
        conf[1, 0, :] = bad["conf"]
    src = _ds_source(t, conf, bad.get("priors", np.full(k, 1.0 / k)))
    with pytest.raises(InitParamsError, match="init_params"):
        crowdagg.DawidSkene().fit(t, init_params=src)


def test_domain_message_names_parameter_rule_and_worker(crowd):
    t = AnnotationTable.from_pandas(crowd)
    skills = pd.Series(0.5, index=t.workers)
    skills.iloc[2] = -0.25
    with pytest.raises(InitParamsError) as info:
        crowdagg.Wawa().fit(t, init_params={"skills": skills})
    msg = str(info.value)
    assert "init_params['skills'] must be finite numbers in [0, 1]" in msg
    assert "-0.25" in msg and repr(t.workers[2]) in msg


def test_nonfinite_values_from_a_plugin_are_a_numerical_error(crowd):
    class BadModel(WeightedVoteModel):
        def m_step(self, ctx, params, stats, post):
            return {"skills": np.full(ctx.n_workers, np.nan)}

    t = AnnotationTable.from_pandas(crowd)
    with pytest.raises(NumericalError, match="BadModel.*non-finite"):
        run_em(BadModel(), EMContext(t, np.full(t.n_items, -1)), init="uniform", max_iter=2, tol=0)
    assert issubclass(NumericalError, ArithmeticError) and not issubclass(NumericalError, FloatingPointError)


@pytest.mark.parametrize("alpha, log_beta", [(1e6, 50.0), (-1e6, 50.0), (0.0, 50.0), (1e6, -50.0)])
def test_glad_warm_start_at_the_edges_of_its_domain_stays_finite(alpha, log_beta, crowd):
    t = AnnotationTable.from_pandas(crowd)
    alphas = pd.Series(np.where(np.arange(t.n_workers) % 2, alpha, -alpha), index=t.workers)
    src = {"alphas": alphas, "log_betas": pd.Series(log_beta, index=t.items)}
    for max_iter in (0, 3):
        g = crowdagg.GLAD(max_iter=max_iter, tol=0).fit(t, init_params=src)
        _check_output(g)
        assert np.all(np.isfinite(g.alphas_)) and np.all(np.isfinite(g.betas_))
