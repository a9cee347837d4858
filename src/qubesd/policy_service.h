/* The qrexec policy service of qubesd: the policy-daemon protocol on run/qubes/policy.sock
 * (reference qrexec.md §1.9) evaluated against the live model, `ask` forwarded to a
 * connected qrexec-policy-agent on run/qubes/policy-agent.sock, every decision written to
 * var/log/qubes/qrexec-audit.log, and the policy reloaded when its files change. */
#pragma once

#include <stdbool.h>

#include "common/error.h"
#include "qubesd/app.h"

struct policy_service;

/* Binds both sockets on app->loop (so after server_open). */
int policy_service_open(struct app *app, struct policy_service **out, struct qerror *err);
void policy_service_close(struct policy_service *ps);

/* qubesd's own use of the policy (admin.vm.List from a management qube lists only what
 * the policy lets it see): the facts are taken once in begin, then each check asks whether
 * source may call service_and_arg on target right now without anyone being asked. */
struct policy_check;
struct policy_check *policy_check_begin(struct policy_service *ps);
bool policy_check_allows(struct policy_check *c, const char *source, const char *target,
                         const char *service_and_arg);
void policy_check_end(struct policy_check *c);
