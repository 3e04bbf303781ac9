/* run_faults.c -- `distlab run ... --kill-rank RANK:STEP`: a training rank
 * fails at the start of one of its steps, on every backend and for every
 * algorithm (train_setup.crash, called through train_step_begin).
 *
 * How it fails is the backend's: in simulation its host goes down at that
 * simulated time (as with --fail RANK@TIME); on real sockets in processes
 * (--launch procs or hosts) its process exits at once, as a crash would;
 * as a thread (--launch threads) it aborts its connections and returns.
 * In each case its peers learn of it as they would of a real crash: from
 * the receives that fail. What the others do then is the algorithm's:
 * async and ssp parameter servers go on without a dead worker, the rest
 * stop with an error naming the rank.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli/run.h"
#include "real/real.h"

static int crash_rank(void *arg, rt *r, long step)
{
    run_ctx *ctx = arg;
    if (rt_rank(r) != ctx->kill_rank || step != ctx->kill_step)
        return 0;
    fprintf(stderr, "distlab run %s: rank %d fails at its step %ld (--kill-rank)\n", ctx->algo,
            ctx->kill_rank, step);
    if (ctx->cfg.backend == &sim_backend) {
        sim_rank_fail(r);
    } else if (ctx->real.launch == REAL_LAUNCH_THREADS) {
        real_abort_connections(r);
    } else {
        fflush(NULL);
        _exit(1);
    }
    return 1;
}

static void install(run_ctx *ctx)
{
    ctx->setup.crash = crash_rank;
    ctx->setup.crash_ctx = ctx;
}

int run_faults_configure(run_ctx *ctx, const char *verb)
{
    const char *v = cli_get(ctx->args, "kill-rank");
    if (v && ctx->kill_rank >= 0) {
        fprintf(stderr, "distlab %s: --kill-rank: one rank fails at a time, and another option "
                "named one already\n", verb);
        return -1;
    }
    if (!v) {
        if (ctx->kill_rank >= 0) /* an algorithm's own option (run ps --kill-worker) */
            install(ctx);
        return 0;
    }
    char *end;
    long rank = strtol(v, &end, 10);
    long step = -1;
    if (end != v && *end == ':' && end[1] >= '0' && end[1] <= '9')
        step = strtol(end + 1, &end, 10);
    if (step < 0 || *end || rank < 0 || rank >= ctx->cfg.ranks) {
        fprintf(stderr, "distlab %s: --kill-rank: expected RANK:STEP, a rank from 0 to %d and a "
                "step >= 0, got '%s'\n", verb, ctx->cfg.ranks - 1, v);
        return -1;
    }
    ctx->kill_rank = (int)rank;
    ctx->kill_step = step;
    install(ctx);
    return 0;
}

void run_faults_report(const run_ctx *ctx, int failed, const char *verb)
{
    if (ctx->kill_rank >= 0 && !failed)
        fprintf(stderr, "distlab %s: --kill-rank %d:%ld: nothing failed (rank %d never began that "
                "step: it trains fewer steps, or not at all)\n", verb, ctx->kill_rank, ctx->kill_step,
                ctx->kill_rank);
}
