/* solution.c -- lab 05, model parallelism: split a layer by neurons and
 * write the boundary exchange (teacher's copy).
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
 *   build/distlab lab check 05 labs/05-model-parallel/solution.c
 */
#include <stdlib.h>
#include <string.h>

#include "algorithms/plugin.h"

/* Every partition's slice of n, for the exchanges. */
static void all_slices(size_t n, int P, size_t *lo, size_t *hi)
{
    for (int k = 0; k < P; k++)
        plugin_mp_split(n, P, k, &lo[k], &hi[k]);
}

enum { TAG_FORWARD = 501, TAG_BACKWARD = 502 };

/* ---- the split ---- */
void plugin_mp_split(size_t n, int parts, int k, size_t *lo, size_t *hi)
{
    /* floor(n k / P): sizes floor or ceil of n / P, the remainder spread */
    *lo = n * (size_t)k / (size_t)parts;
    *hi = n * (size_t)(k + 1) / (size_t)parts;
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
    int P = rt_size(r), me = rt_rank(r), rc = RT_OK;
    size_t n = L->n_out;
    size_t *lo = malloc(2 * (size_t)P * sizeof *lo), *hi = lo ? lo + P : NULL;
    /* blocks: partition k's B x m_k outputs at B lo_k, mine among them */
    float *blocks = malloc((B * n + 1) * sizeof *blocks);
    rt_request **req = malloc(2 * (size_t)P * sizeof *req);
    if (!lo || !blocks || !req) {
        rc = rt_fail(r, RT_ENOMEM, "forward: no memory for %zu floats", B * n);
        goto done;
    }
    all_slices(n, P, lo, hi);
    size_t m = hi[me] - lo[me];
    float *mine = blocks + B * lo[me];
    if ((rc = local_forward(r, L, x, B, m, mine)))
        goto done;
    /* ---- the allgather: every block to every partition at once ---- */
    int nreq = 0;
    for (int k = 0; k < P && !rc; k++)
        if (k != me)
            rc = rt_irecv(r, k, TAG_FORWARD, blocks + B * lo[k], B * (hi[k] - lo[k]) * sizeof *blocks,
                          &req[nreq++]);
    for (int k = 0; k < P && !rc; k++)
        if (k != me)
            rc = rt_isend(r, k, TAG_FORWARD, mine, B * m * sizeof *mine, &req[nreq++]);
    int rc2 = rt_waitall(r, nreq, req, NULL);
    if ((rc = rc ? rc : rc2))
        goto done;
    /* ---- unpack: block k into its columns of y ---- */
    for (int k = 0; k < P; k++)
        for (size_t e = 0; e < B; e++)
            memcpy(y + e * n + lo[k], blocks + B * lo[k] + e * (hi[k] - lo[k]),
                   (hi[k] - lo[k]) * sizeof *y);
done:
    free(req);
    free(blocks);
    free(lo);
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
    size_t out_lo, out_hi, n_in = L->n_in;
    plugin_mp_split(L->n_out, P, me, &out_lo, &out_hi);
    if (!dx)
        return local_backward(r, L, x, dz, B, out_hi - out_lo, gW, gb, NULL);
    size_t *lo = malloc(2 * (size_t)P * sizeof *lo), *hi = lo ? lo + P : NULL;
    float *share = malloc((B * n_in + 1) * sizeof *share);
    float *packed = malloc((B * n_in + 1) * sizeof *packed); /* block j: B x m_in_j at B lo_j */
    float *got = NULL;                                        /* P blocks of my B x m_in */
    rt_request **req = malloc(2 * (size_t)P * sizeof *req);
    rc = RT_OK;
    if (!lo || !share || !packed || !req) {
        rc = rt_fail(r, RT_ENOMEM, "backward: no memory for %zu floats", B * n_in);
        goto done;
    }
    all_slices(n_in, P, lo, hi);
    size_t mi = hi[me] - lo[me];
    if (!(got = malloc(((size_t)P * B * mi + 1) * sizeof *got))) {
        rc = rt_fail(r, RT_ENOMEM, "backward: no memory for %zu floats", (size_t)P * B * mi);
        goto done;
    }
    if ((rc = local_backward(r, L, x, dz, B, out_hi - out_lo, gW, gb, share)))
        goto done;
    /* ---- pack: partition j's columns of my share, example by example ---- */
    for (int j = 0; j < P; j++)
        for (size_t e = 0; e < B; e++)
            memcpy(packed + B * lo[j] + e * (hi[j] - lo[j]), share + e * n_in + lo[j],
                   (hi[j] - lo[j]) * sizeof *share);
    memcpy(got + (size_t)me * B * mi, packed + B * lo[me], B * mi * sizeof *got);
    /* ---- the reduce-scatter: block j to partition j, all at once ---- */
    int nreq = 0;
    for (int k = 0; k < P && !rc; k++)
        if (k != me)
            rc = rt_irecv(r, k, TAG_BACKWARD, got + (size_t)k * B * mi, B * mi * sizeof *got,
                          &req[nreq++]);
    for (int j = 0; j < P && !rc; j++)
        if (j != me)
            rc = rt_isend(r, j, TAG_BACKWARD, packed + B * lo[j], B * (hi[j] - lo[j]) * sizeof *packed,
                          &req[nreq++]);
    int rc2 = rt_waitall(r, nreq, req, NULL);
    if ((rc = rc ? rc : rc2))
        goto done;
    /* ---- the sum, in partition order: the same bits on every backend ---- */
    memcpy(dx, got, B * mi * sizeof *dx);
    for (int k = 1; k < P && !rc; k++)
        rc = coll_add(r, dx, got + (size_t)k * B * mi, B * mi);
done:
    free(req);
    free(got);
    free(packed);
    free(share);
    free(lo);
    return rc;
}
