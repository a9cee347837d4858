/* qubes-vmexec ARG: what qubes.VMExec runs. Decodes the service argument into a command line
 * (guest/vmexec.h) and executes it, searching PATH: no shell ever sees the words. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "guest/vmexec.h"

int main(int argc, char **argv)
{
    if (argc != 2) {
        fputs("This service requires exactly one argument\n", stderr);
        return 1;
    }
    size_t n = 0;
    const char *why = NULL;
    char **command = vmexec_decode(argv[1], &n, &why);
    if (!command) {
        fprintf(stderr, "Decode error: %s\n", why);
        return 1;
    }
    execvp(command[0], command);
    int e = errno;
    fprintf(stderr, "qubes-vmexec: %s: %s\n", command[0], strerror(e));
    return e == ENOENT || e == ENOTDIR ? 127 : 126;
}
