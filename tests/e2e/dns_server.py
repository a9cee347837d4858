#!/usr/bin/env python3
# dns_server.py ADDR NAME=IP...: a DNS server for the tests' own "internet" namespace, on
# ADDR port 53 (UDP): A records for the names given, NXDOMAIN for any other name.
import socket
import struct
import sys


def answer(query, names):
    tid, flags, qd, _, _, _ = struct.unpack("!HHHHHH", query[:12])
    pos, labels = 12, []
    while query[pos]:
        n = query[pos]
        labels.append(query[pos + 1:pos + 1 + n].decode("ascii", "replace").lower())
        pos += 1 + n
    qtype = struct.unpack("!H", query[pos + 1:pos + 3])[0]
    question = query[12:pos + 5]
    ip = names.get(".".join(labels))
    if ip is None or qtype != 1:
        rcode = 3 if ip is None else 0
        return struct.pack("!HHHHHH", tid, 0x8180 | rcode, 1, 0, 0, 0) + question
    record = struct.pack("!HHHLH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton(ip)
    return struct.pack("!HHHHHH", tid, 0x8180, 1, 1, 0, 0) + question + record


def main():
    names = dict(a.split("=", 1) for a in sys.argv[2:])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((sys.argv[1], 53))
    while True:
        query, peer = s.recvfrom(512)
        try:
            s.sendto(answer(query, names), peer)
        except (IndexError, struct.error):
            pass


main()
