/* admin.Events: the connection stays open and receives every event of the
 * app and the qubes (dest dom0) or of one qube; the server does the rest. */
#include "qubesd/api.h"

static int events(struct api_call *call, struct qerror *err)
{
    (void)err;
    call->stream = true;
    return 0;
}

const struct api_method api_events_methods[] = {
    { "admin.Events", WANT_NO, WANT_NO, WANT_ANY, events },
    { NULL, WANT_NO, WANT_NO, WANT_NO, NULL },
};
