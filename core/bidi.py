"""Right-to-left text: keep numbers and Latin words in order inside Arabic and Urdu messages.

Without help, a run such as "2 of 5", "/stop" or "0116 000 0000" inside right-to-left text can
be shown in the wrong order. Each such run is wrapped in Unicode isolates (FIRST STRONG ISOLATE
U+2068 ... POP DIRECTIONAL ISOLATE U+2069), which tell the display to lay it out on its own.
Matching typed replies ignores these characters (see ``core.textmatch``).
"""

from __future__ import annotations

import re

FSI, PDI = "\u2068", "\u2069"
# A run of Latin letters, digits, slashes and the punctuation that sits between them.
_LTR_RUN = re.compile(r"[0-9A-Za-z/+#@(][0-9A-Za-z/+#@.,:;'’()\- ]*[0-9A-Za-z)]|[0-9A-Za-z]")


def isolate(text: str) -> str:
    """``text`` with every left-to-right run wrapped in isolates (idempotent)."""
    if FSI in text:
        return text
    return _LTR_RUN.sub(lambda m: f"{FSI}{m.group(0)}{PDI}", text)
