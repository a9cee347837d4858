/* Qubes' network model for running qubes (reference admin-api §7): a qube
 * with a netvm gets one link to it (net/vif.h) when it starts, or when its
 * netvm starts after it, or when its netvm changes while it runs; a qube
 * that provides network gets its base rules (net/provider.h) and admits each
 * client's address on that client's vif only. It works from the event bus:
 * qubesd's domain-pre-running (a failure fails the start), the netvm
 * property's pre-events and changes, and domain-shutdown. */
#pragma once

#include "qubesd/app.h"

struct network;

struct network *network_open(struct app *app);
void network_close(struct network *n);
