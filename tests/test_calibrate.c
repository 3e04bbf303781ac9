/* test_calibrate.c -- `distlab calibrate` and `--calibration FILE`.
 *
 * Calibration writes a file that loads, with every number positive and
 * finite, and a platform SimGrid loads; a run picks the measured rate of
 * its own model at the nearest batch size; a missing, truncated, foreign
 * or out-of-range file is refused with what is wrong; and a simulated
 * pingpong at the calibrated numbers predicts the real one within 25%;
 * the simulated runtime charges the measured per-message overheads and
 * exchange factor as their closed forms say, and a rank's first model work
 * after a wait it slept through at the rate measured after a sleep;
 * `distlab validate` writes its table and figure for the cases asked for.
 *
 * That last check measures a real machine, which may be busy: the
 * calibration and the real pingpong it is compared with are taken back to
 * back, so both see the same load, and the pair is taken again (up to six
 * times) when the load changed between them. It is the 4 MiB message that
 * is compared, where a one-way time is milliseconds, not microseconds.
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

#include "cli/cli.h"
#include "core/calibration.h"
#include "core/job.h"
#include "sim/sim_backend.h"
#include "tests/util_distlab.h"
#include "tests/util_files.h"

static char tmpdir[256], out[16384];

static int setup(void **state)
{
    (void)state;
    if (!test_distlab())
        return -1;
    return test_tmpdir(tmpdir, sizeof tmpdir, "calibrate");
}

static int teardown(void **state)
{
    (void)state;
    return test_rmtree(tmpdir);
}

static void calibrate(const char *name, const char *extra)
{
    int rc = test_distlab_run(out, sizeof out, "calibrate -o %s/%s --repeat 2 --train-size 2000 %s",
                              tmpdir, name, extra);
    if (rc != 0)
        fail_msg("calibrate exited %d: %s", rc, out);
}

static void t_writes_a_file_that_loads(void **state)
{
    (void)state;
    calibrate("c.json", "--models softmax,mlp:32,16 --batches 16,64");
    char path[512], err[1024];
    snprintf(path, sizeof path, "%s/c.json", tmpdir);
    static calibration c;
    if (calib_read(path, DISTLAB_VERSION, &c, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(c.ranks, 2);
    assert_int_equal(c.npaths, 1);
    assert_int_equal(c.ncompute, 4);
    assert_string_equal(c.compute[2].model, "mlp:32,16");
    assert_int_equal(c.compute[3].batch, 64);
    assert_true(c.latency_s.median > 0 && c.latency_s.median < 1);
    assert_true(c.bandwidth_Bps.median > 1e6 && isfinite(c.bandwidth_Bps.median));
    for (int i = 0; i < c.ncompute; i++) {
        assert_true(c.compute[i].train_flops_per_s.median > 1e6 && isfinite(c.compute[i].eval_flops_per_s.max));
        assert_true(c.compute[i].train_woken_flops_per_s.median > 1e6 &&
                    isfinite(c.compute[i].train_woken_flops_per_s.max));
        assert_int_equal(c.compute[i].train_woken_flops_per_s.n, 4); /* both ranks, twice */
    }
    assert_int_equal(c.latency_s.n, 2);
    assert_true(c.send_overhead_s.median > 0 && c.send_overhead_s.median < 1);
    assert_true(c.recv_overhead_s.median > 0 && c.recv_overhead_s.median < 1);
    assert_true(c.exchange_factor.median > 0 && isfinite(c.exchange_factor.max));
    /* each size's exchange from 64 KiB up (64 KiB, 1, 2 and 4 MiB), none below */
    int exchanges = 0;
    for (int i = 0; i < c.nmessages; i++) {
        const calib_message *m = &c.messages[i];
        if (m->bytes < CALIB_SCALE_FROM) {
            assert_int_equal(m->exchange_s.n, 0);
            continue;
        }
        exchanges++;
        assert_int_equal(m->exchange_s.n, 2);
        assert_true(m->exchange_s.min > 0 && m->exchange_s.median >= m->exchange_s.min &&
                    isfinite(m->exchange_s.max));
    }
    assert_int_equal(exchanges, 4);
    double sb[SIM_MAX_MSG], sh[SIM_MAX_MSG];
    int ns = calib_exchange_share(&c, sb, sh, SIM_MAX_MSG);
    assert_int_equal(ns, 4);
    for (int i = 0; i < ns; i++)
        assert_true(sh[i] > 0 && sh[i] <= 1);
    assert_true(sh[ns - 1] == 1 && sb[ns - 1] == 4194304);
    assert_true(c.cpu_share.median > 0 && c.cpu_share.max <= 1);
    assert_true(c.load_average >= 0);
    /* what a simulation charges adds up to the measured latency */
    double wire, os, orv, f;
    calib_network(&c, &wire, &os, &orv, &f);
    assert_true(wire > 0 && os > 0 && orv > 0 && f >= 1 && f <= 2);
    assert_true(fabs(wire + os + orv - c.latency_s.median) <= 1e-12 + 1e-9 * c.latency_s.median);
    assert_int_equal(c.reduce_flops_per_s.n, 4); /* both ranks, twice */
    /* element-wise rates by length, in the order a simulation reads them */
    assert_true(c.nvector >= 3);
    for (int i = 0; i < c.nvector; i++) {
        assert_true(c.vector[i].flops_per_s.median > 1e6 && isfinite(c.vector[i].flops_per_s.max));
        assert_int_equal(c.vector[i].flops_per_s.n, 4);
        assert_true(i == 0 || (c.vector[i].floats > c.vector[i - 1].floats &&
                               c.vector[i].flops_per_call > c.vector[i - 1].flops_per_call));
    }
    /* model parallelism's gather of a batch's inputs */
    assert_true(c.gather_Bps.median > 1e6 && isfinite(c.gather_Bps.max));
    assert_int_equal(c.gather_Bps.n, 4);
    assert_true(c.loss_flops_per_s.median > 1e6 && isfinite(c.loss_flops_per_s.max));
    assert_int_equal(c.loss_flops_per_s.n, 4);
    /* Hogwild!'s step on each model's weights in shared memory: one
     * point a model, by its number of weights */
    assert_int_equal(c.nshared, 2);
    assert_int_equal(c.shared[0].floats, 785 * 10);
    assert_int_equal(c.shared[1].floats, 785 * 32 + 33 * 16 + 17 * 10);
    for (int i = 0; i < c.nshared; i++) {
        assert_true(c.shared[i].read_Bps.median > 1e6 && isfinite(c.shared[i].read_Bps.max));
        assert_true(c.shared[i].write_Bps.median > 1e6 && isfinite(c.shared[i].write_Bps.max));
        assert_int_equal(c.shared[i].write_Bps.n, 4);
    }
    /* the platform beside it loads and runs */
    assert_int_equal(test_distlab_run(out, sizeof out, "pingpong --platform %s/c.xml", tmpdir), 0);
    /* a run at the measured speed of its model */
    assert_int_equal(test_distlab_run(out, sizeof out, "run allreduce --calibration %s --model mlp:32,16 "
                                      "--batch 16 --epochs 1 --train-size 2000 --quiet --no-figures "
                                      "--out %s/run", path, tmpdir), 0);
    /* and a model it has no rate for is refused, naming what it has */
    assert_int_equal(test_distlab_run(out, sizeof out, "run allreduce --calibration %s --model logreg "
                                      "--dataset synth-sparse:n=500,d=50,nnz=5 --epochs 1 --quiet "
                                      "--out %s/run2", path, tmpdir), 2);
    assert_non_null(strstr(out, "no rate for model logreg (it has: softmax, mlp:32,16)"));
}

