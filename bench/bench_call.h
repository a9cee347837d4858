/* An Admin API call of a benchmark's set-up: it must succeed. */
#pragma once

#include <stdio.h>
#include <stdlib.h>

#include "client/qubesd_client.h"

static inline void bench_call(const char *method, const char *arg, const char *dest,
                              const char *payload)
{
    struct qerror err = { 0 };
    if (qubesd_call_str(method, arg, dest, payload, NULL, &err) < 0) {
        fprintf(stderr, "bench: %s %s %s: %s\n", method, arg, dest, err.message);
        exit(1);
    }
}
