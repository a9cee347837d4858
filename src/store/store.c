/* SQLite access: schema creation and migration, transactions, and a cache of
 * prepared statements keyed by the address of their SQL literal. */
#include "store/store.h"

#include <sqlite3.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

#define STMT_CACHE 64
#define SCHEMA_VERSION 2

struct store {
    sqlite3 *db;
    struct {
        const char *sql;
        sqlite3_stmt *stmt;
    } cache[STMT_CACHE];
};

static const char schema_v1[] =
    "CREATE TABLE qube ("
    "  qid INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  class TEXT NOT NULL,"
    "  uuid TEXT NOT NULL UNIQUE);"
    /* Only explicitly set values are stored: a missing row means default. */
    "CREATE TABLE qube_property ("
    "  qid INTEGER NOT NULL REFERENCES qube(qid) ON DELETE CASCADE,"
    "  name TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (qid, name));"
    "CREATE TABLE global_property (name TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE feature ("
    "  qid INTEGER NOT NULL REFERENCES qube(qid) ON DELETE CASCADE,"
    "  name TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (qid, name));"
    "CREATE TABLE tag ("
    "  qid INTEGER NOT NULL REFERENCES qube(qid) ON DELETE CASCADE,"
    "  name TEXT NOT NULL, PRIMARY KEY (qid, name));"
    "CREATE TABLE note ("
    "  qid INTEGER PRIMARY KEY REFERENCES qube(qid) ON DELETE CASCADE,"
    "  text TEXT NOT NULL);"
    /* No row for a qube means the default rule set (accept everything). */
    "CREATE TABLE firewall ("
    "  qid INTEGER PRIMARY KEY REFERENCES qube(qid) ON DELETE CASCADE,"
    "  rules TEXT NOT NULL);"
    "CREATE TABLE label ("
    "  idx INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, color TEXT NOT NULL);"
    "CREATE TABLE pool (name TEXT PRIMARY KEY, driver TEXT NOT NULL);"
    "CREATE TABLE pool_config ("
    "  pool TEXT NOT NULL REFERENCES pool(name) ON DELETE CASCADE,"
    "  key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (pool, key));"
    "CREATE TABLE volume_pool ("
    "  qid INTEGER NOT NULL REFERENCES qube(qid) ON DELETE CASCADE,"
    "  volume TEXT NOT NULL, pool TEXT NOT NULL, PRIMARY KEY (qid, volume));";

/* v2: the configuration of each volume of a qube (pool, size, rw,
 * revisions_to_keep, ephemeral), one row per key. */
static const char schema_v2[] = "CREATE TABLE volume_config ("
                                "  qid INTEGER NOT NULL REFERENCES qube(qid) ON DELETE CASCADE,"
                                "  volume TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
                                "  PRIMARY KEY (qid, volume, key));";

static int sql_error(struct store *s, struct qerror *err, const char *what)
{
    return qerror_set(err, ERR_QUBES_EXCEPTION, "store: %s: %s", what, sqlite3_errmsg(s->db));
}

static int exec_script(struct store *s, const char *sql, struct qerror *err)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        qerror_set(err, ERR_QUBES_EXCEPTION, "store: %s", msg ? msg : "error");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int user_version_row(void *ctx, size_t n, const char *const *cols)
{
    if (n == 1 && cols[0])
        *(int *)ctx = atoi(cols[0]);
    return 0;
}

static int migrate(struct store *s, struct qerror *err)
{
    int version = 0;
    if (store_query(s, "PRAGMA user_version", 0, NULL, user_version_row, &version, err) < 0)
        return -1;
    if (version == SCHEMA_VERSION)
        return 0;
    if (version > SCHEMA_VERSION)
        return qerror_set(err, ERR_QUBES_EXCEPTION,
                          "store: schema version %d is newer than this qubesd (%d)", version,
                          SCHEMA_VERSION);
    if (store_begin(s, err) < 0)
        return -1;
    if ((version < 1 && exec_script(s, schema_v1, err) < 0) ||
        (version < 2 && exec_script(s, schema_v2, err) < 0) ||
        exec_script(s, "PRAGMA user_version = 2", err) < 0) {
        store_rollback(s);
        return -1;
    }
    return store_commit(s, err);
}