static void t_nearest_batch(void **state)
{
    (void)state;
    static calibration c;
    memset(&c, 0, sizeof c);
    static const struct { const char *model; size_t batch; double rate; } rows[] = {
        {"softmax", 16, 1e9}, {"softmax", 256, 4e9}, {"mlp:8", 64, 7e9}};
    for (size_t i = 0; i < 3; i++) {
        snprintf(c.compute[i].model, sizeof c.compute[i].model, "%s", rows[i].model);
        c.compute[i].batch = rows[i].batch;
        c.compute[i].train_flops_per_s.median = rows[i].rate;
        c.compute[i].train_woken_flops_per_s.median = rows[i].rate / 2;
    }
    c.ncompute = 3;
    double rate, woken;
    size_t b;
    char err[512];
    /* 64 is 4x from 16 and 4x from 256: the first; 70 is nearer 256 on a log scale */
    assert_int_equal(calib_train_rate(&c, "softmax", 63, &rate, &woken, &b, err, sizeof err), 0);
    assert_true(rate == 1e9 && woken == 0.5e9 && b == 16);
    assert_int_equal(calib_train_rate(&c, "softmax", 70, &rate, &woken, &b, err, sizeof err), 0);
    assert_true(rate == 4e9 && woken == 2e9 && b == 256);
    assert_int_equal(calib_train_rate(&c, "mlp:8", 1, &rate, NULL, &b, err, sizeof err), 0);
    assert_true(rate == 7e9);
    assert_int_equal(calib_train_rate(&c, "svm", 1, &rate, NULL, &b, err, sizeof err), -1);
    assert_non_null(strstr(err, "it has: softmax, mlp:8"));
}

/* Write text to tmpdir/name; returns the path. */
static const char *write_file(const char *name, const char *text, size_t len)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    return path;
}

static void t_refuses_bad_files(void **state)
{
    (void)state;
    calibrate("good.json", "--models softmax");
    char good[16384], path[512];
    size_t n;
    snprintf(path, sizeof path, "%s/good.json", tmpdir);
    assert_int_equal(test_read_file(path, good, sizeof good - 1, &n), 0);
    good[n] = '\0';

    /* the same file with one thing changed */
    static const struct { const char *from, *to, *says; } edits[] = {
        {"\"distlab_version\": \"" DISTLAB_VERSION "\"", "\"distlab_version\": \"0.0.1\"",
         "measured by distlab 0.0.1, this is distlab " DISTLAB_VERSION},
        {"\"format_version\": 8", "\"format_version\": 9", "format version 9"},
        /* a file of a format before (5: no train_woken_flops_per_s, 6: no exchange_s, 7: no wake_s) */
        {"\"format_version\": 8", "\"format_version\": 7", "format version 7, this distlab reads 8: run "
         "distlab calibrate again"},
        /* (a measured 0 made -0: the median replaced, the number kept under another key) */
        {"\"wake_s\": {\n    \"median\": ", "\"wake_s\": {\n    \"median\": -1e-6, \"was\": ", "wake_s must be 0 or more"},
        {"\"train_woken_flops_per_s\": {", "\"was_woken\": {",
         "compute[0]: train_woken_flops_per_s needs numbers median, min, max and a count n"},
        {"\"train_woken_flops_per_s\": {\n        \"median\": ", "\"train_woken_flops_per_s\": {\n        \"median\": -",
         "compute[0]: train_woken_flops_per_s must be positive"},
        {"\"floats\": 1024", "\"floats\": 0", "vector[0]: floats must be a whole number"},
        {"\"vector\": [", "\"vector\": 3, \"x\": [", "vector must be a list of 1 to"},
        {"\"load_average\": ", "\"load_average\": -", "load_average must be a number of at least 0"},
        {"\"send_overhead_s\": {\n    \"median\": ", "\"send_overhead_s\": {\n    \"median\": -",
         "send_overhead_s must be positive"},
        {"\"format\": \"distlab-calibration\"", "\"format\": \"something-else\"", "not a distlab calibration file"},
        {"\"latency_s\": {\n    \"median\": ", "\"latency_s\": {\n    \"median\": -", "latency_s must be positive"},
        {"\"ranks\": 2", "\"ranks\": 1", "ranks must be a whole number of at least 2"},
        {"\"cores\": ", "\"cores\": -", "cores must be a whole number from 1 to 4096"},
        {"\"messages\": [", "\"messages\": 3, \"y\": [", "messages must be a list of at most"},
        {"\"bytes\": 4096,", "\"bytes\": 8,", "messages[1]: bytes must be a whole number of at least 1, the sizes increasing"},
        {"\"batch\": 64", "\"batch\": 0", "batch must be a whole number"},
        {"\"gather_Bps\": {\n    \"median\": ", "\"gather_Bps\": {\n    \"median\": -",
         "gather_Bps must be positive"},
        {"\"loss_flops_per_s\": {\n    \"median\": ", "\"loss_flops_per_s\": {\n    \"median\": -",
         "loss_flops_per_s must be positive"},
        {"\"shared\": [", "\"shared\": 3, \"z\": [", "shared must be a list of at most"},
        {"\"floats\": 7850", "\"floats\": 0", "shared[0]: floats must be a whole number of at least 1"},
        {"\"read_Bps\": {\n        \"median\": ", "\"read_Bps\": {\n        \"median\": -",
         "shared[0]: read_Bps must be positive"},
        /* in range once read: a latency of 1e30 s was refused only as a
         * generated cluster (pingpong: exit 1), 1e-300 flop/s of vector
         * work deadlocked a collective */
        {"\"latency_s\": {\n    \"median\": ",
         "\"latency_s\": {\"median\": 1e30, \"min\": 1e30, \"max\": 1e30, \"n\": 1}, \"was\": {\"median\": ",
         "latency_s runs from 1e+30 to 1e+30 s, outside 0 to 1e+09 s"},
        {"\"flops_per_s\": {\n        \"median\": ",
         "\"flops_per_s\": {\"median\": 1e-300, \"min\": 1e-300, \"max\": 1e-300, \"n\": 1}, \"was\": {\"median\": ",
         "vector[0]: flops_per_s runs from 1e-300 to 1e-300 flop/s, outside 1 to 1e+30 flop/s"},
        /* ratios: an exchange over a one-way time, CPU over wall time */
        {"\"exchange_factor\": {\n    \"median\": ",
         "\"exchange_factor\": {\"median\": 1e6, \"min\": 1.5, \"max\": 1e6, \"n\": 2}, \"was\": {\"median\": ",
         "exchange_factor has a median of 1e+06 one-way times, outside 0.01 to 100 one-way times"},
        {"\"exchange_factor\": {\n    \"median\": ",
         "\"exchange_factor\": {\"median\": 0.001, \"min\": 0.001, \"max\": 0.001, \"n\": 1}, \"was\": {\"median\": ",
         "exchange_factor has a median of 0.001 one-way times, outside 0.01 to 100"},
        {"\"exchange_factor\": {\n    \"median\": ",
         "\"exchange_factor\": {\"median\": 1.5, \"min\": 0, \"max\": 2, \"n\": 3}, \"was\": {\"median\": ",
         "exchange_factor must be positive and finite"},
        {"\"cpu_share\": {\n    \"median\": ",
         "\"cpu_share\": {\"median\": 0.5, \"min\": 0.5, \"max\": 3, \"n\": 2}, \"was\": {\"median\": ",
         "cpu_share runs from 0.5 to 3 of the wall time, outside 0 to 1 of the wall time"},
    };
    for (size_t i = 0; i < sizeof edits / sizeof *edits; i++) {
        char *at = strstr(good, edits[i].from);
        if (!at)
            fail_msg("the calibration file has no '%s'", edits[i].from);
        char bad[16384];
        size_t head = (size_t)(at - good);
        snprintf(bad, sizeof bad, "%.*s%s%s", (int)head, good, edits[i].to, at + strlen(edits[i].from));
        const char *p = write_file("bad.json", bad, strlen(bad));
        int code = test_distlab_run(out, sizeof out, "pingpong --calibration %s", p);
        if (code != 2)
            fail_msg("edit %zu (%s): exit %d, not 2: %s", i, edits[i].says, code, out);
        if (!strstr(out, edits[i].says))
            fail_msg("edit %zu: expected '%s' in: %s", i, edits[i].says, out);
    }
    /* one stray exchange sample (0.0022 and 122 beside medians of 1.1
     * and 2.5, seen at load 4-7) keeps the file: a simulation takes the
     * median */
    static calibration c;
    char err[1024];
    assert_int_equal(calib_read(path, DISTLAB_VERSION, &c, err, sizeof err), 0);
    c.exchange_factor = (calib_stat){1.8, 0.0022, 122, 3};
    char stray[600];
    snprintf(stray, sizeof stray, "%s/stray.json", tmpdir);
    assert_int_equal(calib_write(&c, stray, err, sizeof err), 0);
    if (test_distlab_run(out, sizeof out, "pingpong --calibration %s", stray) != 0)
        fail_msg("a stray exchange sample voided the calibration: %s", out);
    assert_int_equal(calib_read(stray, DISTLAB_VERSION, &c, err, sizeof err), 0);
    double wire, os, orv, f;
    calib_network(&c, &wire, &os, &orv, &f);
    assert_true(c.exchange_factor.min == 0.0022 && c.exchange_factor.max == 122 && f == 1.8);
    /* truncated, missing, a folder, empty */
    const char *p = write_file("half.json", good, n / 2);
    assert_int_equal(test_distlab_run(out, sizeof out, "pingpong --calibration %s", p), 2);
    assert_non_null(strstr(out, "not a whole calibration file"));
    assert_int_equal(test_distlab_run(out, sizeof out, "pingpong --calibration %s/none.json", tmpdir), 2);
    assert_non_null(strstr(out, "cannot read calibration"));
    assert_int_equal(test_distlab_run(out, sizeof out, "pingpong --calibration %s", tmpdir), 2);
    p = write_file("empty.json", "", 0);
    assert_int_equal(test_distlab_run(out, sizeof out, "pingpong --calibration %s", p), 2);
    /* and not with a platform file */
    assert_int_equal(test_distlab_run(out, sizeof out, "pingpong --calibration %s --platform x.xml", path), 2);
    assert_non_null(strstr(out, "leave out --platform"));
}

