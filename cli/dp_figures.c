/* dp_figures.c -- `compare --frameworks` and `sweep --frameworks`: the
 * frameworks of `distlab dp` side by side, and their scaling figures.
 *
 *   distlab compare --frameworks horovod,ddp,byteps,tf-ps --workload resnet50 --workers 16
 *   distlab sweep --frameworks horovod,ddp --workload vgg16 --vary gpus=8,16,32,64
 *   distlab sweep --frameworks ddp --workload resnet50 --vary bucket=1MB,5MB,25MB,100MB
 *   distlab sweep --frameworks byteps,ddp,p3 --workload resnet50 --vary servers=0,4,8,16
 *
 * Each point is one `distlab dp` run (verb_dp.c) into OUT/FRAMEWORK/ (sweep:
 * OUT/FRAMEWORK/KEY=V/) with --framework FRAMEWORK and every other option
 * as given; its summary.json is read back. A varied `servers` goes only to
 * the frameworks that have servers (byteps, p3, tf-ps): the others are the
 * same at every point, a flat line to compare with; --cycle-time only to
 * horovod. compare draws
 * step.png (compute and exposed communication stacked, per framework);
 * sweep draws step.png (step time against the varied setting) and, for
 * gpus, scaling_efficiency.png (the step's compute over the step: weak
 * scaling, the Horovod paper's measure). compare.csv and sweep.csv hold
 * the numbers. --jobs N runs N points at once, each in a child process
 * (experiment_run_parallel: outputs printed whole in order, records the
 * bytes a sequential run writes); the default is the machine's cores.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/experiment.h"
#include "core/records.h"
#include "core/units.h"
#include "plots/plot.h"

enum { FW_MAX = 8, FW_MAX_VALUES = 16, FW_MAX_ARGS = 128 };

typedef struct fw_point {
    double step_s, compute_s, efficiency;
} fw_point;

static int has_servers(const char *fw)
{
    return strcmp(fw, "byteps") == 0 || strcmp(fw, "p3") == 0 || strcmp(fw, "tf-ps") == 0;
}

/* One point: a dp run with the shared options, --framework, the varied
 * one and --out, and the numbers read back from its summary. */
typedef struct fw_run {
    const char *verb;
    char **shared;
    int nshared;
    const char *fw, *wl, *key, *val;
    const char *cycle; /* --cycle-time, for horovod's runs only */
    char dir[4096];
} fw_run;

/* Run point i (experiment_run_parallel's fn: with --jobs above 1 in a
 * child process, so it leaves its numbers only in its folder). */
static int run_point(void *ctx, int i)
{
    const fw_run *p = &((const fw_run *)ctx)[i];
    char *argv[FW_MAX_ARGS + 10];
    int argc = 0;
    argv[argc++] = "dp";
    if (p->wl) {
        argv[argc++] = "--workload";
        argv[argc++] = (char *)p->wl;
    }
    for (int k = 0; k < p->nshared; k++)
        argv[argc++] = p->shared[k];
    /* Horovod's cycle is its own: the other frameworks have none */
    if (p->cycle && strcmp(p->fw, "horovod") == 0) {
        argv[argc++] = "--cycle-time";
        argv[argc++] = (char *)p->cycle;
    }
    argv[argc++] = "--framework";
    argv[argc++] = (char *)p->fw;
    char opt[1040]; /* "--" and the key */
    const char *key = p->key, *val = p->val;
    if (key && (strcmp(key, "servers") != 0 || has_servers(p->fw))) {
        snprintf(opt, sizeof opt, "--%s", strcmp(key, "gpus") == 0 ? "workers" : key);
        argv[argc++] = opt;
        argv[argc++] = (char *)val;
    }
    argv[argc++] = "--out";
    argv[argc++] = (char *)p->dir;
    argv[argc] = NULL;
    printf("== %s%s%s%s%s%s%s\n", p->fw, p->wl ? ", " : "", p->wl ? p->wl : "", key ? ", " : "",
           key ? key : "", key ? "=" : "", key ? val : "");
    fflush(stdout);
    int st = verb_dp(argc, argv);
    fflush(stdout);
    if (st != 0)
        fprintf(stderr, "distlab %s: the %s run%s%s%s%s failed (its error above)\n", p->verb, p->fw,
                key ? " at " : "", key ? key : "", key ? "=" : "", key ? val : "");
    return st;
}

