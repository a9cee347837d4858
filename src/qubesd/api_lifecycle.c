/* admin.vm.Start, Shutdown, Kill, Pause, Unpause, Suspend, Resume, Console and
 * CurrentState. */
#include <string.h>

#include "qubesd/api.h"
#include "qubesd/lifecycle.h"

/* The lifecycle's outcome, as the deferred answer of the request. */
static void answer(struct app *app, void *ctx, const struct qerror *err)
{
    (void)app;
    api_reply_done(ctx, err);
}

/* The callback for a reply: none where nothing can wait (no connection). */
static lifecycle_done_fn answer_fn(const struct api_reply *reply)
{
    return reply ? answer : NULL;
}

/* Starts an operation that answers later; a refusal at once is answered
 * now, as any error (the reply is dropped). */
static int deferred(struct api_call *call, int rc, struct api_reply *reply)
{
    if (rc < 0) {
        call->deferred = NULL;
        api_reply_forget(reply);
    }
    return rc;
}

static int vm_start(struct api_call *call, struct qerror *err)
{
    struct api_reply *reply = api_call_defer(call);
    return deferred(call, lifecycle_start(call->app, call->dest, answer_fn(reply), reply, err),
                    reply);
}

static int vm_shutdown(struct api_call *call, struct qerror *err)
{
    bool force = false, wait = false;
    const char *a = call->arg;
    if (strcmp(a, "force") == 0)
        force = true;
    else if (strcmp(a, "wait") == 0)
        wait = true;
    else if (strcmp(a, "force+wait") == 0 || strcmp(a, "wait+force") == 0)
        force = wait = true;
    else if (*a)
        return qerror_set(err, ERR_PROTOCOL_ERROR,
                          "Invalid argument: expected force, wait or "
                          "force+wait");
    struct api_reply *reply = api_call_defer(call);
    return deferred(
        call, lifecycle_shutdown(call->app, call->dest, force, wait, answer_fn(reply), reply, err),
        reply);
}

static int vm_kill(struct api_call *call, struct qerror *err)
{
    struct api_reply *reply = api_call_defer(call);
    return deferred(call, lifecycle_kill(call->app, call->dest, answer_fn(reply), reply, err),
                    reply);
}

static int vm_pause(struct api_call *call, struct qerror *err)
{
    return lifecycle_pause(call->app, call->dest, true, err);
}

static int vm_unpause(struct api_call *call, struct qerror *err)
{
    return lifecycle_pause(call->app, call->dest, false, err);
}

/* qubesvm.py suspend(): a qube without PCI devices is suspended as libvirt's
 * suspend(), i.e. paused (domain-paused); one already paused stays so. No
 * qube here has PCI devices, so none reaches the S3 "Suspended" state. */
static int vm_suspend(struct api_call *call, struct qerror *err)
{
    if (call->dest->cls == QUBE_ADMINVM)
        return qerror_set(err, ERR_QUBES_VM_ERROR, "Cannot suspend Dom0 fake domain!");
    if (qube_power(call->dest) == POWER_PAUSED)
        return 0;
    return lifecycle_pause(call->app, call->dest, true, err);
}

/* qubesvm.py resume(): a qube not in "Suspended" is unpaused. */
static int vm_resume(struct api_call *call, struct qerror *err)
{
    return lifecycle_pause(call->app, call->dest, false, err);
}

/* The tty of the qube's console for the admin.vm.Console script. Qubes reads it
 * from the domain's libvirt <console tty=...>; a console that is a log file
 * (as every console here is) has no tty, and the answer is empty. */
static int vm_console(struct api_call *call, struct qerror *err)
{
    if (qube_power(call->dest) == POWER_HALTED)
        return qerror_set(err, ERR_QUBES_VM_NOT_RUNNING_ERROR,
                          "Domain not running (either powered off or paused): '%s'",
                          call->dest->name);
    return 0;
}

static int vm_current_state(struct api_call *call, struct qerror *err)
{
    (void)err;
    lifecycle_current_state(call->app, call->dest, &call->out);
    return 0;
}

const struct api_method api_lifecycle_methods[] = {
    { "admin.vm.Start", ARG_NONE, WANT_NO, WANT_ANY, vm_start },
    { "admin.vm.Shutdown", ARG_NAME_OPTIONAL, WANT_NO, WANT_ANY, vm_shutdown },
    { "admin.vm.Kill", ARG_NONE, WANT_NO, WANT_ANY, vm_kill },
    { "admin.vm.Pause", ARG_NONE, WANT_NO, WANT_ANY, vm_pause },
    { "admin.vm.Unpause", ARG_NONE, WANT_NO, WANT_ANY, vm_unpause },
    { "admin.vm.Suspend", ARG_NONE, WANT_NO, WANT_ANY, vm_suspend },
    { "admin.vm.Resume", ARG_NONE, WANT_NO, WANT_ANY, vm_resume },
    { "admin.vm.Console", ARG_NONE, WANT_NO, WANT_ANY, vm_console },
    { "admin.vm.CurrentState", ARG_NONE, WANT_NO, WANT_ANY, vm_current_state },
    { NULL, ARG_NONE, WANT_NO, WANT_NO, NULL },
};
