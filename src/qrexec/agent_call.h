/* One qrexec call inside the qube, run in its own process forked by qrexec-agent: the data
 * handshake, the service lookup or shell command, the process, and the data phase. */
#pragma once

#include <stdint.h>

/* Never returns: exits 0 when the call ran its course, non-zero when it could not. */
__attribute__((noreturn)) void qrexec_agent_call(int data_fd, uint32_t type,
                                                 const char *cmdline, long agent_pid);
