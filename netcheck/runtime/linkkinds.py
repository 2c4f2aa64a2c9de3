"""The link kinds netcheck probes for, one table for both ways of asking the kernel.

`runtime.features` creates each kind with pyroute2 in a scratch namespace on this machine;
`netcheck doctor` creates the same kinds with iproute2's `ip` through a (possibly remote)
testinfra host. Both read this table, so a kind has one name ("vlan", the kernel's and
pyroute2's word; its module is 8021q), one recipe and one fix.

Each recipe runs in a scratch namespace holding two veth pairs, p0/p1 and q0/q1: a lower
device with a macvlan child cannot also take an ipvlan one (EBUSY), so ipvlan gets its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The veths every recipe's `lower` names; each is created with its peer `<name[0]>1`.
SCRATCH_VETHS = ("p0", "q0")


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkKind:
    name: str  # the feature's key and the kernel's link kind
    ifname: str  # the scratch link's name
    kconfig: str
    fix: str  # what to do when it is missing
    lower: str | None = None  # the scratch veth it hangs off, if any
    ip_args: tuple[str, ...] = ()  # iproute2 words after `type <name>`
    attrs: dict[str, Any] = field(default_factory=dict)  # the same, as pyroute2 keywords

    def ip_argv(self) -> tuple[str, ...]:
        """`ip` words that create it (run as `ip -n <ns> ...`)."""
        lower = ("link", self.lower) if self.lower else ()
        return ("link", "add", self.ifname, *lower, "type", self.name, *self.ip_args)

    def netlink(self, lower_index: int | None) -> dict[str, Any]:
        """pyroute2 `link("add", ...)` keywords that create it; `lower_index` of `lower`."""
        extra: dict[str, Any] = {"link": lower_index} if self.lower else {}
        return {"ifname": self.ifname, "kind": self.name, **extra, **self.attrs}


# In probe order (features.py adds what each answer says to `available` / `missing`).
LINK_KINDS: dict[str, LinkKind] = {k.name: k for k in (
    LinkKind(name="macvlan", ifname="mv0", lower="p0", kconfig="CONFIG_MACVLAN",
             fix="modprobe macvlan (CONFIG_MACVLAN)",
             ip_args=("mode", "bridge"), attrs={"macvlan_mode": "bridge"}),
    LinkKind(name="ipvlan", ifname="ipv0", lower="q0", kconfig="CONFIG_IPVLAN",
             fix="modprobe ipvlan (CONFIG_IPVLAN); or run in the VM tier: netcheck vm run",
             ip_args=("mode", "l2"), attrs={"ipvlan_mode": 0}),
    LinkKind(name="vlan", ifname="v0", lower="p0", kconfig="CONFIG_VLAN_8021Q",
             fix="modprobe 8021q (CONFIG_VLAN_8021Q); or run in the VM tier: netcheck vm run",
             ip_args=("id", "5"), attrs={"vlan_id": 5}),
    LinkKind(name="bridge", ifname="br0", kconfig="CONFIG_BRIDGE", fix="modprobe bridge"),
    LinkKind(name="vxlan", ifname="vx0", kconfig="CONFIG_VXLAN",
             fix="modprobe vxlan (CONFIG_VXLAN); overlay networks need it",
             ip_args=("id", "42", "dstport", "4789"),
             attrs={"vxlan_id": 42, "vxlan_port": 4789}),
    LinkKind(name="dummy", ifname="d0", kconfig="CONFIG_DUMMY", fix="modprobe dummy"),
)}


# Kernel config names of every feature netcheck probes, for skip reasons and findings.
KCONFIG = {
    "veth": "CONFIG_VETH",
    **{k.name: k.kconfig for k in LINK_KINDS.values()},
    "esp": "CONFIG_INET_ESP",
    "ipvs": "CONFIG_IP_VS",
}
