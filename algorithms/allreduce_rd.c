/* allreduce_rd.c -- recursive doubling allreduce.
 *
 * In round k every rank swaps its whole vector with the rank whose number
 * differs in bit k, and both add what they received. After log2 p rounds
 * each rank has summed the vectors of all 2^(log2 p) ranks: the group whose
 * sum it holds doubles every round.
 *
 * Cost (p a power of two) = log2 p (alpha + n beta + n gamma)
 * and otherwise, with p' the largest power of two below p,
 *      = log2 p' (alpha + n beta + n gamma) + 2 (alpha + n beta) + n gamma
 *        [fold the p - p' extra ranks in; recursive doubling; fold them out]
 *
 * The fewest rounds of any allreduce, so the best for small vectors where
 * alpha dominates; but every round moves the whole vector, so for large
 * vectors its bandwidth term, log2 p n beta, loses to the ring's 2 n beta.
 *
 * Source: Thakur, Rabenseifner & Gropp, "Optimization of collective
 * communication operations in MPICH", IJHPCA 19(1), 2005.
 */
#include <stdlib.h>

#include "algorithms/collectives.h"

enum { TAG_RD = COLL_TAG_BASE + 5, TAG_RD_FOLD = COLL_TAG_BASE + 6 };

int coll_fold_rank(rt *r, int newrank)
{
    int extra = rt_size(r) - coll_pow2_floor(rt_size(r));
    return newrank < extra ? 2 * newrank + 1 : newrank + extra;
}

int coll_fold_in(rt *r, float *buf, size_t count, int tag, int *newrank)
{
    int me = rt_rank(r), extra = rt_size(r) - coll_pow2_floor(rt_size(r)), rc = RT_OK;
    size_t bytes = count * sizeof(float);
    if (me >= 2 * extra) {
        *newrank = me - extra;
        return RT_OK;
    }
    if (me % 2 == 0) {
        *newrank = -1;
        return rt_send(r, me + 1, tag, buf, bytes);
    }
    *newrank = me / 2;
    float *tmp = buf ? malloc(bytes) : NULL;
    if (buf && !tmp)
        return rt_fail(r, RT_ENOMEM, "allreduce: no memory for %zu floats", count);
    rc = rt_recv(r, me - 1, tag, tmp, bytes, NULL);
    if (!rc)
        rc = coll_add(r, buf, tmp, count);
    free(tmp);
    return rc;
}

int coll_fold_out(rt *r, float *buf, size_t count, int tag)
{
    int me = rt_rank(r), extra = rt_size(r) - coll_pow2_floor(rt_size(r));
    size_t bytes = count * sizeof(float);
    if (me >= 2 * extra)
        return RT_OK;
    if (me % 2 == 0)
        return rt_recv(r, me + 1, tag, buf, bytes, NULL);
    return rt_send(r, me - 1, tag, buf, bytes);
}

int allreduce_rd(rt *r, float *buf, size_t count)
{
    int p = rt_size(r), pp = coll_pow2_floor(p), newrank, rc;
    if (p == 1 || count == 0)
        return RT_OK;
    size_t bytes = count * sizeof(float);
    float *tmp = buf ? malloc(bytes) : NULL;
    if (buf && !tmp)
        return rt_fail(r, RT_ENOMEM, "allreduce: no memory for %zu floats", count);

    /* ---- fold the extra ranks in ---- */
    rc = coll_fold_in(r, buf, count, TAG_RD_FOLD, &newrank);

    /* ---- recursive doubling among p' ranks ---- */
    for (int mask = 1; mask < pp && newrank >= 0 && !rc; mask <<= 1) {
        int partner = coll_fold_rank(r, newrank ^ mask);
        rc = rt_sendrecv(r, partner, TAG_RD, buf, bytes, partner, TAG_RD, tmp, bytes, NULL);
        if (!rc)
            rc = coll_add(r, buf, tmp, count);
    }

    /* ---- hand the result to the ranks that sat out ---- */
    if (!rc)
        rc = coll_fold_out(r, buf, count, TAG_RD_FOLD);
    free(tmp);
    return rc;
}
