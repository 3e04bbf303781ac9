/* ray_ps.c -- Ray's parameter-server example, on distlab's Ray model.
 *
 * The example from Ray's documentation (plot_parameter_server), in C: a
 * ParameterServer actor holds the weights and the optimizer; W DataWorker
 * actors each hold a shard of the training set and compute gradients on
 * the weights they are handed. The driver wires them together with
 * futures only:
 *
 *   sync:   weights = ps.get_weights()
 *           each step: grads[w] = worker[w].compute_gradients(weights)
 *                      weights  = ps.apply_gradients(*grads)
 *           -- the server waits for all W gradients (futures resolved
 *              before the method runs), averages them in worker order and
 *              steps: minibatch SGD with a batch of W b, as run allreduce.
 *   async:  every worker starts on the first weights; then W x steps
 *           times: wait for the first gradient ready, weights =
 *           ps.apply_gradients(that one), hand that worker the new weights.
 *           -- no worker waits for another; gradients are stale by up to
 *              W - 1 updates, so stragglers cost little. Each gradient is
 *              applied at lr / W, as ps:async applies a push: W of them
 *              move the weights as far as one sync step on their mean, so
 *              --lr means the same in both modes. (Ray's example sums the
 *              gradients in sync and applies one at the same rate in
 *              async: the same step per example. Applied at the full lr,
 *              async took W times the step per example, and with stale
 *              gradients it fell from 79.7% after one epoch to 71.2%.)
 *
 * Placement: rank 0 is the driver's node and hosts the server, worker w
 * lives on rank 1 + w. Weights and gradients are P floats: at most the
 * inline threshold (100 KiB: 25,600 floats) they travel inline through
 * their owner (the driver, on the server's node); larger, they stay in
 * the store of the node that made them and are fetched from there, so a
 * gradient crosses one link once either way and weights W times a step.
 * Cost of a sync step = max over workers (fetch weights + compute) +
 * W gradients into node 0 + the server's sum and step, plus two task
 * overheads.
 *
 * A worker's node that dies (--fail) loses the gradient it was computing
 * (a call in flight fails, as in Ray) and its actor, which Ray restarts
 * on another node from its constructor (max_restarts 3: a fresh shard
 * position, the same shard). sync: the driver checks each step's weights
 * and runs a failed step again on the same weights; async: the driver
 * hands that worker the latest weights again. A worker whose calls fail
 * twice running is dropped (async) or ends the run (sync).
 *
 * With one worker, sync is the serial baseline step for step: the same
 * starting weights, shard, minibatches, gradient and optimizer step, so
 * the same bits as `distlab run serial`; with a fixed seed sync gives
 * the same bits on both backends.
 */
#include "algorithms/ray_ps.h"

#include <stdlib.h>
#include <string.h>

static const train_opt opts[] = {
    {"mode", "sync|async", "sync: the server applies all workers' gradients together (default); "
                           "async: the first ready gradient, then that worker goes on"},
    {"task-overhead", "TIME", "sim: time every task and method takes before it runs "
                              "(default 5us, measured on real threads)"},
    {"inline-threshold", "SIZE", "objects up to this travel inline, larger stay in the maker's "
                                 "store (default 100KiB, Ray's)"},
    {"async-loop", "FILE.c", "async: the driver's wait/apply/resubmit loop from a file of your own "
                             "(lab 09: plugin_ray_async_ps)"},
    {NULL, NULL, NULL},
};

static const char *const stat_names[RAY_PS_NSTATS] = {RAY_STAT_NAMES, "ray_steps_redone"};

static void shape(const void *o, int workers, train_shape *out)
{
    (void)o;
    *out = (train_shape){.ranks = workers + 1, .reporter = 0, .first = 1, .count = workers};
}

const train_algo ray_ps_algo = {
    .name = "ray-ps",
    .summary = "Ray's parameter-server example: a server actor and worker actors wired by futures",
    .opts = opts,
    .default_workers = 4,
    .nstats = RAY_PS_NSTATS,
    .stat_names = stat_names,
    .shape = shape,
    .rank = ray_ps_rank,
};

const char *ray_ps_mode_name(ray_ps_mode m)
{
    return m == RAY_PS_ASYNC ? "async" : "sync";
}

/* ---- the actors ---- */

