/* psgd.c -- parallelized SGD (one-shot model averaging) and local SGD
 * (periodic model averaging).
 *
 * reference: Zinkevich, Weimer, Smola & Li, "Parallelized Stochastic
 * Gradient Descent", NIPS 2010 (one-shot averaging); Stich, "Local SGD
 * Converges Fast and Communicates Little", ICLR 2019 (periodic averaging).
 *
 * Each of the W workers starts from the same weights and runs plain
 * minibatch SGD on its own 1/W shard of the training set, talking to no
 * one. Every H local steps (--average-every H) the workers replace their
 * models by the average of all W:
 *
 *   1. local steps: gradient of a minibatch of b examples of my shard,
 *      then my optimizer step                  (compute: ~ b x model flops)
 *   2. every H steps: sum the W models with an allreduce, divide by W
 *                                              (communication: one allreduce
 *                                               of P floats, see collectives.h)
 *
 * --average-every end is Zinkevich's algorithm: a single allreduce after
 * the last step. H = 1 with plain SGD is synchronous SGD (the average of W
 * models one step from the same weights is one step along the average
 * gradient), so `distlab run allreduce` and this agree up to rounding.
 * Optimizer state (momentum, Adagrad sums) stays local to each worker.
 *
 * Cost: an epoch (one pass over the whole training set, n examples) is
 * S = ceil(n / (W b)) local steps on every worker, as in allreduce SGD, so
 * E epochs take the same total examples whatever W is. They carry
 * ceil(E S / H) allreduces of P floats (one for "end") instead of E S:
 * larger H trades communication for the drift of the local models apart.
 *
 * Evaluation. Between rounds there is no single model: there are W. The
 * honest thing to plot is the model the job would hand out if it stopped
 * there, the average. With --eval average (the default) every rank joins
 * an observer allreduce of a copy of its weights at each evaluation point
 * that does not fall right after a round; the reporter evaluates that
 * average and takes the observer's time out of time_s, as it does for
 * evaluation itself. The observer changes no weights, but its bytes are in
 * the job's bytes_sent (run_psgd.c splits them out) and its time is in the
 * timeline and the job's total seconds. Each rank leaves the observer when
 * its own part ends; for the ring every rank ends at the same moment, for
 * the tree algorithms the ranks drift by a few message times. With --eval
 * local the reporter evaluates its own model between rounds (no traffic;
 * the `averaged` column says which points are averages). Either way the
 * final model is the average. The local_test_loss column is the reporter's
 * own model; at the end every worker scores its own final model (one
 * worker trained on its 1/W share) into its own result slot, after the
 * reporter's clock has stopped, and run_psgd.c reports their mean.
 */
#include "algorithms/psgd.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const stat_names[PSGD_STATS] = {
    "averaging_rounds", "observer_allreduces", "observer_seconds",
    "local_final_test_loss", "local_final_test_accuracy",
};

static const char *const col_names[PSGD_COLS] = {"averaging_rounds", "averaged", "local_test_loss"};

static const train_opt opts[] = {
    {"average-every", "H|end", "average the models every H local steps, or once at the end (default end)"},
    {"allreduce", "ring|tree|rd|rabenseifner|hierarchical", "how the models are summed (default ring; hierarchical: by nodes of --gpus-per-node ranks)"},
    {"segment", "SIZE", "ring: pipeline messages in segments of this size (default: none)"},
    {"eval", "average|local", "between rounds evaluate the average of all models, by an allreduce "
                              "left out of the clock (default), or the reporter's own model"},
    {NULL, NULL, NULL},
};

const train_algo psgd_algo = {
    .name = "psgd",
    .summary = "parallelized SGD / local SGD: models averaged every H steps or once at the end",
    .opts = opts,
    .default_workers = 4,
    .nextra = PSGD_COLS,
    .extra_names = col_names,
    .nstats = PSGD_STATS,
    .stat_names = stat_names,
    .rank = psgd_rank,
    .checkpoints = 1,
};

int psgd_parse_every(const char *text, long *steps, char *err, size_t errlen)
{
    if (text && strcmp(text, "end") == 0) {
        *steps = 0;
        return 0;
    }
    char *end = NULL;
    errno = 0;
    long v = text ? strtol(text, &end, 10) : 0;
    if (!text || !*text || *end || errno || v < 1) {
        snprintf(err, errlen, "expected a positive number of local steps or 'end', not '%s'",
                 text ? text : "");
        return -1;
    }
    *steps = v;
    return 0;
}

/* What a checkpoint keeps beside the worker's own state. */
typedef struct psgd_saved {
    int64_t rounds, in_sync;
    double eval_next;
} psgd_saved;

