/* distbelief.h -- DistBelief (Dean et al., "Large Scale Distributed Deep
 * Networks", NIPS 2012): one MLP split across K partition ranks (model
 * parallelism), R such model replicas, and S parameter-server shards
 * between them (Downpour SGD, Sandblaster L-BFGS).
 *
 *   distbelief_mp.c        the neuron split: layout, the partitioned
 *                          forward/backward pass, and `--mode model-parallel`
 *   distbelief_pipe.c      the layer split: stages and a microbatch pipeline
 *   distbelief_downpour.c  `--mode downpour`: asynchronous replicas and the
 *                          sharded server
 *   distbelief_sandblaster.c `--mode sandblaster`: a coordinator running
 *                          batch L-BFGS, the gradient split over replicas
 *                          in small work units
 *
 * Ranks. model-parallel: partitions 0..K-1, rank 0 reports.
 * downpour: servers 0..S-1 (server 0 reports), then replica r's partition
 * k at rank S + r K + k; sandblaster: the same, then the coordinator at
 * rank S + R K, which reports.
 */
#ifndef DISTLAB_DISTBELIEF_H
#define DISTLAB_DISTBELIEF_H

#include <stddef.h>
#include <stdint.h>

#include "algorithms/train.h"

typedef enum db_mode { DB_MODEL_PARALLEL = 0, DB_DOWNPOUR, DB_SANDBLASTER } db_mode;
typedef enum db_split { DB_SPLIT_NEURONS = 0, DB_SPLIT_LAYERS } db_split;

typedef struct db_opts {
    db_mode mode;
    int partitions;   /* --partitions K: ranks one model is split across */
    db_split split;   /* --split neurons|layers (layers: model-parallel mode only) */
    int microbatches; /* --microbatches M: the layer pipeline's (default K) */
    int replicas;     /* --replicas R (downpour, sandblaster) */
    int servers;      /* --servers S (downpour, sandblaster) */
    int push_every;   /* --push-every: downpour steps between gradient pushes */
    int fetch_every;  /* --fetch-every: downpour steps between weight fetches */
    /* sandblaster */
    int balance_even; /* --balance even: each replica gets 1/R of the work units */
    size_t unit_examples; /* --unit: examples per work unit (0: the batch size) */
    int lbfgs_m;      /* --lbfgs-m: corrections kept (liblbfgs' m) */
    double lbfgs_epsilon; /* --lbfgs-epsilon: stop at ||g|| < epsilon max(1, ||x||) */
} db_opts;

/* ---- the neuron split ---- */

/* Layer l (1..L) has width[l] output units over width[l-1] inputs; its W
 * (row-major, width[l-1] x width[l]) starts at w_off[l], its b at b_off[l]
 * (the flat layout of ml/model.h). Partition k of K owns output units
 * [k n_l / K, (k+1) n_l / K) of every layer and the weights feeding them. */
typedef struct db_layout {
    int L, K;
    size_t width[ML_MLP_MAX_HIDDEN + 2];
    size_t w_off[ML_MLP_MAX_HIDDEN + 2], b_off[ML_MLP_MAX_HIDDEN + 2];
    size_t P;
} db_layout;

/* From layer widths n_0..n_L. Every hidden layer needs at least K units
 * (the output layer may have fewer: partitions past its width own none of
 * it). Returns 0, or -1 with a message saying what was expected. */
int db_layout_init(db_layout *lay, const size_t *width, int L, int K, char *err, size_t errlen);
/* The same for an ML model (an MLP: logreg and friends have no neurons to
 * split, so they are refused). */
int db_layout_of_model(db_layout *lay, const ml_model *m, int K, char *err, size_t errlen);
/* Units [*lo, *hi) of layer l that partition k owns. */
void db_slice(const db_layout *lay, int l, int k, size_t *lo, size_t *hi);
/* Parameters partition k owns, and their place in the partition-major
 * packed order (partition 0's, then 1's ...; within one, layer by layer,
 * W's rows' owned columns, then the owned biases). */
size_t db_part_params(const db_layout *lay, int k);
size_t db_part_offset(const db_layout *lay, int k);
/* Copy partition k's parameters between the flat layout and its packed run. */
void db_pack(const db_layout *lay, int k, const float *flat, float *packed);
void db_unpack(const db_layout *lay, int k, const float *packed, float *flat);

/* One partition of one replica. Arrays are full-width where a partition
 * needs the whole layer (activations, the flat parameter and gradient
 * arrays, of which only its own slices are read or written). */
typedef struct db_part {
    rt *r;
    const db_layout *lay;
    int k;             /* this partition */
    int base;          /* rank of partition 0 of this replica */
    size_t cap;        /* batch the buffers hold */
    float *act[ML_MLP_MAX_HIDDEN + 2];   /* act[l]: B x n_l, full (l < L) */
    float *mine[ML_MLP_MAX_HIDDEN + 2];  /* my slice of layer l's output, B x m_l */
    float *dz, *dz_next; /* my slice of dLoss/d(pre-activation) */
    float *logits, *delta; /* B x classes, full */
    float *partial;    /* B x n_{l-1}: my share of dLoss/d(input of l) */
    float *blocks;     /* one layer, B x n_l, in partition blocks: the exchanges' buffer */
    size_t *counts;    /* K: each partition's block of the current exchange, in floats */
    uint64_t bytes_sent; /* activations and gradients sent to other partitions */
} db_part;

