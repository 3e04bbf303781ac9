/* test_faults.c -- failures: a simulated host that goes down (--fail), a
 * link degraded for a while (--degrade), a rank made to fail at a step
 * (--kill-rank) in simulation and on real sockets, and checkpoints
 * (--checkpoint-every, --resume) that give a stopped run its bits back. The runtime's promise
 * first (what was sent before arrives, then receives fail, an any-source
 * one once), then what each algorithm family does with it, through the
 * distlab command.
 *
 * The command's cases run the binary named by $DISTLAB (make check sets
 * it), else the one next to the tests folder; they skip when there is none.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "algorithms/collectives.h"
#include "core/job.h"
#include "real/real.h"
#include "real/real_backend.h"
#include "sim/sim_backend.h"
#include "tests/util_distlab.h"
#include "tests/util_files.h"

static char tmpdir[256], output[65536];
static int have_binary;

#define NEED_BINARY()     \
    do {                  \
        if (!have_binary) \
            skip();       \
    } while (0)

#define run(...) test_distlab_run(output, sizeof output, __VA_ARGS__)

static void assert_says(const char *what)
{
    if (!strstr(output, what))
        fail_msg("expected \"%s\" in:\n%s", what, output);
}

/* ---- the runtime: what a failed peer looks like ---- */

typedef struct seen {
    int first_rc, first_source; /* rank 0's receives, in turn */
    int second_rc, second_source;
    int third_rc;
    int value;
    double t_fail;
    char second_err[256];
} seen;

/* Rank 1 sends 42 to rank 0 and waits on a message that never comes; its
 * host goes down at 1 ms. Rank 0 receives the 42, then any-source (hears
 * of rank 1, once), then from rank 1 by name (fails again). */
static int last_word_rank(rt *r, void *arg)
{
    (void)arg;
    seen *s = job_slot(r);
    int v = 42;
    if (rt_rank(r) == 1) {
        if (rt_send(r, 0, 0, &v, sizeof v))
            return rt_fail(r, RT_EIO, "send: %s", rt_error(r));
        return rt_recv(r, 0, 1, &v, sizeof v, NULL); /* never sent: it dies waiting */
    }
    rt_status st = {.source = -1};
    s->first_rc = rt_recv(r, 1, 0, &s->value, sizeof s->value, &st);
    s->first_source = st.source;
    st.source = -1;
    s->second_rc = rt_recv(r, RT_ANY_SOURCE, 0, &v, sizeof v, &st);
    s->second_source = st.source;
    s->t_fail = rt_now(r);
    snprintf(s->second_err, sizeof s->second_err, "%s", rt_error(r));
    s->third_rc = rt_recv(r, 1, 0, &v, sizeof v, NULL);
    return RT_OK;
}

static void a_dead_peers_messages_arrive_then_receives_fail(void **state)
{
    (void)state;
    sim_config sim = sim_config_default();
    sim.nfaults = 1;
    sim.faults[0] = (sim_fault){.kind = SIM_FAULT_FAIL, .rank = 1, .at_s = 1e-3};
    job_config cfg = sim_job_config(&sim);
    cfg.ranks = 2;
    cfg.result_bytes = sizeof(seen);
    job_result res;
    assert_int_not_equal(job_run(&cfg, last_word_rank, NULL, &res), 0); /* rank 1 died */
    assert_non_null(strstr(res.error, "rank 1"));
    assert_non_null(strstr(res.error, "0.001 simulated seconds"));
    const seen *s = job_result_slot(&res, 0);
    assert_int_equal(res.rank_status[0], RT_OK);
    assert_int_equal(s->first_rc, RT_OK);
    assert_int_equal(s->value, 42);
    assert_int_equal(s->first_source, 1);
    assert_int_equal(s->second_rc, RT_EPEER);
    assert_int_equal(s->second_source, 1);
    assert_non_null(strstr(s->second_err, "rank 1"));
    /* heard one latency after the failure: 1 ms + 50 us + a byte */
    assert_true(s->t_fail > 1e-3 && s->t_fail < 1e-3 + 60e-6);
    assert_int_equal(s->third_rc, RT_EPEER);
    assert_int_equal(res.rank_status[1], RT_EKILLED);
    job_result_free(&res);
}

/* Direct exchanges with a dead rank, on real sockets: rank 1 hangs up
 * (as a --kill-rank thread does) and the others, once their receive from
 * it has failed, run allgatherv or reduce_scatterv. A send to rank 1 then
 * fails at once; each rank stopped sending at that send, so ranks 2 and 3
 * waited for each other's blocks until the job's timeout (run distbelief
 * --mode model-parallel --kill-rank 1:3 sat out --timeout in 7 of 30
 * runs), and still ended with the send's RT_EPEER. Each must fail on the
 * dead rank's block alone, long before the timeout (a few milliseconds
 * against 30 s: no load makes up the difference). */
