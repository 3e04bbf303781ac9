/* test_plots.c -- the figure library: ticks land on round values over a
 * grid of ranges (linear, log, crossing zero), files come out in the
 * format and size asked for, the plot area holds ink, every series' colour
 * reaches the pixels, and thousands of timeline events draw fast.
 *
 * DISTLAB_KEEP_FIGURES=DIR keeps the figures in DIR for a look.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cairo.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "plots/plot.h"
#include "core/analysis.h"
#include "plots/plot_internal.h"
#include "tests/util_files.h"

static char outdir[256];
static int keep;

static int setup(void **state)
{
    (void)state;
    const char *k = getenv("DISTLAB_KEEP_FIGURES");
    if (k && *k) {
        snprintf(outdir, sizeof outdir, "%s", k);
        mkdir(outdir, 0777);
        keep = 1;
        return 0;
    }
    return test_tmpdir(outdir, sizeof outdir, "plots");
}

static int teardown(void **state)
{
    (void)state;
    if (keep)
        return 0;
    return test_rmtree(outdir);
}

static const char *out(const char *name)
{
    static char buf[4][400];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof buf[i], "%s/%s", outdir, name);
    return buf[i];
}

/* ---- ticks ---- */

static int is_round_step(double step)
{
    double e = floor(log10(step) + 1e-9), m = step / pow(10, e);
    return fabs(m - 1) < 1e-9 || fabs(m - 2) < 1e-9 || fabs(m - 5) < 1e-9;
}

static void check_linear(double lo, double hi)
{
    plot_ticks t;
    if (lo > hi) { /* the axis takes either order */
        double s = lo;
        lo = hi;
        hi = s;
    }
    if (plot_ticks_choose(lo, hi, PLOT_LINEAR, 6, &t) != 0)
        fail_msg("no ticks for [%g, %g]", lo, hi);
    if (t.n < 3 || t.n > 10)
        fail_msg("[%g, %g]: %d ticks", lo, hi, t.n);
    if (!is_round_step(t.step))
        fail_msg("[%g, %g]: step %g is not 1, 2 or 5 x 10^k", lo, hi, t.step);
    for (int i = 0; i < t.n; i++) {
        double k = t.v[i] / t.step;
        if (fabs(k - round(k)) > 1e-6)
            fail_msg("[%g, %g]: tick %.17g is not a multiple of %g", lo, hi, t.v[i], t.step);
        if (i && fabs(t.v[i] - t.v[i - 1] - t.step) > 1e-9 * t.step * (1 + fabs(k)))
            fail_msg("[%g, %g]: ticks %g, %g not one step apart", lo, hi, t.v[i - 1], t.v[i]);
    }
    if (lo != hi && (t.lo > lo + 1e-12 * fabs(lo) || t.hi < hi - 1e-12 * fabs(hi)))
        fail_msg("[%g, %g]: axis [%g, %g] does not cover the data", lo, hi, t.lo, t.hi);
    if (lo != hi && (t.lo <= lo - t.step || t.hi >= hi + t.step))
        fail_msg("[%g, %g]: axis [%g, %g] is a whole step too loose", lo, hi, t.lo, t.hi);
    if (lo < 0 && hi > 0) {
        int zero = 0;
        for (int i = 0; i < t.n; i++)
            zero |= t.v[i] == 0.0;
        if (!zero)
            fail_msg("[%g, %g]: crosses zero but 0 is not a tick", lo, hi);
    }
}

static void test_ticks_linear_grid(void **state)
{
    (void)state;
    static const double spans[] = {1e-7, 3e-4, 0.013, 0.5, 1, 2.7, 9.99, 10, 47.3, 333, 1e4, 7.7e6, 2.5e12};
    static const double offsets[] = {0, -0.5, -1, 0.1, 0.37, 3.3, -42.1, 1e3};
    for (size_t i = 0; i < sizeof spans / sizeof spans[0]; i++)
        for (size_t j = 0; j < sizeof offsets / sizeof offsets[0]; j++) {
            double lo = offsets[j] * spans[i];
            check_linear(lo, lo + spans[i]);
        }
    check_linear(-3.2, 7.9);     /* crosses zero */
    check_linear(-1e-3, 1e-3);
    check_linear(2.31, 0.28);    /* reversed */
    check_linear(5, 5);          /* one value */
    check_linear(0, 0);
    plot_ticks t;
    assert_int_equal(plot_ticks_choose(0, NAN, PLOT_LINEAR, 5, &t), -1);
    assert_int_equal(plot_ticks_choose(-INFINITY, 1, PLOT_LINEAR, 5, &t), -1);
    /* a known answer */
    assert_int_equal(plot_ticks_choose(0.28, 2.31, PLOT_LINEAR, 5, &t), 0);
    assert_float_equal(t.step, 0.5, 1e-12);
    assert_float_equal(t.lo, 0, 1e-12);
    assert_float_equal(t.hi, 2.5, 1e-12);
}

/* Ranges a hand-edited run folder can give an axis: no hang, no
 * overflow of the tick array, no undefined behaviour in the labels; the
 * ticks that come back are finite and in order. */
