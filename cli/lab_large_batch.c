/* lab_large_batch.c -- the checker of lab 13: a student's learning-rate
 * schedule for large minibatches, the linear scaling rule with gradual
 * warmup (plugin_lr_schedule, algorithms/plugin.h).
 *
 * The schedule is a function of four numbers, so the checker asks it for
 * the rate at many epochs, batch multiples k and warmup lengths, as a
 * training run would at each of its steps, and compares every answer with
 * distlab's own schedule (ml_schedule_lr's warmup, ml/optim.c) to a
 * relative 1e-9: one worker's rate is the base rate; without warmup the
 * rate is k lr from the first step; with it the rate starts at lr, climbs
 * on a straight line and reaches k lr when the warmup ends, and stays.
 * The student's file may not call ml_schedule_lr: the point is to write it.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "algorithms/plugin.h"
#include "cli/cli.h"
#include "cli/lab.h"
#include "ml/optim.h"

typedef struct lr_ctx {
    plugin_lr_schedule_fn *fn;
    int quick;
} lr_ctx;

static double reference(double lr, double k, double warmup, double epoch)
{
    ml_schedule s = {.kind = ML_SCHED_WARMUP, .lr = lr, .scale = k, .warmup_epochs = warmup, .gamma = 1};
    return ml_schedule_lr(&s, epoch);
}

/* The student's rate against the reference at the steps of a run: steps
 * per epoch, epochs; returns how many differ (each said, the first few). */
static int compare_run(outcome *o, const lr_ctx *c, double lr, double k, double warmup, long per_epoch,
                       long epochs)
{
    int bad = 0;
    for (long step = 0; step <= per_epoch * epochs; step++) {
        double epoch = (double)step / (double)per_epoch;
        double got = c->fn(lr, k, warmup, epoch), want = reference(lr, k, warmup, epoch);
        if (!(fabs(got - want) <= 1e-9 * fabs(want))) {
            if (bad++ < 3)
                lab_say(o, "lr %g, k %g, warmup %g epochs: at epoch %.4g (step %ld, %ld steps an epoch) the rate "
                        "is %.9g, expected %.9g", lr, k, warmup, epoch, step, per_epoch, got, want);
        }
    }
    return bad;
}

/* k = 1: one worker's batch, nothing to scale, whatever the warmup. */
static void check_one_worker(outcome *o, const void *ctxp)
{
    const lr_ctx *c = ctxp;
    o->ok = compare_run(o, c, 0.1, 1, 0, 10, 4) + compare_run(o, c, 0.02, 1, 2, 7, 5) == 0;
}

/* warmup 0: the linear scaling rule alone, k lr from step 0. */
static void check_no_warmup(outcome *o, const void *ctxp)
{
    const lr_ctx *c = ctxp;
    o->ok = 1;
    static const double ks[] = {2, 4, 8, 16, 3};
    for (int i = 0; i < (c->quick ? 3 : 5); i++)
        if (compare_run(o, c, 0.02, ks[i], 0, 12, 3))
            o->ok = 0;
    if (compare_run(o, c, 0.05, 32, -1, 5, 2))
        o->ok = 0;
}

/* the warmup: from lr at epoch 0, on a line, to k lr at its end and after. */
static void check_warmup(outcome *o, const void *ctxp)
{
    const lr_ctx *c = ctxp;
    o->ok = 1;
    static const double ks[] = {16, 8, 2, 5, 64};
    static const double warmups[] = {2, 1, 5, 3, 0.5};
    static const long per_epoch[] = {24, 47, 3, 10, 375};
    for (int i = 0; i < (c->quick ? 3 : 5); i++)
        if (compare_run(o, c, 0.02, ks[i], warmups[i], per_epoch[i], 10))
            o->ok = 0;
    /* the middle of the warmup is the mean of its ends: a line, not a curve */
    double mid = c->fn(0.1, 9, 4, 2);
    if (!(fabs(mid - 0.5) <= 1e-9)) {
        lab_say(o, "lr 0.1, k 9, warmup 4: halfway (epoch 2) the rate is %.9g, expected 0.5, the mean of "
                "0.1 and 0.9", mid);
        o->ok = 0;
    }
}

/* the warmup's ends, exactly: lr at 0, k lr at the end and long after */
static void check_ends(outcome *o, const void *ctxp)
{
    const lr_ctx *c = ctxp;
    o->ok = 1;
    struct {
        double epoch, want;
    } at[] = {{0, 0.01}, {1.5, 0.16}, {1.5 - 1e-12, 0.16}, {90, 0.16}, {1e6, 0.16}};
    for (size_t i = 0; i < sizeof at / sizeof *at; i++) {
        double got = c->fn(0.01, 16, 1.5, at[i].epoch);
        if (!(fabs(got - at[i].want) <= 1e-9)) {
            lab_say(o, "lr 0.01, k 16, warmup 1.5 epochs: at epoch %.13g the rate is %.9g, expected %.9g",
                    at[i].epoch, got, at[i].want);
            o->ok = 0;
        }
    }
}

int lab_check_lr_schedule(const lab_checker *lab, const char *file, int quick)
{
    tap t = {0, 0};
    static const lab_case checks[] = {
        {check_one_worker, "k = 1 (one worker's batch): the base rate at every step, with or without warmup", 0},
        {check_no_warmup, "no warmup: k lr from the first step (k = 2 to 32)", 0},
        {check_warmup, "warmup: from lr at epoch 0 on a straight line to k lr, then k lr (the runs' steps)", 0},
        {check_ends, "the warmup's ends: lr at epoch 0, k lr when it ends and 10^6 epochs later", 0},
    };
    int nchecks = (int)(sizeof checks / sizeof *checks);
    printf("TAP version 13\n1..%d\n", nchecks + 1);
    char err[1024];
    static const char *const theirs[] = {"ml_schedule_lr", "ml_schedule_parse", NULL};
    plugin_lr_schedule_fn *fn =
        (plugin_lr_schedule_fn *)cli_plugin_load(file, lab->symbol, theirs, err, sizeof err);
    lab_tap_line(&t, fn != NULL, "%s builds, defines %s and does not call distlab's schedule", file,
                 lab->symbol);
    if (!fn)
        lab_tap_diag(err);
    lr_ctx ctx = {fn, quick};
    lab_run_cases(&t, checks, nchecks, &ctx, fn != NULL);
    return lab_score(&t, lab, file);
}
