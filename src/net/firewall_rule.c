/* Firewall rules as admin.vm.firewall.Get/Set and QubesDB carry them: one
 * line of key=value options, validated as qubes/firewall.py does, but strict
 * (digits only, canonical output) so what we store always parses again. */
#include "net/firewall_rule.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cleanup.h"

#define KIND ERR_QUBES_VALUE_ERROR
/* Echo at most this much of a bad value back, so messages stay short. */
#define ECHO_MAX 64
/* datetime.fromtimestamp fails past 9999-12-31T23:59:59Z, so upstream
 * rejects any larger expire. */
#define EXPIRE_MAX 253402300799LL

enum fw_key {
    KEY_ACTION,
    KEY_EXPIRE,
    KEY_DSTHOST,
    KEY_PROTO,
    KEY_SPECIALTARGET,
    KEY_DSTPORTS,
    KEY_ICMPTYPE,
};

static const struct {
    const char *name;
    enum fw_key key;
} option_names[] = {
    { "action", KEY_ACTION },
    { "expire", KEY_EXPIRE },
    /* upstream takes dst4, dst6 and dstname as spellings of dsthost; the
     * value, not the key, decides which kind of destination it is */
    { "dsthost", KEY_DSTHOST },
    { "dst4", KEY_DSTHOST },
    { "dst6", KEY_DSTHOST },
    { "dstname", KEY_DSTHOST },
    { "proto", KEY_PROTO },
    { "specialtarget", KEY_SPECIALTARGET },
    { "dstports", KEY_DSTPORTS },
    { "icmptype", KEY_ICMPTYPE },
};

static int echo_len(size_t len)
{
    return (int)(len < ECHO_MAX ? len : ECHO_MAX);
}

/* RuleOption's safe set: [A-Za-z0-9:;,./-_[]]. */
static bool option_char_ok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr(":;,./-_[]", c) != NULL);
}

/* Comment's safe set: the same plus space. */
static bool comment_char_ok(unsigned char c)
{
    return c == ' ' || option_char_ok(c);
}

static bool all_option_chars(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!option_char_ok((unsigned char)s[i]))
            return false;
    return true;
}

/* What Python's str.strip() removes, within ASCII. */
static bool py_space(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

/* The boundaries of Python's str.splitlines(), within ASCII. */
static bool py_line_break(unsigned char c)
{
    return c == '\n' || c == '\r' || c == '\v' || c == '\f' || (c >= 0x1c && c <= 0x1e);
}

/* Digits only (Python's int() also takes '+', '_' and spaces, which we do not
 * want in stored rules), at most max_digits of them, value at most max. */
static bool parse_decimal(const char *untrusted_s, size_t len, size_t max_digits,
                          unsigned long long max, unsigned long long *out)
{
    if (len == 0 || len > max_digits)
        return false;
    unsigned long long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (untrusted_s[i] < '0' || untrusted_s[i] > '9')
            return false;
        v = v * 10 + (unsigned long long)(untrusted_s[i] - '0');
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

/* Python's ipaddress.IPv6Address.__str__ (up to 3.12): lower-case hextets
 * without leading zeros, the first longest run of two or more zero hextets
 * as "::", and no dotted-quad tail. */
static void format_ipv6(const unsigned char a[16], char out[INET6_ADDRSTRLEN])
{
    unsigned hextet[8];
    for (int i = 0; i < 8; i++)
        hextet[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];

    int best = -1, best_len = 0;
    for (int i = 0; i < 8;) {
        if (hextet[i] != 0) {
            i++;
            continue;
        }
        int j = i;
        while (j < 8 && hextet[j] == 0)
            j++;
        if (j - i > best_len) {
            best = i;
            best_len = j - i;
        }
        i = j;
    }
    if (best_len < 2)
        best = -1;

    char *p = out;
    for (int i = 0; i < 8; i++) {
        if (i == best) {
            *p++ = ':';
            *p++ = ':';
            i += best_len - 1;
            continue;
        }
        if (i > 0 && i != best + best_len)
            *p++ = ':';
        p += sprintf(p, "%x", hextet[i]);
    }
    *p = '\0';
}

/* DstHost: an IPv4 or IPv6 network (bare addresses get a full-length
 * prefix; host bits are kept, as upstream keeps them) or a lower-case
 * hostname. v has passed the option safe set. */
static int parse_dsthost(const char *v, size_t len, struct fw_rule *r, struct qerror *err)
{
    const char *slash = memchr(v, '/', len);
    size_t host_len = slash ? (size_t)(slash - v) : len;
    if (slash && memchr(slash + 1, '/', len - host_len - 1))
        return qerror_set(err, KIND, "invalid dsthost '%.*s': too many '/'", echo_len(len), v);
    if (host_len == 0)
        return qerror_set(err, KIND, "invalid dsthost '%.*s': empty host", echo_len(len), v);
    if (host_len > FW_HOSTNAME_MAX)
        return qerror_set(err, KIND, "invalid dsthost: longer than %d characters", FW_HOSTNAME_MAX);

    char host[FW_HOSTNAME_MAX + 1];
    memcpy(host, v, host_len);
    host[host_len] = '\0';

    unsigned char addr[16];
    if (inet_pton(AF_INET6, host, addr) == 1) {
        r->dst_kind = FW_DST_IPV6;
        format_ipv6(addr, r->dst);
        r->dst_prefix = 128;
    } else if (inet_pton(AF_INET, host, addr) == 1) {
        /* glibc's inet_pton takes only the four-part dotted quad without
         * leading zeros, so the canonical text is what came in */
        r->dst_kind = FW_DST_IPV4;
        inet_ntop(AF_INET, addr, r->dst, sizeof(r->dst));
        r->dst_prefix = 32;
    } else if (slash) {
        return qerror_set(err, KIND, "invalid dsthost '%.*s': invalid IP address '%.*s'",
                          echo_len(len), v, echo_len(host_len), host);
    } else {
        for (size_t i = 0; i < host_len; i++) {
            char c = host[i];
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
                  c == '_'))
                return qerror_set(err, KIND,
                                  "invalid dsthost '%.*s': not an IP address, and a hostname "
                                  "may only use a-z 0-9 - . _",
                                  echo_len(len), v);
        }
        r->dst_kind = FW_DST_HOST;
        memcpy(r->dst, host, host_len + 1);
        r->dst_prefix = 0;
        return 0;
    }

    if (slash) {
        unsigned long long prefix;
        size_t plen = len - host_len - 1;
        if (!parse_decimal(slash + 1, plen, 3, r->dst_prefix, &prefix))
            return qerror_set(err, KIND, "invalid dsthost '%.*s': netmask for IPv%c must be 0..%u",
                              echo_len(len), v, r->dst_kind == FW_DST_IPV4 ? '4' : '6',
                              r->dst_prefix);
        r->dst_prefix = (unsigned)prefix;
    }
    return 0;
}

