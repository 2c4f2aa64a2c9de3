"""What every build and teardown step of the netns runtime shares.

`BuildContext` holds the netlink sockets into the lab's namespaces, the run's naming and
the step now running (named in every build error); `Built` is the bookkeeping steps hand on
to later steps (indexes, names taken, routes to add). Each step is a plain function of
these, so it can be driven alone against recorded sockets.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from dataclasses import KW_ONLY, dataclass
from typing import TYPE_CHECKING, Any, Protocol

from pyroute2.netlink.exceptions import NetlinkError

from netcheck.errors import Location, RuntimeBuildError, ScenarioBuildError
from netcheck.model.plan import IPAddress, IPNetwork, Plan
from netcheck.model.sites import NamespacePath
from netcheck.runtime.naming import link_alias, netns_path

if TYPE_CHECKING:
    from netcheck.runtime.features import KernelFeatures
    from netcheck.runtime.netns.layout import EndpointLayout


def describe(exc: BaseException) -> str:
    if isinstance(exc, NetlinkError):
        code = exc.code
        text = os.strerror(code) if code else str(exc)
        name = errno.errorcode.get(code, str(code))
        return f"{text} ({name})"
    if isinstance(exc, OSError) and exc.errno:
        where = f" {exc.filename}" if exc.filename else ""
        return f"{os.strerror(exc.errno)}{where}"
    return f"{type(exc).__name__}: {exc}"


# The kernel's answers that mean "this request makes no sense here", i.e. the scenario's
# mistake; EPERM, ENOMEM, EOPNOTSUPP (a missing feature) and others stay environment errors.
SCENARIO_ERRNOS = frozenset({
    errno.EINVAL, errno.ERANGE, errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENODEV,
    errno.ENOENT, errno.EEXIST,
})


def refused(where: Location | None, message: str, hint: str | None = None) -> RuntimeBuildError:
    if where is None:  # a plan not loaded from a file (tests, the API): no line to name
        return RuntimeBuildError(f"netns runtime: {message}")
    return ScenarioBuildError(where, message, hint)


class BuildContext:
    """The sockets into one lab's namespaces and the step now running."""

    def __init__(self, run_id: str, netns_dir: str, *, ready_timeout: float = 5.0) -> None:
        self.run_id = run_id
        self.netns_dir = netns_dir
        self.ready_timeout = ready_timeout
        self.alias = link_alias(run_id)
        self.ipr: dict[str, Any] = {}  # node key -> pyroute2 IPRoute in that namespace
        self.step = "starting"
        self.features: KernelFeatures | None = None

    @contextlib.contextmanager
    def netns_fd(self, node: str) -> Iterator[int]:
        """An fd of the node's namespace for one link request (`net_ns_fd`). Given a path,
        pyroute2 opens it itself and closes it in a clean-up callback behind a bare
        `except:`, which swallowed a SIGTERM landing there: the run went on and exited 0."""
        fd = os.open(self.path(node), os.O_RDONLY | os.O_CLOEXEC)
        try:
            yield fd
        finally:
            os.close(fd)

    def path(self, node: str) -> str:
        return netns_path(self.run_id, node, self.netns_dir)

    def site(self, node: str) -> NamespacePath:
        return NamespacePath(path=self.path(node))

    def up(self, node: str, ifname: str) -> int:
        ipr = self.ipr[node]
        found = ipr.link_lookup(ifname=ifname)
        if not found:
            raise RuntimeBuildError(f"netns runtime: {ifname} did not appear in {node}")
        index = int(found[0])
        self.step = f"bringing up {node}:{ifname}"
        ipr.link("set", index=index, state="up", ifalias=self.alias)
        return index

    def address(self, node: str, ifname: str, address: IPAddress, subnet: IPNetwork) -> None:
        ipr = self.ipr[node]
        self.step = f"adding {address}/{subnet.prefixlen} to {node}:{ifname}"
        index = ipr.link_lookup(ifname=ifname)[0]
        extra: dict[str, Any] = {}
        if address.version == 6:
            extra["flags"] = 0x02  # IFA_F_NODAD: a lab address needs no 1-2 s DAD wait
        ipr.addr("add", index=index, address=str(address), prefixlen=subnet.prefixlen, **extra)


@dataclass(slots=True)
class BuiltIf:
    """An interface as built, before its MAC is read back."""

    ifname: str
    network: str
    address: IPAddress | None
    prefix: IPNetwork | None
    kind: str
    _: KW_ONLY
    parent: str | None = None
    mode: str | None = None


class Built:
    """Bookkeeping of one build (indexes, names taken, routes to add)."""

    def __init__(self) -> None:
        self.ifaces: dict[str, list[BuiltIf]] = {}
        self.routes: dict[str, list[IPAddress]] = {}  # node -> default-route gateways
        self.uplink_index: dict[tuple[str, str], int] = {}
        self.bridge_index: dict[tuple[str, str], int] = {}  # (host, network) -> bridge
        self.lan_bridge: dict[str, int] = {}  # LAN -> its bridge in the switch
        self.switch_used: set[str] = set()  # link names taken in the switch
        self.host_used: dict[str, set[str]] = {}
        self.bridge_namespaces: set[str] = set()
        self.switch_port: dict[tuple[str, str], str] = {}  # (node, ifname) -> switch port
        self.trunk_port: dict[tuple[str, str], str] = {}  # (host, trunk) -> switch end
        self.trunk_facts: dict[str, str] = {}

    def add_if(self, node: str, iface: BuiltIf) -> None:
        self.ifaces.setdefault(node, []).append(iface)


class BuildStep(Protocol):
    """One named piece of the build: reads the plan and layout, acts through `ctx`, and
    records what later steps need in `built`."""

    def __call__(
        self, ctx: BuildContext, plan: Plan, layout: EndpointLayout, built: Built
    ) -> None: ...
