/* lab_scaling.c -- the checker of lab 07: a student's time model of
 * data-parallel SGD (plugin_dp_model, algorithms/plugin.h), against the
 * simulator running the step it describes.
 *
 * The checker's data-parallel epoch: W ranks on hosts of their own (a
 * generated cluster at the setting's speed, latency and bandwidth, ideal
 * network), each step rt_compute(batch x flops_per_example), then
 * distlab's allreduce of the gradient in a size-only run (the messages
 * keep their sizes, the additions are still charged). Each TAP line:
 *   - one worker: no communication, and the epoch is all compute;
 *   - steps per epoch when W x batch does not divide the epoch;
 *   - ring and tree: compute, communication and epoch time equal the
 *     simulated ones to 1e-6, on 2 to 16 (quick: 8) workers, compute-
 *     and communication-bound, with gradients that do not split evenly;
 *   - lab 07's own sweep settings, the prediction beside the simulation;
 *   - settings that make no sense are refused.
 * `distlab lab run 07 FILE.c [options]` prints the student's model for
 * settings of their own beside the same simulation (lab_run_scaling).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/units.h"

#include "algorithms/plugin.h"
#include "cli/cli.h"
#include "cli/lab.h"

/* ---- the simulated epoch ---- */

typedef struct dp_slot {
    double compute_s, comm_s, epoch_s; /* per step (the first), and the epoch */
    long steps;
} dp_slot;

static int dp_rank(rt *r, void *argp)
{
    const plugin_dp_setting *s = argp;
    dp_slot *out = job_slot(r);
    long global = (long)s->workers * s->batch;
    long steps = (s->examples + global - 1) / global;
    int rc = RT_OK;
    double t0 = rt_now(r);
    for (long k = 0; k < steps && !rc; k++) {
        double a = rt_now(r);
        rc = rt_compute(r, (double)s->batch * s->flops_per_example);
        double b = rt_now(r);
        if (!rc && s->workers > 1)
            rc = allreduce(r, s->algo, NULL, s->params, NULL);
        if (k == 0) {
            out->compute_s = b - a;
            out->comm_s = rt_now(r) - b;
        }
    }
    out->epoch_s = rt_now(r) - t0;
    out->steps = steps;
    return rc;
}

/* Simulate setting s; 0 with rank 0's slot in *got. */
static int dp_simulate(outcome *o, const plugin_dp_setting *s, dp_slot *got)
{
    sim_config sim = sim_config_default();
    sim.speed_flops = s->speed_flops;
    sim.latency_s = s->alpha_s;
    sim.bandwidth_Bps = 1.0 / s->beta_s_per_byte;
    sim.size_only = 1;
    job_config cfg = sim_job_config(&sim);
    cfg.ranks = s->workers;
    cfg.result_bytes = sizeof(dp_slot);
    cfg.record_events = 0;
    job_result res;
    int rc = job_run(&cfg, dp_rank, (void *)s, &res);
    if (rc != 0)
        lab_say(o, "the checker's simulation of %d workers failed: %s", s->workers, res.error);
    else
        *got = *(dp_slot *)job_result_slot(&res, 0);
    job_result_free(&res);
    return rc ? -1 : 0;
}

typedef struct dp_ctx {
    plugin_dp_model_fn *fn;
    int quick;
} dp_ctx;

static int close_to(double got, double want)
{
    return fabs(got - want) <= 1e-6 * fabs(want) + 1e-15;
}

static const char *algo_word(allreduce_algo a) { return a == ALLREDUCE_TREE ? "tree" : "ring"; }

/* Settings found wrong so far in this check: only the first few say why. */
static int wrong_settings;
#define SAY_WRONG 3

