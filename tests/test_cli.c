/* test_cli.c -- the distlab command as a user meets it: every verb's bad
 * input is refused with exit status 2 and a message that says what was
 * expected; a failed run exits 1; pingpong, collective, run, compare and
 * sweep produce what they promise; and a fixed-seed `distlab run` trains
 * the same model, bit for bit, in simulation and on real sockets.
 *
 * Runs the binary named by $DISTLAB (make check sets it), else the one
 * next to the tests folder; skips when there is none.
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/util_distlab.h"
#include "tests/util_files.h"

static char tmpdir[256], output[65536];
static int have_binary;

#define NEED_BINARY()          \
    do {                       \
        if (!have_binary)      \
            skip();            \
    } while (0)

#define run(...) test_distlab_run(output, sizeof output, __VA_ARGS__)

#define assert_refused(expect, ...)                                                     \
    do {                                                                               \
        int st_ = run(__VA_ARGS__);                                                    \
        if (st_ != 2 || !strstr(output, expect))                                       \
            fail_msg("exit %d, expected 2 with '%s' in:\n%s", st_, expect, output);   \
    } while (0)

/* A number with a unit is checked after the unit is applied: each of
 * these is a finite number with a known unit, and each used to reach
 * SimGrid as inf (an abort, or "deadlock at inf simulated seconds"). */
static void values_are_checked_after_their_unit(void **state)
{
    (void)state;
    NEED_BINARY();
    assert_refused("--bandwidth: rate '1e300TBps' is inf B/s, outside the rates distlab takes (1bps to 1e15Bps",
                   "pingpong --bandwidth 1e300TBps");
    assert_refused("--speed: speed '1e300Pf' is inf flop/s, outside the speeds distlab takes (1f to 1e30f)",
                   "pingpong --speed 1e300Pf");
    assert_refused("--latency: time '1e308h' is inf s, outside the times distlab takes (0 to 1e9s",
                   "pingpong --latency 1e308h");
    assert_refused("--timeout: time '2e9s' is 2e+09 s, outside", "pingpong --timeout 2e9s");
    assert_refused("--slowdown: a factor of at least 1 and at most 1e+06, not 1e+308",
                   "run allreduce --stragglers 0.5 --slowdown 1e308");
    assert_refused("outside the rates distlab takes", "sweep --algos allreduce --vary bandwidth=1Gbps,1e300TBps");
    /* the ends of the ranges are taken */
    int st = run("pingpong --bandwidth 1e15Bps --latency 1e9s --speed 1e30f --bytes 1KiB");
    if (st != 0)
        fail_msg("exit %d at the ends of the ranges:\n%s", st, output);
}

static int setup(void **state)
{
    (void)state;
    have_binary = test_distlab() != NULL;
    return test_tmpdir(tmpdir, sizeof tmpdir, "cli");
}

static int teardown(void **state)
{
    (void)state;
    return test_rmtree(tmpdir);
}

static void help_and_version(void **state)
{
    (void)state;
    NEED_BINARY();
    assert_int_equal(run("--version"), 0);
    assert_non_null(strstr(output, "distlab "));
    assert_int_equal(run("--help"), 0);
    assert_non_null(strstr(output, "collective"));
    assert_non_null(strstr(output, "compare"));
    assert_int_equal(run("run --help"), 0);
    assert_non_null(strstr(output, "allreduce"));
    assert_int_equal(run("run allreduce --help"), 0);
    assert_non_null(strstr(output, "--allreduce"));
    assert_non_null(strstr(output, "--bandwidth"));
    assert_refused("unknown verb", "frobnicate");
}

static void bad_input_is_refused(void **state)
{
    (void)state;
    NEED_BINARY();
    assert_refused("not a whole number of elements", "collective --bytes 6");
    assert_refused("1..", "collective --workers 0");
    assert_refused("known: ring, tree, rd, rabenseifner, hierarchical", "collective --algo butterfly");
    assert_refused("expected one of: sim, real", "pingpong --backend cloud");
    assert_refused("not a rate", "pingpong --bandwidth 10Gbs");
    assert_refused("not a time", "pingpong --latency soon");
    assert_refused("unknown option '--speeed'", "pingpong --speeed 1Gf");
    assert_refused("needs a value", "pingpong --bytes");
    assert_refused("not a time", "collective --backend real --spin -3us");
    assert_refused("between 0 and 1s", "collective --backend real --spin 5s");
    assert_refused("expected one of: auto, none, cores", "collective --backend real --bind some");
    assert_refused("exclude each other", "pingpong --platform x.xml --hosts 4");
    assert_refused("size-only", "run allreduce --payload size-only");
    assert_refused("unknown algorithm 'sgd'", "run sgd");
    assert_refused("known: ring", "run allreduce --allreduce fast");
    assert_refused("fraction in [0, 1]", "run allreduce --stragglers 2");
    assert_refused("unknown algorithm", "compare --algos allreduce:ring,mystery");
    assert_refused("no runs", "compare");
    assert_refused("KEY=V1,V2", "sweep --algos allreduce --vary workers");
    assert_refused("no algorithm takes an option 'colour'", "sweep --algos allreduce --vary colour=1,2");
}

