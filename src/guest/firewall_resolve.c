/* getaddrinfo in the firewall qube: with glibc >= 2.34 the files and dns
 * modules are in libc itself, so this works in a template without NSS
 * libraries (the busybox one). */
#include "guest/firewall_resolve.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"

static int by_addr(const void *a, const void *b)
{
    uint32_t x = ntohl(((const struct in_addr *)a)->s_addr);
    uint32_t y = ntohl(((const struct in_addr *)b)->s_addr);
    return (x > y) - (x < y);
}

static const struct fw_name *find(const struct fw_names *names, const char *host)
{
    for (size_t i = 0; i < names->n; i++)
        if (strcmp(names->names[i].host, host) == 0)
            return &names->names[i];
    return NULL;
}

/* Looks host up once per apply, whatever number of rules name it. */
static const struct fw_name *lookup(struct fw_names *names, const char *host, struct qerror *err)
{
    const struct fw_name *known = find(names, host);
    if (known)
        return known;
    struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM };
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0) {
        qerror_set(err, ERR_QUBES_EXCEPTION, "Failed to resolve %s: %s", host, gai_strerror(rc));
        return NULL;
    }
    size_t n = 0;
    for (struct addrinfo *a = res; a; a = a->ai_next)
        n++;
    _cleanup_free_ struct in_addr *addrs = xcalloc(n ? n : 1, sizeof(*addrs));
    n = 0;
    for (struct addrinfo *a = res; a; a = a->ai_next)
        if (a->ai_family == AF_INET && a->ai_addrlen >= sizeof(struct sockaddr_in))
            addrs[n++] = ((const struct sockaddr_in *)a->ai_addr)->sin_addr;
    freeaddrinfo(res);
    qsort(addrs, n, sizeof(*addrs), by_addr);
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++)
        if (distinct == 0 || addrs[distinct - 1].s_addr != addrs[i].s_addr)
            addrs[distinct++] = addrs[i];
    if (distinct == 0) {
        qerror_set(err, ERR_QUBES_EXCEPTION, "Failed to resolve %s: no IPv4 address", host);
        return NULL;
    }
    names->names = xrealloc(names->names, (names->n + 1) * sizeof(*names->names));
    struct fw_name *name = &names->names[names->n++];
    name->host = xstrdup(host);
    name->addrs = steal_pointer(&addrs);
    name->n = distinct;
    return name;
}

int fw_names_resolve(void *ctx, const char *host, struct buf *out, struct qerror *err)
{
    const struct fw_name *name = lookup(ctx, host, err);
    if (!name)
        return -1;
    for (size_t i = 0; i < name->n; i++) {
        char text[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &name->addrs[i], text, sizeof(text));
        buf_printf(out, "%s%s/32", i ? ", " : "", text);
    }
    return 0;
}

struct fw_resolved *fw_names_for_rules(const struct fw_names *names, const struct fw_rule *rules,
                                       size_t n)
{
    struct fw_resolved *out = xcalloc(n ? n : 1, sizeof(*out));
    for (size_t i = 0; i < n; i++) {
        const struct fw_name *name =
            rules[i].dst_kind == FW_DST_HOST ? find(names, rules[i].dst) : NULL;
        if (name)
            out[i] = (struct fw_resolved){ name->addrs, name->n };
    }
    return out;
}

void fw_names_free(struct fw_names *names)
{
    for (size_t i = 0; i < names->n; i++) {
        free(names->names[i].host);
        free(names->names[i].addrs);
    }
    free(names->names);
    *names = (struct fw_names){ 0 };
}

size_t fw_resolv_conf(const char *path, struct in_addr out[FW_DNS_MAX])
{
    _cleanup_fclose_ FILE *f = fopen(path, "re");
    size_t n = 0;
    char line[512];
    while (f && n < FW_DNS_MAX && fgets(line, sizeof(line), f)) {
        char word[16], addr[64];
        if (sscanf(line, " %15s %63s", word, addr) == 2 && strcmp(word, "nameserver") == 0 &&
            inet_pton(AF_INET, addr, &out[n]) == 1)
            n++;
    }
    return n;
}
