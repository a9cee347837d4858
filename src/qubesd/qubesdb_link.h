/* A running qube's qubesdb as qubesd holds it: dom0's qubesdb-daemon of the
 * qube (one per qube, as Qubes has, so a hostile qube's channel reaches no
 * process shared with others), filled with the qube's entries before the
 * qube starts, and qubesd's connection to it for the changes that follow. */
#pragma once

#include <sys/types.h>

#include "common/error.h"
#include "qubesd/app.h"

struct qdb_client;

struct qubesdb_link {
    pid_t pid;                 /* the daemon; 0 when qubesd found the qube running */
    struct qdb_client *client; /* NULL until needed, after a reattach */
};

/* Starts the daemon on channel (dom0's end; the qube gets the other) and
 * writes q's entries (qdb_entries.h) through its control connection. */
int qubesdb_link_start(const struct app *app, const struct qube *q, int channel,
                       struct qubesdb_link *out, struct qerror *err);
/* The connection for changes: the control one, or after a qubesd restart
 * the daemon's socket. NULL with err set. */
struct qdb_client *qubesdb_link_client(struct qubesdb_link *l, const char *qube,
                                       struct qerror *err);
/* Once the qube is gone: the connection closed, the daemon ended. */
void qubesdb_link_stop(struct qubesdb_link *l);
/* qubesd leaves, the qube runs on: the connection closed, the daemon kept
 * (a later qubesd reaches it through its socket). */
void qubesdb_link_release(struct qubesdb_link *l);
