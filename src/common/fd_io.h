/* Whole writes on a file descriptor: the loop over short writes and EINTR that every
 * program copying to a pipe needs. */
#pragma once

#include <stddef.h>

/* Writes all n bytes; -1 with errno on failure (EIO if the descriptor takes no more). */
int fd_write_all(int fd, const void *data, size_t n);
