/* allreduce.c -- pick an allreduce by name, and the cost of each.
 *
 * The cost formulas here are the ones in each algorithm's header comment,
 * written as code so tests and `distlab collective --model` can compare
 * them with what the simulator measures. With n = 4 x count bytes:
 *
 *   ring          2(p-1) alpha + 2(p-1) m beta + (p-1) m gamma,  m = ceil(n/p)
 *   tree          2 L (alpha + n beta) + L n gamma,              L = ceil(log2 p)
 *   rd            L'(alpha + n beta + n gamma) [+ 2(alpha + n beta) + n gamma]
 *   rabenseifner  2 L' alpha + 2 (p'-1) m' beta + (p'-1) m' gamma
 *                 [+ 2(alpha + n beta) + n gamma],   m' = ceil(n/p')
 *
 * where p' is the largest power of two <= p, L' = log2 p', and the bracket
 * is paid only when p is not a power of two (folding the extra ranks in
 * and out). gamma here is per byte: gamma_s_per_float / 4.
 */
#include <stdlib.h>
#include <string.h>

#include "algorithms/collectives.h"

static const char *const names[ALLREDUCE_ALGOS] = {"ring", "tree", "rd", "rabenseifner",
                                                    "hierarchical"};

int allreduce_algo_by_name(const char *name)
{
    for (int i = 0; i < ALLREDUCE_ALGOS; i++)
        if (name && strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

const char *allreduce_algo_name(allreduce_algo a)
{
    return a >= 0 && a < ALLREDUCE_ALGOS ? names[a] : "unknown";
}

const char *allreduce_algo_list(void) { return "ring, tree, rd, rabenseifner, hierarchical"; }

int allreduce(rt *r, allreduce_algo algo, float *buf, size_t count, const coll_opts *opts)
{
    switch (algo) {
    case ALLREDUCE_RING: return allreduce_ring(r, buf, count, opts);
    case ALLREDUCE_TREE: return allreduce_tree(r, buf, count);
    case ALLREDUCE_RD: return allreduce_rd(r, buf, count);
    case ALLREDUCE_RABENSEIFNER: return allreduce_rabenseifner(r, buf, count);
    case ALLREDUCE_HIERARCHICAL: return allreduce_hierarchical(r, buf, count, opts);
    default: return rt_fail(r, RT_EINVAL, "allreduce: unknown algorithm %d (known: %s)",
                            (int)algo, allreduce_algo_list());
    }
}

int coll_ceil_log2(int p)
{
    int l = 0;
    while ((1 << l) < p)
        l++;
    return l;
}

int coll_pow2_floor(int p)
{
    int q = 1;
    while (q * 2 <= p)
        q *= 2;
    return q;
}

int coll_add(rt *r, float *dst, const float *src, size_t n)
{
    if (dst && src)
        for (size_t i = 0; i < n; i++)
            dst[i] += src[i];
    return rt_compute_as(r, RT_WORK_VECTOR, (double)n);
}

float *coll_pad(rt *r, float *buf, size_t count, size_t padded, int *rc)
{
    *rc = RT_OK;
    if (!buf || count == padded)
        return buf;
    float *work = calloc(padded, sizeof *work);
    if (!work) {
        *rc = rt_fail(r, RT_ENOMEM, "collective: cannot pad %zu floats to %zu", count, padded);
        return NULL;
    }
    memcpy(work, buf, count * sizeof *buf);
    return work;
}

void coll_unpad(float *work, float *buf, size_t count)
{
    if (work && work != buf) {
        memcpy(buf, work, count * sizeof *buf);
        free(work);
    }
}

size_t coll_block_offset(const size_t *counts, int j)
{
    size_t off = 0;
    for (int i = 0; i < j; i++)
        off += counts[i];
    return off;
}

int coll_member(const coll_opts *opts, int j)
{
    if (!opts || !opts->group_size)
        return j;
    return opts->group_first + j * (opts->group_stride > 0 ? opts->group_stride : 1);
}

int coll_group(rt *r, const coll_opts *opts, const char *what, int *p, int *me)
{
    int first = opts && opts->group_size ? opts->group_first : 0;
    int stride = opts && opts->group_size && opts->group_stride > 0 ? opts->group_stride : 1;
    *p = opts && opts->group_size ? opts->group_size : rt_size(r);
    int off = rt_rank(r) - first;
    *me = off >= 0 && off % stride == 0 ? off / stride : -1;
    if (first < 0 || *p < 1 || first + (long)(*p - 1) * stride >= rt_size(r) || *me < 0 || *me >= *p) {
        if (stride == 1)
            return rt_fail(r, RT_EINVAL, "%s: a group of %d ranks starting at %d is not within the "
                           "%d ranks, or leaves out rank %d", what, *p, first, rt_size(r), rt_rank(r));
        return rt_fail(r, RT_EINVAL, "%s: a group of %d ranks starting at %d, %d apart, is not within "
                       "the %d ranks, or leaves out rank %d", what, *p, first, stride, rt_size(r), rt_rank(r));
    }
    return RT_OK;
}

int barrier(rt *r) { return rt_barrier(r); }

double allreduce_cost_s(allreduce_algo algo, int p, size_t count, double a, double b,
                        double g_float)
{
    if (p <= 1 || count == 0)
        return 0;
    double n = 4.0 * (double)count, g = g_float / 4.0;
    int L = coll_ceil_log2(p), pp = coll_pow2_floor(p), Lp = coll_ceil_log2(pp);
    double fold = pp == p ? 0 : 2 * (a + n * b) + n * g;
    switch (algo) {
    case ALLREDUCE_RING: {
        double m = 4.0 * (double)((count + (size_t)p - 1) / (size_t)p);
        return 2.0 * (p - 1) * a + 2.0 * (p - 1) * m * b + (p - 1) * m * g;
    }
    case ALLREDUCE_TREE:
        return 2.0 * L * (a + n * b) + L * n * g;
    case ALLREDUCE_RD:
        return Lp * (a + n * b + n * g) + fold;
    case ALLREDUCE_RABENSEIFNER: {
        double m = 4.0 * (double)((count + (size_t)pp - 1) / (size_t)pp);
        return 2.0 * Lp * a + 2.0 * (pp - 1) * m * b + (pp - 1) * m * g + fold;
    }
    case ALLREDUCE_HIERARCHICAL: /* one rank per node: the ring among them */
        return allreduce_cost_s(ALLREDUCE_RING, p, count, a, b, g_float);
    default:
        return -1;
    }
}

allreduce_algo allreduce_algo_best(int p, size_t count, double a, double b, double g)
{
    allreduce_algo best = ALLREDUCE_RING;
    double best_s = allreduce_cost_s(ALLREDUCE_RING, p, count, a, b, g);
    for (int k = 1; k < ALLREDUCE_ALGOS; k++) {
        if (k == ALLREDUCE_HIERARCHICAL)
            continue;
        double t = allreduce_cost_s(k, p, count, a, b, g);
        if (t < best_s) {
            best_s = t;
            best = k;
        }
    }
    return best;
}
