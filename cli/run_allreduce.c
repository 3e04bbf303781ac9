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
    opts = (sgd_allreduce_opts){.algo = ALLREDUCE_RING};
    if (run_get_allreduce(ctx, &opts.algo, &opts.coll))
        return -1;
    opts.scale_lr = cli_flag(ctx->args, "scale-lr");
    ctx->setup.algo = &opts;
    return 0;
}

static int configure_serial(run_ctx *ctx)
{
    if (ctx->workers != 1) {
        fprintf(stderr, "distlab run serial: runs on one rank (--workers 1), not %d\n", ctx->workers);
        return -1;
    }
    opts = (sgd_allreduce_opts){.algo = ALLREDUCE_RING};
    ctx->setup.algo = &opts;
    return 0;
}

static void summarize(run_ctx *ctx, const job_result *res, records *rec)
{
    (void)res;
    if (ctx->cfg.ranks > 1)
        records_set_str(rec, "allreduce", allreduce_algo_name(opts.algo));
}

const run_algo run_algo_allreduce = {
    .algo = &sgd_allreduce_algo,
    .configure = configure_allreduce,
    .summarize = summarize,
};

const run_algo run_algo_serial = {
    .algo = &sgd_serial_algo,
    .configure = configure_serial,
};
