/* ps.h -- the parameter server (Li et al., OSDI 2014): S server ranks own
 * key ranges of the model, W worker ranks pull weights, compute gradients
 * on their shards and push them; consistency BSP, SSP (bounded delay) or
 * async. See ps.c for the protocol and its cost.
 *
 * Ranks: servers are ranks 0..S-1, workers ranks S..S+W-1; server 0 is the
 * reporter (it assembles the model and evaluates it).
 */
#ifndef DISTLAB_PS_H
#define DISTLAB_PS_H

#include <stddef.h>

#include "algorithms/train.h"

typedef enum ps_consistency {
    PS_BSP = 0, /* every worker waits for every other at each iteration */
    PS_SSP,     /* bounded delay: at most `staleness` iterations apart */
    PS_ASYNC,   /* nobody waits */
} ps_consistency;

typedef struct ps_opts {
    int servers;                /* --servers S */
    ps_consistency consistency; /* --consistency bsp|ssp|async */
    int staleness;              /* --staleness s (ssp); s = 0 is BSP */
} ps_opts;

/* Bytes of the header of a worker's request and of a server's reply:
 * what a message costs beyond its keys and values. */
enum { PS_REQ_HEAD_BYTES = 24, PS_REPLY_HEAD_BYTES = 16 };

/* "bsp", "ssp", "async". */
const char *ps_consistency_name(ps_consistency c);

/* Simulated seconds of one BSP iteration on a dense model of P floats,
 * with W workers and S servers on their own hosts of an ideal network
 * (latency alpha_s, seconds per byte beta_s_per_B), no compute, P
 * divisible by S (the formula of ps.c's header). */
double ps_bsp_iteration_s(int W, int S, size_t P, double alpha_s, double beta_s_per_B);


/* Indices into train_out.stats on the reporter. A worker's own slot holds
 * in stats[PS_STAT_UPDATES] the iterations it pushed. */
enum {
    PS_STAT_STALENESS_MEAN = 0,
    PS_STAT_STALENESS_MAX,
    PS_STAT_DELAY_MEAN,
    PS_STAT_DELAY_MAX,
    PS_STAT_UPDATES,
    PS_STAT_WORKERS_LOST,
    PS_STAT_PULL_WAIT_S,
    PS_STATS
};

/* Rank function: setup->algo points at a ps_opts; rt_size(r) = S + W. */
int ps_rank(rt *r, void *setup);

/* `run ps`: its options, columns (staleness_mean, delay_mean_updates),
 * the stats above, S + W ranks whose workers may straggle, the check that
 * there are no more servers than keys. */
extern const train_algo ps_algo;

#endif