int db_part_init(db_part *p, rt *r, const db_layout *lay, int k, int base);
void db_part_free(db_part *p);
/* The partitioned forward and backward pass on examples idx[0..B) of ds:
 * the mean loss, the number predicted right, and grad's slices of this
 * partition (data gradient / B + l2 params, as ml_model_loss_grad). Every
 * partition of the replica must call it with the same batch. Charges its
 * flops. Under size-only payloads (rt_size_only) ds, params and grad may
 * be NULL: the math is skipped, the flops and bytes are charged all the
 * same (timing-only runs of models too big for memory). */
int db_part_loss_grad(db_part *p, const float *params, const ml_dataset *ds, const size_t *idx,
                      size_t B, double l2, float *grad, double *loss, size_t *correct);

/* ---- the parameter servers of Downpour and Sandblaster ---- */

/* Server s of S holds the run train_range(P, S, s) of the packed order
 * (train.h), so a partition's run meets one server or a few neighbours.
 * Every request to one starts with this header: what (the mode's own
 * kinds), a number of the mode's own (examples pushed, or the number of
 * an evaluation), and the run [first, first + count) of the packed order
 * it names; values, when it carries any, follow (count floats). */
typedef struct db_req {
    int32_t kind;
    int32_t arg;
    int64_t first;
    int64_t count;
} db_req;

/* How many of a replica's K partitions have runs that meet server s's. */
int db_sharers(const db_layout *lay, int S, int s);
/* A server's next request (any source, tag): the header into *h, the
 * values after it in buf. Refuses, with an error naming `who` and the
 * sender, a request that is not its header plus, for the kinds whose bit
 * is set in `carry`, count floats, and -- unless its kind is free_kind --
 * one whose run is outside the server's [lo, hi). */
int db_serve_next(rt *r, const char *who, int tag, void *buf, size_t cap, size_t lo, size_t hi,
                  int free_kind, unsigned carry, db_req *h, rt_status *st);
/* A partition's run [off, off + n) from the S servers holding it: one
 * request (kind, arg) to each, answered with its part (on reply_tag), into
 * packed[0..n). Adds the bytes it sent to *bytes. */
int db_fetch(rt *r, int S, size_t P, size_t off, size_t n, int tag, int reply_tag, int kind,
             int32_t arg, float *packed, uint64_t *bytes);
/* Each server holding part of [off, off + n) gets its part of vals with a
 * header (kind, arg); msg has room for a header and n floats. With vals
 * NULL every server gets the header alone (count 0: a goodbye). */
int db_push(rt *r, int S, size_t P, size_t off, size_t n, int tag, int kind, int32_t arg,
            const float *vals, char *msg, uint64_t *bytes);

/* ---- the layer split (a pipeline) ---- */

typedef struct db_pipe {
    rt *r;
    const db_layout *lay; /* its K is the number of stages */
    int k, base, M;       /* my stage, rank of stage 0, microbatches */
    int l0, l1;           /* my layers [l0, l1) */
    size_t cap;
    float *acts;          /* my input and my layers' outputs, whole batch */
    float *delta;         /* last stage: dLoss/dlogits, whole batch */
    float *gscratch;      /* one layer's gradient of one microbatch */
    float *dbuf[2];       /* gradients flowing back */
    uint64_t bytes_sent;
} db_pipe;

/* Stage k's layers [*l0, *l1), and its parameters' run of the flat array. */
void db_pipe_layers(const db_layout *lay, int k, int *l0, int *l1);
void db_pipe_range(const db_layout *lay, int k, size_t *first, size_t *count);
/* Every stage needs a layer: K <= L, or -1 with a message. */
int db_pipe_check(const db_layout *lay, char *err, size_t errlen);
/* The layout of m for K partitions split as asked, checked for it. */
int db_layout_for(db_layout *lay, const ml_model *m, int K, db_split split, char *err,
                  size_t errlen);
int db_pipe_init(db_pipe *p, rt *r, const db_layout *lay, int k, int base, int microbatches);
void db_pipe_free(db_pipe *p);
/* As db_part_loss_grad, through the pipeline: grad gets this stage's
 * run; only the last stage knows the loss (NaN elsewhere). */
int db_pipe_loss_grad(db_pipe *p, const float *params, const ml_dataset *ds, const size_t *idx,
                      size_t B, double l2, float *grad, double *loss, size_t *correct);

/* Indices into train_out.stats of every rank's slot. */
enum {
    DB_STAT_PARTITION_BYTES = 0, /* sent to other partitions of its replica */
    DB_STAT_SERVER_BYTES,        /* sent between this rank and the servers */
    DB_STAT_STEPS,               /* minibatch steps (workers), updates (servers) */
    DB_STATS
};

/* Rank function: setup->algo points at a db_opts; rt_size(r) = db_ranks.
 * It runs db_mp_rank or db_downpour_rank as the mode says. */
int db_rank(rt *r, void *setup);
int db_mp_rank(rt *r, void *setup);
int db_downpour_rank(rt *r, void *setup);
int db_sandblaster_rank(rt *r, void *setup);

/* Would liblbfgs accept o's L-BFGS settings? 0, or -1 with err saying
 * which one it rejected and what it expects. */
int db_lbfgs_check(const db_opts *o, char *err, size_t errlen);

/* Ranks a configuration needs, and the one that reports. */
int db_ranks(const db_opts *o);
int db_reporter(const db_opts *o);

/* Every check of a configuration against the problem (the mode's counts,
 * the split, the L-BFGS settings, the layout, servers <= parameters), in
 * one place: 0, or -1 with err. db_rank runs it first. */
int db_check(const train_setup *setup, char *err, size_t errlen);

/* `run distbelief`: its options, db_ranks ranks (db_reporter reports, any
 * may straggle), db_check. */
extern const train_algo db_algo;

#endif
