/* qvm-copy, qvm-move, qvm-copy-to-vm, qvm-move-to-vm (one binary, named by
 * argv[0]): copy FILEs to ~/QubesIncoming/<this qube>/ of another qube over
 * qubes.Filecopy; the move variants remove the sources after a successful copy. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define GUEST_DIR "/run/qubes-guest"
#define QREXEC_CLIENT_VM GUEST_DIR "/bin/qrexec-client-vm"
#define QFILE_AGENT GUEST_DIR "/qfile-agent"
#define SERVICE "qubes.Filecopy"
#define DEFAULT_TARGET "@default"

struct mode {
    const char *name;
    bool move;
    bool to_vm;
};

static const struct mode modes[] = {
    { "qvm-copy", false, false },
    { "qvm-move", true, false },
    { "qvm-copy-to-vm", false, true },
    { "qvm-move-to-vm", true, true },
};

static void print_usage(FILE *f, const struct mode *m)
{
    if (m->to_vm)
        fprintf(f, "usage: %s [--without-progress] destination_qube_name FILE [FILE ...]\n",
                m->name);
    else
        fprintf(f, "usage: %s [--without-progress] FILE [FILE ...]\n", m->name);
}

static void print_help(const struct mode *m)
{
    print_usage(stdout, m);
    printf("\n%s FILE to ~/QubesIncoming/[THIS QUBE'S NAME]/ in the destination qube.\n\n",
           m->move ? "Move" : "Copy");
    if (m->to_vm)
        printf("If FILE is a directory, it will be copied recursively.\n"
               "In order to avoid typing target qube name twice, use %s instead of %s.\n",
               m->move ? "qvm-move" : "qvm-copy", m->name);
    else
        printf("You will be prompted to select the destination qube. "
               "If FILE is a directory, it will be copied recursively.\n");
}

/* Bytes that qfile-agent will report as sent: file data and symlink targets,
 * symlinks not followed. */
static int tree_size(int parent_fd, const char *name, const char *shown, uint64_t *total)
{
    struct stat st;
    if (fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, shown, strerror(errno));
        return -1;
    }
    if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) {
        *total += (uint64_t)st.st_size;
        return 0;
    }
    if (!S_ISDIR(st.st_mode))
        return 0;
    int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *dir = fd < 0 ? NULL : fdopendir(fd);
    if (!dir) {
        fprintf(stderr, "%s: %s: %s\n", program_invocation_short_name, shown, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int rc = 0;
    struct dirent *ent;
    while (rc == 0 && (ent = readdir(dir))) {
        if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0)
            continue;
        rc = tree_size(dirfd(dir), ent->d_name, shown, total);
    }
    closedir(dir);
    return rc;
}

