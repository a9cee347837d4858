/* libFuzzer target for what a caller controls in a qube's guest programs: the qubes.VMExec
 * service argument (decoded, then re-encoded as qvm-run does and decoded again, which must give
 * the same words) and the qubes.OpenInVM name block of vm-file-editor. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guest/open_in_vm.h"
#include "guest/vmexec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* upstream encode_for_vmexec: [A-Za-z0-9_.] as is, '-' as "--", any other byte "-HH" */
static char *encode(char **argv)
{
    size_t n = 0;
    for (size_t i = 0; argv[i]; i++)
        n += 3 * strlen(argv[i]) + 1;
    char *out = malloc(n + 1);
    if (!out)
        abort();
    char *p = out;
    for (size_t i = 0; argv[i]; i++) {
        if (i > 0)
            *p++ = '+';
        for (const unsigned char *s = (const unsigned char *)argv[i]; *s; s++) {
            if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
                *s == '_' || *s == '.') {
                *p++ = (char)*s;
            } else if (*s == '-') {
                *p++ = '-';
                *p++ = '-';
            } else {
                *p++ = '-';
                *p++ = "0123456789ABCDEF"[*s >> 4];
                *p++ = "0123456789ABCDEF"[*s & 15];
            }
        }
    }
    *p = '\0';
    return out;
}

static void check_vmexec(const uint8_t *data, size_t size)
{
    char *arg = malloc(size + 1);
    if (!arg)
        abort();
    memcpy(arg, data, size);
    arg[size] = '\0';
    size_t len = strlen(arg);

    size_t argc = 0;
    const char *why = NULL;
    char **argv = vmexec_decode(arg, &argc, &why);
    if (!argv) {
        if (!why)
            abort();
        free(arg);
        return;
    }
    size_t plus = 0, total = 0;
    for (size_t i = 0; i < len; i++)
        plus += arg[i] == '+';
    if (argc != plus + 1 || argv[argc] != NULL)
        abort();
    for (size_t i = 0; i < argc; i++)
        total += strlen(argv[i]);
    if (total > len)
        abort();

    char *again = encode(argv);
    size_t argc2 = 0;
    char **argv2 = vmexec_decode(again, &argc2, &why);
    if (strlen(again) <= VMEXEC_MAX_ENCODED) {
        if (!argv2 || argc2 != argc)
            abort();
        for (size_t i = 0; i < argc; i++)
            if (strcmp(argv[i], argv2[i]) != 0)
                abort();
    }
    free(argv2);
    free(again);
    free(argv);
    free(arg);
}

static void check_name_block(const uint8_t *data, size_t size)
{
    char block[DVM_FILENAME_SIZE] = { 0 };
    memcpy(block, data, size < sizeof(block) ? size : sizeof(block));
    char name[DVM_FILENAME_SIZE];
    bool view_only = false;
    const char *why = NULL;
    if (dvm_name_from_block(block, name, &view_only, &why) < 0) {
        if (!why)
            abort();
        return;
    }
    size_t n = strnlen(name, sizeof(name));
    if (n == 0 || n >= sizeof(name) || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        abort();
    for (size_t i = 0; i < n; i++)
        if (!strchr("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ._+@-", name[i]))
            abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > VMEXEC_MAX_ENCODED + 16)
        return 0;
    check_vmexec(data, size);
    check_name_block(data, size);
    return 0;
}
