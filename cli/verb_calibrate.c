/* verb_calibrate.c -- `distlab calibrate`: measure the machine in front of
 * you, so that a simulation predicts it.
 *
 *   distlab calibrate -o runs/calib.json              2 ranks, threads
 *   distlab calibrate -o c.json --workers 4 --launch procs --models softmax,mlp:256,128 --batches 16,64
 *   distlab run allreduce --calibration c.json ...    a simulation at the measured speeds
 *
 * Four phases, each repeated --repeat times (see core/calibration.h for
 * what each number means):
 *
 *   1. network  rank 0 and each other rank j in turn bounce messages of
 *               8 B to 4 MiB; a least-squares line through the one-way
 *               times gives latency (its intercept) and 1 / bandwidth (its
 *               slope) for the path 0-j. Then LogP's overheads: rank 0
 *               sends a burst of 200 small messages, timing its own time
 *               in each send (o_s); rank j lets them queue and times its
 *               receives of them (o_r). Then both send each other 4 MiB
 *               at once: that time over the one-way time is the exchange
 *               factor (2 where a host's copying is the wire)
 *   2. vectors  every rank at once adds vectors of 1 Mi floats, as the
 *               collectives do (coll_add): the rate of that add; then the
 *               same add at lengths from 1 Ki to 1 Mi floats: the rate of
 *               element-wise work by length, which a simulation charges
 *               the algorithms' RT_WORK_VECTOR at
 *               then every rank at once copies batches of its shard's
 *               examples into a matrix, as model parallelism gathers its
 *               inputs: the rate a simulation charges RT_WORK_GATHER at;
 *               then the softmax cross-entropy on a batch's logits, a row
 *               at a time: the rate it charges RT_WORK_LOSS at
 *   3. compute  every rank at once runs the model's training step
 *               (ml_model_loss_grad) and its evaluation on its own shard
 *               of the data, its batches drawn as a run draws them
 *               (train_shard), per model and batch size: counted flops /
 *               seconds, and the share of a core the rank got (its CPU
 *               time / wall time), which says how busy the machine was;
 *               then the training step again, each after a sleep of
 *               CALIB_WOKEN_SLEEP_S: the rate of a rank's first step after
 *               a wait it slept through
 *   4. shared   with every rank on one machine (threads, procs), every
 *               rank at once runs Hogwild!'s step on one copy of each
 *               model's weights in shared memory (read it all, the
 *               gradient, write it all): the rates of the reads and of
 *               the writes, which a simulation charges RT_WORK_SHARED_READ
 *               and _WRITE at
 *
 * Everything runs on real sockets (threads, processes, or --launch hosts);
 * the result is a JSON file and, next to it, the SimGrid platform of a
 * cluster with the measured latency and bandwidth (FILE.xml), to edit:
 * on one machine (threads, procs) one host of its cores, as a simulation
 * with --calibration runs it (cli.c), otherwise a host per rank.
 */
#define _GNU_SOURCE /* sched_getaffinity */
#include <math.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "algorithms/collectives.h"
#include "algorithms/train.h"
#include "cli/cli.h"
#include "core/calibration.h"
#include "core/units.h"
#include "ml/train.h"
#include "sim/sim_platform.h"

#define CAL_MAX_RANKS CALIB_MAX_PATHS
#define CAL_MAX_REPEAT 20
#define CAL_MAX_MODELS 8
#define CAL_MAX_BATCHES 4
#define CAL_REDUCE_FLOATS (1u << 20)

/* message sizes: 2 MiB is a 4 MiB allreduce's half at 2 ranks, whose
 * exchange the ring and Rabenseifner make */
static const size_t cal_sizes[] = {8, 4096, 65536, 1 << 20, 2 << 20, 4 << 20};
#define CAL_NSIZES (sizeof cal_sizes / sizeof *cal_sizes)
/* vector lengths (floats): a softmax model's 7,850 weights lie between
 * the first two, a 4 MiB collective's chunks at the last */
static const size_t cal_vec_floats[] = {1 << 10, 1 << 13, 1 << 16, 1 << 18, 1 << 20};
#define CAL_NVEC (sizeof cal_vec_floats / sizeof *cal_vec_floats)

typedef struct cal_arg {
    int shared;           /* every rank on one machine: measure shared memory */
    int repeat, nmodels, nbatches;
    size_t nparams[CAL_MAX_MODELS]; /* each model's weights */
    char models[CAL_MAX_MODELS][128];
    size_t batches[CAL_MAX_BATCHES];
    const ml_problem *prob;
    double l2;
} cal_arg;

/* What each rank measured; rank 0 also holds the one-way times. */
enum { CAL_BURST = 200, CAL_EXCHANGE = 4 << 20 };
#define CAL_QUEUE_S 5e-3 /* how long the receiver lets a burst queue */
/* round trips of 8 B to a rank that has waited past its spin time
 * (REAL_SPIN_AUTO_S: it sleeps in the kernel) and to one that still polls */
enum { CAL_WAKES = 25 };
#define CAL_ASLEEP_S 400e-6
#define CAL_AWAKE_S 20e-6

typedef struct cal_slot {
    double oneway_s[CAL_MAX_RANKS][CAL_MAX_REPEAT][CAL_NSIZES];
    double send_o_s[CAL_MAX_RANKS][CAL_MAX_REPEAT];   /* rank 0's */
    double recv_o_s[CAL_MAX_RANKS][CAL_MAX_REPEAT];   /* rank j's, in its slot */
    double exchange_s[CAL_MAX_RANKS][CAL_MAX_REPEAT]; /* rank 0's */
    double wake_s[CAL_MAX_RANKS][CAL_MAX_REPEAT];     /* rank 0's */
    double exchange_size_s[CAL_MAX_RANKS][CAL_MAX_REPEAT][CAL_NSIZES]; /* rank 0's, from 64 KiB */
    double cpu_share[CAL_MAX_MODELS][CAL_MAX_BATCHES][CAL_MAX_REPEAT];
    double reduce_flops_per_s[CAL_MAX_REPEAT];
    double vector_flops_per_s[CAL_NVEC][CAL_MAX_REPEAT];
    /* per model, Hogwild!'s step on its weights in shared memory */
    double shared_read_Bps[CAL_MAX_MODELS][CAL_MAX_REPEAT], shared_write_Bps[CAL_MAX_MODELS][CAL_MAX_REPEAT];
    double train_flops_per_s[CAL_MAX_MODELS][CAL_MAX_BATCHES][CAL_MAX_REPEAT];
    double eval_flops_per_s[CAL_MAX_MODELS][CAL_MAX_BATCHES][CAL_MAX_REPEAT];
    double train_woken_flops_per_s[CAL_MAX_MODELS][CAL_MAX_BATCHES][CAL_MAX_REPEAT];
    double gather_Bps[CAL_MAX_REPEAT], loss_flops_per_s[CAL_MAX_REPEAT];
} cal_slot;

