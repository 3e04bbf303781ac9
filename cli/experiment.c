/* experiment.c -- specs, experiment files and running them (experiment.h). */
#include "cli/experiment.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/run.h"
#include "core/files.h"
#include "core/units.h"

void experiment_init(experiment *e) { memset(e, 0, sizeof *e); }

static void free_opts(exp_opt *o, int n)
{
    for (int i = 0; i < n; i++) {
        free(o[i].key);
        free(o[i].val);
    }
}

void experiment_free(experiment *e)
{
    free_opts(e->shared, e->nshared);
    for (int i = 0; i < e->nruns; i++) {
        free(e->runs[i].spec);
        free_opts(e->runs[i].opts, e->runs[i].nopts);
    }
    memset(e, 0, sizeof *e);
}

static int push_opt(exp_opt *list, int *n, const char *key, const char *val)
{
    if (*n == EXP_MAX_OPTS)
        return -1;
    list[*n].key = strdup(key);
    list[*n].val = strdup(val ? val : "");
    if (!list[*n].key || !list[*n].val)
        return -1;
    (*n)++;
    return 0;
}

int experiment_add_shared(experiment *e, const char *key, const char *val)
{
    return push_opt(e->shared, &e->nshared, key, val);
}

/* Does --key take a value, for any algorithm that has it? -1: no such option. */
static int takes_value(const char *key)
{
    for (const cli_opt *o = cli_job_opts; o->name; o++)
        if (strcmp(o->name, key) == 0)
            return o->arg != NULL;
    for (int i = 0; run_algo_at(i); i++) {
        cli_opt table[RUN_MAX_OPTS];
        run_algo_options(run_algo_at(i), table, RUN_MAX_OPTS);
        for (const cli_opt *o = table; o->name; o++)
            if (strcmp(o->name, key) == 0)
                return o->arg != NULL;
    }
    return -1;
}

/* The options a spec's variant stands for. */
static int variant_opts(exp_run *r, const char *verb, const char *variant, const char *arg)
{
    const char *a = r->algo;
    int bad = 0;
    if (!variant)
        return 0;
    if (strcmp(a, "allreduce") == 0 || strcmp(a, "psgd") == 0) {
        if (strcmp(a, "psgd") == 0)
            bad = push_opt(r->opts, &r->nopts, "average-every", variant);
        else
            bad = push_opt(r->opts, &r->nopts, "allreduce", variant);
        if (arg)
            bad = 1;
    } else if (strcmp(a, "ps") == 0) {
        bad = push_opt(r->opts, &r->nopts, "consistency", variant);
        if (arg)
            bad = bad || strcmp(variant, "ssp") != 0 || push_opt(r->opts, &r->nopts, "staleness", arg);
    } else if (strcmp(a, "hogwild") == 0) {
        bad = push_opt(r->opts, &r->nopts, "sync", variant) || arg;
    } else if (strcmp(a, "distbelief") == 0) {
        bad = push_opt(r->opts, &r->nopts, "mode", variant) || arg;
    } else if (strcmp(a, "allreduce-lbfgs") == 0) {
        bad = push_opt(r->opts, &r->nopts, "warmstart", variant) || arg;
    } else if (strcmp(a, "ray-ps") == 0) {
        bad = push_opt(r->opts, &r->nopts, "mode", variant) || arg;
    } else if (strcmp(a, "lda") == 0) {
        bad = push_opt(r->opts, &r->nopts, "consistency", variant) || arg;
    } else {
        bad = 1;
    }
    if (bad)
        fprintf(stderr, "distlab %s: run '%s': cannot read its variant (see 'distlab %s --help' "
                "for the spec forms)\n", verb, r->spec, verb);
    return bad ? -1 : 0;
}

/* A run's folder name from its spec or its --as text: ':', '/' and
 * white space become '-'. The one place both names are made. */
static void run_name_from(char *name, size_t cap, const char *text)
{
    snprintf(name, cap, "%.100s", text);
    for (char *c = name; *c; c++)
        if (*c == ':' || *c == '/' || isspace((unsigned char)*c))
            *c = '-';
}

/* Why an --as name cannot name a run folder beside compare's and sweep's
 * own files (NULL: it can). A name starting with '.' could be "." or "..",
 * one with '/' a path elsewhere, and a file name with an extension could
 * be one of the figures or tables those verbs write next to the runs. */
