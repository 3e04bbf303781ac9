/* lab_mp.c -- the checker of lab 05: a student's layer split by neurons
 * (plugin_mp_split, plugin_mp_forward, plugin_mp_backward,
 * algorithms/plugin.h) and its boundary exchanges.
 *
 * The checker makes one fully connected layer (weights, biases, inputs
 * and an output gradient from a fixed hash), hands partition k its
 * columns by the student's split, and calls the student's forward and
 * backward on every partition. Then, each a TAP line:
 *   - the split covers every neuron once, in order, sizes within one;
 *   - forward: every partition holds the unsplit layer's whole output,
 *     the same bits on all, for 1 to 7 partitions and uneven splits;
 *   - backward: the partitions' gW and gb are the unsplit layer's, and dx
 *     is each partition's slice of the whole input gradient; dx NULL;
 *   - on real sockets (threads) the same bits as in simulation;
 *   - simulated time of each call is the lab's cost formula, to 1e-6.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algorithms/plugin.h"
#include "cli/cli.h"
#include "cli/lab.h"

#define MAX_B 3
#define MAX_N 16
#define MAX_P 8

typedef struct mp_fns {
    plugin_mp_split_fn *split;
    plugin_mp_forward_fn *forward;
    plugin_mp_backward_fn *backward;
} mp_fns;

/* One layer's shapes, and what a run does with it. */
typedef struct mp_case {
    const mp_fns *fn;
    size_t n_in, n_out, B;
    int relu, with_dx;
    int timing;         /* large layer, times only (nothing copied back) */
} mp_case;

typedef struct mp_slot {
    float y[MAX_B * MAX_N];
    float gW[MAX_N * MAX_N], gb[MAX_N], dx[MAX_B * MAX_N];
    double forward_s, backward_s;
} mp_slot;

static float value(uint32_t what, size_t i, size_t j)
{
    uint32_t x = what * 0x9E3779B1u ^ (uint32_t)(i * 7919u + j * 104729u + 1u);
    x ^= x >> 15;
    x *= 0x2c1b3c6du;
    x ^= x >> 12;
    return (float)(x & 0xffff) / 32768.0f - 1.0f; /* in [-1, 1) */
}

static float W_of(size_t i, size_t j) { return value(1, i, j); }
static float b_of(size_t j) { return 0.3f * value(2, 0, j); }
static float x_of(size_t e, size_t i) { return value(3, e, i); }
static float dz_of(size_t e, size_t j) { return value(4, e, j); }

static int mp_rank(rt *r, void *argp)
{
    const mp_case *c = argp;
    mp_slot *s = job_slot(r);
    int P = rt_size(r), me = rt_rank(r), rc = RT_OK;
    size_t lo, hi, in_lo, in_hi, n_in = c->n_in, n_out = c->n_out, B = c->B;
    c->fn->split(n_out, P, me, &lo, &hi);
    c->fn->split(n_in, P, me, &in_lo, &in_hi);
    size_t m = hi - lo, mi = in_hi - in_lo;
    float *W = malloc((n_in * m + 1) * sizeof *W), *b = malloc((m + 1) * sizeof *b);
    float *x = malloc((B * n_in + 1) * sizeof *x), *dz = malloc((B * m + 1) * sizeof *dz);
    float *y = malloc((B * n_out + 1) * sizeof *y), *gW = malloc((n_in * m + 1) * sizeof *gW);
    float *gb = malloc((m + 1) * sizeof *gb), *dx = malloc((B * mi + 1) * sizeof *dx);
    if (!W || !b || !x || !dz || !y || !gW || !gb || !dx) {
        rc = rt_fail(r, RT_ENOMEM, "checker: no memory for the layer");
        goto done;
    }
    for (size_t i = 0; i < n_in; i++)
        for (size_t j = 0; j < m; j++)
            W[i * m + j] = W_of(i, lo + j);
    for (size_t j = 0; j < m; j++)
        b[j] = b_of(lo + j);
    for (size_t e = 0; e < B; e++) {
        for (size_t i = 0; i < n_in; i++)
            x[e * n_in + i] = x_of(e, i);
        for (size_t j = 0; j < m; j++)
            dz[e * m + j] = dz_of(e, lo + j);
    }
    for (size_t k = 0; k < B * n_out; k++)
        y[k] = NAN; /* what nobody writes shows */
    for (size_t k = 0; k < B * mi; k++)
        dx[k] = NAN;
    plugin_mp_layer L = {.n_in = n_in, .n_out = n_out, .W = W, .b = b, .relu = c->relu};
    if ((rc = rt_barrier(r)))
        goto done;
    double t0 = rt_now(r);
    if ((rc = c->fn->forward(r, &L, x, B, y)))
        goto done;
    s->forward_s = rt_now(r) - t0;
    if ((rc = rt_barrier(r)))
        goto done;
    t0 = rt_now(r);
    if ((rc = c->fn->backward(r, &L, x, dz, B, gW, gb, c->with_dx ? dx : NULL)))
        goto done;
    s->backward_s = rt_now(r) - t0;
    if (!c->timing) {
        memcpy(s->y, y, B * n_out * sizeof *y);
        memcpy(s->gW, gW, n_in * m * sizeof *gW);
        memcpy(s->gb, gb, m * sizeof *gb);
        memcpy(s->dx, dx, B * mi * sizeof *dx);
    }
done:
    free(W), free(b), free(x), free(dz), free(y), free(gW), free(gb), free(dx);
    return rc;
}

