/* Offers every Admin API method as a dom0 qrexec socket service in run/qubes-rpc. */
#pragma once

void admin_services_install(const char *socket_path);
