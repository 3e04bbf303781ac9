/* distbelief_pipe.c -- model parallelism by layers: partition k owns a run
 * of consecutive layers, and microbatches flow through the partitions as
 * through a pipeline (the other way to split a network; DistBelief splits
 * by neurons, distbelief_mp.c).
 * reference: Huang et al., "GPipe: Efficient Training of Giant Neural
 * Networks using Pipeline Parallelism", NeurIPS 2019 (the schedule: every
 * microbatch forward, then every microbatch backward, gradients summed).
 *
 * Shapes: B examples in M microbatches of b = B / M (the last ones one
 * smaller when M does not divide B), L layers over K <= L stages; stage k
 * owns layers [1 + L k / K, 1 + L (k+1) / K).
 *
 *   forward, microbatch 1..M: receive its input activations from stage
 *     k-1 (stage 0 reads the examples), run my layers, send my output to
 *     stage k+1 (buffered, so I go on with the next microbatch at once);
 *     the last stage computes the softmax loss and its gradient, scaled
 *     by 1/B so the microbatches' gradients add up to the batch's
 *   backward, microbatch M..1: receive dLoss/d(my output) from stage k+1,
 *     back through my layers (gradients added up over the microbatches),
 *     send dLoss/d(my input) to stage k-1
 * Only the activations between two stages, and their gradients, cross the
 * wire: 4 b n floats per microbatch each way at each boundary of width n.
 *
 * Cost of a step: with per-stage compute c per microbatch and boundary
 * transfer t, the pipeline fills in (K - 1)(c + t), then delivers one
 * microbatch per c: T ~ 2 (M + K - 1)(c + t) -- the (K - 1) / (M + K - 1)
 * bubble is why more microbatches help. Weights never move. The last
 * stage knows the loss; the others report NaN.
 */
#include "algorithms/distbelief.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { TAG_PIPE_FWD = 0x6500, TAG_PIPE_BWD = 0x6580 };

void db_pipe_layers(const db_layout *lay, int k, int *l0, int *l1)
{
    *l0 = 1 + lay->L * k / lay->K;
    *l1 = 1 + lay->L * (k + 1) / lay->K;
}

void db_pipe_range(const db_layout *lay, int k, size_t *first, size_t *count)
{
    int l0, l1;
    db_pipe_layers(lay, k, &l0, &l1);
    *first = lay->w_off[l0];
    *count = lay->b_off[l1 - 1] + lay->width[l1 - 1] - *first;
}

int db_pipe_check(const db_layout *lay, char *err, size_t errlen)
{
    if (lay->K > lay->L) {
        snprintf(err, errlen, "--split layers --partitions %d: the network has only %d layers; "
                 "each partition needs at least one (use at most %d)", lay->K, lay->L, lay->L);
        return -1;
    }
    return 0;
}

int db_layout_for(db_layout *lay, const ml_model *m, int K, db_split split, char *err,
                  size_t errlen)
{
    if (split == DB_SPLIT_NEURONS)
        return db_layout_of_model(lay, m, K, err, errlen);
    if (db_layout_of_model(lay, m, 1, err, errlen) != 0)
        return -1;
    lay->K = K;
    return db_pipe_check(lay, err, errlen);
}

int db_pipe_init(db_pipe *p, rt *r, const db_layout *lay, int k, int base, int microbatches)
{
    memset(p, 0, sizeof *p);
    p->r = r;
    p->lay = lay;
    p->k = k;
    p->base = base;
    p->M = microbatches < 1 ? 1 : microbatches;
    db_pipe_layers(lay, k, &p->l0, &p->l1);
    return RT_OK;
}

void db_pipe_free(db_pipe *p)
{
    free(p->acts);
    free(p->delta);
    free(p->gscratch);
    free(p->dbuf[0]);
    free(p->dbuf[1]);
    memset(p, 0, sizeof *p);
}

/* acts holds, for every example of the batch, my input and each of my
 * layers' outputs: sum over l in [l0-1, l1) of n_l floats per example. */
static size_t act_floats(const db_pipe *p)
{
    size_t n = 0;
    for (int l = p->l0 - 1; l < p->l1; l++)
        n += p->lay->width[l];
    return n;
}

