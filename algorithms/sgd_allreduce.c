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
 */
#include "algorithms/sgd_allreduce.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const train_opt opts[] = {
    {"allreduce", "ring|tree|rd|rabenseifner", "how gradients are summed (default ring)"},
    {"segment", "SIZE", "ring: pipeline messages in segments of this size (default: none)"},
    {"scale-lr", NULL, "linear scaling rule: multiply the learning rate by the number of workers"},
    {NULL, NULL, NULL},
};

const train_algo sgd_allreduce_algo = {
    .name = "allreduce",
    .summary = "synchronous data-parallel SGD, gradients summed by an allreduce",
    .opts = opts,
    .default_workers = 4,
    .rank = sgd_allreduce_rank,
};

const train_algo sgd_serial_algo = {
    .name = "serial",
    .summary = "plain minibatch SGD on one rank: the baseline",
    .default_workers = 1,
    .rank = sgd_allreduce_rank,
};

int sgd_allreduce_rank(rt *r, void *arg)
{
    const train_setup *setup = arg;
    const sgd_allreduce_opts *opt = setup->algo;
    const ml_config *ml = setup->ml;
    const ml_dataset *train = &setup->prob->train;
    int W = rt_size(r), me = rt_rank(r), rc;
    char err[512];

    ml_model *model = NULL;
    ml_optim optim = {0};
    ml_grad grad = {0};
    train_shard shard = {0};
    train_eval eval = {0};
    float *params = NULL;
    size_t *batch_idx = NULL;
    int eval_ready = 0;

    rc = train_model_create(r, setup, &model);
    if (rc)
        return rc;
    size_t P = ml_model_nparams(model);
    params = malloc(P * sizeof *params);
    batch_idx = malloc(ml->batch * sizeof *batch_idx);
    if (!params || !batch_idx || ml_grad_init(&grad, P) != 0 ||
        train_shard_init(&shard, train, me, W, ml->seed) != 0) {
        rc = rt_fail(r, RT_ENOMEM, "allreduce SGD: out of memory for %zu parameters", P);
        goto done;
    }
    grad.dense_only = 1;
    /* the same seed on every rank: the same starting weights */
    ml_model_init_params(model, params, ml->seed);
    ml_schedule sched;
    if ((rc = train_optimizer_init(r, ml, 0, P, &optim, &sched)))
        goto done;
    if (opt->scale_lr)
        sched.scale = W;
    if (me == setup->reporter) {
        rc = train_eval_init(&eval, r, setup, model);
        if (rc)
            goto done;
        eval_ready = 1;
    }

    long steps_per_epoch = (long)((train->n + (size_t)W * ml->batch - 1) / ((size_t)W * ml->batch));
    if (steps_per_epoch < 1)
        steps_per_epoch = 1;
    long steps = steps_per_epoch * ml->epochs;
    for (long step = 0; step < steps && !rc; step++) {
        double epoch = (double)step / (double)steps_per_epoch;
        if (eval_ready && train_eval_due(&eval, epoch) &&
            (rc = train_eval_now(&eval, params, epoch, step, NULL)))
            break;

        /* ---- 1. gradient of my minibatch ---- */
        size_t b = train_shard_next(&shard, ml->batch, batch_idx);
        double loss, flops = 0;
        if (b == 0) {
            memset(grad.dense, 0, P * sizeof *grad.dense);
        } else if (ml_model_loss_grad(model, params, train, batch_idx, b, &grad, &loss, &flops,
                                      err, sizeof err) != 0) {
            rc = rt_fail(r, RT_EINVAL, "gradient: %s", err);
            break;
        }
        if ((rc = train_charge(r, flops)))
            break;

        /* ---- 2. average the gradients of all workers ---- */
        if ((rc = allreduce(r, opt->algo, grad.dense, P, &opt->coll)))
            break;
        float inv = 1.0f / (float)W;
        for (size_t i = 0; i < P && W > 1; i++)
            grad.dense[i] *= inv;

        /* ---- 3. the same step everywhere ---- */
        flops = (W > 1 ? (double)P : 0) +
                ml_optim_step(&optim, params, grad.dense, 0, P, (float)ml_schedule_lr(&sched, epoch));
        rc = train_charge(r, flops);
    }
    if (!rc && eval_ready) {
        rc = train_eval_now(&eval, params, (double)ml->epochs, steps, NULL);
        train_eval_finish(&eval, params, P);
    }
done:
    if (eval_ready)
        train_eval_free(&eval);
    train_shard_free(&shard);
    ml_grad_free(&grad);
    ml_optim_free(&optim);
    ml_model_free(model);
    free(params);
    free(batch_idx);
    return rc;
}
