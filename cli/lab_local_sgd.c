/* lab_local_sgd.c -- the checker of lab 06: a student's model averaging
 * for local SGD (plugin_local_average, algorithms/plugin.h).
 *
 * Each rank fits a least-squares model to a shard of its own (a small
 * synthetic regression, different on every rank), one gradient step at a
 * time, and calls the student's averaging after every step. After each
 * step the rank records a hash of its weights and the weights themselves,
 * so the checker can tell, step by step, whether the ranks averaged (all
 * hold the same bits, close to the mean of what they held before) or did
 * not (each holds its own), and compare that with when they should have.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algorithms/plugin.h"
#include "cli/cli.h"
#include "cli/lab.h"

#define DIM 24
#define STEPS_MAX 48
#define RANKS_MAX 8

typedef struct avg_arg {
    plugin_local_average_fn *fn;
    long steps, every;
} avg_arg;

typedef struct avg_slot {
    uint64_t hash[STEPS_MAX];         /* of the weights after step s+1 */
    float before[STEPS_MAX][DIM];     /* after the local step, before averaging */
    float after[STEPS_MAX][DIM];
} avg_slot;

/* One step of gradient descent on rank r's least-squares problem: the
 * target weights differ by rank, so models drift apart between averages. */
static void local_step(float *w, int rank, long step)
{
    for (int i = 0; i < DIM; i++) {
        float target = (float)((i * 7 + rank * 3) % 11) * 0.25f - 1.0f;
        float grad = (w[i] - target) * (1.0f + 0.1f * (float)((step + i) % 3));
        w[i] -= 0.3f * grad;
    }
}

static int avg_rank(rt *r, void *argp)
{
    const avg_arg *a = argp;
    avg_slot *s = job_slot(r);
    float w[DIM] = {0};
    int rc = RT_OK;
    for (long step = 1; step <= a->steps && !rc; step++) {
        local_step(w, rt_rank(r), step);
        rt_compute(r, 4.0 * DIM);
        memcpy(s->before[step - 1], w, sizeof w);
        rc = a->fn(r, w, DIM, step, a->steps, a->every);
        memcpy(s->after[step - 1], w, sizeof w);
        s->hash[step - 1] = fnv1a64(w, sizeof w);
    }
    return rc;
}

static int due(long step, long last, long every)
{
    return step == last || (every > 0 && step % every == 0);
}

typedef struct avg_ctx {
    plugin_local_average_fn *fn;
    int quick;
} avg_ctx;

static avg_slot slots[RANKS_MAX];

/* Run p ranks with `every`; check every step; returns how many were wrong. */
static int check_run(outcome *o, const avg_ctx *c, int p, long steps, long every, const char *backend,
                     uint64_t *last_hash)
{
    avg_arg a = {c->fn, steps, every};
    sim_config sim = sim_config_default();
    job_config cfg = lab_job_config(strcmp(backend, "sim") != 0, &sim, p, sizeof(avg_slot));
    job_result res;
    int bad = 0;
    if (job_run(&cfg, avg_rank, &a, &res) != 0) {
        lab_say(o, "%s, %d ranks, every %ld: %s", backend, p, every, res.error);
        job_result_free(&res);
        return 1;
    }
    for (int i = 0; i < p; i++)
        slots[i] = *(avg_slot *)job_result_slot(&res, i);
    job_result_free(&res);
    for (long s = 0; s < steps && !bad; s++) {
        int same = 1;
        for (int i = 1; i < p; i++)
            same &= slots[i].hash[s] == slots[0].hash[s];
        int want = due(s + 1, steps, every);
        if (want && !same) {
            lab_say(o, "%d ranks, every %ld: after step %ld the ranks should hold one averaged model, "
                    "but rank 0 and another differ", p, every, s + 1);
            bad++;
        } else if (!want && same && p > 1) {
            lab_say(o, "%d ranks, every %ld: after step %ld the ranks hold the same model, but no "
                    "average was due (the next is at step %ld)", p, every, s + 1,
                    every > 0 ? (s / every + 1) * every : steps);
            bad++;
        } else if (!want) {
            for (int i = 0; i < p && !bad; i++)
                if (memcmp(slots[i].before[s], slots[i].after[s], sizeof slots[i].before[s]) != 0) {
                    lab_say(o, "%d ranks, every %ld: rank %d's weights changed at step %ld, when no "
                            "average was due", p, every, i, s + 1);
                    bad++;
                }
        } else {
            for (int k = 0; k < DIM && !bad; k++) {
                double mean = 0;
                for (int i = 0; i < p; i++)
                    mean += slots[i].before[s][k];
                mean /= p;
                if (fabs(slots[0].after[s][k] - mean) > 1e-5 * (1 + fabs(mean))) {
                    lab_say(o, "%d ranks, every %ld, step %ld: weight %d is %.7g, the mean of the "
                            "ranks' is %.7g (a sum, not a mean?)", p, every, s + 1, k,
                            slots[0].after[s][k], mean);
                    bad++;
                }
            }
        }
    }
    if (last_hash)
        for (int i = 0; i < p; i++)
            last_hash[i] = slots[i].hash[steps - 1];
    return bad;
}