static int reserve(db_pipe *p, size_t B)
{
    if (B <= p->cap)
        return RT_OK;
    size_t wmax = 0, gmax = 0;
    for (int l = p->l0 - 1; l < p->l1; l++)
        wmax = p->lay->width[l] > wmax ? p->lay->width[l] : wmax;
    for (int l = p->l0; l < p->l1; l++)
        gmax = p->lay->width[l - 1] * p->lay->width[l] + p->lay->width[l] > gmax
                   ? p->lay->width[l - 1] * p->lay->width[l] + p->lay->width[l]
                   : gmax;
    free(p->acts);
    free(p->delta);
    free(p->gscratch);
    free(p->dbuf[0]);
    free(p->dbuf[1]);
    p->acts = malloc(B * act_floats(p) * sizeof(float));
    p->delta = malloc(B * p->lay->width[p->lay->L] * sizeof(float));
    p->gscratch = malloc(gmax * sizeof(float));
    p->dbuf[0] = malloc(B * wmax * sizeof(float));
    p->dbuf[1] = malloc(B * wmax * sizeof(float));
    if (!p->acts || !p->delta || !p->gscratch || !p->dbuf[0] || !p->dbuf[1]) {
        p->cap = 0;
        return rt_fail(p->r, RT_ENOMEM, "pipeline: out of memory for a batch of %zu", B);
    }
    p->cap = B;
    return RT_OK;
}

/* Where layer l's output (l = l0-1: my input) of examples [e0, e0 + b)
 * sits in acts: layer by layer, each B x n_l. */
static float *act_at(db_pipe *p, int l, size_t B, size_t e0)
{
    float *a = p->acts;
    for (int j = p->l0 - 1; j < l; j++)
        a += B * p->lay->width[j];
    return a + e0 * p->lay->width[l];
}

