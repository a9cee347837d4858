/* The pool drivers built in (one file each). */
#pragma once

#include "storage/pool.h"

extern const struct pool_driver file_reflink_driver;
extern const struct pool_driver linux_kernel_driver;
