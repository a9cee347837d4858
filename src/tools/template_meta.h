/* What a template made by qvm-template build is, in the features upstream's qvm-template
 * install sets and its list/info read (qubesadmin/tools/qvm_template.py): template-name,
 * -epoch, -version, -release, -reponame, -buildtime, -installtime, -license, -url,
 * -summary, -description. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "common/error.h"

/* upstream's DATE_FMT, in UTC */
#define TEMPLATE_DATE_FMT "%Y-%m-%d %H:%M:%S"

/* One managed template as the features describe it (strings are heap copies). */
struct template_meta {
    char *name;
    char *epoch;
    char *version;
    char *release;
    char *reponame;
    char *buildtime;
    char *installtime;
    char *license;
    char *url;
    char *summary;
    char *description; /* with its newlines ('|' in the feature) */
};
void template_meta_clear(struct template_meta *m);
#define _cleanup_template_meta_ __attribute__((cleanup(template_meta_clear)))

/* When the build happened: $SOURCE_DATE_EPOCH if set (reproducible builds), else now. */
time_t template_build_time(void);

/* Sets the features of template vm built by recipe at built: the recipe's info file
 * (<recipes>/<recipe>/info: summary=, license=, url=, description= lines) gives the texts,
 * Qubicle's version the version, the build time the release. */
int template_meta_record(const char *vm, const char *recipe, time_t built, struct qerror *err);

/* Reads them back; false (and m untouched) when vm is not managed by qvm-template
 * (its template-name is not its name). */
bool template_meta_read(const char *vm, struct template_meta *m);
