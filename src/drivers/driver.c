/* The drivers qubesd knows, by virt_mode. */
#include "drivers/driver.h"

#include <string.h>

#include "common/cleanup.h"

extern const struct driver_ops sandbox_driver;
extern const struct driver_ops vm_driver;

static const struct driver_ops *const drivers[] = { &sandbox_driver, &vm_driver };

const struct driver_ops *driver_for(const char *virt_mode)
{
    for (size_t i = 0; i < ARRAY_SIZE(drivers); i++)
        if (strcmp(drivers[i]->virt_mode, virt_mode) == 0)
            return drivers[i];
    return NULL;
}
