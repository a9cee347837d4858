/* The qubes.VMExec argument encoding (upstream qubesagent/vmexec.py): a command line carried in
 * a qrexec service argument, which may only hold [A-Za-z0-9+._-]. */
#pragma once

#include <stddef.h>

/* The longest argument decoded: a qrexec service descriptor is at most 65000 bytes. */
#define VMEXEC_MAX_ENCODED 65000u

/* Decodes untrusted_arg (NUL-terminated): parts split on '+'; in each part, which must match
 * [a-zA-Z0-9._-]*, "-HH" (HH upper-case hex) is the byte 0xHH and "--" a '-'; any other '-',
 * a decoded NUL byte or an argument over VMEXEC_MAX_ENCODED bytes is an error.
 * Returns a NULL-terminated argv in one heap block (one free() releases it) and sets *argc,
 * or returns NULL and points *why at a static message ("illegal characters found", ...). */
char **vmexec_decode(const char *untrusted_arg, size_t *argc, const char **why);
