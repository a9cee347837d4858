/* admin.deviceclass.List and admin.vm.device.<class>.* (qubes/api/admin.py,
 * qubes/devices.py). The classes are core-admin's own qubes.devices entry
 * points, pci and block (usb and mic come from add-on packages qubesd has no
 * counterpart of). No qube exposes, holds or is assigned a device here: the
 * lists are real and empty, and what needs a device fails as Qubes fails for
 * one that is not there. */
#include <string.h>

#include "common/cleanup.h"
#include "common/names.h"
#include "qubesd/api.h"
#include "qubesd/lifecycle.h"

#define DEVICE_PREFIX "admin.vm.device."

static const char *const device_classes[] = { "pci", "block" };

/* "<backend>+<port_id>[:<device_id>]" as VirtualDevice.from_qarg reads it, and the
 * class of the method. */
struct device_ref {
    char cls[16];
    char backend[32];
    char port_id[API_ARG_MAX + 1];
    const char *device_id; /* into call->arg; "*" when not given */
};

/* The device a call names, and its class: admin.vm.device.<class>.<Op> (the
 * dispatcher matched the name) with "<backend>+<port_id>[:<device_id>]". */
static int parse_ref(const struct api_call *call, struct device_ref *ref, struct qerror *err)
{
    const char *cls = call->method + strlen(DEVICE_PREFIX);
    snprintf(ref->cls, sizeof(ref->cls), "%.*s", (int)strcspn(cls, "."), cls);
    const char *plus = strchr(call->arg, '+');
    if (!plus || plus == call->arg || (size_t)(plus - call->arg) >= sizeof(ref->backend))
        return api_protocol_error(err, "Invalid device: expected <backend>+<port_id>");
    snprintf(ref->backend, sizeof(ref->backend), "%.*s", (int)(plus - call->arg), call->arg);
    if (validate_qube_name(ref->backend, NULL, err) < 0)
        return -1;
    if (!app_find(call->app, ref->backend))
        return qerror_set(err, ERR_QUBES_VM_NOT_FOUND_ERROR, "No such domain: '%s'", ref->backend);
    const char *port = plus + 1, *colon = strchr(port, ':');
    size_t port_len = colon ? (size_t)(colon - port) : strlen(port);
    if (!port_len)
        return api_protocol_error(err, "Invalid device: expected <backend>+<port_id>");
    snprintf(ref->port_id, sizeof(ref->port_id), "%.*s", (int)port_len, port);
    ref->device_id = colon && colon[1] ? colon + 1 : "*";
    return 0;
}

/* The assignment a client sends (key='value' pairs): only its syntax matters
 * here, the device it names never exists. */
static int check_assignment(const struct api_call *call, struct qerror *err)
{
    if (!all_printable_ascii(call->untrusted_payload, call->payload_len))
        return api_protocol_error(err, "Invalid device assignment");
    return 0;
}

static int deviceclass_list(struct api_call *call, struct qerror *err)
{
    (void)err;
    for (size_t i = 0; i < ARRAY_SIZE(device_classes); i++)
        buf_printf(&call->out, "%s\n", device_classes[i]);
    return 0;
}

/* Available (exposed by the destination): none, whatever port is asked for. */
static int device_available(struct api_call *call, struct qerror *err)
{
    (void)call, (void)err;
    return 0;
}

/* Assigned and Attached: none; a selection is "<backend>+<port_id>". */
static int device_list(struct api_call *call, struct qerror *err)
{
    if (*call->arg && !strchr(call->arg, '+'))
        return api_protocol_error(err, "Invalid device: expected <backend>+<port_id>");
    return 0;
}

/* devices.py attach(): in this order, a class that cannot be attached by hand,
 * a halted frontend, then the device, which matches nothing. Upstream's check
 * for "unknown" raises inside the try whose except re-raises every
 * ProtocolError as "ambiguous": that is the message a missing device gets. */
