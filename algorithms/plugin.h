/* plugin.h -- the entry points a file of your own defines, so distlab can
 * run your algorithm without editing its sources.
 *
 * Write one C file against algorithms/runtime.h (and the helpers of
 * algorithms/collectives.h if you like), define one of the functions
 * below, and hand the file to distlab:
 *
 *   distlab collective --algo ./my_ring.c --workers 8 --bytes 1MiB --model --cost ring
 *   distlab lab check 01 ./my_ring.c       the lab's checker on your file
 *   distlab lab run 01 ./my_ring.c ...     the lab's command on your file
 *
 * distlab compiles the file into a shared object (cc -shared -fPIC, with
 * the headers of the source tree or of `make install`, -Wl,-Bsymbolic so
 * that your functions call your functions even where their names are
 * also distlab's) and loads it; every rt_* and coll_* call goes to the
 * distlab that loaded it. $CC picks the compiler; a .so is loaded as it is.
 * Outside the source tree, build against the installed headers with
 * `pkg-config --cflags distlab`.
 *
 * Keep helpers `static`. Use tags below COLL_TAG_BASE for your messages.
 */
#ifndef DISTLAB_PLUGIN_H
#define DISTLAB_PLUGIN_H

#include <stddef.h>

#include "algorithms/collectives.h"
#include "algorithms/ray.h"
#include "algorithms/runtime.h"

/* An allreduce with the collectives' signature (collectives.h): sum count
 * floats over all ranks, in place; every rank ends with the same bits. buf
 * is NULL in size-only runs (send NULL payloads of the same sizes and
 * still charge the additions). opts may be NULL. Return RT_OK or the
 * error of the call that failed. Labs 01 and 02. */
int plugin_allreduce(rt *r, float *buf, size_t count, const coll_opts *opts);
typedef int plugin_allreduce_fn(rt *r, float *buf, size_t count, const coll_opts *opts);

#define PLUGIN_ALLREDUCE "plugin_allreduce"

/* The consistency condition of a parameter server (lab 03): may a server
 * answer now a worker's pull for iteration c (the weights it will compute
 * its gradient of iteration c on; iterations count from 0)? min_clock is
 * the fewest iterations any worker still running has pushed; bound is the
 * staleness bound s (0: bulk-synchronous), or PLUGIN_ASYNC for none.
 * Nonzero: answer now. distlab's own is in algorithms/ps.c. */
int plugin_ssp_ready(long c, long min_clock, long bound);
typedef int plugin_ssp_ready_fn(long c, long min_clock, long bound);

#define PLUGIN_SSP_READY "plugin_ssp_ready"
#define PLUGIN_ASYNC (-1L)

/* Local SGD's averaging (lab 06), called by every rank after each of its
 * local steps: step counts the steps taken so far (1, 2, ..., last).
 * Average the n weights w over all ranks, in place, when every > 0 and
 * step is a multiple of every, and after the last step whatever every is
 * (every <= 0: only then, one-shot averaging); otherwise leave w alone.
 * Every rank must end an average with the same bits. */
int plugin_local_average(rt *r, float *w, size_t n, long step, long last, long every);
typedef int plugin_local_average_fn(rt *r, float *w, size_t n, long step, long last, long every);

#define PLUGIN_LOCAL_AVERAGE "plugin_local_average"

/* Calibration (lab 08): measure the path from rank 0 to rank 1 with a
 * pingpong of your own and fit the alpha-beta model to it: a one-way
 * message of n bytes takes alpha + n beta. Rank 0 sets *alpha_s
 * (seconds) and *beta_s_per_byte; rank 1 answers its pings; every other
 * rank returns RT_OK at once. Return RT_OK or the error of the call that
 * failed. distlab's own measurement is cli/verb_calibrate.c's. */
int plugin_alpha_beta(rt *r, double *alpha_s, double *beta_s_per_byte);
typedef int plugin_alpha_beta_fn(rt *r, double *alpha_s, double *beta_s_per_byte);

#define PLUGIN_ALPHA_BETA "plugin_alpha_beta"

/* Hogwild!'s step (lab 04): one SGD step of logistic regression on one
 * sparse example, on weights that every rank of the host shares and
 * writes at the same time. */
