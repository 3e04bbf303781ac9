/* coll_pieces.c -- the pieces a 2-rank 4 MiB allreduce is made of, timed
 * on real sockets or charged by a simulation, side by side.
 *
 *   build/bench/coll_pieces --backend real              the real pieces
 *   build/bench/coll_pieces --calibration c.json        what the simulator charges
 *
 * At 2 ranks the four allreduces of `distlab validate` are nearly the same
 * traffic: recursive doubling is one 4 MiB exchange both ways and an add
 * of 1 Mi floats; the ring and Rabenseifner two 2 MiB exchanges and an add
 * of half that; the tree a one-way 4 MiB transfer, the add, and the
 * transfer back. When a calibrated simulation misses one of them, timing
 * the pieces says which piece it misses: one-way transfers (half a
 * pingpong) and exchanges at 1, 2 and 4 MiB, the adds at 256 Ki to 1 Mi
 * floats, then the whole allreduces and two compositions. Each piece runs
 * twice untimed, then 30 times, each time after a fresh fill of the vector
 * and a barrier, as `distlab collective` times them; printed: the median
 * of each rank's 30, and rank 0's quartiles. Simulated times are exact,
 * so the simulated quartiles equal the median.
 *
 * The job options are distlab's (cli.h): --backend, --calibration, --spin
 * and the rest; always 2 ranks.
 *
 * The adds are comparable with a calibration only where coll_add's loop
 * lies as it lies in build/distlab: the loop is scalar, and where the
 * linker puts it decides its speed (this project's 2-core EPYC VM: 1.8
 * Gflop/s when its 24 bytes cross a 64-byte line, as in distlab at
 * 4a99653 and 7a9f2db, 3.4 when they do not). The first line says where
 * this binary's coll_add starts, mod 64; compare `nm build/distlab | grep
 * coll_add`.
 */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algorithms/collectives.h"
#include "cli/cli.h"

#define PIECE_RUNS 30
#define PIECE_WARM 2
#define MIB (1u << 20)
#define VEC_FLOATS (MIB)          /* the 4 MiB allreduce's vector */

enum { TAG_PIECE = 1 };

typedef enum {
    ONEWAY,    /* half a pingpong of `bytes` */
    EXCHANGE,  /* rt_sendrecv of `bytes` each way */
    ADD,       /* coll_add of bytes / 4 floats on both ranks at once */
    ALLREDUCE, /* the whole collective on the 4 MiB vector */
    REDUCE,    /* rank 1 sends 4 MiB, rank 0 adds it: the tree's first half */
    RD_BY_HAND /* an exchange of 4 MiB, then the add */
} piece_kind;

typedef struct piece {
    const char *name;
    piece_kind kind;
    size_t bytes;
    allreduce_algo algo;
    size_t segment_bytes;
} piece;

static const piece pieces[] = {
    {"oneway 1MiB", ONEWAY, 1 * MIB, 0, 0},
    {"oneway 2MiB", ONEWAY, 2 * MIB, 0, 0},
    {"oneway 4MiB", ONEWAY, 4 * MIB, 0, 0},
    {"exchange 1MiB", EXCHANGE, 1 * MIB, 0, 0},
    {"exchange 2MiB", EXCHANGE, 2 * MIB, 0, 0},
    {"exchange 4MiB", EXCHANGE, 4 * MIB, 0, 0},
    {"add 256Ki floats", ADD, 1 * MIB, 0, 0},
    {"add 512Ki floats", ADD, 2 * MIB, 0, 0},
    {"add 1Mi floats", ADD, 4 * MIB, 0, 0},
    {"ring", ALLREDUCE, 4 * MIB, ALLREDUCE_RING, 0},
    {"ring in 1MiB segments", ALLREDUCE, 4 * MIB, ALLREDUCE_RING, MIB},
    {"recursive doubling", ALLREDUCE, 4 * MIB, ALLREDUCE_RD, 0},
    {"tree", ALLREDUCE, 4 * MIB, ALLREDUCE_TREE, 0},
    {"rabenseifner", ALLREDUCE, 4 * MIB, ALLREDUCE_RABENSEIFNER, 0},
    {"exchange 4MiB + add", RD_BY_HAND, 4 * MIB, 0, 0},
    {"oneway 4MiB + add", REDUCE, 4 * MIB, 0, 0},
};
#define NPIECES (int)(sizeof pieces / sizeof *pieces)

typedef struct piece_slot {
    double seconds[NPIECES][PIECE_RUNS];
} piece_slot;

static void fill(float *v, size_t n, int rank)
{
    for (size_t i = 0; i < n; i++)
        v[i] = (float)((rank + 1) * (int)(i % 5 + 1));
}

