/* hogwild.c -- Hogwild!: P workers on one host run SGD on ONE shared weight
 * vector without any lock.
 * reference: Niu, Recht, Re & Wright, "Hogwild!: A Lock-Free Approach to
 * Parallelizing Stochastic Gradient Descent", NIPS 2011.
 *
 * The weights live in memory shared by the ranks of the host (rt_shared).
 * Every worker loops over minibatches of b examples drawn from the whole
 * training set, each in its own random order (worker 0 in serial SGD's),
 * ceil(n / (P b)) of them per epoch -- so however the scheduler runs the
 * workers, even one after another, the examples arrive well mixed:
 *
 *   1. read   copy the components its gradient needs from the shared
 *             weights (sparse data: only the batch's features and the
 *             bias, O(Z); dense data: all P)
 *                                  (compute: RT_WORK_SHARED_READ, 1 per float)
 *   2. grad   gradient on that copy            (compute: loss_grad flops)
 *   3. write  w_j -= lr g_j for every j the gradient touches
 *                                 (compute: RT_WORK_SHARED_WRITE, 2 per j)
 *
 * Only a calibration prices the read (and the write at its own rate): it
 * measures this very step on each model's weights in shared memory, all
 * ranks at once (verb_calibrate.c). Without one the read is free and the
 * write is element-wise work, 2 flops per j at the host speed, as before.
 *
 * With --sync none (Hogwild!) nothing orders these steps across workers:
 * between a worker's read and its write, other workers' writes land, and
 * two workers' read-add-writes of one component can interleave and lose
 * one of the adds. The paper's point is that with sparse gradients such
 * collisions are rare and cost little, so the speedup is nearly linear.
 * The races are by design but must not be undefined behaviour in C: every
 * shared float is read and written with a relaxed atomic load or store (a
 * plain mov on x86). The read-add-write of one component is NOT atomic,
 * exactly as in the paper, and ThreadSanitizer stays quiet (`make tsan`).
 *
 * The two baselines, synchronised only through runtime.h so a waiting
 * rank blocks in a receive -- in simulation actors interleave only at
 * simcalls, so a spinning rank would never let the others run:
 *
 *   --sync lock         one lock around each whole update (read, gradient,
 *                       write): updates are serial, staleness 0. The lock
 *                       is an MCS queue lock (Mellor-Crummey & Scott 1991)
 *                       whose waiting is a message: a rank swaps itself in
 *                       as the queue's tail with an atomic exchange; if the
 *                       lock was free it holds it, otherwise it tells its
 *                       predecessor "I am next" and blocks receiving the
 *                       token from it. Releasing is one compare-and-swap
 *                       when nobody queued, else a receive of the "I am
 *                       next" message and a send of the token. FIFO, so
 *                       fair; uncontended, no message at all.
 *   --sync round-robin  the paper's baseline (Langford, Smola & Zinkevich,
 *                       "Slow Learners are Fast", 2009): gradients are
 *                       computed in parallel, but writes take turns in rank
 *                       order, a token message passed around the ring.
 *                       Staleness is exactly P - 1 in steady state; the
 *                       cost is one token hand-off per update, which beats
 *                       the gradient only when gradients are expensive.
 *
 * Nothing is shared but what the algorithm shares: the weights. Each
 * worker counts its own updates on a cache line of its own (a plain
 * store: no other worker writes that line), its step size follows its own
 * progress (epoch = its step / steps per worker epoch, the same schedule
 * in expectation as the whole run's, and exactly serial SGD's at P = 1),
 * and the reporter sums the counts when it snapshots.
 *
 * Staleness -- how many other updates landed between an update's read and
 * its write -- is measured on one update in 2P of each worker, drawn at
 * random (a fixed period would alias with the simulation's periodic
 * interleavings; 2P makes about one remote counter load per update
 * whatever P), deterministic for a seed: the worker sums all
 * workers' counts just before step 1 and again just before counting its
 * own write; the difference is the others' updates in between. In
 * simulation this is exactly what a shared counter would say for those
 * updates; on real threads, as with any counter, it is read while others
 * write. Measuring every update would need a shared counter on every
 * update, the one cache line every core fights over.
 *
 * Cost per update: compute (b examples, Z nonzeros) as above, plus in
 * real runs the cache-line traffic on the components it shares with other
 * workers. What Hogwild!'s semantics let go and what they do not: the
 * update counter and the step-size clock are bookkeeping, so they are
 * per worker; but the bias is a component of every example (a feature
 * that is always on), and Hogwild! is lock-free SGD on ONE shared vector:
 * keeping a private bias per worker or writing it every k updates would be
 * another algorithm (local SGD, delayed updates), so every update still
 * reads and writes it. The head features of a power-law set are written by
 * most updates too (on synth-sparse with alpha = 1 about 13 of a row's 40
 * features fall in the first 16 floats): spreading them one per cache line
 * would turn one line's transfer per update into one per hot feature, so
 * they stay packed. Measured before on 16 cores, 1.8x at P = 16 with the
 * shared counter, 4x with uniform features and neither bias nor counter.
 * Dense updates are heavier, so the same contention costs relatively less.
 *
 * Simulation charges flops only, so with one core per worker (hosts = 1,
 * cores = P) its time shows perfect parallelism while its interleaving
 * shows real staleness, deterministic for a seed. Sync hand-offs cost what
 * a message on the host's loopback costs (zero latency on generated
 * clusters): the simulated lock shows the serialisation, not the hand-off
 * overhead, and simulated round-robin looks as fast as Hogwild!; real
 * runs show both costs.
 *
 * Evaluation: the reporter snapshots the shared weights (relaxed loads,
 * never charged) at each evaluation point and evaluates every snapshot
 * after training, so evaluating never stalls the workers or the clock.
 */
