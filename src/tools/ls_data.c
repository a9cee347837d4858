/* qvm-ls's data about qubes, fetched in batches of concurrent calls
 * (ls_data.h). */
#include "tools/ls_data.h"

#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "tools/batch_call.h"

void ls_qubes_init(struct ls_qubes *q, const struct vm_entry *vms, size_t n)
{
    q->v = xcalloc(n ? n : 1, sizeof(*q->v));
    q->n = n;
    for (size_t i = 0; i < n; i++)
        q->v[i].vm = &vms[i];
}

void ls_qubes_free(struct ls_qubes *q)
{
    for (size_t i = 0; i < q->n; i++) {
        struct ls_qube *e = &q->v[i];
        qprops_free(e->props, e->nprops);
        cli_strv_free(e->tags);
        for (size_t k = 0; k < e->nfeatures; k++)
            free(e->features[k].value);
        free(e->features);
        for (size_t k = 0; k < e->nvolumes; k++) {
            free(e->volumes[k].name);
            free(e->volumes[k].pool);
        }
        free(e->volumes);
    }
    free(q->v);
    *q = (struct ls_qubes){ 0 };
}

/* A failure other than a qube gone (or, when absent_ok is not ERR_NONE, an
 * absent item) is reported once. */
static int check_batch(const struct cli *cli, const struct batch_call *calls, size_t n,
                       enum qerror_kind absent_ok)
{
    for (size_t i = 0; i < n; i++) {
        if (calls[i].status == 0 || (calls[i].err->kind == ERR_QUBES_VM_NOT_FOUND_ERROR))
            continue;
        if (absent_ok && calls[i].err->kind == absent_ok)
            continue;
        return cli_qerror(cli, calls[i].err);
    }
    return 0;
}

/* Runs the calls, then check_batch. */
static int run_batch(const struct cli *cli, struct batch_call *calls, size_t n,
                     enum qerror_kind absent_ok)
{
    batch_run(calls, n);
    return check_batch(cli, calls, n, absent_ok);
}

/* n calls of method to the qubes at idx, all else zero. */
static struct batch_call *calls_to(const struct ls_qubes *q, const size_t *idx, size_t n,
                                   const char *method)
{
    struct batch_call *calls = xcalloc(n ? n : 1, sizeof(*calls));
    for (size_t i = 0; i < n; i++) {
        calls[i].method = method;
        calls[i].dest = q->v[idx[i]].vm->name;
    }
    return calls;
}

static void calls_free(struct batch_call *calls, size_t n)
{
    batch_free(calls, n);
    free(calls);
}

struct props_sink {
    struct ls_qubes *q;
    const size_t *idx;
    const struct batch_call *calls;
    struct qerror err; /* the first answer that did not parse */
    bool failed;
};

/* Parses each answer as it comes: no copy of 1000 answers is kept. */
static void props_done(struct batch_call *c, const char *content, size_t len, void *ctx)
{
    struct props_sink *sink = ctx;
    struct ls_qube *e = &sink->q->v[sink->idx[c - sink->calls]];
    if (e->have_props || sink->failed)
        return;
    if (qprops_parse(content, len, &e->props, &e->nprops, &sink->err) < 0) {
        sink->failed = true;
        return;
    }
    e->have_props = true;
}

int ls_fetch_props(const struct cli *cli, struct ls_qubes *q, const size_t *idx, size_t n)
{
    struct batch_call *calls = calls_to(q, idx, n, "admin.vm.property.GetAll");
    struct props_sink sink = { .q = q, .idx = idx, .calls = calls };
    batch_run_each(calls, n, props_done, &sink);
    int rc = check_batch(cli, calls, n, ERR_NONE);
    if (!rc && sink.failed)
        rc = cli_qerror(cli, &sink.err);
    calls_free(calls, n);
    return rc;
}

int ls_fetch_tags(const struct cli *cli, struct ls_qubes *q, const size_t *idx, size_t n)
{
    struct batch_call *calls = calls_to(q, idx, n, "admin.vm.tag.List");
    int rc = run_batch(cli, calls, n, ERR_NONE);
    for (size_t i = 0; i < n && !rc; i++) {
        struct ls_qube *e = &q->v[idx[i]];
        if (calls[i].status < 0 || e->tags)
            continue;
        _cleanup_free_ char **lines = NULL;
        size_t nl = split_lines(calls[i].content.data, &lines);
        e->tags = xcalloc(1, sizeof(char *)); /* fetched, even when empty */
        for (size_t k = 0; k < nl; k++)
            cli_strv_push(&e->tags, &e->ntags, xstrdup(lines[k]));
    }
    calls_free(calls, n);
    return rc;
}