static void check_every(outcome *o, const void *ctxp)
{
    const avg_ctx *c = ctxp;
    static const long everies[] = {1, 4, 5, 16};
    static const int ranks[] = {2, 3, 4, 7};
    o->ok = 1;
    for (int e = 0; e < 4; e++)
        for (int k = 0; k < (c->quick ? 2 : 4); k++)
            if (check_run(o, c, ranks[k], 40, everies[e], "sim", NULL))
                o->ok = 0;
}

static void check_end(outcome *o, const void *ctxp)
{
    const avg_ctx *c = ctxp;
    o->ok = 1;
    static const long everies[] = {0, -1, 100};
    for (int e = 0; e < 3; e++)
        if (check_run(o, c, 4, 12, everies[e], "sim", NULL))
            o->ok = 0;
}

static void check_edges(outcome *o, const void *ctxp)
{
    const avg_ctx *c = ctxp;
    o->ok = 1;
    /* one rank: an average of one model is the model */
    if (check_run(o, c, 1, 8, 2, "sim", NULL))
        o->ok = 0;
    /* 8 ranks, a run shorter than one period: only the final average */
    if (check_run(o, c, 8, 3, 5, "sim", NULL))
        o->ok = 0;
}

static void check_real(outcome *o, const void *ctxp)
{
    const avg_ctx *c = ctxp;
    uint64_t sim_h[RANKS_MAX], real_h[RANKS_MAX];
    o->ok = 1;
    if (check_run(o, c, 4, 20, 4, "sim", sim_h) || check_run(o, c, 4, 20, 4, "threads", real_h)) {
        o->ok = 0;
        return;
    }
    if (memcmp(sim_h, real_h, 4 * sizeof *sim_h) != 0) {
        lab_say(o, "4 ranks, every 4: the final model differs between sockets and simulation: does the "
                "order of the additions depend on which message arrives first?");
        o->ok = 0;
    }
}

int lab_check_local_sgd(const lab_checker *lab, const char *file, int quick)
{
    tap t = {0, 0};
    static const lab_case checks[] = {
        {check_every, "every H = 1, 4, 5, 16 steps on 2 to 7 ranks: the mean exactly when due, never between", 0},
        {check_end, "one-shot (H = 0, -1, or longer than the run): only after the last step", 0},
        {check_edges, "one rank, and a run shorter than one period", 0},
        {check_real, "on real sockets (threads) the same final bits as in simulation", 0},
    };
    int nchecks = (int)(sizeof checks / sizeof *checks);
    printf("TAP version 13\n1..%d\n", nchecks + 1);
    char err[1024];
    plugin_local_average_fn *fn =
        (plugin_local_average_fn *)cli_plugin_load(file, lab->symbol, NULL, err, sizeof err);
    lab_tap_line(&t, fn != NULL, "%s builds and defines %s", file, lab->symbol);
    if (!fn)
        lab_tap_diag(err);
    avg_ctx ctx = {fn, quick};
    lab_run_cases(&t, checks, nchecks, &ctx, fn != NULL);
    return lab_score(&t, lab, file);
}
