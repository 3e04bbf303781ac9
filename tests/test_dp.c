/* test_dp.c -- the data-parallel step timer (algorithms/dp.c): buckets
 * filled in reverse layer order, and under the ideal network a two-bucket
 * step equals its closed form, with bucket 1's allreduce hidden behind the
 * rest of backward or not, overlapped or not; so do BytePS and the
 * parameter servers (P3's early pulls, machines of several GPUs). And the same schedule on a
 * real MLP (`run allreduce --bucket`, dp_grad.c): the model bits of the
 * plain allreduce run, on sim, threads and procs. */
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

/* Horovod's cycles (dp_horovod.c), one run on p ranks: the slowest
 * rank's steps into step[] and rank 0's slot into *slot. */
static void hvd_steps(ml_workload *w, int p, size_t threshold, double cycle_s, int steps, double *step,
                      dp_slot *slot)
{
    sim_config sim = sim_config_default();
    sim.size_only = 1;
    sim.cores = 2;
    sim.speed_flops = 1e12;
    job_config cfg = sim_job_config(&sim);
    cfg.ranks = p;
    cfg.record_events = 0;
    cfg.result_bytes = sizeof(dp_slot);
    dp_opts o = {.w = w, .batch = 8, .bucket_bytes = threshold, .overlap = 1, .algo = ALLREDUCE_RING,
                 .steps = steps, .cycle_s = cycle_s};
    job_result res;
    if (job_run(&cfg, dp_rank, &o, &res) != 0)
        fail_msg("%s", res.error);
    for (int k = 0; k < steps; k++) {
        step[k] = 0;
        for (int i = 0; i < p; i++) {
            const dp_slot *s = job_result_slot(&res, i);
            step[k] = s->step_s[k] > step[k] ? s->step_s[k] : step[k];
        }
    }
    *slot = *(const dp_slot *)job_result_slot(&res, 0);
    job_result_free(&res);
}

/* Under the ideal network, with n tensors new on each of p = 4 ranks
 * (L = 2): a negotiation is L alpha + (p-1) q beta + L (alpha + q beta),
 * q = H + E n; a cycle then allreduces its fused buffers in turn, and the
 * next starts a cycle time after it, or when it ends if later. */
static void horovod_cycles_match_the_closed_form(void **state)
{
    (void)state;
    const double speed = 1e12, batch = 8, a = 50e-6, beta = 1 / 1.25e9;
    const int p = 4, L = 2;
    double neg[3];
    for (int n = 0; n < 3; n++) {
        double q = DP_HVD_HEADER_BYTES + DP_HVD_ENTRY_BYTES * n;
        neg[n] = L * a + (p - 1) * q * beta + L * (a + q * beta);
    }
    ml_workload_layer l[2];
    ml_workload w = two_layers(l, 2e6, 2e8, 1e6, 1e8);
    double F = 2 * 3e8 * batch / speed, bb = 4 * 1e8 * batch / speed, B = 4 * 3e8 * batch / speed;
    double c_a = allreduce_cost_s(ALLREDUCE_RING, p, 2000000, a, beta, 1 / speed);
    double c_b = allreduce_cost_s(ALLREDUCE_RING, p, 1000000, a, beta, 1 / speed);
    double c_ab = allreduce_cost_s(ALLREDUCE_RING, p, 3000000, a, beta, 1 / speed);
    double step[2];
    dp_slot s;
    /* one cycle after backward: both tensors in one 12 MB buffer; the
     * second step's cycles keep the first's beat: at 2T and 3T */
    double T = 20e-3;
    assert_true(F + B < T);
    hvd_steps(&w, p, 64 << 20, T, 2, step, &s);
    check_close(step[0], T + neg[2] + c_ab, "horovod, one cycle, one fused buffer");
    check_close(step[1], 2 * T, "horovod, the next step on the cycles' beat");
    assert_int_equal(s.buckets, 1);
    assert_int_equal(s.cycles, 2);
    /* an 8 MB threshold: the tensors in two buffers, output side first */
    hvd_steps(&w, p, 8000000, T, 1, step, &s);
    check_close(step[0], T + neg[2] + c_b + c_a, "horovod, one cycle, two buffers");
    assert_int_equal(s.buckets, 2);
    /* 5 ms cycles: nothing ready at T, the output layer at 2T, and the
     * third cycle starts late, when the second's allreduce ends */
    T = 5e-3;
    double e2 = 2 * T + neg[1] + c_b;
    assert_true(neg[0] < T && F < T && F + bb < 2 * T && 2 * T < F + B && e2 > 3 * T && e2 > F + B);
    hvd_steps(&w, p, 64 << 20, T, 1, step, &s);
    check_close(step[0], e2 + neg[1] + c_a, "horovod, three cycles, the last one late");
    assert_int_equal(s.cycles, 3);
    assert_int_equal(s.buckets, 2);
}

/* BytePS on machines of 2 GPUs (byteps.c), one bucket in one piece:
 * the slowest GPU's last step. The CPU servers are machines of their own
 * after the GPU nodes. */
