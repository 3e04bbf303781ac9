/* allreduce_lbfgs.h -- Agarwal et al.'s hybrid learner: online AdaGrad
 * passes on each worker's shard, a per-feature weighted average through
 * allreduce, then L-BFGS whose every loss and gradient is summed by
 * allreduce (allreduce_lbfgs.c says how). */
#ifndef DISTLAB_ALLREDUCE_LBFGS_H
#define DISTLAB_ALLREDUCE_LBFGS_H

#include <stddef.h>

#include "algorithms/collectives.h"
#include "algorithms/train.h"

typedef struct alb_opts {
    long warmstart;       /* --warmstart PASSES: online passes before L-BFGS (0: L-BFGS
                             from zero; --epochs: online only) */
    int speculative;      /* --speculative on|off: back up slow shards' first pass */
    int spares;           /* --spares S: ranks kept free for backups (speculative on; 0:
                             backups run on workers that finished their first pass) */
    allreduce_algo algo;  /* --allreduce ring|tree|rd|rabenseifner (default tree, as the paper) */
    coll_opts coll;       /* --segment */
    int precondition;     /* --precondition on|off: L-BFGS scaled by the Hessian's diagonal */
    int lbfgs_m;          /* --lbfgs-m: corrections kept (liblbfgs' m) */
    double lbfgs_epsilon; /* --lbfgs-epsilon: stop at ||g|| < epsilon max(1, ||x||) */
} alb_opts;

/* Defaults: warmstart 1, speculative off, no spares, tree, preconditioned,
 * m 10, epsilon 1e-5. */
alb_opts alb_opts_default(void);

/* The reporter's stats (train_out.stats), in this order. */
enum {
    ALB_STAT_ONLINE_PASSES = 0, /* online passes made (each followed by an average) */
    ALB_STAT_EVALUATIONS,       /* L-BFGS evaluations: passes over the data */
    ALB_STAT_ITERATIONS,        /* L-BFGS iterations */
    ALB_STAT_LBFGS_STATUS,      /* liblbfgs' return code (0: converged; NaN: none ran) */
    ALB_STAT_BACKUPS,           /* backup tasks started (speculative on) */
    ALB_STAT_BACKUP_WINS,       /* shards whose backup finished first */
    ALB_STATS
};

/* The extra metric column: 0 at the start, 1 after an online pass and its
 * average, 2 after an L-BFGS iteration. */
enum { ALB_COL_PHASE = 0, ALB_COLS };

/* The ranks of a job with these options and W workers: W, or with
 * speculation W + 1 (the tracker) + spares. */
int alb_ranks(const alb_opts *o, int workers);

/* The options against the problem: 0, or -1 with err saying what is wrong. */
int alb_check(const train_setup *setup, char *err, size_t errlen);

/* Rank function: setup->algo points at an alb_opts; ranks 0..W-1 are the
 * workers (rank 0 reports), then the tracker and the spares. */
int alb_rank(rt *r, void *setup);

/* The objective L-BFGS minimises, as one call: f(x) = mean logistic (or
 * softmax) loss over the whole training set + l2/2 ||x||^2, and its
 * gradient, with the data part summed over the W workers' shards by one
 * allreduce (every rank of the job calls it; ranks beyond the workers add
 * nothing); with hdiag (may be NULL) also the diagonal of its Hessian,
 * l2 included, that preconditions L-BFGS. Exposed so a test can hold it
 * against the serial objective. */
int alb_objective(rt *r, const train_setup *setup, const double *x, double *f, double *g,
                  double *hdiag);

/* `distlab run allreduce-lbfgs`. */
extern const train_algo alb_algo;

#endif
