"""The kind tests run with the worker's scapy setting."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from scapy.layers.inet import UDP


@pytest.fixture(autouse=True)
def udp_as_raw() -> Iterator[None]:
    """What the worker does after setns: UDP payloads stay Raw (the dns kind parses DNS
    itself), and replies are matched by ports only."""
    saved = list(UDP.payload_guess)
    UDP.payload_guess = []
    yield
    UDP.payload_guess = saved
