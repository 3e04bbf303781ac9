/* lab_calibration.c -- the checker of lab 08: a student's own calibration
 * of a path (plugin_alpha_beta, algorithms/plugin.h): a pingpong between
 * ranks 0 and 1, and the alpha-beta line fitted to its one-way times.
 *
 * A simulated cluster is a path whose alpha and beta are known exactly
 * (the ideal network model is alpha + n beta to many digits), so the
 * checker runs the student's code there and asks for them back: on
 * several clusters, with the runtime's per-message overheads (which a
 * real alpha includes), among more ranks than the two that measure, and
 * twice in one job (the clock not at zero). On real sockets nothing is
 * known exactly, and the machine may be busy, so the check there is only
 * that the same code runs and gives a plausible path.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "algorithms/plugin.h"
#include "cli/cli.h"
#include "cli/lab.h"

#define TOLERANCE 0.01 /* relative, in simulation */

typedef struct ab_ctx {
    plugin_alpha_beta_fn *fn;
    int quick;
} ab_ctx;

typedef struct ab_arg {
    plugin_alpha_beta_fn *fn;
    int calls;            /* 2: once more after a pause, the clock well past 0 */
} ab_arg;

typedef struct ab_slot {
    double alpha_s[2], beta_s_per_byte[2];
} ab_slot;

static int ab_rank(rt *r, void *argp)
{
    const ab_arg *a = argp;
    ab_slot *s = job_slot(r);
    for (int k = 0; k < a->calls; k++) {
        s->alpha_s[k] = s->beta_s_per_byte[k] = NAN;
        if (k > 0) { /* everyone past a second of idle time, then measure again */
            int rc = rt_waitany_for(r, 0, NULL, 1.0, &(int){0}, NULL);
            if (!rc)
                rc = rt_barrier(r);
            if (rc)
                return rc;
        }
        int rc = a->fn(r, &s->alpha_s[k], &s->beta_s_per_byte[k]);
        if (rc)
            return rc;
    }
    return RT_OK;
}

/* Run the student's code on p ranks of this config; rank 0's answers. */
static int measure(outcome *o, const ab_ctx *c, job_config cfg, int p, int calls, const char *where,
                   ab_slot *got)
{
    ab_arg a = {c->fn, calls};
    cfg.ranks = p;
    cfg.result_bytes = sizeof(ab_slot);
    cfg.record_events = 0;
    cfg.timeout_s = 30;
    job_result res;
    if (job_run(&cfg, ab_rank, &a, &res) != 0) {
        lab_say(o, "%s, %d ranks: %s", where, p, res.error);
        job_result_free(&res);
        return -1;
    }
    *got = *(const ab_slot *)job_result_slot(&res, 0);
    job_result_free(&res);
    return 0;
}

/* Is (alpha, beta) within TOLERANCE of what the path is? */
static int close_to(outcome *o, const char *where, double alpha, double beta, double want_alpha,
                    double want_beta)
{
    int ok = fabs(alpha - want_alpha) <= TOLERANCE * want_alpha &&
             fabs(beta - want_beta) <= TOLERANCE * want_beta;
    if (!ok)
        lab_say(o, "%s: alpha %.4g us, beta %.4g ns/B (%.4g GB/s); the path has alpha %.4g us, beta "
                "%.4g ns/B (%.4g GB/s)%s", where, 1e6 * alpha, 1e9 * beta, 1e-9 / beta, 1e6 * want_alpha,
                1e9 * want_beta, 1e-9 / want_beta,
                fabs(alpha - 2 * want_alpha) <= TOLERANCE * want_alpha ? " -- a round trip, not one way?"
                                                                       : "");
    return ok;
}

static void check_clusters(outcome *o, const void *ctxp)
{
    const ab_ctx *c = ctxp;
    static const struct { double latency_s, bandwidth_Bps; } paths[] = {
        {5e-6, 1e10}, {50e-6, 1.25e9}, {1e-3, 1e8}, {2e-6, 4e10}};
    o->ok = 1;
    for (int i = 0; i < (c->quick ? 2 : 4); i++) {
        sim_config sim = sim_config_default();
        sim.latency_s = paths[i].latency_s;
        sim.bandwidth_Bps = paths[i].bandwidth_Bps;
        char where[128];
        snprintf(where, sizeof where, "simulated %g us, %g GB/s", 1e6 * sim.latency_s, sim.bandwidth_Bps / 1e9);
        ab_slot got;
        if (measure(o, c, sim_job_config(&sim), 2, 1, where, &got) != 0 ||
            !close_to(o, where, got.alpha_s[0], got.beta_s_per_byte[0], sim.latency_s, 1 / sim.bandwidth_Bps))
            o->ok = 0;
    }
}

/* LogP's o: a rank's own time in each send and receive is part of what a
 * pingpong measures as alpha, the wire's latency only the rest of it. */
