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
 * the numbers. Runs go one after another (each dp run is one simulation).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
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

/* Split "a,b,c" in place into at most max parts; -1 when more or empty. */
static int split_list(char *s, char **part, int max)
{
    int n = 0;
    for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) {
        if (n == max)
            return -1;
        part[n++] = tok;
    }
    return n ? n : -1;
}

/* One dp run: the shared options, --framework, the varied one, --out. */
static int run_point(const char *verb, char **shared, int nshared, const char *fw, const char *wl,
                     const char *key, const char *val, const char *dir, fw_point *pt)
{
    char *argv[FW_MAX_ARGS + 10];
    int argc = 0;
    argv[argc++] = "dp";
    if (wl) {
        argv[argc++] = "--workload";
        argv[argc++] = (char *)wl;
    }
    for (int i = 0; i < nshared; i++) {
        /* Horovod's cycle is its own: the other frameworks have none */
        if (strcmp(fw, "horovod") != 0 && strncmp(shared[i], "--cycle-time", 12) == 0 &&
            (shared[i][12] == '\0' || shared[i][12] == '=')) {
            i += shared[i][12] == '\0';
            continue;
        }
        argv[argc++] = shared[i];
    }
    argv[argc++] = "--framework";
    argv[argc++] = (char *)fw;
    char opt[1040]; /* "--" and the key */
    if (key && (strcmp(key, "servers") != 0 || has_servers(fw))) {
        snprintf(opt, sizeof opt, "--%s", strcmp(key, "gpus") == 0 ? "workers" : key);
        argv[argc++] = opt;
        argv[argc++] = (char *)val;
    }
    argv[argc++] = "--out";
    argv[argc++] = (char *)dir;
    argv[argc] = NULL;
    printf("== %s%s%s%s%s%s%s\n", fw, wl ? ", " : "", wl ? wl : "", key ? ", " : "", key ? key : "",
           key ? "=" : "", key ? val : "");
    fflush(stdout);
    int st = verb_dp(argc, argv);
    fflush(stdout);
    if (st != 0) {
        fprintf(stderr, "distlab %s: the %s run%s%s%s%s failed (its error above)\n", verb, fw,
                key ? " at " : "", key ? key : "", key ? "=" : "", key ? val : "");
        return st;
    }
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

/* --key VALUE or --key=VALUE at argv[*i]: the value, and *i past it. */
static const char *take(int argc, char **argv, int *i, const char *key)
{
    size_t n = strlen(key);
    if (strncmp(argv[*i], "--", 2) != 0 || strncmp(argv[*i] + 2, key, n) != 0)
        return NULL;
    const char *rest = argv[*i] + 2 + n;
    if (*rest == '=')
        return rest + 1;
    if (*rest || *i + 1 >= argc)
        return NULL;
    return argv[++*i];
}

int dp_figures(const char *verb, int argc, char **argv)
{
    int sweep = strcmp(verb, "sweep") == 0;
    char *shared[FW_MAX_ARGS];
    int nshared = 0;
    const char *fwlist = NULL, *wllist = NULL, *vary = NULL, *out = sweep ? "runs/sweep" : "runs/compare";
    for (int i = 1; i < argc; i++) {
        const char *v;
        if ((v = take(argc, argv, &i, "frameworks")))
            fwlist = v;
        else if ((v = take(argc, argv, &i, "workload")))
            wllist = v;
        else if ((v = take(argc, argv, &i, "out")))
            out = v;
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
    char fwbuf[512], varybuf[1024];
    char *fw[FW_MAX], *vals[FW_MAX_VALUES];
    snprintf(fwbuf, sizeof fwbuf, "%s", fwlist ? fwlist : "");
    int nfw = split_list(fwbuf, fw, FW_MAX);
    if (nfw < 0) {
        fprintf(stderr, "distlab %s: --frameworks: expected 1 to %d of ddp, horovod, byteps, p3, tf-ps, "
                "ray-train, none, comma-separated\n", verb, FW_MAX);
        return 2;
    }
    /* sweep: several workloads, one line each per framework */
    char wlbuf[512];
    char *wl[FW_MAX] = {NULL};
    int nwl = 1;
    if (wllist) {
        snprintf(wlbuf, sizeof wlbuf, "%s", wllist);
        nwl = split_list(wlbuf, wl, FW_MAX);
        if (nwl < 0 || (!sweep && nwl > 1)) {
            fprintf(stderr, "distlab %s: --workload: expected %s\n", verb,
                    sweep ? "1 to 8 networks, comma-separated" : "one network (sweep takes several)");
            return 2;
        }
    }
    const char *key = NULL;
    int nv = 0;
    double x[FW_MAX_VALUES];
    if (sweep) {
        snprintf(varybuf, sizeof varybuf, "%s", vary ? vary : "");
        char *eq = strchr(varybuf, '=');
        if (eq)
            *eq = '\0';
        key = varybuf;
        if (!eq || (strcmp(key, "gpus") != 0 && strcmp(key, "bucket") != 0 && strcmp(key, "servers") != 0)) {
            fprintf(stderr, "distlab sweep: --vary: with --frameworks, expected gpus=N1,N2,..., "
                    "bucket=SIZE1,SIZE2,... or servers=K1,K2,...\n");
            return 2;
        }
        nv = split_list(eq + 1, vals, FW_MAX_VALUES);
        if (nv < 0) {
            fprintf(stderr, "distlab sweep: --vary %s: expected 1 to %d values, comma-separated\n", key,
                    FW_MAX_VALUES);
            return 2;
        }
        for (int k = 0; k < nv; k++)
            if (axis_value(verb, key, vals[k], &x[k]) != 0)
                return 2;
    } else {
        nv = 1;
    }
    int nline = nfw * nwl; /* line l: framework l / nwl, workload l % nwl */
    fw_point *pt = calloc((size_t)nline * (size_t)nv, sizeof *pt);
    if (!pt) {
        fprintf(stderr, "distlab %s: out of memory\n", verb);
        return 1;
    }
    int status = 0;
    char dir[4096];
    for (int l = 0; l < nline && !status; l++)
        for (int k = 0; k < nv && !status; k++) {
            const char *f = fw[l / nwl], *w = wl[l % nwl];
            if (sweep && w)
                snprintf(dir, sizeof dir, "%s/%s/%s/%s=%s", out, f, w, key, vals[k]);
            else if (sweep)
                snprintf(dir, sizeof dir, "%s/%s/%s=%s", out, f, key, vals[k]);
            else
                snprintf(dir, sizeof dir, "%s/%s", out, f);
            status = run_point(verb, shared, nshared, f, w, key, sweep ? vals[k] : NULL, dir, &pt[l * nv + k]);
        }
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
    free(pt);
    return status;
}
