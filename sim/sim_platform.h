/* sim_platform.h -- the simulated cluster: a SimGrid platform file, or one
 * generated from --hosts --bandwidth --latency --speed --cores, and the
 * network model (--net ideal|tcp|analytic). */
#ifndef DISTLAB_SIM_PLATFORM_H
#define DISTLAB_SIM_PLATFORM_H

#include <stddef.h>
#include <stdio.h>

#include "sim/sim_backend.h"

typedef struct sim_platform {
    char path[4200];       /* the platform file to load */
    int generated_fd;      /* the generated cluster's memory file (path names it); -1 if none */
    char net_model[64];    /* what the run will say it used */
    int net_ideal;
    int rate_bounds;  /* some transfers have a rate bound of their own (sim_config.nshare) */
    int net_analytic;      /* --net analytic: SimGrid keeps only actors and time */
    int cpu_fixed;         /* no host's speed can change during the run (no profile) */
} sim_platform;

/* Check the platform file, or write the generated one (for a job of
 * ranks ranks: the default number of hosts). */
int sim_platform_setup(const sim_config *cfg, int ranks, sim_platform *p, char *err, size_t errlen);
/* Check a platform file's values before SimGrid reads it: its numbers,
 * units and counts, that no two hosts, links or zones share a name, that
 * it has a host, that routes name what the file has, that each routing=
 * is SimGrid's, and that a Full zone routes every pair of its hosts.
 * Returns 0, or -1 with file, line, element and value in err. */
int sim_platform_check(const char *path, char *err, size_t errlen);
/* The same, after making sure the path is a regular file that exists:
 * what sim_platform_setup does, and what the command line calls first so
 * that a bad platform file is bad input (exit 2), not a failed run. With
 * analytic (--net analytic), a link that follows a profile is refused too
 * (sim_platform_check_profiles). */
int sim_platform_check_file(const char *path, int analytic, char *err, size_t errlen);
/* sim_platform_check, and the file's number of hosts in *hosts (a
 * cluster's radical= counted host by host). */
int sim_platform_file_hosts(const char *path, int *hosts, char *err, size_t errlen);
/* sim_platform_check, and whether a host's speed or state follows a
 * profile (availability_file=, speed_file=, state_file=, a HOST_AVAIL or
 * SPEED <trace_connect>) in *cpu_profiles. With no_link_profiles, a link
 * whose bandwidth, latency or state follows a profile is refused (--net
 * analytic, which reads each link's numbers once). */
int sim_platform_check_profiles(const char *path, int *cpu_profiles, int no_link_profiles, char *err,
                                size_t errlen);
/* Start SimGrid with the network model's settings and load the platform. */
int sim_platform_load(sim_platform *p, char *err, size_t errlen);
/* Let go of what setup wrote. */
void sim_platform_cleanup(sim_platform *p);

/* The largest generated GPU cluster (sim_backend.h: gpus_per_node). */
#define SIM_MAX_GPUS_PER_NODE 1024
#define SIM_MAX_GPU_NODES 512
/* Nodes of a generated cluster: --hosts, or enough for the ranks. */
int sim_platform_nodes(const sim_config *cfg, int ranks);
/* Check a generated cluster's values and that the ranks fit its GPUs;
 * 0, or -1 with what was expected in err. */
int sim_platform_check_generated(const sim_config *cfg, int ranks, char *err, size_t errlen);
/* Write the generated cluster (plain or GPU nodes) as a platform file. */
int sim_platform_write(const sim_config *cfg, int ranks, FILE *f);

/* The XML of a generated plain cluster, into buf. Exposed for tests and for
 * `distlab platform` users who want a file to start editing from. */
int sim_platform_cluster_xml(const sim_config *cfg, int ranks, char *buf, size_t len);

#endif
