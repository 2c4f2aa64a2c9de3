"""A kernel feature the scenario needs is missing: probed at run time, not read from lsmod.

The runtime tries to create each link kind in a scratch namespace (`nc-<id>-probe`); what
fails there is missing, and the nodes that need it are not built. Their expectations are
skipped, and this finding says which feature and how the kernel answered. ESP (encrypted
overlay) and IPVS (swarm VIP services, the routing mesh) are not link kinds: they are probed
the way Docker uses them (netcheck.runtime.features.check), and the finding says so.
"""

from __future__ import annotations

import re

from netcheck.model.results import Finding, Topology
from netcheck.runtime.linkkinds import KCONFIG

_LACKS = re.compile(r"kernel lacks (?P<feature>[\w.-]+)(?: \((?P<config>[A-Z0-9_]+)\))?")
_FIX = {
    "ipvlan": "load it (modprobe ipvlan) or use a kernel built with CONFIG_IPVLAN; on this "
              "machine, run the scenario in the VM tier (netcheck vm run)",
    "vlan": "modprobe 8021q, or a kernel with CONFIG_VLAN_8021Q (the VM tier has it)",
    "macvlan": "modprobe macvlan, or a kernel with CONFIG_MACVLAN",
    "vxlan": "modprobe vxlan, or a kernel with CONFIG_VXLAN",
    "esp": "a kernel with CONFIG_INET_ESP, CONFIG_XFRM_USER and CONFIG_CRYPTO_GCM for "
           "encrypted overlays (the VM tier: netcheck vm run), or drop `encrypted`",
    "ipvs": "modprobe ip_vs, or a kernel with CONFIG_IP_VS (the VM tier: netcheck vm run); "
            "or use endpoint_mode: dnsrr without published ports, which needs no IPVS",
}
# Features that are not link kinds: what the runtime tried, and what goes unbuilt.
_NOT_LINKS = {
    "esp": "encrypted overlay networks (IPsec ESP)",
    "ipvs": "swarm VIP services and the routing mesh (IPVS)",
}


def explain_skip(reason: str, topology: Topology | None) -> tuple[Finding, ...]:
    m = _LACKS.search(reason)
    if m is None:
        return ()
    feature = m["feature"].lower()
    config = m["config"] or KCONFIG.get(feature, feature)
    if feature in _NOT_LINKS:
        evidence = [f"probed at run time: {reason}"]
        summary = (f"this kernel lacks {m['feature']} ({config}): {_NOT_LINKS[feature]} "
                   "were not built")
    else:
        evidence = [f"creating a {feature} link in a scratch namespace failed: {reason}"]
        summary = (f"this kernel cannot create {feature} links ({config}): the nodes that "
                   "need them were not built")
    if topology is not None:
        facts = topology.facts
        if facts.get("kernel"):
            evidence.append(f"kernel {facts['kernel']}")
        if facts.get("kernel_missing"):
            evidence.append(f"missing on this kernel: {facts['kernel_missing']}")
        if facts.get("kernel_features"):
            evidence.append(f"available: {facts['kernel_features']}")
    return (
        Finding(
            id="kernel-feature",
            summary=summary,
            evidence=tuple(evidence),
            fix=_FIX.get(feature, f"use a kernel with {config}"),
        ),
    )
