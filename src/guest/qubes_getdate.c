/* qubes-getdate [ARG]: what qubes.GetDate prints in a qube, as upstream's
 * "LC_ALL=C date -u -Iseconds" (no argument) or "date -u -Ins" (any argument). A program of its
 * own because busybox date prints zeros for -Ins. */
#include <stdio.h>
#include <time.h>

int main(int argc, char **argv)
{
    (void)argv;
    struct timespec ts;
    struct tm tm;
    char stamp[64];
    if (clock_gettime(CLOCK_REALTIME, &ts) < 0 || !gmtime_r(&ts.tv_sec, &tm) ||
        strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
        fputs("qubes-getdate: cannot read the clock\n", stderr);
        return 1;
    }
    if (argc > 1)
        printf("%s,%09ld+00:00\n", stamp, ts.tv_nsec);
    else
        printf("%s+00:00\n", stamp);
    return fflush(stdout) == 0 ? 0 : 1;
}