/* ---- 1. network: rank 0 with rank j ---- */

/* LogP's o on the path 0-j: rank 0's time in each of a burst of small
 * sends; rank j's per receive of the burst, once it has queued; then the
 * time of a 4 MiB exchange both ways at once. */
static int measure_overheads(rt *r, int j, int rep, unsigned char *buf, unsigned char *buf2,
                             cal_slot *out)
{
    int me = rt_rank(r), other = me == 0 ? j : 0, rc = RT_OK;
    enum { TAG_BURST = 100, TAG_DRAINED, TAG_WAKE, TAG_EXCHANGE };
    if (me == 0) {
        double in_send = 0;
        for (int k = 0; k < CAL_BURST && !rc; k++) {
            double t = rt_now(r);
            rc = rt_send(r, other, TAG_BURST, buf, 8);
            in_send += rt_now(r) - t;
        }
        out->send_o_s[j][rep] = in_send / CAL_BURST;
        if (!rc)
            rc = rt_recv(r, other, TAG_DRAINED, buf, 8, NULL);
    } else {
        for (double t0 = rt_now(r); rt_now(r) - t0 < CAL_QUEUE_S;)
            ; /* let the burst queue up (not a sleep: the rank stays on its core) */
        double t = rt_now(r);
        for (int k = 0; k < CAL_BURST && !rc; k++)
            rc = rt_recv(r, other, TAG_BURST, buf, 8, NULL);
        out->recv_o_s[j][rep] = (rt_now(r) - t) / CAL_BURST;
        if (!rc)
            rc = rt_send(r, other, TAG_DRAINED, buf, 8);
    }
    /* the wake-up: round trips, alternately, to the rank asleep in its
     * wait and to it polling; the difference of their medians */
    double rounds[2][CAL_WAKES];
    for (int it = 0; it < 2 * CAL_WAKES && !rc; it++) {
        int asleep = it % 2;
        if (me == 0) {
            for (double t0 = rt_now(r); rt_now(r) - t0 < (asleep ? CAL_ASLEEP_S : CAL_AWAKE_S);)
                ; /* rank j waits meanwhile; this rank stays on its core */
            double t = rt_now(r);
            rc = rt_send(r, other, TAG_WAKE, buf, 8);
            if (!rc)
                rc = rt_recv(r, other, TAG_WAKE, buf, 8, NULL);
            rounds[asleep][it / 2] = rt_now(r) - t;
        } else {
            rc = rt_recv(r, other, TAG_WAKE, buf, 8, NULL);
            if (!rc)
                rc = rt_send(r, other, TAG_WAKE, buf, 8);
        }
    }
    if (me == 0 && !rc) {
        double late = calib_stat_of(rounds[1], CAL_WAKES).median - calib_stat_of(rounds[0], CAL_WAKES).median;
        out->wake_s[j][rep] = late > 0 ? late : 0;
    }
    /* three timed exchanges after an untimed one, their median: a mean let
     * one stalled swap on a busy machine make the factor 100-200 (the
     * reader refuses such a file; validate and test_calibrate then
     * failed) */
    double swap[3];
    for (int it = -1; it < 3 && !rc; it++) {
        double t = rt_now(r);
        rc = rt_sendrecv(r, other, TAG_EXCHANGE, buf, CAL_EXCHANGE, other, TAG_EXCHANGE, buf2,
                         CAL_EXCHANGE, NULL);
        if (it >= 0)
            swap[it] = rt_now(r) - t;
    }
    if (me == 0 && !rc)
        out->exchange_s[j][rep] = calib_stat_of(swap, 3).median;
    return rc;
}

static int measure_path(rt *r, const cal_arg *a, int j, unsigned char *buf, unsigned char *buf2,
                        cal_slot *out)
{
    int me = rt_rank(r), rc = RT_OK;
    if (me != 0 && me != j)
        return RT_OK;
    int other = me == 0 ? j : 0;
    for (int rep = 0; rep < a->repeat && !rc; rep++)
        if (!(rc = measure_overheads(r, j, rep, buf, buf2, out)))
        for (size_t s = 0; s < CAL_NSIZES && !rc; s++) {
            size_t n = cal_sizes[s];
            int iters = (int)fmin(100, fmax(10, 8.0 * 1024 * 1024 / (double)(n + 64)));
            double t0 = 0;
            for (int it = -1; it < iters && !rc; it++) { /* one untimed round trip first */
                if (it == 0)
                    t0 = rt_now(r);
                if (me == 0) {
                    rc = rt_send(r, other, (int)s, buf, n);
                    if (!rc)
                        rc = rt_recv(r, other, (int)s, buf, n, NULL);
                } else {
                    rc = rt_recv(r, other, (int)s, buf, n, NULL);
                    if (!rc)
                        rc = rt_send(r, other, (int)s, buf, n);
                }
            }
            if (me == 0)
                out->oneway_s[j][rep][s] = (rt_now(r) - t0) / (2.0 * iters);
            if (n < CALIB_SCALE_FROM)
                continue;
            /* the same size both ways at once: an exchange outgrows the
             * caches a one-way transfer still fits, so its factor is
             * measured at every size a simulation weighs by its own time */
            int swaps = iters / 2 > 3 ? iters / 2 : 3;
            for (int it = -1; it < swaps && !rc; it++) { /* one untimed first */
                if (it == 0)
                    t0 = rt_now(r);
                rc = rt_sendrecv(r, other, (int)s, buf, n, other, (int)s, buf2, n, NULL);
            }
            if (me == 0)
                out->exchange_size_s[j][rep][s] = (rt_now(r) - t0) / swaps;
        }
    return rc;
}

/* ---- 2. the collectives' vector add, and element-wise work by length ---- */

/* At each length n: coll_add, n flops, as the collectives and averaging
 * do it. An element-wise pass costs about what it reads and writes, so
 * the add's rate per flop is the slowest (an SGD step does 2 flops over
 * the same three streams, at 1.6x the add's rate per flop): charged at
 * it, an optimizer step is overstated by up to that much, where a rate
 * of an add and a step mixed understated a collective's adds by 1.3-1.7x
 * (and AdaGrad's step, square roots and divisions, by 2x). */