static int exchange_with_a_dead_rank(rt *r, void *arg)
{
    int gather = *(const int *)arg;
    if (rt_rank(r) == 1) {
        real_abort_connections(r);
        return rt_fail(r, RT_EKILLED, "made to fail");
    }
    int v;
    if (rt_recv(r, 1, 0, &v, sizeof v, NULL) != RT_EPEER)
        return rt_fail(r, RT_EINVAL, "a receive from the dead rank did not fail as RT_EPEER");
    float buf[8] = {0};
    size_t counts[4] = {2, 2, 2, 2};
    double t0 = rt_now(r);
    int rc = gather ? allgatherv(r, buf, counts, NULL) : reduce_scatterv(r, buf, counts, NULL);
    *(double *)job_slot(r) = rt_now(r) - t0;
    return rc;
}

static void direct_exchanges_with_a_dead_rank_fail_without_waiting(void **state)
{
    (void)state;
    for (int gather = 0; gather < 2; gather++) {
        job_config cfg = real_job_config(NULL);
        cfg.ranks = 4;
        cfg.timeout_s = 30;
        cfg.result_bytes = sizeof(double);
        job_result res;
        assert_int_not_equal(job_run(&cfg, exchange_with_a_dead_rank, &gather, &res), 0);
        assert_int_equal(res.rank_status[1], RT_EKILLED);
        for (int i = 0; i < 4; i++)
            if (i != 1 && res.rank_status[i] != RT_EPEER)
                fail_msg("%s: rank %d ended with %d (%s), expected RT_EPEER; the job: %s",
                         gather ? "allgatherv" : "reduce_scatterv", i, res.rank_status[i],
                         rt_strerror(res.rank_status[i]), res.error);
            else if (i != 1 && *(const double *)job_result_slot(&res, i) > cfg.timeout_s / 2)
                fail_msg("%s: rank %d waited %g s of the %g s timeout for blocks no one sent",
                         gather ? "allgatherv" : "reduce_scatterv", i,
                         *(const double *)job_result_slot(&res, i), cfg.timeout_s);
        job_result_free(&res);
    }
}

/* ---- every algorithm family under --fail ---- */

#define SMALL "--dataset synth-dense:n=2000,d=20,classes=2 --epochs 4 --quiet --no-figures"
#define SPARSE "--dataset synth-sparse:n=4000,d=500,nnz=10 --model logreg --epochs 3 --workers 4 " \
               "--servers 2 --quiet --no-figures"

static void synchronous_families_stop_naming_rank_and_time(void **state)
{
    (void)state;
    NEED_BINARY();
    static const char *const runs[] = {
        "allreduce --workers 4 --model logreg --fail 2@0.005s",
        "psgd --workers 4 --model logreg --fail 2@0.0002s",
        "hogwild --workers 4 --model logreg --fail 2@0.00005s",
        "distbelief --mode downpour --workers 4 --model mlp:16 --fail 2@0.001s",
        "distbelief --mode sandblaster --workers 4 --model mlp:16 --fail 2@0.001s",
        "distbelief --mode model-parallel --workers 4 --model mlp:16 --fail 2@0.001s",
    };
    for (size_t i = 0; i < sizeof runs / sizeof *runs; i++) {
        int rc = run("run %s %s --out %s/f%zu", runs[i], SMALL, tmpdir, i);
        if (rc != 1)
            fail_msg("run %s: exit %d, expected 1:\n%s", runs[i], rc, output);
        assert_says("rank 2: its host went down at ");
        assert_says("simulated seconds (--fail 2@");
    }
}

static void async_and_ssp_servers_go_on_without_a_dead_worker(void **state)
{
    (void)state;
    NEED_BINARY();
    char path[512], summary[16384];
    size_t len;
    assert_int_equal(run("run ps %s --consistency async --fail 4@0.002s --out %s/async", SPARSE, tmpdir), 0);
    assert_says("1 worker died; training finished with the others");
    snprintf(path, sizeof path, "%s/async/summary.json", tmpdir);
    assert_int_equal(test_read_file(path, summary, sizeof summary - 1, &len), 0);
    summary[len] = '\0';
    assert_non_null(strstr(summary, "workers_lost_note"));
    assert_int_equal(run("run ps %s --consistency ssp --staleness 2 --fail 3@0.002s --out %s/ssp",
                         SPARSE, tmpdir), 0);
    assert_says("1 worker died");
    assert_int_equal(run("run ps %s --consistency bsp --fail 4@0.002s --out %s/bsp", SPARSE, tmpdir), 1);
    assert_says("under bsp no iteration can complete without it");
    assert_says("rank 4: its host went down at 0.002 simulated seconds");
    /* ssp's default staleness is 0, which is bsp: said so, not "under bsp" */
    assert_int_equal(run("run ps %s --consistency ssp --fail 4@0.002s --out %s/ssp0", SPARSE, tmpdir), 1);
    assert_says("under ssp with --staleness 0 (bsp) no iteration can complete without it");
    assert_says("rank 4: its host went down at 0.002 simulated seconds");
    /* a server is no worker: the run cannot go on */
    assert_int_equal(run("run ps %s --consistency async --fail 0@0.002s --out %s/srv", SPARSE, tmpdir), 1);
    assert_says("rank 0: its host went down");
}

