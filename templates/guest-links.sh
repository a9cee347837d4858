#!/bin/sh
# guest-links.sh DIR: in the root tree DIR, links from where Qubes installs its guest
# programs (qubes-core-qrexec agent/Makefile, qubes-core-agent-linux) to where every
# Qubicle qube has them, /run/qubes-guest (read-only from dom0), so that scripts written
# for Qubes find /usr/lib/qubes/qrexec-client-vm and the rest unchanged.
set -eu
cd "$1"
mkdir -p usr/lib/qubes usr/bin
ln -sfn /run/qubes-guest/bin/qrexec-client-vm usr/bin/qrexec-client-vm
ln -sfn ../../bin/qrexec-client-vm usr/lib/qubes/qrexec-client-vm
ln -sfn ../../bin/qrexec-client-vm usr/lib/qubes/qrexec_client_vm
for prog in qrexec-agent qfile-agent qfile-unpacker vm-file-editor qopen-in-vm; do
    ln -sfn "/run/qubes-guest/$prog" "usr/lib/qubes/$prog"
done
