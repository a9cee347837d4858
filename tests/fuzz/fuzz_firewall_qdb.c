/* libFuzzer target for what the firewall agent reads of its qubesdb: the
 * input is a client's /qubes-firewall/<ip>/ tree, one "key=value" a line
 * (values may hold any byte but a newline), and, whole, a /connected-ips
 * value. Whatever is accepted must hold to the promises of firewall_qdb.h
 * (the policy last, every rule one that parses again from its own text) and
 * turn into nft text of one statement a line, with nothing a value could
 * have smuggled in. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "net/firewall_nft.h"
#include "net/firewall_qdb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ENTRIES 64

static int resolve(void *ctx, const char *host, struct buf *out, struct qerror *err)
{
    (void)ctx;
    if (strlen(host) % 2)
        return qerror_set(err, ERR_QUBES_EXCEPTION, "cannot resolve %s", host);
    buf_append_str(out, "192.0.2.1/32, 192.0.2.2/32");
    return 0;
}

/* nft text: printable ASCII, tabs and newlines only */
static void check_text(const struct buf *b)
{
    for (size_t i = 0; i < b->len; i++) {
        unsigned char c = (unsigned char)b->data[i];
        if (c != '\n' && (c < 0x20 || c > 0x7e))
            abort();
    }
}

static void check_rules(const struct fw_rule *rules, size_t n)
{
    if (n == 0 || rules[n - 1].dst_kind != FW_DST_NONE || rules[n - 1].proto != FW_PROTO_NONE)
        abort();
    for (size_t i = 0; i < n; i++) {
        struct buf text = BUF_INIT;
        struct fw_rule again;
        struct qerror err = { 0 };
        fw_rule_format(&rules[i], &text, false);
        if (rules[i].dst_kind == FW_DST_IPV6 ||
            fw_rule_parse(text.data, text.len, &again, &err) < 0)
            abort();
        buf_free(&text);
    }
    struct buf chain = BUF_INIT;
    struct qerror err = { 0 };
    if (fwnft_client("10.137.0.3", rules, n, resolve, NULL, &chain, &err) == 0)
        check_text(&chain);
    buf_free(&chain);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1);
    memcpy(copy, data, size);
    copy[size] = '\0';

    /* the whole input as /connected-ips */
    char(*ips)[FW_QDB_IP_MAX] = NULL;
    size_t n_ips = 0;
    struct qerror err = { 0 };
    if (fw_qdb_connected_ips(copy, size, &ips, &n_ips, &err) == 0) {
        const char *list[FW_QDB_MAX_CLIENTS];
        for (size_t i = 0; i < n_ips; i++) {
            if (!fw_qdb_ip_ok(ips[i], strlen(ips[i])))
                abort();
            list[i] = ips[i];
        }
        struct buf text = BUF_INIT;
        fwnft_antispoof(list, n_ips, &text);
        check_text(&text);
        buf_free(&text);
    }
    free(ips);

    /* then as a tree: lines "key=value"; the keys are cut at their '=' in place */
    struct fw_qdb_entry entries[MAX_ENTRIES];
    size_t n = 0;
    for (size_t pos = 0; pos < size && n < MAX_ENTRIES;) {
        char *line = copy + pos;
        char *nl = memchr(line, '\n', size - pos);
        size_t len = nl ? (size_t)(nl - line) : size - pos;
        line[len] = '\0';
        char *eq = memchr(line, '=', len);
        if (eq) {
            *eq = '\0';
            entries[n++] = (struct fw_qdb_entry){ line, eq + 1, len - (size_t)(eq + 1 - line) };
        }
        pos += len + 1;
    }
    struct fw_rule *rules = NULL;
    size_t n_rules = 0;
    if (fw_qdb_client_rules(entries, n, &rules, &n_rules, &err) == 0)
        check_rules(rules, n_rules);
    fw_rules_free(rules, n_rules);
    free(copy);
    return 0;
}
