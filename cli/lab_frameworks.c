/* lab_frameworks.c -- the checker of lab 11: a student's bucketed,
 * overlapped backward (plugin_bucketed_backward, algorithms/plugin.h),
 * the schedule that separates PyTorch DDP and Horovod from one allreduce
 * after backward.
 *
 * Every rank holds a gradient of fractions (its own), runs the student's
 * backward over a small model of eight layers (one with no parameters at
 * each end of a block, as pooling layers have none), then sums a copy of
 * the same gradient with one allreduce. What must hold, as for
 * algorithms/dp_grad.c (tests/test_dp.c):
 *   - the same bits as the one allreduce (ring and rd, 2 to 5 ranks, any
 *     bucket size, overlap or not): scheduling changes, sums do not;
 *   - under the ideal network, the step's simulated time is the schedule's
 *     closed form, to 1e-6: with r_k when bucket k closes (the backward of
 *     the layers so far) and c_k its allreduce (rd: allreduce_cost_s of its
 *     floats), e_k = max(r_k, e_{k-1}) + c_k and the step is e_last with
 *     overlap; B + sum c_k without. Hosts have 2 cores, so the sums'
 *     additions do not slow backward (runtime.h, rt_async_post);
 *   - a size-only run (g NULL) takes the same time and does not crash;
 *   - on real sockets (threads) the same bits as in simulation.
 * When the time is wrong the report says which schedule it is instead:
 * no overlap, or one allreduce after backward.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algorithms/plugin.h"
#include "cli/cli.h"
#include "cli/lab.h"

#define GUARD 8
#define NL 8

/* The model: forward order, input first. */
static const size_t counts[NL] = {0, 3000, 64, 0, 12000, 40, 1500, 10};
static const double flops[NL] = {0, 6e5, 2e4, 1e4, 9e5, 1e4, 3e5, 2e3};
#define TOTAL 16614
#define BANDWIDTH_BPS 1.25e8 /* 1 Gb/s: the sums take about as long as backward */

typedef struct fw_arg {
    plugin_bucketed_backward_fn *fn;
    plugin_layer layers[NL];
    size_t bucket_bytes;
    int overlap;
    allreduce_algo algo;
    int size_only;
} fw_arg;

typedef struct fw_slot {
    double seconds;
    uint64_t hash, ref_hash;
    long overrun;
} fw_slot;

static void set_layers(fw_arg *a)
{
    size_t at = 0;
    for (int i = 0; i < NL; i++) {
        a->layers[i] = (plugin_layer){.first = at, .count = counts[i], .bwd_flops = flops[i]};
        at += counts[i];
    }
}

static float input(int rank, size_t i)
{
    uint32_t x = (uint32_t)(rank * 2654435761u) ^ (uint32_t)(i * 40503u + 12345u);
    x ^= x >> 13;
    x *= 0x5bd1e995u;
    x ^= x >> 15;
    return 0.5f + (float)(x & 0xffffff) / (float)0x1000000;
}

static const float guard_value = -12345.5f;

static int fw_rank(rt *r, void *argp)
{
    const fw_arg *a = argp;
    fw_slot *s = job_slot(r);
    float *g = NULL, *ref = NULL;
    if (!a->size_only) {
        g = malloc((TOTAL + GUARD) * sizeof *g);
        ref = malloc(TOTAL * sizeof *ref);
        if (!g || !ref) {
            free(g);
            free(ref);
            return rt_fail(r, RT_ENOMEM, "checker: no memory for the gradient");
        }
        for (size_t i = 0; i < TOTAL; i++)
            g[i] = ref[i] = input(rt_rank(r), i);
        for (int k = 0; k < GUARD; k++)
            g[TOTAL + k] = guard_value;
    }
    int rc = rt_barrier(r);
    double t0 = rt_now(r);
    if (!rc)
        rc = a->fn(r, g, TOTAL, a->layers, NL, a->bucket_bytes, a->overlap, a->algo);
    s->seconds = rt_now(r) - t0;
    if (!rc && g) {
        for (int k = 0; k < GUARD; k++)
            s->overrun += g[TOTAL + k] != guard_value;
        s->hash = fnv1a64(g, TOTAL * sizeof *g);
        rc = allreduce(r, a->algo, ref, TOTAL, NULL);
        s->ref_hash = fnv1a64(ref, TOTAL * sizeof *ref);
    }
    free(g);
    free(ref);
    return rc;
}

static sim_config lab_sim(void)
{
    sim_config sim = sim_config_default();
    sim.bandwidth_Bps = BANDWIDTH_BPS;
    sim.cores = 2;
    return sim;
}