/* rm -rf of one entry, never following a symlink. */
static int remove_tree(int parent_fd, const char *name, const char *shown)
{
    struct stat st;
    if (fstatat(parent_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT)
            return 0;
        fprintf(stderr, "%s: cannot remove %s: %s\n", program_invocation_short_name, shown,
                strerror(errno));
        return -1;
    }
    int rc = 0;
    if (S_ISDIR(st.st_mode)) {
        int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *dir = fd < 0 ? NULL : fdopendir(fd);
        if (!dir) {
            fprintf(stderr, "%s: cannot remove %s: %s\n", program_invocation_short_name, shown,
                    strerror(errno));
            if (fd >= 0)
                close(fd);
            return -1;
        }
        struct dirent *ent;
        while ((ent = readdir(dir)))
            if (strcmp(ent->d_name, ".") != 0 && strcmp(ent->d_name, "..") != 0)
                if (remove_tree(dirfd(dir), ent->d_name, shown) < 0)
                    rc = -1;
        closedir(dir);
    }
    if (unlinkat(parent_fd, name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0) {
        fprintf(stderr, "%s: cannot remove %s: %s\n", program_invocation_short_name, shown,
                strerror(errno));
        rc = -1;
    }
    return rc;
}

/* Removes what qfile-agent sent for arg: basename(arg) in dirname(arg). */
static int remove_arg(const char *arg)
{
    size_t len = strlen(arg);
    char *copy = strdup(arg);
    if (!copy)
        return -1;
    while (len > 1 && copy[len - 1] == '/')
        copy[--len] = '\0';
    char *slash = strrchr(copy, '/');
    const char *base = slash ? slash + 1 : copy;
    const char *dir = ".";
    if (slash == copy) {
        dir = "/";
    } else if (slash) {
        *slash = '\0';
        dir = copy;
    }
    int rc = 0;
    if (*base == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0) {
        fprintf(stderr, "%s: refusing to remove %s\n", program_invocation_short_name, arg);
        rc = -1;
    } else {
        int arg_dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (arg_dir_fd < 0) {
            fprintf(stderr, "%s: cannot remove %s: %s\n", program_invocation_short_name, arg,
                    strerror(errno));
            rc = -1;
        } else {
            rc = remove_tree(arg_dir_fd, base, arg);
            close(arg_dir_fd);
        }
    }
    free(copy);
    return rc;
}

int main(int argc, char **argv)
{
    const char *self = argc > 0 && argv[0] ? argv[0] : "qvm-copy";
    const char *slash = strrchr(self, '/');
    const char *called = slash ? slash + 1 : self;
    const struct mode *m = NULL;
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
        if (strcmp(called, modes[i].name) == 0)
            m = &modes[i];
    if (!m) {
        fprintf(stderr,
                "Invoked with unrecognized name %s, cannot determine operation to perform\n", self);
        return 1;
    }

    bool progress = true;
    int i = 1;
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--without-progress") == 0) {
            progress = false;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            print_help(m);
            return 0;
        } else if (strcmp(argv[i], "--") == 0) {
            i++;
            break;
        } else if (argv[i][0] == '-') {
            print_usage(stderr, m);
            return 2;
        } else {
            break;
        }
    }
    const char *target = DEFAULT_TARGET;
    if (m->to_vm) {
        if (i >= argc) {
            print_usage(stderr, m);
            return 2;
        }
        target = argv[i++];
    }
    if (i >= argc) {
        print_usage(stderr, m);
        return 2;
    }
    char **files = argv + i;
    int nfiles = argc - i;

    uint64_t total = 0;
    for (int k = 0; k < nfiles; k++) {
        if (files[k][0] == '\0') {
            fprintf(stderr, "%s: invalid empty file name\n", m->name);
            return 1;
        }
        if (tree_size(AT_FDCWD, files[k], files[k], &total) < 0)
            return 1;
    }
    char size[32];
    snprintf(size, sizeof(size), "%llu", (unsigned long long)total);
    if (setenv("FILECOPY_TOTAL_SIZE", size, 1) < 0 ||
        setenv("PROGRESS_TYPE", progress ? "console" : "none", 1) < 0) {
        perror(m->name);
        return 1;
    }

    char **args = calloc((size_t)nfiles + 10, sizeof(char *));
    if (!args) {
        perror(m->name);
        return 1;
    }
    int n = 0;
    args[n++] = "qrexec-client-vm";
    args[n++] = "--filter-escape-chars-stderr";
    args[n++] = "--";
    args[n++] = (char *)target;
    args[n++] = SERVICE;
    args[n++] = QFILE_AGENT;
    if (progress)
        args[n++] = "--progress";
    args[n++] = "--";
    for (int k = 0; k < nfiles; k++)
        args[n++] = files[k];
    args[n] = NULL;

    if (!m->move) {
        execv(QREXEC_CLIENT_VM, args);
        fprintf(stderr, "%s: cannot run %s: %s\n", m->name, QREXEC_CLIENT_VM, strerror(errno));
        return 1;
    }

    /* move: the sources go only once the copy has succeeded */
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror(m->name);
        return 1;
    }
    if (pid == 0) {
        execv(QREXEC_CLIENT_VM, args);
        fprintf(stderr, "%s: cannot run %s: %s\n", m->name, QREXEC_CLIENT_VM, strerror(errno));
        _exit(1);
    }
    free(args);
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            perror(m->name);
            return 1;
        }
    }
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    if (WEXITSTATUS(status) != 0)
        return WEXITSTATUS(status);
    int rc = 0;
    for (int k = 0; k < nfiles; k++)
        if (remove_arg(files[k]) < 0)
            rc = 1;
    return rc;
}
