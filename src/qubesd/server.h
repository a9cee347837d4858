/* The Admin API server: one epoll loop serving many clients at once on
 * run/qubesd.sock; a slow or silent client never delays the others. */
#pragma once

#include <stdbool.h>

#include "common/error.h"
#include "qubesd/app.h"

struct server_options {
    bool debug;            /* send a traceback field with exceptions */
    int request_timeout_s; /* a client that sends no complete request is dropped */
};

struct server;

struct loop;
struct api_services;

/* Binds the socket (mode 0660, group qubes if it exists) and serves it on
 * loop; the caller holds the root's lock, so a stale socket is removed.
 * services must outlive the server. */
int server_open(struct app *app, const struct api_services *services, struct loop *loop,
                const char *socket_path, const struct server_options *opts, struct server **out,
                struct qerror *err);
void server_close(struct server *srv);
