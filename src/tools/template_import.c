/* Building and importing template root trees: recipes, tar, mkfs.ext4 -d
 * into the volume qubesd hands out, progress, and a cleanup that always runs. */
#include "tools/template_import.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/mono_time.h"
#include "common/root.h"
#include "tools/cli.h"

#ifndef QUBICLE_TEMPLATES_DIR
#define QUBICLE_TEMPLATES_DIR "/usr/local/share/qubicle/templates"
#endif
#ifndef QUBICLE_SOURCE_TEMPLATES_DIR
#define QUBICLE_SOURCE_TEMPLATES_DIR QUBICLE_TEMPLATES_DIR
#endif

/* ---- where the recipes are ---- */

char *template_recipes_dir(void)
{
    const char *env = getenv("QUBICLE_TEMPLATES");
    if (env && *env)
        return xstrdup(env);
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            /* build/bin/qvm: build/build.ninja says "a build tree" */
            _cleanup_free_ char *ninja = xasprintf("%s/../build.ninja", exe);
            if (access(ninja, F_OK) == 0)
                return xstrdup(QUBICLE_SOURCE_TEMPLATES_DIR);
        }
    }
    return xstrdup(QUBICLE_TEMPLATES_DIR);
}

int template_recipe_find(const char *recipe, char **script, struct qerror *err)
{
    *script = NULL;
    bool ok = *recipe && recipe[0] != '.';
    for (const char *p = recipe; *p; p++)
        ok = ok && (strchr("abcdefghijklmnopqrstuvwxyz0123456789.-_", *p) != NULL);
    if (!ok)
        return qerror_set(err, ERR_QUBES_VALUE_ERROR, "invalid recipe name: %s", recipe);
    _cleanup_free_ char *dir = template_recipes_dir();
    char *path = xasprintf("%s/%s/build.sh", dir, recipe);
    if (access(path, R_OK) < 0) {
        free(path);
        return qerror_set(err, ERR_QUBES_VALUE_ERROR, "no recipe %s (in %s)", recipe, dir);
    }
    *script = path;
    return 0;
}

/* ---- signals: stop the running step, let the caller clean up ---- */

/* Signal handlers can only reach process-wide state: the flag and the
 * process group of the step running now. */
static volatile sig_atomic_t interrupted;
static volatile pid_t step_pgid;

static void on_signal(int sig)
{
    interrupted = 1;
    if (step_pgid > 0)
        kill(-step_pgid, sig == SIGINT ? SIGINT : SIGTERM);
}

