/* distbelief_mp.c -- model parallelism, DistBelief's way: every partition
 * owns a slice of the neurons of every layer and the weights that feed them.
 * reference: Dean et al., "Large Scale Distributed Deep Networks", NIPS
 * 2012, section 3 (model parallelism) and figure 3.
 *
 * Shapes: B = examples in the minibatch, L = weight layers, n_l = units of
 * layer l (n_0 = inputs, n_L = classes), K = partitions, m_l = n_l / K =
 * units of layer l a partition owns. Every partition reads the whole input
 * (fully connected layers need it all) and holds W_l[:, its units] and
 * b_l[its units].
 *
 * First every partition copies the batch's inputs into a B x n_0 matrix
 * of its own (compute: RT_WORK_GATHER, B n_0: priced only by a
 * calibration, which measures such gathers; free without one).
 *
 * Forward, layer l = 1..L:
 *   1. my slice: h_l[:, mine] = relu(h_{l-1} W_l[:, mine] + b_l[mine])
 *                                          (compute: 2 B n_{l-1} m_l)
 *   2. allgather of the slices, so every partition has all of h_l
 *      (allgatherv.c)                      (each sends (K-1) B m_l floats)
 *   At l = L the slices are logits: after their allgather every partition
 *   computes the same softmax cross-entropy and the same dLoss/dlogits
 *                                 (compute: RT_WORK_LOSS, 4 B n_L)
 * Backward, layer l = L..1, from my slice dz of dLoss/d(pre-activation):
 *   1. gW_l[:, mine] = h_{l-1}^T dz, gb_l[mine] = column sums of dz, and my
 *      share of the input gradient, partial = dz W_l[:, mine]^T (B x n_{l-1})
 *                                          (compute: 4 B n_{l-1} m_l)
 *   2. reduce-scatter of the shares: partition j gets every partition's
 *      partial[:, j's units of layer l-1] and sums them in partition order
 *      (reduce_scatterv.c)                 (each sends (K-1) B m_{l-1} floats)
 *   3. dz for layer l-1 = that sum where my units of h_{l-1} are > 0 (ReLU)
 * Only activations and their gradients cross partitions, never weights.
 *
 * Cost of one step, ideal network (alpha, beta per byte, speed in flop/s),
 * partitions on hosts of their own:
 *     T(K) ~ 6 B P / (K speed) + sum over exchanges (alpha + 4 (K-1) B m beta)
 * The compute term shrinks as 1/K; each of the 2L - 1 exchanges moves
 * about 4 B n_l (K-1)/K bytes through a partition's link whatever K is.
 * So a small layer stops gaining after a few partitions (communication
 * dominates) and a wide one keeps gaining much further -- the shape of the
 * paper's figure 3.
 *
 * `--mode model-parallel` trains one replica this way (or, with --split
 * layers, through distbelief_pipe.c's pipeline): every partition draws the
 * same minibatches (same shard, same seed), computes its part of the
 * gradient and applies the optimizer to the weights it owns.
 */
#include "algorithms/distbelief.h"

#include "algorithms/collectives.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { TAG_GATHER = 0x6300 };

/* ---- layout ---- */

int db_layout_init(db_layout *lay, const size_t *width, int L, int K, char *err, size_t errlen)
{
    memset(lay, 0, sizeof *lay);
    if (L < 1 || L > ML_MLP_MAX_HIDDEN + 1) {
        snprintf(err, errlen, "a network of 1 to %d weight layers, not %d", ML_MLP_MAX_HIDDEN + 1, L);
        return -1;
    }
    if (K < 1) {
        snprintf(err, errlen, "--partitions: at least 1, not %d", K);
        return -1;
    }
    for (int l = 1; l < L; l++)
        if (width[l] < (size_t)K) {
            snprintf(err, errlen, "--partitions %d: hidden layer %d has only %zu neurons; each "
                     "partition needs at least one of every hidden layer (use at most %zu)",
                     K, l, width[l], width[l]);
            return -1;
        }
    lay->L = L;
    lay->K = K;
    size_t off = 0;
    lay->width[0] = width[0];
    for (int l = 1; l <= L; l++) {
        lay->width[l] = width[l];
        lay->w_off[l] = off;
        off += width[l - 1] * width[l];
        lay->b_off[l] = off;
        off += width[l];
    }
    lay->P = off;
    return 0;
}

