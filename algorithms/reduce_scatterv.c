/* reduce_scatterv.c -- reduce-scatter with uneven counts, by direct exchange.
 *
 * Every rank holds p blocks one after another in buf, block j of c_j floats
 * (any c_j, zero included) at offset c_0 + ... + c_{j-1}; rank j ends with
 * the sum over all ranks of block j, in place. Each rank posts a receive
 * for every other rank's copy of its own block, sends block j to rank j for
 * every j, and once all have arrived adds them up: one round, p-1 messages
 * out and p-1 in per rank, all on the wire at once. Zero-float blocks are
 * not sent.
 *
 * Cost = alpha + (p-1) c_max beta + (p-1) c_max gamma   (0 when c_max = 0)
 *        [the round: rank j's link takes p-1 copies of block j at 1/(p-1)
 *        of the bandwidth each; then (p-1) c_j additions; rank j is done at
 *        alpha + (p-1) c_j (beta + gamma), the owner of the largest block
 *        last]
 *
 * Why direct: one latency, and with even counts c it is optimal in
 * bandwidth and computation both -- a rank must receive the (p-1) c floats
 * of the others' contributions to its block and add each once. Every sum
 * is computed in one fixed order, from zero, rank 0's contribution first,
 * so the result does not depend on which message came first, and is the
 * same on both backends. It is the exchange that DistBelief's model
 * parallelism makes for the input gradient of every layer, where block j
 * is partition j's slice of the neurons below (distbelief_mp.c).
 *
 * The pattern is MPICH's "scattered" all-to-all with one block per
 * receiver, followed by the local reduction (among a group of consecutive
 * ranks with opts->group_*, as allgatherv.c); MPICH's pairwise
 * reduce-scatter sends the same bytes in p-1 rounds instead of one.
 *
 * Source: Thakur, Rabenseifner & Gropp, "Optimization of collective
 * communication operations in MPICH", IJHPCA 19(1), 2005 (reduce-scatter
 * algorithms and their costs).
 */
#include <stdlib.h>

#include "algorithms/collectives.h"

enum { TAG_RSV = COLL_TAG_BASE + 10 };

int reduce_scatterv(rt *r, float *buf, const size_t *counts, const coll_opts *opts)
{
    int p, me, rc;
    if ((rc = coll_group(r, opts, "reduce_scatterv", &p, &me)))
        return rc;
    int first = rt_rank(r) - me;
    if (p == 1)
        return RT_OK;
    if (!counts)
        return rt_fail(r, RT_EINVAL, "reduce_scatterv: no counts");
    size_t c = counts[me];
    rt_request **reqs = calloc((size_t)p, sizeof *reqs);
    /* the others' copies of my block, in rank order (my own is left out) */
    float *theirs = buf && c ? malloc((size_t)(p - 1) * c * sizeof *theirs) : NULL;
    if (!reqs || (buf && c && !theirs)) {
        rc = rt_fail(r, RT_ENOMEM, "reduce_scatterv: no memory for %d blocks of %zu floats",
                     p - 1, c);
        goto done;
    }

    /* ---- the round: block j to rank j ----
     * (a failed receive or send stops nothing, as in allgatherv.c: the
     * live ranks still get their blocks and fail on the dead one's only) */
    for (int j = 0; j < p && c; j++)
        if (j != me) {
            int e = rt_irecv(r, first + j, TAG_RSV, theirs ? theirs + (size_t)(j - (j > me)) * c : NULL,
                             c * sizeof(float), &reqs[j]);
            rc = rc ? rc : e;
        }
    for (size_t j = 0, off = 0; j < (size_t)p; off += counts[j], j++)
        if (j != (size_t)me && counts[j]) {
            int e = rt_send(r, first + (int)j, TAG_RSV, buf ? buf + off : NULL, counts[j] * sizeof(float));
            rc = rc ? rc : e;
        }
    int rc2 = rt_waitall(r, p, reqs, NULL);
    rc = rc ? rc : rc2;
    if (rc) {
        rc = rt_fail(r, rc, "reduce_scatterv: %s", rt_error(r));
        goto done;
    }

    /* ---- the reduction: (p-1) c additions, in rank order ---- */
    float *mine = buf ? buf + coll_block_offset(counts, me) : NULL;
    for (size_t i = 0; mine && i < c; i++) {
        float sum = 0;
        for (int j = 0; j < p; j++)
            sum += j == me ? mine[i] : theirs[(size_t)(j - (j > me)) * c + i];
        mine[i] = sum;
    }
    if (!(opts && opts->uncharged_adds))
        rc = rt_compute_as(r, RT_WORK_VECTOR, (double)(p - 1) * (double)c);
done:
    free(reqs);
    free(theirs);
    return rc;
}

double reduce_scatterv_cost_s(int p, const size_t *counts, double alpha_s, double beta_s_per_byte,
                              double gamma_s_per_float)
{
    size_t cmax = 0;
    for (int j = 0; j < p; j++)
        cmax = counts[j] > cmax ? counts[j] : cmax;
    if (p <= 1 || cmax == 0)
        return 0;
    return alpha_s + (p - 1) * (double)cmax * (4.0 * beta_s_per_byte + gamma_s_per_float);
}
