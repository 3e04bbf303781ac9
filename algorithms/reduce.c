/* reduce.c -- binomial-tree reduce: the sum of every rank's vector at root.
 *
 * Ranks are numbered relative to the root (v = rank - root mod p). In
 * round k (k = 0, 1, ...), a rank whose bit k is the lowest set bit of v
 * sends its partial sum to v - 2^k and is done; a rank whose bits 0..k are
 * clear receives from v + 2^k (if that rank exists) and adds. After
 * L = ceil(log2 p) rounds the root holds the total.
 *
 * Cost = L (alpha + n beta + n gamma): in every round a receiver takes one
 * message and one addition, and no link carries two messages at once.
 * Few messages, but the whole vector crosses the network L times: good for
 * small n, poor for large n (compare allreduce_ring.c).
 *
 * Source: the binomial tree of MPICH's MPIR_Reduce_intra_binomial; see
 * Thakur, Rabenseifner & Gropp, "Optimization of collective communication
 * operations in MPICH", IJHPCA 19(1), 2005.
 */
#include <stdlib.h>

#include "algorithms/collectives.h"

enum { TAG_REDUCE = COLL_TAG_BASE + 3 };

int reduce_group(rt *r, float *buf, size_t count, int root, const coll_opts *opts)
{
    int p, me, rc = coll_group(r, opts, "reduce", &p, &me);
    if (rc)
        return rc;
    if (root < 0 || root >= p)
        return rt_fail(r, RT_EINVAL, "reduce: root %d out of range 0..%d", root, p - 1);
    if (p == 1 || count == 0)
        return RT_OK;
    int v = (me - root + p) % p;
    size_t bytes = count * sizeof(float);
    float *tmp = buf ? malloc(bytes) : NULL;
    if (buf && !tmp)
        return rt_fail(r, RT_ENOMEM, "reduce: no memory for %zu floats", count);
    for (int mask = 1; mask < p && !rc; mask <<= 1) {
        if (v & mask) {
            rc = rt_send(r, coll_member(opts, (v - mask + root) % p), TAG_REDUCE, buf, bytes);
            break;
        }
        if (v + mask < p) {
            rc = rt_recv(r, coll_member(opts, (v + mask + root) % p), TAG_REDUCE, tmp, bytes, NULL);
            if (!rc)
                rc = coll_add(r, buf, tmp, count);
        }
    }
    free(tmp);
    return rc;
}

int reduce(rt *r, float *buf, size_t count, int root) { return reduce_group(r, buf, count, root, NULL); }
