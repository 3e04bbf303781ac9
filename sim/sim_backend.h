/* sim_backend.h -- the sim backend as the rest of distlab sees it: its
 * entry for job_run (core/job.h: job_backend) and its own settings.
 *
 *   sim_config sim = sim_config_default();
 *   sim.bandwidth_Bps = 125e6;           (a generated cluster, 1 Gb/s)
 *   job_config cfg = sim_job_config(&sim);
 *                  (= job_config_default() with .backend = &sim_backend,
 *                     .settings = &sim; NULL settings: the defaults)
 *
 * The ranks run as SimGrid actors in a forked child process: SimGrid holds
 * one platform per process, and its aborts (a broken platform file, say)
 * must not end the caller.
 */
#ifndef DISTLAB_SIM_BACKEND_H
#define DISTLAB_SIM_BACKEND_H

#include "core/job.h"

/* ideal: SimGrid's CM02 flows without cross-traffic (alpha-beta); tcp:
 * SimGrid's LV08; analytic: distlab's own per-link max-min model
 * (net_analytic.h), SimGrid keeping only the actors and the clock. */
typedef enum { SIM_NET_IDEAL = 0, SIM_NET_TCP = 1, SIM_NET_ANALYTIC = 2 } sim_net;
typedef enum { SIM_PLACE_ROUND_ROBIN = 0, SIM_PLACE_BLOCK = 1 } sim_placement;

/* A failure the simulation injects (--fail, --degrade): at at_s the rank's
 * host goes down (SIM_FAULT_FAIL), or between at_s and until_s the link of
 * that name carries factor times its bandwidth (SIM_FAULT_DEGRADE). */
typedef enum { SIM_FAULT_FAIL = 0, SIM_FAULT_DEGRADE = 1 } sim_fault_kind;
typedef struct sim_fault {
    sim_fault_kind kind;
    int rank;          /* FAIL */
    const char *link;  /* DEGRADE: a link of the platform, by name */
    double factor;     /* DEGRADE: in (0, 1e6] */
    double at_s, until_s;
} sim_fault;
#define SIM_MAX_FAULTS 32
#define SIM_MAX_VECTOR 8
#define SIM_MAX_MSG 8

