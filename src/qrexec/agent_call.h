/* One qrexec call inside the qube, run in its own process forked by qrexec-agent: the data
 * handshake, the service lookup or shell command, the process, and the data phase. */
#pragma once

#include <stdint.h>

#include <stdbool.h>

/* Where the services of this side are and how they run. */
struct qrexec_service_host {
    const char *service_path; /* ':'-separated; NULL: $QREXEC_SERVICE_PATH or the default */
    const char *config_path;  /* rpc-config directories; NULL: the guest's */
    bool keep_user;           /* dom0: services run as we are, the user field is ignored */
    long agent_pid;           /* QREXEC_AGENT_PID of the services */
};

/* Never returns: exits 0 when the call ran its course, non-zero when it could not. */
__attribute__((noreturn)) void qrexec_agent_call(int data_fd, uint32_t type, const char *cmdline,
                                                 const struct qrexec_service_host *host);
