/* sim_platform.c -- the simulated cluster and its network model.
 *
 * A generated cluster is a star: every host has its own full-duplex link
 * (SimGrid's SPLITDUPLEX) to a non-blocking switch, so a host can send and
 * receive at full bandwidth at once and a route between two hosts crosses
 * two links. Each link gets half of --latency, so the host-to-host latency
 * is exactly --latency and the bandwidth exactly --bandwidth: the
 * alpha-beta model's alpha and 1/beta. Ranks on the same host talk over
 * its loopback: 1 us, and 4x the link bandwidth (at least 10 GB/s), the
 * order of a message through shared memory -- so that handing a lock or a
 * token to a neighbour on the same machine is not free.
 *
 * One machine (sim_config.one_machine: a calibration of ranks on one
 * machine) is one host with the machine's cores instead, so that ranks
 * past the cores share them as a real machine's scheduler shares them.
 * Its ranks talk through the host's own route: a FATPIPE link of --latency
 * and --bandwidth (each message alone at the measured speed), then one
 * SHARED link that stands for the cores' copying -- a loopback message is
 * the CPU copying it out and in. A calibration measured one pair exchanging
 * at once (its exchange factor f: two ways take f times one way), so that
 * link carries 2 B / f for each pair of ranks the cores can run at once
 * (min(ranks, cores) / 2, at least one).
 *
 * With --gpus-per-node G every host is a GPU and G of them make a node
 * (sim_backend.h): the node is a SimGrid cluster of its GPUs, each with a
 * full-duplex link of --intra-bandwidth and intra_latency/2 to the node's
 * switch, so GPU to GPU inside the node is intra_latency; the nodes' switches
 * hang off one non-blocking core switch by a full-duplex NIC of --bandwidth
 * each, with (latency - intra_latency)/2, so GPU to GPU across nodes is
 * exactly --latency, at min(bandwidth, intra_bandwidth), and the G GPUs of
 * a node share its NIC fairly. Routes between nodes are listed pairwise
 * (a Full zone), which caps the generated cluster at 512 nodes. CPU
 * machines (cpu_hosts) come after the GPU nodes, each a node of one host
 * (node-NN-cpu-0) built as a GPU node is, so a GPU reaches one across
 * nodes, at --latency and min(bandwidth, intra_bandwidth).
 *
 * --net ideal selects SimGrid's CM02 model without cross-traffic and with
 * TCP-gamma off: a message of n bytes takes alpha + n beta, which makes
 * closed-form costs checkable to many digits. --net tcp keeps SimGrid's
 * default LV08 model, calibrated on real TCP (latency x 13.01, bandwidth x
 * 0.97, window-limited bandwidth on long routes).
 */
#define _GNU_SOURCE
#include "sim/sim_platform.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <simgrid/engine.h>

#include "core/units.h"
#include "sim/sim_limits.h"

#define STACK_KIB_(k) #k
#define STACK_KIB(k) STACK_KIB_(k) /* SIM_STACK_KIB as SimGrid reads it */

/* The shortest decimal that reads back as exactly v: a file a person will
 * edit should say 25e-06, not 2.5000000000000001e-05. */
