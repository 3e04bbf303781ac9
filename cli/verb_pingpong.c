/* verb_pingpong.c -- `distlab pingpong`: the first thing a student runs.
 *
 * Two ranks bounce a message of each --bytes size back and forth; half a
 * round trip is the one-way time, which on an ideal simulated network is
 * exactly latency + bytes / bandwidth (the alpha-beta model), and on real
 * sockets is whatever the kernel's loopback gives.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/units.h"

#define MAX_SIZES 64

typedef struct pingpong_arg {
    int nsizes;
    size_t bytes[MAX_SIZES];
    int iters[MAX_SIZES];
    size_t max_bytes;
} pingpong_arg;

/* Rank 0's result slot: one-way seconds per size. */
static int pingpong_rank(rt *r, void *argp)
{
    const pingpong_arg *a = argp;
    double *oneway_s = job_slot(r);
    int me = rt_rank(r), other = 1 - me, rc = RT_OK;
    if (me > 1)
        return RT_OK;
    unsigned char *buf = NULL;
    if (!rt_size_only(r) && a->max_bytes) {
        buf = malloc(a->max_bytes);
        if (!buf)
            return rt_fail(r, RT_ENOMEM, "pingpong: cannot allocate %zu bytes", a->max_bytes);
        memset(buf, me + 1, a->max_bytes);
    }
    for (int s = 0; s < a->nsizes && rc == RT_OK; s++) {
        size_t n = a->bytes[s];
        /* one untimed round trip so connections and caches are warm */
        for (int it = -1; it < a->iters[s] && rc == RT_OK; it++) {
            if (it == 0)
                oneway_s[s] = rt_now(r);
            if (me == 0) {
                rc = rt_send(r, other, s, buf, n);
                if (!rc)
                    rc = rt_recv(r, other, s, buf, n, NULL);
            } else {
                rc = rt_recv(r, other, s, buf, n, NULL);
                if (!rc)
                    rc = rt_send(r, other, s, buf, n);
            }
        }
        oneway_s[s] = (rt_now(r) - oneway_s[s]) / (2.0 * a->iters[s]);
    }
    free(buf);
    return rc;
}

static int parse_sizes(const char *list, pingpong_arg *a)
{
    char **item, err[256];
    int n = cli_split_list("pingpong", "bytes", list, &item);
    if (n < 0)
        return -1;
    a->nsizes = 0;
    for (int i = 0; i < n; i++) {
        const char *tok = item[i];
        double b;
        if (a->nsizes == MAX_SIZES) {
            fprintf(stderr, "distlab pingpong: --bytes: at most %d sizes\n", MAX_SIZES);
            goto fail;
        }
        if (units_size(tok, &b, err, sizeof err) != 0) {
            fprintf(stderr, "distlab pingpong: --bytes: %s\n", err);
            goto fail;
        }
        if (b > 1024.0 * 1024 * 1024) {
            fprintf(stderr, "distlab pingpong: --bytes: %s: at most 1GiB per message\n", tok);
            goto fail;
        }
        a->bytes[a->nsizes++] = (size_t)b;
        if ((size_t)b > a->max_bytes)
            a->max_bytes = (size_t)b;
    }
    free(item);
    return 0;
fail:
    free(item);
    return -1;
}

int verb_pingpong(int argc, char **argv)
{
    static const cli_opt opts[] = {
        {"bytes", "SIZE[,SIZE...]", "message sizes, e.g. 0,1KiB,1MiB,64MiB (default 1MiB)"},
        {"iters", "N", "round trips per size (default: 1 in sim, more for small real messages)"},
        {NULL, NULL, NULL},
    };
    cli_args a;
    int code;
    if (cli_parse(argc, argv, "pingpong [--bytes SIZES] [--iters N] [job options]", opts, 1, &a, &code))
        return code;
    if (a.npos) {
        fprintf(stderr, "distlab pingpong: unexpected argument '%s'\n", a.pos[0]);
        return 2;
    }
    job_config cfg = job_config_default();
    sim_config sim = sim_config_default();
    real_config real = real_config_default();
    cfg.ranks = 2;
    if (cli_job_config(&a, "pingpong", &cfg, &sim, &real) || cli_check_faults("pingpong", &sim, cfg.ranks))
        return 2;
    pingpong_arg pa = {0};
    if (parse_sizes(cli_get(&a, "bytes") ? cli_get(&a, "bytes") : "1MiB", &pa))
        return 2;
    long iters = 0;
    if (cli_get_int(&a, "pingpong", "iters", 1, 1000000, &iters))
        return 2;
    for (int s = 0; s < pa.nsizes; s++) {
        if (iters)
            pa.iters[s] = (int)iters;
        else if (cfg.backend == &sim_backend)
            pa.iters[s] = 1; /* simulated time is exact: one round trip says it all */
        else {
            double want = 256.0 * 1024 * 1024 / (double)(pa.bytes[s] + 1);
            pa.iters[s] = want < 5 ? 5 : want > 1000 ? 1000 : (int)want;
        }
    }
    cfg.result_bytes = sizeof(double) * MAX_SIZES;
    cfg.record_events = 0;

    job_result res;
    if (job_run(&cfg, pingpong_rank, &pa, &res) != 0) {
        fprintf(stderr, "distlab pingpong: %s\n", res.error);
        int status = cli_job_status(&res);
        job_result_free(&res);
        return status;
    }
    if (cli_result_elsewhere("pingpong", &res)) {
        job_result_free(&res);
        return 0;
    }
    char where[512];
    cli_describe_job(&cfg, &res, where, sizeof where);
    printf("# %s\n", where);
    printf("backend,bytes,iters,seconds_per_oneway,bandwidth_GBps\n");
    const double *oneway_s = job_result_slot(&res, 0);
    for (int s = 0; s < pa.nsizes; s++)
        printf("%s,%zu,%d,%.9g,%.6g\n", cfg.backend->name, pa.bytes[s],
               pa.iters[s], oneway_s[s], oneway_s[s] > 0 ? pa.bytes[s] / oneway_s[s] / 1e9 : 0.0);
    job_result_free(&res);
    return 0;
}
