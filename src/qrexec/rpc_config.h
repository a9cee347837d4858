/* Per-service qrexec configuration files ("rpc-config", upstream libqrexec/toml.c and
 * qubes-rpc-config/README): a tiny TOML subset, one key=value a line, read for each call. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

/* A config file is read whole; a larger one is refused. */
#define QREXEC_RPC_CONFIG_MAX 4096u
/* Where upstream looks; QUBES_RPC_CONFIG_PATH in the environment overrides any list. */
#define QREXEC_DEFAULT_RPC_CONFIG_PATH "/usr/local/etc/qubes/rpc-config:/etc/qubes/rpc-config"
/* Inside a qube, the files that come with the guest programs come last. */
#define QREXEC_GUEST_RPC_CONFIG_PATH QREXEC_DEFAULT_RPC_CONFIG_PATH ":/run/qubes-guest/rpc-config"

struct qrexec_rpc_config {
    bool wait_for_session;        /* run qubes.WaitForSession first */
    char *force_user;             /* run as this user whatever the policy said; NULL: not set */
    bool skip_service_descriptor; /* socket services: no "svc+arg source\0" first */
    bool exit_on_client_eof;      /* socket services: finish at the caller's EOF */
    bool exit_on_service_eof;     /* socket services: finish at the service's EOF */
    char *file;                   /* the file that was read; NULL: none exists */
};

/* Finds "<service_full>" (e.g. "qubes.Svc+arg") in each directory of a ':'-separated list,
 * then "<service_name>" the same way, and parses the first file found. The list is
 * $QUBES_RPC_CONFIG_PATH if set and not empty, else dir_list, else the upstream default.
 * Returns 0 with defaults (all false, file NULL) when no file exists, 0 with the file's
 * settings, or -1 with a message naming file and line: upstream then refuses the call.
 * out is always initialised; release it with qrexec_rpc_config_free. */
int qrexec_rpc_config_load(const char *service_full, const char *service_name, const char *dir_list,
                           struct qrexec_rpc_config *out, struct qerror *err);

/* Parses the text of one config file (len bytes, need not be NUL-terminated); name is used
 * in messages only. Unknown keys with a valid value are ignored with a warning, as upstream.
 * Returns 0 or -1 with err set; out is always initialised. */
int qrexec_rpc_config_parse(const char *untrusted_text, size_t len, const char *name,
                            struct qrexec_rpc_config *out, struct qerror *err);

void qrexec_rpc_config_free(struct qrexec_rpc_config *cfg);
