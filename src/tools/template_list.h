/* qvm-template list / info: the templates qvm-template build made, in upstream's formats
 * (human tables, --machine-readable, --machine-readable-json). */
#pragma once

#include <stdbool.h>

#include "tools/cli.h"

/* The command's own argv (argv[0] is "list" or "info"); top has the -v/-q given before it. */
int template_list_main(int argc, char **argv, const struct cli *top, bool info);
