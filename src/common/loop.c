/* epoll dispatch with safe removal, and timerfd timers. */
#include "common/loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

struct loop_deferred {
    void (*fn)(void *ctx);
    void *ctx;
    struct loop_deferred *next;
};

void loop_defer(struct loop *l, void (*fn)(void *ctx), void *ctx)
{
    struct loop_deferred *d = malloc(sizeof(*d));
    if (!d)
        abort();
    *d = (struct loop_deferred){ fn, ctx, NULL };
    if (!l->deferred_tail)
        l->deferred_tail = &l->deferred;
    *l->deferred_tail = d;
    l->deferred_tail = &d->next;
}

/* What was deferred, in order; work deferred meanwhile runs too. */
static void run_deferred(struct loop *l)
{
    while (l->deferred) {
        struct loop_deferred *d = l->deferred;
        l->deferred = d->next;
        if (!l->deferred)
            l->deferred_tail = &l->deferred;
        d->fn(d->ctx);
        free(d);
    }
}

void loop_run_deferred(struct loop *l)
{
    run_deferred(l);
}

int loop_init(struct loop *l)
{
    memset(l, 0, sizeof(*l));
    l->deferred_tail = &l->deferred;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    return l->epfd < 0 ? -1 : 0;
}

void loop_close(struct loop *l)
{
    run_deferred(l);
    if (l->epfd >= 0)
        close(l->epfd);
    l->epfd = -1;
}

int loop_add(struct loop *l, struct loop_watch *w, uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.ptr = w };
    return epoll_ctl(l->epfd, EPOLL_CTL_ADD, w->fd, &ev);
}

int loop_mod(struct loop *l, struct loop_watch *w, uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.ptr = w };
    return epoll_ctl(l->epfd, EPOLL_CTL_MOD, w->fd, &ev);
}

void loop_del(struct loop *l, struct loop_watch *w)
{
    if (w->fd >= 0)
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
    for (int i = l->next; i < l->n; i++)
        if (l->batch[i].data.ptr == w)
            l->batch[i].data.ptr = NULL;
}

int loop_run_once(struct loop *l, int timeout_ms)
{
    run_deferred(l);
    struct epoll_event events[LOOP_BATCH];
    int n = epoll_wait(l->epfd, events, LOOP_BATCH, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -1;
    l->batch = events;
    l->n = n;
    for (l->next = 0; l->next < l->n;) {
        struct epoll_event *e = &events[l->next++];
        if (e->data.ptr) {
            struct loop_watch *w = e->data.ptr;
            w->fn(w, e->events);
            run_deferred(l);
        }
    }
    l->batch = NULL;
    l->next = l->n = 0;
    return 0;
}

int loop_timer_start(struct loop *l, struct loop_watch *w, long ms, loop_fn fn, void *ctx)
{
    w->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (w->fd < 0)
        return -1;
    w->fn = fn;
    w->ctx = ctx;
    struct itimerspec its = { .it_value = { .tv_sec = ms / 1000,
                                            .tv_nsec = (ms % 1000) * 1000000 } };
    if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
        its.it_value.tv_nsec = 1;
    if (timerfd_settime(w->fd, 0, &its, NULL) < 0 || loop_add(l, w, EPOLLIN) < 0) {
        close(w->fd);
        w->fd = -1;
        return -1;
    }
    return 0;
}

void loop_timer_cancel(struct loop *l, struct loop_watch *w)
{
    if (w->fd < 0)
        return;
    loop_del(l, w);
    close(w->fd);
    w->fd = -1;
}
