/* The dom0 side of one qrexec call (qrexec-client's work) as a library function, so a tool
 * such as qvm-run can make the call in-process instead of spawning qrexec-client. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

#define QREXEC_CLIENT_DEFAULT_TIMEOUT 10
/* qrexec-client -w 0: no timeout (ten years) */
#define QREXEC_CLIENT_NO_TIMEOUT (10L * 365 * 24 * 3600)

struct qrexec_client_opts {
    const char *qube;          /* the target qube */
    const char *cmdline;       /* USER:COMMAND */
    const char *local_program; /* -l: the remote's stdin/stdout go to this `sh -c` program */
    bool just_exec;            /* -e: only start the command; 0 once the daemon accepted it */
    bool wait_end;             /* -W: also wait until the daemon reports the call's end */
    long timeout;              /* seconds to wait for the daemon; <= 0: the default */
    /* sent to the remote's stdin before anything read from in_fd (qvm-run's shell command) */
    const char *stdin_prefix;
    size_t stdin_prefix_len;
    /* local ends of the remote's stdin/stdout/stderr; -1: none (EOF, resp. discarded). They
     * stay the caller's: the call works on copies of in_fd and out_fd and closes those, and
     * writes err_fd without closing it. A caller that also drives the other end of a pipe
     * given here makes its end non-blocking, so neither side waits on the other forever. */
    int in_fd;
    int out_fd;
    int err_fd;
    bool give_fds;      /* in_fd and out_fd are the call's to close (no copies) */
    bool filter_stdout; /* -t: unsafe bytes of the remote's stdout become '_' */
    bool filter_stderr; /* -T: the same for its stderr */
};

/* Runs the call. The caller ignores SIGPIPE (the local ends may be pipes). Returns the remote exit
 * code (>= 0), or -1 with err set when the call could not be made or ended without an exit code
 * (qrexec-client then exits 125). */
int qrexec_client_call(const struct qrexec_client_opts *o, struct qerror *err);

/* exec_params.connect_domain of a request dom0 itself makes (upstream: the peer domain of
 * the data vchan, dom0 for qrexec-client). */
#define QREXEC_CLIENT_DOM0 0u

/* The request alone: asks the qube's qrexec-daemon to start cmdline (MSG_EXEC_CMDLINE or
 * MSG_JUST_EXEC) and returns the data socket it passed back, with the domain and port it
 * named. source_domid is QREXEC_CLIENT_DOM0 for dom0's own calls, else the domain id of the
 * qube that asked for the call (as upstream, MSG_EXEC_CMDLINE{connect_domain=domX}): the
 * daemon limits such calls (qrexec_proto.h). *sock is the daemon connection (left open, -1 if
 * never opened: the daemon closes it when the call ends). -1 with err set on failure. */
int qrexec_client_request(const char *qube, uint32_t type, const char *cmdline,
                          uint32_t source_domid, long timeout, int *sock, uint32_t *domain,
                          uint32_t *port, struct qerror *err);
