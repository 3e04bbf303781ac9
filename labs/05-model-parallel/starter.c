/* starter.c -- lab 05, model parallelism: split a layer by neurons and
 * write the boundary exchange.
 *
 * A fully connected layer y = act(x W + b) with n_out neurons is split
 * over P partitions: partition k owns the neurons [lo_k, hi_k) and the
 * columns of W that feed them (algorithms/plugin.h, plugin_mp_*, says the
 * shapes). Forward, each partition computes its own m_k outputs from the
 * whole input; the next layer needs all of them, so every partition sends
 * its block to every other (an allgather). Backward, each partition's
 * share of the input gradient, dz W^T, covers every input; partition j
 * needs the sum of all shares on its own slice of the inputs (a
 * reduce-scatter). Here both are a direct exchange: every partition
 * sends one block to each other partition at once (rt_isend, rt_irecv,
 * rt_waitall), as algorithms/allgatherv.c and reduce_scatterv.c do.
 *
 * Cost (ideal network; c = the largest block, in bytes; s = core speed):
 *   forward   2 B n_in m / s + alpha + (P-1) c beta
 *   backward  4 B n_in m / s + alpha + (P-1) c beta + (P-1) B m_in / s
 *             (its additions; 2 B n_in m / s when dx is NULL, no exchange)
 *
 * Copy this file, fill in the TODOs, then
 *   build/distlab lab check 05 my_layer.c
 */
#include <stdlib.h>
#include <string.h>

#include "algorithms/plugin.h"

enum { TAG_FORWARD = 501, TAG_BACKWARD = 502 };

/* ---- the split ---- */
void plugin_mp_split(size_t n, int parts, int k, size_t *lo, size_t *hi)
{
    /* TODO (lab 05): this split loses the last n % parts neurons when
     * parts does not divide n. Cover every neuron, in partition order,
     * with sizes that differ by at most one. */
    size_t m = n / (size_t)parts;
    *lo = (size_t)k * m;
    *hi = *lo + m;
}

/* This partition's outputs, B x m into out (example by example), and
 * their cost. */
static int local_forward(rt *r, const plugin_mp_layer *L, const float *x, size_t B, size_t m,
                         float *out)
{
    for (size_t e = 0; e < B; e++)
        for (size_t j = 0; j < m; j++) {
            float z = L->b[j];
            for (size_t i = 0; i < L->n_in; i++)
                z += x[e * L->n_in + i] * L->W[i * m + j];
            out[e * m + j] = L->relu && z < 0 ? 0 : z;
        }
    return rt_compute(r, 2.0 * (double)B * (double)L->n_in * (double)m);
}

/* ---- forward: compute my block, then the allgather ---- */
int plugin_mp_forward(rt *r, const plugin_mp_layer *L, const float *x, size_t B, float *y)
{
    int P = rt_size(r), me = rt_rank(r), rc;
    size_t lo, hi;
    plugin_mp_split(L->n_out, P, me, &lo, &hi);
    size_t m = hi - lo;
    float *mine = malloc((B * m + 1) * sizeof *mine);
    if (!mine)
        return rt_fail(r, RT_ENOMEM, "forward: no memory for %zu floats", B * m);
    if ((rc = local_forward(r, L, x, B, m, mine)))
        goto done;
    for (size_t e = 0; e < B; e++)
        memcpy(y + e * L->n_out + lo, mine + e * m, m * sizeof *mine);
    /* TODO (lab 05): the boundary exchange. Send `mine` (B x m floats) to
     * every other partition and receive each partition k's block
     * (B x m_k, its neurons [lo_k, hi_k) from plugin_mp_split) at the same
     * time: post every receive and every send, then wait for all. Put
     * each block into its columns of y. */
done:
    free(mine);
    return rc;
}

/* gW = x^T dz, gb = column sums of dz, and (share != NULL) share =
 * dz W^T, B x n_in; with their cost. */
static int local_backward(rt *r, const plugin_mp_layer *L, const float *x, const float *dz,
                          size_t B, size_t m, float *gW, float *gb, float *share)
{
    size_t n_in = L->n_in;
    for (size_t i = 0; i < n_in; i++)
        for (size_t j = 0; j < m; j++) {
            float g = 0;
            for (size_t e = 0; e < B; e++)
                g += x[e * n_in + i] * dz[e * m + j];
            gW[i * m + j] = g;
        }
    for (size_t j = 0; j < m; j++) {
        float g = 0;
        for (size_t e = 0; e < B; e++)
            g += dz[e * m + j];
        gb[j] = g;
    }
    double flops = 2.0 * (double)B * (double)n_in * (double)m;
    if (share) {
        for (size_t e = 0; e < B; e++)
            for (size_t i = 0; i < n_in; i++) {
                float g = 0;
                for (size_t j = 0; j < m; j++)
                    g += dz[e * m + j] * L->W[i * m + j];
                share[e * n_in + i] = g;
            }
        flops *= 2;
    }
    return rt_compute(r, flops);
}

/* ---- backward: my gradients and share, then the reduce-scatter ---- */
int plugin_mp_backward(rt *r, const plugin_mp_layer *L, const float *x, const float *dz, size_t B,
                       float *gW, float *gb, float *dx)
{
    int P = rt_size(r), me = rt_rank(r), rc;
    size_t lo, hi, in_lo, in_hi, n_in = L->n_in;
    plugin_mp_split(L->n_out, P, me, &lo, &hi);
    plugin_mp_split(n_in, P, me, &in_lo, &in_hi);
    float *share = dx ? malloc((B * n_in + 1) * sizeof *share) : NULL;
    if (dx && !share)
        return rt_fail(r, RT_ENOMEM, "backward: no memory for %zu floats", B * n_in);
    rc = local_backward(r, L, x, dz, B, hi - lo, gW, gb, share);
    if (rc || !dx)
        goto done;
    for (size_t e = 0; e < B; e++)
        memcpy(dx + e * (in_hi - in_lo), share + e * n_in + in_lo, (in_hi - in_lo) * sizeof *dx);
    /* TODO (lab 05): the boundary exchange. dx must be the sum of every
     * partition's share on columns [in_lo, in_hi), not only this one's.
     * Send partition j its columns [in_lo_j, in_hi_j) of `share` (pack
     * them: B x m_in_j floats, example by example), receive the other
     * partitions' blocks of your columns, then add them up in partition
     * order 0, 1, ..., P-1 with coll_add (which charges each addition):
     * the same order on every backend, so the same bits. */
done:
    free(share);
    return rc;
}
