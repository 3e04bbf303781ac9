/* verb_validate.c -- `distlab validate`: how close does a calibrated
 * simulation come to the real run it predicts?
 *
 *   distlab validate --out runs/validate              calibrate, then every family
 *   distlab validate --calibration c.json --only ps-bsp,allreduce
 *
 * For each algorithm family it runs the same command twice -- once on real
 * sockets, once simulated on the cluster `distlab calibrate` measured on
 * this machine (--calibration) -- and writes the measured and predicted
 * time per epoch (per operation for the collectives), their ratio, a CSV
 * and a figure. The same code runs both ways, so what is left between the
 * two numbers is what the simulator's model leaves out: the cost of memory
 * traffic beyond the counted flops, the scheduler, cache effects, and the
 * machine's own noise.
 *
 * Each run is `distlab` itself, started as a child process with its own
 * run folder under --out, so validation runs exactly what a user runs.
 * A training run evaluates only before its first step and after its last
 * (--eval-every EPOCHS), the two points its time per epoch is taken
 * between: an evaluation in between is off the clock on both sides, but on
 * real threads it left the training steps after it slower (the median
 * step of local SGD and allreduce SGD, 2 ranks on 6,000 fashion-mnist
 * examples: 5-8% longer with one evaluation an epoch, 12 alternated pairs
 * each), which no simulation charges.
 *
 * A shared machine's speed moves by 2-3x from one minute to the next (other
 * jobs take its cores), so a calibration taken once and real runs taken
 * minutes later compare two machines. Unless --calibration names a file,
 * validate therefore measures in pairs: before each real run it calibrates
 * again (a second or two), and the simulated run that predicts that real
 * run uses that calibration; each side's median over --repeat pairs is
 * reported.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/calibration.h"
#include "core/records.h"
#include "plots/plot.h"

typedef struct validate_case {
    const char *name;     /* also its folder */
    const char *family;
    const char *args;     /* the command, space-separated; the common options follow */
    int collective;       /* time per operation, from the CSV it prints */
} validate_case;

/* softmax and mlp:64 at batch 64: what the calibration must hold. The
 * ring runs unsegmented on both sides: `collective` pipelines it in 1 MiB
 * segments on sockets and not in simulation, and the simulated pipeline
 * overlaps a segment's add with the next one's transfer, which on loopback
 * the receiving core copies itself (2 ranks, 4 MiB: simulated 6-12%
 * faster segmented; real the same either way, median of 10 runs 1.00) */
static const validate_case cases[] = {
    {"collective-ring", "allreduce", "collective --algo ring --bytes 4MiB --iters 5 --segment 0", 1},
    {"collective-tree", "allreduce", "collective --algo tree --bytes 4MiB --iters 5", 1},
    {"collective-rd", "allreduce", "collective --algo rd --bytes 4MiB --iters 5", 1},
    {"collective-rabenseifner", "allreduce", "collective --algo rabenseifner --bytes 4MiB --iters 5", 1},
    {"allreduce-sgd", "allreduce SGD", "run allreduce", 0},
    {"ps-bsp", "parameter server", "run ps --servers 1 --consistency bsp", 0},
    {"ps-async", "parameter server", "run ps --servers 1 --consistency async", 0},
    {"local-sgd", "local SGD", "run psgd --average-every 8", 0},
    {"hogwild", "Hogwild!", "run hogwild", 0},
    {"model-parallel", "DistBelief", "run distbelief --mode model-parallel --partitions 2 --model mlp:64", 0},
    {"downpour", "DistBelief", "run distbelief --mode downpour --replicas 2 --model mlp:64", 0},
};
#define NCASES (int)(sizeof cases / sizeof *cases)
#define VAL_MAX_ARGV 64

typedef struct validate_ctx {
    const char *self, *out, *calibration, *launch;
    int recalibrate;      /* calibrate before each real run, into calibration */
    char workers[16], epochs[16], train_size[32];
} validate_ctx;

/* Split `line` (modified) on spaces into argv, after argv[0]. */
static int split(char *line, char **argv, int at)
{
    for (char *save = NULL, *tok = strtok_r(line, " ", &save); tok && at < VAL_MAX_ARGV - 1;
         tok = strtok_r(NULL, " ", &save))
        argv[at++] = tok;
    return at;
}

