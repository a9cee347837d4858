/* runner_fixture MODE: a deliberately broken TAP test program, kept so the
 * runner's self-test can show that each kind of breakage fails a run. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* where the leaked block's address goes, then is lost (the compiler may not
 * drop the allocation) */
static void *volatile sink;

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    printf("1..3\nok 1 - before\n");
    fflush(stdout);
    if (strcmp(mode, "abort") == 0) {
        abort();
    } else if (strcmp(mode, "leak") == 0) {
        sink = malloc(24);
        sink = NULL;
    } else if (strcmp(mode, "overflow") == 0) {
        volatile int big = INT_MAX;
        printf("# %d\n", big + argc); /* signed overflow */
    } else if (strcmp(mode, "pass") != 0) {
        fprintf(stderr, "usage: runner_fixture abort|leak|overflow|pass\n");
        return 2;
    }
    printf("ok 2 - during\nok 3 - after\n");
    return 0;
}
