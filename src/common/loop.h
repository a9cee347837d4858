/* A small epoll loop for the daemons: descriptors with callbacks, and
 * one-shot timers as timerfds. A watch removed during a batch of events is
 * never called again in that batch, so owners may free it at once: its
 * pending events are struck from the batch. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>

#define LOOP_BATCH 64

struct loop_watch;
typedef void (*loop_fn)(struct loop_watch *w, uint32_t events);

struct loop_watch {
    int fd;
    loop_fn fn;
    void *ctx;
};

struct loop_deferred; /* loop.c */

struct loop {
    int epfd;
    bool stop;
    struct loop_deferred *deferred, **deferred_tail; /* loop_defer's queue */
    /* the batch being dispatched: events[next..n) are still to come */
    struct epoll_event *batch;
    int next, n;
};

int loop_init(struct loop *l);
void loop_close(struct loop *l);
int loop_add(struct loop *l, struct loop_watch *w, uint32_t events);
int loop_mod(struct loop *l, struct loop_watch *w, uint32_t events);
void loop_del(struct loop *l, struct loop_watch *w);
/* Runs fn(ctx) once the callback running now returns, before any other
 * event is dispatched (or at the next loop_run_once, outside a callback):
 * for work that must not happen inside the code that asked for it, yet
 * before anyone else is served. */
void loop_defer(struct loop *l, void (*fn)(void *ctx), void *ctx);
/* Runs what was deferred now: for a callback that serves several clients in
 * one call, between two of them. */
void loop_run_deferred(struct loop *l);

/* Waits up to timeout_ms and runs the callbacks of what is ready. */
int loop_run_once(struct loop *l, int timeout_ms);

/* A one-shot timer: fn runs after ms milliseconds unless cancelled. The
 * timer's fd is closed by loop_timer_cancel (also after it fired). */
int loop_timer_start(struct loop *l, struct loop_watch *w, long ms, loop_fn fn, void *ctx);
void loop_timer_cancel(struct loop *l, struct loop_watch *w);
