/* qfile-unpacker [--allow-all-names]: the qubes.Filecopy service. Unpacks the
 * stream on stdin into ~/QubesIncoming/<QREXEC_REMOTE_DOMAIN> as the qube's user
 * and answers with the result on stdout. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/landlock.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/parse.h"
#include "filecopy/filecopy.h"
#include "filecopy/path_check.h"
#include "filecopy/unpack.h"

#define INCOMING_DIR_NAME "QubesIncoming"
#define USER_UID 1000 /* the qube's user, as qubes-init makes it */
#define DEFAULT_HOME "/home/user"
#define PIPE_SIZE (1024 * 1024)

#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif

/* The passwd entry of uid from /etc/passwd (no NSS: this program is static). */
static bool lookup_passwd(uid_t uid, gid_t *gid, char *home, size_t home_size)
{
    FILE *f = fopen("/etc/passwd", "re");
    if (!f)
        return false;
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f)) {
        char *fields[7];
        char *s = line;
        int n = 0;
        for (; n < 7; n++) {
            fields[n] = s;
            s = strchr(s, n == 6 ? '\n' : ':');
            if (!s)
                break;
            *s++ = '\0';
        }
        if (n < 6)
            continue;
        long long u, g;
        if (parse_ll(fields[2], 0, UINT32_MAX, 0, &u) < 0 || u != uid)
            continue;
        if (parse_ll(fields[3], 0, UINT32_MAX, 0, &g) < 0 || fields[5][0] != '/' ||
            strlen(fields[5]) >= home_size)
            continue;
        *gid = (gid_t)g;
        strcpy(home, fields[5]);
        found = true;
    }
    fclose(f);
    return found;
}

/* Defence in depth where the kernel has Landlock: from here on this process
 * can neither read nor write anything outside dest_fd's tree (fds already open
 * stay usable), whatever a bug in the unpacker might try. Without Landlock the
 * openat2() rules of the unpacker are the boundary, as the chroot is upstream. */
static void confine_beneath(int dest_fd)
{
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    if (abi < 1)
        return;
    uint64_t handled =
        LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |
        LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_DIR |
        LANDLOCK_ACCESS_FS_REMOVE_FILE | LANDLOCK_ACCESS_FS_MAKE_CHAR |
        LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK |
        LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SYM;
    if (abi >= 2)
        handled |= LANDLOCK_ACCESS_FS_REFER;
    if (abi >= 3)
        handled |= LANDLOCK_ACCESS_FS_TRUNCATE;
    struct landlock_ruleset_attr attr = { .handled_access_fs = handled };
    int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
    if (ruleset < 0)
        return;
    /* beneath dest: what an unpack needs (no devices, fifos, sockets, exec) */
    struct landlock_path_beneath_attr beneath = {
        .allowed_access = handled & ~(LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_MAKE_CHAR |
                                      LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO |
                                      LANDLOCK_ACCESS_FS_MAKE_SOCK | LANDLOCK_ACCESS_FS_REFER),
        .parent_fd = dest_fd,
    };
    if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &beneath, 0) == 0 &&
        prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0)
        syscall(SYS_landlock_restrict_self, ruleset, 0);
    close(ruleset);
}

/* Before anything was read: say why on stderr (the caller's qrexec-client-vm
 * shows it) and, for an error a result can carry, tell the sender too. */
static int fail(int errnum, const char *what)
{
    fprintf(stderr, "qfile-unpacker: %s: %s\n", what, strerror(errnum));
    if (errnum == EINVAL)
        return 1; /* the sender would read it as "Corrupted data from packer" */
    struct result_header hdr = { .error_code = (uint32_t)errnum };
    struct result_header_ext ext = { .last_namelen = 0 };
    if (write(1, &hdr, sizeof(hdr)) == (ssize_t)sizeof(hdr))
        (void)!write(1, &ext, sizeof(ext));
    return 1;
}

static int open_subdir(int dirfd, const char *name)
{
    if (mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
        return -1;
    return openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

int main(int argc, char **argv)
{
    unsigned flags =
        COPY_ALLOW_SYMLINKS | COPY_ALLOW_DIRECTORIES | COPY_ALLOW_NON_CANONICAL_SYMLINKS;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--allow-all-names") == 0) {
            flags |= COPY_ALLOW_UNSAFE_CHARACTERS;
        } else {
            fprintf(stderr,
                    "qfile-unpacker: unknown argument %s\n"
                    "usage: qfile-unpacker [--allow-all-names]\n",
                    argv[i]);
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);

    /* never unpack as root: the files belong to the qube's user */
    uid_t uid = getuid();
    gid_t gid = getgid();
    char home[4096] = DEFAULT_HOME;
    if (uid == 0 || geteuid() == 0) {
        uid = USER_UID;
        gid = USER_UID;
        lookup_passwd(uid, &gid, home, sizeof(home));
        if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
            return fail(errno, "dropping root");
        if (setuid(0) == 0)
            return fail(EPERM, "dropping root");
    } else {
        lookup_passwd(uid, &gid, home, sizeof(home));
    }

    const char *remote = getenv("QREXEC_REMOTE_DOMAIN");
    if (!remote || !path_check_qube_name(remote))
        return fail(EINVAL, "invalid or missing QREXEC_REMOTE_DOMAIN");

    int home_fd = open(home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (home_fd < 0)
        return fail(errno, home);
    int incoming_fd = open_subdir(home_fd, INCOMING_DIR_NAME);
    if (incoming_fd < 0)
        return fail(errno, "~/" INCOMING_DIR_NAME);
    int dest_fd = open_subdir(incoming_fd, remote);
    if (dest_fd < 0)
        return fail(errno, "~/" INCOMING_DIR_NAME "/<source qube>");
    close(incoming_fd);
    close(home_fd);
    if (fchdir(dest_fd) < 0)
        return fail(errno, "~/" INCOMING_DIR_NAME "/<source qube>");

    confine_beneath(dest_fd);
    fcntl(0, F_SETPIPE_SZ, PIPE_SIZE); /* best effort: stdin may not be a pipe */
    uint32_t rc = filecopy_unpack(dest_fd, 0, 1, flags, NULL);
    close(dest_fd);
    if (rc == 0)
        return 0;
    return (rc & 0xff) ? (int)(rc & 0xff) : 1; /* upstream exits with the error code */
}