#include "algorithms/hogwild.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { TAG_NEXT = 1, TAG_LOCK_TOKEN = 2, TAG_TURN = 3 };

#define LINE 64 /* bytes: keep per-rank counters on their own cache lines */

/* The head of the shared block; per-rank counters and the weights follow. */
typedef struct hw_head {
    uint64_t joined;   /* ranks that found this block (before the first update only) */
    char pad1[LINE - sizeof(uint64_t)];
    int32_t lock_tail; /* lock: 1 + the rank at the tail of the queue; 0 = free */
    char pad2[LINE - sizeof(int32_t)];
} hw_head;

/* One worker's counts, written by it alone, read by others only to sum
 * them (a staleness sample, the reporter's snapshots). */
typedef struct hw_counts {
    uint64_t updates;       /* written */
    uint64_t sampled;       /* of them, measured for staleness */
    uint64_t staleness_sum; /* over the sampled ones */
    uint64_t staleness_max;
    char pad[LINE - 4 * sizeof(uint64_t)];
} hw_counts;

/* What the reporter keeps with each snapshot of the shared weights. */
enum { SNAP_TIME, SNAP_EPOCH, SNAP_STEP, SNAP_EXTRA, SNAP_DOUBLES = SNAP_EXTRA + HOGWILD_NEXTRA };

const char *const hogwild_sync_names[] = {"none", "lock", "round-robin", NULL};

static const char *const extra_names[HOGWILD_NEXTRA] = {"staleness_mean", "updates_per_s"};
static const char *const stat_names[HOGWILD_NSTATS] = {
    "updates", "train_seconds", "updates_per_s", "staleness_mean", "staleness_max",
    "seconds_to_target_loss"};

static const train_opt opts[] = {
    {"sync", "none|lock|round-robin",
     "none: Hogwild! (default); lock: one lock around every update; round-robin: writes take turns"},
    {"target-loss", "X", "report the time of the first evaluation with train loss <= X"},
    {NULL, NULL, NULL},
};

static int check(const train_setup *setup, char *err, size_t errlen)
{
    const ml_config *ml = setup->ml;
    if (ml->optimizer != ML_OPTIM_SGD || ml->momentum != 0) {
        snprintf(err, errlen, "plain SGD only (no --momentum, no --optimizer adagrad): their "
                 "state would have to be shared too");
        return -1;
    }
    if (setup->prob->train.n < (size_t)setup->workers) {
        snprintf(err, errlen, "%d workers for %zu training examples", setup->workers,
                 setup->prob->train.n);
        return -1;
    }
    return 0;
}

const train_algo hogwild_algo = {
    .name = "hogwild",
    .summary = "Hogwild!: lock-free asynchronous SGD on weights shared by one host's workers",
    .opts = opts,
    .default_workers = 4,
    .nextra = HOGWILD_NEXTRA,
    .extra_names = extra_names,
    .nstats = HOGWILD_NSTATS,
    .stat_names = stat_names,
    .check = check,
    .rank = hogwild_rank,
};

/* ---- the shared weights: relaxed atomics on every component ---- */