static int measure_vectors(rt *r, const cal_arg *a, float *dst, const float *src, cal_slot *out)
{
    int rc = RT_OK;
    for (size_t v = 0; v < CAL_NVEC && !rc; v++) {
        size_t n = cal_vec_floats[v];
        int iters = (int)fmax(4, (double)(4u << 20) / (double)n);
        for (int rep = 0; rep < a->repeat && !rc; rep++) {
            double t0 = 0;
            for (int k = -1; k < iters && !rc; k++) { /* one untimed add first */
                if (k == 0)
                    t0 = rt_now(r);
                rc = coll_add(r, dst, src, n);
            }
            double dt = rt_now(r) - t0;
            out->vector_flops_per_s[v][rep] = dt > 0 ? (double)n * iters / dt : NAN;
        }
    }
    return rc;
}

static int measure_reduce(rt *r, const cal_arg *a, cal_slot *out)
{
    float *dst = calloc(CAL_REDUCE_FLOATS, sizeof *dst), *src = malloc(CAL_REDUCE_FLOATS * sizeof *src);
    int rc = RT_OK;
    if (!dst || !src) {
        rc = rt_fail(r, RT_ENOMEM, "calibrate: no memory for the reduce vectors");
        goto done;
    }
    for (size_t i = 0; i < CAL_REDUCE_FLOATS; i++)
        src[i] = (float)(i % 7) * 0.25f;
    for (int rep = 0; rep < a->repeat && !rc; rep++) {
        double t0 = rt_now(r);
        for (int k = 0; k < 8 && !rc; k++)
            rc = coll_add(r, dst, src, CAL_REDUCE_FLOATS);
        double dt = rt_now(r) - t0;
        out->reduce_flops_per_s[rep] = dt > 0 ? 8.0 * CAL_REDUCE_FLOATS / dt : NAN;
    }
    if (!rc && !(rc = barrier(r)))
        rc = measure_vectors(r, a, dst, src, out);
done:
    free(dst);
    free(src);
    return rc;
}

/* ---- 2c. a batch's examples copied out (model parallelism's inputs) ---- */

/* Every rank at once copies batches of examples into a matrix of their
 * own as distbelief_mp.c does (dense rows: a copy a row; sparse: zeroed,
 * then the nonzeros), at the first batch size, drawn as model parallelism
 * draws them: from the whole set, every rank the same batches. Between two
 * gathers each rank makes an untimed pass over CAL_GATHER_GAP floats of
 * its own, what the rest of a step leaves in the caches (model
 * parallelism's mlp:64 on fashion-mnist: its weights' slices, their
 * gradients and the activations, about 1 MB): back to back the gathers ran
 * at 30-32 GB/s, after such a pass at 7-8 (2 ranks, load 8), where model
 * parallelism's own took 25-28 us for its 200 KB a step (7-8 GB/s). Bytes
 * of the matrix a second. */
#define CAL_GATHER_GAP (1u << 18)
static int measure_gather(rt *r, const cal_arg *a, cal_slot *out)
{
    const ml_dataset *train = &a->prob->train;
    size_t b = a->batches[0], d = train->d;
    train_shard shard = {0};
    size_t *idx = malloc(b * sizeof *idx);
    float *x = malloc(b * d * sizeof *x), *gap = malloc(CAL_GATHER_GAP * sizeof *gap);
    int rc = RT_OK;
    if (!idx || !x || !gap || train_shard_init(&shard, train, 0, 1, 0x6a7) != 0) {
        rc = rt_fail(r, RT_ENOMEM, "calibrate: no memory for a batch of %zu examples", b);
        goto done;
    }
    for (size_t q = 0; q < CAL_GATHER_GAP; q++)
        gap[q] = 1.0f;
    enum { GATHERS = 200 };
    for (int rep = -1; rep < a->repeat; rep++) { /* one untimed pass first */
        double in_gather = 0;
        for (int k = 0; k < GATHERS; k++) {
            for (size_t q = 0; q < CAL_GATHER_GAP; q++)
                gap[q] += 1.0f;
            double t0 = rt_now(r);
            size_t got = train_shard_next(&shard, b, idx);
            if (train->sparse)
                memset(x, 0, got * d * sizeof *x);
            for (size_t i = 0; i < got; i++) {
                if (!train->sparse) {
                    memcpy(x + i * d, train->x + idx[i] * d, d * sizeof *x);
                    continue;
                }
                for (size_t z = train->row_ptr[idx[i]]; z < train->row_ptr[idx[i] + 1]; z++)
                    x[i * d + train->col[z]] = train->val[z];
            }
            in_gather += rt_now(r) - t0;
        }
        if (rep >= 0)
            out->gather_Bps[rep] = in_gather > 0 ? (double)GATHERS * (double)(b * d * sizeof *x) / in_gather : NAN;
    }
    if (x[0] == 12345.0f || gap[1] == 12345.0f) /* keeps the copies and the passes */
        fprintf(stderr, " ");
done:
    train_shard_free(&shard);
    free(idx);
    free(x);
    free(gap);
    return rc;
}

/* Every rank at once runs the softmax cross-entropy a row at a time on a
 * batch's logits, as model parallelism does on its gathered logits, at
 * the first batch size and the data's classes: 4 flops a logit a second
 * (ml_softmax_xent with delta). A model's rate, most of it products,
 * charged it 0.04 us where it took 10 us (64 x 10, 2 ranks, load 2-4). */
static int measure_loss(rt *r, const cal_arg *a, cal_slot *out)
{
    size_t B = a->batches[0], C = (size_t)(a->prob->train.classes > 1 ? a->prob->train.classes : 2);
    float *logits = malloc(B * C * sizeof *logits), *delta = malloc(B * C * sizeof *delta);
    int32_t *y = malloc(B * sizeof *y);
    int rc = RT_OK;
    if (!logits || !delta || !y) {
        rc = rt_fail(r, RT_ENOMEM, "calibrate: no memory for a batch's logits");
        goto done;
    }
    for (size_t i = 0; i < B * C; i++)
        logits[i] = (float)((i * 2654435761u) % 1000) * 4e-3f - 2.0f;
    for (size_t i = 0; i < B; i++)
        y[i] = (int32_t)(i % C);
    enum { LOSSES = 200 };
    double loss = 0;
    size_t correct = 0;
    for (int rep = -1; rep < a->repeat; rep++) { /* one untimed pass first */
        double t0 = rt_now(r);
        for (int k = 0; k < LOSSES; k++)
            for (size_t i = 0; i < B; i++)
                ml_softmax_xent(logits + i * C, 1, C, y + i, 1.0f / (float)B, delta + i * C, &loss, &correct);
        double dt = rt_now(r) - t0;
        if (rep >= 0)
            out->loss_flops_per_s[rep] = dt > 0 ? 4.0 * (double)(B * C) * LOSSES / dt : NAN;
    }
    if (loss == 12345.0) /* keeps the work */
        fprintf(stderr, " ");
done:
    free(logits);
    free(delta);
    free(y);
    return rc;
}

