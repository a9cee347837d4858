/* The host's memory and process limits, and the qubes' share of them. */
#include "common/host_budget.h"

#include <stdio.h>
#include <unistd.h>

long long host_memory_mib(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGE_SIZE);
    return pages > 0 && page_size > 0 ? (long long)pages * page_size >> 20 : 0;
}

long long host_memory_used_kib(void)
{
    FILE *f = fopen("/proc/meminfo", "re");
    if (!f)
        return 0;
    long long total = -1, available = -1, v;
    char line[128];
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "MemTotal: %lld kB", &v) == 1)
            total = v;
        else if (sscanf(line, "MemAvailable: %lld kB", &v) == 1)
            available = v;
    }
    fclose(f);
    return total >= 0 && available >= 0 && total >= available ? total - available : 0;
}

long long qubes_memory_budget_mib(long long host_mib)
{
    long long reserve = host_mib / 8;
    if (reserve < DOM0_MEMORY_RESERVE_MIN_MIB)
        reserve = DOM0_MEMORY_RESERVE_MIN_MIB;
    return host_mib > reserve ? host_mib - reserve : 0;
}

static long long read_limit(const char *path)
{
    FILE *f = fopen(path, "re");
    long long v = -1;
    if (f) {
        if (fscanf(f, "%lld", &v) != 1)
            v = -1;
        fclose(f);
    }
    return v;
}

long long qubes_pids_budget(void)
{
    long long pid_max = read_limit("/proc/sys/kernel/pid_max");
    long long threads = read_limit("/proc/sys/kernel/threads-max");
    long long limit = pid_max > 0 && (threads <= 0 || pid_max < threads) ? pid_max : threads;
    return limit > 0 ? limit / 4 * 3 : 0;
}