static void test_ticks_extreme_ranges(void **state)
{
    (void)state;
    double one = 1e20, two_ulps = nextafter(nextafter(one, INFINITY), INFINITY);
    const double ranges[][2] = {
        {one, two_ulps},    /* k + 1 == k at 1e16 steps: looped for ever */
        {-1e308, 1e308},    /* wider than a double */
        {0, 1.7e308},       {1e308, 1e308},  {-DBL_MAX, -DBL_MAX}, {0, 5e-324},
        {1e-300, 2e-300},   {-1e15, 1e15},
    };
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
        for (int scale = PLOT_LINEAR; scale <= PLOT_LOG2; scale++) {
            plot_ticks t;
            if (plot_ticks_choose(ranges[i][0], ranges[i][1], (plot_scale)scale, 6, &t) != 0)
                continue; /* the axis then falls back to [0, 1] */
            if (t.n < 1 || t.n > PLOT_MAX_TICKS)
                fail_msg("[%g, %g] scale %d: %d ticks", ranges[i][0], ranges[i][1], scale, t.n);
            for (int k = 0; k < t.n; k++) {
                char buf[64];
                plot_tick_label(t.v[k], &t, (plot_scale)scale, buf, sizeof buf);
                if (k && !(t.v[k] > t.v[k - 1]))
                    fail_msg("[%g, %g] scale %d: ticks %g, %g", ranges[i][0], ranges[i][1], scale,
                             t.v[k - 1], t.v[k]);
            }
        }
}

static void check_log(double lo, double hi, plot_scale scale)
{
    plot_ticks t;
    double base = scale == PLOT_LOG2 ? 2 : 10;
    if (plot_ticks_choose(lo, hi, scale, 6, &t) != 0)
        fail_msg("no log ticks for [%g, %g]", lo, hi);
    if (t.n < 2 || t.n > 16)
        fail_msg("log [%g, %g]: %d ticks", lo, hi, t.n);
    if (t.lo > lo * (1 + 1e-12) || t.hi < hi * (1 - 1e-12))
        fail_msg("log [%g, %g]: axis [%g, %g] does not cover the data", lo, hi, t.lo, t.hi);
    for (int i = 0; i < t.n; i++) {
        double e = floor(log(t.v[i]) / log(base) + 1e-9), m = t.v[i] / pow(base, e);
        if (fabs(m - round(m)) > 1e-9 || (scale == PLOT_LOG2 && fabs(m - 1) > 1e-9))
            fail_msg("log [%g, %g]: tick %.17g is not a round value", lo, hi, t.v[i]);
        if (i && t.v[i] <= t.v[i - 1])
            fail_msg("log [%g, %g]: ticks not increasing", lo, hi);
    }
    /* wide ranges: powers of the base only */
    if (scale == PLOT_LOG10 && log10(hi / lo) >= 3)
        for (int i = 0; i < t.n; i++)
            if (fabs(log10(t.v[i]) - round(log10(t.v[i]))) > 1e-9)
                fail_msg("log [%g, %g]: tick %g is not a power of ten", lo, hi, t.v[i]);
}

static void test_ticks_log(void **state)
{
    (void)state;
    static const double los[] = {1e-9, 3e-4, 0.05, 0.28, 1, 7, 1234};
    static const double ratios[] = {1.3, 2, 4.5, 10, 31, 1e3, 1e6, 1e15};
    for (size_t i = 0; i < sizeof los / sizeof los[0]; i++)
        for (size_t j = 0; j < sizeof ratios / sizeof ratios[0]; j++) {
            check_log(los[i], los[i] * ratios[j], PLOT_LOG10);
            check_log(los[i], los[i] * ratios[j], PLOT_LOG2);
        }
    plot_ticks t;
    assert_int_equal(plot_ticks_choose(0, 10, PLOT_LOG10, 5, &t), -1);
    assert_int_equal(plot_ticks_choose(-1, 10, PLOT_LOG2, 5, &t), -1);
    /* a known answer: workers 1..64 on a log2 axis */
    assert_int_equal(plot_ticks_choose(1, 64, PLOT_LOG2, 8, &t), 0);
    assert_int_equal(t.n, 7);
    assert_float_equal(t.v[3], 8, 0);
}

/* ---- files ---- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A PNG of w x h pixels, by its signature and IHDR. */
static void check_png(const char *path, int w, int h)
{
    unsigned char b[24];
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("%s was not written", path);
    assert_int_equal(fread(b, 1, sizeof b, f), sizeof b);
    fclose(f);
    assert_memory_equal(b, "\x89PNG\r\n\x1a\n", 8);
    assert_memory_equal(b + 12, "IHDR", 4);
    assert_int_equal(be32(b + 16), w);
    assert_int_equal(be32(b + 20), h);
}

static void check_header(const char *path, const char *magic, const char *also)
{
    char b[512] = "";
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("%s was not written", path);
    size_t n = fread(b, 1, sizeof b - 1, f);
    fclose(f);
    b[n] = '\0';
    assert_true(n > 0);
    if (strncmp(b, magic, strlen(magic)) != 0 || (also && !strstr(b, also)))
        fail_msg("%s does not start as a %s file", path, magic);
}

typedef struct image {
    cairo_surface_t *s;
    int w, h, stride;
    unsigned char *data;
} image;

static image load_png(const char *path)
{
    image im;
    im.s = cairo_image_surface_create_from_png(path);
    assert_int_equal(cairo_surface_status(im.s), CAIRO_STATUS_SUCCESS);
    cairo_surface_flush(im.s);
    im.w = cairo_image_surface_get_width(im.s);
    im.h = cairo_image_surface_get_height(im.s);
    im.stride = cairo_image_surface_get_stride(im.s);
    im.data = cairo_image_surface_get_data(im.s);
    return im;
}

static unsigned pixel(const image *im, int x, int y)
{
    uint32_t v = *(const uint32_t *)(im->data + (size_t)y * im->stride + (size_t)x * 4);
    return v & 0xFFFFFF;
}

