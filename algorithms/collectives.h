/* collectives.h -- collective operations, built on point-to-point messages.
 *
 * Each algorithm lives in its own file whose header comment gives the
 * algorithm, its cost and its source:
 *
 *   allreduce_ring.c          reduce-scatter + allgather around a ring
 *   allreduce_tree.c          binomial-tree reduce, then binomial broadcast
 *   allreduce_rd.c            recursive doubling
 *   allreduce_rabenseifner.c  recursive halving + recursive doubling
 *   allreduce_hierarchical.c  reduce inside each node, ring among the
 *                             nodes' leaders, broadcast inside each node
 *   allreduce_slice.c         one slice of a vector, with the sums of the
 *                             whole vector's allreduce (buckets)
 *   byteps.c                  BytePS: push and pull through servers on the
 *                             workers and on k extra CPU machines
 *   bcast.c, reduce.c         binomial trees
 *   allgatherv.c              uneven blocks to everyone, direct exchange
 *   reduce_scatterv.c         uneven blocks summed at their owners, direct
 *
 * Costs use the alpha-beta-gamma model: a message of n bytes takes
 * alpha + n beta seconds, and adding n bytes of floats into another vector
 * takes n gamma (here gamma = 1 / (4 x host speed): one flop per 4-byte
 * element, charged with rt_compute). p is the number of ranks.
 *
 * The data are float32 vectors summed element-wise; every rank ends with
 * bit-identical results, because every sum is computed once, in one fixed
 * order, and then copied. A NULL buffer is allowed in size-only runs: the
 * messages keep their sizes and the flops are still charged. Every rank of
 * the job must call the same collectives in the same order (as in MPI).
 */
#ifndef DISTLAB_COLLECTIVES_H
#define DISTLAB_COLLECTIVES_H

#include <stddef.h>

#include "algorithms/runtime.h"

typedef enum allreduce_algo {
    ALLREDUCE_RING = 0,
    ALLREDUCE_TREE,
    ALLREDUCE_RD,
    ALLREDUCE_RABENSEIFNER,
    ALLREDUCE_HIERARCHICAL,
    ALLREDUCE_ALGOS
} allreduce_algo;

/* "ring", "tree", "rd", "rabenseifner", "hierarchical"; -1 for an
 * unknown name. */
int allreduce_algo_by_name(const char *name);
const char *allreduce_algo_name(allreduce_algo a);
/* The known names, comma-separated, for error messages. */
const char *allreduce_algo_list(void);

typedef struct coll_opts {
    /* Split each message above this many bytes into segments, so that the
     * reduction of one segment overlaps the transfer of the next (ring
     * only). 0: never split -- then the simulated time is exactly the cost
     * formula. */
    size_t segment_bytes;
    /* reduce_scatterv: do not charge its additions to simulated time. For
     * a caller whose own cost model leaves them out: DistBelief's model
     * parallelism has always charged only its layers' flops, and keeps its
     * simulated times by setting this. */
    int uncharged_adds;
    /* allgatherv, reduce_scatterv, the ring (allreduce_ring,
     * reduce_scatter_ring) and the binomial trees (bcast_group,
     * reduce_group): run among the group_size ranks group_first,
     * group_first + stride, ... only (one partitioned replica of several,
     * the leaders of nodes), stride = group_stride or 1 when 0;
     * group_size 0: among all ranks. */
    int group_first, group_size, group_stride;
    /* hierarchical: ranks per node, the ranks kG .. kG+G-1 sharing node k
     * (a generated GPU cluster places them so); 0 or 1: one per node. */
    int local_size;
} coll_opts;

/* Sum count floats over all ranks, in place, with the chosen algorithm.
 * opts may be NULL (no segmentation). */
int allreduce(rt *r, allreduce_algo algo, float *buf, size_t count, const coll_opts *opts);
int allreduce_ring(rt *r, float *buf, size_t count, const coll_opts *opts);
int allreduce_tree(rt *r, float *buf, size_t count);
int allreduce_rd(rt *r, float *buf, size_t count);
int allreduce_rabenseifner(rt *r, float *buf, size_t count);
int allreduce_hierarchical(rt *r, float *buf, size_t count, const coll_opts *opts);

/* Sum floats [first, first+count) of a total-float vector, in place in
 * buf (the slice itself, not the whole vector), adding each element in
 * the order allreduce(algo, whole vector) would, so a vector summed in
 * slices gets the same bits as summed whole (allreduce_slice.c: its cost
 * and why). */
int allreduce_slice(rt *r, allreduce_algo algo, float *buf, size_t first, size_t count,
                    size_t total, const coll_opts *opts);

/* buf holds p blocks of `block` floats. reduce-scatter: rank i ends with
 * block i summed over all ranks; allgather: every rank ends with every
 * rank's block i. Ring algorithms (allreduce_ring.c). */
int reduce_scatter_ring(rt *r, float *buf, size_t block, const coll_opts *opts);
int allgather_ring(rt *r, float *buf, size_t block);

/* Uneven blocks: buf holds p blocks one after another, block j of
 * counts[j] floats (zeros allowed) at coll_block_offset(counts, j); p is
 * the group's size (opts->group_*, else rt_size(r)), j a rank's place in
 * it, and counts the same on every rank of the group. allgatherv: block j
 * of rank j becomes everyone's (allgatherv.c). reduce_scatterv: rank j ends
 * with block j summed over the group, in rank order, the other blocks are
 * left as they were (reduce_scatterv.c). opts may be NULL. */
int allgatherv(rt *r, float *buf, const size_t *counts, const coll_opts *opts);
int reduce_scatterv(rt *r, float *buf, const size_t *counts, const coll_opts *opts);

