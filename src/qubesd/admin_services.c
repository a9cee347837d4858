/* The Admin API as qrexec services (upstream: /etc/qubes-rpc/admin.* are sockets, i.e.
 * symlinks to qubesd's socket). A qube's call of admin.vm.List, once the policy allowed it,
 * reaches dom0's qrexec, which finds run/qubes-rpc/admin.vm.List, connects and sends the
 * service descriptor "admin.vm.List+ <qube> name <target>\0" and the payload: byte for byte
 * the qubesd request, with the calling qube as its source. */
#include "qubesd/admin_services.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "common/root.h"
#include "qubesd/api.h"

struct link_ctx {
    const char *dir;
    const char *socket_path;
    int failures;
};

static void link_method(const char *name, void *ctx)
{
    struct link_ctx *l = ctx;
    /* upstream's internal.* live on qubesd.internal.sock, which no qrexec
     * service reaches: dom0's own processes only */
    if (strncmp(name, "internal.", 9) == 0)
        return;
    _cleanup_free_ char *path = xasprintf("%s/%s", l->dir, name);
    unlink(path);
    if (symlink(l->socket_path, path) < 0)
        l->failures++;
}

void admin_services_install(const char *socket_path)
{
    if (qroot_mkdirs("run/qubes-rpc", 0755) < 0) {
        log_error("cannot create run/qubes-rpc: %s", strerror(errno));
        return;
    }
    _cleanup_free_ char *dir = qroot_path("run/qubes-rpc");
    struct link_ctx l = { .dir = dir, .socket_path = socket_path };
    api_for_each_method(link_method, &l);
    if (l.failures)
        log_error("run/qubes-rpc: %d admin.* service links could not be made", l.failures);
}
