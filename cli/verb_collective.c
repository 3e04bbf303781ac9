/* verb_collective.c -- `distlab collective`: time one collective.
 *
 * Every rank fills its vector with known small integers, runs the
 * collective, and checks every element of the result, every iteration, so
 * a fast wrong answer never shows up as a good number. The CSV follows
 * nccl-tests: algbw = bytes / seconds; busbw = algbw x 2(p-1)/p for
 * allreduce, the rate each link must sustain, comparable across p.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algorithms/collectives.h"
#include "algorithms/plugin.h"
#include "cli/cli.h"
#include "core/units.h"
#include "sim/sim_platform.h"

#define MAX_SIZES 32

typedef enum { OP_ALLREDUCE, OP_BCAST, OP_REDUCE, OP_BARRIER, OP_BYTEPS } coll_op;
static const char *const op_names[] = {"allreduce", "bcast", "reduce", "barrier", "byteps", NULL};

typedef struct coll_arg {
    coll_op op;
    allreduce_algo algo[MAX_SIZES]; /* per size: --algo, or what auto chose */
    plugin_allreduce_fn *plugin;    /* --algo FILE.c: the user's allreduce */
    coll_opts opts;
    int nsizes;
    size_t count[MAX_SIZES];
    int iters;
    int warm_up; /* untimed first iterations (real sockets: connections, caches, the heap) */
    int workers, pieces; /* byteps: ranks 0..workers-1 hold vectors, the rest are CPU servers */
} coll_arg;

typedef struct coll_slot {
    double seconds[MAX_SIZES]; /* summed over the timed iterations */
    long wrong;                /* elements that came out wrong */
    char first_wrong[160];
} coll_slot;

static float input(int rank, size_t i) { return (float)((rank % 13 + 1) * (int)(i % 5 + 1)); }

static void fill(float *buf, size_t n, int rank)
{
    for (size_t i = 0; buf && i < n; i++)
        buf[i] = input(rank, i);
}

/* What rank `me` must hold after the operation. */
static void check(coll_slot *s, const coll_arg *a, const float *buf, size_t n, int p, int me)
{
    if (!buf || a->op == OP_BARRIER || (a->op == OP_REDUCE && me != 0) ||
        (a->op == OP_BYTEPS && me >= a->workers))
        return;
    float ranks_sum = 0;
    for (int q = 0; q < (a->op == OP_BYTEPS ? a->workers : p); q++)
        ranks_sum += (float)(q % 13 + 1);
    for (size_t i = 0; i < n; i++) {
        float want = a->op == OP_BCAST ? input(0, i) : ranks_sum * (float)(i % 5 + 1);
        if (buf[i] != want) {
            if (s->wrong++ == 0)
                snprintf(s->first_wrong, sizeof s->first_wrong,
                         "rank %d, %zu elements: element %zu is %g, expected %g", me, n, i, buf[i], want);
        }
    }
}

static int run_op(rt *r, const coll_arg *a, int k, float *buf, size_t n)
{
    switch (a->op) {
    case OP_ALLREDUCE:
        return a->plugin ? a->plugin(r, buf, n, &a->opts) : allreduce(r, a->algo[k], buf, n, &a->opts);
    case OP_BCAST: return bcast(r, buf, n, 0);
    case OP_REDUCE: return reduce(r, buf, n, 0);
    case OP_BARRIER: return barrier(r);
    case OP_BYTEPS: return byteps_allreduce(r, buf, n, a->workers, a->pieces);
    }
    return RT_EINVAL;
}

static int collective_rank(rt *r, void *argp)
{
    const coll_arg *a = argp;
    coll_slot *s = job_slot(r);
    int me = rt_rank(r), p = rt_size(r), rc = RT_OK;
    size_t max = 0;
    for (int k = 0; k < a->nsizes; k++)
        max = a->count[k] > max ? a->count[k] : max;
    float *buf = NULL;
    if (!rt_size_only(r) && max) {
        buf = malloc(max * sizeof *buf);
        if (!buf)
            return rt_fail(r, RT_ENOMEM, "collective: cannot allocate %zu floats", max);
    }
    for (int k = 0; k < a->nsizes && !rc; k++) {
        size_t n = a->count[k];
        /* Iterations before 0 warm up connections, caches and the heap, untimed. */
        int first = -a->warm_up;
        for (int it = first; it < a->iters && !rc; it++) {
            fill(buf, n, me);
            rc = it > first || first < 0 ? barrier(r) : RT_OK;
            double t0 = rt_now(r);
            if (!rc)
                rc = run_op(r, a, k, buf, n);
            if (it >= 0)
                s->seconds[k] += rt_now(r) - t0;
            if (!rc)
                check(s, a, buf, n, p, me);
        }
    }
    free(buf);
    return rc;
}

