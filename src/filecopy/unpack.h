/* The receiving side of qubes.Filecopy (qfile-unpacker): reads a stream from a
 * hostile qube and creates its entries beneath one directory, never outside it. */
#pragma once

#include <stdint.h>

/* 0 = unlimited. Past a limit the transfer stops with EDQUOT. */
struct filecopy_limits {
    uint64_t max_bytes; /* file data plus symlink targets */
    uint64_t max_files; /* headers (a directory counts twice) */
};

/* Reads a stream (reference/qrexec.md §4.1) from in_fd and creates its entries
 * beneath dest_fd, a directory opened by the caller; flags are enum copy_flags.
 * Nothing is created outside dest_fd, nothing that exists is overwritten, and no
 * directory that existed before this transfer is entered. Stops at the end
 * marker or at the first error, syncs the filesystem and, if out_fd >= 0,
 * writes result_header + result_header_ext to out_fd. limits may be NULL.
 * Returns the error code it sent: 0, an errno value or LEGAL_EOF. */
uint32_t filecopy_unpack(int dest_fd, int in_fd, int out_fd, unsigned flags,
                         const struct filecopy_limits *limits);
