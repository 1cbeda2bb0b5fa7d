"""crowdagg.report / crowdagg report: content, self-containment, every worker, escaping, errors."""

from __future__ import annotations

import html.parser
import re

import numpy as np
import pandas as pd
import pytest

import crowdagg
from crowdagg.cli import main as cli_main
from crowdagg.datasets import make_crowd
from crowdagg.errors import CrowdaggError, GoldError, InputError, OutputError, ParameterError
from crowdagg.reporting import Report, report
from crowdagg.reporting._build import spammer_score

pytest.importorskip("jinja2", reason="the report needs the report extra (jinja2)")
pytest.importorskip("matplotlib", reason="the report needs the report extra (matplotlib)")

REMOTE = re.compile(r"^\s*(https?:|ftp:|//|wss?:)", re.I)
URL_ATTRS = {"src", "href", "xlink:href", "action", "formaction", "poster", "data", "srcset", "background",
             "ping", "manifest", "codebase", "cite", "longdesc", "icon"}


class Page(html.parser.HTMLParser):
    """Tags, URL attributes, style text and the workers table's first column."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.urls: list[tuple[str, str, str]] = []
        self.styles: list[str] = []
        self.worker_ids: list[str] = []
        self._in_style = False
        self._in_workers = False
        self._in_tbody = False
        self._cell = -1
        self._text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for k, v in attrs:
            if v is None:
                continue
            if k in URL_ATTRS:
                self.urls.append((tag, k, v))
            if k == "style":
                self.styles.append(v)
        a = dict(attrs)
        if tag == "style":
            self._in_style = True
        if tag == "table" and a.get("id") == "workers":
            self._in_workers = True
        if self._in_workers and tag == "tbody":
            self._in_tbody = True
        if self._in_tbody and tag == "tr":
            self._cell = -1
        if self._in_tbody and tag == "td":
            self._cell += 1
            if self._cell == 0:
                self._text = []

    def handle_endtag(self, tag):
        if tag == "style":
            self._in_style = False
        if self._in_tbody and tag == "td" and self._cell == 0:
            self.worker_ids.append("".join(self._text))
        if tag == "tbody":
            self._in_tbody = False
        if tag == "table":
            self._in_workers = False

    def handle_data(self, data):
        if self._in_style:
            self.styles.append(data)
        if self._in_tbody and self._cell == 0:
            self._text.append(data)


def parse(text: str) -> Page:
    p = Page()
    p.feed(text)
    p.close()
    return p


def remote_references(text: str) -> list[str]:
    """Every reference in the page to something outside it (none is allowed)."""
    p = parse(text)
    bad = [f"<{t} {k}={v!r}>" for t, k, v in p.urls if REMOTE.match(v)]
    for css in p.styles:
        for u in re.findall(r"url\(\s*['\"]?([^'\")]+)", css):
            if not u.startswith(("data:", "#")):
                bad.append(f"css url({u})")
        if "@import" in css:
            bad.append("css @import")
    bad += [f"<{t}>" for t in p.tags if t in ("link", "iframe", "object", "embed", "base")]
    # scripts: inline only
    bad += [f"<script src={v!r}>" for t, k, v in p.urls if t == "script"]
    return bad


@pytest.fixture(scope="module")
def crowd():
    return make_crowd(600, 130, 3, per_item=4, random_state=4)


@pytest.fixture(scope="module")
def page(crowd):
    return report(crowd.annotations, gold=crowd.truth.iloc[:150])


def test_sections_and_numbers(page, crowd):
    text = page.html
    assert isinstance(page, Report)
    for needle in ('id="batch"', 'id="labels"', 'id="workers"', 'id="plots"', 'id="uncertain-items"',
                   'id="provenance"', 'id="agreement"', 'id="label-distribution"', "<svg", "DawidSkene"):
        assert needle in text, needle
    assert "2,400" in text  # annotations
    assert text.count("<svg") >= 7  # 2 histograms, labels, reliability, confusions, per class, history, agreement
    assert "krippendorff alpha" in text and "fleiss kappa" in text
    assert "Wilson" in text
    d = page.data
    assert len(d.workers) == 130 and len(d.uncertain) == 50
    assert d.gold_accuracy is not None and 0.0 <= d.gold_accuracy.accuracy <= 1.0
    assert (d.label_dist["raw"].sum(), d.label_dist["aggregated"].sum()) == (2400, 600)
    assert crowdagg.__version__ in text and "numpy" in text and "matplotlib" in text


def test_no_remote_resource(page):
    assert remote_references(page.html) == []
    assert "<script src" not in page.html


def test_the_checker_catches_remote_resources():
    bad = ('<html><head><link rel="stylesheet" href="https://cdn.x/a.css"><style>@import "x.css";'
           'body{background:url(http://x/y.png)}</style></head><body><img src="//x/y.png">'
           '<script src="https://x/y.js"></script></body></html>')
    found = remote_references(bad)
    assert len(found) >= 5, found


def test_every_worker_appears_over_several_pages(page, crowd):
    ids = parse(page.html).worker_ids
    assert len(ids) == 130 > 50  # more than one page of 50
    assert sorted(ids) == sorted(map(str, crowd.workers.index))


def test_thousands_of_workers_are_all_there():
    c = make_crowd(3000, 2500, 2, per_item=3, random_state=1, workload="uniform")
    r = report(c.annotations, method="mv", n_uncertain=5)
    workers = set(c.annotations["worker"])
    ids = parse(r.html).worker_ids
    assert len(ids) == len(workers) == len(set(ids))
    assert set(ids) == {str(w) for w in workers}
    assert remote_references(r.html) == []


def test_ids_and_labels_are_escaped():
    df = pd.DataFrame({
        "item": ["<b>i1</b>", "<b>i1</b>", "i&2", "i&2", "i3", "i3"],
        "worker": ['<script>alert("x")</script>', "$\\alpha$ w", '<script>alert("x")</script>', "$\\alpha$ w",
                   "o'brien", "$\\alpha$ w"],
        "label": ["<img src=x onerror=alert(1)>", "ok", "ok", "ok", "ok", "<img src=x onerror=alert(1)>"],
    })
    r = report(df, gold={"i3": "ok"})
    text = r.html
    assert '<script>alert("x")</script>' not in text
    assert "<img src=x" not in text
    assert "&lt;script&gt;" in text
    ids = parse(text).worker_ids
    assert sorted(ids) == sorted(set(df["worker"]))
    assert remote_references(text) == []


def test_model_input_and_methods():
    c = make_crowd(150, 30, 3, per_item=3, random_state=6)
    df = c.annotations
    for cls in ("MACE",):
        m = getattr(crowdagg, cls)().fit(df)
        r = report(m, gold=c.truth.iloc[:60], n_uncertain=3)
        assert cls in r.html and 'id="workers"' in r.html
        assert len(parse(r.html).worker_ids) == 30
    r = report(df, method=crowdagg.MajorityVote)
    assert "MajorityVote" in r.html
    r = report(df, method="glad")
    assert "GLAD" in r.html and r.data.history is not None


def test_save_and_repr(page, tmp_path):
    p = page.save(tmp_path / "sub" / "r.html")
    assert open(p, encoding="utf-8").read() == page.html
    frag = page._repr_html_()
    assert frag.startswith("<iframe") and "srcdoc=" in frag and "<script>" not in frag
    assert "DawidSkene" in repr(page)
    with pytest.raises(OutputError):
        page.save(tmp_path)


def test_dropped_rows_and_input_not_mutated(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("item,worker,label\n1,a,x\n1,b,\n2,a,y\n2,b,y\n3,a,x\n3,b,x\n")
    r = report(str(path))
    assert "null label" in r.html
    df = make_crowd(100, 10, 2, random_state=0).annotations
    before = df.copy()
    report(df)
    pd.testing.assert_frame_equal(df, before)


def test_spammer_score():
    ident = np.eye(3)[None]
    uniform = np.full((1, 3, 3), 1 / 3)
    constant = np.zeros((1, 3, 3))
    constant[0, :, 1] = 1
    got = spammer_score(np.concatenate([ident, uniform, constant]))
    np.testing.assert_allclose(got, [0.0, 1.0, 1.0], atol=1e-12)
    # by hand: accuracy 0.7 two-class symmetric: S = 1/(2*1) * 2 * (0.7-0.3)^2 = 0.16
    a = np.array([[[0.7, 0.3], [0.3, 0.7]]])
    np.testing.assert_allclose(spammer_score(a), [1 - 0.16])
    # unobserved rows are left out; fewer than two observed: NaN
    m = np.concatenate([ident, ident])
    obs = np.array([[True, True, False], [True, False, False]])
    out = spammer_score(m, obs)
    assert out[0] == pytest.approx(0.0) and np.isnan(out[1])


def test_spammers_are_flagged():
    c = make_crowd(3000, 40, 3, per_item=5, spammer_share=0.2, spammer_kind="uniform", random_state=2,
                   workload="uniform")
    r = report(c.annotations, method="mv", spam_threshold=0.8)
    w = r.data.workers.set_index("worker")
    spam_ids = c.workers.index[c.workers["spammer"]]
    honest = c.workers.index[~c.workers["spammer"]]
    assert w.loc[spam_ids, "spam"].min() > w.loc[honest, "spam"].median()
    assert (w.loc[spam_ids, "flags"].str.contains("spam")).mean() >= 0.75


def test_errors(crowd, tmp_path):
    df = crowd.annotations
    with pytest.raises(InputError, match="not fitted"):
        report(crowdagg.DawidSkene())
    with pytest.raises(ParameterError, match="unknown method"):
        report(df, method="nope")
    with pytest.raises(GoldError):
        report(df, gold={"no-such-item": 1})
    with pytest.raises(GoldError):
        report(df, gold={df["item"].iloc[0]: 99})
    with pytest.raises(CrowdaggError):
        report(df, confidence=1.5)
    with pytest.raises(CrowdaggError):
        report(df, spam_threshold=2)
    with pytest.raises(CrowdaggError):
        report(df, n_uncertain=-1)
    with pytest.raises(InputError):
        report(crowdagg.DawidSkene().fit(df), item_col="item")
    with pytest.raises(CrowdaggError):
        report(42)


# --------------------------------------------------------------------------- CLI
def _files(tmp_path):
    c = make_crowd(200, 15, 3, random_state=0)
    c.annotations.to_csv(tmp_path / "ann.csv", index=False)
    c.truth.iloc[:40].rename_axis("item").reset_index().to_csv(tmp_path / "gold.csv", index=False)
    return c


def test_cli_report_and_next(tmp_path, capsys):
    c = _files(tmp_path)
    out = tmp_path / "deep" / "r.html"
    rc = cli_main(["report", str(tmp_path / "ann.csv"), "--gold", str(tmp_path / "gold.csv"), "-o", str(out)])
    assert rc == 0, capsys.readouterr().err
    text = out.read_text(encoding="utf-8")
    assert "crowdagg report" in text and remote_references(text) == []
    assert sorted(parse(text).worker_ids) == sorted(set(c.annotations["worker"]))
    rc = cli_main(["next", str(tmp_path / "ann.csv"), "-n", "7", "--strategy", "expected_gain",
                   "-o", str(tmp_path / "n.csv")])
    assert rc == 0
    got = pd.read_csv(tmp_path / "n.csv")
    assert len(got) == 7 and list(got["rank"]) == list(range(1, 8))
    capsys.readouterr()
    rc = cli_main(["next", str(tmp_path / "ann.csv"), "-n", "3", "--gold", str(tmp_path / "gold.csv")])
    out_text, _ = capsys.readouterr()
    assert rc == 0
    listed = pd.read_csv(__import__("io").StringIO(out_text))["item"]
    assert not set(listed) & set(c.truth.index[:40])


CLI_BAD = [
    ("report-no-input", ["report", "nope.csv"], "no such file"),
    ("report-not-html", ["report", "ann.csv", "-o", "r.csv"], "HTML"),
    ("report-output-is-input", ["report", "ann.csv", "-o", "ann.csv"], "HTML|input"),
    ("report-output-folder", ["report", "ann.csv", "-o", "dir.html"], "folder"),
    ("report-bad-method", ["report", "ann.csv", "--method", "zzz"], "invalid choice"),
    ("report-bad-confidence", ["report", "ann.csv", "--confidence", "1"], "confidence"),
    ("report-gold-missing", ["report", "ann.csv", "--gold", "nogold.csv"], "gold"),
    ("report-gold-unknown-item", ["report", "ann.csv", "--gold", "badgold.csv"], "gold|item"),
    ("report-bad-option", ["report", "ann.csv", "--no-such-option"], "unrecognized"),
    ("report-seed-not-applicable", ["report", "ann.csv", "--method", "wawa", "--seed", "1"], "seed"),
    ("next-no-input", ["next", "nope.csv"], "no such file"),
    ("next-negative-n", ["next", "ann.csv", "-n", "-1"], "-n"),
    ("next-bad-strategy", ["next", "ann.csv", "--strategy", "best"], "invalid choice"),
    ("next-bad-output", ["next", "ann.csv", "-o", "out.xlsx"], "output format"),
    ("next-gold-mv", ["next", "ann.csv", "--method", "mv", "--gold", "gold.csv"], "gold"),
    ("next-empty", ["next", "empty.csv"], "empty|no rows|header"),
]


@pytest.mark.parametrize("argv,match", [(a, m) for _, a, m in CLI_BAD], ids=[i for i, _, _ in CLI_BAD])
def test_cli_one_line_exit_2(argv, match, tmp_path, capsys, monkeypatch):
    from test_bad_input import cli_stderr_problem

    _files(tmp_path)
    (tmp_path / "dir.html").mkdir()
    (tmp_path / "badgold.csv").write_text("item,label\nnot-an-item,1\n")
    (tmp_path / "empty.csv").write_text("item,worker,label\n")
    monkeypatch.chdir(tmp_path)
    rc = cli_main(argv)
    _, err = capsys.readouterr()
    assert rc == 2, err
    assert cli_stderr_problem(err) is None, err
    assert re.search(match, err, re.I), err


@pytest.mark.slow
def test_one_million_annotations_ten_thousand_workers():
    """The size target: 1M annotations, 10k workers -> under 10 s and under 20 MB (CPU seconds,
    so that other jobs on a shared machine do not decide it; docs/report.md has the wall times)."""
    import time

    from crowdagg.table import as_table

    c = make_crowd(200_000, 10_000, 4, per_item=5, random_state=0)
    report(make_crowd(300, 20, 3, random_state=1).annotations)  # imports and compilation
    t0 = time.process_time()
    r = report(as_table(c.annotations), gold=c.truth.iloc[:20_000])
    cpu = time.process_time() - t0
    size = len(r.html.encode("utf-8"))
    assert cpu < 10.0, cpu
    assert size < 20e6, size
    ids = parse(r.html).worker_ids
    assert len(ids) == 10_000 and set(ids) == set(c.annotations["worker"])
    assert remote_references(r.html) == []


def test_missing_extra_is_one_clear_error(monkeypatch, tmp_path, capsys):
    from crowdagg.reporting import MissingDependencyError

    _files(tmp_path)
    monkeypatch.setitem(__import__("sys").modules, "jinja2", None)  # import jinja2 -> ImportError
    with pytest.raises(MissingDependencyError, match=r"crowdagg\[report\]"):
        report(make_crowd(50, 5, 2, random_state=0).annotations)
    assert isinstance(MissingDependencyError("x"), CrowdaggError)
    rc = cli_main(["report", str(tmp_path / "ann.csv"), "-o", str(tmp_path / "r.html")])
    err = capsys.readouterr().err
    assert rc == 2 and err.strip().count("\n") == 0 and "jinja2" in err, err
    assert not (tmp_path / "r.html").exists()


def test_row_order_and_worker_names_change_nothing():
    c = make_crowd(300, 25, 3, per_item=3, random_state=8)
    df = c.annotations
    gold = c.truth.iloc[:80]
    from crowdagg.reporting._build import ReportOptions, build, fitted_model

    def workers(data):  # the figures only: the HTML and plots are tested elsewhere
        return build(fitted_model(data, "ds", {}), gold, ReportOptions(n_uncertain=0)).workers

    a = workers(df)
    b = workers(df.sample(frac=1.0, random_state=1).reset_index(drop=True))
    cols = ["n_answers", "skill", "skill_low", "skill_high", "agree", "spam", "n_gold", "gold_acc", "flags"]
    pd.testing.assert_frame_equal(a.set_index("worker").sort_index()[cols], b.set_index("worker").sort_index()[cols],
                                  atol=1e-6)
    renamed = df.assign(worker="x" + df["worker"].astype(str))
    r = workers(renamed)
    r = r.assign(worker=r["worker"].str[1:]).set_index("worker").sort_index()[cols]
    pd.testing.assert_frame_equal(a.set_index("worker").sort_index()[cols], r, atol=1e-6)


def _confusion_caption(text: str) -> str:
    m = re.search(r"<figcaption>(Confusion matrices[^<]*)</figcaption>", text)
    assert m, "no confusion-matrix caption"
    return m.group(1)


def test_the_confusion_caption_says_which_workers_are_drawn():
    # 90 answers over 20 workers: nobody has 20 answers, so the plot falls back to every worker with answers
    few = make_crowd(30, 20, 3, per_item=3, random_state=0)
    r = report(few.annotations, method="ds")
    cap = _confusion_caption(r.html)
    assert (r.data.workers["n_answers"] < 20).all()
    assert "with at least 20 answers" not in cap
    assert "workers with answers (fewer than 2 have at least 20)" in cap
    assert "the 3 least and 3 most reliable" in cap and "ranked by model reliability (skills_)" in cap
    drawn = r.data.confusion_least + r.data.confusion_most
    assert len(drawn) == 6 == len(set(drawn))
    # enough answers: the caption names the bar, and every drawn worker passes it
    many = make_crowd(600, 30, 3, per_item=4, random_state=0)
    r = report(many.annotations, method="ds", min_answers=30)
    cap = _confusion_caption(r.html)
    n = r.data.workers["n_answers"].to_numpy()
    assert (n >= 30).sum() >= 6 and "with at least 30 answers" in cap
    assert all(n[i] >= 30 for i in r.data.confusion_least + r.data.confusion_most)
    # two workers: both drawn, and the caption says so
    two = make_crowd(40, 2, 3, per_item=2, random_state=0)
    assert _confusion_caption(report(two.annotations, method="ds").html).startswith(
        "Confusion matrices (rows: true label, columns: answer) of both workers with at least 20 answers")


def test_control_characters_in_ids_are_shown_escaped_and_matplotlib_stays_quiet():
    import warnings

    from crowdagg.reporting._plots import _short
    from crowdagg.reporting._text import visible

    a = make_crowd(200, 6, 3, per_item=3, random_state=0).annotations.astype(str)
    ws = sorted(a["worker"].unique())
    hostile = {ws[0]: "nul\x00w", ws[1]: "esc\x1b[31mred", ws[2]: "c1\x85del\x7fcr\r"}
    a["worker"] = a["worker"].replace(hostile)
    a["label"] = a["label"].replace({a["label"].iloc[0]: "lab\x00el"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = report(a, method="ds", n_uncertain=200)
    assert [str(w.message) for w in caught] == []  # was "Glyph 0/27/133 missing from font(s) DejaVu Sans" x 18
    for ch in "\x00\x1b\x85\x7f\r":
        assert ch not in r.html, repr(ch)
    ids = parse(r.html).worker_ids
    assert sorted(ids) == sorted(visible(w) for w in a["worker"].unique())
    assert r"nul\x00w" in ids and r"esc\x1b[31mred" in ids and r"c1\x85del\x7fcr\x0d" in ids
    assert '<span class="ctl" title="control character U+0000">\\x00</span>' in r.html
    assert "lab\\x00el</text>" in r.html  # the label distribution's tick label in the SVG
    # plots: tab, newline and the bidi controls too (an SVG text cannot isolate them)
    assert _short("a\tb\nc\u202ed\u2066e\x00", 40) == r"a\x09b\x0ac\u202ed\u2066e\x00"
    # ids without controls are unchanged
    assert visible("w0042 \u05d0\u05d1 \u4e2d\t\n") == "w0042 \u05d0\u05d1 \u4e2d\t\n"


def test_goldmv_is_fitted_with_the_gold_in_the_library_too():
    """``report(data, gold, method="goldmv")`` fits GoldMajorityVote with the gold it needs
    (only the CLI did: the library call raised GoldError); other methods still never see it."""
    crowd = make_crowd(200, 15, 3, random_state=0)
    gold = crowd.truth.iloc[:40]
    rep = report(crowd.annotations, gold, method="goldmv")
    assert isinstance(rep.data.model, crowdagg.GoldMajorityVote)
    assert (rep.data.model.labels_.loc[gold.index] == gold).all()  # gold items take their gold label
    with pytest.raises(GoldError):
        report(crowd.annotations, None, method="goldmv")
    plain = report(crowd.annotations, gold, method="ds").data.model
    pd.testing.assert_frame_equal(plain.probas_, crowdagg.DawidSkene().fit(crowd.annotations).probas_)