static int parse_value(enum fw_key key, const char *name, const char *v, size_t len,
                       struct fw_rule *r, struct qerror *err)
{
    unsigned long long n, m;
    switch (key) {
    case KEY_ACTION:
        if (len == 6 && memcmp(v, "accept", 6) == 0)
            r->action = FW_ACTION_ACCEPT;
        else if (len == 4 && memcmp(v, "drop", 4) == 0)
            r->action = FW_ACTION_DROP;
        else
            return qerror_set(err, KIND, "invalid action '%.*s' (expected accept or drop)",
                              echo_len(len), v);
        return 0;
    case KEY_EXPIRE:
        if (!parse_decimal(v, len, 12, EXPIRE_MAX, &n))
            return qerror_set(err, KIND,
                              "invalid expire '%.*s' (expected a UNIX timestamp in seconds)",
                              echo_len(len), v);
        r->has_expire = true;
        r->expire = (long long)n;
        return 0;
    case KEY_DSTHOST: return parse_dsthost(v, len, r, err);
    case KEY_PROTO:
        if (len == 3 && memcmp(v, "tcp", 3) == 0)
            r->proto = FW_PROTO_TCP;
        else if (len == 3 && memcmp(v, "udp", 3) == 0)
            r->proto = FW_PROTO_UDP;
        else if (len == 4 && memcmp(v, "icmp", 4) == 0)
            r->proto = FW_PROTO_ICMP;
        else
            return qerror_set(err, KIND, "invalid proto '%.*s' (expected tcp, udp or icmp)",
                              echo_len(len), v);
        return 0;
    case KEY_SPECIALTARGET:
        if (len != 3 || memcmp(v, "dns", 3) != 0)
            return qerror_set(err, KIND, "invalid specialtarget '%.*s' (expected dns)",
                              echo_len(len), v);
        r->specialtarget_dns = true;
        return 0;
    case KEY_DSTPORTS: {
        const char *dash = memchr(v, '-', len);
        bool ok;
        if (dash) {
            size_t first_len = (size_t)(dash - v);
            ok = parse_decimal(v, first_len, 5, 65535, &n) &&
                 parse_decimal(dash + 1, len - first_len - 1, 5, 65535, &m) && n <= m;
        } else {
            ok = parse_decimal(v, len, 5, 65535, &n);
            m = n;
        }
        if (!ok)
            return qerror_set(err, KIND,
                              "invalid dstports '%.*s' (expected N or N-M with "
                              "0 <= N <= M <= 65535)",
                              echo_len(len), v);
        r->has_dstports = true;
        r->port_first = (uint16_t)n;
        r->port_last = (uint16_t)m;
        return 0;
    }
    case KEY_ICMPTYPE:
        if (!parse_decimal(v, len, 3, 255, &n))
            return qerror_set(err, KIND, "invalid icmptype '%.*s' (expected 0..255)", echo_len(len),
                              v);
        r->has_icmptype = true;
        r->icmptype = (uint8_t)n;
        return 0;
    }
    return qerror_set(err, KIND, "invalid value of option '%s'", name);
}

