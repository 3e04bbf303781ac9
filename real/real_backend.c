/* real_backend.c -- the real backend's entry in the backends' table, its
 * settings' defaults, and its policy: how long a waiting rank polls before
 * it sleeps, and whether ranks are bound to cores. Both follow from one
 * question -- does every rank have a core of its own? -- which in a hosts
 * job counts the ranks whose --peers address shares this rank's host.
 */
#define _GNU_SOURCE
#include "real/real_backend.h"

#include <sched.h>
#include <string.h>

#include "real/real.h"

static const real_config real_defaults = {
    .backend = &real_backend,
    .launch = REAL_LAUNCH_THREADS,
    .listen_addr = "127.0.0.1",
    .spin_s = -1,
};

real_config real_config_default(void) { return real_defaults; }

const real_config *real_settings(const job_config *cfg)
{
    return cfg->settings ? cfg->settings : &real_defaults;
}

job_config real_job_config(const real_config *settings)
{
    job_config cfg = job_config_default();
    cfg.backend = &real_backend;
    cfg.settings = settings;
    return cfg;
}

/* Length of the host part of a --peers entry (HOST:PORT, len bytes). */
static size_t host_part(const char *entry, size_t len)
{
    while (len > 0 && entry[len - 1] != ':')
        len--;
    return len ? len - 1 : 0;
}

/* The ranks of a hosts job on this rank's machine -- the --peers entries
 * with the same host part as its own -- and, in *below, how many of them
 * come before it. */
static int ranks_here(const real_config *cfg, int *below)
{
    const char *list = cfg->peers ? cfg->peers : "", *mine = NULL;
    size_t mine_len = 0;
    int i = 0;
    for (const char *s = list; *s && !mine; i++) {
        size_t len = strcspn(s, ",");
        if (i == cfg->host_rank)
            mine = s, mine_len = host_part(s, len);
        s += len + (s[len] == ',');
    }
    int n = 0;
    *below = 0;
    i = 0;
    for (const char *s = list; *s && mine; i++) {
        size_t len = strcspn(s, ",");
        int same = host_part(s, len) == mine_len && strncmp(s, mine, mine_len) == 0;
        n += same;
        *below += same && i < cfg->host_rank;
        s += len + (s[len] == ',');
    }
    return n > 0 ? n : 1;
}

int real_core_slot(const job_config *job, int rank)
{
    const real_config *cfg = real_settings(job);
    int below = rank;
    if (cfg->launch == REAL_LAUNCH_HOSTS)
        ranks_here(cfg, &below);
    return below;
}

static int core_per_rank(const job_config *job)
{
    const real_config *cfg = real_settings(job);
    cpu_set_t set;
    int cores = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
    int below;
    return (cfg->launch == REAL_LAUNCH_HOSTS ? ranks_here(cfg, &below) : job->ranks) <= cores;
}

/* Waking a rank that sleeps in poll() costs tens of microseconds on a
 * loaded VM -- more than a 4 KiB message takes to cross loopback -- so a
 * rank that has a core to itself keeps polling (with a yield between
 * polls) for a while first, as MPI libraries do. 100 us covers the waits
 * of small and medium collectives; a wait in which nothing moves for that
 * long then sleeps, and its wake-up is small next to it. The time counts
 * from the last bytes moved, not from the start of the wait: a large
 * message arrives a socket buffer at a time, and a rank that slept each
 * time its socket ran dry paid a wake-up per buffer (a 4 MiB one-way
 * transfer: ~60) -- unless a yield between polls lost the core for longer
 * than the spin (another job wants it): then the wait sleeps, since the
 * kernel wakes a sleeper sooner than a spinner gets its turn back. With
 * more ranks than cores a spinning rank
 * would take the core its peer needs to send what it waits for, so then
 * no rank spins. */
double real_spin_s(const job_config *job)
{
    const real_config *cfg = real_settings(job);
    if (cfg->spin_s >= 0)
        return cfg->spin_s;
    return core_per_rank(job) ? REAL_SPIN_AUTO_S : 0;
}

/* Left to the scheduler, ranks forked or started together often begin on
 * one core and share it until the load balancer moves one -- long enough
 * to spoil a short measurement (a 4 KiB allreduce 4x slower for a whole
 * run). Bound, each has its core from the first message, as mpirun binds
 * its ranks by default. */
int real_binds(const job_config *job)
{
    const real_config *cfg = real_settings(job);
    if (cfg->bind != REAL_BIND_AUTO)
        return cfg->bind == REAL_BIND_CORES;
    return cfg->launch != REAL_LAUNCH_HOSTS && core_per_rank(job);
}

const job_backend real_backend = {
    .name = "real",
    .run = real_job_run,
};
