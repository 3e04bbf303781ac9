/* verb_dp.c -- `distlab dp`: data-parallel training steps of a real
 * network on a simulated GPU cluster, timed (algorithms/dp.c).
 *
 *   distlab dp --workload resnet50 --device v100 --workers 64 --gpus-per-node 8 \
 *       --bandwidth 25Gbps --framework ddp
 *
 * prints one CSV row: the step time, the compute in it, the communication
 * left exposed after backward, and the scaling efficiency -- the step's
 * compute over the step, i.e. throughput on P GPUs over P times one GPU's
 * without communication (Horovod paper's measure, weak scaling). With
 * --framework p3 or tf-ps the gradients go through parameter servers
 * (algorithms/dp_ps.c) on --servers extra ranks; with horovod through
 * Horovod's negotiation cycles and fused buffers (algorithms/dp_horovod.c).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algorithms/dp.h"
#include "cli/cli.h"
#include "core/records.h"
#include "core/units.h"
#include "sim/sim_platform.h"

/* Framework presets: each framework's published defaults, as options
 * (docs/frameworks.md lists each default's source). */
typedef struct dp_framework {
    const char *name;
    double bucket_bytes;
    int overlap, byteps;
    /* parameter server (dp_ps.c): pieces (0: whole layers), credit (0:
     * no limit), priority */
    int ps, priority;
    double partition_bytes, credit_bytes;
} dp_framework;

static const dp_framework frameworks[] = {
    /* PyTorch DDP: bucket_cap_mb=25, buckets allreduced during backward
     * (Li et al., VLDB 2020) */
    {"ddp", 25e6, 1, 0, 0, 0, 0, 0},
    /* Horovod: a background cycle every 5 ms (HOROVOD_CYCLE_TIME)
     * negotiates the ready tensors on rank 0 and allreduces them fused
     * into 64 MiB buffers (HOROVOD_FUSION_THRESHOLD) during backward
     * (Sergeev & Del Balso 2018) */
    {"horovod", 64.0 * 1024 * 1024, 1, 0, 0, 0, 0, 0},
    /* BytePS: tensors in 4 MB partitions (BYTEPS_PARTITION_BYTES), pushed
     * and pulled through --servers CPU machines during backward (Jiang et
     * al., OSDI 2020) */
    {"byteps", 4e6, 1, 1, 0, 0, 0, 0},
    /* P3 / ByteScheduler: pieces of 1M parameters (4 MB), 4M on the wire
     * at once, pushed and pulled input side first (Jayarajan et al. 2019;
     * Peng et al., SOSP 2019) */
    {"p3", 0, 1, 0, 1, 1, 4e6, 16e6},
    /* TensorFlow ParameterServerStrategy: whole variables round-robin over
     * the PS tasks, each pushed as backward makes it, no partitioner, no
     * priorities */
    {"tf-ps", 0, 1, 0, 1, 0, 0, 0},
    /* Ray Train's TorchTrainer: prepare_model wraps the model in DDP with
     * its defaults, one Ray actor per GPU, NCCL */
    {"ray-train", 25e6, 1, 0, 0, 0, 0, 0},
    /* one allreduce of the whole gradient after backward (run allreduce's
     * schedule) */
    {"none", 0, 0, 0, 0, 0, 0, 0},
};
enum { NFRAMEWORKS = sizeof frameworks / sizeof frameworks[0] };

/* Horovod's background cycle in the paper's era (HOROVOD_CYCLE_TIME, 5 ms;
 * 1 ms in later releases): dp_horovod.c */
#define HOROVOD_CYCLE_S 5e-3

static const char *framework_names(void) { return "ddp, horovod, byteps, p3, tf-ps, ray-train, none"; }