/* ---- 3. a model's training step and evaluation ---- */

/* The training step as a rank's first work after a wait it slept through:
 * each step after a sleep of CALIB_WOKEN_SLEEP_S in the kernel, only the
 * steps timed. A rank that sleeps gives its core away (on a VM, to the
 * host's other guests), and the step after it finds its caches cold: on
 * this project's 2-core VM softmax at batch 64 ran 15-25% slower so, the
 * real parameter server's workers, which sleep in every wait, 30-35%. */
static int measure_woken(rt *r, const cal_arg *a, int m, ml_model *model, const float *params,
                         train_shard *shard, size_t *idx, size_t b, int steps, ml_grad *grad, double *rate)
{
    const ml_dataset *train = &a->prob->train;
    const struct timespec nap = {0, (long)(CALIB_WOKEN_SLEEP_S * 1e9)};
    double busy_s = 0, total = 0, loss, flops;
    char err[512];
    for (int s = 0; s < steps; s++) {
        size_t got = train_shard_next(shard, b, idx);
        nanosleep(&nap, NULL);
        double t0 = rt_now(r);
        if (ml_model_loss_grad(model, params, train, idx, got, grad, &loss, &flops, err, sizeof err) != 0)
            return rt_fail(r, RT_EINVAL, "calibrate: model %s: %s", a->models[m], err);
        busy_s += rt_now(r) - t0;
        total += flops;
    }
    *rate = busy_s > 0 ? total / busy_s : NAN;
    return RT_OK;
}

static int measure_model(rt *r, const cal_arg *a, int m, int bi, cal_slot *out)
{
    const ml_dataset *train = &a->prob->train, *test = &a->prob->test;
    size_t b = a->batches[bi];
    ml_model *model = NULL;
    ml_grad grad = {0};
    train_shard shard = {0};
    float *params = NULL;
    size_t *idx = malloc(b * sizeof *idx);
    char err[512];
    int rc = RT_OK;
    if (ml_model_create(a->models[m], train->d, train->classes, a->l2, &model, err, sizeof err) != 0) {
        rc = rt_fail(r, RT_EINVAL, "calibrate: model %s: %s", a->models[m], err);
        goto done;
    }
    size_t P = ml_model_nparams(model);
    params = malloc(P * sizeof *params);
    /* each rank its own shard, visited in a fresh order each pass, as in
     * a run: where the examples lie decides how fast they are read */
    if (!idx || !params || ml_grad_init(&grad, P) != 0 ||
        train_shard_init(&shard, train, rt_rank(r), rt_size(r), 0x5eed + (uint64_t)m) != 0) {
        rc = rt_fail(r, RT_ENOMEM, "calibrate: no memory for model %s", a->models[m]);
        goto done;
    }
    grad.dense_only = 1;
    if (shard.n == 0) {
        rc = rt_fail(r, RT_EINVAL, "calibrate: %zu training examples leave rank %d none", train->n,
                     rt_rank(r));
        goto done;
    }
    ml_model_init_params(model, params, 1);
    double loss, flops;
    /* one untimed step, then as many as take about 50 ms */
    size_t got = train_shard_next(&shard, b, idx);
    double t0 = rt_now(r);
    if (ml_model_loss_grad(model, params, train, idx, got, &grad, &loss, &flops, err, sizeof err) != 0) {
        rc = rt_fail(r, RT_EINVAL, "calibrate: model %s: %s", a->models[m], err);
        goto done;
    }
    double one = rt_now(r) - t0;
    struct timespec c0, c1;
    int steps = (int)fmin(400, fmax(3, 0.05 / fmax(one, 1e-7)));
    size_t evals = test->n < 2048 ? test->n : 2048;
    for (int rep = 0; rep < a->repeat && !rc; rep++) {
        double total = 0;
        t0 = rt_now(r);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
        for (int s = 0; s < steps; s++) {
            got = train_shard_next(&shard, b, idx); /* a pass's last may be short: flops say so */
            if (ml_model_loss_grad(model, params, train, idx, got, &grad, &loss, &flops, err, sizeof err) != 0) {
                rc = rt_fail(r, RT_EINVAL, "calibrate: model %s: %s", a->models[m], err);
                break;
            }
            total += flops;
        }
        double dt = rt_now(r) - t0;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
        double cpu = (double)(c1.tv_sec - c0.tv_sec) + 1e-9 * (double)(c1.tv_nsec - c0.tv_nsec);
        out->train_flops_per_s[m][bi][rep] = dt > 0 ? total / dt : NAN;
        out->cpu_share[m][bi][rep] = dt > 0 && cpu > 0 ? fmin(1, cpu / dt) : NAN;
        double acc;
        t0 = rt_now(r);
        if (!rc && ml_model_evaluate(model, params, test, NULL, evals, &loss, &acc, NULL, &flops, err,
                                     sizeof err) != 0)
            rc = rt_fail(r, RT_EINVAL, "calibrate: model %s: %s", a->models[m], err);
        dt = rt_now(r) - t0;
        out->eval_flops_per_s[m][bi][rep] = dt > 0 ? flops / dt : NAN;
        if (!rc)
            rc = measure_woken(r, a, m, model, params, &shard, idx, b, steps, &grad,
                               &out->train_woken_flops_per_s[m][bi][rep]);
    }
done:
    train_shard_free(&shard);
    ml_grad_free(&grad);
    ml_model_free(model);
    free(params);
    free(idx);
    return rc;
}

/* ---- 4. a model's weights in shared memory, as Hogwild! uses them ---- */

static float shared_load(const float *p)
{
    float v;
    __atomic_load(p, &v, __ATOMIC_RELAXED);
    return v;
}

static void shared_store(float *p, float v) { __atomic_store(p, &v, __ATOMIC_RELAXED); }

