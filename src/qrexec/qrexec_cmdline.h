/* The command line a qrexec call carries ("user:command" or "user:QUBESRPC svc+arg source"):
 * strict parsing in the agent, DEFAULT: expansion in the daemon. */
#pragma once

#include <stdbool.h>

#include "common/error.h"

struct qrexec_cmd {
    char *user;    /* before the first ':' */
    char *command; /* after "user:" and an optional "nogui:" */
    bool nogui;
    bool is_rpc;        /* command starts with "QUBESRPC " */
    char *service_full; /* "svc+arg", '+' always present as upstream normalizes */
    char *service_name; /* before '+' */
    char *service_arg;  /* after '+', may be empty */
    char *source;       /* calling domain */
    char *target_type;  /* dom0 services: "name" or "keyword" (NULL if not given) */
    char *target;       /* ... the target the caller asked for, without '@' for a keyword */
};

/* Fills cmd (heap strings; free with qrexec_cmd_free) or returns -1 with err set. */
int qrexec_cmd_parse(const char *untrusted_cmdline, struct qrexec_cmd *cmd, struct qerror *err);
void qrexec_cmd_free(struct qrexec_cmd *cmd);

/* "DEFAULT:rest" becomes "<default_user>:rest"; anything else is copied. Heap string. */
char *qrexec_cmdline_expand_default(const char *cmdline, const char *default_user);

/* [A-Za-z0-9._-], not starting with '-', 1..32 chars: a POSIX-portable user name. */
bool qrexec_user_name_ok(const char *name);
