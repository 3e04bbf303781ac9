/* sim_backend.c -- the sim backend's entry in the backends' table: its
 * settings' defaults, and the child process a simulation runs in.
 *
 * The child runs the ranks (sim.c), then writes its event log to a file in
 * a private temporary folder, which the parent reads back; status, slots
 * and counters come through the result area, which the child shares. When
 * SimGrid aborts, the last lines it wrote are the error's message.
 */
#define _GNU_SOURCE
#include "sim/sim_backend.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/job_internal.h"

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

/* sim_backend.run: the simulation in a child process (see the header). */
static int run_sim_in_child(const job_config *cfg, job_main fn, void *arg, job_result *res)
{
    char dir[4096], path[4200], log[4200];
    if (job_make_tmpdir(dir, sizeof dir) != 0) {
        job_fail(res, "cannot make a temporary folder: %s", strerror(errno));
        return -1;
    }
    snprintf(path, sizeof path, "%s/events.sim", dir);
    job_shared *sh = res->shared;
    snprintf(log, sizeof log, "%s/simgrid.log", dir);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        job_fail(res, "fork: %s", strerror(errno));
        rmdir(dir);
        return -1;
    }
    if (pid == 0) {
        signal(SIGPIPE, SIG_DFL);
        sim_job_run(cfg, log, fn, arg, res);
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
        log_tail(log, said, sizeof said);
        if (!sh->failed)
            job_fail(res, "the simulation %s%s%s", how, said[0] ? "; SimGrid said: " : "", said);
    } else if (job_events_load(res, path) != 0) {
        job_fail(res, "cannot read the events the simulation wrote to %s", path);
    }
    unlink(path);
    unlink(log);
    rmdir(dir);
    return sh->failed ? -1 : 0;
}

const job_backend sim_backend = {
    .name = "sim",
    .run = run_sim_in_child,
};
