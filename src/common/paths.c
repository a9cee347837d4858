/* Locating helper and guest programs. */
#include "common/paths.h"

#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "config.h"

static char *exe_dir(void)
{
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return xstrdup(".");
    exe[n] = '\0';
    *strrchr(exe, '/') = '\0';
    return xstrdup(exe);
}

char *qubicle_program(const char *name)
{
    _cleanup_free_ char *dir = exe_dir();
    char *beside = xasprintf("%s/%s", dir, name);
    if (access(beside, X_OK) == 0)
        return beside;
    free(beside);
    return xasprintf("%s/%s", QUBICLE_LIBEXECDIR, name);
}

char *qubicle_guest_dir(void)
{
    _cleanup_free_ char *dir = exe_dir();
    char *build = xasprintf("%s/../guest", dir);
    _cleanup_free_ char *init = xasprintf("%s/qubes-init", build);
    if (access(init, X_OK) == 0)
        return build;
    free(build);
    return xstrdup(QUBICLE_GUESTDIR);
}

char *qubicle_dom0_rpc_dir(void)
{
    _cleanup_free_ char *dir = exe_dir();
    char *build = xasprintf("%s/../dom0/qubes-rpc", dir);
    if (access(build, X_OK) == 0)
        return build;
    free(build);
    return xstrdup(QUBICLE_DOM0RPCDIR);
}

char *qubicle_vm_dir(void)
{
    _cleanup_free_ char *dir = exe_dir();
    char *build = xasprintf("%s/../guest-vm", dir);
    _cleanup_free_ char *kernel = xasprintf("%s/vmlinuz", build);
    if (access(kernel, R_OK) == 0)
        return build;
    free(build);
    return xstrdup(QUBICLE_VMDIR);
}