static mp_slot slots[MAX_P];

/* The student's split of n over P, checked; NULL when right, else why. */
static const char *split_wrong(const mp_fns *fn, size_t n, int P)
{
    static char why[300];
    size_t at = 0, small = (size_t)-1, big = 0;
    for (int k = 0; k < P; k++) {
        size_t lo = 0, hi = 0;
        fn->split(n, P, k, &lo, &hi);
        if (lo != at || hi < lo || hi > n) {
            snprintf(why, sizeof why, "n = %zu over %d partitions: partition %d owns [%zu, %zu), but "
                     "the neurons before it end at %zu", n, P, k, lo, hi, at);
            return why;
        }
        at = hi;
        small = hi - lo < small ? hi - lo : small;
        big = hi - lo > big ? hi - lo : big;
    }
    if (at != n) {
        snprintf(why, sizeof why, "n = %zu over %d partitions: neurons %zu to %zu belong to no "
                 "partition (the remainder of n / P must go somewhere)", n, P, at, n - 1);
        return why;
    }
    if (big > small + 1) {
        snprintf(why, sizeof why, "n = %zu over %d partitions: sizes from %zu to %zu; they may "
                 "differ by one at most, or the largest partition sets the pace", n, P, small, big);
        return why;
    }
    return NULL;
}

/* Cases a wrong split kept from running, and the first one's reason. */
static int skipped;
static char skipped_why[300];

/* Run c on P partitions: 0 with the slots filled; -1, said into o, when
 * the run failed; SKIPPED when the split of its shapes is wrong. */
enum { SKIPPED = -2 };
static int mp_run(outcome *o, const mp_case *c, int P, const char *backend)
{
    const char *why = split_wrong(c->fn, c->n_out, P);
    if (!why)
        why = split_wrong(c->fn, c->n_in, P);
    if (why) {
        if (skipped++ == 0)
            snprintf(skipped_why, sizeof skipped_why, "%s", why);
        return SKIPPED;
    }
    sim_config sim = sim_config_default();
    job_config cfg = lab_job_config(strcmp(backend, "sim") != 0, &sim, P, sizeof(mp_slot));
    job_result res;
    int rc = job_run(&cfg, mp_rank, (void *)c, &res);
    if (rc != 0)
        lab_say(o, "%s, %d partitions, %zu -> %zu neurons: %s", backend, P, c->n_in, c->n_out, res.error);
    else
        for (int i = 0; i < P; i++)
            slots[i] = *(mp_slot *)job_result_slot(&res, i);
    job_result_free(&res);
    return rc ? -1 : 0;
}

/* ---- the unsplit layer, in double ---- */

static double ref_y(const mp_case *c, size_t e, size_t j)
{
    double z = b_of(j);
    for (size_t i = 0; i < c->n_in; i++)
        z += (double)x_of(e, i) * W_of(i, j);
    return c->relu && z < 0 ? 0 : z;
}