int db_pipe_loss_grad(db_pipe *p, const float *params, const ml_dataset *ds, const size_t *idx,
                      size_t B, double l2, float *grad, double *loss, size_t *correct)
{
    const db_layout *lay = p->lay;
    rt *r = p->r;
    int K = lay->K, L = lay->L, so = rt_size_only(r), last = p->k == K - 1, rc;
    size_t M = (size_t)p->M < B ? (size_t)p->M : B, C = lay->width[L];
    double loss_sum = 0, flops;
    *correct = 0;
    if (!so && (rc = reserve(p, B)))
        return rc;
    size_t first, count;
    db_pipe_range(lay, p->k, &first, &count);
    if (!so)
        memset(grad + first, 0, count * sizeof *grad);

    /* ---- forward, microbatch by microbatch ---- */
    for (size_t m = 0; m < M; m++) {
        size_t e0 = B * m / M, b = B * (m + 1) / M - e0, nin = lay->width[p->l0 - 1];
        float *in = so ? NULL : act_at(p, p->l0 - 1, B, e0);
        if (p->k == 0 && !so) {
            for (size_t i = 0; i < b; i++) {
                size_t row = idx ? idx[e0 + i] : e0 + i;
                memset(in + i * nin, 0, nin * sizeof *in);
                if (!ds->sparse)
                    memcpy(in + i * nin, ds->x + row * ds->d, (ds->d < nin ? ds->d : nin) * sizeof *in);
                else
                    for (size_t z = ds->row_ptr[row]; z < ds->row_ptr[row + 1]; z++)
                        if (ds->col[z] < nin)
                            in[i * nin + ds->col[z]] = ds->val[z];
            }
        } else if (p->k > 0 &&
                   (rc = rt_recv(r, p->base + p->k - 1, TAG_PIPE_FWD, in, b * nin * sizeof(float), NULL))) {
            return rt_fail(r, rc, "pipeline: activations from stage %d: %s", p->k - 1, rt_error(r));
        }
        flops = 0;
        for (int l = p->l0; l < p->l1; l++) {
            size_t ni = lay->width[l - 1], no = lay->width[l];
            flops += 2.0 * b * ni * no + (double)b * no + (l < L ? (double)b * no : 0);
            if (!so)
                ml_dense_forward(act_at(p, l - 1, B, e0), b, ni, params + lay->w_off[l], no,
                                 params + lay->b_off[l], no, l < L, act_at(p, l, B, e0));
        }
        if ((rc = train_charge(r, flops)))
            return rc;
        size_t nout = lay->width[p->l1 - 1];
        if (!last) {
            if ((rc = rt_send(r, p->base + p->k + 1, TAG_PIPE_FWD,
                              so ? NULL : act_at(p, p->l1 - 1, B, e0), b * nout * sizeof(float))))
                return rt_fail(r, rc, "pipeline: activations to stage %d: %s", p->k + 1, rt_error(r));
            p->bytes_sent += b * nout * sizeof(float);
        } else if (!so) {
            /* the loss, and its gradient, kept for the backward pass */
            const float *z = act_at(p, L, B, e0);
            for (size_t i = 0; i < b; i++) {
                int32_t yi = ds->y[idx ? idx[e0 + i] : e0 + i];
                ml_softmax_xent(z + i * C, 1, C, &yi, 1.0f / (float)B, p->delta + (e0 + i) * C,
                                &loss_sum, correct);
            }
        }
        if (last && (rc = train_charge(r, 4.0 * b * C)))
            return rc;
    }

    /* ---- backward, last microbatch first ---- */
    for (size_t mm = M; mm-- > 0;) {
        size_t e0 = B * mm / M, b = B * (mm + 1) / M - e0, nout = lay->width[p->l1 - 1];
        float *d = so ? NULL : p->dbuf[0];
        if (last) {
            if (!so)
                memcpy(d, p->delta + e0 * C, b * C * sizeof *d);
        } else if ((rc = rt_recv(r, p->base + p->k + 1, TAG_PIPE_BWD, d, b * nout * sizeof(float), NULL))) {
            return rt_fail(r, rc, "pipeline: gradients from stage %d: %s", p->k + 1, rt_error(r));
        }
        flops = 0;
        for (int l = p->l1 - 1; l >= p->l0; l--) {
            size_t ni = lay->width[l - 1], no = lay->width[l];
            int need_din = l > p->l0 || p->k > 0;
            flops += 2.0 * b * ni * no + (double)b * no + (need_din ? 2.0 * b * ni * no : 0) +
                     (need_din ? (double)b * ni : 0) + (double)(ni * no + no);
            if (so)
                continue;
            float *din = need_din ? p->dbuf[1] : NULL;
            ml_dense_backward(act_at(p, l - 1, B, e0), b, ni, params + lay->w_off[l], no, no, d,
                              p->gscratch, p->gscratch + ni * no, din);
            /* this microbatch's share, added to the batch's gradient */
            float *g = grad + lay->w_off[l];
            for (size_t i = 0; i < ni * no + no; i++)
                g[i] += p->gscratch[i];
            if (l > p->l0)
                ml_relu_backward(act_at(p, l - 1, B, e0), b * ni, din);
            if (din) {
                float *t = p->dbuf[0];
                p->dbuf[0] = p->dbuf[1];
                p->dbuf[1] = t;
                d = p->dbuf[0];
            }
        }
        if ((rc = train_charge(r, flops)))
            return rc;
        if (p->k > 0) {
            size_t nin = lay->width[p->l0 - 1];
            /* the previous stage's output went through a ReLU: apply its derivative here,
             * where its activations are, my input */
            if (!so)
                ml_relu_backward(act_at(p, p->l0 - 1, B, e0), b * nin, d);
            if ((rc = rt_send(r, p->base + p->k - 1, TAG_PIPE_BWD, so ? NULL : d,
                              b * nin * sizeof(float))))
                return rt_fail(r, rc, "pipeline: gradients to stage %d: %s", p->k - 1, rt_error(r));
            p->bytes_sent += b * nin * sizeof(float);
        }
    }

    /* ---- the L2 term on my layers ---- */
    for (size_t i = 0; i < count && !so; i++)
        grad[first + i] += (float)l2 * params[first + i];
    *loss = last && !so ? loss_sum / (double)B : NAN;
    return train_charge_vector(r, 2.0 * (double)count);
}