/* Every rank at once runs Hogwild!'s step on one copy of model m's P
 * weights in rt_shared memory (hogwild.c): read them all into a private
 * copy (a relaxed load a float), the model's gradient on a batch of the
 * rank's shard at the first batch size, then w -= lr g over all P (a
 * load and a store a float). Bytes of floats read (written) over the
 * reads' (the writes') time, at P floats.
 *
 * What happens between a rank's read and its write decides what they
 * cost, so the gap is the gradient itself: with it spent spinning on the
 * clock instead, the writes of 8 Ki floats ran at the element-wise rate
 * (4.6 us, 2 ranks), as one Hogwild! worker alone writes its 7,850 (4.7
 * us), where two workers' writes took 7.9-10.9 us (softmax on
 * fashion-mnist, three runs, real-time priority, load 4.7); with the gap
 * spent on passes over private vectors, reads ran twice as fast as the
 * workers' (2.2 us against 4.4-5.3). */
static int measure_shared(rt *r, const cal_arg *a, int m, cal_slot *out)
{
    const ml_dataset *train = &a->prob->train;
    size_t b = a->batches[0];
    ml_model *model = NULL;
    ml_grad grad = {0};
    train_shard shard = {0};
    float *local = NULL;
    size_t *idx = malloc(b * sizeof *idx);
    char err[512], name[64];
    int rc = RT_OK;
    if (ml_model_create(a->models[m], train->d, train->classes, a->l2, &model, err, sizeof err) != 0) {
        rc = rt_fail(r, RT_EINVAL, "calibrate: model %s: %s", a->models[m], err);
        goto done;
    }
    size_t P = ml_model_nparams(model);
    snprintf(name, sizeof name, "calibrate-shared-%d", m);
    float *w = rt_shared(r, name, P * sizeof *w);
    local = malloc(P * sizeof *local);
    if (!w || !idx || !local || ml_grad_init(&grad, P) != 0 ||
        train_shard_init(&shard, train, rt_rank(r), rt_size(r), 0x5eed + (uint64_t)m) != 0) {
        rc = rt_fail(r, RT_ENOMEM, "calibrate: model %s in shared memory: %s", a->models[m],
                     w ? "out of memory" : rt_error(r));
        goto done;
    }
    grad.dense_only = 1;
    if (rt_rank(r) == 0) {
        ml_model_init_params(model, local, 1);
        for (size_t j = 0; j < P; j++)
            shared_store(w + j, local[j]);
    }
    if ((rc = barrier(r)))
        goto done;
    /* as many steps as the training rate's measurement took (about 50 ms) */
    int steps = 0;
    double one = 0, loss, flops;
    for (int rep = -1; rep < a->repeat && !rc; rep++) { /* one untimed pass first */
        double in_read = 0, in_write = 0, t_pass = rt_now(r);
        for (int s = 0; s < (rep < 0 ? 1 : steps) && !rc; s++) {
            size_t got = train_shard_next(&shard, b, idx);
            double t0 = rt_now(r);
            for (size_t j = 0; j < P; j++)
                local[j] = shared_load(w + j);
            double t1 = rt_now(r);
            if (ml_model_loss_grad(model, local, train, idx, got, &grad, &loss, &flops, err, sizeof err) != 0) {
                rc = rt_fail(r, RT_EINVAL, "calibrate: model %s: %s", a->models[m], err);
                break;
            }
            double t2 = rt_now(r);
            for (size_t j = 0; j < P; j++)
                shared_store(w + j, shared_load(w + j) - 0.01f * grad.dense[j]);
            double t3 = rt_now(r);
            in_read += t1 - t0;
            in_write += t3 - t2;
        }
        if (rep < 0) {
            one = rt_now(r) - t_pass;
            steps = (int)fmin(400, fmax(3, 0.05 / fmax(one, 1e-7)));
            continue;
        }
        double bytes = (double)P * sizeof(float) * steps;
        out->shared_read_Bps[m][rep] = in_read > 0 ? bytes / in_read : NAN;
        out->shared_write_Bps[m][rep] = in_write > 0 ? bytes / in_write : NAN;
    }
done:
    train_shard_free(&shard);
    ml_grad_free(&grad);
    ml_model_free(model);
    free(local);
    free(idx);
    return rc;
}

static int calibrate_rank(rt *r, void *argp)
{
    const cal_arg *a = argp;
    cal_slot *out = job_slot(r);
    unsigned char *buf = calloc(1, cal_sizes[CAL_NSIZES - 1]), *buf2 = calloc(1, CAL_EXCHANGE);
    int rc = buf && buf2 ? RT_OK : rt_fail(r, RT_ENOMEM, "calibrate: no memory for messages");
    for (int j = 1; j < rt_size(r) && !rc; j++)
        if (!(rc = measure_path(r, a, j, buf, buf2, out)))
            rc = barrier(r);
    free(buf);
    free(buf2);
    if (!rc && !(rc = barrier(r)))
        rc = measure_reduce(r, a, out);
    if (!rc && !(rc = barrier(r)))
        rc = measure_gather(r, a, out);
    if (!rc && !(rc = barrier(r)))
        rc = measure_loss(r, a, out);
    for (int m = 0; m < a->nmodels && !rc; m++)
        for (int b = 0; b < a->nbatches && !rc; b++)
            if (!(rc = barrier(r)))
                rc = measure_model(r, a, m, b, out);
    for (int m = 0; m < a->nmodels && a->shared && !rc; m++)
        if (!(rc = barrier(r)))
            rc = measure_shared(r, a, m, out);
    return rc;
}

/* ---- from measurements to the file ---- */

/* Latency and inverse bandwidth of one set of one-way times: the line
 * alpha + n beta with the least squared *relative* error (weights 1/t^2),
 * so that the small messages, which decide alpha, count as much as the
 * large ones, which decide beta. Should noise still make the intercept
 * negative, the smallest message's time stands in for it; should the
 * slope come out non-positive, the largest message's time sets it. */
static void fit_line(const double *oneway_s, double *alpha, double *beta)
{
    double sw = 0, swx = 0, swy = 0, swxx = 0, swxy = 0;
    for (size_t s = 0; s < CAL_NSIZES; s++) {
        double x = (double)cal_sizes[s], y = oneway_s[s], w = 1.0 / (y * y);
        sw += w;
        swx += w * x;
        swy += w * y;
        swxx += w * x * x;
        swxy += w * x * y;
    }
    double det = sw * swxx - swx * swx;
    *beta = (sw * swxy - swx * swy) / det;
    *alpha = (swxx * swy - swx * swxy) / det;
    if (!(*alpha > 0))
        *alpha = oneway_s[0];
    /* noise can tilt the line too: then the largest message alone says
     * what a byte costs */
    if (!(*beta > 0))
        *beta = fmax(oneway_s[CAL_NSIZES - 1] - *alpha, oneway_s[CAL_NSIZES - 1] / 2) /
                (double)cal_sizes[CAL_NSIZES - 1];
}