static double byteps_step_s(ml_workload *w, int nodes, int servers)
{
    sim_config sim = sim_config_default();
    sim.size_only = 1;
    sim.cores = 2;
    sim.speed_flops = 1e12;
    sim.bandwidth_Bps = 1.25e9;
    sim.latency_s = 50e-6;
    sim.gpus_per_node = 2;
    sim.intra_bandwidth_Bps = 1e11;
    sim.intra_latency_s = 2e-6;
    sim.cpu_hosts = servers;
    job_config cfg = sim_job_config(&sim);
    cfg.ranks = 2 * nodes + servers;
    cfg.record_events = 0;
    cfg.result_bytes = sizeof(dp_slot);
    dp_opts o = {.w = w, .batch = 8, .bucket_bytes = (size_t)1 << 40, .overlap = 1, .steps = 2,
                 .byteps = 1, .servers = servers, .pieces = 1, .coll = {.local_size = 2}};
    job_result res;
    if (job_run(&cfg, dp_rank, &o, &res) != 0)
        fail_msg("%s", res.error);
    double worst = 0;
    for (int i = 0; i < 2 * nodes; i++) {
        const dp_slot *s = job_result_slot(&res, i);
        worst = s->step_s[1] > worst ? s->step_s[1] : worst;
    }
    job_result_free(&res);
    return worst;
}

/* Two machines of two GPUs: the machine's sum over its fast link
 * (alpha_i + 4n beta_i, n additions), one push and one pull of each block
 * per machine, the sum back (alpha_i + 4n beta_i). k = 0: each machine
 * serves half and sends the other half, 2 alpha + 4n beta; k = n = 2:
 * each machine sends both halves to the two CPU machines at once, and
 * gets them back so, 2 alpha + 8n beta; both with n/2 additions at the
 * server. */
static void byteps_on_gpu_machines_matches_the_closed_form(void **state)
{
    (void)state;
    const double speed = 1e12, batch = 8, a = 50e-6, beta = 1 / 1.25e9, ai = 2e-6, bi = 1 / 1e11;
    const double n = 1e6, macs = 1e8;
    ml_workload_layer l[1] = {{.name = "a", .params = n, .fwd_macs = macs}};
    ml_workload w = {.name = "one", .layers = l, .nlayers = 1, .params = n, .fwd_macs = macs};
    double F = 2 * macs * batch / speed, B = 2 * F;
    double inside = 2 * (ai + 4 * n * bi) + n / speed;
    check_close(byteps_step_s(&w, 2, 0), F + B + inside + 2 * a + 4 * n * beta + n / 2 / speed,
                "byteps, 2 machines of 2 GPUs, k = 0");
    check_close(byteps_step_s(&w, 2, 2), F + B + inside + 2 * a + 8 * n * beta + n / 2 / speed,
                "byteps, 2 machines of 2 GPUs, k = 2");
}

/* The parameter server (dp_ps.c), one run: the slowest worker's last
 * step; the first worker's slot into *slot when asked. */
static double ps_step_g(ml_workload *w, int G, int workers, int servers, size_t partition,
                        int priority, size_t credit, dp_slot *slot)
{
    sim_config sim = sim_config_default();
    sim.size_only = 1;
    sim.speed_flops = 1e12;
    if (G > 1) {
        sim.gpus_per_node = G;
        sim.intra_bandwidth_Bps = 1e11;
        sim.intra_latency_s = 2e-6;
        sim.cpu_hosts = servers;
    }
    job_config cfg = sim_job_config(&sim);
    cfg.ranks = workers + servers;
    cfg.record_events = 0;
    cfg.result_bytes = sizeof(dp_slot);
    dp_opts o = {.w = w, .batch = 8, .bucket_bytes = 4, .steps = 2, .ps = 1, .servers = servers,
                 .priority = priority, .partition_bytes = partition, .credit_bytes = credit,
                 .coll = {.local_size = G}};
    job_result res;
    if (job_run(&cfg, dp_rank, &o, &res) != 0)
        fail_msg("%s", res.error);
    double worst = 0;
    for (int i = 0; i < workers; i++) {
        const dp_slot *s = job_result_slot(&res, i);
        worst = s->step_s[1] > worst ? s->step_s[1] : worst;
    }
    if (slot)
        *slot = *(const dp_slot *)job_result_slot(&res, 0);
    job_result_free(&res);
    return worst;
}

static double ps_step_s(ml_workload *w, int workers, int servers, size_t partition, int priority,
                        size_t credit, dp_slot *slot)
{
    return ps_step_g(w, 1, workers, servers, partition, priority, credit, slot);
}

/* Under the ideal network, one layer in one piece: a steady step is the
 * pull of the last step's sum, forward, backward and the push --
 * F + B + 2 (alpha + 4 n W beta) + (W-1) n / speed with W workers pushing
 * into (and pulled from) one server's link at once. */
