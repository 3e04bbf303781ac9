/* run.h -- `distlab run ALGO`: how an algorithm plugs into the run verb.
 *
 * verb_run.c does what every run shares: it parses the ML options, the job
 * options and --out/--quiet/--no-figures, loads the problem, runs the job,
 * and writes the run records (metrics.csv, events.csv, summary.json,
 * model.bin) and the default figures, from the algorithm's descriptor
 * (train_algo: options, columns, stats, job shape, check, rank function,
 * on the algorithm side). An algorithm's file cli/run_NAME.c only maps
 * its flags to its options' fields and adds its summary fields, in a
 * run_algo listed in the table in verb_run.c.
 */
#ifndef DISTLAB_RUN_H
#define DISTLAB_RUN_H

#include "algorithms/collectives.h"
#include "algorithms/train.h"
#include "cli/cli.h"
#include "core/records.h"

typedef struct run_ctx {
    const char *algo;      /* the name given on the command line */
    const cli_args *args;  /* everything parsed */
    job_config cfg;        /* cfg.ranks: set by configure (default: workers);
                              cfg.settings points at sim or real */
    sim_config sim;        /* the backends' own settings (cli_job_config) */
    real_config real;
    ml_config ml;
    ml_problem prob;       /* loaded after configure */
    train_setup setup;     /* setup.algo: set by configure */
    int workers;           /* --workers (or the algorithm's default) */
    int replicas;          /* copies of the model that each take a batch at
                              once: summary.json's global_batch is replicas
                              x --batch (workers, but model parallelism's 1) */
    int stragglers;        /* workers slowed by --stragglers */
    int kill_rank;         /* --kill-rank RANK:STEP, or -1 */
    long kill_step;
    const char *outdir;    /* where the records go (set before the job) */
    char **resume;         /* --resume: each rank's checkpoint, resume_len bytes */
    size_t *resume_len;
    char **resume_path;    /* and the files they came from */
} run_ctx;

typedef struct run_algo {
    /* The algorithm's own description (algorithms/train.h): its name,
     * options, metric columns, stats, job shape, check and rank function. */
    const train_algo *algo;
    /* Options of the command line's own for it (placement, fault
     * injection), NULL-terminated; may be NULL. */
    const cli_opt *opts;
    /* Map the flags to the algorithm's options struct and point setup.algo
     * at it (print "distlab run NAME: --opt: ..." and return -1 when one is
     * wrong); may set workers and the job's settings. Before the problem
     * is loaded; verb_run then takes the ranks, the reporter and the
     * columns from the descriptor. */
    int (*configure)(run_ctx *ctx);
    /* Optional: its own summary fields. */
    void (*summarize)(run_ctx *ctx, const job_result *res, records *rec);
    /* Optional: nonzero when a job that failed (a rank died) still trained
     * to the end without it, so its records are written (summarize says
     * what was lost). */
    int (*survived)(run_ctx *ctx, const job_result *res);
    /* Optional: the algorithm parses and runs the whole command itself
     * (argv as verb_run has it: "run", NAME, ...), because its data or
     * model are not an ml_problem's (lda: a corpus and a table of counts).
     * Then its options are only its descriptor's (no ML options, no
     * run options besides those it lists), and configure is not called. */
    int (*main)(int argc, char **argv);
} run_algo;

/* --allreduce and --segment, for the algorithms that sum with an
 * allreduce: 0, or -1 with the message printed. */
int run_get_allreduce(const run_ctx *ctx, allreduce_algo *algo, coll_opts *coll);

extern const run_algo run_algo_serial;
extern const run_algo run_algo_allreduce;
extern const run_algo run_algo_ps;
extern const run_algo run_algo_hogwild;
extern const run_algo run_algo_psgd;
extern const run_algo run_algo_distbelief;
extern const run_algo run_algo_lda;
extern const run_algo run_algo_allreduce_lbfgs;
extern const run_algo run_algo_ray_ps;

int verb_run(int argc, char **argv);

/* --stragglers F --slowdown X: round(F n) of the n ranks the shape says
 * may straggle (the workers), drawn from seed, compute X times slower
 * (slow: one factor per rank of the job). Returns the number of
 * stragglers, or -1 having said what is wrong. */
int run_pick_stragglers(const cli_args *a, const char *verb, uint64_t seed, const train_shape *sh,
                        double *slow);
/* --kill-rank RANK:STEP, --checkpoint-every and --resume (run_faults.c),
 * once cfg.ranks is known: sets setup.crash and the checkpoint hooks, reads
 * the checkpoints to resume from; 0, or -1 having said what is wrong. */
int run_faults_configure(run_ctx *ctx, const char *verb);
/* "A:B" of --kill-rank RANK:STEP and --kill-worker W:ITER: whole numbers,
 * A from 0 to max_a, B >= 0 (strtol took " 1", and 1:99999999999999999999
 * as step LONG_MAX). 0, or -1 (the caller says what is expected). */
int run_parse_pair(const char *v, long max_a, long *a, long *b);
/* After the job: says so when the rank never reached its step. */
void run_faults_report(const run_ctx *ctx, int failed, const char *verb);

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