static void fail_refuses_what_it_cannot_do(void **state)
{
    (void)state;
    NEED_BINARY();
    static const test_refusal cases[] = {
        {"collective --workers 8 --fail 9@1ms", "rank 9 at 0.001 s, but the job has ranks 0 to 7"},
        {"collective --workers 8 --fail 3@-1s", "'-1s' is not a time"},
        {"collective --workers 8 --fail 3@1x", "'1x' is not a time"},
        {"collective --workers 8 --fail 3@0s", "the time must be above 0"},
        {"collective --workers 8 --fail 3", "expected RANK@TIME"},
        {"collective --workers 8 --fail x@1s", "'x' is not a whole number"},
        {"collective --workers 8 --backend real --fail 3@1s", "failures are injected in simulation "
                                                              "(--backend sim); on real sockets only "
                                                              "`distlab run ALGO` has one"},
        {"run allreduce --workers 2 --backend real --fail 1@1s", "`distlab run` takes --kill-rank"},
        {"collective --backend real --degrade cluster_link_1_UP:0.5@0s-1s", "changes only in simulation"},
        {"collective --workers 8 --degrade l:0@1s-2s", "the factor must be a number above 0"},
        {"collective --workers 8 --degrade l:0.5@2s-1s", "the window must end after it starts"},
        {"collective --workers 8 --degrade l@1s-2s", "expected LINK:FACTOR@START-END"},
        {"run serial --dataset synth-dense:n=200,d=5,classes=2 --fail 1@1s", "the job has ranks 0 to 0"},
        {"run allreduce --workers 2 --kill-rank 2:1", "a rank from 0 to 1"},
        {"run allreduce --workers 2 --kill-rank 1", "expected RANK:STEP"},
        {"run ps --workers 2 --kill-worker 0:1 --kill-rank 1:1", "one rank fails at a time"},
        /* whole numbers: the step was read as LONG_MAX, ' 1' as 1 */
        {"run allreduce --workers 2 --kill-rank 1:99999999999999999999", "expected RANK:STEP"},
        {"run allreduce --workers 2 --kill-rank ' 1:2'", "expected RANK:STEP"},
        {"run ps --workers 2 --kill-worker 1:99999999999999999999", "expected W:ITER"},
    };
    test_distlab_refuses("", cases, sizeof cases / sizeof *cases);
    /* found once the platform is loaded, in the simulation's process:
     * still the command line's input (exit 2; it was 1, a failed run) */
    assert_int_equal(run("collective --workers 8 --degrade nolink:0.5@1us-1s"), 2);
    assert_says("the platform has no link of that name");
    assert_says("cluster_link_0_DOWN");
}

/* ---- --degrade: a window's cost is its closed form ---- */

static double ring_seconds(const char *extra)
{
    int rc = run("collective --workers 8 --bytes 8MB %s", extra);
    if (rc != 0)
        fail_msg("collective %s: exit %d:\n%s", extra, rc, output);
    const char *row = strstr(output, "sim,allreduce,ring,8,8000000,");
    if (!row)
        fail_msg("no result row in:\n%s", output);
    return strtod(row + strlen("sim,allreduce,ring,8,8000000,"), NULL);
}

static void a_degraded_link_costs_its_closed_form(void **state)
{
    (void)state;
    NEED_BINARY();
    /* ring allreduce: 2(p-1) steps of n/p bytes each; with one sender's
     * link at f times 10 Gb/s for the whole run, each step waits for it */
    double p = 8, n = 8e6, B = 1.25e9, f = 0.1;
    double clean = ring_seconds("");
    double slow = ring_seconds("--degrade cluster_link_3_UP:0.1@1us-10s");
    double expect = 2 * (p - 1) * (n / p) / B * (1 / f - 1);
    if (fabs((slow - clean) - expect) > 1e-6 * expect)
        fail_msg("degraded %.9g - clean %.9g = %.9g, expected %.9g", slow, clean, slow - clean, expect);
    /* a window that closes midway costs part of that */
    double part = ring_seconds("--degrade cluster_link_3_UP:0.1@1us-20ms");
    assert_true(part > clean + 0.01 && part < slow - 0.01);
}

/* ---- --kill-rank: one rank fails at a step, on every backend ---- */