static void missing_platform_fails_clearly(void **state)
{
    (void)state;
    NEED_BINARY();
    int st = run("pingpong --platform /nonexistent/cluster.xml");
    assert_int_equal(st, 2); /* bad input, refused before any job */
    assert_non_null(strstr(output, "platform file '/nonexistent/cluster.xml'"));
    assert_non_null(strstr(output, "No such file"));
}

static void pingpong_prints_csv(void **state)
{
    (void)state;
    NEED_BINARY();
    assert_int_equal(run("pingpong --bytes 1KiB,1MiB --latency 100us --bandwidth 8Gbps"), 0);
    assert_non_null(strstr(output, "backend,bytes,iters,seconds_per_oneway,bandwidth_GBps"));
    /* 100 us + 1 MiB / 1 GB/s */
    assert_non_null(strstr(output, "sim,1048576,1,0.001148576,"));
    assert_int_equal(run("pingpong --bytes 64KiB --backend real --iters 10"), 0);
    assert_non_null(strstr(output, "real,65536,10,"));
}

/* The generated cluster as a file; edit one number and the run follows. */
static void platform_file_round_trip(void **state)
{
    (void)state;
    NEED_BINARY();
    assert_int_equal(run("platform --hosts 4 --bandwidth 8Gbps --latency 100us -o %s/c.xml", tmpdir), 0);
    assert_int_equal(run("pingpong --platform %s/c.xml --bytes 1MiB", tmpdir), 0);
    assert_non_null(strstr(output, "sim,1048576,1,0.001148576,"));
    char cmd[600];
    snprintf(cmd, sizeof cmd, "sed -i 's/bw=\"1e+09Bps\"/bw=\"2e+09Bps\"/' %s/c.xml", tmpdir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(run("pingpong --platform %s/c.xml --bytes 1MiB", tmpdir), 0);
    assert_non_null(strstr(output, "sim,1048576,1,0.000624288,"));
    assert_refused("reads none", "platform --platform x.xml");
}

/* A generated GPU cluster: its file, the shipped DGX A100 file (the same
 * cluster, commented) and the hierarchical allreduce's model agree. */
static void gpu_clusters_and_hierarchical_allreduce(void **state)
{
    (void)state;
    NEED_BINARY();
    const char *dgx = "--gpus-per-node 8 --hosts 4 --intra-bandwidth 300GBps --intra-latency 2us "
                      "--bandwidth 200GBps --latency 5us --speed 93.6Tf";
    assert_int_equal(run("collective --workers 32 --algo hierarchical --bytes 100MB --model %s", dgx), 0);
    double seconds, model, again;
    char *line = strstr(output, "sim,allreduce,hierarchical,32,100000000,");
    assert_non_null(line);
    assert_int_equal(sscanf(line, "sim,allreduce,hierarchical,32,100000000,%lf,%*f,%*f,%lf", &seconds, &model), 2);
    assert_true(seconds > 0 && fabs(seconds - model) <= 1e-6 * model);
    assert_int_equal(run("collective --workers 32 --algo hierarchical --bytes 100MB --gpus-per-node 8 "
                         "--placement block --platform platforms/dgx-a100-4nodes.xml"), 0);
    line = strstr(output, "sim,allreduce,hierarchical,32,100000000,");
    assert_non_null(line);
    assert_int_equal(sscanf(line, "sim,allreduce,hierarchical,32,100000000,%lf", &again), 1);
    assert_true(again == seconds);
    assert_int_equal(run("platform %s -o %s/g.xml", dgx, tmpdir), 0);
    assert_int_equal(run("pingpong --platform %s/g.xml --bytes 1MB --placement block", tmpdir), 0);
    assert_non_null(strstr(output, "sim,1000000,1,5.33333333e-06,")); /* 2us + 1MB / 300GB/s */
    /* spread over the 32 hosts, rank 1 is on node 2: 5us + 1MB / 200GB/s */
    assert_int_equal(run("pingpong --platform %s/g.xml --bytes 1MB", tmpdir), 0);
    assert_non_null(strstr(output, "sim,1000000,1,1e-05,"));
    assert_refused("add --gpus-per-node G", "collective --intra-bandwidth 300GBps");
    assert_refused("do not fit 2 nodes of 4 GPUs", "collective --workers 9 --gpus-per-node 4 --hosts 2");
    assert_refused("not whole nodes of --gpus-per-node 4", "collective --workers 6 --gpus-per-node 4 --algo hierarchical");
    assert_refused("the latency 0 to --latency", "collective --gpus-per-node 2 --intra-latency 1ms");
    /* without --intra-latency, a node's links are no slower than --latency */
    assert_int_equal(run("pingpong --gpus-per-node 2 --hosts 1 --latency 1us --bytes 8"), 0);
    assert_non_null(strstr(output, "1 us inside a node"));
    assert_refused("1..1024", "collective --gpus-per-node 0");
}

/* BytePS through the command: right sums on both backends (a wrong one
 * fails the command), the paper's time as the model column. */
static void byteps_collective(void **state)
{
    (void)state;
    NEED_BINARY();
    assert_int_equal(run("collective --op byteps --workers 4 --servers 4 --bytes 4MiB --pieces 32 "
                         "--latency 1us --speed 1Pf --model"), 0);
    double seconds, model;
    char *line = strstr(output, "sim,byteps,k=4,4,4194304,");
    assert_non_null(line);
    assert_int_equal(sscanf(line, "sim,byteps,k=4,4,4194304,%lf,%*f,%*f,%lf", &seconds, &model), 2);
    assert_true(seconds >= model && seconds <= model * (1 + 2.0 / 32) + 128e-6);
    assert_int_equal(run("collective --op byteps --workers 3 --servers 2 --backend real --bytes 4KiB,1MB"), 0);
    assert_null(strstr(output, "WRONG"));
    assert_refused("--servers goes with --op byteps", "collective --servers 2");
}

static void collective_matches_its_model(void **state)
{
    (void)state;
    NEED_BINARY();
    assert_int_equal(run("collective --workers 13 --algo rabenseifner --bytes 1MiB --model"), 0);
    /* the last two columns, seconds and model_seconds, are equal */
    char *line = strstr(output, "sim,allreduce,rabenseifner,13,1048576,");
    assert_non_null(line);
    double seconds, algbw, busbw, model;
    assert_int_equal(sscanf(line, "sim,allreduce,rabenseifner,13,1048576,%lf,%lf,%lf,%lf",
                            &seconds, &algbw, &busbw, &model), 4);
    assert_true(seconds > 0 && fabs(seconds - model) <= 1e-6 * model);
    assert_int_equal(run("collective --backend real --workers 3 --algo tree --bytes 4KiB,100KiB --iters 2"), 0);
    assert_null(strstr(output, "WRONG"));
    /* auto picks per size, and the model still holds for what it picked */
    assert_int_equal(run("collective --workers 16 --algo auto --bytes 4KiB,64MiB --payload size-only --model"), 0);
    assert_non_null(strstr(output, "sim,allreduce,rd,16,4096,"));
    assert_non_null(strstr(output, "sim,allreduce,rabenseifner,16,67108864,"));
    assert_null(strstr(output, "WRONG"));
}

static void run_gives_the_same_model_on_both_backends(void **state)
{
    (void)state;
    NEED_BINARY();
    const char *common = "--dataset synth-dense:n=2000,d=20,classes=4 --model mlp:16 --workers 3 "
                         "--epochs 2 --batch 16 --seed 7 --quiet --no-figures";
    assert_int_equal(run("run allreduce %s --out %s/sim", common, tmpdir), 0);
    assert_int_equal(run("run allreduce %s --backend real --out %s/real", common, tmpdir), 0);
    assert_int_equal(run("run allreduce %s --backend real --launch procs --allreduce rabenseifner "
                         "--out %s/procs", common, tmpdir), 0);
    static char a[1 << 20], b[1 << 20], c[1 << 20];
    size_t na, nb, nc;
    char path[512];
    snprintf(path, sizeof path, "%s/sim/model.bin", tmpdir);
    assert_int_equal(test_read_file(path, a, sizeof a, &na), 0);
    snprintf(path, sizeof path, "%s/real/model.bin", tmpdir);
    assert_int_equal(test_read_file(path, b, sizeof b, &nb), 0);
    snprintf(path, sizeof path, "%s/procs/model.bin", tmpdir);
    assert_int_equal(test_read_file(path, c, sizeof c, &nc), 0);
    assert_true(na > 0);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    /* another allreduce sums in another order: close, not identical */
    assert_int_equal(na, nc);
    struct stat st;
    snprintf(path, sizeof path, "%s/sim/events.csv", tmpdir);
    assert_int_equal(stat(path, &st), 0);
    snprintf(path, sizeof path, "%s/sim/summary.json", tmpdir);
    assert_int_equal(stat(path, &st), 0);
}

static void compare_and_sweep_draw_their_figures(void **state)
{
    (void)state;
    NEED_BINARY();
    const char *common = "--dataset synth-dense:n=1500,d=20,classes=3 --model softmax --epochs 1 "
                         "--batch 16 --workers 4";
    assert_int_equal(run("compare --algos allreduce:ring,ps:async,psgd:4 %s --stragglers 0.25 "
                         "--out %s/cmp", common, tmpdir), 0);
    assert_non_null(strstr(output, "fastest to"));
    const char *files[] = {"accuracy.png", "loss.png", "breakdown.png", "bytes.png", "compare.csv",
                           "ps-async/summary.json", "psgd-4/metrics.csv"};
    struct stat st;
    char path[512];
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "%s/cmp/%s", tmpdir, files[i]);
        if (stat(path, &st) != 0 || st.st_size == 0)
            fail_msg("compare did not write %s", path);
    }
    char exp[512];
    snprintf(exp, sizeof exp, "%s/e.txt", tmpdir);
    FILE *f = fopen(exp, "w");
    assert_non_null(f);
    fprintf(f, "# two runs\nworkers 2\nepochs 1\ndataset synth-dense:n=800,d=10,classes=2\n"
               "run allreduce:tree\nrun ps:ssp:1 --servers 2\n");
    fclose(f);
    assert_int_equal(run("compare --experiment %s --out %s/cmp2", exp, tmpdir), 0);
    snprintf(path, sizeof path, "%s/cmp2/ps-ssp-1/summary.json", tmpdir);
    assert_int_equal(stat(path, &st), 0);
    f = fopen(exp, "w");
    fprintf(f, "run allreduce:ring\nwarp 9\n");
    fclose(f);
    assert_refused("e.txt:2", "compare --experiment %s", exp);

    assert_int_equal(run("sweep --algos allreduce:ring --vary workers=1,2,4 %s --out %s/sw",
                         "--dataset synth-dense:n=800,d=10,classes=2 --epochs 1", tmpdir), 0);
    snprintf(path, sizeof path, "%s/sw/speedup.png", tmpdir);
    assert_int_equal(stat(path, &st), 0);
    snprintf(path, sizeof path, "%s/sw/sweep.csv", tmpdir);
    char csv[4096];
    size_t n = 0;
    assert_int_equal(test_read_file(path, csv, sizeof csv - 1, &n), 0);
    csv[n] = '\0';
    assert_non_null(strstr(csv, "allreduce:ring,4,"));

    /* a named setting: bars, one group per value */
    assert_int_equal(run("sweep --algos ps --vary consistency=bsp,async --workers 2 --epochs 1 "
                         "--dataset synth-dense:n=600,d=8,classes=2 --out %s/swc", tmpdir), 0);
    snprintf(path, sizeof path, "%s/swc/sweep.csv", tmpdir);
    assert_int_equal(test_read_file(path, csv, sizeof csv - 1, &n), 0);
    csv[n] = '\0';
    assert_non_null(strstr(csv, "ps,async,"));
    snprintf(path, sizeof path, "%s/swc/time_per_epoch.png", tmpdir);
    assert_int_equal(stat(path, &st), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(help_and_version),
        cmocka_unit_test(bad_input_is_refused),
        cmocka_unit_test(values_are_checked_after_their_unit),
        cmocka_unit_test(missing_platform_fails_clearly),
        cmocka_unit_test(pingpong_prints_csv),
        cmocka_unit_test(platform_file_round_trip),
        cmocka_unit_test(collective_matches_its_model),
        cmocka_unit_test(gpu_clusters_and_hierarchical_allreduce),
        cmocka_unit_test(byteps_collective),
        cmocka_unit_test(run_gives_the_same_model_on_both_backends),
        cmocka_unit_test(compare_and_sweep_draw_their_figures),
    };
    return cmocka_run_group_tests_name("the distlab command", tests, setup, teardown);
}