int db_layout_of_model(db_layout *lay, const ml_model *m, int K, char *err, size_t errlen)
{
    if (ml_model_kind_of(m) != ML_MODEL_MLP) {
        snprintf(err, errlen, "model parallelism splits the neurons of an MLP: use --model "
                 "mlp:H1,H2,...");
        return -1;
    }
    size_t width[ML_MLP_MAX_HIDDEN + 2], w, b;
    int L = ml_model_layers(m);
    for (int l = 1; l <= L; l++)
        ml_model_layer(m, l, &width[l - 1], &width[l], &w, &b);
    return db_layout_init(lay, width, L, K, err, errlen);
}

void db_slice(const db_layout *lay, int l, int k, size_t *lo, size_t *hi)
{
    size_t n = lay->width[l];
    *lo = n * (size_t)k / (size_t)lay->K;
    *hi = n * (size_t)(k + 1) / (size_t)lay->K;
}

size_t db_part_params(const db_layout *lay, int k)
{
    size_t n = 0, lo, hi;
    for (int l = 1; l <= lay->L; l++) {
        db_slice(lay, l, k, &lo, &hi);
        n += (lay->width[l - 1] + 1) * (hi - lo);
    }
    return n;
}

size_t db_part_offset(const db_layout *lay, int k)
{
    size_t off = 0;
    for (int j = 0; j < k; j++)
        off += db_part_params(lay, j);
    return off;
}

/* Walk partition k's runs of the flat array in packed order; copy each
 * one in the direction asked. */
static void pack_walk(const db_layout *lay, int k, float *flat, float *packed, int to_packed)
{
    size_t lo, hi, at = 0;
    for (int l = 1; l <= lay->L; l++) {
        db_slice(lay, l, k, &lo, &hi);
        size_t m = hi - lo, n = lay->width[l];
        for (size_t i = 0; i <= lay->width[l - 1]; i++) {
            /* rows of W, then b as one more row */
            float *run = flat + (i < lay->width[l - 1] ? lay->w_off[l] + i * n : lay->b_off[l]) + lo;
            if (to_packed)
                memcpy(packed + at, run, m * sizeof *run);
            else
                memcpy(run, packed + at, m * sizeof *run);
            at += m;
        }
    }
}

void db_pack(const db_layout *lay, int k, const float *flat, float *packed)
{
    pack_walk(lay, k, (float *)flat, packed, 1);
}

void db_unpack(const db_layout *lay, int k, const float *packed, float *flat)
{
    pack_walk(lay, k, flat, (float *)packed, 0);
}

/* ---- one partition ---- */

int db_part_init(db_part *p, rt *r, const db_layout *lay, int k, int base)
{
    memset(p, 0, sizeof *p);
    p->r = r;
    p->lay = lay;
    p->k = k;
    p->base = base;
    p->counts = calloc((size_t)lay->K, sizeof *p->counts);
    if (!p->counts)
        return rt_fail(r, RT_ENOMEM, "model parallelism: out of memory");
    return RT_OK;
}

void db_part_free(db_part *p)
{
    for (int l = 0; l <= ML_MLP_MAX_HIDDEN + 1; l++) {
        free(p->act[l]);
        free(p->mine[l]);
    }
    free(p->dz);
    free(p->dz_next);
    free(p->logits);
    free(p->delta);
    free(p->partial);
    free(p->blocks);
    free(p->counts);
    memset(p, 0, sizeof *p);
}

static size_t max_width(const db_layout *lay)
{
    size_t w = 0;
    for (int l = 0; l <= lay->L; l++)
        w = lay->width[l] > w ? lay->width[l] : w;
    return w;
}

static size_t max_slice(const db_layout *lay)
{
    size_t w = 0, lo, hi;
    for (int l = 1; l <= lay->L; l++)
        for (int k = 0; k < lay->K; k++) {
            db_slice(lay, l, k, &lo, &hi);
            w = hi - lo > w ? hi - lo : w;
        }
    return w;
}

