/* An Admin API call with a stream for payload, as qubesadmin's QubesLocal makes it in dom0:
 * the method is a dom0 qrexec service (admin.vm.volume.Import, ...) run directly, with
 * QREXEC_REMOTE_DOMAIN=dom0 and QREXEC_REQUESTED_TARGET=<dest>; its standard output is the
 * Admin API answer. */
#pragma once

#include <stddef.h>

#include "common/buf.h"
#include "common/error.h"

/* Runs service method+arg for dest: prefix (may be NULL) and then all of input_fd go to its
 * stdin. The service is $QUBES_ROOT/etc/qubes-rpc/<method>, else Qubicle's own. Returns 0
 * with the answer's value in content (may be NULL), or -1 with err as qubesd_call() sets it. */
int dom0_service_call(const char *method, const char *arg, const char *dest, const char *prefix,
                      int input_fd, struct buf *content, struct qerror *err);