/* Pixels of exactly this colour in the box (fractions of the image). */
static long count_colour(const image *im, unsigned rgb, double fx0, double fy0, double fx1, double fy1)
{
    long n = 0;
    for (int y = (int)(fy0 * im->h); y < (int)(fy1 * im->h); y++)
        for (int x = (int)(fx0 * im->w); x < (int)(fx1 * im->w); x++)
            n += pixel(im, x, y) == rgb;
    return n;
}

/* Pixels darker than mid-grey in every channel: text, not grid lines. */
static long count_dark(const image *im, double fx0, double fy0, double fx1, double fy1)
{
    long n = 0;
    for (int y = (int)(fy0 * im->h); y < (int)(fy1 * im->h); y++)
        for (int x = (int)(fx0 * im->w); x < (int)(fx1 * im->w); x++) {
            unsigned p = pixel(im, x, y);
            n += (p >> 16 & 0xFF) < 0x80 && (p >> 8 & 0xFF) < 0x80 && (p & 0xFF) < 0x80;
        }
    return n;
}

static long count_not_white(const image *im, double fx0, double fy0, double fx1, double fy1)
{
    long n = 0;
    for (int y = (int)(fy0 * im->h); y < (int)(fy1 * im->h); y++)
        for (int x = (int)(fx0 * im->w); x < (int)(fx1 * im->w); x++)
            n += pixel(im, x, y) != 0xFFFFFF;
    return n;
}

/* Four fake training runs converging at different speeds. */
#define NPTS 120
static double xs[NPTS], ys[4][NPTS];
static plot_series conv[4];

static void make_convergence(void)
{
    static const char *const names[] = {"allreduce, 8 workers", "ps, 8 workers", "hogwild, 8 workers",
                                        "local SGD, 8 workers"};
    static const double speed[] = {1.0, 0.6, 1.4, 0.85}, floor_[] = {0.28, 0.31, 0.35, 0.29};
    unsigned seed = 7;
    for (int i = 0; i < NPTS; i++)
        xs[i] = 0.25 * i;
    for (int k = 0; k < 4; k++) {
        for (int i = 0; i < NPTS; i++) {
            seed = seed * 1103515245u + 12345u;
            double noise = ((seed >> 16) & 0x7FFF) / 32768.0 - 0.5;
            ys[k][i] = floor_[k] + 2.0 * exp(-xs[i] * speed[k] / 4) + 0.03 * noise * exp(-xs[i] / 20);
        }
        conv[k] = (plot_series){names[k], xs, ys[k], NPTS, 0};
    }
}

static void test_lines_png(void **state)
{
    (void)state;
    char err[512];
    make_convergence();
    plot_lines_spec spec = {.opts = plot_opts_default(), .series = conv, .nseries = 4};
    spec.opts.title = "Fashion-MNIST, softmax regression";
    spec.opts.x.label = "simulated time (s)";
    spec.opts.y.label = "training loss";
    spec.opts.x.min = 0;
    spec.opts.width_in = 3.5;
    spec.opts.height_in = 2.45;
    spec.opts.dpi = 200;
    const char *path = out("convergence.png");
    if (plot_lines(path, &spec, err, sizeof err))
        fail_msg("%s", err);
    check_png(path, 700, 490);
    image im = load_png(path);
    /* the plot area holds ink; every series' colour reaches the pixels */
    assert_true(count_not_white(&im, 0.2, 0.2, 0.9, 0.8) > 2000);
    for (int k = 0; k < 4; k++)
        if (count_colour(&im, plot_palette(k), 0, 0, 1, 1) < 50)
            fail_msg("series %d's colour %06x is not in the image", k, plot_palette(k));
    cairo_surface_destroy(im.s);

    spec.opts.y.scale = PLOT_LOG10;
    spec.opts.y.label = "training loss (log scale)";
    if (plot_lines(out("convergence-logy.png"), &spec, err, sizeof err))
        fail_msg("%s", err);
}

static void test_vector_formats(void **state)
{
    (void)state;
    char err[512];
    make_convergence();
    plot_lines_spec spec = {.opts = plot_opts_default(), .series = conv, .nseries = 4};
    spec.opts.x.label = "time (s)";
    spec.opts.y.label = "loss";
    if (plot_lines(out("convergence.svg"), &spec, err, sizeof err) ||
        plot_lines(out("convergence.pdf"), &spec, err, sizeof err) ||
        plot_lines(out("convergence-upper.PDF"), &spec, err, sizeof err))
        fail_msg("%s", err);
    check_header(out("convergence.svg"), "<?xml", "<svg");
    check_header(out("convergence.svg"), "<?xml", "width=\"252pt\""); /* 3.5 in default */
    check_header(out("convergence.pdf"), "%PDF-", NULL);
    check_header(out("convergence-upper.PDF"), "%PDF-", NULL);
}

