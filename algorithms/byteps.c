/* byteps.c -- BytePS: allreduce through a summation service on k spare CPU
 * machines beside servers colocated with the n GPU workers.
 *
 * A ring allreduce uses only the GPU machines' NICs; a cluster often has
 * CPU machines whose NICs sit idle. BytePS cuts the vector of M bytes into
 * blocks, one per server: each worker's machine runs a server for a block
 * of x M bytes, each of the k CPU machines one for y M bytes (n x + k y = 1).
 * Every worker pushes each block to its server and pulls the block's sum
 * back. Per direction, a GPU machine's NIC carries k y M + (n-1) x M of its
 * worker's pushes (or pulls) and (n-1) x M of its server's pulls (or pushes),
 * a CPU machine's n y M. Making the two equal gives
 *
 *   x = (n-k) / (n^2 + kn - 2k),   y = 2(n-1) x / (n-k)
 *
 * Time = 2 n (n-1) M / ((n^2 + kn - 2k) B)       (Jiang et al., section 3.1)
 *
 * which is the ring's bandwidth term 2(n-1)/n M/B at k = 0 and M/B -- a
 * parameter server on n separate machines -- at k = n (then x = 0). For
 * k > n the colocated servers hold nothing and the CPU servers share M
 * evenly; each worker's NIC still carries M each way: M/B, no better.
 *
 * The formula needs pushes and pulls on the wire at once, so every block
 * moves in `chunks` pieces, as BytePS partitions tensors (4 MB pieces):
 * a worker pushes piece t+1 of a block once its piece t is through, and a
 * server sums piece t and sends it back as soon as all n pushes of it
 * have arrived, while later pieces are pushed. The pipeline's filling
 * and draining add about one piece's time, so the simulated time lies
 * between the formula and the formula x (1 + 2/chunks) plus the message
 * latencies (tests/test_collectives.c). Latency (2 chunks alpha at least)
 * and the servers' additions (charged as compute: n y M / 4 flops on a
 * CPU machine) are left out of the formula, as in the paper.
 *
 * Every worker ends with the same bits: each block is summed once, by its
 * server, in worker order, and copied. Ranks 0..n-1 are the workers (buf),
 * ranks n..p-1 the CPU servers (buf unused, may be NULL).
 *
 * Machines of G GPUs (byteps_allreduce_nodes; sections 4 and 5 of the
 * paper): the GPUs of a machine first sum inside it over their fast links
 * (PCIe or NVLink), then the machine pushes and pulls once, as one worker
 * of the scheme above with n the number of machines, then its sum goes
 * back to its GPUs. Here the machine's sum is a binomial tree to its first
 * GPU and back (reduce.c, bcast.c), as in allreduce_hierarchical.c; BytePS
 * itself reduce-scatters inside the machine and copies through host
 * memory, which moves less over PCIe but the same across the NIC, the
 * term above. With L = ceil(log2 G), n = 4 count bytes, alpha_i and beta_i
 * the links inside a machine:
 *
 *   Time = L (alpha_i + n beta_i + n gamma)      [sum inside the machine]
 *        + [the scheme above among the machines and the k CPU servers]
 *        + L (alpha_i + n beta_i)                [back to the machine's GPUs]
 *
 * Source: Jiang, Zhu, Lan, Yi, Cui & Guo, "A Unified Architecture for
 * Accelerating Distributed DNN Training in Heterogeneous GPU/CPU
 * Clusters" (BytePS), OSDI 2020.
 */
#include <stdlib.h>
#include <string.h>

#include "algorithms/collectives.h"

enum { TAG_PUSH = COLL_TAG_BASE + 20, TAG_PULL = COLL_TAG_BASE + 21 };

/* Block s's share of count floats: x for colocated, y for CPU servers;
 * the last server with anything takes the rounding. */
void byteps_partition(int n, int k, size_t count, size_t *len)
{
    double x, y;
    if (k == 0) {
        x = 1.0 / n;
        y = 0;
    } else if (k >= n) {
        x = 0;
        y = 1.0 / k;
    } else {
        x = (double)(n - k) / ((double)n * n + (double)k * n - 2.0 * k);
        y = 2.0 * (n - 1) * x / (n - k);
    }
    size_t used = 0;
    int last = k > 0 ? n + k - 1 : n - 1;
    for (int s = 0; s < n + k; s++) {
        len[s] = s == last ? 0 : (size_t)((s < n ? x : y) * (double)count);
        used += len[s];
    }
    len[last] = count - used;
}

double byteps_cost_s(int n, int k, size_t count, double beta_s_per_byte)
{
    double M = 4.0 * (double)count;
    if (n <= 1 && k == 0)
        return 0;
    if (k > n) /* the workers' NICs carry M each way, whatever k */
        return M * beta_s_per_byte;
    return 2.0 * n * (n - 1) * M / ((double)n * n + (double)k * n - 2.0 * k) * beta_s_per_byte;
}