/* Run a on p ranks; 0 with the slots, or -1 having said why. */
static int fw_run(outcome *o, const fw_arg *a, int p, int real_sockets, fw_slot *slots)
{
    sim_config sim = lab_sim();
    sim.size_only = a->size_only;
    job_config cfg = lab_job_config(real_sockets, &sim, p, sizeof(fw_slot));
    job_result res;
    int rc = job_run(&cfg, fw_rank, (void *)a, &res);
    if (rc != 0)
        lab_say(o, "%s, %d ranks, buckets of %zu bytes, overlap %s: %s", real_sockets ? "sockets" : "sim", p,
                a->bucket_bytes, a->overlap ? "on" : "off", res.error);
    else
        for (int i = 0; i < p; i++)
            slots[i] = *(fw_slot *)job_result_slot(&res, i);
    job_result_free(&res);
    return rc ? -1 : 0;
}

/* ---- the schedule's closed form ---- */

typedef struct schedule {
    double overlapped, serial, one_bucket; /* seconds */
    int buckets;
    char said[400];                         /* "layers 7-4 (13550 floats), ..." */
} schedule;

static void closed_form(const fw_arg *a, int p, schedule *sc)
{
    sim_config sim = lab_sim();
    double alpha = sim.latency_s, beta = 1 / sim.bandwidth_Bps, gamma = 1 / sim.speed_flops;
    double t = 0, e = 0, sum_c = 0;
    size_t open = 0;
    int top = NL - 1, len = 0;
    memset(sc, 0, sizeof *sc);
    for (int i = NL - 1; i >= 0; i--) {
        t += flops[i] / sim.speed_flops;
        open += counts[i];
        if (open > 0 && ((double)open * 4 >= (double)a->bucket_bytes || i == 0)) {
            double c = allreduce_cost_s(a->algo, p, open, alpha, beta, gamma);
            e = fmax(t, e) + c;
            sum_c += c;
            sc->buckets++;
            if (len < (int)sizeof sc->said - 60)
                len += snprintf(sc->said + len, sizeof sc->said - (size_t)len, "%slayers %d-%d (%zu floats)",
                                sc->buckets > 1 ? ", " : "", top, i, open);
            open = 0;
            top = i - 1;
        }
    }
    sc->overlapped = fmax(e, t);
    sc->serial = t + sum_c;
    sc->one_bucket = t + allreduce_cost_s(a->algo, p, TOTAL, alpha, beta, gamma);
}

static int close_to(double got, double want)
{
    return fabs(got - want) <= 1e-6 * want + 1e-12;
}

/* ---- the checks ---- */

typedef struct fw_ctx {
    plugin_bucketed_backward_fn *fn;
    int quick;
} fw_ctx;

static fw_arg make_arg(const fw_ctx *c, size_t bucket_bytes, int overlap, allreduce_algo algo)
{
    fw_arg a = {.fn = c->fn, .bucket_bytes = bucket_bytes, .overlap = overlap, .algo = algo};
    set_layers(&a);
    return a;
}

static void check_bits(outcome *o, const void *ctxp)
{
    const fw_ctx *c = ctxp;
    static const size_t buckets[] = {1, 16000, 1u << 30};
    static const int ranks[] = {2, 3, 5};
    static const allreduce_algo algos[] = {ALLREDUCE_RING, ALLREDUCE_RD};
    static fw_slot slots[8];
    o->ok = 1;
    for (int al = 0; al < 2; al++)
        for (int b = 0; b < 3; b++)
            for (int ov = 0; ov < 2; ov++)
                for (int k = 0; k < (c->quick ? 1 : 3); k++) {
                    fw_arg a = make_arg(c, buckets[b], ov, algos[al]);
                    int p = ranks[(k + b + ov) % 3];
                    if (fw_run(o, &a, p, 0, slots) != 0) {
                        o->ok = 0;
                        return;
                    }
                    for (int i = 0; i < p; i++) {
                        const char *why = slots[i].overrun ? "wrote past the gradient's end"
                                          : slots[i].hash != slots[i].ref_hash
                                              ? "ends with other bits than one allreduce of the whole gradient"
                                              : NULL;
                        if (why) {
                            lab_say(o, "%s, %d ranks, buckets of %zu bytes, overlap %s: rank %d %s (is every "
                                    "layer summed once, with allreduce_slice and its place in the whole "
                                    "vector?)", allreduce_algo_name(algos[al]), p, buckets[b],
                                    ov ? "on" : "off", i, why);
                            o->ok = 0;
                            return;
                        }
                    }
                }
}

static double worst(const fw_slot *slots, int p)
{
    double w = 0;
    for (int i = 0; i < p; i++)
        w = slots[i].seconds > w ? slots[i].seconds : w;
    return w;
}

