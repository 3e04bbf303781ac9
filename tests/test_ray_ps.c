/* test_ray_ps.c -- `distlab run ray-ps`: Ray's parameter-server example.
 *
 * sync with one worker gives the bits of `run serial`; sync gives the same
 * bits in simulation and on real threads; the store moves what it should
 * (small weights inline, large ones fetched); async finishes sooner than
 * sync when a worker straggles; bad input exits 2 with what was expected;
 * `compare` takes ray-ps:sync and ray-ps:async; `ray-bench` writes each
 * mode's CSV, figure and run folders, and refuses what it cannot run.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/util_distlab.h"
#include "tests/util_files.h"

#define DATA "--dataset synth-sparse:n=2000,d=300,nnz=10 --model logreg --epochs 2 --batch 32"

static char dir[512];

static int setup_dir(void **state)
{
    (void)state;
    return test_tmpdir(dir, sizeof dir, "ray-ps") == 0 ? 0 : -1;
}

static int remove_dir(void **state)
{
    (void)state;
    test_rmtree(dir);
    return 0;
}

/* Run distlab; fail with its output unless it exits 0. */
static void run_ok(const char *fmt, ...)
{
    char args[1024], out[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    if (!test_distlab())
        skip();
    int rc = test_distlab_run(out, sizeof out, "%s", args);
    if (rc != 0)
        fail_msg("distlab %s exited %d:\n%s", args, rc, out);
}

/* A field of a run's summary.json, as text. */
static void field(const char *run, const char *key, char *val, size_t cap)
{
    char path[700], buf[65536];
    size_t n;
    snprintf(path, sizeof path, "%s/%s/summary.json", dir, run);
    if (test_read_file(path, buf, sizeof buf, &n) != 0)
        fail_msg("cannot read %s", path);
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p = strstr(buf, pat);
    if (!p)
        fail_msg("%s has no %s", path, key);
    p += strlen(pat);
    size_t k = strcspn(p, ",\n");
    snprintf(val, cap, "%.*s", (int)k, p);
}

static double num(const char *run, const char *key)
{
    char v[128];
    field(run, key, v, sizeof v);
    return strtod(v, NULL);
}

static void one_worker_is_serial(void **state)
{
    (void)state;
    run_ok("run serial " DATA " --quiet --no-figures --out %s/serial", dir);
    run_ok("run ray-ps --workers 1 " DATA " --quiet --no-figures --out %s/w1", dir);
    char a[64], b[64];
    field("serial", "model_fnv1a64", a, sizeof a);
    field("w1", "model_fnv1a64", b, sizeof b);
    assert_string_equal(a, b);
}

static void sync_same_bits_sim_and_real(void **state)
{
    (void)state;
    run_ok("run ray-ps --workers 3 " DATA " --quiet --no-figures --out %s/sim", dir);
    run_ok("run ray-ps --workers 3 --backend real " DATA " --quiet --no-figures --out %s/real", dir);
    char a[64], b[64];
    field("sim", "model_fnv1a64", a, sizeof a);
    field("real", "model_fnv1a64", b, sizeof b);
    assert_string_equal(a, b);
    /* 301 floats: everything inline, nothing in a store */
    assert_true(num("sim", "ray_objects_inline") > 0);
    assert_true(num("sim", "ray_objects_fetched") == 0);
    /* 2 epochs of ceil(2000 / (3 x 32)) = 21 steps: 4 calls each, then
     * get_weights, finish and 4 constructors are not calls */
    assert_true(num("sim", "ray_actor_calls") == 2 * 21 * 4 + 2);
}

static void large_weights_go_through_the_store(void **state)
{
    (void)state;
    /* with a 1 KiB threshold the 1.2 KB weights and gradients are stored */
    run_ok("run ray-ps --workers 3 --inline-threshold 1KiB " DATA " --quiet --no-figures --out %s/big", dir);
    double fetched = num("big", "ray_objects_fetched"), bytes = num("big", "ray_bytes_fetched");
    /* each step: 3 workers fetch the weights, the server 3 gradients */
    assert_true(fetched == 2 * 21 * 6);
    assert_true(bytes == fetched * 301 * 4);
    assert_true(num("big", "ray_objects_freed") == num("big", "ray_objects_stored") + fetched);
}

static void async_beats_sync_under_a_straggler(void **state)
{
    (void)state;
    const char *slow = "--workers 4 --stragglers 0.25 --slowdown 8 --seed 3 --speed 10Mf";
    run_ok("run ray-ps --mode sync %s " DATA " --quiet --no-figures --out %s/ssync", slow, dir);
    run_ok("run ray-ps --mode async %s " DATA " --quiet --no-figures --out %s/sasync", slow, dir);
    double ts = num("ssync", "seconds"), ta = num("sasync", "seconds");
    if (!(ta < 0.6 * ts))
        fail_msg("async took %g s, sync %g s", ta, ts);
}

/* A worker's node dies mid-run: its actor restarts elsewhere, the lost
 * step (sync) or gradient (async) is done again, and the run finishes. */
static void a_dead_worker_node_is_survived(void **state)
{
    (void)state;
    const char *modes[] = {"sync", "async"};
    for (int m = 0; m < 2; m++) {
        run_ok("run ray-ps --mode %s --workers 4 --fail 2@2ms " DATA " --quiet --no-figures "
               "--out %s/fail-%s", modes[m], dir, modes[m]);
        char run[32];
        snprintf(run, sizeof run, "fail-%s", modes[m]);
        assert_true(num(run, "ray_actor_restarts") == 1);
        assert_true(num(run, "ray_calls_lost") == 1);
        assert_true(num(run, "ray_steps_redone") == 1);
        assert_true(num(run, "final_accuracy") > 0.5);
    }
    /* the totals count the dead node's calls up to its death: 2 epochs of
     * ceil(2000 / (4 x 32)) = 16 steps of 5 calls and 2 more (as in
     * sync_same_bits_sim_and_real), and the failed step's 3 finished
     * gradients computed again (without the dead node's: 150) */
    assert_true(num("fail-sync", "ray_actor_calls") == 2 * 16 * 5 + 2 + 3);
}

/* How many spans of each name an events.csv holds (names 0..15). */
static void span_counts(const char *run, long *count)
{
    char path[700], line[256];
    snprintf(path, sizeof path, "%s/%s/events.csv", dir, run);
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("cannot read %s", path);
    memset(count, 0, 16 * sizeof *count);
    int tag;
    while (fgets(line, sizeof line, f))
        if (strstr(line, ",span,") && sscanf(strrchr(line, ',') + 1, "%d", &tag) == 1 && tag >= 0 && tag < 16)
            count[tag]++;
    fclose(f);
}

/* The records name what Ray ran: each task by its method, each object
 * fetched from a store as a transfer; the same names and counts on both
 * backends, and a simulated run's events byte for byte again. */
static void records_name_tasks(void **state)
{
    (void)state;
    const char *args = "--workers 2 --inline-threshold 1KiB --dataset synth-sparse:n=400,d=300,nnz=10 "
                       "--model logreg --epochs 1 --batch 32 --quiet --no-figures";
    run_ok("run ray-ps %s --out %s/names-a", args, dir);
    run_ok("run ray-ps %s --out %s/names-b", args, dir);
    run_ok("run ray-ps %s --backend real --out %s/names-real", args, dir);
    char a[700], b[700], ta[65536], tb[65536];
    size_t na, nb;
    snprintf(a, sizeof a, "%s/names-a/events.csv", dir);
    snprintf(b, sizeof b, "%s/names-b/events.csv", dir);
    assert_int_equal(test_read_file(a, ta, sizeof ta, &na), 0);
    assert_int_equal(test_read_file(b, tb, sizeof tb, &nb), 0);
    assert_true(na == nb && memcmp(ta, tb, na) == 0);
    const char *names[2] = {"names-a", "names-real"};
    char list[2][512];
    for (int k = 0; k < 2; k++) {
        snprintf(a, sizeof a, "%s/%s/summary.json", dir, names[k]);
        assert_int_equal(test_read_file(a, ta, sizeof ta - 1, &na), 0);
        ta[na] = '\0';
        const char *from = strstr(ta, "\"span_names\"");
        assert_non_null(from);
        snprintf(list[k], sizeof list[k], "%.*s", (int)strcspn(from, "]"), from);
    }
    assert_string_equal(list[0], list[1]);
    assert_non_null(strstr(list[0], "\"object transfer\",\n    \"ParameterServer.__init__\""));
    assert_non_null(strstr(list[0], "\"DataWorker.compute_gradients\""));
    long sim[16], real[16];
    span_counts("names-a", sim);
    span_counts("names-real", real);
    /* ceil(400 / (2 x 32)) = 7 steps: 2 compute_gradients (name 6) and
     * one apply_gradients (3) each; the workers fetch the weights and the
     * server the gradients, 4 transfers (0) a step */
    assert_int_equal(sim[6], 14);
    assert_int_equal(sim[3], 7);
    assert_int_equal(sim[0], 28);
    for (int i = 0; i < 16; i++)
        if (sim[i] != real[i])
            fail_msg("span %d: %ld in simulation, %ld on real threads", i, sim[i], real[i]);
    run_ok("trace %s/names-a -o %s/names-a/trace.json", dir, dir);
    snprintf(a, sizeof a, "%s/names-a/trace.json", dir);
    static char trace[1 << 20];
    assert_int_equal(test_read_file(a, trace, sizeof trace - 1, &na), 0);
    trace[na] = '\0';
    assert_non_null(strstr(trace, "{\"name\":\"DataWorker.compute_gradients\",\"cat\":\"span\""));
    assert_non_null(strstr(trace, "{\"name\":\"object transfer\",\"cat\":\"span\""));
    run_ok("timeline %s/names-a -o %s/names-a/timeline.png", dir, dir);
}

static void bad_input_is_refused(void **state)
{
    (void)state;
    if (!test_distlab())
        skip();
    const test_refusal cases[] = {
        {"--mode bogus", "expected one of: sync, async"},
        {"--task-overhead 5s", "--task-overhead: expected 0 to 1 s"},
        {"--task-overhead -1us", "--task-overhead"},
        {"--backend real --task-overhead 5us", "a simulation parameter"},
        {"--inline-threshold 1GiB", "expected 0 to 64MiB"},
        {"--no-such-option 1", "no-such-option"},
        {"--async-loop x.c", "--async-loop replaces the async mode's loop; it takes --mode async"},
        {"--mode async --async-loop /nonexistent/loop.c", "/nonexistent/loop.c"},
        {"--workers 2 --kill-rank 0:2", "expected a worker's rank, 1 to 2 (rank 0 is the driver's"},
        {"--workers 2 --kill-rank 3:2", "expected a worker's rank, 1 to 2"},
    };
    test_distlab_refuses("run ray-ps " DATA " --quiet --no-figures --out /nonexistent/never", cases,
                         sizeof cases / sizeof *cases);
}

/* lab 09's loop, as a file of one's own, drives ray-ps: the lab's
 * solution gives the bits of distlab's own async loop */
static void lab_run_drives_ray_ps(void **state)
{
    (void)state;
    if (!test_distlab())
        skip();
    char labs[600];
    snprintf(labs, sizeof labs, "%s", test_distlab());
    char *slash = strrchr(labs, '/');
    if (slash)
        *slash = '\0';
    slash = strrchr(labs, '/');
    snprintf(slash ? slash + 1 : labs, sizeof labs - (size_t)(slash ? slash + 1 - labs : 0), "labs");
    run_ok("lab run 09 %s/09-ray/solution.c --workers 3 " DATA " --quiet --no-figures --out %s/lab09", labs,
           dir);
    run_ok("run ray-ps --mode async --workers 3 " DATA " --quiet --no-figures --out %s/own-async", dir);
    char a[64], b[64];
    field("lab09", "model_fnv1a64", a, sizeof a);
    field("own-async", "model_fnv1a64", b, sizeof b);
    assert_string_equal(a, b);
}

static void compare_takes_its_specs(void **state)
{
    (void)state;
    run_ok("compare --algos ray-ps:sync,ray-ps:async,ps:bsp --workers 2 " DATA
           " --quiet --no-figures --out %s/cmp", dir);
    char v[64];
    field("cmp/ray-ps-async", "mode", v, sizeof v);
    assert_string_equal(v, "\"async\"");
}

/* Every line of a CSV without its last field. */
static void drop_last_field(char *csv)
{
    char *out = csv, *line = csv;
    while (*line) {
        size_t len = strcspn(line, "\n"), keep = len;
        while (keep > 0 && line[keep - 1] != ',')
            keep--;
        keep = keep ? keep - 1 : len;
        memmove(out, line, keep);
        out += keep;
        line += len;
        if (*line == '\n')
            *out++ = *line++;
    }
    *out = '\0';
}

/* ray-bench: each mode writes its CSV; locality pays off for large inputs */
static void ray_bench_modes(void **state)
{
    (void)state;
    run_ok("ray-bench throughput --nodes 1,2 --tasks 400 --out %s/rb", dir);
    run_ok("ray-bench latency --out %s/rb", dir);
    run_ok("ray-bench locality --sizes 1KB,10MB --reps 1 --out %s/rb", dir);
    char path[700], buf[4096];
    size_t n;
    snprintf(path, sizeof path, "%s/rb/locality.csv", dir);
    assert_int_equal(test_read_file(path, buf, sizeof buf - 1, &n), 0);
    buf[n] = '\0';
    const char *row = strstr(buf, "sim,10000000,");
    assert_non_null(row);
    double aware, unaware;
    assert_int_equal(sscanf(row, "sim,10000000,%lf,%lf", &aware, &unaware), 2);
    assert_true(unaware > 10 * aware); /* 10 MB over 10 Gb/s against none */
    /* each run folder counts what Ray did, as run ray-ps's does */
    assert_true(num("rb/locality/bytes=10000000,unaware", "ray_bytes_fetched") == 1e7);
    assert_true(num("rb/locality/bytes=10000000,aware", "ray_bytes_fetched") == 0);
    assert_true(num("rb/locality/bytes=10000000,aware", "ray_tasks") == 2);
    assert_true(num("rb/throughput/nodes=2", "ray_tasks") == 400 + 2); /* and the spawners */
    assert_true(num("rb/throughput/nodes=2", "ray_reconstructions") == 0);
    /* node 1 dies between making the 1 MB input and using it: the job goes
     * on, the input rebuilt by lineage and counted in the CSV and summary */
    run_ok("ray-bench locality --sizes 1MB --reps 1 --fail 1@0.1ms --out %s/rbf", dir);
    snprintf(path, sizeof path, "%s/rbf/locality.csv", dir);
    assert_int_equal(test_read_file(path, buf, sizeof buf - 1, &n), 0);
    buf[n] = '\0';
    assert_non_null(strstr(buf, ",nodes_lost,aware_reconstructions,unaware_reconstructions,"));
    row = strstr(buf, "sim,1000000,");
    assert_non_null(row);
    int lost, rebuilt[2];
    assert_int_equal(sscanf(row, "sim,1000000,%lf,%lf,%*f,%d,%d,%d", &aware, &unaware, &lost,
                            &rebuilt[1], &rebuilt[0]), 5);
    assert_true(lost == 1 && rebuilt[1] == 1 && rebuilt[0] == 1);
    assert_true(aware > 1e-3); /* the rebuilt input is fetched: locality lost */
    assert_true(num("rbf/locality/bytes=1000000,aware", "ray_reconstructions") == 1);
    /* and the dead node's own work: it made the input (make, use, and make
     * again on node 2; two primary copies stored) */
    assert_true(num("rbf/locality/bytes=1000000,aware", "ray_tasks") == 3);
    assert_true(num("rbf/locality/bytes=1000000,aware", "ray_objects_stored") == 2);
    /* size-only (the default in simulation) against data: the same times and bytes */
    run_ok("ray-bench allreduce --nodes 4 --sizes 1MB,4MB --overheads 5us,1ms --out %s/rb", dir);
    char so[4096];
    snprintf(path, sizeof path, "%s/rb/allreduce.csv", dir);
    assert_int_equal(test_read_file(path, so, sizeof so - 1, &n), 0);
    so[n] = '\0';
    run_ok("ray-bench allreduce --nodes 4 --sizes 1MB,4MB --overheads 5us,1ms --payload data "
           "--out %s/rb", dir);
    assert_int_equal(test_read_file(path, buf, sizeof buf - 1, &n), 0);
    buf[n] = '\0';
    assert_non_null(strstr(so, ",size-only\n"));
    assert_non_null(strstr(buf, ",data\n"));
    drop_last_field(so);
    drop_last_field(buf);
    assert_string_equal(so, buf);
    double ring, actors[2], ring_bytes, actor_bytes;
    row = strstr(buf, "sim,4,1000000,5e-06,");
    assert_non_null(row);
    assert_int_equal(sscanf(row, "sim,4,1000000,5e-06,%lf,%lf,%*f,%lf,%lf", &ring, &actors[0],
                            &ring_bytes, &actor_bytes), 4);
    row = strstr(buf, "sim,4,1000000,0.001,");
    assert_non_null(row);
    assert_int_equal(sscanf(row, "sim,4,1000000,0.001,%*f,%lf", &actors[1]), 1);
    assert_true(ring_bytes == 2.0 * 3 / 4 * 1e6 * 4); /* 2 (p-1)/p n from each rank */
    assert_true(actor_bytes > ring_bytes);            /* plus the control messages */
    assert_true(actors[0] > ring && actors[1] > actors[0]);
    /* each job's run folder: the actor ring's methods named in its records */
    const char *run = "rb/allreduce/nodes=4,bytes=1000000,overhead=0.001,actors";
    field(run, "algo", buf, sizeof buf);
    assert_string_equal(buf, "\"ray-bench allreduce (actor ring)\"");
    snprintf(path, sizeof path, "%s/%s/summary.json", dir, run);
    assert_int_equal(test_read_file(path, buf, sizeof buf - 1, &n), 0);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "\"RingMember.get_chunk\"")); /* in span_names */
    snprintf(path, sizeof path, "%s/%s/events.csv", dir, run);
    FILE *ev = fopen(path, "r");
    assert_non_null(ev);
    int spans = 0;
    while (fgets(buf, sizeof buf, ev))
        spans += strstr(buf, ",span,") != NULL;
    fclose(ev);
    assert_true(spans > 0);
    snprintf(path, sizeof path, "%s/rb/throughput.png", dir);
    assert_int_equal(access(path, R_OK), 0);
    const test_refusal cases[] = {
        {"", "expected one mode"},
        {"bogus", "expected one mode, throughput, latency, locality or allreduce, got bogus"},
        {"throughput --nodes 0", "--nodes: expected up to 32 values from 1 to 4096"},
        {"throughput --tasks 0", "--tasks"},
        {"latency --task-overhead 2s", "--task-overhead: expected 0 to 1 s"},
        {"latency --backend real --task-overhead 1us", "a simulation parameter"},
        {"locality --sizes 1KB,banana", "'banana' is not a size"},
        {"throughput --submit far", "expected one of: local, hybrid"},
        {"allreduce --overheads 1ms,banana", "'banana' is not a time"},
        {"allreduce --overheads 2s", "--overheads: expected up to 32 values from 0 to 1"},
        {"allreduce --backend real --overheads 1ms", "a simulation parameter"},
        {"latency --payload size-only", "its tasks are empty"},
        {"throughput --payload size-only", "Ray's control messages need their bytes"},
        {"allreduce --payload data --nodes 4096 --sizes 1GB", "holds every node's vector in memory"},
        {"allreduce --sizes 3B", "from 4 to 1073741824 bytes, got 3 (a vector holds at least one float)"},
        {"allreduce --sizes 0", "from 4 to 1073741824 bytes, got 0"},
        {"locality --sizes 0", "from 1 to 1073741824 bytes, got 0"},
        {"latency --sizes 1MB", "latency: --sizes applies to locality and allreduce only"},
        {"throughput --overheads 1ms", "--overheads applies to allreduce only"},
        {"latency --nodes 4", "--nodes applies to throughput and allreduce only"},
        {"latency extra", "unexpected argument 'extra'"},
        {"throughput --nodes 4 --fail 0@1ms", "node 0 is the driver's, and Ray does not survive "
                                              "its driver; expected another node, from 1 to 3"},
        {"latency --fail 1@1ms", "--fail: latency times the round trip to node 1"},
        {"allreduce --fail 1@1ms", "the message ring cannot go on without a rank"},
        {"locality --fail 4@1ms", "--fail: rank 4 at 0.001 s, but the job has ranks 0 to 3"},
        {"locality --fail 1@1ms --backend real", "on real sockets ray-bench has none (`distlab run "
                                                 "ray-ps --kill-rank RANK:STEP`"},
        {"throughput --fail 1@1ms --backend real --launch procs", "injected in simulation"},
    };
    char prefix[700];
    snprintf(prefix, sizeof prefix, "ray-bench --out %s/rb", dir);
    test_distlab_refuses(prefix, cases, sizeof cases / sizeof *cases);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_worker_is_serial),
        cmocka_unit_test(sync_same_bits_sim_and_real),
        cmocka_unit_test(large_weights_go_through_the_store),
        cmocka_unit_test(async_beats_sync_under_a_straggler),
        cmocka_unit_test(a_dead_worker_node_is_survived),
        cmocka_unit_test(records_name_tasks),
        cmocka_unit_test(bad_input_is_refused),
        cmocka_unit_test(lab_run_drives_ray_ps),
        cmocka_unit_test(compare_takes_its_specs),
        cmocka_unit_test(ray_bench_modes),
    };
    return cmocka_run_group_tests_name("run ray-ps", tests, setup_dir, remove_dir);
}