static void ps_step_matches_the_closed_form(void **state)
{
    (void)state;
    const double speed = 1e12, batch = 8, a = 50e-6, beta = 1 / 1.25e9, n = 1e6, macs = 1e8;
    ml_workload_layer l[1] = {{.name = "a", .params = n, .fwd_macs = macs}};
    ml_workload w = {.name = "one", .layers = l, .nlayers = 1, .params = n, .fwd_macs = macs};
    for (int W = 1; W <= 2; W++) {
        double F = 2 * macs * batch / speed, B = 2 * F;
        double want = F + B + 2 * (a + 4 * n * W * beta) + (W - 1) * n / speed;
        check_close(ps_step_s(&w, W, 1, 0, 1, (size_t)-1, NULL), want,
                    W == 1 ? "parameter server, 1 worker" : "parameter server, 2 workers");
    }
}

/* P3: a sum comes back as soon as the server has it, and the next
 * forward starts its first layer while the output side is still being
 * pushed. One worker, credit for one piece: the output layer's four
 * pieces b1..b4 (c each on the wire) are queued first, the input layer's
 * piece a (c_a) while b1 is on the wire, and pushed second. The server
 * sends one sum at a time: b1, then a, then b2..b4 as each is pushed, so
 * layer a's forward starts after b_b + 2c + c_a, and layer b's after
 * b4's pull: a step is b_b + 5c + c_a + f_b. (Pulls only after every
 * push, as before, gave b_b + 8c + 2c_a + f_b.) */
static void ps_forward_starts_before_the_pushes_end(void **state)
{
    (void)state;
    const double speed = 1e12, batch = 8, a = 50e-6, beta = 1 / 1.25e9;
    ml_workload_layer l[2];
    ml_workload w = two_layers(l, 1000, 1e6, 4e6, 1e8);
    double fa = 2 * 1e6 * batch / speed, fb = 2 * 1e8 * batch / speed;
    double c = a + 4e6 * beta, ca = a + 4000 * beta, ba = 2 * fa, bb = 2 * fb;
    assert_true(ba < c && fa < 3 * c); /* the case meant: a overtakes b2, forward a hides */
    check_close(ps_step_s(&w, 1, 1, 4000000, 1, 4, NULL), bb + 5 * c + ca + fb,
                "parameter server, forward before the last pushes");
}

/* Machines of 2 GPUs, one layer in one piece, 2 machines and one server:
 * the second GPU hands its part to the first (alpha_i + 4n beta_i), which
 * adds it (n) and pushes; the server's link takes both machines' pushes
 * at once (alpha + 8n beta), sums (n), and sends both back so; the first
 * GPU hands the sum on (alpha_i + 4n beta_i) before that GPU's forward. */
static void ps_on_gpu_machines_matches_the_closed_form(void **state)
{
    (void)state;
    const double speed = 1e12, batch = 8, a = 50e-6, beta = 1 / 1.25e9, ai = 2e-6, bi = 1 / 1e11;
    const double n = 1e6, macs = 1e8;
    ml_workload_layer l[1] = {{.name = "a", .params = n, .fwd_macs = macs}};
    ml_workload w = {.name = "one", .layers = l, .nlayers = 1, .params = n, .fwd_macs = macs};
    double F = 2 * macs * batch / speed, B = 2 * F;
    double want = F + B + 2 * (ai + 4 * n * bi) + 2 * n / speed + 2 * (a + 8 * n * beta);
    check_close(ps_step_g(&w, 2, 4, 1, 0, 1, (size_t)-1, NULL), want,
                "parameter server, 2 machines of 2 GPUs");
}

/* Priority: the output layer's 4 pieces are queued first; while piece 1
 * (its first) is on the wire the input layer's piece 0 is ready, and with
 * priority it goes next, ahead of pieces 2..4 queued before it. */
static void ps_priority_sends_the_input_side_first(void **state)
{
    (void)state;
    ml_workload_layer l[2];
    /* input layer: 1000 params, short backward; output: 4 M params */
    ml_workload w = two_layers(l, 1000, 1e6, 4e6, 1e8);
    static const int want[2][5] = {{1, 2, 3, 4, 0}, {1, 0, 2, 3, 4}};
    double step[2];
    for (int pr = 0; pr < 2; pr++) {
        dp_slot s;
        step[pr] = ps_step_s(&w, 1, 1, 4000000, pr, 4, &s);
        assert_int_equal(s.pushes, 5);
        assert_int_equal(s.buckets, 5);
        for (int k = 0; k < 5; k++)
            if (s.push_order[k] != want[pr][k])
                fail_msg("priority %s: push %d is piece %d, expected %d", pr ? "on" : "off", k,
                         s.push_order[k], want[pr][k]);
    }
    /* and the next forward starts earlier: its first layer comes back first */
    assert_true(step[1] < step[0]);
}

