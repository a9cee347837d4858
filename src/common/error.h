/* The one error convention: functions return 0 or -1 and fill a qerror with
 * its kind, the Qubes exception class the Admin API reports, and a message
 * that gains context on its way up. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>

#define QERROR_MAX 1024

/* Every exception class qubesd raises or a client handles: ERR_<NAME> and
 * its Qubes class name. */
#define QERROR_KINDS(X) \
    X(QUBES_EXCEPTION, "QubesException") \
    X(ACCESS_DENIED, "AccessDenied") \
    X(DEVICE_NOT_ASSIGNED, "DeviceNotAssigned") \
    X(PERMISSION_DENIED, "PermissionDenied") \
    X(POLICY_SYNTAX_ERROR, "PolicySyntaxError") \
    X(PROTOCOL_ERROR, "ProtocolError") \
    X(QREXEC_ERROR, "QrexecError") \
    X(QUBES_DAEMON_ACCESS_ERROR, "QubesDaemonAccessError") \
    X(QUBES_DAEMON_COMMUNICATION_ERROR, "QubesDaemonCommunicationError") \
    X(QUBES_FEATURE_NOT_FOUND_ERROR, "QubesFeatureNotFoundError") \
    X(QUBES_INVALID_LABEL_ERROR, "QubesInvalidLabelError") \
    X(QUBES_INVALID_LABEL_VALUE_ERROR, "QubesInvalidLabelValueError") \
    X(QUBES_INVALID_TAG_ERROR, "QubesInvalidTagError") \
    X(QUBES_LABEL_IN_USE_ERROR, "QubesLabelInUseError") \
    X(QUBES_LABEL_NOT_FOUND_ERROR, "QubesLabelNotFoundError") \
    X(QUBES_MEMORY_ERROR, "QubesMemoryError") \
    X(QUBES_NO_SUCH_PROPERTY_ERROR, "QubesNoSuchPropertyError") \
    X(QUBES_POOL_IN_USE_ERROR, "QubesPoolInUseError") \
    X(QUBES_PROPERTY_VALUE_ERROR, "QubesPropertyValueError") \
    X(QUBES_TAG_NOT_FOUND_ERROR, "QubesTagNotFoundError") \
    X(QUBES_VM_ALREADY_EXISTS_ERROR, "QubesVMAlreadyExistsError") \
    X(QUBES_VM_ERROR, "QubesVMError") \
    X(QUBES_VM_IN_USE_ERROR, "QubesVMInUseError") \
    X(QUBES_VM_INVALID_UUID_ERROR, "QubesVMInvalidUUIDError") \
    X(QUBES_VM_NOT_FOUND_ERROR, "QubesVMNotFoundError") \
    X(QUBES_VM_NOT_HALTED_ERROR, "QubesVMNotHaltedError") \
    X(QUBES_VM_NOT_PAUSED_ERROR, "QubesVMNotPausedError") \
    X(QUBES_VM_NOT_RUNNING_ERROR, "QubesVMNotRunningError") \
    X(QUBES_VM_NOT_STARTED_ERROR, "QubesVMNotStartedError") \
    X(QUBES_VM_SHUTDOWN_TIMEOUT_ERROR, "QubesVMShutdownTimeoutError") \
    X(QUBES_VALUE_ERROR, "QubesValueError") \
    X(QUBES_VOLUME_COPY_TOKEN_NOT_FOUND_ERROR, "QubesVolumeCopyTokenNotFoundError") \
    X(QUBES_VOLUME_REVISION_NOT_FOUND_ERROR, "QubesVolumeRevisionNotFoundError") \
    X(STORAGE_POOL_EXCEPTION, "StoragePoolException")

enum qerror_kind {
    ERR_NONE = 0,
/* clang-format would read the expansion as an expression continued below */
/* clang-format off */
#define QERROR_ENUM(id, name) ERR_##id,
    QERROR_KINDS(QERROR_ENUM)
#undef QERROR_ENUM
    ERR_PEER, /* a class a peer (qubesd) named that the list lacks: in peer_kind */
    /* clang-format on */
};

struct qerror {
    enum qerror_kind kind; /* ERR_NONE: no error */
    char peer_kind[64];    /* ERR_PEER: the class name as received */
    char message[QERROR_MAX];
};

/* Sets the error and returns -1, so `return qerror_set(err, ...)` reads well. */
int qerror_set(struct qerror *err, enum qerror_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* ERR_QUBES_EXCEPTION with ": <strerror(errnum)>" appended. */
int qerror_errno(struct qerror *err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prepends context ("load store: ") to a message already set. */
void qerror_prefix(struct qerror *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void qerror_clear(struct qerror *err);
/* The kind of a class name received from qubesd (ERR_PEER, with the name
 * kept, for one the list lacks). */
void qerror_set_peer_kind(struct qerror *err, const char *name);
/* The Qubes class name of err's kind ("" for none). */
const char *qerror_kind_name(const struct qerror *err);