static void summarize(const cal_arg *a, const job_result *res, calibration *c)
{
    const cal_slot *s0 = job_result_slot(res, 0);
    int p = res->ranks, R = a->repeat;
    double *lat = malloc(sizeof(double) * (size_t)(p * R)), *bw = malloc(sizeof(double) * (size_t)(p * R));
    double *v = malloc(sizeof(double) * (size_t)(p * R * CAL_MAX_MODELS * CAL_MAX_BATCHES + 1));
    double *os = malloc(sizeof(double) * (size_t)(p * R)), *orv = malloc(sizeof(double) * (size_t)(p * R));
    double *ex = malloc(sizeof(double) * (size_t)(p * R)), *wk = malloc(sizeof(double) * (size_t)(p * R));
    int nall = 0;
    for (int j = 1; j < p; j++) {
        double pl[CAL_MAX_REPEAT], pb[CAL_MAX_REPEAT];
        const cal_slot *sj = job_result_slot(res, j);
        for (int rep = 0; rep < R; rep++) {
            double alpha, beta;
            fit_line(s0->oneway_s[j][rep], &alpha, &beta);
            os[nall] = s0->send_o_s[j][rep];
            orv[nall] = sj->recv_o_s[j][rep];
            wk[nall] = s0->wake_s[j][rep];
            ex[nall] = s0->exchange_s[j][rep] / s0->oneway_s[j][rep][CAL_NSIZES - 1];
            pl[rep] = lat[nall] = alpha;
            pb[rep] = bw[nall++] = 1.0 / beta;
        }
        calib_path *path = &c->paths[c->npaths++];
        path->from = 0;
        path->to = j;
        path->latency_s = calib_stat_of(pl, R);
        path->bandwidth_Bps = calib_stat_of(pb, R);
    }
    c->latency_s = calib_stat_of(lat, nall);
    c->bandwidth_Bps = calib_stat_of(bw, nall);
    c->send_overhead_s = calib_stat_of(os, nall);
    c->recv_overhead_s = calib_stat_of(orv, nall);
    c->exchange_factor = calib_stat_of(ex, nall);
    c->wake_s = calib_stat_of(wk, nall);
    for (size_t k = 0; k < CAL_NSIZES; k++) { /* each size's own time, over every path */
        int m = 0;
        for (int j = 1; j < p; j++)
            for (int rep = 0; rep < R; rep++)
                ex[m++] = s0->oneway_s[j][rep][k];
        c->messages[c->nmessages].bytes = cal_sizes[k];
        c->messages[c->nmessages].oneway_s = calib_stat_of(ex, m);
        if (cal_sizes[k] >= CALIB_SCALE_FROM) {
            m = 0;
            for (int j = 1; j < p; j++)
                for (int rep = 0; rep < R; rep++)
                    ex[m++] = s0->exchange_size_s[j][rep][k];
            c->messages[c->nmessages].exchange_s = calib_stat_of(ex, m);
        }
        c->nmessages++;
    }
    free(os);
    free(orv);
    free(ex);
    free(wk);
    int n = 0;
    for (int i = 0; i < p; i++)
        for (int rep = 0; rep < R; rep++)
            v[n++] = ((const cal_slot *)job_result_slot(res, i))->reduce_flops_per_s[rep];
    c->reduce_flops_per_s = calib_stat_of(v, n);
    n = 0;
    for (int i = 0; i < p; i++)
        for (int rep = 0; rep < R; rep++)
            v[n++] = ((const cal_slot *)job_result_slot(res, i))->gather_Bps[rep];
    c->gather_Bps = calib_stat_of(v, n);
    n = 0;
    for (int i = 0; i < p; i++)
        for (int rep = 0; rep < R; rep++)
            v[n++] = ((const cal_slot *)job_result_slot(res, i))->loss_flops_per_s[rep];
    c->loss_flops_per_s = calib_stat_of(v, n);
    for (size_t k = 0; k < CAL_NVEC; k++) {
        n = 0;
        for (int i = 0; i < p; i++)
            for (int rep = 0; rep < R; rep++)
                v[n++] = ((const cal_slot *)job_result_slot(res, i))->vector_flops_per_s[k][rep];
        calib_vector *e = &c->vector[c->nvector++];
        e->floats = cal_vec_floats[k];
        e->flops_per_call = (double)cal_vec_floats[k];
        e->flops_per_s = calib_stat_of(v, n);
    }
    /* one point per model, by its weights' count: the smaller count's
     * where two models have the same */
    for (int m = 0; m < a->nmodels && a->shared; m++) {
        size_t P = a->nparams[m];
        int at = 0;
        while (at < c->nshared && c->shared[at].floats < P)
            at++;
        if ((at < c->nshared && c->shared[at].floats == P) || c->nshared == CALIB_MAX_VECTOR)
            continue;
        memmove(&c->shared[at + 1], &c->shared[at], (size_t)(c->nshared - at) * sizeof *c->shared);
        c->nshared++;
        calib_shared *e = &c->shared[at];
        e->floats = P;
        for (int which = 0; which < 2; which++) {
            n = 0;
            for (int i = 0; i < p; i++)
                for (int rep = 0; rep < R; rep++) {
                    const cal_slot *s = job_result_slot(res, i);
                    v[n++] = which ? s->shared_write_Bps[m][rep] : s->shared_read_Bps[m][rep];
                }
            *(which ? &e->write_Bps : &e->read_Bps) = calib_stat_of(v, n);
        }
    }
    for (int m = 0; m < a->nmodels; m++)
        for (int b = 0; b < a->nbatches; b++) {
            calib_compute *cc = &c->compute[c->ncompute++];
            snprintf(cc->model, sizeof cc->model, "%s", a->models[m]);
            cc->batch = a->batches[b];
            calib_stat *into[] = {&cc->train_flops_per_s, &cc->eval_flops_per_s, &cc->train_woken_flops_per_s};
            for (int which = 0; which < 3; which++) {
                n = 0;
                for (int i = 0; i < p; i++) {
                    const cal_slot *s = job_result_slot(res, i);
                    const double *of[] = {s->train_flops_per_s[m][b], s->eval_flops_per_s[m][b],
                                          s->train_woken_flops_per_s[m][b]};
                    for (int rep = 0; rep < R; rep++)
                        v[n++] = of[which][rep];
                }
                *into[which] = calib_stat_of(v, n);
            }
        }
    n = 0;
    for (int i = 0; i < p; i++)
        for (int m = 0; m < a->nmodels; m++)
            for (int b = 0; b < a->nbatches; b++)
                for (int rep = 0; rep < R; rep++) {
                    double share = ((const cal_slot *)job_result_slot(res, i))->cpu_share[m][b][rep];
                    if (share > 0)
                        v[n++] = share;
                }
    if (n == 0) /* a clock too coarse to see any CPU time: say it had the core */
        v[n++] = 1;
    c->cpu_share = calib_stat_of(v, n);
    free(lat);
    free(bw);
    free(v);
}