static void t_bad_options(void **state)
{
    (void)state;
    static const test_refusal cases[] = {
        {"", "give -o FILE.json"},
        {"-o x.json --backend sim", "a simulation has nothing to measure"},
        {"-o x.json --repeat 0", "--repeat"},
        {"-o x.json --repeat 21", "--repeat"},
        {"-o x.json --workers 1", "--workers"},
        {"-o x.json --models nosuch", "unknown model 'nosuch'"},
        {"-o x.json --models logreg", "binary"},
        {"-o x.json --batches 0", "--batches"},
        {"-o x.json --batches 1,2,3,4,5", "at most 4"},
        {"-o x.json extra", "unexpected argument"},
    };
    test_distlab_refuses("calibrate", cases, sizeof cases / sizeof *cases);
}

/* ---- the simulated runtime's overheads (no real machine involved) ---- */

enum { BURST = 100 };

/* Rank 0 sends a burst of 8-byte messages, rank 1 receives them; each
 * notes when it was done. */
static int burst_rank(rt *r, void *arg)
{
    (void)arg;
    double *done = job_slot(r);
    char b[8] = {0};
    for (int k = 0; k < BURST; k++) {
        int rc = rt_rank(r) == 0 ? rt_send(r, 1, 0, b, sizeof b) : rt_recv(r, 0, 0, b, sizeof b, NULL);
        if (rc)
            return rc;
    }
    *done = rt_now(r);
    return RT_OK;
}

static void t_sim_charges_the_overheads(void **state)
{
    (void)state;
    sim_config sim = sim_config_default();
    sim.latency_s = 5e-6;
    sim.bandwidth_Bps = 1e9;
    sim.send_overhead_s = 2e-6;
    sim.recv_overhead_s = 3e-6; /* the slower side sets the pace */
    job_config cfg = sim_job_config(&sim);
    cfg.ranks = 2;
    cfg.result_bytes = sizeof(double);
    job_result res;
    assert_int_equal(job_run(&cfg, burst_rank, NULL, &res), 0);
    double sent = *(const double *)job_result_slot(&res, 0);
    double got = *(const double *)job_result_slot(&res, 1);
    /* the sender is busy o_s per message; a simulated message travels
     * when its receive is posted (a SimGrid mailbox), so each receive
     * costs the wire and then o_r, after the first message left at o_s */
    double wire = sim.latency_s + 8 / sim.bandwidth_Bps;
    double want = sim.send_overhead_s + BURST * (wire + sim.recv_overhead_s);
    if (fabs(sent - BURST * sim.send_overhead_s) > 1e-9)
        fail_msg("sender done at %.9g s, expected %.9g", sent, BURST * sim.send_overhead_s);
    if (fabs(got - want) > 1e-9)
        fail_msg("receiver done at %.9g s, expected %.9g", got, want);
    job_result_free(&res);
}

/* Rank 0 charges model work and vector work of several sizes; its slot
 * gets the simulated time after each. */
enum { VECTOR_CHARGES = 6 };
static const double vector_charge_flops[VECTOR_CHARGES] = {2e6, 100, 1000, 4000, 1e6, 0};

static int vector_rank(rt *r, void *arg)
{
    (void)arg;
    double *at = job_slot(r);
    if (rt_rank(r) != 0)
        return RT_OK;
    if (rt_compute_as(r, RT_WORK_KINDS, 1) != RT_EINVAL)
        return rt_fail(r, RT_EPROTO, "a kind of work past the last was taken");
    for (int i = 0; i < VECTOR_CHARGES; i++) {
        int rc = i == 0 ? rt_compute(r, vector_charge_flops[i])
                        : rt_compute_as(r, RT_WORK_VECTOR, vector_charge_flops[i]);
        if (rc)
            return rc;
        at[i] = rt_now(r);
    }
    return RT_OK;
}

/* Simulated times after each of vector_rank's charges, at this config. */
static void vector_times(const sim_config *sim, double *at)
{
    job_config cfg = sim_job_config(sim);
    cfg.ranks = 2;
    cfg.result_bytes = VECTOR_CHARGES * sizeof(double);
    job_result res;
    if (job_run(&cfg, vector_rank, NULL, &res) != 0)
        fail_msg("job: %s", res.error);
    memcpy(at, job_result_slot(&res, 0), VECTOR_CHARGES * sizeof(double));
    job_result_free(&res);
}

/* Vector work runs at the measured rate of its length: between two
 * measured points the rate is interpolated on log-log scales, held past
 * the ends; model work stays at the host speed. Without rates, every kind
 * runs at the host speed (the closed forms of uncalibrated runs). */
static void t_sim_charges_vector_work(void **state)
{
    (void)state;
    sim_config sim = sim_config_default();
    sim.speed_flops = 4e10;
    double plain[VECTOR_CHARGES], rated[VECTOR_CHARGES];
    vector_times(&sim, plain);
    double t = 0;
    for (int i = 0; i < VECTOR_CHARGES; i++) {
        t += vector_charge_flops[i] / sim.speed_flops;
        if (fabs(plain[i] - t) > 1e-6 * t)
            fail_msg("without rates, charge %d ends at %.9g s, expected %.9g", i, plain[i], t);
    }
    sim.nvector = 3;
    sim.vector_flops[0] = 1000, sim.vector_flops_per_s[0] = 5e9;
    sim.vector_flops[1] = 1e4, sim.vector_flops_per_s[1] = 4e9;
    sim.vector_flops[2] = 1e5, sim.vector_flops_per_s[2] = 2e9;
    vector_times(&sim, rated);
    double at4000 = exp(log(5e9) + log(4.0) / log(10.0) * (log(4e9) - log(5e9)));
    double want[VECTOR_CHARGES] = {2e6 / 4e10, 100 / 5e9, 1000 / 5e9, 4000 / at4000, 1e6 / 2e9, 0};
    t = 0;
    for (int i = 0; i < VECTOR_CHARGES; i++) {
        t += want[i];
        if (fabs(rated[i] - t) > 1e-6 * t)
            fail_msg("at measured rates, charge %d ends at %.9g s, expected %.9g", i, rated[i], t);
    }
}

