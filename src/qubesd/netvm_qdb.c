/* A provider's qubesdb entries of its clients, in the order net.py writes
 * them: connected-ips, mapped-ip, then the firewall ending in its trigger. */
#include "qubesd/netvm_qdb.h"

#include <stdio.h>
#include <string.h>

#include "qubesd/lifecycle.h"
#include "qubesd/qdb_entries.h"
#include "qubesdb/qdb_client.h"

static int write_text(struct qdb_client *db, const char *path, const char *value,
                      struct qerror *err)
{
    return qdb_write(db, path, value, strlen(value), err);
}

int netvm_qdb_connected_ips(struct qube *netvm, const char *ips, struct qerror *err)
{
    struct qdb_client *db = lifecycle_qubesdb(netvm, err);
    return db ? write_text(db, "/connected-ips", ips, err) : -1;
}

int netvm_qdb_client(struct qube *netvm, const struct qube *client, const char *ip,
                     const char *gateway, long long now, long long *next_expire, struct qerror *err)
{
    struct qdb_client *db = lifecycle_qubesdb(netvm, err);
    if (!db)
        return -1;
    char path[QDB_MAX_PATH];
    snprintf(path, sizeof(path), "/mapped-ip/%s/visible-ip", ip);
    if (write_text(db, path, ip, err) < 0)
        return -1;
    snprintf(path, sizeof(path), "/mapped-ip/%s/visible-gateway", ip);
    if (write_text(db, path, gateway, err) < 0)
        return -1;
    snprintf(path, sizeof(path), "/qubes-firewall/%s/", ip);
    if (qdb_rm(db, path, err) < 0)
        return -1;
    struct qdb_entries e;
    qdb_entries_firewall(client, ip, now, &e, next_expire);
    int rc = 0;
    for (size_t i = 0; i < e.n && rc == 0; i++)
        rc = write_text(db, e.v[i].key, e.v[i].value, err);
    qdb_entries_free(&e);
    return rc;
}

int netvm_qdb_client_gone(struct qube *netvm, const char *ip, struct qerror *err)
{
    struct qdb_client *db = lifecycle_qubesdb(netvm, err);
    if (!db)
        return -1;
    char rules[QDB_MAX_PATH], trigger[QDB_MAX_PATH], mapped[QDB_MAX_PATH];
    snprintf(rules, sizeof(rules), "/qubes-firewall/%s/", ip);
    snprintf(trigger, sizeof(trigger), "/qubes-firewall/%s", ip);
    snprintf(mapped, sizeof(mapped), "/mapped-ip/%s/", ip);
    if (qdb_rm(db, rules, err) < 0 || qdb_rm(db, trigger, err) < 0 || qdb_rm(db, mapped, err) < 0)
        return -1;
    return 0;
}
