/* sgd_allreduce.c -- synchronous data-parallel SGD: the algorithm behind
 * Horovod, PyTorch DDP and every "allreduce the gradients" trainer.
 *
 * Every one of the W workers holds a full copy of the model and a 1/W
 * shard of the training data. Each step:
 *
 *   1. compute the gradient of the loss on a minibatch of b examples of
 *      its own shard                                  (compute: ~ b x model flops)
 *   2. sum the W gradients with an allreduce and divide by W
 *                                                     (communication: see collectives.h)
 *   3. apply the same optimizer step to the same weights
 *
 * so every worker ends each step with bit-identical weights, and the run
 * is exactly minibatch SGD with a batch of W b examples -- which is why
 * the learning rate usually grows with W (the linear scaling rule of
 * Goyal et al., "Accurate, Large Minibatch SGD", 2017: lr x W, reached by
 * a gradual warmup; --scale-lr and --schedule warmup).
 *
 * Time per step = compute(b) + allreduce(P floats). Compute shrinks as W
 * grows (for a fixed global batch), the allreduce does not: the ring's
 * bandwidth term stays near 2 P x 4 bytes x beta. Where they cross is the
 * scaling limit the figures show.
 *
 * One epoch is one pass over the whole training set: ceil(n / (W b))
 * steps. With W = 1 this is the serial baseline (`distlab run serial`).
 *
 * With --bucket SIZE, steps 1 and 2 are PyTorch DDP's schedule instead
 * (dp_grad.c): gradients are summed in buckets of layers, output layer
 * first, each as soon as backward has finished it (--overlap on) or after
 * backward; the sums, and so the weights, are bit for bit the same.
 */
#include "algorithms/sgd_allreduce.h"
#include "algorithms/dp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const train_opt opts[] = {
    {"allreduce", "ring|tree|rd|rabenseifner|hierarchical", "how gradients are summed (default ring; hierarchical: by nodes of --gpus-per-node ranks)"},
    {"segment", "SIZE", "ring: pipeline messages in segments of this size (default: none)"},
    {"scale-lr", NULL, "linear scaling rule: multiply the learning rate by the number of workers"},
    {"bucket", "SIZE", "sum gradients in buckets of layers of this size, output layer first, as DDP (default: one allreduce)"},
    {"overlap", "on|off", "with --bucket: sum each bucket while backward goes on (default on)"},
    {NULL, NULL, NULL},
};

const train_algo sgd_allreduce_algo = {
    .name = "allreduce",
    .summary = "synchronous data-parallel SGD, gradients summed by an allreduce",
    .opts = opts,
    .default_workers = 4,
    .rank = sgd_allreduce_rank,
    .checkpoints = 1,
};

const train_algo sgd_serial_algo = {
    .name = "serial",
    .summary = "plain minibatch SGD on one rank: the baseline",
    .default_workers = 1,
    .rank = sgd_allreduce_rank,
    .checkpoints = 1,
};

int sgd_allreduce_rank(rt *r, void *arg)
{
    const train_setup *setup = arg;
    const sgd_allreduce_opts *opt = setup->algo;
    const ml_config *ml = setup->ml;
    const ml_dataset *train = &setup->prob->train;
    int W = rt_size(r), rc;
    char err[512];
    train_worker wk;
    if ((rc = train_worker_init(&wk, r, setup, rt_rank(r), W, "allreduce SGD")))
        goto done;
    size_t P = wk.P;
    if (opt->scale_lr)
        wk.sched.scale = W;
    dp_sched sched = {.bucket_bytes = opt->bucket_bytes, .overlap = opt->overlap,
                      .algo = opt->algo, .coll = opt->coll};

    long steps_per_epoch = train_steps_per_epoch(train->n, W, ml->batch);
    long steps = steps_per_epoch * ml->epochs, first;
    if ((rc = train_worker_resume(&wk, r, setup, &first)))
        goto done;
    for (long step = first; step < steps && !rc; step++) {
        double epoch = (double)step / (double)steps_per_epoch;
        if ((rc = train_step_begin(setup, r, step)))
            break;
        if (wk.reporting && train_eval_due(&wk.eval, epoch) &&
            (rc = train_eval_now(&wk.eval, wk.params, epoch, step, NULL)))
            break;
        if ((rc = train_worker_checkpoint(&wk, r, setup, step, epoch)))
            break;

        size_t b = train_shard_next(&wk.shard, ml->batch, wk.batch);
        double loss, flops = 0;
        if (opt->bucket_bytes) {
            /* ---- 1 and 2 at once: summed bucket by bucket during backward ---- */
            if ((rc = dp_grad_sum(r, &sched, wk.model, wk.params, train, wk.batch, b, &wk.grad)))
                break;
        } else {
            /* ---- 1. gradient of my minibatch ---- */
            if (b == 0) {
                memset(wk.grad.dense, 0, P * sizeof *wk.grad.dense);
            } else if (ml_model_loss_grad(wk.model, wk.params, train, wk.batch, b, &wk.grad, &loss,
                                          &flops, err, sizeof err) != 0) {
                rc = rt_fail(r, RT_EINVAL, "gradient: %s", err);
                break;
            }
            if ((rc = train_charge(r, flops)))
                break;
            /* ---- 2. sum the gradients of all workers ---- */
            if ((rc = allreduce(r, opt->algo, wk.grad.dense, P, &opt->coll)))
                break;
        }
        /* ... and average them */
        float inv = 1.0f / (float)W;
        for (size_t i = 0; i < P && W > 1; i++)
            wk.grad.dense[i] *= inv;

        /* ---- 3. the same step everywhere ---- */
        flops = (W > 1 ? (double)P : 0) + ml_optim_step(&wk.optim, wk.params, wk.grad.dense, 0, P,
                                                        (float)ml_schedule_lr(&wk.sched, epoch));
        rc = train_charge_vector(r, flops);
    }
    if (!rc && wk.reporting) {
        rc = train_eval_now(&wk.eval, wk.params, (double)ml->epochs, steps, NULL);
        train_eval_finish(&wk.eval, wk.params, P);
    }
done:
    train_worker_free(&wk);
    return rc;
}