/* Rank 0 computes, then sends rank 1 three messages with work between;
 * rank 1 receives each and computes, noting the time at each step (its
 * slot): a long wait for m1, a short one for m2 (sent before rank 1 asks
 * for it: it travels when its receive is posted), a long one for m3, then
 * vector work before model work. Rank 2, if any, does nothing, or
 * computes the flops arg points to. */
enum { WOKEN_TIMES = 8 };

static int woken_rank(rt *r, void *arg)
{
    double *at = job_slot(r);
    char m[8] = {0};
    int rc = RT_OK;
    if (rt_rank(r) == 2 && arg) /* the flops it keeps a core busy with */
        return rt_compute(r, *(const double *)arg);
    if (rt_rank(r) == 0) {
        static const double work[3] = {1e6, 5e4, 1e7};
        for (int i = 0; i < 3 && !rc; i++)
            if (!(rc = rt_compute(r, work[i])))
                rc = rt_send(r, 1, 0, m, sizeof m);
    } else if (rt_rank(r) == 1) {
        int k = 0;
        if (!(rc = rt_recv(r, 0, 0, m, sizeof m, NULL))) /* m1: a long wait */
            at[k++] = rt_now(r);
        for (int i = 0; i < 2 && !rc; i++) {
            rc = rt_compute(r, 1e6);
            at[k++] = rt_now(r);
        }
        if (!rc && !(rc = rt_recv(r, 0, 0, m, sizeof m, NULL))) /* m2: a short one */
            at[k++] = rt_now(r);
        if (!rc && !(rc = rt_compute(r, 1e6)))
            at[k++] = rt_now(r);
        if (!rc && !(rc = rt_recv(r, 0, 0, m, sizeof m, NULL))) /* m3: a long one */
            at[k++] = rt_now(r);
        if (!rc && !(rc = rt_compute_as(r, RT_WORK_VECTOR, 1e6)))
            at[k++] = rt_now(r);
        if (!rc && !(rc = rt_compute(r, 1e6)))
            at[k++] = rt_now(r);
    }
    return rc;
}

/* rank 1's times (its slot), rank 2 kept computing busy_flops if any */
static void wake_times(const sim_config *sim, int ranks, const double *busy_flops, double *at)
{
    job_config cfg = sim_job_config(sim);
    cfg.ranks = ranks;
    cfg.result_bytes = WOKEN_TIMES * sizeof(double);
    job_result res;
    if (job_run(&cfg, woken_rank, (void *)busy_flops, &res) != 0)
        fail_msg("job: %s", res.error);
    memcpy(at, job_result_slot(&res, 1), WOKEN_TIMES * sizeof(double));
    job_result_free(&res);
}

/* How long each of rank 1's five computations took: model work after m1,
 * again, after m2, vector work after m3, model work after that. */
static void woken_durations(const sim_config *sim, int ranks, double *took)
{
    double at[WOKEN_TIMES];
    wake_times(sim, ranks, NULL, at);
    double d[5] = {at[1] - at[0], at[2] - at[1], at[4] - at[3], at[6] - at[5], at[7] - at[6]};
    memcpy(took, d, sizeof d);
}

/* A rank's first model work after a wait it slept through takes the
 * measured factor longer: a wait longer than the spin time (here 1 ms and
 * 6.5 ms against 100 us), not one of 5 us, but on one machine with more
 * ranks than cores (no rank spins there) that one too; vector work after
 * a wait is not charged so, and the model work after it is not the first.
 * Without the factor (uncalibrated), every computation takes flops / speed. */
static void t_sim_charges_a_woken_step(void **state)
{
    (void)state;
    sim_config sim = sim_config_default();
    sim.speed_flops = 1e9;
    sim.latency_s = 5e-6;
    sim.bandwidth_Bps = 1e9;
    double took[5];
    woken_durations(&sim, 2, took);
    for (int i = 0; i < 5; i++)
        if (fabs(took[i] - 1e-3) > 1e-9)
            fail_msg("uncalibrated: computation %d took %.9g s, expected 1e-3", i, took[i]);
    sim.woken_model_factor = 1.5;
    sim.woken_after_s = 100e-6;
    woken_durations(&sim, 2, took);
    const double want[5] = {1.5e-3, 1e-3, 1e-3, 1e-3, 1e-3};
    for (int i = 0; i < 5; i++)
        if (fabs(took[i] - want[i]) > 1e-9)
            fail_msg("a rank per core: computation %d took %.9g s, expected %.9g", i, took[i], want[i]);
    sim.one_machine = 1;
    sim.hosts = 1;
    sim.cores = 2;
    woken_durations(&sim, 3, took);
    const double crowded[5] = {1.5e-3, 1e-3, 1.5e-3, 1e-3, 1e-3};
    for (int i = 0; i < 5; i++)
        if (fabs(took[i] - crowded[i]) > 1e-9)
            fail_msg("3 ranks on 2 cores: computation %d took %.9g s, expected %.9g", i, took[i], crowded[i]);
}

/* A message that reaches a rank asleep in its wait arrives wake_s later:
 * m1 and m3, sent 1 ms and 7 ms into rank 1's waits (past its 100 us
 * spin), not m2, sent before rank 1 asks for it (it travels when the
 * receive is posted, 5 us in) -- but on one machine with more ranks than
 * cores, where no rank spins, m2 too. rank 1's times after each receive
 * move by the wake-ups before them: m3's by its own alone, since it waits
 * for m3's arrival. */
static void t_sim_delays_a_sleepers_message(void **state)
{
    (void)state;
    sim_config sim = sim_config_default();
    sim.speed_flops = 1e9;
    sim.latency_s = 5e-6;
    sim.bandwidth_Bps = 1e9;
    sim.woken_after_s = 100e-6;
    for (int v = 0; v < 4; v++) { /* a rank per core or 3 ranks on 2 cores; SimGrid's net or analytic */
        int crowded = v % 2, analytic = v >= 2;
        sim.net = analytic ? SIM_NET_ANALYTIC : sim_config_default().net; /* its own receive path */
        sim.one_machine = crowded;
        sim.hosts = crowded ? 1 : sim_config_default().hosts;
        sim.cores = crowded ? 2 : sim_config_default().cores;
        double before[WOKEN_TIMES], after[WOKEN_TIMES];
        sim.wake_s = 0;
        wake_times(&sim, 2 + crowded, NULL, before);
        sim.wake_s = 2e-4;
        wake_times(&sim, 2 + crowded, NULL, after);
        /* after m1, m2 and m3: at[0], at[3], at[5] */
        const double want[3] = {2e-4, crowded ? 4e-4 : 2e-4, 2e-4};
        const int at[3] = {0, 3, 5};
        for (int i = 0; i < 3; i++)
            if (fabs(after[at[i]] - before[at[i]] - want[i]) > 1e-9)
                fail_msg("%s%s: after m%d rank 1 is %.9g s later, expected %.9g", crowded ? "3 ranks on 2 cores"
                         : "a rank per core", analytic ? ", --net analytic" : "", i + 1,
                         after[at[i]] - before[at[i]], want[i]);
    }
    /* one core, kept busy throughout by rank 2: a sleeper wakes by taking
     * a turn on it, which the sharing of the core already charges */
    sim.one_machine = 1;
    sim.hosts = 1;
    sim.cores = 1;
    const double busy = 1e8;
    double before[WOKEN_TIMES], after[WOKEN_TIMES];
    sim.wake_s = 0;
    wake_times(&sim, 3, &busy, before);
    sim.wake_s = 2e-4;
    wake_times(&sim, 3, &busy, after);
    for (int i = 0; i < WOKEN_TIMES; i++)
        if (after[i] != before[i])
            fail_msg("every core busy: rank 1's time %d moved from %.9g to %.9g s", i, before[i], after[i]);
}

