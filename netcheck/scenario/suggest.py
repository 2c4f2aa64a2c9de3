"""Did-you-mean hints for misspelt keys, names and words."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def close_match(word: str, choices: Iterable[str]) -> str | None:
    """The choice closest to `word`, or None when nothing is close enough to be a typo."""
    options = [c for c in choices if isinstance(c, str)]
    # Case slips (MACVLAN) are the commonest typo and difflib scores them low.
    for option in options:
        if option.lower() == word.lower():
            return option
    by_lower = {o.lower(): o for o in options}
    found = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[found[0]] if found else None


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A hint sentence, or None."""
    found = close_match(word, choices)
    return f"Did you mean '{found}'?" if found is not None else None


def one_of(choices: Iterable[str], limit: int = 12) -> str:
    """`a, b or c` for a hint listing the valid choices."""
    items = sorted({c for c in choices if isinstance(c, str)})
    if not items:
        return "(none)"
    if len(items) > limit:
        items = [*items[:limit], "..."]
    if len(items) == 1:
        return f"'{items[0]}'"
    quoted = [f"'{i}'" if i != "..." else i for i in items]
    return ", ".join(quoted[:-1]) + " or " + quoted[-1]


def hint_for(word: str, choices: Iterable[str], what: str) -> str:
    """Did-you-mean when close, else the list of valid choices."""
    options = list(choices)
    return did_you_mean(word, options) or (
        f"Known {what}: {one_of(options)}" if options else f"There are no {what}"
    )
