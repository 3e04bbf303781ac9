/* run_allreduce.c -- `distlab run allreduce` and `distlab run serial`:
 * synchronous data-parallel SGD (algorithms/sgd_allreduce.c), and the same
 * algorithm on one rank, the baseline every speedup is measured against. */
#include <stdio.h>
#include <string.h>

#include "algorithms/sgd_allreduce.h"
#include "cli/run.h"

static sgd_allreduce_opts opts;

static int configure_allreduce(run_ctx *ctx)
{
    const cli_args *a = ctx->args;
    opts = (sgd_allreduce_opts){.algo = ALLREDUCE_RING};
    const char *algo = cli_get(a, "allreduce");
    if (algo && (int)(opts.algo = allreduce_algo_by_name(algo)) < 0) {
        fprintf(stderr, "distlab run allreduce: --allreduce: unknown algorithm '%s' (known: %s)\n",
                algo, allreduce_algo_list());
        return -1;
    }
    double seg = 0;
    if (cli_get_size(a, "run allreduce", "segment", &seg))
        return -1;
    opts.coll.segment_bytes = (size_t)seg;
    opts.scale_lr = cli_flag(a, "scale-lr");
    ctx->cfg.ranks = ctx->workers;
    ctx->setup.algo = &opts;
    ctx->setup.reporter = 0;
    return 0;
}

static int configure_serial(run_ctx *ctx)
{
    if (ctx->workers != 1) {
        fprintf(stderr, "distlab run serial: runs on one rank (--workers 1), not %d\n", ctx->workers);
        return -1;
    }
    opts = (sgd_allreduce_opts){.algo = ALLREDUCE_RING};
    ctx->cfg.ranks = 1;
    ctx->setup.algo = &opts;
    ctx->setup.reporter = 0;
    return 0;
}

static void summarize(run_ctx *ctx, const job_result *res, records *rec)
{
    (void)res;
    if (ctx->cfg.ranks > 1)
        records_set_str(rec, "allreduce", allreduce_algo_name(opts.algo));
}

static const cli_opt allreduce_opts[] = {
    {"allreduce", "ring|tree|rd|rabenseifner", "how gradients are summed (default ring)"},
    {"segment", "SIZE", "ring: pipeline messages in segments of this size (default: none)"},
    {"scale-lr", NULL, "linear scaling rule: multiply the learning rate by the number of workers"},
    {NULL, NULL, NULL},
};

const run_algo run_algo_allreduce = {
    .name = "allreduce",
    .summary = "synchronous data-parallel SGD, gradients summed by an allreduce",
    .opts = allreduce_opts,
    .default_workers = 4,
    .configure = configure_allreduce,
    .rank_main = sgd_allreduce_rank,
    .summarize = summarize,
};

const run_algo run_algo_serial = {
    .name = "serial",
    .summary = "plain minibatch SGD on one rank: the baseline",
    .default_workers = 1,
    .configure = configure_serial,
    .rank_main = sgd_allreduce_rank,
};
