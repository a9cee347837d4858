/* The data ports of one qrexec-daemon and who holds them: dom0's own calls may take any free
 * port; calls a qube started only the shared part, and each source qube only its share of
 * that (the limits are in qrexec_proto.h). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "qrexec/qrexec_proto.h"

struct qrexec_ports {
    bool used[QREXEC_MAX_CLIENTS];
    bool by_qube[QREXEC_MAX_CLIENTS];    /* held by a call a qube started */
    uint32_t source[QREXEC_MAX_CLIENTS]; /* ... the domid of that qube */
    uint32_t n_by_qube;
};

/* Who a call is for. */
struct qrexec_port_claim {
    bool by_qube;    /* false: dom0's own call */
    uint32_t source; /* by_qube: the domid of the qube that started it */
};

/* Takes a free port for the claim: 0 and *port, or -1 and *why (static) when the call must
 * be refused. */
int qrexec_ports_take(struct qrexec_ports *p, const struct qrexec_port_claim *claim, uint32_t *port,
                      const char **why);
/* false if port was not in use. */
bool qrexec_ports_release(struct qrexec_ports *p, uint32_t port);
bool qrexec_ports_in_use(const struct qrexec_ports *p, uint32_t port);
/* How many ports calls of this source qube hold. */
uint32_t qrexec_ports_held_by(const struct qrexec_ports *p, uint32_t source);