static int reserve(db_part *p, size_t B)
{
    if (B <= p->cap)
        return RT_OK;
    const db_layout *lay = p->lay;
    size_t wmax = max_width(lay), smax = max_slice(lay), C = lay->width[lay->L];
    for (int l = 0; l < lay->L; l++) {
        free(p->act[l]);
        p->act[l] = malloc(B * lay->width[l] * sizeof(float) + 1);
    }
    for (int l = 1; l <= lay->L; l++) {
        free(p->mine[l]);
        p->mine[l] = malloc(B * smax * sizeof(float) + 1);
    }
    free(p->dz);
    free(p->dz_next);
    free(p->logits);
    free(p->delta);
    free(p->partial);
    free(p->blocks);
    p->dz = malloc(B * smax * sizeof(float) + 1);
    p->dz_next = malloc(B * smax * sizeof(float) + 1);
    p->logits = malloc(B * C * sizeof(float));
    p->delta = malloc(B * C * sizeof(float));
    p->partial = malloc(B * wmax * sizeof(float));
    p->blocks = malloc(B * wmax * sizeof(float) + 1);
    int ok = p->dz && p->dz_next && p->logits && p->delta && p->partial && p->blocks;
    for (int l = 0; l < lay->L; l++)
        ok = ok && p->act[l];
    for (int l = 1; l <= lay->L; l++)
        ok = ok && p->mine[l];
    if (!ok) {
        p->cap = 0;
        return rt_fail(p->r, RT_ENOMEM, "model parallelism: out of memory for a batch of %zu", B);
    }
    p->cap = B;
    return RT_OK;
}

/* The batch's inputs as a dense B x d matrix (sparse rows densified). */
static void gather_inputs(const ml_dataset *ds, const size_t *idx, size_t B, size_t d, float *x)
{
    /* dense rows at least d long overwrite all of x: no zeroing first
     * (it doubled the gather's writes: 200 KB a step at batch 64) */
    if (ds->sparse || ds->d < d)
        memset(x, 0, B * d * sizeof *x);
    for (size_t i = 0; i < B; i++) {
        size_t r = idx ? idx[i] : i;
        if (!ds->sparse) {
            memcpy(x + i * d, ds->x + r * ds->d, (ds->d < d ? ds->d : d) * sizeof *x);
            continue;
        }
        for (size_t k = ds->row_ptr[r]; k < ds->row_ptr[r + 1]; k++)
            if (ds->col[k] < d)
                x[i * d + ds->col[k]] = ds->val[k];
    }
}

/* Each partition's block of layer l, B x m_l floats, into p->counts. */
static void layer_counts(db_part *p, int l, size_t B)
{
    size_t lo, hi;
    for (int j = 0; j < p->lay->K; j++) {
        db_slice(p->lay, l, j, &lo, &hi);
        p->counts[j] = B * (hi - lo);
    }
}

/* Allgather of layer l's slices (allgatherv.c): mine (B x m_l, contiguous)
 * to every other partition, then every block into full (B x n_l) at its
 * columns. full may be NULL (size-only). */
static int exchange_forward(db_part *p, int l, size_t B, const float *mine, float *full)
{
    const db_layout *lay = p->lay;
    int K = lay->K, so = rt_size_only(p->r), rc;
    size_t n = lay->width[l], lo, hi;
    layer_counts(p, l, B);
    db_slice(lay, l, p->k, &lo, &hi);
    if (!so)
        memcpy(p->blocks + B * lo, mine, B * (hi - lo) * sizeof *mine);
    coll_opts group = {.group_first = p->base, .group_size = K};
    if ((rc = allgatherv(p->r, so ? NULL : p->blocks, p->counts, &group)))
        return rt_fail(p->r, rc, "model parallelism: layer %d activations: %s", l, rt_error(p->r));
    p->bytes_sent += (uint64_t)(K - 1) * p->counts[p->k] * sizeof(float);
    for (int j = 0; j < K && !so; j++) {
        db_slice(lay, l, j, &lo, &hi);
        size_t m = hi - lo;
        for (size_t i = 0; i < B && m; i++)
            memcpy(full + i * n + lo, p->blocks + B * lo + i * m, m * sizeof *full);
    }
    return RT_OK;
}

