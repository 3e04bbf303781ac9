/* run_distbelief.c -- `distlab run distbelief --mode model-parallel|downpour`:
 * DistBelief (algorithms/distbelief*.c): one MLP split across --partitions
 * K ranks by neurons, and for downpour --replicas R such replicas training
 * asynchronously against --servers S parameter-server shards.
 *
 * Ranks: model-parallel K; downpour S + R K (servers first). The summary
 * says how many bytes crossed partition boundaries and how many went
 * between replicas and servers, as totals over the ranks.
 */
#include <stdio.h>
#include <string.h>

#include "algorithms/distbelief.h"
#include "cli/run.h"
#include "core/job.h"

static db_opts opts;

static const char *const modes[] = {"model-parallel", "downpour", NULL};

static int configure_distbelief(run_ctx *ctx)
{
    const cli_args *a = ctx->args;
    const char *verb = "run distbelief";
    int mode = 0;
    long K = 1, R = 1, S = 1, push = 1, fetch = 1;
    if (cli_get_choice(a, verb, "mode", modes, &mode) ||
        cli_get_int(a, verb, "partitions", 1, 4096, &K) ||
        cli_get_int(a, verb, "replicas", 1, 4096, &R) ||
        cli_get_int(a, verb, "servers", 1, 4096, &S) ||
        cli_get_int(a, verb, "push-every", 1, 1 << 30, &push) ||
        cli_get_int(a, verb, "fetch-every", 1, 1 << 30, &fetch))
        return -1;
    const char *split = cli_get(a, "split");
    if (split && strcmp(split, "neurons") != 0) {
        fprintf(stderr, "distlab run distbelief: --split: 'neurons' (each partition owns a slice "
                "of every layer); the layer pipeline is not implemented, got '%s'\n", split);
        return -1;
    }
    opts = (db_opts){.mode = (db_mode)mode, .partitions = (int)K, .replicas = (int)R,
                     .servers = (int)S, .push_every = (int)push, .fetch_every = (int)fetch};
    if (opts.mode == DB_MODEL_PARALLEL && (R != 1 || cli_get(a, "servers"))) {
        fprintf(stderr, "distlab run distbelief: --mode model-parallel trains one replica with no "
                "servers; --replicas and --servers need --mode downpour\n");
        return -1;
    }
    ctx->workers = opts.mode == DB_MODEL_PARALLEL ? opts.partitions : opts.replicas * opts.partitions;
    ctx->setup.workers = ctx->workers;
    ctx->cfg.ranks = db_ranks(&opts);
    ctx->setup.algo = &opts;
    ctx->setup.reporter = 0;
    return 0;
}

static int check_distbelief(run_ctx *ctx)
{
    db_layout lay;
    char err[512];
    if (db_layout_of_model(&lay, ctx->prob.model, opts.partitions, err, sizeof err) != 0) {
        fprintf(stderr, "distlab run distbelief: %s\n", err);
        return -1;
    }
    if (opts.mode == DB_DOWNPOUR && (size_t)opts.servers > lay.P) {
        fprintf(stderr, "distlab run distbelief: --servers %d: the model has %zu parameters, so "
                "at most %zu servers\n", opts.servers, lay.P, lay.P);
        return -1;
    }
    return 0;
}

static void summarize(run_ctx *ctx, const job_result *res, records *rec)
{
    double part_bytes = 0, server_bytes = 0;
    for (int i = 0; i < ctx->cfg.ranks; i++) {
        const train_out *o = job_result_slot(res, i);
        part_bytes += o->stats[DB_STAT_PARTITION_BYTES];
        server_bytes += o->stats[DB_STAT_SERVER_BYTES];
    }
    records_set_str(rec, "mode", modes[opts.mode]);
    records_set_str(rec, "split", "neurons");
    records_set_int(rec, "partitions", opts.partitions);
    records_set_num(rec, "partition_bytes", part_bytes);
    if (opts.mode == DB_DOWNPOUR) {
        records_set_int(rec, "replicas", opts.replicas);
        records_set_int(rec, "servers", opts.servers);
        records_set_int(rec, "push_every", opts.push_every);
        records_set_int(rec, "fetch_every", opts.fetch_every);
        records_set_num(rec, "server_bytes", server_bytes);
    }
}

static const cli_opt db_cli_opts[] = {
    {"mode", "model-parallel|downpour", "one partitioned replica, or async replicas and servers "
     "(default model-parallel)"},
    {"partitions", "K", "ranks one model is split across, by neurons (default 1)"},
    {"split", "neurons", "how the model is split: each partition owns a slice of every layer"},
    {"replicas", "R", "downpour: model replicas, each on its own data shard (default 1)"},
    {"servers", "S", "downpour: parameter-server shards (default 1)"},
    {"push-every", "N", "downpour: steps between gradient pushes (default 1)"},
    {"fetch-every", "N", "downpour: steps between weight fetches (default 1)"},
    {NULL, NULL, NULL},
};

const run_algo run_algo_distbelief = {
    .name = "distbelief",
    .summary = "DistBelief: model parallelism by neurons, Downpour SGD",
    .opts = db_cli_opts,
    .default_workers = 1,
    .configure = configure_distbelief,
    .check = check_distbelief,
    .rank_main = db_rank,
    .summarize = summarize,
};