static void check_overheads(outcome *o, const void *ctxp)
{
    const ab_ctx *c = ctxp;
    sim_config sim = sim_config_default();
    sim.latency_s = 10e-6;
    sim.bandwidth_Bps = 1e9;
    sim.send_overhead_s = 2e-6;
    sim.recv_overhead_s = 3e-6;
    ab_slot got;
    o->ok = measure(o, c, sim_job_config(&sim), 2, 1, "wire 10 us, o_s 2 us, o_r 3 us", &got) == 0 &&
            close_to(o, "wire 10 us, o_s 2 us, o_r 3 us", got.alpha_s[0], got.beta_s_per_byte[0], 15e-6,
                     1e-9);
}

static void check_more_ranks(outcome *o, const void *ctxp)
{
    const ab_ctx *c = ctxp;
    static const int ranks[] = {3, 5, 8};
    o->ok = 1;
    for (int i = 0; i < (c->quick ? 2 : 3); i++) {
        sim_config sim = sim_config_default();
        sim.latency_s = 20e-6;
        sim.bandwidth_Bps = 1e9;
        char where[64];
        snprintf(where, sizeof where, "%d ranks (only 0 and 1 measure)", ranks[i]);
        ab_slot got;
        if (measure(o, c, sim_job_config(&sim), ranks[i], 1, where, &got) != 0 ||
            !close_to(o, where, got.alpha_s[0], got.beta_s_per_byte[0], 20e-6, 1e-9))
            o->ok = 0;
    }
}

static void check_twice(outcome *o, const void *ctxp)
{
    const ab_ctx *c = ctxp;
    sim_config sim = sim_config_default();
    sim.latency_s = 30e-6;
    sim.bandwidth_Bps = 2e9;
    ab_slot got;
    o->ok = measure(o, c, sim_job_config(&sim), 2, 2, "called twice", &got) == 0 &&
            close_to(o, "first call", got.alpha_s[0], got.beta_s_per_byte[0], 30e-6, 5e-10) &&
            close_to(o, "second call, 1 s later (times from rt_now differences?)", got.alpha_s[1],
                     got.beta_s_per_byte[1], 30e-6, 5e-10);
}

/* On loopback: anything from a quiet machine's microseconds to a loaded
 * one's milliseconds is plausible (two busy loops beside the ranks made
 * alpha 8 ms, and noise can tilt a fitted slope near 0); a negative,
 * infinite or absurd number is not. */
static void check_real(outcome *o, const void *ctxp)
{
    const ab_ctx *c = ctxp;
    real_config real = real_config_default();
    real.launch = REAL_LAUNCH_THREADS;
    ab_slot got;
    o->ok = 0;
    if (measure(o, c, real_job_config(&real), 2, 1, "real sockets (threads)", &got) != 0)
        return;
    double a = got.alpha_s[0], b = got.beta_s_per_byte[0];
    lab_say(o, "loopback: alpha %.3g us, beta %.3g ns/B (%.3g GB/s)", 1e6 * a, 1e9 * b, 1e-9 / b);
    if (!(a > 0 && a < 1)) {
        lab_say(o, "alpha should be above 0 and below 1 s: a least-squares intercept can come out "
                "negative when the large messages' noise tilts the line -- weight each point by 1/t^2, "
                "or fall back on the smallest message's time");
        return;
    }
    if (!(b > 0 && b < 1e-3)) {
        lab_say(o, "beta should be above 0 and below 1 ms/B (1 KB/s)");
        return;
    }
    o->ok = 1;
}

int lab_check_alpha_beta(const lab_checker *lab, const char *file, int quick)
{
    tap t = {0, 0};
    static const lab_case checks[] = {
        {check_clusters, "simulated paths of 2 us to 1 ms and 100 MB/s to 40 GB/s: alpha and beta within 1%", 0},
        {check_overheads, "per-message send and receive overheads: alpha is wire + o_s + o_r", 0},
        {check_more_ranks, "3, 5 and 8 ranks: the others return, the pair still measures", 0},
        {check_twice, "called twice in one job, the clock past 1 s: the same answer", 0},
        {check_real, "on real sockets (threads): it runs, and the path is plausible", 1},
    };
    int nchecks = (int)(sizeof checks / sizeof *checks);
    printf("TAP version 13\n1..%d\n", nchecks + 1);
    char err[1024];
    plugin_alpha_beta_fn *fn = (plugin_alpha_beta_fn *)cli_plugin_load(file, lab->symbol, NULL, err, sizeof err);
    lab_tap_line(&t, fn != NULL, "%s builds and defines %s", file, lab->symbol);
    if (!fn)
        lab_tap_diag(err);
    ab_ctx ctx = {fn, quick};
    lab_run_cases(&t, checks, nchecks, &ctx, fn != NULL);
    return lab_score(&t, lab, file);
}