/* A finished point's numbers, from its summary.json. */
static int load_point(const char *verb, const char *dir, fw_point *pt)
{
    records_run rec;
    char err[512], b[3][64];
    int rc = records_load(dir, RECORDS_LOAD_SUMMARY, &rec, err, sizeof err);
    if (rc == 0) {
        const char *s = records_run_field(&rec, "step_seconds", b[0], sizeof b[0]);
        const char *c = records_run_field(&rec, "compute_seconds", b[1], sizeof b[1]);
        const char *e = records_run_field(&rec, "scaling_efficiency", b[2], sizeof b[2]);
        pt->step_s = s ? atof(s) : NAN;
        pt->compute_s = c ? atof(c) : NAN;
        pt->efficiency = e ? atof(e) : NAN;
    } else {
        fprintf(stderr, "distlab %s: %s\n", verb, err);
    }
    records_run_free(&rec);
    return rc ? 1 : 0;
}

/* The varied value as a number on the figure's axis: GPUs, MB, machines. */
static int axis_value(const char *verb, const char *key, const char *val, double *x)
{
    char err[256];
    if (strcmp(key, "bucket") == 0) {
        if (units_size(val, x, err, sizeof err) != 0) {
            fprintf(stderr, "distlab %s: --vary bucket=%s: %s\n", verb, val, err);
            return -1;
        }
        *x /= 1e6;
        return 0;
    }
    long v;
    if (units_int(val, strcmp(key, "servers") == 0 ? 0 : 1, 1 << 20, &v, err, sizeof err) != 0) {
        fprintf(stderr, "distlab %s: --vary %s=%s: %s\n", verb, key, val, err);
        return -1;
    }
    *x = (double)v;
    return 0;
}

int dp_figures_wanted(int argc, char **argv)
{
    int want = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 0; /* the verb's own --help, which lists --frameworks */
        want |= strcmp(argv[i], "--frameworks") == 0 || strncmp(argv[i], "--frameworks=", 13) == 0;
    }
    return want;
}

/* take()'s answer for a --key that is the last argument, with no value. */
static const char no_value[] = "";

/* --key VALUE or --key=VALUE at argv[*i]: the value, and *i past it;
 * no_value when --key ends the line (it swallowed the next run's
 * --framework as its value). */
static const char *take(int argc, char **argv, int *i, const char *key)
{
    size_t n = strlen(key);
    if (strncmp(argv[*i], "--", 2) != 0 || strncmp(argv[*i] + 2, key, n) != 0)
        return NULL;
    const char *rest = argv[*i] + 2 + n;
    if (*rest == '=')
        return rest + 1;
    if (*rest)
        return NULL;
    if (*i + 1 >= argc)
        return no_value;
    return argv[++*i];
}

