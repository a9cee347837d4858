/* qrexec-policy-agent: answers the policy's `ask` (upstream: policy.Ask in the GUI qube)
 * and tells the user of calls the policy denied (policy.Notify). It connects to qubesd's
 * run/qubes/policy-agent.sock and, for each request, shows the candidates on the terminal
 * and reads a choice, or answers from --answer for scripts; a notification is printed as
 * upstream's desktop notification reads ("Denied: S", "Denied S+A from Q to T").
 *
 * From qubesd, blocks of key=value lines ending with an empty line:
 *   ask:     id=N  source=Q  service=S  argument=+A  targets=T1 T2 ...  default_target=T
 *   notify:  resolution=deny|allow|fail  source=Q  service=S  argument=+A  target=T
 * Answers (to asks only):  id=N  answer=allow:TARGET | answer=deny */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/parse.h"
#include "common/root.h"
#include "common/unix_socket.h"

#define REQUEST_MAX 65536
#define MAX_TARGETS 4096

struct ask {
    char *id, *source, *service, *argument, *default_target;
    char *targets_text;
    char *targets[MAX_TARGETS];
    size_t n_targets;
};

struct notification {
    char *resolution, *source, *service, *argument, *target;
};

static void usage(FILE *f)
{
    fprintf(f, "usage: qrexec-policy-agent [--answer ANSWER]... [--count N]\n"
               "Answers the qrexec policy's 'ask' for the qubesd of $QUBES_ROOT: each request\n"
               "lists the targets the caller may get; choose one by number or name, or deny.\n"
               "Calls the policy denied are shown as they happen (Qubes' notifications).\n"
               "  --answer ANSWER  answer without asking: 'allow' (the default target, or the\n"
               "                   only candidate), 'allow:TARGET' or 'deny'; given several\n"
               "                   times, one per request in order, the last one for the rest\n"
               "  --count N        exit after N requests\n"
               "  -h, --help       this text\n");
}

static bool is_candidate(const struct ask *a, const char *t)
{
    for (size_t i = 0; i < a->n_targets; i++)
        if (strcmp(a->targets[i], t) == 0)
            return true;
    return false;
}

/* A block's key=value lines into the slots named by keys (slots[i] for keys[i], NULL if
 * absent). -1: a line without '=', an unknown key or one given twice. Values point into
 * block. */
static int parse_fields(char *block, const char *const *keys, char **const *slots, size_t n)
{
    for (size_t i = 0; i < n; i++)
        *slots[i] = NULL;
    for (char *save = NULL, *line = strtok_r(block, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');
        if (!eq)
            return -1;
        *eq = '\0';
        size_t i = 0;
        while (i < n && strcmp(line, keys[i]) != 0)
            i++;
        if (i == n || *slots[i])
            return -1;
        *slots[i] = eq + 1;
    }
    return 0;
}

static int parse_ask(char *block, struct ask *a)
{
    static const char *const keys[] = { "id",       "source",  "service",
                                        "argument", "targets", "default_target" };
    memset(a, 0, sizeof(*a));
    char **const slots[] = { &a->id,       &a->source,       &a->service,
                             &a->argument, &a->targets_text, &a->default_target };
    if (parse_fields(block, keys, slots, 6) < 0 || !a->id || !a->source || !a->service ||
        !a->argument || !a->targets_text)
        return -1;
    for (char *save = NULL, *t = strtok_r(a->targets_text, " ", &save); t;
         t = strtok_r(NULL, " ", &save)) {
        if (a->n_targets == MAX_TARGETS)
            return -1;
        a->targets[a->n_targets++] = t;
    }
    if (a->default_target && !*a->default_target)
        a->default_target = NULL;
    return a->n_targets ? 0 : -1;
}

static int parse_notification(char *block, struct notification *n)
{
    static const char *const keys[] = { "resolution", "source", "service", "argument", "target" };
    char **const slots[] = { &n->resolution, &n->source, &n->service, &n->argument, &n->target };
    if (parse_fields(block, keys, slots, 5) < 0 || !n->resolution || !n->source || !n->service ||
        !n->argument || !n->target)
        return -1;
    return strcmp(n->resolution, "allow") == 0 || strcmp(n->resolution, "deny") == 0 ||
                   strcmp(n->resolution, "fail") == 0
               ? 0
               : -1;
}

/* Only printable ASCII reaches the terminal. */
static void put_clean(const char *s)
{
    for (; *s; s++)
        putchar(*s >= 0x20 && *s < 0x7f ? *s : '_');
}

/* Upstream's summary and body: the service alone, then the call with its argument
 * (none shown for "+") from the source to the target. */
static void show_notification(const struct notification *n)
{
    static const char *const heads[][2] = { { "allow", "Allowed" },
                                            { "deny", "Denied" },
                                            { "fail", "Failed" } };
    const char *head = "Failed";
    for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++)
        if (strcmp(n->resolution, heads[i][0]) == 0)
            head = heads[i][1];
    bool fail = strcmp(n->resolution, "fail") == 0;
    printf("\n%s: ", head);
    put_clean(n->service);
    printf("\n%s ", fail ? "Failed to execute" : head);
    put_clean(n->service);
    if (strcmp(n->argument, "+") != 0)
        put_clean(n->argument);
    printf(fail ? " (from " : " from ");
    put_clean(n->source);
    printf(" to ");
    put_clean(n->target);
    printf(fail ? ")\n" : "\n");
    fflush(stdout);
}