int verb_dp(int argc, char **argv)
{
    static const cli_opt opts[] = {
        {"workload", "NAME", "the network (resnet50, resnet101, vgg16, inception3, bert-large, gpt2)"},
        {"device", "NAME[:efficiency=E]", "the GPU: p100, v100, a100, h100 (default v100); sets --speed: "
         "peak x efficiency, or for p100 on inception3, resnet50, resnet101 and vgg16 its measured rate "
         "unless :efficiency= is given (docs/workloads.md)"},
        {"framework", "ddp|horovod|byteps|p3|tf-ps|ray-train|none", "presets for --bucket, --overlap, "
         "--priority, --partition (docs/frameworks.md)"},
        {"servers", "K", "byteps: CPU machines beside the GPUs, summing (default 0); p3, tf-ps: the "
         "parameter servers (default: one per GPU machine, so as many as --workers without "
         "--gpus-per-node)"},
        {"priority", "on|off", "p3, tf-ps: push and pull the pieces nearest the input first (p3: on)"},
        {"partition", "SIZE", "p3, tf-ps: cut each layer into pieces of at most SIZE (p3: 4MB; tf-ps: whole layers)"},
        {"credit", "SIZE", "p3, tf-ps: at most SIZE of a worker's pushes on the wire at once, one piece always "
         "(p3: 16MB; tf-ps: no limit)"},
        {"workers", "P", "GPUs, one rank each, on a host of its own (or a GPU of a --gpus-per-node "
         "node); more ranks, --servers included, than --hosts or the --platform file has are refused "
         "(default 8)"},
        {"batch", "B", "examples per GPU per step (default 32)"},
        {"bucket", "SIZE", "gradients per allreduce, filled in reverse layer order (default 25MB, DDP's)"},
        {"overlap", "on|off", "allreduce each bucket during backward (default on)"},
        {"cycle-time", "TIME", "horovod: its background thread's cycle, which negotiates and fuses the "
         "ready tensors (default 5ms, HOROVOD_CYCLE_TIME in the paper's era; 10us to 10s)"},
        {"allreduce", "ring|tree|rd|rabenseifner|hierarchical", "how buckets are summed (default ring)"},
        {"steps", "N", "steps to run; the last is reported (default 2)"},
        {"out", "DIR", "write summary.json, metrics.csv (one row per step) and events.csv there"},
        {NULL, NULL, NULL},
    };
    cli_args a;
    int code;
    if (cli_parse(argc, argv, "dp --workload NAME [--device GPU] [--framework F] [--bucket SIZE] "
                  "[--overlap on|off] [job options]", opts, 1, &a, &code))
        return code;
    if (a.npos) {
        fprintf(stderr, "distlab dp: unexpected argument '%s'\n", a.pos[0]);
        return 2;
    }
    char err[512];
    job_config cfg = job_config_default();
    sim_config sim = sim_config_default();
    real_config real = real_config_default();
    long workers = 8, steps = 2, servers = 0;
    if (cli_get_int(&a, "dp", "workers", 1, 1 << 20, &workers) ||
        cli_get_int(&a, "dp", "steps", 1, DP_MAX_STEPS, &steps) ||
        cli_get_int(&a, "dp", "servers", 0, 1 << 20, &servers))
        return 2;
    const char *fwname = cli_get(&a, "framework");
    int ps_like = fwname && (strcmp(fwname, "p3") == 0 || strcmp(fwname, "tf-ps") == 0);
    if (cli_get(&a, "servers") && !(fwname && (strcmp(fwname, "byteps") == 0 || ps_like))) {
        fprintf(stderr, "distlab dp: --servers goes with --framework byteps, p3 or tf-ps\n");
        return 2;
    }
    static const char *const ps_opts[] = {"priority", "partition", "credit"};
    for (int i = 0; i < 3; i++)
        if (cli_get(&a, ps_opts[i]) && !ps_like) {
            fprintf(stderr, "distlab dp: --%s goes with a parameter server (--framework p3 or tf-ps)\n",
                    ps_opts[i]);
            return 2;
        }
    if (ps_like && !cli_get(&a, "servers"))
        servers = workers;
    if (ps_like && servers < 1) {
        fprintf(stderr, "distlab dp: --servers: a parameter server needs 1 or more (got %ld)\n", servers);
        return 2;
    }
    if (ps_like && (cli_get(&a, "bucket") || cli_get(&a, "overlap") || cli_get(&a, "allreduce"))) {
        fprintf(stderr, "distlab dp: --framework %s pushes pieces to parameter servers: leave out --bucket, "
                "--overlap and --allreduce (--partition, --credit and --priority set its schedule)\n", fwname);
        return 2;
    }
    cfg.ranks = (int)(workers + servers);
    if (cli_job_config(&a, "dp", &cfg, &sim, &real))
        return 2;
    /* a parameter server per machine by default (one per GPU on one-GPU hosts) */
    if (ps_like && !cli_get(&a, "servers") && sim.gpus_per_node > 1) {
        servers = workers / sim.gpus_per_node > 0 ? workers / sim.gpus_per_node : 1;
        cfg.ranks = (int)(workers + servers);
    }
    if (cfg.backend != &sim_backend) {
        fprintf(stderr, "distlab dp: --backend: dp times a workload's modelled compute, which only "
                "simulation charges (--backend sim)\n");
        return 2;
    }
    const char *wname = cli_get(&a, "workload");
    if (!wname) {
        fprintf(stderr, "distlab dp: --workload: give the network (known: %s)\n", ml_workload_names());
        return 2;
    }
    ml_workload w;
    if (ml_workload_build(wname, &w, err, sizeof err) != 0) {
        fprintf(stderr, "distlab dp: --workload: %s\n", err);
        return 2;
    }
    int status = 2;
    ml_device dev;
    const char *dname = cli_get(&a, "device");
    if (ml_device_parse(dname ? dname : "v100", &dev, err, sizeof err) != 0) {
        fprintf(stderr, "distlab dp: --device: %s\n", err);
        goto out;
    }
    if (dname && (cli_get(&a, "speed") || sim.platform)) {
        fprintf(stderr, "distlab dp: --device sets the GPU's speed: leave out --speed and --platform "
                "(a platform file gives its hosts' speed)\n");
        goto out;
    }
    const ml_device_rate *measured = NULL;
    double dev_flops = ml_device_flops(&dev, &w, &measured);
    if (!cli_get(&a, "speed") && !sim.platform)
        sim.speed_flops = dev_flops;

    dp_opts o = {.w = &w, .batch = 32, .bucket_bytes = 25000000, .overlap = 1,
                 .algo = ALLREDUCE_RING, .steps = (int)steps};
    const char *fw = cli_get(&a, "framework");
    const dp_framework *preset = NULL;
    for (int i = 0; fw && i < NFRAMEWORKS; i++)
        if (strcmp(fw, frameworks[i].name) == 0)
            preset = &frameworks[i];
    if (fw && !preset) {
        fprintf(stderr, "distlab dp: --framework: unknown framework '%s' (known: %s)\n", fw, framework_names());
        goto out;
    }
    if (preset) {
        o.bucket_bytes = preset->bucket_bytes > 0 ? (size_t)preset->bucket_bytes : (size_t)(4 * w.params + 4);
        o.overlap = preset->overlap;
        o.byteps = preset->byteps;
        o.servers = (int)servers;
        o.pieces = 8;
        o.ps = preset->ps;
        o.priority = preset->priority;
    }
    if ((o.byteps || o.ps) && cli_get(&a, "allreduce")) {
        fprintf(stderr, "distlab dp: --framework %s sums through its servers: leave out --allreduce\n",
                preset->name);
        goto out;
    }
    if ((o.byteps || o.ps) && workers % sim.gpus_per_node) {
        fprintf(stderr, "distlab dp: --framework %s: %ld GPUs are not whole machines of --gpus-per-node "
                "%d (each machine pushes its GPUs' sum: expected a multiple of %d)\n", preset->name,
                workers, sim.gpus_per_node, sim.gpus_per_node);
        goto out;
    }
    /* the CPU machines: nodes of their own after the GPU nodes */
    if ((o.byteps || o.ps) && sim.gpus_per_node > 1 && !sim.platform)
        sim.cpu_hosts = (int)servers;
    if (o.ps) {
        static const char *const onoff_p[] = {"off", "on", NULL};
        double part = preset->partition_bytes, credit = preset->credit_bytes;
        if (cli_get_choice(&a, "dp", "priority", onoff_p, &o.priority) ||
            cli_get_size(&a, "dp", "partition", &part) || cli_get_size(&a, "dp", "credit", &credit))
            goto out;
        static const char *const sizes[] = {"partition", "credit"};
        for (int i = 0; i < 2; i++) {
            double v = i ? credit : part;
            if (cli_get(&a, sizes[i]) && !(v >= 4)) {
                fprintf(stderr, "distlab dp: --%s: %g bytes: a piece holds at least one gradient "
                        "(4 bytes)\n", sizes[i], v);
                goto out;
            }
        }
        o.partition_bytes = (size_t)part;
        o.credit_bytes = credit > 0 ? (size_t)credit : (size_t)-1;
        long pieces = dp_ps_pieces(&w, o.partition_bytes);
        if (pieces > DP_PS_MAX_PIECES / workers) {
            fprintf(stderr, "distlab dp: --partition: %s in pieces of %zu bytes is %ld pieces; times %ld "
                    "workers that is more than %ld (a larger --partition or fewer workers)\n", w.name,
                    o.partition_bytes, pieces, workers, DP_PS_MAX_PIECES);
            goto out;
        }
    }
    /* examples: whole ones (2.5 ran as 2.5 examples' compute) */
    long batch = (long)o.batch;
    double bucket = (double)o.bucket_bytes;
    if (cli_get_int(&a, "dp", "batch", 1, 1000000000, &batch) || cli_get_size(&a, "dp", "bucket", &bucket))
        goto out;
    if (!(bucket >= 4)) {
        fprintf(stderr, "distlab dp: --bucket: %g bytes: a bucket holds at least one gradient (4 bytes)\n", bucket);
        goto out;
    }
    o.batch = (double)batch;
    o.bucket_bytes = (size_t)bucket;
    int horovod = preset && strcmp(preset->name, "horovod") == 0;
    if (cli_get(&a, "cycle-time") && !horovod) {
        fprintf(stderr, "distlab dp: --cycle-time goes with --framework horovod\n");
        goto out;
    }
    if (horovod && cli_get(&a, "overlap")) {
        fprintf(stderr, "distlab dp: --framework horovod: its background thread always runs beside "
                "backward; leave out --overlap (--cycle-time and --bucket set its schedule)\n");
        goto out;
    }
    if (horovod) {
        o.cycle_s = HOROVOD_CYCLE_S;
        if (cli_get_time(&a, "dp", "cycle-time", &o.cycle_s))
            goto out;
        if (!(o.cycle_s >= 10e-6 && o.cycle_s <= 10)) {
            fprintf(stderr, "distlab dp: --cycle-time: %g s: expected 10us to 10s (every cycle is "
                    "simulated: a shorter one makes a step of seconds millions of them)\n", o.cycle_s);
            goto out;
        }
    }
    static const char *const onoff[] = {"off", "on", NULL};
    if (cli_get_choice(&a, "dp", "overlap", onoff, &o.overlap))
        goto out;
    const char *an = cli_get(&a, "allreduce");
    if (an && (int)(o.algo = allreduce_algo_by_name(an)) < 0) {
        fprintf(stderr, "distlab dp: --allreduce: unknown algorithm '%s' (known: %s)\n", an, allreduce_algo_list());
        goto out;
    }
    o.coll.local_size = sim.gpus_per_node;
    if (o.algo == ALLREDUCE_HIERARCHICAL && cfg.ranks % sim.gpus_per_node) {
        fprintf(stderr, "distlab dp: --allreduce hierarchical: %d workers are not whole nodes of "
                "--gpus-per-node %d\n", cfg.ranks, sim.gpus_per_node);
        goto out;
    }
    if (!sim.platform && sim_platform_check_generated(&sim, cfg.ranks, err, sizeof err) != 0) {
        fprintf(stderr, "distlab dp: %s\n", err);
        goto out;
    }
    /* a GPU is a host (or a GPU of a --gpus-per-node node): two ranks on
     * one host would share its rate as if one GPU did both's work */
    int hosts = sim.gpus_per_node > 1 || sim.one_machine ? 0 : sim.hosts; /* one machine: a core each */
    if (sim.platform && sim_platform_file_hosts(sim.platform, &hosts, err, sizeof err) != 0) {
        fprintf(stderr, "distlab dp: --platform: %s\n", err);
        goto out;
    }
    if (hosts > 0 && cfg.ranks > hosts) {
        char on[600];
        if (sim.platform)
            snprintf(on, sizeof on, "the %d hosts of platform file '%s'", hosts, sim.platform);
        else
            snprintf(on, sizeof on, "--hosts %d", hosts);
        fprintf(stderr, "distlab dp: %d ranks (%ld GPUs%s) do not fit %s: each needs a host of its own "
                "(expected at most %d ranks, or --gpus-per-node G for nodes of several GPUs)\n", cfg.ranks,
                workers, servers ? " and the --servers machines" : "", on, hosts);
        goto out;
    }
    sim.size_only = 1;
    const char *outdir = cli_get(&a, "out");
    if (outdir && cli_check_out("dp", outdir) != 0)
        goto out;
    cfg.record_events = outdir != NULL && !cli_flag(&a, "no-events");
    cfg.result_bytes = sizeof(dp_slot);

    job_result res;
    status = 1;
    if (job_run(&cfg, dp_rank, &o, &res) != 0) {
        fprintf(stderr, "distlab dp: %s\n", res.error);
        job_result_free(&res);
        goto out;
    }
    /* the slowest rank's last step; the compute: the fastest rank's
     * compute in it (allreduce: its backward end, the additions beside it
     * being all it could add; parameter server: its layers' compute, the
     * forward's waits for pulls left out) */
    int last = o.steps - 1, nb = ((dp_slot *)job_result_slot(&res, 0))->buckets;
    double step_s = 0, compute_s = INFINITY;
    for (int i = 0; i < (int)workers; i++) {
        const dp_slot *s = job_result_slot(&res, i);
        step_s = s->step_s[last] > step_s ? s->step_s[last] : step_s;
        compute_s = s->compute_s[last] < compute_s ? s->compute_s[last] : compute_s;
    }
    double eff = step_s > 0 ? compute_s / step_s : 1;
    char where[512];
    cli_describe_job(&cfg, &res, where, sizeof where);
    char dev_says[300];
    if (measured)
        snprintf(dev_says, sizeof dev_says, "%s at %.4g Tflop/s (%g %ss/s measured on %s: %s)", dev.name,
                 dev_flops / 1e12, measured->examples_per_s, w.example ? w.example : "example", w.name,
                 measured->source);
    else
        snprintf(dev_says, sizeof dev_says, "%s", dev.name);
    const char *speed_from = sim.platform ? "host speed from the platform"
                             : dname || !cli_get(&a, "speed") ? dev_says : "--speed";
    if (o.ps)
        printf("# %s\n# %s: %.4g M parameters, %d pieces (%s), %ld servers, credit %s, priority %s, %s\n",
               where, w.name, w.params / 1e6, nb, o.partition_bytes ? "of up to --partition bytes" : "whole layers",
               servers, o.credit_bytes == (size_t)-1 ? "unlimited" : "--credit bytes",
               o.priority ? "on (input side first)" : "off (backward's order)", speed_from);
    else if (o.cycle_s > 0)
        printf("# %s\n# %s: %.4g M parameters; horovod: a cycle every %g ms negotiates the ready tensors "
               "on rank 0 and fuses them into buffers of up to %zu bytes (%d fused allreduce(s) in %d cycle(s) "
               "the last step), allreduce %s, %s\n", where, w.name, w.params / 1e6, o.cycle_s * 1e3,
               o.bucket_bytes, nb, ((dp_slot *)job_result_slot(&res, 0))->cycles, allreduce_algo_name(o.algo),
               speed_from);
    else
        printf("# %s\n# %s: %.4g M parameters, %d bucket%s of up to %zu bytes in reverse layer order, "
               "overlap %s, allreduce %s, %s\n", where, w.name, w.params / 1e6, nb, nb == 1 ? "" : "s",
               o.bucket_bytes, o.overlap ? "on" : "off", o.byteps ? "byteps" : allreduce_algo_name(o.algo),
               speed_from);
    /* a parameter server's row: bucket_bytes is the partition (0: whole
     * layers), buckets the pieces */
    printf("workload,workers,batch,framework,bucket_bytes,overlap,allreduce,buckets,step_s,compute_s,"
           "exposed_comm_s,scaling_efficiency,examples_per_s\n");
    char how[64];
    if (o.byteps)
        snprintf(how, sizeof how, "byteps:k=%ld", servers);
    else if (o.ps)
        snprintf(how, sizeof how, "ps:k=%ld:priority=%s", servers, o.priority ? "on" : "off");
    else
        snprintf(how, sizeof how, "%s", allreduce_algo_name(o.algo));
    printf("%s,%ld,%g,%s,%zu,%s,%s,%d,%.9g,%.9g,%.9g,%.6f,%.6g\n", w.name, workers, o.batch,
           preset ? preset->name : "custom", o.ps ? o.partition_bytes : o.bucket_bytes,
           o.overlap ? "on" : "off", how, nb, step_s, compute_s, step_s - compute_s, eff,
           (double)workers * o.batch / step_s);
    status = 0;
    if (outdir) {
        records *rec = records_open(outdir, err, sizeof err);
        int ok = rec != NULL;
        double t = 0;
        for (int k = 0; ok && k < o.steps; k++) {
            double worst = 0;
            for (int i = 0; i < (int)workers; i++) {
                double s = ((dp_slot *)job_result_slot(&res, i))->step_s[k];
                worst = s > worst ? s : worst;
            }
            t += worst;
            records_metric m = records_metric_empty();
            m.time_s = t;
            m.step = k + 1;
            ok = records_add_metric(rec, &m, NULL, err, sizeof err) == 0;
        }
        ok = ok && records_add_job(rec, &cfg, &res, err, sizeof err) == 0;
        if (rec) {
            records_set_str(rec, "algo", "dp");
            records_set_int(rec, "workers", workers);
            if (o.byteps || o.ps)
                records_set_int(rec, "servers", servers);
            records_set_str(rec, "workload", w.name);
            /* the schedule as run (a preset's values, or the options');
             * "settings" below keeps the command line as given */
            records_set_str(rec, "framework", preset ? preset->name : "custom");
            records_set_str(rec, "device", speed_from);
            records_set_num(rec, "batch", o.batch);
            if (o.ps) {
                records_set_int(rec, "partition_bytes", (long long)o.partition_bytes);
                records_set_str(rec, "priority", o.priority ? "on" : "off");
            } else {
                records_set_int(rec, "bucket_bytes", (long long)o.bucket_bytes);
                records_set_str(rec, "overlap", o.overlap ? "on" : "off");
                records_set_str(rec, "allreduce", how);
            }
            records_set_num(rec, "seconds", step_s);
            records_set_num(rec, "step_seconds", step_s);
            records_set_num(rec, "compute_seconds", compute_s);
            records_set_num(rec, "scaling_efficiency", eff);
            records_set_int(rec, "buckets", nb);
            if (o.cycle_s > 0) {
                records_set_num(rec, "cycle_seconds", o.cycle_s);
                records_set_int(rec, "cycles", ((dp_slot *)job_result_slot(&res, 0))->cycles);
            }
            for (int i = 0; i < a.n; i++)
                records_set_setting(rec, a.key[i], a.val[i][0] ? a.val[i] : "true");
            ok = records_close(rec, ok ? err : NULL, sizeof err) == 0 && ok;
        }
        if (!ok) {
            fprintf(stderr, "distlab dp: --out %s: %s\n", outdir, err);
            status = 1;
        }
    }
    job_result_free(&res);
out:
    ml_workload_free(&w);
    return status;
}
