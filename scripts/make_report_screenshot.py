"""The README's screenshot of a quality report: ``docs/img/report.png``.

    python scripts/make_report_screenshot.py [--out docs/img/report.png] [--html report.html]

Makes the report of a generated crowd with gold answers -- what
``crowdagg report annotations.csv --gold gold.csv -o report.html`` writes for
such a file -- and photographs it in headless Chromium (``apt-get install chromium``).
"""

from __future__ import annotations

import argparse
import os
import tempfile


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join("docs", "img", "report.png"))
    ap.add_argument("--html", default=None, help="also keep the report's HTML here")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=2300)
    args = ap.parse_args()

    from crowdagg.datasets import make_crowd
    from crowdagg.reporting import report
    from crowdagg.reporting._browser import find_browser, screenshot

    if find_browser() is None:
        raise SystemExit("no Chromium on PATH: apt-get install -y chromium")
    crowd = make_crowd(3000, 180, 4, per_item=4, spammer_share=0.1, random_state=7)
    gold = crowd.truth.iloc[:400]
    rep = report(crowd.annotations, gold=gold, title="Quality report: batch 2026-12-01 (generated crowd)",
                 command="crowdagg report annotations.csv --gold gold.csv -o report.html")
    with tempfile.TemporaryDirectory() as tmp:
        page = args.html or os.path.join(tmp, "report.html")
        rep.save(page)
        # ten rows of the workers table, so that the plots below it are in the picture too
        png = screenshot(page, args.out, width=args.width, height=args.height, fragment="size=10")
    print(f"wrote {png} ({os.path.getsize(png) / 1e3:.0f} kB) from a {len(rep.html) / 1e6:.2f} MB report")


if __name__ == "__main__":
    main()