/* Piece t of a block of len floats, `chunks` pieces. */
static void piece(size_t len, int chunks, int t, size_t *off, size_t *n)
{
    size_t base = len / (size_t)chunks;
    *off = base * (size_t)t;
    *n = t == chunks - 1 ? len - *off : base;
}

typedef struct bps {
    rt *r;
    int n, k, me, chunks; /* me: a place, 0..n+k-1 */
    int G;                /* a place's rank: rank_of() */
    size_t *len, *off;   /* per server */
    float *buf;
    /* server side (my block): pushes land in in[w], summed into sum */
    float *in, *sum;
    int *arrived;        /* per piece: pushes in */
    rt_request **reqs;   /* four regions, see at() */
    size_t nreq;
} bps;

/* reqs holds four regions of chunks x (n + k) entries: [region][piece][peer]. */
enum { R_PUSH_OUT, R_PULL_IN, R_PUSH_IN, R_PULL_OUT, R_REGIONS };

static size_t at(const bps *b, int region, int t, int peer)
{
    return ((size_t)region * (size_t)b->chunks + (size_t)t) * (size_t)(b->n + b->k) + (size_t)peer;
}

static float *part(float *v, size_t off) { return v ? v + off : NULL; }

/* Places 0..n-1 are the machines, each its first GPU's rank; n..n+k-1 the
 * CPU servers, the ranks after the GPUs. */
static int rank_of(const bps *b, int s) { return s < b->n ? s * b->G : b->n * b->G + (s - b->n); }

/* Worker: push the first piece from t on of server s's block that has
 * anything (none past the last). Each server's pieces go one after
 * another, as soon as the previous one is through. */
static int push_from(bps *b, int t, int s)
{
    for (; t < b->chunks; t++) {
        size_t o, m;
        piece(b->len[s], b->chunks, t, &o, &m);
        if (m)
            return rt_isend(b->r, rank_of(b, s), TAG_PUSH, part(b->buf, b->off[s] + o), m * sizeof(float),
                            &b->reqs[at(b, R_PUSH_OUT, t, s)]);
    }
    return RT_OK;
}

/* Server: all of piece t is in: sum in worker order, send it back. */
static int serve_piece(bps *b, int t)
{
    size_t o, m, L = b->len[b->me];
    piece(L, b->chunks, t, &o, &m);
    float *acc = part(b->sum, o);
    int rc = RT_OK;
    for (int w = 0; w < b->n && !rc; w++) {
        const float *src = w == b->me ? part(b->buf, b->off[b->me] + o) : part(b->in, (size_t)w * L + o);
        if (w == 0) {
            if (acc && src)
                memcpy(acc, src, m * sizeof(float));
        } else {
            rc = coll_add(b->r, acc, src, m);
        }
    }
    for (int w = 0; w < b->n && !rc; w++)
        if (w != b->me)
            rc = rt_isend(b->r, rank_of(b, w), TAG_PULL, acc, m * sizeof(float), &b->reqs[at(b, R_PULL_OUT, t, w)]);
    if (!rc && b->me < b->n && b->buf && acc)
        memcpy(b->buf + b->off[b->me] + o, acc, m * sizeof(float));
    return rc;
}

/* The scheme among n places (machines, by their first GPU) and k CPU
 * servers; me is a place. */
