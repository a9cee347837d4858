/* Connecting to and listening on unix stream sockets by path: the sun_path length check,
 * close-on-exec, the stale socket and the mode of a new one, written once. */
#pragma once

#include <sys/types.h>

#include "common/error.h"

/* unix_connect: the socket is non-blocking once connected (the connect itself blocks: local,
 * immediate unless the listener's backlog is full). */
#define UNIX_NONBLOCK 1

/* Connects a close-on-exec SOCK_STREAM socket to path. Returns the descriptor, or -1 with
 * errno set (ENAMETOOLONG: path does not fit sun_path) and err, when not NULL, filled
 * (QubesException "socket path too long: PATH", "socket: ..." or "connect to PATH: ...").
 * Callers that word their own message use errno, which is kept. */
int unix_connect(const char *path, int flags, struct qerror *err);

/* Listens on path with a close-on-exec, non-blocking SOCK_STREAM socket: bound owner-only
 * next to path, listening (backlog) and given mode before it replaces whatever (a stale
 * socket) was at path, so a socket found at path accepts connections. Returns the
 * descriptor, or -1 with errno set and err, when not NULL, filled ("socket path too long:
 * PATH", "socket: ..." or "listen on PATH: ..."). */
int unix_listen(const char *path, mode_t mode, int backlog, struct qerror *err);
