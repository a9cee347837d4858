/* The qubes.Filecopy wire format (reference/qrexec.md §4.1), byte-compatible with
 * Qubes' libqubes-rpc-filecopy.h: what qfile-agent sends and qfile-unpacker answers. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define FILECOPY_VMNAME_SIZE 32
/* bytes between two looks of the sender for an early error from the receiver */
#define PROGRESS_NOTIFY_DELTA (15 * 1000 * 1000)
/* a name or a symlink target is at most MAX_PATH_LENGTH - 1 bytes */
#define MAX_PATH_LENGTH 16384
/* error code of the receiver when the stream ended inside a name or a file's data */
#define LEGAL_EOF 31415926
#define FILECOPY_MAX_NSEC 999999999u

/* One per file, directory (twice: before and after its contents) or symlink;
 * native byte order, natural alignment, 32 bytes. namelen counts the name's
 * trailing NUL; namelen 0 is the end-of-transfer marker (all fields 0). */
struct file_header {
    uint32_t namelen;
    uint32_t mode;    /* st_mode: type bits and permissions */
    uint64_t filelen; /* regular: data bytes; symlink: target bytes, no NUL; dir: 0 */
    uint32_t atime;
    uint32_t atime_nsec;
    uint32_t mtime;
    uint32_t mtime_nsec;
};

/* The receiver's answer, once, at the end or at its first error. */
struct result_header {
    uint32_t error_code; /* 0, an errno value, or LEGAL_EOF */
    uint32_t _pad;
    uint64_t crc32; /* CRC-32 (zlib's) of every byte the receiver read */
} __attribute__((packed));

/* Sent after result_header by every current receiver: the last name it handled. */
struct result_header_ext {
    uint32_t last_namelen; /* no NUL */
    char last_name[];
} __attribute__((packed));

_Static_assert(sizeof(struct file_header) == 32, "file_header is 32 bytes");
_Static_assert(offsetof(struct file_header, filelen) == 8, "file_header.filelen at 8");
_Static_assert(offsetof(struct file_header, mtime_nsec) == 28, "file_header.mtime_nsec at 28");
_Static_assert(sizeof(struct result_header) == 16, "result_header is 16 bytes");
_Static_assert(sizeof(struct result_header_ext) == 4, "result_header_ext is 4 bytes");

enum {
    COPY_FILE_OK,
    COPY_FILE_READ_EOF,
    COPY_FILE_READ_ERROR,
    COPY_FILE_WRITE_ERROR,
};

/* What the receiver accepts (upstream's enum copy_flags). */
enum copy_flags {
    COPY_DEFAULT = 0,
    COPY_ALLOW_SYMLINKS = 1 << 0,
    COPY_ALLOW_DIRECTORIES = 1 << 1,
    COPY_ALLOW_UNSAFE_CHARACTERS = 1 << 2,
    COPY_ALLOW_NON_CANONICAL_SYMLINKS = 1 << 3,
    COPY_ALLOW_UNSAFE_SYMLINKS = 1 << 4,
};
