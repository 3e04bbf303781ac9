/* cli.c -- option parsing shared by every verb (see cli.h). */
#include "cli/cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/calibration.h"
#include "core/files.h"
#include "core/units.h"
#include "real/real_backend.h"
#include "sim/sim_platform.h"

const cli_opt cli_job_opts[] = {
    {"backend", "sim|real", "where the ranks run (default sim)"},
    {"timeout", "TIME", "a wait longer than this is an error (default 60s)"},
    {"platform", "FILE.xml", "sim: SimGrid platform file (instead of a generated cluster); a bare "
                             "name not found here is looked for in the installed platforms/ (two-racks)"},
    {"calibration", "FILE.json", "sim: a cluster at what distlab calibrate measured (latency, bandwidth, compute rates); measured on one machine, one host of its cores unless --hosts or --cores says otherwise"},
    {"hosts", "N", "sim: hosts of the generated cluster, 1 to 65536 (default: one per rank); fewer than the "
     "ranks: ranks share hosts and their --cores (--placement says which); more: the extra hosts sit idle"},
    {"bandwidth", "RATE", "sim: each host's link, e.g. 10Gbps, 1bps to 1e15Bps (default 10Gbps)"},
    {"latency", "TIME", "sim: host-to-host latency, e.g. 50us (default 50us)"},
    {"speed", "FLOPS", "sim: per-core speed, e.g. 1Gf, 1f to 1e30f (default 1Gf)"},
    {"cores", "N", "sim: cores per host (default 1)"},
    {"gpus-per-node", "G", "sim: every host a GPU, G to a node sharing one NIC of --bandwidth; --hosts counts "
                           "nodes (with --platform: how many consecutive ranks share a node, for --allreduce hierarchical)"},
    {"intra-bandwidth", "RATE", "sim: with --gpus-per-node, each GPU's link inside its node (default 100GBps)"},
    {"intra-latency", "TIME", "sim: with --gpus-per-node, GPU to GPU inside a node (default 2us, or --latency where that is less; --latency is across nodes)"},
    {"net", "ideal|tcp|analytic", "sim: ideal = textbook alpha-beta (CM02); tcp = SimGrid's LV08; analytic = "
     "distlab's per-link max-min model, for thousands of ranks (default ideal)"},
    {"placement", "round-robin|block", "sim: ranks onto hosts in name order; round-robin: rank i on host i mod H, "
                                      "spread evenly when fewer than H (default); block: fill them in order"},
    {"payload", "data|size-only", "sim: size-only messages carry no data (default data)"},
    {"fail", "RANK@TIME,...", "sim: that rank's host goes down at that simulated time, e.g. 3@0.5s"},
    {"degrade", "LINK:F@T1-T2,...", "sim: the named link carries F times its bandwidth from T1 to T2, e.g. "
                                   "cluster_link_3_UP:0.1@1s-2s (a generated cluster's host N sends on "
                                   "cluster_link_N_UP, receives on cluster_link_N_DOWN)"},
    {"launch", "threads|procs|hosts", "real: ranks as threads of one process, processes, or one rank per command (default threads)"},
    {"listen", "ADDR", "real: address the ranks listen on (default 127.0.0.1; hosts: each its --peers entry)"},
    {"peers", "HOST:PORT,...", "hosts: every rank's address, in rank order, the same list for every rank"},
    {"rank", "N", "hosts: the rank this command runs (rank 0 writes the results; default: "
                  "$OMPI_COMM_WORLD_RANK, $PMIX_RANK, $PMI_RANK or $SLURM_PROCID)"},
    {"spin", "TIME|auto", "real: how long a waiting rank polls before it sleeps (default auto: 100us when each rank has a core, else 0)"},
    {"bind", "auto|cores|none", "real: bind rank i to core i (default auto: when each rank has a core)"},
    {"no-events", NULL, "do not record per-rank events (saves memory on huge runs)"},
    {NULL, NULL, NULL},
};

