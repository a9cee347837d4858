/* The event bus (qubes/events.py): every change of the model is announced
 * with Qubes' event name and keyword arguments, to each subscriber in the
 * order they subscribed: the Admin API's event streams, the preload pool,
 * disposable clean-up. The model and the change layer fire; they name no
 * subscriber. (What may refuse a change is a rule of the model, checked
 * before it: property.h, feature_rules.h.) */
#pragma once

#include <stddef.h>

#include "qubesd/app.h"

struct qube_event {
    const struct qube *subject; /* NULL: the app itself (global events) */
    const char *name;
    size_t n;                   /* keyword arguments */
    const char *const *keys;
    const char *const *values;
};

struct event_subscriber {
    /* Told of every event. It must not fire events nor remove the subject
     * itself: work that does is deferred on the loop (loop_defer). */
    void (*on_event)(void *ctx, struct app *app, const struct qube_event *ev);
    void *ctx;
    struct event_subscriber *next; /* the bus's own */
};

/* s stays the caller's; it must outlive its subscription. */
void events_subscribe(struct app *app, struct event_subscriber *s);
void events_unsubscribe(struct app *app, struct event_subscriber *s);

/* Announces an event (subject NULL: the app). */
void app_fire(struct app *app, const struct qube *subject, const char *name, size_t n,
              const char *const *keys, const char *const *values);
