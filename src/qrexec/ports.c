/* Data port accounting of qrexec-daemon (see ports.h). */
#include "qrexec/ports.h"

uint32_t qrexec_ports_held_by(const struct qrexec_ports *p, uint32_t source)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < QREXEC_MAX_CLIENTS; i++)
        n += p->used[i] && p->by_qube[i] && p->source[i] == source;
    return n;
}

int qrexec_ports_take(struct qrexec_ports *p, const struct qrexec_port_claim *claim, uint32_t *port,
                      const char **why)
{
    if (claim->by_qube) {
        if (p->n_by_qube >= QREXEC_QUBE_PORTS) {
            *why = "the ports left are dom0's";
            return -1;
        }
        if (qrexec_ports_held_by(p, claim->source) >= QREXEC_MAX_CALLS_PER_SOURCE) {
            *why = "the source qube holds its maximum of calls";
            return -1;
        }
    }
    for (uint32_t i = 0; i < QREXEC_MAX_CLIENTS; i++) {
        if (p->used[i])
            continue;
        p->used[i] = true;
        p->by_qube[i] = claim->by_qube;
        p->source[i] = claim->by_qube ? claim->source : 0;
        if (claim->by_qube)
            p->n_by_qube++;
        *port = QREXEC_BASE_DATA_PORT + i;
        return 0;
    }
    *why = "no free data port";
    return -1;
}

bool qrexec_ports_in_use(const struct qrexec_ports *p, uint32_t port)
{
    return qrexec_port_valid(port) && p->used[port - QREXEC_BASE_DATA_PORT];
}

bool qrexec_ports_release(struct qrexec_ports *p, uint32_t port)
{
    if (!qrexec_ports_in_use(p, port))
        return false;
    uint32_t i = port - QREXEC_BASE_DATA_PORT;
    if (p->by_qube[i])
        p->n_by_qube--;
    p->used[i] = false;
    p->by_qube[i] = false;
    p->source[i] = 0;
    return true;
}
