/* Small pieces shared by the power-state tools (qvm-start, -shutdown, -kill,
 * -pause, -unpause, -run): upstream's message styles and state checks. */
#pragma once

#include <stdbool.h>

/* parser.print_error of upstream: the bare message and a newline on stderr. */
void print_plain_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* vm.log.error of upstream: "<qube>: <message>" on stderr. */
void print_qube_error(const char *qube, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* QubesVM.is_running(): any state but Halted (and the unknown NA). */
bool power_state_is_running(const char *state);

/* The qube's power state now (admin.vm.List to it); "NA" when it cannot be
 * told (gone, qubesd unreachable). Heap string. */
char *qube_power_state(const char *qube);
