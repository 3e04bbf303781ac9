/* real_backend.h -- the real backend as the rest of distlab sees it: its
 * entry for job_run (core/job.h: job_backend), its own settings, and its
 * policy for how waiting ranks wait and where ranks run.
 *
 *   real_config real = real_config_default();
 *   real.launch = REAL_LAUNCH_PROCS;
 *   job_config cfg = real_job_config(&real);
 *                  (= job_config_default() with .backend = &real_backend,
 *                     .settings = &real; NULL settings: the defaults)
 *
 * The ranks run over TCP on this machine as threads or processes, or one
 * per process on several machines (hosts); real.h describes the files.
 */
#ifndef DISTLAB_REAL_BACKEND_H
#define DISTLAB_REAL_BACKEND_H

#include <stdint.h>

#include "core/job.h"

/* hosts: this process runs one rank of a job whose ranks may be on other
 * machines; see real_config.peers. */
typedef enum { REAL_LAUNCH_THREADS = 0, REAL_LAUNCH_PROCS = 1, REAL_LAUNCH_HOSTS = 2 } real_launch;
typedef enum { REAL_BIND_AUTO = 0, REAL_BIND_NONE = 1, REAL_BIND_CORES = 2 } real_bind;

typedef struct real_config {
    const job_backend *backend; /* &real_backend: whose settings these are */
    real_launch launch;
    const char *listen_addr; /* default 127.0.0.1 */
    /* hosts: every rank's HOST:PORT, in rank order, comma-separated (the
     * same list for every rank: it also names the job), and the rank this
     * process runs. Rank i listens on the i-th address; rank 0 gathers
     * every rank's result, status and events at the end. */
    const char *peers;
    int host_rank;
    /* hosts: a digest of what every rank must agree on besides the peer
     * list (the command's options); it joins the job's token, so a rank
     * started with other options is refused as another job's. */
    uint64_t hosts_key;
    /* How long a waiting rank keeps polling its sockets before it sleeps
     * in the kernel; below zero: automatic (see real_spin_s). */
    double spin_s;
    real_bind bind;          /* each rank on a core of its own? */
} real_config;

extern const job_backend real_backend;

/* Check a --peers list as written (before the job's size is known): every
 * entry HOST:PORT, none empty, no address twice. Returns the number of
 * entries, or -1 with what is wrong in err. */
int real_peers_check(const char *peers, char *err, size_t errlen);

/* Threads on 127.0.0.1, automatic spin and binding. */
real_config real_config_default(void);
/* The real settings of a job: cfg->settings, or the defaults when NULL. */
const real_config *real_settings(const job_config *cfg);
/* job_config_default() on this backend with these settings (NULL: the
 * defaults), which must outlive the job. */
job_config real_job_config(const real_config *settings);

/* How long a waiting rank polls its sockets before it sleeps -- spin_s
 * when set, else REAL_SPIN_AUTO_S when every rank has a core of its own
 * (the ranks -- of a hosts job, those whose --peers address has this
 * rank's host -- are no more than the cores this process may use), else
 * 0. */
#define REAL_SPIN_AUTO_S 100e-6
double real_spin_s(const job_config *cfg);
/* Whether rank i runs bound to the (i mod n)-th of the n cores this
 * process may use: bind when set, else when every rank has a core (never
 * by default in a hosts job, whose process runs one rank). */
int real_binds(const job_config *cfg);
/* Which of the allowed cores (modulo their number) rank binds to: its rank,
 * or in a hosts job its place among the ranks of its host. */
int real_core_slot(const job_config *cfg, int rank);

#endif