static void kill_rank_acts_alike_in_sim_and_on_sockets(void **state)
{
    (void)state;
    NEED_BINARY();
    static const char *const backends[] = {"", "--backend real", "--backend real --launch procs"};
    for (int b = 0; b < 3; b++) {
        assert_int_equal(run("run ps %s --consistency async --kill-rank 3:5 %s --out %s/k%d", SPARSE,
                             backends[b], tmpdir, b), 0);
        assert_says("rank 3 fails at its step 5 (--kill-rank)");
        assert_says("1 worker died; training finished with the others");
        int rc = run("run allreduce --workers 4 --model logreg %s --kill-rank 1:3 %s --out %s/a%d", SMALL,
                     backends[b], tmpdir, b);
        if (rc != 1)
            fail_msg("allreduce %s: exit %d:\n%s", backends[b], rc, output);
        assert_says("rank 1 fails at its step 3");
    }
    /* a step the rank never reaches: nothing fails, and it says so */
    assert_int_equal(run("run allreduce --workers 4 --model logreg %s --kill-rank 1:100000 --out %s/never",
                         SMALL, tmpdir), 0);
    assert_says("nothing failed (rank 1 never began that step");
}

/* The families the cases above leave out, on both backends: each one
 * reaches the rank's step and fails it there, and the others react as
 * their algorithm says (ray-ps restarts the lost actor and goes on, the
 * rest stop naming the rank); in simulation --fail does the same,
 * speculative allreduce-lbfgs included (its tracker stopped on the error
 * while a worker's heartbeat was on its way, which aborted SimGrid). */
#define TINY "--workers 2 --epochs 2 --dataset synth-dense:n=400,d=10,classes=2 --quiet --no-figures"
#define LBFGS "--workers 2 --model logreg --dataset synth-sparse:n=400,d=50,nnz=5 --quiet --no-figures"
#define LDA "--workers 2 --dataset synth-lda:docs=60,vocab=40,topics=3,len=12 --sweeps 3 --quiet --no-figures"

static void every_family_fails_at_a_step_and_a_time(void **state)
{
    (void)state;
    NEED_BINARY();
    static const struct { const char *run; int rc; const char *says; } kills[] = {
        {"ray-ps " TINY " --kill-rank 2:3", 0, "training finished without it"},
        /* async: a worker's first gradient, the one step every worker
         * begins (on a loaded machine worker 0 began only 1 of 14) */
        {"ray-ps --mode async " TINY " --kill-rank 1:0", 0, "training finished without it"},
        /* the runs that stop: which rank's error is reported first is a
         * race on threads (the killed rank's, or a peer's "connection
         * reset"), so they are read by the line the killed rank prints */
        {"allreduce-lbfgs " LBFGS " --kill-rank 1:3", 1, "rank 1 fails at its step 3"},
        {"hogwild " TINY " --kill-rank 1:3", 1, "rank 1 fails at its step 3"},
        {"psgd " TINY " --kill-rank 0:3", 1, "rank 0 fails at its step 3"},
        {"distbelief --mode model-parallel --model mlp:8 " TINY " --kill-rank 1:3", 1, "rank 1 fails at its step 3"},
        /* sandblaster, like async ray-ps, hands work to whoever is free:
         * only a worker's first step is sure to be begun (1:3 never
         * failed in 6 of 50 runs with both cores busy) */
        {"distbelief --mode sandblaster --model mlp:8 " TINY " --kill-rank 1:0", 1, "rank 1 fails at its step 0"},
        {"lda " LDA " --kill-rank 1:1", 1, "rank 1 fails at its step 1"},
    };
    static const char *const backends[] = {"", "--backend real"};
    for (size_t i = 0; i < sizeof kills / sizeof *kills; i++)
        for (int b = 0; b < 2; b++) {
            int rc = run("run %s %s --out %s/e%zu-%d", kills[i].run, backends[b], tmpdir, i, b);
            if (rc != kills[i].rc || !strstr(output, "fails at its step") || !strstr(output, kills[i].says))
                fail_msg("run %s %s: exit %d (expected %d, saying '%s'):\n%s", kills[i].run, backends[b], rc,
                         kills[i].rc, kills[i].says, output);
            /* a kill is no --fail (ray-ps's said "its host went down at
             * 0.0007 simulated seconds (--fail 2@0.0007s)") */
            if (strstr(output, "--fail"))
                fail_msg("run %s %s: a kill reported as a --fail:\n%s", kills[i].run, backends[b], output);
        }
    static const struct { const char *run; int rc; } fails[] = {
        {"ray-ps " TINY " --fail 1@0.0003s", 0},
        {"allreduce-lbfgs " LBFGS " --fail 1@0.0003s", 1},
        {"allreduce-lbfgs " LBFGS " --speculative on --fail 1@0.0003s", 1},
        {"allreduce-lbfgs " LBFGS " --speculative on --spares 1 --fail 2@0.0003s", 1},
        {"lda " LDA " --fail 1@0.0001s", 1},
    };
    for (size_t i = 0; i < sizeof fails / sizeof *fails; i++) {
        int rc = run("run %s --out %s/s%zu", fails[i].run, tmpdir, i);
        if (rc != fails[i].rc || !strstr(output, "its host went down at "))
            fail_msg("run %s: exit %d (expected %d):\n%s", fails[i].run, rc, fails[i].rc, output);
    }
}

