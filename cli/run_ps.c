/* run_ps.c -- `distlab run ps`: the parameter server (algorithms/ps.c),
 * with its consistency models and stragglers.
 *
 * Ranks: servers first (0..S-1), then the W workers. In sim every rank
 * gets its own host by default (servers on hosts of their own); with
 * --colocate the cluster has W hosts and round-robin placement puts server
 * s on host s together with worker W-S+s, so the servers share hosts (and
 * their links and cores) with workers. --stragglers F --slowdown X makes
 * round(F W) workers, drawn from the seed, X times slower at computing
 * (job_config.slowdown: sim charges their flops X times, real sleeps the
 * extra time).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algorithms/ps.h"
#include "cli/run.h"

static ps_opts opts;
static double *slowdown; /* per rank; lives until the process ends */
static int nstragglers;

/* Which workers straggle: the first k of a seeded shuffle of 0..W-1. */
static int pick_stragglers(run_ctx *ctx, double fraction, double factor)
{
    int S = opts.servers, W = ctx->workers;
    nstragglers = (int)lround(fraction * W);
    if (nstragglers == 0 || factor == 1)
        return 0;
    int *order = malloc((size_t)W * sizeof *order);
    slowdown = malloc((size_t)(S + W) * sizeof *slowdown);
    if (!order || !slowdown) {
        free(order);
        fprintf(stderr, "distlab run ps: out of memory\n");
        return -1;
    }
    for (int i = 0; i < S + W; i++)
        slowdown[i] = 1;
    for (int i = 0; i < W; i++)
        order[i] = i;
    uint64_t x = ctx->ml.seed * 0x9E3779B97F4A7C15ull + 0x5DEECE66Dull;
    for (int i = W; i > 1; i--) {
        x ^= x << 13; /* xorshift64 */
        x ^= x >> 7;
        x ^= x << 17;
        int j = (int)(x % (uint64_t)i), t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
    for (int i = 0; i < nstragglers; i++)
        slowdown[S + order[i]] = factor;
    free(order);
    ctx->cfg.slowdown = slowdown;
    return 0;
}

static int configure_ps(run_ctx *ctx)
{
    const cli_args *a = ctx->args;
    const char *verb = "run ps";
    opts = (ps_opts){.servers = 1, .consistency = PS_BSP};
    long servers = 1, staleness = 0;
    if (cli_get_int(a, verb, "servers", 1, 1 << 16, &servers) ||
        cli_get_int(a, verb, "staleness", 0, 1 << 30, &staleness))
        return -1;
    static const char *const models[] = {"bsp", "ssp", "async", NULL};
    int model = PS_BSP;
    if (cli_get_choice(a, verb, "consistency", models, &model))
        return -1;
    if (cli_get(a, "staleness") && model != PS_SSP) {
        fprintf(stderr, "distlab run ps: --staleness applies to --consistency ssp only\n");
        return -1;
    }
    opts.servers = (int)servers;
    opts.consistency = (ps_consistency)model;
    opts.staleness = (int)staleness;

    double fraction = 0, factor = 1;
    if (cli_get_double(a, verb, "stragglers", &fraction) ||
        cli_get_double(a, verb, "slowdown", &factor))
        return -1;
    if (!(fraction >= 0 && fraction <= 1)) {
        fprintf(stderr, "distlab run ps: --stragglers: expected a fraction of the workers "
                "from 0 to 1, got %g\n", fraction);
        return -1;
    }
    if (!(factor >= 1)) {
        fprintf(stderr, "distlab run ps: --slowdown: expected a factor of at least 1, got %g\n",
                factor);
        return -1;
    }
    if (pick_stragglers(ctx, fraction, factor))
        return -1;

    if (cli_flag(a, "colocate")) {
        if (cli_get(a, "hosts") || cli_get(a, "platform")) {
            fprintf(stderr, "distlab run ps: --colocate sets the hosts itself (one per worker); "
                    "drop --hosts/--platform\n");
            return -1;
        }
        ctx->cfg.hosts = ctx->workers;
        ctx->cfg.placement = JOB_PLACE_ROUND_ROBIN;
    }
    ctx->cfg.ranks = opts.servers + ctx->workers;
    ctx->setup.algo = &opts;
    ctx->setup.reporter = 0;
    ps_setup_columns(&ctx->setup);
    return 0;
}

static int check_ps(run_ctx *ctx)
{
    size_t P = ml_model_nparams(ctx->prob.model);
    if ((size_t)opts.servers > P) {
        fprintf(stderr, "distlab run ps: --servers %d: more servers than keys; the model has "
                "%zu parameters, so at most %zu servers\n", opts.servers, P, P);
        return -1;
    }
    return 0;
}

static void summarize(run_ctx *ctx, const job_result *res, records *rec)
{
    (void)res;
    records_set_int(rec, "servers", opts.servers);
    records_set_str(rec, "consistency", ps_consistency_name(opts.consistency));
    if (opts.consistency == PS_SSP)
        records_set_int(rec, "staleness_bound", opts.staleness);
    records_set_int(rec, "stragglers", nstragglers);
    records_set_str(rec, "placement", ctx->cfg.hosts == ctx->workers && cli_flag(ctx->args, "colocate")
                                          ? "servers share hosts with workers"
                                          : "as --hosts/--placement say (default: one host per rank)");
    const train_out *o = job_result_slot(res, ctx->setup.reporter);
    int lost = (int)o->stats[PS_STAT_WORKERS_LOST];
    if (lost > 0) {
        char msg[160];
        snprintf(msg, sizeof msg, "%d worker%s died; training finished with the other%s", lost,
                 lost > 1 ? "s" : "", ctx->workers - lost > 1 ? "s" : "");
        records_set_str(rec, "workers_lost_note", msg);
        fprintf(stderr, "distlab run ps: %s\n", msg);
    }
}

static const cli_opt ps_cli_opts[] = {
    {"servers", "S", "server ranks, each owning a key range of the model (default 1)"},
    {"consistency", "bsp|ssp|async", "how far workers may drift apart (default bsp)"},
    {"staleness", "s", "ssp: a worker at iteration c waits until all finished c-s-1 (default 0)"},
    {"stragglers", "FRACTION", "this fraction of the workers (drawn from --seed) is slower"},
    {"slowdown", "X", "stragglers compute X times slower (default 1)"},
    {"colocate", NULL, "sim: servers share hosts with workers (W hosts) instead of their own"},
    {NULL, NULL, NULL},
};

const run_algo run_algo_ps = {
    .name = "ps",
    .summary = "parameter server: sharded keys, push/pull, BSP, SSP or async",
    .opts = ps_cli_opts,
    .default_workers = 4,
    .configure = configure_ps,
    .check = check_ps,
    .rank_main = ps_rank,
    .summarize = summarize,
};