/* distlab dp: a row with the scaling efficiency, records, and refusals. */
/* 3 P3 workers push to 2 servers at once: max-min gives each of the 3
 * flows into a server's link a third of it, under --net ideal (SimGrid's
 * CM02) as under --net analytic. SimGrid's Lazy update gave them two
 * thirds each (an overloaded link, a step 3% short); ideal now runs its
 * Full solver (sim_platform.c), and the two agree to the digits printed. */
static void p3_step_is_the_same_on_both_networks(void **state)
{
    (void)state;
    if (!test_distlab())
        skip();
    static char out[1 << 16];
    double step[2];
    static const char *const nets[] = {"ideal", "analytic"};
    for (int k = 0; k < 2; k++) {
        int st = test_distlab_run(out, sizeof out, "dp --workload resnet50 --device v100 --workers 3 "
                                  "--bandwidth 25Gbps --latency 10us --framework p3 --servers 2 --net %s", nets[k]);
        if (st != 0)
            fail_msg("--net %s: exit %d:\n%s", nets[k], st, out);
        const char *row = strstr(out, "\nresnet50,3,32,p3,4000000,on,ps:k=2:priority=on,");
        assert_non_null(row);
        assert_int_equal(sscanf(row + 1, "resnet50,3,32,p3,4000000,on,ps:k=2:priority=on,%*d,%lf", &step[k]), 1);
    }
    if (fabs(step[0] - step[1]) > 1e-9 * step[1])
        fail_msg("p3 step under ideal %.10g s, under analytic %.10g s", step[0], step[1]);
}

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
    char cmd[400];
    /* the schedule as run beside the command line's settings */
    snprintf(cmd, sizeof cmd, "grep -q '\"scaling_efficiency\"' %s/run/summary.json && "
             "grep -q '\"bucket_bytes\": 25000000' %s/run/summary.json && "
             "grep -q '\"allreduce\": \"ring\"' %s/run/summary.json && test -s %s/run/events.csv",
             dir, dir, dir, dir);
    assert_int_equal(system(cmd), 0);
    /* overlap off is slower: nothing of the communication hidden */
    assert_int_equal(test_distlab_run(out, sizeof out, "dp --workload resnet50 --workers 16 --gpus-per-node 8 "
                                      "--bandwidth 25Gbps --overlap off"), 0);
    row = strstr(out, "\nresnet50,16,32,custom,25000000,off,ring,");
    assert_non_null(row);
    double step_off;
    assert_int_equal(sscanf(row + 1, "resnet50,16,32,custom,25000000,off,ring,%*d,%lf", &step_off), 1);
    assert_true(step_off > step);
    /* BytePS: CPU machines beside the 4 GPUs make the step shorter (16
     * GPUs and 16 CPU machines took 30 s of this test's wall time) */
    double bps[2];
    for (int i = 0; i < 2; i++) {
        assert_int_equal(test_distlab_run(out, sizeof out, "dp --workload resnet50 --workers 4 --bandwidth 25Gbps "
                                          "--framework byteps --servers %d", i * 4), 0);
        row = strstr(out, "\nresnet50,4,32,byteps,4000000,on,byteps:k=");
        assert_non_null(row);
        assert_int_equal(sscanf(row + 1, "resnet50,4,32,byteps,4000000,on,byteps:k=%*d,%*d,%lf", &bps[i]), 1);
    }
    assert_true(bps[1] < bps[0]);
    /* the parameter servers: p3's pieces beat tf-ps's whole layers on
     * VGG-16 (its 400 MB fc6 on one server); ray-train is DDP */
    double ps[2];
    static const char *const psf[] = {"p3", "tf-ps"};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(test_distlab_run(out, sizeof out, "dp --workload vgg16 --workers 4 --bandwidth 25Gbps "
                                          "--framework %s --steps 2", psf[i]), 0);
        char pre[64];
        snprintf(pre, sizeof pre, "\nvgg16,4,32,%s,", psf[i]);
        row = strstr(out, pre);
        if (!row)
            fail_msg("no %s row in:\n%s", psf[i], out);
        assert_int_equal(sscanf(strstr(row + 1, "ps:k=4:priority="), "ps:k=4:priority=%*[a-z],%*d,%lf", &ps[i]), 1);
    }
    assert_true(ps[0] < ps[1]);
    /* horovod: its cycles, and the time it took them in the summary */
    assert_int_equal(test_distlab_run(out, sizeof out, "dp --workload resnet50 --workers 4 --framework horovod "
                                      "--cycle-time 1ms --out %s/hvd", dir), 0);
    assert_non_null(strstr(out, "\nresnet50,4,32,horovod,67108864,on,ring,"));
    snprintf(cmd, sizeof cmd, "grep -q '\"cycle_seconds\": 0.001' %s/hvd/summary.json && "
             "grep -q '\"cycles\": ' %s/hvd/summary.json", dir, dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(test_distlab_run(out, sizeof out, "dp --workload resnet50 --workers 4 --framework ray-train"), 0);
    assert_non_null(strstr(out, "\nresnet50,4,32,ray-train,25000000,on,ring,"));
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    static const test_refusal bad[] = {
        {"--workload resnet49", "resnet50, resnet101"},
        {"", "--workload: give the network"},
        {"--workload vgg16 --framework mxnet", "known: ddp, horovod, byteps, p3, tf-ps, ray-train, none"},
        {"--workload vgg16 --bucket 0", "at least one gradient"},
        {"--workload vgg16 --device k80", "v100"},
        {"--workload vgg16 --backend real", "only simulation charges"},
        {"--workload vgg16 --workers 6 --gpus-per-node 4 --allreduce hierarchical", "not whole nodes"},
        {"--workload vgg16 --workers 9 --gpus-per-node 4 --hosts 2", "do not fit 2 nodes of 4 GPUs"},
        {"--workload vgg16 --workers 5000 --gpus-per-node 8", "expected at most 512 nodes"},
        {"--workload vgg16 --workers 17 --platform platforms/two-racks.xml", "do not fit the 16 hosts"},
        {"--workload vgg16 --workers 4 --hosts 3", "do not fit --hosts 3"},
        {"--workload vgg16 --framework byteps --workers 2 --servers 2 --hosts 3", "expected at most 3 ranks"},
        {"--workload vgg16 --device a100 --speed 1Tf", "leave out --speed"},
        {"--workload vgg16 --servers 2", "--servers goes with --framework byteps, p3 or tf-ps"},
        {"--workload vgg16 --priority on", "--priority goes with a parameter server"},
        {"--workload vgg16 --framework ddp --partition 1MB", "--partition goes with a parameter server"},
        {"--workload vgg16 --framework p3 --partition 0", "--partition: 0 bytes"},
        {"--workload vgg16 --framework p3 --credit 2", "--credit: 2 bytes"},
        {"--workload vgg16 --framework p3 --servers 0", "needs 1 or more"},
        {"--workload vgg16 --framework tf-ps --bucket 1MB", "leave out --bucket"},
        {"--workload vgg16 --framework p3 --priority maybe", "on"},
        {"--workload gpt2 --framework p3 --partition 4", "a larger --partition"},
        {"--workload vgg16 --framework byteps --allreduce tree", "leave out --allreduce"},
        {"--workload vgg16 --framework byteps --workers 6 --gpus-per-node 4", "not whole machines of --gpus-per-node 4"},
        {"--workload vgg16 --framework p3 --workers 6 --gpus-per-node 4", "not whole machines of --gpus-per-node 4"},
        {"--workload vgg16 --framework byteps --workers 4 --gpus-per-node 2 --servers 2 --hosts 1",
         "4 ranks do not fit 1 node of 2 GPUs"},
        {"--workload vgg16 --framework horovod --cycle-time 0", "expected 10us to 10s"},
        {"--workload vgg16 --framework horovod --cycle-time 5ms/2", "--cycle-time"},
        {"--workload vgg16 --framework ddp --cycle-time 1ms", "--cycle-time goes with --framework horovod"},
        {"--workload vgg16 --framework horovod --overlap off", "leave out --overlap"},
        /* examples per GPU are whole (2.5 was charged as 2.5 examples) */
        {"--workload vgg16 --batch 2.5", "--batch: '2.5' is not a whole number in 1..1000000000"},
        {"--workload vgg16 --batch 0", "--batch: '0' is not a whole number"},
    };
    test_distlab_refuses("dp", bad, sizeof bad / sizeof *bad);
    /* A failed host is the job's error, naming the rank and the time, under
     * every net. Under ideal and tcp a push in flight from the failed
     * host's background sender aborted SimGrid (an uncaught
     * NetworkFailureException in a peer's wait: the sender's actor ended
     * with it), and the run was refused; the sender now stays on. */
    static const char *const fws[] = {"byteps", "p3", "tf-ps"}, *const nets[] = {"ideal", "tcp", "analytic"};
    for (int f = 0; f < 3; f++)
        for (int n = 0; n < 3; n++) {
            int st = test_distlab_run(out, sizeof out, "dp --workload resnet50 --payload size-only --workers 8 "
                                      "--framework %s --fail 3@0.05s --net %s", fws[f], nets[n]);
            if (st != 1 || !strstr(out, "rank 3: its host went down at 0.05 simulated seconds") ||
                strstr(out, "SimGrid said") || strstr(out, "Backtrace"))
                fail_msg("dp --framework %s --fail 3@0.05s --net %s: exit %d (expected 1, naming rank 3 and "
                         "0.05 s, no SimGrid trace):\n%s", fws[f], nets[n], st, out);
        }
    /* and its help says so */
    assert_int_equal(test_distlab_run(out, sizeof out, "dp --help"), 0);
    assert_non_null(strstr(out, "than --hosts or the --platform file has are refused"));
}

