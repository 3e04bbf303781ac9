/* hogwild.h -- Hogwild!: lock-free asynchronous SGD on shared weights
 * (Niu, Recht, Re & Wright, NIPS 2011), with its two locked baselines. */
#ifndef DISTLAB_HOGWILD_H
#define DISTLAB_HOGWILD_H

#include "algorithms/train.h"

typedef enum hogwild_sync {
    HOGWILD_SYNC_NONE = 0,    /* Hogwild!: no lock at all */
    HOGWILD_SYNC_LOCK,        /* one lock around every whole update */
    HOGWILD_SYNC_ROUND_ROBIN, /* gradients in parallel, writes in turn (Langford et al. 2009) */
} hogwild_sync;

typedef struct hogwild_opts {
    hogwild_sync sync;     /* --sync none|lock|round-robin */
    double target_loss;    /* --target-loss: time its first crossing; NAN for none */
} hogwild_opts;

/* Extra metric columns and summary stats (train_setup names), in order. */
enum { HOGWILD_X_STALENESS_MEAN, HOGWILD_X_UPDATES_PER_S, HOGWILD_NEXTRA };
enum {
    HOGWILD_S_UPDATES,           /* updates written by all workers */
    HOGWILD_S_TRAIN_SECONDS,     /* first update to last, evaluation excluded */
    HOGWILD_S_UPDATES_PER_S,
    HOGWILD_S_STALENESS_MEAN,    /* other updates landed between a read and its write */
    HOGWILD_S_STALENESS_MAX,
    HOGWILD_S_SECONDS_TO_TARGET, /* first evaluation at or below --target-loss */
    HOGWILD_NSTATS
};

/* "none", "lock", "round-robin", indexed by hogwild_sync, NULL-terminated. */
extern const char *const hogwild_sync_names[];


/* Rank function: setup->algo points at a hogwild_opts. Every rank is a
 * worker and all must sit on one host (they share the weights through
 * rt_shared); setup->reporter evaluates. Plain SGD only (no momentum, no
 * Adagrad: their state would be shared too). */
int hogwild_rank(rt *r, void *setup);

/* `run hogwild`: its options, the columns and stats above, and the check
 * (plain SGD, at least one training example per worker). */
extern const train_algo hogwild_algo;

#endif
