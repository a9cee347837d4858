/* The template-* features of templates made by qvm-template build (template_meta.h). */
#include "tools/template_meta.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/parse.h"
#include "config.h"
#include "tools/batch_call.h"
#include "tools/cli.h"
#include "tools/template_import.h"

/* The features, in the order of struct template_meta. */
static const char *const feature_names[] = {
    "template-name",     "template-epoch",     "template-version",     "template-release",
    "template-reponame", "template-buildtime", "template-installtime", "template-license",
    "template-url",      "template-summary",   "template-description",
};
#define NFEATURES (sizeof(feature_names) / sizeof(feature_names[0]))

static char **meta_field(struct template_meta *m, size_t i)
{
    char **fields[NFEATURES] = { &m->name,     &m->epoch,     &m->version,     &m->release,
                                 &m->reponame, &m->buildtime, &m->installtime, &m->license,
                                 &m->url,      &m->summary,   &m->description };
    return fields[i];
}

void template_meta_clear(struct template_meta *m)
{
    for (size_t i = 0; i < NFEATURES; i++) {
        free(*meta_field(m, i));
        *meta_field(m, i) = NULL;
    }
}

time_t template_build_time(void)
{
    const char *epoch = getenv("SOURCE_DATE_EPOCH");
    if (epoch && *epoch) {
        long long v;
        if (parse_ll(epoch, 0, LLONG_MAX, 0, &v) == 0)
            return (time_t)v;
    }
    return time(NULL);
}

/* upstream's DATE_FMT (UTC) */
static char *format_date(time_t t)
{
    struct tm tm;
    char text[64];
    gmtime_r(&t, &tm);
    strftime(text, sizeof(text), TEMPLATE_DATE_FMT, &tm);
    return xstrdup(text);
}

/* the release: the build time to the minute, as Qubes' template packages number theirs */
static char *format_release(time_t t)
{
    struct tm tm;
    char text[64];
    gmtime_r(&t, &tm);
    strftime(text, sizeof(text), "%Y%m%d%H%M", &tm);
    return xstrdup(text);
}

/* The recipe's info file into m's texts; a missing file leaves them empty. */
static void read_recipe_info(const char *recipe, struct template_meta *m)
{
    _cleanup_free_ char *dir = template_recipes_dir();
    _cleanup_free_ char *path = xasprintf("%s/%s/info", dir, recipe);
    struct buf description = BUF_INIT;
    FILE *f = fopen(path, "re");
    char line[1024];
    while (f && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        char *eq = strchr(line, '=');
        if (line[0] == '#' || !eq)
            continue;
        *eq = '\0';
        const char *value = eq + 1;
        if (strcmp(line, "description") == 0) {
            buf_printf(&description, "%s%s", description.len ? "|" : "", value);
            continue;
        }
        char **field = strcmp(line, "summary") == 0   ? &m->summary
                       : strcmp(line, "license") == 0 ? &m->license
                       : strcmp(line, "url") == 0     ? &m->url
                                                      : NULL;
        if (field) {
            free(*field);
            *field = xstrdup(value);
        }
    }
    if (f)
        fclose(f);
    m->description = description.len ? buf_steal(&description) : xstrdup("");
    buf_free(&description);
}

int template_meta_record(const char *vm, const char *recipe, time_t built, struct qerror *err)
{
    _cleanup_template_meta_ struct template_meta m = {
        .name = xstrdup(vm),
        .epoch = xstrdup("0"),
        .version = xstrdup(QUBICLE_VERSION),
        .release = format_release(built),
        /* upstream's name for a package installed from a file rather than a repository */
        .reponame = xstrdup("@commandline"),
        .buildtime = format_date(built),
        .installtime = format_date(time(NULL)),
    };
    read_recipe_info(recipe, &m);
    for (size_t i = 0; i < NFEATURES; i++) {
        const char *value = *meta_field(&m, i) ? *meta_field(&m, i) : "";
        if (qcall("admin.vm.feature.Set", feature_names[i], vm, value, strlen(value), NULL, err) <
            0) {
            qerror_prefix(err, "set feature %s: ", feature_names[i]);
            return -1;
        }
    }
    return 0;
}

bool template_meta_read(const char *vm, struct template_meta *m)
{
    struct batch_call calls[NFEATURES] = { 0 };
    for (size_t i = 0; i < NFEATURES; i++) {
        calls[i].method = "admin.vm.feature.Get";
        calls[i].arg = feature_names[i];
        calls[i].dest = vm;
    }
    batch_run(calls, NFEATURES);
    bool managed =
        calls[0].status == 0 && calls[0].content.data && strcmp(calls[0].content.data, vm) == 0;
    for (size_t i = 0; managed && i < NFEATURES; i++) {
        const char *v = calls[i].status == 0 && calls[i].content.data ? calls[i].content.data : "";
        char *copy = xstrdup(v);
        if (i == NFEATURES - 1) /* the description keeps its lines as '|' */
            for (char *p = copy; *p; p++)
                if (*p == '|')
                    *p = '\n';
        *meta_field(m, i) = copy;
    }
    batch_free(calls, NFEATURES);
    return managed;
}
