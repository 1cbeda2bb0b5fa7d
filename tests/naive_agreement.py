"""Small, obviously-correct references for the agreement kernels (pure Python / dense NumPy).

Each takes a list of ``(item, worker, label_code)`` triples (label codes ``0..q-1``
in label order) and follows the textbook formula literally: Krippendorff's
coincidence matrix, irrCAC's dense n x r rating matrix, Cohen's contingency table.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np


def units(triples):
    """item -> list of label codes (every annotation, duplicates included)."""
    u = defaultdict(list)
    for i, _w, lab in triples:
        u[i].append(lab)
    return u


def delta_fn(level, values, marg):
    def d(c, k):
        if c == k:
            return 0.0
        if level == "nominal":
            return 1.0
        if level == "ordinal":
            lo, hi = min(c, k), max(c, k)
            return (sum(marg[g] for g in range(lo, hi + 1)) - (marg[c] + marg[k]) / 2) ** 2
        if level == "interval":
            return (values[c] - values[k]) ** 2
        s = values[c] + values[k]
        return 0.0 if s == 0 else ((values[c] - values[k]) / s) ** 2

    return d


def alpha(triples, q, level="nominal", values=None):
    """Krippendorff (2011): coincidence matrix o_ck, alpha = 1 - (n-1) sum o d / sum n_c n_k d."""
    values = list(range(q)) if values is None else list(values)
    o = np.zeros((q, q))
    for labs in units(triples).values():
        m = len(labs)
        if m < 2:
            continue
        for a in range(m):
            for b in range(m):
                if a != b:
                    o[labs[a], labs[b]] += 1.0 / (m - 1)
    marg = o.sum(axis=1)
    n = marg.sum()
    d = delta_fn(level, values, marg)
    do = sum(o[c, k] * d(c, k) for c in range(q) for k in range(q))
    de = sum(marg[c] * marg[k] * d(c, k) for c in range(q) for k in range(q))
    return 1.0 - (n - 1) * do / de


def agree_matrix(triples, q):
    items = sorted(units(triples))
    u = units(triples)
    a = np.zeros((len(items), q))
    for r, i in enumerate(items):
        for lab in u[i]:
            a[r, lab] += 1
    return a


def family(triples, q, kind, w=None):
    """irrCAC ``gwet``/``fleiss``/``bp``/percent agreement on the dense n x q agreement matrix.

    Returns ``(value, se, pa, pe)``.
    """
    w = np.eye(q) if w is None else np.asarray(w, float)
    a = agree_matrix(triples, q)
    n = a.shape[0]
    ri = a.sum(axis=1)
    aw = (w @ a.T).T
    sum_q = (a * (aw - 1)).sum(axis=1)
    two = ri >= 2
    n2 = two.sum()
    pa = (sum_q[two] / (ri * (ri - 1))[two]).sum() / n2
    pi = (a / ri[:, None]).sum(axis=0) / n
    if kind == "fleiss":
        pe = float(np.sum(w * np.outer(pi, pi)))
    elif kind == "gwet":
        pe = w.sum() * np.sum(pi * (1 - pi)) / (q * (q - 1))
    elif kind == "bp":
        pe = w.sum() / q**2
    else:
        pe = 0.0
    value = (pa - pe) / (1 - pe)
    den = ri * (ri - 1)
    den = den - (den == 0)
    pa_i = sum_q / den
    k_i = (n / n2) * (pa_i - pe * two) / (1 - pe)
    if kind == "fleiss":
        piw = (w @ pi + w.T @ pi) / 2
        pe_i = a @ piw / ri
        k_i = k_i - 2 * (1 - value) * (pe_i - pe) / (1 - pe)
    elif kind == "gwet":
        pe_i = (w.sum() / (q * (q - 1))) * (a @ (1 - pi)) / ri
        k_i = k_i - 2 * (1 - value) * (pe_i - pe) / (1 - pe)
    se = np.sqrt(((k_i - value) ** 2).sum() / (n * (n - 1)))
    return value, se, pa, pe


def conger(triples, q, w=None):
    """irrCAC ``conger`` literally, on the dense n x r rating matrix (NaN = missing)."""
    w = np.eye(q) if w is None else np.asarray(w, float)
    items = sorted({t[0] for t in triples})
    raters = sorted({t[1] for t in triples}, key=str)
    ii = {x: k for k, x in enumerate(items)}
    gg = {x: k for k, x in enumerate(raters)}
    n, r = len(items), len(raters)
    mat = np.full((n, r), np.nan)
    for i, g, lab in triples:
        mat[ii[i], gg[g]] = lab
    a = np.stack([(mat == k).sum(axis=1) for k in range(q)], axis=1).astype(float)
    ri = a.sum(axis=1)
    aw = (w @ a.T).T
    sum_q = (a * (aw - 1)).sum(axis=1)
    two = ri >= 2
    n2 = two.sum()
    pa = (sum_q[two] / (ri * (ri - 1))[two]).sum() / n2
    classif = np.stack([(mat == k).sum(axis=0) for k in range(q)], axis=1).astype(float)
    ng = classif.sum(axis=1)
    pgk = classif / ng[:, None]
    pbar = pgk.mean(axis=0)
    s2 = (pgk.T @ pgk - r * np.outer(pbar, pbar)) / (r - 1)
    pe = float(np.sum(w * (np.outer(pbar, pbar) - s2 / r)))
    value = (pa - pe) / (1 - pe)
    eps = (~np.isnan(mat)).astype(float)
    lam = np.zeros((n, r))
    for k in range(q):
        lk = np.zeros((n, r))
        for m in range(q):
            delta = (mat == m).astype(float)
            lk += w[k, m] * (delta - (eps - ng[None, :] / n) * pgk[None, :, m])
        lk *= n / ng[None, :]
        lam += lk * (r * pgk[:, k].mean() - pgk[None, :, k])
    pe_i = lam.sum(axis=1) / (r * (r - 1))
    den = ri * (ri - 1)
    den = den - (den == 0)
    k_i = (n / n2) * (sum_q / den - pe * two) / (1 - pe)
    x = k_i - 2 * (1 - value) * (pe_i - pe) / (1 - pe)
    se = np.sqrt(((x - value) ** 2).sum() / (n * (n - 1)))
    return value, se, pa, pe


def cohen(pairs, w):
    """Weighted kappa from a list of (label_a, label_b) codes and agreement weights."""
    q = w.shape[0]
    c = np.zeros((q, q))
    for x, y in pairs:
        c[x, y] += 1
    p = c / c.sum()
    po = np.sum(w * p)
    pe = np.sum(w * np.outer(p.sum(axis=1), p.sum(axis=0)))
    return (po - pe) / (1 - pe)


def pairwise(triples, q, w, min_overlap):
    """{(worker_a, worker_b): (n, kappa)} from a dict of every pair's observations."""
    by_item = defaultdict(list)
    for i, g, lab in triples:
        by_item[i].append((g, lab))
    obs = defaultdict(list)
    for anns in by_item.values():
        for x in range(len(anns)):
            for y in range(x + 1, len(anns)):
                (ga, la), (gb, lb) = anns[x], anns[y]
                if ga == gb:
                    continue
                key = frozenset((ga, gb))
                obs[key].append({ga: la, gb: lb})
    out = {}
    for key, lst in obs.items():
        if len(lst) < min_overlap:
            continue
        ga, gb = sorted(key, key=str)
        pe_pairs = [(d[ga], d[gb]) for d in lst]
        c = np.zeros((q, q))
        for x, y in pe_pairs:
            c[x, y] += 1
        p = c / c.sum()
        pe = np.sum(w * np.outer(p.sum(axis=1), p.sum(axis=0)))
        out[key] = (len(lst), None if pe >= 1 - 1e-12 else cohen(pe_pairs, w))
    return out


def worker_rest(triples, q):
    """{worker: (n, po, pe)}: each annotation against the item's ratings by *other* workers, weight 1/o."""
    by_item = defaultdict(list)
    for i, g, lab in triples:
        by_item[i].append((g, lab))
    acc = defaultdict(lambda: [0.0, 0.0, np.zeros(q), np.zeros(q)])
    for anns in by_item.values():
        for g, lab in anns:
            others = [lab2 for g2, lab2 in anns if g2 != g]
            if not others:
                continue
            s = acc[g]
            s[0] += 1
            s[2][lab] += 1
            for lab2 in others:
                s[3][lab2] += 1 / len(others)
                s[1] += (lab2 == lab) / len(others)
    return {g: (s[0], s[1] / s[0], float(s[2] @ s[3]) / s[0] ** 2) for g, s in acc.items()}
