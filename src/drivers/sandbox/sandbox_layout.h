/* Facts shared by qubesd's sandbox driver and the qubes-sandbox helper. */
#pragma once

#include <sys/types.h>

/* Where guest programs appear inside every qube (a directory of its /run). */
#define GUEST_DIR_IN_RUN "qubes-guest"
#define GUEST_DIR_IN_QUBE "/run/" GUEST_DIR_IN_RUN
/* The descriptors qubes-sandbox gets: the qube's qrexec channel, a status
 * pipe (why a start failed), the qube's qubesdb channel. */
#define SANDBOX_CHANNEL_FD 3
#define SANDBOX_STATUS_FD 4
#define SANDBOX_QUBESDB_FD 5
/* ... and the qube's init: qrexec's channel, then qubesdb's. */
#define QUBE_CHANNEL_FD 3
#define QUBE_QUBESDB_FD 4
/* In the helper's state directory: "launcher=<pid>\ninit=<pid>\n". */
#define SANDBOX_STATE_FILE "state"
/* Every running qube gets 65536 uids and gids of its own, above the host's
 * (uid_slot.h hands them out). */
#define SANDBOX_ID_RANGE 65536u
#define SANDBOX_ID_FIRST 0x40000000u
