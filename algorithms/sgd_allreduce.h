/* sgd_allreduce.h -- synchronous data-parallel SGD over an allreduce. */
#ifndef DISTLAB_SGD_ALLREDUCE_H
#define DISTLAB_SGD_ALLREDUCE_H

#include "algorithms/collectives.h"
#include "algorithms/train.h"

typedef struct sgd_allreduce_opts {
    allreduce_algo algo;  /* --allreduce ring|tree|rd|rabenseifner */
    coll_opts coll;       /* --segment */
    int scale_lr;         /* --scale-lr: the linear scaling rule, lr x workers */
    size_t bucket_bytes;  /* --bucket: 0, one allreduce after backward; else
                             buckets in reverse layer order (dp_grad.c) */
    int overlap;          /* --overlap on: each bucket summed during backward */
} sgd_allreduce_opts;

/* Rank function: setup->algo points at a sgd_allreduce_opts. Every rank
 * is a worker; rank 0 reports. With one rank this is plain serial SGD. */
int sgd_allreduce_rank(rt *r, void *setup);

/* `run allreduce`, and `run serial` (the same on one rank, options
 * ring). */
extern const train_algo sgd_allreduce_algo, sgd_serial_algo;

#endif