typedef struct plugin_hogwild {
    float *w;     /* d weights, then the bias w[d]: shared memory (rt_shared) */
    size_t d;
    float lr;
    int locked;   /* 1: the baseline, one lock around each whole step;
                     0: Hogwild!, no lock at all */
    /* The host's lock (fair, blocking: lock returns once this rank holds
     * it), for the baseline. Each returns RT_OK or an error code. */
    int (*lock)(rt *r, void *lock_arg);
    int (*unlock)(rt *r, void *lock_arg);
    void *lock_arg;
} plugin_hogwild;

/* The example has nnz features index[k] < d (distinct) with values x[k],
 * and label y (0 or 1). The step, in this order and in float:
 *   1. read      z = w[d]; then z += w[index[k]] * x[k] for k = 0..nnz-1
 *   2. gradient  g = 1 / (1 + expf(-z)) - y, and charge it:
 *                rt_compute(r, PLUGIN_HOGWILD_FLOPS(nnz)) -- between the
 *                read and the write, as in algorithms/hogwild.c: in
 *                simulation that is when the other ranks' steps run
 *   3. write     w[index[k]] -= lr * g * x[k] for each k, then
 *                w[d] -= lr * g
 * Only the example's weights and the bias are read or written. Return
 * RT_OK or the error of the call that failed. */
int plugin_hogwild_step(rt *r, const plugin_hogwild *h, const uint32_t *index, const float *x,
                        size_t nnz, float y);
typedef int plugin_hogwild_step_fn(rt *r, const plugin_hogwild *h, const uint32_t *index,
                                   const float *x, size_t nnz, float y);

#define PLUGIN_HOGWILD_STEP "plugin_hogwild_step"
#define PLUGIN_HOGWILD_FLOPS(nnz) (4.0 * (double)(nnz) + 20.0)

/* What a parameter server does when it hears that a worker died (lab
 * 10): its receive from worker w (0..W-1) failed with RT_EPEER. state holds
 * each worker's PLUGIN_RUNNING, PLUGIN_DONE (it said goodbye) or
 * PLUGIN_DEAD; the server's min clock, and its end (no worker left
 * running), count only the running ones. bound is the staleness bound (0:
 * bulk-synchronous) or PLUGIN_ASYNC. Update state, then return RT_OK for
 * the server to go on without w, or stop the run by returning
 * rt_fail(r, RT_EPEER, ...) with a message that names the worker
 * ("worker 2 ..."). distlab's own is server_lose_worker in algorithms/ps.c. */
int plugin_worker_lost(rt *r, int w, long bound, int *state, int W);
typedef int plugin_worker_lost_fn(rt *r, int w, long bound, int *state, int W);

#define PLUGIN_WORKER_LOST "plugin_worker_lost"
enum { PLUGIN_RUNNING = 0, PLUGIN_DONE = 1, PLUGIN_DEAD = 2 };

/* One rank of a synchronous trainer, as its checkpoint must hold it (lab
 * 10): a run stopped after `step` and resumed from the file must end with
 * the bits of one never stopped. The trainer is SGD with momentum (v = mu
 * v + g, then w -= lr v) on one example a step, taken in a fresh shuffled
 * order each pass over the rank's shard; pass p's order follows from the
 * run's seed and p alone. distlab's own checkpoint is
 * train_worker_checkpoint in algorithms/train.c. */
typedef struct plugin_train_state {
    long step;       /* steps done */
    long pass;       /* the pass over the shard under way (0: the first) */
    size_t pos;      /* examples of this pass already taken */
    double clock_s;  /* the rank's clock: when its next step starts */
    size_t n;        /* floats in w and in v */
    float *w;        /* the weights */
    float *v;        /* the momentum buffer: the optimizer's state */
} plugin_train_state;

/* Write *s to the file path, whole or not at all: a save that fails
 * (RT_EIO) leaves the checkpoint that was there before. */
int plugin_checkpoint_save(const plugin_train_state *s, const char *path);
/* Read path back into *s, whose n, w and v are the caller's (room for n
 * floats each): fill every other field and both arrays. A file that is
 * not one whole checkpoint of a state of n floats (missing, cut short,
 * longer, of another n, not a checkpoint at all) is refused -- RT_EINVAL,
 * or RT_EIO if it cannot be read -- and leaves *s as it was. */
int plugin_checkpoint_load(plugin_train_state *s, const char *path);
typedef int plugin_checkpoint_save_fn(const plugin_train_state *s, const char *path);
typedef int plugin_checkpoint_load_fn(plugin_train_state *s, const char *path);

