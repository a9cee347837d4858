/* qvm-shutdown: ask qubes to shut down; with --wait, wait until they are
 * halted and kill what is still up after --timeout. All requests of a round
 * go out at once; a qube refused because others depend on it (its netvm
 * clients) is retried in the next round, after those are down (upstream). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cleanup.h"
#include "common/mono_time.h"
#include "tools/batch_call.h"
#include "tools/cli.h"
#include "tools/lifecycle_util.h"
#include "tools/tools.h"

static const char usage[] =
    "usage: qvm-shutdown [--verbose] [--quiet] [--help] [--all] [--exclude EXCLUDE]\n"
    "                    [--wait] [--timeout TIMEOUT] [--force] [--dry-run]\n"
    "                    [VMNAME ...]";

static const char help[] =
    "\nShutdown a qube\n\n"
    "positional arguments:\n"
    "  VMNAME                one or more domain names\n\n"
    "options:\n" CLI_HELP_COMMON_OPTIONS CLI_HELP_TARGETS
    "  --wait                wait for the VMs to shut down\n"
    "  --timeout TIMEOUT     timeout after which domains are killed when using --wait\n"
    "                        (default: 60); implies --wait\n"
    "  --force               force shutdown regardless of connected domains; use with\n"
    "                        caution\n"
    "  --dry-run             don't really shutdown or kill the domains; useful with --wait\n";

static void sleep_s(double s)
{
    struct timespec ts = { .tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9) };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Marks in halted[] the qubes of names[] that are Halted (or gone). */
static void mark_halted(char **names, size_t n, bool *halted)
{
    struct vm_entry *vms = NULL;
    size_t nvms = 0;
    struct qerror err = { 0 };
    if (vm_list("dom0", &vms, &nvms, &err) < 0)
        return;
    for (size_t i = 0; i < n; i++) {
        const struct vm_entry *vm = vm_list_find(vms, nvms, names[i]);
        halted[i] = !vm || strcmp(vm->state, "Halted") == 0;
    }
    vm_list_free(vms, nvms);
}

/* Waits until every qube in names[] is halted or timeout seconds passed;
 * true when all are. halted[] tells which. */
static bool wait_halted(char **names, size_t n, double timeout, bool *halted)
{
    double deadline = (double)mono_ns() / 1e9 + timeout, pause = 0.02;
    for (;;) {
        mark_halted(names, n, halted);
        bool all = true;
        for (size_t i = 0; i < n; i++)
            all = all && halted[i];
        if (all)
            return true;
        double left = deadline - (double)mono_ns() / 1e9;
        if (left <= 0)
            return false;
        sleep_s(pause < left ? pause : left);
        pause = pause * 2 < 0.2 ? pause * 2 : 0.2;
    }
}

/* One admin call per qube, all at once; the answers are in calls[]. */
static struct batch_call *call_each(const char *method, const char *arg, char **names, size_t n)
{
    struct batch_call *calls = xcalloc(n + 1, sizeof(*calls));
    for (size_t i = 0; i < n; i++) {
        calls[i].method = method;
        calls[i].arg = arg;
        calls[i].dest = names[i];
    }
    batch_run(calls, n);
    return calls;
}

static void free_calls(struct batch_call *calls, size_t n)
{
    batch_free(calls, n);
    free(calls);
}

