/* A call a qube asked for (MSG_TRIGGER_SERVICE3), decided and set up in a process of its own
 * so that the qube's qrexec-daemon keeps serving while the policy (maybe a person answering
 * an ask prompt) and a target's start take their time. The process reports to the daemon on a
 * socket: one struct qrexec_call_report, with the data socket attached when allowed. */
#pragma once

#include <stdint.h>

#define QREXEC_CALL_CONNECT 'C' /* + domain, port, and the data socket for the caller */
#define QREXEC_CALL_REFUSED \
    'R' /* + the reason, which the daemon logs (once, with repeats \
           collapsed: a refusal is what a flooding qube causes) */
#define QREXEC_CALL_REASON_MAX 256

struct qrexec_call_report {
    uint8_t kind;
    uint8_t pad[3];
    uint32_t domain; /* the target's domain id; 0 for dom0 */
    uint32_t port;   /* the target daemon's port; 0: dom0 runs the service, allocate one */
    char reason[QREXEC_CALL_REASON_MAX]; /* refused: why, NUL-terminated */
};

/* Disposables a qube's calls (to @dispvm) may hold at once, unless the qube's feature
 * dispvm-calls-max says otherwise (0 to QREXEC_DISPVM_CALLS_LIMIT). */
#define QREXEC_DISPVM_CALLS_FEATURE "dispvm-calls-max"
#define QREXEC_DISPVM_CALLS_DEFAULT 8
#define QREXEC_DISPVM_CALLS_LIMIT 1000

struct qrexec_call_request {
    const char *source;    /* the calling qube */
    uint32_t source_domid; /* its domain id, which the target's daemon counts calls by */
    const char *target;    /* sanitized target_domain of the trigger */
    const char *service;   /* sanitized "svc[+arg]" */
    long timeout;          /* for the target's daemon */
};

/* Runs in the forked process: policy, then either the target qube's daemon is asked to
 * start the service or dom0 runs it here. Reports on report_fd; never returns. */
__attribute__((noreturn)) void qrexec_daemon_call(const struct qrexec_call_request *req,
                                                  int report_fd);
