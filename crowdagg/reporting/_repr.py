"""Rich ``_repr_html_`` for fitted estimators, agreement results and gold scores."""

from __future__ import annotations

import html
from typing import Any


def html_repr(obj: Any) -> str:
    """HTML for Jupyter: the plain ``repr`` escaped in a ``<pre>`` block."""
    return f"<pre>{html.escape(repr(obj))}</pre>"