int ls_fetch_features(const struct cli *cli, struct ls_qubes *q, const size_t *idx, size_t n,
                      char *const *names, size_t nnames)
{
    size_t ncalls = n * nnames;
    struct batch_call *calls = xcalloc(ncalls ? ncalls : 1, sizeof(*calls));
    for (size_t i = 0; i < n; i++) {
        for (size_t f = 0; f < nnames; f++) {
            calls[i * nnames + f].method = "admin.vm.feature.Get";
            calls[i * nnames + f].arg = names[f];
            calls[i * nnames + f].dest = q->v[idx[i]].vm->name;
        }
    }
    int rc = run_batch(cli, calls, ncalls, ERR_QUBES_FEATURE_NOT_FOUND_ERROR);
    for (size_t i = 0; i < n && !rc; i++) {
        struct ls_qube *e = &q->v[idx[i]];
        if (e->features)
            continue;
        e->features = xcalloc(nnames ? nnames : 1, sizeof(*e->features));
        e->nfeatures = nnames;
        for (size_t f = 0; f < nnames; f++) {
            const struct batch_call *c = &calls[i * nnames + f];
            e->features[f].name = names[f];
            if (c->status == 0)
                e->features[f].value = xstrdup(c->content.data ? c->content.data : "");
        }
    }
    calls_free(calls, ncalls);
    return rc;
}

/* "key=value" lines of volume.Info: the value of key, or "". */
static const char *info_value(char **lines, size_t n, const char *key)
{
    size_t k = strlen(key);
    for (size_t i = 0; i < n; i++)
        if (strncmp(lines[i], key, k) == 0 && lines[i][k] == '=')
            return lines[i] + k + 1;
    return "";
}

int ls_fetch_volumes(const struct cli *cli, struct ls_qubes *q, const size_t *idx, size_t n)
{
    struct batch_call *lists = calls_to(q, idx, n, "admin.vm.volume.List");
    int rc = run_batch(cli, lists, n, ERR_NONE);
    /* one Info per volume of every qube */
    size_t ninfo = 0;
    _cleanup_free_ char ***names = xcalloc(n ? n : 1, sizeof(char **));
    _cleanup_free_ size_t *counts = xcalloc(n ? n : 1, sizeof(size_t));
    for (size_t i = 0; i < n && !rc; i++) {
        if (lists[i].status == 0)
            counts[i] = split_lines(lists[i].content.data, &names[i]);
        ninfo += counts[i];
    }
    struct batch_call *infos = xcalloc(ninfo ? ninfo : 1, sizeof(*infos));
    for (size_t i = 0, k = 0; i < n && !rc; i++) {
        for (size_t v = 0; v < counts[i]; v++, k++) {
            infos[k].method = "admin.vm.volume.Info";
            infos[k].arg = names[i][v];
            infos[k].dest = q->v[idx[i]].vm->name;
        }
    }
    if (!rc)
        rc = run_batch(cli, infos, ninfo, ERR_NONE);
    for (size_t i = 0, k = 0; i < n && !rc; i++) {
        struct ls_qube *e = &q->v[idx[i]];
        bool fill = !e->have_volumes;
        e->have_volumes = true;
        for (size_t v = 0; v < counts[i]; v++, k++) {
            if (!fill || infos[k].status < 0)
                continue;
            _cleanup_free_ char **lines = NULL;
            size_t nl = split_lines(infos[k].content.data, &lines);
            e->volumes = xrealloc(e->volumes, (e->nvolumes + 1) * sizeof(*e->volumes));
            struct ls_volume *vol = &e->volumes[e->nvolumes++];
            vol->name = xstrdup(names[i][v]);
            vol->pool = xstrdup(info_value(lines, nl, "pool"));
            vol->size = strtoull(info_value(lines, nl, "size"), NULL, 10);
            vol->usage = strtoull(info_value(lines, nl, "usage"), NULL, 10);
        }
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    calls_free(infos, ninfo);
    calls_free(lists, n);
    return rc;
}

int ls_fetch_memory(const struct cli *cli, struct ls_qubes *q, const size_t *idx, size_t n)
{
    _cleanup_free_ size_t *running = xcalloc(n ? n : 1, sizeof(size_t));
    size_t nrunning = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(q->v[idx[i]].vm->state, "Halted") != 0)
            running[nrunning++] = idx[i];
    struct batch_call *calls = calls_to(q, running, nrunning, "admin.vm.CurrentState");
    int rc = run_batch(cli, calls, nrunning, ERR_NONE);
    for (size_t i = 0; i < nrunning && !rc; i++) {
        if (calls[i].status < 0)
            continue;
        /* "mem=<KiB> mem_static_max=... cputime=... power_state=..." */
        const char *s = calls[i].content.data ? calls[i].content.data : "";
        if (strncmp(s, "mem=", 4) != 0)
            continue;
        struct ls_qube *e = &q->v[running[i]];
        e->have_mem = true;
        e->mem_kib = strtoull(s + 4, NULL, 10);
    }
    calls_free(calls, nrunning);
    return rc;
}

const struct qprop *ls_prop(const struct ls_qube *q, const char *name)
{
    return q->have_props ? qprops_find(q->props, q->nprops, name) : NULL;
}

const char *ls_feature(const struct ls_qube *q, const char *name)
{
    for (size_t i = 0; i < q->nfeatures; i++)
        if (strcmp(q->features[i].name, name) == 0)
            return q->features[i].value;
    return NULL;
}

bool ls_has_tag(const struct ls_qube *q, const char *tag)
{
    return q->tags && cli_strv_contains(q->tags, q->ntags, tag);
}

const struct ls_volume *ls_volume(const struct ls_qube *q, const char *name)
{
    for (size_t i = 0; i < q->nvolumes; i++)
        if (strcmp(q->volumes[i].name, name) == 0)
            return &q->volumes[i];
    return NULL;
}
