/* qopen-in-vm [--view-only] FILE: the calling side of qubes.OpenInVM, run by qrexec-client-vm
 * with stdout to the remote vm-file-editor and stdin from it. Sends the name block and the
 * content, then replaces FILE atomically with what comes back, if anything does. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guest/open_in_vm.h"

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...);
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("qopen-in-vm: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* The block naming the file: base name, "view-only-" first if asked, cut from the left so
 * that the extension survives, NUL-padded. */
static void make_name_block(const char *path, bool view_only, char block[DVM_FILENAME_SIZE])
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *prefix = view_only ? DVM_VIEW_ONLY_PREFIX : "";
    size_t room = DVM_FILENAME_SIZE - 1 - strlen(prefix);
    size_t n = strlen(base);
    if (n > room) {
        base += n - room;
        n = room;
    }
    memset(block, 0, DVM_FILENAME_SIZE);
    memcpy(block, prefix, strlen(prefix));
    memcpy(block + strlen(prefix), base, n);
}

static void send_file(const char *path, int fd, bool view_only)
{
    char block[DVM_FILENAME_SIZE];
    make_name_block(path, view_only, block);
    if (guest_write_all(1, block, sizeof(block)) < 0)
        die("sending the file name: %s", strerror(errno));
    bool read_failed = false;
    if (guest_copy_fd(1, fd, NULL, &read_failed) < 0)
        die("%s %s: %s", read_failed ? "reading" : "sending", path, strerror(errno));
    /* EOF to the remote side: it opens the file only once it has all of it */
    if (close(1) < 0)
        die("sending %s: %s", path, strerror(errno));
}

/* Reads the answer into a temporary file next to target; renames it over target only if the
 * answer is not empty (empty: the file was not changed, or the other side failed). */
static void receive_file(const char *target, mode_t mode)
{
    size_t n = strlen(target);
    char *tmp = malloc(n + sizeof(".XXXXXX"));
    if (!tmp)
        die("out of memory");
    memcpy(tmp, target, n);
    memcpy(tmp + n, ".XXXXXX", sizeof(".XXXXXX"));
    int fd = mkostemp(tmp, O_CLOEXEC);
    bool elsewhere = false;
    if (fd < 0) {
        /* a directory we cannot write to: keep the edit in /tmp and say where */
        free(tmp);
        tmp = strdup("/tmp/file_edited_in_vm.XXXXXX");
        if (!tmp)
            die("out of memory");
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
            die("cannot create a temporary file: %s", strerror(errno));
        elsewhere = true;
    }
    bool read_failed = false;
    long long got = guest_copy_fd(fd, 0, NULL, &read_failed);
    if (got < 0) {
        int e = errno;
        unlink(tmp);
        die("%s the edited file: %s", read_failed ? "receiving" : "saving", strerror(e));
    }
    if (got == 0) {
        unlink(tmp);
        close(fd);
        free(tmp);
        return;
    }
    if (fchmod(fd, mode & 07777) < 0 || fsync(fd) < 0 || close(fd) < 0) {
        int e = errno;
        unlink(tmp);
        die("saving the edited file: %s", strerror(e));
    }
    if (elsewhere) {
        fprintf(stderr,
                "qopen-in-vm: %s was edited and the new content received, but its directory "
                "is not writable: the edited file is %s\n",
                target, tmp);
    } else if (rename(tmp, target) < 0) {
        int e = errno;
        unlink(tmp);
        die("replacing %s: %s", target, strerror(e));
    }
    free(tmp);
}

static void __attribute__((noreturn)) usage(void)
{
    fputs("usage: qopen-in-vm [--view-only] FILE\n", stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    bool view_only = false;
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        }
        if (strcmp(argv[i], "--view-only") == 0)
            view_only = true;
        else
            usage();
    }
    if (argc - i != 1)
        usage();
    const char *path = argv[i];
    signal(SIGPIPE, SIG_IGN);

    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        die("open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0)
        die("stat %s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        die("%s: not a regular file", path);
    const char *base = strrchr(path, '/');
    if ((base ? base[1] : path[0]) == '\0')
        die("%s: no file name", path);

    send_file(path, fd, view_only);
    close(fd);

    if (view_only) {
        /* whatever comes back is dropped: the original stays as it is */
        int null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
        bool read_failed = false;
        if (null_fd < 0 || guest_copy_fd(null_fd, 0, NULL, &read_failed) < 0)
            die("draining the answer: %s", strerror(errno));
        return 0;
    }
    /* the edit replaces what a symlink points to, not the symlink */
    char *target = realpath(path, NULL);
    if (!target)
        die("resolve %s: %s", path, strerror(errno));
    receive_file(target, st.st_mode);
    free(target);
    return 0;
}