/* compare and sweep --frameworks: one dp run per framework (and value),
 * their numbers in one csv, the figures drawn; bad lists refused. */
static void frameworks_side_by_side(void **state)
{
    (void)state;
    if (!test_distlab())
        skip();
    static char out[1 << 16];
    char dir[] = "/tmp/distlab-dpfig-XXXXXX", path[200], csv[2048];
    assert_non_null(mkdtemp(dir));
    int st = test_distlab_run(out, sizeof out, "compare --frameworks ddp,tf-ps --workload resnet50 --workers 4 "
                              "--out %s/c", dir);
    if (st != 0)
        fail_msg("exit %d:\n%s", st, out);
    snprintf(path, sizeof path, "%s/c/compare.csv", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(csv, 1, sizeof csv - 1, f);
    fclose(f);
    csv[n] = '\0';
    assert_non_null(strstr(csv, "framework,workload,step_s,compute_s,exposed_comm_s,scaling_efficiency\n"));
    assert_non_null(strstr(csv, "\nddp,resnet50,"));
    assert_non_null(strstr(csv, "\ntf-ps,resnet50,"));
    st = test_distlab_run(out, sizeof out, "sweep --frameworks byteps,ddp --workload resnet50,vgg16 --vary gpus=2,4 "
                          "--out %s/s", dir);
    if (st != 0)
        fail_msg("exit %d:\n%s", st, out);
    snprintf(path, sizeof path, "%s/s/sweep.csv", dir);
    f = fopen(path, "r");
    assert_non_null(f);
    n = fread(csv, 1, sizeof csv - 1, f);
    fclose(f);
    csv[n] = '\0';
    assert_non_null(strstr(csv, "\nbyteps,vgg16,4,"));
    assert_non_null(strstr(csv, "\nddp,resnet50,2,"));
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "test -s %s/s/scaling_efficiency.png && test -s %s/s/step.png && "
             "test -s %s/c/step.png && test -s %s/s/ddp/vgg16/gpus=4/summary.json", dir, dir, dir, dir);
    assert_int_equal(system(cmd), 0);
    /* --jobs 3: the points run at once, with the output and the records of
     * --jobs 1 (only the summaries' "out" setting names another folder) */
    static char seq[1 << 16];
    const char *jargs = "sweep --frameworks horovod,ddp --workload resnet50 --vary gpus=2,4 --cycle-time 2ms";
    assert_int_equal(test_distlab_run(seq, sizeof seq, "%s --jobs 1 --out %s/j1", jargs, dir), 0);
    assert_int_equal(test_distlab_run(out, sizeof out, "%s --jobs 3 --out %s/j3", jargs, dir), 0);
    for (char *at; (at = strstr(out, "/j3"));)
        at[2] = '1';
    assert_string_equal(out, seq);
    snprintf(cmd, sizeof cmd, "cd %s && for f in $(cd j1 && find . -type f | sort); do "
             "case $f in *summary.json) sed 's|/j1/|/j3/|' j1/$f | cmp -s - j3/$f ;; *) cmp -s j1/$f j3/$f ;; esac "
             "|| { echo \"$f differs\"; exit 1; }; done && test $(cd j1 && find . -type f | wc -l) -ge 12 && "
             "test $(cd j1 && find . -type f | wc -l) = $(cd j3 && find . -type f | wc -l)", dir);
    assert_int_equal(system(cmd), 0);
    assert_non_null(strstr(seq, "horovod: a cycle every 2 ms"));
    /* --cycle-time=T as --cycle-time T: horovod's run only */
    st = test_distlab_run(out, sizeof out, "compare --frameworks ddp,horovod --workload resnet50 --workers 2 "
                          "--cycle-time=1ms --out %s/cy", dir);
    if (st != 0)
        fail_msg("exit %d:\n%s", st, out);
    assert_non_null(strstr(out, "horovod: a cycle every 1 ms"));
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    static const test_refusal bad[] = {
        {"compare --frameworks ddp,mxnet --workload vgg16", "known: ddp, horovod, byteps"},
        {"compare --frameworks ddp --workload vgg99", "known: resnet50"},
        {"compare --frameworks ddp --workload vgg16,resnet50", "one network"},
        {"sweep --frameworks ddp --workload vgg16 --vary workers=2,4", "expected gpus=N1,N2"},
        {"sweep --frameworks ddp --workload vgg16 --vary gpus=2,x", "--vary gpus=x"},
        {"sweep --frameworks ddp --workload vgg16 --vary bucket=0,1MB --workers 2", "--bucket: 0 bytes"},
        {"compare --frameworks ddp --algos allreduce --workload vgg16", "--algos does not go with --frameworks"},
        {"sweep --frameworks ddp --workload vgg16 --vary gpus=2 --jobs 0", "--jobs"},
        {"compare --frameworks ddp,p3 --workload vgg16 --cycle-time 2ms", "--cycle-time is Horovod's"},
        /* last, with no value: it took the run's --framework as its value */
        {"compare --frameworks horovod --workload vgg16 --cycle-time", "--cycle-time needs a value"},
        {"sweep --frameworks ddp --workload vgg16 --vary gpus=2,4 --jobs", "--jobs needs a value"},
    };
    test_distlab_refuses("", bad, sizeof bad / sizeof *bad);
}