/* "softmax,mlp:256,128,logreg": a model spec never starts with a digit, so
 * a number after a comma continues the mlp before it. */
static int parse_models(const char *list, cal_arg *a)
{
    char **item;
    int n = cli_split_list("calibrate", "models", list, &item);
    if (n < 0)
        return -1;
    a->nmodels = 0;
    for (int i = 0; i < n; i++) {
        const char *tok = item[i];
        if (*tok >= '0' && *tok <= '9' && a->nmodels > 0) {
            char *prev = a->models[a->nmodels - 1];
            if (strlen(prev) + strlen(tok) + 2 > sizeof a->models[0])
                goto too_long;
            strcat(prev, ",");
            strcat(prev, tok);
            continue;
        }
        if (a->nmodels == CAL_MAX_MODELS) {
            fprintf(stderr, "distlab calibrate: --models: at most %d models\n", CAL_MAX_MODELS);
            free(item);
            return -1;
        }
        if (strlen(tok) + 1 > sizeof a->models[0])
            goto too_long;
        snprintf(a->models[a->nmodels++], sizeof a->models[0], "%s", tok);
    }
    if (a->nmodels == 0) { /* "4": a number continues an mlp, and none came before it */
        fprintf(stderr, "distlab calibrate: --models: '%s' names no model\n", list);
        free(item);
        return -1;
    }
    free(item);
    return 0;
too_long:
    fprintf(stderr, "distlab calibrate: --models: a model spec is too long\n");
    free(item);
    return -1;
}

static int parse_batches(const char *list, cal_arg *a)
{
    char **item, err[256];
    int n = cli_split_list("calibrate", "batches", list, &item), rc = n < 0 ? -1 : 0;
    a->nbatches = 0;
    for (int i = 0; i < n && !rc; i++) {
        long b;
        if (a->nbatches == CAL_MAX_BATCHES) {
            fprintf(stderr, "distlab calibrate: --batches: at most %d sizes\n", CAL_MAX_BATCHES);
            rc = -1;
        } else if (units_int(item[i], 1, 1 << 16, &b, err, sizeof err) != 0) {
            fprintf(stderr, "distlab calibrate: --batches: '%s': %s\n", item[i], err);
            rc = -1;
        } else {
            a->batches[a->nbatches++] = (size_t)b;
        }
    }
    free(item);
    return rc;
}

static void platform_path(const char *json, char *out, size_t len)
{
    snprintf(out, len, "%s", json);
    char *dot = strrchr(out, '.'), *slash = strrchr(out, '/');
    if (dot && (!slash || dot > slash) && strcmp(dot, ".json") == 0)
        *dot = '\0';
    if (strlen(out) + 5 <= len)
        strcat(out, ".xml");
}

