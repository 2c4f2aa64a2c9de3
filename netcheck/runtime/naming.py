"""Names netcheck gives to what it creates: run ids, namespace and Docker object names,
interface names, link aliases, Docker labels, trace instances.

Every namespace a run creates is `nc-<runid>-<node>`; `netcheck clean` trusts only names of
exactly that shape, so the rules live here, in one place, and reject anything else. Imports
nothing of netcheck: every layer may read it (ARCHITECTURE.md, layers).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Set

NETNS_DIR = "/run/netns"
NS_PREFIX = "nc-"
# Docker labels on every object a run creates (networks, containers, services, sidecars).
RUN_LABEL = "io.netcheck.run"  # the run id: what `netcheck clean` and discover go by
NODE_LABEL = "io.netcheck.node"  # the plan node (endpoint, service) it stands for
ROLE_LABEL = "io.netcheck.role"  # a probe sidecar's job
ALIAS_PREFIX = "netcheck:"  # IFLA_IFALIAS of every link: netcheck:<runid>
TRACE_PREFIX = "netcheck-"  # trace instance netcheck-<runid>; private mounts ...-tracefs-*
SSH_DIR_PREFIX = "netcheck-ssh-"  # + "<pid>-<random>": an ssh:// bridge's socket directory
# Linux keeps IFNAMSIZ (16) bytes per interface name, the NUL included.
IFNAME_MAX = 15

# Namespaces a run makes for itself; a plan node with one of these names would collide.
SWITCH = "sw"
PROBE = "probe"
LOCAL_HOST = "local"  # the implicit container host when the lab defines none
RESERVED_NODES = frozenset({SWITCH, PROBE, LOCAL_HOST})

_RUN_ID = re.compile(r"[0-9a-f]{6}")
_NODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_NETNS = re.compile(r"nc-([0-9a-f]{6})-([A-Za-z0-9][A-Za-z0-9_.-]{0,63})")
_IFNAME_BAD = re.compile(r"[/:\s]")


def new_run_id() -> str:
    return secrets.token_hex(3)


def is_run_id(value: str) -> bool:
    return _RUN_ID.fullmatch(value) is not None


def check_run_id(value: str) -> str:
    if not is_run_id(value):
        raise ValueError(f"{value!r} is not a run id (6 lowercase hex characters)")
    return value


def check_node(name: str) -> str:
    """A node name must be usable as a file name under /run/netns and in `nc-<id>-<node>`."""
    if _NODE.fullmatch(name) is None:
        raise ValueError(
            f"node name {name!r} cannot name a namespace: use letters, digits, '_', '.', '-' "
            "(64 at most, starting with a letter or digit)"
        )
    return name


def object_name(run_id: str, name: str) -> str:
    """`nc-<runid>-<name>`: a namespace's, or a Docker network's or container's, name."""
    return f"{NS_PREFIX}{run_id}-{name}"


def netns_name(run_id: str, node: str) -> str:
    return object_name(check_run_id(run_id), check_node(node))


def netns_path(run_id: str, node: str, netns_dir: str = NETNS_DIR) -> str:
    return f"{netns_dir}/{netns_name(run_id, node)}"


def parse_netns_name(name: str) -> tuple[str, str] | None:
    """(run id, node) for a name netcheck made, None for anything else."""
    match = _NETNS.fullmatch(name)
    if match is None:
        return None
    return match.group(1), match.group(2)


def link_alias(run_id: str) -> str:
    """IFLA_IFALIAS value marking a link as ours."""
    return f"{ALIAS_PREFIX}{check_run_id(run_id)}"


def trace_instance(run_id: str) -> str:
    """The drop-reason recorder's tracefs instance name."""
    return f"{TRACE_PREFIX}{run_id}"


def check_ifname(name: str) -> str:
    """Apply the kernel's own rules (dev_valid_name) so a bad name fails before any netlink."""
    if not name or len(name) > IFNAME_MAX:
        raise ValueError(f"interface name {name!r} must be 1 to {IFNAME_MAX} characters")
    if name in (".", "..") or _IFNAME_BAD.search(name):
        raise ValueError(f"interface name {name!r} may not contain '/', ':' or whitespace")
    return name


def unique_ifname(wanted: str, used: Set[str] | set[str]) -> str:
    """A valid interface name close to `wanted` and not in `used` (the caller records it).

    Names are cut to 15 characters; a clash gets a `~N` suffix in place of the tail.
    """
    base = _IFNAME_BAD.sub("_", wanted) or "if"
    if base in (".", ".."):
        base = "if"
    candidate = base[:IFNAME_MAX]
    n = 1
    while candidate in used:
        suffix = f"~{n}"
        candidate = base[: IFNAME_MAX - len(suffix)] + suffix
        n += 1
    return candidate
