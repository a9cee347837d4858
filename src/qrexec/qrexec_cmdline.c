/* Parsing of "user:command" and "QUBESRPC service+arg source" command lines, with the
 * character sets that keep a service name from ever naming a path outside its directory. */
#include "qrexec/qrexec_cmdline.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "qrexec/qrexec_proto.h"

static bool in_set(char c, const char *extra)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr(extra, c));
}

static bool all_in_set(const char *s, size_t n, const char *extra)
{
    for (size_t i = 0; i < n; i++)
        if (!in_set(s[i], extra))
            return false;
    return true;
}

bool qrexec_user_name_ok(const char *name)
{
    size_t n = strlen(name);
    return n >= 1 && n <= 32 && name[0] != '-' && all_in_set(name, n, "._-");
}

void qrexec_cmd_free(struct qrexec_cmd *cmd)
{
    free(cmd->user);
    free(cmd->command);
    free(cmd->service_full);
    free(cmd->service_name);
    free(cmd->service_arg);
    free(cmd->source);
    free(cmd->target_type);
    free(cmd->target);
    memset(cmd, 0, sizeof(*cmd));
}

static int parse_rpc(const char *untrusted_rest, struct qrexec_cmd *cmd, struct qerror *err)
{
    const char *sp = strchr(untrusted_rest, ' ');
    size_t desc_len = sp ? (size_t)(sp - untrusted_rest) : strlen(untrusted_rest);
    if (desc_len == 0)
        return qerror_set(err, ERR_PROTOCOL_ERROR, "empty service descriptor");
    if (desc_len > QREXEC_MAX_SERVICE_NAME_LEN)
        return qerror_set(err, ERR_PROTOCOL_ERROR, "service descriptor too long");
    if (!sp)
        return qerror_set(err, ERR_PROTOCOL_ERROR, "no source domain in service call");
    const char *plus = memchr(untrusted_rest, '+', desc_len);
    size_t name_len = plus ? (size_t)(plus - untrusted_rest) : desc_len;
    if (name_len == 0 || name_len > QREXEC_NAME_MAX || !all_in_set(untrusted_rest, name_len, "._-"))
        return qerror_set(err, ERR_PROTOCOL_ERROR, "invalid service name");
    if ((name_len == 1 && untrusted_rest[0] == '.') ||
        (name_len == 2 && untrusted_rest[0] == '.' && untrusted_rest[1] == '.'))
        return qerror_set(err, ERR_PROTOCOL_ERROR, "invalid service name");
    const char *untrusted_arg = plus ? plus + 1 : untrusted_rest + desc_len;
    size_t arg_len = (size_t)(untrusted_rest + desc_len - untrusted_arg);
    if (!all_in_set(untrusted_arg, arg_len, "._+-"))
        return qerror_set(err, ERR_PROTOCOL_ERROR, "invalid service argument");

    const char *untrusted_src = sp + 1;
    const char *sp2 = strchr(untrusted_src, ' ');
    size_t src_len = sp2 ? (size_t)(sp2 - untrusted_src) : strlen(untrusted_src);
    if (src_len == 0 || src_len > 64 || !all_in_set(untrusted_src, src_len, "._-@:"))
        return qerror_set(err, ERR_PROTOCOL_ERROR, "invalid source domain");
    /* dom0's services also learn what the caller asked for: "name T" or "keyword T" */
    const char *untrusted_type = sp2 ? sp2 + 1 : NULL;
    const char *sp3 = untrusted_type ? strchr(untrusted_type, ' ') : NULL;
    if (untrusted_type) {
        size_t type_len = sp3 ? (size_t)(sp3 - untrusted_type) : strlen(untrusted_type);
        bool known = (type_len == 4 && strncmp(untrusted_type, "name", 4) == 0) ||
                     (type_len == 7 && strncmp(untrusted_type, "keyword", 7) == 0);
        size_t tgt_len = sp3 ? strlen(sp3 + 1) : 0;
        if (!known || tgt_len == 0 || tgt_len > 64 || !all_in_set(sp3 + 1, tgt_len, "._-@:"))
            return qerror_set(err, ERR_PROTOCOL_ERROR, "invalid requested target");
    }

    /* validated: trusted copies from here on */
    cmd->is_rpc = true;
    cmd->service_name = xstrndup(untrusted_rest, name_len);
    cmd->service_arg = xstrndup(untrusted_arg, arg_len);
    cmd->service_full = xasprintf("%s+%s", cmd->service_name, cmd->service_arg);
    cmd->source = xstrndup(untrusted_src, src_len);
    if (untrusted_type) {
        cmd->target_type = xstrndup(untrusted_type, (size_t)(sp3 - untrusted_type));
        cmd->target = xstrdup(sp3 + 1);
    }
    return 0;
}

int qrexec_cmd_parse(const char *untrusted_cmdline, struct qrexec_cmd *cmd, struct qerror *err)
{
    memset(cmd, 0, sizeof(*cmd));
    const char *colon = strchr(untrusted_cmdline, ':');
    if (!colon)
        return qerror_set(err, ERR_PROTOCOL_ERROR, "no user in command line");
    size_t user_len = (size_t)(colon - untrusted_cmdline);
    if (user_len == 0 || user_len > 32 || untrusted_cmdline[0] == '-' ||
        !all_in_set(untrusted_cmdline, user_len, "._-"))
        return qerror_set(err, ERR_PROTOCOL_ERROR, "invalid user name in command line");
    const char *untrusted_rest = colon + 1;
    bool nogui = false;
    if (strncmp(untrusted_rest, QREXEC_NOGUI_PREFIX, strlen(QREXEC_NOGUI_PREFIX)) == 0) {
        nogui = true;
        untrusted_rest += strlen(QREXEC_NOGUI_PREFIX);
    }
    if (*untrusted_rest == '\0')
        return qerror_set(err, ERR_PROTOCOL_ERROR, "empty command");
    if (strncmp(untrusted_rest, QREXEC_RPC_PREFIX, strlen(QREXEC_RPC_PREFIX)) == 0 &&
        parse_rpc(untrusted_rest + strlen(QREXEC_RPC_PREFIX), cmd, err) < 0) {
        qrexec_cmd_free(cmd);
        return -1;
    }
    cmd->user = xstrndup(untrusted_cmdline, user_len);
    cmd->command = xstrdup(untrusted_rest);
    cmd->nogui = nogui;
    return 0;
}

char *qrexec_cmdline_expand_default(const char *cmdline, const char *default_user)
{
    size_t n = strlen(QREXEC_DEFAULT_PREFIX);
    if (strncmp(cmdline, QREXEC_DEFAULT_PREFIX, n) == 0)
        return xasprintf("%s:%s", default_user, cmdline + n);
    return xstrdup(cmdline);
}
