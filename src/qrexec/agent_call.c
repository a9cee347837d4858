/* The per-call process of qrexec-agent (upstream agent/qrexec-agent-data.c): HELLO on the data
 * socket, then run "user:command" through /bin/sh -c or a QUBESRPC service, and pump. */
#include "qrexec/agent_call.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "qrexec/exec.h"
#include "qrexec/pump.h"
#include "qrexec/qrexec_cmdline.h"
#include "qrexec/qrexec_proto.h"
#include "qrexec/service.h"
#include "qrexec/transport.h"

static int data_handshake(int fd, uint32_t *version, const char **why)
{
    struct buf hello = BUF_INIT;
    qrexec_hello_encode(&hello, QREXEC_PROTOCOL_VERSION);
    int rc = qrexec_send_all(fd, hello.data, hello.len, -1);
    buf_free(&hello);
    struct msg_header hdr;
    uint8_t *payload = NULL;
    *why = "cannot send HELLO";
    if (rc < 0)
        return -1;
    if (qrexec_recv_msg(fd, QREXEC_DATA_TO_SERVICE, QREXEC_PROTOCOL_VERSION, &hdr, &payload,
                        NULL, why) < 0 ||
        qrexec_hello_decode(&hdr, payload, QREXEC_PROTOCOL_VERSION, QREXEC_DATA_MIN_VERSION,
                            version, why) < 0) {
        free(payload);
        return -1;
    }
    free(payload);
    return 0;
}

/* What upstream sends when no process could be started: both streams closed, then the code. */
static void send_failure(int fd, int code)
{
    struct buf m = BUF_INIT;
    qrexec_msg_encode(&m, MSG_DATA_STDOUT, NULL, 0);
    qrexec_msg_encode(&m, MSG_DATA_STDERR, NULL, 0);
    qrexec_exit_code_encode(&m, code);
    qrexec_send_all(fd, m.data, m.len, -1);
    buf_free(&m);
}

static void send_exit_code(int fd, int code)
{
    struct buf m = BUF_INIT;
    qrexec_exit_code_encode(&m, code);
    qrexec_send_all(fd, m.data, m.len, -1);
    buf_free(&m);
}

void qrexec_agent_call(int data_fd, uint32_t type, const char *cmdline, long agent_pid)
{
    uint32_t version = QREXEC_PROTOCOL_VERSION;
    bool just_exec = type == MSG_JUST_EXEC;
    /* qrexec-client -e may hang up before the handshake: the command still runs, only
     * its start status has nobody to go to */
    const char *why = NULL;
    if (data_handshake(data_fd, &version, &why) < 0) {
        if (!just_exec) {
            log_error("op=call event=handshake-failed reason=\"%s\"", why);
            _exit(1);
        }
        log_info("op=call type=JUST_EXEC event=caller-gone");
    }

    struct qrexec_cmd cmd;
    struct qerror err = { 0 };
    if (qrexec_cmd_parse(cmdline, &cmd, &err) < 0) {
        log_error("op=call event=bad-cmdline reason=\"%s\"", err.message);
        just_exec ? send_exit_code(data_fd, QREXEC_EXIT_PROBLEM)
                  : send_failure(data_fd, QREXEC_EXIT_PROBLEM);
        _exit(1);
    }

    char *path = NULL;
    char **env = NULL;
    char *argv[4] = { NULL };
    if (cmd.is_rpc) {
        path = qrexec_find_service(&cmd, NULL);
        if (!path) {
            log_error("op=call service=%s source=%s event=service-not-found", cmd.service_full,
                      cmd.source);
            just_exec ? send_exit_code(data_fd, QREXEC_EXIT_SERVICE_NOT_FOUND)
                      : send_failure(data_fd, QREXEC_EXIT_SERVICE_NOT_FOUND);
            _exit(0);
        }
        env = qrexec_service_env(&cmd, agent_pid);
        argv[0] = path;
        argv[1] = cmd.service_arg[0] ? cmd.service_arg : NULL;
        log_info("op=call type=%s user=%s service=%s source=%s", qrexec_msg_type_name(type),
                 cmd.user, cmd.service_full, cmd.source);
    } else {
        path = xstrdup("/bin/sh");
        argv[0] = "sh";
        argv[1] = "-c";
        argv[2] = cmd.command;
        log_info("op=call type=%s user=%s command=shell", qrexec_msg_type_name(type), cmd.user);
    }

    struct qrexec_spawn_opts opts = {
        .user = cmd.user, .path = path, .argv = argv, .envp = env, .null_stdio = just_exec,
    };
    struct qrexec_child child;
    int code = qrexec_spawn(&opts, &child, &err);
    if (code < 0) {
        log_error("op=call event=spawn-failed reason=\"%s\"", err.message);
        code = QREXEC_EXIT_PROBLEM;
    }
    if (just_exec) {
        send_exit_code(data_fd, code);
        _exit(0);
    }
    int status = 0;
    if (code == QREXEC_EXIT_PROBLEM && child.stdout_fd < 0) {
        send_failure(data_fd, code);
    } else {
        struct qrexec_pump_cfg cfg = {
            .remote_fd = data_fd, .version = version, .is_service = true,
            .in_fd = child.stdin_fd, .out_fd = child.stdout_fd, .err_fd = child.stderr_fd,
            .child = code ? -1 : child.pid, .preset_code = code,
        };
        if (qrexec_pump_run(&cfg, &why) < 0) {
            log_error("op=call event=data-error reason=\"%s\"", why ? why : "?");
            status = 1;
        }
    }
    qrexec_cmd_free(&cmd);
    qrexec_env_free(env);
    free(path);
    _exit(status);
}