static void test_errors(void **state)
{
    (void)state;
    char err[512] = "";
    make_convergence();
    plot_lines_spec spec = {.opts = plot_opts_default(), .series = conv, .nseries = 4};
    assert_int_equal(plot_lines(out("figure.jpg"), &spec, err, sizeof err), -1);
    assert_non_null(strstr(err, ".png, .svg or .pdf"));
    assert_int_equal(plot_lines(out("no/such/dir/figure.png"), &spec, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot write"));
    assert_int_equal(plot_lines(out("no/such/dir/figure.pdf"), &spec, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot write"));
    double nan_y[2] = {NAN, NAN}, x[2] = {0, 1};
    plot_series empty = {"empty", x, nan_y, 2, 0};
    spec.series = &empty;
    spec.nseries = 1;
    assert_int_equal(plot_lines(out("empty.png"), &spec, err, sizeof err), -1);
    assert_non_null(strstr(err, "nothing to plot"));
    spec.nseries = 0;
    assert_int_equal(plot_lines(out("none.png"), &spec, err, sizeof err), -1);
}

/* An 8-rank ring allreduce with a straggler: compute, then 2(p-1) steps
 * of send + recv, the wait for the slowest, 40 iterations. */
static rt_event *make_ring_events(int ranks, int iters, size_t *n)
{
    size_t cap = (size_t)ranks * iters * (2 + 8 * (ranks - 1)), k = 0;
    rt_event *ev = malloc(cap * sizeof *ev);
    assert_non_null(ev);
    double t = 0;
    for (int it = 0; it < iters; it++) {
        double slowest = 0;
        for (int r = 0; r < ranks; r++)
            slowest = fmax(slowest, (r == 5 ? 0.0145 : 0.010) + 0.0004 * ((r * 7 + it) % 3));
        for (int r = 0; r < ranks; r++) {
            double c = (r == 5 ? 0.0145 : 0.010) + 0.0004 * ((r * 7 + it) % 3);
            ev[k++] = (rt_event){r, RT_EV_COMPUTE, t, t + c, 0, -1, 0};
            ev[k++] = (rt_event){r, RT_EV_WAIT, t + c, t + slowest, 0, -1, 0};
            double s = t + slowest;
            for (int step = 0; step < 2 * (ranks - 1); step++) {
                double d = 0.0006;
                ev[k++] = (rt_event){r, RT_EV_SEND, s, s + d * 0.9, 1 << 20, (r + 1) % ranks, step};
                ev[k++] = (rt_event){r, RT_EV_RECV, s, s + d, 1 << 20, (r + ranks - 1) % ranks, step};
                ev[k++] = (rt_event){r, RT_EV_WAIT, s + 0.00005, s + d, 0, -1, 0};
                ev[k++] = (rt_event){r, RT_EV_COMPUTE, s + d, s + d + 0.0001, 0, -1, 0};
                s += d + 0.0001;
            }
        }
        t += slowest + 2 * (ranks - 1) * 0.0007;
    }
    *n = k;
    return ev;
}

static void test_timeline_png(void **state)
{
    (void)state;
    char err[512];
    size_t n;
    rt_event *ev = make_ring_events(8, 40, &n);
    plot_timeline_spec spec = {.opts = plot_opts_default(), .events = ev, .nevents = n};
    spec.opts.title = "ring allreduce, 8 workers (sim)";
    spec.opts.dpi = 150;
    const char *path = out("timeline.png");
    if (plot_timeline(path, &spec, err, sizeof err))
        fail_msg("%s", err);
    check_png(path, 7 * 150, (int)lround((0.95 + 0.2 * 8) * 150));
    image im = load_png(path);
    for (int k = 0; k < RT_EV_KINDS; k++)
        if (count_colour(&im, plot_kind_colour(k), 0.1, 0.15, 1, 0.85) < 50)
            fail_msg("%s intervals (%06x) are not in the image", rt_event_kind_name(k), plot_kind_colour(k));
    cairo_surface_destroy(im.s);

    /* a window: the first two iterations, in milliseconds */
    spec.opts.x.min = 0;
    spec.opts.x.max = 0.045;
    if (plot_timeline(out("timeline-window.png"), &spec, err, sizeof err))
        fail_msg("%s", err);
    /* zoomed in, the ring's steps show as communication: blocked while
     * one's own message is on the wire */
    im = load_png(out("timeline-window.png"));
    if (count_colour(&im, plot_kind_colour(ANALYSIS_EV_COMM), 0.1, 0.15, 1, 0.85) < 50)
        fail_msg("no communication (%06x) in the zoomed timeline", plot_kind_colour(ANALYSIS_EV_COMM));
    cairo_surface_destroy(im.s);
    spec.opts.x.min = 100;
    spec.opts.x.max = 200;
    assert_int_equal(plot_timeline(out("timeline-empty.png"), &spec, err, sizeof err), -1);
    assert_non_null(strstr(err, "no events"));
    free(ev);
}

/* The row of the image holding the most pixels of colour rgb. */
static int busiest_row(const image *im, unsigned rgb, long *count)
{
    int best = 0;
    *count = -1;
    for (int y = 0; y < im->h; y++) {
        long n = count_colour(im, rgb, 0, (double)y / im->h, 1, (double)(y + 1) / im->h);
        if (n > *count) {
            *count = n;
            best = y;
        }
    }
    return best;
}

/* Half compute, half wait: the row's pixels split evenly. And 100000
 * sub-pixel intervals, 30% compute: every column shows the same mix. */
static void test_timeline_binning(void **state)
{
    (void)state;
    char err[512];
    rt_event two[2] = {{0, RT_EV_COMPUTE, 0, 0.5, 0, -1, 0}, {0, RT_EV_WAIT, 0.5, 1.0, 0, -1, 0}};
    plot_timeline_spec spec = {.opts = plot_opts_default(), .events = two, .nevents = 2};
    spec.opts.dpi = 100;
    if (plot_timeline(out("timeline-halves.png"), &spec, err, sizeof err))
        fail_msg("%s", err);
    image im = load_png(out("timeline-halves.png"));
    long nc, nw;
    int y = busiest_row(&im, plot_kind_colour(RT_EV_COMPUTE), &nc);
    nw = count_colour(&im, plot_kind_colour(RT_EV_WAIT), 0, (double)y / im.h, 1, (double)(y + 1) / im.h);
    cairo_surface_destroy(im.s);
    if (nc < 100 || labs(nc - nw) > 2)
        fail_msg("compute %ld pixels, wait %ld pixels: not half and half", nc, nw);

    enum { N = 100000 };
    rt_event *ev = malloc(N * sizeof *ev);
    assert_non_null(ev);
    for (int i = 0; i < N / 2; i++) {
        double t = 2.0 * i / N;
        ev[2 * i] = (rt_event){0, RT_EV_COMPUTE, t, t + 0.3 * 2.0 / N, 0, -1, 0};
        ev[2 * i + 1] = (rt_event){0, RT_EV_WAIT, t + 0.3 * 2.0 / N, t + 2.0 / N, 0, -1, 0};
    }
    spec.events = ev;
    spec.nevents = N;
    if (plot_timeline(out("timeline-mixed.png"), &spec, err, sizeof err))
        fail_msg("%s", err);
    free(ev);
    /* compute's share in sixteenths, as the timeline quantises it */
    double t = round(16 * 0.3) / 16;
    unsigned a = plot_kind_colour(RT_EV_WAIT), b = plot_kind_colour(RT_EV_COMPUTE), want = 0;
    for (int sh = 0; sh <= 16; sh += 8)
        want |= (unsigned)lround(((a >> sh) & 0xFF) + ((double)((b >> sh) & 0xFF) - ((a >> sh) & 0xFF)) * t) << sh;
    im = load_png(out("timeline-mixed.png"));
    long nmix;
    busiest_row(&im, want, &nmix);
    cairo_surface_destroy(im.s);
    if (nmix < 500)
        fail_msg("only %ld pixels of the 30%% compute mix %06x in a row", nmix, want);
}

/* Spans get a band of their own, a colour per name by its index; a
 * window keeps the colours; past eight names the least used share
 * "other spans". */
static void test_timeline_spans(void **state)
{
    (void)state;
    char err[512];
    static const char *const names[] = {"fetch", "Worker.step"};
    rt_event ev[] = {{0, RT_EV_COMPUTE, 0, 1, 0, -1, 0}, {0, RT_EV_SPAN, 0, 0.5, 0, -1, 1},
                     {1, RT_EV_SPAN, 0.6, 1, 64, 0, 0}, {1, RT_EV_WAIT, 0, 1, 0, -1, 0}};
    plot_timeline_spec spec = {.opts = plot_opts_default(), .events = ev, .nevents = 4,
                               .span_names = names, .nspan_names = 2};
    spec.opts.dpi = 60;
    if (plot_timeline(out("timeline-spans.png"), &spec, err, sizeof err))
        fail_msg("%s", err);
    image im = load_png(out("timeline-spans.png"));
    long step = count_colour(&im, plot_span_colour(1), 0.1, 0.3, 1, 0.85);
    long fetch = count_colour(&im, plot_span_colour(0), 0.1, 0.3, 1, 0.85);
    cairo_surface_destroy(im.s);
    if (step < 100 || fetch < 50)
        fail_msg("span colours: %ld pixels of Worker.step, %ld of fetch", step, fetch);
    spec.opts.x.min = 0;
    spec.opts.x.max = 0.4; /* only Worker.step: still its colour */
    if (plot_timeline(out("timeline-spans-window.png"), &spec, err, sizeof err))
        fail_msg("%s", err);
    im = load_png(out("timeline-spans-window.png"));
    step = count_colour(&im, plot_span_colour(1), 0.1, 0.3, 1, 0.85);
    fetch = count_colour(&im, plot_span_colour(0), 0, 0, 1, 1);
    cairo_surface_destroy(im.s);
    if (step < 100 || fetch != 0)
        fail_msg("window: %ld pixels of Worker.step, %ld of fetch", step, fetch);

    rt_event many[12];
    for (int i = 0; i < 12; i++) /* name i lasts 12 - i: names 8..11 are the least */
        many[i] = (rt_event){0, RT_EV_SPAN, i, i + (12 - i) / 12.0, 0, -1, i};
    spec = (plot_timeline_spec){.opts = plot_opts_default(), .events = many, .nevents = 12};
    spec.opts.dpi = 60;
    if (plot_timeline(out("timeline-spans-many.png"), &spec, err, sizeof err))
        fail_msg("%s", err);
    im = load_png(out("timeline-spans-many.png"));
    long other = count_colour(&im, plot_span_colour(8), 0.1, 0.3, 1, 0.85);
    cairo_surface_destroy(im.s);
    if (other < 20)
        fail_msg("%ld pixels of other spans", other);
}

static void test_timeline_many_events_fast(void **state)
{
    (void)state;
    char err[512];
    size_t n;
    rt_event *ev = make_ring_events(64, 160, &n); /* ~2.6 million intervals */
    assert_true(n > 1000000);
    plot_timeline_spec spec = {.opts = plot_opts_default(), .events = ev, .nevents = n};
    spec.opts.dpi = 100;
    /* This process's CPU time, not the wall clock: a busy machine must not
     * fail it. Merging intervals below a pixel makes it about a second;
     * drawing each of them would take minutes. */
    struct timespec a, b;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
    if (plot_timeline(out("timeline-64.png"), &spec, err, sizeof err))
        fail_msg("%s", err);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
    double s = (double)(b.tv_sec - a.tv_sec) + 1e-9 * (double)(b.tv_nsec - a.tv_nsec);
    if (s > 30)
        fail_msg("%zu events took %.2f s of CPU to draw", n, s);
    free(ev);
}

static void test_bars(void **state)
{
    (void)state;
    char err[512];
    static const char *const algos[] = {"allreduce", "ps", "hogwild", "local SGD", "DistBelief"};
    static const char *const parts[] = {"compute", "communication", "wait"};
    static const double split[] = {/* compute */ 6.1, 6.0, 6.3, 6.2, 6.0,
                                   /* communication */ 2.2, 4.1, 0.3, 0.8, 3.0,
                                   /* wait */ 0.9, 2.4, 0.1, 0.4, 1.9};
    plot_bars_spec spec = {.opts = plot_opts_default(), .ngroups = 5, .groups = algos, .nseries = 3,
                           .series = parts, .values = split, .stacked = 1};
    spec.opts.title = "Where the time goes (8 workers)";
    spec.opts.y.label = "time per epoch (s)";
    const char *path = out("bars-stacked.png");
    if (plot_bars(path, &spec, err, sizeof err))
        fail_msg("%s", err);
    image im = load_png(path);
    for (int s = 0; s < 3; s++) {
        unsigned want = plot_kind_colour(s == 0 ? RT_EV_COMPUTE : s == 1 ? ANALYSIS_EV_COMM : RT_EV_WAIT);
        if (count_colour(&im, want, 0, 0.1, 1, 1) < 200)
            fail_msg("stacked series %d's colour %06x is not in the image", s, want);
    }
    cairo_surface_destroy(im.s);

    static const char *const sizes[] = {"4", "8", "16", "32"};
    static const char *const algos3[] = {"allreduce", "ps", "hogwild"};
    static const double thr[] = {3.8, 7.1, 13.0, 22.5, 3.5, 5.9, 8.2, 9.0, 3.9, 7.6, 14.1, 26.0};
    plot_bars_spec g = {.opts = plot_opts_default(), .ngroups = 4, .groups = sizes, .nseries = 3,
                        .series = algos3, .values = thr};
    g.opts.x.label = "workers";
    g.opts.y.label = "throughput (10\u00b3 samples/s)";
    path = out("bars-grouped.png");
    if (plot_bars(path, &g, err, sizeof err))
        fail_msg("%s", err);
    im = load_png(path);
    for (int s = 0; s < 3; s++)
        if (count_colour(&im, plot_palette(s), 0, 0.1, 1, 1) < 200)
            fail_msg("grouped series %d's colour %06x is not in the image", s, plot_palette(s));
    cairo_surface_destroy(im.s);
    if (plot_bars(out("bars-grouped.svg"), &g, err, sizeof err))
        fail_msg("%s", err);
    check_header(out("bars-grouped.svg"), "<?xml", "<svg");

    /* value_format writes each bar's value over it: ink above a bar 200
     * times shorter than the other, where without it there is none */
    static const char *const two[] = {"ring", "one-shot"};
    static const char *const sent[] = {"bytes"};
    static const double vals[] = {100, 0.5};
    plot_bars_spec v = {.opts = plot_opts_default(), .ngroups = 2, .groups = two, .nseries = 1,
                        .series = sent, .values = vals};
    long ink[2];
    for (int with = 0; with < 2; with++) {
        v.value_format = with ? "%.3g" : NULL;
        path = out(with ? "bars-values.png" : "bars-no-values.png");
        if (plot_bars(path, &v, err, sizeof err))
            fail_msg("%s", err);
        im = load_png(path);
        ink[with] = count_dark(&im, 0.65, 0.7, 0.9, 0.87); /* where 0.5 is written */
        cairo_surface_destroy(im.s);
    }
    if (ink[0] != 0 || ink[1] < 20)
        fail_msg("ink over the short bar: %ld pixels without values, %ld with", ink[0], ink[1]);
}

static void test_scaling(void **state)
{
    (void)state;
    char err[512];
    static const double w[] = {1, 2, 4, 8, 16, 32, 64};
    double t[3][7];
    for (int i = 0; i < 7; i++) {
        t[0][i] = 100 / w[i] + 0.3 * log2(w[i]);       /* allreduce: log comm */
        t[1][i] = 100 / w[i] + 0.05 * w[i];            /* ps: server bottleneck */
        t[2][i] = 100 / w[i] + 0.02;                   /* local SGD: little comm */
    }
    plot_series s[3] = {{"allreduce", w, t[0], 7, 1}, {"parameter server", w, t[1], 7, 1},
                        {"local SGD", w, t[2], 7, 1}};
    plot_scaling_spec spec = {.opts = plot_opts_default(), .series = s, .nseries = 3};
    spec.opts.x.scale = spec.opts.y.scale = PLOT_LOG2;
    spec.opts.title = "Strong scaling, 10 Gb/s links";
    const char *path = out("scaling.png");
    if (plot_scaling(path, &spec, err, sizeof err))
        fail_msg("%s", err);
    image im = load_png(path);
    for (int k = 0; k < 3; k++)
        if (count_colour(&im, plot_palette(k), 0, 0, 1, 1) < 50)
            fail_msg("series %d's colour is not in the image", k);
    cairo_surface_destroy(im.s);
    spec.efficiency = 1;
    spec.opts.y.scale = PLOT_LINEAR;
    if (plot_scaling(out("efficiency.png"), &spec, err, sizeof err))
        fail_msg("%s", err);
}

static void check_label(double v, double lo, double hi, plot_scale scale, const char *want)
{
    plot_ticks t;
    char buf[64];
    assert_int_equal(plot_ticks_choose(lo, hi, scale, 6, &t), 0);
    plot_tick_label(v, &t, scale, buf, sizeof buf);
    if (strcmp(buf, want) != 0)
        fail_msg("label of %g on [%g, %g]: '%s', want '%s'", v, lo, hi, buf, want);
}

static void test_tick_labels(void **state)
{
    (void)state;
    check_label(0, 0, 2.3, PLOT_LINEAR, "0.0");        /* step 0.5: one decimal throughout */
    check_label(1, 0, 2.3, PLOT_LINEAR, "1.0");
    check_label(2.5, 0, 2.3, PLOT_LINEAR, "2.5");
    check_label(-20, -37, 41, PLOT_LINEAR, "\u221220"); /* a real minus sign */
    check_label(40, 3, 47, PLOT_LINEAR, "40");
    check_label(2.5e6, 0, 2.3e6, PLOT_LINEAR, "2.5\u00d710<sup>6</sup>");
    check_label(2e6, 0, 9.1e6, PLOT_LINEAR, "2\u00d710<sup>6</sup>");
    check_label(0.0002, 0, 0.00091, PLOT_LINEAR, "0.0002");
    check_label(2e-6, 0, 9.1e-6, PLOT_LINEAR, "2\u00d710<sup>\u22126</sup>");
    check_label(1e-6, 1e-9, 1e-3, PLOT_LOG10, "10<sup>\u22126</sup>");
    check_label(0.01, 0.005, 50, PLOT_LOG10, "0.01");
    check_label(1000, 1, 5000, PLOT_LOG10, "1000");
    check_label(0.25, 0.2, 64, PLOT_LOG2, "0.25");
    check_label(64, 1, 64, PLOT_LOG2, "64");
}

/* Data across the whole top of the plot area: the legend must go below
 * it, so the top holds no legend text (ink) and the bottom does. */
/* An exponent is set smaller than its base, and raised: "5x10<sup>-4</sup>"
 * is only a little wider and taller than "5x10" (Pango's own <sup> came
 * out several times too large next to an absolute font size). */
static void test_exponent_is_small(void **state)
{
    (void)state;
    canvas c;
    char err[256];
    assert_int_equal(canvas_open(&c, "/tmp/distlab-sup-test.png", 2, 1, 300, err, sizeof err), 0);
    double w0, h0, w1, h1;
    canvas_text_size(&c, "5\u00d710", 8, 0, &w0, &h0);
    canvas_text_size(&c, "5\u00d710<sup>\u22124</sup>", 8, 0, &w1, &h1);
    canvas_close(&c, 0, err, sizeof err);
    assert_true(w1 > w0);
    assert_true(w1 < 1.8 * w0);
    assert_true(h1 < 1.6 * h0);
}

static void test_legend_avoids_data(void **state)
{
    (void)state;
    char err[512];
    double x[2] = {0, 10}, y[3][2] = {{0.8, 0.8}, {0.9, 0.9}, {1.0, 0.85}};
    plot_series s[3] = {{"first series", x, y[0], 2, 0}, {"second series", x, y[1], 2, 0},
                        {"third series", x, y[2], 2, 0}};
    plot_lines_spec spec = {.opts = plot_opts_default(), .series = s, .nseries = 3};
    spec.opts.y.min = 0;
    spec.opts.y.max = 1.05;
    spec.opts.dpi = 150;
    const char *path = out("legend-low.png");
    if (plot_lines(path, &spec, err, sizeof err))
        fail_msg("%s", err);
    image im = load_png(path);
    long top = count_colour(&im, PLOT_INK, 0.2, 0.03, 0.97, 0.3);
    long bottom = count_colour(&im, PLOT_INK, 0.2, 0.45, 0.97, 0.8);
    cairo_surface_destroy(im.s);
    if (top != 0 || bottom < 50)
        fail_msg("legend text: %ld ink pixels over the data, %ld in the empty lower half", top, bottom);
}

/* Data everywhere: no spot inside is clear, so the legend goes above
 * the plot area and the interior holds no legend text. */
static void test_legend_above_when_crowded(void **state)
{
    (void)state;
    char err[512];
    enum { N = 200 };
    static double x[N], y[5][N];
    static const char *const names[] = {"ring allreduce, 64 workers", "tree allreduce, 64 workers",
                                        "parameter server, 64 workers", "Hogwild!, 64 workers",
                                        "DistBelief, 64 workers"};
    plot_series s[5];
    for (int k = 0; k < 5; k++) {
        for (int i = 0; i < N; i++) {
            x[i] = i;
            y[k][i] = 0.5 + 0.5 * sin(i * (0.13 + 0.05 * k) + k);
        }
        s[k] = (plot_series){names[k], x, y[k], N, 0};
    }
    plot_lines_spec spec = {.opts = plot_opts_default(), .series = s, .nseries = 5};
    spec.opts.dpi = 150;
    spec.opts.x.label = "step";
    spec.opts.y.label = "signal (a.u.)";
    const char *path = out("legend-above.png");
    if (plot_lines(path, &spec, err, sizeof err))
        fail_msg("%s", err);
    image im = load_png(path);
    long inside = count_colour(&im, PLOT_INK, 0.2, 0.5, 0.95, 0.75);
    long above = count_colour(&im, PLOT_INK, 0.05, 0.0, 0.95, 0.25);
    cairo_surface_destroy(im.s);
    if (inside != 0 || above < 100)
        fail_msg("legend text: %ld ink pixels inside the plot, %ld above it", inside, above);
}

/* CIE L*a*b* of an sRGB colour (D65). */
static void lab_of(unsigned rgb, double lab[3])
{
    double c[3], xyz[3];
    for (int i = 0; i < 3; i++) {
        double v = ((rgb >> (16 - 8 * i)) & 0xFF) / 255.0;
        c[i] = v <= 0.04045 ? v / 12.92 : pow((v + 0.055) / 1.055, 2.4);
    }
    xyz[0] = (0.4124 * c[0] + 0.3576 * c[1] + 0.1805 * c[2]) / 0.95047;
    xyz[1] = 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
    xyz[2] = (0.0193 * c[0] + 0.1192 * c[1] + 0.9505 * c[2]) / 1.08883;
    for (int i = 0; i < 3; i++)
        xyz[i] = xyz[i] > 0.008856 ? cbrt(xyz[i]) : 7.787 * xyz[i] + 16.0 / 116;
    lab[0] = 116 * xyz[1] - 16;
    lab[1] = 500 * (xyz[0] - xyz[1]);
    lab[2] = 200 * (xyz[1] - xyz[2]);
}

/* The timeline's five colours are far apart (CIE76 distance at least 40;
 * communication's orange and send's vermillion were 33 apart). */
static void test_activity_colours_differ(void **state)
{
    (void)state;
    static const int kinds[] = {RT_EV_COMPUTE, RT_EV_SEND, RT_EV_RECV, RT_EV_WAIT, ANALYSIS_EV_COMM};
    for (int i = 0; i < 5; i++)
        for (int j = i + 1; j < 5; j++) {
            double a[3], b[3];
            lab_of(plot_kind_colour(kinds[i]), a);
            lab_of(plot_kind_colour(kinds[j]), b);
            double d = sqrt((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]) +
                            (a[2] - b[2]) * (a[2] - b[2]));
            if (d < 40)
                fail_msg("kinds %d and %d: colours %06X and %06X are only %.1f apart", kinds[i],
                         kinds[j], plot_kind_colour(kinds[i]), plot_kind_colour(kinds[j]), d);
        }
}

/* A legend that has to go above the plot makes the figure taller by its
 * height instead of squeezing the plot (five runs took a third of it). */
static void test_legend_above_grows_the_figure(void **state)
{
    (void)state;
    char err[512];
    enum { N = 200 };
    static double x[N], y[5][N];
    plot_series s[5];
    for (int k = 0; k < 5; k++) {
        for (int i = 0; i < N; i++) {
            x[i] = i;
            y[k][i] = 0.5 + 0.5 * sin(i * (0.13 + 0.05 * k) + k);
        }
        s[k] = (plot_series){"a run with a long name, 64 workers", x, y[k], N, 0};
    }
    plot_lines_spec spec = {.opts = plot_opts_default(), .series = s, .nseries = 5};
    spec.opts.dpi = 100;
    const char *path = out("legend-grows.png");
    if (plot_lines(path, &spec, err, sizeof err))
        fail_msg("%s", err);
    image im = load_png(path);
    int h = im.h;
    cairo_surface_destroy(im.s);
    if (h < 245 + 5 * 10) /* 2.45 in, plus five rows of legend */
        fail_msg("legend above: the figure is %d px high, as if the legend took the plot's room", h);
    spec.opts.height_in = 2.45; /* a height given is kept */
    if (plot_lines(path, &spec, err, sizeof err))
        fail_msg("%s", err);
    im = load_png(path);
    h = im.h;
    cairo_surface_destroy(im.s);
    assert_int_equal(h, 245);

    /* a name wider than the figure widens it instead of running off its
     * left edge (a width given is kept) */
    for (int k = 0; k < 5; k++)
        s[k].name = k ? "b" : "allreduce:ring, 8 workers (sim), lr=0.4, batch=64, momentum=0.9, schedule=warmup:epochs=2";
    spec.opts.height_in = 0;
    if (plot_lines(path, &spec, err, sizeof err))
        fail_msg("%s", err);
    im = load_png(path);
    int w = im.w;
    long left = count_dark(&im, 0, 0, 0.01, 0.3); /* the legend's row: nothing cut at the edge */
    cairo_surface_destroy(im.s);
    if (w <= 350 || left)
        fail_msg("a legend name wider than the figure: %d px wide (3.5 in: 350), %ld dark pixels at its left edge",
                 w, left);
    spec.opts.width_in = 3.5;
    if (plot_lines(path, &spec, err, sizeof err))
        fail_msg("%s", err);
    im = load_png(path);
    w = im.w;
    cairo_surface_destroy(im.s);
    assert_int_equal(w, 350);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ticks_linear_grid),
        cmocka_unit_test(test_ticks_extreme_ranges),
        cmocka_unit_test(test_ticks_log),
        cmocka_unit_test(test_tick_labels),
        cmocka_unit_test(test_exponent_is_small),
        cmocka_unit_test(test_legend_avoids_data),
        cmocka_unit_test(test_legend_above_when_crowded),
        cmocka_unit_test(test_legend_above_grows_the_figure),
        cmocka_unit_test(test_activity_colours_differ),
        cmocka_unit_test(test_lines_png),
        cmocka_unit_test(test_vector_formats),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_timeline_png),
        cmocka_unit_test(test_timeline_binning),
        cmocka_unit_test(test_timeline_spans),
        cmocka_unit_test(test_timeline_many_events_fast),
        cmocka_unit_test(test_bars),
        cmocka_unit_test(test_scaling),
    };
    return cmocka_run_group_tests_name("plots", tests, setup, teardown);
}
