/* Upstream's message styles and power-state checks for the lifecycle tools. */
#include "tools/lifecycle_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "tools/cli.h"

void print_plain_error(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void print_qube_error(const char *qube, const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "%s: ", qube);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

bool power_state_is_running(const char *state)
{
    return strcmp(state, "Halted") != 0 && strcmp(state, "NA") != 0;
}

char *qube_power_state(const char *qube)
{
    struct vm_entry *vms = NULL;
    size_t n = 0;
    struct qerror err = { 0 };
    char *state = NULL;
    if (vm_list(qube, &vms, &n, &err) == 0) {
        const struct vm_entry *vm = vm_list_find(vms, n, qube);
        if (vm)
            state = xstrdup(vm->state);
    }
    vm_list_free(vms, n);
    return state ? state : xstrdup("NA");
}
