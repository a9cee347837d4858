/* Finding the file that implements a qrexec service and the environment it runs with
 * (upstream find_qrexec_service / exec_qubes_rpc2, R4.2). */
#pragma once

#include "qrexec/qrexec_cmdline.h"

/* Searches each directory of path (colon-separated; NULL: $QREXEC_SERVICE_PATH or the
 * default) for "<svc>+<arg>" then "<svc>". Returns a heap path, or NULL if none exists. */
char *qrexec_find_service(const struct qrexec_cmd *cmd, const char *path);

/* The environment of a service process: the current one without inherited QREXEC*
 * variables, plus QREXEC_SERVICE_FULL_NAME, QREXEC_SERVICE_ARGUMENT (non-empty argument
 * only), QREXEC_REMOTE_DOMAIN and QREXEC_AGENT_PID. NULL-terminated heap array; free with
 * qrexec_env_free. */
char **qrexec_service_env(const struct qrexec_cmd *cmd, long agent_pid);
void qrexec_env_free(char **env);