static const char *run_name_refused(const char *text)
{
    if (!text[0])
        return "is empty";
    if (text[0] == '.')
        return "starts with '.'";
    if (strchr(text, '/'))
        return "has a '/' (a run's name is one folder under --out)";
    for (const char *c = text; *c; c++)
        if (!isprint((unsigned char)*c) || *c == '"' || *c == '\\' || *c == '\'')
            return "has a quote, a backslash or a control character";
    static const char *const written[] = {".png", ".csv", ".json", ".svg", ".pdf", ".txt", ".md"};
    const char *dot = strrchr(text, '.');
    for (size_t i = 0; dot && i < sizeof written / sizeof *written; i++)
        if (strcasecmp(dot, written[i]) == 0)
            return "ends like a file compare or sweep writes beside the runs (.png, .csv, .json ...)";
    return NULL;
}

static int name_taken(const experiment *e, const char *name)
{
    for (int i = 0; i < e->nruns; i++)
        if (strcmp(e->runs[i].name, name) == 0)
            return 1;
    return 0;
}

int experiment_add_run(experiment *e, const char *verb, const char *spec, int nwords, char **words)
{
    if (e->nruns == EXP_MAX_RUNS) {
        fprintf(stderr, "distlab %s: at most %d runs\n", verb, EXP_MAX_RUNS);
        return -1;
    }
    exp_run *r = &e->runs[e->nruns];
    memset(r, 0, sizeof *r);
    r->spec = strdup(spec);
    char *copy = strdup(spec);
    if (!r->spec || !copy) {
        free(copy);
        return -1;
    }
    /* ALGO[:VARIANT[:ARG]], no part empty ("ps::4" is not "ps:4") */
    char *rest = copy, *algo = strsep(&rest, ":");
    char *variant = rest ? strsep(&rest, ":") : NULL;
    char *arg = rest ? strsep(&rest, ":") : NULL;
    int rc = -1;
    if ((variant && !*variant) || (arg && !*arg) || (rest && !*rest)) {
        fprintf(stderr, "distlab %s: run '%s': an empty ':' part (expected ALGO[:VARIANT[:ARG]])\n", verb,
                spec);
        goto out;
    }
    if (!*algo || !run_algo_find(algo)) {
        fprintf(stderr, "distlab %s: run '%s': unknown algorithm; known:", verb, spec);
        for (int i = 0; run_algo_at(i); i++)
            fprintf(stderr, " %s", run_algo_at(i)->algo->name);
        fprintf(stderr, "\n");
        goto out;
    }
    if (rest) {
        fprintf(stderr, "distlab %s: run '%s': too many ':' parts\n", verb, spec);
        goto out;
    }
    snprintf(r->algo, sizeof r->algo, "%s", algo);
    run_name_from(r->name, sizeof r->name, spec);
    snprintf(r->label, sizeof r->label, "%s", spec);
    if (variant_opts(r, verb, variant, arg) != 0)
        goto out;
    for (int i = 0; i < nwords; i++) {
        if (strcmp(words[i], "--as") == 0) { /* the run's own name: its folder, row and legend */
            if (i + 1 == nwords || strncmp(words[i + 1], "--", 2) == 0) {
                fprintf(stderr, "distlab %s: run '%s': --as needs a name\n", verb, spec);
                goto out;
            }
            const char *why = run_name_refused(words[++i]);
            if (why) {
                fprintf(stderr, "distlab %s: run '%s': --as '%s' %s\n", verb, spec, words[i], why);
                goto out;
            }
            snprintf(r->label, sizeof r->label, "%.100s", words[i]);
            run_name_from(r->name, sizeof r->name, words[i]);
            continue;
        }
        if (strncmp(words[i], "--", 2) != 0) {
            fprintf(stderr, "distlab %s: run '%s': expected an option, got '%s'\n", verb, spec, words[i]);
            goto out;
        }
        const char *key = words[i] + 2, *val = "";
        if (!run_algo_accepts(run_algo_find(r->algo), key)) {
            fprintf(stderr, "distlab %s: run '%s': 'distlab run %s' has no option --%s\n", verb,
                    spec, r->algo, key);
            goto out;
        }
        if (strcmp(key, "out") == 0) { /* the folder given it under --out won, silently */
            fprintf(stderr, "distlab %s: run '%s': --out is the command line's: each run writes to a "
                    "folder of its own under it (--as NAME names that folder)\n", verb, spec);
            goto out;
        }
        if (takes_value(key) == 1) {
            if (i + 1 == nwords || strncmp(words[i + 1], "--", 2) == 0) {
                fprintf(stderr, "distlab %s: run '%s': --%s needs a value\n", verb, spec, key);
                goto out;
            }
            val = words[++i];
        }
        if (push_opt(r->opts, &r->nopts, key, val) != 0) {
            fprintf(stderr, "distlab %s: run '%s': at most %d options\n", verb, spec, EXP_MAX_OPTS);
            goto out;
        }
    }
    if (name_taken(e, r->name)) {
        char base[128], label[160];
        snprintf(base, sizeof base, "%s", r->name);
        snprintf(label, sizeof label, "%s", r->label);
        for (int k = 2; name_taken(e, r->name); k++) {
            snprintf(r->name, sizeof r->name, "%.100s_%d", base, k);
            snprintf(r->label, sizeof r->label, "%.100s_%d", label, k);
        }
        fprintf(stderr, "distlab %s: another run is named %s: this '%s' is %s\n", verb, base,
                spec, r->name);
    }
    e->nruns++;
    rc = 0;
out:
    free(copy);
    if (rc) {
        free(r->spec);
        free_opts(r->opts, r->nopts);
        memset(r, 0, sizeof *r);
    }
    return rc;
}

