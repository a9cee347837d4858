/* What qubes-init sets up from dom0's word before the qube's programs run:
 * the qube's qubesdb-daemon, synced with dom0's copy, and the settings it
 * carries that the qube applies itself (Qubes' qubes-db service, then
 * network-uplink's setup-ip: DNS). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/* How long qubes-init waits for the first sync with dom0 (ms). */
#define GUEST_QUBESDB_SYNC_MS 10000

/* Starts qubesdb-daemon on channel_fd (qubes-init's descriptor, closed
 * here) and waits until its socket serves dom0's entries. The daemon's pid,
 * or -1 (said why) when it could not start or sync in time. */
pid_t guest_qubesdb_start(int channel_fd);
/* Where a qube's enabled services show, one empty file each, as Qubes'
 * qubes-sysinit makes them (/var/run/qubes-service). */
#define GUEST_SERVICE_DIR "/run/qubes-service"

/* GUEST_SERVICE_DIR/<name> for each service enabled: the defaults of the
 * qube's type (/qubes-vm-type), then /qubes-service/<name> = 1 or 0 from
 * dom0. 0, or -1 (said why) when qubesdb could not be read. */
int guest_apply_services(void);
/* Whether a service is enabled (after guest_apply_services). */
bool guest_service_enabled(const char *name);
/* The hostname from /name, and /etc/hosts naming it 127.0.1.1 (as Qubes'
 * init does), so programs that look their own name up find it. 0, or -1
 * (said why). */
int guest_set_hostname(void);
/* /etc/resolv.conf from /qubes-primary-dns and /qubes-secondary-dns when the
 * qube has a network (/qubes-ip); 0 when written or not needed, -1 (said
 * why) on error. */
int guest_write_resolv_conf(void);
