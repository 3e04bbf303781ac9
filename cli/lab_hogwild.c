/* lab_hogwild.c -- the checker of lab 04: a student's Hogwild! step
 * (plugin_hogwild_step, algorithms/plugin.h), lock-free and locked.
 *
 * W ranks on one host share a weight vector (rt_shared) and run SGD on a
 * small sparse logistic regression: rank i takes examples i, i + W, ...
 * of every epoch, one step each. The checker owns the lock the locked
 * baseline takes (an MCS queue lock whose waiting is a message, as in
 * algorithms/hogwild.c) and counts every lock and unlock, so it can say
 * whether the lock-free step took it. It checks, each a TAP line:
 *   - on one rank both steps give serial SGD's bits, and weights of
 *     features no example has keep their starting values;
 *   - the lock-free step never takes the lock; the locked one takes and
 *     releases it once per step;
 *   - simulated time (one core per rank): lock-free W ranks finish in
 *     1/W of the serial time, each rank's time exactly its own steps'
 *     flops; locked, no faster than one rank doing every step;
 *   - lock-free on 3 and 8 simulated ranks, the reference step's bits:
 *     the ranks interleave only at rt_compute, so this says whether the
 *     step reads before its compute and writes after it;
 *   - lock-free on 8 simulated ranks and on 4 real threads, the model
 *     still converges (its loss close to serial SGD's).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algorithms/plugin.h"
#include "cli/cli.h"
#include "cli/lab.h"

#define D 300          /* features; the bias is w[D] */
#define N 840          /* examples: divisible by 1..8 */
#define NNZ_MAX 8
#define EPOCHS 3
#define LR 0.4f
#define W_MAX 8
enum { TAG_NEXT = 401, TAG_TOKEN = 402 };

/* ---- the data: example e has e % 9 features (0 to 8), distinct ---- */

typedef struct hw_data {
    uint32_t index[N][NNZ_MAX];
    float x[N][NNZ_MAX];
    int nnz[N];
    float y[N];
    int used[D];       /* some example has feature j */
} hw_data;

static hw_data data;

