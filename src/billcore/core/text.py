"""Text rules that need no database: the key that makes names unique regardless of letter
case (the same on SQLite, whose ``lower()`` folds only ASCII, and on PostgreSQL), and the
characters no stored text may hold."""

from __future__ import annotations

import re
import unicodedata

# Lone UTF-16 surrogates (from JSON escapes such as "\ud800") cannot be encoded as UTF-8;
# C0 and C1 control characters and DEL have no place in a one-line name.
SURROGATES = re.compile("[\ud800-\udfff]")
CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")
CONTROLS_EXCEPT_LAYOUT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def name_key(name: str) -> str:
    """The comparison key of a unique name: NFKC-normalised, then case-folded (Unicode's
    "NFKC_Casefold" in spirit), so "Äpfel", "äpfel" and "ÄPFEL" clash, and so do "Straße"
    and "STRASSE"."""
    folded = unicodedata.normalize("NFKC", name.strip()).casefold()
    return unicodedata.normalize("NFKC", folded)
