/* Starting qubesd's helper processes (qubes-sandbox, qrexec-daemon) the one
 * way: a session of their own, no signal blocked, stdin /dev/null, stdout
 * and stderr to a log, the descriptors it is given as 3, 4, ..., nothing
 * else inherited, and the kernel's default OOM score adjustment rather than
 * the daemon's. */
#pragma once

#include <sys/types.h>

/* oom_score_adj (-1000..1000) of dom0's daemons: the OOM killer takes a qube's processes
 * (and the per-call processes a qube asks for) before qrexec-daemons, and those before
 * qubesd, whose loss stops every qube's management. Set by each daemon itself (lowering
 * needs CAP_SYS_RESOURCE, so as root). */
#define OOM_SCORE_ADJ_QUBESD (-900)
#define OOM_SCORE_ADJ_QREXEC_DAEMON (-500)
/* What a helper starts with, whatever its parent has: the kernel's default. Written with
 * CAP_SYS_RESOURCE this also raises the floor (oom_score_adj_min) its descendants inherit,
 * so a qube's root cannot lower its own processes to its daemons' level. */
#define OOM_SCORE_ADJ_DEFAULT 0
/* Every process of a qube: the OOM killer takes them first. Raising needs no
 * capability, so this holds also where dom0's daemons cannot lower theirs. */
#define OOM_SCORE_ADJ_QUBE 500

/* Writes /proc/self/oom_score_adj; 0, or -1 with errno set. Async-signal-safe (no stdio),
 * so a forked child of a threaded parent may call it. */
int set_oom_score_adj(int value);

/* Descriptors a helper may be given, as 3, 4, ... */
#define SPAWN_MAX_FDS 8

/* Returns the child's pid, or -1 with errno set. fds[i] becomes the child's
 * descriptor 3 + i (a channel, a status pipe, ...). */
pid_t spawn_helper(const char *path, char *const argv[], int log_fd, const int *fds, size_t n_fds);
