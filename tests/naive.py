"""Obviously-correct pure-Python references for the foundation kernels.

Each function mirrors a kernel with plain loops over Python dicts/lists, so a
reader can check it against the definition at a glance.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd


def naive_table(df: pd.DataFrame, labels=None):
    """(items, workers, labels, list of (item_code, worker_code, label_code)) from a frame.

    Items and workers in order of first appearance, labels sorted (or as given),
    null labels dropped, rows kept in input order.
    """
    items, workers = {}, {}
    for it, wk in zip(df["item"], df["worker"]):
        items.setdefault(it, len(items))
        workers.setdefault(wk, len(workers))
    present = [lab for lab in df["label"] if not pd.isna(lab)]
    label_list = list(labels) if labels is not None else sorted(set(present))
    lab_code = {lab: k for k, lab in enumerate(label_list)}
    rows = [
        (items[it], workers[wk], lab_code[lab])
        for it, wk, lab in zip(df["item"], df["worker"], df["label"])
        if not pd.isna(lab)
    ]
    return list(items), list(workers), label_list, rows


def naive_majority_vote(rows, n_items, n_labels, weights=None):
    """Vote shares and winning label (first max in label order; -1 with no vote)."""
    votes = defaultdict(lambda: [0.0] * n_labels)
    seen = set()
    for it, wk, lab in rows:
        w = 1.0 if weights is None else weights[wk]
        votes[it][lab] += w
        seen.add(it)
    post = np.zeros((n_items, n_labels))
    winner = np.full(n_items, -1)
    for it in range(n_items):
        v = votes[it]
        total = sum(v)
        post[it] = [x / total for x in v] if total > 0 else [1.0 / n_labels] * n_labels
        if it in seen:
            best = max(post[it])
            winner[it] = next(k for k in range(n_labels) if post[it][k] == best)
    return post, winner