/* One run of piece p; *seconds is this rank's time for it. */
static int run_piece(rt *r, const piece *p, float *vec, float *in, double *seconds)
{
    int me = rt_rank(r), other = 1 - me, rc;
    size_t n = p->bytes;
    coll_opts opts = {.segment_bytes = p->segment_bytes};
    fill(vec, VEC_FLOATS, me);
    if ((rc = barrier(r)) != RT_OK)
        return rc;
    double t0 = rt_now(r), scale = 1;
    switch (p->kind) {
    case ONEWAY:
        scale = 0.5; /* a round trip, from rank 0's side */
        if (me == 0 && !(rc = rt_send(r, other, TAG_PIECE, vec, n)))
            rc = rt_recv(r, other, TAG_PIECE, in, n, NULL);
        else if (me == 1 && !(rc = rt_recv(r, other, TAG_PIECE, in, n, NULL)))
            rc = rt_send(r, other, TAG_PIECE, vec, n);
        break;
    case EXCHANGE:
        rc = rt_sendrecv(r, other, TAG_PIECE, vec, n, other, TAG_PIECE, in, n, NULL);
        break;
    case ADD:
        rc = coll_add(r, vec, in, n / sizeof(float));
        break;
    case ALLREDUCE:
        rc = allreduce(r, p->algo, vec, n / sizeof(float), &opts);
        break;
    case RD_BY_HAND:
        if (!(rc = rt_sendrecv(r, other, TAG_PIECE, vec, n, other, TAG_PIECE, in, n, NULL)))
            rc = coll_add(r, vec, in, n / sizeof(float));
        break;
    case REDUCE:
        if (me == 1)
            rc = rt_send(r, 0, TAG_PIECE, vec, n);
        else if (!(rc = rt_recv(r, 1, TAG_PIECE, in, n, NULL)))
            rc = coll_add(r, vec, in, n / sizeof(float));
        if (!rc)
            rc = barrier(r); /* rank 1 waits for the add, as in the tree */
        break;
    }
    *seconds = scale * (rt_now(r) - t0);
    return rc;
}

static int pieces_rank(rt *r, void *arg)
{
    (void)arg;
    piece_slot *slot = job_slot(r);
    /* owned here: the vector and the receive buffer, 4 MiB each */
    float *vec = malloc(4 * MIB), *in = calloc(1, 4 * MIB);
    int rc = vec && in ? RT_OK : rt_fail(r, RT_ENOMEM, "coll_pieces: no memory for the vectors");
    for (int p = 0; p < NPIECES && !rc; p++)
        for (int k = -PIECE_WARM; k < PIECE_RUNS && !rc; k++) {
            double s = 0;
            rc = run_piece(r, &pieces[p], vec, in, &s);
            if (k >= 0)
                slot->seconds[p][k] = s;
        }
    free(vec);
    free(in);
    return rc;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    /* as distlab's main: large vectors stay in the heap */
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    static const cli_opt opts[] = {{NULL, NULL, NULL}};
    cli_args a;
    int code;
    if (cli_parse(argc, argv, "coll_pieces [job options]", opts, 1, &a, &code))
        return code;
    if (a.npos) {
        fprintf(stderr, "coll_pieces: unexpected argument '%s'\n", a.pos[0]);
        return 2;
    }
    job_config cfg = job_config_default();
    sim_config sim = sim_config_default();
    real_config real = real_config_default();
    cfg.ranks = 2;
    if (cli_job_config(&a, "coll_pieces", &cfg, &sim, &real))
        return 2;
    cfg.result_bytes = sizeof(piece_slot);
    cfg.record_events = 0;
    job_result res;
    if (job_run(&cfg, pieces_rank, NULL, &res) != 0) {
        fprintf(stderr, "coll_pieces: %s\n", res.error);
        int status = cli_job_status(&res);
        job_result_free(&res);
        return status;
    }
    char where[512];
    cli_describe_job(&cfg, &res, where, sizeof where);
    printf("# %s; coll_add starts at %u mod 64\n", where, (unsigned)((uintptr_t)&coll_add % 64));
    printf("backend,piece,rank0_median_us,rank1_median_us,rank0_q25_us,rank0_q75_us\n");
    for (int p = 0; p < NPIECES; p++) {
        double s[2][PIECE_RUNS];
        for (int i = 0; i < 2; i++) {
            memcpy(s[i], ((const piece_slot *)job_result_slot(&res, i))->seconds[p], sizeof s[i]);
            qsort(s[i], PIECE_RUNS, sizeof s[i][0], by_value);
        }
        printf("%s,%s,%.1f,%.1f,%.1f,%.1f\n", cfg.backend->name, pieces[p].name, 1e6 * s[0][PIECE_RUNS / 2],
               1e6 * s[1][PIECE_RUNS / 2], 1e6 * s[0][PIECE_RUNS / 4], 1e6 * s[0][3 * PIECE_RUNS / 4]);
    }
    job_result_free(&res);
    return 0;
}
