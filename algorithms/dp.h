/* dp.h -- data-parallel training steps of a real network, timing only:
 * bucketed gradient allreduce, overlapped with the backward pass or not. */
#ifndef DISTLAB_DP_H
#define DISTLAB_DP_H

#include "algorithms/collectives.h"
#include "ml/model.h"
#include "ml/workload.h"

#define DP_MAX_STEPS 64
#define DP_ORDER 32 /* pushes whose order a worker records (parameter server) */

typedef struct dp_opts {
    const ml_workload *w;  /* layers in forward order; borrowed */
    double batch;          /* examples per rank per step */
    size_t bucket_bytes;   /* a bucket closes once it holds this many (> 0) */
    int overlap;           /* post each bucket's allreduce as soon as it is full */
    allreduce_algo algo;
    coll_opts coll;        /* segment, local_size (hierarchical) */
    int steps;             /* 1 .. DP_MAX_STEPS */
    /* BytePS (byteps.c) instead of an allreduce: the last `servers` ranks
     * are CPU machines that only sum; pieces per block */
    int byteps, servers, pieces;
    /* A parameter server instead (dp_ps.c), on the last `servers` ranks:
     * layers cut into pieces of partition_bytes (0: whole layers), pushed
     * with at most credit_bytes on the wire (one piece always; SIZE_MAX:
     * no limit) and pulled, nearest the input first with priority, else
     * in the order backward makes them; one push per machine of
     * coll.local_size GPUs. */
    int ps, priority;
    size_t partition_bytes, credit_bytes;
    /* Horovod's schedule instead (dp_horovod.c), when above 0: a cycle
     * every cycle_s seconds negotiates the ready tensors and allreduces
     * them fused into buffers of at most bucket_bytes */
    double cycle_s;
} dp_opts;

/* What each rank hands back. */
typedef struct dp_slot {
    double step_s[DP_MAX_STEPS]; /* each step, from its start to the drain */
    double backward_end_s[DP_MAX_STEPS]; /* when its backward ended, from the step's start */
    double compute_s[DP_MAX_STEPS]; /* the step's own compute (forward and backward) */
    int buckets;           /* horovod: the last step's fused buffers */
    int cycles;            /* horovod: the last step's cycles */
    /* parameter server: the pieces of the last step in the order pushed
     * (the first DP_ORDER), numbered input layer first */
    int push_order[DP_ORDER], pushes;
} dp_slot;

/* The buckets of w, filled in reverse layer order as PyTorch DDP fills
 * them: a bucket closes when it reaches bucket_bytes (so it may pass it
 * by its last layer). close[i] is the number of floats of the bucket that
 * closes once layer i's gradient is ready, or 0; returns the number of
 * buckets, or -1 if close (w->nlayers entries) is NULL. */
int dp_buckets(const ml_workload *w, size_t bucket_bytes, size_t *close);

/* The rank function (job_main): arg is a dp_opts, the slot a dp_slot
 * (a CPU server's stays zero). */
int dp_rank(rt *r, void *arg);
/* dp_rank's Horovod path (dp_horovod.c): a negotiation's request is
 * DP_HVD_HEADER_BYTES plus DP_HVD_ENTRY_BYTES per tensor. */
int dp_horovod_rank(rt *r, const dp_opts *o);
#define DP_HVD_HEADER_BYTES 8
#define DP_HVD_ENTRY_BYTES 128
/* dp_rank's parameter-server path (dp_ps.c). */
int dp_ps_rank(rt *r, const dp_opts *o);
/* The pieces w is cut into (partition_bytes 0: one per layer with
 * parameters). A run may have at most DP_PS_MAX_PIECES pieces times
 * workers: the simulation holds every worker's queues in one process. */
long dp_ps_pieces(const ml_workload *w, size_t partition_bytes);
#define DP_PS_MAX_PIECES (1L << 24)

/* ---- the same schedule on a real model (dp_grad.c) ---- */

typedef struct dp_sched {
    size_t bucket_bytes;  /* > 0 */
    int overlap;          /* post each bucket's sum as soon as it closes */
    allreduce_algo algo;
    coll_opts coll;
} dp_sched;

/* One step's gradient of m at params on the b examples idx of ds, into
 * g (dense_only), summed over all ranks: backward layer by layer, output
 * first, charging each layer's flops; each bucket of layers is summed
 * with allreduce_slice as it closes (overlap: through rt_async_post, while
 * backward goes on; else one after another after backward). b = 0 gives a
 * zero gradient, still summed bucket by bucket. The result is
 * bit-identical to allreduce(s->algo, g, P) after ml_model_loss_grad.
 * Returns RT_OK or an error code with rt_error set. */
int dp_grad_sum(rt *r, const dp_sched *s, ml_model *m, const float *params, const ml_dataset *ds,
                const size_t *idx, size_t b, ml_grad *g);

#endif