typedef struct server {
    train_worker wk;    /* its weights, optimizer, schedule and evaluation */
    int W;
    double lr_scale;    /* async: 1/W (one gradient is 1/W of a sync step) */
    long step, steps_per_epoch;
} server;

typedef struct worker {
    train_worker wk;
    long step;          /* gradients this actor began (--kill-rank counts them) */
} worker;

static int server_init(ray *ry, void *state, int nargs, const ray_arg *a)
{
    (void)nargs;
    (void)a;
    const train_setup *setup = ray_program_arg(ry);
    const ray_ps_opts *o = setup->algo;
    server *s = state;
    s->W = setup->workers;
    s->lr_scale = o->mode == RAY_PS_ASYNC ? 1.0 / s->W : 1.0;
    int rc = train_worker_init(&s->wk, ray_rt(ry), setup, 0, 1, "ray-ps server");
    s->steps_per_epoch = train_steps_per_epoch(setup->prob->train.n,
                                               o->mode == RAY_PS_SYNC ? s->W : 1, setup->ml->batch);
    return rc ? ray_raise(ry, "%s", rt_error(ray_rt(ry))) : RT_OK;
}

static void server_fini(void *state)
{
    train_worker_free(&((server *)state)->wk);
}

static int get_weights(ray *ry, void *state, int nargs, const ray_arg *a)
{
    (void)nargs;
    (void)a;
    server *s = state;
    return ray_return(ry, s->wk.params, s->wk.P * sizeof(float));
}

/* apply_gradients(g_1 .. g_n): average them (in argument order), step */
static int apply_gradients(ray *ry, void *state, int nargs, const ray_arg *g)
{
    server *s = state;
    rt *r = ray_rt(ry);
    size_t P = s->wk.P;
    double epoch = (double)s->step / (double)s->steps_per_epoch;
    int rc;
    if (s->wk.reporting && train_eval_due(&s->wk.eval, epoch) &&
        (rc = train_eval_now(&s->wk.eval, s->wk.params, epoch, s->step, NULL)))
        return rc;
    float *sum = s->wk.grad.dense;
    for (int k = 0; k < nargs; k++)
        if (g[k].bytes != P * sizeof(float))
            return ray_raise(ry, "gradient %d has %zu bytes, not %zu", k, g[k].bytes, P * sizeof(float));
    memcpy(sum, g[0].data, P * sizeof *sum);
    for (int k = 1; k < nargs; k++) {
        const float *x = g[k].data;
        for (size_t i = 0; i < P; i++)
            sum[i] += x[i];
    }
    float inv = 1.0f / (float)nargs;
    for (size_t i = 0; i < P && nargs > 1; i++)
        sum[i] *= inv;
    double flops = (nargs > 1 ? (double)nargs * (double)P : 0) +
                   ml_optim_step(&s->wk.optim, s->wk.params, sum, 0, P,
                                 (float)(ml_schedule_lr(&s->wk.sched, epoch) * s->lr_scale));
    s->step++;
    if ((rc = train_charge_vector(r, flops)))
        return rc;
    return ray_return(ry, s->wk.params, P * sizeof(float));
}

/* finish(): the last evaluation point and the final weights */
static int server_finish(ray *ry, void *state, int nargs, const ray_arg *a)
{
    (void)nargs;
    (void)a;
    server *s = state;
    const train_setup *setup = ray_program_arg(ry);
    if (!s->wk.reporting)
        return RT_OK;
    int rc = train_eval_now(&s->wk.eval, s->wk.params, (double)setup->ml->epochs, s->step, NULL);
    train_eval_finish(&s->wk.eval, s->wk.params, s->wk.P);
    return rc;
}

static int worker_init(ray *ry, void *state, int nargs, const ray_arg *a)
{
    (void)nargs;
    const train_setup *setup = ray_program_arg(ry);
    int w;
    memcpy(&w, a[0].data, sizeof w);
    worker *k = state;
    int rc = train_worker_init(&k->wk, ray_rt(ry), setup, w, setup->workers, "ray-ps worker");
    return rc ? ray_raise(ry, "%s", rt_error(ray_rt(ry))) : RT_OK;
}

static void worker_fini(void *state)
{
    train_worker_free(&((worker *)state)->wk);
}

