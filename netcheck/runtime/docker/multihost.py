"""Multi-host Docker labs: what the kernel allows a swarm, and per-container MAC policy.

Kernel features a swarm leans on are probed at run time in a throwaway network namespace
(`unshare --net`, netcheck.runtime.features), with the very algorithm Docker uses, so a skip
reason names the real gap:

- an encrypted overlay (`--opt encrypted`) programs IPsec ESP transport SAs with
  `rfc4106(gcm(aes))` between the nodes;
- a VIP service and the routing mesh load-balance through IPVS.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from typing import Any

from netcheck.model.plan import Driver, Network
from netcheck.runtime import features

log = logging.getLogger(__name__)

ENCRYPTED_OPTION = "encrypted"


def esp_missing() -> str | None:
    """None when the kernel takes Docker's ESP SA; else the reason, for skip messages."""
    return features.check("esp").reason


def ipvs_missing() -> str | None:
    """None when the kernel has IPVS (VIP services, routing mesh); else the reason."""
    return features.check("ipvs").reason


def is_encrypted(net: Network) -> bool:
    """`docker network create --opt encrypted` (any value, as Docker reads it)."""
    return net.driver is Driver.OVERLAY and ENCRYPTED_OPTION in net.options


def unbuildable_networks(networks: tuple[Network, ...] | list[Network]) -> dict[str, str]:
    """Networks this kernel cannot give a swarm, with the reason."""
    out: dict[str, str] = {}
    encrypted = [n.name for n in networks if is_encrypted(n)]
    if encrypted:
        reason = esp_missing()
        if reason is not None:
            out.update(dict.fromkeys(encrypted, reason))
    return out


def server_major(version: Mapping[str, Any]) -> int:
    """The Engine's major version from `GET /version` ("20.10.24+dfsg1" -> 20)."""
    text = str(version.get("Version", "0"))
    head = text.split(".", 1)[0]
    return int(head) if head.isdigit() else 0


# Engine 25 stopped deriving a container's MAC from its IPv4 address (02:42:<ip>) and picks
# a random one instead.
RANDOM_MAC_SINCE = 25


def lab_mac(run_id: str, host: str, endpoint: str) -> str:
    """A stable locally administered unicast MAC for one container of one run."""
    digest = hashlib.sha256(f"{run_id}/{host}/{endpoint}".encode()).digest()
    return "0a:" + ":".join(f"{b:02x}" for b in digest[:5])


def wants_lab_mac(*, lab: bool, first_driver: Driver | None, major: int) -> bool:
    """Give a lab container its own MAC on a pre-25 daemon's macvlan network.

    Two lab hosts that hand out one address from overlapping ip_ranges would otherwise give
    both containers one MAC too: the lab switch flaps between their ports and the duplicate
    never shows as a conflict. Current Docker gives them two MACs and ARP sees both.
    Only the first network of a container takes a MAC on API < 1.44.
    """
    return lab and first_driver is Driver.MACVLAN and major < RANDOM_MAC_SINCE
