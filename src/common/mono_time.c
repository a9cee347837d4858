/* CLOCK_MONOTONIC in nanoseconds and milliseconds (mono_time.h). */
#include "common/mono_time.h"

#include <time.h>

int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t mono_ms(void)
{
    return mono_ns() / 1000000;
}

int64_t mono_ms_left(int64_t deadline_ms)
{
    return deadline_ms - mono_ms();
}
