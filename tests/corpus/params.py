"""Estimator hyper-parameters, seeds and warm starts (``init_params``) out of their domains."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

import crowdagg
from crowdagg.errors import InitParamsError, ParameterError

from . import case

EXAMPLE = os.path.join(os.path.dirname(crowdagg.__file__), "datasets", "data", "mturk_example.csv")


def _df() -> pd.DataFrame:
    return pd.DataFrame({"item": [1, 1, 1, 2, 2, 3], "worker": ["a", "b", "c", "a", "b", "c"],
                         "label": ["x", "x", "y", "y", "y", "x"]})


def _cli(*opts: str):
    return lambda d: ["aggregate", EXAMPLE, "-q", *opts]


# --------------------------------------------------------------------------- seeds
case("params-seed-negative-mace", ParameterError, match="random_state|seed",
     call=lambda d: crowdagg.MACE(random_state=-1, n_restarts=2, max_iter=2).fit(_df()),
     cli=_cli("--method", "mace", "--seed", "-1"))
case("params-seed-negative-ds-cli", ParameterError, match="seed",
     cli=_cli("--method", "ds", "--seed", "-1"))
case("params-seed-bool-mv", ParameterError, match="random_state",
     call=lambda d: crowdagg.MajorityVote(tie="random", random_state=True).fit(_df()))
case("params-seed-negative-unused-mv", ParameterError, match="random_state",
     call=lambda d: crowdagg.MajorityVote(random_state=-3).fit(_df()))
case("params-seed-float-mace", ParameterError, match="random_state",
     call=lambda d: crowdagg.MACE(random_state=1.5).fit(_df()))
case("params-seed-negative-bootstrap", ParameterError, match="random_state",
     call=lambda d: crowdagg.agreement.fleiss_kappa(_df(), n_boot=5, random_state=-1))
case("params-seed-negative-make-crowd", ParameterError, match="random_state",
     call=lambda d: crowdagg.datasets.make_crowd(10, 3, 2, per_item=2, random_state=-7))

# --------------------------------------------------------------------------- hyper-parameters
case("params-max-iter-negative-ds", ParameterError, match="max.iter",
     call=lambda d: crowdagg.DawidSkene(max_iter=-3).fit(_df()),
     cli=_cli("--method", "ds", "--max-iter", "-3"))
case("params-tol-nan-ds", ParameterError, match="tol",
     call=lambda d: crowdagg.DawidSkene(tol=float("nan")).fit(_df()),
     cli=_cli("--method", "ds", "--tol", "nan"))
case("params-tol-inf-glad", ParameterError, match="tol",
     call=lambda d: crowdagg.GLAD(tol=float("inf")).fit(_df()),
     cli=_cli("--method", "glad", "--tol", "inf"))
case("params-max-iter-float-wawa", ParameterError, match="max_iter",
     call=lambda d: crowdagg.Wawa(max_iter=2.0).fit(_df()))
case("params-max-iter-bool-onecoin", ParameterError, match="max_iter",
     call=lambda d: crowdagg.OneCoinDawidSkene(max_iter=True).fit(_df()))
case("params-smoothing-zero-ds", ParameterError, match="smoothing",
     call=lambda d: crowdagg.DawidSkene(smoothing=0.0).fit(_df()))
case("params-zbs-lr-reduce-factor-above-1", ParameterError, match="lr_reduce_factor",
     call=lambda d: crowdagg.ZeroBasedSkill(lr_reduce_factor=2.0).fit(_df()))
case("params-zbs-eps-above-1", ParameterError, match="eps",
     call=lambda d: crowdagg.ZeroBasedSkill(eps=5.0).fit(_df()))
case("params-zbs-lr-nan", ParameterError, match="lr_init",
     call=lambda d: crowdagg.ZeroBasedSkill(lr_init=float("nan")).fit(_df()))
case("params-glad-prior-sd-zero", ParameterError, match="alpha_prior",
     call=lambda d: crowdagg.GLAD(alpha_prior=(1.0, 0.0)).fit(_df()))
case("params-glad-prior-not-a-pair", ParameterError, match="log_beta_prior",
     call=lambda d: crowdagg.GLAD(log_beta_prior="1,1").fit(_df()))
case("params-mace-method-unknown", ParameterError, match="method",
     call=lambda d: crowdagg.MACE(method="gibbs").fit(_df()))
case("params-mace-noise-huge", ParameterError, match="noise",
     call=lambda d: crowdagg.MACE(noise=1e300).fit(_df()))
case("params-init-unknown-ds", ParameterError, match="init",
     call=lambda d: crowdagg.DawidSkene(init="random").fit(_df()))
case("params-warm-start-not-bool", ParameterError, match="warm_start",
     call=lambda d: crowdagg.DawidSkene(warm_start="yes").fit(_df()))
case("params-tie-unknown-mv", ParameterError, match="tie",
     call=lambda d: crowdagg.MajorityVote(tie="last").fit(_df()))
case("params-set-params-unknown-name", ParameterError, match="valid parameters",
     call=lambda d: crowdagg.DawidSkene().set_params(max_iters=3))
case("params-set-params-then-fit", ParameterError, match="max_iter",
     call=lambda d: crowdagg.GLAD().set_params(max_iter=-1).fit(_df()))


# --------------------------------------------------------------------------- warm starts
def _ds_src(**over):
    src = {"confusions": np.tile(np.eye(2) * 0.6 + 0.2, (3, 1, 1)), "priors": np.array([0.5, 0.5]),
           "workers": ["a", "b", "c"], "labels": ["x", "y"]}
    src.update(over)
    return src


case("params-warm-ds-nan-prior", InitParamsError, match="priors",
     call=lambda d: crowdagg.DawidSkene().fit(_df(), init_params=_ds_src(priors=np.array([np.nan, 1.0]))))
case("params-warm-ds-negative-prior", InitParamsError, match=r"priors.*probabilities",
     call=lambda d: crowdagg.DawidSkene().fit(_df(), init_params=_ds_src(priors=np.array([-0.5, 1.5]))))
case("params-warm-ds-rows-not-summing-to-1", InitParamsError, match=r"confusions.*sum",
     call=lambda d: crowdagg.DawidSkene().fit(_df(), init_params=_ds_src(confusions=np.full((3, 2, 2), 0.3))))
case("params-warm-onecoin-skill-above-1", InitParamsError, match="skills",
     call=lambda d: crowdagg.OneCoinDawidSkene().fit(_df(), init_params={
         "skills": pd.Series([1.5, 0.7, 0.7], index=["a", "b", "c"]), "priors": [0.5, 0.5]}))
case("params-warm-wawa-negative-skill", InitParamsError, match=r"skills.*worker 'a'",
     call=lambda d: crowdagg.Wawa().fit(_df(), init_params={"skills": pd.Series([-1.0, 2.0], index=["a", "b"])}))
case("params-warm-zbs-nan-skill", InitParamsError, match="skills",
     call=lambda d: crowdagg.ZeroBasedSkill().fit(_df(), init_params={"skills": pd.Series([np.nan], index=["a"])}))
case("params-warm-mace-negative-spam", InitParamsError, match="spam",
     call=lambda d: crowdagg.MACE().fit(_df(), init_params={
         "spam": pd.Series([-0.2], index=["a"]), "know": pd.Series([0.5], index=["a"]),
         "strategies": pd.DataFrame([[0.5, 0.5]], index=["a"], columns=["x", "y"])}))
case("params-warm-mace-spam-plus-know-above-1", InitParamsError, match=r"spam.*know",
     call=lambda d: crowdagg.MACE().fit(_df(), init_params={
         "spam": pd.Series([0.9], index=["a"]), "know": pd.Series([0.9], index=["a"]),
         "strategies": pd.DataFrame([[0.5, 0.5]], index=["a"], columns=["x", "y"])}))
case("params-warm-glad-huge-difficulty", InitParamsError, match="log_betas",
     call=lambda d: crowdagg.GLAD().fit(_df(), init_params={
         "alphas": pd.Series([1.0], index=["a"]), "log_betas": pd.Series([1e3], index=[1])}))
case("params-warm-glad-huge-ability", InitParamsError, match="alphas",
     call=lambda d: crowdagg.GLAD().fit(_df(), init_params={"alphas": pd.Series([1e300], index=["a"])}))
case("params-warm-strings", InitParamsError, match="numbers",
     call=lambda d: crowdagg.DawidSkene().fit(_df(), init_params=_ds_src(priors=["half", "half"])))
case("params-warm-ragged", InitParamsError, match="confusions",
     call=lambda d: crowdagg.DawidSkene().fit(_df(), init_params=_ds_src(confusions=[[[1, 0], [0]]] * 3)))
case("params-warm-duplicate-worker-ids", InitParamsError, match="repeat",
     call=lambda d: crowdagg.Wawa().fit(_df(), init_params={"skills": pd.Series([0.5, 0.6], index=["a", "a"])}))
case("params-warm-scalar-worker-ids", InitParamsError, match="workers|ids",
     call=lambda d: crowdagg.Wawa().fit(_df(), init_params={"skills": [0.5], "workers": "a"}))
case("params-warm-nullable-na", InitParamsError, match="skills",
     call=lambda d: crowdagg.Wawa().fit(_df(), init_params={
         "skills": pd.Series([0.5, None], index=["a", "b"], dtype="Float64")}))
