/* ray_allreduce.c -- a ring allreduce made of actors, as in the Ray
 * paper's allreduce experiment (Moritz et al., OSDI 2018, section 5.2)
 * and Ray's collective examples.
 *
 * Each of p RingMember actors holds a vector of n floats cut into p
 * chunks. The driver wires the ring with futures alone, as
 * allreduce_ring.c does with messages:
 *
 *   reduce-scatter, step s = 0..p-2, every member i at once:
 *       c = member[i].get_chunk((i - s) mod p)
 *       member[i+1].add_chunk((i - s) mod p, c)     (c resolved first)
 *   allgather, step s = 0..p-2:
 *       c = member[i].get_chunk((i + 1 - s) mod p)
 *       member[i+1].set_chunk((i + 1 - s) mod p, c)
 *
 * No driver call waits: an actor runs its calls in the order the driver
 * submitted them, so member i's get_chunk of step s runs after its
 * add_chunk of step s-1, the one that brought it that chunk. A chunk
 * larger than the inline threshold stays in member i's store and member
 * i+1 fetches it from there (one transfer between neighbours, as the
 * message ring does). A smaller one travels inline to its owner, the
 * driver, and from the driver to member i+1: two hops through node 0.
 *
 * Cost: the message ring's 2(p-1) alpha + 2 (p-1)/p n beta + (p-1)/p n
 * gamma, plus, for each of the 2(p-1) steps, the task overheads of two
 * calls and the control messages of a call chain: get_chunk's RESULT
 * to the owner, the RESOLVE/VALUE exchange of the next member, and a
 * FETCH round trip before the body moves.
 *
 * Timing only: a member built with size_only holds no vector. Its chunks
 * are size-only objects (ray.h: a NULL value), which cost their size on
 * the wire as data would, and its sums are charged, not done, as the
 * message ring's are with a NULL buffer. So the paper's 100 MB and 1 GB
 * on 16 nodes take no memory, and take the simulated time they would
 * with data (tests/test_ray.c: ring_size_only_sim).
 */
#include "algorithms/ray_allreduce.h"

#include <stdlib.h>
#include <string.h>

#include "algorithms/collectives.h"

typedef struct member {
    float *v;           /* NULL: timing only, chunks are size-only objects */
    size_t n;
    int i, p;
} member;

static void chunk_range(const member *m, int k, size_t *off, size_t *len)
{
    size_t lo = (size_t)k * m->n / (size_t)m->p, hi = (size_t)(k + 1) * m->n / (size_t)m->p;
    *off = lo;
    *len = hi - lo;
}

static int member_init(ray *ry, void *state, int nargs, const ray_arg *a)
{
    member *m = state;
    int size_only;
    if (nargs != 4 || a[0].bytes != sizeof(int) || a[1].bytes != sizeof(int) ||
        a[2].bytes != sizeof(size_t) || a[3].bytes != sizeof(int))
        return ray_raise(ry, "RingMember(index, members, floats, size_only): wrong arguments");
    memcpy(&m->i, a[0].data, sizeof m->i);
    memcpy(&m->p, a[1].data, sizeof m->p);
    memcpy(&m->n, a[2].data, sizeof m->n);
    memcpy(&size_only, a[3].data, sizeof size_only);
    if (m->p < 1 || m->i < 0 || m->i >= m->p)
        return ray_raise(ry, "RingMember: index %d of %d members", m->i, m->p);
    if (size_only)
        return RT_OK;
    m->v = malloc((m->n ? m->n : 1) * sizeof *m->v);
    if (!m->v)
        return ray_raise(ry, "RingMember: no memory for %zu floats", m->n);
    for (size_t j = 0; j < m->n; j++)
        m->v[j] = (float)((m->i + (int)(j % 7)) % 7);
    return RT_OK;
}

static void member_fini(void *state)
{
    free(((member *)state)->v);
}

static int chunk_arg(ray *ry, const member *m, const ray_arg *a, size_t *off, size_t *len)
{
    int k;
    *off = *len = 0;
    if (a[0].bytes != sizeof k)
        return ray_raise(ry, "a chunk index of %zu bytes", a[0].bytes);
    memcpy(&k, a[0].data, sizeof k);
    if (k < 0 || k >= m->p)
        return ray_raise(ry, "chunk %d of %d", k, m->p);
    chunk_range(m, k, off, len);
    return RT_OK;
}

static int get_chunk(ray *ry, void *state, int nargs, const ray_arg *a)
{
    (void)nargs;
    member *m = state;
    size_t off, len;
    int rc = chunk_arg(ry, m, a, &off, &len);
    return rc ? rc : ray_return(ry, m->v ? m->v + off : NULL, len * sizeof(float));
}

