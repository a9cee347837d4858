/* The Admin API: decoding a request's source and destination, finding the
 * method, enforcing its argument/payload/destination contract, calling it. */
#pragma once

#include <stdbool.h>

#include "common/admin_wire.h"
#include "qubesd/app.h"

struct api_reply; /* an answer the server sends later (see api_call_defer) */

/* What the Admin API works with besides the model: the services main set up.
 * Either may be NULL (unit tests, fuzzing). */
struct api_services {
    struct policy_service *policy;   /* qrexec policy: which qubes a qube may see */
    struct dispvm_pool *dispvm_pool; /* preloaded disposables */
};

struct api_call {
    struct app *app;
    const struct api_services *services; /* never NULL; its members may be */
    struct qube *src;
    struct qube *dest;
    const char *method;
    const char *untrusted_arg; /* the request's own text */
    const char *arg;           /* the same, once checked against the method's api_arg */
    const char *endpoint;      /* the <Class> of admin.vm.Create.<Class> */
    const char *untrusted_payload;
    size_t payload_len;
    struct buf out;             /* the answer's content */
    bool stream;                /* set by admin.Events: the connection stays open */
    bool stats;                 /* ... and receives vm-stats (admin.vm.Stats) instead */
    void *origin;               /* the server's connection, for api_call_defer */
    struct api_reply *deferred; /* set by api_call_defer */
};

typedef int (*api_fn)(struct api_call *call, struct qerror *err);

enum api_want { WANT_NO, WANT_YES, WANT_ANY };

/* What a method's argument may be. The dispatcher checks it once, with the
 * error Qubes raises, and only then hands it to the method (call->arg). */
enum api_arg {
    ARG_NONE,          /* none: ProtocolError "unexpected argument" */
    ARG_NAME,          /* a name the method looks up: 1 to API_ARG_MAX characters */
    ARG_NAME_OPTIONAL, /* the same, or none */
    ARG_FEATURE,       /* a feature name: letters, digits and "_.-" */
    ARG_TAG,           /* a tag: letters, digits and "_-" */
    ARG_NEW_LABEL,     /* a label name, not all digits: letters, digits and "_.-" */
};
/* Longer than any name qubesd knows (a qube's is 31, a service file's 255). */
#define API_ARG_MAX 255

struct api_method {
    const char *name;
    enum api_arg arg;
    enum api_want payload;
    enum api_want dest_adminvm;
    api_fn fn;
};

/* Runs one request. On success the answer is in call->out (or call->stream
 * or call->deferred is set); on failure err holds the exception to send.
 * origin is the server's connection (NULL where nothing can wait);
 * services may be NULL. */
int api_execute(struct app *app, const struct api_services *services,
                const struct admin_request *req, struct api_call *call, void *origin,
                struct qerror *err);
void api_call_free(struct api_call *call);
/* Every method name, admin.vm.Create.<Class> once per class. */
void api_for_each_method(void (*fn)(const char *name, void *ctx), void *ctx);

/* Method groups, one file each. */
extern const struct api_method api_vm_methods[];
extern const struct api_method api_property_methods[];
extern const struct api_method api_feature_methods[];
extern const struct api_method api_tag_methods[];
extern const struct api_method api_label_methods[];
extern const struct api_method api_firewall_methods[];
extern const struct api_method api_notes_methods[];
extern const struct api_method api_events_methods[];
extern const struct api_method api_lifecycle_methods[];
extern const struct api_method api_volume_methods[]; /* api_volume.c */
extern const struct api_method api_pool_methods[];   /* api_pool.c */
extern const struct api_method api_dispvm_methods[]; /* api_dispvm.c */
extern const struct api_method api_device_methods[]; /* api_device.c */

/* For a method that finishes later (a qube starting): the server keeps the
 * connection and answers when api_reply_done is called. The reply outlives
 * the client if it leaves; the operation goes on regardless. */
struct api_reply *api_call_defer(struct api_call *call);
/* err NULL: answer OK with no content; else the exception. Frees r. */
void api_reply_done(struct api_reply *r, const struct qerror *err);
/* Drops a reply that will not be used (the method failed at once). */
void api_reply_forget(struct api_reply *r);

/* Helpers shared by the method files. */
int api_protocol_error(struct qerror *err, const char *msg);
/* The payload as a NUL-free string, or a ProtocolError. */
int api_payload_string(const struct api_call *call, char **out, struct qerror *err);
