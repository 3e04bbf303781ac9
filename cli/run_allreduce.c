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
    double bucket = 0;
    if (cli_get_size(ctx->args, "run allreduce", "bucket", &bucket))
        return -1;
    if (cli_get(ctx->args, "bucket") && !(bucket >= 4)) {
        fprintf(stderr, "distlab run allreduce: --bucket: %g bytes: a bucket holds at least one "
                "gradient (4 bytes)\n", bucket);
        return -1;
    }
    if (cli_get(ctx->args, "overlap") && !bucket) {
        fprintf(stderr, "distlab run allreduce: --overlap goes with --bucket SIZE (without it the "
                "gradient is summed once, after backward)\n");
        return -1;
    }
    static const char *const onoff[] = {"off", "on", NULL};
    opts.overlap = 1;
    if (cli_get_choice(ctx->args, "run allreduce", "overlap", onoff, &opts.overlap))
        return -1;
    opts.bucket_bytes = (size_t)bucket;
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
    if (opts.bucket_bytes) {
        records_set_int(rec, "bucket_bytes", (long)opts.bucket_bytes);
        records_set_str(rec, "overlap", opts.overlap ? "on" : "off");
    }
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
