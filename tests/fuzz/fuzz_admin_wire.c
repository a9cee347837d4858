/* libFuzzer target for the Admin API wire format: requests, answers and
 * event streams, as a hostile peer could send them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/admin_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > ADMIN_MAX_REQUEST)
        return 0;

    /* the request parser writes NULs into its buffer; the answer parser
     * wants a NUL past the end, as struct buf provides */
    char *copy = malloc(size + 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';

    struct admin_request req;
    if (admin_request_parse(copy, size, &req) == 0) {
        /* every field must be a string inside the buffer */
        if (strlen(req.method) + strlen(req.arg) + strlen(req.src) + strlen(req.dest) > size)
            abort();
        if (req.payload < copy || req.payload + req.payload_len != copy + size)
            abort();
    }

    memcpy(copy, data, size);
    struct admin_response resp;
    struct qerror err = { 0 };
    if (admin_response_parse(copy, size, &resp, &err) == 0 && resp.type == ADMIN_MSG_EXCEPTION)
        if (strlen(resp.kind) + strlen(resp.message) > size)
            abort();

    /* an event stream: take events off the front until one is incomplete */
    size_t pos = 0;
    for (;;) {
        struct admin_event ev;
        long used = admin_event_parse(copy + pos, size - pos, &ev);
        if (used <= 0)
            break;
        if ((size_t)used > size - pos || ev.n_kwargs > ADMIN_EVENT_MAX_KWARGS)
            abort();
        pos += (size_t)used;
    }

    free(copy);
    return 0;
}