/* allreduce_slice: slices summed one by one give the whole vector's
 * allreduce bits, for every algorithm, the ring whole-block and streamed
 * in 3-float segments (values chosen so that the order of the additions
 * shows in the last bits). */
typedef struct slice_case {
    allreduce_algo algo;
    int local_size;
    size_t segment_bytes; /* the ring streams segments of this size */
} slice_case;

enum { SLICE_N = 103 };

static int slice_rank(rt *r, void *arg)
{
    const slice_case *c = arg;
    int *same = rt_slot(r);
    float whole[SLICE_N], parts[SLICE_N];
    uint32_t x = 2654435761u * (uint32_t)(rt_rank(r) + 1);
    for (int i = 0; i < SLICE_N; i++) {
        x = x * 1664525u + 1013904223u;
        whole[i] = parts[i] = ((float)(x >> 8) / 16777216.0f - 0.5f) * (float)(1 << (x % 20));
    }
    coll_opts co = {.local_size = c->local_size, .segment_bytes = c->segment_bytes};
    int rc = allreduce(r, c->algo, whole, SLICE_N, &co);
    static const size_t cut[] = {0, 7, 40, 41, 90, SLICE_N};
    for (int k = 0; k + 1 < 6 && !rc; k++)
        rc = allreduce_slice(r, c->algo, parts + cut[k], cut[k], cut[k + 1] - cut[k], SLICE_N, &co);
    *same = memcmp(whole, parts, sizeof whole) == 0;
    return rc;
}