/* One "key=value" token; seen collects the keys already given. */
static int parse_option(const char *untrusted_tok, size_t len, struct fw_rule *r, unsigned *seen,
                        struct qerror *err)
{
    if (len == 0)
        return qerror_set(err, KIND, "empty firewall option (two spaces in a row?)");
    const char *eq = memchr(untrusted_tok, '=', len);
    if (!eq) {
        if (all_option_chars(untrusted_tok, len))
            return qerror_set(err, KIND, "firewall option '%.*s' is not key=value", echo_len(len),
                              untrusted_tok);
        return qerror_set(err, KIND, "firewall option is not key=value");
    }
    size_t key_len = (size_t)(eq - untrusted_tok);
    const char *untrusted_value = eq + 1;
    size_t value_len = len - key_len - 1;

    size_t i;
    for (i = 0; i < ARRAY_SIZE(option_names); i++)
        if (strlen(option_names[i].name) == key_len &&
            memcmp(option_names[i].name, untrusted_tok, key_len) == 0)
            break;
    if (i == ARRAY_SIZE(option_names)) {
        if (all_option_chars(untrusted_tok, key_len))
            return qerror_set(err, KIND, "unknown firewall option '%.*s'", echo_len(key_len),
                              untrusted_tok);
        return qerror_set(err, KIND, "unknown firewall option");
    }
    const char *name = option_names[i].name;
    enum fw_key key = option_names[i].key;

    if (*seen & (1u << key)) {
        if (key == KEY_DSTHOST)
            return qerror_set(err, KIND,
                              "destination given twice (dsthost, dst4, dst6 and dstname are "
                              "one option)");
        return qerror_set(err, KIND, "firewall option '%s' given twice", name);
    }
    *seen |= 1u << key;

    if (!all_option_chars(untrusted_value, value_len))
        return qerror_set(
            err, KIND, "invalid character in value of '%s' (allowed: A-Z a-z 0-9 :;,./-_[])", name);
    return parse_value(key, name, untrusted_value, value_len, r, err);
}

/* The first "comment=" that starts an option; everything after it is the
 * comment. Upstream splits at the first "comment=" anywhere, which would
 * read "dsthost=xcomment=y" as two options; we reject that instead. */
static const char *find_comment(const char *s, size_t len)
{
    static const char tag[] = "comment=";
    const char *p = s;
    const char *end = s + len;
    while ((p = memmem(p, (size_t)(end - p), tag, sizeof(tag) - 1)) != NULL) {
        if (p == s || p[-1] == ' ')
            return p;
        p++;
    }
    return NULL;
}

int fw_rule_parse(const char *untrusted_line, size_t len, struct fw_rule *out, struct qerror *err)
{
    struct fw_rule r;
    memset(out, 0, sizeof(*out));
    memset(&r, 0, sizeof(r));

    if (len > FW_LINE_MAX)
        return qerror_set(err, KIND, "firewall rule too long (%zu bytes, at most %d)", len,
                          FW_LINE_MAX);

    size_t opts_end = len;
    const char *untrusted_comment = find_comment(untrusted_line, len);
    if (untrusted_comment) {
        opts_end = (size_t)(untrusted_comment - untrusted_line);
        const char *c = untrusted_comment + strlen("comment=");
        size_t clen = len - opts_end - strlen("comment=");
        for (size_t i = 0; i < clen; i++)
            if (!comment_char_ok((unsigned char)c[i]))
                return qerror_set(err, KIND,
                                  "invalid character in comment (allowed: A-Z a-z 0-9 space "
                                  ":;,./-_[])");
        /* an empty comment is no comment, as upstream has it */
        memcpy(r.comment, c, clen);
        r.comment[clen] = '\0';
    }

    size_t start = 0, end = opts_end;
    while (start < end && py_space((unsigned char)untrusted_line[start]))
        start++;
    while (end > start && py_space((unsigned char)untrusted_line[end - 1]))
        end--;
    if (start == end)
        return qerror_set(err, KIND, untrusted_comment ? "missing action" : "empty firewall rule");

    unsigned seen = 0;
    for (size_t pos = start;;) {
        const char *tok = untrusted_line + pos;
        const char *sp = memchr(tok, ' ', end - pos);
        size_t tok_len = sp ? (size_t)(sp - tok) : end - pos;
        if (parse_option(tok, tok_len, &r, &seen, err) < 0)
            return -1;
        if (!sp)
            break;
        pos += tok_len + 1;
    }

    if (!(seen & (1u << KEY_ACTION)))
        return qerror_set(err, KIND, "missing action");
    if (r.has_dstports && r.proto != FW_PROTO_TCP && r.proto != FW_PROTO_UDP)
        return qerror_set(err, KIND, "dstports valid only with proto tcp or udp");
    if (r.has_icmptype && r.proto != FW_PROTO_ICMP)
        return qerror_set(err, KIND, "icmptype valid only with proto icmp");

    /* "80" becomes "80-80" and a bare address gains a prefix, so a line
     * near the limit can outgrow it; refuse what would not parse back */
    _cleanup_buf_ struct buf canonical = BUF_INIT;
    fw_rule_format(&r, &canonical, true);
    if (canonical.len > FW_LINE_MAX)
        return qerror_set(err, KIND,
                          "firewall rule too long once normalised (%zu bytes, at most %d)",
                          canonical.len, FW_LINE_MAX);

    *out = r;
    return 0;
}

