/* Asking the policy service about a call from a qube (upstream qrexec-daemon's
 * send_request_to_daemon and parse_policy_response, reference qrexec.md §1.9). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/error.h"

#define QREXEC_POLICY_RESPONSE_MAX 65536

struct qrexec_policy_answer {
    bool allow;
    char *user;             /* allow: "DEFAULT" or a user name */
    char *target;           /* allow: "dom0", a qube name or "@dispvm:NAME" */
    char *target_uuid;      /* optional */
    char *requested_target; /* allow: what the caller asked for */
    bool autostart;
};

/* Parses a response: key=value lines. "allow" needs user, target, requested_target and
 * autostart; "deny" must have none of them; a duplicate or unknown key, a NUL byte, a
 * line without '=' or a missing result makes it malformed (-1, *why set), which the
 * caller treats as deny. */
int qrexec_policy_parse_response(const char *untrusted, size_t len,
                                 struct qrexec_policy_answer *out, const char **why);
void qrexec_policy_answer_free(struct qrexec_policy_answer *a);

/* Sends the request to $QUBES_ROOT/run/qubes/policy.sock and parses the answer. -1 with err
 * set when the service cannot be asked or answers malformed. */
int qrexec_policy_query(const char *source, const char *intended_target,
                        const char *service_and_arg, struct qrexec_policy_answer *out,
                        struct qerror *err);