/* Run distlab with argv, its output into log; returns its exit status, or
 * -1 when it could not be started or did not exit. */
static int run_child(const char *self, char **argv, const char *log)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execv(self, argv);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The seconds column of the CSV row a collective printed. */
static double collective_seconds(const char *log)
{
    FILE *f = fopen(log, "r");
    char line[1024];
    double s = NAN;
    int col = -1;
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "backend,", 8) == 0) {
            int i = 0;
            for (char *save = NULL, *t = strtok_r(line, ",\n", &save); t; t = strtok_r(NULL, ",\n", &save), i++)
                if (strcmp(t, "seconds") == 0)
                    col = i;
            continue;
        }
        if (col < 0 || line[0] == '#')
            continue;
        char *save = NULL, *t = strtok_r(line, ",\n", &save);
        for (int i = 0; t && i < col; i++)
            t = strtok_r(NULL, ",\n", &save);
        if (t)
            s = atof(t);
    }
    if (f)
        fclose(f);
    return s;
}

/* One side of a case: real, or simulated at the calibration. Returns the
 * seconds per epoch (per operation), or NaN with err set. */
static double run_side(const validate_ctx *v, const validate_case *c, int simulated, char *err, size_t errlen)
{
    char cmd[512], dir[4200], log[4300];
    snprintf(cmd, sizeof cmd, "%s", c->args);
    snprintf(dir, sizeof dir, "%s/%s-%s", v->out, c->name, simulated ? "sim" : "real");
    snprintf(log, sizeof log, "%s.log", dir);
    char *argv[VAL_MAX_ARGV] = {"distlab"};
    int n = split(cmd, argv, 1);
    argv[n++] = "--workers";
    argv[n++] = (char *)v->workers;
    if (simulated) {
        argv[n++] = "--calibration";
        argv[n++] = (char *)v->calibration;
    } else {
        argv[n++] = "--backend";
        argv[n++] = "real";
        argv[n++] = "--launch";
        argv[n++] = (char *)v->launch;
    }
    if (!c->collective) {
        char *common[] = {"--epochs", (char *)v->epochs, "--eval-every", (char *)v->epochs,
                          "--train-size", (char *)v->train_size, "--test-size", "1000", "--quiet",
                          "--no-figures", "--out", dir};
        for (size_t i = 0; i < sizeof common / sizeof *common; i++)
            argv[n++] = common[i];
    }
    argv[n] = NULL;
    int rc = run_child(v->self, argv, log);
    if (rc != 0) {
        snprintf(err, errlen, "%s (%s) exited %d: see %s", c->name, simulated ? "sim" : "real", rc, log);
        return NAN;
    }
    if (c->collective)
        return collective_seconds(log);
    /* per epoch: from the evaluation before the first step to the last
     * one, so that starting the ranks (threads, processes, connections)
     * is not spread over the epochs */
    records_run run;
    double s = NAN;
    if (records_load(dir, RECORDS_LOAD_METRICS, &run, err, errlen) == 0) {
        const double *t = records_run_column(&run, "time_s"), *e = records_run_column(&run, "epoch");
        if (t && e && run.nrows >= 2 && e[run.nrows - 1] > e[0])
            s = (t[run.nrows - 1] - t[0]) / (e[run.nrows - 1] - e[0]);
        else
            snprintf(err, errlen, "%s: metrics.csv has no two evaluations to time an epoch between", dir);
    }
    records_run_free(&run);
    return s;
}

/* Calibrate this machine into v->calibration, at the runs' own data size
 * (a model's rate depends on how much of the data stays in cache). */
static int calibrate(const validate_ctx *v)
{
    char *cargv[] = {"distlab", "calibrate", "-o", (char *)v->calibration, "--workers", (char *)v->workers,
                     "--launch", (char *)v->launch, "--models", "softmax,mlp:64", "--train-size",
                     (char *)v->train_size, "--repeat", "3", NULL};
    char log[4300];
    snprintf(log, sizeof log, "%s/calibration.log", v->out);
    if (run_child(v->self, cargv, log) != 0) {
        fprintf(stderr, "distlab validate: calibration failed: see %s\n", log);
        return -1;
    }
    return 0;
}

