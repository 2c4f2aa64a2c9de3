"""Kept for imports of the first rules; each rule now lives in its own module."""

from __future__ import annotations

from netcheck.diagnose.rules.no_forwarding import NoForwarding
from netcheck.diagnose.rules.no_route import NoRoute
from netcheck.diagnose.rules.port_closed import PortClosed

__all__ = ["NoForwarding", "NoRoute", "PortClosed"]
