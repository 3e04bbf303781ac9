/* sim_limits.c -- how many ranks this machine can simulate (sim_limits.h).
 *
 * Measured on SimGrid 3.32 (one-to-all broadcast, size-only, 2,048 and
 * 8,192 ranks, sampling the simulation's /proc/PID/maps and VmHWM): each
 * rank adds 2.0 memory mappings and about 19 KB of resident memory; the
 * process itself holds about 400 mappings. A run's own buffers and its
 * asynchronous companions come on top, so these are floors: a job they
 * refuse cannot run, one they pass may still run out later (and then
 * fails with SimGrid's words).
 */
#define _GNU_SOURCE
#include "sim/sim_limits.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

enum {
    MAPS_PER_RANK = 2,     /* the stack and its guard page */
    MAPS_SLACK = 512,      /* SimGrid's own, past what the process holds before it starts */
    RESIDENT_PER_RANK = 16 << 10,
};
#define ADDRESS_PER_RANK ((SIM_STACK_KIB + 4) * 1024.0) /* a stack and its guard page */

/* The first number in a file, or 0. */
static double file_number(const char *path)
{
    FILE *f = fopen(path, "r");
    double v = 0;
    if (f) {
        if (fscanf(f, "%lf", &v) != 1)
            v = 0;
        fclose(f);
    }
    return v;
}

static double count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    double n = 0;
    if (!f)
        return 0;
    for (int c; (c = getc(f)) != EOF;)
        n += c == '\n';
    fclose(f);
    return n;
}

/* A small file's text (a /proc file: its size is not known before),
 * NUL-terminated, cut at len - 1 bytes; "" when it cannot be read. */
static void read_text(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, len - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
}

/* A "Name: N kB" line of /proc/meminfo's or /proc/self/status's text, in
 * bytes; -1 if absent. */
static double kb_field(const char *text, const char *name)
{
    size_t n = strlen(name);
    double v;
    for (const char *line = text; *line;) {
        if (strncmp(line, name, n) == 0 && line[n] == ':' && sscanf(line + n + 1, "%lf", &v) == 1)
            return v * 1024;
        const char *nl = strchr(line, '\n');
        if (!nl)
            break;
        line = nl + 1;
    }
    return -1;
}

void sim_limits_read(sim_limits *l)
{
    char text[8192]; /* /proc/meminfo is about 1.5 KB, /proc/self/status about 1.4 KB */
    memset(l, 0, sizeof *l);
    l->max_map_count = file_number("/proc/sys/vm/max_map_count");
    l->maps_in_use = count_lines("/proc/self/maps");
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        read_text("/proc/self/status", text, sizeof text);
        double mapped = kb_field(text, "VmSize");
        l->address_space_bytes = (double)rl.rlim_cur - (mapped > 0 ? mapped : 0);
        if (l->address_space_bytes < 1)
            l->address_space_bytes = 1;
    }
    read_text("/proc/meminfo", text, sizeof text); /* once, for all four fields */
    if (file_number("/proc/sys/vm/overcommit_memory") == 2) {
        double limit = kb_field(text, "CommitLimit"), used = kb_field(text, "Committed_AS");
        if (limit > 0 && used >= 0)
            l->commit_bytes = limit > used ? limit - used : 1;
    }
    double avail = kb_field(text, "MemAvailable"), swap = kb_field(text, "SwapFree");
    if (avail > 0)
        l->memory_bytes = avail + (swap > 0 ? swap : 0);
}

/* How many ranks fit in room when each takes per (never below 0). */
static double ranks_in(double room, double per) { return room > per ? (double)(long long)(room / per) : 0; }

int sim_limits_check(int ranks, const sim_limits *l, char *err, size_t errlen)
{
    double p = ranks;
    if (l->max_map_count > 0) {
        double base = l->maps_in_use + MAPS_SLACK, need = base + MAPS_PER_RANK * p;
        if (need > l->max_map_count) {
            /* a suggestion with room to spare: the need, rounded up to 64 Ki mappings */
            double raise = ((long long)(need / 65536) + 1) * 65536.0;
            snprintf(err, errlen,
                     "%d ranks need about %.0f memory mappings (%d per rank: its %d KiB stack and a guard page), "
                     "but vm.max_map_count is %.0f, enough for %.0f ranks; raise it (as root: "
                     "sysctl -w vm.max_map_count=%.0f) or simulate fewer ranks",
                     ranks, need, MAPS_PER_RANK, SIM_STACK_KIB, l->max_map_count,
                     ranks_in(l->max_map_count - base, MAPS_PER_RANK), raise);
            return -1;
        }
    }
    if (l->address_space_bytes > 0 && p * ADDRESS_PER_RANK > l->address_space_bytes) {
        snprintf(err, errlen,
                 "%d ranks' stacks need %.0f MiB of address space (%d KiB each, and a guard page), but the "
                 "address-space limit leaves %.0f MiB, enough for %.0f ranks; raise it (ulimit -v) or "
                 "simulate fewer ranks",
                 ranks, p * ADDRESS_PER_RANK / 1048576, SIM_STACK_KIB, l->address_space_bytes / 1048576,
                 ranks_in(l->address_space_bytes, ADDRESS_PER_RANK));
        return -1;
    }
    if (l->commit_bytes > 0 && p * ADDRESS_PER_RANK > l->commit_bytes) {
        snprintf(err, errlen,
                 "%d ranks' stacks need %.0f MiB of committed memory (%d KiB each; vm.overcommit_memory is 2, "
                 "so every stack counts in full), but %.0f MiB is left under CommitLimit, enough for %.0f "
                 "ranks; simulate fewer ranks, or allow overcommit (sysctl -w vm.overcommit_memory=0)",
                 ranks, p * ADDRESS_PER_RANK / 1048576, SIM_STACK_KIB, l->commit_bytes / 1048576,
                 ranks_in(l->commit_bytes, ADDRESS_PER_RANK));
        return -1;
    }
    if (l->memory_bytes > 0 && p * RESIDENT_PER_RANK > l->memory_bytes) {
        snprintf(err, errlen,
                 "%d ranks need at least %.0f MiB of memory (%d KiB per rank's actor and the stack it "
                 "touches), but %.0f MiB is available (MemAvailable and free swap), enough for %.0f ranks; "
                 "simulate fewer ranks",
                 ranks, p * RESIDENT_PER_RANK / 1048576, RESIDENT_PER_RANK >> 10, l->memory_bytes / 1048576,
                 ranks_in(l->memory_bytes, RESIDENT_PER_RANK));
        return -1;
    }
    return 0;
}