static double ref_gW(const mp_case *c, size_t i, size_t j)
{
    double g = 0;
    for (size_t e = 0; e < c->B; e++)
        g += (double)x_of(e, i) * dz_of(e, j);
    return g;
}

static double ref_gb(const mp_case *c, size_t j)
{
    double g = 0;
    for (size_t e = 0; e < c->B; e++)
        g += dz_of(e, j);
    return g;
}

static double ref_dx(const mp_case *c, size_t e, size_t i)
{
    double g = 0;
    for (size_t j = 0; j < c->n_out; j++)
        g += (double)dz_of(e, j) * W_of(i, j);
    return g;
}

static int near(float got, double want)
{
    return fabs(got - want) <= 1e-5 * fabs(want) + 1e-5; /* NaN fails */
}

typedef struct mp_ctx {
    mp_fns fn;
    int quick;
} mp_ctx;

static const struct {
    size_t n_in, n_out, B;
    int relu;
} shapes[] = {{12, 12, 2, 1}, {13, 10, 3, 1}, {9, 7, 1, 0}, {16, 11, 2, 1}, {7, 16, 3, 0}};

/* After a check: the cases a wrong split kept out fail it. */
static void say_skipped(outcome *o)
{
    if (skipped) {
        lab_say(o, "%d case%s not run, the split being wrong: %s", skipped, skipped > 1 ? "s" : "",
                skipped_why);
        o->ok = 0;
    }
}
static const int parts_full[] = {1, 2, 3, 4, 5, 7, 0}, parts_quick[] = {1, 2, 3, 5, 7, 0};

static void check_split(outcome *o, const void *ctxp)
{
    const mp_ctx *c = ctxp;
    o->ok = 1;
    for (size_t n = 1; n <= 40 && o->ok; n++)
        for (int P = 1; P <= 9 && (size_t)P <= n && o->ok; P++) {
            const char *why = split_wrong(&c->fn, n, P);
            if (why) {
                lab_say(o, "%s", why);
                o->ok = 0;
            }
        }
}

static void check_forward(outcome *o, const void *ctxp)
{
    const mp_ctx *c = ctxp;
    o->ok = 1;
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (const int *P = c->quick ? parts_quick : parts_full; *P; P++) {
            mp_case k = {&c->fn, shapes[s].n_in, shapes[s].n_out, shapes[s].B, shapes[s].relu, 1, 0};
            int rc = mp_run(o, &k, *P, "sim");
            if (rc == SKIPPED)
                continue;
            if (rc != 0) {
                o->ok = 0;
                return;
            }
            for (int q = 0; q < *P; q++)
                for (size_t e = 0; e < k.B; e++)
                    for (size_t j = 0; j < k.n_out; j++) {
                        float got = slots[q].y[e * k.n_out + j];
                        size_t lo, hi;
                        c->fn.split(k.n_out, *P, q, &lo, &hi);
                        if (!near(got, ref_y(&k, e, j))) {
                            lab_say(o, "%d partitions, %zu -> %zu neurons, B = %zu: partition %d has "
                                    "y[%zu][%zu] = %.7g, the unsplit layer %.7g%s", *P, k.n_in,
                                    k.n_out, k.B, q, e, j, got, ref_y(&k, e, j),
                                    j >= lo && j < hi ? " (one of its own neurons)"
                                                      : " (another partition's neuron: did its block arrive, "
                                                        "and land in its columns?)");
                            o->ok = 0;
                            return;
                        }
                        if (memcmp(&got, &slots[0].y[e * k.n_out + j], sizeof got) != 0) {
                            lab_say(o, "%d partitions: y[%zu][%zu] has other bits on partition %d "
                                    "than on partition 0", *P, e, j, q);
                            o->ok = 0;
                            return;
                        }
                    }
        }
    say_skipped(o);
}

