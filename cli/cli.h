/* cli.h -- the command line: verbs, options, and the options every
 * running verb shares (backend, cluster, network, launch).
 *
 * A verb is a function `int verb_NAME(int argc, char **argv)` that returns
 * the process exit status (0 ok, 1 run failed, 2 bad usage). It declares
 * its options as a table; cli_parse checks argv against it, so every verb
 * refuses an unknown option the same way and prints the same --help.
 */
#ifndef DISTLAB_CLI_H
#define DISTLAB_CLI_H

#include <stdio.h>

#include "core/job.h"
#include "real/real_backend.h"
#include "sim/sim_backend.h"

#define DISTLAB_VERSION "0.1.0"
#define CLI_MAX_ARGS 128

typedef struct cli_opt {
    const char *name;    /* without the leading "--" */
    const char *arg;     /* the argument's name for --help, NULL for a flag */
    const char *help;
} cli_opt;

typedef struct cli_args {
    const char *key[CLI_MAX_ARGS];
    const char *val[CLI_MAX_ARGS]; /* "" for flags */
    int n;
    const char *pos[CLI_MAX_ARGS];  /* positional arguments */
    int npos;
} cli_args;

/* Options of every verb that runs ranks (job options). */
extern const cli_opt cli_job_opts[];

/* Parse argv[1..] (argv[0] is the verb) against the verb's own options
 * and, when with_job, the job options. --help prints usage and returns 1
 * with *exit_code 0; a bad option prints an error and returns 1 with
 * *exit_code 2; success returns 0. */
int cli_parse(int argc, char **argv, const char *usage, const cli_opt *opts,
              int with_job, cli_args *out, int *exit_code);

const char *cli_get(const cli_args *a, const char *name); /* NULL if absent */
int cli_flag(const cli_args *a, const char *name);

/* Typed getters: on a bad value print "distlab VERB: --name: ..." and
 * return -1; when absent leave *out as it is and return 0. */
int cli_get_int(const cli_args *a, const char *verb, const char *name, long lo, long hi, long *out);
int cli_get_double(const cli_args *a, const char *verb, const char *name, double *out);
int cli_get_size(const cli_args *a, const char *verb, const char *name, double *out);
int cli_get_time(const cli_args *a, const char *verb, const char *name, double *out);
/* One of choices (NULL-terminated); returns its index through *out. */
int cli_get_choice(const cli_args *a, const char *verb, const char *name,
                   const char *const *choices, int *out);

/* An option's comma-separated value ("4KiB,1MB"): *items gets its n
 * items in order, in one malloc'd block the caller frees with
 * free(*items). An empty value or an empty item ("4,,8", a leading or
 * trailing comma) is refused, saying the option and which item. Returns
 * n (at least 1), or -1 having said what is wrong. */
int cli_split_list(const char *verb, const char *opt, const char *list, char ***items);

/* The folder an installed distlab keeps its platforms/ and labs/ in:
 * $DISTLAB_SHARE if set, else PREFIX/share/distlab as built. */
const char *cli_share_dir(void);
/* A file named on the command line: name itself when it exists or names
 * a folder part ("runs/x.xml"); else, for a bare name, SHARE/sub/name or
 * SHARE/sub/name.ext when that exists ("two-racks" ->
 * /usr/local/share/distlab/platforms/two-racks.xml), copied into buf;
 * else name, for the caller's "no such file". */
const char *cli_find_shared(const char *name, const char *sub, const char *ext, char *buf, size_t len);

/* The source tree this distlab was built in (the executable's ../, when
 * it holds algorithms/plugin.h), or NULL for an installed one. */
const char *cli_source_root(void);
/* An --algo value that names a file of the user's (FILE.c, FILE.so, or a
 * path) rather than a built-in algorithm. */
int cli_is_plugin_name(const char *name);
/* Compile FILE.c (or take FILE.so), load it and return its `symbol`
 * (algorithms/plugin.h); NULL with err saying why, the compiler's own
 * messages already on stderr (cli/plugin.c). forbidden (NULL-terminated,
 * or NULL): distlab functions the file must not call. */
void *cli_plugin_load(const char *file, const char *symbol, const char *const *forbidden, char *err,
                      size_t len);
/* The other symbols a lab needs from the object cli_plugin_load loaded
 * (the one holding `loaded`): names[i] into syms[i], for n of them; 0, or
 * -1 with err saying which is missing (every syms[i] NULL then or not). */
int cli_plugin_siblings(const void *loaded, const char *file, const char *const *names, void **syms, int n,
                        char *err, size_t len);

/* The backends --backend can name, NULL-terminated, the default first: the
 * one list of them (core/job.c runs whichever cfg.backend points at). */
extern const job_backend *const cli_backends[];

/* Fill a job from the job options: cfg's common part (--timeout, ...;
 * cfg->ranks is the verb's), the sim settings (--platform/--hosts/...,
 * --net, --calibration), the real ones (--launch, --spin ...), then
 * cfg->backend from --backend and cfg->settings pointing at *sim or *real,
 * which must outlive cfg. Each starts from what the caller put there (the
 * defaults). */
int cli_job_config(const cli_args *a, const char *verb, job_config *cfg, sim_config *sim, real_config *real);
/* A --fail naming a rank the job (of that many ranks) lacks: said, and -1.
 * For each verb to call once it knows its ranks. */
int cli_check_faults(const char *verb, const sim_config *sim, int ranks);
/* With --calibration FILE: the measured training rate of this model at
 * the nearest measured batch size becomes sim->speed_flops (unless --speed
 * is given), so compute is charged at the speed this machine has. Returns
 * 0 (also without --calibration), or -1 having said what is wrong. */
int cli_calibrated_speed(const cli_args *a, const char *verb, const char *model, size_t batch,
                         sim_config *sim);
/* A hosts job's rank other than 0 has only its own result: say so and
 * return 1 (the verb then ends, successfully); else 0. */
int cli_result_elsewhere(const char *verb, const job_result *res);
/* The exit status of a job that failed: 2 when its settings were refused
 * before any rank ran (bad input, as a bad option), else 1. */
int cli_job_status(const job_result *res);
/* A regular file's whole contents (at most 64 GiB) in a malloc'd *buf of
 * *len bytes; -1, with *buf NULL, when it cannot be read. */
int cli_read_whole(const char *path, char **buf, size_t *len);
/* --out DIR: 0 when DIR is a folder or can be made one; -1 having said
 * that it (or a folder above it) is a file, before anything runs. */
int cli_check_out(const char *verb, const char *dir);
/* One line saying where and how a job ran, for a CSV comment or a log. */
void cli_describe_job(const job_config *cfg, const job_result *res, char *buf, size_t len);

/* Verbs. */
int verb_collective(int argc, char **argv);
int verb_dp(int argc, char **argv);
int verb_run(int argc, char **argv);
int verb_compare(int argc, char **argv);
/* compare and sweep --frameworks: dp runs per framework (dp_figures.c) */
int dp_figures_wanted(int argc, char **argv);
int dp_figures(const char *verb, int argc, char **argv);
int verb_sweep(int argc, char **argv);
int verb_pingpong(int argc, char **argv);
int verb_ray_bench(int argc, char **argv);
int verb_platform(int argc, char **argv);
int verb_plot(int argc, char **argv);
int verb_timeline(int argc, char **argv);
int verb_trace(int argc, char **argv);
int verb_calibrate(int argc, char **argv);
int verb_validate(int argc, char **argv);
int verb_lab(int argc, char **argv);

#endif