/* Reduce-scatter of the input-gradient shares of layer l (partial, B x
 * n_{l-1}; reduce_scatterv.c): each partition's columns of layer l-1, as a
 * block, go to it; the shares of my columns are summed in partition order
 * into out (B x my m_{l-1}). The adds are not charged: the step's cost
 * model counts the layers' flops only. */
static int exchange_backward(db_part *p, int l, size_t B, const float *partial, float *out)
{
    const db_layout *lay = p->lay;
    int K = lay->K, so = rt_size_only(p->r), rc;
    size_t n = lay->width[l - 1], lo, hi, total = B * n;
    layer_counts(p, l - 1, B);
    for (int j = 0; j < K && !so; j++) {
        db_slice(lay, l - 1, j, &lo, &hi);
        size_t m = hi - lo;
        for (size_t i = 0; i < B; i++)
            memcpy(p->blocks + B * lo + i * m, partial + i * n + lo, m * sizeof *partial);
    }
    coll_opts opts = {.uncharged_adds = 1, .group_first = p->base, .group_size = K};
    if ((rc = reduce_scatterv(p->r, so ? NULL : p->blocks, p->counts, &opts)))
        return rt_fail(p->r, rc, "model parallelism: layer %d gradients: %s", l, rt_error(p->r));
    p->bytes_sent += (uint64_t)(total - p->counts[p->k]) * sizeof(float);
    db_slice(lay, l - 1, p->k, &lo, &hi);
    if (!so)
        memcpy(out, p->blocks + B * lo, p->counts[p->k] * sizeof *out);
    return RT_OK;
}

int db_part_loss_grad(db_part *p, const float *params, const ml_dataset *ds, const size_t *idx,
                      size_t B, double l2, float *grad, double *loss, size_t *correct)
{
    const db_layout *lay = p->lay;
    rt *r = p->r;
    int L = lay->L, so = rt_size_only(r), rc;
    size_t C = lay->width[L], lo, hi;
    double loss_sum = 0;
    *correct = 0;
    if (!so && (rc = reserve(p, B)))
        return rc;
    if (!so)
        gather_inputs(ds, idx, B, lay->width[0], p->act[0]);
    /* priced only by a calibration (see RT_WORK_GATHER) */
    if ((rc = rt_compute_as(r, RT_WORK_GATHER, (double)B * (double)lay->width[0])))
        return rc;

    /* ---- forward: my slice of each layer, then its allgather ---- */
    for (int l = 1; l <= L; l++) {
        db_slice(lay, l, p->k, &lo, &hi);
        size_t m = hi - lo, nin = lay->width[l - 1];
        double flops = 2.0 * B * nin * m + (double)B * m + (l < L ? (double)B * m : 0);
        if (!so && m)
            ml_dense_forward(p->act[l - 1], B, nin, params + lay->w_off[l] + lo, lay->width[l],
                             params + lay->b_off[l] + lo, m, l < L, p->mine[l]);
        if ((rc = train_charge(r, flops)))
            return rc;
        if ((rc = exchange_forward(p, l, B, p->mine[l], so ? NULL : l < L ? p->act[l] : p->logits)))
            return rc;
    }

    /* ---- the loss, the same on every partition ---- */
    float scale = 1.0f / (float)B;
    double flops = 4.0 * B * C;
    if (!so) {
        const int32_t *y = ds->y;
        for (size_t i = 0; i < B; i++) {
            int32_t yi = y[idx ? idx[i] : i];
            ml_softmax_xent(p->logits + i * C, 1, C, &yi, scale, p->delta + i * C, &loss_sum,
                            correct);
        }
        db_slice(lay, L, p->k, &lo, &hi);
        for (size_t i = 0; i < B; i++)
            memcpy(p->dz + i * (hi - lo), p->delta + i * C + lo, (hi - lo) * sizeof *p->dz);
    }
    if ((rc = rt_compute_as(r, RT_WORK_LOSS, flops))) /* see RT_WORK_LOSS */
        return rc;

    /* ---- backward: my slices of the gradient, then the input gradients' reduce-scatter ---- */
    for (int l = L; l >= 1; l--) {
        db_slice(lay, l, p->k, &lo, &hi);
        size_t m = hi - lo, nin = lay->width[l - 1], n = lay->width[l];
        flops = 2.0 * B * nin * m + (double)B * m + (l > 1 ? 2.0 * B * nin * m : 0);
        if (!so && m)
            ml_dense_backward(p->act[l - 1], B, nin, params + lay->w_off[l] + lo, n, m, p->dz,
                              grad + lay->w_off[l] + lo, grad + lay->b_off[l] + lo,
                              l > 1 ? p->partial : NULL);
        else if (!so && l > 1)
            memset(p->partial, 0, B * nin * sizeof *p->partial);
        if ((rc = train_charge(r, flops)))
            return rc;
        if (l == 1)
            break;
        if ((rc = exchange_backward(p, l, B, so ? NULL : p->partial, so ? NULL : p->dz_next)))
            return rc;
        size_t plo, phi;
        db_slice(lay, l - 1, p->k, &plo, &phi);
        flops = (double)B * (phi - plo);
        if (!so)
            ml_relu_backward(p->mine[l - 1], B * (phi - plo), p->dz_next);
        if ((rc = train_charge(r, flops)))
            return rc;
        float *t = p->dz;
        p->dz = p->dz_next;
        p->dz_next = t;
    }

    /* ---- the L2 term on the weights I own ---- */
    flops = 0;
    for (int l = 1; l <= L; l++) {
        db_slice(lay, l, p->k, &lo, &hi);
        size_t n = lay->width[l], m = hi - lo;
        flops += 2.0 * (lay->width[l - 1] + 1) * m;
        for (size_t i = 0; i <= lay->width[l - 1] && !so; i++) {
            size_t at = (i < lay->width[l - 1] ? lay->w_off[l] + i * n : lay->b_off[l]) + lo;
            for (size_t c = 0; c < m; c++)
                grad[at + c] += (float)l2 * params[at + c];
        }
    }
    *loss = so ? NAN : loss_sum / (double)B;
    return train_charge_vector(r, flops);
}

