/* qrexec service configuration files: lookup and the key=value parser, accepting exactly what
 * upstream's libqrexec/toml.c accepts (single-quoted strings, true/false, decimal integers for
 * wait-for-session) and refusing what it refuses, with its messages. */
#include "qrexec/rpc_config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "qrexec/qrexec_cmdline.h"
#include "qrexec/qrexec_proto.h"

#define KIND ERR_QUBES_EXCEPTION

enum value_type { VALUE_BOOL, VALUE_INTEGER, VALUE_STRING };

struct value {
    enum value_type type;
    bool boolean;
    unsigned long long integer;
    const char *string; /* points into the line, NUL-terminated */
};

/* Where a parse error is reported: "file:line: ". */
struct where {
    const char *name;
    size_t line;
};

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static bool is_key_byte(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '.' ||
           c == '-' || c == '_';
}

static const char *type_name(enum value_type type)
{
    switch (type) {
    case VALUE_BOOL: return "Boolean";
    case VALUE_INTEGER: return "Integer";
    case VALUE_STRING: return "String";
    }
    return "?";
}

/* Parses the value that starts at p (the rest of the line); strings are cut in place. */
static int parse_value(char *p, struct value *v, const struct where *at, struct qerror *err)
{
    char *end;
    unsigned char c = (unsigned char)p[0];
    if (c == '0') {
        v->type = VALUE_INTEGER;
        v->integer = 0;
        end = p + 1;
    } else if (c >= '1' && c <= '9') {
        v->type = VALUE_INTEGER;
        unsigned long long n = 0;
        end = p;
        while (*end >= '0' && *end <= '9') {
            unsigned digit = (unsigned)(*end - '0');
            if (n > (~0ULL - digit) / 10)
                return qerror_set(err, KIND, "%s:%zu: Integer out of range", at->name, at->line);
            n = n * 10 + digit;
            end++;
        }
        v->integer = n;
    } else if (c == 't' || c == 'f') {
        const char *word = c == 't' ? "true" : "false";
        size_t n = strlen(word);
        if (strncmp(p, word, n) != 0)
            return qerror_set(err, KIND, "%s:%zu: Unexpected unquoted string", at->name, at->line);
        v->type = VALUE_BOOL;
        v->boolean = c == 't';
        end = p + n;
    } else if (c == '"') {
        return qerror_set(err, KIND,
                          "%s:%zu: Double-quoted strings not implemented, use single quotes",
                          at->name, at->line);
    } else if (c == '\'') {
        if (p[1] == '\'' && p[2] == '\'')
            return qerror_set(err, KIND, "%s:%zu: Triple-quoted strings not implemented", at->name,
                              at->line);
        char *close = strchr(p + 1, '\'');
        if (!close)
            return qerror_set(err, KIND, "%s:%zu: Unterminated quoted string", at->name, at->line);
        *close = '\0';
        v->type = VALUE_STRING;
        v->string = p + 1;
        end = close + 1;
    } else if (c >= ' ' && c <= '~') {
        return qerror_set(err, KIND, "%s:%zu: Unsupported start of value: '%c'", at->name, at->line,
                          c);
    } else {
        return qerror_set(err, KIND, "%s:%zu: Unsupported byte at start of value: %u", at->name,
                          at->line, (unsigned)c);
    }
    while (is_blank(*end))
        end++;
    if (*end == '\0' || *end == '#')
        return 0;
    if (v->type == VALUE_INTEGER)
        return qerror_set(err, KIND,
                          "%s:%zu: Unexpected junk after integer; note that only decimal "
                          "integers with no excess leading zeros are supported",
                          at->name, at->line);
    return qerror_set(err, KIND, "%s:%zu: Unexpected junk after value", at->name, at->line);
}

static int want_type(const struct value *v, enum value_type type, const char *what,
                     const struct where *at, struct qerror *err)
{
    if (v->type == type)
        return 0;
    return qerror_set(err, KIND, "%s:%zu: %s not valid for %s", at->name, at->line,
                      type_name(v->type), what);
}

enum config_key {
    KEY_WAIT_FOR_SESSION,
    KEY_FORCE_USER,
    KEY_SKIP_SERVICE_DESCRIPTOR,
    KEY_EXIT_ON_CLIENT_EOF,
    KEY_EXIT_ON_SERVICE_EOF,
    KEY_COUNT,
};

static const char *const key_names[KEY_COUNT] = {
    [KEY_WAIT_FOR_SESSION] = "wait-for-session",
    [KEY_FORCE_USER] = "force-user",
    [KEY_SKIP_SERVICE_DESCRIPTOR] = "skip-service-descriptor",
    [KEY_EXIT_ON_CLIENT_EOF] = "exit-on-client-eof",
    [KEY_EXIT_ON_SERVICE_EOF] = "exit-on-service-eof",
};

