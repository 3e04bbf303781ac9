/* ticks.c -- axis ticks at round values, and their labels.
 *
 * reference: P. Heckbert, "Nice numbers for graph labels", Graphics Gems
 * (1990): a linear step is 1, 2 or 5 times a power of ten, chosen so the
 * axis gets about the number of ticks asked for; the axis range is the
 * data range rounded out to whole steps ("loose" labelling), so the first
 * and last ticks sit on the ends of the axis.
 *
 * Log axes: powers of ten when the data spans three decades or more
 * (every k-th one when there are too many); across one or two decades the
 * axis ends on whole mantissas (0.3 to 3) with 1-2-5 ticks between, and
 * every mantissa is ticked when even that gives too few.
 */
#include "plots/plot_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* The round number (1, 2 or 5 times 10^k) nearest to x. */
static double nice_step(double x)
{
    double e = floor(log10(x)), f = x / pow(10, e);
    double nf = f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10;
    return nf * pow(10, e);
}

/* Ticks every step over [lo, hi] rounded out to whole steps; -1 when
 * there would be more than max. */
static int linear_with(double lo, double hi, double step, int max, plot_ticks *t)
{
    double k0 = floor(lo / step + 1e-9), k1 = ceil(hi / step - 1e-9);
    if (!isfinite(k0) || !isfinite(k1) || !isfinite(k1 * step) || !isfinite(k0 * step) ||
        k1 - k0 + 1 > max || k1 - k0 + 1 > PLOT_MAX_TICKS)
        return -1;
    /* counted in whole ticks: past 2^53, k + 1 == k */
    int n = (int)(k1 - k0) + 1;
    t->n = 0;
    for (int i = 0; i < n; i++) {
        double k = k0 + i;
        t->v[t->n++] = fabs(k) < 0.5 ? 0.0 : k * step;
    }
    t->lo = t->v[0];
    t->hi = t->v[t->n - 1];
    t->step = step;
    return 0;
}

static int linear_ticks(double lo, double hi, int target, plot_ticks *t)
{
    /* One value, or values too close for a double to tell ticks between
     * them apart (1e20 and 1e20 + 1e5): show a small range around them. */
    if (hi - lo <= 1e-12 * fmax(fabs(lo), fabs(hi))) {
        double d = lo == 0 ? 1 : fabs(lo) * 0.1;
        lo -= d;
        hi += d;
    }
    if (!isfinite(hi - lo)) /* wider than a double: no round step */
        return -1;
    /* The round step nearest to the target, unless the next finer one
     * still fits and wastes less of the axis (0 to 5 by 1, not 0 to 6 by 2
     * for data up to 4.75). Rounding out can add a tick at each end; take
     * coarser steps while that leaves too many. */
    double step = nice_step((hi - lo) / (target - 1));
    plot_ticks fine;
    if (linear_with(lo, hi, nice_step(step * 0.45), target + 2, &fine) == 0 &&
        linear_with(lo, hi, step, PLOT_MAX_TICKS, t) == 0 && fine.hi - fine.lo < t->hi - t->lo) {
        *t = fine;
        return 0;
    }
    while (linear_with(lo, hi, step, target + 3, t) != 0)
        if (!((step = nice_step(step * 2.01)) > 0 && isfinite(step))) /* 0: below the subnormals */
            return -1;
    return 0;
}

/* Ticks m * base^k for m in mant[]: the smallest covering [lo, hi]. */
static int log_ticks_with(double lo, double hi, double base, const double *mant, int nm,
                          int stride, plot_ticks *t)
{
    double k0 = floor(log(lo) / log(base) + 1e-9), k1 = ceil(log(hi) / log(base) - 1e-9);
    if (stride > 1) { /* keep powers on a grid of stride so ticks stay regular */
        k0 = floor(k0 / stride) * stride;
        k1 = ceil(k1 / stride) * stride;
    }
    double vals[PLOT_MAX_TICKS * 2];
    int n = 0;
    for (double k = k0; k <= k1; k += stride)
        for (int i = 0; i < nm; i++) {
            double v = mant[i] * pow(base, k);
            if (n == (int)(sizeof vals / sizeof vals[0]))
                return -1;
            vals[n++] = v;
        }
    /* Trim to the last tick at or below lo and the first at or above hi. */
    int a = 0, b = n - 1;
    while (a + 1 < n && vals[a + 1] <= lo * (1 + 1e-12))
        a++;
    while (b - 1 >= 0 && vals[b - 1] >= hi * (1 - 1e-12))
        b--;
    if (b - a + 1 > PLOT_MAX_TICKS)
        return -1;
    t->n = 0;
    for (int i = a; i <= b; i++)
        t->v[t->n++] = vals[i];
    t->lo = t->v[0];
    t->hi = t->v[t->n - 1];
    t->step = 0;
    return 0;
}

