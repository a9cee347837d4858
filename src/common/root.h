/* Where an instance lives: everything is under $QUBES_ROOT (default "/"), so
 * tests and several instances run side by side (DESIGN §4). */
#pragma once

/* The root directory: --root if given, else $QUBES_ROOT, else "/". */
const char *qroot_get(void);
void qroot_set(const char *root);
/* "<root>/<rel>" as a new heap string; rel has no leading slash. */
char *qroot_path(const char *rel);
/* mkdir -p of <root>/<rel> with the given mode; 0 or -1 with errno set. */
int qroot_mkdirs(const char *rel, unsigned mode);