static int byteps_places(rt *r, float *buf, size_t count, int n, int k, int G, int me, int chunks)
{
    bps b = {.r = r, .n = n, .k = k, .G = G, .me = me, .chunks = chunks, .buf = me < n ? buf : NULL};
    int S = b.n + b.k, rc = RT_OK;
    if (count == 0 || (b.n == 1 && b.k == 0))
        return RT_OK;
    b.len = calloc((size_t)S, sizeof *b.len);
    b.off = calloc((size_t)S, sizeof *b.off);
    b.arrived = calloc((size_t)chunks, sizeof *b.arrived);
    if (!b.len || !b.off || !b.arrived) {
        rc = rt_fail(r, RT_ENOMEM, "byteps: no memory for %d servers", S);
        goto done;
    }
    byteps_partition(b.n, b.k, count, b.len);
    for (int s = 1; s < S; s++)
        b.off[s] = b.off[s - 1] + b.len[s - 1];
    b.nreq = at(&b, R_REGIONS, 0, 0);
    b.reqs = calloc(b.nreq, sizeof *b.reqs);
    if (!b.reqs) {
        rc = rt_fail(r, RT_ENOMEM, "byteps: no memory for %zu requests", b.nreq);
        goto done;
    }
    size_t L = b.len[me];
    /* a CPU server sums whatever the workers send; a worker without a
     * buffer sends sizes only */
    int with_data = !rt_size_only(r) && (me >= b.n || buf != NULL);
    if (with_data && L) {
        b.in = malloc((size_t)b.n * L * sizeof *b.in);
        b.sum = malloc(L * sizeof *b.sum);
        if (!b.in || !b.sum) {
            rc = rt_fail(r, RT_ENOMEM, "byteps: no memory for a %zu-float block", L);
            goto done;
        }
    }
    /* ---- post every receive: pushes to my block, pulls of the others ---- */
    int pieces_left = 0, pulls_left = 0;
    for (int t = 0; t < chunks && !rc; t++) {
        size_t o, m;
        piece(L, chunks, t, &o, &m);
        if (m) {
            pieces_left++;
            for (int w = 0; w < b.n && !rc; w++)
                if (w != me)
                    rc = rt_irecv(r, rank_of(&b, w), TAG_PUSH, part(b.in, (size_t)w * L + o), m * sizeof(float),
                                  &b.reqs[at(&b, R_PUSH_IN, t, w)]);
        }
        for (int s = 0; s < S && !rc && me < b.n; s++) {
            piece(b.len[s], chunks, t, &o, &m);
            if (s != me && m) {
                rc = rt_irecv(r, rank_of(&b, s), TAG_PULL, part(b.buf, b.off[s] + o), m * sizeof(float),
                              &b.reqs[at(&b, R_PULL_IN, t, s)]);
                pulls_left++;
            }
        }
    }
    /* a piece with no one else to hear from is summed at once */
    int expect = me < b.n ? b.n - 1 : b.n;
    for (int t = 0; t < chunks && !rc && expect == 0; t++) {
        size_t o, m;
        piece(L, chunks, t, &o, &m);
        if (m) {
            rc = serve_piece(&b, t);
            pieces_left--;
        }
    }
    /* ---- the pipeline: to each server piece after piece; sums as pieces complete ---- */
    int pushes_left = 0;
    for (int s = 0; s < S && !rc && me < b.n; s++) {
        if (s == me)
            continue;
        for (int t = 0; t < chunks; t++) {
            size_t o, m;
            piece(b.len[s], chunks, t, &o, &m);
            pushes_left += m > 0;
        }
        rc = push_from(&b, 0, s);
    }
    while (!rc && (pieces_left > 0 || pulls_left > 0 || pushes_left > 0)) {
        int idx;
        rc = rt_waitany(r, (int)b.nreq, b.reqs, &idx, NULL);
        if (!rc && idx < 0)
            rc = rt_fail(r, RT_EIO, "nothing left to wait for with %d pieces and %d pulls to go",
                         pieces_left, pulls_left);
        if (rc)
            break;
        int region = idx / (chunks * S), t = idx / S % chunks, peer = idx % S;
        if (region == R_PUSH_OUT) {
            pushes_left--;
            rc = push_from(&b, t + 1, peer);
        } else if (region == R_PULL_IN) {
            pulls_left--;
        } else if (region == R_PUSH_IN && ++b.arrived[t] == expect) {
            rc = serve_piece(&b, t);
            pieces_left--;
        }
    }
    /* the sums' sends still on the wire */
    int rc2 = rt_waitall(r, (int)b.nreq, b.reqs, NULL);
    rc = rc ? rc : rc2;
done:
    free(b.len);
    free(b.off);
    free(b.arrived);
    free(b.reqs);
    free(b.in);
    free(b.sum);
    return rc;
}

int byteps_allreduce_nodes(rt *r, float *buf, size_t count, int workers, int G, int chunks)
{
    int p = rt_size(r), me = rt_rank(r);
    if (G < 1)
        G = 1;
    if (workers < 1 || workers > p || chunks < 1 || workers % G)
        return rt_fail(r, RT_EINVAL, "byteps: %d workers of %d ranks, machines of %d GPUs, %d pieces: "
                       "need 1..%d workers in whole machines and at least one piece", workers, p, G,
                       chunks, p);
    int n = workers / G, node = me / G, rc = RT_OK;
    coll_opts local = {.group_first = node * G, .group_size = G};
    /* ---- the machine's sum at its first GPU ---- */
    if (me < workers && G > 1 && count)
        rc = reduce_group(r, buf, count, 0, &local);
    /* ---- one push and pull per machine through the servers ---- */
    if (!rc && (me >= workers || me % G == 0))
        rc = byteps_places(r, buf, count, n, p - workers, G, me < workers ? node : n + me - workers,
                           chunks);
    /* ---- the sum back to the machine's GPUs ---- */
    if (!rc && me < workers && G > 1 && count)
        rc = bcast_group(r, buf, count, 0, &local);
    return rc ? rt_fail(r, rc, "byteps: %s", rt_error(r)) : RT_OK;
}

int byteps_allreduce(rt *r, float *buf, size_t count, int workers, int chunks)
{
    return byteps_allreduce_nodes(r, buf, count, workers, 1, chunks);
}
