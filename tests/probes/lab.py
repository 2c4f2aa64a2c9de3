"""A throwaway namespace lab for probe tests: `nctest-<token>-*` namespaces on one bridge."""

from __future__ import annotations

import contextlib
import ipaddress
import secrets
import threading
from dataclasses import dataclass, field

from pyroute2 import IPRoute, netns

from netcheck.probes._netns import enter_netns

RUN_NETNS = "/run/netns"


@dataclass
class Lab:
    token: str = field(default_factory=lambda: secrets.token_hex(3))
    namespaces: list[str] = field(default_factory=list)
    _links: int = 0

    def name(self, node: str) -> str:
        return f"nctest-{self.token}-{node}"

    def path(self, node: str) -> str:
        return f"{RUN_NETNS}/{self.name(node)}"

    def create(self, node: str) -> str:
        name = self.name(node)
        netns.create(name)
        self.namespaces.append(name)
        with IPRoute(netns=name, flags=0) as ipr:
            ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
        return self.path(node)

    def bridge(self, node: str = "sw", ifname: str = "br0") -> None:
        self.create(node)
        with IPRoute(netns=self.name(node), flags=0) as ipr:
            ipr.link("add", ifname=ifname, kind="bridge")
            ipr.link("set", index=ipr.link_lookup(ifname=ifname)[0], state="up")

    def wire(
        self,
        node: str,
        addresses: list[str],
        *,
        switch: str = "sw",
        bridge: str = "br0",
        ifname: str = "eth0",
        mtu: int | None = None,
        create: bool = True,
    ) -> None:
        """Connect `node` (created unless it exists) to the bridge in `switch` with a veth."""
        if create and self.name(node) not in self.namespaces:
            self.create(node)
        self._links += 1
        port = f"p{self._links}-{node}"[:15]
        with IPRoute(netns=self.name(switch), flags=0) as ipr:
            ipr.link(
                "add",
                ifname=port,
                kind="veth",
                peer={"ifname": ifname, "net_ns_fd": self.name(node)},
            )
            idx = ipr.link_lookup(ifname=port)[0]
            ipr.link("set", index=idx, master=ipr.link_lookup(ifname=bridge)[0], state="up")
        with IPRoute(netns=self.name(node), flags=0) as ipr:
            idx = ipr.link_lookup(ifname=ifname)[0]
            if mtu is not None:
                ipr.link("set", index=idx, mtu=mtu)
            for addr in addresses:
                iface = ipaddress.ip_interface(addr)
                ipr.addr(
                    "add",
                    index=idx,
                    address=str(iface.ip),
                    prefixlen=iface.network.prefixlen,
                    # Tests must not wait out IPv6 duplicate address detection.
                    **({"flags": 0x80} if iface.version == 6 else {}),  # IFA_F_NODAD
                )
            ipr.link("set", index=idx, state="up")

    def veth(self, a: str, b: str, a_addr: str, b_addr: str, *, mtu: int | None = None) -> None:
        """A point-to-point veth between two existing namespaces."""
        self._links += 1
        a_if, b_if = f"to-{b}"[:15], f"to-{a}"[:15]
        with IPRoute(netns=self.name(a), flags=0) as ipr:
            ipr.link(
                "add", ifname=a_if, kind="veth", peer={"ifname": b_if, "net_ns_fd": self.name(b)}
            )
        for node, ifname, addr in ((a, a_if, a_addr), (b, b_if, b_addr)):
            with IPRoute(netns=self.name(node), flags=0) as ipr:
                idx = ipr.link_lookup(ifname=ifname)[0]
                if mtu is not None:
                    ipr.link("set", index=idx, mtu=mtu)
                iface = ipaddress.ip_interface(addr)
                ipr.addr("add", index=idx, address=str(iface.ip), prefixlen=iface.network.prefixlen)
                ipr.link("set", index=idx, state="up")

    def route(
        self, node: str, dst: str, gateway: str | None = None, rtype: str | None = None
    ) -> None:
        with IPRoute(netns=self.name(node), flags=0) as ipr:
            kwargs: dict[str, object] = {"dst": dst}
            if gateway is not None:
                kwargs["gateway"] = gateway
            if rtype is not None:
                kwargs["type"] = rtype
            ipr.route("add", **kwargs)

    def mac(self, node: str, ifname: str = "eth0") -> str:
        with IPRoute(netns=self.name(node), flags=0) as ipr:
            return str(
                ipr.link("get", index=ipr.link_lookup(ifname=ifname)[0])[0].get_attr("IFLA_ADDRESS")
            )

    def static_neighbours(
        self, node: str, entries: list[tuple[str, str]], ifname: str = "eth0"
    ) -> None:
        """Permanent neighbour entries: they do not count against the host-wide gc_thresh3."""
        with IPRoute(netns=self.name(node), flags=0) as ipr:
            idx = ipr.link_lookup(ifname=ifname)[0]
            for ip, mac in entries:
                ipr.neigh("add", dst=ip, lladdr=mac, ifindex=idx, state=0x80)  # NUD_PERMANENT

    def sysctl(self, node: str, key: str, value: str) -> None:
        """Write a net.* sysctl inside `node` (procfs follows the writing thread's netns)."""
        errors: list[BaseException] = []

        def write() -> None:
            try:
                enter_netns(self.path(node))
                with open(f"/proc/sys/{key.replace('.', '/')}", "w") as fh:
                    fh.write(value)
            except BaseException as exc:
                errors.append(exc)

        t = threading.Thread(target=write)
        t.start()
        t.join()
        if errors:
            raise errors[0]

    def close(self) -> None:
        for name in reversed(self.namespaces):
            with contextlib.suppress(OSError):
                netns.remove(name)
        self.namespaces.clear()
