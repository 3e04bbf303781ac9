/* allreduce_hierarchical.c -- hierarchical allreduce for clusters of
 * multi-GPU nodes: sum inside each node over its fast links, allreduce
 * among one leader per node over the slow network, then hand the total
 * back inside each node.
 *
 * A node's G GPUs talk over NVLink-class links (alpha_i, beta_i) many times
 * faster than the NIC they share to reach other nodes (alpha_o, beta_o). A
 * flat ring over all p = N G ranks sends 2(p-1) messages in turn, each
 * paying the slow network's alpha_o; here only N leaders (local rank 0 of
 * each node, ranks 0, G, 2G, ...) cross the network, in a ring of N, and
 * each NIC carries one flow at a time.
 *
 *   phase 1, reduce inside each node: a binomial tree (reduce.c) among the
 *   node's G ranks leaves the node's sum at its leader.
 *   phase 2, ring allreduce among the N leaders (allreduce_ring.c, a group
 *   of stride G).
 *   phase 3, broadcast inside each node: a binomial tree (bcast.c) from the
 *   leader.
 *
 * With n = 4 x count bytes, L = ceil(log2 G), m = 4 ceil(count / N):
 *
 * Cost = L (alpha_i + n beta_i + n gamma)                      [phase 1]
 *      + 2(N-1) alpha_o + 2(N-1) m beta_o + (N-1) m gamma      [phase 2]
 *      + L (alpha_i + n beta_i)                                [phase 3]
 *
 * exact in simulation on a generated GPU cluster (sim_platform.c), where
 * alpha_i, beta_i are --intra-latency and 1/--intra-bandwidth, alpha_o is
 * --latency and 1/beta_o is min(--bandwidth, --intra-bandwidth). With G = 1
 * it is the ring over all ranks. The nodes' phases run at once, on links
 * of their own. The intra-node phases move the whole vector L times, which
 * is cheap only because beta_i << beta_o: Horovod's variant (NCCL
 * reduce-scatter inside the node, G rings across nodes of n/G each, NCCL
 * allgather) also keeps the intra-node volume at 2(G-1)/G n.
 *
 * Every rank ends with the same bits: each leader sums its node in a fixed
 * order, the ring sums the nodes' sums in a fixed order, and the total is
 * copied. The ranks kG .. kG+G-1 are taken to share node k (opts->local_size
 * = G); p must be a multiple of G.
 *
 * Source: Sergeev & Del Balso, "Horovod: fast and easy distributed deep
 * learning in TensorFlow", arXiv:1802.05799, 2018 (hierarchical
 * allreduce); Thakur, Rabenseifner & Gropp, IJHPCA 19(1), 2005 (the trees).
 */
#include "algorithms/collectives.h"

int allreduce_hierarchical(rt *r, float *buf, size_t count, const coll_opts *opts)
{
    int p = rt_size(r), me = rt_rank(r);
    int G = opts && opts->local_size > 1 ? opts->local_size : 1;
    if (p % G != 0)
        return rt_fail(r, RT_EINVAL, "hierarchical allreduce: %d ranks are not whole nodes of %d "
                       "(the ranks per node must divide the ranks)", p, G);
    if (p == 1 || count == 0)
        return RT_OK;
    int N = p / G, node = me / G;
    coll_opts local = {.group_first = node * G, .group_size = G};
    coll_opts leaders = {.group_first = 0, .group_size = N, .group_stride = G,
                         .segment_bytes = opts ? opts->segment_bytes : 0};
    int rc = RT_OK;
    /* ---- phase 1: the node's sum at its leader ---- */
    if (G > 1)
        rc = reduce_group(r, buf, count, 0, &local);
    /* ---- phase 2: ring allreduce among the leaders ---- */
    if (!rc && me % G == 0 && N > 1)
        rc = allreduce_ring(r, buf, count, &leaders);
    /* ---- phase 3: the total to the node's other ranks ---- */
    if (!rc && G > 1)
        rc = bcast_group(r, buf, count, 0, &local);
    return rc;
}

double allreduce_hierarchical_cost_s(int p, int G, size_t count, double ai, double bi, double ao,
                                     double bo, double g_float)
{
    if (G < 1)
        G = 1;
    if (p <= 1 || count == 0 || p % G != 0)
        return p % G ? -1 : 0;
    int N = p / G, L = coll_ceil_log2(G);
    double n = 4.0 * (double)count, g = g_float / 4.0;
    double intra = L * (ai + n * bi + n * g) + L * (ai + n * bi);
    return intra + allreduce_cost_s(ALLREDUCE_RING, N, count, ao, bo, g_float);
}
