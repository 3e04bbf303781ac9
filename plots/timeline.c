/* timeline.c -- a per-rank Gantt chart of one run's events.
 *
 * Each rank gets a row: the upper band shows what the rank was doing
 * (computing; communicating -- blocked while one of its own messages was
 * on the wire, core/analysis.h; or waiting for others), the two thin bands under it the sends and the
 * receives in flight, which overlap computation when they are
 * non-blocking. A run records millions of intervals, far more than there
 * are pixels, so each rank's intervals are first binned into device-pixel
 * columns (how much of each column each kind filled), and runs of alike
 * columns are drawn as one rectangle: the drawing cost follows the
 * figure's width, not the length of the run, and an interval thinner than
 * a pixel still marks its column.
 */
#include "plots/plot_internal.h"

#include "core/analysis.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct span {
    int rank, kind;
    double start_s, end_s;
} span;

static int by_rank(const void *a, const void *b)
{
    const span *x = a, *y = b;
    return (x->rank > y->rank) - (x->rank < y->rank);
}

/* Band of a kind inside a row of height h: offset and height, as
 * fractions of h. */
static void band(int kind, int compact, double *off, double *height)
{
    if (compact) { /* rows too thin for three bands: activity only */
        *off = 0.08;
        *height = 0.84;
        return;
    }
    switch (kind) {
    case RT_EV_SEND: *off = 0.64; *height = 0.14; break;
    case RT_EV_RECV: *off = 0.80; *height = 0.14; break;
    default:         *off = 0.06; *height = 0.54; break;
    }
}

/* Add the interval [u0, u1) (in device columns) to one kind's coverage:
 * cov[0..ncols) gets the fractions of its partial end columns, and the
 * difference array cov[ncols+1 ..] the run of whole columns between, so
 * a long interval costs two additions, not one per column. */
static void column_cover(double *cov, int ncols, double u0, double u1)
{
    double *diff = cov + ncols + 1;
    u0 = fmax(u0, 0);
    u1 = fmin(u1, ncols);
    if (!(u1 >= u0))
        return;
    int c0 = (int)u0, c1 = (int)u1; /* c1 <= ncols */
    if (c0 >= ncols)
        return;
    if (c1 == c0) {
        cov[c0] += fmax(u1 - u0, 1e-6); /* an instant still marks its column */
        return;
    }
    cov[c0] += c0 + 1 - u0;
    if (c1 < ncols)
        cov[c1] += u1 - c1;
    diff[c0 + 1] += 1;
    diff[c1] -= 1;
}

/* Fold the difference array into the coverage: cov[c] is then the
 * fraction of column c the kind was active in (summed over overlaps). */
static void column_prefix(double *cov, int ncols)
{
    double *diff = cov + ncols + 1, run = 0;
    for (int col = 0; col < ncols; col++) {
        run += diff[col];
        cov[col] += run;
    }
}

/* The colour between a and b, t of the way to b. */
static unsigned mix(unsigned a, unsigned b, double t)
{
    unsigned out = 0;
    for (int sh = 0; sh <= 16; sh += 8) {
        double ca = (a >> sh) & 0xFF, cb = (b >> sh) & 0xFF;
        out |= (unsigned)lround(ca + (cb - ca) * t) << sh;
    }
    return out;
}

/* The runtime's kinds, and communication (blocked with one's own message
 * on the wire), which the timeline works out from them. */
#define NKINDS (RT_EV_KINDS + 1)

/* Shares of compute and of communication in a column of the activity band,
 * in 1/MIX_LEVELS steps (so neighbouring columns merge), as one key; -1
 * when the rank was idle. Communication lies inside wait. */
#define MIX_LEVELS 16
static int activity_key(const double *comp, const double *comm, const double *wait, int col)
{
    double m = fmin(comm[col], wait[col]), w = wait[col] - m, busy = comp[col] + m + w;
    if (!(busy > 0))
        return -1;
    int qc = (int)lround(MIX_LEVELS * comp[col] / busy), qm = (int)lround(MIX_LEVELS * m / busy);
    if (qc + qm > MIX_LEVELS)
        qm = MIX_LEVELS - qc;
    return qc * (MIX_LEVELS + 1) + qm;
}