int dp_figures(const char *verb, int argc, char **argv)
{
    int sweep = strcmp(verb, "sweep") == 0;
    char *shared[FW_MAX_ARGS];
    int nshared = 0;
    const char *fwlist = NULL, *wllist = NULL, *vary = NULL, *cycle = NULL;
    const char *out = sweep ? "runs/sweep" : "runs/compare";
    long jobs = experiment_default_jobs(0); /* dp runs only simulate */
    for (int i = 1; i < argc; i++) {
        const char *v;
        char err[256];
        /* the options taken here, last with no value (take() does not
         * move i then) */
        static const char *const taken[] = {"frameworks", "jobs", "workload", "out", "vary", "cycle-time"};
        for (size_t k = 0; i == argc - 1 && k < sizeof taken / sizeof *taken; k++)
            if (take(argc, argv, &i, taken[k]) == no_value) {
                fprintf(stderr, "distlab %s: %s needs a value\n", verb, argv[i]);
                return 2;
            }
        if ((v = take(argc, argv, &i, "frameworks")))
            fwlist = v;
        else if ((v = take(argc, argv, &i, "jobs"))) {
            if (units_int(v, 1, 1024, &jobs, err, sizeof err) != 0) {
                fprintf(stderr, "distlab %s: --jobs: %s\n", verb, err);
                return 2;
            }
        }
        else if ((v = take(argc, argv, &i, "workload")))
            wllist = v;
        else if ((v = take(argc, argv, &i, "out")))
            out = v;
        else if ((v = take(argc, argv, &i, "cycle-time")))
            cycle = v;
        else if (sweep && (v = take(argc, argv, &i, "vary")))
            vary = v;
        else if (strcmp(argv[i], "--framework") == 0 || strncmp(argv[i], "--framework=", 12) == 0 ||
                 strcmp(argv[i], "--algos") == 0 || strcmp(argv[i], "--experiment") == 0 ||
                 strcmp(argv[i], "--vary2") == 0) {
            fprintf(stderr, "distlab %s: %s does not go with --frameworks (each framework is one dp run)\n",
                    verb, argv[i]);
            return 2;
        } else if (nshared == FW_MAX_ARGS) {
            fprintf(stderr, "distlab %s: more than %d options\n", verb, FW_MAX_ARGS);
            return 2;
        } else {
            shared[nshared++] = argv[i];
        }
    }
    /* ---- the lists: frameworks, workloads, the varied values ---- */
    char **fw = NULL, **wls = NULL, **vals = NULL, *nowl[1] = {NULL}, **wl = nowl, *key = NULL;
    fw_point *pt = NULL;
    fw_run *runs = NULL;
    int *ran = NULL, status = 2, nv = 1, nwl = 1;
    double x[FW_MAX_VALUES];
    int nfw = fwlist ? cli_split_list(verb, "frameworks", fwlist, &fw) : 0;
    if (nfw < 0)
        goto done;
    if (nfw < 1 || nfw > FW_MAX) {
        fprintf(stderr, "distlab %s: --frameworks: expected 1 to %d of ddp, horovod, byteps, p3, tf-ps, "
                "ray-train, none, comma-separated\n", verb, FW_MAX);
        goto done;
    }
    int horovod = 0;
    for (int f = 0; f < nfw; f++)
        horovod |= strcmp(fw[f], "horovod") == 0;
    if (cycle && !horovod) {
        fprintf(stderr, "distlab %s: --cycle-time is Horovod's: add horovod to --frameworks\n", verb);
        goto done;
    }
    /* sweep: several workloads, one line each per framework */
    if (wllist) {
        if ((nwl = cli_split_list(verb, "workload", wllist, &wls)) < 0)
            goto done;
        if (nwl > (sweep ? FW_MAX : 1)) {
            fprintf(stderr, "distlab %s: --workload: expected %s\n", verb,
                    sweep ? "1 to 8 networks, comma-separated" : "one network (sweep takes several)");
            goto done;
        }
        wl = wls;
    }
    if (sweep) {
        const char *eq = vary ? strchr(vary, '=') : NULL;
        key = eq ? strndup(vary, (size_t)(eq - vary)) : NULL;
        if (!eq || !key || (strcmp(key, "gpus") != 0 && strcmp(key, "bucket") != 0 && strcmp(key, "servers") != 0)) {
            fprintf(stderr, "distlab sweep: --vary: with --frameworks, expected gpus=N1,N2,..., "
                    "bucket=SIZE1,SIZE2,... or servers=K1,K2,...\n");
            goto done;
        }
        char opt[32];
        snprintf(opt, sizeof opt, "vary %s", key);
        if ((nv = cli_split_list(verb, opt, eq + 1, &vals)) < 0)
            goto done;
        if (nv > FW_MAX_VALUES) {
            fprintf(stderr, "distlab sweep: --vary %s: expected 1 to %d values, comma-separated\n", key,
                    FW_MAX_VALUES);
            goto done;
        }
        for (int k = 0; k < nv; k++)
            if (axis_value(verb, key, vals[k], &x[k]) != 0)
                goto done;
    }
    int nline = nfw * nwl; /* line l: framework l / nwl, workload l % nwl */
    int npt = nline * nv;
    char dir[4096];
    pt = calloc((size_t)npt, sizeof *pt);
    runs = calloc((size_t)npt, sizeof *runs);
    ran = calloc((size_t)npt, sizeof *ran);
    if (!pt || !runs || !ran) {
        fprintf(stderr, "distlab %s: out of memory\n", verb);
        status = 1;
        goto done;
    }
    for (int l = 0; l < nline; l++)
        for (int k = 0; k < nv; k++) {
            fw_run *p = &runs[l * nv + k];
            *p = (fw_run){.verb = verb, .shared = shared, .nshared = nshared, .fw = fw[l / nwl],
                          .wl = wl[l % nwl], .key = key, .val = sweep ? vals[k] : NULL,
                          .cycle = cycle};
            if (sweep && p->wl)
                snprintf(p->dir, sizeof p->dir, "%s/%s/%s/%s=%s", out, p->fw, p->wl, key, vals[k]);
            else if (sweep)
                snprintf(p->dir, sizeof p->dir, "%s/%s/%s=%s", out, p->fw, key, vals[k]);
            else
                snprintf(p->dir, sizeof p->dir, "%s/%s", out, p->fw);
        }
    /* ---- the runs, up to --jobs at once, then their numbers ---- */
    status = experiment_run_parallel(npt, (int)jobs, verb, run_point, runs, ran);
    for (int i = 0; i < npt && !status; i++)
        status = load_point(verb, runs[i].dir, &pt[i]);
    if (status)
        goto done;
    /* ---- the numbers ---- */
    snprintf(dir, sizeof dir, "%s/%s.csv", out, verb);
    FILE *csv = fopen(dir, "w");
    if (!csv) {
        fprintf(stderr, "distlab %s: %s: cannot write\n", verb, dir);
        status = 1;
        goto done;
    }
    fprintf(csv, "framework,workload,%s%sstep_s,compute_s,exposed_comm_s,scaling_efficiency\n", key ? key : "",
            key ? (strcmp(key, "bucket") == 0 ? "_MB," : ",") : "");
    for (int l = 0; l < nline; l++)
        for (int k = 0; k < nv; k++) {
            const fw_point *p = &pt[l * nv + k];
            fprintf(csv, "%s,%s,", fw[l / nwl], wl[l % nwl] ? wl[l % nwl] : "");
            if (key)
                fprintf(csv, "%g,", x[k]);
            fprintf(csv, "%.9g,%.9g,%.9g,%.6f\n", p->step_s, p->compute_s, p->step_s - p->compute_s,
                    p->efficiency);
        }
    if (fclose(csv) != 0) {
        fprintf(stderr, "distlab %s: %s: write failed\n", verb, dir);
        status = 1;
        goto done;
    }
    printf("numbers: %s\n", dir);
    /* ---- the figures ---- */
    char err[512];
    plot_opts po = plot_opts_default();
    double *ys = malloc((size_t)nline * (size_t)nv * 2 * sizeof *ys);
    plot_series *ser = calloc((size_t)nline, sizeof *ser);
    char (*names)[80] = calloc((size_t)nline, sizeof *names);
    if (!ys || !ser || !names) {
        free(ys);
        free(ser);
        free(names);
        fprintf(stderr, "distlab %s: out of memory\n", verb);
        status = 1;
        goto done;
    }
    int bad = 0;
    if (!sweep) {
        for (int f = 0; f < nfw; f++) {
            ys[f] = pt[f].compute_s * 1e3;
            ys[nfw + f] = (pt[f].step_s - pt[f].compute_s) * 1e3;
        }
        static const char *const parts[] = {"compute", "communication"};
        plot_bars_spec b = {.opts = po, .ngroups = nfw, .groups = (const char *const *)fw, .nseries = 2,
                            .series = parts, .values = ys, .stacked = 1};
        b.opts.y.label = "step time (ms)";
        b.opts.x.label = "framework";
        snprintf(dir, sizeof dir, "%s/step.png", out);
        bad = plot_bars(dir, &b, err, sizeof err);
        if (!bad)
            printf("figure: %s\n", dir);
    } else {
        const char *xl = strcmp(key, "gpus") == 0 ? "GPUs" : strcmp(key, "bucket") == 0 ? "bucket size (MB)"
                                                                                        : "CPU machines (--servers)";
        for (int pass = 0; pass < 2 && !bad; pass++) {
            if (pass == 1 && strcmp(key, "gpus") != 0)
                break;
            for (int l = 0; l < nline; l++) {
                for (int k = 0; k < nv; k++)
                    ys[l * nv + k] = pass ? pt[l * nv + k].efficiency * 100 : pt[l * nv + k].step_s * 1e3;
                snprintf(names[l], sizeof names[l], "%s%s%s", fw[l / nwl], nwl > 1 ? ", " : "",
                         nwl > 1 ? wl[l % nwl] : "");
                ser[l] = (plot_series){.name = names[l], .x = x, .y = &ys[l * nv], .n = (size_t)nv, .markers = 1};
            }
            plot_lines_spec l = {.opts = po, .series = ser, .nseries = nline};
            l.opts.x.label = xl;
            l.opts.x.scale = strcmp(key, "servers") == 0 ? PLOT_LINEAR : PLOT_LOG2;
            l.opts.y.label = pass ? "scaling efficiency (%)" : "step time (ms)";
            double lo = INFINITY, hi = 0;
            for (int i = 0; i < nline * nv; i++) {
                lo = ys[i] > 0 && ys[i] < lo ? ys[i] : lo;
                hi = ys[i] > hi ? ys[i] : hi;
            }
            if (!pass && hi > 10 * lo) /* a parameter server's step beside allreduce's */
                l.opts.y.scale = PLOT_LOG10;
            if (pass) {
                l.opts.y.min = 0;
                l.opts.y.max = 100;
            }
            snprintf(dir, sizeof dir, "%s/%s.png", out, pass ? "scaling_efficiency" : "step");
            bad = plot_lines(dir, &l, err, sizeof err);
            if (!bad)
                printf("figure: %s\n", dir);
        }
    }
    if (bad) {
        fprintf(stderr, "distlab %s: %s: %s\n", verb, dir, err);
        status = 1;
    }
    free(ys);
    free(ser);
    free(names);
done:
    free(runs);
    free(ran);
    free(pt);
    free(fw);
    free(wls);
    free(vals);
    free(key);
    return status;
}