struct parse_state {
    size_t seen_line[KEY_COUNT]; /* line where each key was set; 0: not set */
};

static int apply(struct qrexec_rpc_config *out, struct parse_state *st, const char *key,
                 const struct value *v, const struct where *at, struct qerror *err)
{
    size_t k;
    for (k = 0; k < KEY_COUNT; k++)
        if (strcmp(key, key_names[k]) == 0)
            break;
    if (k == KEY_COUNT) {
        log_warning("rpc-config file=%s line=%zu unsupported key %s ignored", at->name, at->line,
                    key);
        return 0;
    }
    if (st->seen_line[k])
        return qerror_set(err, KIND, "%s:%zu: Key %s already seen", at->name, at->line, key);
    st->seen_line[k] = at->line;

    switch ((enum config_key)k) {
    case KEY_WAIT_FOR_SESSION:
        /* the one key that also takes 0 and 1, for old configs */
        if (v->type == VALUE_INTEGER) {
            if (v->integer > 1)
                return qerror_set(err, KIND, "%s:%zu: Unsupported integer value %llu for boolean",
                                  at->name, at->line, v->integer);
            out->wait_for_session = v->integer == 1;
            return 0;
        }
        if (want_type(v, VALUE_BOOL, key, at, err) < 0)
            return -1;
        out->wait_for_session = v->boolean;
        return 0;
    case KEY_FORCE_USER:
        if (want_type(v, VALUE_STRING, "user name or user ID", at, err) < 0)
            return -1;
        /* upstream hands any string to PAM; a name no account can have is refused here */
        if (!qrexec_user_name_ok(v->string))
            return qerror_set(err, KIND, "%s:%zu: Invalid user name for force-user", at->name,
                              at->line);
        out->force_user = xstrdup(v->string);
        return 0;
    case KEY_SKIP_SERVICE_DESCRIPTOR:
    case KEY_EXIT_ON_CLIENT_EOF:
    case KEY_EXIT_ON_SERVICE_EOF:
        if (want_type(v, VALUE_BOOL, key, at, err) < 0)
            return -1;
        if (k == KEY_SKIP_SERVICE_DESCRIPTOR)
            out->skip_service_descriptor = v->boolean;
        else if (k == KEY_EXIT_ON_CLIENT_EOF)
            out->exit_on_client_eof = v->boolean;
        else
            out->exit_on_service_eof = v->boolean;
        return 0;
    case KEY_COUNT: break;
    }
    return qerror_set(err, KIND, "%s:%zu: internal error", at->name, at->line);
}

/* One line without its newline (len bytes, no NUL inside), copied into line[]. */
static int parse_line(char *line, size_t len, struct qrexec_rpc_config *out, struct parse_state *st,
                      const struct where *at, struct qerror *err)
{
    /* no multi-line values, so trailing blanks go (all but a first character) */
    while (len > 1 && is_blank(line[len - 1]))
        len--;
    line[len] = '\0';

    unsigned char first = (unsigned char)line[0];
    if (first == '\0' || first == '#')
        return 0;
    if (first == '[')
        return qerror_set(err, KIND, "%s:%zu: TOML section headers not supported", at->name,
                          at->line);
    if (is_blank((char)first))
        return qerror_set(err, KIND, "%s:%zu: Unexpected whitespace at start of line", at->name,
                          at->line);
    if (!((first >= 'a' && first <= 'z') || (first >= 'A' && first <= 'Z'))) {
        if (first > ' ' && first <= '~')
            return qerror_set(err, KIND, "%s:%zu: Invalid character '%c' at start of key", at->name,
                              at->line, first);
        return qerror_set(err, KIND, "%s:%zu: Invalid byte 0x%x at start of key", at->name,
                          at->line, first);
    }

    char *p = line + 1;
    while (is_key_byte(*p))
        p++;
    char *key_end = p;
    while (is_blank(*p))
        p++;
    if (*p != '=')
        return qerror_set(err, KIND, "%s:%zu: Missing '=' after key", at->name, at->line);
    p++;
    while (is_blank(*p))
        p++;
    *key_end = '\0';

    /* the value is checked before the key, so even an unknown key needs a valid value */
    struct value v = { 0 };
    if (parse_value(p, &v, at, err) < 0)
        return -1;
    return apply(out, st, line, &v, at, err);
}

int qrexec_rpc_config_parse(const char *untrusted_text, size_t len, const char *name,
                            struct qrexec_rpc_config *out, struct qerror *err)
{
    memset(out, 0, sizeof(*out));
    if (len > QREXEC_RPC_CONFIG_MAX)
        return qerror_set(err, KIND, "%s: larger than %u bytes", name, QREXEC_RPC_CONFIG_MAX);

