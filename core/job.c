/* job.c -- launch P ranks on a backend and gather what they leave behind.
 *
 * The result area (status, counters, per-rank result slots) is one
 * MAP_SHARED mapping made before any fork, so a simulation child or a
 * rank process writes it directly. Event logs, whose size is not known in
 * advance, come back through files in a private temporary folder.
 */
#define _GNU_SOURCE
#include "core/job.h"

#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/job_internal.h"
#include "core/rt_core.h"

static size_t round_up(size_t n, size_t a) { return (n + a - 1) / a * a; }

/* Slots start on 64-byte boundaries, whatever their size, so a rank can
 * keep doubles in one (and no two ranks share a cache line). */
static size_t slot_stride(size_t result_bytes) { return round_up(result_bytes, 64); }

job_config job_config_default(void)
{
    return (job_config){
        .backend = JOB_SIM,
        .ranks = 2,
        .timeout_s = 60.0,
        .record_events = 1,
        .bandwidth_Bps = 1.25e9, /* 10 Gb/s */
        .latency_s = 50e-6,
        .speed_flops = 1e9,
        .cores = 1,
        .net = JOB_NET_IDEAL,
        .placement = JOB_PLACE_ROUND_ROBIN,
        .launch = JOB_LAUNCH_THREADS,
        .listen_addr = "127.0.0.1",
        .spin_s = -1,
    };
}

/* Waking a rank that sleeps in poll() costs tens of microseconds on a
 * loaded VM -- more than a 4 KiB message takes to cross loopback -- so a
 * rank that has a core to itself keeps polling (with a yield between
 * polls) for a while first, as MPI libraries do. 100 us covers the waits
 * of small and medium collectives; a longer wait then sleeps, and its
 * wake-up is small next to it. With more ranks than cores a spinning rank
 * would take the core its peer needs to send what it waits for, so then
 * no rank spins. */
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
static int ranks_here(const job_config *cfg, int *below)
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

int job_core_slot(const job_config *cfg, int rank)
{
    int below = rank;
    if (cfg->launch == JOB_LAUNCH_HOSTS)
        ranks_here(cfg, &below);
    return below;
}

static int core_per_rank(const job_config *cfg)
{
    cpu_set_t set;
    int cores = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
    int below;
    return (cfg->launch == JOB_LAUNCH_HOSTS ? ranks_here(cfg, &below) : cfg->ranks) <= cores;
}

double job_spin_s(const job_config *cfg)
{
    if (cfg->spin_s >= 0)
        return cfg->spin_s;
    return core_per_rank(cfg) ? JOB_SPIN_AUTO_S : 0;
}

/* Left to the scheduler, ranks forked or started together often begin on
 * one core and share it until the load balancer moves one -- long enough
 * to spoil a short measurement (a 4 KiB allreduce 4x slower for a whole
 * run). Bound, each has its core from the first message, as mpirun binds
 * its ranks by default. */
int job_binds(const job_config *cfg)
{
    if (cfg->bind != JOB_BIND_AUTO)
        return cfg->bind == JOB_BIND_CORES;
    return cfg->launch != JOB_LAUNCH_HOSTS && core_per_rank(cfg);
}

void *job_slot(rt *r) { return r->slot; }

void *job_result_slot(const job_result *res, int rank)
{
    if (rank < 0 || rank >= res->ranks || res->result_bytes == 0)
        return NULL;
    return (char *)res->slots + (size_t)rank * slot_stride(res->result_bytes);
}


/* Layout of the shared area: header, rank_status[ranks], slots. */
static size_t shared_bytes(int ranks, size_t result_bytes, size_t *status_off, size_t *slots_off)
{
    *status_off = round_up(sizeof(job_shared), 64);
    *slots_off = round_up(*status_off + (size_t)ranks * sizeof(int), 64);
    return *slots_off + (size_t)ranks * slot_stride(result_bytes);
}

static int map_result(job_result *res, int ranks, size_t result_bytes)
{
    size_t status_off, slots_off;
    size_t total = shared_bytes(ranks, result_bytes, &status_off, &slots_off);
    void *p = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -1;
    memset(res, 0, sizeof *res);
    res->shared = p;
    res->shared_bytes = total;
    res->rank_status = (int *)((char *)p + status_off);
    res->slots = (char *)p + slots_off;
    res->ranks = ranks;
    res->only_rank = -1;
    res->result_bytes = result_bytes;
    return 0;
}

void job_result_free(job_result *res)
{
    if (res->shared)
        munmap(res->shared, res->shared_bytes);
    free(res->events);
    memset(res, 0, sizeof *res);
}

void job_fail(job_result *res, const char *fmt, ...)
{
    job_shared *sh = res->shared;
    /* rank processes fail at once through the shared mapping: one wins */
    if (__atomic_exchange_n(&sh->failed, 1, __ATOMIC_ACQ_REL))
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sh->error, sizeof sh->error, fmt, ap);
    va_end(ap);
}

int job_collect_rank(job_result *res, rt *r, int status)
{
    return job_collect_report(res, r->rank, status, r->err, r->events, r->nevents, r->bytes_sent,
                              r->messages_sent);
}

int job_collect_report(job_result *res, int rank, int status, const char *err, const rt_event *events,
                       size_t nevents, uint64_t bytes_sent, uint64_t messages)
{
    job_shared *sh = res->shared;
    res->rank_status[rank] = status;
    if (status != RT_OK)
        job_fail(res, "%s", err && err[0] ? err : rt_strerror(status));
    __atomic_fetch_add(&sh->bytes_sent, bytes_sent, __ATOMIC_RELAXED);
    __atomic_fetch_add(&sh->messages, messages, __ATOMIC_RELAXED);
    if (nevents == 0)
        return 0;
    rt_event *ev = realloc(res->events, (res->nevents + nevents) * sizeof *ev);
    if (!ev)
        return -1;
    memcpy(ev + res->nevents, events, nevents * sizeof *ev);
    res->events = ev;
    res->nevents += nevents;
    return 0;
}

