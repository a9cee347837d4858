/* Defaults and semantic checks of individual properties (Qubes semantics). */
#pragma once

#include "qubesd/property.h"

int default_none(const struct app *, const struct qube *, const struct prop_def *, struct buf *);
int default_identity(const struct app *, const struct qube *, const struct prop_def *,
                     struct buf *);
int default_const(const struct app *, const struct qube *, const struct prop_def *, struct buf *);
int default_const_none(const struct app *, const struct qube *, const struct prop_def *,
                       struct buf *);
int default_from_global(const struct app *, const struct qube *, const struct prop_def *,
                        struct buf *);
int default_klass(const struct app *, const struct qube *, const struct prop_def *, struct buf *);
int default_icon(const struct app *, const struct qube *, const struct prop_def *, struct buf *);
int default_updateable(const struct app *, const struct qube *, const struct prop_def *,
                       struct buf *);
int default_include_in_backups(const struct app *, const struct qube *, const struct prop_def *,
                               struct buf *);
int default_default_dispvm(const struct app *, const struct qube *, const struct prop_def *,
                           struct buf *);
int default_netvm(const struct app *, const struct qube *, const struct prop_def *, struct buf *);
int default_ip(const struct app *, const struct qube *, const struct prop_def *, struct buf *);
int default_visible_ip(const struct app *, const struct qube *, const struct prop_def *,
                       struct buf *);
int default_visible_gateway(const struct app *, const struct qube *, const struct prop_def *,
                            struct buf *);
int default_gateway(const struct app *, const struct qube *, const struct prop_def *, struct buf *);
int default_dns(const struct app *, const struct qube *, const struct prop_def *, struct buf *);
int default_maxmem(const struct app *, const struct qube *, const struct prop_def *, struct buf *);
int default_pool(const struct app *, const struct qube *, const struct prop_def *, struct buf *);
int default_host_memory(const struct app *, const struct qube *, const struct prop_def *,
                        struct buf *);
int default_xid(const struct app *, const struct qube *, const struct prop_def *, struct buf *);
int default_start_time(const struct app *, const struct qube *, const struct prop_def *,
                       struct buf *);
int default_host_cpus(const struct app *, const struct qube *, const struct prop_def *,
                      struct buf *);

int check_positive(const struct app *, const struct qube *, const struct prop_def *, const char *,
                   struct qerror *);
int check_non_negative(const struct app *, const struct qube *, const struct prop_def *,
                       const char *, struct qerror *);
int check_template(const struct app *, const struct qube *, const struct prop_def *, const char *,
                   struct qerror *);
int check_template_for_dispvms(const struct app *, const struct qube *, const struct prop_def *,
                               const char *, struct qerror *);
int check_dispvm_template(const struct app *, const struct qube *, const struct prop_def *,
                          const char *, struct qerror *);
int check_netvm(const struct app *, const struct qube *, const struct prop_def *, const char *,
                struct qerror *);
int check_default_netvm(const struct app *, const struct qube *, const struct prop_def *,
                        const char *, struct qerror *);
int check_provides_network(const struct app *, const struct qube *, const struct prop_def *,
                           const char *, struct qerror *);
int check_ip(const struct app *, const struct qube *, const struct prop_def *, const char *,
             struct qerror *);
int check_mac(const struct app *, const struct qube *, const struct prop_def *, const char *,
              struct qerror *);
int check_virt_mode(const struct app *, const struct qube *, const struct prop_def *, const char *,
                    struct qerror *);
int check_kernel(const struct app *, const struct qube *, const struct prop_def *, const char *,
                 struct qerror *);
int check_kernelopts(const struct app *, const struct qube *, const struct prop_def *, const char *,
                     struct qerror *);
int check_default_user(const struct app *, const struct qube *, const struct prop_def *,
                       const char *, struct qerror *);
int check_pool(const struct app *, const struct qube *, const struct prop_def *, const char *,
               struct qerror *);

/* Qubes' vmid_to_ipv4: "10.137.0.<qid>" for small ids. */
void vmid_to_ipv4(const char *prefix, long long id, struct buf *out);
