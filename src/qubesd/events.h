/* The event bus (qubes/events.py): every change of the model is announced
 * with Qubes' event name and keyword arguments, to each subscriber in the
 * order they subscribed: the Admin API's event streams, the preload pool,
 * disposable clean-up. The model, the change layer and the lifecycle fire;
 * they name no subscriber. A subscriber may also refuse a change before it
 * is made (app_check; Qubes' pre-event handlers that raise): at
 * domain-pre-start, property-pre-set:<name>, property-pre-reset:<name>,
 * and at qubesd's own domain-pre-running, when a qube's agent is up and
 * before it counts as running (its network is made there). */
#pragma once

#include <stddef.h>

#include "common/error.h"
#include "qubesd/app.h"

struct qube_event {
    const struct qube *subject; /* NULL: the app itself (global events) */
    const char *name;
    size_t n; /* keyword arguments */
    const char *const *keys;
    const char *const *values;
};

struct event_subscriber {
    /* Told of every event. It must not fire events nor remove the subject
     * itself: work that does is deferred on the loop (loop_defer). */
    void (*on_event)(void *ctx, struct app *app, const struct qube_event *ev);
    /* Asked before a pre-event's change (app_check): -1 with err refuses it. */
    int (*check)(void *ctx, const struct app *app, const struct qube_event *ev, struct qerror *err);
    void *ctx;
    struct event_subscriber *next; /* the bus's own */
};

/* s stays the caller's; it must outlive its subscription. */
void events_subscribe(struct app *app, struct event_subscriber *s);
void events_unsubscribe(struct app *app, struct event_subscriber *s);

/* Announces an event (subject NULL: the app). */
void app_fire(struct app *app, const struct qube *subject, const char *name, size_t n,
              const char *const *keys, const char *const *values);
/* Asks every subscriber's check about a change to come; the first refusal
 * wins. */
int app_check(const struct app *app, const struct qube *subject, const char *name, size_t n,
              const char *const *keys, const char *const *values, struct qerror *err);
