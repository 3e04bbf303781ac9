/* sim_backend.c -- the sim backend's entry in the backends' table: its
 * settings' defaults, and the child process a simulation runs in.
 *
 * The child runs the ranks (sim.c), then writes its event log to a memory
 * file (memfd) the parent made before the fork and reads back: nothing on
 * disk, so a distlab killed with SIGKILL leaves no folder behind (and the
 * child dies with it). Status, slots and counters come through the result
 * area, which the child shares. The
 * child's stderr passes through the parent; when SimGrid aborts (at load
 * or in the middle of the run), its last error lines are the message.
 */
#define _GNU_SOURCE
#include "sim/sim_backend.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/job_internal.h"
#include "sim/sim_limits.h"

static const sim_config sim_defaults = {
    .backend = &sim_backend,
    .bandwidth_Bps = 1.25e9, /* 10 Gb/s */
    .latency_s = 50e-6,
    .speed_flops = 1e9,
    .cores = 1,
    .intra_bandwidth_Bps = 100e9,
    .intra_latency_s = 2e-6,
    .net = SIM_NET_IDEAL,
    .placement = SIM_PLACE_ROUND_ROBIN,
};

sim_config sim_config_default(void) { return sim_defaults; }

const sim_config *sim_settings(const job_config *cfg)
{
    return cfg->settings ? cfg->settings : &sim_defaults;
}

job_config sim_job_config(const sim_config *settings)
{
    job_config cfg = job_config_default();
    cfg.backend = &sim_backend;
    cfg.settings = settings;
    return cfg;
}

/* What the child writes to stderr reaches the parent through a pipe: it
 * passes on to the parent's stderr as it comes (progress line included),
 * and the last lines stay for the error when the child dies. Data in the
 * pipe outlives the child, so SimGrid's reason for an abort is kept even
 * when it comes in the middle of simgrid_run. */
enum { TAIL_LINES = 4, TAIL_COLS = 300 };
typedef struct said_tail {
    char lines[TAIL_LINES][TAIL_COLS]; /* any line that is not a backtrace's */
    char errs[TAIL_LINES][TAIL_COLS];  /* SimGrid's "[.../CRITICAL]" and "/ERROR]" lines */
    int nlines, nerrs;
    char cur[TAIL_COLS];
    size_t len;
} said_tail;

static void tail_push(char (*ring)[TAIL_COLS], int *n, const char *line)
{
    if (*n == TAIL_LINES)
        memmove(ring[0], ring[1], sizeof ring[0] * (TAIL_LINES - 1));
    else
        (*n)++;
    snprintf(ring[*n - 1], TAIL_COLS, "%s", line);
}

static void tail_end_line(said_tail *t)
{
    t->cur[t->len] = '\0';
    const char *line = strrchr(t->cur, '\r'); /* a progress line redrawn in place: its last state */
    line = line ? line + 1 : t->cur;
    line += strspn(line, " \t");
    if (line[0] && strncmp(line, "->", 2) != 0 && strncmp(line, "Backtrace (displayed", 20) != 0) {
        tail_push(t->lines, &t->nlines, line);
        if (strstr(line, "/CRITICAL]") || strstr(line, "/ERROR]"))
            tail_push(t->errs, &t->nerrs, line);
    }
    t->len = 0;
}

static void tail_add(said_tail *t, const char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == '\n')
            tail_end_line(t);
        else if (t->len < TAIL_COLS - 1)
            t->cur[t->len++] = buf[i];
    }
}

/* SimGrid's error lines if it wrote any, else the last lines, joined by
 * " | ", for an error message. */
static void tail_say(said_tail *t, char *buf, size_t len)
{
    if (t->len)
        tail_end_line(t);
    buf[0] = '\0';
    char (*ring)[TAIL_COLS] = t->nerrs ? t->errs : t->lines;
    int n = t->nerrs ? t->nerrs : t->nlines;
    for (int i = 0; i < n; i++)
        snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", i ? " | " : "", ring[i]);
}

/* Copy the child's stderr through until it closes. */
static void pass_stderr(int fd, said_tail *t)
{
    char buf[4096];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        tail_add(t, buf, (size_t)n);
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(2, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0)
                break; /* our own stderr is gone: keep reading, for the tail */
            off += w;
        }
    }
}

/* sim_backend.run: the simulation in a child process (see the header). */
static int run_sim_in_child(const job_config *cfg, job_main fn, void *arg, job_result *res)
{
    job_shared *sh = res->shared;
    /* an environment limit (exit 1, as the real backend's open files): said before SimGrid aborts on it */
    sim_limits lim;
    char why[600];
    sim_limits_read(&lim);
    if (sim_limits_check(cfg->ranks, &lim, why, sizeof why) != 0) {
        job_fail(res, "%s", why);
        return -1;
    }
    int err_pipe[2], events_fd = memfd_create("distlab-sim-events", MFD_CLOEXEC);
    if (events_fd < 0) {
        job_fail(res, "memory file for the simulation's events: %s", strerror(errno));
        return -1;
    }
    if (pipe(err_pipe) != 0) {
        job_fail(res, "pipe: %s", strerror(errno));
        close(events_fd);
        return -1;
    }
    fflush(NULL);
    pid_t parent = getpid(), pid = fork();
    if (pid < 0) {
        job_fail(res, "fork: %s", strerror(errno));
        close(err_pipe[0]);
        close(err_pipe[1]);
        close(events_fd);
        return -1;
    }
    if (pid == 0) {
        /* no simulation outlives the distlab that wants it */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(4);
        signal(SIGPIPE, SIG_DFL);
        close(err_pipe[0]);
        dup2(err_pipe[1], 2);
        close(err_pipe[1]);
        sim_job_run(cfg, fn, arg, res);
        int rc = job_events_write_fd(res, events_fd) == 0 ? 0 : 3;
        fflush(NULL);
        _exit(rc);
    }
    close(err_pipe[1]);
    said_tail *tail = calloc(1, sizeof *tail);
    static said_tail no_memory; /* the tail is only for the message: without memory, share one */
    if (!tail)
        tail = &no_memory;
    pass_stderr(err_pipe[0], tail);
    close(err_pipe[0]);
    int wstatus = 0;
    pid_t got;
    while ((got = waitpid(pid, &wstatus, 0)) < 0 && errno == EINTR)
        ;
    if (got < 0) {
        job_fail(res, "waiting for the simulation: %s", strerror(errno));
    } else if (!(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0)) {
        char how[128], said[TAIL_LINES * (TAIL_COLS + 3)];
        job_describe_exit(wstatus, how, sizeof how);
        tail_say(tail, said, sizeof said);
        if (!sh->failed)
            job_fail(res, "the simulation %s%s%s", how, said[0] ? "; SimGrid said: " : "", said);
    } else if (job_events_read_fd(res, events_fd) != 0) {
        job_fail(res, "cannot read the events the simulation wrote");
    }
    if (tail != &no_memory)
        free(tail);
    close(events_fd);
    return sh->failed ? -1 : 0;
}

const job_backend sim_backend = {
    .name = "sim",
    .run = run_sim_in_child,
};
