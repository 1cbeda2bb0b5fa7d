"""The report in a real browser: headless Chromium loads the file, a screenshot is not blank,
and the DOM after the page's script ran holds the workers table with every worker.

Skips (with the reason) only where no Chromium is installed; ``.ci/run`` installs the
Debian package ``chromium`` first.
"""

from __future__ import annotations

import html
import html.parser
import json
import re

import numpy as np
import pandas as pd
import pytest

from crowdagg.datasets import make_crowd
from crowdagg.reporting import report
from crowdagg.reporting._browser import dump_dom, find_browser, screenshot

pytest.importorskip("jinja2", reason="the report needs the report extra (jinja2)")
plt = pytest.importorskip("matplotlib.pyplot", reason="the report needs the report extra (matplotlib)")

pytestmark = pytest.mark.skipif(find_browser() is None,
                                reason="no Chromium browser installed (apt-get install -y chromium)")


class Rows(html.parser.HTMLParser):
    """The workers table's rows: (first cell text, hidden?)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[tuple[str, bool]] = []
        self._in, self._tbody, self._cell, self._hidden, self._text = False, False, -1, False, []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and a.get("id") == "workers":
            self._in = True
        elif self._in and tag == "tbody":
            self._tbody = True
        elif self._tbody and tag == "tr":
            self._cell, self._hidden = -1, "hidden" in a
        elif self._tbody and tag == "td":
            self._cell += 1
            self._text = []

    def handle_endtag(self, tag):
        if self._tbody and tag == "td" and self._cell == 0:
            self.rows.append(("".join(self._text), self._hidden))
        elif tag == "tbody":
            self._tbody = False
        elif tag == "table":
            self._in = False

    def handle_data(self, data):
        if self._tbody and self._cell == 0:
            self._text.append(data)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    c = make_crowd(800, 140, 3, per_item=4, random_state=11)
    path = tmp_path_factory.mktemp("browser") / "report.html"
    report(c.annotations, gold=c.truth.iloc[:200]).save(path)
    return c, path


def test_screenshot_is_not_blank(rendered):
    _, path = rendered
    png = screenshot(str(path), str(path.with_suffix(".png")), width=1200, height=1600)
    img = plt.imread(png)
    assert img.shape[0] >= 1000 and img.shape[1] >= 1000
    rgb = img[..., :3].reshape(-1, 3)
    # not one colour: text, plots and tables make many distinct colours and a spread of values
    assert rgb.std() > 0.05
    assert len(np.unique((rgb * 255).astype(np.uint8), axis=0)) > 50
    # the dark header band is drawn (the CSS loaded) and the plots area is not empty
    assert img[:40, :, :3].mean() < 0.35
    assert (rgb.mean(axis=1) < 0.9).mean() > 0.02


def test_dom_has_the_workers_table_paginated(rendered):
    c, path = rendered
    dom = dump_dom(str(path))
    assert 'id="workers"' in dom
    parser = Rows()
    parser.feed(dom)
    ids = [w for w, _ in parser.rows]
    assert sorted(ids) == sorted(map(str, c.workers.index))  # every worker, in the DOM
    visible = [w for w, hidden in parser.rows if not hidden]
    assert len(visible) == 50  # the script ran: one page of 50 shown, the other 90 hidden, none dropped
    assert re.search(r"page 1 of 3 \(140 of 140 workers\)", dom), "pagination text not written by the script"
    assert "<svg" in dom


def test_sort_and_filter_from_the_link(rendered):
    c, path = rendered
    counts = c.annotations["worker"].value_counts()
    # column 1 is "answers": descending, the busiest worker first
    dom = dump_dom(str(path), fragment="sort=1&dir=desc")
    parser = Rows()
    parser.feed(dom)
    visible = [w for w, hidden in parser.rows if not hidden]
    got = counts.loc[visible].to_numpy()
    assert (got[:-1] >= got[1:]).all() and got[0] == counts.max()
    assert len(parser.rows) == 140
    one = str(c.workers.index[7])
    parser = Rows()
    parser.feed(dump_dom(str(path), fragment=f"q={one}"))
    visible = [w for w, hidden in parser.rows if not hidden]
    assert one in visible and all(one in w for w in visible)
    assert len(parser.rows) == 140  # filtered rows are hidden, never removed


def measure(page_html: str, path, expr: str, *, fragment: str = "", window=(1400, 1000)):
    """``expr`` (JavaScript, JSON-serialisable) evaluated in the page after its own script ran."""
    probe = ('<script>document.body.setAttribute("data-probe", JSON.stringify((function () { return '
             + expr + '; })()));</script></body>')
    path.write_text(page_html.replace("</body>", probe, 1), encoding="utf-8")
    dom = dump_dom(str(path), fragment=fragment, window=window)
    m = re.search(r'data-probe="([^"]*)"', dom)
    assert m, "the probe script did not run"
    return json.loads(html.unescape(m.group(1)))


def test_a_long_id_without_break_points_keeps_the_tables_in_the_window(tmp_path):
    long_w, long_i, long_l = "x" * 10_000, "i" * 10_000, "L" * 10_000
    a = make_crowd(300, 20, 4, random_state=1).annotations.astype({"item": str, "label": str})
    a["worker"] = a["worker"].astype(str).replace({"w00": long_w})
    a["label"] = a["label"].replace({a["label"].iloc[0]: long_l})
    a.loc[a["item"] == a["item"].iloc[0], "item"] = long_i
    r = report(a, method="mv", n_uncertain=300)
    got = measure(r.html, tmp_path / "long.html", """{
        tables: ["workers", "label-distribution", "uncertain-items"].map(function (t) {
            return document.getElementById(t).offsetWidth; }),
        page: document.documentElement.scrollWidth,
        nums: Array.prototype.map.call(document.querySelectorAll("#workers td.num"), function (c) {
            var b = c.getBoundingClientRect(), text = document.createRange();
            text.selectNodeContents(c);
            return [b.right <= innerWidth, c.scrollWidth <= c.clientWidth,
                    text.getBoundingClientRect().height < 25]; }),
        ids: Array.prototype.filter.call(document.querySelectorAll("td .id"), function (e) {
            return e.textContent.length === 10000; }).map(function (e) {
            return [e.textContent === e.title, e.getBoundingClientRect().height < 80]; })
    }""")
    assert max(got["tables"]) <= 1400 and got["page"] <= 1400, got["tables"]  # was 77,367 / 72,735 / 380,539 px
    # every number in the workers table is on screen, not clipped, on one line
    assert got["nums"] and all(all(n) for n in got["nums"]), got["nums"]
    # the long worker, item and label: the full text is in the cell and its title, cut to a few lines on screen
    assert len(got["ids"]) >= 3 and all(all(i) for i in got["ids"]), got["ids"]


def test_a_right_to_left_override_in_one_id_reorders_no_other_text(tmp_path):
    df = pd.DataFrame([("item1", "\u202eevil", "xleft"), ("item1", "alice", "yright"), ("item1", "bob", "yright"),
                       ("item2", "alice", "xleft"), ("item2", "bob", "yright")], columns=["item", "worker", "label"])
    r = report(df, method="mv")
    # every word of the answers cells and the workers table other than the override's own: its first letter
    # is drawn left of its last (reversed text has them the other way round)
    got = measure(r.html, tmp_path / "rtl.html", """(function () {
        var out = [], roots = document.querySelectorAll("#uncertain-items td.answers, #workers tbody td");
        Array.prototype.forEach.call(roots, function (root) {
            var walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT), n;
            while ((n = walk.nextNode())) {
                var re = /[a-z]{2,}/g, m;
                while ((m = re.exec(n.data))) {
                    if (m[0] === "evil") { continue; }  // the override's own text is reversed
                    var a = document.createRange(), b = document.createRange(), end = m.index + m[0].length;
                    a.setStart(n, m.index); a.setEnd(n, m.index + 1); b.setStart(n, end - 1); b.setEnd(n, end);
                    out.push([m[0], a.getBoundingClientRect().left < b.getBoundingClientRect().left]);
                }
            }
        });
        return out;
    })()""")
    texts = [t for t, _ in got]
    assert {"alice", "bob", "xleft", "yright"} <= set(texts), texts
    assert all(ok for _, ok in got), [t for t, ok in got if not ok]


def test_a_malformed_link_fragment_does_not_stop_the_script(rendered, tmp_path):
    _, path = rendered
    page = path.read_text(encoding="utf-8")
    got = measure(page, tmp_path / "frag.html", """{
        info: document.getElementById("page-info").textContent,
        filter: document.getElementById("worker-filter").value,
        flagged: document.getElementById("flagged-only").checked,
        size: document.getElementById("page-size").value }""", fragment="q=%E0%A4%A&size=%ZZ&flagged=1")
    # the first draw ran; the undecodable values are kept as typed (no worker matches this filter)
    assert got["filter"] == "%E0%A4%A" and got["flagged"]
    assert "page 1 of 1 (0 of 140 workers)" in got["info"], got
    got = measure(page, tmp_path / "frag2.html", 'document.getElementById("page-info").textContent',
                  fragment="%E0=1&size=100")
    assert "page 1 of 2 (140 of 140 workers)" in got, got


def test_the_filter_matches_the_id_or_a_flag_not_the_numbers(rendered, tmp_path):
    c, path = rendered
    page = path.read_text(encoding="utf-8")
    ids = [str(w) for w in c.workers.index]
    assert not any("0." in w for w in ids)  # but every reliability, agreement and spam score holds "0."
    count = 'document.getElementById("page-info").textContent'
    assert "(0 of 140 workers)" in measure(page, tmp_path / "num.html", count, fragment="q=0.")
    # a flag still filters: every worker flagged "gold", none other
    gold = sum('<span class="flag">gold</span>' in row for row in re.findall(r'<tr class="flagged">.*?</tr>', page))
    assert gold > 0, "the fixture has no gold-flagged worker"
    got = measure(page, tmp_path / "flag.html", count, fragment="q=gold")
    assert f"({gold} of 140 workers)" in got, got


def test_the_notebook_repr_wraps_a_long_id(tmp_path):
    """The Jupyter display of a fitted model (``_repr_html_``) keeps a 10,000-character id
    from widening its tables, as the report page does; the numbers stay on one line."""
    import crowdagg

    a = make_crowd(100, 10, 3, random_state=0).annotations.astype({"worker": str})
    a["worker"] = a["worker"].replace({a["worker"].iloc[0]: "x" * 10_000})
    body = crowdagg.DawidSkene().fit(a)._repr_html_()
    page = f"<!doctype html><html><body>{body}</body></html>"
    got = measure(page, tmp_path / "repr.html", """{
        page: document.documentElement.scrollWidth,
        nums: Array.prototype.map.call(document.querySelectorAll("td.n"), function (c) {
            var text = document.createRange(); text.selectNodeContents(c);
            return text.getBoundingClientRect().height < 25; })
    }""")
    assert got["page"] <= 1400, got["page"]
    assert got["nums"] and all(got["nums"])