/* ---- --mode model-parallel: one replica, synchronous SGD ---- */

/* Gather every partition's weights on rank 0 (for evaluation): its packed
 * slices (neurons) or its run of layers. */
static int gather_params(rt *r, const db_layout *lay, db_split split, float *params, float *packed)
{
    int me = rt_rank(r), rc;
    size_t first, count;
    if (me != 0) {
        if (split == DB_SPLIT_LAYERS) {
            db_pipe_range(lay, me, &first, &count);
            rc = rt_send(r, 0, TAG_GATHER, params + first, count * sizeof *params);
        } else {
            db_pack(lay, me, params, packed);
            rc = rt_send(r, 0, TAG_GATHER, packed, db_part_params(lay, me) * sizeof *packed);
        }
        return rc ? rt_fail(r, rc, "model parallelism: weights to rank 0: %s", rt_error(r)) : RT_OK;
    }
    for (int k = 1; k < lay->K; k++) {
        if (split == DB_SPLIT_LAYERS) {
            db_pipe_range(lay, k, &first, &count);
            rc = rt_recv(r, k, TAG_GATHER, params + first, count * sizeof *params, NULL);
        } else {
            rc = rt_recv(r, k, TAG_GATHER, packed, db_part_params(lay, k) * sizeof *packed, NULL);
            db_unpack(lay, k, packed, params);
        }
        if (rc)
            return rt_fail(r, rc, "model parallelism: weights from partition %d: %s", k, rt_error(r));
    }
    return RT_OK;
}

/* Optimizer step on the weights partition k owns; returns its flops. */
static double step_owned(const db_layout *lay, db_split split, int k, ml_optim *o, float *params,
                         const float *grad, float lr)
{
    double flops = 0;
    size_t lo, hi;
    if (split == DB_SPLIT_LAYERS) {
        size_t first, count;
        db_pipe_range(lay, k, &first, &count);
        return ml_optim_step(o, params, grad, first, count, lr);
    }
    for (int l = 1; l <= lay->L; l++) {
        db_slice(lay, l, k, &lo, &hi);
        size_t n = lay->width[l];
        for (size_t i = 0; i <= lay->width[l - 1] && hi > lo; i++) {
            size_t at = (i < lay->width[l - 1] ? lay->w_off[l] + i * n : lay->b_off[l]) + lo;
            flops += ml_optim_step(o, params, grad, at, hi - lo, lr);
        }
    }
    return flops;
}

