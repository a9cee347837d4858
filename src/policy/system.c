/* The system info the policy is evaluated against: qubes with their type,
 * tags, DispVM settings and power state (upstream's GetSystemInfo). */
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "policy/internal.h"

struct policy_qube *policy_system_add(struct policy_system *sys, const char *name, const char *uuid,
                                      const char *type)
{
    sys->qubes = xrealloc(sys->qubes, (sys->n_qubes + 1) * sizeof(*sys->qubes));
    struct policy_qube *q = &sys->qubes[sys->n_qubes++];
    memset(q, 0, sizeof(*q));
    q->name = xstrdup(name);
    q->uuid = uuid ? xstrdup(uuid) : NULL;
    q->type = xstrdup(type);
    q->power_state = xstrdup("Halted");
    return q;
}

void policy_qube_add_tag(struct policy_qube *q, const char *tag)
{
    q->tags = xrealloc(q->tags, (q->n_tags + 1) * sizeof(*q->tags));
    q->tags[q->n_tags++] = xstrdup(tag);
}

void policy_qube_set(char **field, const char *value)
{
    free(*field);
    *field = value ? xstrdup(value) : NULL;
}

const struct policy_qube *policy_system_find(const struct policy_system *sys, const char *name)
{
    for (size_t i = 0; i < sys->n_qubes; i++)
        if (strcmp(sys->qubes[i].name, name) == 0)
            return &sys->qubes[i];
    return NULL;
}

const struct policy_qube *policy_system_resolve(const struct policy_system *sys, const char *name)
{
    if (strncmp(name, "uuid:", 5) == 0) {
        for (size_t i = 0; i < sys->n_qubes; i++)
            if (sys->qubes[i].uuid && strcmp(sys->qubes[i].uuid, name + 5) == 0)
                return &sys->qubes[i];
        return NULL;
    }
    return policy_system_find(sys, name);
}

void policy_system_free(struct policy_system *sys)
{
    for (size_t i = 0; i < sys->n_qubes; i++) {
        struct policy_qube *q = &sys->qubes[i];
        free(q->name);
        free(q->uuid);
        free(q->type);
        for (size_t t = 0; t < q->n_tags; t++)
            free(q->tags[t]);
        free(q->tags);
        free(q->default_dispvm);
        free(q->power_state);
    }
    free(sys->qubes);
    sys->qubes = NULL;
    sys->n_qubes = 0;
}
