/* qubes.OpenInVM parts shared by qopen-in-vm and vm-file-editor: the name block check, full
 * reads and writes that survive EINTR and short counts, and a copy loop that digests. */
#include "guest/open_in_vm.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

int dvm_name_from_block(const char untrusted_block[DVM_FILENAME_SIZE], char name[DVM_FILENAME_SIZE],
                        bool *view_only, const char **why)
{
    size_t n = strnlen(untrusted_block, DVM_FILENAME_SIZE - 1);
    size_t prefix = strlen(DVM_VIEW_ONLY_PREFIX);
    const char *untrusted_name = untrusted_block;
    *view_only = n >= prefix && memcmp(untrusted_block, DVM_VIEW_ONLY_PREFIX, prefix) == 0;
    if (*view_only) {
        untrusted_name += prefix;
        n -= prefix;
    }
    for (size_t i = 0; i < n; i++) {
        char c = untrusted_name[i];
        if (c == '/') {
            *why = "filename contains /";
            return -1;
        }
        bool keep = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    c == '.' || c == '_' || c == '-' || c == '+' || c == '@';
        name[i] = keep ? c : '_'; /* openers choke on some characters */
    }
    name[n] = '\0';
    if (n == 0 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
        *why = "invalid file name";
        return -1;
    }
    return 0;
}

ssize_t guest_read_full(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

int guest_write_all(int fd, const void *buf, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, (const char *)buf + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        done += (size_t)w;
    }
    return 0;
}

uint64_t guest_digest(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

long long guest_copy_fd(int out, int in, uint64_t *digest, bool *read_failed)
{
    char buf[65536];
    long long total = 0;
    for (;;) {
        ssize_t r = read(in, buf, sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            *read_failed = true;
            return -1;
        }
        if (r == 0)
            return total;
        if (guest_write_all(out, buf, (size_t)r) < 0) {
            *read_failed = false;
            return -1;
        }
        if (digest)
            *digest = guest_digest(*digest, buf, (size_t)r);
        total += r;
    }
}
