/* Facts shared by qubesd's sandbox driver and the qubes-sandbox helper. */
#pragma once

#include <sys/types.h>

/* The channel is this descriptor in qubes-sandbox and in the qube's init. */
#define SANDBOX_CHANNEL_FD 3
/* In the helper's state directory: "launcher=<pid>\ninit=<pid>\n". */
#define SANDBOX_STATE_FILE "state"
/* Every qube gets 65536 uids and gids of its own, above the host's. */
#define SANDBOX_ID_RANGE 65536u
#define SANDBOX_ID_FIRST 0x40000000u
/* What dom0 keeps of one run's console (init, agent, rc.local output). */
#define SANDBOX_CONSOLE_MAX (16LL << 20)

static inline uid_t sandbox_uid_base(int qid)
{
    return SANDBOX_ID_FIRST + (uid_t)qid * SANDBOX_ID_RANGE;
}
