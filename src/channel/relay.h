/* The channel relay: carries "an AF_UNIX stream socket with descriptor passing from dom0 to the
 * guest" over one byte stream (a virtio-serial port), so qrexec-daemon and qrexec-agent talk as
 * they do over the sandbox driver's socketpair and never know they are tunnelled.
 *
 * One relay runs on each end, in one thread, with one poll loop:
 *
 *   qrexec-daemon ==local_fd== [relay, dom0 side] ==wire_fd== QEMU virtio-serial port
 *       ==/dev/vportNpM== [relay, guest side] ==local_fd== qrexec-agent (its fd 3)
 *
 * Stream 0 is local_fd itself. When qrexec-daemon attaches a descriptor (SCM_RIGHTS) to a
 * message it sends, the dom0 relay opens a new stream k for the descriptor (OPEN, then the
 * message's bytes as stream-0 DATA); the guest relay makes a socketpair, attaches one end to
 * the same message where it writes it to its local_fd, and relays the other end as stream k.
 * From then on both relays pump stream k both ways, half-close (shutdown(SHUT_WR)) included.
 * To know which message a descriptor came with, the dom0 relay reads stream 0 one qrexec message
 * part at a time (it follows struct msg_header's length, nothing else of qrexec): stream 0 of
 * the dom0 side must carry qrexec protocol messages when it carries descriptors (a protocol
 * that passes none, qubesdb's, goes through as well: the lengths then only decide where dom0's
 * reads split, which changes nothing of the bytes). Descriptors only travel dom0 -> guest: any
 * descriptor that the guest's local side sends, or that arrives on a stream other than 0 on
 * either side, is closed and ignored; more than one with one message on dom0's stream 0 ends the
 * relay. The frame format and its limits are in channel/channel_proto.h.
 *
 * What a hostile guest can do to the dom0 side: end this channel (any protocol error, named in
 * the error), and make it buffer at most CHANNEL_WINDOW bytes per open stream (the streams are
 * opened by dom0 only), plus a few CREDIT frames per stream waiting for the wire. A stream
 * whose local reader is slow stops only itself; the wire is always read.
 *
 * Using it:
 *  - dom0 (the vm driver's launcher): wire_fd is the connection of QEMU's chardev for the port
 *    named org.qubes.qrexec; local_fd one end of a socketpair whose other end is
 *    qrexec-daemon's --channel-fd (as the sandbox driver's); control_fd a pipe's read end.
 *    Run channel_relay_run in a thread or process of its own and report err once if it
 *    returns -1. Writing 'P' to the pipe asks the guest to power off.
 *  - guest (the boot program): wire_fd is /dev/vportNpM opened O_RDWR, the port whose
 *    /sys/class/virtio-ports/vportNpM/name is org.qubes.qrexec; local_fd one end of a
 *    socketpair whose other end becomes qubes-init's fd 3; on_poweroff does kill(1, SIGTERM).
 *    virtio_console reads 0 (EOF) from a port whose host side is not connected, which ends the
 *    relay ("wire closed by dom0"): dom0's end must be connected before the relay starts (QEMU
 *    connects its chardev socket before the guest runs).
 *
 * Depends on libc and common/error.c only, so guest programs link it statically (channel_sources
 * in src/channel/meson.build, with ../src/common/error.c; bench/bench-channel is built so). */
#pragma once

#include "channel/channel_proto.h"
#include "common/error.h"

struct channel_relay_config {
    enum channel_side side;
    /* The byte stream to the other relay: dom0, the unix socket QEMU's virtio-serial chardev is
     * connected to; guest, the opened /dev/vportNpM. read/write (send with MSG_NOSIGNAL on a
     * socket): any byte-stream descriptor works. */
    int wire_fd;
    /* AF_UNIX SOCK_STREAM, stream 0: dom0, the socket qrexec-daemon uses as its qube's control
     * connection; guest, the socket whose peer is qrexec-agent's fd 3. */
    int local_fd;
    /* dom0 only, else -1: a pipe's read end (or -1 for none). Each byte 'P' read from it sends
     * POWEROFF to the guest; any other byte is an error of the caller and ends the relay; EOF
     * only stops reading it. */
    int control_fd;
    /* guest only: called (from the relay's loop, which carries on afterwards) when dom0 sends
     * POWEROFF; NULL ignores POWEROFF. The boot program does kill(1, SIGTERM). */
    void (*on_poweroff)(void *opaque);
    void *opaque;
};

/* Runs the relay until stream 0 ends. wire_fd, local_fd and control_fd stay the caller's (they
 * are switched to O_NONBLOCK, a property of the open file description, shared with every copy;
 * local_fd is shut down both ways on return, so its peer sees the end even while the caller
 * keeps it open); the descriptors of the other streams are the relay's, and closed when it
 * returns. The caller needs no signal setup: nothing here raises SIGPIPE on a socket.
 *
 * Returns 0 when stream 0 ended: its local side hung up here (the peer is told with CLOSE of
 * stream 0), or the peer said so (what the peer sent before is written to local_fd first). The
 * relay then waits at most CHANNEL_LINGER_MS for the last bytes to leave.
 *
 * Returns -1 with err:
 *  - ERR_PROTOCOL_ERROR for anything the peer sent that channel_proto refuses, as
 *    "protocol error from guest: data beyond credit (stream 5, type 2, length 70000)"
 *    (from "dom0" on the guest side; the name is channel_error_name's);
 *  - ERR_QUBES_EXCEPTION for the wire closing before stream 0 ended ("wire closed by guest"),
 *    an I/O error on the wire or on local_fd, a bad byte on control_fd, and resources
 *    (memory, a socketpair on the guest side). */
#define CHANNEL_LINGER_MS 1000
int channel_relay_run(const struct channel_relay_config *cfg, struct qerror *err);