/* The scripted answer for this request: "allow:T" or "deny" (heap). */
static char *scripted(const struct ask *a, const char *spec)
{
    if (strcmp(spec, "allow") == 0) {
        const char *t = a->default_target   ? a->default_target
                        : a->n_targets == 1 ? a->targets[0]
                                            : NULL;
        return t ? xasprintf("allow:%s", t) : xstrdup("deny");
    }
    if (strncmp(spec, "allow:", 6) == 0)
        return xstrdup(spec);
    return xstrdup("deny");
}

/* Asks on the terminal until the answer is a candidate or deny. */
static char *prompt(const struct ask *a)
{
    FILE *in = stdin;
    for (;;) {
        printf("Choose a target (number or name), or 'deny'");
        if (a->default_target)
            printf(" [%s]", a->default_target);
        printf(": ");
        fflush(stdout);
        char line[512];
        if (!fgets(line, sizeof(line), in))
            return xstrdup("deny");
        line[strcspn(line, "\r\n")] = '\0';
        if (!*line && a->default_target)
            return xasprintf("allow:%s", a->default_target);
        if (strcmp(line, "deny") == 0 || strcmp(line, "d") == 0)
            return xstrdup("deny");
        long long n;
        if (parse_ll(line, 1, (long long)a->n_targets, 0, &n) == 0)
            return xasprintf("allow:%s", a->targets[n - 1]);
        if (is_candidate(a, line))
            return xasprintf("allow:%s", line);
        printf("'%s' is not one of the targets.\n", line);
    }
}

static void show(const struct ask *a)
{
    printf("\nqrexec: %s asks for %s (argument %s)\n", a->source, a->service,
           strcmp(a->argument, "+") == 0 ? "none" : a->argument + 1);
    for (size_t i = 0; i < a->n_targets; i++)
        printf("  %zu) %s%s\n", i + 1, a->targets[i],
               a->default_target && strcmp(a->default_target, a->targets[i]) == 0 ? " (default)"
                                                                                  : "");
    fflush(stdout);
}

static int connect_service(void)
{
    _cleanup_free_ char *path = qroot_path("run/qubes/policy-agent.sock");
    int fd = unix_connect(path, 0, NULL);
    if (fd < 0 && errno == ENAMETOOLONG)
        fprintf(stderr, "qrexec-policy-agent: socket path too long\n");
    else if (fd < 0)
        fprintf(stderr, "qrexec-policy-agent: cannot connect to %s: %s\n", path, strerror(errno));
    return fd;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "answer", required_argument, NULL, 'a' },
        { "count", required_argument, NULL, 'c' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char **answers = xcalloc((size_t)argc, sizeof(*answers));
    size_t n_answers = 0;
    long count = -1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'a':
            if (strcmp(optarg, "allow") != 0 && strcmp(optarg, "deny") != 0 &&
                (strncmp(optarg, "allow:", 6) != 0 || !optarg[6])) {
                fprintf(stderr, "qrexec-policy-agent: invalid --answer '%s'\n", optarg);
                return 2;
            }
            answers[n_answers++] = optarg;
            break;
        case 'c': {
            long long v;
            if (parse_ll(optarg, 1, LONG_MAX, 0, &v) < 0) {
                fprintf(stderr, "qrexec-policy-agent: invalid --count '%s'\n", optarg);
                return 2;
            }
            count = (long)v;
            break;
        }
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    int fd = connect_service();
    if (fd < 0)
        return 1;
    printf("qrexec-policy-agent: waiting for requests\n");
    fflush(stdout);
    struct buf in = BUF_INIT;
    size_t served = 0;
    char chunk[4096];
    while (count < 0 || (long)served < count) {
        char *end = in.len ? strstr(in.data, "\n\n") : NULL;
        if (!end) {
            ssize_t n = read(fd, chunk, sizeof(chunk));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0 || memchr(chunk, '\0', (size_t)n) || in.len + (size_t)n > REQUEST_MAX) {
                fprintf(stderr, "qrexec-policy-agent: %s\n",
                        n <= 0 ? "qubesd closed the connection" : "malformed request");
                return 1;
            }
            buf_append(&in, chunk, (size_t)n);
            continue;
        }
        size_t len = (size_t)(end - in.data);
        _cleanup_free_ char *block = xstrndup(in.data, len);
        buf_consume(&in, len + 2);
        if (strncmp(block, "resolution=", 11) == 0) {
            struct notification note;
            if (parse_notification(block, &note) < 0) {
                fprintf(stderr, "qrexec-policy-agent: malformed notification\n");
                return 1;
            }
            show_notification(&note);
            continue;
        }
        struct ask a;
        if (parse_ask(block, &a) < 0) {
            fprintf(stderr, "qrexec-policy-agent: malformed request\n");
            return 1;
        }
        show(&a);
        _cleanup_free_ char *answer =
            n_answers ? scripted(&a, answers[served < n_answers ? served : n_answers - 1])
                      : prompt(&a);
        printf("answer: %s\n", answer);
        fflush(stdout);
        _cleanup_buf_ struct buf out = BUF_INIT;
        buf_printf(&out, "id=%s\nanswer=%s\n\n", a.id, answer);
        if (write(fd, out.data, out.len) != (ssize_t)out.len) {
            fprintf(stderr, "qrexec-policy-agent: cannot answer: %s\n", strerror(errno));
            return 1;
        }
        served++;
    }
    buf_free(&in);
    free(answers);
    close(fd);
    return 0;
}
