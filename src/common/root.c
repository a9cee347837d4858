/* Resolution of paths under the instance root. */
#include "common/root.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/buf.h"

static const char *root_override;

void qroot_set(const char *root)
{
    root_override = root;
}

const char *qroot_get(void)
{
    if (root_override)
        return root_override;
    const char *env = getenv("QUBES_ROOT");
    return env && *env ? env : "/";
}

char *qroot_path(const char *rel)
{
    const char *root = qroot_get();
    size_t n = strlen(root);
    while (n > 1 && root[n - 1] == '/')
        n--;
    if (n == 1 && root[0] == '/')
        return xasprintf("/%s", rel);
    return xasprintf("%.*s/%s", (int)n, root, rel);
}

int qroot_mkdirs(const char *rel, unsigned mode)
{
    char *path = qroot_path(rel);
    int rc = 0;
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(path, mode) < 0 && errno != EEXIST) {
            rc = -1;
            *p = saved;
            break;
        }
        *p = saved;
        if (!saved)
            break;
    }
    int saved_errno = errno;
    free(path);
    errno = saved_errno;
    return rc;
}