int db_mp_rank(rt *r, void *arg)
{
    const train_setup *setup = arg;
    const db_opts *o = setup->algo;
    const ml_config *ml = setup->ml;
    const ml_dataset *train = &setup->prob->train;
    int K = rt_size(r), me = rt_rank(r), rc;
    char err[512];
    db_layout lay;
    db_part part = {0};
    db_pipe pipe = {0};
    float *packed = NULL;
    train_out *slot = train_slot(r);

    /* every partition holds the whole model's weights and sees every
     * example, as one worker of one would: shard 0 of 1 */
    train_worker wk;
    if ((rc = train_worker_init(&wk, r, setup, 0, 1, "model parallelism")))
        goto done;
    if (db_layout_for(&lay, wk.model, K, o->split, err, sizeof err) != 0) {
        rc = rt_fail(r, RT_EINVAL, "model parallelism: %s", err);
        goto done;
    }
    size_t P = lay.P;
    float *params = wk.params, *grad = wk.grad.dense;
    if (!(packed = malloc((P + 1) * sizeof *packed))) {
        rc = rt_fail(r, RT_ENOMEM, "model parallelism: out of memory for %zu parameters", P);
        goto done;
    }
    if ((rc = o->split == DB_SPLIT_LAYERS ? db_pipe_init(&pipe, r, &lay, me, 0, o->microbatches ? o->microbatches : K)
                                          : db_part_init(&part, r, &lay, me, 0)))
        goto done;

    long steps_per_epoch = train_steps_per_epoch(train->n, 1, ml->batch);
    long steps = steps_per_epoch * ml->epochs, first;
    train_schedule due; /* decided alike on every partition */
    train_schedule_init(&due, ml, 1);
    /* a checkpoint: each partition's copy of the weights and its
     * optimizer state, the shard's place and the evaluation schedule */
    double due_next = 0;
    if ((rc = train_worker_resume_with(&wk, r, setup, &first, &due_next, sizeof due_next)))
        goto done;
    if (first > 0 && !(due_next >= 0 && due_next <= 1e15)) {
        rc = train_resume_refuse(r, setup, "rank %d's checkpoint is damaged: its evaluation schedule "
                                 "(next evaluation at %g)", rt_rank(r), due_next);
        goto done;
    }
    if (first > 0)
        due.next = due_next;
    for (long step = first; step <= steps && !rc; step++) {
        double epoch = (double)step / (double)steps_per_epoch;
        if ((rc = train_step_begin(setup, r, step)))
            break;
        /* evaluation points: the weights gathered on rank 0, aside from training */
        if (train_schedule_due(&due, epoch) || step == steps) {
            rt_aside_begin(r);
            rc = gather_params(r, &lay, o->split, params, packed);
            rt_aside_end(r);
            if (rc || (wk.reporting && (rc = train_eval_now(&wk.eval, params, epoch, step, NULL))))
                break;
        }
        if (step == steps)
            break;
        if ((rc = train_worker_checkpoint_with(&wk, r, setup, step, epoch, &due.next,
                                               sizeof due.next)))
            break;
        size_t b = train_shard_next(&wk.shard, ml->batch, wk.batch);
        double loss;
        size_t correct;
        if ((rc = o->split == DB_SPLIT_LAYERS
                      ? db_pipe_loss_grad(&pipe, params, train, wk.batch, b, ml->l2, grad, &loss, &correct)
                      : db_part_loss_grad(&part, params, train, wk.batch, b, ml->l2, grad, &loss, &correct)))
            break;
        float lr = (float)ml_schedule_lr(&wk.sched, epoch);
        rc = train_charge_vector(r, step_owned(&lay, o->split, me, &wk.optim, params, grad, lr));
    }
    slot->stats[DB_STAT_PARTITION_BYTES] = (double)(part.bytes_sent + pipe.bytes_sent);
    slot->stats[DB_STAT_STEPS] = (double)steps;
    if (!rc && wk.reporting)
        train_eval_finish(&wk.eval, params, P);
done:
    db_part_free(&part);
    db_pipe_free(&pipe);
    train_worker_free(&wk);
    free(packed);
    return rc;
}
