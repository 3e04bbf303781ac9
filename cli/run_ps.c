/* run_ps.c -- `distlab run ps`: the parameter server (algorithms/ps.c),
 * with its consistency models and stragglers.
 *
 * Ranks: servers first (0..S-1), then the W workers. In sim every rank
 * gets its own host by default (servers on hosts of their own); with
 * --colocate the cluster has W hosts and round-robin placement puts server
 * s on host s together with worker W-S+s, so the servers share hosts (and
 * their links and cores) with workers. --stragglers F --slowdown X (the
 * one picker of verb_run.c) makes round(F W) workers, drawn from the seed,
 * X times slower at computing (job_config.slowdown: sim charges their
 * flops X times, real sleeps the extra time).
 *
 * --kill-worker W:ITER is --kill-rank S+W:ITER (run_faults.c): worker W
 * fails at iteration ITER, as a crash would, on any backend: async and ssp
 * finish with the other workers, and the records say so; bsp stops with an
 * error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "algorithms/ps.h"
#include "cli/run.h"

static ps_opts opts;
/* "W:ITER": worker W is rank S + W, its iteration its step */
static int parse_kill(run_ctx *ctx, const char *v)
{
    long w, it;
    if (run_parse_pair(v, ctx->workers - 1, &w, &it) != 0) {
        fprintf(stderr, "distlab run ps: --kill-worker: expected W:ITER, a worker from 0 to %d "
                "and an iteration >= 0, got '%s'\n", ctx->workers - 1, v);
        return -1;
    }
    ctx->kill_rank = opts.servers + (int)w;
    ctx->kill_step = it;
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
    const char *kill = cli_get(a, "kill-worker");
    if (kill && parse_kill(ctx, kill))
        return -1;

    if (cli_flag(a, "colocate")) {
        if (cli_get(a, "hosts") || cli_get(a, "platform")) {
            fprintf(stderr, "distlab run ps: --colocate sets the hosts itself (one per worker); "
                    "drop --hosts/--platform\n");
            return -1;
        }
        if (!ctx->sim.one_machine) /* on one machine every rank shares its host already */
            ctx->sim.hosts = ctx->workers;
        ctx->sim.placement = SIM_PLACE_ROUND_ROBIN;
    }
    ctx->setup.algo = &opts;
    return 0;
}

static void summarize(run_ctx *ctx, const job_result *res, records *rec)
{
    (void)res;
    records_set_int(rec, "servers", opts.servers);
    records_set_str(rec, "consistency", ps_consistency_name(opts.consistency));
    if (opts.consistency == PS_SSP)
        records_set_int(rec, "staleness_bound", opts.staleness);
    records_set_str(rec, "placement", cli_flag(ctx->args, "colocate")
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

/* Only workers died, every server finished, and the model is complete. */
static int survived(run_ctx *ctx, const job_result *res)
{
    const train_out *o = job_result_slot(res, ctx->setup.reporter);
    if (opts.consistency == PS_BSP || (opts.consistency == PS_SSP && opts.staleness == 0)) {
        if (res->rank_status[0] == RT_EPEER && opts.consistency == PS_BSP)
            fprintf(stderr, "distlab run ps: a worker died, and under bsp no iteration can "
                    "complete without it (--consistency ssp or async go on without it)\n");
        else if (res->rank_status[0] == RT_EPEER)
            fprintf(stderr, "distlab run ps: a worker died, and under ssp with --staleness 0 (bsp) no "
                    "iteration can complete without it (--staleness 1 or more, or --consistency async, "
                    "go on without it)\n");
        return 0;
    }
    if (o->npoints == 0 || o->stats[PS_STAT_WORKERS_LOST] < 1)
        return 0;
    for (int s = 0; s < opts.servers; s++)
        if (res->rank_status[s] != RT_OK)
            return 0;
    return 1;
}

static const cli_opt ps_cli_opts[] = {
    {"colocate", NULL, "sim: servers share hosts with workers (W hosts) instead of their own"},
    {"kill-worker", "W:ITER", "worker W fails at iteration ITER (--kill-rank S+W:ITER)"},
    {NULL, NULL, NULL},
};

const run_algo run_algo_ps = {
    .algo = &ps_algo,
    .opts = ps_cli_opts,
    .configure = configure_ps,
    .summarize = summarize,
    .survived = survived,
};
