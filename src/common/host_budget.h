/* What the qubes of one instance may take of the host together: its memory
 * less what dom0 keeps for itself, and a share of its process ids. qubesd
 * admits starts against it (Qubes' QubesMemoryError); the sandbox helper
 * writes it as the limits of the instance's cgroup, so dom0 stays alive
 * whatever the qubes do. */
#pragma once

/* dom0 keeps an eighth of the host's memory, and never less than this. */
#define DOM0_MEMORY_RESERVE_MIN_MIB 1024LL

/* The host's memory in MiB (0 when unknown). */
long long host_memory_mib(void);
/* The host's memory in use in KiB: MemTotal - MemAvailable of /proc/meminfo
 * (0 when unknown). */
long long host_memory_used_kib(void);
/* Memory all qubes together may have, in MiB, of a host with host_mib. */
long long qubes_memory_budget_mib(long long host_mib);
/* Processes and threads all qubes together may have: three quarters of the
 * host's limit (the smaller of pid_max and threads-max). */
long long qubes_pids_budget(void);
