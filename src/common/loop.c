/* epoll dispatch with safe removal, and timerfd timers. */
#include "common/loop.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

int loop_init(struct loop *l)
{
    memset(l, 0, sizeof(*l));
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    return l->epfd < 0 ? -1 : 0;
}

void loop_close(struct loop *l)
{
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
    if (l->dispatching && l->n_removed < (int)(sizeof(l->removed) / sizeof(l->removed[0])))
        l->removed[l->n_removed++] = w;
}

static bool removed(const struct loop *l, const struct loop_watch *w)
{
    for (int i = 0; i < l->n_removed; i++)
        if (l->removed[i] == w)
            return true;
    return false;
}

int loop_run_once(struct loop *l, int timeout_ms)
{
    struct epoll_event events[LOOP_BATCH];
    int n = epoll_wait(l->epfd, events, LOOP_BATCH, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -1;
    l->dispatching = true;
    l->n_removed = 0;
    for (int i = 0; i < n; i++) {
        struct loop_watch *w = events[i].data.ptr;
        if (!removed(l, w))
            w->fn(w, events[i].events);
    }
    l->dispatching = false;
    l->n_removed = 0;
    return 0;
}

int loop_timer_start(struct loop *l, struct loop_watch *w, long ms, loop_fn fn, void *ctx)
{
    w->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (w->fd < 0)
        return -1;
    w->fn = fn;
    w->ctx = ctx;
    struct itimerspec its = { .it_value = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 } };
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