/* One rank's state, so the helpers below take one argument. */
typedef struct psgd_rank_state {
    rt *r;
    const train_setup *setup;
    const psgd_opts *opt;
    train_worker wk;  /* my model (wk.params), shard, optimizer; evaluation on the reporter */
    float *average;   /* scratch: the observer's average */
    int W;
    long rounds;      /* averaging rounds so far */
    int in_sync;      /* every worker holds the same weights (after a round) */
    train_schedule sched; /* every rank: the observer allreduce needs them all */
} psgd_rank_state;

/* Sum buf over the workers and divide by W. Returns the flops of the
 * division, for the caller to charge or not. */
static int psgd_allreduce_mean(psgd_rank_state *s, float *buf, double *flops)
{
    int rc = allreduce(s->r, s->opt->algo, buf, s->wk.P, &s->opt->coll);
    if (rc)
        return rc;
    float inv = 1.0f / (float)s->W;
    for (size_t i = 0; i < s->wk.P; i++)
        buf[i] *= inv;
    *flops = (double)s->wk.P;
    return RT_OK;
}

/* ---- a training round: every model becomes the average ---- */
static int psgd_average(psgd_rank_state *s)
{
    if (s->W == 1)
        return RT_OK; /* one model is its own average */
    double flops;
    int rc = psgd_allreduce_mean(s, s->wk.params, &flops);
    if (!rc)
        rc = train_charge_vector(s->r, flops);
    s->rounds++;
    s->in_sync = 1;
    return rc;
}

/* Test loss and accuracy of a model held by this rank, aside from
 * training. */
static int psgd_eval_model(psgd_rank_state *s, const float *params, double *loss,
                           double *accuracy)
{
    const ml_dataset *test = &s->setup->prob->test;
    char err[512];
    double flops;
    rt_aside_begin(s->r);
    int bad = ml_model_evaluate(s->wk.model, params, test, NULL, test->n, loss, accuracy, NULL,
                                &flops, err, sizeof err) != 0;
    rt_aside_end(s->r);
    return bad ? rt_fail(s->r, RT_EINVAL, "evaluation of the local model: %s", err) : RT_OK;
}

/* ---- an evaluation point: the average model, or the reporter's own ---- */
static int psgd_evaluate(psgd_rank_state *s, double epoch, long step)
{
    train_point pt = {.epoch = epoch, .step = step,
                      .extra = {[PSGD_COL_ROUNDS] = (double)s->rounds, [PSGD_COL_AVERAGED] = 1,
                                [PSGD_COL_LOCAL_LOSS] = NAN}};
    const float *evaluated = s->wk.params;
    int rc;
    if (!s->in_sync && s->opt->eval == PSGD_EVAL_AVERAGE) {
        /* the observer: an allreduce of a copy, aside from training */
        double t0 = rt_now(s->r), flops;
        memcpy(s->average, s->wk.params, s->wk.P * sizeof *s->wk.params);
        rt_aside_begin(s->r);
        rc = psgd_allreduce_mean(s, s->average, &flops);
        rt_aside_end(s->r);
        if (rc || !s->wk.reporting)
            return rc;
        train_out *out = s->wk.eval.out;
        out->stats[PSGD_STAT_OBSERVE] += 1;
        out->stats[PSGD_STAT_OBSERVE_S] += rt_now(s->r) - t0;
        double accuracy;
        if ((rc = psgd_eval_model(s, s->wk.params, &pt.extra[PSGD_COL_LOCAL_LOSS], &accuracy)))
            return rc;
        evaluated = s->average;
    } else if (!s->wk.reporting) {
        return RT_OK;
    } else if (!s->in_sync) {
        pt.extra[PSGD_COL_AVERAGED] = 0;
    }
    pt.time_s = train_eval_clock(&s->wk.eval);
    if ((rc = train_eval_measure(&s->wk.eval, evaluated, &pt)))
        return rc;
    /* the evaluated model was the reporter's own: its loss is the local one */
    if (evaluated == s->wk.params)
        pt.extra[PSGD_COL_LOCAL_LOSS] = pt.test_loss;
    return train_eval_record(&s->wk.eval, &pt);
}