static unsigned activity_colour(int key)
{
    double qc = key / (MIX_LEVELS + 1), qm = key % (MIX_LEVELS + 1);
    unsigned cm = mix(plot_kind_colour(RT_EV_WAIT), plot_kind_colour(ANALYSIS_EV_COMM),
                      qc + qm < MIX_LEVELS ? qm / (MIX_LEVELS - qc) : 1);
    return mix(cm, plot_kind_colour(RT_EV_COMPUTE), qc / MIX_LEVELS);
}

/* One rank's row from its per-kind column coverage. In the activity
 * band a column takes the colours of compute, communication and wait mixed
 * by the time each filled, so a zoomed-out view still shows where time went (a pure
 * colour where one kind had the column to itself); the send and receive
 * bands mark every column with any traffic. Runs of equal columns
 * become one rectangle. */
static void draw_rank(canvas *c, const frame *f, const double *cov, int ncols, double row_top,
                      double row_h, int compact)
{
    const double *comp = cov + (size_t)RT_EV_COMPUTE * 2 * (ncols + 1);
    const double *wait = cov + (size_t)RT_EV_WAIT * 2 * (ncols + 1);
    const double *comm = cov + (size_t)ANALYSIS_EV_COMM * 2 * (ncols + 1);
    double colw = 1 / c->px_per_pt, off, bh;

    band(RT_EV_COMPUTE, compact, &off, &bh);
    if (row_h < 3) { /* hundreds of ranks: rows touch, gaps would be noise */
        off = 0;
        bh = 1;
    }
    for (int col = 0; col < ncols;) {
        int key = activity_key(comp, comm, wait, col), run = col + 1;
        while (run < ncols && activity_key(comp, comm, wait, run) == key)
            run++;
        if (key >= 0) {
            canvas_rgb(c, activity_colour(key));
            cairo_rectangle(c->cr, f->x0 + col * colw, row_top + off * row_h, (run - col) * colw, bh * row_h);
            cairo_fill(c->cr);
        }
        col = run;
    }
    if (compact)
        return;
    static const int comm_kinds[] = {RT_EV_SEND, RT_EV_RECV};
    for (size_t i = 0; i < sizeof comm_kinds / sizeof comm_kinds[0]; i++) {
        int k = comm_kinds[i];
        const double *mine = cov + (size_t)k * 2 * (ncols + 1);
        int any = 0;
        band(k, compact, &off, &bh);
        for (int col = 0; col < ncols;) {
            if (!(mine[col] > 0)) {
                col++;
                continue;
            }
            int run = col + 1;
            while (run < ncols && mine[run] > 0)
                run++;
            cairo_rectangle(c->cr, f->x0 + col * colw, row_top + off * row_h, (run - col) * colw, bh * row_h);
            any = 1;
            col = run;
        }
        if (any) {
            canvas_rgb(c, plot_kind_colour(k));
            cairo_fill(c->cr);
        }
    }
}

