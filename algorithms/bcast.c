/* bcast.c -- binomial-tree broadcast: root's vector to every rank.
 *
 * Ranks are numbered relative to the root (v = rank - root mod p). A rank
 * first receives from v - 2^k, where 2^k is the lowest set bit of v (the
 * root receives nothing), then sends to v + 2^j for every j < k, largest
 * first, waiting for each transfer before the next. The set of ranks that
 * hold the data doubles every round.
 *
 * Cost = L (alpha + n beta), L = ceil(log2 p): each rank's sends go one
 * after another, so a link never carries two copies at once.
 *
 * Source: MPICH's MPIR_Bcast_intra_binomial; Thakur, Rabenseifner & Gropp,
 * "Optimization of collective communication operations in MPICH", IJHPCA
 * 19(1), 2005.
 */
#include "algorithms/collectives.h"

enum { TAG_BCAST = COLL_TAG_BASE + 4 };

int bcast_group(rt *r, float *buf, size_t count, int root, const coll_opts *opts)
{
    int p, me, rc = coll_group(r, opts, "bcast", &p, &me);
    if (rc)
        return rc;
    if (root < 0 || root >= p)
        return rt_fail(r, RT_EINVAL, "bcast: root %d out of range 0..%d", root, p - 1);
    if (p == 1 || count == 0)
        return RT_OK;
    int v = (me - root + p) % p;
    size_t bytes = count * sizeof(float);
    int mask = 1;
    while (mask < p) {
        if (v & mask) {
            rc = rt_recv(r, coll_member(opts, (v - mask + root) % p), TAG_BCAST, buf, bytes, NULL);
            break;
        }
        mask <<= 1;
    }
    for (mask >>= 1; mask > 0 && !rc; mask >>= 1) {
        if (v + mask < p) {
            rt_request *q;
            rc = rt_isend(r, coll_member(opts, (v + mask + root) % p), TAG_BCAST, buf, bytes, &q);
            if (!rc)
                rc = rt_wait(r, &q, NULL);
        }
    }
    return rc;
}

int bcast(rt *r, float *buf, size_t count, int root) { return bcast_group(r, buf, count, root, NULL); }
