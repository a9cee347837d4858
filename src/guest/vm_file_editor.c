/* vm-file-editor: the serving side of qubes.OpenInVM. Receives a name block and a file from
 * the caller into a fresh /tmp/<caller>-XXXXXX/, opens it with qubes-open, waits, and sends the
 * file back only if it changed. Everything the caller sends is untrusted. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest/open_in_vm.h"

#define GUEST_QUBES_OPEN "/run/qubes-guest/bin/qubes-open"
/* a qube name is at most 31 characters; this only keeps the directory name sane */
#define REMOTE_NAME_MAX 200

/* The directory and file to remove on the way out, whatever the way. */
static char dir_path[sizeof("/tmp/") + REMOTE_NAME_MAX + sizeof("-XXXXXX")];
static char file_path[sizeof(dir_path) + DVM_FILENAME_SIZE];

static void cleanup(void)
{
    if (file_path[0])
        unlink(file_path);
    if (!dir_path[0])
        return;
    /* what the opener left next to the file (lock and backup files) goes too */
    DIR *d = opendir(dir_path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
                unlinkat(dirfd(d), e->d_name, 0);
        closedir(d);
    }
    if (rmdir(dir_path) < 0)
        fprintf(stderr, "vm-file-editor: cannot remove %s: %s\n", dir_path, strerror(errno));
}

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...);
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("vm-file-editor: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static void make_directory(void)
{
    const char *remote = getenv("QREXEC_REMOTE_DOMAIN");
    if (!remote)
        die("Cannot get remote domain name");
    if (!remote[0] || strchr(remote, '/') || strcmp(remote, ".") == 0 ||
        strcmp(remote, "..") == 0 || strlen(remote) > REMOTE_NAME_MAX)
        die("Invalid remote domain name");
    snprintf(dir_path, sizeof(dir_path), "/tmp/%s-XXXXXX", remote);
    if (!mkdtemp(dir_path)) {
        int e = errno;
        dir_path[0] = '\0';
        die("mkdtemp: %s", strerror(e));
    }
}

/* Runs qubes-open on the file (a template's own first, then ours) and returns its status. */
static int run_opener(void)
{
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        /* stdin and stdout are the caller's data: the opener gets neither */
        int null_fd = open("/dev/null", O_RDONLY);
        if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(2, 1) < 0)
            _exit(125);
        if (null_fd > 2)
            close(null_fd);
        signal(SIGPIPE, SIG_DFL);
        execlp("qubes-open", "qubes-open", file_path, (char *)NULL);
        if (errno == ENOENT)
            execl(GUEST_QUBES_OPEN, "qubes-open", file_path, (char *)NULL);
        fprintf(stderr, "vm-file-editor: exec qubes-open: %s\n", strerror(errno));
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            die("waitpid: %s", strerror(errno));
    return status;
}

/* The file as it is now: changed if its identity, size or time moved, or, with all of those
 * the same (a quick edit can keep a coarse mtime), if its content digest did. */
static bool file_changed(const struct stat *before, uint64_t digest_before)
{
    struct stat now;
    if (stat(file_path, &now) < 0) {
        fprintf(stderr, "vm-file-editor: %s is gone: nothing to send back\n", file_path);
        return false;
    }
    if (now.st_ino != before->st_ino || now.st_size != before->st_size ||
        now.st_mtim.tv_sec != before->st_mtim.tv_sec ||
        now.st_mtim.tv_nsec != before->st_mtim.tv_nsec)
        return true;
    int fd = open(file_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return true; /* unreadable after all: let the send say why */
    char buf[65536];
    uint64_t digest = GUEST_DIGEST_INIT;
    ssize_t r;
    while ((r = read(fd, buf, sizeof(buf))) != 0) {
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            break;
        digest = guest_digest(digest, buf, (size_t)r);
    }
    close(fd);
    return r < 0 || digest != digest_before;
}

static void send_back(void)
{
    int fd = open(file_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        die("open %s: %s", file_path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        die("%s: no longer a regular file", file_path);
    bool read_failed = false;
    if (guest_copy_fd(1, fd, NULL, &read_failed) < 0)
        die("%s the edited file: %s", read_failed ? "reading" : "sending", strerror(errno));
    close(fd);
    if (close(1) < 0)
        die("sending the edited file: %s", strerror(errno));
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    umask(077);

    char untrusted_block[DVM_FILENAME_SIZE];
    ssize_t got = guest_read_full(0, untrusted_block, sizeof(untrusted_block));
    if (got < 0)
        die("reading the file name: %s", strerror(errno));
    if ((size_t)got != sizeof(untrusted_block))
        die("the file name block is truncated");
    char name[DVM_FILENAME_SIZE];
    bool view_only = false;
    const char *why = NULL;
    if (dvm_name_from_block(untrusted_block, name, &view_only, &why) < 0)
        die("%s", why);

    make_directory();
    atexit(cleanup);
    snprintf(file_path, sizeof(file_path), "%s/%s", dir_path, name);
    int fd = open(file_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        int e = errno;
        file_path[0] = '\0';
        die("create %s/%s: %s", dir_path, name, strerror(e));
    }
    uint64_t digest = GUEST_DIGEST_INIT;
    bool read_failed = false;
    if (guest_copy_fd(fd, 0, &digest, &read_failed) < 0)
        die("%s the file: %s", read_failed ? "receiving" : "saving", strerror(errno));
    /* view only: read-only, so that an editor tells the user */
    if (view_only && fchmod(fd, 0400) < 0)
        die("chmod %s: %s", file_path, strerror(errno));
    struct stat before;
    if (fstat(fd, &before) < 0)
        die("stat %s: %s", file_path, strerror(errno));
    if (close(fd) < 0)
        die("saving the file: %s", strerror(errno));

    int status = run_opener();
    bool failed = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (failed)
        fprintf(stderr, "vm-file-editor: qubes-open could not open the file (%s %d)\n",
                WIFEXITED(status) ? "exit status" : "signal",
                WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));

    /* a view-only caller drops what we would send, so nothing is sent */
    if (!view_only && file_changed(&before, digest))
        send_back();
    return failed ? 1 : 0;
}
