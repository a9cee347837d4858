/* The qubesdb client library for programs in a qube (qubes-init, the firewall agent, the
 * qubesdb-* tools) and for dom0 tools talking to one qube's daemon: upstream libqubesdb's calls
 * (include/qubesdb-client.h) with explicit lengths and an error object.
 *
 * Every call sends one request and reads its answer; a watch event that arrives before the
 * answer is queued (oldest first) for qdb_read_watch. A daemon that breaks the protocol makes
 * the call fail and the handle unusable (every later call fails); nothing it sent is
 * trusted before it is checked. The handle does not reconnect (upstream's does: its daemons
 * may restart; ours live as long as the qube). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "qubesdb/qdb_proto.h"

/* The most entries one multiread or list takes in (more is a protocol error). */
#define QDB_CLIENT_MAX_ENTRIES 65536u
/* The most watch events queued unread; one more fails the call that received it. */
#define QDB_CLIENT_MAX_EVENTS 4096u

struct qdb_client;

struct qdb_item {
    char path[QDB_MAX_PATH];
    char *value; /* len bytes and a NUL (NULL from qdb_list) */
    uint32_t len;
};

struct qdb_items {
    struct qdb_item *items; /* ascending by path, as the daemon keeps them */
    size_t n;
};

/* The socket of this system's own daemon: $QUBES_ROOT/run/qubes/qubesdb.sock ("/" in a qube);
 * heap string. */
char *qdb_local_socket(void);
/* dom0: the socket of one qube's daemon, $QUBES_ROOT/run/qubes/qubesdb.NAME.sock; NULL (err
 * set) for an invalid qube name. Heap string. */
char *qdb_qube_socket(const char *qube, struct qerror *err);

/* Connects to the daemon at socket_path (NULL: qdb_local_socket()). NULL with err set. */
struct qdb_client *qdb_open(const char *socket_path, struct qerror *err);
/* A handle over a connected stream socket, which it owns from now on. */
struct qdb_client *qdb_open_fd(int fd);
void qdb_close(struct qdb_client *c);

/* 1 with *value (heap, len bytes and a NUL; the caller frees) and *len; 0 when path does not
 * exist; -1 on error. */
int qdb_read(struct qdb_client *c, const char *path, char **value, uint32_t *len,
             struct qerror *err);
/* Every entry whose path starts with prefix, as a string ("/qubes-ip" also gives
 * "/qubes-ip6"), ascending. 0 with *out filled (free with qdb_items_free), or -1. */
int qdb_multiread(struct qdb_client *c, const char *prefix, struct qdb_items *out,
                  struct qerror *err);
/* The same paths, without values. */
int qdb_list(struct qdb_client *c, const char *prefix, struct qdb_items *out, struct qerror *err);
void qdb_items_free(struct qdb_items *items);

/* Sets path to len bytes (no NUL among them, fewer than QDB_MAX_DATA). 0 or -1. */
int qdb_write(struct qdb_client *c, const char *path, const char *value, size_t len,
              struct qerror *err);
/* Removes a key, or a subtree when path ends in '/'. 0 also when nothing was there, as
 * upstream; -1 on error. */
int qdb_rm(struct qdb_client *c, const char *path, struct qerror *err);

/* Watches a key, or a subtree when path ends in '/'. 0 or -1. */
int qdb_watch(struct qdb_client *c, const char *path, struct qerror *err);
/* Removes one watch of exactly path; 0 also when there was none. Events of it may still be
 * queued. */
int qdb_unwatch(struct qdb_client *c, const char *path, struct qerror *err);
/* The next changed path (a key written, or the path a rm named): the oldest queued, else it
 * waits for one. 0 with path filled, or -1. */
int qdb_read_watch(struct qdb_client *c, char path[QDB_MAX_PATH], struct qerror *err);
/* Whether qdb_read_watch has a queued event to give without waiting. */
bool qdb_watch_pending(const struct qdb_client *c);
/* The descriptor to poll for events. Check qdb_watch_pending first: an event queued during
 * another call does not make it readable. */
int qdb_watch_fd(const struct qdb_client *c);
