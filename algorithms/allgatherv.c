/* allgatherv.c -- allgather with uneven counts, by direct exchange.
 *
 * Rank j contributes a block of c_j floats (any c_j, zero included); the
 * p blocks lie one after another in buf, block j at offset c_0 + ... +
 * c_{j-1}, and every rank ends with all of them. Each rank posts a receive
 * for every other rank's block, right into place, and then sends its own
 * block to every other rank: one round, p-1 messages out and p-1 in per
 * rank, all on the wire at once. A block of zero floats is not sent at all.
 *
 * Cost = alpha + (p-1) c_max beta,   c_max = max_j c_j   (0 when c_max = 0)
 *        [one round: rank j's link carries its block p-1 times, at 1/(p-1)
 *        of the bandwidth each, so the largest block arrives last]
 *
 * Why direct: one latency, whatever p, and no rank forwards anyone else's
 * data. With even counts c, every rank must receive the (p-1) c floats it
 * lacks, so (p-1) c beta is also the least any algorithm can take on one
 * link per host: direct is optimal in bandwidth as well. With uneven counts
 * the largest block's sender is the bottleneck; a ring is no faster there
 * ((p-1)(alpha + c_max beta)), only a pipelined broadcast of that block
 * would be. It is the exchange DistBelief's model parallelism makes after
 * every layer, where the counts are the partitions' slices of the neurons
 * (distbelief_mp.c).
 *
 * The sends are buffered (rt_send), so a rank leaves as soon as its own
 * receives are done. With opts->group_*, the same among a group of
 * consecutive ranks (coll_group, allreduce.c). The pattern is MPICH's "scattered" all-to-all (every
 * receive and send posted at once) with one block per sender.
 *
 * Source: Thakur, Rabenseifner & Gropp, "Optimization of collective
 * communication operations in MPICH", IJHPCA 19(1), 2005 (allgather and
 * all-to-all algorithms and their costs).
 */
#include <stdlib.h>

#include "algorithms/collectives.h"

enum { TAG_AGV = COLL_TAG_BASE + 9 };

int allgatherv(rt *r, float *buf, const size_t *counts, const coll_opts *opts)
{
    int p, me, rc;
    if ((rc = coll_group(r, opts, "allgatherv", &p, &me)))
        return rc;
    int first = rt_rank(r) - me;
    if (p == 1)
        return RT_OK;
    if (!counts)
        return rt_fail(r, RT_EINVAL, "allgatherv: no counts");
    rt_request **reqs = calloc((size_t)p, sizeof *reqs);
    if (!reqs)
        return rt_fail(r, RT_ENOMEM, "allgatherv: no memory for %d requests", p);

    /* ---- the one round: every block to every other rank ----
     * A receive or send that fails (a dead peer) stops nothing: the live
     * ranks still get this rank's block, as it waits for theirs, so each
     * of them fails on the dead one's block alone instead of waiting for
     * a block that nobody will send. The first error is the one kept. */
    for (size_t j = 0, off = 0; j < (size_t)p; off += counts[j], j++)
        if (j != (size_t)me && counts[j]) {
            int e = rt_irecv(r, first + (int)j, TAG_AGV, buf ? buf + off : NULL, counts[j] * sizeof(float),
                             &reqs[j]);
            rc = rc ? rc : e;
        }
    const float *mine = buf ? buf + coll_block_offset(counts, me) : NULL;
    for (int j = 0; j < p && counts[me]; j++)
        if (j != me) {
            int e = rt_send(r, first + j, TAG_AGV, mine, counts[me] * sizeof(float));
            rc = rc ? rc : e;
        }
    int rc2 = rt_waitall(r, p, reqs, NULL);
    free(reqs);
    rc = rc ? rc : rc2;
    return rc ? rt_fail(r, rc, "allgatherv: %s", rt_error(r)) : RT_OK;
}

double allgatherv_cost_s(int p, const size_t *counts, double alpha_s, double beta_s_per_byte)
{
    size_t cmax = 0;
    for (int j = 0; j < p; j++)
        cmax = counts[j] > cmax ? counts[j] : cmax;
    if (p <= 1 || cmax == 0)
        return 0;
    return alpha_s + (p - 1) * 4.0 * (double)cmax * beta_s_per_byte;
}
