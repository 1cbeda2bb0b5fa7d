"""Generate crowdagg's bundled example: a Mechanical Turk batch-results CSV.

The crowd comes from :func:`crowdagg.datasets.make_crowd` with a fixed seed
(200 product reviews x 5 workers, 3 sentiment classes, a few spammers); this
script dresses it as the CSV the MTurk Requester UI exports for a
``<crowd-classifier name="sentiment">`` HIT: one row per assignment (the
assignment-level columns; HIT-level ones such as ``Title`` and ``Reward`` are
left out to keep the file small), the reviews as ``Input.review_id``/``Input.text``, the answers in
``Answer.sentiment.label``.  Three assignments by a spammer were rejected (and
re-posted, so every HIT still has 5 valid answers); the last HITs are not
reviewed yet (``Submitted``).  No (HIT, worker) pair repeats.

Run from the repository root (the output is the same byte for byte each run)::

    python tools/make_example.py            # writes crowdagg/datasets/data/mturk_example.csv
    python tools/make_example.py -o x.csv   # elsewhere
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from crowdagg.datasets import make_crowd

SEED = 20240305
N_ITEMS, N_WORKERS, PER_ITEM = 200, 30, 5
LABELS = ("negative", "neutral", "positive")
CLASS_PRIOR = (0.3, 0.2, 0.5)
N_REJECTED = 3
OUT = Path(__file__).resolve().parents[1] / "crowdagg" / "datasets" / "data" / "mturk_example.csv"

TEXTS = {
    "negative": [
        "Stopped working after a week.", "The strap broke on day two.", "Loud, slow and overpriced.",
        "Battery barely lasts an hour.", "Arrived scratched; support never replied.",
        "Instructions missing, parts did not fit.", "Worse than my old one.", "Returned it the next day.",
    ],
    "neutral": [
        "Does what it says, nothing more.", "Average quality for the price.", "It is fine, I guess.",
        "Works, but the app is clunky.", "Same as the previous model.", "Okay for occasional use.",
        "Delivery was on time; product is so-so.", "Neither good nor bad.",
    ],
    "positive": [
        "Works perfectly, would buy again.", "Great sound for the price!", "Setup took two minutes.",
        "My kids love it.", "Battery lasts all week.", "Sturdy, light and quiet.",
        "Exceeded my expectations.", "Best purchase this year.",
    ],
}
# the columns a requester needs; MTurk's HIT-level columns (Title, Reward, CreationTime, ...) and the
# Approve/Reject columns are left out to keep the file small
COLUMNS = [
    "HITId", "AssignmentId", "WorkerId", "AssignmentStatus", "SubmitTime", "WorkTimeInSeconds",
    "RejectionTime", "RequesterFeedback", "Input.review_id", "Input.text", "Answer.sentiment.label",
]
PST = timezone(timedelta(hours=-8))
_ALNUM = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"))


def _ids(rng: np.random.Generator, n: int, length: int, first: str) -> list[str]:
    """``n`` distinct MTurk-style ids: ``first`` then upper-case letters and digits."""
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        s = first + "".join(rng.choice(_ALNUM, length - len(first)))
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


def _stamp(t: datetime) -> str:
    return t.astimezone(PST).strftime("%a %b %d %H:%M:%S PST %Y")


def build_example() -> tuple[pd.DataFrame, pd.Series]:
    """The example batch (one row per assignment, MTurk columns) and the hidden truth by review id."""
    crowd = make_crowd(N_ITEMS, N_WORKERS, len(LABELS), PER_ITEM, accuracy=(0.6, 0.95), spammer_share=0.1,
                       class_prior=CLASS_PRIOR, random_state=SEED)
    rng = np.random.default_rng(SEED + 1)
    ann = crowd.annotations
    items = crowd.truth.index
    review_ids = [f"{i + 1:05d}" for i in range(N_ITEMS)]
    hit_ids = _ids(rng, N_ITEMS, 30, "3")
    worker_ids = dict(zip(crowd.workers.index, _ids(rng, N_WORKERS, 14, "A")))
    truth = np.asarray(crowd.truth)
    texts = [TEXTS[LABELS[t]][rng.integers(len(TEXTS[LABELS[t]]))] for t in truth]
    item_pos = {it: k for k, it in enumerate(items)}

    rows = pd.DataFrame({
        "item": ann["item"].map(item_pos).to_numpy(),
        "worker": ann["worker"].map(worker_ids).to_numpy(),
        "label": np.asarray(LABELS, dtype=object)[ann["label"].to_numpy()],
        "status": "Approved",
    })
    # the requester rejected three assignments of one spammer (random answers) on HITs it had not done
    spammers = crowd.workers.index[crowd.workers["spammer"].to_numpy()]
    spammer = worker_ids[spammers[0]] if len(spammers) else next(iter(worker_ids.values()))
    done = set(rows.loc[rows["worker"] == spammer, "item"])
    candidates = np.array([k for k in range(N_ITEMS) if k not in done])
    rej_items = np.sort(rng.choice(candidates, N_REJECTED, replace=False))
    rejected = pd.DataFrame({"item": rej_items, "worker": spammer,
                             "label": np.asarray(LABELS, dtype=object)[rng.integers(len(LABELS), size=N_REJECTED)],
                             "status": "Rejected"})
    rows = pd.concat([rows, rejected], ignore_index=True).sort_values("item", kind="stable", ignore_index=True)
    n = len(rows)
    # the last 15 HITs are not reviewed yet
    rows.loc[(rows["item"] >= N_ITEMS - 15) & (rows["status"] == "Approved"), "status"] = "Submitted"

    created = datetime(2024, 3, 5, 16, 58, 10, tzinfo=timezone.utc)
    accept = created + pd.to_timedelta(np.sort(rng.uniform(60, 6 * 3600, n)), unit="s").to_pytimedelta()
    work = np.clip(rng.lognormal(np.log(25), 0.5, n), 6, 300).astype(int)
    submit = [a + timedelta(seconds=int(w)) for a, w in zip(accept, work)]
    status = rows["status"].to_numpy()
    it = rows["item"].to_numpy()
    df = pd.DataFrame({
        "HITId": np.asarray(hit_ids, dtype=object)[it],
        "AssignmentId": _ids(rng, n, 30, "3"),
        "WorkerId": rows["worker"].to_numpy(),
        "AssignmentStatus": status,
        "SubmitTime": [_stamp(t) for t in submit],
        "WorkTimeInSeconds": work.astype(str),
        "RejectionTime": [_stamp(t + timedelta(days=1)) if s == "Rejected" else "" for t, s in zip(submit, status)],
        "RequesterFeedback": ["Answers do not match the review text." if s == "Rejected" else "" for s in status],
        "Input.review_id": np.asarray(review_ids, dtype=object)[it],
        "Input.text": np.asarray(texts, dtype=object)[it],
        "Answer.sentiment.label": rows["label"].to_numpy(),
    })[COLUMNS]
    truth_s = pd.Series(np.asarray(LABELS, dtype=object)[truth], index=pd.Index(review_ids, name="review_id"),
                        name="label")
    return df, truth_s


def to_csv_text(df: pd.DataFrame) -> str:
    """The batch as CSV (quoting only where needed, to keep the file small)."""
    buf = io.StringIO()
    writer = csv.writer(buf, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    writer.writerow(df.columns)
    writer.writerows(df.itertuples(index=False, name=None))
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path, default=OUT, help=f"output CSV (default: {OUT})")
    args = parser.parse_args(argv)
    df, truth = build_example()
    text = to_csv_text(df)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8", newline="")

    import crowdagg
    from crowdagg.io import read_mturk

    table = read_mturk(args.output, item="review_id")
    mv = crowdagg.MajorityVote().fit(table).labels_
    acc = float((mv == truth.reindex(mv.index)).mean())
    print(f"wrote {args.output} ({len(text.encode()) / 1024:.0f} KiB, {len(df)} assignments, "
          f"{int((df['AssignmentStatus'] == 'Rejected').sum())} rejected); majority-vote accuracy {acc:.3f}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