static const char *exact(double v, char *buf, size_t len)
{
    for (int prec = 6; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    return buf;
}

/* One machine, as described at the top of this file. */
static int machine_xml(const sim_config *cfg, int ranks, char *buf, size_t len)
{
    int cores = cfg->cores > 0 ? cfg->cores : 1, pairs = (ranks < cores ? ranks : cores) / 2;
    double f = fmin(2, fmax(1, cfg->exchange_factor));
    char speed[32], bw[32], lat[32], copy[32];
    int n = snprintf(buf, len,
        "<?xml version='1.0'?>\n"
        "<!DOCTYPE platform SYSTEM \"https://simgrid.org/simgrid.dtd\">\n"
        "<!-- distlab machine: one host of %d core%s; its ranks' messages cross a\n"
        "     link of the measured latency and bandwidth, then one limit shared by\n"
        "     all of the machine's copying. -->\n"
        "<platform version=\"4.1\">\n"
        "  <zone id=\"machine\" routing=\"Full\">\n"
        "    <host id=\"node-0\" speed=\"%sf\" core=\"%d\"/>\n"
        "    <link id=\"machine-wire\" bandwidth=\"%sBps\" latency=\"%ss\" sharing_policy=\"FATPIPE\"/>\n"
        "    <link id=\"machine-copy\" bandwidth=\"%sBps\" latency=\"0s\"/>\n"
        "    <route src=\"node-0\" dst=\"node-0\"><link_ctn id=\"machine-wire\"/>"
        "<link_ctn id=\"machine-copy\"/></route>\n"
        "  </zone>\n"
        "</platform>\n",
        cores, cores == 1 ? "" : "s", exact(cfg->speed_flops, speed, sizeof speed), cores,
        exact(cfg->bandwidth_Bps, bw, sizeof bw), exact(cfg->latency_s, lat, sizeof lat),
        exact((pairs > 1 ? pairs : 1) * 2 * cfg->bandwidth_Bps / f, copy, sizeof copy));
    return n > 0 && (size_t)n < len ? 0 : -1;
}

int sim_platform_cluster_xml(const sim_config *cfg, int ranks, char *buf, size_t len)
{
    if (cfg->one_machine && cfg->hosts == 1)
        return machine_xml(cfg, ranks, buf, len);
    int hosts = cfg->hosts > 0 ? cfg->hosts : ranks;
    double loop_Bps = cfg->bandwidth_Bps * 4 > 1e10 ? cfg->bandwidth_Bps * 4 : 1e10;
    char speed[32], bw[32], lat[32], loop[32], limiter[64] = "", lim[32];
    if (cfg->exchange_factor > 1) /* both directions of a host through one limit */
        snprintf(limiter, sizeof limiter, " limiter_link=\"%sBps\"",
                 exact(2 * cfg->bandwidth_Bps / fmin(2, cfg->exchange_factor), lim, sizeof lim));
    int n = snprintf(buf, len,
        "<?xml version='1.0'?>\n"
        "<!DOCTYPE platform SYSTEM \"https://simgrid.org/simgrid.dtd\">\n"
        "<!-- distlab cluster: %d host%s, one full-duplex link each to a\n"
        "     non-blocking switch; host-to-host latency = 2 x lat. -->\n"
        "<platform version=\"4.1\">\n"
        "  <cluster id=\"cluster\" prefix=\"node-\" suffix=\"\" radical=\"0-%d\"\n"
        "           speed=\"%sf\" core=\"%d\"\n"
        "           bw=\"%sBps\" lat=\"%ss\" sharing_policy=\"SPLITDUPLEX\"%s\n"
        "           loopback_bw=\"%sBps\" loopback_lat=\"1us\"/>\n"
        "</platform>\n",
        hosts, hosts == 1 ? "" : "s", hosts - 1, exact(cfg->speed_flops, speed, sizeof speed), cfg->cores > 0 ? cfg->cores : 1,
        exact(cfg->bandwidth_Bps, bw, sizeof bw), exact(cfg->latency_s / 2, lat, sizeof lat),
        limiter, exact(loop_Bps, loop, sizeof loop));
    return n > 0 && (size_t)n < len ? 0 : -1;
}

static int digits(int n)
{
    int d = 1;
    while (n >= 10) {
        n /= 10;
        d++;
    }
    return d;
}

int sim_platform_nodes(const sim_config *cfg, int ranks)
{
    int g = cfg->gpus_per_node > 1 ? cfg->gpus_per_node : 1, cpus = g > 1 ? cfg->cpu_hosts : 0;
    return cfg->hosts > 0 ? cfg->hosts : (ranks - cpus + g - 1) / g;
}

/* The GPU cluster described at the top of this file. */
static int write_gpu_cluster(const sim_config *cfg, int ranks, FILE *f)
{
    int g = cfg->gpus_per_node, gpu_nodes = sim_platform_nodes(cfg, ranks);
    int nodes = gpu_nodes + cfg->cpu_hosts, w = digits(nodes - 1);
    char speed[32], ibw[32], ilat[32], bw[32], lat[32], tot_i[32], tot_o[32];
    exact(cfg->speed_flops, speed, sizeof speed);
    exact(cfg->intra_bandwidth_Bps, ibw, sizeof ibw);
    exact(cfg->intra_latency_s / 2, ilat, sizeof ilat);
    exact(cfg->bandwidth_Bps, bw, sizeof bw);
    exact((cfg->latency_s - cfg->intra_latency_s) / 2, lat, sizeof lat);
    fprintf(f, "<?xml version='1.0'?>\n"
            "<!DOCTYPE platform SYSTEM \"https://simgrid.org/simgrid.dtd\">\n"
            "<!-- distlab GPU cluster: %d node%s of %d GPUs%s. Inside a node each GPU has\n"
            "     a full-duplex link to the node's switch (GPU to GPU: %ss); each\n"
            "     node one full-duplex NIC to a non-blocking core switch, shared by\n"
            "     its GPUs (GPU to GPU across nodes: %ss). -->\n"
            "<platform version=\"4.1\">\n"
            "  <zone id=\"world\" routing=\"Full\">\n",
            gpu_nodes, gpu_nodes == 1 ? "" : "s", g, cfg->cpu_hosts ? ", then CPU machines of one host" : "",
            exact(cfg->intra_latency_s, tot_i, sizeof tot_i), exact(cfg->latency_s, tot_o, sizeof tot_o));
    for (int i = 0; i < nodes; i++)
        fprintf(f, "    <cluster id=\"node-%0*d\" prefix=\"node-%0*d-%s-\" suffix=\"\" radical=\"0-%d\"\n"
                "             speed=\"%sf\" core=\"%d\" bw=\"%sBps\" lat=\"%ss\"\n"
                "             sharing_policy=\"SPLITDUPLEX\" router_id=\"node-%0*d-switch\"/>\n",
                w, i, w, i, i < gpu_nodes ? "gpu" : "cpu", i < gpu_nodes ? g - 1 : 0, speed,
                cfg->cores > 0 ? cfg->cores : 1, ibw, ilat, w, i);
    for (int i = 0; i < nodes; i++)
        fprintf(f, "    <link id=\"node-%0*d-nic\" bandwidth=\"%sBps\" latency=\"%ss\" "
                "sharing_policy=\"SPLITDUPLEX\"/>\n", w, i, bw, lat);
    for (int i = 0; i < nodes; i++)
        for (int j = i + 1; j < nodes; j++)
            fprintf(f, "    <zoneRoute src=\"node-%0*d\" dst=\"node-%0*d\" gw_src=\"node-%0*d-switch\" "
                    "gw_dst=\"node-%0*d-switch\">\n"
                    "      <link_ctn id=\"node-%0*d-nic\" direction=\"UP\"/>"
                    "<link_ctn id=\"node-%0*d-nic\" direction=\"DOWN\"/>\n"
                    "    </zoneRoute>\n", w, i, w, j, w, i, w, j, w, i, w, j);
    fprintf(f, "  </zone>\n</platform>\n");
    return ferror(f) ? -1 : 0;
}

int sim_platform_check_generated(const sim_config *cfg, int ranks, char *err, size_t errlen)
{
    if (cfg->hosts < 0 || !(cfg->bandwidth_Bps >= UNITS_RATE_MIN_BPS && cfg->bandwidth_Bps <= UNITS_RATE_MAX_BPS) ||
        !(cfg->latency_s >= 0 && cfg->latency_s <= UNITS_TIME_MAX_S) ||
        !(cfg->speed_flops >= UNITS_SPEED_MIN_FLOPS && cfg->speed_flops <= UNITS_SPEED_MAX_FLOPS)) {
        snprintf(err, errlen, "generated cluster: %d hosts, %g B/s, %g s latency, %g flop/s: hosts must be "
                 "at least 0, bandwidth 1bps to 1e15Bps, latency 0 to 1e9s, speed 1f to 1e30f", cfg->hosts,
                 cfg->bandwidth_Bps, cfg->latency_s, cfg->speed_flops);
        return -1;
    }
    if (cfg->gpus_per_node <= 1)
        return 0;
    int nodes = sim_platform_nodes(cfg, ranks), cpus = cfg->cpu_hosts;
    if (cfg->gpus_per_node > SIM_MAX_GPUS_PER_NODE || cpus < 0 || nodes + cpus > SIM_MAX_GPU_NODES) {
        snprintf(err, errlen, "generated GPU cluster: %d nodes of %d GPUs (--gpus-per-node)%s for %d ranks: "
                 "expected at most %d nodes and at most %d GPUs per node", nodes, cfg->gpus_per_node,
                 cpus ? " and CPU machines" : "", ranks, SIM_MAX_GPU_NODES, SIM_MAX_GPUS_PER_NODE);
        if (cpus > 0) {
            size_t used = strlen(err);
            snprintf(err + used, errlen - used, " (the %d CPU machines are nodes too)", cpus);
        }
        return -1;
    }
    if (!(cfg->intra_bandwidth_Bps >= UNITS_RATE_MIN_BPS && cfg->intra_bandwidth_Bps <= UNITS_RATE_MAX_BPS) ||
        !(cfg->intra_latency_s >= 0 && cfg->intra_latency_s <= cfg->latency_s)) {
        snprintf(err, errlen, "generated GPU cluster: intra-node links of %g B/s and %g s: the bandwidth must be "
                 "1bps to 1e15Bps, the latency 0 to --latency (%g s, which is GPU to GPU across nodes)",
                 cfg->intra_bandwidth_Bps, cfg->intra_latency_s, cfg->latency_s);
        return -1;
    }
    if (ranks - cpus > nodes * cfg->gpus_per_node) {
        snprintf(err, errlen, "generated GPU cluster: %d ranks do not fit %d node%s of %d GPUs (one rank per "
                 "GPU: at most %d ranks, or more --hosts)", ranks - cpus, nodes, nodes == 1 ? "" : "s",
                 cfg->gpus_per_node, nodes * cfg->gpus_per_node);
        return -1;
    }
    return 0;
}

int sim_platform_write(const sim_config *cfg, int ranks, FILE *f)
{
    if (cfg->gpus_per_node > 1)
        return write_gpu_cluster(cfg, ranks, f);
    char xml[2048];
    if (sim_platform_cluster_xml(cfg, ranks, xml, sizeof xml) != 0)
        return -1;
    return fputs(xml, f) < 0 ? -1 : 0;
}

/* The stat part of sim_platform_check_file. */
static int regular_file(const char *path, char *err, size_t errlen)
{
    /* a folder or a FIFO would reach libxml2 (and SimGrid) as it is;
     * what a file holds, its root element included, is the check's */
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "platform file '%s': %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "platform file '%s' is %s, not a file: name a SimGrid platform file "
                 "(e.g. platforms/cluster16.xml)", path,
                 S_ISDIR(st.st_mode) ? "a folder" : "a device, FIFO or socket");
        return -1;
    }
    return 0;
}

