"""Where the packet died, for people: one compact line (console, JUnit) and a small HTML
strip, hop by hop: seen / dropped here / never reached / not observed.

    m ✓ → r1 ✓ → gw2 ✗ dropped here: IP_RPFILTER (ip_rcv_finish_core) → t · never reached

The reporters only call in here (one line each), so the look of the path lives in one place.
"""

from __future__ import annotations

from markupsafe import Markup

from netcheck.model.results import Hop, HopState, Outcome, PacketPath, RunRecord, Verdict

_MARK = {HopState.SEEN: "✓", HopState.DROPPED: "✗", HopState.NOT_REACHED: "·",
         HopState.NOT_OBSERVED: "?"}
_ASCII = {HopState.SEEN: "ok", HopState.DROPPED: "X", HopState.NOT_REACHED: ".",
          HopState.NOT_OBSERVED: "?"}
_WORDS = {HopState.SEEN: "seen", HopState.DROPPED: "dropped here",
          HopState.NOT_REACHED: "never reached", HopState.NOT_OBSERVED: "not observed"}


def _why(hop: Hop) -> str:
    if hop.reason:
        where = f" ({hop.location.split('+', 1)[0]})" if hop.location else ""
        return f": {hop.reason}{where}"
    if hop.counter:
        return f": {hop.counter}"
    return ""


def _hop_text(hop: Hop, marks: dict[HopState, str]) -> str:
    mark = marks[hop.state]
    if hop.state is HopState.SEEN:
        return f"{hop.node} {mark}"
    why = _why(hop) if hop.state is HopState.DROPPED else ""
    return f"{hop.node} {mark} {_WORDS[hop.state]}{why}"


def strip_text(path: PacketPath, *, unicode: bool = True) -> str:
    """The path on one line; the reply's hops (if the target answered) after `reply:`."""
    marks = _MARK if unicode else _ASCII
    arrow, turn = (" → ", " ⇠ reply: ") if unicode else (" -> ", " <- reply: ")
    out = ""
    last = None
    for hop in path.hops:
        if last is not None:
            out += turn if hop.direction != last else arrow
        out += _hop_text(hop, marks)
        last = hop.direction
    return out


def verdict_lines(verdict: Verdict, *, unicode: bool = True, detail: bool = False) -> list[str]:
    """`path: <strip>`, which findings the drop confirms, and (detail) each hop's evidence."""
    path = verdict.path
    if path is None:
        return []
    if not path.hops:  # not walked: only why
        return [f"path: ({path.note})"] if path.note else []
    lines = [f"path: {strip_text(path, unicode=unicode)}"]
    lines.extend(f"  {f.id}: confirmed by {f.confirmed_by}" for f in verdict.findings
                 if f.confirmed_by)
    if path.note:
        lines.append(f"  ({path.note})")
    if detail:
        for hop in path.hops:
            head = f"  {hop.direction} {hop.node}" + (f" (in on {hop.iif})" if hop.iif else "")
            lines.append(f"{head}: {_WORDS[hop.state]}")
            lines.extend(f"    {e}" for e in hop.evidence)
    return lines


def passing_lines(record: RunRecord, *, unicode: bool = True) -> list[str]:
    """The paths of verdicts that passed (an expected-unreachable probe's silence, now
    explained); failing ones carry theirs in their own lines."""
    return [f"{v.expectation_id} {line}" for v in record.verdicts
            if v.outcome is Outcome.PASS and v.path is not None and v.path.hops
            for line in verdict_lines(v, unicode=unicode)[:1]]


def text_block(verdict: Verdict) -> str:
    """The path with each hop's evidence, as plain text to append to a verdict's text."""
    lines = verdict_lines(verdict, detail=True)
    return "" if not lines else "\n".join(lines) + "\n"


def html_fragment(verdict: Verdict) -> Markup:
    """A small strip for the HTML card: one box per hop, with its evidence as a tooltip."""
    path = verdict.path
    if path is None:
        return Markup("")
    parts: list[Markup] = []
    last: str | None = None
    for hop in path.hops:
        if last is not None:
            sep = "⇠ reply" if hop.direction != last else "→"
            parts.append(Markup('<span class="ps-arrow">{}</span>').format(sep))
        last = hop.direction
        words = _WORDS[hop.state] + (_why(hop) if hop.state is HopState.DROPPED else "")
        parts.append(Markup(
            '<span class="ps-hop ps-{}" title="{}"><b>{}</b> {} {}</span>'
        ).format(hop.state.value, "\n".join(hop.evidence), hop.node, _MARK[hop.state], words))
    confirmed = [Markup("<div>{}: confirmed by {}</div>").format(f.id, f.confirmed_by)
                 for f in verdict.findings if f.confirmed_by]
    note = Markup('<div class="ps-note">{}</div>').format(path.note) if path.note else ""
    if not path.hops:
        return Markup('<div class="pathstrip">{}</div>').format(note)
    return Markup('<div class="pathstrip"><div>Where the packet died:</div>'
                  '<div class="ps-hops">{}</div>{}{}</div>').format(
        Markup("").join(parts), Markup("").join(confirmed), note)


__all__ = ["html_fragment", "passing_lines", "strip_text", "text_block", "verdict_lines"]
