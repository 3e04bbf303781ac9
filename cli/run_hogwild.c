/* run_hogwild.c -- `distlab run hogwild`: lock-free asynchronous SGD on
 * weights shared by the workers of one host (algorithms/hogwild.c), and
 * its locked baselines (--sync lock, --sync round-robin).
 *
 * In simulation the workers get one host with a core each (--hosts 1,
 * --cores P unless --cores or a calibration of one machine says
 * otherwise), so the simulated time shows perfect parallelism while the interleaving of reads and writes shows
 * the staleness. On real sockets they are threads (or, with --launch
 * procs, processes sharing one mapping) of this machine.
 */
#include <math.h>
#include <stdio.h>

#include "algorithms/hogwild.h"
#include "cli/run.h"

static hogwild_opts opts;

static int configure(run_ctx *ctx)
{
    const cli_args *a = ctx->args;
    const char *verb = "run hogwild";
    opts = (hogwild_opts){.sync = HOGWILD_SYNC_NONE, .target_loss = NAN};
    int sync = HOGWILD_SYNC_NONE;
    if (cli_get_choice(a, verb, "sync", hogwild_sync_names, &sync) ||
        cli_get_double(a, verb, "target-loss", &opts.target_loss))
        return -1;
    opts.sync = (hogwild_sync)sync;
    if (ctx->cfg.backend == &real_backend && ctx->real.launch == REAL_LAUNCH_HOSTS) {
        fprintf(stderr, "distlab run hogwild: --launch hosts: the workers share memory, so they run "
                "on one machine (--launch threads or procs)\n");
        return -1;
    }
    if (ctx->cfg.backend == &sim_backend && !ctx->sim.platform) {
        if (cli_get(a, "hosts") && ctx->sim.hosts != 1) {
            fprintf(stderr, "distlab run hogwild: --hosts: the workers share memory, so they "
                    "run on one host, not %d\n", ctx->sim.hosts);
            return -1;
        }
        ctx->sim.hosts = 1;
        if (!cli_get(a, "cores") && !ctx->sim.one_machine) /* a calibration's: the machine's */
            ctx->sim.cores = ctx->workers;
    }
    ctx->setup.algo = &opts;
    return 0;
}

static void summarize(run_ctx *ctx, const job_result *res, records *rec)
{
    (void)ctx;
    (void)res;
    records_set_str(rec, "sync", hogwild_sync_names[opts.sync]);
    if (!isnan(opts.target_loss))
        records_set_num(rec, "target_loss", opts.target_loss);
}

const run_algo run_algo_hogwild = {
    .algo = &hogwild_algo,
    .configure = configure,
    .summarize = summarize,
};