/* Compare the model with the simulation of s; 1 when they agree. */
static int compare(outcome *o, const dp_ctx *c, const plugin_dp_setting *s, int verbose)
{
    dp_slot sim;
    plugin_dp_time t;
    memset(&t, 0, sizeof t);
    if (dp_simulate(o, s, &sim) != 0)
        return 0;
    int rc = c->fn(s, &t);
    char what[200];
    snprintf(what, sizeof what, "%s, %d workers, %zu floats, batch %ld, %ld examples, %g Gflop/s, "
             "alpha %g us, %g GB/s", algo_word(s->algo), s->workers, s->params, s->batch, s->examples,
             s->speed_flops / 1e9, s->alpha_s * 1e6, 1e-9 / s->beta_s_per_byte);
    if (rc != RT_OK) {
        lab_say(o, "%s: plugin_dp_model refused it (%d)", what, rc);
        return 0;
    }
    int ok = 1;
    outcome quiet = {0};
    outcome *say = wrong_settings < SAY_WRONG ? o : &quiet; /* the rest goes nowhere */
    if (t.steps != sim.steps) {
        lab_say(say, "%s: %ld steps per epoch, the simulation takes %ld (ceil(examples / (W batch)))",
                what, t.steps, sim.steps);
        ok = 0;
    }
    if (!close_to(t.compute_s, sim.compute_s)) {
        lab_say(say, "%s: compute %.9g s per step, simulated %.9g s (batch x flops per example / speed)",
                what, t.compute_s, sim.compute_s);
        ok = 0;
    }
    if (!close_to(t.comm_s, sim.comm_s)) {
        lab_say(say, "%s: comm %.9g s per step, simulated %.9g s%s", what, t.comm_s, sim.comm_s,
                s->workers == 1 ? " (one worker sends nothing)"
                : s->algo == ALLREDUCE_RING
                    ? " (ring: 2(p-1) alpha + 2(p-1) 4m beta + (p-1) m gamma, m = ceil(params/p) floats, "
                      "gamma = 1/speed)"
                    : " (tree: 2 ceil(log2 p) (alpha + 4 params beta) + ceil(log2 p) params gamma)");
        ok = 0;
    }
    if (ok && !close_to(t.epoch_s, sim.epoch_s)) {
        lab_say(say, "%s: epoch %.9g s, simulated %.9g s (steps x (compute + comm))", what, t.epoch_s,
                sim.epoch_s);
        ok = 0;
    }
    if (!ok && wrong_settings++ == SAY_WRONG)
        lab_say(o, "(and so on: the first %d wrong settings say why)", SAY_WRONG);
    if (verbose)
        lab_say(o, "%s %2d workers: %8.4f s per epoch predicted, %8.4f s simulated (%ld steps of "
                "%.3g s compute + %.3g s comm)%s", algo_word(s->algo), s->workers, t.epoch_s,
                sim.epoch_s, sim.steps, sim.compute_s, sim.comm_s, ok ? "" : "  <--");
    return ok;
}

/* ---- the checks ---- */

/* a small MLP's gradient, odd so that no p above 1 divides it */
static const plugin_dp_setting base = {
    .workers = 1, .params = 10007, .batch = 16, .examples = 1000, .flops_per_example = 6 * 10007.0,
    .speed_flops = 1e9, .alpha_s = 50e-6, .beta_s_per_byte = 1 / 1.25e9, .algo = ALLREDUCE_RING};

static void check_one(outcome *o, const void *ctxp)
{
    const dp_ctx *c = ctxp;
    o->ok = 1;
    plugin_dp_setting s = base;
    static const long batches[] = {16, 1, 7, 1000, 2000};
    for (int i = 0; i < 5; i++) {
        s.batch = batches[i];
        s.algo = i % 2 ? ALLREDUCE_TREE : ALLREDUCE_RING;
        o->ok &= compare(o, c, &s, 0);
    }
}

static void check_steps(outcome *o, const void *ctxp)
{
    const dp_ctx *c = ctxp;
    static const struct {
        int W;
        long batch, examples, steps;
    } cases[] = {{4, 16, 1000, 16}, {3, 10, 30, 1}, {3, 10, 31, 2}, {7, 64, 8000, 18},
                 {32, 64, 8000, 4}, {5, 1, 4, 1},   {16, 64, 8000, 8}};
    o->ok = 1;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        plugin_dp_setting s = base;
        s.workers = cases[i].W;
        s.batch = cases[i].batch;
        s.examples = cases[i].examples;
        plugin_dp_time t = {0};
        int rc = c->fn(&s, &t);
        if (rc != RT_OK || t.steps != cases[i].steps) {
            lab_say(o, "%d workers, batch %ld, %ld examples: %ld steps per epoch (returned %d), "
                    "should be %ld", s.workers, s.batch, s.examples, t.steps, rc, cases[i].steps);
            o->ok = 0;
        }
    }
}

static void check_algo(outcome *o, const dp_ctx *c, allreduce_algo algo)
{
    static const int full[] = {2, 3, 4, 5, 7, 8, 16, 0}, quick[] = {2, 3, 5, 8, 0};
    o->ok = 1;
    for (const int *W = c->quick ? quick : full; *W; W++)
        for (int bound = 0; bound < 2; bound++) {
            plugin_dp_setting s = base;
            s.workers = *W;
            s.algo = algo;
            s.examples = 400;
            if (bound) { /* communication-bound: 100x the speed, a tenth the bandwidth */
                s.speed_flops = 1e11;
                s.beta_s_per_byte = 1 / 1.25e8;
            }
            o->ok &= compare(o, c, &s, 0);
        }
}

static void check_ring(outcome *o, const void *ctx) { check_algo(o, ctx, ALLREDUCE_RING); }
static void check_tree(outcome *o, const void *ctx) { check_algo(o, ctx, ALLREDUCE_TREE); }