int experiment_load(experiment *e, const char *verb, const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        fprintf(stderr, "distlab %s: experiment file '%s' is a folder; name a file in it "
                "(e.g. labs/demo.exp)\n", verb, path);
        return -1;
    }
    char why[512];
    if (files_check_regular(path, why, sizeof why) != 0) { /* a FIFO blocked fopen */
        fprintf(stderr, "distlab %s: experiment file %s\n", verb, why);
        return -1;
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "distlab %s: experiment file '%s': %s\n", verb, path, strerror(errno));
        return -1;
    }
    enum { MAX_LINE = 2046 };
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0, rc = 0;
    while (rc == 0 && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        const char *nul = memchr(line, '\0', (size_t)len);
        if (nul) {
            fprintf(stderr, "distlab %s: %s:%d: a NUL byte at column %d: an experiment file is "
                    "plain text\n", verb, path, lineno, (int)(nul - line) + 1);
            rc = -1;
            break;
        }
        if (len > MAX_LINE + 1 || (len == MAX_LINE + 1 && line[len - 1] != '\n')) {
            fprintf(stderr, "distlab %s: %s:%d: line longer than %d characters\n", verb, path,
                    lineno, MAX_LINE);
            rc = -1;
            break;
        }
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *words[64], *save = NULL;
        int n = 0;
        for (char *w = strtok_r(line, " \t\r\n", &save); w; w = strtok_r(NULL, " \t\r\n", &save)) {
            if (n == 64) {
                fprintf(stderr, "distlab %s: %s:%d: more than 64 words\n", verb, path, lineno);
                rc = -1;
                break;
            }
            words[n++] = w;
        }
        if (rc || n == 0)
            continue;
        if (strcmp(words[0], "run") == 0) {
            if (n < 2) {
                fprintf(stderr, "distlab %s: %s:%d: 'run' needs a spec (e.g. run ps:ssp:3)\n", verb, path, lineno);
                rc = -1;
            } else if (experiment_add_run(e, verb, words[1], n - 2, words + 2) != 0) {
                fprintf(stderr, "distlab %s: %s:%d: in this run line\n", verb, path, lineno);
                rc = -1;
            }
        } else if (n > 2) {
            fprintf(stderr, "distlab %s: %s:%d: expected 'OPTION [VALUE]' or 'run SPEC [--opt v]...'\n",
                    verb, path, lineno);
            rc = -1;
        } else {
            const char *key = words[0][0] == '-' ? words[0] + strspn(words[0], "-") : words[0];
            int value = takes_value(key);
            if (value < 0) {
                fprintf(stderr, "distlab %s: %s:%d: no algorithm takes an option '%s'\n", verb, path,
                        lineno, key);
                rc = -1;
            } else if (strcmp(key, "out") == 0) { /* each run's --out, under the command line's, won */
                fprintf(stderr, "distlab %s: %s:%d: 'out' is the command line's (--out DIR): each run "
                        "writes to a folder of its own under it\n", verb, path, lineno);
                rc = -1;
            } else if (value != (n == 2)) {
                fprintf(stderr, "distlab %s: %s:%d: '%s' %s\n", verb, path, lineno, key,
                        value ? "needs a value" : "takes no value");
                rc = -1;
            } else if (experiment_add_shared(e, key, n == 2 ? words[1] : "") != 0) {
                fprintf(stderr, "distlab %s: %s:%d: at most %d shared options\n", verb, path,
                        lineno, EXP_MAX_OPTS);
                rc = -1;
            }
        }
    }
    if (rc == 0 && ferror(f)) {
        fprintf(stderr, "distlab %s: experiment file '%s': %s\n", verb, path, strerror(errno));
        rc = -1;
    }
    free(line);
    fclose(f);
    return rc;
}

