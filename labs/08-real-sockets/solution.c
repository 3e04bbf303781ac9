/* solution.c -- lab 08, calibration: alpha and beta from a pingpong.
 *
 * Rank 0 and rank 1 bounce a message of each size back and forth; half a
 * round trip is the one-way time t(n). The line alpha + n beta through
 * the points, fitted by least squares with each point weighted 1 / t^2
 * (its relative error counts, so the 8-byte message, which decides alpha,
 * weighs as much as the 1 MiB one, which decides beta), is the path's
 * model. distlab calibrate does the same (cli/verb_calibrate.c).
 */
#include <stdlib.h>

#include "algorithms/plugin.h"

static const size_t sizes[] = {8, 1024, 16384, 262144, 1048576};
#define NSIZES (int)(sizeof sizes / sizeof *sizes)
#define ROUNDS 20 /* timed round trips per size, after one untimed */

/* Half the mean round trip of n bytes, on rank 0 (rank 1 answers). */
static int oneway(rt *r, unsigned char *buf, size_t n, double *t_s)
{
    int me = rt_rank(r), rc = RT_OK;
    double t0 = 0;
    for (int k = -1; k < ROUNDS && !rc; k++) {
        if (k == 0)
            t0 = rt_now(r); /* the first round trip warms the path up */
        if (me == 0) {
            rc = rt_send(r, 1, 0, buf, n);
            if (!rc)
                rc = rt_recv(r, 1, 0, buf, n, NULL);
        } else {
            rc = rt_recv(r, 0, 0, buf, n, NULL);
            if (!rc)
                rc = rt_send(r, 0, 0, buf, n);
        }
    }
    *t_s = (rt_now(r) - t0) / (2.0 * ROUNDS);
    return rc;
}

/* The weighted least-squares line through (x, y): minimise
 * sum ((a + b x - y) / y)^2. A noisy machine can still tilt it below
 * zero: then the smallest message's time is alpha, the largest's sets beta. */
static void fit(const double *y, double *alpha, double *beta)
{
    double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (int i = 0; i < NSIZES; i++) {
        double x = (double)sizes[i], w = 1 / (y[i] * y[i]);
        sw += w;
        sx += w * x;
        sy += w * y[i];
        sxx += w * x * x;
        sxy += w * x * y[i];
    }
    double det = sw * sxx - sx * sx;
    *beta = (sw * sxy - sx * sy) / det;
    *alpha = (sxx * sy - sx * sxy) / det;
    if (!(*alpha > 0))
        *alpha = y[0];
    if (!(*beta > 0))
        *beta = (y[NSIZES - 1] - *alpha > 0 ? y[NSIZES - 1] - *alpha : y[NSIZES - 1] / 2) /
                (double)sizes[NSIZES - 1];
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
