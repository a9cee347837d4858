/* Service lookup in the qrexec service directories and the service environment. */
#include "qrexec/service.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "qrexec/qrexec_proto.h"

static char *try_file(const char *dir, size_t dir_len, const char *name)
{
    if (strlen(name) > QREXEC_NAME_MAX)
        return NULL;
    char *p = xasprintf("%.*s/%s", (int)dir_len, dir, name);
    struct stat st;
    if (stat(p, &st) == 0)
        return p;
    free(p);
    return NULL;
}

char *qrexec_find_service(const struct qrexec_cmd *cmd, const char *path)
{
    if (!path)
        path = getenv("QREXEC_SERVICE_PATH");
    if (!path || !*path)
        path = QREXEC_DEFAULT_SERVICE_PATH;
    const char *p = path;
    while (*p) {
        const char *end = strchr(p, ':');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n > 0) {
            char *found = NULL;
            if (cmd->service_arg[0])
                found = try_file(p, n, cmd->service_full);
            if (!found)
                found = try_file(p, n, cmd->service_name);
            if (found)
                return found;
        }
        if (!end)
            break;
        p = end + 1;
    }
    return NULL;
}

char **qrexec_service_env(const struct qrexec_cmd *cmd, long agent_pid)
{
    extern char **environ;
    size_t n = 0;
    for (char **e = environ; *e; e++)
        n++;
    char **env = xcalloc(n + 8, sizeof(char *));
    size_t k = 0;
    for (char **e = environ; *e; e++)
        if (strncmp(*e, "QREXEC", 6) != 0)
            env[k++] = xstrdup(*e);
    env[k++] = xasprintf("QREXEC_SERVICE_FULL_NAME=%s", cmd->service_full);
    if (cmd->service_arg[0])
        env[k++] = xasprintf("QREXEC_SERVICE_ARGUMENT=%s", cmd->service_arg);
    env[k++] = xasprintf("QREXEC_REMOTE_DOMAIN=%s", cmd->source);
    env[k++] = xasprintf("QREXEC_AGENT_PID=%ld", agent_pid);
    if (cmd->target_type) {
        bool keyword = strcmp(cmd->target_type, "keyword") == 0;
        env[k++] = xasprintf("QREXEC_REQUESTED_TARGET_TYPE=%s", cmd->target_type);
        env[k++] =
            xasprintf("QREXEC_REQUESTED_TARGET%s=%s", keyword ? "_KEYWORD" : "", cmd->target);
    }
    env[k] = NULL;
    return env;
}

void qrexec_env_free(char **env)
{
    if (!env)
        return;
    for (char **e = env; *e; e++)
        free(*e);
    free(env);
}
