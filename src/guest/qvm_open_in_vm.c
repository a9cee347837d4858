/* qvm-open-in-vm [--view-only] VM FILE|URL, and qvm-open-in-dvm (the same program under that
 * name, target @dispvm): opens a file (qubes.OpenInVM, through qopen-in-vm) or a URL
 * (qubes.OpenURL) in another qube, through qrexec-client-vm. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GUEST_DIR "/run/qubes-guest"
#define URL_MAX 65000 /* a URL goes on one line to qubes.OpenURL; keep it finite */

/* ^[A-Za-z][A-Za-z0-9+]*:// as upstream's qvm-open-in-vm */
static bool looks_like_url(const char *s)
{
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
        return false;
    size_t i = 1;
    while ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
           (s[i] >= '0' && s[i] <= '9') || s[i] == '+')
        i++;
    return strncmp(s + i, "://", 3) == 0;
}

static void usage(const char *prog, bool dvm)
{
    if (dvm)
        fprintf(stderr, "usage: %s [--view-only] FILE|URL\n", prog);
    else
        fprintf(stderr, "usage: %s [--view-only] VM FILE|URL\n", prog);
}

int main(int argc, char **argv)
{
    const char *prog = strrchr(argv[0], '/');
    prog = prog ? prog + 1 : argv[0];
    bool dvm = strcmp(prog, "qvm-open-in-dvm") == 0;

    bool view_only = false;
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        if (strcmp(argv[i], "--view-only") == 0) {
            view_only = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(prog, dvm);
            return 0;
        } else {
            fprintf(stderr, "%s: unknown option %s\n", prog, argv[i]);
            usage(prog, dvm);
            return 2;
        }
    }
    if (argc - i != (dvm ? 1 : 2)) {
        usage(prog, dvm);
        return 2;
    }
    const char *target = dvm ? "@dispvm" : argv[i++];
    const char *what = argv[i];
    if (!target[0] || target[0] == '-') {
        fprintf(stderr, "%s: invalid qube name '%s'\n", prog, target);
        return 2;
    }
    if (!what[0]) {
        fprintf(stderr, "%s: empty file name\n", prog);
        return 2;
    }

    /* QUBICLE_GUEST_DIR only lets the programs be tried outside a qube */
    const char *dir = getenv("QUBICLE_GUEST_DIR");
    if (!dir || !dir[0])
        dir = GUEST_DIR;
    char client[4096], opener[4096];
    if ((size_t)snprintf(client, sizeof(client), "%s/bin/qrexec-client-vm", dir) >=
            sizeof(client) ||
        (size_t)snprintf(opener, sizeof(opener), "%s/qopen-in-vm", dir) >= sizeof(opener)) {
        fprintf(stderr, "%s: QUBICLE_GUEST_DIR too long\n", prog);
        return 2;
    }

    struct stat st;
    bool url = looks_like_url(what) && stat(what, &st) < 0;
    if (url) {
        /* qubes.OpenURL reads one line: a URL cannot hold a line break or other controls */
        size_t n = strnlen(what, URL_MAX + 1);
        if (n > URL_MAX) {
            fprintf(stderr, "%s: URL too long\n", prog);
            return 2;
        }
        for (size_t k = 0; k < n; k++) {
            unsigned char c = (unsigned char)what[k];
            if (c < 0x20 || c == 0x7f) {
                fprintf(stderr, "%s: invalid URL (control character)\n", prog);
                return 2;
            }
        }
    }

    char *cmd[10];
    size_t n = 0;
    cmd[n++] = client;
    cmd[n++] = "--";
    cmd[n++] = (char *)target;
    if (url) {
        /* the service takes "URL\n"; its output, if any, is read to the end and dropped */
        cmd[n++] = "qubes.OpenURL";
        cmd[n++] = "/bin/sh";
        cmd[n++] = "-c";
        cmd[n++] = "printf '%s\\n' \"$1\" && exec cat >/dev/null";
        cmd[n++] = "sh";
    } else {
        cmd[n++] = "qubes.OpenInVM";
        cmd[n++] = opener;
        if (view_only)
            cmd[n++] = "--view-only";
        cmd[n++] = "--";
    }
    cmd[n++] = (char *)what;
    cmd[n] = NULL;
    execv(client, cmd);
    fprintf(stderr, "%s: exec %s: %s\n", prog, client, strerror(errno));
    return 127;
}