int verb_calibrate(int argc, char **argv)
{
    static const cli_opt opts[] = {
        {"output", "FILE.json", "where to write the calibration (also -o; the platform goes to FILE.xml)"},
        {"workers", "N", "ranks to measure (default 2; at most 64)"},
        {"repeat", "N", "measurements behind each median (default 5; 1-20)"},
        {"models", "LIST", "models whose compute rate to measure (default softmax,mlp:256,128)"},
        {"batches", "LIST", "batch sizes to measure them at (default 64; at most 4)"},
        {"dataset", "NAME", "data the models train on (default fashion-mnist)"},
        {"data", "FILE", "or a LIBSVM / IDX file"},
        {"train-size", "N", "use only the first N training examples (default: all)"},
        {NULL, NULL, NULL},
    };
    cli_args a;
    int code;
    if (cli_parse(argc, argv, "calibrate -o FILE.json [--workers N] [--repeat N] [--models LIST] "
                  "[--batches LIST] [job options]", opts, 1, &a, &code))
        return code;
    if (a.npos) {
        fprintf(stderr, "distlab calibrate: unexpected argument '%s'\n", a.pos[0]);
        return 2;
    }
    const char *out = cli_get(&a, "output");
    if (!out) {
        fprintf(stderr, "distlab calibrate: give -o FILE.json, where the calibration goes\n");
        return 2;
    }
    job_config cfg = job_config_default();
    sim_config sim = sim_config_default();
    real_config real = real_config_default();
    cfg.backend = &real_backend;
    if (cli_job_config(&a, "calibrate", &cfg, &sim, &real))
        return 2;
    if (cfg.backend != &real_backend) {
        fprintf(stderr, "distlab calibrate: --backend: calibration measures real sockets and cores "
                "(--backend real); a simulation has nothing to measure\n");
        return 2;
    }
    long workers = 2, repeat = 5;
    if (cli_get_int(&a, "calibrate", "workers", 2, CAL_MAX_RANKS, &workers) ||
        cli_get_int(&a, "calibrate", "repeat", 1, CAL_MAX_REPEAT, &repeat))
        return 2;
    static cal_arg ca;
    memset(&ca, 0, sizeof ca);
    ca.repeat = (int)repeat;
    if (parse_models(cli_get(&a, "models") ? cli_get(&a, "models") : "softmax,mlp:256,128", &ca) ||
        parse_batches(cli_get(&a, "batches") ? cli_get(&a, "batches") : "64", &ca))
        return 2;
    ml_config ml;
    ml_config_default(&ml);
    char err[2048];
    static const char *const ml_keys[] = {"dataset", "data", "train-size", NULL};
    for (int k = 0; ml_keys[k]; k++)
        if (cli_get(&a, ml_keys[k]) && ml_config_set(&ml, ml_keys[k], cli_get(&a, ml_keys[k]), err, sizeof err) != 0) {
            fprintf(stderr, "distlab calibrate: %s\n", err);
            return 2;
        }
    /* every model is checked against the data before anything is measured */
    ml_problem prob;
    if (ml_problem_load(&ml, &prob, err, sizeof err) != 0) {
        fprintf(stderr, "distlab calibrate: %s\n", err);
        return 2;
    }
    for (int m = 0; m < ca.nmodels; m++) {
        ml_model *probe;
        if (ml_model_create(ca.models[m], prob.train.d, prob.train.classes, ml.l2, &probe, err, sizeof err) != 0) {
            fprintf(stderr, "distlab calibrate: --models: %s\n", err);
            ml_problem_free(&prob);
            return 2;
        }
        ca.nparams[m] = ml_model_nparams(probe);
        ml_model_free(probe);
    }
    ca.prob = &prob;
    ca.l2 = ml.l2;
    ca.shared = real.launch != REAL_LAUNCH_HOSTS; /* memory only one machine's ranks share */
    cfg.ranks = (int)workers;
    cfg.result_bytes = sizeof(cal_slot);
    cfg.record_events = 0;

    double load = 0;
    getloadavg(&load, 1); /* how busy the machine was as it began */
    job_result res;
    int status = 0;
    if (job_run(&cfg, calibrate_rank, &ca, &res) != 0) {
        fprintf(stderr, "distlab calibrate: %s\n", res.error);
        status = cli_job_status(&res);
        goto done;
    }
    if (cli_result_elsewhere("calibrate", &res))
        goto done;
    static calibration c;
    memset(&c, 0, sizeof c);
    summarize(&ca, &res, &c);
    for (int i = 0; i < c.ncompute; i++)
        snprintf(c.compute[i].dataset, sizeof c.compute[i].dataset, "%.255s", ml.dataset[0] ? ml.dataset : ml.data);
    snprintf(c.distlab_version, sizeof c.distlab_version, "%s", DISTLAB_VERSION);
    char host[128] = "?";
    gethostname(host, sizeof host - 1);
    snprintf(c.machine, sizeof c.machine, "%s, %ld cores online", host, sysconf(_SC_NPROCESSORS_ONLN));
    time_t now = time(NULL);
    strftime(c.date, sizeof c.date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    static const char *const launches[] = {"threads", "procs", "hosts"};
    snprintf(c.launch, sizeof c.launch, "%s", launches[real.launch]);
    c.ranks = res.ranks;
    cpu_set_t allowed;
    c.cores = sched_getaffinity(0, sizeof allowed, &allowed) == 0 ? CPU_COUNT(&allowed) : 1;
    c.load_average = load;
    if (calib_write(&c, out, err, sizeof err) != 0) {
        fprintf(stderr, "distlab calibrate: %s\n", err);
        status = 1;
        goto done;
    }
    /* the platform of the measured cluster: one machine's cores, or one
     * host per rank */
    sim = sim_config_default();
    sim.hosts = calib_one_machine(&c) ? 1 : c.ranks;
    sim.cores = calib_one_machine(&c) ? c.cores : 1;
    sim.one_machine = calib_one_machine(&c);
    sim.latency_s = c.latency_s.median;
    sim.bandwidth_Bps = c.bandwidth_Bps.median;
    sim.speed_flops = c.reduce_flops_per_s.median;
    /* a platform file holds no runtime overheads: its wire keeps the
     * whole latency; both directions of a host share as measured */
    double wire, os, orv;
    calib_network(&c, &wire, &os, &orv, &sim.exchange_factor);
    char xml[2048], xml_path[4096];
    platform_path(out, xml_path, sizeof xml_path);
    FILE *f = NULL;
    if (sim_platform_cluster_xml(&sim, c.ranks, xml, sizeof xml) != 0 || !(f = fopen(xml_path, "w")) ||
        fputs(xml, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "distlab calibrate: cannot write %s\n", xml_path);
        status = 1;
        goto done;
    }
    char lat[32], bw[32];
    units_fmt_time(c.latency_s.median, lat, sizeof lat);
    units_fmt_rate(c.bandwidth_Bps.median, bw, sizeof bw);
    printf("distlab calibrate: %d ranks (%s, %d cores): latency %s, bandwidth %s, reduce %.3g Gflop/s\n",
           c.ranks, c.launch, c.cores, lat, bw, c.reduce_flops_per_s.median / 1e9);
    printf("  per message: send %.3g us, receive %.3g us (of the %.3g us latency); a 4 MiB exchange "
           "both ways takes %.2fx a one-way one; a rank had %.0f%% of a core (load average %.2f)\n",
           c.send_overhead_s.median * 1e6, c.recv_overhead_s.median * 1e6, c.latency_s.median * 1e6,
           c.exchange_factor.median, 100 * c.cpu_share.median, c.load_average);
    printf("  a message to a rank asleep in its wait: %.3g us more than to one that polls\n", c.wake_s.median * 1e6);
    printf("  an exchange both ways over a one-way transfer, by size:");
    for (int i = 0; i < c.nmessages; i++)
        if (c.messages[i].exchange_s.n > 0)
            printf(" %.2fx at %zu B", c.messages[i].exchange_s.median / c.messages[i].oneway_s.median,
                   c.messages[i].bytes);
    printf("\n  element-wise work:");
    for (int i = 0; i < c.nvector; i++)
        printf(" %.3g Gflop/s at %zu floats%s", c.vector[i].flops_per_s.median / 1e9, c.vector[i].floats,
               i + 1 < c.nvector ? "," : "\n");
    printf("  a batch's examples gathered at %.3g GB/s, its loss apart from a model at %.3g Gflop/s (batch %zu)\n",
           c.gather_Bps.median / 1e9, c.loss_flops_per_s.median / 1e9, ca.batches[0]);
    if (c.nshared > 0) {
        printf("  shared memory, all ranks reading and writing it at once:");
        for (int i = 0; i < c.nshared; i++)
            printf(" %.3g GB/s read, %.3g written at %zu floats%s", c.shared[i].read_Bps.median / 1e9,
                   c.shared[i].write_Bps.median / 1e9, c.shared[i].floats, i + 1 < c.nshared ? "," : "\n");
    }
    for (int i = 0; i < c.ncompute; i++)
        printf("  %s, batch %zu: training %.3g Gflop/s (%.3g-%.3g), evaluation %.3g Gflop/s\n",
               c.compute[i].model, c.compute[i].batch, c.compute[i].train_flops_per_s.median / 1e9,
               c.compute[i].train_flops_per_s.min / 1e9, c.compute[i].train_flops_per_s.max / 1e9,
               c.compute[i].eval_flops_per_s.median / 1e9);
    printf("wrote %s and %s\n", out, xml_path);
done:
    job_result_free(&res);
    ml_problem_free(&prob);
    return status;
}
