/* Properties of qubes and of the app (global properties): one table with
 * types, defaults (template-inherited ones included), validation and help,
 * following qubes/vm/ (qubesvm.py, mix/net.py) and qubes/app.py. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/error.h"
#include "qubesd/app.h"

enum prop_type { PROP_STR, PROP_INT, PROP_BOOL, PROP_VM, PROP_LABEL };

/* Which holders have a property: one bit per qube class, plus the app. */
#define ON(cls) (1u << (cls))
#define ON_GLOBAL (1u << QUBE_CLASS_COUNT)
#define ON_QUBESVM (ON(QUBE_APPVM) | ON(QUBE_DISPVM) | ON(QUBE_STANDALONEVM) | ON(QUBE_TEMPLATEVM))
#define ON_ALL_QUBES (ON_QUBESVM | ON(QUBE_ADMINVM))

enum prop_flags {
    PROP_WRITE_ONCE = 1 << 0,  /* set at creation, never changed */
    PROP_READONLY = 1 << 1,    /* Qubes' "forbidden" setter: computed or fixed */
    PROP_ALLOW_NONE = 1 << 2,  /* a vm property that may be empty (None) */
    PROP_INHERIT = 1 << 3,     /* default is the template's value when there is one */
    PROP_NO_RESET = 1 << 4,    /* cannot go back to a default (template) */
    PROP_LOWERCASE = 1 << 5,   /* case-folded when set (mac, virt_mode) */
    PROP_IDENTITY = 1 << 6,    /* name, qid, uuid: kept in struct qube itself */
    PROP_HALTED_ONLY = 1 << 7, /* changes only while the qube is halted (template) */
};

struct prop_def;

/* Writes the default value to out; returns 0, or 1 when there is none. */
typedef int (*prop_default_fn)(const struct app *app, const struct qube *q,
                               const struct prop_def *def, struct buf *out);
/* Semantic checks, run with the new value already in place (tentatively),
 * so they see the model as it would be. */
typedef int (*prop_check_fn)(const struct app *app, const struct qube *q,
                             const struct prop_def *def, const char *value, struct qerror *err);

struct prop_def {
    const char *name;
    enum prop_type type;
    unsigned holders;
    unsigned flags;
    int load_stage; /* listing order is (load_stage, name), as in Qubes */
    prop_default_fn get_default;
    const char *default_text; /* for get_default == default_const */
    prop_check_fn check;
    unsigned vm_class_mask; /* PROP_VM: allowed classes of the target (0 = any) */
    const char *doc;
    size_t index; /* slot in qube->props / app->props */
};

/* Validates the table and builds the per-class listing orders. */
int prop_table_check(struct qerror *err);

const struct prop_def *prop_find(enum qube_class cls, const char *name);
const struct prop_def *prop_find_global(const char *name);
/* The properties of a holder in listing order; *n receives the count. */
const struct prop_def *const *prop_list(const struct qube *q, size_t *n);

const char *prop_type_name(enum prop_type type);

/* The effective value: the set one, else the default. Returns 0 with the
 * value in out, 1 when there is none (Qubes' AttributeError). */
int prop_value(const struct app *app, const struct qube *q, const struct prop_def *def,
               struct buf *out);
int prop_default(const struct app *app, const struct qube *q, const struct prop_def *def,
                 struct buf *out);
bool prop_is_default(const struct app *app, const struct qube *q, const struct prop_def *def);
/* Shortcut for a qube-valued property: the target qube or NULL. */
struct qube *prop_value_qube(const struct app *app, const struct qube *q, const char *name);
/* Integer / boolean value of a property, or fallback when unset/none. */
long long prop_value_int(const struct app *app, const struct qube *q, const char *name,
                         long long fallback);
bool prop_value_bool(const struct app *app, const struct qube *q, const char *name);

/* "default=True type=int 400", exactly as admin.vm.property.Get answers. */
void prop_serialize(const struct app *app, const struct qube *q, const struct prop_def *def,
                    struct buf *out);
/* The docstring, whitespace collapsed, as admin.vm.property.Help answers. */
void prop_help(const struct prop_def *def, struct buf *out);

/* Type-level sanitising of an untrusted payload into canonical text. */
int prop_sanitize(const struct app *app, const struct qube *q, const struct prop_def *def,
                  const char *untrusted_value, size_t len, struct buf *canonical,
                  struct qerror *err);
/* Whether the holder may change this property at all (write-once, fixed). */
int prop_check_writable(const struct qube *q, const struct prop_def *def, bool reset,
                        struct qerror *err);
/* Runs the semantic checks with new_value (NULL = reset to default) placed
 * tentatively; the model is unchanged afterwards. */
int prop_check_change(struct app *app, struct qube *q, const struct prop_def *def,
                      const char *new_value, struct qerror *err);

/* The value slot of a holder: q->props or app->props. */
char **prop_slot(struct app *app, struct qube *q, const struct prop_def *def);

/* The effective netvm of a qube (NULL if none). */
struct qube *qube_netvm(const struct app *app, const struct qube *q);
/* The template of a qube (NULL if the class has none). */
struct qube *qube_template(const struct app *app, const struct qube *q);

/* Who refers to q through a qube-valued property (effective values, so a
 * default counts): true with the first holder and property found. */
bool prop_find_reference(const struct app *app, const struct qube *q, const char **holder,
                         const char **prop);