/* mkdir -p */
static int mkdir_p(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(path, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return mkdir(path, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static int selected(const char *only, const char *name)
{
    if (!only)
        return 1;
    size_t len = strlen(name);
    for (const char *p = only; (p = strstr(p, name)) != NULL; p += len)
        if ((p == only || p[-1] == ',') && (p[len] == ',' || p[len] == '\0'))
            return 1;
    return 0;
}

/* One bar per case: predicted over measured, where 1 is a perfect
 * prediction. */
static int draw(const char *out, const validate_case **done, const double *measured, const double *predicted,
                int n, char *err, size_t errlen)
{
    const char *groups[NCASES], *series[] = {"predicted / measured"};
    double values[NCASES];
    for (int i = 0; i < n; i++) {
        groups[i] = done[i]->name;
        values[i] = predicted[i] / measured[i];
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/validate.png", out);
    plot_bars_spec spec = {.opts = plot_opts_default(), .ngroups = n, .groups = groups, .nseries = 1,
                           .series = series, .values = values};
    spec.opts.title = "calibrated simulation against real runs on this machine (1 = exact)";
    spec.opts.y.label = "predicted time / measured time";
    spec.opts.y.min = 0;
    spec.opts.width_in = 10;
    return plot_bars(path, &spec, err, errlen);
}

int verb_validate(int argc, char **argv)
{
    static const cli_opt opts[] = {
        {"out", "DIR", "where the runs, validate.csv and validate.png go (default runs/validate)"},
        {"calibration", "FILE.json", "use this calibration for every run (default: calibrate again before each "
                                       "real run, into DIR, and predict that run from it)"},
        {"workers", "N", "workers of every run (default 2)"},
        {"launch", "threads|procs", "how the real runs start their ranks (default threads)"},
        {"epochs", "E", "epochs of each training run (default 1)"},
        {"train-size", "N", "training examples of each run (default 6000)"},
        {"only", "LIST", "just these cases, e.g. ps-bsp,allreduce-sgd (default: all)"},
        {"repeat", "N", "real runs of each case, their median measured, and as many predictions (default 1; "
                        "1-20): a busy machine's runs vary by more than the model's error"},
        {"list", NULL, "list the cases and exit"},
        {NULL, NULL, NULL},
    };
    cli_args a;
    int code;
    if (cli_parse(argc, argv, "validate [--out DIR] [--calibration FILE] [--workers N] [--only LIST]", opts, 0,
                  &a, &code))
        return code;
    if (a.npos) {
        fprintf(stderr, "distlab validate: unexpected argument '%s'\n", a.pos[0]);
        return 2;
    }
    if (cli_flag(&a, "list")) {
        for (int i = 0; i < NCASES; i++)
            printf("%-24s %-18s distlab %s\n", cases[i].name, cases[i].family, cases[i].args);
        return 0;
    }
    validate_ctx v = {.self = "/proc/self/exe", .out = cli_get(&a, "out") ? cli_get(&a, "out") : "runs/validate",
                      .launch = cli_get(&a, "launch") ? cli_get(&a, "launch") : "threads"};
    long workers = 2, epochs = 1, train = 6000, repeat = 1;
    if (cli_get_int(&a, "validate", "workers", 2, 64, &workers) ||
        cli_get_int(&a, "validate", "epochs", 1, 1000, &epochs) ||
        cli_get_int(&a, "validate", "train-size", 100, 1 << 30, &train) ||
        cli_get_int(&a, "validate", "repeat", 1, 20, &repeat))
        return 2;
    if (strcmp(v.launch, "threads") != 0 && strcmp(v.launch, "procs") != 0) {
        fprintf(stderr, "distlab validate: --launch: expected threads or procs, not '%s'\n", v.launch);
        return 2;
    }
    const char *only = cli_get(&a, "only");
    int nsel = 0;
    for (int i = 0; i < NCASES; i++)
        nsel += selected(only, cases[i].name);
    if (nsel == 0) {
        fprintf(stderr, "distlab validate: --only: no case is named '%s' (see distlab validate --list)\n", only);
        return 2;
    }
    snprintf(v.workers, sizeof v.workers, "%ld", workers);
    snprintf(v.epochs, sizeof v.epochs, "%ld", epochs);
    snprintf(v.train_size, sizeof v.train_size, "%ld", train);
    char calib[4200], err[4400];
    if (cli_get(&a, "calibration")) {
        static calibration c;
        snprintf(calib, sizeof calib, "%s", cli_get(&a, "calibration"));
        if (calib_read(calib, DISTLAB_VERSION, &c, err, sizeof err) != 0) {
            fprintf(stderr, "distlab validate: --calibration: %s\n", err);
            return 2;
        }
    }
    if (mkdir_p(v.out) != 0) {
        fprintf(stderr, "distlab validate: cannot make %s: %s\n", v.out, strerror(errno));
        return 1;
    }
    if (!cli_get(&a, "calibration")) {
        snprintf(calib, sizeof calib, "%s/calibration.json", v.out);
        v.recalibrate = 1;
        printf("calibrating this machine (%s ranks) before each real run ...\n", v.workers);
    }
    v.calibration = calib;
    if (v.recalibrate && calibrate(&v) != 0)
        return 1;

    char csv_path[4300];
    snprintf(csv_path, sizeof csv_path, "%s/validate.csv", v.out);
    FILE *csv = fopen(csv_path, "w");
    if (!csv) {
        fprintf(stderr, "distlab validate: cannot write %s: %s\n", csv_path, strerror(errno));
        return 1;
    }
    fprintf(csv, "case,family,unit,measured_s,predicted_s,predicted_over_measured,load_average,"
            "runs,measured_min_s,measured_max_s\n");
    {
        static calibration c;
        if (calib_read(calib, DISTLAB_VERSION, &c, err, sizeof err) == 0)
            printf("%scalibration: %s, load average %.2f, a rank had %.0f%% of a core; per message "
                   "%.3g us sending, %.3g us receiving; exchange factor %.2f\n", v.recalibrate ? "first " : "", c.date,
                   c.load_average, 100 * c.cpu_share.median, 1e6 * c.send_overhead_s.median,
                   1e6 * c.recv_overhead_s.median, c.exchange_factor.median);
    }
    printf("%-24s %-18s %14s %14s %8s %6s\n", "case", "family", "measured (s)", "predicted (s)", "ratio",
           "load");
    const validate_case *done[NCASES];
    double measured[NCASES], predicted[NCASES];
    int n = 0, failed = 0;
    for (int i = 0; i < NCASES; i++) {
        if (!selected(only, cases[i].name))
            continue;
        double load = NAN; /* how busy the machine was as the real runs began */
        getloadavg(&load, 1);
        double runs[20], preds[20], m = NAN, p = NAN;
        int nruns = 0;
        for (long k = 0; k < repeat; k++) { /* each side's median */
            if (v.recalibrate && k > 0 && calibrate(&v) != 0)
                return 1;
            double t = run_side(&v, &cases[i], 0, err, sizeof err);
            /* with one calibration for all, one prediction does */
            double q = !isfinite(t) ? NAN : v.recalibrate || k == 0 ? run_side(&v, &cases[i], 1, err, sizeof err)
                                                                    : preds[0];
            if (!isfinite(t) || !isfinite(q)) {
                nruns = 0;
                break;
            }
            runs[nruns] = t;
            preds[nruns++] = q;
        }
        calib_stat ms = calib_stat_of(runs, nruns);
        if (nruns) {
            m = ms.median;
            p = calib_stat_of(preds, nruns).median;
        }
        if (!isfinite(m) || !isfinite(p) || m <= 0 || p <= 0) {
            fprintf(stderr, "distlab validate: %s\n", err);
            failed = 1;
            continue;
        }
        const char *unit = cases[i].collective ? "operation" : "epoch";
        fprintf(csv, "%s,%s,%s,%.9g,%.9g,%.4f,%.2f,%d,%.9g,%.9g\n", cases[i].name, cases[i].family,
                unit, m, p, p / m, load, nruns, ms.min, ms.max);
        printf("%-24s %-18s %14.6g %14.6g %8.3f %6.2f\n", cases[i].name, cases[i].family, m, p, p / m,
               load);
        done[n] = &cases[i];
        measured[n] = m;
        predicted[n++] = p;
    }
    if (fclose(csv) != 0) {
        fprintf(stderr, "distlab validate: cannot write %s\n", csv_path);
        return 1;
    }
    if (n && draw(v.out, done, measured, predicted, n, err, sizeof err) != 0) {
        fprintf(stderr, "distlab validate: %s\n", err);
        return 1;
    }
    printf("wrote %s and %s/validate.png\n", csv_path, v.out);
    return failed;
}