static int log10_ticks(double lo, double hi, int target, plot_ticks *t)
{
    static const double one[] = {1}, ones[] = {1, 2, 5}, all[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    if (hi == lo) {
        lo /= 2;
        hi *= 2;
    }
    double decades = log10(hi) - log10(lo);
    if (decades >= 2.5) {
        int stride = 1;
        while (decades / stride + 2 > target + 3 && stride < 1000)
            stride++;
        return log_ticks_with(lo, hi, 10, one, 1, stride, t);
    }
    /* End the axis on the nearest whole mantissa (0.3, not 0.5), then
     * tick the 1-2-5 values between the ends, or every mantissa if those
     * are too few. */
    plot_ticks ends, mid;
    if (log_ticks_with(lo, hi, 10, all, 9, 1, &ends) != 0)
        return -1;
    double a = ends.lo, b = ends.hi;
    if (log_ticks_with(a, b, 10, ones, 3, 1, &mid) == 0) {
        /* interior 1-2-5 ticks; an end gets a tick of its own only when
         * its label cannot crowd the next one (0.09 next to 0.1) */
        double in[PLOT_MAX_TICKS];
        int nin = 0;
        for (int i = 0; i < mid.n; i++)
            if (mid.v[i] >= a * (1 - 1e-9) && mid.v[i] <= b * (1 + 1e-9))
                in[nin++] = mid.v[i];
        if (nin >= 2) {
            t->n = 0;
            if (in[0] / a >= 1.6)
                t->v[t->n++] = a;
            for (int i = 0; i < nin; i++)
                t->v[t->n++] = in[i];
            if (b / in[nin - 1] >= 1.6)
                t->v[t->n++] = b;
            t->lo = a;
            t->hi = b;
            if (t->n >= 4)
                return 0;
        }
    }
    *t = ends;
    return 0;
}

static int log2_ticks(double lo, double hi, int target, plot_ticks *t)
{
    static const double one[] = {1};
    if (hi == lo) {
        lo /= 2;
        hi *= 2;
    }
    double octaves = log2(hi) - log2(lo);
    int stride = 1;
    while (octaves / stride + 1 > target + 3 && stride < 1000)
        stride++;
    return log_ticks_with(lo, hi, 2, one, 1, stride, t);
}

int plot_ticks_choose(double lo, double hi, plot_scale scale, int target, plot_ticks *t)
{
    memset(t, 0, sizeof *t);
    if (!isfinite(lo) || !isfinite(hi))
        return -1;
    if (lo > hi) {
        double s = lo;
        lo = hi;
        hi = s;
    }
    if (target < 2)
        target = 2;
    if (target > PLOT_MAX_TICKS / 2)
        target = PLOT_MAX_TICKS / 2;
    switch (scale) {
    case PLOT_LOG10:
        return lo > 0 ? log10_ticks(lo, hi, target, t) : -1;
    case PLOT_LOG2:
        return lo > 0 ? log2_ticks(lo, hi, target, t) : -1;
    default:
        return linear_ticks(lo, hi, target, t);
    }
}

/* A decimal with a fixed number of decimals (so one axis's labels line
 * up: 0.0, 0.5, 1.0), with a real minus sign. */
static void decimal(double v, int decimals, char *buf, size_t len)
{
    char tmp[64];
    decimals = decimals < 0 ? 0 : decimals;
    snprintf(tmp, sizeof tmp, "%.*f", decimals, fabs(v));
    int zero = strspn(tmp, "0.") == strlen(tmp);
    snprintf(buf, len, "%s%s", v < 0 && !zero ? "\u2212" : "", tmp);
}

/* An exponent for <sup>, with a real minus sign. */
static const char *exponent(int e, char *buf, size_t len)
{
    snprintf(buf, len, "%s%d", e < 0 ? "\u2212" : "", e < 0 ? -e : e);
    return buf;
}

void plot_tick_label(double v, const plot_ticks *t, plot_scale scale, char *buf, size_t len)
{
    char ex[16];
    if (v == 0 && scale != PLOT_LINEAR) {
        snprintf(buf, len, "0");
        return;
    }
    if (v == 0 && t->step > 0) {
        decimal(0, -(int)floor(log10(t->step) + 1e-9), buf, len);
        return;
    }
    double mag = fabs(v);
    if (!isfinite(mag) || (scale == PLOT_LINEAR && !(t->step > 0 && isfinite(t->step)))) {
        snprintf(buf, len, "%g", v); /* not from plot_ticks_choose */
        return;
    }
    int e = (int)floor(log10(mag) + 1e-9);
    if (scale == PLOT_LINEAR) {
        double big = fmax(fabs(t->lo), fabs(t->hi));
        int ebig = (int)floor(log10(big) + 1e-9);
        int estep = (int)floor(log10(t->step) + 1e-9);
        if (ebig >= 6 || ebig <= -4) { /* scientific: mantissa x 10^e */
            char m[64];
            decimal(v / pow(10, e), e - estep, m, sizeof m);
            if (strchr(m, '.')) { /* mantissas read best short: 2.5, 1 */
                char *end = m + strlen(m) - 1;
                while (*end == '0')
                    *end-- = '\0';
                if (*end == '.')
                    *end = '\0';
            }
            if (strcmp(m, "1") == 0)
                snprintf(buf, len, "10<sup>%s</sup>", exponent(e, ex, sizeof ex));
            else if (strcmp(m, "\u22121") == 0)
                snprintf(buf, len, "\u221210<sup>%s</sup>", exponent(e, ex, sizeof ex));
            else
                snprintf(buf, len, "%s\u00d710<sup>%s</sup>", m, exponent(e, ex, sizeof ex));
            return;
        }
        decimal(v, -estep, buf, len);
        return;
    }
    /* log axes: plain numbers for moderate magnitudes, else powers */
    double m = v / pow(10, e);
    if (e >= -3 && e <= 4) {
        snprintf(buf, len, "%.6g", v);
        return;
    }
    if (fabs(m - 1) < 1e-9)
        snprintf(buf, len, "10<sup>%s</sup>", exponent(e, ex, sizeof ex));
    else
        snprintf(buf, len, "%.0f\u00d710<sup>%s</sup>", m, exponent(e, ex, sizeof ex));
}