/* compute_gradients(weights): the gradient of the next minibatch */
static int compute_gradients(ray *ry, void *state, int nargs, const ray_arg *a)
{
    (void)nargs;
    worker *k = state;
    const train_setup *setup = ray_program_arg(ry);
    size_t P = k->wk.P;
    int rc = train_step_begin(setup, ray_rt(ry), k->step++); /* --kill-rank: its node dies here */
    if (rc)
        return rc;
    if (a[0].bytes != P * sizeof(float))
        return ray_raise(ry, "weights of %zu bytes, not %zu", a[0].bytes, P * sizeof(float));
    memcpy(k->wk.params, a[0].data, P * sizeof(float));
    size_t b = train_shard_next(&k->wk.shard, setup->ml->batch, k->wk.batch);
    double loss, flops = 0;
    char err[256];
    if (b == 0)
        memset(k->wk.grad.dense, 0, P * sizeof(float));
    else if (ml_model_loss_grad(k->wk.model, k->wk.params, &setup->prob->train, k->wk.batch, b,
                                &k->wk.grad, &loss, &flops, err, sizeof err) != 0)
        return ray_raise(ry, "gradient: %s", err);
    rc = train_charge(ray_rt(ry), flops);
    return rc ? rc : ray_return(ry, k->wk.grad.dense, P * sizeof(float));
}

static int driver(ray *ry, void *arg);

static const ray_method server_methods[] = {
    {"get_weights", get_weights}, {"apply_gradients", apply_gradients}, {"finish", server_finish}};
static const ray_method worker_methods[] = {{"compute_gradients", compute_gradients}};
static const ray_class classes[] = {
    {"ParameterServer", sizeof(server), server_init, server_fini, server_methods, 3},
    {"DataWorker", sizeof(worker), worker_init, worker_fini, worker_methods, 1},
};

ray_program ray_ps_program(void)
{
    return (ray_program){NULL, 0, classes, 2, driver, NULL, ray_config_default()};
}

/* ---- the driver ---- */

/* The weights a step made, or RAY_ETASK when a gradient was lost (then
 * the server did not step: a failed argument fails the method unrun). */
static int step_done(ray *ry, ray_ref next)
{
    const void *d;
    size_t b;
    return ray_get(ry, next, &d, &b);
}

static int drive_sync(ray *ry, ray_actor ps, const ray_actor *wk, int W, long steps,
                      double *redone)
{
    ray_ref weights, *grads = calloc((size_t)W, sizeof *grads);
    ray_in *in = calloc((size_t)W, sizeof *in);
    int rc = grads && in ? ray_call(ry, ps, "get_weights", 0, NULL, &weights) : RT_ENOMEM;
    for (long step = 0; step < steps && !rc; step++) {
        ray_ref next = 0;
        for (int attempt = 0;; attempt++) {
            for (int w = 0; w < W && !rc; w++) {
                rc = ray_call(ry, wk[w], "compute_gradients", 1, (ray_in[]){ray_fut(weights)},
                              &grads[w]);
                in[w] = ray_fut(grads[w]);
            }
            if (!rc)
                rc = ray_call(ry, ps, "apply_gradients", W, in, &next);
            for (int w = 0; w < W && !rc; w++)
                ray_release(ry, grads[w]);
            if (!rc)
                rc = step_done(ry, next);
            if (rc != RAY_ETASK || attempt == 1)
                break;
            ray_release(ry, next); /* a worker died: the same step again */
            (*redone)++;
            rc = RT_OK;
        }
        ray_release(ry, weights);
        weights = next;
    }
    if (!rc)
        ray_release(ry, weights);
    free(grads);
    free(in);
    return rc;
}

