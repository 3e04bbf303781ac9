/* job.h -- run one SPMD function on P ranks, on either backend.
 *
 *   job_config cfg = job_config_default();
 *   cfg.ranks = 8;                       (and the backend's settings)
 *   job_result res;
 *   if (job_run(&cfg, my_rank_main, my_arg, &res) != 0)
 *       fprintf(stderr, "%s\n", res.error);
 *   ... res.events, res.seconds, job_result_slot(&res, rank) ...
 *   job_result_free(&res);
 *
 * Every rank runs fn(r, arg) and returns RT_OK or an error code. A
 * simulation always runs in a forked child (SimGrid cannot load a second
 * platform in one process, and a SimGrid abort must not take the caller
 * down); --launch procs forks one child per rank. Either way `arg` is
 * inherited read-only, and what a rank wants to hand back goes into its
 * result slot (job_slot(r), cfg.result_bytes long), which the parent reads
 * after the run. Rank functions may also write files.
 */
#ifndef DISTLAB_JOB_H
#define DISTLAB_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "algorithms/runtime.h"

typedef enum { JOB_SIM = 0, JOB_REAL = 1 } job_backend;
typedef enum { JOB_NET_IDEAL = 0, JOB_NET_TCP = 1 } job_net;
typedef enum { JOB_PLACE_ROUND_ROBIN = 0, JOB_PLACE_BLOCK = 1 } job_placement;
/* hosts: this process runs one rank of a job whose ranks may be on other
 * machines; see job_config.peers. */
typedef enum { JOB_LAUNCH_THREADS = 0, JOB_LAUNCH_PROCS = 1, JOB_LAUNCH_HOSTS = 2 } job_launch;
typedef enum { JOB_BIND_AUTO = 0, JOB_BIND_NONE = 1, JOB_BIND_CORES = 2 } job_bind;

typedef struct job_config {
    job_backend backend;
    int ranks;
    double timeout_s;      /* real: a wait longer than this (wall) is an error;
                              sim needs none: a deadlock ends the simulation */
    int record_events;     /* keep the per-rank event log */
    size_t result_bytes;   /* per-rank result slot */

    /* sim: a platform file, or a generated cluster */
    const char *platform;  /* SimGrid XML; NULL to generate */
    int hosts;             /* generated: number of hosts (default: ranks) */
    double bandwidth_Bps;  /* generated: host link bandwidth */
    double latency_s;      /* generated: host-to-host one-way latency */
    double speed_flops;    /* generated: per-core speed */
    int cores;             /* generated: cores per host */
    job_net net;
    job_placement placement;
    int size_only;         /* payloads carry only their size */
    /* Per-rank compute slowdown (NULL: none): rank i's compute takes
     * slowdown[i] times as long (sim: charged that many times over; real:
     * followed by a sleep of the extra time). For stragglers. */
    const double *slowdown;

    /* real */
    job_launch launch;
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
    /* real: how long a waiting rank keeps polling its sockets before it
     * sleeps in the kernel; below zero: automatic (see job_spin_s). */
    double spin_s;
    job_bind bind;         /* real: each rank on a core of its own? */
} job_config;

typedef struct job_result {
    int failed;            /* nonzero when any rank returned an error */
    char error[1024];      /* first error, with its rank */
    int *rank_status;      /* per rank: RT_OK or the code it returned */
    double seconds;        /* simulated (sim) or wall (real) job time */
    rt_event *events;      /* every rank's events, by rank then time */
    size_t nevents;
    uint64_t bytes_sent, messages;
    void *slots;           /* ranks * result_bytes */
    size_t result_bytes;
    int ranks;
    /* hosts, on a rank other than 0: the rank this process ran. Only its
     * own status and slot are here; rank 0 has the whole job's. Else -1. */
    int only_rank;
    char net_model[64];    /* sim: what the network model was */
    void *shared;          /* the mapping behind rank_status and slots */
    size_t shared_bytes;
} job_result;

typedef int (*job_main)(rt *r, void *arg);

job_config job_config_default(void);

/* real: how long a waiting rank polls its sockets before it sleeps --
 * cfg->spin_s when set, else JOB_SPIN_AUTO_S when every rank has a core of
 * its own (the ranks -- of a hosts job, those whose --peers address has
 * this rank's host -- are no more than the cores this process may use),
 * else 0. */
#define JOB_SPIN_AUTO_S 100e-6
double job_spin_s(const job_config *cfg);
/* real: whether rank i runs bound to the (i mod n)-th of the n cores this
 * process may use: cfg->bind when set, else when every rank has a core
 * (never by default in a hosts job, whose process runs one rank). */
int job_binds(const job_config *cfg);
/* Which of the allowed cores (modulo their number) rank binds to: its rank,
 * or in a hosts job its place among the ranks of its host. */
int job_core_slot(const job_config *cfg, int rank);
/* Returns 0 when every rank returned RT_OK; otherwise nonzero with
 * res->error saying what went wrong. res must be freed either way. */
int job_run(const job_config *cfg, job_main fn, void *arg, job_result *res);
void job_result_free(job_result *res);
void *job_result_slot(const job_result *res, int rank);

/* Inside a rank: its result slot (cfg.result_bytes bytes, zeroed). */
void *job_slot(rt *r);

/* Backend entry points, called by job_run inside the process that hosts
 * the ranks. They fill res->seconds, events and counters; slots is
 * preallocated. */
int sim_job_run(const job_config *cfg, job_main fn, void *arg, job_result *res);
int real_job_run(const job_config *cfg, job_main fn, void *arg, job_result *res);

#endif