int psgd_rank(rt *r, void *arg)
{
    const train_setup *setup = arg;
    const ml_config *ml = setup->ml;
    const ml_dataset *train = &setup->prob->train;
    psgd_rank_state s = {.r = r, .setup = setup, .opt = setup->algo, .W = rt_size(r), .in_sync = 1};
    train_worker *wk = &s.wk;
    long H = s.opt->average_every_steps;
    char err[512];

    /* ---- setup: same weights everywhere, my own shard ---- */
    int rc = train_worker_init(wk, r, setup, rt_rank(r), s.W, "psgd");
    if (!rc && !(s.average = malloc(wk->P * sizeof *s.average)))
        rc = rt_fail(r, RT_ENOMEM, "psgd: out of memory for %zu parameters", wk->P);
    if (rc)
        goto done;
    train_schedule_init(&s.sched, ml, 1);

    /* ---- local steps, averaging every H ---- */
    long steps_per_epoch = train_steps_per_epoch(train->n, s.W, ml->batch);
    long steps = steps_per_epoch * ml->epochs, first;
    psgd_saved saved;
    if ((rc = train_worker_resume_with(wk, r, setup, &first, &saved, sizeof saved)))
        goto done;
    /* one averaging round a step at most */
    if (first > 0 && (saved.rounds < 0 || saved.rounds > first || (saved.in_sync != 0 && saved.in_sync != 1) ||
                      !(saved.eval_next >= 0 && saved.eval_next <= 1e15))) {
        rc = train_resume_refuse(r, setup, "rank %d's checkpoint is damaged: its averaging rounds or "
                                 "evaluation schedule (%lld rounds at step %ld, in sync %lld, next "
                                 "evaluation at %g)", rt_rank(r), (long long)saved.rounds, first,
                                 (long long)saved.in_sync, saved.eval_next);
        goto done;
    }
    if (first > 0) {
        s.rounds = (long)saved.rounds;
        s.in_sync = (int)saved.in_sync;
        s.sched.next = saved.eval_next;
    }
    for (long step = first; step < steps && !rc; step++) {
        double epoch = (double)step / (double)steps_per_epoch;
        if ((rc = train_step_begin(setup, r, step)))
            break;
        if (train_schedule_due(&s.sched, epoch) && (rc = psgd_evaluate(&s, epoch, step)))
            break;
        saved = (psgd_saved){.rounds = s.rounds, .in_sync = s.in_sync, .eval_next = s.sched.next};
        if ((rc = train_worker_checkpoint_with(wk, r, setup, step, epoch, &saved, sizeof saved)))
            break;

        size_t b = train_shard_next(&wk->shard, ml->batch, wk->batch);
        double loss, flops = 0, step_flops = 0;
        if (b > 0) {
            if (ml_model_loss_grad(wk->model, wk->params, train, wk->batch, b, &wk->grad, &loss,
                                   &flops, err, sizeof err) != 0) {
                rc = rt_fail(r, RT_EINVAL, "gradient: %s", err);
                break;
            }
            step_flops = ml_optim_step(&wk->optim, wk->params, wk->grad.dense, 0, wk->P,
                                       (float)ml_schedule_lr(&wk->sched, epoch));
        }
        /* the others stepped even if my shard is empty: every rank must
         * agree on this, since it decides who joins an allreduce */
        s.in_sync = s.W == 1;
        if ((rc = train_charge(r, flops)) || (rc = train_charge_vector(r, step_flops)))
            break;
        if (H > 0 && (step + 1) % H == 0)
            rc = psgd_average(&s);
    }

    /* ---- the last average (the only one for --average-every end) ---- */
    if (!rc) /* keep my own model: one worker trained on its 1/W share */
        memcpy(s.average, wk->params, wk->P * sizeof *wk->params);
    if (!rc && !s.in_sync)
        rc = psgd_average(&s);
    /* ---- every worker's own final model, into its own slot: no traffic,
     * and after the reporter's clock stopped; then the final point ---- */
    if (!rc) {
        train_out *mine = train_slot(r);
        train_point pt = {.time_s = wk->reporting ? train_eval_clock(&wk->eval) : 0,
                          .epoch = (double)ml->epochs, .step = steps,
                          .extra = {[PSGD_COL_ROUNDS] = (double)s.rounds, [PSGD_COL_AVERAGED] = 1}};
        rc = psgd_eval_model(&s, s.average, &mine->stats[PSGD_STAT_LOCAL_LOSS],
                             &mine->stats[PSGD_STAT_LOCAL_ACCURACY]);
        pt.extra[PSGD_COL_LOCAL_LOSS] = mine->stats[PSGD_STAT_LOCAL_LOSS];
        if (!rc && wk->reporting) {
            rc = train_eval_point(&wk->eval, wk->params, &pt);
            mine->stats[PSGD_STAT_ROUNDS] = (double)s.rounds;
            train_eval_finish(&wk->eval, wk->params, wk->P);
        }
    }
done:
    train_worker_free(wk);
    free(s.average);
    return rc;
}
