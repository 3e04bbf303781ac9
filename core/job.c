/* job.c -- launch P ranks on a backend and gather what they leave behind.
 *
 * The result area (status, counters, per-rank result slots) is one
 * MAP_SHARED mapping made before any fork, so whatever process a backend
 * runs its ranks in writes it directly. Event logs, whose size is not
 * known in advance, come back from such processes through a memory file
 * the child inherits (job_events_write_fd, job_events_read_fd): nothing
 * on disk to leave behind.
 */
#define _GNU_SOURCE
#include "core/job.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
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
        .ranks = 2,
        .timeout_s = 60.0,
        .record_events = 1,
    };
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

void job_refuse(job_result *res, const char *fmt, ...)
{
    job_shared *sh = res->shared;
    if (__atomic_exchange_n(&sh->failed, 1, __ATOMIC_ACQ_REL))
        return;
    sh->bad_input = 1;
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
    /* a rank made to fail, or one that refused its input, is the cause of
     * its peers' errors, however soon they reported theirs: the job's
     * error will name it first */
    if (status == RT_EINPUT)
        __atomic_store_n(&sh->bad_input, 1, __ATOMIC_RELEASE);
    if ((status == RT_EKILLED || status == RT_EINPUT) && !__atomic_exchange_n(&sh->caused, 1, __ATOMIC_ACQ_REL))
        snprintf(sh->cause, sizeof sh->cause, "%s", err && err[0] ? err : rt_strerror(status));
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

int job_events_write_fd(const job_result *res, int fd)
{
    const char *p = (const char *)res->events;
    size_t left = res->nevents * sizeof(rt_event);
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        left -= (size_t)n;
    }
    return 0;
}

int job_events_read_fd(job_result *res, int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size < 0 || (size_t)st.st_size % sizeof(rt_event) != 0)
        return -1;
    size_t n = (size_t)st.st_size / sizeof(rt_event);
    if (n == 0)
        return 0;
    rt_event *ev = realloc(res->events, (res->nevents + n) * sizeof *ev);
    if (!ev)
        return -1;
    res->events = ev;
    char *p = (char *)(ev + res->nevents);
    size_t want = n * sizeof *ev;
    for (off_t off = 0; (size_t)off < want;) {
        ssize_t got = pread(fd, p + off, want - (size_t)off, off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return -1;
        off += got;
    }
    res->nevents += n;
    return 0;
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

int job_run(const job_config *cfg, job_main fn, void *arg, job_result *res)
{
    memset(res, 0, sizeof *res);
    res->only_rank = -1;
    if (cfg->ranks < 1) {
        snprintf(res->error, sizeof res->error, "need at least 1 rank, got %d", cfg->ranks);
        res->failed = 1;
        return -1;
    }
    if (!cfg->backend || !cfg->backend->run) {
        snprintf(res->error, sizeof res->error, "no backend to run the job (job_config.backend)");
        res->failed = 1;
        return -1;
    }
    const job_backend *const *owner = cfg->settings;
    if (owner && *owner != cfg->backend) {
        snprintf(res->error, sizeof res->error, "the job's settings are for the %s backend, not %s",
                 *owner ? (*owner)->name : "(no)", cfg->backend->name);
        res->failed = 1;
        return -1;
    }
    if (map_result(res, cfg->ranks, cfg->result_bytes) != 0) {
        snprintf(res->error, sizeof res->error, "cannot map the result area: %s", strerror(errno));
        res->failed = 1;
        return -1;
    }
    cfg->backend->run(cfg, fn, arg, res);

    job_shared *sh = res->shared;
    res->failed = sh->failed;
    res->bad_input = res->bad_input || sh->bad_input;
    memcpy(res->error, sh->error, sizeof res->error);
    if (sh->caused && strcmp(sh->cause, sh->error) != 0) {
        const char *part[3] = {sh->cause, "; then: ", sh->error};
        size_t n = 0;
        for (int i = 0; i < 3; i++)
            for (const char *c = part[i]; *c && n + 1 < sizeof res->error; c++)
                res->error[n++] = *c;
        res->error[n] = '\0';
    }
    memcpy(res->net_model, sh->net_model, sizeof res->net_model);
    res->seconds = sh->seconds;
    res->cpu_seconds = 1e-9 * (double)sh->cpu_ns;
    res->bytes_sent = sh->bytes_sent;
    res->messages = sh->messages;
    res->ran_ahead = sh->ran_ahead;
    if (res->nevents > 1)
        qsort(res->events, res->nevents, sizeof *res->events, event_order);
    return res->failed ? -1 : 0;
}