/* add_chunk(k, data) and set_chunk(k, data) */
static int put_chunk(ray *ry, member *m, int nargs, const ray_arg *a, int add)
{
    size_t off, len;
    int rc = nargs == 2 ? chunk_arg(ry, m, a, &off, &len) : ray_raise(ry, "two arguments");
    if (rc)
        return rc;
    if (a[1].bytes != len * sizeof(float))
        return ray_raise(ry, "a chunk of %zu bytes, not %zu", a[1].bytes, len * sizeof(float));
    if (add) /* charged as the message ring charges its sums */
        return coll_add(ray_rt(ry), m->v ? m->v + off : NULL, a[1].data, len);
    if (m->v && a[1].data)
        memcpy(m->v + off, a[1].data, len * sizeof(float));
    return RT_OK;
}

static int add_chunk(ray *ry, void *state, int nargs, const ray_arg *a)
{
    return put_chunk(ry, state, nargs, a, 1);
}

static int set_chunk(ray *ry, void *state, int nargs, const ray_arg *a)
{
    return put_chunk(ry, state, nargs, a, 0);
}

/* check(): how many elements are not the sum over the p members (none
 * when there is no vector) */
static int check(ray *ry, void *state, int nargs, const ray_arg *a)
{
    (void)nargs;
    (void)a;
    member *m = state;
    float want[7] = {0};
    for (int r = 0; r < 7; r++)
        for (int q = 0; q < m->p; q++)
            want[r] += (float)((q + r) % 7);
    double wrong = 0;
    for (size_t j = 0; m->v && j < m->n; j++)
        wrong += m->v[j] != want[j % 7];
    return ray_return(ry, &wrong, sizeof wrong);
}

static const ray_method member_methods[] = {
    {"get_chunk", get_chunk}, {"add_chunk", add_chunk}, {"set_chunk", set_chunk}, {"check", check}};

const ray_class ray_ring_member_class = {"RingMember", sizeof(member), member_init, member_fini,
                                         member_methods, 4};

/* One step of either phase: every member passes a chunk to the next.
 * All the step's get_chunk calls go first: member i must give its chunk
 * away before it takes in its neighbour's, or the step would run round
 * the ring one member after another. */
static int ring_step(ray *ry, const ray_actor *m, ray_ref *c, int p, int s, int gather,
                     ray_ref *keep)
{
    int rc = RT_OK;
    for (int i = 0; i < p && !rc; i++) {
        int k = ((i + gather - s) % p + p) % p;
        rc = ray_call(ry, m[i], "get_chunk", 1, (ray_in[]){ray_val(&k, sizeof k)}, &c[i]);
    }
    for (int i = 0; i < p && !rc; i++) {
        int k = ((i + gather - s) % p + p) % p;
        ray_ref done;
        rc = ray_call(ry, m[(i + 1) % p], gather ? "set_chunk" : "add_chunk", 2,
                      (ray_in[]){ray_val(&k, sizeof k), ray_fut(c[i])}, &done);
        if (keep && !rc)
            keep[(i + 1) % p] = done;
        else if (!rc)
            ray_release(ry, done); /* its order is the actor's, not ours */
    }
    for (int i = 0; i < p; i++)
        if (c[i])
            ray_release(ry, c[i]); /* the call holds it until it has run */
    memset(c, 0, (size_t)p * sizeof *c);
    return rc;
}

int ray_ring_allreduce(ray *ry, const ray_actor *m, int p)
{
    ray_ref *last = calloc((size_t)p, sizeof *last), *c = calloc((size_t)p, sizeof *c);
    if (!last || !c) {
        free(last);
        free(c);
        return rt_fail(ray_rt(ry), RT_ENOMEM, "ring allreduce: out of memory");
    }
    int rc = RT_OK;
    /* ---- phase 1: reduce-scatter ---- */
    for (int s = 0; s < p - 1 && !rc; s++)
        rc = ring_step(ry, m, c, p, s, 0, NULL);
    /* ---- phase 2: allgather ---- */
    for (int s = 0; s < p - 1 && !rc; s++)
        rc = ring_step(ry, m, c, p, s, 1, s == p - 2 ? last : NULL);
    /* every member's last call is one of the last step's */
    int nready;
    if (!rc && p > 1)
        rc = ray_wait(ry, p, last, p, -1, NULL, &nready);
    for (int i = 0; i < p; i++)
        if (last[i])
            ray_release(ry, last[i]);
    free(last);
    free(c);
    return rc;
}

int ray_ring_check(ray *ry, const ray_actor *m, int p, double *wrong)
{
    *wrong = 0;
    int rc = RT_OK;
    for (int i = 0; i < p && !rc; i++) {
        ray_ref w;
        const void *d;
        size_t b;
        if (!(rc = ray_call(ry, m[i], "check", 0, NULL, &w)) && !(rc = ray_get(ry, w, &d, &b))) {
            double x;
            memcpy(&x, d, sizeof x);
            *wrong += x;
        }
        ray_release(ry, w);
    }
    return rc;
}