static int device_attach(struct api_call *call, struct qerror *err)
{
    struct device_ref ref;
    if (parse_ref(call, &ref, err) < 0 || check_assignment(call, err) < 0)
        return -1;
    if (strcmp(ref.cls, "pci") == 0)
        return qerror_set(err, ERR_QUBES_VALUE_ERROR, "%s devices cannot be attached manually.",
                          ref.cls);
    if (qube_power(call->dest) == POWER_HALTED)
        return qerror_set(err, ERR_QUBES_VM_NOT_RUNNING_ERROR,
                          "VM not running, cannot attach device, do you mean `assign`?");
    return qerror_set(err, ERR_PROTOCOL_ERROR, "Cannot attach ambiguous %s device.", ref.cls);
}

/* Qubes keeps an assignment of an absent device for when it appears; qubesd
 * has no device to ever provide, and refuses it as Qubes refuses a device it
 * does not recognise. */
static int device_assign(struct api_call *call, struct qerror *err)
{
    struct device_ref ref;
    if (parse_ref(call, &ref, err) < 0 || check_assignment(call, err) < 0)
        return -1;
    return qerror_set(err, ERR_PROTOCOL_ERROR, "%s device not recognized in %s port.", ref.cls,
                      ref.port_id);
}

static int device_detach(struct api_call *call, struct qerror *err)
{
    struct device_ref ref;
    if (parse_ref(call, &ref, err) < 0)
        return -1;
    return qerror_set(err, ERR_DEVICE_NOT_ASSIGNED, "%s device %s not attached to %s", ref.cls,
                      ref.port_id, call->dest->name);
}

static int device_unassign(struct api_call *call, struct qerror *err)
{
    struct device_ref ref;
    if (parse_ref(call, &ref, err) < 0)
        return -1;
    return qerror_set(err, ERR_DEVICE_NOT_ASSIGNED, "%s device %s:%s:%s not assigned to %s",
                      ref.cls, ref.backend, ref.port_id, ref.device_id, call->dest->name);
}

/* Set.assignment: the new mode, then the assignment it changes. */
static int device_set_assignment(struct api_call *call, struct qerror *err)
{
    static const char *const modes[] = { "required", "ask-to-attach", "auto-attach" };
    bool known = false;
    for (size_t i = 0; i < ARRAY_SIZE(modes); i++)
        known = known || (call->payload_len == strlen(modes[i]) &&
                          memcmp(call->untrusted_payload, modes[i], call->payload_len) == 0);
    /* upstream's PermissionDenied says nothing; ours says why, as every refusal does */
    if (!known)
        return qerror_set(err, ERR_PERMISSION_DENIED,
                          "Invalid assignment mode: expected required, ask-to-attach or "
                          "auto-attach");
    struct device_ref ref;
    if (parse_ref(call, &ref, err) < 0)
        return -1;
    return qerror_set(err, ERR_QUBES_VALUE_ERROR, "Device %s:%s:%s not assigned to %s", ref.backend,
                      ref.port_id, ref.device_id, call->dest->name);
}

#define DEVICE_METHODS(cls) \
    { DEVICE_PREFIX cls ".Available", ARG_NAME_OPTIONAL, WANT_NO, WANT_ANY, device_available }, \
        { DEVICE_PREFIX cls ".Assigned", ARG_NAME_OPTIONAL, WANT_NO, WANT_ANY, device_list }, \
        { DEVICE_PREFIX cls ".Attached", ARG_NAME_OPTIONAL, WANT_NO, WANT_ANY, device_list }, \
        { DEVICE_PREFIX cls ".Attach", ARG_NAME, WANT_ANY, WANT_ANY, device_attach }, \
        { DEVICE_PREFIX cls ".Detach", ARG_NAME, WANT_NO, WANT_ANY, device_detach }, \
        { DEVICE_PREFIX cls ".Assign", ARG_NAME, WANT_ANY, WANT_ANY, device_assign }, \
        { DEVICE_PREFIX cls ".Unassign", ARG_NAME, WANT_NO, WANT_ANY, device_unassign }, \
    { \
        DEVICE_PREFIX cls ".Set.assignment", ARG_NAME, WANT_YES, WANT_ANY, device_set_assignment \
    }

const struct api_method api_device_methods[] = {
    { "admin.deviceclass.List", ARG_NONE, WANT_NO, WANT_YES, deviceclass_list },
    DEVICE_METHODS("pci"),
    DEVICE_METHODS("block"),
    { NULL, ARG_NONE, WANT_NO, WANT_NO, NULL },
};
