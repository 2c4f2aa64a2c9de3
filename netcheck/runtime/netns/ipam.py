"""Address allocation the way Docker's default IPAM does it; pure functions, no I/O.

Docker hands out the first free address of `ip_range` (or of the whole subnet), never the
subnet's network or broadcast address, the gateway, or an `aux_addresses` entry. Each
Docker daemon keeps its own pool, so two hosts sharing a macvlan subnet with overlapping
ranges hand out the same addresses; the caller decides the pool's scope.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Iterable, Sequence

from netcheck.model.plan import IPAddress, Network, Subnet, subnet_within


class IpamError(ValueError):
    """The request cannot be met: no free address, or a fixed address outside every subnet."""


def gateway_of(subnet: Subnet) -> IPAddress | None:
    """The subnet's gateway; Docker takes the first host address when none is given."""
    if subnet.gateway is not None:
        return subnet.gateway
    net = subnet.subnet
    if net.num_addresses < 4:
        return None
    return net.network_address + 1


def reserved(subnet: Subnet) -> set[IPAddress]:
    """Addresses of the subnet IPAM never hands out."""
    net = subnet.subnet
    out: set[IPAddress] = {net.network_address}
    if isinstance(net, ipaddress.IPv4Network):
        out.add(net.broadcast_address)
    gateway = gateway_of(subnet)
    if gateway is not None:
        out.add(gateway)
    out.update(subnet.aux_addresses.values())
    return out


def subnet_for(network: Network, address: IPAddress) -> Subnet | None:
    for subnet in network.subnets:
        if address.version == subnet.subnet.version and address in subnet.subnet:
            return subnet
    return None


def default_subnet(network: Network) -> Subnet | None:
    """The subnet dynamic addresses come from: the first IPv4 one, else the first one."""
    for subnet in network.subnets:
        if subnet.subnet.version == 4:
            return subnet
    return network.subnets[0] if network.subnets else None


def first_free(subnet: Subnet, taken: Collection[IPAddress]) -> IPAddress:
    """The lowest address of ip_range (or the subnet) that is neither reserved nor taken."""
    pool = subnet.ip_range if subnet.ip_range is not None else subnet.subnet
    if not subnet_within(pool, subnet.subnet):
        raise IpamError(f"ip_range {pool} is not inside subnet {subnet.subnet}")
    skip = reserved(subnet) | set(taken)
    start = int(pool.network_address)
    end = int(pool.broadcast_address)
    make = ipaddress.IPv4Address if pool.version == 4 else ipaddress.IPv6Address
    # Walking the integers stops after at most len(skip) + 1 steps, even on an IPv6 /64.
    for value in range(start, end + 1):
        address: IPAddress = make(value)
        if address not in skip and address in subnet.subnet:
            return address
    raise IpamError(f"no free address left in {pool} (subnet {subnet.subnet})")


def allocate(
    network: Network,
    requests: Sequence[tuple[str, IPAddress | None]],
    *,
    also_taken: Iterable[IPAddress] = (),
) -> dict[str, tuple[IPAddress, Subnet]]:
    """Give each requester (key, fixed address or None) an address on `network`, in order.

    Fixed addresses are checked against the subnets and against each other and are never
    handed to anyone else; `also_taken` are addresses held outside this pool (fixed
    addresses of endpoints on other hosts) that dynamic allocation must also avoid.
    """
    out: dict[str, tuple[IPAddress, Subnet]] = {}
    taken: set[IPAddress] = set(also_taken)
    for key, fixed in requests:
        if fixed is None:
            continue
        subnet = subnet_for(network, fixed)
        if subnet is None:
            raise IpamError(f"{key}: {fixed} is in no subnet of network {network.name!r}")
        if fixed in reserved(subnet) - {subnet.subnet.network_address}:
            # Docker refuses the gateway and aux addresses, as "address already in use".
            raise IpamError(f"{key}: {fixed} is reserved on network {network.name!r}")
        if fixed == subnet.subnet.network_address:
            raise IpamError(f"{key}: {fixed} is the network address of {subnet.subnet}")
        if any(addr == fixed for addr, _ in out.values()):
            raise IpamError(f"{key}: {fixed} is already in use on network {network.name!r}")
        out[key] = (fixed, subnet)
        taken.add(fixed)
    for key, fixed in requests:
        if fixed is not None:
            continue
        subnet = default_subnet(network)
        if subnet is None:
            raise IpamError(f"{key}: network {network.name!r} has no subnet to allocate from")
        address = first_free(subnet, taken)
        out[key] = (address, subnet)
        taken.add(address)
    return {key: out[key] for key, _ in requests}


def allocate_families(
    network: Network,
    requests: Sequence[tuple[str, IPAddress | None]],
    *,
    also_taken: Iterable[IPAddress] = (),
) -> dict[str, tuple[tuple[IPAddress, Subnet], ...]]:
    """Like `allocate`, plus one address of every other family the network has subnets of.

    Docker gives a container on a dual-stack network one IPv4 and one IPv6 address: the
    fixed one where given, the other from the first subnet of its family, in connect order.
    The first address of each tuple is the one `allocate` chose.
    """
    taken: set[IPAddress] = set(also_taken)
    primary = allocate(network, requests, also_taken=taken)
    taken.update(address for address, _ in primary.values())
    first_of: dict[int, Subnet] = {}
    for subnet in network.subnets:
        first_of.setdefault(subnet.subnet.version, subnet)
    out: dict[str, tuple[tuple[IPAddress, Subnet], ...]] = {}
    for key, _ in requests:
        address, subnet = primary[key]
        got = [(address, subnet)]
        for version, pool in sorted(first_of.items()):
            if version == address.version:
                continue
            extra = first_free(pool, taken)
            taken.add(extra)
            got.append((extra, pool))
        out[key] = tuple(got)
    return out
