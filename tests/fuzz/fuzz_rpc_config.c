/* libFuzzer target for the qrexec service config parser (a file of at most 4096 bytes): no
 * crash, no leak, and what it accepts keeps the rules (a valid user name, force-user never with
 * the socket-only options). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "qrexec/qrexec_cmdline.h"
#include "qrexec/rpc_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    if (!quiet) {
        log_set_level(LOG_ERROR); /* unknown keys only warn */
        quiet = 1;
    }
    struct qrexec_rpc_config cfg;
    struct qerror err = { 0 };
    if (qrexec_rpc_config_parse((const char *)data, size, "fuzz", &cfg, &err) < 0) {
        if (err.message[0] == '\0' || cfg.force_user || cfg.wait_for_session)
            abort();
        return 0;
    }
    if (size > QREXEC_RPC_CONFIG_MAX)
        abort();
    if (cfg.force_user) {
        if (!qrexec_user_name_ok(cfg.force_user))
            abort();
        if (cfg.skip_service_descriptor || cfg.exit_on_client_eof || cfg.exit_on_service_eof)
            abort();
    }
    qrexec_rpc_config_free(&cfg);
    return 0;
}