int job_events_save(const job_result *res, const char *path)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t n = res->nevents ? fwrite(res->events, sizeof(rt_event), res->nevents, f) : 0;
    int rc = (n == res->nevents) ? 0 : -1;
    if (fclose(f) != 0)
        rc = -1;
    return rc;
}

int job_events_load(job_result *res, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    rt_event buf[1024];
    size_t n;
    int rc = 0;
    while ((n = fread(buf, sizeof buf[0], 1024, f)) > 0) {
        rt_event *ev = realloc(res->events, (res->nevents + n) * sizeof *ev);
        if (!ev) {
            rc = -1;
            break;
        }
        memcpy(ev + res->nevents, buf, n * sizeof *ev);
        res->events = ev;
        res->nevents += n;
    }
    fclose(f);
    return rc;
}

static int event_order(const void *a, const void *b)
{
    const rt_event *x = a, *y = b;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    if (x->start_s != y->start_s)
        return x->start_s < y->start_s ? -1 : 1;
    return (x->end_s > y->end_s) - (x->end_s < y->end_s);
}

/* Describe how a child process ended, for an error message. */
void job_describe_exit(int wstatus, char *buf, size_t len)
{
    if (WIFSIGNALED(wstatus))
        snprintf(buf, len, "was killed by signal %d (%s)", WTERMSIG(wstatus), strsignal(WTERMSIG(wstatus)));
    else if (WIFEXITED(wstatus))
        snprintf(buf, len, "exited with status %d", WEXITSTATUS(wstatus));
    else
        snprintf(buf, len, "ended abnormally");
}

int job_make_tmpdir(char *dir, size_t len)
{
    const char *base = getenv("TMPDIR");
    snprintf(dir, len, "%s/distlab-XXXXXX", base && *base ? base : "/tmp");
    return mkdtemp(dir) ? 0 : -1;
}

/* The last few lines of a log file, joined by " | ", for an error message. */
static void log_tail(const char *path, char *buf, size_t len)
{
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char lines[4][300];
    int n = 0;
    char line[300];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (!line[0])
            continue;
        memmove(lines[0], lines[1], sizeof lines[0] * 3);
        snprintf(lines[3], sizeof lines[3], "%s", line);
        if (n < 4)
            n++;
    }
    fclose(f);
    for (int i = 4 - n; i < 4; i++)
        snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", i > 4 - n ? " | " : "", lines[i]);
}

/* A simulation runs in a child: SimGrid holds one platform per process,
 * and its aborts (a broken platform file, say) must not end the caller. */
static int run_sim_in_child(const job_config *cfg, job_main fn, void *arg, job_result *res)
{
    char dir[4096], path[4200];
    if (job_make_tmpdir(dir, sizeof dir) != 0) {
        job_fail(res, "cannot make a temporary folder: %s", strerror(errno));
        return -1;
    }
    snprintf(path, sizeof path, "%s/events.sim", dir);
    job_shared *sh = res->shared;
    snprintf(sh->sim_log, sizeof sh->sim_log, "%s/simgrid.log", dir);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        job_fail(res, "fork: %s", strerror(errno));
        rmdir(dir);
        return -1;
    }
    if (pid == 0) {
        signal(SIGPIPE, SIG_DFL);
        sim_job_run(cfg, fn, arg, res);
        int rc = job_events_save(res, path) == 0 ? 0 : 3;
        fflush(NULL);
        _exit(rc);
    }
    int wstatus = 0;
    pid_t got;
    while ((got = waitpid(pid, &wstatus, 0)) < 0 && errno == EINTR)
        ;
    if (got < 0) {
        job_fail(res, "waiting for the simulation: %s", strerror(errno));
        unlink(path);
        rmdir(dir);
        return -1;
    }
    if (!(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0)) {
        char how[128], said[600];
        job_describe_exit(wstatus, how, sizeof how);
        log_tail(sh->sim_log, said, sizeof said);
        if (!sh->failed)
            job_fail(res, "the simulation %s%s%s", how, said[0] ? "; SimGrid said: " : "", said);
    } else if (job_events_load(res, path) != 0) {
        job_fail(res, "cannot read the events the simulation wrote to %s", path);
    }
    unlink(path);
    unlink(sh->sim_log);
    rmdir(dir);
    return sh->failed ? -1 : 0;
}

int job_run(const job_config *cfg, job_main fn, void *arg, job_result *res)
{
    memset(res, 0, sizeof *res);
    res->only_rank = -1;
    if (cfg->ranks < 1) {
        snprintf(res->error, sizeof res->error, "need at least 1 rank, got %d", cfg->ranks);
        res->failed = 1;
        return -1;
    }
    if (map_result(res, cfg->ranks, cfg->result_bytes) != 0) {
        snprintf(res->error, sizeof res->error, "cannot map the result area: %s", strerror(errno));
        res->failed = 1;
        return -1;
    }
    if (cfg->backend == JOB_SIM)
        run_sim_in_child(cfg, fn, arg, res);
    else
        real_job_run(cfg, fn, arg, res);

    job_shared *sh = res->shared;
    res->failed = sh->failed;
    memcpy(res->error, sh->error, sizeof res->error);
    memcpy(res->net_model, sh->net_model, sizeof res->net_model);
    res->seconds = sh->seconds;
    res->bytes_sent = sh->bytes_sent;
    res->messages = sh->messages;
    if (res->nevents > 1)
        qsort(res->events, res->nevents, sizeof *res->events, event_order);
    return res->failed ? -1 : 0;
}
