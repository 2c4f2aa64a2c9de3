"""A netlink socket made inside an existing namespace talks to that namespace, and to no
other (runtime/docker/vxlan.py enslaves lab hosts' devices through it; the diagnosis reads
every namespace through one)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pyroute2 import IPRoute

from netcheck.nsenter import netlink_fd
from netcheck.runtime.netns import nsfs

pytestmark = pytest.mark.privileged


def test_netlink_fd_of_an_existing_namespace_sees_its_links_only(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to create namespaces")
    path = str(tmp_path / "ns" / "a")
    created: dict[str, int] = {}
    try:
        nsfs.create_many([nsfs.NsSpec(path=path)], created, share_dir=False)
        with IPRoute(fileno=created.pop(path)) as builder:
            builder.link("add", ifname="nctest0", kind="veth", peer="nctest1")
        with IPRoute(fileno=netlink_fd(path)) as ipr:
            names = sorted(str(link.get_attr("IFLA_IFNAME")) for link in ipr.get_links())
        assert names == ["lo", "nctest0", "nctest1"]  # not this machine's links
        with pytest.raises(OSError):
            netlink_fd(str(tmp_path / "ns" / "missing"))
    finally:
        nsfs.remove(path)
