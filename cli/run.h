/* run.h -- `distlab run ALGO`: how an algorithm plugs into the run verb.
 *
 * verb_run.c does what every run shares: it parses the ML options, the job
 * options and --out/--quiet/--no-figures, loads the problem, runs the job,
 * and writes the run records (metrics.csv, events.csv, summary.json,
 * model.bin) and the default figures. An algorithm adds only its own
 * options and its rank function, in a run_algo of its own file
 * (cli/run_NAME.c), listed in the table in verb_run.c.
 */
#ifndef DISTLAB_RUN_H
#define DISTLAB_RUN_H

#include "algorithms/train.h"
#include "cli/cli.h"
#include "core/records.h"

typedef struct run_ctx {
    const char *algo;      /* the name given on the command line */
    const cli_args *args;  /* everything parsed */
    job_config cfg;        /* cfg.ranks: set by configure (default: workers) */
    ml_config ml;
    ml_problem prob;       /* loaded after configure */
    train_setup setup;     /* setup.algo: set by configure */
    int workers;           /* --workers (or the algorithm's default) */
    int stragglers;        /* ranks slowed by the generic --stragglers */
} run_ctx;

typedef struct run_algo {
    const char *name;
    const char *summary;
    const cli_opt *opts;   /* its own options, NULL-terminated; may be NULL */
    int default_workers;
    /* Read its options (print "distlab run NAME: --opt: ..." and return -1
     * when one is wrong), set cfg.ranks, setup.algo, setup.reporter and any
     * extra metric columns. Before the problem is loaded. */
    int (*configure)(run_ctx *ctx);
    /* Optional: checks that need the problem (e.g. servers <= parameters). */
    int (*check)(run_ctx *ctx);
    job_main rank_main;
    /* Optional: its own summary fields. */
    void (*summarize)(run_ctx *ctx, const job_result *res, records *rec);
    /* Optional: nonzero when a job that failed (a rank died) still trained
     * to the end without it, so its records are written (summarize says
     * what was lost). */
    int (*survived)(run_ctx *ctx, const job_result *res);
} run_algo;

extern const run_algo run_algo_serial;
extern const run_algo run_algo_allreduce;
extern const run_algo run_algo_ps;
extern const run_algo run_algo_hogwild;
extern const run_algo run_algo_psgd;
extern const run_algo run_algo_distbelief;

int verb_run(int argc, char **argv);

#define RUN_MAX_OPTS 160
/* --slowdown's largest factor: a straggler's flops times it stay finite */
#define RUN_SLOWDOWN_MAX 1e6
/* The algorithm of that name, or NULL; the i-th known one (NULL past the end). */
const run_algo *run_algo_find(const char *name);
const run_algo *run_algo_at(int i);
/* Every option `distlab run NAME` takes, job options aside; returns the count. */
int run_algo_options(const run_algo *algo, cli_opt *out, int cap);
/* Does `distlab run NAME` take --opt (job options included)? */
int run_algo_accepts(const run_algo *algo, const char *opt);

#endif