/* Lab 07's sweeps: MLP 784-256-128-10 (235 146 parameters), 8000
 * examples, batch 64, the flops distlab charges for it (no input
 * gradient at the first layer: 6 P - 2 x 784 x 256 per example). */
static void check_sheet(outcome *o, const void *ctxp)
{
    const dp_ctx *c = ctxp;
    static const int workers[] = {1, 2, 4, 8, 16, 32};
    o->ok = 1;
    for (int bound = 0; bound < 2; bound++) {
        lab_say(o, "%s", bound ? "part 2, communication-bound (100 Gflop/s, 1 Gb/s):"
                               : "part 1, compute-bound (1 Gflop/s, 10 Gb/s):");
        for (int i = 0; i < (c->quick ? 4 : 6); i++) {
            plugin_dp_setting s = {.workers = workers[i], .params = 235146, .batch = 64,
                                   .examples = 8000, .flops_per_example = 6.0 * 235146 - 2.0 * 784 * 256,
                                   .speed_flops = bound ? 1e11 : 1e9, .alpha_s = 50e-6,
                                   .beta_s_per_byte = bound ? 1 / 1.25e8 : 1 / 1.25e9,
                                   .algo = ALLREDUCE_RING};
            o->ok &= compare(o, c, &s, 1);
        }
    }
}

static void check_bad(outcome *o, const void *ctxp)
{
    const dp_ctx *c = ctxp;
    o->ok = 1;
    for (int k = 0; k < 9; k++) {
        plugin_dp_setting s = base;
        const char *what = "";
        switch (k) {
        case 0: s.workers = 0; what = "0 workers"; break;
        case 1: s.workers = -3; what = "-3 workers"; break;
        case 2: s.batch = 0; what = "batch 0"; break;
        case 3: s.examples = 0; what = "0 examples"; break;
        case 4: s.speed_flops = 0; what = "speed 0"; break;
        case 5: s.speed_flops = NAN; what = "speed NaN"; break;
        case 6: s.alpha_s = -1e-6; what = "a negative alpha"; break;
        case 7: s.algo = ALLREDUCE_RD; what = "recursive doubling (the model knows ring and tree)"; break;
        case 8: s.flops_per_example = 0; what = "0 flops per example"; break;
        }
        plugin_dp_time t;
        if (c->fn(&s, &t) == RT_OK) {
            lab_say(o, "%s: returned RT_OK; should be RT_EINVAL", what);
            o->ok = 0;
        }
    }
}

int lab_check_scaling(const lab_checker *lab, const char *file, int quick)
{
    tap t = {0, 0};
    static const lab_case checks[] = {
        {check_one, "one worker: no communication, the epoch is all compute", 0},
        {check_steps, "steps per epoch when W x batch does not divide the epoch", 0},
        {check_ring, "ring: compute, comm and epoch as simulated, compute- and communication-bound", 0},
        {check_tree, "tree: compute, comm and epoch as simulated, compute- and communication-bound", 0},
        {check_sheet, "lab 07's sweeps (MLP 784-256-128-10): predicted as simulated", 1},
        {check_bad, "settings that make no sense are refused (RT_EINVAL)", 0},
    };
    int nchecks = (int)(sizeof checks / sizeof *checks);
    printf("TAP version 13\n1..%d\n", nchecks + 1);
    char err[1024];
    /* the point is to write the formulas, not to call distlab's */
    static const char *const theirs[] = {"allreduce_cost_s", "allreduce_hierarchical_cost_s",
                                         "allgatherv_cost_s", "reduce_scatterv_cost_s",
                                         "byteps_cost_s", NULL};
    plugin_dp_model_fn *fn = (plugin_dp_model_fn *)cli_plugin_load(file, lab->symbol, theirs, err, sizeof err);
    lab_tap_line(&t, fn != NULL, "%s builds, defines %s and calls none of distlab's cost formulas",
                 file, lab->symbol);
    if (!fn)
        lab_tap_diag(err);
    dp_ctx ctx = {fn, quick};
    lab_run_cases(&t, checks, nchecks, &ctx, fn != NULL);
    return lab_score(&t, lab, file);
}

/* ---- lab run 07: the model for settings of one's own ---- */

static const cli_opt run_opts[] = {
    {"workers", "LIST", "worker counts, comma-separated (default 1,2,4,8,16,32)"},
    {"params", "N", "floats in the model and its gradient (default 235146: MLP 784-256-128-10)"},
    {"flops-per-example", "X", "forward and backward of one example (default 1010540, that MLP's)"},
    {"batch", "B", "examples per worker per step (default 64)"},
    {"examples", "N", "examples in an epoch (default 8000)"},
    {"speed", "RATE", "one worker's core (default 1Gf)"},
    {"bandwidth", "RATE", "each link (default 10Gbps)"},
    {"latency", "TIME", "alpha (default 50us)"},
    {"algo", "ring|tree", "the allreduce (default ring)"},
    {"no-sim", NULL, "print the model only (no simulation)"},
    {NULL, NULL, NULL},
};

