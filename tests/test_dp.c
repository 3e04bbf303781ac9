/* test_dp.c -- the data-parallel step timer (algorithms/dp.c): buckets
 * filled in reverse layer order, and under the ideal network a two-bucket
 * step equals its closed form, with bucket 1's allreduce hidden behind the
 * rest of backward or not, overlapped or not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "algorithms/dp.h"
#include "core/job.h"
#include "sim/sim_backend.h"
#include "tests/util_distlab.h"

/* Two layers: the input side (a) and the output side (b). */
static ml_workload two_layers(ml_workload_layer *l, double pa, double ma, double pb, double mb)
{
    l[0] = (ml_workload_layer){.name = "a", .params = pa, .fwd_macs = ma};
    l[1] = (ml_workload_layer){.name = "b", .params = pb, .fwd_macs = mb};
    return (ml_workload){.name = "two", .layers = l, .nlayers = 2, .params = pa + pb, .fwd_macs = ma + mb};
}

static void buckets_fill_in_reverse_layer_order(void **state)
{
    (void)state;
    ml_workload_layer l[5] = {{.params = 10}, {.params = 0}, {.params = 30}, {.params = 5}, {.params = 20}};
    ml_workload w = {.layers = l, .nlayers = 5};
    size_t close[5];
    /* 80-byte buckets (20 floats): [layer 4] [3, 2] [1, 0] */
    assert_int_equal(dp_buckets(&w, 80, close), 3);
    assert_true(close[4] == 20 && close[3] == 0 && close[2] == 35 && close[1] == 0 && close[0] == 10);
    /* one bucket holds everything */
    assert_int_equal(dp_buckets(&w, 1 << 20, close), 1);
    assert_true(close[0] == 65 && close[4] == 0);
    assert_int_equal(dp_buckets(&w, 80, NULL), -1);
}

/* The slowest rank's last step. */
static double step_s(ml_workload *w, int p, size_t bucket, int overlap)
{
    sim_config sim = sim_config_default();
    sim.size_only = 1;
    sim.cores = 2; /* the allreduces' additions beside backward, not in it */
    sim.speed_flops = 1e12;
    job_config cfg = sim_job_config(&sim);
    cfg.ranks = p;
    cfg.record_events = 0;
    cfg.result_bytes = sizeof(dp_slot);
    dp_opts o = {.w = w, .batch = 8, .bucket_bytes = bucket, .overlap = overlap,
                 .algo = ALLREDUCE_RING, .steps = 2};
    job_result res;
    if (job_run(&cfg, dp_rank, &o, &res) != 0)
        fail_msg("%s", res.error);
    double worst = 0;
    for (int i = 0; i < p; i++) {
        const dp_slot *s = job_result_slot(&res, i);
        worst = s->step_s[1] > worst ? s->step_s[1] : worst;
        assert_int_equal(s->buckets, 2);
    }
    job_result_free(&res);
    return worst;
}

static void check_close(double got, double want, const char *what)
{
    if (!(fabs(got - want) <= 1e-9 * want))
        fail_msg("%s: simulated %.12g s, closed form %.12g s", what, got, want);
}

/* F + b_b + max(b_a, c_1) + c_2 with overlap, F + b_b + b_a + c_1 + c_2
 * without; c_k the ring's cost on the bucket (allreduce.c). */
static void two_buckets_match_the_closed_form(void **state)
{
    (void)state;
    const double speed = 1e12, batch = 8, a = 50e-6, beta = 1 / 1.25e9;
    const int p = 4;
    /* layer a: 2 M params, long backward (hides bucket 1); then short */
    const double macs_a[] = {2e9, 1e7};
    for (int c = 0; c < 2; c++) {
        ml_workload_layer l[2];
        ml_workload w = two_layers(l, 2e6, macs_a[c], 1e6, 5e8);
        double F = 2 * (macs_a[c] + 5e8) * batch / speed;
        double bb = 4 * 5e8 * batch / speed, ba = 4 * macs_a[c] * batch / speed;
        double c1 = allreduce_cost_s(ALLREDUCE_RING, p, 1000000, a, beta, 1 / speed);
        double c2 = allreduce_cost_s(ALLREDUCE_RING, p, 2000000, a, beta, 1 / speed);
        size_t bucket = 4000000; /* layer b alone fills bucket 1 */
        double on = F + bb + (ba > c1 ? ba : c1) + c2, off = F + bb + ba + c1 + c2;
        check_close(step_s(&w, p, bucket, 1), on, c ? "overlap, c1 > b_a" : "overlap, c1 hidden");
        check_close(step_s(&w, p, bucket, 0), off, "no overlap");
        if (c == 0)
            assert_true(ba > c1); /* the case meant: bucket 1 fully hidden */
        else
            assert_true(ba < c1);
    }
}