typedef struct sim_config {
    const job_backend *backend; /* &sim_backend: whose settings these are */
    /* a platform file, or a generated cluster */
    const char *platform;  /* SimGrid XML; NULL to generate */
    int hosts;             /* generated: number of hosts (default: ranks) */
    double bandwidth_Bps;  /* generated: host link bandwidth */
    double latency_s;      /* generated: host-to-host one-way latency */
    double speed_flops;    /* generated: per-core speed */
    int cores;             /* generated: cores per host */
    /* generated: GPU nodes. With gpus_per_node G > 1 every host is a GPU,
     * G of them to a node: each GPU has its own link of intra_bandwidth_Bps
     * to the node's switch, each node one NIC of bandwidth_Bps to a
     * non-blocking core switch; hosts is then the number of nodes (default:
     * enough for the ranks). GPU to GPU latency is intra_latency_s inside a
     * node and latency_s across nodes (sim_platform.c). */
    int gpus_per_node;     /* 0 or 1: a plain cluster */
    /* generated GPU cluster: CPU machines after the GPU nodes (BytePS's
     * summation service, parameter servers), each a node of one host with
     * a NIC of its own; the job's last cpu_hosts ranks run on them */
    int cpu_hosts;
    double intra_bandwidth_Bps;
    double intra_latency_s;
    sim_net net;
    sim_placement placement;
    /* What a real runtime's software costs beyond the wire (LogP's o;
     * --calibration sets them): a rank is busy send_overhead_s in each
     * send and recv_overhead_s for each message it receives, on its own
     * core (so it competes with its compute). 0: free. */
    double send_overhead_s, recv_overhead_s;
    /* generated: how much longer two hosts take to send each other n
     * bytes at once than one takes to send the other n bytes, from 1 (a
     * full-duplex wire: 0 or 1 here) to 2 (a host's sends and receives
     * share one capacity, as on loopback, where the CPU copies every byte
     * both ways). Above 1 each host gets a limiter link of 2 B / factor
     * that both its directions cross (SimGrid's limiter_link). */
    double exchange_factor;
    /* generated, one host (--calibration of a run on one machine sets it,
     * with --hosts 1 and --cores the machine's): the ranks share the
     * host's cores, and their messages take its own route, a link of
     * latency_s and bandwidth_Bps, then one limit that all of the
     * machine's copying shares (sim_platform.c) -- not the loopback of a
     * cluster's host. 0: a cluster as above. */
    int one_machine;
    /* Element-wise work (rt_compute_as RT_WORK_VECTOR) at measured
     * rates (--calibration sets them): nvector points of (flops in one
     * call, flop/s), flops increasing; a call's rate is interpolated
     * between them on log-log scales and held at the ends, since a pass
     * over a vector slows as it outgrows each cache. 0 points: vector work
     * runs at the host speed like any other (the default, so that times
     * keep their closed forms). */
    int nvector;
    double vector_flops[SIM_MAX_VECTOR], vector_flops_per_s[SIM_MAX_VECTOR];
    /* Shared memory (rt_compute_as RT_WORK_SHARED_READ and _WRITE) at
     * measured rates (--calibration of ranks on one machine sets them):
     * nshared points of (floats in one call, floats read a second,
     * floats written a second), floats increasing, log-log between them
     * and held at the ends. 0 points: a shared read is free and a write
     * is vector work (the default: the closed forms hold). */
    /* A batch's gather (rt_compute_as RT_WORK_GATHER) at this many
     * floats a second (--calibration sets it); 0: free. */
    double gather_per_s;
    /* A loss apart from a model (rt_compute_as RT_WORK_LOSS) at this many
     * flop/s (--calibration sets it); 0: as model work. */
    double loss_flops_per_s;
    int nshared;
    double shared_floats[SIM_MAX_VECTOR], shared_read_per_s[SIM_MAX_VECTOR],
        shared_write_per_s[SIM_MAX_VECTOR];
    /* Messages by size (--calibration sets them): nmsg points of (bytes,
     * scale), bytes increasing; a message of n bytes crosses the links as
     * n times the scale at n (log-log between the points, held at the
     * ends), so that each measured size costs its own measured time where
     * one latency and bandwidth miss it. 0 points: n bytes are n bytes. */
    int nmsg;
    double msg_bytes[SIM_MAX_MSG], msg_scale[SIM_MAX_MSG];
    /* A rank's first work after a wait it slept through, when it is
     * model work (rt_compute; work of another kind first is the warm-up,
     * charged as usual), takes woken_model_factor times as long (--calibration sets
     * it: the model's measured training rate back to back over its rate
     * with a sleep before each step), since a rank that sleeps leaves its
     * core and comes back to cold caches. A wait is slept through, as the
     * real runtime sleeps, when the rank idled in it for longer than
     * woken_after_s (its spin time) or, on one machine with more ranks
     * than cores (where no rank spins), at all. 0: no such charge (the
     * default, so that times keep their closed forms). */
    double woken_model_factor;
    double woken_after_s;
    /* A message that reaches a rank asleep in its wait (as above) reaches
     * it wake_s later than one that finds it polling: the kernel's
     * wake-up of a sleeping thread, on a VM tens of microseconds
     * (--calibration sets it: calibrate's pingpong to a sleeping rank
     * over one to a polling rank). The rank waits that long, off its core,
     * before the wait returns. 0: none (the default). */
    double wake_s;
    /* Exchanges by size (--calibration sets them; SimGrid's networks, not
     * --net analytic): nshare points of (bytes, share), share in (0, 1]:
     * a size whose exchange both ways takes share times what
     * exchange_factor makes of its one-way time. Its messages carry share
     * times their bytes, each at most share x bandwidth_Bps, so that alone
     * one takes its one-way time and two at once their exchange time
     * (log-log between the points, held at the ends). 0 points: 1. */
    int nshare;
    double share_bytes[SIM_MAX_MSG], share[SIM_MAX_MSG];
    int size_only;         /* payloads carry only their size */
    int nfaults;           /* failures to inject, in no particular order */
    sim_fault faults[SIM_MAX_FAULTS];
    /* A rank may be made to fail during the run by a call of its own,
     * sim_rank_fail (--kill-rank, run ps --kill-worker, a lab checker's
     * kills): whoever installs such a call sets it. Like a fault above, it
     * keeps every rank at SimGrid's clock under --net analytic (no running
     * ahead: sim.c, exec_flops), where a death and what the survivors see
     * of it happen. sim_rank_fail in a job without it fails the job. */
    int ranks_may_fail;
} sim_config;

extern const job_backend sim_backend;

/* 10 Gb/s links, 50 us latency, 1 Gf cores, one core per host, one host
 * per rank, the ideal network, data payloads; GPU nodes (when asked for)
 * with 100 GB/s, 2 us links inside a node. */
sim_config sim_config_default(void);
/* The sim settings of a job: cfg->settings, or the defaults when NULL. */
const sim_config *sim_settings(const job_config *cfg);
/* job_config_default() on this backend with these settings (NULL: the
 * defaults), which must outlive the job. */
job_config sim_job_config(const sim_config *settings);

/* Inside the backend: run the ranks in this process (the child that
 * sim_backend.run forks, whose stderr the parent reads). */
int sim_job_run(const job_config *cfg, job_main fn, void *arg, job_result *res);
/* From a rank of a running simulation: its host goes down now, as with
 * --fail at this time (the command line's --kill-rank). The job's
 * sim_config must have ranks_may_fail set. */
void sim_rank_fail(rt *r);

#endif
