/* Time for durations and deadlines: CLOCK_MONOTONIC (arbitrary origin, never steps with the
 * wall clock), read in one place. */
#pragma once

#include <stdint.h>

int64_t mono_ns(void);
int64_t mono_ms(void);
/* Milliseconds left until deadline_ms (a mono_ms() value); 0 or less once it has passed. */
int64_t mono_ms_left(int64_t deadline_ms);