static void slices_sum_as_the_whole_vector(void **state)
{
    (void)state;
    static const slice_case cases[] = {{ALLREDUCE_RING, 0, 0}, {ALLREDUCE_RING, 0, 12},
                                       {ALLREDUCE_TREE, 0, 0}, {ALLREDUCE_RD, 0, 0},
                                       {ALLREDUCE_RABENSEIFNER, 0, 0}, {ALLREDUCE_HIERARCHICAL, 2, 0},
                                       {ALLREDUCE_HIERARCHICAL, 2, 8}};
    for (int p = 3; p <= 6; p++)
        for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
            if (cases[c].local_size && p % cases[c].local_size)
                continue;
            sim_config sim = sim_config_default();
            job_config cfg = sim_job_config(&sim);
            cfg.ranks = p;
            cfg.record_events = 0;
            cfg.result_bytes = sizeof(int);
            job_result res;
            if (job_run(&cfg, slice_rank, (void *)&cases[c], &res) != 0)
                fail_msg("%s on %d ranks: %s", allreduce_algo_name(cases[c].algo), p, res.error);
            for (int i = 0; i < p; i++)
                if (!*(int *)job_result_slot(&res, i))
                    fail_msg("%s on %d ranks: rank %d's slices differ from the whole vector's sums",
                             allreduce_algo_name(cases[c].algo), p, i);
            job_result_free(&res);
        }
}

/* ml_model_loss_grad_layers: the plain gradient's bits, handed over from
 * the output layer down in contiguous ranges that cover the vector once,
 * with flops adding up to ml_model_flops. */
typedef struct seen_ranges {
    size_t next_end, calls;
    double flops;
} seen_ranges;

static int note_range(void *arg, size_t first, size_t count, double flops)
{
    seen_ranges *s = arg;
    if (first + count != s->next_end || !(flops > 0))
        return 1;
    s->next_end = first;
    s->calls++;
    s->flops += flops;
    return 0;
}

static void layer_gradients_are_the_plain_ones(void **state)
{
    (void)state;
    char err[256];
    ml_dataset ds;
    ml_synth_dense sd = {.n = 40, .d = 12, .classes = 3, .sep = 3};
    assert_int_equal(ml_synth_dense_make(&sd, 7, &ds, err, sizeof err), 0);
    ml_model *m;
    assert_int_equal(ml_model_create("mlp:8,5", 12, 3, 1e-3, &m, err, sizeof err), 0);
    size_t P = ml_model_nparams(m), idx[16];
    for (size_t i = 0; i < 16; i++)
        idx[i] = (i * 7) % 40;
    float *params = malloc(P * sizeof *params);
    assert_non_null(params);
    ml_model_init_params(m, params, 3);
    ml_grad a, b;
    assert_int_equal(ml_grad_init(&a, P), 0);
    assert_int_equal(ml_grad_init(&b, P), 0);
    a.dense_only = b.dense_only = 1;
    double la, lb, flops;
    assert_int_equal(ml_model_loss_grad(m, params, &ds, idx, 16, &a, &la, &flops, err, sizeof err), 0);
    seen_ranges s = {.next_end = P};
    assert_int_equal(ml_model_loss_grad_layers(m, params, &ds, idx, 16, &b, &lb, note_range, &s,
                                               err, sizeof err), 0);
    assert_int_equal(s.calls, 3);
    assert_int_equal(s.next_end, 0);
    assert_true(s.flops == flops);
    assert_true(la == lb);
    assert_memory_equal(a.dense, b.dense, P * sizeof *a.dense);
    ml_grad_free(&a);
    ml_grad_free(&b);
    free(params);
    ml_model_free(m);
    ml_dataset_free(&ds);
}