void template_catch_signals(void)
{
    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

/* ---- progress ---- */

struct progress {
    bool tty;
    const char *label;
    int64_t start_ms; /* mono_ms() */
    unsigned tick;
};

static void progress_begin(struct progress *p, bool tty, const char *label)
{
    *p = (struct progress){ .tty = tty, .label = label, .start_ms = mono_ms() };
    if (!tty)
        fprintf(stderr, "%s...\n", label);
}

/* One status line, redrawn: a bar when the fraction is known (>= 0), else a
 * spinner; detail (may be NULL) fills what the terminal has left. */
static void progress_update(struct progress *p, double fraction, const char *detail)
{
    if (!p->tty)
        return;
    struct winsize ws;
    int width = ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col ? ws.ws_col : 80;
    int secs = (int)((mono_ms() - p->start_ms) / 1000);
    _cleanup_buf_ struct buf line = BUF_INIT;
    buf_printf(&line, "%s ", p->label);
    if (fraction >= 0) {
        if (fraction > 1)
            fraction = 1;
        int fill = (int)(fraction * 30);
        buf_append_char(&line, '[');
        for (int i = 0; i < 30; i++)
            buf_append_char(&line, i < fill ? '#' : '.');
        buf_printf(&line, "] %3d%% ", (int)(fraction * 100));
    } else {
        static const char spin[] = "|/-\\";
        buf_printf(&line, "%c ", spin[p->tick++ % 4]);
    }
    buf_printf(&line, "%d:%02d", secs / 60, secs % 60);
    if (detail && *detail)
        buf_printf(&line, "  %s", detail);
    size_t max = width > 1 ? (size_t)width - 1 : 1;
    if (line.len > max)
        line.len = max;
    fprintf(stderr, "\r\033[K%.*s", (int)line.len, line.data);
    fflush(stderr);
}

static void progress_end(struct progress *p, bool ok)
{
    int secs = (int)((mono_ms() - p->start_ms) / 1000);
    fprintf(stderr, "%s%s: %s (%d s)\n", p->tty ? "\r\033[K" : "", p->label, ok ? "done" : "failed",
            secs);
}

/* ---- running one step ---- */

/* The last lines of a log, for an error message. */
static void log_tail(const char *path, struct buf *out)
{
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    off_t end = lseek(fd, 0, SEEK_END);
    off_t from = end > 1500 ? end - 1500 : 0;
    char data[1501];
    ssize_t n = pread(fd, data, sizeof(data) - 1, from);
    if (n <= 0)
        return;
    data[n] = '\0';
    char *start = data;
    if (from > 0 && strchr(start, '\n'))
        start = strchr(start, '\n') + 1;
    size_t len = strlen(start);
    while (len && start[len - 1] == '\n')
        len--;
    buf_append(out, start, len);
}

/* The last line the step wrote, for the status line. */
static void log_last_line(const char *path, char *line, size_t size)
{
    line[0] = '\0';
    _cleanup_buf_ struct buf tail = BUF_INIT;
    log_tail(path, &tail);
    if (!tail.len)
        return;
    const char *nl = strrchr(tail.data, '\n');
    const char *last = nl ? nl + 1 : tail.data;
    size_t k = 0;
    for (; *last && k + 1 < size; last++)
        line[k++] = (*last >= 0x20 && *last < 0x7f) ? *last : ' ';
    line[k] = '\0';
}

typedef double (*progress_fn)(const void *ctx);

/* Runs argv in its own process group (a signal to us reaches all of it),
 * output to the log (or to our stderr when passthrough and not on a
 * terminal), while the status line shows fn's fraction or a spinner. */
static int run_step(struct template_work *w, const char *label, char *const argv[],
                    bool passthrough, progress_fn fn, const void *ctx, struct qerror *err)
{
    if (interrupted)
        return qerror_set(err, ERR_QUBES_EXCEPTION, "%s: interrupted", label);
    bool logged = !(passthrough && !w->tty);
    int out = logged ? open(w->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600) : 2;
    if (out < 0)
        return qerror_errno(err, errno, "%s: open %s", label, w->log);
    off_t log_start = logged ? lseek(out, 0, SEEK_END) : 0;
    struct progress p;
    progress_begin(&p, w->tty, label);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        setpgid(0, 0);
        int null = open("/dev/null", O_RDONLY);
        if (null < 0 || dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0)
            _exit(125);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        signal(SIGPIPE, SIG_DFL);
        execvp(argv[0], argv);
        fprintf(stderr, "%s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    if (logged)
        close(out);
    if (pid < 0) {
        progress_end(&p, false);
        return qerror_errno(err, errno, "%s: fork", label);
    }
    setpgid(pid, pid); /* both sides, whichever runs first */
    step_pgid = pid;
    int st = 0;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR) {
            st = -1;
            break;
        }
        if (w->tty) {
            char last[200] = "";
            if (!fn && logged)
                log_last_line(w->log, last, sizeof(last));
            progress_update(&p, fn ? fn(ctx) : -1, last);
        }
        struct timespec ts = { 0, 100 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    step_pgid = 0;
    bool ok = st == 0 && !interrupted;
    progress_end(&p, ok);
    if (ok)
        return 0;
    _cleanup_buf_ struct buf why = BUF_INIT;
    if (interrupted)
        buf_append_str(&why, "interrupted");
    else if (st != -1 && WIFEXITED(st))
        buf_printf(&why, "%s exited with status %d", argv[0], WEXITSTATUS(st));
    else if (st != -1 && WIFSIGNALED(st))
        buf_printf(&why, "%s killed by signal %d", argv[0], WTERMSIG(st));
    else
        buf_append_str(&why, "lost the process");
    if (logged) {
        _cleanup_buf_ struct buf tail = BUF_INIT;
        log_tail(w->log, &tail);
        /* only what this step wrote */
        struct stat sb;
        if (tail.len && stat(w->log, &sb) == 0 && sb.st_size > log_start)
            buf_printf(&why, ":\n%s", tail.data);
    }
    return qerror_set(err, ERR_QUBES_EXCEPTION, "%s: %s", label, why.data);
}

/* ---- the work directory ---- */

int template_work_init(struct template_work *w, struct qerror *err)
{
    *w = (struct template_work){ .tty = isatty(2) };
    if (qroot_mkdirs("var/tmp", 01777) < 0)
        return qerror_errno(err, errno, "create %s/var/tmp", qroot_get());
    w->dir = qroot_path("var/tmp/qvm-template.XXXXXX");
    if (!mkdtemp(w->dir)) {
        int e = errno;
        free(w->dir);
        w->dir = NULL;
        return qerror_errno(err, e, "create a work directory in %s/var/tmp", qroot_get());
    }
    w->tree = xasprintf("%s/tree", w->dir);
    w->log = xasprintf("%s/log", w->dir);
    if (mkdir(w->tree, 0755) < 0)
        return qerror_errno(err, errno, "create %s", w->tree);
    return 0;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo */
static void unescape_mount_path(char *s)
{
    char *o = s;
    for (char *p = s; *p; p++) {
        if (p[0] == '\\' && p[1] >= '0' && p[1] <= '7' && p[2] && p[3]) {
            *o++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
            p += 3;
        } else {
            *o++ = *p;
        }
    }
    *o = '\0';
}

/* Detaches every mount under dir (a recipe that died with /proc mounted in
 * its chroot), deepest first. */
static void unmount_under(const char *dir)
{
    for (int pass = 0; pass < 8; pass++) {
        _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
        if (!f)
            return;
        char *line = NULL;
        size_t cap = 0;
        size_t dlen = strlen(dir);
        char *deepest = NULL;
        while (getline(&line, &cap, f) > 0) {
            char mp[4096];
            if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1)
                continue;
            unescape_mount_path(mp);
            if (strncmp(mp, dir, dlen) == 0 && mp[dlen] == '/' &&
                (!deepest || strlen(mp) > strlen(deepest))) {
                free(deepest);
                deepest = xstrdup(mp);
            }
        }
        free(line);
        if (!deepest)
            return;
        umount2(deepest, MNT_DETACH);
        free(deepest);
    }
}

void template_work_cleanup(struct template_work *w)
{
    if (w->dir) {
        unmount_under(w->dir);
        pid_t pid = fork();
        if (pid == 0) {
            execlp("rm", "rm", "-rf", "--one-file-system", "--", w->dir, (char *)NULL);
            _exit(127);
        }
        int st;
        while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
    }
    free(w->dir);
    free(w->tree);
    free(w->log);
    *w = (struct template_work){ 0 };
}

/* ---- steps ---- */

int template_run_recipe(struct template_work *w, const char *recipe, const char *script,
                        struct qerror *err)
{
    _cleanup_free_ char *label = xasprintf("Building the root tree (recipe %s)", recipe);
    char *argv[] = { "sh", (char *)script, w->tree, NULL };
    return run_step(w, label, argv, true, NULL, NULL, err);
}

int template_unpack(struct template_work *w, const char *tarball, struct qerror *err)
{
    /* numeric owners: the tree's uids are the template's, not this host's */
    char *argv[] = { "tar", "--numeric-owner", "-xpf", (char *)tarball, "-C", w->tree, NULL };
    return run_step(w, "Unpacking the archive", argv, false, NULL, NULL, err);
}

/* The bytes a tree occupies. nftw passes no context to its callback, so
 * the running sum lives here, for the one walk at a time a tool makes. */
static uint64_t tree_bytes_sum;
static int add_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)path;
    (void)type;
    (void)ftw;
    tree_bytes_sum += (uint64_t)sb->st_blocks * 512;
    return 0;
}

