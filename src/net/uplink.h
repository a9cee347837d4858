/* The link of a network's top qube (sys-net, no netvm of its own) to the
 * world, as "eth0" in its namespace. Either a host interface moved in (the
 * sandbox's analogue of giving sys-net a network card) with the address and
 * gateway configured for it, or, by default, a veth to dom0 whose traffic
 * dom0 masquerades ("NAT mode", like a container engine's bridge).
 *
 * NAT mode: uplink slot N (0 <= N < UPLINK_SLOTS) is the host interface
 * "qbu<N>" with 10.139.128.0/17's N-th /30: .1 in dom0, .2 in the qube. The
 * interface name is the slot's lock: the kernel refuses a second one, and it
 * goes with the qube's namespace. dom0 forwards (net.ipv4.ip_forward=1, as
 * container engines set it) and masquerades in its table ip qubicle-<N>. */
#pragma once

#include "common/error.h"

#define UPLINK_SLOTS 8192

/* Moves the host interface ifname into netns as eth0, with address
 * ("A.B.C.D/N") and a default route through gateway. */
int uplink_move(int netns, const char *ifname, const char *address, const char *gateway,
                struct qerror *err);

/* A NAT-mode uplink into netns; *slot receives the slot it took (first try:
 * hint). */
int uplink_nat(int netns, int hint, int *slot, struct qerror *err);
/* dom0's side of slot's uplink: its table (the interface goes with the qube). */
void uplink_nat_release(int slot);

/* dom0's own resolvers (its /etc/resolv.conf), loopback ones left out: the
 * qube cannot reach dom0's loopback. out[i] "" when there is none. */
void host_resolvers(char out[2][16]);