int experiment_known_opts(cli_opt *out, int cap, const cli_opt *own)
{
    int n = 0;
    for (const cli_opt *o = own; o && o->name && n < cap - 1; o++)
        out[n++] = *o;
    for (int i = 0; run_algo_at(i); i++) {
        cli_opt table[RUN_MAX_OPTS];
        run_algo_options(run_algo_at(i), table, RUN_MAX_OPTS);
        for (const cli_opt *o = table; o->name && n < cap - 1; o++) {
            int dup = 0;
            for (int k = 0; k < n && !dup; k++)
                dup = strcmp(out[k].name, o->name) == 0;
            if (!dup && strcmp(o->name, "out") != 0)
                out[n++] = *o;
        }
    }
    out[n] = (cli_opt){NULL, NULL, NULL};
    return n;
}

int experiment_run(const experiment *e, const exp_run *run, const exp_opt *extra, int nextra,
                   const char *outdir, const char *verb)
{
    const run_algo *algo = run_algo_find(run->algo);
    char *argv[2 * (2 * EXP_MAX_OPTS + 8)];
    int argc = 0;
    char runverb[] = "run", name[64], out[] = "--out", quiet[] = "--quiet";
    snprintf(name, sizeof name, "%s", run->algo);
    argv[argc++] = runverb;
    argv[argc++] = name;
    char keys[2 * EXP_MAX_OPTS + EXP_MAX_OPTS][80];
    int nk = 0;
    const exp_opt *lists[3] = {e->shared, extra, run->opts};
    int counts[3] = {e->nshared, nextra, run->nopts};
    for (int l = 0; l < 3; l++)
        for (int i = 0; i < counts[l]; i++) {
            const char *k = lists[l][i].key;
            if (strcmp(k, "peers") == 0 || strcmp(k, "rank") == 0 ||
                (strcmp(k, "launch") == 0 && strcmp(lists[l][i].val, "hosts") == 0)) {
                fprintf(stderr, "distlab %s: --launch hosts runs one rank per command, and %s runs "
                        "several jobs: run each with `distlab run ... --launch hosts`\n", verb, verb);
                return 2;
            }
            if (!run_algo_accepts(algo, lists[l][i].key))
                continue; /* a shared option meant for other algorithms */
            snprintf(keys[nk], sizeof keys[nk], "--%s", lists[l][i].key);
            argv[argc++] = keys[nk++];
            if (lists[l][i].val[0])
                argv[argc++] = lists[l][i].val;
        }
    argv[argc++] = out;
    argv[argc++] = (char *)outdir;
    argv[argc++] = quiet;
    argv[argc] = NULL;
    return verb_run(argc, argv);
}

/* ---- many runs at once ---- */

int experiment_default_jobs(int real_sockets)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return real_sockets || n < 1 ? 1 : n > 1024 ? 1024 : (int)n;
}

int experiment_jobs(const cli_args *a, const experiment *e, const char *verb, int *jobs)
{
    int real = 0;
    for (int i = 0; i < e->nshared; i++)
        real |= strcmp(e->shared[i].key, "backend") == 0 && strcmp(e->shared[i].val, "real") == 0;
    for (int r = 0; r < e->nruns; r++)
        for (int i = 0; i < e->runs[r].nopts; i++)
            real |= strcmp(e->runs[r].opts[i].key, "backend") == 0 && strcmp(e->runs[r].opts[i].val, "real") == 0;
    long n = experiment_default_jobs(real);
    if (cli_get_int(a, verb, "jobs", 1, 1024, &n))
        return -1;
    *jobs = (int)n;
    return 0;
}

/* A task run in this process, or in a child whose output goes to log. */
static int run_task(const experiment *e, exp_task *t, const char *verb)
{
    return experiment_run(e, t->run, t->extra, t->nextra, t->outdir, verb);
}

/* A run's message without the "distlab run ALGO: " that starts it. */
static const char *message_body(const char *line)
{
    const char *colon;
    if (strncmp(line, "distlab run ", 12) == 0 && (colon = strstr(line, ": ")))
        return colon + 2;
    return line;
}

/* Whether every line of log is, but for the run's name, a line of seen:
 * runs started side by side that fail on the same shared input (a bad
 * platform file, say) would each print the same message. */