static float load_f(const float *p)
{
    float v;
    __atomic_load(p, &v, __ATOMIC_RELAXED);
    return v;
}

static void store_f(float *p, float v) { __atomic_store(p, &v, __ATOMIC_RELAXED); }

static uint64_t load_u(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }

static void store_u(uint64_t *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_RELAXED); }

/* Updates written so far, all workers: the sum of their own counts. */
static uint64_t updates_so_far(const hw_counts *counts, int W)
{
    uint64_t n = 0;
    for (int i = 0; i < W; i++)
        n += load_u(&counts[i].updates);
    return n;
}

/* Step 1: copy into local what the gradient of the batch will read. A
 * linear model on sparse data reads rows j of W (K floats each) for the
 * batch's features j, and the K biases at d K; anything else reads all.
 * Returns the number of floats read. */
static size_t hw_read(const float *w, float *local, size_t P, const ml_model *m,
                    const ml_dataset *ds, const size_t *idx, size_t b)
{
    ml_model_kind kind = ml_model_kind_of(m);
    if (!ds->sparse || kind == ML_MODEL_MLP) {
        for (size_t j = 0; j < P; j++)
            local[j] = load_f(w + j);
        return P;
    }
    size_t K = kind == ML_MODEL_SOFTMAX ? (size_t)ml_model_classes(m) : 1, nnz = 0;
    for (size_t i = 0; i < b; i++) {
        nnz += ds->row_ptr[idx[i] + 1] - ds->row_ptr[idx[i]];
        for (size_t k = ds->row_ptr[idx[i]]; k < ds->row_ptr[idx[i] + 1]; k++)
            for (size_t c = 0, j = (size_t)ds->col[k] * K; c < K; c++)
                local[j + c] = load_f(w + j + c);
    }
    for (size_t c = 0, j = ml_model_inputs(m) * K; c < K; c++)
        local[j + c] = load_f(w + j + c);
    return (nnz + 1) * K;
}

/* Step 3: w_j -= lr g_j, each component a load and a store (not an atomic
 * read-modify-write: a concurrent update of the same j may be lost, as in
 * the paper). Returns the number of components written. */
static size_t hw_write(float *w, const ml_grad *g, float lr)
{
    if (g->sparse) {
        for (size_t i = 0; i < g->nnz; i++) {
            float *p = w + g->index[i];
            store_f(p, load_f(p) - lr * g->value[i]);
        }
        return g->nnz;
    }
    for (size_t j = 0; j < g->n; j++)
        store_f(w + j, load_f(w + j) - lr * g->dense[j]);
    return g->n;
}

/* ---- the lock: an MCS queue whose waiting is a blocking receive ---- */

static int lock_acquire(rt *r, hw_head *h)
{
    int me = rt_rank(r), tok, rc;
    int prev = __atomic_exchange_n(&h->lock_tail, me + 1, __ATOMIC_ACQ_REL) - 1;
    if (prev < 0)
        return RT_OK;
    if ((rc = rt_send(r, prev, TAG_NEXT, &me, sizeof me)) ||
        (rc = rt_recv(r, prev, TAG_LOCK_TOKEN, &tok, sizeof tok, NULL)))
        return rt_fail(r, rc, "hogwild lock: waiting behind rank %d: %s", prev, rt_strerror(rc));
    return RT_OK;
}

