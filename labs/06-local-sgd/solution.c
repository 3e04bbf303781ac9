/* solution.c -- lab 06, local SGD: average the models every H steps.
 *
 * Each worker takes H steps on its own shard, then all replace their
 * weights by the mean of everyone's: one allreduce of the model and a
 * division by p. With H = 1 this is synchronous SGD (up to rounding);
 * with H = the whole run, one-shot averaging (Zinkevich et al., NIPS 2010).
 * Bytes on the wire fall by H; the models drift apart between averages.
 *
 * Check it:   build/distlab lab check 06 labs/06-local-sgd/solution.c
 */
#include "algorithms/plugin.h"

int plugin_local_average(rt *r, float *w, size_t n, long step, long last, long every)
{
    int due = step == last || (every > 0 && step % every == 0);
    if (!due || rt_size(r) == 1)
        return RT_OK;
    /* ---- sum everyone's model (every rank ends with the same bits) ---- */
    int rc = allreduce(r, ALLREDUCE_RING, w, n, NULL);
    if (rc)
        return rc;
    /* ---- and divide: the mean ---- */
    float inv = 1.0f / (float)rt_size(r);
    for (size_t i = 0; w && i < n; i++)
        w[i] *= inv;
    return rt_compute(r, (double)n);
}