/* A rank whose host went down, or a rank that stopped on the error, waits
 * (as a SimGrid daemon) for what its peers had already sent it; when the
 * last rank ended with such a transfer still on the wire, SimGrid freed it
 * unfinished and printed a backtrace of its own under --net ideal (a
 * server's death, a worker's late in the run). The run's error alone must
 * come out: the rank, the time, and nothing from inside SimGrid. */
#define MID "--dataset synth-dense:n=4000,d=50,classes=4 --epochs 3 --workers 4 --quiet --no-figures"

static void assert_no_library_trace(const char *what)
{
    static const char *const traces[] = {"Backtrace", "backtrace", "terminate called", "xbt",
                                         "simgrid::", "Assertion", "Aborted"};
    for (size_t t = 0; t < sizeof traces / sizeof *traces; t++)
        if (strstr(output, traces[t]))
            fail_msg("run %s: \"%s\" in its output:\n%s", what, traces[t], output);
}

static void a_dead_ranks_peers_end_without_a_simgrid_trace(void **state)
{
    (void)state;
    NEED_BINARY();
    static const struct { const char *run, *says; } runs[] = {
        {"ps --consistency async " MID " --fail 0@0.00308442s", "rank 0: its host went down at 0.00308442"},
        {"ps --consistency ssp --staleness 2 " MID " --fail 0@0.000385553s", "rank 0: its host went down"},
        {"ps --consistency async --servers 2 " MID " --fail 0@0.00767942s", "rank 0: its host went down"},
        {"distbelief --mode downpour --model mlp:16 " MID " --fail 0@0.0205196s", "rank 0: its host went down"},
        {"lda --consistency bsp " LDA " --fail 0@0.0001s", "rank 0: its host went down at 0.0001"},
        {"lda --consistency bsp --dataset synth-lda:docs=200,vocab=300,topics=5,len=30 --sweeps 6 --workers 4 "
         "--quiet --no-figures --fail 1@0.00284218s", "rank 1: its host went down"},
        {"lda --consistency async --dataset synth-lda:docs=200,vocab=300,topics=5,len=30 --sweeps 6 --workers 4 "
         "--quiet --no-figures --kill-rank 0:3", "rank 0: made to fail at its step 3 (--kill-rank)"},
    };
    static const char *const nets[] = {"ideal", "analytic"};
    for (size_t i = 0; i < sizeof runs / sizeof *runs; i++)
        for (int n = 0; n < 2; n++) {
            char what[512];
            snprintf(what, sizeof what, "%s --net %s", runs[i].run, nets[n]);
            int rc = run("run %s --out %s/t%zu-%d", what, tmpdir, i, n);
            if (rc != 1 || !strstr(output, runs[i].says))
                fail_msg("run %s: exit %d (expected 1, saying '%s'):\n%s", what, rc, runs[i].says, output);
            assert_no_library_trace(what);
        }
}

/* ---- checkpoints: stopped, resumed, the same bits ---- */

#define CKPT "--dataset synth-dense:n=3000,d=20,classes=3 --model mlp:16 --momentum 0.9 --epochs 3 " \
             "--workers 4 --quiet --no-figures"

static void model_hash(const char *run_dir, char out[17])
{
    char path[512], text[16384];
    size_t len;
    snprintf(path, sizeof path, "%s/%s/summary.json", tmpdir, run_dir);
    assert_int_equal(test_read_file(path, text, sizeof text - 1, &len), 0);
    text[len] = '\0';
    const char *h = strstr(text, "\"model_fnv1a64\": \"");
    assert_non_null(h);
    snprintf(out, 17, "%s", h + strlen("\"model_fnv1a64\": \""));
}

static void a_resumed_run_ends_with_the_bits_of_one_never_stopped(void **state)
{
    (void)state;
    NEED_BINARY();
    static const char *const backends[] = {"", "--backend real", "--backend real --launch procs"};
    for (int b = 0; b < 3; b++) {
        char whole[17], resumed[17];
        assert_int_equal(run("run allreduce %s %s --out %s/whole%d", CKPT, backends[b], tmpdir, b), 0);
        /* 12 steps an epoch: checkpoints at steps 12 and 24, a failure at 30 */
        assert_int_equal(run("run allreduce %s %s --checkpoint-every 1 --kill-rank 2:30 --out %s/stopped%d",
                             CKPT, backends[b], tmpdir, b), 1);
        assert_int_equal(run("run allreduce %s %s --resume %s/stopped%d --out %s/resumed%d", CKPT,
                             backends[b], tmpdir, b, tmpdir, b), 0);
        assert_says("resuming from step 24");
        model_hash("whole0", whole); /* every backend: the simulation's bits */
        char dir[32];
        snprintf(dir, sizeof dir, "resumed%d", b);
        model_hash(dir, resumed);
        if (strcmp(whole, resumed) != 0)
            fail_msg("%s: resumed model %s, never stopped %s", backends[b], resumed, whole);
    }
    /* in simulation the records too: the points before the checkpoint
     * come with it, and the clock goes on from its time */
    char a[8192], c[8192], path[512];
    size_t na, nc;
    snprintf(path, sizeof path, "%s/whole0/metrics.csv", tmpdir);
    assert_int_equal(test_read_file(path, a, sizeof a, &na), 0);
    snprintf(path, sizeof path, "%s/resumed0/metrics.csv", tmpdir);
    assert_int_equal(test_read_file(path, c, sizeof c, &nc), 0);
    assert_int_equal(na, nc);
    assert_memory_equal(a, c, na);
}