static void check_backward(outcome *o, const void *ctxp)
{
    const mp_ctx *c = ctxp;
    o->ok = 1;
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (const int *P = c->quick ? parts_quick : parts_full; *P; P++)
            for (int with_dx = 1; with_dx >= 0; with_dx--) {
                mp_case k = {&c->fn, shapes[s].n_in, shapes[s].n_out, shapes[s].B, shapes[s].relu,
                             with_dx, 0};
                int rc = mp_run(o, &k, *P, "sim");
                if (rc == SKIPPED)
                    continue;
                if (rc != 0) {
                    o->ok = 0;
                    return;
                }
                for (int q = 0; q < *P; q++) {
                    size_t lo, hi, ilo, ihi;
                    c->fn.split(k.n_out, *P, q, &lo, &hi);
                    c->fn.split(k.n_in, *P, q, &ilo, &ihi);
                    size_t m = hi - lo, mi = ihi - ilo;
                    for (size_t i = 0; i < k.n_in; i++)
                        for (size_t j = 0; j < m; j++)
                            if (!near(slots[q].gW[i * m + j], ref_gW(&k, i, lo + j))) {
                                lab_say(o, "%d partitions: partition %d's gW[%zu][%zu] (neuron %zu) is "
                                        "%.7g, the unsplit layer's %.7g", *P, q, i, j, lo + j,
                                        slots[q].gW[i * m + j], ref_gW(&k, i, lo + j));
                                o->ok = 0;
                                return;
                            }
                    for (size_t j = 0; j < m; j++)
                        if (!near(slots[q].gb[j], ref_gb(&k, lo + j))) {
                            lab_say(o, "%d partitions: partition %d's gb[%zu] is %.7g, the unsplit "
                                    "layer's %.7g", *P, q, j, slots[q].gb[j], ref_gb(&k, lo + j));
                            o->ok = 0;
                            return;
                        }
                    for (size_t e = 0; e < k.B && with_dx; e++)
                        for (size_t i = 0; i < mi; i++) {
                            double want = ref_dx(&k, e, ilo + i);
                            float got = slots[q].dx[e * mi + i];
                            if (!near(got, want)) {
                                lab_say(o, "%d partitions, %zu -> %zu neurons, B = %zu: partition %d's "
                                        "dx[%zu][%zu] (input %zu) is %.7g, the unsplit layer's %.7g: "
                                        "is it the sum of every partition's share dz W^T, or only its "
                                        "own?", *P, k.n_in, k.n_out, k.B, q, e, i, ilo + i, got, want);
                                o->ok = 0;
                                return;
                            }
                        }
                }
            }
    say_skipped(o);
}

static void check_real(outcome *o, const void *ctxp)
{
    const mp_ctx *c = ctxp;
    static const struct {
        size_t n_in, n_out;
        int P;
    } runs[] = {{12, 12, 3}, {16, 11, 4}};
    o->ok = 1;
    for (int t = 0; t < 2; t++) {
        mp_case k = {&c->fn, runs[t].n_in, runs[t].n_out, 3, 1, 1, 0};
        int P = runs[t].P;
        uint64_t h[2][MAX_P];
        int rc = 0;
        for (int b = 0; b < 2 && !rc; b++) {
            if ((rc = mp_run(o, &k, P, b ? "threads" : "sim")) != 0)
                break;
            for (int q = 0; q < P; q++)
                h[b][q] = fnv1a64(&slots[q], offsetof(mp_slot, forward_s));
        }
        if (rc == SKIPPED)
            continue;
        if (rc != 0) {
            o->ok = 0;
            return;
        }
        for (int q = 0; q < P; q++)
            if (h[0][q] != h[1][q]) {
                lab_say(o, "%d partitions: partition %d ends with other bits on sockets than in "
                        "simulation: does the order of dx's additions depend on which block "
                        "arrives first?", P, q);
                o->ok = 0;
                return;
            }
    }
    say_skipped(o);
}

