/* solution.c -- lab 07, scaling: the time model of a data-parallel step
 * (teacher's copy).
 *
 * Every step each of W workers computes the gradient of its batch, then
 * the workers allreduce the gradient (algorithms/plugin.h,
 * plugin_dp_model, says the setting exactly). Time per step:
 *
 *   step = compute + comm
 *   compute = batch x flops_per_example / speed       shrinks with nothing
 *   comm    = the allreduce of params floats on W workers
 *
 * and an epoch takes ceil(examples / (W batch)) steps. Strong scaling (a
 * fixed epoch) divides the steps by W but not the step: compute-bound,
 * the epoch shrinks as 1/W; communication-bound, it can grow.
 *
 *   build/distlab lab check 07 labs/07-scaling/solution.c
 */
#include <math.h>

#include "algorithms/plugin.h"

/* ceil(log2 p) */
static int ceil_log2(int p)
{
    int k = 0;
    while ((1L << k) < p)
        k++;
    return k;
}

/* The binomial tree (lab 02): a reduce then a broadcast, each ceil(log2
 * p) rounds of the whole vector, and the reduce adds it once a round. */
static double tree_seconds(int p, double bytes, double floats, double alpha, double beta, double gamma)
{
    int L = ceil_log2(p);
    return 2.0 * L * (alpha + bytes * beta) + L * floats * gamma;
}

/* The ring (lab 01): the vector in p blocks of m = ceil(params / p)
 * floats (padded), a reduce-scatter then an allgather. */
static double ring_seconds(int p, size_t params, double alpha, double beta, double gamma)
{
    if (p == 1)
        return 0;
    double m = (double)((params + (size_t)p - 1) / (size_t)p);
    /* ---- reduce-scatter: (p-1) (alpha + 4m beta + m gamma) ---- */
    double rs = (p - 1) * (alpha + 4.0 * m * beta + m * gamma);
    /* ---- allgather: (p-1) (alpha + 4m beta) ---- */
    double ag = (p - 1) * (alpha + 4.0 * m * beta);
    return rs + ag;
}

int plugin_dp_model(const plugin_dp_setting *s, plugin_dp_time *t)
{
    if (s->workers < 1 || s->batch < 1 || s->examples < 1 || !(s->speed_flops > 0) ||
        !(s->flops_per_example > 0) || !(s->alpha_s >= 0) || !(s->beta_s_per_byte >= 0) ||
        (s->algo != ALLREDUCE_RING && s->algo != ALLREDUCE_TREE))
        return RT_EINVAL;
    double gamma = 1.0 / s->speed_flops; /* seconds per float added */
    int W = s->workers;
    long global = (long)W * s->batch; /* the global batch */
    t->steps = (s->examples + global - 1) / global;
    t->compute_s = (double)s->batch * s->flops_per_example / s->speed_flops;
    if (W == 1)
        t->comm_s = 0;
    else if (s->algo == ALLREDUCE_TREE)
        t->comm_s = tree_seconds(W, 4.0 * (double)s->params, (double)s->params, s->alpha_s,
                                 s->beta_s_per_byte, gamma);
    else
        t->comm_s = ring_seconds(W, s->params, s->alpha_s, s->beta_s_per_byte, gamma);
    t->epoch_s = (double)t->steps * (t->compute_s + t->comm_s);
    return RT_OK;
}