static void time_runs(outcome *o, const fw_ctx *c, int overlap, int size_only)
{
    static const size_t buckets[] = {1, 16000, 1u << 30};
    static const int ranks[] = {4, 3};
    static fw_slot slots[8];
    o->ok = 1;
    for (int k = 0; k < (c->quick ? 1 : 2); k++)
        for (int b = 0; b < 3; b++) {
            fw_arg a = make_arg(c, buckets[b], overlap, ALLREDUCE_RD);
            a.size_only = size_only;
            int p = ranks[k];
            if (fw_run(o, &a, p, 0, slots) != 0) {
                o->ok = 0;
                continue;
            }
            schedule sc;
            closed_form(&a, p, &sc);
            double got = worst(slots, p), want = overlap ? sc.overlapped : sc.serial;
            int ok = close_to(got, want);
            lab_say(o, "%d ranks, buckets of %10zu bytes: %.9f s simulated, the schedule says %.9f s%s", p,
                    buckets[b], got, want, ok ? "" : got < want ? "  <-- less" : "  <-- more");
            if (!ok) {
                lab_say(o, "  the %d bucket%s: %s", sc.buckets, sc.buckets == 1 ? "" : "s", sc.said);
                if (close_to(got, sc.one_bucket) && sc.buckets > 1)
                    lab_say(o, "  that is the time of one allreduce of the whole gradient after backward");
                else if (overlap && close_to(got, sc.serial) && !close_to(sc.serial, sc.overlapped))
                    lab_say(o, "  that is the time without overlap: post each bucket's sum when it closes "
                            "(rt_async_post), and drain at the end");
                else if (!overlap && close_to(got, sc.overlapped) && !close_to(sc.serial, sc.overlapped))
                    lab_say(o, "  that is the time with overlap: with overlap 0, sum the buckets after "
                            "backward");
            }
            o->ok &= ok;
        }
    if (!o->ok)
        lab_say(o, "(rd on the ideal network: alpha %g s, beta %g s/B, 1 Gf cores, 2 a host; a bucket "
                "closes once it holds the bucket's bytes, or with layer 0)", lab_sim().latency_s, 1 / BANDWIDTH_BPS);
}

static void check_serial(outcome *o, const void *ctx) { time_runs(o, ctx, 0, 0); }
static void check_overlap(outcome *o, const void *ctx) { time_runs(o, ctx, 1, 0); }
static void check_size_only(outcome *o, const void *ctx) { time_runs(o, ctx, 1, 1); }

static void check_real(outcome *o, const void *ctxp)
{
    const fw_ctx *c = ctxp;
    static fw_slot sim_slots[4], real_slots[4];
    static const size_t buckets[] = {1, 16000};
    o->ok = 1;
    for (int b = 0; b < 2; b++) {
        fw_arg a = make_arg(c, buckets[b], 1, ALLREDUCE_RING);
        if (fw_run(o, &a, 3, 0, sim_slots) != 0 || fw_run(o, &a, 3, 1, real_slots) != 0) {
            o->ok = 0;
            return;
        }
        for (int i = 0; i < 3; i++)
            if (real_slots[i].hash != sim_slots[i].hash) {
                lab_say(o, "ring, 3 ranks, buckets of %zu bytes: rank %d ends with other bits on sockets than "
                        "in simulation", buckets[b], i);
                o->ok = 0;
                return;
            }
    }
}

int lab_check_frameworks(const lab_checker *lab, const char *file, int quick)
{
    tap t = {0, 0};
    static const lab_case checks[] = {
        {check_bits, "the same bits as one allreduce: ring and rd, 2 to 5 ranks, buckets of 1 B to 1 GiB, overlap on and off", 0},
        {check_serial, "overlap off, rd: the step is backward + the buckets' sums, to 1e-6 (ideal network)", 0},
        {check_overlap, "overlap on, rd: e_k = max(r_k, e_k-1) + c_k, to 1e-6 (ideal network)", 1},
        {check_size_only, "size-only run (g NULL): no crash, and the same times", 0},
        {check_real, "on real sockets (threads), ring, overlapped: the same bits as in simulation", 0},
    };
    int nchecks = (int)(sizeof checks / sizeof *checks);
    printf("TAP version 13\n1..%d\n", nchecks + 1);
    char err[1024];
    static const char *const theirs[] = {"dp_grad_sum", "dp_buckets", "dp_rank", NULL};
    plugin_bucketed_backward_fn *fn =
        (plugin_bucketed_backward_fn *)cli_plugin_load(file, lab->symbol, theirs, err, sizeof err);
    lab_tap_line(&t, fn != NULL, "%s builds, defines %s and calls none of distlab's data-parallel steps", file,
                 lab->symbol);
    if (!fn)
        lab_tap_diag(err);
    fw_ctx ctx = {fn, quick};
    lab_run_cases(&t, checks, nchecks, &ctx, fn != NULL);
    return lab_score(&t, lab, file);
}
