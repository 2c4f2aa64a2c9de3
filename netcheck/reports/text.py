"""Plain-text evidence for one verdict, shared by the JUnit, console and HTML reporters.

The text is what a person reading a CI log needs to act on a failure without rerunning:
what was sent, what came back, who answered, and each finding with its evidence and fix.
"""

from __future__ import annotations

from netcheck.model.results import Finding, Outcome, Packet, ProbeResult, Verdict

_INDENT = "  "


def outcome_label(outcome: Outcome) -> str:
    return outcome.value.upper()


def packet_line(packet: Packet) -> str:
    parts: list[str] = []
    if packet.time is not None:
        parts.append(f"+{packet.time:.3f}s")
    if packet.src is not None or packet.dst is not None:
        parts.append(f"{packet.src or '?'} > {packet.dst or '?'}")
    parts.append(packet.summary)
    return " ".join(parts)


def finding_lines(finding: Finding) -> list[str]:
    lines = [f"- {finding.id}: {finding.summary}"]
    lines.extend(f"{_INDENT}evidence: {item}" for item in finding.evidence)
    if finding.fix:
        lines.append(f"{_INDENT}fix: {finding.fix}")
    return lines


def result_lines(result: ProbeResult) -> list[str]:
    target = result.target
    if result.target_address is not None:
        target = f"{target} ({result.target_address})"
    lines = [f"probe: {result.probe} {result.source} -> {target}"]
    if result.source_interface is not None or result.source_address is not None:
        src = " ".join(str(x) for x in (result.source_interface, result.source_address) if x)
        lines.append(f"source: {src}")
    lines.append(f"observation: {result.observation.value}")
    lines.append(f"detail: {result.detail}")
    if result.rtt_ms is not None:
        lines.append(f"rtt: {result.rtt_ms:.3f} ms")
    lines.append("sent:")
    lines.extend(f"{_INDENT}{packet_line(p)}" for p in result.sent)
    if not result.sent:
        lines.append(f"{_INDENT}(nothing)")
    lines.append("received:")
    lines.extend(f"{_INDENT}{packet_line(p)}" for p in result.received)
    if not result.received:
        lines.append(f"{_INDENT}(nothing)")
    if result.answered_by:
        lines.append(f"answered by: {', '.join(result.answered_by)}")
    return lines


def verdict_text(verdict: Verdict) -> str:
    """Everything known about one verdict, as lines of plain text (no markup)."""
    lines = [
        f"{verdict.expectation_id}: {outcome_label(verdict.outcome)}",
        f"expected: {verdict.expected}",
        f"observed: {verdict.observed}",
        f"message: {verdict.message}",
    ]
    if verdict.result is not None:
        lines.extend(result_lines(verdict.result))
    if verdict.findings:
        lines.append("findings:")
        lines.extend(f"{_INDENT}{line}" for f in verdict.findings for line in finding_lines(f))
    return "\n".join(lines) + "\n"