/* The closed form on the generated cluster: the GPU cluster's two
 * networks for hierarchical (allreduce_hierarchical.c), else one. */
static double model_s(const sim_config *sim, allreduce_algo algo, int p, size_t count)
{
    double a = sim->latency_s, b = 1 / sim->bandwidth_Bps, g = 1 / sim->speed_flops;
    int G = sim->gpus_per_node > 1 ? sim->gpus_per_node : 1;
    if (algo != ALLREDUCE_HIERARCHICAL)
        return allreduce_cost_s(algo, p, count, a, b, g);
    if (G == 1)
        return allreduce_hierarchical_cost_s(p, 1, count, a, b, a, b, g);
    double bo = sim->bandwidth_Bps < sim->intra_bandwidth_Bps ? b : 1 / sim->intra_bandwidth_Bps;
    return allreduce_hierarchical_cost_s(p, G, count, sim->intra_latency_s, 1 / sim->intra_bandwidth_Bps,
                                         a, bo, g);
}

static int parse_sizes(const char *list, coll_arg *a)
{
    char **item, err[256];
    int n = cli_split_list("collective", "bytes", list, &item), rc = -1;
    a->nsizes = 0;
    for (int i = 0; i < n; i++) {
        const char *tok = item[i];
        double b;
        if (a->nsizes == MAX_SIZES) {
            fprintf(stderr, "distlab collective: --bytes: at most %d sizes\n", MAX_SIZES);
            goto out;
        }
        if (units_size(tok, &b, err, sizeof err) != 0) {
            fprintf(stderr, "distlab collective: --bytes: %s\n", err);
            goto out;
        }
        if (fmod(b, 4.0) != 0) {
            fprintf(stderr, "distlab collective: --bytes: %s is not a whole number of elements "
                    "(float32: a multiple of 4 bytes)\n", tok);
            goto out;
        }
        a->count[a->nsizes++] = (size_t)(b / 4);
    }
    rc = n > 0 ? 0 : -1;
out:
    free(item);
    return rc;
}