/* A stopped run and its resumption against one never stopped: the same
 * model bits, and in simulation the same metrics.csv. */
static void stop_and_resume(const char *verb, const char *opts, const char *backend,
                            const char *kill, const char *from)
{
    char whole[17], resumed[17], a[8192], c[8192], path[512];
    size_t na, nc;
    assert_int_equal(run("run %s %s %s --out %s/w", verb, opts, backend, tmpdir), 0);
    assert_int_equal(run("run %s %s %s --checkpoint-every 1 --kill-rank %s --out %s/s", verb, opts,
                         backend, kill, tmpdir), 1);
    assert_int_equal(run("run %s %s %s --resume %s/s --out %s/r", verb, opts, backend, tmpdir,
                         tmpdir), 0);
    assert_says(from);
    model_hash("w", whole);
    model_hash("r", resumed);
    if (strcmp(whole, resumed) != 0)
        fail_msg("run %s %s: resumed model %s, never stopped %s", verb, backend, resumed, whole);
    if (!*backend) {
        snprintf(path, sizeof path, "%s/w/metrics.csv", tmpdir);
        assert_int_equal(test_read_file(path, a, sizeof a, &na), 0);
        snprintf(path, sizeof path, "%s/r/metrics.csv", tmpdir);
        assert_int_equal(test_read_file(path, c, sizeof c, &nc), 0);
        assert_int_equal(na, nc);
        assert_memory_equal(a, c, na);
    }
}

/* The parameter server under bsp: 2 servers, 2 workers, 24 clocks an
 * epoch; a checkpoint at clock 24, worker rank 3 fails at 30. Dense (the
 * whole range pulled) on every backend, sparse keys in simulation. */
static void a_resumed_bsp_parameter_server_ends_with_the_same_bits(void **state)
{
    (void)state;
    NEED_BINARY();
    static const char *const backends[] = {"", "--backend real", "--backend real --launch procs"};
    const char *dense = "--dataset synth-dense:n=3000,d=20,classes=3 --model mlp:16 --momentum 0.9 "
                        "--epochs 3 --workers 2 --servers 2 --quiet --no-figures";
    for (int b = 0; b < 3; b++)
        stop_and_resume("ps", dense, backends[b], "3:30", "resuming from step 24");
    stop_and_resume("ps", "--dataset synth-sparse:n=3000,d=500,nnz=20 --model logreg --optimizer "
                    "adagrad --epochs 3 --workers 3 --servers 2 --quiet --no-figures", "", "3:30",
                    "resuming from step 16");
}

/* Local SGD (averaging every 5 steps, the local models apart between) and
 * one-shot averaging: each rank's own model and momentum come back. */
static void resumed_local_sgd_and_psgd_end_with_the_same_bits(void **state)
{
    (void)state;
    NEED_BINARY();
    const char *local = "--dataset synth-dense:n=3000,d=20,classes=3 --model mlp:16 --momentum 0.9 "
                        "--epochs 3 --workers 4 --average-every 5 --eval-every 0.5 --quiet "
                        "--no-figures";
    stop_and_resume("psgd", local, "", "2:30", "resuming from step 24");
    stop_and_resume("psgd", local, "--backend real --launch procs", "2:30", "resuming from step 24");
    stop_and_resume("psgd", "--dataset synth-dense:n=3000,d=20,classes=3 --model mlp:16 --epochs 3 "
                    "--workers 4 --average-every end --quiet --no-figures", "", "1:30",
                    "resuming from step 24");
}

/* Model parallelism, split by neurons and by layers (the pipeline): 47
 * steps an epoch, a checkpoint at 47, partition 1 fails at 60. */
static void resumed_model_parallelism_ends_with_the_same_bits(void **state)
{
    (void)state;
    NEED_BINARY();
    const char *common = "--dataset synth-dense:n=3000,d=20,classes=3 --momentum 0.9 --epochs 2 "
                         "--eval-every 0.5 --quiet --no-figures --mode model-parallel";
    char opts[512];
    snprintf(opts, sizeof opts, "%s --partitions 2 --model mlp:16", common);
    stop_and_resume("distbelief", opts, "", "1:60", "resuming from step 47");
    stop_and_resume("distbelief", opts, "--backend real --launch procs", "1:60", "resuming from step 47");
    snprintf(opts, sizeof opts, "%s --partitions 3 --split layers --model mlp:16,8", common);
    stop_and_resume("distbelief", opts, "", "2:60", "resuming from step 47");
}

