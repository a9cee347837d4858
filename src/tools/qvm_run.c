/* qvm-run: run a command (or a qrexec service) in qubes through
 * qrexec: in-process (qrexec_client_call) for one qube, by spawning
 * qrexec-client for each of several at once. A shell command goes to qubes.VMShell on stdin as
 * "COMMAND; exit\n"; a command with arguments, or --no-shell, to
 * qubes.VMExec+<encoded argv>. The exit code is the remote command's
 * (the highest of them with several qubes), as upstream. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fd_io.h"
#include "common/paths.h"
#include "common/py_repr.h"
#include "qrexec/client_call.h"
#include "qrexec/qrexec_proto.h"
#include "tools/cli.h"
#include "tools/lifecycle_util.h"
#include "tools/tools.h"

static const char usage[] =
    "usage: qvm-run [--verbose] [--quiet] [--help] [--user USER] [--autostart]\n"
    "               [--no-autostart] [--pass-io] [--localcmd COMMAND] [--gui]\n"
    "               [--no-gui] [--colour-output COLOUR] [--colour-stderr COLOUR]\n"
    "               [--no-colour-output] [--no-colour-stderr]\n"
    "               [--filter-escape-chars] [--no-filter-escape-chars] [--service]\n"
    "               [--no-shell] [--dispvm [BASE_APPVM] | --all]\n"
    "               [--exclude EXCLUDE]\n"
    "               [VMNAME] COMMAND ...";

static const char help[] =
    "\npositional arguments:\n"
    "  VMNAME                a domain name\n"
    "  COMMAND               command or service to run\n"
    "  ARG                   command arguments (implies --no-shell)\n\n"
    "options:\n" CLI_HELP_COMMON_OPTIONS
    "  --user USER, -u USER  run command in a qube as USER (available only from dom0)\n"
    "  --autostart, --auto, -a\n"
    "                        option ignored, this is default\n"
    "  --no-autostart, --no-auto, -n\n"
    "                        do not autostart/unpause qube\n"
    "  --pass-io, -p         pass stdio from remote program\n"
    "  --localcmd COMMAND    with --pass-io, pass stdio to the given program\n"
    "  --gui                 run the command with GUI (not available yet)\n"
    "  --no-gui, --nogui     run the command without GUI (the default)\n"
    "  --colour-output COLOUR, --color-output COLOUR\n"
    "                        mark the qube output with given ANSI colour (ie. \"31\" for red)\n"
    "  --colour-stderr COLOUR, --color-stderr COLOUR\n"
    "                        mark the qube stderr with given ANSI colour (ie. \"31\" for red)\n"
    "  --no-colour-output, --no-color-output\n"
    "                        disable colouring the stdio\n"
    "  --no-colour-stderr, --no-color-stderr\n"
    "                        disable colouring the stderr\n"
    "  --filter-escape-chars\n"
    "                        filter terminal escape sequences (default if output is terminal)\n"
    "  --no-filter-escape-chars\n"
    "                        do not filter terminal escape sequences; DANGEROUS when output\n"
    "                        is a terminal emulator\n"
    "  --service             run a qrexec service (named by COMMAND) instead of shell command\n"
    "  --no-shell            treat COMMAND as a simple executable, not a shell command\n"
    "  --dispvm [BASE_APPVM]\n"
    "                        start a service in new Disposable VM; optionally specify base\n"
    "                        AppVM for DispVM\n"
    "  --all                 run command on all running qubes\n"
    "  --exclude EXCLUDE     exclude the qube from --all\n";

/* upstream's exit code for a failure before the command ran (return -1) */
#define RUN_EXIT_ERROR 255

struct run_opts {
    const char *user;
    bool autostart;
    bool passio;
    bool service;
    bool no_shell;
    bool filter_esc;
    const char *localcmd;
    /* NULL: not given (upstream's None); "": disabled */
    const char *color_output;
    const char *color_stderr;
    const char *cmd;
    char **cmd_args;
    size_t ncmd_args;
    int verbose;
};

