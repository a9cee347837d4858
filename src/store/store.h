/* The store: one SQLite database per root (var/lib/qubes/qubes.db), WAL with
 * synchronous commits; every Admin API change is one transaction. */
#pragma once

#include <stddef.h>

#include "common/error.h"

struct store;

int store_open(const char *path, struct store **out, struct qerror *err);
void store_close(struct store *s);

int store_begin(struct store *s, struct qerror *err);
int store_commit(struct store *s, struct qerror *err);
void store_rollback(struct store *s);

/* Runs one statement with text parameters (NULL binds SQL NULL). sql must be
 * a string literal: prepared statements are cached by its address. */
int store_run(struct store *s, const char *sql, size_t n_params, const char *const *params,
              struct qerror *err);

/* Runs a query; row() gets each row's columns as text (NULL for SQL NULL).
 * A non-zero return from row() stops the query and is returned. */
/* Columns of a row a query may return: more is an error, never a cut row. */
#define STORE_MAX_COLUMNS 32
typedef int (*store_row_fn)(void *ctx, size_t n_cols, const char *const *cols);
int store_query(struct store *s, const char *sql, size_t n_params, const char *const *params,
                store_row_fn row, void *ctx, struct qerror *err);