/* Copy tmpdir/from to tmpdir/to, then write 8 bytes of value at offset
 * into each of rank 0's checkpoint files there (train.c's ckpt_head:
 * step at 32, pass at 40, the clock at 72, the weights from 224); a
 * negative offset counts from the file's end. value NULL: cut the file
 * to offset bytes instead. */
static void damaged_copy(const char *from, const char *to, long offset, const void *value)
{
    char cmd[2048], path[1024];
    snprintf(cmd, sizeof cmd, "rm -rf %s/%s && cp -r %s/%s %s/%s", tmpdir, to, tmpdir, from, tmpdir, to);
    assert_int_equal(system(cmd), 0);
    snprintf(path, sizeof path, "%s/%s/checkpoint", tmpdir, to);
    DIR *d = opendir(path);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (strncmp(e->d_name, "rank-0.", 7) != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s/checkpoint/%s", tmpdir, to, e->d_name);
        n++;
        if (!value) {
            assert_int_equal(truncate(path, offset), 0);
            continue;
        }
        FILE *f = fopen(path, "r+b");
        assert_non_null(f);
        assert_int_equal(fseek(f, offset, offset < 0 ? SEEK_END : SEEK_SET), 0);
        assert_int_equal(fwrite(value, 8, 1, f), 1);
        assert_int_equal(fclose(f), 0);
    }
    closedir(d);
    assert_true(n > 0);
}

/* A damaged checkpoint is refused by the rank that reads it, naming the
 * file and what is wrong, as bad input (exit 2): a pass of 2^40 was
 * replayed shuffle by shuffle (it never ended), a step other than the
 * file's deadlocked the other ranks, a NaN clock put NaN times in
 * metrics.csv, a NaN weight trained on as NaN without a word. */
static void damaged_checkpoints_are_refused(void **state)
{
    (void)state;
    NEED_BINARY();
    assert_int_equal(run("run allreduce %s --checkpoint-every 1 --out %s/ck", CKPT, tmpdir), 0);
    int64_t huge = (int64_t)1 << 40, other = 5;
    double nan_clock = NAN;
    float inf[2] = {INFINITY, 1}; /* 8 bytes: weights 0 and 1 */
    static const struct { long offset; const char *says; } cases[] = {
        {40, "rank 0's checkpoint is damaged: its place in the data"},
        {32, "rank 0's checkpoint is damaged: its step"},
        {72, "rank 0's checkpoint is damaged: its schedule or clock"},
        {224, "rank 0's checkpoint is damaged: its weight 1 of 387 is nan, not finite"},
        {224, "rank 0's checkpoint is damaged: its weight 0 of 387 is inf, not finite"},
        {1000, "rank 0's checkpoint is damaged: its length"}, /* cut short */
        {100, "rank 0's checkpoint is 100 bytes, too short"},
    };
    const void *values[] = {&huge, &other, &nan_clock, &nan_clock, inf, NULL, NULL};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        damaged_copy("ck", "damaged", cases[i].offset, values[i]);
        int st = run("run allreduce %s --resume %s/damaged --out %s/x", CKPT, tmpdir, tmpdir);
        if (st != 2 || !strstr(output, cases[i].says) || !strstr(output, "/damaged/checkpoint/rank-0.step-"))
            fail_msg("offset %ld: exit %d, expected 2, the file's name and '%s' in:\n%s", cases[i].offset, st,
                     cases[i].says, output);
    }
    /* on sockets too, in processes: the refusal crosses back to the parent */
    damaged_copy("ck", "damaged", 224, &nan_clock);
    assert_int_equal(run("run allreduce %s --backend real --launch procs --resume %s/damaged --out %s/x", CKPT,
                         tmpdir, tmpdir), 2);
    assert_says("is nan, not finite");
    /* a parameter server's (ps_checkpoint.c's ckpt_server: the clock at
     * 88, the staleness sum since the last snapshot at 120): damaged, not
     * of another run. 2^40's bits over a staleness sum had read as a
     * staleness_mean of 6.79e-313. */
    assert_int_equal(run("run ps %s --checkpoint-every 1 --out %s/psck", CKPT, tmpdir), 0);
    static const struct { long offset; const char *says; } ps_cases[] = {
        {88, "ps server 0's checkpoint (rank 0) is damaged: its examples, schedule or clock"},
        {120, "ps server 0's checkpoint (rank 0) is damaged: its staleness and update counts"},
        {-8, "ps server 0's checkpoint (rank 0) is damaged: a snapshot's weights are not finite"},
    };
    const void *ps_values[] = {&nan_clock, &huge, &nan_clock};
    for (size_t i = 0; i < sizeof ps_cases / sizeof *ps_cases; i++) {
        damaged_copy("psck", "damaged", ps_cases[i].offset, ps_values[i]);
        int st = run("run ps %s --resume %s/damaged --out %s/x", CKPT, tmpdir, tmpdir);
        if (st != 2 || !strstr(output, ps_cases[i].says) || strstr(output, "not of this run"))
            fail_msg("ps, offset %ld: exit %d, expected 2 and '%s' in:\n%s", ps_cases[i].offset, st,
                     ps_cases[i].says, output);
    }
    assert_int_equal(run("run ps %s --model mlp:8 --resume %s/psck --out %s/x", CKPT, tmpdir, tmpdir), 2);
    assert_says("is not of this run");
    /* the algorithms' own bytes at the end: local SGD's next evaluation,
     * model parallelism's (a NaN schedule never came due: no points) */
    const char *local = "--dataset synth-dense:n=3000,d=20,classes=3 --model mlp:16 --epochs 2 --workers 2 "
                        "--average-every 5 --quiet --no-figures";
    assert_int_equal(run("run psgd %s --checkpoint-every 1 --out %s/pck", local, tmpdir), 0);
    damaged_copy("pck", "damaged", -8, &nan_clock);
    assert_int_equal(run("run psgd %s --resume %s/damaged --out %s/x", local, tmpdir, tmpdir), 2);
    assert_says("rank 0's checkpoint is damaged: its averaging rounds or evaluation schedule");
    const char *mp = "--dataset synth-dense:n=3000,d=20,classes=3 --epochs 2 --quiet --no-figures --mode "
                     "model-parallel --partitions 2 --model mlp:16";
    assert_int_equal(run("run distbelief %s --checkpoint-every 1 --out %s/mck", mp, tmpdir), 0);
    damaged_copy("mck", "damaged", -8, &nan_clock);
    assert_int_equal(run("run distbelief %s --resume %s/damaged --out %s/x", mp, tmpdir, tmpdir), 2);
    assert_says("rank 0's checkpoint is damaged: its evaluation schedule (next evaluation at nan)");
}