static void print_opts(FILE *f, const cli_opt *opts)
{
    for (const cli_opt *o = opts; o && o->name; o++) {
        char left[64];
        snprintf(left, sizeof left, "--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        fprintf(f, "  %-28s %s\n", left, o->help);
    }
}

static const cli_opt *find_opt(const cli_opt *opts, const char *name, size_t len)
{
    for (const cli_opt *o = opts; o && o->name; o++)
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
            return o;
    return NULL;
}

int cli_parse(int argc, char **argv, const char *usage, const cli_opt *opts,
              int with_job, cli_args *out, int *exit_code)
{
    const char *verb = argv[0];
    memset(out, 0, sizeof *out);
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0) {
            printf("usage: distlab %s\n\noptions:\n", usage);
            print_opts(stdout, opts);
            if (with_job) {
                printf("\njob options:\n");
                print_opts(stdout, cli_job_opts);
            }
            *exit_code = 0;
            return 1;
        }
        /* "-o FILE" is short for "--output FILE" in verbs that have --output. */
        if (strcmp(s, "-o") == 0 && find_opt(opts, "output", 6))
            s = "--output";
        if (strncmp(s, "--", 2) != 0 || s[2] == '\0') {
            if (out->npos == CLI_MAX_ARGS)
                goto too_many;
            out->pos[out->npos++] = s;
            continue;
        }
        const char *name = s + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const cli_opt *o = find_opt(opts, name, len);
        if (!o && with_job)
            o = find_opt(cli_job_opts, name, len);
        if (!o) {
            fprintf(stderr, "distlab %s: unknown option '--%.*s' (see 'distlab %s --help')\n",
                    verb, (int)len, name, verb);
            *exit_code = 2;
            return 1;
        }
        const char *val = "";
        if (o->arg) {
            if (eq)
                val = eq + 1;
            else if (i + 1 < argc)
                val = argv[++i];
            else {
                fprintf(stderr, "distlab %s: --%s needs a value (%s)\n", verb, o->name, o->arg);
                *exit_code = 2;
                return 1;
            }
        } else if (eq) {
            fprintf(stderr, "distlab %s: --%s takes no value\n", verb, o->name);
            *exit_code = 2;
            return 1;
        }
        if (out->n == CLI_MAX_ARGS)
            goto too_many;
        out->key[out->n] = o->name;
        out->val[out->n++] = val;
    }
    return 0;
too_many:
    fprintf(stderr, "distlab %s: too many arguments (at most %d)\n", verb, CLI_MAX_ARGS);
    *exit_code = 2;
    return 1;
}

const char *cli_get(const cli_args *a, const char *name)
{
    for (int i = a->n - 1; i >= 0; i--)
        if (strcmp(a->key[i], name) == 0)
            return a->val[i];
    return NULL;
}

int cli_flag(const cli_args *a, const char *name) { return cli_get(a, name) != NULL; }

static int bad(const char *verb, const char *name, const char *msg)
{
    fprintf(stderr, "distlab %s: --%s: %s\n", verb, name, msg);
    return -1;
}

int cli_split_list(const char *verb, const char *opt, const char *list, char ***items)
{
    *items = NULL;
    size_t n = 1, len = strlen(list);
    for (const char *p = list; *p; p++)
        n += *p == ',';
    /* the pointers, then a copy of the text they point into */
    char **item = malloc(n * sizeof *item + len + 1);
    if (!item) {
        bad(verb, opt, "out of memory");
        return -1;
    }
    char *text = (char *)(item + n), *p = text;
    memcpy(text, list, len + 1);
    for (size_t i = 0; i < n; i++) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        if (!*p) {
            char msg[512];
            if (n == 1)
                snprintf(msg, sizeof msg, "empty value (expected a comma-separated list)");
            else
                snprintf(msg, sizeof msg, "'%.300s': item %zu of %zu is empty (two commas in a row, or one "
                         "at an end)", list, i + 1, n);
            free(item);
            return bad(verb, opt, msg);
        }
        item[i] = p;
        p = comma ? comma + 1 : p + strlen(p);
    }
    *items = item;
    return (int)n; /* an argument's commas: far below INT_MAX */
}

/* One --fail (RANK@TIME) or --degrade (LINK:FACTOR@START-END) entry. */
static int parse_fault(const char *verb, const char *opt, char *item, sim_fault *f)
{
    char buf[256], msg[400], err[200];
    if (strlen(item) >= sizeof buf) {
        snprintf(msg, sizeof msg, "'%.40s...' is too long", item);
        return bad(verb, opt, msg);
    }
    strcpy(buf, item);
    char *at = strrchr(buf, '@');
    int fail = strcmp(opt, "fail") == 0;
    if (!at || at == buf || !at[1]) {
        snprintf(msg, sizeof msg, "expected %s, got '%s'", fail ? "RANK@TIME, e.g. 3@0.5s"
                 : "LINK:FACTOR@START-END, e.g. cluster_link_3_UP:0.1@1s-2s", item);
        return bad(verb, opt, msg);
    }
    *at++ = '\0';
    *f = (sim_fault){.kind = fail ? SIM_FAULT_FAIL : SIM_FAULT_DEGRADE, .rank = -1};
    if (fail) {
        long rank;
        if (units_int(buf, 0, 1 << 20, &rank, err, sizeof err) ||
            units_time(at, &f->at_s, err, sizeof err)) {
            snprintf(msg, sizeof msg, "'%s': %s", item, err);
            return bad(verb, opt, msg);
        }
        f->rank = (int)rank;
    } else {
        char *colon = strrchr(buf, ':'), *dash = strchr(at, '-');
        const char *end;
        if (!colon || colon == buf || !dash) {
            snprintf(msg, sizeof msg, "expected LINK:FACTOR@START-END, got '%s'", item);
            return bad(verb, opt, msg);
        }
        *colon = *dash = '\0';
        if (units_decimal(colon + 1, &f->factor, &end) != 0 || *end || !(f->factor > 0) ||
            f->factor > 1e6) {
            snprintf(msg, sizeof msg, "'%s': the factor must be a number above 0, at most 1e6", item);
            return bad(verb, opt, msg);
        }
        if (units_time(at, &f->at_s, err, sizeof err) || units_time(dash + 1, &f->until_s, err, sizeof err)) {
            snprintf(msg, sizeof msg, "'%s': %s", item, err);
            return bad(verb, opt, msg);
        }
        if (!(f->until_s > f->at_s)) {
            snprintf(msg, sizeof msg, "'%s': the window must end after it starts", item);
            return bad(verb, opt, msg);
        }
        /* the name outlives the job: it points into the arguments */
        f->link = item;
        item[colon - buf] = '\0';
    }
    if (!(f->at_s > 0) || f->at_s > 1e9) {
        snprintf(msg, sizeof msg, "'%s': the time must be above 0 and at most 1e9 s", item);
        return bad(verb, opt, msg);
    }
    return 0;
}

