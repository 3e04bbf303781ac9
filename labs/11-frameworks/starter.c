/* starter.c -- lab 11, the schedule of PyTorch DDP and Horovod: buckets
 * of gradients, summed while backward goes on.
 *
 * The checker (cli/lab_frameworks.c) calls this once per step on every
 * rank, with the gradient g already computed (NULL in size-only runs):
 * your code charges each layer's backward, output layer first, and sums
 * the gradient over the ranks. layers[i] says where layer i's gradient
 * lies in g (first, count floats; some layers have none) and what its
 * backward costs (bwd_flops). distlab's own is algorithms/dp_grad.c.
 *
 * Copy this file, fill in the TODO, then
 *   build/distlab lab check 11 my_buckets.c
 */
#include <stdlib.h>

#include "algorithms/plugin.h"

int plugin_bucketed_backward(rt *r, float *g, size_t total, const plugin_layer *layers, int nlayers,
                             size_t bucket_bytes, int overlap, allreduce_algo algo)
{
    /* TODO (lab 11): as it is, this is `run allreduce` without buckets:
     * the whole of backward, then one allreduce of the whole gradient,
     * with nothing hidden. Instead:
     *   - after each layer's rt_compute, add its gradient to the open
     *     bucket; close the bucket once it holds bucket_bytes (4 bytes a
     *     float), or at layer 0 -- but never an empty one;
     *   - a closed bucket is floats [first, first+count) of g, summed by
     *         allreduce_slice(r, algo, g ? g + first : NULL, first, count, total, NULL)
     *     which adds every element as the whole vector's allreduce would;
     *   - overlap: post that sum with rt_async_post(r, fn, arg) at once
     *     (fn runs beside your code; arg must stay valid until
     *     rt_async_drain, so keep one struct per bucket), and drain at the
     *     end; no overlap: sum the buckets in order after backward.
     * Between the first post and the drain, make no message calls of
     * your own (runtime.h). */
    (void)bucket_bytes;
    (void)overlap;
    int rc = RT_OK;
    for (int i = nlayers - 1; i >= 0 && !rc; i--)
        rc = rt_compute(r, layers[i].bwd_flops);
    if (!rc)
        rc = allreduce(r, algo, g, total, NULL);
    return rc;
}
