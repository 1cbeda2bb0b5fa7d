"""Accuracy against a budget of extra answers: ``crowdagg.active.next_items`` vs random placement.

Writes ``docs/img/active_budget.png`` (and prints the figures of ``docs/active.md``)::

    python scripts/make_active_plot.py [--out docs/img/active_budget.png]

The campaign: a generated crowd (``make_crowd``) with two answers per item; Dawid-Skene
is fitted, the strategy picks the items for the next round of answers, each picked item
gets one answer from a worker drawn by workload among those who have not answered it
(answers drawn from that worker's true confusion matrix), and the model is refitted.
``tests/test_active.py`` runs :func:`run_campaign` at a smaller size.
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import pandas as pd


def make_start(n_items: int = 2000, n_workers: int = 60, n_labels: int = 3, seed: int = 0):
    """The generated crowd: two answers per item."""
    from crowdagg.datasets import make_crowd

    return make_crowd(n_items, n_workers, n_labels, per_item=2, accuracy=(0.55, 0.9),
                      spammer_share=0.1, workload="skewed", random_state=seed)


def run_campaign(crowd, budget: int, strategy: str, *, rounds: int = 4, seed: int = 1) -> float:
    """Accuracy of Dawid-Skene against the truth after ``budget`` extra answers placed by ``strategy``."""
    import crowdagg
    from crowdagg.active import next_items

    rng = np.random.default_rng(seed)
    ann = crowd.annotations
    workers = crowd.workers.index
    w_code = {w: i for i, w in enumerate(workers)}
    q = crowd.workers["n_annotations"].to_numpy(dtype=float)
    q = q / q.sum()
    truth = crowd.truth
    cdf = np.cumsum(crowd.confusions, axis=2)
    answered = ann.groupby("item")["worker"].agg(set).to_dict()
    frames = [ann]
    per_round = [budget // rounds + (1 if r < budget % rounds else 0) for r in range(rounds)]
    model = crowdagg.DawidSkene().fit(ann)
    for b in per_round:
        if b == 0:
            continue
        picked = next_items(model, b, strategy, random_state=rng)["item"].tolist()
        rows = []
        for it in picked:
            have = answered.setdefault(it, set())
            while True:  # a worker by workload who has not answered this item
                w = workers[int(np.searchsorted(np.cumsum(q), rng.random(), side="right").clip(0, len(q) - 1))]
                if w not in have:
                    break
            have.add(w)
            row = cdf[w_code[w], int(truth[it])]
            rows.append((it, w, int(min(np.searchsorted(row, rng.random(), side="right"), len(row) - 1))))
        frames.append(pd.DataFrame(rows, columns=["item", "worker", "label"]))
        model = crowdagg.DawidSkene().fit(pd.concat(frames, ignore_index=True))
    pred = model.labels_.reindex(truth.index)
    return float((pred.to_numpy() == truth.to_numpy()).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join("docs", "img", "active_budget.png"))
    ap.add_argument("--seeds", type=int, default=3)
    args = ap.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_items = 2000
    budgets = [0, 250, 500, 1000, 1500, 2000]
    strategies = ["random", "entropy", "expected_gain"]
    acc = {s: np.zeros((args.seeds, len(budgets))) for s in strategies}
    for seed in range(args.seeds):
        crowd = make_start(n_items, seed=seed)
        for s in strategies:
            for j, b in enumerate(budgets):
                acc[s][seed, j] = run_campaign(crowd, b, s, seed=100 + seed)
    print(f"{n_items} items, 2 answers each, Dawid-Skene, mean over {args.seeds} crowds")
    print("budget  " + "  ".join(f"{s:>13}" for s in strategies))
    for j, b in enumerate(budgets):
        print(f"{b:>6}  " + "  ".join(f"{acc[s][:, j].mean():13.4f}" for s in strategies))
    for s in ("entropy", "expected_gain"):
        gains = [(acc[s][:, j] - acc[s][:, 0]).mean() / max((acc["random"][:, j] - acc["random"][:, 0]).mean(), 1e-12)
                 for j in range(1, len(budgets))]
        print(f"gain ratio {s} / random: " + ", ".join(f"{g:.2f}" for g in gains))
    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=120)
    for s, style in zip(strategies, ("o--", "s-", "^-")):
        ax.plot(budgets, acc[s].mean(axis=0), style, label=s)
    ax.set_xlabel(f"extra answers (budget), {n_items} items with 2 answers each")
    ax.set_ylabel("Dawid-Skene accuracy vs truth")
    ax.set_title("Placing extra answers: next_items vs random")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    fig.savefig(args.out)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
