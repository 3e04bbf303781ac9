/* starter.c -- lab 08, calibration: alpha and beta from a pingpong.
 *
 * Measure the path from rank 0 to rank 1 yourself and fit the alpha-beta
 * model to it: a one-way message of n bytes takes alpha + n beta. The
 * checker (cli/lab_calibration.c) runs this on simulated clusters whose
 * alpha and beta it knows, and then on real sockets. distlab's own is
 * cli/verb_calibrate.c: write yours first.
 *
 * Copy this file, fill in the two TODOs, then
 *   build/distlab lab check 08 my_alpha_beta.c
 */
#include <stdlib.h>

#include "algorithms/plugin.h"

static const size_t sizes[] = {8, 1024, 16384, 262144, 1048576};
#define NSIZES (int)(sizeof sizes / sizeof *sizes)
#define ROUNDS 20 /* timed round trips per size */

/* The one-way time of an n-byte message into *t_s, on rank 0. */
static int oneway(rt *r, unsigned char *buf, size_t n, double *t_s)
{
    /* TODO (lab 08), 1: bounce the message ROUNDS times -- rank 0 sends
     * it to rank 1 and receives it back, rank 1 receives it and sends it
     * back -- and time the bounces on rank 0 with rt_now. What share of a
     * round trip is one way? Should the first round trip count? */
    (void)r;
    (void)buf;
    (void)n;
    *t_s = 0;
    return RT_OK;
}

/* The line alpha + n beta through the points (sizes[i], t[i]). */
static void fit(const double *t, double *alpha, double *beta)
{
    /* TODO (lab 08), 2: least squares. Minimise the sum of squared
     * *relative* errors, ((alpha + n beta - t) / t)^2: which sizes decide
     * alpha, which decide beta, and what would an unweighted fit do to
     * alpha, whose 8-byte point is a microsecond next to a millisecond?
     * On a busy machine the line can still come out with alpha <= 0: what
     * is a sensible fallback? */
    (void)t;
    *alpha = 0;
    *beta = 0;
}

int plugin_alpha_beta(rt *r, double *alpha_s, double *beta_s_per_byte)
{
    if (rt_rank(r) > 1)
        return RT_OK; /* only the pair measures */
    unsigned char *buf = calloc(1, sizes[NSIZES - 1]);
    if (!buf)
        return rt_fail(r, RT_ENOMEM, "alpha-beta: no memory for a %zu-byte message", sizes[NSIZES - 1]);
    double t[NSIZES];
    int rc = RT_OK;
    for (int i = 0; i < NSIZES && !rc; i++)
        rc = oneway(r, buf, sizes[i], &t[i]);
    free(buf);
    if (!rc && rt_rank(r) == 0)
        fit(t, alpha_s, beta_s_per_byte);
    return rc;
}
