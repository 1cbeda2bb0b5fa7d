"""Ids and labels as the report writes them: control characters made visible.

An id may hold anything a CSV cell or a DataFrame can: NUL (dropped by every HTML
parser, so ``"a\\x00b"`` and ``"ab"`` would look the same), ESC, other C0 and C1
controls, DEL, lone surrogates (which cannot even be written as UTF-8).  The page
and the plots show each of them as its Python escape (``\\x00``, ``\\x1b``,
``\\x85``, ``\\udc80``); in the HTML the escape is marked (``<span class="ctl">``)
so that it reads differently from the same four characters typed.  Tab and
newline stay as they are in the HTML (white space there); the plots escape them
too, and the bidirectional embedding, override and isolate controls (which an SVG
text cannot isolate, and which matplotlib's fonts partly lack).  The Jupyter reprs
(``_repr.py``) write ids through :func:`visible` as well.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["visible", "plot_text", "ident_html"]

#: C0 but tab and newline, DEL, C1, lone surrogates
_HTML_CTRL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
#: the same, tab and newline, and the bidi embeddings, overrides and isolates (LRE ... RLO, LRI ... PDI)
_PLOT_CTRL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")


def _code(ch: str) -> str:
    o = ord(ch)
    return f"\\x{o:02x}" if o <= 0xFF else f"\\u{o:04x}"


def visible(v: Any) -> str:
    """``str(v)`` with every control character but tab and newline written as its escape (``\\x1b``)."""
    return _HTML_CTRL.sub(lambda m: _code(m.group()), str(v))


def plot_text(v: Any) -> str:
    """``str(v)`` for matplotlib: control characters, tab, newline and bidi controls as escapes."""
    return _PLOT_CTRL.sub(lambda m: _code(m.group()), str(v))


def ident_html(v: Any) -> Any:
    """``str(v)`` as HTML (a ``markupsafe.Markup``): escaped, each control as a marked escape (``<span class="ctl">``)."""
    from markupsafe import Markup, escape  # with Jinja2 (the report extra); visible() needs nothing

    s = str(v)
    out, last = [], 0
    for m in _HTML_CTRL.finditer(s):
        out.append(escape(s[last:m.start()]))
        code = _code(m.group())
        out.append(Markup(f'<span class="ctl" title="control character U+{ord(m.group()):04X}">{code}</span>'))
        last = m.end()
    out.append(escape(s[last:]))
    return Markup("").join(out)
