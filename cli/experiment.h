/* experiment.h -- a set of runs that share a cluster, data, model and
 * budget: what `distlab compare` and `distlab sweep` run.
 *
 * A run is named by a spec, ALGO[:VARIANT[:ARG]]:
 *   serial                       plain SGD on one rank
 *   allreduce[:ring|tree|rd|rabenseifner]
 *   ps[:bsp|async|ssp[:S]]       a parameter server (S: the staleness bound)
 *   psgd[:H|end]                 local SGD averaging every H steps, or once
 *   hogwild[:none|lock|round-robin]
 *   ANY-OTHER-ALGO               as `distlab run` knows it
 * The spec becomes `distlab run ALGO` options; the shared options (data,
 * model, cluster, workers, seed ...) go to every run that takes them.
 *
 * An experiment file is plain text a lab can ship:
 *   # a comment
 *   workers 16                   a shared option: --workers 16
 *   stragglers 0.125
 *   run allreduce:ring           a run, with the shared options
 *   run ps:ssp:3 --servers 4     a run with options of its own
 *   run allreduce --scale-lr --as scaled
 *                                --as NAME: the run's name (folder, row, legend);
 *                                not empty, no leading '.', no '/', no quotes,
 *                                not ending in .png/.csv/.json/.svg/.pdf/.txt/.md
 *                                (the files compare and sweep write beside it)
 *
 * Every run gets a name of its own, its folder and its row: the spec with
 * ':', '/' and spaces as '-' (ps:ssp:3 -> ps-ssp-3). A run whose name another run
 * already has (`run allreduce --lr 0.1`, then `run allreduce --lr 0.5`)
 * gets _2, _3 ... after it (allreduce_2), and a note says so.
 */
#ifndef DISTLAB_EXPERIMENT_H
#define DISTLAB_EXPERIMENT_H

#include "cli/cli.h"

#define EXP_MAX_RUNS 32
#define EXP_MAX_OPTS 96

typedef struct exp_opt {
    char *key, *val;       /* val "" for flags */
} exp_opt;

typedef struct exp_run {
    char *spec;            /* as written */
    char name[128];        /* spec with ':' as '-', unique: its folder */
    char label[160];       /* spec, with the same _N as name: legends, rows */
    char algo[64];
    exp_opt opts[EXP_MAX_OPTS]; /* from the spec and the run's own */
    int nopts;
} exp_run;

typedef struct experiment {
    exp_opt shared[EXP_MAX_OPTS];
    int nshared;
    exp_run runs[EXP_MAX_RUNS];
    int nruns;
} experiment;

void experiment_init(experiment *e);
void experiment_free(experiment *e);
/* Add a run from its spec (plus its own "--key val" words); prints a
 * message and returns -1 when the spec is not understood. */
int experiment_add_run(experiment *e, const char *verb, const char *spec, int nwords, char **words);
int experiment_add_shared(experiment *e, const char *key, const char *val);
/* Read an experiment file; messages name the file and line. */
int experiment_load(experiment *e, const char *verb, const char *path);
/* The options every verb that runs experiments accepts, so cli_parse can
 * check them: the union of `distlab run`'s options over all algorithms. */
int experiment_known_opts(cli_opt *out, int cap, const cli_opt *own);
/* Run one: `distlab run ALGO` with the shared options it takes (extra
 * shared options first, then the run's own) into outdir. Returns the
 * run verb's exit status. */
int experiment_run(const experiment *e, const exp_run *run, const exp_opt *extra, int nextra,
                   const char *outdir, const char *verb);

/* ---- many runs at once (--jobs) ---- */

/* One run of a batch: what experiment_run takes, and how it ended. */
typedef struct exp_task {
    const exp_run *run;
    exp_opt extra[2];
    int nextra;
    char outdir[4200];
    int status;            /* its exit status; -1 before it ran */
} exp_task;

/* --jobs's default: the machine's cores, but one when the runs use real
 * sockets (real_sockets), whose times a neighbour would distort. */
int experiment_default_jobs(int real_sockets);
/* How many runs at once: --jobs N (1 to 1024), else
 * experiment_default_jobs, real when any run has --backend real. 0, or -1
 * having said what is wrong. */
int experiment_jobs(const cli_args *a, const experiment *e, const char *verb, int *jobs);
/* Run the n tasks, up to jobs at a time. With jobs > 1 each runs in a
 * child process of its own, its output kept and printed whole, in task
 * order, so the output reads as a sequential run's; each writes only its
 * own folder, so the records are the same bytes either way. After a task
 * fails no new one starts. Returns 0, or the exit status of the first
 * task (in order) that failed. */
int experiment_run_all(const experiment *e, exp_task *tasks, int n, int jobs, const char *verb);
/* The same for any n runs: fn(ctx, i) runs run i and returns its exit
 * status (in a child process when jobs > 1, so what it leaves in memory
 * is lost: it writes its results to its own files). status[i] gets each
 * run's status, -1 for one that never started. */
typedef int (*exp_job_fn)(void *ctx, int i);
int experiment_run_parallel(int n, int jobs, const char *verb, exp_job_fn fn, void *ctx, int *status);

#endif