/* ---- the data phase: copying between our stdio and qrexec-client ---- */

/* do_replace_chars of qrexec: what a terminal could take for a control
 * sequence becomes '_'. */
static void filter_escapes(char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if ((c < 0x20 || c > 0x7e) && c != '\t' && c != '\n' && c != '\r' && c != '\b' && c != '\a')
            p[i] = '_';
    }
}

/* One direction of copying; from is read until EOF, to gets everything. */
struct channel {
    int from;
    int to;
    bool filter;
    bool owns_to; /* close `to` at EOF (the child's stdin: EOF goes on) */
    bool output;  /* the pump ends when every output channel is at EOF */
    struct buf pending;
};

static void channel_close(struct channel *ch)
{
    if (ch->from > 2)
        close(ch->from);
    if (ch->owns_to && ch->to >= 0)
        close(ch->to);
    ch->from = ch->to = -1;
    buf_free(&ch->pending);
}

/* Copies until every output channel is at EOF (qrexec-client exited, or
 * at least closed its output); the input channel just stops then. */
static void pump(struct channel *chs, size_t n)
{
    for (;;) {
        struct pollfd pfd[8];
        struct channel *owner[8];
        size_t np = 0;
        bool outputs_open = false;
        for (size_t i = 0; i < n; i++) {
            struct channel *ch = &chs[i];
            if (ch->from < 0)
                continue;
            outputs_open = outputs_open || ch->output;
            if (ch->pending.len)
                pfd[np] = (struct pollfd){ .fd = ch->to, .events = POLLOUT };
            else
                pfd[np] = (struct pollfd){ .fd = ch->from, .events = POLLIN };
            owner[np++] = ch;
        }
        if (!outputs_open)
            break;
        if (poll(pfd, np, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (size_t i = 0; i < np; i++) {
            struct channel *ch = owner[i];
            if (!pfd[i].revents)
                continue;
            if (ch->pending.len) {
                ssize_t w = write(ch->to, ch->pending.data, ch->pending.len);
                if (w > 0)
                    buf_consume(&ch->pending, (size_t)w);
                else if (w < 0 && errno != EAGAIN && errno != EINTR)
                    channel_close(ch); /* the reader is gone */
                continue;
            }
            char data[65536];
            ssize_t r = read(ch->from, data, sizeof(data));
            if (r < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (r <= 0) {
                channel_close(ch);
                continue;
            }
            if (ch->filter)
                filter_escapes(data, (size_t)r);
            if (ch->owns_to) {
                /* non-blocking pipe to the child: keep what does not fit */
                buf_append(&ch->pending, data, (size_t)r);
                ssize_t w = write(ch->to, ch->pending.data, ch->pending.len);
                if (w > 0)
                    buf_consume(&ch->pending, (size_t)w);
                else if (w < 0 && errno != EAGAIN && errno != EINTR)
                    channel_close(ch);
            } else {
                /* our own stdout/stderr: blocking, and shared with our parent */
                for (ssize_t off = 0; off < r;) {
                    ssize_t w = write(ch->to, data + off, (size_t)(r - off));
                    if (w < 0 && errno == EINTR)
                        continue;
                    if (w <= 0)
                        break;
                    off += w;
                }
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        if (chs[i].from >= 0)
            channel_close(&chs[i]);
}

/* ---- filtering the in-process call's output ---- */

/* The call writes into a pipe; a thread filters what comes out of it onto
 * the real descriptor, so the call's data phase never waits on us. */
struct esc_filter {
    pthread_t thread;
    int from;
    int to;
};

static void *esc_filter_main(void *arg)
{
    struct esc_filter *f = arg;
    char data[65536];
    for (;;) {
        ssize_t r = read(f->from, data, sizeof(data));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        filter_escapes(data, (size_t)r);
        /* blocking, and shared with our parent; a gone reader drops the chunk */
        for (ssize_t off = 0; off < r;) {
            ssize_t w = write(f->to, data + off, (size_t)(r - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break;
            off += w;
        }
    }
    return NULL;
}

/* Returns the pipe's write end for the call, or -1 (errno set). */
static int esc_filter_start(struct esc_filter *f, int to)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return -1;
    f->from = p[0];
    f->to = to;
    int e = pthread_create(&f->thread, NULL, esc_filter_main, f);
    if (e) {
        close(p[0]);
        close(p[1]);
        errno = e;
        return -1;
    }
    return p[1];
}

/* Closes the write end: the thread drains the rest and ends. */
static void esc_filter_finish(struct esc_filter *f, int write_end)
{
    close(write_end);
    pthread_join(f->thread, NULL);
    close(f->from);
}

/* ---- starting qrexec-client ---- */

/* A call: the qrexec-client process (or the exit code of the in-process
 * call, done) and its local program. */
struct call {
    const char *vm;
    pid_t client;
    pid_t local;
    bool done;
    int code;
};

/* The child's fds 0..2 become in/out/err (-1: /dev/null), then exec. */
static pid_t spawn(char *const argv[], int in, int out, int err)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    int fds[3] = { in, out, err };
    for (int i = 0; i < 3; i++) {
        if (fds[i] == -1)
            fds[i] = open("/dev/null", O_RDWR | O_CLOEXEC);
        else if (fds[i] == i)
            fcntl(i, F_SETFD, 0);
    }
    for (int i = 0; i < 3; i++) {
        /* move out of the way fds that a lower dup2 would overwrite */
        if (fds[i] != i && fds[i] < 3)
            fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
    }
    for (int i = 0; i < 3; i++)
        if (fds[i] != i && dup2(fds[i], i) < 0)
            _exit(125);
    signal(SIGPIPE, SIG_DFL);
    execvp(argv[0], argv);
    fprintf(stderr, "%s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

/* encode_for_vmexec of upstream: every byte but [a-zA-Z0-9_.] is -HH,
 * '-' is "--"; the arguments joined with '+'. */
static void encode_for_vmexec(struct buf *out, const char *cmd, char **args, size_t nargs)
{
    for (size_t i = 0; i <= nargs; i++) {
        const unsigned char *p = (const unsigned char *)(i ? args[i - 1] : cmd);
        if (i)
            buf_append_char(out, '+');
        for (; *p; p++) {
            if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                *p == '_' || *p == '.')
                buf_append_char(out, (char)*p);
            else if (*p == '-')
                buf_append_str(out, "--");
            else
                buf_printf(out, "-%02X", *p);
        }
    }
}

static pid_t spawn_local(const char *localcmd, int in, int out)
{
    char *largv[] = { "/bin/sh", "-c", (char *)localcmd, NULL };
    return spawn(largv, in, out, 2);
}

/* The call made in this process, with the same descriptors qrexec-client
 * would have had; qrexec-client's messages (on its stderr, which is
 * /dev/null without -p) as it prints them. Fills call->code. */
static int call_in_process(const struct run_opts *o, const char *vm, const char *request,
                           bool no_wait, const char *shell_cmd, struct call *call)
{
    struct qrexec_client_opts co = {
        .qube = vm,
        .cmdline = request,
        .just_exec = no_wait,
        .stdin_prefix = shell_cmd,
        .stdin_prefix_len = shell_cmd ? strlen(shell_cmd) : 0,
        .in_fd = -1,
        .out_fd = -1,
        .err_fd = -1,
    };
    struct esc_filter filters[2];
    int filter_fd[2] = { -1, -1 };
    call->vm = vm;
    call->client = 0;
    call->local = 0;
    if (o->passio && o->localcmd) {
        /* the local program reads the remote stdout and feeds its stdin */
        int to_local[2], from_local[2];
        if (pipe2(to_local, O_CLOEXEC) < 0) {
            print_qube_error(vm, "pipe: %s", strerror(errno));
            return -1;
        }
        if (pipe2(from_local, O_CLOEXEC) < 0) {
            print_qube_error(vm, "pipe: %s", strerror(errno));
            close(to_local[0]);
            close(to_local[1]);
            return -1;
        }
        call->local = spawn_local(o->localcmd, to_local[0], from_local[1]);
        close(to_local[0]);
        close(from_local[1]);
        if (call->local < 0) {
            print_qube_error(vm, "fork: %s", strerror(errno));
            close(to_local[1]);
            close(from_local[0]);
            return -1;
        }
        /* both ends are ours alone: non-blocking, so a program that does
         * not read cannot stall the call while it waits for us */
        fcntl(to_local[1], F_SETFL, fcntl(to_local[1], F_GETFL) | O_NONBLOCK);
        fcntl(from_local[0], F_SETFL, fcntl(from_local[0], F_GETFL) | O_NONBLOCK);
        co.in_fd = from_local[0];
        co.out_fd = to_local[1];
        co.give_fds = true;
        co.err_fd = 2;
    } else if (o->passio) {
        /* filtered: qrexec-client's -t and -T */
        bool filter[2] = { o->filter_esc, o->filter_esc || isatty(2) };
        int *dst[2] = { &co.out_fd, &co.err_fd };
        for (int i = 0; i < 2; i++) {
            *dst[i] = i + 1;
            if (!filter[i])
                continue;
            filter_fd[i] = esc_filter_start(&filters[i], i + 1);
            if (filter_fd[i] < 0) {
                print_qube_error(vm, "filter: %s", strerror(errno));
                if (i == 1)
                    esc_filter_finish(&filters[0], filter_fd[0]);
                return -1;
            }
            *dst[i] = filter_fd[i];
        }
        co.in_fd = 0;
    }
    fflush(stdout);
    fflush(stderr);
    struct qerror err = { 0 };
    int code = qrexec_client_call(&co, &err);
    for (int i = 0; i < 2; i++)
        if (filter_fd[i] >= 0)
            esc_filter_finish(&filters[i], filter_fd[i]);
    if (code < 0) {
        if (o->passio)
            fprintf(stderr, "qrexec-client: %s\n", err.message);
        code = QREXEC_EXIT_PROBLEM;
    }
    call->done = true;
    call->code = code & 0xff; /* what qrexec-client's exit status would carry */
    return 0;
}

static bool valid_service(const char *s)
{
    if (!*s || *s == '+')
        return false;
    for (; *s; s++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-", *s))
            return false;
    return true;
}

/* Starts the call in one qube; its output goes where the options say.
 * Returns 0 (call filled) or -1 after printing why. */
static int run_in_qube(const struct run_opts *o, const char *vm, bool running, bool in_process,
                       struct call *call)
{
    struct qerror err = { 0 };
    /* run_service autostarts; Start of a starting (Transient) qube answers
     * once it is up, and is a no-op on a running one, so skip it there */
    if (!running && qcall("admin.vm.Start", "", vm, "", 0, NULL, &err) < 0 &&
        !(err.kind == ERR_QUBES_VM_NOT_HALTED_ERROR)) {
        print_qube_error(vm, "%s", err.message);
        return -1;
    }
    _cleanup_buf_ struct buf service = BUF_INIT;
    _cleanup_free_ char *shell_cmd = NULL;
    bool use_exec = o->ncmd_args > 0 || o->no_shell;
    if (o->service) {
        buf_append_str(&service, o->cmd);
    } else if (use_exec) {
        /* every Qubicle qube has qubes.VMExec (the guest services are
         * dom0's), so the `vmexec` feature check of upstream always holds */
        buf_append_str(&service, "qubes.VMExec+");
        encode_for_vmexec(&service, o->cmd, o->cmd_args, o->ncmd_args);
    } else {
        buf_append_str(&service, "qubes.VMShell");
        size_t len = strlen(o->cmd);
        while (len && o->cmd[len - 1] == '\n')
            len--;
        shell_cmd = xasprintf("%.*s; exit\n", (int)len, o->cmd);
    }
    if (!valid_service(service.data)) {
        _cleanup_free_ char *r = py_repr_dup(service.data);
        print_qube_error(vm, "Invalid service name: %s", r);
        return -1;
    }
    const char *user = o->user ? o->user : "DEFAULT";
    _cleanup_free_ char *client = qubicle_program("qrexec-client");
    _cleanup_free_ char *request = xasprintf("%s:QUBESRPC %s dom0", user, service.data);
    /* wait=False of upstream: a service without I/O only needs to start */
    bool no_wait = o->service && !o->passio && !o->localcmd;
    if (in_process)
        return call_in_process(o, vm, request, no_wait, shell_cmd, call);
    char *argv[8];
    size_t k = 0;
    argv[k++] = client;
    argv[k++] = "-d";
    argv[k++] = (char *)vm;
    if (no_wait)
        argv[k++] = "-e";
    argv[k++] = request;
    argv[k] = NULL;

    int in[2], out[2] = { -1, -1 }, errp[2] = { -1, -1 };
    if (pipe2(in, O_CLOEXEC) < 0) {
        print_qube_error(vm, "pipe: %s", strerror(errno));
        return -1;
    }
    /* with -p, the output comes through us (filtered: qrexec-client's -t
     * and -T); with --localcmd, stdout goes to the local program */
    bool filter_stderr = o->filter_esc || isatty(2);
    bool pumped = o->passio && !o->localcmd;
    int child_out = -1, child_err = o->passio ? 2 : -1;
    if (o->passio) {
        if (pipe2(out, O_CLOEXEC) < 0 || (pumped && pipe2(errp, O_CLOEXEC) < 0)) {
            print_qube_error(vm, "pipe: %s", strerror(errno));
            return -1;
        }
        child_out = out[1];
        if (pumped)
            child_err = errp[1];
    }
    call->vm = vm;
    call->local = 0;
    call->client = spawn(argv, in[0], child_out, child_err);
    close(in[0]);
    if (o->passio)
        close(out[1]);
    if (pumped)
        close(errp[1]);
    if (call->client < 0) {
        print_qube_error(vm, "fork: %s", strerror(errno));
        close(in[1]);
        return -1;
    }
    if (shell_cmd)
        fd_write_all(in[1], shell_cmd, strlen(shell_cmd)); /* a failed client tells why */

    if (!o->passio) {
        close(in[1]);
        return 0;
    }
    if (o->localcmd) {
        /* the local program reads the remote stdout and feeds its stdin */
        call->local = spawn_local(o->localcmd, out[0], in[1]);
        close(out[0]);
        close(in[1]);
        return 0;
    }
    fcntl(in[1], F_SETFL, fcntl(in[1], F_GETFL) | O_NONBLOCK);
    struct channel chs[3] = {
        { .from = 0, .to = in[1], .owns_to = true },
        { .from = out[0], .to = 1, .filter = o->filter_esc, .output = true },
        { .from = errp[0], .to = 2, .filter = filter_stderr, .output = true },
    };
    size_t nch = 3;
    pump(chs, nch);
    return 0;
}

static int wait_status(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR)
            return RUN_EXIT_ERROR;
    }
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    return 128 + WTERMSIG(st);
}

/* A message between coloured output: reset the colour, print, restore. */
/* --dispvm: a new disposable of base (NULL: dom0's default_dispvm) runs the command and is
 * killed afterwards, which removes it (auto_cleanup). Exit status: the command's. */
static int run_in_disposable(struct cli *cli, const struct run_opts *o, const char *base)
{
    _cleanup_buf_ struct buf name = BUF_INIT;
    struct qerror err = { 0 };
    if (qcall("admin.vm.CreateDisposable", "", base ? base : "dom0", "", 0, &name, &err) < 0)
        return cli_error(cli, "%s", err.message);
    signal(SIGPIPE, SIG_IGN);
    struct call call = { 0 };
    int rc = run_in_qube(o, name.data, false, true, &call);
    if (rc == 0)
        rc = call.done ? call.code : wait_status(call.client);
    else
        rc = RUN_EXIT_ERROR;
    if (call.local) {
        int code = wait_status(call.local);
        rc = code > rc ? code : rc;
    }
    if (qcall("admin.vm.Kill", "", name.data, "", 0, NULL, &err) < 0 &&
        !(err.kind == ERR_QUBES_VM_NOT_STARTED_ERROR))
        print_qube_error(name.data, "cannot kill the disposable: %s", err.message);
    return rc;
}

static void print_no_color(const char *colour, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void print_no_color(const char *colour, const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    if (colour && *colour)
        fputs("\033[0m", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    if (colour && *colour)
        fprintf(stderr, "\033[0;%sm", colour);
    fputc('\n', stderr);
}

static bool is_internal(const char *vm)
{
    struct qerror err = { 0 };
    _cleanup_buf_ struct buf value = BUF_INIT;
    if (qcall("admin.vm.feature.Get", "internal", vm, "", 0, &value, &err) < 0)
        return false;
    return value.len > 0;
}

int qvm_run_main(int argc, char **argv)
{
    struct cli cli = { .prog = "qvm-run", .usage = usage, .help = help, .verbose = 1 };
    enum {
        OPT_LOCALCMD = 0x100,
        OPT_GUI,
        OPT_NO_GUI,
        OPT_COLOUR_OUT,
        OPT_COLOUR_ERR,
        OPT_NO_COLOUR_OUT,
        OPT_NO_COLOUR_ERR,
        OPT_FILTER,
        OPT_NO_FILTER,
        OPT_SERVICE,
        OPT_NO_SHELL,
        OPT_DISPVM
    };
    static const struct option longopts[] = {
        { "user", required_argument, NULL, 'u' },
        { "autostart", no_argument, NULL, 'a' },
        { "auto", no_argument, NULL, 'a' },
        { "no-autostart", no_argument, NULL, 'n' },
        { "no-auto", no_argument, NULL, 'n' },
        { "pass-io", no_argument, NULL, 'p' },
        { "localcmd", required_argument, NULL, OPT_LOCALCMD },
        { "gui", no_argument, NULL, OPT_GUI },
        { "no-gui", no_argument, NULL, OPT_NO_GUI },
        { "nogui", no_argument, NULL, OPT_NO_GUI },
        { "colour-output", required_argument, NULL, OPT_COLOUR_OUT },
        { "color-output", required_argument, NULL, OPT_COLOUR_OUT },
        { "colour-stderr", required_argument, NULL, OPT_COLOUR_ERR },
        { "color-stderr", required_argument, NULL, OPT_COLOUR_ERR },
        { "no-colour-output", no_argument, NULL, OPT_NO_COLOUR_OUT },
        { "no-color-output", no_argument, NULL, OPT_NO_COLOUR_OUT },
        { "no-colour-stderr", no_argument, NULL, OPT_NO_COLOUR_ERR },
        { "no-color-stderr", no_argument, NULL, OPT_NO_COLOUR_ERR },
        { "filter-escape-chars", no_argument, NULL, OPT_FILTER },
        { "no-filter-escape-chars", no_argument, NULL, OPT_NO_FILTER },
        { "service", no_argument, NULL, OPT_SERVICE },
        { "no-shell", no_argument, NULL, OPT_NO_SHELL },
        { "dispvm", optional_argument, NULL, OPT_DISPVM },
        CLI_TARGETS_LONGOPTS,
        CLI_COMMON_LONGOPTS,
    };
    struct run_opts o = { .autostart = true, .filter_esc = isatty(1) };
    _cleanup_targets_ struct cli_targets targets = { 0 };
    int gui = -1;
    bool dispvm = false;
    const char *dispvm_base = NULL;
    /* Options stop at COMMAND: what follows it is the command's (argparse's
     * REMAINDER). They may come before and after VMNAME. POSIXLY_CORRECT
     * makes getopt stop at the first positional instead of permuting. */
    setenv("POSIXLY_CORRECT", "1", 1);
    char *positional[2];
    size_t npos = 0;
    const char *last_optarg = NULL;
    for (;;) {
        int c = cli_getopt(&cli, argc, argv, "u:anp" CLI_COMMON_SHORTOPTS, longopts);
        if (c == -1) {
            /* "--" ends the options (unless it was an option's value) */
            bool dashdash = optind > 1 && strcmp(argv[optind - 1], "--") == 0 &&
                            last_optarg != argv[optind - 1];
            size_t need = (targets.all || dispvm) ? 1 : 2;
            if (optind >= argc)
                break;
            if (dashdash) {
                while (npos < need && optind < argc)
                    positional[npos++] = argv[optind++];
                break;
            }
            positional[npos++] = argv[optind++];
            if (npos >= need)
                break;
            continue;
        }
        if (c == 'u' || c == OPT_LOCALCMD || c == OPT_COLOUR_OUT || c == OPT_COLOUR_ERR ||
            c == CLI_OPT_EXCLUDE || c == OPT_DISPVM)
            last_optarg = optarg;
        switch (c) {
        case 'u': o.user = optarg; break;
        case 'a': o.autostart = true; break;
        case 'n': o.autostart = false; break;
        case 'p': o.passio = true; break;
        case OPT_LOCALCMD: o.localcmd = optarg; break;
        case OPT_GUI: gui = 1; break;
        case OPT_NO_GUI: gui = 0; break;
        case OPT_COLOUR_OUT: o.color_output = optarg; break;
        case OPT_COLOUR_ERR: o.color_stderr = optarg; break;
        case OPT_NO_COLOUR_OUT: o.color_output = ""; break;
        case OPT_NO_COLOUR_ERR: o.color_stderr = ""; break;
        case OPT_FILTER: o.filter_esc = true; break;
        case OPT_NO_FILTER: o.filter_esc = false; break;
        case OPT_SERVICE: o.service = true; break;
        case OPT_NO_SHELL: o.no_shell = true; break;
        case OPT_DISPVM:
            dispvm = true;
            dispvm_base = optarg;
            break;
        case CLI_OPT_ALL:
        case CLI_OPT_EXCLUDE: cli_targets_option(&targets, c, optarg); break;
        default: cli_usage_error(&cli, "unrecognized arguments: %s", argv[optind - 1]);
        }
    }
    unsetenv("POSIXLY_CORRECT");
    if (dispvm && targets.all)
        cli_usage_error(&cli, "argument --all: not allowed with argument --dispvm");
    size_t need = (targets.all || dispvm) ? 1 : 2;
    if (npos < need)
        cli_usage_error(&cli, "the following arguments are required: %s",
                        npos || targets.all ? "COMMAND" : "VMNAME, COMMAND");
    o.cmd = positional[need - 1];
    o.cmd_args = argv + optind;
    o.ncmd_args = (size_t)(argc - optind);
    if (!dispvm)
        cli_targets_resolve(&cli, &targets, targets.all ? NULL : positional, targets.all ? 0 : 1,
                            NULL, NULL);

    if (o.passio) {
        if (!o.color_output && o.filter_esc)
            o.color_output = "31";
        if (!o.color_stderr && isatty(2))
            o.color_stderr = "31";
    }
    if (targets.nsel > 1 && o.passio && !o.localcmd)
        cli_usage_error(&cli, "--passio cannot be used when more than 1 qube is chosen and no "
                              "--localcmd is used");
    if (o.localcmd && !o.passio)
        cli_usage_error(&cli, "--localcmd have no effect without --pass-io");
    if (o.color_output && *o.color_output && !o.filter_esc)
        cli_usage_error(&cli, "--color-output must be used with --filter-escape-chars");
    if (o.service && o.no_shell)
        cli_usage_error(&cli, "--no-shell does not apply to --service");
    if (gui == 1)
        return cli_error(&cli, "GUI not available yet");
    for (size_t i = 0; i < targets.nsel; i++) {
        if (strcmp(targets.vms[targets.sel[i]].klass, "AdminVM") == 0)
            return cli_error(&cli, "running commands in dom0 is not supported");
    }
    o.verbose = cli.verbose - cli.quiet - (o.passio ? 1 : 0);
    if (dispvm)
        return run_in_disposable(&cli, &o, dispvm_base);
    const char *cerr = o.color_stderr;

    /* --all: the running qubes only, not internal ones, not paused ones */
    size_t nvms = 0;
    _cleanup_free_ const struct vm_entry **vms = xcalloc(targets.nsel + 1, sizeof(*vms));
    for (size_t i = 0; i < targets.nsel; i++) {
        const struct vm_entry *vm = &targets.vms[targets.sel[i]];
        if (targets.all && (!power_state_is_running(vm->state) ||
                            strcmp(vm->state, "Paused") == 0 || is_internal(vm->name)))
            continue;
        vms[nvms++] = vm;
    }

    signal(SIGPIPE, SIG_IGN);
    if (o.color_output && *o.color_output) {
        printf("\033[0;%sm", o.color_output);
        fflush(stdout);
    }
    if (cerr && *cerr) {
        fprintf(stderr, "\033[0;%sm", cerr);
        fflush(stderr);
    }
    int rc = 0;
    _cleanup_free_ struct call *calls = xcalloc(nvms + 1, sizeof(*calls));
    size_t ncalls = 0;
    for (size_t i = 0; i < nvms; i++) {
        const struct vm_entry *vm = vms[i];
        _cleanup_free_ char *state = qube_power_state(vm->name);
        if (!o.autostart && !power_state_is_running(state)) {
            if (o.verbose > 0)
                print_no_color(cerr, "Qube '%s' not started", vm->name);
            rc = rc > 1 ? rc : 1;
            continue;
        }
        if (strcmp(state, "Paused") == 0) {
            struct qerror err = { 0 };
            if (!o.autostart) {
                if (o.verbose > 0)
                    print_no_color(cerr, "Qube '%s' is paused", vm->name);
                rc = rc > 1 ? rc : 1;
                continue;
            }
            if (qcall("admin.vm.Unpause", "", vm->name, "", 0, NULL, &err) < 0) {
                if (o.verbose > 0)
                    print_no_color(cerr, "Qube '%s' cannot be unpaused", vm->name);
                rc = rc > 1 ? rc : 1;
                continue;
            }
        }
        if (o.verbose > 0)
            print_no_color(cerr, "Running '%s' on %s", o.cmd, vm->name);
        bool running = strcmp(state, "Running") == 0 || strcmp(state, "Paused") == 0;
        /* one qube: no qrexec-client process (a fork+exec saved); several
         * run at once, each in its own qrexec-client */
        if (run_in_qube(&o, vm->name, running, nvms == 1, &calls[ncalls]) < 0) {
            rc = RUN_EXIT_ERROR;
            break;
        }
        ncalls++;
    }
    for (size_t i = 0; i < ncalls; i++) {
        int code = calls[i].done ? calls[i].code : wait_status(calls[i].client);
        if (code && o.verbose > 0)
            print_no_color(cerr, "%s: command failed with code: %d", calls[i].vm, code);
        rc = code > rc ? code : rc;
        if (calls[i].local) {
            code = wait_status(calls[i].local);
            rc = code > rc ? code : rc;
        }
    }
    if (o.color_output && *o.color_output) {
        printf("\033[0m");
        fflush(stdout);
    }
    if (cerr && *cerr) {
        fprintf(stderr, "\033[0m");
        fflush(stderr);
    }
    return rc;
}
