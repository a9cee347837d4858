/* admin.Events: the connection stays open and receives every event of the
 * app and the qubes (dest dom0) or of one qube; the server does the rest. */
#include "qubesd/api.h"

static int events(struct api_call *call, struct qerror *err)
{
    (void)err;
    call->stream = true;
    return 0;
}

/* admin.vm.Stats: vm-stats events of the running qubes (all of them for
 * dom0, else one), every stats_interval seconds; the server sends them. */
static int stats(struct api_call *call, struct qerror *err)
{
    (void)err;
    call->stream = true;
    call->stats = true;
    return 0;
}

const struct api_method api_events_methods[] = {
    { "admin.Events", ARG_NONE, WANT_NO, WANT_ANY, events },
    { "admin.vm.Stats", ARG_NONE, WANT_NO, WANT_ANY, stats },
    { NULL, ARG_NONE, WANT_NO, WANT_NO, NULL },
};