static int lock_release(rt *r, hw_head *h)
{
    int me = rt_rank(r), next, rc;
    int32_t tail = me + 1;
    if (__atomic_compare_exchange_n(&h->lock_tail, &tail, 0, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return RT_OK;
    /* someone swapped in behind us: its "I am next" is sent or on its way */
    rt_status st;
    if ((rc = rt_recv(r, RT_ANY_SOURCE, TAG_NEXT, &next, sizeof next, &st)) ||
        (rc = rt_send(r, st.source, TAG_LOCK_TOKEN, &me, sizeof me)))
        return rt_fail(r, rc, "hogwild lock: handing over: %s", rt_strerror(rc));
    return RT_OK;
}

/* ---- round-robin: a token around the ring, carrying the step ---- */

static int turn_wait(rt *r, long step)
{
    int me = rt_rank(r), W = rt_size(r), rc;
    if (W == 1 || (me == 0 && step == 0))
        return RT_OK;
    int prev = (me + W - 1) % W;
    long got;
    if ((rc = rt_recv(r, prev, TAG_TURN, &got, sizeof got, NULL)))
        return rt_fail(r, rc, "hogwild round-robin: waiting for rank %d: %s", prev, rt_strerror(rc));
    long want = me == 0 ? step - 1 : step;
    if (got != want)
        return rt_fail(r, RT_EPROTO, "hogwild round-robin: rank %d passed the turn of step %ld, "
                       "expected %ld", prev, got, want);
    return RT_OK;
}

static int turn_pass(rt *r, long step, long steps)
{
    int me = rt_rank(r), W = rt_size(r);
    if (W == 1 || (me == W - 1 && step == steps - 1))
        return RT_OK;
    return rt_send(r, (me + 1) % W, TAG_TURN, &step, sizeof step);
}

/* ---- the reporter ---- */

typedef struct hw_report {
    train_snaps snaps;
    float *copy;         /* P: the weights as one snapshot read them */
    uint64_t last_updates, last_sampled, last_stale;
    double last_time_s;
} hw_report;

/* Snapshot the shared weights (relaxed loads) with the progress so far:
 * all workers' updates, as an epoch of per_epoch updates (or at the end,
 * the run's epochs), and the staleness sampled since the last snapshot. */
static int report_snap(rt *r, hw_report *rep, const float *w, size_t P,
                       const hw_counts *counts, int W, double time_s, double per_epoch,
                       double final_epoch)
{
    for (size_t j = 0; j < P; j++)
        rep->copy[j] = load_f(w + j);
    uint64_t stale = 0, done = 0, sampled = 0;
    for (int i = 0; i < W; i++) {
        done += load_u(&counts[i].updates);
        sampled += load_u(&counts[i].sampled);
        stale += load_u(&counts[i].staleness_sum);
    }
    double epoch = final_epoch >= 0 ? final_epoch : (double)done / per_epoch;
    double meta[SNAP_DOUBLES] = {[SNAP_TIME] = time_s, [SNAP_EPOCH] = epoch, [SNAP_STEP] = (double)done};
    meta[SNAP_EXTRA + HOGWILD_X_STALENESS_MEAN] =
        sampled > rep->last_sampled
            ? (double)(stale - rep->last_stale) / (double)(sampled - rep->last_sampled) : 0;
    meta[SNAP_EXTRA + HOGWILD_X_UPDATES_PER_S] =
        time_s > rep->last_time_s ? (double)(done - rep->last_updates) / (time_s - rep->last_time_s) : 0;
    rep->last_updates = done;
    rep->last_sampled = sampled;
    rep->last_stale = stale;
    rep->last_time_s = time_s;
    return train_snaps_take(r, &rep->snaps, rep->copy, meta);
}

/* Evaluate every snapshot into the slot, then the run's totals. */
static int report_finish(rt *r, train_eval *ev, hw_report *rep, size_t P,
                         const hw_counts *counts, int W, const hogwild_opts *opt)
{
    train_out *out = ev->out;
    train_gathered g;
    float *whole = rep->copy;
    int rc = train_snaps_gather(r, &rep->snaps, 1, P, NULL, 0, &g);
    for (int i = 0; i < g.npoints && !rc; i++) {
        const double *m = train_gathered_meta(&g, i, 0);
        train_point at = {.time_s = train_gathered_point(&g, i, whole), .epoch = m[SNAP_EPOCH],
                          .step = (long)m[SNAP_STEP]};
        memcpy(at.extra, m + SNAP_EXTRA, HOGWILD_NEXTRA * sizeof *m);
        rc = train_eval_point(ev, whole, &at);
    }
    train_gathered_free(&g);
    if (rc)
        return rc;
    double last_s = rep->snaps.meta[(size_t)(rep->snaps.count - 1) * SNAP_DOUBLES + SNAP_TIME];
    uint64_t updates = 0, sampled = 0, stale = 0, stale_max = 0;
    for (int i = 0; i < W; i++) {
        updates += load_u(&counts[i].updates);
        sampled += load_u(&counts[i].sampled);
        stale += load_u(&counts[i].staleness_sum);
        uint64_t m = load_u(&counts[i].staleness_max);
        stale_max = m > stale_max ? m : stale_max;
    }
    double *st = out->stats;
    st[HOGWILD_S_UPDATES] = (double)updates;
    st[HOGWILD_S_TRAIN_SECONDS] = last_s;
    st[HOGWILD_S_UPDATES_PER_S] = last_s > 0 ? (double)updates / last_s : NAN;
    st[HOGWILD_S_STALENESS_MEAN] = sampled ? (double)stale / (double)sampled : 0;
    st[HOGWILD_S_STALENESS_MAX] = (double)stale_max;
    st[HOGWILD_S_SECONDS_TO_TARGET] = NAN;
    for (int i = 0; i < out->npoints && !isnan(opt->target_loss); i++)
        if (out->points[i].train_loss <= opt->target_loss) {
            st[HOGWILD_S_SECONDS_TO_TARGET] = out->points[i].time_s;
            break;
        }
    train_eval_finish(ev, rep->snaps.w + (size_t)(rep->snaps.count - 1) * P, P);
    return RT_OK;
}

/* ---- the worker ---- */

/* The shared block: the head, per-rank counts, then the weights. */
typedef struct hw_block {
    hw_head *head;
    hw_counts *counts;
    float *w;
} hw_block;

/* Find the host's block; rank 0 writes the starting weights into it (the
 * serial run's, through local). */
static int hw_join(rt *r, const ml_model *model, size_t P, uint64_t seed, float *local,
                   hw_block *b)
{
    int W = rt_size(r);
    size_t bytes = sizeof(hw_head) + (size_t)W * sizeof(hw_counts) + P * sizeof(float);
    char *block = rt_shared(r, "hogwild", bytes);
    if (!block) {
        char err[512];
        snprintf(err, sizeof err, "%s", rt_error(r));
        return rt_fail(r, RT_ENOMEM, "hogwild: shared weights: %s", err);
    }
    b->head = (hw_head *)block;
    b->counts = (hw_counts *)(block + sizeof(hw_head));
    b->w = (float *)(block + sizeof(hw_head) + (size_t)W * sizeof(hw_counts));
    if (rt_rank(r) == 0) {
        ml_model_init_params(model, local, seed);
        for (size_t j = 0; j < P; j++)
            store_f(b->w + j, local[j]);
    }
    __atomic_fetch_add(&b->head->joined, 1, __ATOMIC_RELAXED);
    return RT_OK;
}

/* After the barrier the initial weights are written, and every rank must
 * have found the same block. */
static int hw_all_joined(rt *r, hw_head *head)
{
    int rc = rt_barrier(r);
    if (rc)
        return rc;
    uint64_t joined = load_u(&head->joined);
    if (joined != (uint64_t)rt_size(r))
        return rt_fail(r, RT_EINVAL, "hogwild: the %d ranks must share one host, but %llu share "
                       "rank %d's memory", rt_size(r), (unsigned long long)joined, rt_rank(r));
    return RT_OK;
}

int hogwild_rank(rt *r, void *arg)
{
    const train_setup *setup = arg;
    const hogwild_opts *opt = setup->algo;
    const ml_config *ml = setup->ml;
    const ml_dataset *train = &setup->prob->train;
    int W = rt_size(r), me = rt_rank(r), rc;
    int reporter = me == setup->reporter;
    char err[512];

    ml_model *model = NULL;
    ml_grad grad = {0};
    train_shard shard = {0};
    train_eval eval = {0};
    hw_report rep = {0};
    float *local = NULL;
    size_t *batch_idx = NULL;
    int eval_ready = 0;

    if ((rc = train_algo_check(r, &hogwild_algo, setup)) ||
        (rc = train_model_create(r, setup, &model)))
        return rc;
    size_t P = ml_model_nparams(model);
    local = malloc(P * sizeof *local);
    batch_idx = malloc(ml->batch * sizeof *batch_idx);
    if (!local || !batch_idx || ml_grad_init(&grad, P) != 0 ||
        train_shard_init(&shard, train, 0, 1, ml->seed + (uint64_t)me * 0x9E3779B97F4A7C15ull) != 0) {
        rc = rt_fail(r, RT_ENOMEM, "hogwild: out of memory for %zu parameters", P);
        goto done;
    }
    ml_schedule sched;
    if ((rc = train_optimizer_init(r, ml, 0, P, NULL, &sched)))
        goto done;

    hw_block blk = {0};
    if ((rc = hw_join(r, model, P, ml->seed, local, &blk)))
        goto done;
    hw_head *head = blk.head;
    hw_counts *counts = blk.counts, *mine = &counts[me];
    float *w = blk.w;
    train_snaps_init(&rep.snaps, P, SNAP_DOUBLES);
    train_schedule sch;
    train_schedule_init(&sch, ml, 1);
    if (reporter) {
        if ((rc = train_eval_init(&eval, r, setup, model)))
            goto done;
        eval_ready = 1;
        if (!(rep.copy = malloc(P * sizeof *rep.copy))) {
            rc = rt_fail(r, RT_ENOMEM, "hogwild: no memory for a snapshot of %zu parameters", P);
            goto done;
        }
    }
    if ((rc = hw_all_joined(r, head)))
        goto done;

    double t0 = rt_now(r);
    long steps_per_epoch = train_steps_per_epoch(train->n, W, ml->batch);
    long steps = steps_per_epoch * ml->epochs;
    double per_epoch = (double)W * (double)steps_per_epoch;
    uint64_t stale_every = 2u * (uint64_t)W; /* see "Staleness" above */
    uint64_t stale_sum = 0, stale_max = 0, sampled = 0;
    uint64_t draw = (ml->seed + 1) * 0x9E3779B97F4A7C15ull ^ ((uint64_t)me + 1) * 0xD1B54A32D192ED03ull;
    for (long step = 0; step < steps; step++) {
        /* this worker's progress: its step size and the reporter's schedule */
        double epoch = (double)step / (double)steps_per_epoch;
        if ((rc = train_step_begin(setup, r, step)))
            break;
        if (reporter && train_snaps_room(&rep.snaps) && train_schedule_due(&sch, epoch) &&
            (rc = report_snap(r, &rep, w, P, counts, W, rt_now(r) - t0, per_epoch, -1)))
            break;
        size_t b = train_shard_next(&shard, ml->batch, batch_idx);
        if (opt->sync == HOGWILD_SYNC_LOCK && (rc = lock_acquire(r, head)))
            break;

        /* ---- 1. read ---- */
        draw ^= draw << 13; /* xorshift64: which updates are measured */
        draw ^= draw >> 7;
        draw ^= draw << 17;
        int sample = draw % stale_every == 0;
        uint64_t before = sample ? updates_so_far(counts, W) : 0;
        size_t nread = hw_read(w, local, P, model, train, batch_idx, b);
        /* priced only by a calibration (see RT_WORK_SHARED_READ) */
        if ((rc = rt_compute_as(r, RT_WORK_SHARED_READ, (double)nread)))
            break;

        /* ---- 2. gradient, charged, and the write's element-wise flops ---- */
        double flops;
        if (ml_model_loss_grad(model, local, train, batch_idx, b, &grad, NULL, &flops, err,
                               sizeof err) != 0) {
            rc = rt_fail(r, RT_EINVAL, "gradient: %s", err);
            break;
        }
        if ((rc = train_charge(r, flops)) ||
            (rc = rt_compute_as(r, RT_WORK_SHARED_WRITE, 2.0 * (double)(grad.sparse ? grad.nnz : P))))
            break;

        /* ---- 3. write ---- */
        if (opt->sync == HOGWILD_SYNC_ROUND_ROBIN && (rc = turn_wait(r, step)))
            break;
        hw_write(w, &grad, (float)ml_schedule_lr(&sched, epoch));
        if (sample) { /* this worker's own count has not moved: the rest is others' */
            uint64_t stale = updates_so_far(counts, W) - before;
            stale_sum += stale;
            stale_max = stale > stale_max ? stale : stale_max;
            store_u(&mine->sampled, ++sampled);
            store_u(&mine->staleness_sum, stale_sum);
            store_u(&mine->staleness_max, stale_max);
        }
        store_u(&mine->updates, (uint64_t)step + 1);
        if (opt->sync == HOGWILD_SYNC_ROUND_ROBIN && (rc = turn_pass(r, step, steps)))
            break;
        if (opt->sync == HOGWILD_SYNC_LOCK && (rc = lock_release(r, head)))
            break;
    }
    if (rc)
        goto done;
    /* every update has landed */
    if ((rc = rt_barrier(r)))
        goto done;
    if (reporter &&
        !(rc = report_snap(r, &rep, w, P, counts, W, rt_now(r) - t0, per_epoch, (double)ml->epochs)))
        rc = report_finish(r, &eval, &rep, P, counts, W, opt);
done:
    if (eval_ready)
        train_eval_free(&eval);
    train_snaps_free(&rep.snaps);
    free(rep.copy);
    train_shard_free(&shard);
    ml_grad_free(&grad);
    ml_model_free(model);
    free(local);
    free(batch_idx);
    return rc;
}