#define PLUGIN_CHECKPOINT_SAVE "plugin_checkpoint_save"
#define PLUGIN_CHECKPOINT_LOAD "plugin_checkpoint_load"
/* The driver's loop of Ray's asynchronous parameter server (lab 09), on
 * the Ray model of algorithms/ray.h. ps is a ParameterServer actor:
 * "get_weights" (no arguments) returns the current weights and
 * "apply_gradients" (one gradient) applies it and returns the new weights.
 * workers[0..W) are DataWorker actors: "compute_gradients" (the weights)
 * returns a gradient computed on them. Apply `updates` gradients in all,
 * each as soon as one is ready (wait for the first, not for all), and
 * hand the worker whose gradient was applied the weights that apply
 * returned; release every reference you no longer need. Return RT_OK or
 * the error of the call that failed. distlab's own is drive_async in
 * algorithms/ray_ps.c (`distlab run ray-ps --mode async`). */
int plugin_ray_async_ps(ray *ry, ray_actor ps, const ray_actor *workers, int W, long updates);
typedef int plugin_ray_async_ps_fn(ray *ry, ray_actor ps, const ray_actor *workers, int W, long updates);

#define PLUGIN_RAY_ASYNC_PS "plugin_ray_async_ps"

/* The time model of data-parallel SGD (lab 07). Every step each of the
 * W workers computes the gradient of `batch` examples (every step a full
 * batch), then the workers allreduce the gradient, `params` floats, with
 * `algo` (ALLREDUCE_RING or ALLREDUCE_TREE), on the ideal network: a
 * message of n bytes takes alpha + n beta, and adding a float costs one
 * flop at the worker's speed. An epoch is `examples` examples. */
typedef struct plugin_dp_setting {
    int workers;              /* W */
    size_t params;            /* floats in the model, and in its gradient */
    long batch;               /* examples per worker per step */
    long examples;            /* in one epoch */
    double flops_per_example; /* forward and backward of one example */
    double speed_flops;       /* one worker's core */
    double alpha_s, beta_s_per_byte;
    allreduce_algo algo;
} plugin_dp_setting;

typedef struct plugin_dp_time {
    long steps;       /* per epoch */
    double compute_s; /* per step: the gradient */
    double comm_s;    /* per step: the allreduce, its additions included */
    double epoch_s;   /* steps x (compute_s + comm_s) */
} plugin_dp_time;

/* Fill *t for *s; RT_EINVAL for a setting that makes no sense (fewer
 * than one worker, example or batch, a speed or flops not above 0, a
 * negative alpha or beta, another algorithm). */
int plugin_dp_model(const plugin_dp_setting *s, plugin_dp_time *t);
typedef int plugin_dp_model_fn(const plugin_dp_setting *s, plugin_dp_time *t);

#define PLUGIN_DP_MODEL "plugin_dp_model"

/* Model parallelism (lab 05): one fully connected layer, its neurons
 * split over the P = rt_size(r) partitions, as in algorithms/
 * distbelief_mp.c. B examples, n_in inputs, n_out neurons; partition k
 * owns neurons [lo, hi) = plugin_mp_split(n_out, P, k) and the columns of
 * the weights that feed them. Every matrix is row-major. */
typedef struct plugin_mp_layer {
    size_t n_in, n_out;
    const float *W;   /* n_in x m, m = hi - lo: this partition's columns */
    const float *b;   /* m: its biases */
    int relu;         /* 1: y = relu(x W + b); 0: y = x W + b */
} plugin_mp_layer;

/* Partition k's neurons [*lo, *hi) of n split over `parts` (1 <= parts
 * <= n): in partition order, every neuron owned once, sizes that differ
 * by at most one. */
void plugin_mp_split(size_t n, int parts, int k, size_t *lo, size_t *hi);
typedef void plugin_mp_split_fn(size_t n, int parts, int k, size_t *lo, size_t *hi);

/* Forward: x (B x n_in) is the whole input, the same on every partition.
 * Compute this partition's m outputs of each example (charging 2 B n_in m
 * flops), then the boundary exchange: y (B x n_out) ends as the whole
 * layer's output on every partition, the same bits everywhere. */
int plugin_mp_forward(rt *r, const plugin_mp_layer *L, const float *x, size_t B, float *y);
typedef int plugin_mp_forward_fn(rt *r, const plugin_mp_layer *L, const float *x, size_t B, float *y);