#define SIM_WORKERS_MAX 1024

int lab_run_scaling(const char *file, int argc, char **argv)
{
    const char *verb = "lab run 07";
    cli_args a;
    int code;
    if (cli_parse(argc, argv, "lab run 07 FILE.c [options]", run_opts, 0, &a, &code))
        return code;
    if (a.npos) {
        fprintf(stderr, "distlab %s: unexpected argument '%s'\n", verb, a.pos[0]);
        return 2;
    }
    plugin_dp_setting s = {.params = 235146, .batch = 64, .examples = 8000,
                           .flops_per_example = 6.0 * 235146 - 2.0 * 784 * 256, .speed_flops = 1e9,
                           .alpha_s = 50e-6, .beta_s_per_byte = 1 / 1.25e9, .algo = ALLREDUCE_RING};
    long params = (long)s.params;
    double bw = 1.25e9;
    int algo = 0;
    char err[256];
    static const char *const algos[] = {"ring", "tree", NULL};
    if (cli_get_int(&a, verb, "params", 1, 1L << 40, &params) ||
        cli_get_int(&a, verb, "batch", 1, 1L << 30, &s.batch) ||
        cli_get_int(&a, verb, "examples", 1, 1L << 40, &s.examples) ||
        cli_get_double(&a, verb, "flops-per-example", &s.flops_per_example) ||
        cli_get_time(&a, verb, "latency", &s.alpha_s) || cli_get_choice(&a, verb, "algo", algos, &algo))
        return 2;
    if (cli_get(&a, "speed") && units_speed(cli_get(&a, "speed"), &s.speed_flops, err, sizeof err)) {
        fprintf(stderr, "distlab %s: --speed: %s\n", verb, err);
        return 2;
    }
    if (cli_get(&a, "bandwidth") && units_rate(cli_get(&a, "bandwidth"), &bw, err, sizeof err)) {
        fprintf(stderr, "distlab %s: --bandwidth: %s\n", verb, err);
        return 2;
    }
    if (!(s.flops_per_example > 0)) {
        fprintf(stderr, "distlab %s: --flops-per-example: above 0, not %g\n", verb, s.flops_per_example);
        return 2;
    }
    s.params = (size_t)params;
    s.beta_s_per_byte = 1 / bw;
    s.algo = algo ? ALLREDUCE_TREE : ALLREDUCE_RING;
    /* the worker counts */
    int workers[64], nw = 0;
    const char *list = cli_get(&a, "workers") ? cli_get(&a, "workers") : "1,2,4,8,16,32";
    for (const char *p = list; *p && nw < 64;) {
        char *end;
        long w = strtol(p, &end, 10);
        if (end == p || w < 1 || w > 4096 || (*end && *end != ',')) {
            fprintf(stderr, "distlab %s: --workers: a comma-separated list of 1 to 4096, not '%s'\n",
                    verb, list);
            return 2;
        }
        workers[nw++] = (int)w;
        p = *end ? end + 1 : end;
    }
    err[0] = '\0';
    plugin_dp_model_fn *fn = (plugin_dp_model_fn *)cli_plugin_load(file, PLUGIN_DP_MODEL, NULL, err, sizeof err);
    if (!fn) {
        fprintf(stderr, "distlab %s: %s\n", verb, err);
        return 1;
    }
    int sim = !cli_flag(&a, "no-sim");
    printf("workers,steps,compute_s,comm_s,epoch_s%s\n", sim ? ",simulated_epoch_s" : "");
    for (int i = 0; i < nw; i++) {
        s.workers = workers[i];
        plugin_dp_time t = {0};
        if (fn(&s, &t) != RT_OK) {
            fprintf(stderr, "distlab %s: your plugin_dp_model refused %d workers\n", verb, workers[i]);
            return 1;
        }
        printf("%d,%ld,%.9g,%.9g,%.9g", workers[i], t.steps, t.compute_s, t.comm_s, t.epoch_s);
        if (sim && workers[i] > SIM_WORKERS_MAX) {
            printf(",");
            fflush(stdout);
            fprintf(stderr, "distlab %s: %d workers: not simulated (at most %d; each allreduce would "
                    "take minutes of wall time)\n", verb, workers[i], SIM_WORKERS_MAX);
        } else if (sim) {
            outcome o = {0};
            dp_slot got;
            if (dp_simulate(&o, &s, &got) != 0) {
                fprintf(stderr, "distlab %s: %s", verb, o.msg);
                return 1;
            }
            printf(",%.9g", got.epoch_s);
        }
        printf("\n");
    }
    return 0;
}
