/* distlab.c -- main: dispatch to a verb. */
#include <malloc.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

typedef struct verb {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} verb;

static const verb verbs[] = {
    {"run", verb_run, "train a model with one algorithm (serial, allreduce, ...)"},
    {"compare", verb_compare, "run several algorithms on the same cluster and compare them"},
    {"sweep", verb_sweep, "the same runs over a grid of settings, and scaling figures"},
    {"dp", verb_dp, "data-parallel steps of a real network on GPUs: buckets, overlap, frameworks"},
    {"collective", verb_collective, "time one collective (allreduce: ring, tree, rd, rabenseifner, hierarchical)"},
    {"pingpong", verb_pingpong, "time point-to-point messages between two ranks"},
    {"ray-bench", verb_ray_bench, "Ray's system figures: task throughput, latency, locality"},
    {"calibrate", verb_calibrate, "measure this machine's network and compute, for simulations that predict it"},
    {"validate", verb_validate, "how close a calibrated simulation comes to the real runs it predicts"},
    {"platform", verb_platform, "write a generated cluster as a SimGrid platform file to edit"},
    {"plot", verb_plot, "overlay runs: loss or accuracy against time, epoch or step"},
    {"timeline", verb_timeline, "per-rank Gantt chart of one run"},
    {"trace", verb_trace, "Chrome trace-event JSON of one run (opens in Perfetto)"},
    {"lab", verb_lab, "the labs: list them, check a student's file, run it (lab list | check | run)"},
    {NULL, NULL, NULL},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: distlab VERB [options]     (distlab VERB --help for its options)\n\n"
               "distlab runs distributed machine-learning algorithms on a simulated\n"
               "cluster (SimGrid) or on real TCP sockets, and draws what happened.\n\nverbs:\n");
    for (const verb *v = verbs; v->name; v++)
        fprintf(f, "  %-12s %s\n", v->name, v->summary);
    fprintf(f, "\n  --help       this text\n  --version    print the version\n");
}

int main(int argc, char **argv)
{
    /* Collectives and models allocate and free vectors of many megabytes
     * every step; keep them in the heap instead of mmap/munmap, so the
     * pages are not faulted in again each time. */
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("distlab %s\n", DISTLAB_VERSION);
        return 0;
    }
    for (const verb *v = verbs; v->name; v++)
        if (strcmp(argv[1], v->name) == 0)
            return v->fn(argc - 1, argv + 1);
    fprintf(stderr, "distlab: unknown verb '%s'; known verbs:", argv[1]);
    for (const verb *v = verbs; v->name; v++)
        fprintf(stderr, " %s", v->name);
    fprintf(stderr, " (see distlab --help)\n");
    return 2;
}
