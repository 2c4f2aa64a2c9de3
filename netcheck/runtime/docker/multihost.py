"""Multi-host Docker labs: what the kernel allows a swarm, and per-container MAC policy.

Kernel features a swarm leans on are probed at run time in a throwaway network namespace
(`unshare --net`), with the very algorithm Docker uses, so a skip reason names the real gap:

- an encrypted overlay (`--opt encrypted`) programs IPsec ESP transport SAs with
  `rfc4106(gcm(aes))` between the nodes;
- a VIP service and the routing mesh load-balance through IPVS.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import subprocess
from collections.abc import Mapping
from typing import Any

from netcheck.model.plan import Driver, Network

log = logging.getLogger(__name__)

# Docker's overlay encryption (libnetwork/drivers/overlay/encryption.go): AES-GCM with a
# 16-byte key and 4-byte salt, as an ESP transport-mode SA.
_ESP_PROBE = (
    b"xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x100 reqid 1 mode transport "
    b"aead rfc4106(gcm(aes)) 0x0102030405060708091011121314151617181920 64\n"
)
ENCRYPTED_OPTION = "encrypted"


def _first_line(stderr: bytes, code: int) -> str:
    lines = [
        ln.strip()
        for ln in stderr.decode(errors="replace").splitlines()
        if ln.strip() and not ln.startswith("Command failed")
    ]
    return lines[0] if lines else f"ip exit {code}"


@functools.cache
def esp_missing() -> str | None:
    """None when the kernel takes Docker's ESP SA; else the reason, for skip messages."""
    try:
        proc = subprocess.run(
            ["unshare", "--net", "--", "ip", "-batch", "-"],
            input=_ESP_PROBE,
            capture_output=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot probe the kernel for IPsec ESP: {exc}"
    if proc.returncode == 0:
        return None
    why = _first_line(proc.stderr, proc.returncode)
    return (
        "kernel lacks IPsec ESP with rfc4106(gcm(aes)) for an encrypted overlay "
        f"(CONFIG_INET_ESP, CONFIG_CRYPTO_GCM): {why}"
    )


@functools.cache
def ipvs_missing() -> str | None:
    """None when the IPVS generic-netlink family resolves (the kernel autoloads ip_vs)."""
    from pyroute2.netlink.exceptions import NetlinkError
    from pyroute2.netlink.generic import GenericNetlinkSocket

    sock = GenericNetlinkSocket()
    try:
        sock.bind("IPVS", None)
    except NetlinkError as exc:
        return (
            "kernel lacks IPVS for swarm VIP services and the routing mesh "
            f"(CONFIG_IP_VS): generic netlink family IPVS: {exc.args[-1]}"
        )
    except OSError as exc:
        return f"cannot probe the kernel for IPVS: {exc}"
    finally:
        sock.close()
    return None


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