int sim_platform_check_file(const char *path, int analytic, char *err, size_t errlen)
{
    int cpu_profiles;
    return regular_file(path, err, errlen) != 0 ? -1
                                                 : sim_platform_check_profiles(path, &cpu_profiles, analytic, err, errlen);
}

int sim_platform_setup(const sim_config *cfg, int ranks, sim_platform *p, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    p->generated_fd = -1;
    p->net_ideal = cfg->net != SIM_NET_TCP; /* analytic: SimGrid's links as given, no factors */
    p->rate_bounds = cfg->nshare > 0 && cfg->net != SIM_NET_ANALYTIC;
    p->net_analytic = cfg->net == SIM_NET_ANALYTIC;
    snprintf(p->net_model, sizeof p->net_model, "%s",
             cfg->net == SIM_NET_ANALYTIC ? "analytic (per-link max-min, distlab's own)"
             : p->net_ideal ? "ideal (CM02, no cross-traffic)" : "tcp (LV08)");
    if (cfg->platform) {
        int profiles = 1;
        if (regular_file(cfg->platform, err, errlen) != 0 ||
            sim_platform_check_profiles(cfg->platform, &profiles, p->net_analytic, err, errlen) != 0)
            return -1;
        p->cpu_fixed = !profiles;
        snprintf(p->path, sizeof p->path, "%s", cfg->platform);
        return 0;
    }
    p->cpu_fixed = 1; /* a generated cluster has no profiles */
    /* the command line checks these (core/units.h); a program that fills
     * a job_config itself gets the same ranges */
    if (sim_platform_check_generated(cfg, ranks, err, errlen) != 0)
        return -1;
    /* The generated cluster lives in a memory file that SimGrid reads
     * through /proc: nothing on disk, so nothing a killed run leaves. */
    int fd = memfd_create("distlab-cluster.xml", MFD_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot write the generated platform: memory file: %s", strerror(errno));
        return -1;
    }
    p->generated_fd = fd;
    FILE *f = fdopen(dup(fd), "w");
    int ok = f && sim_platform_write(cfg, ranks, f) == 0;
    if (f && fclose(f) != 0)
        ok = 0;
    if (!ok) {
        snprintf(err, errlen, "cannot write the generated platform");
        sim_platform_cleanup(p);
        return -1;
    }
    snprintf(p->path, sizeof p->path, "/proc/self/fd/%d", fd);
    return 0;
}

