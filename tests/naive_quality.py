"""Obviously-correct pure-Python references for gold scoring (no NumPy tricks, no Numba)."""

from __future__ import annotations

import math
from statistics import NormalDist


def naive_gold_counts(item_codes, worker_codes, label_codes, gold, n_workers, n_labels):
    """total[w][c], correct[w][c]: answers of worker w on gold items of class c (and right ones)."""
    total = [[0] * n_labels for _ in range(n_workers)]
    correct = [[0] * n_labels for _ in range(n_workers)]
    for i, w, lab in zip(item_codes, worker_codes, label_codes):
        g = gold[i]
        if g < 0:
            continue
        total[w][g] += 1
        if lab == g:
            correct[w][g] += 1
    return total, correct


def naive_confusions(item_codes, worker_codes, label_codes, gold, n_workers, n_labels):
    """conf[w][true][observed] over annotations on gold items."""
    conf = [[[0] * n_labels for _ in range(n_labels)] for _ in range(n_workers)]
    for i, w, lab in zip(item_codes, worker_codes, label_codes):
        g = gold[i]
        if g >= 0:
            conf[w][g][lab] += 1
    return conf


def naive_wilson(k: int, n: int, confidence: float) -> tuple[float, float]:
    """Wilson (1927) score interval, written as the textbook formula."""
    if n == 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def naive_worker_scores(rows, gold):
    """{worker: (n_gold, n_correct)} from (item, worker, label) rows and a {item: label} dict."""
    out = {}
    for item, worker, label in rows:
        n, k = out.get(worker, (0, 0))
        if item in gold:
            n += 1
            k += int(label == gold[item])
        out[worker] = (n, k)
    return out


def naive_accuracy(pred: dict, gold: dict, missing: str = "wrong"):
    """(accuracy, n_scored, n_correct, {class: (n_scored, n_correct)}); None predictions are missing."""
    n_scored = n_correct = 0
    per = {}
    for item, true in gold.items():
        p = pred.get(item)
        if p is None and missing == "exclude":
            continue
        s, c = per.get(true, (0, 0))
        ok = p is not None and p == true
        per[true] = (s + 1, c + int(ok))
        n_scored += 1
        n_correct += int(ok)
    return (n_correct / n_scored if n_scored else None), n_scored, n_correct, per
