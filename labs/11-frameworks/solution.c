/* solution.c -- lab 11, the schedule of PyTorch DDP and Horovod.
 *
 * Backward makes gradients output layer first; they fill buckets in that
 * order, and a bucket closes once it holds bucket_bytes (PyTorch DDP's
 * bucket_cap_mb, 25 MB; Horovod's fusion buffer, 64 MiB). With overlap
 * each closed bucket's sum is posted at once and runs on the rank's
 * companion while backward computes the layers nearer the input; the
 * sums go one at a time, in order (one NCCL stream). Bucket k's sum ends
 * at e_k = max(r_k, e_{k-1}) + c_k. Each bucket is summed with
 * allreduce_slice, so the bits are those of one allreduce of the whole.
 * Li et al., "PyTorch Distributed", VLDB 2020, section 3.2.3.
 *
 * Check it:   build/distlab lab check 11 labs/11-frameworks/solution.c
 */
#include <stdlib.h>

#include "algorithms/plugin.h"

typedef struct bucket {
    float *g;
    size_t first, count, total;
    allreduce_algo algo;
} bucket;

static int bucket_sum(rt *r, void *arg)
{
    bucket *b = arg;
    return allreduce_slice(r, b->algo, b->g ? b->g + b->first : NULL, b->first, b->count, b->total, NULL);
}

int plugin_bucketed_backward(rt *r, float *g, size_t total, const plugin_layer *layers, int nlayers,
                             size_t bucket_bytes, int overlap, allreduce_algo algo)
{
    bucket *b = malloc((size_t)(nlayers > 0 ? nlayers : 1) * sizeof *b); /* at most one per layer */
    if (!b)
        return rt_fail(r, RT_ENOMEM, "buckets: no memory for %d layers", nlayers);
    int nb = 0, rc = RT_OK;
    size_t open_first = 0, open_count = 0;
    /* ---- backward, output first; each bucket posted as it closes ---- */
    for (int i = nlayers - 1; i >= 0 && !rc; i--) {
        rc = rt_compute(r, layers[i].bwd_flops);
        if (layers[i].count > 0) {
            open_first = layers[i].first;
            open_count += layers[i].count;
        }
        if (rc || open_count == 0 || (open_count * sizeof(float) < bucket_bytes && i > 0))
            continue;
        b[nb] = (bucket){.g = g, .first = open_first, .count = open_count, .total = total, .algo = algo};
        open_count = 0;
        if (overlap)
            rc = rt_async_post(r, bucket_sum, &b[nb]);
        nb++;
    }
    /* ---- the sums still running, or not yet started ---- */
    int drained = rt_async_drain(r);
    rc = rc ? rc : drained;
    for (int k = 0; k < nb && !rc && !overlap; k++)
        rc = bucket_sum(r, &b[k]);
    free(b);
    return rc;
}
