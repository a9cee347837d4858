/* The data phase of a qrexec call (upstream process_io.c), shared by the side that runs the
 * service (qrexec-agent) and the side that asked for it (qrexec-client): local descriptors
 * <-> MSG_DATA_* messages on the data socket, with bounded buffers in both directions. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct qrexec_pump_cfg {
    int remote_fd;    /* the data socket, HELLO already exchanged */
    uint32_t version; /* negotiated data protocol version */
    bool is_service;
    /* service side: the child's pipes (we write stdin, read stdout/stderr) */
    /* client side: in_fd = local input (-> MSG_DATA_STDIN), out_fd <- STDOUT, err_fd <- STDERR */
    int in_fd;
    int out_fd;
    int err_fd;
    pid_t child;     /* service: the process (-1: it failed to start); client: -l program or -1 */
    int preset_code; /* service side, child == -1: the exit code to report */
    /* client side: replace non-printable bytes of the remote's stdout / stderr with '_' */
    bool filter_stdout;
    bool filter_stderr;
    int *local_code; /* client side with a child: receives its exit code (or -1) */
    /* service side without a child (socket services): finish once the caller's stdin ended
     * (exit-on-client-eof), resp. not before (unless exit-on-service-eof) */
    bool exit_on_stdin_eof;
    bool wait_stdin_eof;
};

/* Runs until the call is over. Service side: returns 0 after sending the exit code (or after
 * the client went away). Client side: returns the remote exit code, or -1 if the remote
 * closed without one (*why set). Closes every descriptor of cfg except remote_fd. */
int qrexec_pump_run(const struct qrexec_pump_cfg *cfg, const char **why);
