/* Where Qubicle's own programs are: next to the running binary in a build
 * tree (build/bin, build/guest), else where `make install` put them. */
#pragma once

/* A helper program (qubes-sandbox, qrexec-daemon); heap string. */
char *qubicle_program(const char *name);
/* The directory of guest programs that every qube mounts read-only. */
char *qubicle_guest_dir(void);
/* The vm driver's guest kernel (vmlinuz) and initramfs (initramfs.img). */
char *qubicle_vm_dir(void);
/* dom0's own qrexec services (build/dom0/qubes-rpc, or where `make install` put them). */
char *qubicle_dom0_rpc_dir(void);