    struct parse_state st = { 0 };
    struct where at = { name, 0 };
    char line[QREXEC_RPC_CONFIG_MAX + 1];
    size_t pos = 0;
    while (pos < len) {
        at.line++;
        const char *start = untrusted_text + pos;
        const char *nl = memchr(start, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - start) : len - pos;
        pos += n + (nl ? 1 : 0);
        if (memchr(start, '\0', n)) {
            qerror_set(err, KIND, "%s:%zu: NUL byte in line", name, at.line);
            goto bad;
        }
        memcpy(line, start, n);
        if (nl) {
            if (n > 0 && line[n - 1] == '\r')
                n--;
        } else {
            log_debug("rpc-config file=%s line=%zu missing newline at end of file", name, at.line);
        }
        if (parse_line(line, n, out, &st, &at, err) < 0)
            goto bad;
    }

    /* these are done by the agent itself, which force-user hands over to another process */
    static const enum config_key socket_only[] = { KEY_SKIP_SERVICE_DESCRIPTOR,
                                                   KEY_EXIT_ON_SERVICE_EOF,
                                                   KEY_EXIT_ON_CLIENT_EOF };
    const bool socket_set[] = { out->skip_service_descriptor, out->exit_on_service_eof,
                                out->exit_on_client_eof };
    if (out->force_user) {
        for (size_t i = 0; i < ARRAY_SIZE(socket_only); i++) {
            if (!socket_set[i])
                continue;
            size_t a = st.seen_line[KEY_FORCE_USER], b = st.seen_line[socket_only[i]];
            qerror_set(err, KIND, "%s:%zu: '%s' cannot be combined with '%s=true'", name,
                       a > b ? a : b, key_names[KEY_FORCE_USER], key_names[socket_only[i]]);
            goto bad;
        }
    }
    return 0;

bad:
    qrexec_rpc_config_free(out);
    return -1;
}

/* 1: found (*path set), 0: in no directory, -1: error. */
static int find_file(const char *dir_list, const char *name, char **path, struct qerror *err)
{
    if (strlen(name) > QREXEC_NAME_MAX)
        return 0; /* no file can have that name */
    const char *p = dir_list;
    while (*p) {
        const char *end = strchr(p, ':');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n > 0) {
            char *candidate = xasprintf("%.*s/%s", (int)n, p, name);
            struct stat st;
            if (stat(candidate, &st) == 0) {
                *path = candidate;
                return 1;
            }
            int e = errno;
            if (e != ENOENT && e != ENOTDIR && e != ENAMETOOLONG) {
                qerror_errno(err, e, "stat %s", candidate);
                free(candidate);
                return -1;
            }
            free(candidate);
        }
        if (!end)
            break;
        p = end + 1;
    }
    return 0;
}

static bool file_name_ok(const char *name)
{
    return name[0] && !strchr(name, '/') && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

int qrexec_rpc_config_load(const char *service_full, const char *service_name, const char *dir_list,
                           struct qrexec_rpc_config *out, struct qerror *err)
{
    memset(out, 0, sizeof(*out));
    if (!file_name_ok(service_full) || !file_name_ok(service_name))
        return qerror_set(err, KIND, "rpc-config: invalid service name");
    const char *env = getenv("QUBES_RPC_CONFIG_PATH");
    if (env && *env)
        dir_list = env;
    else if (!dir_list)
        dir_list = QREXEC_DEFAULT_RPC_CONFIG_PATH;

    _cleanup_free_ char *path = NULL;
    int found = find_file(dir_list, service_full, &path, err);
    if (found == 0 && strcmp(service_full, service_name) != 0)
        found = find_file(dir_list, service_name, &path, err);
    if (found <= 0)
        return found;

    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return qerror_errno(err, errno, "open %s", path);
    struct stat st;
    if (fstat(fd, &st) < 0)
        return qerror_errno(err, errno, "stat %s", path);
    if (!S_ISREG(st.st_mode))
        return qerror_set(err, KIND, "%s: not a regular file", path);

    char text[QREXEC_RPC_CONFIG_MAX + 1];
    size_t len = 0;
    for (;;) {
        ssize_t r = read(fd, text + len, sizeof(text) - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return qerror_errno(err, errno, "read %s", path);
        if (r == 0)
            break;
        len += (size_t)r;
        if (len == sizeof(text))
            return qerror_set(err, KIND, "%s: larger than %u bytes", path, QREXEC_RPC_CONFIG_MAX);
    }
    if (qrexec_rpc_config_parse(text, len, path, out, err) < 0)
        return -1;
    out->file = steal_pointer(&path);
    return 0;
}

void qrexec_rpc_config_free(struct qrexec_rpc_config *cfg)
{
    free(cfg->force_user);
    free(cfg->file);
    memset(cfg, 0, sizeof(*cfg));
}
