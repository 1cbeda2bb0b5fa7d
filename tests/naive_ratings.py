"""Obviously-correct pure-Python references of the numeric-rating methods and of the
intraclass correlations (one loop per formula, no Numba, no vectorised tricks).

* :func:`mean_median` -- per-item mean and median;
* :func:`bias_noise_fit` -- the worker bias-noise EM (crowdagg.methods.ratings), from
  the same priors, one plain loop per item and per worker;
* :func:`icc_shrout_fleiss` -- the six Shrout & Fleiss (1979) ICCs from the two-way
  ANOVA mean squares of a complete items x raters matrix.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np


def rows_by_item(rows):
    """``{item: [(worker, value), ...]}`` from ``(item, worker, value)`` rows."""
    out = defaultdict(list)
    for i, w, y in rows:
        out[i].append((w, float(y)))
    return out


def mean_median(rows):
    """``{item: (mean, median)}``."""
    out = {}
    for i, answers in rows_by_item(rows).items():
        ys = sorted(y for _, y in answers)
        n = len(ys)
        med = ys[n // 2] if n % 2 else 0.5 * (ys[n // 2 - 1] + ys[n // 2])
        out[i] = (sum(ys) / n, med)
    return out


def bias_noise_fit(rows, n_iter, *, bias_scale=1.0, noise_scale=0.5, noise_strength=2.0, inner_iter=5,
                   gold=None):
    """The worker bias-noise EM from ``init="uniform"``, ``n_iter`` M-steps.

    Returns ``(means, variances, bias, noise, mu, tau2, logpost)`` (dicts by item /
    worker id), the item posteriors after the last M-step and the log posterior of
    each iteration.
    """
    gold = gold or {}
    by_item = rows_by_item(rows)
    workers = sorted({w for _, w, _ in rows}, key=str)
    ys = [float(y) for _, _, y in rows]
    labels = sorted(set(ys))
    n_all = len(ys)
    center = sum(ys) / n_all
    sd = math.sqrt(sum((y - center) ** 2 for y in ys) / n_all)
    del labels
    scale = sd if sd > 0 else 1.0
    nu = noise_strength
    s0sq = (noise_scale * scale) ** 2
    sbsq = (bias_scale * scale) ** 2
    bias = {w: 0.0 for w in workers}
    noise = {w: nu * s0sq / (nu + 2) for w in workers}
    mu, tau2 = center, scale ** 2

    def e_step():
        means, vars_, ll = {}, {}, 0.0
        for i, answers in by_item.items():
            if i in gold:
                g = gold[i]
                ll += -0.5 * math.log(2 * math.pi * tau2) - 0.5 * (g - mu) ** 2 / tau2
                for w, y in answers:
                    ll += -0.5 * math.log(2 * math.pi * noise[w]) - 0.5 * (y - bias[w] - g) ** 2 / noise[w]
                means[i], vars_[i] = g, 0.0
                continue
            # marginal of the answers: N(mu + b, tau2 11' + diag(noise)), by the normal formula
            prec = 1.0 / tau2 + sum(1.0 / noise[w] for w, _ in answers)
            m = (mu / tau2 + sum((y - bias[w]) / noise[w] for w, y in answers)) / prec
            means[i], vars_[i] = m, 1.0 / prec
            r = np.array([y - bias[w] - mu for w, y in answers])
            cov = tau2 * np.ones((len(r), len(r))) + np.diag([noise[w] for w, _ in answers])
            sign, logdet = np.linalg.slogdet(cov)
            ll += -0.5 * (len(r) * math.log(2 * math.pi) + logdet + r @ np.linalg.solve(cov, r))
        return means, vars_, ll

    def log_prior():
        lp = sum(-0.5 * bias[w] ** 2 / sbsq for w in workers)
        lp += sum(-(nu / 2 + 1) * math.log(noise[w]) - nu * s0sq / (2 * noise[w]) for w in workers)
        lp += -(nu / 2 + 1) * math.log(tau2) - nu * scale ** 2 / (2 * tau2)
        return lp

    means, vars_, _ = e_step()
    history = []
    for _ in range(n_iter):
        for w in workers:
            mine = [(i, y) for i, answers in by_item.items() for ww, y in answers if ww == w]
            n = len(mine)
            a = sum(y - means[i] for i, y in mine)
            c = sum(vars_[i] for i, _ in mine)
            bw, sw = bias[w], noise[w]
            for _ in range(inner_iter):
                bw = a / (n + sw / sbsq)
                ssr = sum((y - means[i] - bw) ** 2 for i, y in mine) + c
                sw = (nu * s0sq + ssr) / (n + nu + 2)
            bias[w], noise[w] = bw, sw
        used = list(by_item)
        big_n = len(used)
        mu = sum(means[i] for i in used) / big_n
        tau2 = (nu * scale ** 2 + sum(vars_[i] + (means[i] - mu) ** 2 for i in used)) / (big_n + nu + 2)
        means, vars_, ll = e_step()
        history.append(ll + log_prior())
    return means, vars_, bias, noise, mu, tau2, history


def icc_shrout_fleiss(x):
    """``{name: ICC}`` for the six forms of Shrout & Fleiss (1979) on a complete
    n items x k raters array, from the two-way ANOVA mean squares."""
    x = np.asarray(x, dtype=float)
    n, k = x.shape
    grand = x.mean()
    ss_total = ((x - grand) ** 2).sum()
    ss_rows = k * ((x.mean(axis=1) - grand) ** 2).sum()
    ss_cols = n * ((x.mean(axis=0) - grand) ** 2).sum()
    ss_err = ss_total - ss_rows - ss_cols
    bms = ss_rows / (n - 1)
    wms = (ss_total - ss_rows) / (n * (k - 1))
    jms = ss_cols / (k - 1)
    ems = ss_err / ((n - 1) * (k - 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        return _forms(bms, wms, jms, ems, n, k)


def _forms(bms, wms, jms, ems, n, k):
    return {
        "ICC1": (bms - wms) / (bms + (k - 1) * wms),
        "ICC2": (bms - ems) / (bms + (k - 1) * ems + k * (jms - ems) / n),
        "ICC3": (bms - ems) / (bms + (k - 1) * ems),
        "ICC1k": (bms - wms) / bms,
        "ICC2k": (bms - ems) / (bms + (jms - ems) / n),
        "ICC3k": (bms - ems) / bms,
    }


def set_distance(a, b, distance):
    """Jaccard or MASI (NLTK's constants) distance between two frozensets; 0 for two empty sets."""
    a, b = set(a), set(b)
    union = len(a | b)
    if union == 0:
        return 0.0
    inter = len(a & b)
    jac = inter / union
    if distance == "jaccard":
        return 1.0 - jac
    if len(a) == len(b) == inter:
        m = 1.0
    elif inter == min(len(a), len(b)):
        m = 0.67
    elif inter > 0:
        m = 0.33
    else:
        m = 0.0
    return 1.0 - jac * m


def set_alpha(rows, distance):
    """Krippendorff's alpha over ``(item, worker, frozenset)`` rows: pairable items only,
    observed disagreement sum_u 1/(m_u - 1) sum over ordered pairs, expected from the
    pairable values' frequencies."""
    by_item = defaultdict(list)
    for i, _, s in rows:
        by_item[i].append(frozenset(s))
    pairable = {i: v for i, v in by_item.items() if len(v) >= 2}
    values = [s for v in pairable.values() for s in v]
    n = len(values)
    do = 0.0
    for v in pairable.values():
        m = len(v)
        do += sum(set_distance(v[a], v[b], distance) for a in range(m) for b in range(m) if a != b) / (m - 1)
    de = sum(set_distance(x, y, distance) for x in values for y in values)
    return 1.0 - (n - 1) * do / de
