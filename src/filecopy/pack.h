/* The sending side of qubes.Filecopy (qfile-agent): walks files and
 * directories, streams them, and reads the receiver's verdict. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/error.h"

struct filecopy_pack {
    int out_fd; /* the stream goes here */
    int in_fd;  /* the receiver's result comes from here */
    bool ignore_symlinks;
    /* called after every chunk of data sent (and once per entry); may be NULL */
    void (*progress)(void *ctx, uint64_t bytes_sent);
    void *progress_ctx;

    uint64_t bytes_sent;   /* file data and symlink targets so far */
    uint32_t crc;          /* CRC-32 (zlib's) of every byte written to out_fd */
    uint32_t remote_error; /* the receiver's error code once it reported one */

    /* private */
    uint64_t next_check; /* bytes_sent at which to look for an early result */
    uint8_t *buf;
    size_t path_len;
    char path[]; /* the name being sent (MAX_PATH_LENGTH bytes) */
};

/* A sender writing to out_fd and reading the result from in_fd; NULL if out
 * of memory. Free with filecopy_pack_free. */
struct filecopy_pack *filecopy_pack_new(int out_fd, int in_fd);
void filecopy_pack_free(struct filecopy_pack *p);

/* Sends arg as upstream's qfile-agent does after chdir(dirname(arg)): the
 * names start at basename(arg); arg is relative to cwd_fd (or absolute). A
 * directory is sent before and after its contents; fifos, devices and sockets
 * are skipped. Between entries, and every PROGRESS_NOTIFY_DELTA bytes, looks
 * (without blocking) for an early error from the receiver. */
int filecopy_pack_arg(struct filecopy_pack *p, int cwd_fd, const char *arg, struct qerror *err);

/* Writes the end-of-transfer marker. */
int filecopy_pack_end(struct filecopy_pack *p, struct qerror *err);

/* Reads the receiver's result (blocking) and checks its CRC against ours:
 * 0, or -1 with upstream's message ("A file named ... already exists in
 * QubesIncoming dir", "File transfer failed: checksum mismatch", ...). */
int filecopy_pack_wait_result(struct filecopy_pack *p, struct qerror *err);

/* Upstream's message for a receiver's error code. */
void filecopy_result_message(uint32_t code, const char *last_name, char *out, size_t out_size);