/* A run's summary "seconds" and its model.bin's path. */
static double run_seconds(const char *dir, const char *name)
{
    char path[512], text[1 << 14];
    snprintf(path, sizeof path, "%s/%s/summary.json", dir, name);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    const char *at = strstr(text, "\"seconds\": ");
    assert_non_null(at);
    return strtod(at + strlen("\"seconds\": "), NULL);
}

static int same_file(const char *dir, const char *a, const char *b)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cmp -s %s/%s/model.bin %s/%s/model.bin", dir, a, dir, b);
    return system(cmd) == 0;
}

/* Buckets change when the sums run, not what they are: an MLP on
 * Fashion-MNIST (784-32-16-10) trained with 2 KB buckets (layers 3 and 2,
 * then layer 1; overlapped) and with one bucket per layer after backward
 * ends with the plain allreduce's model.bin, byte for byte, on every
 * backend; 3 ranks, so the ring's blocks cut layers at uneven places. On
 * sim the overlapped run is the shorter of the two 2 KB ones. */
static void buckets_keep_the_model_bits(void **state)
{
    (void)state;
    if (!test_distlab())
        skip();
    static char out[1 << 16];
    char dir[] = "/tmp/distlab-dpmlp-XXXXXX";
    assert_non_null(mkdtemp(dir));
    const char *common = "run allreduce --workers 3 --model mlp:32,16 --epochs 1 --train-size 600 "
                         "--test-size 200 --batch 16 --quiet --no-figures";
    /* sim runs every schedule; real sockets the bucketed ones (the plain
     * one's sim = real is the README's check, test_cli_edges) */
    static const struct {
        const char *name, *args;
    } runs[] = {
        {"sim-plain", ""},
        {"sim-2k", "--bucket 2KB"},
        {"sim-2k-off", "--bucket 2KB --overlap off"},
        {"sim-layers-off", "--bucket 4 --overlap off"},
        {"threads-2k", "--backend real --bucket 2KB"},
        {"threads-layers-off", "--backend real --bucket 4 --overlap off"},
        {"procs-2k", "--backend real --launch procs --bucket 2KB"},
        /* the hierarchy's ring among node leaders keeps its blocks too */
        {"hier-plain", "--workers 4 --allreduce hierarchical --gpus-per-node 2"},
        {"hier-2k", "--workers 4 --allreduce hierarchical --gpus-per-node 2 --bucket 2KB"},
    };
    for (size_t i = 0; i < sizeof runs / sizeof *runs; i++) {
        int st = test_distlab_run(out, sizeof out, "%s %s --out %s/%s", common, runs[i].args, dir,
                                  runs[i].name);
        if (st != 0)
            fail_msg("%s: exit %d:\n%s", runs[i].name, st, out);
        const char *want = strncmp(runs[i].name, "hier", 4) == 0 ? "hier-plain" : "sim-plain";
        if (!same_file(dir, want, runs[i].name))
            fail_msg("%s: model.bin differs from %s's", runs[i].name, want);
    }
    /* the same two buckets, summed after backward: longer */
    assert_true(run_seconds(dir, "sim-2k") < run_seconds(dir, "sim-2k-off"));
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    static const test_refusal bad[] = {
        {"--bucket 0", "at least one gradient"},
        {"--bucket 2", "at least one gradient"},
        {"--overlap on", "--overlap goes with --bucket"},
        {"--bucket 1MB --overlap maybe", "on"},
    };
    test_distlab_refuses("run allreduce", bad, sizeof bad / sizeof *bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(buckets_fill_in_reverse_layer_order),
        cmocka_unit_test(two_buckets_match_the_closed_form),
        cmocka_unit_test(horovod_cycles_match_the_closed_form),
        cmocka_unit_test(byteps_on_gpu_machines_matches_the_closed_form),
        cmocka_unit_test(ps_step_matches_the_closed_form),
        cmocka_unit_test(ps_priority_sends_the_input_side_first),
        cmocka_unit_test(ps_forward_starts_before_the_pushes_end),
        cmocka_unit_test(ps_on_gpu_machines_matches_the_closed_form),
        cmocka_unit_test(the_dp_verb),
        cmocka_unit_test(p3_step_is_the_same_on_both_networks),
        cmocka_unit_test(frameworks_side_by_side),
        cmocka_unit_test(slices_sum_as_the_whole_vector),
        cmocka_unit_test(layer_gradients_are_the_plain_ones),
        cmocka_unit_test(buckets_keep_the_model_bits),
    };
    return cmocka_run_group_tests_name("data-parallel steps", tests, NULL, NULL);
}
