/* run_faults.c -- failures and checkpoints of `distlab run`.
 *
 * --kill-rank RANK:STEP: a training rank fails at the start of one of its
 * steps, on every backend and for every algorithm (train_setup.crash,
 * called through train_step_begin).
 *
 * How it fails is the backend's: in simulation its host goes down at that
 * simulated time (as with --fail RANK@TIME); on real sockets in processes
 * (--launch procs or hosts) its process exits at once, as a crash would;
 * as a thread (--launch threads) it aborts its connections and returns.
 * In each case its peers learn of it as they would of a real crash: from
 * the receives that fail. What the others do then is the algorithm's:
 * async and ssp parameter servers go on without a dead worker, the rest
 * stop with an error naming the rank.
 *
 * --checkpoint-every EPOCHS: each rank's state (train_worker_checkpoint;
 * the parameter server's ps_server_checkpoint and ps_worker_checkpoint)
 * goes to OUT/checkpoint/rank-R.step-S.bin, written under another name and
 * renamed, so a file is whole or absent; each rank keeps its two latest, so
 * that a run stopped while the ranks were writing still has a step every
 * rank saved. --resume DIR reads, before the job, the latest step for which
 * every rank's file is there, and hands each rank its bytes (setup.load).
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/run.h"
#include "core/files.h"
#include "core/units.h"
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

/* Every kill of `distlab run` (--kill-rank, and an algorithm's own: run
 * ps --kill-worker, ray-ps's and lda's --kill-rank) comes through here. */
static void install(run_ctx *ctx)
{
    ctx->setup.crash = crash_rank;
    ctx->setup.crash_ctx = ctx;
    ctx->sim.ranks_may_fail = 1; /* sim_rank_fail: ranks stay at SimGrid's clock */
}

/* ---- checkpoints ---- */

static int parse_step(const char *name, int *rank, long *step)
{
    int used = 0;
    if (sscanf(name, "rank-%d.step-%ld.bin%n", rank, step, &used) != 2 || name[used] != '\0')
        return -1;
    return *rank >= 0 && *step >= 0 ? 0 : -1;
}

static int newest_first(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x < y) - (x > y);
}

/* rank's saved steps in dir, newest first: how many (at most cap) */
static int saved_steps(const char *dir, int rank, long *steps, int cap)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    long all[256];
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL && n < 256;) {
        int r;
        long s;
        if (parse_step(e->d_name, &r, &s) == 0 && r == rank)
            all[n++] = s;
    }
    closedir(d);
    qsort(all, (size_t)n, sizeof *all, newest_first);
    if (n > cap)
        n = cap;
    memcpy(steps, all, (size_t)n * sizeof *steps);
    return n;
}

static int save_checkpoint(void *arg, rt *r, long step, const void *buf, size_t len)
{
    run_ctx *ctx = arg;
    int rank = rt_rank(r);
    char dir[4096], tmp[4200], path[4200];
    snprintf(dir, sizeof dir, "%s/checkpoint", ctx->outdir);
    mkdir(ctx->outdir, 0777);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return rt_fail(r, RT_EIO, "%s: %s", dir, strerror(errno));
    snprintf(tmp, sizeof tmp, "%s/.rank-%d.tmp", dir, rank);
    snprintf(path, sizeof path, "%s/rank-%d.step-%ld.bin", dir, rank, step);
    FILE *f = fopen(tmp, "wb");
    int bad = !f || fwrite(buf, 1, len, f) != len;
    if (f && fclose(f) != 0)
        bad = 1;
    if (bad || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return rt_fail(r, RT_EIO, "%s: %s", path, strerror(e));
    }
    /* keep the two latest */
    long steps[64];
    int n = saved_steps(dir, rank, steps, 64);
    for (int i = 2; i < n; i++) {
        snprintf(path, sizeof path, "%s/rank-%d.step-%ld.bin", dir, rank, steps[i]);
        unlink(path);
    }
    return 0;
}

static const void *load_checkpoint(void *arg, rt *r, size_t *len)
{
    run_ctx *ctx = arg;
    *len = ctx->resume_len[rt_rank(r)];
    return ctx->resume[rt_rank(r)];
}

static const char *checkpoint_source(void *arg, rt *r)
{
    run_ctx *ctx = arg;
    return ctx->resume_path[rt_rank(r)];
}