int qvm_shutdown_main(int argc, char **argv)
{
    struct cli cli = { .prog = "qvm-shutdown", .usage = usage, .help = help, .verbose = 1 };
    enum { OPT_WAIT = 0x100, OPT_TIMEOUT, OPT_FORCE, OPT_DRY_RUN };
    static const struct option longopts[] = {
        { "wait", no_argument, NULL, OPT_WAIT },
        { "timeout", required_argument, NULL, OPT_TIMEOUT },
        { "force", no_argument, NULL, OPT_FORCE },
        { "dry-run", no_argument, NULL, OPT_DRY_RUN },
        CLI_TARGETS_LONGOPTS,
        CLI_COMMON_LONGOPTS,
    };
    _cleanup_targets_ struct cli_targets targets = { 0 };
    bool wait = false, force = false, dry_run = false;
    double timeout = 60;
    int c;
    while ((c = cli_getopt(&cli, argc, argv, CLI_COMMON_SHORTOPTS, longopts)) != -1) {
        switch (c) {
        case OPT_WAIT: wait = true; break;
        case OPT_TIMEOUT: {
            char *end;
            errno = 0;
            timeout = strtod(optarg, &end);
            if (errno || end == optarg || *end || timeout != timeout)
                cli_usage_error(&cli, "argument --timeout: invalid float value: '%s'", optarg);
            wait = true;
            break;
        }
        case OPT_FORCE: force = true; break;
        case OPT_DRY_RUN: dry_run = true; break;
        case CLI_OPT_ALL:
        case CLI_OPT_EXCLUDE: cli_targets_option(&targets, c, optarg); break;
        default: cli_usage_error(&cli, "unrecognized arguments: %s", argv[optind - 1]);
        }
    }
    cli_targets_resolve(&cli, &targets, argv + optind, (size_t)(argc - optind), NULL, NULL);
    /* --all shuts down netvms together with their clients */
    force = force || targets.all;
    size_t n = targets.nsel;
    _cleanup_free_ char **all = xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        all[i] = targets.vms[targets.sel[i]].name;

    _cleanup_free_ char **round = xcalloc(n + 1, sizeof(char *));
    _cleanup_free_ char **again = xcalloc(n + 1, sizeof(char *));
    _cleanup_free_ bool *halted = xcalloc(n + 1, sizeof(bool));
    size_t nround = n;
    memcpy(round, all, n * sizeof(char *));
    for (size_t r = 0; r < n && nround; r++) {
        size_t nagain = 0, ndone = 0;
        if (!dry_run) {
            struct batch_call *calls =
                call_each("admin.vm.Shutdown", force ? "force" : "", round, nround);
            for (size_t i = 0; i < nround; i++) {
                if (calls[i].status == 0 || (calls[i].err->kind == ERR_QUBES_VM_NOT_STARTED_ERROR))
                    round[ndone++] = round[i];
                else if (!wait)
                    print_qube_error(round[i], "Shutdown error: %s", calls[i].err->message);
                else
                    again[nagain++] = round[i];
            }
            free_calls(calls, nround);
        } else {
            ndone = nround;
        }
        if (!wait)
            return 0;
        if (!ndone)
            break; /* no request succeeded: trying again changes nothing */
        if (!wait_halted(round, ndone, timeout, halted) && !dry_run) {
            size_t nkill = 0;
            _cleanup_buf_ struct buf names = BUF_INIT;
            for (size_t i = 0; i < ndone; i++) {
                if (!halted[i]) {
                    buf_printf(&names, "%s%s", nkill ? ", " : "", round[i]);
                    round[nkill++] = round[i];
                }
            }
            cli_info(&cli, "Killing remaining qubes: %s", names.data);
            struct batch_call *calls = call_each("admin.vm.Kill", "", round, nkill);
            for (size_t i = 0; i < nkill; i++) {
                if (calls[i].status < 0 &&
                    !(calls[i].err->kind == ERR_QUBES_VM_NOT_STARTED_ERROR)) {
                    int rc = cli_qerror(&cli, calls[i].err);
                    free_calls(calls, nkill);
                    return rc;
                }
            }
            free_calls(calls, nkill);
        }
        memcpy(round, again, nagain * sizeof(char *));
        nround = nagain;
    }

    mark_halted(all, n, halted);
    _cleanup_buf_ struct buf failed = BUF_INIT;
    int nfailed = 0;
    for (size_t i = 0; i < n; i++) {
        if (!halted[i]) {
            buf_printf(&failed, "%s%s", nfailed ? ", " : "", all[i]);
            nfailed++;
        }
    }
    if (nfailed) {
        cli_error(&cli, "Failed to shut down: %s", failed.data);
        return nfailed;
    }
    return 0;
}
