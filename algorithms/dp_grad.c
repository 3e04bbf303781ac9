/* dp_grad.c -- the bucketed, overlapped gradient sum of dp.c on a real
 * model: what `run allreduce --bucket SIZE --overlap on` does each step.
 *
 * Backward hands over each layer's gradient as it is finished, the output
 * layer first (ml_model_loss_grad_layers). The layers join the open
 * bucket; a bucket closes once it holds s->bucket_bytes, or with the first
 * layer (dp_buckets' rule: PyTorch DDP's, Li et al., VLDB 2020). The MLP
 * stores W_1 b_1 ... W_L b_L one after another, so a bucket is always one
 * contiguous range of the parameter vector, its tail first.
 *
 * With overlap the bucket's sum is posted at once (rt_async_post) and runs
 * on the rank's companion while backward computes the next layers: the
 * companion owns that range of g until rt_async_drain, and backward never
 * writes it again (ml/model.h). Buckets are summed in order, one at a time.
 *
 * Same bits as one allreduce: each bucket is summed with allreduce_slice,
 * which adds every element of the range in the order the whole vector's
 * allreduce adds it (for the ring: keeping the whole vector's blocks).
 * The per-element values going in are the plain path's too (the same
 * BLAS calls, the same L2 term), so the weights after the optimizer step
 * are bit for bit those of sgd_allreduce without buckets; on every
 * backend, since the sums do not depend on timing (tests/test_dp.c).
 */
#include "algorithms/dp.h"

#include <stdlib.h>
#include <string.h>

typedef struct grad_bucket {
    const dp_sched *s;
    float *g;
    size_t first, count, total;
} grad_bucket;

typedef struct grad_step {
    rt *r;
    const dp_sched *s;
    float *g;
    size_t total, open_first, open_count;
    grad_bucket *buckets;
    int nb, rc;
} grad_step;

static int bucket_sum(rt *r, void *arg)
{
    grad_bucket *b = arg;
    return allreduce_slice(r, b->s->algo, b->g + b->first, b->first, b->count, b->total, &b->s->coll);
}

/* ml_grad_ready_fn: charge the layer, add it to the open bucket, close and
 * post the bucket when it is full or this was the first layer. */
static int layer_ready(void *arg, size_t first, size_t count, double flops)
{
    grad_step *st = arg;
    if (flops > 0 && (st->rc = rt_compute(st->r, flops)))
        return 1;
    st->open_first = first;
    st->open_count += count;
    if (st->open_count * sizeof(float) < st->s->bucket_bytes && first > 0)
        return 0;
    grad_bucket *b = &st->buckets[st->nb++];
    *b = (grad_bucket){.s = st->s, .g = st->g, .first = st->open_first, .count = st->open_count,
                       .total = st->total};
    st->open_count = 0;
    if (st->s->overlap && (st->rc = rt_async_post(st->r, bucket_sum, b)))
        return 1;
    return 0;
}

int dp_grad_sum(rt *r, const dp_sched *s, ml_model *m, const float *params, const ml_dataset *ds,
                const size_t *idx, size_t b, ml_grad *g)
{
    int L = ml_model_layers(m);
    grad_step st = {.r = r, .s = s, .g = g->dense, .total = ml_model_nparams(m)};
    if (s->bucket_bytes == 0)
        return rt_fail(r, RT_EINVAL, "bucketed gradient: a bucket of 0 bytes");
    if (!(st.buckets = calloc((size_t)L, sizeof *st.buckets)))
        return rt_fail(r, RT_ENOMEM, "bucketed gradient: no memory for %d buckets", L);
    char err[512];
    double loss;
    int rc = RT_OK;
    /* ---- backward, buckets posted as they close ---- */
    if (b > 0) {
        if (ml_model_loss_grad_layers(m, params, ds, idx, b, g, &loss, layer_ready, &st, err,
                                      sizeof err) < 0)
            rc = rt_fail(r, RT_EINVAL, "gradient: %s", err);
    } else {
        /* no examples left in my shard: zeros, still summed as the others' */
        memset(g->dense, 0, st.total * sizeof *g->dense);
        for (int l = L; l >= 1 && !st.rc; l--) {
            size_t nin, nout, w_off, b_off;
            ml_model_layer(m, l, &nin, &nout, &w_off, &b_off);
            layer_ready(&st, w_off, b_off + nout - w_off, 0);
        }
    }
    rc = rc ? rc : st.rc;
    /* ---- the rest of the communication ---- */
    int drained = rt_async_drain(r);
    rc = rc ? rc : drained;
    for (int k = 0; k < st.nb && !rc && !s->overlap; k++)
        rc = bucket_sum(r, &st.buckets[k]);
    free(st.buckets);
    return rc;
}
