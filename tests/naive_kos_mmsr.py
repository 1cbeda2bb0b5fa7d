"""Obviously-correct pure-Python references of KOS, M-MSR and gold majority vote.

Written straight from the papers' update rules over explicit dicts of edges and
worker pairs (no CSR, no per-worker/per-item message algebra), for the tests to
compare the kernels against.
"""

from __future__ import annotations

import math

import numpy as np

from crowdagg.kernels.kos import initial_message


def kos(edges, n_iter, item_u=None, worker_u=None):
    """KOS messages on ``edges`` = list of (item, worker, A) with A in {+1, -1}.

    ``y[e]`` starts at ``initial_message(item_u[i], worker_u[j])`` (1 without uniforms);
    each round ``x[i->j] = sum_{j' != j} A y[j'->i]`` then ``y[j->i] = sum_{i' != i} A x[i'->j]``.
    Returns the final item scores ``x_i = sum_j A_ij y[j->i]`` (no rescaling: keep n_iter small).
    """
    y = {}
    for i, j, _ in edges:
        y[(i, j)] = 1.0 if item_u is None else initial_message(item_u[i], worker_u[j], True)
    by_item, by_worker = {}, {}
    for i, j, a in edges:
        by_item.setdefault(i, []).append((j, a))
        by_worker.setdefault(j, []).append((i, a))
    for _ in range(n_iter):
        x = {}
        for i, j, _ in edges:
            x[(i, j)] = sum(a2 * y[(i, j2)] for j2, a2 in by_item[i] if j2 != j)
        for i, j, _ in edges:
            y[(i, j)] = sum(a2 * x[(i2, j)] for i2, a2 in by_worker[j] if i2 != i)
    return {i: sum(a * y[(i, j)] for j, a in lst) for i, lst in by_item.items()}


def pair_stats(rows, n_workers):
    """Per worker pair: items both answered and items where they agree (diagonal 0)."""
    by_item = {}
    for i, j, k in rows:
        by_item.setdefault(i, []).append((j, k))
    common = np.zeros((n_workers, n_workers))
    agree = np.zeros((n_workers, n_workers))
    for lst in by_item.values():
        for j1, k1 in lst:
            for j2, k2 in lst:
                if j1 != j2:
                    common[j1, j2] += 1
                    agree[j1, j2] += k1 == k2
    return agree, common


def _trim(values, f, own):
    """M-MSR's reduction: drop the f largest values above ``own`` (all of them if fewer
    than f) and the f smallest below it (likewise)."""
    ys = sorted(values)
    below = [y for y in ys if y < own]
    if len(below) < f:
        ys = [y for y in ys if y >= own]
    else:
        ys = ys[f:]
    above = [y for y in ys if y > own]
    if len(above) < f:
        ys = [y for y in ys if y <= own]
    elif f > 0:
        ys = ys[:len(ys) - f]
    return ys


def _msr_mean(vals, f, own, n_tasks):
    """One M-MSR entry update: the mean of ``vals`` trimmed around ``own`` (``1/sqrt(n_tasks)``
    when a single 0 is left; ``own`` when nothing is)."""
    ys = _trim(vals, f, own)
    if len(ys) == 1 and ys[0] == 0:
        ys = [1.0 / math.sqrt(n_tasks)]
    return sum(ys) / len(ys) if ys else own


def _balanced_k(u, v):
    """k = sqrt(|u| / |v|) (None when either is 0)."""
    nu = math.sqrt(sum(t * t for t in u))
    nv = math.sqrt(sum(t * t for t in v))
    return math.sqrt(nu / nv) if nu > 0 and nv > 0 else None


def _rebalance(u, v, drift=1e6):
    """Rescale to |u| = |v| when |u| / |v| leaves [1/drift, drift] (u v^T unchanged)."""
    k = _balanced_k(u, v)
    if k is None or 1 / drift <= k * k <= drift:
        return u, v
    return [t / k for t in u], [t * k for t in v]


def _cap(u, v, cap=100.0):
    """Cap every entry at ``cap`` on the balanced scale: ``u_i <= cap k``, ``v_j <= cap / k``."""
    k = _balanced_k(u, v)
    if k is None:
        return u, v
    return [min(t, cap * k) for t in u], [min(t, cap / k) for t in v]


def mmsr_solve(agree, common, n_labels, n_tasks, u0, n_iter, tol):
    """The M-MSR iterations on |C| (Ma & Olshevsky 2020, as crowd-kit runs them, with F >= 0,
    entries whose divisor is 0 skipped and the iterate kept finite by :func:`_rebalance`
    before and :func:`_cap` after each iteration).
    Returns (u, v, iterations)."""
    n = agree.shape[0]
    m = n_labels
    obs = common > 0
    # written as the kernel's caller writes it, (m a / c - 1) / (m - 1): the trimming compares
    # values with a worker's own, so a tie that rounds differently would trim differently
    c = np.where(obs, (m * agree / np.where(obs, common, 1.0) - 1.0) / (m - 1), 0.0)
    x = np.abs(c)
    degree = obs.sum(axis=0)
    dmin = degree[degree > 0].min() if (degree > 0).any() else 0
    f = max(int(math.floor(dmin / 2)) - 1, 0)
    u = [float(t) for t in u0]
    v = [float(t) for t in u0]
    it = 0
    while it < n_iter:
        it += 1
        u, v = _rebalance(u, v)
        up, vp = list(u), list(v)
        for j in range(n):
            v[j] = _msr_mean([x[i, j] / u[i] for i in range(n) if obs[i, j] and u[i] != 0], f, v[j], n_tasks)
        for i in range(n):
            u[i] = _msr_mean([x[i, j] / v[j] for j in range(n) if obs[i, j] and v[j] != 0], f, u[i], n_tasks)
        u, v = _cap(u, v)
        loss = math.sqrt(sum((u[a] * v[b] - up[a] * vp[b]) ** 2 for a in range(n) for b in range(n)))
        if loss < tol:
            break
    return np.array(u), np.array(v), it


def gold_vote(rows, gold, n_labels, default="mean"):
    """Gold majority vote: each worker's accuracy on gold items, then a vote weighted by it.
    ``rows`` = (item, worker, label code); returns (skills dict, shares dict of lists)."""
    right, n = {}, {}
    for i, j, k in rows:
        if i in gold:
            n[j] = n.get(j, 0) + 1
            right[j] = right.get(j, 0) + (k == gold[i])
    pooled = sum(right.values()) / sum(n.values())
    workers = {j for _, j, _ in rows}
    skills = {j: right[j] / n[j] if j in n else (pooled if default == "mean" else default) for j in workers}
    votes = {}
    for i, j, k in rows:
        votes.setdefault(i, [0.0] * n_labels)[k] += skills[j]
    shares = {}
    for i, v in votes.items():
        if i in gold:
            shares[i] = [1.0 if k == gold[i] else 0.0 for k in range(n_labels)]
        elif sum(v) > 0:
            shares[i] = [t / sum(v) for t in v]
        else:
            shares[i] = [1.0 / n_labels] * n_labels
    return skills, shares