int store_open(const char *path, struct store **out, struct qerror *err)
{
    struct store *s = xcalloc(1, sizeof(*s));
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        qerror_set(err, ERR_QUBES_EXCEPTION, "store: open %s: %s", path,
                   s->db ? sqlite3_errmsg(s->db) : "out of memory");
        store_close(s);
        return -1;
    }
    /* WAL + FULL: a commit is durable once acknowledged, and a crash at any
     * instant leaves the last committed state. */
    if (exec_script(s,
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                    "PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;",
                    err) < 0 ||
        migrate(s, err) < 0) {
        qerror_prefix(err, "%s: ", path);
        store_close(s);
        return -1;
    }
    *out = s;
    return 0;
}

void store_close(struct store *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < STMT_CACHE; i++)
        sqlite3_finalize(s->cache[i].stmt);
    sqlite3_close(s->db);
    free(s);
}

int store_begin(struct store *s, struct qerror *err)
{
    return store_run(s, "BEGIN IMMEDIATE", 0, NULL, err);
}

int store_commit(struct store *s, struct qerror *err)
{
    return store_run(s, "COMMIT", 0, NULL, err);
}

void store_rollback(struct store *s)
{
    struct qerror ignored;
    if (!sqlite3_get_autocommit(s->db))
        store_run(s, "ROLLBACK", 0, NULL, &ignored);
}

static sqlite3_stmt *prepare(struct store *s, const char *sql, struct qerror *err)
{
    size_t slot = STMT_CACHE;
    for (size_t i = 0; i < STMT_CACHE; i++) {
        if (s->cache[i].sql == sql)
            return s->cache[i].stmt;
        if (!s->cache[i].sql && slot == STMT_CACHE)
            slot = i;
    }
    sqlite3_stmt *stmt;
    if (sqlite3_prepare_v2(s->db, sql, -1, &stmt, NULL) != SQLITE_OK) {
        sql_error(s, err, "prepare");
        return NULL;
    }
    if (slot < STMT_CACHE) {
        s->cache[slot].sql = sql;
        s->cache[slot].stmt = stmt;
    }
    return stmt;
}

static bool is_cached(struct store *s, sqlite3_stmt *stmt)
{
    for (size_t i = 0; i < STMT_CACHE; i++)
        if (s->cache[i].stmt == stmt)
            return true;
    return false;
}

static void release(struct store *s, sqlite3_stmt *stmt)
{
    if (is_cached(s, stmt)) {
        sqlite3_reset(stmt);
        sqlite3_clear_bindings(stmt);
    } else {
        sqlite3_finalize(stmt);
    }
}

int store_query(struct store *s, const char *sql, size_t n_params, const char *const *params,
                store_row_fn row, void *ctx, struct qerror *err)
{
    sqlite3_stmt *stmt = prepare(s, sql, err);
    if (!stmt)
        return -1;
    for (size_t i = 0; i < n_params; i++) {
        int rc = params[i] ? sqlite3_bind_text(stmt, (int)i + 1, params[i], -1, SQLITE_STATIC)
                           : sqlite3_bind_null(stmt, (int)i + 1);
        if (rc != SQLITE_OK) {
            sql_error(s, err, "bind");
            release(s, stmt);
            return -1;
        }
    }
    int result = 0;
    for (;;) {
        int rc = sqlite3_step(stmt);
        if (rc == SQLITE_DONE)
            break;
        if (rc != SQLITE_ROW) {
            result = sql_error(s, err, "step");
            break;
        }
        if (!row)
            continue;
        int n = sqlite3_column_count(stmt);
        if (n > STORE_MAX_COLUMNS) {
            result = qerror_set(err, ERR_QUBES_EXCEPTION,
                                "store: a row of %d columns (at most %d are read)", n,
                                STORE_MAX_COLUMNS);
            break;
        }
        const char *cols[STORE_MAX_COLUMNS];
        for (int i = 0; i < n; i++)
            cols[i] = (const char *)sqlite3_column_text(stmt, i);
        result = row(ctx, (size_t)n, cols);
        if (result)
            break;
    }
    release(s, stmt);
    return result;
}

int store_run(struct store *s, const char *sql, size_t n_params, const char *const *params,
              struct qerror *err)
{
    return store_query(s, sql, n_params, params, NULL, NULL, err);
}