/* Backward: dz (B x m) is dLoss/d(pre-activation) of this partition's
 * neurons. Fill gW (n_in x m) = x^T dz and gb (m) = the column sums of dz
 * (charging 2 B n_in m flops). Unless dx is NULL (the first layer: nobody
 * needs it), also compute this partition's share dz W^T (B x n_in, 2 B
 * n_in m flops more), then the boundary exchange: dx (B x m_in) gets the
 * sum over all partitions, in partition order, of their shares' columns
 * [in_lo, in_hi) = plugin_mp_split(n_in, P, k) -- this partition's slice
 * of the layer below -- charging each addition (coll_add). */
int plugin_mp_backward(rt *r, const plugin_mp_layer *L, const float *x, const float *dz, size_t B,
                       float *gW, float *gb, float *dx);
typedef int plugin_mp_backward_fn(rt *r, const plugin_mp_layer *L, const float *x, const float *dz,
                                  size_t B, float *gW, float *gb, float *dx);

#define PLUGIN_MP_SPLIT "plugin_mp_split"
#define PLUGIN_MP_FORWARD "plugin_mp_forward"
#define PLUGIN_MP_BACKWARD "plugin_mp_backward"

/* Collapsed Gibbs sampling's draw of one token's topic (lab 12), as
 * ml/lda.h's lda_resample_fn says: ndk, nwk, nk count the token itself
 * (topic old); take it out of the three, draw the first k whose
 * cumulative weight, summed k = 0..K-1 in double of
 *     (ndk[k] + alpha) * (nwk[k] + beta) / (nk[k] + Vbeta),
 * exceeds u times their total (u in [0, 1)), put the token back in with
 * topic k, and return k. p: K doubles of scratch. distlab's own draw is
 * lda_sampler_sweep_docs in ml/lda.c. */
int plugin_lda_resample(int old, int K, int32_t *ndk, int32_t *nwk, int64_t *nk, double alpha,
                        double beta, double Vbeta, double u, double *p);

#define PLUGIN_LDA_RESAMPLE "plugin_lda_resample"

/* A layer of lab 11's model: its gradient is floats [first, first+count)
 * of the gradient vector (layers lie one after another, input first), and
 * computing it (its backward) costs bwd_flops. */
typedef struct plugin_layer {
    size_t first, count;
    double bwd_flops;
} plugin_layer;

/* One step's backward with bucketed gradient sums, as PyTorch DDP and
 * Horovod schedule them (lab 11). Backward runs output first: for layer
 * i = nlayers-1 down to 0, rt_compute(r, layers[i].bwd_flops), after
 * which layer i's gradient (already in g) is ready. Ready layers join the
 * open bucket; a bucket closes once it holds bucket_bytes (4 bytes a
 * float), or with layer 0, and an empty one never closes. Each closed
 * bucket -- floats [first, first+count) of g -- is summed over the ranks
 * with allreduce_slice(r, algo, g + first, first, count, total, NULL),
 * buckets in the order they close, one at a time: with overlap posted
 * with rt_async_post as soon as it closes, while backward goes on; without,
 * one after another once backward is done. Return when every sum is done
 * (rt_async_drain), with RT_OK or the first error. g is NULL in size-only
 * runs (then pass NULL slices). distlab's own is algorithms/dp_grad.c. */
int plugin_bucketed_backward(rt *r, float *g, size_t total, const plugin_layer *layers, int nlayers,
                             size_t bucket_bytes, int overlap, allreduce_algo algo);
typedef int plugin_bucketed_backward_fn(rt *r, float *g, size_t total, const plugin_layer *layers,
                                        int nlayers, size_t bucket_bytes, int overlap, allreduce_algo algo);

#define PLUGIN_BUCKETED_BACKWARD "plugin_bucketed_backward"

/* The learning rate of large-minibatch SGD (lab 13) at a fractional
 * epoch (steps done / steps per epoch): the linear scaling rule with a
 * gradual warmup (Goyal et al. 2017). lr is the base rate, for one
 * worker's batch; k >= 1 the batch multiple (the workers). The target is
 * k lr; over the first warmup epochs the rate climbs linearly from lr (at
 * epoch 0) to it, and stays there after (warmup <= 0: k lr from the first
 * step). distlab's own is ml_schedule_lr in ml/optim.c. */
double plugin_lr_schedule(double lr, double k, double warmup, double epoch);
typedef double plugin_lr_schedule_fn(double lr, double k, double warmup, double epoch);

#define PLUGIN_LR_SCHEDULE "plugin_lr_schedule"

#endif
