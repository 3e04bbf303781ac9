/* run_distbelief.c -- `distlab run distbelief --mode
 * model-parallel|downpour|sandblaster`: DistBelief (algorithms/distbelief*.c):
 * one MLP split across --partitions K ranks by neurons (or by layers, a
 * pipeline of microbatches, with --split layers); for downpour
 * --replicas R such replicas training asynchronously against --servers S
 * parameter-server shards; for sandblaster a coordinator running batch
 * L-BFGS whose gradients the replicas compute in small work units.
 *
 * Ranks: model-parallel K; downpour S + R K (servers first); sandblaster
 * S + R K + 1 (the coordinator last, reporting). The summary
 * says how many bytes crossed partition boundaries and how many went
 * between replicas and servers, as totals over the ranks.
 */
#include <stdio.h>
#include <string.h>

#include "algorithms/distbelief.h"
#include "cli/run.h"

static db_opts opts;

static const char *const modes[] = {"model-parallel", "downpour", "sandblaster", NULL};
static const char *const balances[] = {"dynamic", "even", NULL};
static const char *const splits[] = {"neurons", "layers", NULL};

static int configure_distbelief(run_ctx *ctx)
{
    const cli_args *a = ctx->args;
    const char *verb = "run distbelief";
    int mode = 0, balance = 0, split = 0;
    long K = 1, R = 1, S = 1, push = 1, fetch = 1, unit = 0, m = 10, micro = 0;
    double epsilon = 1e-5;
    if (cli_get_choice(a, verb, "mode", modes, &mode) ||
        cli_get_int(a, verb, "partitions", 1, 4096, &K) ||
        cli_get_int(a, verb, "replicas", 1, 4096, &R) ||
        cli_get_int(a, verb, "servers", 1, 4096, &S) ||
        cli_get_int(a, verb, "push-every", 1, 1 << 30, &push) ||
        cli_get_int(a, verb, "fetch-every", 1, 1 << 30, &fetch) ||
        cli_get_choice(a, verb, "balance", balances, &balance) ||
        cli_get_choice(a, verb, "split", splits, &split) ||
        cli_get_int(a, verb, "microbatches", 1, 1 << 20, &micro) ||
        cli_get_int(a, verb, "unit", 1, 1L << 40, &unit) ||
        cli_get_int(a, verb, "lbfgs-m", -1000, 1000, &m) ||
        cli_get_double(a, verb, "lbfgs-epsilon", &epsilon))
        return -1;
    /* --workers (what compare and sweep vary) counts the ranks doing the
     * work: the partitions of the one model, or the replicas' partitions */
    if (cli_get(a, "workers")) {
        int W = ctx->workers;
        if (mode == DB_MODEL_PARALLEL && !cli_get(a, "partitions")) {
            K = W;
        } else if (mode != DB_MODEL_PARALLEL && !cli_get(a, "replicas") && W % K == 0) {
            R = W / K;
        } else if (W != (mode == DB_MODEL_PARALLEL ? K : R * K)) {
            fprintf(stderr, "distlab run distbelief: --workers %d: the workers are the partitions "
                    "times the replicas, here %ld x %ld; give --workers as a multiple of "
                    "--partitions, or drop it\n", W, K, mode == DB_MODEL_PARALLEL ? 1 : R);
            return -1;
        }
    }
    opts = (db_opts){.mode = (db_mode)mode, .partitions = (int)K, .replicas = (int)R,
                     .servers = (int)S, .push_every = (int)push, .fetch_every = (int)fetch,
                     .balance_even = balance == 1, .unit_examples = (size_t)unit,
                     .lbfgs_m = (int)m, .lbfgs_epsilon = epsilon, .split = (db_split)split,
                     .microbatches = (int)micro};
    if (opts.mode == DB_MODEL_PARALLEL && (R != 1 || cli_get(a, "servers"))) {
        fprintf(stderr, "distlab run distbelief: --mode model-parallel trains one replica with no "
                "servers; --replicas and --servers need --mode downpour\n");
        return -1;
    }
    /* Downpour's servers use Adagrad, as the paper's do, unless told otherwise */
    if (opts.mode == DB_DOWNPOUR && !cli_get(a, "optimizer"))
        ctx->ml.optimizer = ML_OPTIM_ADAGRAD;
    ctx->workers = opts.mode == DB_MODEL_PARALLEL ? opts.partitions : opts.replicas * opts.partitions;
    ctx->replicas = opts.mode == DB_MODEL_PARALLEL ? 1 : opts.replicas; /* the partitions share a batch */
    ctx->setup.workers = ctx->workers;
    ctx->setup.algo = &opts;
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
    records_set_str(rec, "split", splits[opts.split]);
    if (opts.split == DB_SPLIT_LAYERS)
        records_set_int(rec, "microbatches", opts.microbatches ? opts.microbatches : opts.partitions);
    records_set_int(rec, "partitions", opts.partitions);
    records_set_num(rec, "partition_bytes", part_bytes);
    if (opts.mode == DB_MODEL_PARALLEL)
        return;
    records_set_int(rec, "replicas", opts.replicas);
    records_set_int(rec, "servers", opts.servers);
    records_set_num(rec, "server_bytes", server_bytes);
    if (opts.mode == DB_DOWNPOUR) {
        records_set_int(rec, "push_every", opts.push_every);
        records_set_int(rec, "fetch_every", opts.fetch_every);
        return;
    }
    records_set_str(rec, "balance", balances[opts.balance_even]);
    records_set_int(rec, "unit_examples", (long long)(opts.unit_examples ? opts.unit_examples
                                                                         : ctx->ml.batch));
    records_set_int(rec, "lbfgs_m", opts.lbfgs_m);
    records_set_num(rec, "lbfgs_epsilon", opts.lbfgs_epsilon);
    const train_out *o = job_result_slot(res, ctx->setup.reporter);
    records_set_num(rec, "evaluations", o->stats[DB_STAT_STEPS]);
}

const run_algo run_algo_distbelief = {
    .algo = &db_algo,
    .configure = configure_distbelief,
    .summarize = summarize,
};
