/* fork/exec of the process behind a qrexec call, with the user switch done in the child
 * and an O_CLOEXEC pipe that tells the parent whether execve was reached. */
#include "qrexec/exec.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qrexec/qrexec_proto.h"

int qrexec_status_to_code(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return QREXEC_EXIT_PROBLEM;
}

/* In the child: report why we give up, then exit with that code. */
__attribute__((noreturn, format(printf, 4, 5))) static void
child_fail(int report_fd, int code, int errnum, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n < sizeof(msg) && errnum)
        snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s", strerror(errnum));
    dprintf(STDERR_FILENO, "qrexec: %s\n", msg);
    unsigned char c = (unsigned char)code;
    if (write(report_fd, &c, 1) < 0) {
        /* nothing left to tell anyone */
    }
    _exit(code);
}

static void close_from(int lowfd, int keep)
{
#ifdef SYS_close_range
    if (keep < lowfd) {
        if (syscall(SYS_close_range, (unsigned)lowfd, ~0u, 0) == 0)
            return;
    }
#endif
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536)
        max = 65536;
    for (int fd = lowfd; fd < max; fd++)
        if (fd != keep)
            close(fd);
}

static void switch_user(const char *user, int report_fd)
{
    struct passwd *pw = getpwnam(user);
    if (getuid() == 0 && geteuid() == 0) {
        if (!pw)
            child_fail(report_fd, QREXEC_EXIT_PROBLEM, 0, "unknown user '%s'", user);
        if (initgroups(pw->pw_name, pw->pw_gid) < 0)
            child_fail(report_fd, QREXEC_EXIT_PROBLEM, errno, "initgroups for '%s'", user);
        if (setgid(pw->pw_gid) < 0)
            child_fail(report_fd, QREXEC_EXIT_PROBLEM, errno, "setgid for '%s'", user);
        if (setuid(pw->pw_uid) < 0)
            child_fail(report_fd, QREXEC_EXIT_PROBLEM, errno, "setuid for '%s'", user);
        if (pw->pw_uid != 0 && (setuid(0) == 0 || geteuid() == 0))
            child_fail(report_fd, QREXEC_EXIT_PROBLEM, 0, "could not drop root for '%s'", user);
    } else if (!pw || pw->pw_uid != getuid()) {
        child_fail(report_fd, QREXEC_EXIT_PROBLEM, 0, "cannot run as user '%s' without root", user);
    }
    setenv("HOME", pw->pw_dir, 1);
    setenv("USER", pw->pw_name, 1);
    setenv("LOGNAME", pw->pw_name, 1);
    setenv("SHELL", pw->pw_shell && *pw->pw_shell ? pw->pw_shell : "/bin/sh", 1);
    if (chdir(pw->pw_dir) < 0 && chdir("/") < 0) {
        /* a process can run without a working directory it can enter */
    }
}

__attribute__((noreturn)) static void child_run(const struct qrexec_spawn_opts *opts, int in[2],
                                                int out[2], int errp[2], int report_fd)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int s = 1; s < NSIG; s++)
        signal(s, SIG_DFL);
    if (opts->null_stdio) {
        int nul = open("/dev/null", O_RDWR);
        if (nul < 0)
            child_fail(report_fd, QREXEC_EXIT_PROBLEM, errno, "open %s", "/dev/null");
        if (dup2(nul, 0) < 0 || dup2(nul, 1) < 0 || dup2(nul, 2) < 0)
            _exit(QREXEC_EXIT_PROBLEM);
        if (nul > 2)
            close(nul);
    } else {
        if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0)
            _exit(QREXEC_EXIT_PROBLEM);
        if (!opts->stderr_inherit && dup2(errp[1], 2) < 0)
            _exit(QREXEC_EXIT_PROBLEM);
    }
    /* the report pipe is O_CLOEXEC and must survive until execve */
    if (report_fd != 3) {
        if (dup3(report_fd, 3, O_CLOEXEC) < 0)
            _exit(QREXEC_EXIT_PROBLEM);
        report_fd = 3;
    }
    close_from(4, -1);
    setsid();
    if (opts->envp)
        environ = (char **)opts->envp;
    if (opts->user)
        switch_user(opts->user, report_fd);
    if (opts->search_path)
        execvpe(opts->path, opts->argv, environ);
    else
        execve(opts->path, opts->argv, environ);
    int e = errno;
    child_fail(report_fd, e == ENOENT ? QREXEC_EXIT_SERVICE_NOT_FOUND : QREXEC_EXIT_PROBLEM, e,
               "cannot execute %s", opts->path);
}

int qrexec_spawn(const struct qrexec_spawn_opts *opts, struct qrexec_child *child,
                 struct qerror *err)
{
    int in[2] = { -1, -1 }, out[2] = { -1, -1 }, errp[2] = { -1, -1 }, rep[2] = { -1, -1 };
    child->pid = -1;
    child->stdin_fd = child->stdout_fd = child->stderr_fd = -1;
    if (pipe2(rep, O_CLOEXEC) < 0)
        return qerror_errno(err, errno, "pipe");
    if (!opts->null_stdio) {
        if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
            (!opts->stderr_inherit && pipe2(errp, O_CLOEXEC) < 0)) {
            int e = errno;
            int all[] = { in[0], in[1], out[0], out[1], errp[0], errp[1], rep[0], rep[1] };
            for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
                if (all[i] >= 0)
                    close(all[i]);
            return qerror_errno(err, e, "pipe");
        }
    }
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        int all[] = { in[0], in[1], out[0], out[1], errp[0], errp[1], rep[0], rep[1] };
        for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
            if (all[i] >= 0)
                close(all[i]);
        return qerror_errno(err, e, "fork");
    }
    if (pid == 0) {
        close(rep[0]);
        child_run(opts, in, out, errp, rep[1]);
    }
    close(rep[1]);
    if (in[0] >= 0)
        close(in[0]);
    if (out[1] >= 0)
        close(out[1]);
    if (errp[1] >= 0)
        close(errp[1]);

    unsigned char code = 0;
    ssize_t n;
    do {
        n = read(rep[0], &code, 1);
    } while (n < 0 && errno == EINTR);
    close(rep[0]);
    if (n == 1) {
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        /* the child said why on its stderr: the caller may still forward that pipe */
        child->stdout_fd = out[0];
        child->stderr_fd = errp[0];
        child->stdin_fd = in[1];
        child->pid = -1;
        return code ? code : QREXEC_EXIT_PROBLEM;
    }
    child->pid = pid;
    child->stdin_fd = in[1];
    child->stdout_fd = out[0];
    child->stderr_fd = errp[0];
    return 0;
}