int verb_collective(int argc, char **argv)
{
    static const cli_opt opts[] = {
        {"op", "allreduce|bcast|reduce|barrier|byteps", "the collective (default allreduce); byteps: "
                                                       "BytePS push and pull (--servers)"},
        {"algo", "ring|tree|rd|rabenseifner|hierarchical|auto|FILE.c", "allreduce algorithm (default ring); "
                 "hierarchical: by nodes of --gpus-per-node ranks; auto: per size, the "
                 "one the alpha-beta-gamma model predicts fastest; FILE.c: your own (algorithms/plugin.h)"},
        {"cost", "ring|tree|rd|rabenseifner", "--algo FILE.c: the formula --model compares it with (default ring)"},
        {"workers", "P", "ranks taking part (default 4); byteps: the GPU workers"},
        {"servers", "K", "byteps: CPU machines summing beside the workers (default 0: the workers' servers only)"},
        {"pieces", "N", "byteps: pieces each server's block moves in, pipelined (default 16)"},
        {"bytes", "SIZE[,SIZE...]", "vector sizes, multiples of 4 bytes (default 1MiB)"},
        {"iters", "K", "timed iterations per size, each checked (default 5 real, 1 sim)"},
        {"segment", "SIZE", "ring: pipeline messages in segments of this size (default: none in sim, 1MiB real)"},
        {"model", NULL, "sim: add the closed-form alpha-beta-gamma time as a column"},
        {NULL, NULL, NULL},
    };
    cli_args a;
    int code;
    if (cli_parse(argc, argv, "collective [--op OP] [--algo ALGO] [--workers P] [--bytes SIZES] [job options]",
                  opts, 1, &a, &code))
        return code;
    if (a.npos) {
        fprintf(stderr, "distlab collective: unexpected argument '%s'\n", a.pos[0]);
        return 2;
    }
    job_config cfg = job_config_default();
    sim_config sim = sim_config_default();
    real_config real = real_config_default();
    long workers = 4, iters = 0, servers = 0, pieces = 16;
    if (cli_get_int(&a, "collective", "workers", 1, 1 << 20, &workers) ||
        cli_get_int(&a, "collective", "servers", 0, 1 << 20, &servers) ||
        cli_get_int(&a, "collective", "pieces", 1, 1 << 16, &pieces))
        return 2;
    const char *opname = cli_get(&a, "op");
    if ((cli_get(&a, "servers") || cli_get(&a, "pieces")) && !(opname && strcmp(opname, "byteps") == 0)) {
        fprintf(stderr, "distlab collective: --%s goes with --op byteps\n", cli_get(&a, "servers") ? "servers" : "pieces");
        return 2;
    }
    cfg.ranks = (int)(workers + servers);
    if (cli_job_config(&a, "collective", &cfg, &sim, &real) || cli_check_faults("collective", &sim, cfg.ranks))
        return 2;
    coll_arg ca = {.op = OP_ALLREDUCE};
    int op = 0;
    if (cli_get_choice(&a, "collective", "op", op_names, &op))
        return 2;
    ca.op = op;
    ca.workers = (int)workers;
    ca.pieces = (int)pieces;
    const char *algo = cli_get(&a, "algo");
    int chosen = ALLREDUCE_RING, automatic = algo && strcmp(algo, "auto") == 0;
    if (algo && cli_is_plugin_name(algo)) {
        char err[512];
        const char *cost = cli_get(&a, "cost");
        if (cost && (chosen = allreduce_algo_by_name(cost)) < 0) {
            fprintf(stderr, "distlab collective: --cost: unknown algorithm '%s' (known: %s)\n", cost,
                    allreduce_algo_list());
            return 2;
        }
        if (ca.op != OP_ALLREDUCE) {
            fprintf(stderr, "distlab collective: --algo %s: a file of your own is an allreduce "
                    "(leave out --op or give --op allreduce)\n", algo);
            return 2;
        }
        if (!(ca.plugin = (plugin_allreduce_fn *)cli_plugin_load(algo, PLUGIN_ALLREDUCE, NULL, err, sizeof err))) {
            fprintf(stderr, "distlab collective: --algo: %s\n", err);
            return 2;
        }
    } else if (cli_get(&a, "cost")) {
        fprintf(stderr, "distlab collective: --cost goes with --algo FILE.c\n");
        return 2;
    } else if (algo && !automatic && (chosen = allreduce_algo_by_name(algo)) < 0) {
        fprintf(stderr, "distlab collective: --algo: unknown algorithm '%s' (known: %s, auto)\n",
                algo, allreduce_algo_list());
        return 2;
    }
    if (ca.op == OP_BARRIER && cli_get(&a, "bytes")) {
        fprintf(stderr, "distlab collective: --op barrier moves no data: leave out --bytes\n");
        return 2;
    }
    if (parse_sizes(cli_get(&a, "bytes") ? cli_get(&a, "bytes") : "1MiB", &ca))
        return 2;
    if (ca.op == OP_BARRIER) /* no vector: nothing to allocate, 0 bytes reported */
        ca.count[0] = 0;
    /* auto: the simulated cluster's own alpha, beta and gamma. On sockets,
     * loopback's as measured on this project's machines: when ranks sleep
     * between messages a wake-up (~25 us) dominates alpha; when they poll
     * first (real_spin_s), alpha and gamma are fitted to where 2 ranks'
     * recursive doubling stops beating the ring (32 KiB: 300 iterations,
     * two runs). A hosts job's ranks decide each for itself whether to
     * poll, but must all pick the same algorithm: they take the sleeping
     * constants (between machines alpha is larger anyway). */
    int in_sim = cfg.backend == &sim_backend;
    /* Simulated time has nothing to warm up. On real sockets the first two
     * operations of a run each fault a new vector's worth of pages into the
     * heap (4 MiB at 2 ranks: 1024 page faults a rank in each of the first
     * two, none in most later ones), and took twice a later one's time: a
     * collective's temporary and the runtime's buffers find their places
     * in the heap, then reuse them. */
    ca.warm_up = in_sim ? 0 : 2;
    int spins = !in_sim && real.launch != REAL_LAUNCH_HOSTS && real_spin_s(&cfg) > 0;
    double alpha = in_sim ? sim.latency_s : spins ? 6e-6 : 25e-6;
    double beta = in_sim ? 1 / sim.bandwidth_Bps : 1 / 2.5e9;
    double gamma = in_sim ? 1 / sim.speed_flops : spins ? 1.5e-9 : 1 / 2e9;
    for (int k = 0; k < ca.nsizes; k++)
        ca.algo[k] = automatic ? allreduce_algo_best(cfg.ranks, ca.count[k], alpha, beta, gamma)
                               : (allreduce_algo)chosen;
    if (cli_get_int(&a, "collective", "iters", 1, 1000000, &iters))
        return 2;
    ca.iters = iters ? (int)iters : in_sim ? 1 : 5;
    double seg = in_sim ? 0 : 1 << 20;
    if (cli_get_size(&a, "collective", "segment", &seg))
        return 2;
    ca.opts.segment_bytes = (size_t)seg;
    ca.opts.local_size = sim.gpus_per_node;
    char err[512];
    if (in_sim && !sim.platform && sim_platform_check_generated(&sim, cfg.ranks, err, sizeof err) != 0) {
        fprintf(stderr, "distlab collective: %s\n", err);
        return 2;
    }
    for (int k = 0; k < ca.nsizes; k++)
        if (!ca.plugin && ca.op == OP_ALLREDUCE && ca.algo[k] == ALLREDUCE_HIERARCHICAL && cfg.ranks % sim.gpus_per_node) {
            fprintf(stderr, "distlab collective: --algo hierarchical: %d workers are not whole nodes of "
                    "--gpus-per-node %d\n", cfg.ranks, sim.gpus_per_node);
            return 2;
        }
    cfg.result_bytes = sizeof(coll_slot);
    cfg.record_events = 0;

    job_result res;
    if (job_run(&cfg, collective_rank, &ca, &res) != 0) {
        fprintf(stderr, "distlab collective: %s\n", res.error);
        int status = cli_job_status(&res);
        job_result_free(&res);
        return status;
    }
    if (cli_result_elsewhere("collective", &res)) {
        job_result_free(&res);
        return 0;
    }
    int status = 0;
    for (int i = 0; i < cfg.ranks; i++) {
        coll_slot *s = job_result_slot(&res, i);
        if (s->wrong) {
            fprintf(stderr, "distlab collective: WRONG RESULT: %ld elements differ; first: %s\n",
                    s->wrong, s->first_wrong);
            status = 1;
        }
    }
    char where[512], algo_label_bps[32] = "";
    cli_describe_job(&cfg, &res, where, sizeof where);
    printf("# %s\n", where);
    int model = cli_flag(&a, "model") && in_sim && !sim.platform && (ca.op == OP_ALLREDUCE || ca.op == OP_BYTEPS);
    printf("backend,op,algo,workers,bytes,seconds,algbw_GBps,busbw_GBps%s\n", model ? ",model_seconds" : "");
    int p = ca.op == OP_BYTEPS ? ca.workers : cfg.ranks;
    if (ca.op == OP_BYTEPS)
        snprintf(algo_label_bps, sizeof algo_label_bps, "k=%ld", servers);
    /* a file's name, without its folder, as the algo column (no commas) */
    char algo_label[128] = "";
    if (ca.plugin) {
        const char *base = strrchr(algo, '/') ? strrchr(algo, '/') + 1 : algo;
        snprintf(algo_label, sizeof algo_label, "%s", base);
        for (char *c = algo_label; *c; c++)
            if (*c == ',' || *c == '"')
                *c = '_';
    }
    for (int k = 0; k < ca.nsizes; k++) {
        double worst = 0;
        for (int i = 0; i < cfg.ranks; i++) {
            double s = ((coll_slot *)job_result_slot(&res, i))->seconds[k] / ca.iters;
            worst = s > worst ? s : worst;
        }
        double bytes = 4.0 * (double)ca.count[k];
        double algbw = worst > 0 ? bytes / worst / 1e9 : 0;
        double busbw = (ca.op == OP_ALLREDUCE || ca.op == OP_BYTEPS) && p > 1 ? algbw * 2.0 * (p - 1) / p : algbw;
        printf("%s,%s,%s,%d,%.0f,%.9g,%.6g,%.6g", cfg.backend->name,
               op_names[ca.op], ca.plugin ? algo_label : ca.op == OP_ALLREDUCE ? allreduce_algo_name(ca.algo[k])
                                                       : ca.op == OP_BYTEPS ? algo_label_bps : "binomial",
               p, bytes, worst, algbw, busbw);
        if (model)
            printf(",%.9g", ca.op == OP_BYTEPS ? byteps_cost_s(ca.workers, (int)servers, ca.count[k], 1 / sim.bandwidth_Bps)
                                               : model_s(&sim, ca.algo[k], p, ca.count[k]));
        printf("\n");
    }
    job_result_free(&res);
    return status;
}
