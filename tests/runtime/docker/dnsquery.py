"""Ask one DNS server for A records: `dnsquery.py SERVER NAME`. Exit 0 (+ addresses, maybe
none for NXDOMAIN), 2 when nothing answered. Run inside a container's netns via nsenter."""

import random
import socket
import struct
import sys


def main(server: str, name: str) -> int:
    qid = random.randrange(65536)
    header = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    packet = header + qname + struct.pack("!HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(1.0)
        try:
            s.sendto(packet, (server, 53))
            data, _ = s.recvfrom(4096)
        except OSError:  # timeout, or ICMP port unreachable as ECONNREFUSED
            return 2
    _, _flags, _, ancount, _, _ = struct.unpack("!HHHHHH", data[:12])
    pos = 12 + len(qname) + 4
    out = []
    for _ in range(ancount):
        if data[pos] & 0xC0 == 0xC0:
            pos += 2
        else:
            while data[pos]:
                pos += data[pos] + 1
            pos += 1
        rtype, _, _, rdlen = struct.unpack("!HHIH", data[pos : pos + 10])
        pos += 10
        if rtype == 1:
            out.append(socket.inet_ntoa(data[pos : pos + rdlen]))
        pos += rdlen
    sys.stdout.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
