/* qubes.OpenInVM wire format (upstream qubes-rpc/dvm2.h), shared by the client qopen-in-vm and
 * the server vm-file-editor, and the byte-stream helpers both use. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The caller first sends a NUL-padded block of this size with the file's base name (at most
 * DVM_FILENAME_SIZE - 1 bytes, cut from the left to fit), then the content until EOF. The
 * server answers with the whole edited file, or nothing if it was not changed. */
#define DVM_FILENAME_SIZE 256
/* Starts the name when the file is only to be viewed: the server makes its copy read-only. */
#define DVM_VIEW_ONLY_PREFIX "view-only-"

/* What vm-file-editor makes of an untrusted name block: *view_only from the prefix, and in
 * name the base name with every byte outside [0-9A-Za-z._+@-] replaced by '_' (the last byte
 * of the block is taken as NUL). Returns 0, or -1 with *why set for a '/', an empty name, "."
 * or "..". */
int dvm_name_from_block(const char untrusted_block[DVM_FILENAME_SIZE], char name[DVM_FILENAME_SIZE],
                        bool *view_only, const char **why);

/* Reads exactly n bytes unless EOF comes first; returns the count read, or -1 (errno). */
ssize_t guest_read_full(int fd, void *buf, size_t n);
/* Writes all n bytes; returns 0, or -1 (errno). */
int guest_write_all(int fd, const void *buf, size_t n);

/* A running digest of a byte stream, enough to tell an edit from none (FNV-1a, 64 bits). */
#define GUEST_DIGEST_INIT 0xcbf29ce484222325ULL
uint64_t guest_digest(uint64_t h, const void *data, size_t n);

/* Copies from in to out until EOF; adds what it copied to *digest if not NULL. Returns the
 * byte count, or -1 with errno set and *read_failed telling which side failed. */
long long guest_copy_fd(int out, int in, uint64_t *digest, bool *read_failed);
