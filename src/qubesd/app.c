/* The model's collections: lookups, ordering, new ids, references between
 * qubes. Data only: storing it is persist.c's, changing it change.c's. */
#include "qubesd/app.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/host_budget.h"
#include "common/names.h"
#include "common/parse.h"
#include "store/store.h"

static const char *const class_names[QUBE_CLASS_COUNT] = {
    [QUBE_ADMINVM] = "AdminVM",       [QUBE_APPVM] = "AppVM",
    [QUBE_DISPVM] = "DispVM",         [QUBE_STANDALONEVM] = "StandaloneVM",
    [QUBE_TEMPLATEVM] = "TemplateVM",
};

const char *qube_class_name(enum qube_class cls)
{
    return cls < QUBE_CLASS_COUNT ? class_names[cls] : "?";
}

int qube_class_from_name(const char *name)
{
    for (int i = 0; i < QUBE_CLASS_COUNT; i++)
        if (strcmp(class_names[i], name) == 0)
            return i;
    return -1;
}

void qube_free(struct qube *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < PROP_MAX; i++)
        free(q->props[i]);
    kv_free(&q->features);
    str_set_free(&q->tags);
    kv_free(&q->volume_pools);
    kv_free(&q->volume_config);
    free(q->notes);
    free(q->firewall);
    free(q);
}

static const char *qube_name_at(const void *array, size_t i)
{
    return ((struct qube *const *)array)[i]->name;
}

/* Position of name among qubes[1..n) (dom0 is always at 0). */
static size_t name_lower_bound(const struct app *app, const char *name, bool *found)
{
    return sorted_lower_bound(app->qubes, 1, app->n_qubes, name, qube_name_at, found);
}

struct qube *app_find(const struct app *app, const char *name)
{
    if (app->n_qubes && strcmp(app->qubes[0]->name, name) == 0)
        return app->qubes[0];
    bool found;
    size_t i = name_lower_bound(app, name, &found);
    return found ? app->qubes[i] : NULL;
}

struct qube *app_find_uuid(const struct app *app, const char *uuid)
{
    for (size_t i = 0; i < app->n_qubes; i++)
        if (strcmp(app->qubes[i]->uuid, uuid) == 0)
            return app->qubes[i];
    return NULL;
}

struct qube *app_dom0(const struct app *app)
{
    return app->qubes[0];
}

void app_insert(struct app *app, struct qube *q)
{
    if (app->n_qubes == app->cap_qubes) {
        app->cap_qubes = app->cap_qubes ? app->cap_qubes * 2 : 64;
        app->qubes = xrealloc(app->qubes, app->cap_qubes * sizeof(*app->qubes));
    }
    size_t i = 0;
    if (q->cls != QUBE_ADMINVM) {
        bool found;
        i = name_lower_bound(app, q->name, &found);
    }
    memmove(&app->qubes[i + 1], &app->qubes[i], (app->n_qubes - i) * sizeof(*app->qubes));
    app->qubes[i] = q;
    app->n_qubes++;
}

void app_unlink(struct app *app, struct qube *q)
{
    for (size_t i = 0; i < app->n_qubes; i++) {
        if (app->qubes[i] == q) {
            memmove(&app->qubes[i], &app->qubes[i + 1],
                    (app->n_qubes - i - 1) * sizeof(*app->qubes));
            app->n_qubes--;
            return;
        }
    }
}

int app_new_qid(const struct app *app)
{
    /* qids are few (< 10000): a bitmap makes this linear, not quadratic */
    static const int max_qid = 10000;
    unsigned char used[10000 / 8 + 1] = { 0 };
    for (size_t i = 0; i < app->n_qubes; i++) {
        int qid = app->qubes[i]->qid;
        if (qid >= 0 && qid < max_qid)
            used[qid / 8] |= (unsigned char)(1u << (qid % 8));
    }
    for (int qid = 1; qid < max_qid; qid++)
        if (!(used[qid / 8] & (1u << (qid % 8))))
            return qid;
    return -1;
}

void app_new_uuid(char out[37])
{
    unsigned char b[16];
    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b))
        abort(); /* no entropy: nothing sane to do */
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

const struct label *app_label_lookup(const struct app *app, const char *untrusted_spec)
{
    /* Qubes' get_label: index first, then name, then int(name), whose '+' is taken */
    long long index = -1;
    const char *spec = untrusted_spec;
    if (strncmp(spec, "label-", 6) == 0 &&
        parse_ll(spec + 6, LLONG_MIN, LLONG_MAX, PARSE_PLUS, &index) == 0) {
        /* "label-<n>" names the index */
    } else if (parse_ll(spec, LLONG_MIN, LLONG_MAX, PARSE_PLUS, &index) < 0) {
        index = -1;
    }
    for (size_t i = 0; i < app->n_labels; i++)
        if (strcmp(app->labels[i].name, spec) == 0)
            return &app->labels[i];
    if (index >= 0)
        for (size_t i = 0; i < app->n_labels; i++)
            if (app->labels[i].index == index)
                return &app->labels[i];
    return NULL;
}

const struct pool *app_pool_find(const struct app *app, const char *name)
{
    for (size_t i = 0; i < app->n_pools; i++)
        if (strcmp(app->pools[i].name, name) == 0)
            return &app->pools[i];
    return NULL;
}

void app_host_init(struct app *app)
{
    long long host_mib = host_memory_mib();
    app->host_memory_mib = host_mib > 0 ? (long)host_mib : 4096;
    app->host_cpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
}

void app_free(struct app *app)
{
    for (size_t i = 0; i < app->n_qubes; i++)
        qube_free(app->qubes[i]);
    free(app->qubes);
    for (size_t i = 0; i < PROP_MAX; i++)
        free(app->props[i]);
    for (size_t i = 0; i < app->n_labels; i++) {
        free(app->labels[i].name);
        free(app->labels[i].color);
    }
    free(app->labels);
    for (size_t i = 0; i < app->n_pools; i++) {
        free(app->pools[i].name);
        free(app->pools[i].driver);
        kv_free(&app->pools[i].config);
    }
    free(app->pools);
    kv_free(&app->clone_tokens);
    store_close(app->store);
    memset(app, 0, sizeof(*app));
}