static int drive_async(ray *ry, ray_actor ps, const ray_actor *wk, int W, long updates,
                       double *redone)
{
    ray_ref latest, *grads = calloc((size_t)W, sizeof *grads), *live = calloc((size_t)W, sizeof *live);
    int *ready = calloc((size_t)W, sizeof *ready), *who = calloc((size_t)W, sizeof *who);
    int *failures = calloc((size_t)W, sizeof *failures);
    int rc = grads && live && ready && who && failures
                 ? ray_call(ry, ps, "get_weights", 0, NULL, &latest) : RT_ENOMEM;
    long submitted = 0;
    for (int w = 0; w < W && !rc && submitted < updates; w++, submitted++)
        rc = ray_call(ry, wk[w], "compute_gradients", 1, (ray_in[]){ray_fut(latest)}, &grads[w]);
    for (long u = 0; u < updates && !rc;) {
        int n = 0, nready;
        for (int w = 0; w < W; w++)
            if (grads[w]) {
                who[n] = w;
                live[n++] = grads[w];
            }
        if (n == 0) {
            rc = rt_fail(ray_rt(ry), RAY_ETASK, "ray-ps: every worker was lost");
            break;
        }
        if ((rc = ray_wait(ry, n, live, 1, -1, ready, &nready)))
            break;
        int w = -1;
        for (int i = 0; i < n && w < 0; i++)
            if (ready[i])
                w = who[i];
        const void *d;
        size_t b;
        if (ray_get(ry, grads[w], &d, &b) == RAY_ETASK) { /* its node died: again, or drop it */
            ray_release(ry, grads[w]);
            grads[w] = 0;
            (*redone)++;
            if (++failures[w] < 2)
                rc = ray_call(ry, wk[w], "compute_gradients", 1, (ray_in[]){ray_fut(latest)},
                              &grads[w]);
            continue;
        }
        failures[w] = 0;
        ray_ref next;
        rc = ray_call(ry, ps, "apply_gradients", 1, (ray_in[]){ray_fut(grads[w])}, &next);
        ray_release(ry, grads[w]);
        grads[w] = 0;
        u++;
        if (rc)
            break;
        ray_release(ry, latest);
        latest = next;
        if (submitted < updates) {
            rc = ray_call(ry, wk[w], "compute_gradients", 1, (ray_in[]){ray_fut(latest)}, &grads[w]);
            submitted++;
        }
    }
    if (latest)
        ray_release(ry, latest);
    free(grads);
    free(live);
    free(ready);
    free(who);
    free(failures);
    return rc;
}

static int driver(ray *ry, void *arg)
{
    const train_setup *setup = arg;
    const ray_ps_opts *o = setup->algo;
    int W = setup->workers, rc;
    ray_actor ps, *wk = calloc((size_t)W, sizeof *wk);
    if (!wk)
        return rt_fail(ray_rt(ry), RT_ENOMEM, "ray-ps: out of memory");
    rc = ray_actor_create(ry, "ParameterServer", 0, NULL, &(ray_task_opts){.cpus = 0, .node = 0}, &ps);
    for (int w = 0; w < W && !rc; w++)
        rc = ray_actor_create(ry, "DataWorker", 1, (ray_in[]){ray_val(&w, sizeof w)},
                              &(ray_task_opts){.cpus = 0, .node = 1 + w, .max_restarts = 3},
                              &wk[w]);
    long spe = train_steps_per_epoch(setup->prob->train.n, o->mode == RAY_PS_SYNC ? W : 1,
                                     setup->ml->batch);
    long steps = spe * setup->ml->epochs;
    double *redone = &train_slot(ray_rt(ry))->stats[RAY_PS_STAT_STEPS_REDONE];
    if (!rc)
        rc = o->mode == RAY_PS_SYNC ? drive_sync(ry, ps, wk, W, steps, redone)
             : o->async_loop        ? o->async_loop(ry, ps, wk, W, steps)
                                    : drive_async(ry, ps, wk, W, steps, redone);
    ray_ref done;
    const void *d;
    size_t b;
    if (!rc)
        rc = ray_call(ry, ps, "finish", 0, NULL, &done);
    if (!rc)
        rc = ray_get(ry, done, &d, &b);
    free(wk);
    return rc;
}

/* ---- every rank ---- */

int ray_ps_rank(rt *r, void *arg)
{
    train_setup *setup = arg;
    const ray_ps_opts *o = setup->algo;
    int rc = train_algo_check(r, &ray_ps_algo, setup);
    if (rc)
        return rc;
    ray_program prog = ray_ps_program();
    prog.arg = setup;
    prog.cfg = o->ray;
    ray_stats st;
    memset(&st, 0, sizeof st);
    rc = ray_main(r, &prog, &st);
    if (rc) {
        /* a node that died keeps what it did in its own slot's stats
         * (only the reporter's hold totals): run ray-ps adds them */
        _Static_assert(RAY_NSTATS + 1 <= TRAIN_STATS, "a dead node's counts fit a slot's stats");
        ray_stats_keep(train_slot(r)->stats, &st);
        return rc;
    }
    /* what each node's store did, summed on the reporter */
    return ray_stats_gather(r, &st, rt_rank(r) == 0 ? train_slot(r)->stats : NULL);
}
