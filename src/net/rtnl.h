/* The few rtnetlink operations qube networking needs, over libmnl: links
 * (veth pairs made straight into two network namespaces, MAC, up, delete,
 * move), IPv4 addresses, routes and neighbour entries. Each acts in the
 * network namespace of the calling thread, but for the namespaces named by
 * descriptor when a link is made or moved. */
#pragma once

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/error.h"

struct rtnl;

struct rtnl *rtnl_open(struct qerror *err);
void rtnl_close(struct rtnl *nl);

/* A veth pair: `name` in the namespace netns_fd, `peer` in peer_netns_fd. */
int rtnl_veth_create(struct rtnl *nl, const char *name, int netns_fd, const char *peer,
                     int peer_netns_fd, struct qerror *err);
/* Moves a link of this namespace into netns_fd, renamed to new_name (NULL: same name). */
int rtnl_link_move(struct rtnl *nl, const char *name, int netns_fd, const char *new_name,
                   struct qerror *err);
int rtnl_link_delete(struct rtnl *nl, const char *name, struct qerror *err);
/* mac NULL: keep it. */
int rtnl_link_set(struct rtnl *nl, const char *name, const uint8_t mac[6], bool up,
                  struct qerror *err);
int rtnl_addr_add(struct rtnl *nl, const char *name, struct in_addr addr, int prefix,
                  struct qerror *err);
/* dst/prefix through gateway (gateway.s_addr 0: directly on the link). onlink: the
 * gateway needs no route of its own; scope_link: a route to a neighbour. */
int rtnl_route_add(struct rtnl *nl, const char *name, struct in_addr dst, int prefix,
                   struct in_addr gateway, bool onlink, struct qerror *err);
/* A permanent neighbour entry: addr is at mac on the link. */
int rtnl_neigh_add(struct rtnl *nl, const char *name, struct in_addr addr, const uint8_t mac[6],
                   struct qerror *err);

/* "a.b.c.d" (and "/n" if prefix is not NULL; without it, 32). */
int parse_ipv4(const char *untrusted_text, struct in_addr *addr, int *prefix, struct qerror *err);
