/* run_ray_ps.c -- `distlab run ray-ps`: Ray's parameter-server example
 * (algorithms/ray_ps.c) on the Ray model (algorithms/ray.h).
 *
 * Ranks: W + 1. Rank 0 is the driver's node and hosts the server actor;
 * worker w is an actor on rank 1 + w, and --stragglers draws from them.
 * In simulation every task and method first takes --task-overhead (by
 * default RAY_SIM_TASK_OVERHEAD_S, measured on real threads); on real
 * sockets the overhead is what it is, and --task-overhead is refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algorithms/ray_ps.h"
#include "cli/run.h"

static ray_ps_opts opts;

static int configure_ray_ps(run_ctx *ctx)
{
    const cli_args *a = ctx->args;
    const char *verb = "run ray-ps";
    static const char *const modes[] = {"sync", "async", NULL};
    int mode = RAY_PS_SYNC;
    if (cli_get_choice(a, verb, "mode", modes, &mode))
        return -1;
    opts = (ray_ps_opts){.mode = (ray_ps_mode)mode, .ray = ray_config_default()};
    int sim = ctx->cfg.backend == &sim_backend;
    double overhead = sim ? RAY_SIM_TASK_OVERHEAD_S : 0, inline_bytes = (double)opts.ray.inline_bytes;
    if (cli_get(a, "task-overhead") && !sim) {
        fprintf(stderr, "distlab run ray-ps: --task-overhead is a simulation parameter; on real "
                "sockets the overhead is measured, not set\n");
        return -1;
    }
    if (cli_get_time(a, verb, "task-overhead", &overhead) ||
        cli_get_size(a, verb, "inline-threshold", &inline_bytes))
        return -1;
    if (overhead > 1) {
        fprintf(stderr, "distlab run ray-ps: --task-overhead: expected 0 to 1 s, got %g s\n", overhead);
        return -1;
    }
    if (inline_bytes > 64.0 * 1024 * 1024) {
        fprintf(stderr, "distlab run ray-ps: --inline-threshold: expected 0 to 64MiB, got %.0f "
                "bytes\n", inline_bytes);
        return -1;
    }
    /* Rank 0 is the driver's node: Ray does not survive its driver (no
     * lineage for the driver's own state), so only a worker's node may die */
    const char *kill = cli_get(a, "kill-rank");
    char *end;
    long kill_rank = kill ? strtol(kill, &end, 10) : -1;
    if (kill && end != kill && (kill_rank == 0 || kill_rank > ctx->workers)) {
        fprintf(stderr, "distlab run ray-ps: --kill-rank %s: expected a worker's rank, 1 to %d (rank "
                "0 is the driver's node, which hosts the server: Ray does not survive its "
                "driver)\n", kill, ctx->workers);
        return -1;
    }
    opts.ray.task_overhead_s = overhead;
    opts.ray.inline_bytes = (size_t)inline_bytes;
    const char *loop = cli_get(a, "async-loop");
    if (loop && opts.mode != RAY_PS_ASYNC) {
        fprintf(stderr, "distlab run ray-ps: --async-loop replaces the async mode's loop; it takes "
                "--mode async, not --mode sync\n");
        return -1;
    }
    if (loop) {
        char err[1024];
        opts.async_loop = (plugin_ray_async_ps_fn *)cli_plugin_load(loop, PLUGIN_RAY_ASYNC_PS, NULL, err,
                                                                    sizeof err);
        if (!opts.async_loop) {
            fprintf(stderr, "distlab run ray-ps: --async-loop: %s\n", err);
            return -1;
        }
    }
    ctx->setup.algo = &opts;
    return 0;
}

static void summarize(run_ctx *ctx, const job_result *res, records *rec)
{
    (void)ctx;
    (void)res;
    records_set_str(rec, "mode", ray_ps_mode_name(opts.mode));
    records_set_num(rec, "task_overhead_s", opts.ray.task_overhead_s);
    records_set_int(rec, "inline_threshold_bytes", (long)opts.ray.inline_bytes);
    /* what the timeline and the trace call each task (ray.h) */
    ray_program prog = ray_ps_program();
    int n = ray_span_count(&prog);
    char (*names)[RECORDS_SPAN_NAME_MAX + 1] = calloc((size_t)n, sizeof *names);
    const char **list = calloc((size_t)n, sizeof *list);
    for (int i = 0; names && list && i < n; i++) {
        ray_span_name(&prog, i, names[i], sizeof names[i]);
        list[i] = names[i];
    }
    if (names && list)
        records_set_span_names(rec, n, list);
    free(list);
    free(names);
}

/* A worker's node died, and the driver (rank 0) finished the training:
 * Ray restarted the worker's actor elsewhere. */
static int survived(run_ctx *ctx, const job_result *res)
{
    train_out *o = job_result_slot(res, ctx->setup.reporter);
    if (res->rank_status[0] != RT_OK || o->npoints == 0)
        return 0;
    /* the dead nodes' counts up to their deaths (ray.h: ray_stats_keep) */
    char missing[256] = "";
    for (int i = 1; i < res->ranks; i++) {
        const train_out *dead = job_result_slot(res, i);
        if (res->rank_status[i] != RT_OK && !ray_stats_add_kept(o->stats, dead->stats))
            snprintf(missing + strlen(missing), sizeof missing - strlen(missing), "%s%d",
                     *missing ? ", " : "", i);
    }
    if (*missing)
        fprintf(stderr, "distlab run ray-ps: the ray_* totals leave out rank %s: its process ended "
                "without keeping its counts\n", missing);
    fprintf(stderr, "distlab run ray-ps: %.0f actor restart%s, %.0f call%s lost, %.0f %s\n",
            o->stats[RAY_STAT_ACTOR_RESTARTS], o->stats[RAY_STAT_ACTOR_RESTARTS] == 1 ? "" : "s",
            o->stats[RAY_STAT_CALLS_LOST], o->stats[RAY_STAT_CALLS_LOST] == 1 ? "" : "s",
            o->stats[RAY_PS_STAT_STEPS_REDONE],
            opts.mode == RAY_PS_SYNC ? "step(s) run again" : "gradient(s) lost");
    return 1;
}

const run_algo run_algo_ray_ps = {
    .algo = &ray_ps_algo,
    .configure = configure_ray_ps,
    .summarize = summarize,
    .survived = survived,
};