/* SimGrid reports a broken platform file on stderr and then aborts the
 * process (this child of sim_backend.run, which reads its stderr and
 * quotes SimGrid's last error lines). */
int sim_platform_load(sim_platform *p, char *err, size_t errlen)
{
    char *argv[40];
    int argc = 0;
    argv[argc++] = "distlab";
    argv[argc++] = "--log=root.thres:warning";
    /* A deadlock is reported by distlab, naming the ranks that wait;
     * SimGrid's own line about it ("the user code is not perfectly clean")
     * would only confuse, so its engine's log goes nowhere. */
    argv[argc++] = "--log=ker_engine.app:file:/dev/null";
    argv[argc++] = "--log=ker_engine.add:0";
    /* Each rank's actor gets a 512 KiB stack instead of SimGrid's 8 MiB:
     * a 1024-rank ring allreduce simulates 13-25% faster (five paired
     * runs), and every algorithm and test still passes with 128 KiB
     * (sim_limits.h: what the stacks need of the machine). */
    argv[argc++] = "--cfg=contexts/stack-size:" STACK_KIB(SIM_STACK_KIB);
    if (p->net_ideal) {
        argv[argc++] = "--cfg=network/model:CM02";
        argv[argc++] = "--cfg=network/crosstraffic:0";
        /* no TCP window: gamma 0 leaves a flow unbounded, and so also
         * drops a bound of its own (CM02 holds a flow to the smaller of
         * that and gamma / 2 latency); where a calibration bounds some
         * (sim_put.cpp), a gamma no flow reaches instead */
        argv[argc++] = p->rate_bounds ? "--cfg=network/TCP-gamma:1e300" : "--cfg=network/TCP-gamma:0";
        /* Full, not SimGrid's default Lazy: Lazy's selective update
         * re-solves only the links it takes to have changed, and SimGrid
         * 3.32 then gave flows shares that overload a link -- 3 P3
         * workers pushing to 2 servers at once got 2.08 GB/s each into
         * one server's 3.125 GB/s link (SimGrid's own check, ker_lmm
         * debug: "6250000000 is not smaller than 3125000000"), an 11%
         * shorter step at 16 workers and 16 servers. Full re-solves every
         * change: the max-min shares, at about 1.2x the CPU of a
         * 1024-rank ring (one run each). */
        argv[argc++] = "--cfg=network/optim:Full";
    }
    /* --net analytic's actor sleeps from one event of its model to the
     * next, which may be a one-byte transfer's 0.8 ns apart; SimGrid
     * stretches any sleep shorter than surf/precision (1e-9 s) to it. */
    if (p->net_analytic)
        argv[argc++] = "--cfg=surf/precision:1e-12";
    /* DISTLAB_SIMGRID: more SimGrid options, space-separated, for those who
     * know SimGrid (e.g. "--cfg=network/model:SMPI"); they come last, so
     * they win. The copy lives until the process ends, as SimGrid wants. */
    const char *more = getenv("DISTLAB_SIMGRID");
    char *copy = more ? strdup(more) : NULL, *save = NULL;
    for (char *w = copy ? strtok_r(copy, " ", &save) : NULL; w && argc < 39; w = strtok_r(NULL, " ", &save))
        argv[argc++] = w;
    argv[argc] = NULL;

    simgrid_init(&argc, argv);
    simgrid_load_platform(p->path);
    (void)err;
    (void)errlen;
    return 0;
}

void sim_platform_cleanup(sim_platform *p)
{
    if (p->generated_fd >= 0)
        close(p->generated_fd);
    p->generated_fd = -1;
}
