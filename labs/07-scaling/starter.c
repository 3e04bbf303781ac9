/* starter.c -- lab 07, scaling: the time model of a data-parallel step.
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
 * Copy this file, fill in the TODOs, then
 *   build/distlab lab check 07 my_model.c
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
    /* TODO (lab 07): 2(p-1) messages of m floats, and (p-1) m additions.
     * One rank has nothing to send. */
    (void)p;
    (void)params;
    (void)alpha;
    (void)beta;
    (void)gamma;
    return 0;
}

int plugin_dp_model(const plugin_dp_setting *s, plugin_dp_time *t)
{
    if (s->workers < 1 || s->batch < 1 || s->examples < 1 || !(s->speed_flops > 0) ||
        !(s->flops_per_example > 0) || !(s->alpha_s >= 0) || !(s->beta_s_per_byte >= 0) ||
        (s->algo != ALLREDUCE_RING && s->algo != ALLREDUCE_TREE))
        return RT_EINVAL;
    double gamma = 1.0 / s->speed_flops; /* seconds per float added */
    int W = s->workers;
    /* TODO (lab 07): steps per epoch (every step takes W x batch examples;
     * the last one may have fewer to take, and still counts), and the
     * gradient's time per step. */
    t->steps = 0;
    t->compute_s = 0;
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