int plot_timeline(const char *path, const plot_timeline_spec *spec, char *err, size_t errlen)
{
    int rc = -1, nranks = 0;
    span *sp = NULL;
    size_t n = 0;
    canvas c = {0};
    double *cov = NULL;
    const rt_event *ev = spec->events;

    /* ---- the window, and the events in it ---- */
    double from = spec->opts.x.min, to = spec->opts.x.max, first = INFINITY, last = -INFINITY;
    for (size_t i = 0; i < spec->nevents; i++) {
        first = fmin(first, ev[i].start_s);
        last = fmax(last, ev[i].end_s);
        if (ev[i].rank + 1 > nranks)
            nranks = ev[i].rank + 1;
    }
    if (!isfinite(from))
        from = first < 0 ? first : 0;
    if (!isfinite(to))
        to = last;
    if (spec->nevents == 0 || !(to > from)) {
        snprintf(err, errlen, "%s: no events to draw%s", path,
                 spec->nevents ? " in the chosen time window" : " (was the run recorded with --no-events?)");
        return -1;
    }
    rt_event *comm = NULL;
    size_t ncomm = 0;
    if (analysis_comm_spans(ev, spec->nevents, nranks, &comm, &ncomm) != 0 ||
        !(sp = malloc((spec->nevents + ncomm) * sizeof *sp))) {
        free(comm);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < spec->nevents + ncomm; i++) {
        const rt_event *e = i < spec->nevents ? &ev[i] : &comm[i - spec->nevents];
        if (e->end_s >= from && e->start_s <= to && e->rank >= 0 && e->kind >= 0 && e->kind < NKINDS)
            sp[n++] = (span){e->rank, e->kind, fmax(e->start_s, from), fmin(e->end_s, to)};
    }
    free(comm);
    if (n == 0) {
        snprintf(err, errlen, "%s: no events to draw in the chosen time window (%g s to %g s)", path, from, to);
        goto fail;
    }
    qsort(sp, n, sizeof *sp, by_rank);

    /* ---- axes: time in s, ms or us, whichever reads best ---- */
    double span_s = to - from, unit = 1;
    const char *xlabel = "time (s)";
    if (span_s < 2e-3) {
        unit = 1e6;
        xlabel = "time (\u00b5s)";
    } else if (span_s < 2) {
        unit = 1e3;
        xlabel = "time (ms)";
    }
    plot_opts o = spec->opts;
    o.x.scale = o.y.scale = PLOT_LINEAR;
    o.x.min = from * unit;
    o.x.max = to * unit;
    o.x.label = xlabel;
    if (!o.y.label)
        o.y.label = "rank";
    double height_in = o.height_in > 0 ? o.height_in : fmin(0.95 + 0.2 * nranks, 6);
    if (canvas_open(&c, path, o.width_in > 0 ? o.width_in : 7, height_in, o.dpi, err, errlen))
        goto fail;
    /* Rows too thin for three bands (many ranks) show activity only. */
    double plot_h_guess = height_in * 72 - 60;
    int compact = plot_h_guess / nranks < 7;
    static const int legend_kinds[] = {RT_EV_COMPUTE, ANALYSIS_EV_COMM, RT_EV_WAIT, RT_EV_SEND, RT_EV_RECV};
    legend_entry le[NKINDS];
    int nle = 0;
    for (size_t i = 0; i < sizeof legend_kinds / sizeof *legend_kinds; i++) {
        int k = legend_kinds[i];
        if (!compact || k == RT_EV_COMPUTE || k == RT_EV_WAIT || k == ANALYSIS_EV_COMM)
            le[nle++] = (legend_entry){k == ANALYSIS_EV_COMM ? "communication" : rt_event_kind_name(k),
                                       plot_kind_colour(k), LEGEND_BOX};
    }
    double lw, lh;
    legend_size(&c, le, nle, nle, &lw, &lh);
    frame f;
    memset(&f, 0, sizeof f);
    f.nycat = nranks; /* labelled by number */
    frame_layout(&c, &f, &o, o.x.min, o.x.max, 0, 1, 0, lh + 2);
    frame_draw(&c, &f, &o);
    legend_draw(&c, le, nle, nle, fmax(f.x1 - lw, f.x0), f.y0 - lh - 3, 0);
    double row_h = (f.y1 - f.y0) / nranks;

    /* ---- the intervals, binned into device-pixel columns ---- */
    int ncols = (int)ceil((f.x1 - f.x0) * c.px_per_pt);
    if (!(cov = calloc((size_t)NKINDS * 2 * (ncols + 1), sizeof *cov))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    frame_clip(&c, &f, 0);
    for (size_t i = 0; i < n;) {
        int rank = sp[i].rank;
        size_t end = i;
        while (end < n && sp[end].rank == rank)
            end++;
        memset(cov, 0, (size_t)NKINDS * 2 * (ncols + 1) * sizeof *cov);
        for (size_t j = i; j < end; j++)
            column_cover(cov + (size_t)sp[j].kind * 2 * (ncols + 1), ncols,
                         (frame_x(&f, sp[j].start_s * unit) - f.x0) * c.px_per_pt,
                         (frame_x(&f, sp[j].end_s * unit) - f.x0) * c.px_per_pt);
        for (int k = 0; k < NKINDS; k++)
            column_prefix(cov + (size_t)k * 2 * (ncols + 1), ncols);
        draw_rank(&c, &f, cov, ncols, f.y0 + rank * row_h, row_h, compact);
        i = end;
    }
    cairo_restore(c.cr);
    rc = canvas_close(&c, 1, err, errlen);
fail:
    if (c.surface)
        canvas_close(&c, 0, NULL, 0);
    free(cov);
    free(sp);
    return rc;
}