static void check_time(outcome *o, const void *ctxp)
{
    const mp_ctx *c = ctxp;
    sim_config sim = sim_config_default();
    double a = sim.latency_s, beta = 1 / sim.bandwidth_Bps, speed = sim.speed_flops;
    static const int full[] = {1, 2, 3, 4, 5, 8, 0}, quick[] = {1, 2, 3, 8, 0};
    o->ok = 1;
    /* 240 inputs and neurons: every P here divides them, so no block is larger */
    const size_t n = 240, B = 4;
    for (const int *P = c->quick ? quick : full; *P; P++) {
        mp_case k = {&c->fn, n, n, B, 1, 1, 1};
        int rc = mp_run(o, &k, *P, "sim");
        if (rc == SKIPPED)
            continue;
        if (rc != 0) {
            o->ok = 0;
            continue;
        }
        double m = (double)n / *P, bytes = 4.0 * (double)B * m;
        double fwd = 2.0 * B * n * m / speed + (*P > 1 ? a + (*P - 1) * bytes * beta : 0);
        double bwd = 4.0 * B * n * m / speed +
                     (*P > 1 ? a + (*P - 1) * bytes * beta + (*P - 1) * B * m / speed : 0);
        double gf = 0, gb = 0;
        for (int q = 0; q < *P; q++) {
            gf = slots[q].forward_s > gf ? slots[q].forward_s : gf;
            gb = slots[q].backward_s > gb ? slots[q].backward_s : gb;
        }
        int okf = fabs(gf - fwd) <= 1e-6 * fwd, okb = fabs(gb - bwd) <= 1e-6 * bwd;
        lab_say(o, "%d partitions: forward %.9g s (formula %.9g)%s, backward %.9g s (formula %.9g)%s",
                *P, gf, fwd, okf ? "" : gf < fwd ? " <-- less" : " <-- more", gb, bwd,
                okb ? "" : gb < bwd ? " <-- less" : " <-- more");
        o->ok &= okf && okb;
    }
    say_skipped(o);
    if (!o->ok)
        lab_say(o, "(240 -> 240 neurons, B = 4; alpha %g s, beta %g s/B, %g flop/s; each exchange is "
                "one round: every block posted at once, then one wait)", a, beta, speed);
}

int lab_check_mp(const lab_checker *lab, const char *file, int quick)
{
    tap t = {0, 0};
    static const lab_case checks[] = {
        {check_split, "the split: every neuron once, in order, sizes within one (n = 1..40, P = 1..9)", 0},
        {check_forward, "forward: every partition holds the unsplit layer's output, 1 to 7 partitions", 0},
        {check_backward, "backward: gW, gb and each partition's slice of dx are the unsplit layer's", 0},
        {check_real, "on real sockets (threads) the same bits as in simulation", 0},
        {check_time, "simulated time of forward and backward is the cost formula, to 1e-6", 1},
    };
    int nchecks = (int)(sizeof checks / sizeof *checks);
    printf("TAP version 13\n1..%d\n", nchecks + 1);
    char err[1024];
    /* the point is to write the exchanges, not to call distlab's */
    static const char *const theirs[] = {"allgatherv", "reduce_scatterv", "allgather_ring",
                                         "reduce_scatter_ring", "allreduce", "allreduce_ring",
                                         "allreduce_tree", "allreduce_rd", "allreduce_rabenseifner",
                                         "bcast", "reduce", NULL};
    mp_ctx ctx = {{0}, quick};
    ctx.fn.split = (plugin_mp_split_fn *)cli_plugin_load(file, PLUGIN_MP_SPLIT, theirs, err, sizeof err);
    /* the other two from the same object, already loaded */
    static const char *const more[] = {PLUGIN_MP_FORWARD, PLUGIN_MP_BACKWARD};
    void *sym[2] = {NULL, NULL};
    if (ctx.fn.split && cli_plugin_siblings((void *)ctx.fn.split, file, more, sym, 2, err, sizeof err) == 0) {
        ctx.fn.forward = (plugin_mp_forward_fn *)sym[0];
        ctx.fn.backward = (plugin_mp_backward_fn *)sym[1];
    }
    int loaded = ctx.fn.split && ctx.fn.forward && ctx.fn.backward;
    lab_tap_line(&t, loaded, "%s builds, defines plugin_mp_split, _forward and _backward and calls none "
                 "of distlab's collectives", file);
    if (!loaded)
        lab_tap_diag(err);
    lab_run_cases(&t, checks, nchecks, &ctx, loaded);
    (void)lab;
    return lab_score(&t, lab, file);
}