/* Rank 0 reads and writes shared memory of several sizes (RT_WORK_SHARED_
 * READ: one flop a float; _WRITE: two); its slot gets the simulated time
 * after each, then the number of its events. */
enum { SHARED_CHARGES = 4 };
static const double shared_charge_floats[SHARED_CHARGES] = {100, 4000, 1e6, 4000};
static const int shared_charge_read[SHARED_CHARGES] = {1, 1, 0, 0};

static int shared_rank(rt *r, void *arg)
{
    (void)arg;
    double *at = job_slot(r);
    if (rt_rank(r) != 0)
        return RT_OK;
    for (int i = 0; i < SHARED_CHARGES; i++) {
        int rc = shared_charge_read[i] ? rt_compute_as(r, RT_WORK_SHARED_READ, shared_charge_floats[i])
                                       : rt_compute_as(r, RT_WORK_SHARED_WRITE, 2 * shared_charge_floats[i]);
        if (rc)
            return rc;
        at[i] = rt_now(r);
    }
    return RT_OK;
}

static void shared_times(const sim_config *sim, double *at, size_t *events)
{
    job_config cfg = sim_job_config(sim);
    cfg.ranks = 2;
    cfg.record_events = 1;
    cfg.result_bytes = SHARED_CHARGES * sizeof(double);
    job_result res;
    if (job_run(&cfg, shared_rank, NULL, &res) != 0)
        fail_msg("job: %s", res.error);
    memcpy(at, job_result_slot(&res, 0), SHARED_CHARGES * sizeof(double));
    *events = 0;
    for (size_t i = 0; i < res.nevents; i++)
        *events += res.events[i].kind == RT_EV_COMPUTE;
    job_result_free(&res);
}

/* Without measured rates a shared read costs nothing and leaves no event
 * (an uncalibrated Hogwild! keeps its closed form and its records), and a
 * write is vector work (here at the host speed); at measured rates each
 * moves its floats at the rate of its length, log-log between the points. */
static void t_sim_charges_shared_memory(void **state)
{
    (void)state;
    sim_config sim = sim_config_default();
    sim.speed_flops = 1e9;
    double at[SHARED_CHARGES];
    size_t events;
    shared_times(&sim, at, &events);
    double w1 = 2e6 / 1e9, w2 = w1 + 8000 / 1e9;
    if (at[0] != 0 || at[1] != 0 || fabs(at[2] - w1) > 1e-9 * w1 || fabs(at[3] - w2) > 1e-9 * w2)
        fail_msg("without rates: %g %g %g %g s, expected 0 0 %g %g", at[0], at[1], at[2], at[3], w1, w2);
    assert_int_equal(events, 2); /* the writes' */
    sim.nshared = 2;
    sim.shared_floats[0] = 1000, sim.shared_read_per_s[0] = 4e9, sim.shared_write_per_s[0] = 1e9;
    sim.shared_floats[1] = 1e5, sim.shared_read_per_s[1] = 2e9, sim.shared_write_per_s[1] = 5e8;
    shared_times(&sim, at, &events);
    double k = log(4.0) / log(100.0); /* 4000 floats between 1000 and 1e5 */
    double rd = exp(log(4e9) + k * (log(2e9) - log(4e9))), wr = exp(log(1e9) + k * (log(5e8) - log(1e9)));
    double want[SHARED_CHARGES] = {100 / 4e9, 4000 / rd, 1e6 / 5e8, 4000 / wr}, t = 0;
    for (int i = 0; i < SHARED_CHARGES; i++) {
        t += want[i];
        if (fabs(at[i] - t) > 1e-6 * t)
            fail_msg("at measured rates, charge %d ends at %.9g s, expected %.9g", i, at[i], t);
    }
    assert_int_equal(events, SHARED_CHARGES);
}

/* Rank 0 gathers a batch's inputs twice (RT_WORK_GATHER, a flop a float)
 * around a loss apart from its model (RT_WORK_LOSS); its slot gets the
 * time after each. */
static int gather_rank(rt *r, void *arg)
{
    (void)arg;
    double *at = job_slot(r);
    if (rt_rank(r) != 0)
        return RT_OK;
    int rc = rt_compute_as(r, RT_WORK_GATHER, 5e4);
    at[0] = rt_now(r);
    if (!rc && !(rc = rt_compute_as(r, RT_WORK_LOSS, 1e6)))
        at[1] = rt_now(r);
    if (!rc && !(rc = rt_compute_as(r, RT_WORK_GATHER, 1e3)))
        at[2] = rt_now(r);
    return rc;
}

/* Without a measured rate a gather costs nothing and leaves no event (an
 * uncalibrated model parallelism keeps its closed form and its records),
 * and a loss is model work at the host speed; at measured rates, floats
 * / rate and flops / rate. */
static void t_sim_charges_a_gather(void **state)
{
    (void)state;
    sim_config sim = sim_config_default();
    sim.speed_flops = 1e9;
    for (int rated = 0; rated < 2; rated++) {
        sim.gather_per_s = rated ? 2e9 : 0;
        sim.loss_flops_per_s = rated ? 5e8 : 0;
        job_config cfg = sim_job_config(&sim);
        cfg.ranks = 2;
        cfg.record_events = 1;
        cfg.result_bytes = 3 * sizeof(double);
        job_result res;
        if (job_run(&cfg, gather_rank, NULL, &res) != 0)
            fail_msg("job: %s", res.error);
        const double *at = job_result_slot(&res, 0);
        double g1 = rated ? 5e4 / 2e9 : 0, g2 = rated ? 1e3 / 2e9 : 0;
        double loss = rated ? 1e6 / 5e8 : 1e6 / 1e9;
        double want[3] = {g1, g1 + loss, g1 + loss + g2};
        for (int i = 0; i < 3; i++)
            if (fabs(at[i] - want[i]) > 1e-9 * want[i] + 1e-15)
                fail_msg("%s: charge %d ends at %.9g s, expected %.9g", rated ? "rated" : "unrated", i, at[i], want[i]);
        size_t events = 0;
        for (size_t i = 0; i < res.nevents; i++)
            events += res.events[i].kind == RT_EV_COMPUTE;
        assert_int_equal(events, rated ? 3 : 1);
        job_result_free(&res);
    }
}

/* A file without shared rates (ranks on several hosts; the builds before
 * them) or a gather rate is read as it was, with none. */
static void t_reads_a_file_without_shared_rates(void **state)
{
    (void)state;
    char path[512], err[1024], text[16384];
    static calibration c;
    snprintf(path, sizeof path, "%s/c.json", tmpdir);
    assert_int_equal(calib_read(path, DISTLAB_VERSION, &c, err, sizeof err), 0);
    assert_true(c.nshared > 0 && c.gather_Bps.n > 0);
    c.nshared = 0;
    c.gather_Bps.n = 0;
    c.loss_flops_per_s.n = 0;
    snprintf(c.compute[0].model, sizeof c.compute[0].model, "mlp:32,16"); /* for model parallelism below */
    snprintf(path, sizeof path, "%s/noshared.json", tmpdir);
    assert_int_equal(calib_write(&c, path, err, sizeof err), 0);
    size_t n;
    assert_int_equal(test_read_file(path, text, sizeof text - 1, &n), 0);
    text[n] = '\0';
    assert_null(strstr(text, "\"shared\""));
    assert_null(strstr(text, "\"gather_Bps\""));
    assert_null(strstr(text, "\"loss_flops_per_s\""));
    assert_int_equal(calib_read(path, DISTLAB_VERSION, &c, err, sizeof err), 0);
    assert_int_equal(c.nshared, 0);
    assert_int_equal(c.gather_Bps.n, 0);
    assert_int_equal(test_distlab_run(out, sizeof out, "run hogwild --calibration %s --workers 2 --epochs 1 "
                                      "--train-size 2000 --quiet --no-figures --model mlp:32,16 --out %s/hw", path,
                                      tmpdir), 0);
    if (test_distlab_run(out, sizeof out, "run distbelief --mode model-parallel --partitions 2 --model mlp:32,16 "
                         "--calibration %s --workers 2 --epochs 1 --train-size 2000 --quiet --no-figures --out %s/mp",
                         path, tmpdir) != 0)
        fail_msg("model parallelism without a gather rate: %s", out);
}

