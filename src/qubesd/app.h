/* The domain model: the qubes, labels, pools and global properties of one
 * root, held in memory and mirrored in the store. This is the daemon's one
 * model object; everything else receives it explicitly. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "common/buf.h"
#include "common/error.h"
#include "common/str_set.h"

struct store;
struct loop;
struct qube_runtime;

enum qube_class {
    QUBE_ADMINVM,
    QUBE_APPVM,
    QUBE_DISPVM,
    QUBE_STANDALONEVM,
    QUBE_TEMPLATEVM,
    QUBE_CLASS_COUNT,
};

#define PROP_MAX 64 /* bound on the property table (checked at start) */

struct kv {
    char *key;
    char *value;
};

/* A small map kept sorted by key (features, volume pools). */
struct kv_list {
    struct kv *items;
    size_t n, cap;
};

struct qube {
    int qid;
    char name[32];
    char uuid[37];
    enum qube_class cls;
    char *props[PROP_MAX]; /* explicitly set values (canonical text); NULL = default */
    struct kv_list features;
    struct str_set tags;
    char *notes;                  /* NULL = none */
    char *firewall;               /* rules in API form, one per line; NULL = default (accept) */
    struct kv_list volume_pools;  /* volume name -> pool name, from CreateInPool */
    struct qube_runtime *runtime; /* NULL while halted (lifecycle.c) */
    struct kv_list volume_config; /* "<volume>.<key>" -> value (storage_glue.h) */
    int xid;                      /* while it runs: its domain id (xid.h); 0 while halted */
    struct timespec started;      /* while it runs: when it started */
};

struct label {
    int index;
    char *name;
    char *color;
};

struct pool {
    char *name;
    char *driver;
    struct kv_list config;
};

struct event_subscriber; /* events.h */

struct app {
    struct qube **qubes; /* dom0 first, then sorted by name */
    size_t n_qubes, cap_qubes;
    char *props[PROP_MAX]; /* global properties (same table, holder = app) */
    struct label *labels;
    size_t n_labels;
    struct pool *pools;
    size_t n_pools;
    struct store *store;
    long host_memory_mib;
    int host_cpus;
    struct event_subscriber *subscribers; /* of the event bus (events.h) */
    struct loop *loop;           /* the daemon's event loop (main's), for work that waits */
    struct kv_list clone_tokens; /* admin.vm.volume.CloneFrom: token -> "<uuid>:<volume>" */
    int last_xid;                /* the domain id handed out last (xid.h) */
};

const char *qube_class_name(enum qube_class cls);
/* Returns -1 if name is not one of the classes (AdminVM included). */
int qube_class_from_name(const char *name);

/* The host's memory and CPUs, as the model reports them. */
void app_host_init(struct app *app);
/* Frees the model and closes its store. */
void app_free(struct app *app);

struct qube *app_find(const struct app *app, const char *name);
struct qube *app_find_uuid(const struct app *app, const char *uuid);
struct qube *app_dom0(const struct app *app);
/* Inserts into the sorted collection (memory only). */
void app_insert(struct app *app, struct qube *q);
void app_unlink(struct app *app, struct qube *q);
/* Lowest unused qid in 1..9999, or -1. */
int app_new_qid(const struct app *app);
/* A random (version 4) UUID in its 36-character text form. */
void app_new_uuid(char out[37]);

const struct label *app_label_lookup(const struct app *app, const char *untrusted_spec);
const struct pool *app_pool_find(const struct app *app, const char *name);

void qube_free(struct qube *q);

/* kv_list helpers (str_set's are in common/str_set.h). */
const char *kv_get(const struct kv_list *l, const char *key);
bool kv_has(const struct kv_list *l, const char *key);
void kv_set(struct kv_list *l, const char *key, const char *value);
bool kv_del(struct kv_list *l, const char *key);
void kv_free(struct kv_list *l);
