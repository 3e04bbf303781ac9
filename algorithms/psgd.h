/* psgd.h -- parallelized SGD and local SGD: workers train alone and
 * average their models every H local steps, or once at the end. */
#ifndef DISTLAB_PSGD_H
#define DISTLAB_PSGD_H

#include <stddef.h>

#include "algorithms/collectives.h"
#include "algorithms/train.h"

/* What the reporter evaluates between averaging rounds. */
typedef enum psgd_eval {
    PSGD_EVAL_AVERAGE = 0, /* the average of all W models, by an observer
                              allreduce whose time is not training time */
    PSGD_EVAL_LOCAL,       /* its own model: no extra traffic at all */
} psgd_eval;

typedef struct psgd_opts {
    long average_every_steps; /* --average-every H; 0 = "end": only once, at the end */
    allreduce_algo algo;      /* --allreduce ring|tree|rd|rabenseifner */
    coll_opts coll;           /* --segment */
    psgd_eval eval;           /* --eval average|local */
} psgd_opts;

/* The reporter's stats (train_out.stats), in this order. */
enum {
    PSGD_STAT_ROUNDS = 0,      /* averaging rounds: training communication */
    PSGD_STAT_OBSERVE,         /* observer allreduces made only to evaluate */
    PSGD_STAT_OBSERVE_S,       /* seconds they took, left out of time_s */
    PSGD_STAT_LOCAL_LOSS,      /* test loss of the rank's own final model, before the
                                  last average: one worker on its 1/W share. Every
                                  rank fills this one in its own slot. */
    PSGD_STAT_LOCAL_ACCURACY,  /* (the same, every rank) */
    PSGD_STATS
};

/* The extra metric columns, in this order. */
enum { PSGD_COL_ROUNDS = 0, PSGD_COL_AVERAGED, PSGD_COL_LOCAL_LOSS, PSGD_COLS };

/* Parse --average-every: a positive number of local steps, or "end".
 * Returns 0, or -1 with a message saying what was expected. */
int psgd_parse_every(const char *text, long *steps, char *err, size_t errlen);

/* Rank function: setup->algo points at a psgd_opts. Every rank is a
 * worker; setup->reporter evaluates. The final slot holds the average. */
int psgd_rank(rt *r, void *setup);

/* `run psgd`: its options, the columns and stats above. */
extern const train_algo psgd_algo;

#endif