int cli_check_faults(const char *verb, const sim_config *sim, int ranks)
{
    for (int i = 0; i < sim->nfaults; i++)
        if (sim->faults[i].kind == SIM_FAULT_FAIL && sim->faults[i].rank >= ranks) {
            fprintf(stderr, "distlab %s: --fail: rank %d at %g s, but the job has ranks 0 to %d\n", verb,
                    sim->faults[i].rank, sim->faults[i].at_s, ranks - 1);
            return -1;
        }
    return 0;
}

/* --fail and --degrade: comma-separated lists into sim->faults. */
static int parse_faults(const cli_args *a, const char *verb, const char *opt, sim_config *sim)
{
    const char *v = cli_get(a, opt);
    if (!v)
        return 0;
    char **item;
    int n = cli_split_list(verb, opt, v, &item), rc = n < 0 ? -1 : 0;
    for (int i = 0; i < n && !rc; i++) {
        if (sim->nfaults == SIM_MAX_FAULTS) {
            char msg[80];
            snprintf(msg, sizeof msg, "at most %d failures in all", SIM_MAX_FAULTS);
            rc = bad(verb, opt, msg);
            break;
        }
        /* a copy of its own: a link's name is kept */
        char *mine = strdup(item[i]);
        rc = !mine ? bad(verb, opt, "out of memory") : parse_fault(verb, opt, mine, &sim->faults[sim->nfaults]);
        if (!rc)
            sim->nfaults++;
        else
            free(mine);
    }
    free(item);
    return rc;
}

int cli_get_int(const cli_args *a, const char *verb, const char *name, long lo, long hi, long *out)
{
    const char *v = cli_get(a, name);
    char err[256];
    if (v && units_int(v, lo, hi, out, err, sizeof err))
        return bad(verb, name, err);
    return 0;
}

int cli_get_double(const cli_args *a, const char *verb, const char *name, double *out)
{
    const char *v = cli_get(a, name);
    char err[256];
    if (v && units_double(v, out, err, sizeof err))
        return bad(verb, name, err);
    return 0;
}

int cli_get_size(const cli_args *a, const char *verb, const char *name, double *out)
{
    const char *v = cli_get(a, name);
    char err[256];
    if (v && units_size(v, out, err, sizeof err))
        return bad(verb, name, err);
    return 0;
}

int cli_get_time(const cli_args *a, const char *verb, const char *name, double *out)
{
    const char *v = cli_get(a, name);
    char err[256];
    if (v && units_time(v, out, err, sizeof err))
        return bad(verb, name, err);
    return 0;
}

int cli_get_choice(const cli_args *a, const char *verb, const char *name,
                   const char *const *choices, int *out)
{
    const char *v = cli_get(a, name);
    if (!v)
        return 0;
    char known[256] = "";
    for (int i = 0; choices[i]; i++) {
        if (strcmp(v, choices[i]) == 0) {
            *out = i;
            return 0;
        }
        snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "", choices[i]);
    }
    char msg[400];
    snprintf(msg, sizeof msg, "unknown value '%s' (expected one of: %s)", v, known);
    return bad(verb, name, msg);
}

/* A hosts rank started by a batch system or mpirun: its rank as they set
 * it. Returns 0, or -1 having said what is missing or wrong. */