/* Rank 0's async job waits 5 ms for rank 1's message while rank 0
 * computes 10 ms of model work, then 1 ms more; rank 0 notes when each
 * ended. */
static int companion_recv_job(rt *r, void *arg)
{
    (void)arg;
    char m[8];
    return rt_recv(r, 1, 0, m, sizeof m, NULL);
}

static int companion_rank(rt *r, void *arg)
{
    (void)arg;
    double *at = job_slot(r);
    char m[8] = {0};
    if (rt_rank(r) == 1) {
        int rc = rt_compute(r, 5e6);
        return rc ? rc : rt_send(r, 0, 0, m, sizeof m);
    }
    int rc = rt_async_post(r, companion_recv_job, NULL);
    if (!rc && !(rc = rt_compute(r, 1e7)))
        at[0] = rt_now(r);
    if (!rc && !(rc = rt_compute(r, 1e6)))
        at[1] = rt_now(r);
    int drained = rt_async_drain(r);
    return rc ? rc : drained;
}

/* A wait the rank's async companion slept through is not the rank's: its
 * work after it costs flops / speed (on real sockets the companion is
 * another thread). */
static void t_sim_woken_is_the_ranks_own(void **state)
{
    (void)state;
    sim_config sim = sim_config_default();
    sim.speed_flops = 1e9;
    sim.latency_s = 5e-6;
    sim.bandwidth_Bps = 1e9;
    sim.woken_model_factor = 1.5;
    sim.woken_after_s = 100e-6;
    job_config cfg = sim_job_config(&sim);
    cfg.ranks = 2;
    cfg.result_bytes = 2 * sizeof(double);
    job_result res;
    if (job_run(&cfg, companion_rank, NULL, &res) != 0)
        fail_msg("job: %s", res.error);
    const double *at = job_result_slot(&res, 0);
    if (fabs(at[0] - 1e-2) > 1e-9 || fabs(at[1] - at[0] - 1e-3) > 1e-9)
        fail_msg("rank 0's work ended at %.9g and %.9g s, expected 0.01 and 0.011", at[0], at[1]);
    job_result_free(&res);
}

/* The simulated time of one ring allreduce of 4 MiB on 2 ranks at the
 * exchange factor f. */
static double ring_at(double f)
{
    char path[512];
    static calibration c;
    char err[1024];
    snprintf(path, sizeof path, "%s/c.json", tmpdir);
    assert_int_equal(calib_read(path, DISTLAB_VERSION, &c, err, sizeof err), 0);
    c.exchange_factor = (calib_stat){f, f, f, 1};
    c.nmessages = 0; /* every size on the line, so that the closed form holds */
    snprintf(path, sizeof path, "%s/f.json", tmpdir);
    assert_int_equal(calib_write(&c, path, err, sizeof err), 0);
    if (test_distlab_run(out, sizeof out, "collective --algo ring --bytes 4MiB --iters 1 --workers 2 "
                         "--calibration %s", path) != 0)
        fail_msg("collective: %s", out);
    const char *row = strstr(out, "sim,allreduce,ring,2,4194304,");
    assert_non_null(row);
    return atof(row + strlen("sim,allreduce,ring,2,4194304,"));
}

/* Both directions of a host through one limit of 2 B / f: each of the
 * ring's two phases sends n/2 bytes both ways at once at B / f, so the
 * allreduce takes (f - 1) n / B longer than on full-duplex links. */
static void t_sim_charges_the_exchange_factor(void **state)
{
    (void)state;
    calibrate("c.json", "--models softmax"); /* any machine's numbers do */
    static calibration c;
    char path[512], err[1024];
    snprintf(path, sizeof path, "%s/c.json", tmpdir);
    assert_int_equal(calib_read(path, DISTLAB_VERSION, &c, err, sizeof err), 0);
    double t1 = ring_at(1), t2 = ring_at(2), t15 = ring_at(1.5), n_over_b = 4194304 / c.bandwidth_Bps.median;
    if (fabs((t2 - t1) - n_over_b) > 1e-6 * n_over_b || fabs((t15 - t1) - 0.5 * n_over_b) > 1e-6 * n_over_b)
        fail_msg("ring at f = 1, 1.5, 2: %.9g, %.9g, %.9g s; n/B = %.9g s", t1, t15, t2, n_over_b);
}

/* Every rank computes a second's worth at once; rank 0 then sends rank 1
 * a 1 MiB message. Each notes when its compute ended, and rank 1 when the
 * message came. */
static int share_rank(rt *r, void *arg)
{
    (void)arg;
    double *at = job_slot(r);
    static char buf[1 << 20];
    int rc = rt_compute(r, 1e9);
    at[0] = rt_now(r);
    if (!rc && rt_rank(r) == 0)
        rc = rt_send(r, 1, 0, buf, sizeof buf);
    else if (!rc && rt_rank(r) == 1)
        rc = rt_recv(r, 0, 0, buf, sizeof buf, NULL);
    at[1] = rt_now(r);
    return rc;
}

/* A calibration of one machine simulates one host of its cores: three
 * ranks on two cores share them fairly (each second's worth takes 1.5 s),
 * and a message between two of its ranks still costs the measured latency
 * and bandwidth. On the command line: one machine unless --hosts says
 * otherwise. */
static void t_one_machine_shares_its_cores(void **state)
{
    (void)state;
    sim_config sim = sim_config_default();
    sim.one_machine = 1;
    sim.hosts = 1;
    sim.cores = 2;
    sim.speed_flops = 1e9;
    sim.latency_s = 10e-6;
    sim.bandwidth_Bps = 1e9;
    sim.exchange_factor = 2;
    job_config cfg = sim_job_config(&sim);
    cfg.ranks = 3;
    cfg.result_bytes = 2 * sizeof(double);
    job_result res;
    if (job_run(&cfg, share_rank, NULL, &res) != 0)
        fail_msg("job: %s", res.error);
    for (int i = 0; i < 3; i++) {
        const double *at = job_result_slot(&res, i);
        if (fabs(at[0] - 1.5) > 1e-6)
            fail_msg("rank %d of 3 on 2 cores: its 1 s of compute ended at %.9g s, expected 1.5", i, at[0]);
    }
    double got = ((const double *)job_result_slot(&res, 1))[1], want = 1.5 + 10e-6 + (1 << 20) / 1e9;
    if (fabs(got - want) > 1e-9)
        fail_msg("1 MiB between two ranks of the machine arrived at %.9g s, expected %.9g", got, want);
    job_result_free(&res);

    calibrate("m.json", "--models softmax");
    static calibration c;
    char path[512], err[1024], want_line[128];
    snprintf(path, sizeof path, "%s/m.json", tmpdir);
    assert_int_equal(calib_read(path, DISTLAB_VERSION, &c, err, sizeof err), 0);
    assert_true(c.cores >= 1 && calib_one_machine(&c));
    snprintf(want_line, sizeof want_line, "sim: one machine of %d core%s (the calibration's)", c.cores,
             c.cores == 1 ? "" : "s");
    assert_int_equal(test_distlab_run(out, sizeof out, "pingpong --calibration %s", path), 0);
    if (!strstr(out, want_line))
        fail_msg("expected '%s' in: %s", want_line, out);
    assert_int_equal(test_distlab_run(out, sizeof out, "pingpong --calibration %s --hosts 2", path), 0);
    assert_non_null(strstr(out, "sim: generated cluster of 2 hosts"));
    /* the platform written beside it is that machine */
    size_t n;
    snprintf(path, sizeof path, "%s/m.xml", tmpdir);
    assert_int_equal(test_read_file(path, out, sizeof out - 1, &n), 0);
    out[n] = '\0';
    snprintf(want_line, sizeof want_line, "<host id=\"node-0\" speed=");
    assert_non_null(strstr(out, want_line));
    snprintf(want_line, sizeof want_line, "core=\"%d\"/>", c.cores);
    if (!strstr(out, want_line) || !strstr(out, "machine-copy"))
        fail_msg("expected one host of %d cores and its copying link in: %s", c.cores, out);
}