static void checkpoints_refuse_what_they_cannot_do(void **state)
{
    (void)state;
    NEED_BINARY();
    assert_int_equal(run("run allreduce %s --checkpoint-every 1 --out %s/ck", CKPT, tmpdir), 0);
    char bad[1024];
    snprintf(bad, sizeof bad, "--resume %s/ck", tmpdir);
    const test_refusal cases[] = {
        {"run hogwild --workers 2 --checkpoint-every 1", "only the synchronous trainers"},
        {"run ps --workers 2 --consistency async --checkpoint-every 1", "only under --consistency bsp"},
        {"run distbelief --mode downpour --checkpoint-every 1", "only --mode model-parallel keeps"},
        {"run ps --workers 2 --consistency ssp --staleness 2 --checkpoint-every 1",
         "only under --consistency bsp"},
        {"run allreduce --workers 2 --checkpoint-every 0", "not a number of epochs from 1e-6"},
        {"run allreduce --workers 2 --resume /nonexistent", "holds no checkpoint that all 2 ranks saved"},
    };
    test_distlab_refuses("", cases, sizeof cases / sizeof *cases);
    /* other ranks than it was made with */
    assert_int_equal(run("run allreduce %s --workers 2 %s --out %s/x", CKPT, bad, tmpdir), 2);
    assert_says("saved by more than 2 ranks");
    assert_int_equal(run("run allreduce %s --workers 8 %s --out %s/x", CKPT, bad, tmpdir), 2);
    assert_says("no checkpoint that all 8 ranks saved");
    /* another model: the rank refuses the bytes */
    assert_int_equal(run("run allreduce %s --model mlp:8 %s --out %s/x", CKPT, bad, tmpdir), 2);
    assert_says("is not of this run");
}

static int setup_group(void **state)
{
    (void)state;
    have_binary = test_distlab() != NULL;
    return test_tmpdir(tmpdir, sizeof tmpdir, "faults");
}

static int teardown_group(void **state)
{
    (void)state;
    test_rmtree(tmpdir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_dead_peers_messages_arrive_then_receives_fail),
        cmocka_unit_test(direct_exchanges_with_a_dead_rank_fail_without_waiting),
        cmocka_unit_test(synchronous_families_stop_naming_rank_and_time),
        cmocka_unit_test(async_and_ssp_servers_go_on_without_a_dead_worker),
        cmocka_unit_test(fail_refuses_what_it_cannot_do),
        cmocka_unit_test(a_degraded_link_costs_its_closed_form),
        cmocka_unit_test(kill_rank_acts_alike_in_sim_and_on_sockets),
        cmocka_unit_test(every_family_fails_at_a_step_and_a_time),
        cmocka_unit_test(a_dead_ranks_peers_end_without_a_simgrid_trace),
        cmocka_unit_test(a_resumed_run_ends_with_the_bits_of_one_never_stopped),
        cmocka_unit_test(a_resumed_bsp_parameter_server_ends_with_the_same_bits),
        cmocka_unit_test(resumed_local_sgd_and_psgd_end_with_the_same_bits),
        cmocka_unit_test(resumed_model_parallelism_ends_with_the_same_bits),
        cmocka_unit_test(checkpoints_refuse_what_they_cannot_do),
        cmocka_unit_test(damaged_checkpoints_are_refused),
    };
    return cmocka_run_group_tests_name("faults", tests, setup_group, teardown_group);
}