static int rank_from_env(const char *verb, int *rank)
{
    /* mpirun's own first: inside a Slurm allocation mpirun's processes
     * inherit a SLURM_PROCID that is not their rank */
    static const char *const vars[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK", "SLURM_PROCID", NULL};
    for (int i = 0; vars[i]; i++) {
        const char *v = getenv(vars[i]);
        if (!v || !*v)
            continue;
        char err[256], msg[400];
        long n;
        if (units_int(v, 0, 1 << 20, &n, err, sizeof err) != 0) {
            snprintf(msg, sizeof msg, "$%s is '%s': %s", vars[i], v, err);
            return bad(verb, "rank", msg);
        }
        *rank = (int)n;
        return 0;
    }
    return bad(verb, "launch", "hosts needs --rank N (the rank this command runs), or $OMPI_COMM_WORLD_RANK, "
               "$PMIX_RANK, $PMI_RANK or $SLURM_PROCID set");
}

/* FNV-1a over s and a separator, into h. */
static uint64_t fnv_add(uint64_t h, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        h = (h ^ *p) * 0x100000001b3ull;
    return (h ^ 0x1f) * 0x100000001b3ull;
}

static int by_key(const void *x, const void *y)
{
    const char *const *a = x, *const *b = y;
    int c = strcmp(a[0], b[0]);
    return c ? c : strcmp(a[1], b[1]);
}

/* What the ranks of a hosts job must agree on: the verb, its positional
 * arguments and every option as written, in any order -- but those that
 * are each rank's own (its rank, where it writes, how it waits, what it
 * prints) and data file paths, which may differ from machine to machine
 * (`distlab run` adds a digest of the data itself). A repeated option
 * counts with its last value, as everywhere. */
static uint64_t hosts_key(const cli_args *a, const char *verb)
{
    static const char *const own[] = {"rank", "out", "quiet", "no-figures", "timeout", "spin",
                                      "bind", "no-events", "peers", "data", "test-data", NULL};
    const char *kv[CLI_MAX_ARGS][2];
    int n = 0;
    for (int i = 0; i < a->n; i++) {
        int skip = 0;
        for (int k = 0; own[k] && !skip; k++)
            skip = strcmp(a->key[i], own[k]) == 0;
        for (int j = i + 1; j < a->n && !skip; j++)
            skip = strcmp(a->key[i], a->key[j]) == 0; /* a later one wins */
        if (!skip) {
            kv[n][0] = a->key[i];
            kv[n++][1] = a->val[i];
        }
    }
    qsort(kv, (size_t)n, sizeof kv[0], by_key);
    uint64_t h = fnv_add(0xcbf29ce484222325ull, verb);
    for (int i = 0; i < a->npos; i++)
        h = fnv_add(h, a->pos[i]);
    for (int i = 0; i < n; i++)
        h = fnv_add(fnv_add(h, kv[i][0]), kv[i][1]);
    return h;
}

#ifndef DISTLAB_SHARE
#define DISTLAB_SHARE "/usr/local/share/distlab" /* the Makefile passes PREFIX's */
#endif

const char *cli_share_dir(void)
{
    const char *env = getenv("DISTLAB_SHARE");
    return env && *env ? env : DISTLAB_SHARE;
}

const char *cli_find_shared(const char *name, const char *sub, const char *ext, char *buf, size_t len)
{
    if (access(name, F_OK) == 0 || strchr(name, '/'))
        return name;
    snprintf(buf, len, "%s/%s/%s", cli_share_dir(), sub, name);
    if (access(buf, F_OK) == 0)
        return buf;
    snprintf(buf, len, "%s/%s/%s%s", cli_share_dir(), sub, name, ext);
    if (access(buf, F_OK) == 0)
        return buf;
    /* a build in a source tree: build/distlab next to platforms/ and labs/ */
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    char *slash = n > 0 ? (exe[n] = '\0', strrchr(exe, '/')) : NULL;
    if (slash) {
        *slash = '\0';
        snprintf(buf, len, "%s/../%s/%s%s", exe, sub, name, ext);
        if (access(buf, F_OK) == 0)
            return buf;
    }
    return name;
}

const job_backend *const cli_backends[] = {&sim_backend, &real_backend, NULL};

int cli_job_config(const cli_args *a, const char *verb, job_config *cfg, sim_config *sim, real_config *real)
{
    const char *backends[sizeof cli_backends / sizeof cli_backends[0]] = {NULL};
    static const char *const nets[] = {"ideal", "tcp", "analytic", NULL};
    static const char *const places[] = {"round-robin", "block", NULL};
    static const char *const payloads[] = {"data", "size-only", NULL};
    static const char *const launches[] = {"threads", "procs", "hosts", NULL};
    static const char *const binds[] = {"auto", "none", "cores", NULL};
    char err[256];
    int choice;
    long n;

    choice = 0;
    for (int i = 0; cli_backends[i]; i++) {
        backends[i] = cli_backends[i]->name;
        if (cli_backends[i] == cfg->backend)
            choice = i;
    }
    if (cli_get_choice(a, verb, "backend", backends, &choice))
        return -1;
    cfg->backend = cli_backends[choice];
    if (cli_get_time(a, verb, "timeout", &cfg->timeout_s))
        return -1;
    if (cfg->timeout_s <= 0)
        return bad(verb, "timeout", "must be above zero");

    const char *v;
    if ((v = cli_get(a, "platform")) != NULL) {
        if (cli_get(a, "hosts") || cli_get(a, "bandwidth") || cli_get(a, "latency") ||
            cli_get(a, "speed") || cli_get(a, "cores") || cli_get(a, "intra-bandwidth") ||
            cli_get(a, "intra-latency"))
            return bad(verb, "platform", "a platform file and a generated cluster "
                       "(--hosts/--bandwidth/--latency/--speed/--cores/--intra-bandwidth/--intra-latency) "
                       "exclude each other");
        static char found[4096];
        sim->platform = cli_find_shared(v, "platforms", ".xml", found, sizeof found);
    }
    if ((v = cli_get(a, "calibration")) != NULL) {
        calibration c;
        if (sim->platform)
            return bad(verb, "calibration", "a calibration describes a generated cluster: leave out --platform");
        if (calib_read(v, DISTLAB_VERSION, &c, err, sizeof err) != 0)
            return bad(verb, "calibration", err);
        /* what was measured, unless the command line says otherwise: the
         * pingpong's latency split into the wire's and the two ranks' own
         * time per message, which the simulated runtime charges */
        calib_network(&c, &sim->latency_s, &sim->send_overhead_s, &sim->recv_overhead_s,
                      &sim->exchange_factor);
        /* a message to a rank that sleeps in its wait, as real ranks do
         * once they have polled for their spin time */
        sim->wake_s = c.wake_s.median;
        sim->woken_after_s = REAL_SPIN_AUTO_S;
        sim->bandwidth_Bps = c.bandwidth_Bps.median;
        sim->speed_flops = c.reduce_flops_per_s.median;
        /* element-wise work at its own measured rates, whatever --speed
         * says the model's work runs at */
        sim->nvector = c.nvector < SIM_MAX_VECTOR ? c.nvector : SIM_MAX_VECTOR;
        for (int i = 0; i < sim->nvector; i++) {
            sim->vector_flops[i] = c.vector[i].flops_per_call;
            sim->vector_flops_per_s[i] = c.vector[i].flops_per_s.median;
        }
        /* model parallelism's copy of a batch's inputs, where measured */
        sim->gather_per_s = c.gather_Bps.n > 0 ? c.gather_Bps.median / sizeof(float) : 0;
        sim->loss_flops_per_s = c.loss_flops_per_s.n > 0 ? c.loss_flops_per_s.median : 0;
        /* Hogwild!'s traffic on shared memory, where it was measured */
        sim->nshared = c.nshared < SIM_MAX_VECTOR ? c.nshared : SIM_MAX_VECTOR;
        for (int i = 0; i < sim->nshared; i++) {
            sim->shared_floats[i] = (double)c.shared[i].floats;
            sim->shared_read_per_s[i] = c.shared[i].read_Bps.median / sizeof(float);
            sim->shared_write_per_s[i] = c.shared[i].write_Bps.median / sizeof(float);
        }
        /* each measured size at its own time, where the line misses it */
        sim->nmsg = calib_wire_scale(&c, sim->msg_bytes, sim->msg_scale, SIM_MAX_MSG);
        /* and each size's exchange, relative to the largest size's */
        sim->nshare = calib_exchange_share(&c, sim->share_bytes, sim->share, SIM_MAX_MSG);
        /* ranks measured on one machine shared its cores: so do the
         * simulated ones, on one host of that many (sim_platform.c), unless
         * the command line asks for another cluster at these numbers */
        if (calib_one_machine(&c) && !cli_get(a, "hosts") && !cli_get(a, "cores") &&
            !cli_get(a, "gpus-per-node")) {
            sim->hosts = 1;
            sim->cores = c.cores;
            sim->one_machine = 1;
        }
    }
    n = sim->hosts;
    /* at most 65536 hosts, whatever the ranks: 1048576 hosts took 41 s
     * and 3.8 GB to build for 2 ranks */
    if (cli_get_int(a, verb, "hosts", 1, 65536, &n))
        return -1;
    sim->hosts = (int)n;
    if ((v = cli_get(a, "bandwidth")) && units_rate(v, &sim->bandwidth_Bps, err, sizeof err))
        return bad(verb, "bandwidth", err);
    if ((v = cli_get(a, "latency")) && units_time(v, &sim->latency_s, err, sizeof err))
        return bad(verb, "latency", err);
    if (cli_get(a, "bandwidth") || cli_get(a, "latency")) /* another wire than the one measured */
        sim->nmsg = sim->nshare = 0;
    if ((v = cli_get(a, "speed")) && units_speed(v, &sim->speed_flops, err, sizeof err))
        return bad(verb, "speed", err);
    n = sim->cores;
    if (cli_get_int(a, verb, "cores", 1, 4096, &n))
        return -1;
    sim->cores = (int)n;
    n = sim->gpus_per_node > 0 ? sim->gpus_per_node : 1;
    if (cli_get_int(a, verb, "gpus-per-node", 1, SIM_MAX_GPUS_PER_NODE, &n))
        return -1;
    sim->gpus_per_node = (int)n;
    /* a calibration's per-size exchange is the measured machine's copying,
     * bounded at its wire's rate: a node of GPUs has links of its own
     * (--intra-bandwidth), on which that bound made a 1 MiB message 30-100x
     * slower than its link */
    if (sim->gpus_per_node > 1)
        sim->nshare = 0;
    if ((cli_get(a, "intra-bandwidth") || cli_get(a, "intra-latency")) && sim->gpus_per_node < 2)
        return bad(verb, cli_get(a, "intra-bandwidth") ? "intra-bandwidth" : "intra-latency",
                   "describes the links inside a node: add --gpus-per-node G (at least 2)");
    if ((v = cli_get(a, "intra-bandwidth")) && units_rate(v, &sim->intra_bandwidth_Bps, err, sizeof err))
        return bad(verb, "intra-bandwidth", err);
    if ((v = cli_get(a, "intra-latency")) && units_time(v, &sim->intra_latency_s, err, sizeof err))
        return bad(verb, "intra-latency", err);
    /* the default inside a node (2 us) is no slower than across nodes: a
     * calibration of loopback, whose wire is what is left of its pingpong
     * after the ranks' own time, measured 0.26 us and was refused */
    if (!cli_get(a, "intra-latency") && sim->intra_latency_s > sim->latency_s)
        sim->intra_latency_s = sim->latency_s;
    if (!sim->platform && sim->gpus_per_node > 1 &&
        sim_platform_check_generated(sim, 0, err, sizeof err) != 0) /* the ranks: at run time */
        return bad(verb, "gpus-per-node", err);

    choice = sim->net;
    if (cli_get_choice(a, verb, "net", nets, &choice))
        return -1;
    sim->net = choice;
    choice = sim->placement;
    if (cli_get_choice(a, verb, "placement", places, &choice))
        return -1;
    sim->placement = choice;
    choice = sim->size_only;
    if (cli_get_choice(a, verb, "payload", payloads, &choice))
        return -1;
    sim->size_only = choice;
    choice = real->launch;
    if (cli_get_choice(a, verb, "launch", launches, &choice))
        return -1;
    real->launch = choice;
    if ((v = cli_get(a, "listen")) != NULL)
        real->listen_addr = v;
    real->peers = cli_get(a, "peers");
    n = real->host_rank;
    if (cli_get_int(a, verb, "rank", 0, 1 << 20, &n))
        return -1;
    real->host_rank = (int)n;
    if (real->launch == REAL_LAUNCH_HOSTS) {
        if (cfg->backend != &real_backend)
            return bad(verb, "launch", "hosts runs ranks on sockets: add --backend real");
        if (!real->peers)
            return bad(verb, "launch", "hosts needs --peers HOST:PORT,... (every rank's address, in rank order)");
        char why[400];
        if (real_peers_check(real->peers, why, sizeof why) < 0) {
            fprintf(stderr, "distlab %s: %s\n", verb, why); /* why starts with --peers */
            return -1;
        }
        if (!cli_get(a, "rank") && rank_from_env(verb, &real->host_rank) != 0)
            return -1;
        if (cli_get(a, "listen"))
            return bad(verb, "listen", "with --launch hosts each rank listens on its own --peers entry");
        real->hosts_key = hosts_key(a, verb);
    } else if (real->peers || cli_get(a, "rank")) {
        return bad(verb, real->peers ? "peers" : "rank", "only with --launch hosts");
    }
    choice = real->bind;
    if (cli_get_choice(a, verb, "bind", binds, &choice))
        return -1;
    real->bind = choice;
    if ((v = cli_get(a, "spin")) != NULL && strcmp(v, "auto") != 0) {
        if (units_time(v, &real->spin_s, err, sizeof err))
            return bad(verb, "spin", err);
        if (real->spin_s < 0 || real->spin_s > 1)
            return bad(verb, "spin", "must be between 0 and 1s (or auto)");
    }
    if (cli_flag(a, "no-events"))
        cfg->record_events = 0;
    if (cli_get(a, "fail") && cfg->backend != &sim_backend) {
        /* only `distlab run` has a failure of its own on real sockets */
        char msg[300];
        snprintf(msg, sizeof msg, "failures are injected in simulation (--backend sim); on real sockets %s",
                 strncmp(verb, "run ", 4) == 0 ? "`distlab run` takes --kill-rank RANK:STEP"
                 : strcmp(verb, "ray-bench") == 0 ? "ray-bench has none (`distlab run ray-ps --kill-rank "
                                                    "RANK:STEP` ends a worker's node)"
                                                  : "only `distlab run ALGO` has one, --kill-rank RANK:STEP");
        return bad(verb, "fail", msg);
    }
    if (cli_get(a, "degrade") && cfg->backend != &sim_backend)
        return bad(verb, "degrade", "a link's bandwidth changes only in simulation (--backend sim); "
                   "on real sockets the network is what it is");
    sim->nfaults = 0;
    if (parse_faults(a, verb, "fail", sim) || parse_faults(a, verb, "degrade", sim))
        return -1;

    if (cfg->backend == &real_backend && sim->size_only)
        return bad(verb, "payload", "size-only payloads exist only in simulation (--backend sim)");
    if (cfg->backend == &sim_backend && sim->platform) {
        /* a platform file's values are input like the options' (exit 2),
         * refused before any job starts */
        char why[1024];
        if (sim_platform_check_file(sim->platform, sim->net == SIM_NET_ANALYTIC, why, sizeof why) != 0) {
            fprintf(stderr, "distlab %s: %s\n", verb, why);
            return -1;
        }
    }
    cfg->settings = cfg->backend == &sim_backend ? (const void *)sim : (const void *)real;
    return 0;
}

int cli_calibrated_speed(const cli_args *a, const char *verb, const char *model, size_t batch,
                         sim_config *sim)
{
    const char *path = cli_get(a, "calibration");
    if (!path || cli_get(a, "speed"))
        return 0;
    static calibration c; /* large; read once more here, after the model is known */
    char err[1024];
    double woken;
    if (calib_read(path, DISTLAB_VERSION, &c, err, sizeof err) != 0 ||
        calib_train_rate(&c, model, batch, &sim->speed_flops, &woken, NULL, err, sizeof err) != 0)
        return bad(verb, "calibration", err);
    /* the first step after a wait the rank slept through runs at the rate
     * measured after a sleep; a rank sleeps, as the real runtime's do,
     * once it waited longer than it polls */
    sim->woken_model_factor = fmin(CALIB_WOKEN_MAX, fmax(1 / CALIB_WOKEN_MAX, sim->speed_flops / woken));
    sim->woken_after_s = REAL_SPIN_AUTO_S;
    return 0;
}

int cli_job_status(const job_result *res)
{
    return res->bad_input ? 2 : 1;
}

int cli_result_elsewhere(const char *verb, const job_result *res)
{
    if (res->only_rank < 0)
        return 0;
    printf("distlab %s: rank %d of %d done; rank 0 has the results\n", verb, res->only_rank, res->ranks);
    return 1;
}

void cli_describe_job(const job_config *cfg, const job_result *res, char *buf, size_t len)
{
    if (cfg->backend == &sim_backend) {
        const sim_config *sim = sim_settings(cfg);
        char bw[32], lat[32];
        units_fmt_rate(sim->bandwidth_Bps, bw, sizeof bw);
        units_fmt_time(sim->latency_s, lat, sizeof lat);
        if (sim->platform) {
            snprintf(buf, len, "sim: platform %s, network model %s", sim->platform,
                     res && res->net_model[0] ? res->net_model : "?");
        } else {
            int hosts = sim->hosts > 0 ? sim->hosts : cfg->ranks;
            if (sim->gpus_per_node > 1) {
                char ibw[32], ilat[32];
                int nodes = sim_platform_nodes(sim, cfg->ranks);
                units_fmt_rate(sim->intra_bandwidth_Bps, ibw, sizeof ibw);
                units_fmt_time(sim->intra_latency_s, ilat, sizeof ilat);
                snprintf(buf, len, "sim: generated GPU cluster of %d node%s x %d GPUs, %s NIC per node, %s "
                         "across nodes, %s links and %s inside a node, %g Gf/GPU, network model %s",
                         nodes, nodes == 1 ? "" : "s", sim->gpus_per_node, bw, lat, ibw, ilat,
                         sim->speed_flops / 1e9, res && res->net_model[0] ? res->net_model : "?");
                return;
            }
            if (sim->one_machine && hosts == 1)
                snprintf(buf, len, "sim: one machine of %d core%s (the calibration's), %s and %s between "
                         "its ranks, %g Gf/core, network model %s", sim->cores, sim->cores == 1 ? "" : "s",
                         bw, lat, sim->speed_flops / 1e9, res && res->net_model[0] ? res->net_model : "?");
            else
                snprintf(buf, len, "sim: generated cluster of %d host%s, %s links, %s latency, %g Gf/core, "
                         "network model %s", hosts, hosts == 1 ? "" : "s", bw, lat, sim->speed_flops / 1e9,
                         res && res->net_model[0] ? res->net_model : "?");
            size_t at = strlen(buf);
            if ((sim->send_overhead_s > 0 || sim->recv_overhead_s > 0 || sim->exchange_factor > 1) &&
                at < len)
                snprintf(buf + at, len - at, "; per message %.3g us sending, %.3g us receiving; "
                         "exchange factor %.2f", 1e6 * sim->send_overhead_s,
                         1e6 * sim->recv_overhead_s, sim->exchange_factor > 1 ? sim->exchange_factor : 1);
            at = strlen(buf);
            if (sim->wake_s > 0 && at < len)
                snprintf(buf + at, len - at, "; %.3g us more to reach a sleeping rank", 1e6 * sim->wake_s);
            at = strlen(buf);
            if (sim->nvector > 0 && at < len)
                snprintf(buf + at, len - at, "; element-wise work at %.3g Gflop/s (%.3g flops a call) to "
                         "%.3g Gflop/s (%.3g)", sim->vector_flops_per_s[0] / 1e9, sim->vector_flops[0],
                         sim->vector_flops_per_s[sim->nvector - 1] / 1e9, sim->vector_flops[sim->nvector - 1]);
            at = strlen(buf);
            if (sim->woken_model_factor > 0 && at < len)
                snprintf(buf + at, len - at, "; a model's first step after a wait slept through x %.3g",
                         sim->woken_model_factor);
            at = strlen(buf);
            if (sim->gather_per_s > 0 && at < len)
                snprintf(buf + at, len - at, "; a batch's inputs gathered at %.3g GB/s", 4e-9 * sim->gather_per_s);
            at = strlen(buf);
            if (sim->loss_flops_per_s > 0 && at < len)
                snprintf(buf + at, len - at, "; a loss apart from its model at %.3g Gflop/s", 1e-9 * sim->loss_flops_per_s);
            at = strlen(buf);
            if (sim->nshared > 0 && at < len)
                snprintf(buf + at, len - at, "; shared memory read at %.3g GB/s and written at %.3g GB/s "
                         "(%.3g floats) to %.3g and %.3g (%.3g)", 4e-9 * sim->shared_read_per_s[0],
                         4e-9 * sim->shared_write_per_s[0], sim->shared_floats[0],
                         4e-9 * sim->shared_read_per_s[sim->nshared - 1],
                         4e-9 * sim->shared_write_per_s[sim->nshared - 1], sim->shared_floats[sim->nshared - 1]);
            at = strlen(buf);
            if (sim->nmsg > 0 && at < len)
                snprintf(buf + at, len - at, "; a message's bytes x %.3g at %.3g B to x %.3g at %.3g B (each "
                         "size's own time)", sim->msg_scale[0], sim->msg_bytes[0], sim->msg_scale[sim->nmsg - 1],
                         sim->msg_bytes[sim->nmsg - 1]);
            at = strlen(buf);
            if (sim->nshare > 0 && at < len) {
                snprintf(buf + at, len - at, "; an exchange's share of the factor by size:");
                for (int i = 0; i < sim->nshare && (at = strlen(buf)) < len; i++)
                    snprintf(buf + at, len - at, " %.3g at %.3g B", sim->share[i], sim->share_bytes[i]);
            }
        }
    } else {
        const real_config *real = real_settings(cfg);
        char spin[48] = "sleep at once";
        double s = real_spin_s(cfg);
        if (s > 0) {
            strcpy(spin, "poll for ");
            units_fmt_time(s, spin + strlen(spin), sizeof spin - strlen(spin));
            strcat(spin, ", then sleep");
        }
        if (real->launch == REAL_LAUNCH_HOSTS)
            snprintf(buf, len, "real: one process per rank at its --peers address, TCP; waiting ranks %s",
                     spin);
        else
            snprintf(buf, len, "real: %s%s on %s, TCP; waiting ranks %s",
                     real->launch == REAL_LAUNCH_PROCS ? "processes" : "threads",
                     real_binds(cfg) ? " bound to cores" : "", real->listen_addr, spin);
    }
}

int cli_check_out(const char *verb, const char *dir)
{
    struct stat st;
    const char *why;
    if (stat(dir, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return 0;
        why = "it exists and is not a folder";
    } else if (errno == ENOTDIR) {
        why = "a part of its path is a file";
    } else {
        return 0; /* made when the records are written */
    }
    fprintf(stderr, "distlab %s: --out %s: %s: name a folder for the records (it is made if missing)\n", verb,
            dir, why);
    return -1;
}

int cli_read_whole(const char *path, char **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    char why[512];
    if (files_check_regular(path, why, sizeof why) != 0) /* a FIFO blocked fopen */
        return -1;
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (1ll << 36)) {
        fclose(f);
        return -1;
    }
    size_t n = (size_t)st.st_size;
    char *b = malloc(n ? n : 1);
    int bad = !b || fread(b, 1, n, f) != n;
    fclose(f);
    if (bad) {
        free(b);
        return -1;
    }
    *buf = b;
    *len = n;
    return 0;
}
