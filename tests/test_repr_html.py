"""Rich _repr_html_ of estimators (unfitted, fitted), AgreementResult and GoldScores: content and escaping."""

from __future__ import annotations

import html.parser

import pandas as pd
import pytest

import crowdagg
from crowdagg.agreement import fleiss_kappa, krippendorff_alpha
from crowdagg.datasets import make_crowd
from crowdagg.quality import score_workers
from crowdagg.reporting._repr import html_repr

EVIL = '<script>alert("w")</script>'


class Check(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def parsed(fragment: str) -> Check:
    c = Check()
    c.feed(fragment)
    return c


@pytest.fixture(scope="module")
def evil_df():
    c = make_crowd(120, 8, 3, per_item=3, random_state=0)
    df = c.annotations.copy()
    df.loc[df["worker"] == df["worker"].iloc[0], "worker"] = EVIL
    df["label"] = df["label"].map({0: "<b>zero</b>", 1: "one & only", 2: "two"})
    return df, c


def test_unfitted_estimator_shows_params():
    out = crowdagg.DawidSkene(max_iter=7)._repr_html_()
    c = parsed(out)
    text = " ".join(c.text)
    assert "DawidSkene (not fitted)" in text and "max_iter" in text and "7" in text
    assert "table" in c.tags and "script" not in c.tags


@pytest.mark.parametrize("cls", ["MajorityVote", "DawidSkene", "GLAD", "MACE", "OneCoinDawidSkene", "Wawa"])
def test_fitted_estimator_summary_and_escaping(cls, evil_df):
    df, _ = evil_df
    m = getattr(crowdagg, cls)().fit(df)
    out = m._repr_html_()
    assert out != f"<pre>{repr(m)}</pre>"  # the rich view, not the fallback
    c = parsed(out)
    assert "script" not in c.tags
    assert EVIL not in out and "<b>zero</b>" not in out
    text = " ".join(c.text)
    assert f"{cls} (fitted)" in text and "items" in text and "workers" in text
    assert "least reliable workers" in text
    if cls == "DawidSkene":
        assert "class priors" in text and "<b>zero</b>" in text  # the label, escaped, reads back as text
    assert EVIL in text  # 8 workers: all in the 5 least + 5 most reliable; the id reads back as text


def test_agreement_result():
    c = make_crowd(200, 10, 3, random_state=1)
    r = krippendorff_alpha(c.annotations)
    out = r._repr_html_()
    text = " ".join(parsed(out).text)
    assert "krippendorff_alpha" in text and "interval" in text and f"{r.value:.4g}" in text
    assert fleiss_kappa(c.annotations)._repr_html_() != f"<pre>{repr(r)}</pre>"


def test_gold_scores(evil_df):
    df, c = evil_df
    gold = {i: {0: "<b>zero</b>", 1: "one & only", 2: "two"}[v] for i, v in c.truth.iloc[:60].items()}
    gs = score_workers(df, gold)
    out = gs._repr_html_()
    assert EVIL not in out
    p = parsed(out)
    text = " ".join(p.text)
    assert "GoldScores" in text and "lowest interval first" in text and "95% low" in text
    assert EVIL in text  # the worker id, escaped in the HTML, reads back as itself
    assert "script" not in p.tags


def test_fallback_escapes():
    class Odd:
        def __repr__(self):
            return "<i>odd</i>"

    assert html_repr(Odd()) == "<pre>&lt;i&gt;odd&lt;/i&gt;</pre>"


def test_repr_does_not_mutate(evil_df):
    df, _ = evil_df
    m = crowdagg.DawidSkene().fit(df)
    before = m.skills_.copy()
    m._repr_html_()
    pd.testing.assert_series_equal(m.skills_, before)


def test_control_characters_in_ids_are_shown_escaped():
    c = make_crowd(120, 8, 3, per_item=3, random_state=0)
    df = c.annotations.copy()
    first = df["worker"].iloc[0]
    df["worker"] = df["worker"].astype(str).replace({str(first): "nul\x00esc\x1b[2J"})
    df["label"] = df["label"].map({0: "ze\x85ro", 1: "one", 2: "two"})
    m = crowdagg.DawidSkene().fit(df)
    out = m._repr_html_()
    for ch in "\x00\x1b\x85":
        assert ch not in out, repr(ch)
    text = " ".join(parsed(out).text)
    assert r"nul\x00esc\x1b[2J" in text and r"ze\x85ro" in text
    gs = score_workers(df, c.truth.map({0: "ze\x85ro", 1: "one", 2: "two"}))
    assert "\x00" not in gs._repr_html_() and r"nul\x00esc" in " ".join(parsed(gs._repr_html_()).text)