/* The latest step every rank saved in DIR/checkpoint, read into ctx. */
static int read_resume(run_ctx *ctx, const char *verb, const char *from)
{
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s/checkpoint", from);
    int P = ctx->cfg.ranks;
    long best = -1;
    for (long cand[2], k = 0; k < 2; k++) { /* a rank's newest two; one of them is common */
        if (saved_steps(dir, 0, cand, 2) <= k)
            break;
        int all = 1;
        for (int rank = 1; rank < P && all; rank++) {
            snprintf(path, sizeof path, "%s/rank-%d.step-%ld.bin", dir, rank, cand[k]);
            all = access(path, R_OK) == 0;
        }
        if (all) {
            best = cand[k];
            break;
        }
    }
    if (best < 0) {
        fprintf(stderr, "distlab %s: --resume: %s holds no checkpoint that all %d ranks saved "
                "(run with --checkpoint-every EPOCHS first)\n", verb, dir, P);
        return -1;
    }
    snprintf(path, sizeof path, "%s/rank-%d.step-%ld.bin", dir, P, best);
    if (access(path, F_OK) == 0) {
        fprintf(stderr, "distlab %s: --resume: %s was saved by more than %d ranks: resume with the "
                "options it was made with\n", verb, dir, P);
        return -1;
    }
    ctx->resume = calloc((size_t)P, sizeof *ctx->resume);
    ctx->resume_len = calloc((size_t)P, sizeof *ctx->resume_len);
    ctx->resume_path = calloc((size_t)P, sizeof *ctx->resume_path);
    if (!ctx->resume || !ctx->resume_len || !ctx->resume_path)
        return -1;
    for (int rank = 0; rank < P; rank++) {
        snprintf(path, sizeof path, "%s/rank-%d.step-%ld.bin", dir, rank, best);
        if (!(ctx->resume_path[rank] = strdup(path)))
            return -1;
        char why[512];
        if (files_check_regular(path, why, sizeof why) != 0) {
            fprintf(stderr, "distlab %s: --resume: %s\n", verb, why);
            return -1;
        }
        if (cli_read_whole(path, &ctx->resume[rank], &ctx->resume_len[rank]) != 0) {
            fprintf(stderr, "distlab %s: --resume: cannot read %s\n", verb, path);
            return -1;
        }
    }
    ctx->setup.resume_step = best;
    fprintf(stderr, "distlab %s: resuming from step %ld (%s)\n", verb, best, dir);
    return 0;
}

static int configure_checkpoints(run_ctx *ctx, const char *verb)
{
    const char *every = cli_get(ctx->args, "checkpoint-every"), *from = cli_get(ctx->args, "resume");
    if (!every && !from)
        return 0;
    const train_algo *desc = run_algo_find(ctx->algo)->algo;
    if (!desc->checkpoints) {
        fprintf(stderr, "distlab %s: --%s: only the synchronous trainers (allreduce, serial, psgd, "
                "ps under bsp, distbelief model-parallel) keep checkpoints yet\n", verb, every ? "checkpoint-every" : "resume");
        return -1;
    }
    if (every) {
        double e;
        if (cli_get_double(ctx->args, verb, "checkpoint-every", &e))
            return -1;
        if (!(e >= 1e-6 && e <= 1e6)) {
            fprintf(stderr, "distlab %s: --checkpoint-every: %g is not a number of epochs from "
                    "1e-6 to 1e6\n", verb, e);
            return -1;
        }
        ctx->setup.checkpoint_every = e;
        ctx->setup.save = save_checkpoint;
    }
    if (from) {
        if (ctx->cfg.backend == &real_backend && ctx->real.launch == REAL_LAUNCH_HOSTS) {
            fprintf(stderr, "distlab %s: --resume: not with --launch hosts yet (each machine holds "
                    "only its own ranks' checkpoints)\n", verb);
            return -1;
        }
        if (read_resume(ctx, verb, from) != 0)
            return -1;
        ctx->setup.load = load_checkpoint;
        ctx->setup.source = checkpoint_source;
    }
    ctx->setup.checkpoint_ctx = ctx;
    return 0;
}

int run_parse_pair(const char *v, long max_a, long *a, long *b)
{
    const char *colon = strchr(v, ':');
    char first[32], err[256];
    if (!colon || (size_t)(colon - v) >= sizeof first || max_a < 0)
        return -1;
    memcpy(first, v, (size_t)(colon - v));
    first[colon - v] = '\0';
    return units_int(first, 0, max_a, a, err, sizeof err) == 0 &&
                   units_int(colon + 1, 0, LONG_MAX, b, err, sizeof err) == 0
               ? 0
               : -1;
}

int run_faults_configure(run_ctx *ctx, const char *verb)
{
    if (configure_checkpoints(ctx, verb) != 0)
        return -1;
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
    long rank = -1, step = -1;
    if (run_parse_pair(v, ctx->cfg.ranks - 1, &rank, &step) != 0) {
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