static uint32_t mix(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

static float start_weight(size_t j)
{
    return j == D ? 0.0f : 0.01f * (float)((int)(j % 7) - 3);
}

static void make_data(void)
{
    memset(&data, 0, sizeof data);
    for (int e = 0; e < N; e++) {
        data.nnz[e] = e % 9;
        double score = 0.2;
        for (int k = 0; k < data.nnz[e]; k++) {
            uint32_t j;
            int again;
            uint32_t h = mix((uint32_t)(e * 131 + k * 7 + 1));
            do {
                /* features 250..299 appear in no example: they must stay put */
                j = (h = mix(h)) % 250;
                /* a skew: a third of the draws fall in the first 10 features */
                if (h % 3 == 0)
                    j %= 10;
                again = 0;
                for (int q = 0; q < k; q++)
                    again |= data.index[e][q] == j;
            } while (again);
            data.index[e][k] = j;
            data.x[e][k] = 0.5f + (float)(mix(h ^ 0x9e37u) & 0xffff) / 65536.0f;
            data.used[j] = 1;
            score += (mix(j + 77) & 1 ? 1.0 : -1.0) * data.x[e][k];
        }
        data.y[e] = score > 0 ? 1.0f : 0.0f;
    }
}

/* Serial SGD over examples 0..N-1, EPOCHS times, in plugin.h's order. */
static void serial_sgd(float *w)
{
    for (size_t j = 0; j <= D; j++)
        w[j] = start_weight(j);
    for (int ep = 0; ep < EPOCHS; ep++)
        for (int e = 0; e < N; e++) {
            float z = w[D];
            for (int k = 0; k < data.nnz[e]; k++)
                z += w[data.index[e][k]] * data.x[e][k];
            float g = 1.0f / (1.0f + expf(-z)) - data.y[e];
            for (int k = 0; k < data.nnz[e]; k++)
                w[data.index[e][k]] -= LR * g * data.x[e][k];
            w[D] -= LR * g;
        }
}

static double mean_loss(const float *w)
{
    double sum = 0;
    for (int e = 0; e < N; e++) {
        double z = w[D];
        for (int k = 0; k < data.nnz[e]; k++)
            z += (double)w[data.index[e][k]] * data.x[e][k];
        sum += data.y[e] > 0 ? log1p(exp(-z)) : log1p(exp(z));
    }
    return sum / N;
}

/* The simulated seconds of rank i's steps on W ranks, 1 Gflop/s. */
static double steps_seconds(int i, int W, double speed)
{
    double flops = 0;
    for (int e = i; e < N; e += W)
        flops += PLUGIN_HOGWILD_FLOPS(data.nnz[e]);
    return EPOCHS * flops / speed;
}

/* ---- the lock: an MCS queue, waiting by a blocking receive ---- */

typedef struct hw_head {
    int32_t lock_tail; /* 1 + the rank at the queue's tail; 0: free */
    char pad[60];
} hw_head;

typedef struct hw_slot {
    long locks, unlocks, steps;
    double seconds;    /* this rank's steps, from the barrier */
    float w[D + 1];    /* rank 0: the weights at the end */
} hw_slot;

typedef struct hw_lock {
    hw_head *head;
    hw_slot *slot;
} hw_lock;

static int lock_acquire(rt *r, void *arg)
{
    hw_lock *l = arg;
    int me = rt_rank(r), tok, rc;
    l->slot->locks++;
    int prev = __atomic_exchange_n(&l->head->lock_tail, me + 1, __ATOMIC_ACQ_REL) - 1;
    if (prev < 0)
        return RT_OK;
    if ((rc = rt_send(r, prev, TAG_NEXT, &me, sizeof me)) ||
        (rc = rt_recv(r, prev, TAG_TOKEN, &tok, sizeof tok, NULL)))
        return rc;
    return RT_OK;
}

static int lock_release(rt *r, void *arg)
{
    hw_lock *l = arg;
    int me = rt_rank(r), next, rc;
    int32_t tail = me + 1;
    l->slot->unlocks++;
    if (__atomic_compare_exchange_n(&l->head->lock_tail, &tail, 0, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE))
        return RT_OK;
    rt_status st;
    if ((rc = rt_recv(r, RT_ANY_SOURCE, TAG_NEXT, &next, sizeof next, &st)) ||
        (rc = rt_send(r, st.source, TAG_TOKEN, &me, sizeof me)))
        return rc;
    return RT_OK;
}

/* ---- one run ---- */

typedef struct hw_arg {
    plugin_hogwild_step_fn *fn;
    int locked;
} hw_arg;

static int hw_rank(rt *r, void *argp)
{
    const hw_arg *a = argp;
    hw_slot *s = job_slot(r);
    int me = rt_rank(r), W = rt_size(r), rc;
    char *block = rt_shared(r, "lab04", sizeof(hw_head) + (D + 1) * sizeof(float));
    if (!block)
        return rt_fail(r, RT_ENOMEM, "checker: no shared memory: %s", rt_error(r));
    hw_lock lk = {(hw_head *)block, s};
    float *w = (float *)(block + sizeof(hw_head));
    if (me == 0)
        for (size_t j = 0; j <= D; j++)
            w[j] = start_weight(j);
    if ((rc = rt_barrier(r)))
        return rc;
    plugin_hogwild h = {.w = w, .d = D, .lr = LR, .locked = a->locked, .lock = lock_acquire,
                        .unlock = lock_release, .lock_arg = &lk};
    double t0 = rt_now(r);
    for (int ep = 0; ep < EPOCHS && !rc; ep++)
        for (int e = me; e < N && !rc; e += W) {
            rc = a->fn(r, &h, data.index[e], data.x[e], (size_t)data.nnz[e], data.y[e]);
            s->steps++;
        }
    s->seconds = rt_now(r) - t0;
    if (rc)
        return rc;
    if ((rc = rt_barrier(r)))
        return rc;
    if (me == 0)
        for (size_t j = 0; j <= D; j++)
            __atomic_load(&w[j], &s->w[j], __ATOMIC_RELAXED);
    return RT_OK;
}

static hw_slot slots[W_MAX];

/* W ranks on one host with a core each; 0 with the slots filled. */
static int hw_run(outcome *o, plugin_hogwild_step_fn *fn, int locked, int W, const char *backend)
{
    hw_arg a = {fn, locked};
    sim_config sim = sim_config_default();
    sim.hosts = 1; /* one host with a core per rank */
    sim.cores = W;
    job_config cfg = lab_job_config(strcmp(backend, "sim") != 0, &sim, W, sizeof(hw_slot));
    job_result res;
    int rc = job_run(&cfg, hw_rank, &a, &res);
    if (rc != 0)
        lab_say(o, "%s, %d ranks, %s: %s", backend, W, locked ? "locked" : "lock-free", res.error);
    else
        for (int i = 0; i < W; i++)
            slots[i] = *(hw_slot *)job_result_slot(&res, i);
    job_result_free(&res);
    return rc ? -1 : 0;
}

typedef struct hw_ctx {
    plugin_hogwild_step_fn *fn;
    int quick;
} hw_ctx;

/* ---- the checks ---- */

/* One rank: serial SGD's bits; unused features untouched. */
static void check_serial_in(outcome *o, const hw_ctx *c, int locked)
{
    float want[D + 1];
    serial_sgd(want);
    o->ok = 1;
    if (hw_run(o, c->fn, locked, 1, "sim") != 0) {
        o->ok = 0;
        return;
    }
    const float *got = slots[0].w;
    for (size_t j = 0; j <= D; j++) {
        if (j < D && !data.used[j] && got[j] != start_weight(j)) {
            lab_say(o, "weight %zu, a feature no example has, became %.9g (it started at %.9g): "
                    "a step reads and writes only its example's weights and the bias", j, got[j],
                    start_weight(j));
            o->ok = 0;
            return;
        }
        if (memcmp(&got[j], &want[j], sizeof want[j]) != 0) {
            double rel = fabs(got[j] - want[j]) / (fabs(want[j]) + 1e-30);
            lab_say(o, "1 rank, %s: %s %zu is %.9g after %d epochs, serial SGD's is %.9g%s",
                    locked ? "locked" : "lock-free", j == D ? "the bias, weight" : "weight", j,
                    got[j], EPOCHS, want[j],
                    rel < 1e-4 ? " -- close, but not its bits: keep plugin.h's order (z from the "
                                 "bias, then k = 0..nnz-1; w -= lr * g * x)"
                               : "");
            o->ok = 0;
            return;
        }
    }
}

static void check_serial(outcome *o, const void *ctx) { check_serial_in(o, ctx, 0); }
static void check_serial_locked(outcome *o, const void *ctx) { check_serial_in(o, ctx, 1); }

static void check_lock_use(outcome *o, const void *ctxp)
{
    const hw_ctx *c = ctxp;
    o->ok = 1;
    for (int locked = 0; locked <= 1; locked++) {
        if (hw_run(o, c->fn, locked, 4, "sim") != 0) {
            o->ok = 0;
            continue;
        }
        for (int i = 0; i < 4; i++) {
            const hw_slot *s = &slots[i];
            long want = locked ? s->steps : 0;
            if (s->locks != want || s->unlocks != want) {
                lab_say(o, "4 ranks, %s: rank %d took the lock %ld times and released it %ld "
                        "times in %ld steps; %s", locked ? "locked" : "lock-free", i, s->locks,
                        s->unlocks, s->steps,
                        locked ? "the baseline takes it once per step, around the whole step"
                               : "Hogwild! takes no lock at all");
                o->ok = 0;
                break;
            }
        }
    }
}

static void check_time(outcome *o, const void *ctxp)
{
    const hw_ctx *c = ctxp;
    sim_config sim = sim_config_default();
    double speed = sim.speed_flops, serial = steps_seconds(0, 1, speed);
    static const int full[] = {1, 2, 3, 4, 8, 0}, quick[] = {1, 2, 4, 8, 0};
    o->ok = 1;
    for (const int *W = c->quick ? quick : full; *W; W++) {
        if (hw_run(o, c->fn, 0, *W, "sim") != 0) {
            o->ok = 0;
            continue;
        }
        double worst = 0;
        int ok = 1;
        for (int i = 0; i < *W; i++) {
            double want = steps_seconds(i, *W, speed);
            ok &= fabs(slots[i].seconds - want) <= 1e-6 * want;
            if (!ok) {
                lab_say(o, "lock-free, %d ranks: rank %d took %.9g s simulated, its steps' "
                        "flops say %.9g s", *W, i, slots[i].seconds, want);
                break;
            }
            worst = slots[i].seconds > worst ? slots[i].seconds : worst;
        }
        if (ok)
            lab_say(o, "lock-free, %d ranks: %.4f ms simulated, %.2fx one rank's %.4f ms", *W,
                    worst * 1e3, serial / worst, serial * 1e3);
        o->ok &= ok;
    }
    if (hw_run(o, c->fn, 1, 4, "sim") != 0) {
        o->ok = 0;
        return;
    }
    double worst = 0;
    for (int i = 0; i < 4; i++)
        worst = slots[i].seconds > worst ? slots[i].seconds : worst;
    int ok = worst >= serial * (1 - 1e-9);
    lab_say(o, "locked, 4 ranks: %.4f ms simulated (one rank doing every step: %.4f ms)%s",
            worst * 1e3, serial * 1e3, ok ? "" : "  <-- faster than serial: is the lock held "
                                                "around the whole step?");
    o->ok &= ok;
}

/* The step as plugin.h writes it, lock-free: what the student's must do,
 * simcall for simcall, so that in simulation both interleave alike. */
static int reference_step(rt *r, const plugin_hogwild *h, const uint32_t *index, const float *x,
                          size_t nnz, float y)
{
    float *w = h->w, z, v;
    __atomic_load(&w[h->d], &z, __ATOMIC_RELAXED);
    for (size_t k = 0; k < nnz; k++) {
        __atomic_load(&w[index[k]], &v, __ATOMIC_RELAXED);
        z += v * x[k];
    }
    float g = 1.0f / (1.0f + expf(-z)) - y;
    int rc = rt_compute(r, PLUGIN_HOGWILD_FLOPS(nnz));
    for (size_t k = 0; k < nnz; k++) {
        __atomic_load(&w[index[k]], &v, __ATOMIC_RELAXED);
        v -= h->lr * g * x[k];
        __atomic_store(&w[index[k]], &v, __ATOMIC_RELAXED);
    }
    __atomic_load(&w[h->d], &v, __ATOMIC_RELAXED);
    v -= h->lr * g;
    __atomic_store(&w[h->d], &v, __ATOMIC_RELAXED);
    return rc;
}

/* In simulation the ranks interleave only at rt_compute, so a step that
 * reads, charges, then writes (re-reading each weight as it writes it)
 * ends a run with exactly the reference step's bits, staleness and all. */
static void check_interleaving(outcome *o, const void *ctxp)
{
    const hw_ctx *c = ctxp;
    static const int ranks[] = {3, 8};
    o->ok = 1;
    for (int t = 0; t < 2; t++) {
        float want[D + 1];
        if (hw_run(o, reference_step, 0, ranks[t], "sim") != 0) {
            o->ok = 0;
            return;
        }
        memcpy(want, slots[0].w, sizeof want);
        if (hw_run(o, c->fn, 0, ranks[t], "sim") != 0) {
            o->ok = 0;
            return;
        }
        for (size_t j = 0; j <= D; j++)
            if (memcmp(&slots[0].w[j], &want[j], sizeof want[j]) != 0) {
                lab_say(o, "lock-free, %d simulated ranks: %s %zu ends at %.9g, the reference step's "
                        "at %.9g. In simulation the other ranks run only while a step is in "
                        "rt_compute: read the weights before it, write after it, and write each "
                        "weight as it is then (load, subtract, store), not from the value read "
                        "before the compute", ranks[t], j == D ? "the bias, weight" : "weight", j,
                        slots[0].w[j], want[j]);
                o->ok = 0;
                return;
            }
    }
}

static void check_converges_on(outcome *o, const hw_ctx *c, int W, const char *backend)
{
    float serial[D + 1];
    serial_sgd(serial);
    float start[D + 1];
    for (size_t j = 0; j <= D; j++)
        start[j] = start_weight(j);
    double l0 = mean_loss(start), ls = mean_loss(serial);
    o->ok = 1;
    if (hw_run(o, c->fn, 0, W, backend) != 0) {
        o->ok = 0;
        return;
    }
    double l = mean_loss(slots[0].w);
    /* staleness may cost a little, never most of what serial SGD gained */
    int ok = isfinite(l) && l <= ls + 0.25 * (l0 - ls);
    lab_say(o, "lock-free, %d ranks (%s): mean loss %.4f after %d epochs; serial SGD %.4f, the "
            "start %.4f%s", W, backend, l, EPOCHS, ls, l0,
            ok ? "" : "  <-- does not converge: are updates lost, or written to the wrong weights?");
    o->ok &= ok;
}

static void check_converges_sim(outcome *o, const void *ctx) { check_converges_on(o, ctx, 8, "sim"); }
static void check_converges_real(outcome *o, const void *ctx)
{
    check_converges_on(o, ctx, 4, "threads");
}

int lab_check_hogwild(const lab_checker *lab, const char *file, int quick)
{
    tap t = {0, 0};
    static const lab_case checks[] = {
        {check_serial, "lock-free on one rank: serial SGD's bits; unused weights untouched", 0},
        {check_serial_locked, "locked on one rank: serial SGD's bits too", 0},
        {check_lock_use, "lock-free never takes the lock; locked takes and releases it once a step", 0},
        {check_time, "simulated time: lock-free W ranks take 1/W of serial; locked, no less than serial", 1},
        {check_interleaving, "lock-free on 3 and 8 simulated ranks: read, charge, write, as the reference step", 0},
        {check_converges_sim, "lock-free on 8 simulated ranks: the loss converges near serial SGD's", 1},
        {check_converges_real, "lock-free on 4 real threads: the loss converges near serial SGD's", 1},
    };
    int nchecks = (int)(sizeof checks / sizeof *checks);
    printf("TAP version 13\n1..%d\n", nchecks + 1);
    char err[1024];
    plugin_hogwild_step_fn *fn =
        (plugin_hogwild_step_fn *)cli_plugin_load(file, lab->symbol, NULL, err, sizeof err);
    lab_tap_line(&t, fn != NULL, "%s builds and defines %s", file, lab->symbol);
    if (!fn)
        lab_tap_diag(err);
    make_data();
    hw_ctx ctx = {fn, quick};
    lab_run_cases(&t, checks, nchecks, &ctx, fn != NULL);
    return lab_score(&t, lab, file);
}