static int says_nothing_new(FILE *log, const char *seen)
{
    char line[2048];
    rewind(log);
    while (fgets(line, sizeof line, log)) {
        const char *body = message_body(line);
        size_t len = strcspn(body, "\n");
        int found = 0;
        for (const char *at = seen; *at && !found;) {
            size_t at_len = strcspn(at, "\n");
            const char *at_body = message_body(at);
            found = at_body < at + at_len && (size_t)(at + at_len - at_body) == len &&
                    memcmp(at_body, body, len) == 0;
            at += at_len + (at[at_len] == '\n');
        }
        if (!found)
            return 0;
    }
    return 1;
}

/* Print a run's output and close it; keep it in *kept when asked (the
 * first failed run's, against which later failures are compared). */
static void print_log(FILE *log, char **kept)
{
    char buf[8192];
    size_t n, total = 0;
    rewind(log);
    fflush(stdout);
    while ((n = fread(buf, 1, sizeof buf, log)) > 0) {
        fwrite(buf, 1, n, stdout);
        if (kept) {
            char *grown = realloc(*kept, total + n + 1);
            if (grown) {
                memcpy(grown + total, buf, n);
                total += n;
                grown[total] = '\0';
                *kept = grown;
            }
        }
    }
    fflush(stdout);
    fclose(log);
}

int experiment_run_parallel(int n, int jobs, const char *verb, exp_job_fn fn, void *ctx, int *status)
{
    if (n <= 0)
        return 0;
    for (int i = 0; i < n; i++)
        status[i] = -1;
    if (jobs <= 1) {
        for (int i = 0; i < n; i++)
            if ((status[i] = fn(ctx, i)) != 0)
                return status[i];
        return 0;
    }
    pid_t *pid = calloc((size_t)n, sizeof *pid);
    FILE **log = calloc((size_t)n, sizeof *log);
    int started = 0, running = 0, printed = 0, failed = 0, first_bad = 0;
    char *first_log = NULL;
    if (!pid || !log) {
        free(pid);
        free(log);
        fprintf(stderr, "distlab %s: out of memory for %d runs\n", verb, n);
        return 1;
    }
    while (printed < n) {
        while (!failed && running < jobs && started < n) {
            fflush(NULL);
            if (!(log[started] = tmpfile()) || (pid[started] = fork()) < 0) {
                fprintf(stderr, "distlab %s: cannot start run %d of %d: %s\n", verb, started + 1, n,
                        strerror(errno));
                failed = 1;
                status[started] = 1;
                break;
            }
            if (pid[started] == 0) { /* the child: one run, its output into its log */
                int fd = fileno(log[started]);
                dup2(fd, 1);
                dup2(fd, 2);
                int rc = fn(ctx, started);
                fflush(NULL);
                _exit(rc & 0xff);
            }
            started++;
            running++;
        }
        if (running == 0 && (failed || started == n)) {
            /* nothing left to wait for: what never started is not printed */
            break;
        }
        int st;
        pid_t done = waitpid(-1, &st, 0);
        if (done < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < started; i++)
            if (pid[i] == done) {
                status[i] = WIFEXITED(st) ? WEXITSTATUS(st) : 1;
                pid[i] = 0;
                running--;
                if (status[i] != 0)
                    failed = 1;
            }
        /* print in order what has finished */
        while (printed < started && status[printed] >= 0 && pid[printed] == 0) {
            int bad = status[printed] != 0;
            if (bad && first_bad && first_log && says_nothing_new(log[printed], first_log))
                fclose(log[printed]); /* the same message again, under another run's name */
            else
                print_log(log[printed], bad && !first_bad ? &first_log : NULL);
            log[printed] = NULL;
            if (bad && !first_bad)
                first_bad = status[printed];
            printed++;
        }
    }
    for (int i = 0; i < n; i++)
        if (log[i])
            fclose(log[i]);
    free(pid);
    free(log);
    free(first_log);
    return first_bad;
}

typedef struct exp_batch {
    const experiment *e;
    exp_task *tasks;
    const char *verb;
} exp_batch;

static int run_batch_task(void *ctx, int i)
{
    exp_batch *b = ctx;
    return run_task(b->e, &b->tasks[i], b->verb);
}

int experiment_run_all(const experiment *e, exp_task *tasks, int n, int jobs, const char *verb)
{
    if (n <= 0)
        return 0;
    int *status = malloc((size_t)n * sizeof *status);
    if (!status) {
        fprintf(stderr, "distlab %s: out of memory for %d runs\n", verb, n);
        return 1;
    }
    exp_batch b = {e, tasks, verb};
    int rc = experiment_run_parallel(n, jobs, verb, run_batch_task, &b, status);
    for (int i = 0; i < n; i++)
        tasks[i].status = status[i];
    free(status);
    return rc;
}