static uint64_t tree_bytes(const char *tree)
{
    tree_bytes_sum = 0;
    nftw(tree, add_entry, 64, FTW_PHYS | FTW_MOUNT);
    return tree_bytes_sum;
}

struct mkfs_watch {
    const char *image;
    uint64_t total;
};

/* How far mkfs got: what the image holds against what the tree holds. */
static double mkfs_fraction(const void *ctx)
{
    const struct mkfs_watch *m = ctx;
    struct stat st;
    if (!m->total || stat(m->image, &st) < 0)
        return -1;
    double f = (double)st.st_blocks * 512 / (double)m->total;
    return f > 0.99 ? 0.99 : f;
}

static void human(uint64_t bytes, char *out, size_t size)
{
    if (bytes >= 1ull << 30)
        snprintf(out, size, "%.1f GiB", (double)bytes / (double)(1ull << 30));
    else
        snprintf(out, size, "%.1f MiB", (double)bytes / (double)(1ull << 20));
}

int template_import_tree(struct template_work *w, const char *vm, const char *tree,
                         struct qerror *err)
{
    qerror_clear(err);
    uint64_t need = tree_bytes(tree);
    _cleanup_buf_ struct buf answer = BUF_INIT;
    if (qcall("internal.vm.volume.ImportBegin", "root", vm, "", 0, &answer, err) < 0)
        return -1;
    char *space = answer.data ? strchr(answer.data, ' ') : NULL;
    if (!space || !space[1]) {
        qerror_set(err, ERR_QUBES_EXCEPTION, "unexpected answer to ImportBegin: %s",
                   answer.data ? answer.data : "");
    } else {
        const char *path = space + 1;
        uint64_t size = strtoull(answer.data, NULL, 10);
        if (need > size / 100 * 95) {
            char a[32], b[32];
            human(need, a, sizeof(a));
            human(size, b, sizeof(b));
            qerror_set(err, ERR_QUBES_EXCEPTION,
                       "the tree (%s) does not fit in %s's root volume (%s): make it larger "
                       "with qvm-volume resize %s:root SIZE",
                       a, vm, b, vm);
        } else {
            struct mkfs_watch watch = { .image = path, .total = need };
            char *argv[] = { "mkfs.ext4",      "-q",         "-F", "-d", (char *)tree, "-E",
                             "root_owner=0:0", (char *)path, NULL };
            if (run_step(w, "Writing the root volume", argv, false, mkfs_fraction, &watch, err) ==
                0) {
                int fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0 || fdatasync(fd) < 0)
                    qerror_errno(err, errno, "sync %s", path);
                if (fd >= 0)
                    close(fd);
            }
        }
    }
    _cleanup_free_ char *end = err->kind ? xasprintf("fail\n%s", err->message) : xstrdup("ok");
    struct qerror end_err = { 0 };
    if (qcall("internal.vm.volume.ImportEnd", "root", vm, end, strlen(end), NULL, &end_err) < 0 &&
        !err->kind)
        *err = end_err;
    return err->kind ? -1 : 0;
}
