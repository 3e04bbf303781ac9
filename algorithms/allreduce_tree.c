/* allreduce_tree.c -- tree allreduce: reduce up a spanning tree to rank 0,
 * then broadcast the sum back down the same tree.
 *
 * This is the AllReduce of Hadoop-era terascale learners: workers form a
 * tree, partial sums flow up, the total flows down, and every worker ends
 * with the same vector. We use a binomial tree (reduce.c, then bcast.c),
 * whose depth L = ceil(log2 p) is the smallest a tree of single-port
 * nodes can have.
 *
 * Cost = 2 L (alpha + n beta) + L n gamma
 *        [reduce: L (alpha + n beta + n gamma); broadcast: L (alpha + n beta)]
 *
 * Only 2L messages on the critical path, so latency grows with log p,
 * not p -- but the whole vector crosses 2L links in turn, so for large
 * vectors the ring, whose bandwidth term stays near 2n beta, wins.
 *
 * Source: Agarwal, Chapelle, Dudik & Langford, "A Reliable Effective
 * Terascale Linear Learning System", JMLR 15, 2014.
 */
#include "algorithms/collectives.h"

int allreduce_tree(rt *r, float *buf, size_t count)
{
    /* ---- phase 1: partial sums flow up to rank 0 ---- */
    int rc = reduce(r, buf, count, 0);
    /* ---- phase 2: the total flows back down ---- */
    return rc ? rc : bcast(r, buf, count, 0);
}
