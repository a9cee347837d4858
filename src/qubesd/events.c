/* The subscriber list of the event bus. */
#include "qubesd/events.h"

void events_subscribe(struct app *app, struct event_subscriber *s)
{
    struct event_subscriber **at = &app->subscribers;
    while (*at)
        at = &(*at)->next;
    s->next = NULL;
    *at = s;
}

void events_unsubscribe(struct app *app, struct event_subscriber *s)
{
    for (struct event_subscriber **at = &app->subscribers; *at; at = &(*at)->next)
        if (*at == s) {
            *at = s->next;
            return;
        }
}

void app_fire(struct app *app, const struct qube *subject, const char *name, size_t n,
              const char *const *keys, const char *const *values)
{
    const struct qube_event ev = { subject, name, n, keys, values };
    for (struct event_subscriber *s = app->subscribers; s; s = s->next)
        if (s->on_event)
            s->on_event(s->ctx, app, &ev);
}

int app_check(const struct app *app, const struct qube *subject, const char *name, size_t n,
              const char *const *keys, const char *const *values, struct qerror *err)
{
    const struct qube_event ev = { subject, name, n, keys, values };
    for (const struct event_subscriber *s = app->subscribers; s; s = s->next)
        if (s->check && s->check(s->ctx, app, &ev, err) < 0)
            return -1;
    return 0;
}
