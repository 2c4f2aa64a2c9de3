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
    # Written for speed as well: the JUnit report makes this line for every packet of a
    # 62,250-probe mesh.
    src, dst = packet.src, packet.dst
    where = "" if src is None and dst is None else f"{src or '?'} > {dst or '?'} "
    if packet.time is None:
        return f"{where}{packet.summary}"
    return f"+{packet.time:.3f}s {where}{packet.summary}"


def finding_lines(finding: Finding) -> list[str]:
    lines = [f"- {finding.id}: {finding.summary}"]
    lines.extend(f"{_INDENT}evidence: {item}" for item in finding.evidence)
    if finding.fix:
        lines.append(f"{_INDENT}fix: {finding.fix}")
    return lines


def result_lines(result: ProbeResult) -> list[str]:
    target = result.target
    if result.target_address is not None:
        target = f"{target} ({result.target_address!s})"
    lines = [f"probe: {result.probe} {result.source} -> {target}"]
    iface, address = result.source_interface, result.source_address
    if iface is not None or address is not None:
        src = " ".join(str(x) for x in (iface, address) if x)
        lines.append(f"source: {src}")
    lines.append(f"observation: {result.observation.value}")
    lines.append(f"detail: {result.detail}")
    if result.rtt_ms is not None:
        lines.append(f"rtt: {result.rtt_ms:.3f} ms")
    lines.append("sent:")
    if result.sent:
        lines += [f"{_INDENT}{packet_line(p)}" for p in result.sent]
    else:
        lines.append(f"{_INDENT}(nothing)")
    lines.append("received:")
    if result.received:
        lines += [f"{_INDENT}{packet_line(p)}" for p in result.received]
    else:
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
