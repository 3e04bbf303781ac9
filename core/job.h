/* job.h -- run one SPMD function on P ranks, on whichever backend the
 * caller names.
 *
 *   job_config cfg = job_config_default();
 *   cfg.ranks = 8;
 *   cfg.backend = &sim_backend;          (a table sim/ or real/ exports)
 *   cfg.settings = &sim;                 (that backend's own settings)
 *   job_result res;
 *   if (job_run(&cfg, my_rank_main, my_arg, &res) != 0)
 *       fprintf(stderr, "%s\n", res.error);
 *   ... res.events, res.seconds, job_result_slot(&res, rank) ...
 *   job_result_free(&res);
 *
 * A backend is a table (job_backend), one level up from rt_ops: the core
 * calls through it and never knows which backend it runs, what a cluster
 * or a socket is, or how ranks are placed. Each backend's header defines
 * the table, its settings struct and their defaults (sim/sim_backend.h,
 * real/real_backend.h); the command line keeps the list of them.
 *
 * Every rank runs fn(r, arg) and returns RT_OK or an error code. Ranks may
 * run in other processes (a simulation runs in a forked child, --launch
 * procs forks one child per rank), so `arg` is inherited read-only, and
 * what a rank wants to hand back goes into its result slot (job_slot(r),
 * cfg.result_bytes long), which the parent reads after the run. Rank
 * functions may also write files.
 */
#ifndef DISTLAB_JOB_H
#define DISTLAB_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "algorithms/runtime.h"

typedef struct job_config job_config;
typedef struct job_result job_result;
typedef int (*job_main)(rt *r, void *arg);

typedef struct job_backend {
    const char *name;      /* --backend's word for it, and summary.json's */
    /* Run cfg->ranks ranks of fn, in this process or in processes it
     * forks, and fill the result area (core/job_internal.h: job_shared,
     * rank_status, slots -- preallocated -- and the events, through
     * job_collect_rank). Errors go through job_fail. */
    int (*run)(const job_config *cfg, job_main fn, void *arg, job_result *res);
} job_backend;

struct job_config {
    const job_backend *backend; /* who runs the ranks; job_run refuses NULL */
    /* The backend's own settings: a struct its header defines, whose first
     * member is `const job_backend *backend`, naming the backend it is for
     * (its _default() function sets it). NULL: the backend's defaults. */
    const void *settings;
    int ranks;
    double timeout_s;      /* a wait longer than this (wall) is an error; a
                              backend whose deadlocks end the run by
                              themselves (sim) needs none */
    int record_events;     /* keep the per-rank event log */
    size_t result_bytes;   /* per-rank result slot */
    /* Per-rank compute slowdown (NULL: none): rank i's compute takes
     * slowdown[i] times as long (charged that many times over, or
     * followed by a wait of the extra time). For stragglers. */
    const double *slowdown;
};

struct job_result {
    int failed;            /* nonzero when any rank returned an error */
    char error[1024];      /* first error, with its rank */
    int bad_input;         /* the job's settings were refused before any rank
                              ran (--peers against the job's ranks, say):
                              the command line's exit 2, not a failed run */
    int *rank_status;      /* per rank: RT_OK or the code it returned */
    double seconds;        /* job time by the backend's clock (simulated, wall) */
    double cpu_seconds;    /* real: CPU time of the rank threads inside the rank
                              function, summed over the ranks this process ran
                              (its async jobs' threads not counted); sim: 0 */
    rt_event *events;      /* every rank's events, by rank then time */
    size_t nevents;
    uint64_t bytes_sent, messages;
    /* sim, --net analytic: the computations a rank charged ahead of
     * SimGrid's clock (sim.c's exec_flops); 0 elsewhere */
    uint64_t ran_ahead;
    void *slots;           /* ranks * result_bytes */
    size_t result_bytes;
    int ranks;
    /* hosts, on a rank other than 0: the rank this process ran. Only its
     * own status and slot are here; rank 0 has the whole job's. Else -1. */
    int only_rank;
    char net_model[64];    /* the network model, where the backend has one
                              ("" where it has none) */
    void *shared;          /* the mapping behind rank_status and slots */
    size_t shared_bytes;
};

job_config job_config_default(void);

/* Returns 0 when every rank returned RT_OK; otherwise nonzero with
 * res->error saying what went wrong. res must be freed either way. */
int job_run(const job_config *cfg, job_main fn, void *arg, job_result *res);
void job_result_free(job_result *res);
void *job_result_slot(const job_result *res, int rank);

/* Inside a rank: its result slot (cfg.result_bytes bytes, zeroed). */
void *job_slot(rt *r);

#endif