/* Binomial trees (bcast.c, reduce.c): root's buf to everyone; the sum of
 * everyone's buf at root (other ranks' buffers are used as scratch). */
int bcast(rt *r, float *buf, size_t count, int root);
int reduce(rt *r, float *buf, size_t count, int root);
/* The same among the ranks of opts' group, root being a place in it. */
int bcast_group(rt *r, float *buf, size_t count, int root, const coll_opts *opts);
int reduce_group(rt *r, float *buf, size_t count, int root, const coll_opts *opts);

/* BytePS (byteps.c): ranks 0..workers-1 sum count floats of buf through
 * servers colocated with them and on the ranks workers..p-1 (CPU machines,
 * whose buf is unused), each block in `chunks` pipelined pieces. */
int byteps_allreduce(rt *r, float *buf, size_t count, int workers, int chunks);
/* The same on machines of G GPUs (ranks kG..kG+G-1 share machine k;
 * workers a multiple of G): summed inside each machine, pushed and pulled
 * once per machine, handed back inside it (byteps.c). */
int byteps_allreduce_nodes(rt *r, float *buf, size_t count, int workers, int G, int chunks);
/* The paper's communication time for n workers, k CPU servers, links of
 * 1/beta bytes per second: 2 n (n-1) M beta / (n^2 + kn - 2k), M = 4 count
 * (for k > n: M beta, a worker's NIC being the bottleneck). */
double byteps_cost_s(int n, int k, size_t count, double beta_s_per_byte);
/* Each server's share of count floats: len[0..n) colocated, len[n..n+k)
 * the CPU servers'. */
void byteps_partition(int n, int k, size_t count, size_t *len);

/* Every rank waits for every other (the runtime's dissemination barrier:
 * ceil(log2 p) rounds of one-byte messages). */
int barrier(rt *r);

/* Closed-form cost in seconds of each allreduce without segmentation,
 * for the simulated ideal network: alpha_s per message, beta_s_per_byte,
 * gamma_s_per_float per element added. Exactly what the simulator gives. */
double allreduce_cost_s(allreduce_algo algo, int p, size_t count, double alpha_s,
                        double beta_s_per_byte, double gamma_s_per_float);

/* The hierarchical allreduce's cost (allreduce_hierarchical.c) with G
 * ranks per node: alpha_i, beta_i between ranks of one node, alpha_o,
 * beta_o between nodes. With G = 1 it is the ring's. */
double allreduce_hierarchical_cost_s(int p, int G, size_t count, double alpha_i_s,
                                     double beta_i_s_per_byte, double alpha_o_s,
                                     double beta_o_s_per_byte, double gamma_s_per_float);

/* The same for the uneven-count collectives (their header comments):
 * alpha + (p-1) c_max beta, and that plus (p-1) c_max gamma, with c_max
 * the largest count; 0 when p = 1 or every count is 0. */
double allgatherv_cost_s(int p, const size_t *counts, double alpha_s, double beta_s_per_byte);
double reduce_scatterv_cost_s(int p, const size_t *counts, double alpha_s, double beta_s_per_byte,
                              double gamma_s_per_float);

/* The algorithm the model above predicts fastest for p ranks and count
 * floats (ties go to the earlier of ring, tree, rd, rabenseifner;
 * hierarchical, which needs two networks, is never picked): what
 * `--algo auto` picks, as an MPI library picks by message size. */
allreduce_algo allreduce_algo_best(int p, size_t count, double alpha_s, double beta_s_per_byte,
                                   double gamma_s_per_float);

/* Tags reserved for collectives: user code should stay below this. */
#define COLL_TAG_BASE (RT_TAG_MAX - 255)

/* ---- helpers shared by the algorithm files ---- */

/* The group opts names (all ranks when opts is NULL or group_size 0):
 * its size in *p, this rank's place in it in *me; RT_EINVAL, with a
 * message naming `what`, when the group is out of range or lacks this rank. */
int coll_group(rt *r, const coll_opts *opts, const char *what, int *p, int *me);
/* The rank at place j of opts' group. */
int coll_member(const coll_opts *opts, int j);
/* Where block j starts, in floats: counts[0] + ... + counts[j-1]. */
size_t coll_block_offset(const size_t *counts, int j);

/* dst[i] += src[i] for n floats, charging n flops; a NULL vector (size-only
 * run) skips the math but not the charge. */
int coll_add(rt *r, float *dst, const float *src, size_t n);
/* Work on a vector padded with zeros to `padded` floats: buf itself when
 * count == padded, else a copy (NULL with *rc = RT_ENOMEM if that fails;
 * NULL with RT_OK when buf is NULL). coll_unpad copies the first count
 * floats back into buf and frees the copy. */
float *coll_pad(rt *r, float *buf, size_t count, size_t padded, int *rc);
void coll_unpad(float *work, float *buf, size_t count);
/* Recursive doubling and halving need a power of two p' of ranks. When p
 * is not one, the first 2(p - p') ranks pair up and the even one of each
 * pair folds its vector into the odd one (coll_fold_in: alpha + n beta +
 * n gamma); the remaining p' ranks do the work, with ranks renumbered
 * 0..p'-1 (*newrank, or -1 for a rank that sits out), and the odd ranks
 * hand the result back (coll_fold_out: alpha + n beta). (allreduce_rd.c) */
int coll_fold_in(rt *r, float *buf, size_t count, int tag, int *newrank);
int coll_fold_out(rt *r, float *buf, size_t count, int tag);
/* The real rank of a renumbered one. */
int coll_fold_rank(rt *r, int newrank);
/* ceil(log2 p) and the largest power of two <= p. */
int coll_ceil_log2(int p);
int coll_pow2_floor(int p);

#endif
