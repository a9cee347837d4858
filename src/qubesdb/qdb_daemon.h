/* What qubesdb-daemon does with the bytes it receives, in either mode, without any I/O: the
 * caller reads into the input buffers, calls the handlers, and writes out what they left in
 * the output buffers (qubesdb_daemon.c). So the tests and the fuzzer drive the same code.
 *
 * dom0 mode: the database of one qube. Local clients (qubesd's control descriptor, dom0 tools
 * on the per-qube socket) read and change it; the qube's daemon on the channel asks once for
 * all of it, and from then on gets every change dom0's clients make. The qube's own changes
 * arrive on the channel and are mirrored into this copy, bounded to its share.
 * qube mode: the copy inside the qube. It asks dom0 for the database, then serves the qube's
 * clients, forwards their changes to dom0 and applies dom0's. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "qubesdb/qdb_proto.h"
#include "qubesdb/qdb_store.h"

enum qdb_mode { QDB_MODE_DOM0, QDB_MODE_QUBE };

/* Above this much unsent data for the peer, requests that would add to it wait. */
#define QDB_CHANNEL_OUT_PAUSE (256u * 1024u)
/* Above this much, the peer is not reading its channel: the daemon ends. More than a whole
 * database dump (QDB_MAX_BYTES plus a header per entry). */
#define QDB_CHANNEL_OUT_MAX (8u * 1024u * 1024u)
/* A client's requests wait while this much of its answers is unsent. */
#define QDB_CONN_OUT_PAUSE (64u * 1024u)
/* A client with this much unread (answers and watch events) is dropped. */
#define QDB_CONN_OUT_MAX (4u * 1024u * 1024u)

struct qdb_conn {
    int fd;       /* -1 in tests */
    bool control; /* qubesd's descriptor (dom0 mode) */
    bool dead;    /* broke the framing or does not read: to be dropped, no longer served */
    struct buf in, out;
};

struct qdb_daemon {
    enum qdb_mode mode;
    char log_prefix[48]; /* "qube=NAME " in dom0 mode, "" in a qube */
    struct qdb_store store;
    struct buf chan_in, chan_out;
    bool sync_requested; /* qube mode: our MULTIREAD is sent, its dump not yet complete */
    bool synced;         /* dom0: the qube has its dump; qube: the dump is complete */
    uint32_t acks_due;   /* changes forwarded to the peer and not yet answered */
    char why[160];       /* why the channel failed */
    struct qdb_conn *conns[QDB_MAX_CLIENTS];
    size_t nconns;
    unsigned long refused; /* writes refused for the limits, logged at 1, 10, 100, ... */
};

/* qube: the qube's name in dom0 mode (for log lines), NULL in qube mode. */
void qdb_daemon_init(struct qdb_daemon *d, enum qdb_mode mode, const char *qube);
/* Frees the database and every connection (closing their descriptors). */
void qdb_daemon_free(struct qdb_daemon *d);

/* qube mode: queues the one MULTIREAD that asks dom0 for the database. */
void qdb_daemon_request_sync(struct qdb_daemon *d);

/* Handles every whole message in d->chan_in and removes it. 0, or -1 when the peer broke the
 * protocol (d->why says how): the caller must end the daemon; what came before the bad
 * message is applied, nothing of it or after it. */
int qdb_daemon_channel_input(struct qdb_daemon *d);

/* A new local client on fd (owned from now on); NULL when QDB_MAX_CLIENTS are connected. */
struct qdb_conn *qdb_daemon_conn_add(struct qdb_daemon *d, int fd, bool control);
/* Removes a client: its watches, its buffers, its descriptor. */
void qdb_daemon_conn_drop(struct qdb_daemon *d, struct qdb_conn *c);
/* Handles the whole requests in c->in while c->out is below QDB_CONN_OUT_PAUSE. A request
 * with a bad path, type or value is answered RESP_ERROR; a broken frame marks c dead. Watch
 * events for other clients may mark those dead too. */
void qdb_daemon_conn_input(struct qdb_daemon *d, struct qdb_conn *c);
