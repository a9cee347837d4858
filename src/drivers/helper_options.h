/* The options both qube helpers (qubes-sandbox, qubes-vm) take from qubesd,
 * as drivers/helper_run.c writes them: parsed here once for both. */
#pragma once

#include <getopt.h>
#include <stdbool.h>

#include "common/error.h"

struct helper_options {
    const char *name;
    const char *tag;
    int qid;
    const char *state_dir;
    const char *root_image;
    bool root_snapshot;
    const char *private_image;
    bool private_snapshot;
    long volatile_mib;
    long memory_mib;
    long maxmem_mib;
    int vcpus;
};

/* The getopt_long entries of those options (their codes are below 32, so
 * a helper's own options keep their letters). */
#define HELPER_LONGOPTS \
    { "name", required_argument, NULL, 1 }, { "qid", required_argument, NULL, 2 }, \
        { "tag", required_argument, NULL, 3 }, { "state-dir", required_argument, NULL, 4 }, \
        { "root-image", required_argument, NULL, 5 }, { "root-snapshot", no_argument, NULL, 6 }, \
        { "private-image", required_argument, NULL, 7 }, \
        { "private-snapshot", no_argument, NULL, 8 }, \
        { "volatile-mib", required_argument, NULL, 9 }, \
        { "memory-mib", required_argument, NULL, 10 }, \
        { "maxmem-mib", required_argument, NULL, 11 }, \
    { \
        "vcpus", required_argument, NULL, 12 \
    }

/* One option getopt_long returned: 1 taken, 0 not one of these, -1 a bad
 * value (err says which). */
int helper_option(struct helper_options *o, int code, const char *arg, struct qerror *err);
/* The common options make sense together (name valid, qid in range, a
 * private snapshot only with a private image, the image given); for a
 * start also tag and state directory. */
bool helper_options_valid(const struct helper_options *o, bool for_start);
