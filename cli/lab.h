/* lab.h -- the labs' checkers, which `distlab lab check` runs.
 *
 * A lab is a folder labs/NN-name/ (README.md, starter.c, solution.c,
 * teacher.md); its checker is code here, found by the lab's number. A
 * checker builds the student's file (cli/plugin.c), runs it through the
 * same kinds of test distlab's own algorithms pass, prints a TAP report
 * and a one-line score, and returns 0 only when every check passed.
 */
#ifndef DISTLAB_CLI_LAB_H
#define DISTLAB_CLI_LAB_H

#include "algorithms/collectives.h"
#include "core/job.h"
#include "core/records.h" /* fnv1a64: the checkers compare models by it */
#include "sim/sim_backend.h"

typedef struct lab_checker lab_checker;
struct lab_checker {
    const char *number;   /* "01": the folder's prefix */
    const char *what;     /* what the student writes, for `lab list` */
    const char *symbol;   /* the entry point (algorithms/plugin.h) */
    allreduce_algo cost;  /* collective labs only: the formula to meet */
    /* Check `file`; quick: fewer rank counts and sizes (make check). */
    int (*check)(const lab_checker *lab, const char *file, int quick);
};

/* ---- what every checker uses (cli/lab_check.c) ---- */

/* A TAP report: lines numbered from 1, and how many passed. */
typedef struct tap {
    int n, passed;
} tap;
void lab_tap_line(tap *t, int ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void lab_tap_diag(const char *msg); /* each line of msg as a "#" comment */

/* What one check found: ok, and lines saying why not. */
typedef struct outcome {
    int ok;
    char msg[4096];
} outcome;
void lab_say(outcome *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Run fn(o, ctx) in a child process of its own (its own process group):
 * a crash or a check still running after two minutes is a failure. */
void lab_isolated(outcome *out, void (*fn)(outcome *o, const void *ctx), const void *ctx);

/* A checker's cases after its first line (the file builds): each runs
 * isolated and is one TAP line, its message printed when it fails (or
 * always, with say_always); "not run" for each when nothing loaded. */
typedef struct lab_case {
    void (*fn)(outcome *o, const void *ctx);
    const char *what;
    int say_always;
} lab_case;
void lab_run_cases(tap *t, const lab_case *cases, int n, const void *ctx, int loaded);

/* A checker's job: in simulation on *sim (the caller's, alive while the
 * job runs), or with real_sockets on loopback TCP with ranks as threads
 * and a 30 s timeout; ranks ranks, result slots of result_bytes, no
 * events. */
job_config lab_job_config(int real_sockets, sim_config *sim, int ranks, size_t result_bytes);

/* The score line; returns the exit status (0: every check passed). */
int lab_score(const tap *t, const lab_checker *lab, const char *file);

/* Checkers (lab_check.c: the collectives; lab_ssp.c: the SSP condition;
 * lab_local_sgd.c: local SGD's averaging). */
int lab_check_allreduce(const lab_checker *lab, const char *file, int quick);
int lab_check_ssp(const lab_checker *lab, const char *file, int quick);
int lab_check_local_sgd(const lab_checker *lab, const char *file, int quick);
/* lab_calibration.c: a pingpong's alpha and beta (lab 08). */
int lab_check_alpha_beta(const lab_checker *lab, const char *file, int quick);
/* lab_hogwild.c: Hogwild!'s lock-free step (lab 04). */
int lab_check_hogwild(const lab_checker *lab, const char *file, int quick);
/* lab_faults.c: lab 10, a parameter server's rule for a dead worker */
int lab_check_faults(const lab_checker *lab, const char *file, int quick);
/* lab_checkpoint.c: lab 10's checkpoint save and load, from the object
 * that defined loaded_symbol (NULL: it did not load, each line fails);
 * lab_checkpoint_checks() TAP lines. */
int lab_checkpoint_checks(void);
void lab_check_checkpoint(tap *t, const char *file, void *loaded_symbol);
/* lab_scaling.c: the time model of data-parallel SGD (lab 07). */
int lab_check_scaling(const lab_checker *lab, const char *file, int quick);
/* `lab run 07 FILE.c [options]`: the student's model for other settings. */
int lab_run_scaling(const char *file, int argc, char **argv);
/* lab_ray.c: the async parameter server's loop on Ray's model (lab 09). */
int lab_check_ray_ps(const lab_checker *lab, const char *file, int quick);
/* lab_mp.c: a layer split by neurons, its boundary exchanges (lab 05). */
int lab_check_mp(const lab_checker *lab, const char *file, int quick);
/* lab_lda.c: lab 12, collapsed Gibbs sampling's draw of a token's topic */
int lab_check_lda(const lab_checker *lab, const char *file, int quick);
/* lab_frameworks.c: lab 11, DDP's bucketed, overlapped backward */
int lab_check_frameworks(const lab_checker *lab, const char *file, int quick);
/* lab_large_batch.c: the linear scaling rule with warmup (lab 13). */
int lab_check_lr_schedule(const lab_checker *lab, const char *file, int quick);

/* The checker of lab "NN" (leading zeros optional), or NULL. */
const lab_checker *lab_checker_find(const char *number);

#endif