/* Rank 0 sends rank 1 one message of *(size_t *)arg bytes; rank 1 notes
 * when it came. */
static int one_message_rank(rt *r, void *arg)
{
    size_t n = *(const size_t *)arg;
    char *buf = calloc(1, n);
    int rc = !buf ? rt_fail(r, RT_ENOMEM, "no memory")
             : rt_rank(r) == 0 ? rt_send(r, 1, 0, buf, n) : rt_recv(r, 0, 0, buf, n, NULL);
    *(double *)job_slot(r) = rt_now(r);
    free(buf);
    return rc;
}

/* Each measured size from 64 KiB up costs its own time: the scale is
 * its excess over the latency against the line's, sizes below 64 KiB and
 * sizes the latency hides are left out, scales past [1/2, 2] held to
 * them; a simulated message of n bytes
 * weighs n times the scale at n, log-log between the points, held past
 * them. */
static void t_sim_charges_each_size(void **state)
{
    (void)state;
    static calibration c;
    memset(&c, 0, sizeof c);
    c.latency_s.median = 1e-5;
    c.bandwidth_Bps.median = 1e9;
    static const struct { size_t bytes; double seconds; } m[] = {
        {8, 2e-5}, {4096, 5e-5}, {65536, 1e-5 + 65536e-9}, {1 << 20, 0.5e-5}, {4 << 20, 1e-5 + 1.5 * 4194304e-9},
        {8 << 20, 1e-5 + 3 * 8388608e-9}, {16 << 20, 1e-5 + 0.2 * 16777216e-9}};
    for (int i = 0; i < 7; i++)
        c.messages[i] = (calib_message){m[i].bytes, {m[i].seconds, m[i].seconds, m[i].seconds, 1}, {0, 0, 0, 0}};
    c.nmessages = 7;
    sim_config sim = sim_config_default();
    sim.nmsg = calib_wire_scale(&c, sim.msg_bytes, sim.msg_scale, SIM_MAX_MSG);
    assert_int_equal(sim.nmsg, 4);
    /* 3x and 0.2x the line are noise: held to 2 and 1/2 */
    assert_true(fabs(sim.msg_scale[2] - 2) < 1e-9 && fabs(sim.msg_scale[3] - 0.5) < 1e-9);
    sim.nmsg = 2;
    assert_true(sim.msg_bytes[0] == 65536 && sim.msg_bytes[1] == 4194304);
    assert_true(fabs(sim.msg_scale[0] - 1) < 1e-9 && fabs(sim.msg_scale[1] - 1.5) < 1e-9);
    sim.latency_s = 1e-5;
    sim.bandwidth_Bps = 1e9;
    static const size_t sizes[] = {8, 65536, 1 << 20, 4 << 20, 16 << 20};
    /* 1 MiB lies two thirds of the way from 64 KiB to 4 MiB on a log scale */
    const double scale[] = {1, 1, pow(1.5, 2.0 / 3.0), 1.5, 1.5};
    for (int i = 0; i < 5; i++) {
        job_config cfg = sim_job_config(&sim);
        cfg.ranks = 2;
        cfg.result_bytes = sizeof(double);
        job_result res;
        size_t n = sizes[i];
        if (job_run(&cfg, one_message_rank, &n, &res) != 0)
            fail_msg("job: %s", res.error);
        double got = *(const double *)job_result_slot(&res, 1), want = 1e-5 + (double)n * scale[i] / 1e9;
        if (fabs(got - want) > 1e-6 * want)
            fail_msg("%zu bytes arrived at %.9g s, expected %.9g", n, got, want);
        job_result_free(&res);
    }
}

/* Both ranks send each other *(size_t *)arg bytes at once; each notes
 * when it had the other's. */
static int exchange_rank(rt *r, void *arg)
{
    size_t n = *(const size_t *)arg;
    char *out = calloc(1, n), *in = calloc(1, n);
    int other = 1 - rt_rank(r);
    int rc = !out || !in ? rt_fail(r, RT_ENOMEM, "no memory")
                         : rt_sendrecv(r, other, 0, out, n, other, 0, in, n, NULL);
    *(double *)job_slot(r) = rt_now(r);
    free(out);
    free(in);
    return rc;
}

/* A size whose exchange costs a share of what the exchange factor makes
 * of its one-way time: alone, its message still takes its one-way time;
 * two at once, the share of f one-way times (f = 2 here: one copy link
 * of B for both directions). The share from the file: each size's
 * exchange factor over the largest size's, held within [1/f, 1]. */
/* A calibration's per-size exchange is bounded at the measured wire's
 * rate; a node of GPUs (--gpus-per-node) has links of its own, which that
 * bound must not slow: 1 MiB over a 1 TB/s intra-node link took about
 * 400 us (the loopback's rate) before, 5 us after. */
static void t_gpu_nodes_keep_their_links(void **state)
{
    (void)state;
    calibrate("g.json", "--models softmax");
    /* each size's exchange at its one-way time but 4 MiB's at twice it:
     * every smaller size gets a share of 1/2, bounded */
    static calibration c;
    char path[512], err[1024];
    snprintf(path, sizeof path, "%s/g.json", tmpdir);
    assert_int_equal(calib_read(path, DISTLAB_VERSION, &c, err, sizeof err), 0);
    for (int i = 0; i < c.nmessages; i++) {
        calib_message *m = &c.messages[i];
        if (m->exchange_s.n > 0) {
            m->exchange_s = m->oneway_s;
            m->exchange_s.median *= m->bytes == 4 << 20 ? 2 : 1;
            m->exchange_s.max *= 2;
        }
    }
    c.exchange_factor = (calib_stat){2, 2, 2, 1};
    assert_int_equal(calib_write(&c, path, err, sizeof err), 0);
    double bytes[16], share[16];
    int n = calib_exchange_share(&c, bytes, share, 16);
    assert_true(n >= 2 && share[0] < 0.75); /* the bound is in force */
    if (test_distlab_run(out, sizeof out, "pingpong --calibration %s --gpus-per-node 2 --hosts 1 "
                         "--intra-bandwidth 1TBps --bytes 1MiB", path) != 0)
        fail_msg("pingpong: %s", out);
    const char *row = strstr(out, "\nsim,1048576,1,");
    assert_non_null(row);
    double oneway = strtod(row + strlen("\nsim,1048576,1,"), NULL);
    if (!(oneway > 0 && oneway < 25e-6))
        fail_msg("1 MiB between two GPUs of a node at 1 TB/s: %.3g s one way (%s)", oneway, out);
}