/* distlab dp: a row with the scaling efficiency, records, and refusals. */
static void the_dp_verb(void **state)
{
    (void)state;
    if (!test_distlab())
        skip();
    static char out[1 << 16];
    char dir[] = "/tmp/distlab-dp-XXXXXX";
    assert_non_null(mkdtemp(dir));
    int st = test_distlab_run(out, sizeof out, "dp --workload resnet50 --workers 16 --gpus-per-node 8 "
                              "--bandwidth 25Gbps --framework ddp --out %s/run", dir);
    if (st != 0)
        fail_msg("exit %d:\n%s", st, out);
    const char *row = strstr(out, "\nresnet50,16,32,ddp,25000000,on,ring,");
    assert_non_null(row);
    double step, compute, exposed, eff;
    assert_int_equal(sscanf(row + 1, "resnet50,16,32,ddp,25000000,on,ring,%*d,%lf,%lf,%lf,%lf", &step, &compute, &exposed, &eff), 4);
    assert_true(step > compute && compute > 0 && fabs(eff - compute / step) < 1e-5);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "grep -q '\"scaling_efficiency\"' %s/run/summary.json && test -s %s/run/events.csv",
             dir, dir);
    assert_int_equal(system(cmd), 0);
    /* overlap off is slower: nothing of the communication hidden */
    assert_int_equal(test_distlab_run(out, sizeof out, "dp --workload resnet50 --workers 16 --gpus-per-node 8 "
                                      "--bandwidth 25Gbps --overlap off"), 0);
    row = strstr(out, "\nresnet50,16,32,custom,25000000,off,ring,");
    assert_non_null(row);
    double step_off;
    assert_int_equal(sscanf(row + 1, "resnet50,16,32,custom,25000000,off,ring,%*d,%lf", &step_off), 1);
    assert_true(step_off > step);
    /* BytePS: CPU machines beside the 16 GPUs make the step shorter */
    double bps[2];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(test_distlab_run(out, sizeof out, "dp --workload resnet50 --workers 16 --bandwidth 25Gbps "
                                          "--framework byteps --servers %d", i * 16), 0);
        row = strstr(out, "\nresnet50,16,32,byteps,4000000,on,byteps:k=");
        assert_non_null(row);
        assert_int_equal(sscanf(row + 1, "resnet50,16,32,byteps,4000000,on,byteps:k=%*d,%*d,%lf", &bps[i]), 1);
    }
    assert_true(bps[1] < bps[0]);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    static const test_refusal bad[] = {
        {"--workload resnet49", "resnet50, resnet101"},
        {"", "--workload: give the network"},
        {"--workload vgg16 --framework mxnet", "known: ddp, horovod, byteps, none"},
        {"--workload vgg16 --bucket 0", "at least one gradient"},
        {"--workload vgg16 --device k80", "v100"},
        {"--workload vgg16 --backend real", "only simulation charges"},
        {"--workload vgg16 --workers 6 --gpus-per-node 4 --allreduce hierarchical", "not whole nodes"},
        {"--workload vgg16 --workers 9 --gpus-per-node 4 --hosts 2", "do not fit 2 nodes of 4 GPUs"},
        {"--workload vgg16 --device a100 --speed 1Tf", "leave out --speed"},
        {"--workload vgg16 --servers 2", "--servers goes with --framework byteps"},
        {"--workload vgg16 --framework byteps --gpus-per-node 4", "leave out --allreduce and --gpus-per-node"},
    };
    test_distlab_refuses("dp", bad, sizeof bad / sizeof *bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(buckets_fill_in_reverse_layer_order),
        cmocka_unit_test(two_buckets_match_the_closed_form),
        cmocka_unit_test(the_dp_verb),
    };
    return cmocka_run_group_tests_name("data-parallel steps", tests, NULL, NULL);
}
