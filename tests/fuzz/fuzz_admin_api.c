/* Fuzzes the whole Admin API layer: any bytes as a request, parsed and
 * executed against one long-lived model (an in-memory store), as qubesd
 * would for a hostile client. The model accumulates qubes between inputs,
 * which is what lets the fuzzer reach the reference and netvm checks. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/root.h"
#include "qubesd/api.h"
#include "qubesd/app.h"
#include "qubesd/persist.h"

static struct app app;

static void setup(void)
{
#define SEED(s) \
    { \
        s, sizeof(s) - 1 \
    }
    static const struct {
        const char *bytes;
        size_t len;
    } seed[] = {
        SEED("admin.vm.Create.TemplateVM+ dom0 name dom0\0name=tpl label=black"),
        SEED("admin.vm.Create.AppVM+tpl dom0 name dom0\0name=net label=red"),
        SEED("admin.vm.property.Set+provides_network dom0 name net\0True"),
        SEED("admin.vm.Create.AppVM+tpl dom0 name dom0\0name=work label=blue"),
    };
    qroot_set("/nonexistent-qubicle-fuzz-root");
    struct qerror err = { 0 };
    if (persist_load(&app, ":memory:", &err) < 0)
        abort();
    for (size_t i = 0; i < sizeof(seed) / sizeof(seed[0]); i++) {
        char *copy = malloc(seed[i].len);
        memcpy(copy, seed[i].bytes, seed[i].len);
        struct admin_request req;
        struct api_call call;
        if (admin_request_parse(copy, seed[i].len, &req) < 0 ||
            api_execute(&app, NULL, &req, &call, NULL, &err) < 0)
            abort();
        api_call_free(&call);
        free(copy);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!app.store)
        setup();
    if (size > 65536)
        return 0;
    char *copy = malloc(size + 1);
    memcpy(copy, data, size);
    copy[size] = '\0';
    struct admin_request req;
    /* power changes start and stop real processes on qubesd's loop: not here */
    static const char *const power[] = { "admin.vm.Start", "admin.vm.Shutdown", "admin.vm.Kill",
                                         "admin.vm.Pause", "admin.vm.Unpause",  "admin.vm.Suspend",
                                         "admin.vm.Resume" };
    bool skip = false;
    if (admin_request_parse(copy, size, &req) == 0)
        for (size_t i = 0; i < sizeof(power) / sizeof(power[0]); i++)
            skip = skip || strcmp(req.method, power[i]) == 0;
    else
        skip = true;
    if (!skip) {
        struct api_call call;
        struct qerror err = { 0 };
        if (api_execute(&app, NULL, &req, &call, NULL, &err) < 0 && (!err.kind || !err.message[0]))
            abort(); /* every refusal names its exception and says why */
        api_call_free(&call);
    }
    free(copy);
    return 0;
}