static void t_sim_charges_each_sizes_exchange(void **state)
{
    (void)state;
    sim_config sim = sim_config_default();
    sim.one_machine = 1;
    sim.hosts = 1;
    sim.cores = 2;
    sim.speed_flops = 1e9;
    sim.latency_s = 1e-5;
    sim.bandwidth_Bps = 1e9;
    sim.exchange_factor = 2;
    sim.nshare = 2;
    sim.share_bytes[0] = 1 << 20;
    sim.share[0] = 0.75;
    sim.share_bytes[1] = 4 << 20;
    sim.share[1] = 1;
    static const size_t sizes[] = {1 << 20, 2 << 20, 4 << 20};
    for (int i = 0; i < 3; i++) {
        size_t n = sizes[i];
        double share = i == 0 ? 0.75 : i == 1 ? exp(0.5 * log(0.75)) : 1; /* 2 MiB: halfway, log-log */
        for (int both = 0; both < 2; both++) {
            job_config cfg = sim_job_config(&sim);
            cfg.ranks = 2;
            cfg.result_bytes = sizeof(double);
            job_result res;
            if (job_run(&cfg, both ? exchange_rank : one_message_rank, &n, &res) != 0)
                fail_msg("job: %s", res.error);
            double got = *(const double *)job_result_slot(&res, 1);
            double want = 1e-5 + (double)n / 1e9 * (both ? 2 * share : 1);
            if (fabs(got - want) > 1e-6 * want)
                fail_msg("%zu bytes %s: %.9g s, expected %.9g", n, both ? "both ways" : "one way", got, want);
            job_result_free(&res);
        }
    }
    /* from a file: 1 MiB's factor 1.5 against 4 MiB's 1.8 (F 1.8) gives
     * 1.5 / 1.8; 64 KiB's 0.5 is held at 1 / F */
    static calibration c;
    memset(&c, 0, sizeof c);
    c.exchange_factor = (calib_stat){1.8, 1.8, 1.8, 1};
    c.latency_s = (calib_stat){1e-5, 1e-5, 1e-5, 1};
    static const struct { size_t bytes; double oneway, exchange; } m[] = {
        {4096, 1e-5, 0}, {65536, 1e-4, 0.5e-4}, {1 << 20, 1e-3, 1.5e-3}, {4 << 20, 4e-3, 7.2e-3}};
    for (int i = 0; i < 4; i++)
        c.messages[c.nmessages++] = (calib_message){m[i].bytes, {m[i].oneway, m[i].oneway, m[i].oneway, 1},
                                                    {m[i].exchange, m[i].exchange, m[i].exchange, m[i].exchange > 0}};
    double bytes[SIM_MAX_MSG], share[SIM_MAX_MSG];
    assert_int_equal(calib_exchange_share(&c, bytes, share, SIM_MAX_MSG), 3);
    assert_true(bytes[0] == 65536 && bytes[2] == 4194304);
    if (fabs(share[0] - 1 / 1.8) > 1e-12 || fabs(share[1] - 1.5 / 1.8) > 1e-12 || share[2] != 1)
        fail_msg("shares %.9g, %.9g, %.9g", share[0], share[1], share[2]);
}

/* The 4 MiB one-way time of a pingpong: simulated or real. */
static double oneway_4mib(const char *opts)
{
    if (test_distlab_run(out, sizeof out, "pingpong --bytes 4MiB %s", opts) != 0)
        fail_msg("pingpong %s: %s", opts, out);
    const char *row = strstr(out, ",4194304,");
    assert_non_null(row);
    const char *c = strchr(row + 9, ',');
    assert_non_null(c);
    return atof(c + 1);
}

static void t_predicts_the_real_pingpong(void **state)
{
    (void)state;
    double worst = 0;
    for (int attempt = 0; attempt < 6; attempt++) {
        calibrate("p.json", "--models softmax");
        char opts[600];
        snprintf(opts, sizeof opts, "--calibration %s/p.json", tmpdir);
        double predicted = oneway_4mib(opts), measured = oneway_4mib("--backend real");
        double err = fabs(predicted - measured) / measured;
        printf("# attempt %d: predicted %.6g s, measured %.6g s (%.0f%% off)\n", attempt + 1, predicted,
               measured, 100 * err);
        if (err <= 0.25)
            return;
        worst = fmax(worst, err);
    }
    fail_msg("six calibrations in a row missed the real 4 MiB pingpong by more than 25%% (worst %.0f%%)",
             100 * worst);
}

/* validate runs each case both ways and writes the comparison; it
 * measures, so nothing here asserts how close the numbers are */
static void t_validate_writes_its_table(void **state)
{
    (void)state;
    calibrate("v.json", "--models softmax,mlp:64");
    int rc = test_distlab_run(out, sizeof out, "validate --calibration %s/v.json --out %s/val "
                              "--only collective-ring,ps-bsp --train-size 600 --epochs 2 --repeat 2", tmpdir, tmpdir);
    if (rc != 0)
        fail_msg("validate exited %d: %s", rc, out);
    char path[512], csv[4096];
    size_t n;
    snprintf(path, sizeof path, "%s/val/validate.csv", tmpdir);
    assert_int_equal(test_read_file(path, csv, sizeof csv - 1, &n), 0);
    csv[n] = '\0';
    assert_non_null(strstr(csv, "case,family,unit,measured_s,predicted_s,predicted_over_measured,"
                                "load_average,runs,measured_min_s,measured_max_s\n"));
    const char *row = strstr(csv, "\nps-bsp,parameter server,epoch,");
    assert_non_null(row);
    double m, p, ratio, load, lo, hi;
    int runs;
    assert_int_equal(sscanf(row + strlen("\nps-bsp,parameter server,epoch,"), "%lf,%lf,%lf,%lf,%d,%lf,%lf",
                            &m, &p, &ratio, &load, &runs, &lo, &hi), 7);
    assert_true(m > 0 && p > 0 && isfinite(ratio) && fabs(ratio - p / m) < 1e-3 * ratio);
    assert_true(runs == 2 && lo <= m && m <= hi && load >= 0); /* the median of two real runs */
    assert_non_null(strstr(csv, "\ncollective-ring,allreduce,operation,"));
    assert_null(strstr(csv, "local-sgd"));
    /* each side evaluated before the first step and after the last only:
     * the header and two points, epochs 0 and 2 */
    for (int sim = 0; sim < 2; sim++) {
        snprintf(path, sizeof path, "%s/val/ps-bsp-%s/metrics.csv", tmpdir, sim ? "sim" : "real");
        assert_int_equal(test_read_file(path, csv, sizeof csv - 1, &n), 0);
        csv[n] = '\0';
        int lines = 0;
        for (size_t i = 0; i < n; i++)
            lines += csv[i] == '\n';
        if (lines != 3)
            fail_msg("%s: %d lines, expected the header and two points:\n%s", path, lines, csv);
        const char *p = csv + n - 1; /* the last line's newline: back to its start */
        while (p > csv && p[-1] != '\n')
            p--;
        const char *comma = strchr(p, ',');
        assert_non_null(comma);
        assert_true(strtod(comma + 1, NULL) == 2); /* the epoch column */
    }
    snprintf(path, sizeof path, "%s/val/validate.png", tmpdir);
    assert_int_equal(test_read_file(path, csv, 8, &n), -1); /* more than 8 bytes: it is there */
    static const test_refusal bad[] = {
        {"--only nosuch", "no case is named 'nosuch'"},
        {"--workers 1", "--workers"},
        {"--launch hosts", "expected threads or procs"},
        {"--repeat 0", "--repeat"},
        {"--calibration /nonexistent.json --only ps-bsp", "cannot read calibration"},
    };
    test_distlab_refuses("validate", bad, sizeof bad / sizeof *bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_writes_a_file_that_loads),
        cmocka_unit_test(t_nearest_batch),
        cmocka_unit_test(t_refuses_bad_files),
        cmocka_unit_test(t_bad_options),
        cmocka_unit_test(t_sim_charges_the_overheads),
        cmocka_unit_test(t_sim_charges_the_exchange_factor),
        cmocka_unit_test(t_sim_charges_vector_work),
        cmocka_unit_test(t_sim_charges_shared_memory),
        cmocka_unit_test(t_sim_charges_a_gather),
        cmocka_unit_test(t_reads_a_file_without_shared_rates),
        cmocka_unit_test(t_sim_charges_a_woken_step),
        cmocka_unit_test(t_sim_delays_a_sleepers_message),
        cmocka_unit_test(t_sim_woken_is_the_ranks_own),
        cmocka_unit_test(t_one_machine_shares_its_cores),
        cmocka_unit_test(t_sim_charges_each_size),
        cmocka_unit_test(t_sim_charges_each_sizes_exchange),
        cmocka_unit_test(t_gpu_nodes_keep_their_links),
        cmocka_unit_test(t_predicts_the_real_pingpong),
        cmocka_unit_test(t_validate_writes_its_table),
    };
    return cmocka_run_group_tests_name("calibrate", tests, setup, teardown);
}