void fw_rule_format(const struct fw_rule *r, struct buf *out, bool with_api_only_fields)
{
    switch (r->action) {
    case FW_ACTION_ACCEPT: buf_append_str(out, "action=accept"); break;
    case FW_ACTION_DROP: buf_append_str(out, "action=drop"); break;
    }
    if (with_api_only_fields && r->has_expire)
        buf_printf(out, " expire=%lld", r->expire);
    switch (r->dst_kind) {
    case FW_DST_NONE: break;
    case FW_DST_IPV4: buf_printf(out, " dst4=%s/%u", r->dst, r->dst_prefix); break;
    case FW_DST_IPV6: buf_printf(out, " dst6=%s/%u", r->dst, r->dst_prefix); break;
    case FW_DST_HOST: buf_printf(out, " dsthost=%s", r->dst); break;
    }
    switch (r->proto) {
    case FW_PROTO_NONE: break;
    case FW_PROTO_TCP: buf_append_str(out, " proto=tcp"); break;
    case FW_PROTO_UDP: buf_append_str(out, " proto=udp"); break;
    case FW_PROTO_ICMP: buf_append_str(out, " proto=icmp"); break;
    }
    if (r->specialtarget_dns)
        buf_append_str(out, " specialtarget=dns");
    if (r->has_dstports)
        buf_printf(out, " dstports=%u-%u", (unsigned)r->port_first, (unsigned)r->port_last);
    if (r->has_icmptype)
        buf_printf(out, " icmptype=%u", (unsigned)r->icmptype);
    if (with_api_only_fields && r->comment[0] != '\0')
        buf_printf(out, " comment=%s", r->comment);
}

long long fw_rule_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec;
}

bool fw_rule_expired(const struct fw_rule *r, long long now)
{
    return r->has_expire && r->expire < now;
}

int fw_rules_parse(const char *untrusted_payload, size_t len, struct fw_rule **rules_out,
                   size_t *n_out, struct qerror *err)
{
    _cleanup_free_ struct fw_rule *rules = NULL;
    size_t n = 0, cap = 0, line_no = 0;
    *rules_out = NULL;
    *n_out = 0;

    for (size_t pos = 0; pos < len;) {
        size_t start = pos;
        while (pos < len && !py_line_break((unsigned char)untrusted_payload[pos]))
            pos++;
        size_t line_len = pos - start;
        if (pos < len) {
            /* "\r\n" is one boundary, as in splitlines() */
            if (untrusted_payload[pos] == '\r' && pos + 1 < len &&
                untrusted_payload[pos + 1] == '\n')
                pos++;
            pos++;
        }
        line_no++;

        if (n == FW_RULES_MAX)
            return qerror_set(err, KIND, "too many firewall rules (at most %d)", FW_RULES_MAX);
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            rules = xrealloc(rules, cap * sizeof(*rules));
        }
        if (fw_rule_parse(untrusted_payload + start, line_len, &rules[n], err) < 0) {
            qerror_prefix(err, "line %zu: ", line_no);
            return -1;
        }
        n++;
    }

    *rules_out = steal_pointer(&rules);
    *n_out = n;
    return 0;
}

void fw_rules_free(struct fw_rule *rules, size_t n)
{
    (void)n; /* rules own no memory of their own (yet) */
    free(rules);
}
