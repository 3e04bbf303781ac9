/* dp.c -- a data-parallel training step of a real network, timed: the
 * scheduling that separates PyTorch DDP and Horovod from a plain allreduce.
 *
 * No model is trained: the workload (ml/workload.h) says what each layer
 * costs and how many gradients it makes, and every rank charges the cost
 * and sends the gradients as size-only messages. One step on each rank:
 *
 *   forward:  every layer, input first: 2 x MACs x batch flops;
 *   backward: every layer, output first: twice the forward. As each
 *             layer's gradient is ready it joins the open bucket; a bucket
 *             closes once it holds --bucket bytes (PyTorch DDP's
 *             bucket_cap_mb, 25 MB; Horovod's fusion buffer plays the same
 *             part), and with --overlap on its allreduce is posted at once
 *             (rt_async_post) while backward goes on; the last bucket
 *             closes with the first layer;
 *   drain:    wait for the buckets' allreduces (rt_async_drain). With
 *             --overlap off they run one after another only now.
 *
 * Buckets' allreduces run in order, one at a time, as DDP's do on one
 * NCCL stream. With overlap, bucket k's allreduce starts at
 * max(its gradients ready, bucket k-1's allreduce done), so with c_k the
 * allreduce time of bucket k and r_k when it is ready,
 *
 *   step = F + [finish of the last allreduce],
 *   e_1 = r_1 + c_1,  e_k = max(r_k, e_{k-1}) + c_k,
 *
 * and without overlap step = F + B + sum c_k (F, B: the forward and
 * backward compute). For two buckets: F + b_2 + max(b_1, c_1) + c_2, where
 * b_2 is the backward of the layers in bucket 1 (the output side) and b_1
 * the rest -- bucket 1's communication hidden behind the rest of backward
 * (tests/test_dp.c checks this to 1e-9 under --net ideal).
 *
 * The allreduces' additions are charged on the companion and share the
 * rank's host with its backward (runtime.h); on a GPU's rate they are
 * negligible. Every rank must run the same workload and options.
 *
 * With o->byteps the buckets go through BytePS's summation service
 * (byteps.c) instead, the last o->servers ranks being its CPU machines
 * (on machines of o->coll.local_size GPUs, summed inside each first);
 * with o->ps the step goes through a parameter server (dp_ps.c: pieces,
 * priorities) instead of buckets; with o->cycle_s Horovod's cycles
 * negotiate and fuse the tensors instead (dp_horovod.c).
 *
 * References: Li et al., "PyTorch Distributed: Experiences on
 * Accelerating Data Parallel Training", VLDB 2020 (buckets in reverse
 * order, 25 MB, overlap); Sergeev & Del Balso, "Horovod", arXiv:1802.05799
 * (tensor fusion).
 */
#include "algorithms/dp.h"

#include <stdlib.h>

typedef struct dp_bucket {
    const dp_opts *o;
    size_t count; /* floats */
} dp_bucket;

int dp_buckets(const ml_workload *w, size_t bucket_bytes, size_t *close)
{
    if (!close)
        return -1;
    int n = 0;
    double open = 0; /* floats in the open bucket */
    for (int i = w->nlayers - 1; i >= 0; i--) {
        close[i] = 0;
        open += w->layers[i].params;
        if (open > 0 && (open * 4 >= (double)bucket_bytes || i == 0)) {
            close[i] = (size_t)open;
            open = 0;
            n++;
        }
    }
    return n;
}

static int bucket_allreduce(rt *r, void *arg)
{
    const dp_bucket *b = arg;
    if (b->o->byteps)
        return byteps_allreduce_nodes(r, NULL, b->count, rt_size(r) - b->o->servers,
                                      b->o->coll.local_size, b->o->pieces);
    return allreduce(r, b->o->algo, NULL, b->count, &b->o->coll);
}

/* A BytePS CPU machine: it sums every bucket of every step, in order.
 * Each bucket is a job of its own (posted and drained at once: the same
 * timing), as on the workers: in simulation a rank that ran every bucket
 * itself grew SimGrid's bookkeeping with every bucket, a list walked at
 * each completion (perf: std::list traversal under CommImpl::finish and
 * ExecImpl::post), so the run's CPU time grew as its square (ResNet-50 on
 * 16 GPUs and 16 CPU machines: 2.3 s for 1 step, 14 s for 2, 69 s for 4;
 * now 0.8, 1.5, 2.9); what a job leaves ends with the job. */
static int dp_server(rt *r, const dp_opts *o, const size_t *close)
{
    int rc = RT_OK;
    for (int step = 0; step < o->steps && !rc; step++)
        for (int i = o->w->nlayers - 1; i >= 0 && !rc; i--)
            if (close[i]) {
                dp_bucket b = {.o = o, .count = close[i]};
                rc = rt_async_post(r, bucket_allreduce, &b);
                int drained = rt_async_drain(r);
                rc = rc ? rc : drained;
            }
    return rc;
}

int dp_rank(rt *r, void *arg)
{
    const dp_opts *o = arg;
    dp_slot *s = rt_slot(r);
    const ml_workload *w = o->w;
    if (!w || w->nlayers < 1 || o->bucket_bytes == 0 || o->steps < 1 || o->steps > DP_MAX_STEPS ||
        !(o->batch > 0))
        return rt_fail(r, RT_EINVAL, "dp: need a workload, a bucket above 0 bytes, 1..%d steps and "
                       "a batch above 0", DP_MAX_STEPS);
    if (o->ps)
        return dp_ps_rank(r, o);
    if (o->cycle_s > 0)
        return dp_horovod_rank(r, o);
    size_t *close = malloc((size_t)w->nlayers * sizeof *close);
    dp_bucket *buckets = malloc((size_t)w->nlayers * sizeof *buckets);
    if (!close || !buckets) {
        free(close);
        free(buckets);
        return rt_fail(r, RT_ENOMEM, "dp: no memory for %d layers", w->nlayers);
    }
    s->buckets = dp_buckets(w, o->bucket_bytes, close);
    int rc = rt_barrier(r);
    if (!rc && o->byteps && rt_rank(r) >= rt_size(r) - o->servers) {
        rc = dp_server(r, o, close);
        free(close);
        free(buckets);
        return rc;
    }
    for (int step = 0; step < o->steps && !rc; step++) {
        double t0 = rt_now(r);
        int nb = 0;
        /* ---- forward, input first ---- */
        rc = rt_compute(r, 2.0 * w->fwd_macs * o->batch);
        /* ---- backward, output first; buckets posted as they fill ---- */
        for (int i = w->nlayers - 1; i >= 0 && !rc; i--) {
            rc = rt_compute(r, 2.0 * WORKLOAD_BWD_PER_FWD * w->layers[i].fwd_macs * o->batch);
            if (!rc && close[i]) {
                buckets[nb] = (dp_bucket){.o = o, .count = close[i]};
                if (o->overlap)
                    rc = rt_async_post(r, bucket_allreduce, &buckets[nb]);
                nb++;
            }
        }
        s->backward_end_s[step] = s->compute_s[step] = rt_now(r) - t0;
        /* ---- the rest of the communication ---- */
        int drained = rt_async_drain(r);
        rc = rc ? rc : drained;
        for (int k = 0; k < nb && !rc && !o->overlap; k++)
            rc = bucket_allreduce(r, &buckets[k]);
        s->step_s[step] = rt_now(r) - t0;
    }
    free(close);
    free(buckets);
    return rc;
}
