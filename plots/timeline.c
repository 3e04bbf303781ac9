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
 *
 * A run with spans (runtime.h: rt_span -- Ray's tasks, methods and object
 * transfers) gets one more band at the top of each row, a colour per span
 * name: by the name's index when there are at most SPAN_COLOURS (so a
 * program's names keep their colours from run to run), else the
 * SPAN_COLOURS names that took the most time in the run have their own
 * and the rest share "other spans". A column shows the name that filled
 * most of it, and a span wide enough for its name has it written on it.
 * The choice depends only on the events, never on the window, so zooming
 * keeps the colours.
 */
#include "plots/plot_internal.h"

#include "core/analysis.h"
#include "core/records.h"

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
 * fractions of h; with_spans: the row has a span band on top. */
static void band(int kind, int compact, int with_spans, double *off, double *height)
{
    if (compact) { /* rows too thin for three bands: activity only */
        *off = 0.08;
        *height = 0.84;
        return;
    }
    static const double plain[][2] = {{0.06, 0.54}, {0.64, 0.14}, {0.80, 0.14}, {0, 0}};
    static const double spans[][2] = {{0.38, 0.30}, {0.72, 0.11}, {0.86, 0.11}, {0.04, 0.30}};
    int b = kind == RT_EV_SEND ? 1 : kind == RT_EV_RECV ? 2 : kind == RT_EV_SPAN ? 3 : 0;
    *off = (with_spans ? spans : plain)[b][0];
    *height = (with_spans ? spans : plain)[b][1];
}

/* ---- spans: a colour per name ---- */

#define SPAN_COLOURS 8
#define SPAN_OTHER SPAN_COLOURS /* the slot of every other name */
#define SPAN_SLOTS (SPAN_COLOURS + 1)

/* Apart from the kinds' colours (canvas.c): Okabe-Ito's vermillion and
 * sky blue, then Paul Tol's muted scheme. */
static const unsigned span_colours[SPAN_SLOTS] = {0xD55E00, 0x56B4E9, 0x882255, 0x999933, 0x332288,
                                                  0x44AA99, 0xDDCC77, 0x661100, 0x666666};

unsigned plot_span_colour(int k)
{
    return span_colours[k >= 0 && k < SPAN_SLOTS ? k : SPAN_OTHER];
}

typedef struct tspan {
    int rank, tag, slot;
    double start_s, end_s;
} tspan;

typedef struct span_total {
    int tag;
    double seconds;
} span_total;

static int by_tag(const void *a, const void *b)
{
    const tspan *x = a, *y = b;
    return (x->tag > y->tag) - (x->tag < y->tag);
}

static int by_rank_then_start(const void *a, const void *b)
{
    const tspan *x = a, *y = b;
    if (x->rank != y->rank)
        return (x->rank > y->rank) - (x->rank < y->rank);
    return (x->start_s > y->start_s) - (x->start_s < y->start_s);
}

static int by_time_then_tag(const void *a, const void *b)
{
    const span_total *x = a, *y = b;
    if (x->seconds != y->seconds)
        return x->seconds < y->seconds ? 1 : -1;
    return (x->tag > y->tag) - (x->tag < y->tag);
}

/* The slot of every span of the run (ts, n: all of them, unclipped):
 * tag[k] gets the name of slot k, or -1 when it has none (SPAN_OTHER
 * holds the rest). Sorts ts by tag. Returns 0, -1 out of memory. */
static int span_slots(tspan *ts, size_t n, int *tag)
{
    for (int k = 0; k < SPAN_COLOURS; k++)
        tag[k] = -1;
    span_total *tot = malloc((n + 1) * sizeof *tot);
    if (!tot)
        return -1;
    qsort(ts, n, sizeof *ts, by_tag);
    size_t nt = 0;
    for (size_t i = 0; i < n; i++) {
        if (!nt || tot[nt - 1].tag != ts[i].tag)
            tot[nt++] = (span_total){ts[i].tag, 0};
        tot[nt - 1].seconds += ts[i].end_s - ts[i].start_s;
    }
    if (nt && tot[0].tag >= 0 && tot[nt - 1].tag < SPAN_COLOURS) { /* few names: by index */
        for (size_t i = 0; i < nt; i++)
            tag[tot[i].tag] = tot[i].tag;
    } else {
        qsort(tot, nt, sizeof *tot, by_time_then_tag);
        for (size_t k = 0; k < nt && k < SPAN_COLOURS; k++)
            tag[k] = tot[k].tag;
    }
    for (size_t i = 0; i < n; i++) {
        ts[i].slot = SPAN_OTHER;
        for (int k = 0; k < SPAN_COLOURS; k++)
            if (tag[k] == ts[i].tag)
                ts[i].slot = k;
    }
    free(tot);
    return 0;
}

/* Black or white, whichever reads on rgb. */
static unsigned ink_on(unsigned rgb)
{
    double l = 0.299 * ((rgb >> 16) & 0xFF) + 0.587 * ((rgb >> 8) & 0xFF) + 0.114 * (rgb & 0xFF);
    return l > 150 ? 0x000000 : 0xFFFFFF;
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
                      double row_h, int compact, int with_spans)
{
    const double *comp = cov + (size_t)RT_EV_COMPUTE * 2 * (ncols + 1);
    const double *wait = cov + (size_t)RT_EV_WAIT * 2 * (ncols + 1);
    const double *comm = cov + (size_t)ANALYSIS_EV_COMM * 2 * (ncols + 1);
    double colw = 1 / c->px_per_pt, off, bh;

    band(RT_EV_COMPUTE, compact, with_spans, &off, &bh);
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
        band(k, compact, with_spans, &off, &bh);
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

/* One rank's span band: per column the slot that filled most of it
 * (cov: SPAN_SLOTS coverages, as column_cover leaves them, prefixed). */
static void draw_span_band(canvas *c, const frame *f, const double *cov, int ncols, double top,
                           double h)
{
    double colw = 1 / c->px_per_pt;
    int prev = -1, start = 0;
    for (int col = 0; col <= ncols; col++) {
        int best = -1;
        double most = 0;
        for (int k = 0; col < ncols && k < SPAN_SLOTS; k++) {
            double v = cov[(size_t)k * 2 * (ncols + 1) + col];
            if (v > most) {
                most = v;
                best = k;
            }
        }
        if (best == prev && col < ncols)
            continue;
        if (prev >= 0) {
            canvas_rgb(c, span_colours[prev]);
            cairo_rectangle(c->cr, f->x0 + start * colw, top, (col - start) * colw, h);
            cairo_fill(c->cr);
        }
        prev = best;
        start = col;
    }
}

/* The names of one rank's spans that are wide enough to hold them,
 * written on them (at most a few hundred per figure: past that, a span
 * that wide is rare and the text would not be read). */
#define SPAN_LABELS_MAX 400
static void label_spans(canvas *c, const frame *f, const plot_timeline_spec *spec, const tspan *ts,
                        size_t n, double unit, double top, double h, int *budget)
{
    double size_pt = fmin(6.5, 0.8 * h);
    if (size_pt < 4)
        return;
    for (size_t i = 0; i < n && *budget > 0; i++) {
        double x0 = frame_x(f, ts[i].start_s * unit), x1 = frame_x(f, ts[i].end_s * unit);
        if (x1 - x0 < 12)
            continue;
        char buf[32], *dot;
        const char *name = records_span_label(spec->span_names, spec->nspan_names, ts[i].tag, buf,
                                              sizeof buf);
        double w, th;
        canvas_text_size(c, name, size_pt, 0, &w, &th);
        if (w + 3 > x1 - x0 && (dot = strchr(name, '.')) && dot[1]) { /* "Class.method": the method */
            name = dot + 1;
            canvas_text_size(c, name, size_pt, 0, &w, &th);
        }
        if (w + 3 > x1 - x0)
            continue;
        canvas_text(c, (x0 + x1) / 2, top + h / 2, 0.5, 0.5, 0, name, size_pt, 0,
                    ink_on(span_colours[ts[i].slot]));
        --*budget;
    }
}

int plot_timeline(const char *path, const plot_timeline_spec *spec, char *err, size_t errlen)
{
    int rc = -1, nranks = 0;
    span *sp = NULL;
    tspan *ts = NULL;
    size_t n = 0, nts = 0;
    canvas c = {0};
    double *cov = NULL, *scov = NULL;
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
    if (!(ts = malloc((spec->nevents + 1) * sizeof *ts))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < spec->nevents; i++)
        if (ev[i].kind == RT_EV_SPAN && ev[i].rank >= 0)
            ts[nts++] = (tspan){ev[i].rank, ev[i].tag, 0, ev[i].start_s, ev[i].end_s};
    /* colours from the whole run, then the spans in the window */
    int slot_tag[SPAN_COLOURS], in_window[SPAN_SLOTS] = {0};
    if (span_slots(ts, nts, slot_tag)) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    size_t kept = 0;
    for (size_t i = 0; i < nts; i++)
        if (ts[i].end_s >= from && ts[i].start_s <= to) {
            ts[kept] = ts[i];
            ts[kept].start_s = fmax(ts[i].start_s, from);
            ts[kept].end_s = fmin(ts[i].end_s, to);
            in_window[ts[kept++].slot] = 1;
        }
    nts = kept;
    qsort(ts, nts, sizeof *ts, by_rank_then_start);
    if (n == 0 && nts == 0) {
        snprintf(err, errlen, "%s: no events to draw in the chosen time window (%g s to %g s)", path, from, to);
        goto fail;
    }
    qsort(sp, n, sizeof *sp, by_rank);
    int with_spans = nts > 0, nshown = 0;
    for (int k = 0; k < SPAN_SLOTS; k++)
        nshown += in_window[k];

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
    /* with spans: taller rows, and legend lines for up to 9 names */
    double height_in = o.height_in > 0 ? o.height_in
                                       : fmin(0.95 + (with_spans ? 0.32 : 0.2) * nranks +
                                              0.12 * ceil(nshown / 3.0), 6);
    if (canvas_open(&c, path, o.width_in > 0 ? o.width_in : 7, height_in, o.dpi, err, errlen))
        goto fail;
    /* Rows too thin for three bands (many ranks) show activity only; four
     * bands (with spans) need a little more room. */
    double plot_h_guess = height_in * 72 - 60;
    int compact = plot_h_guess / nranks < (with_spans ? 12 : 7);
    with_spans = with_spans && !compact;
    static const int legend_kinds[] = {RT_EV_COMPUTE, ANALYSIS_EV_COMM, RT_EV_WAIT, RT_EV_SEND, RT_EV_RECV};
    legend_entry le[NKINDS + SPAN_SLOTS];
    char span_label[SPAN_COLOURS][32];
    int nle = 0;
    for (size_t i = 0; i < sizeof legend_kinds / sizeof *legend_kinds; i++) {
        int k = legend_kinds[i];
        if (!compact || k == RT_EV_COMPUTE || k == RT_EV_WAIT || k == ANALYSIS_EV_COMM)
            le[nle++] = (legend_entry){k == ANALYSIS_EV_COMM ? "communication" : rt_event_kind_name(k),
                                       plot_kind_colour(k), LEGEND_BOX};
    }
    /* the span names: a legend of their own under the kinds' line */
    legend_entry *sle = le + nle;
    int nsle = 0;
    for (int k = 0; with_spans && k < SPAN_COLOURS; k++)
        if (in_window[k])
            sle[nsle++] = (legend_entry){records_span_label(spec->span_names, spec->nspan_names, slot_tag[k],
                                                            span_label[k], sizeof span_label[k]),
                                         span_colours[k], LEGEND_BOX};
    if (with_spans && in_window[SPAN_OTHER])
        sle[nsle++] = (legend_entry){"other spans", span_colours[SPAN_OTHER], LEGEND_BOX};
    double lw, lh, slw = 0, slh = 0;
    legend_size(&c, le, nle, nle, &lw, &lh);
    int scols = nsle ? legend_cols_to_fit(&c, sle, nsle, c.w - 60) : 1;
    if (nsle)
        legend_size(&c, sle, nsle, scols, &slw, &slh);
    frame f;
    memset(&f, 0, sizeof f);
    f.nycat = nranks; /* labelled by number */
    frame_layout(&c, &f, &o, o.x.min, o.x.max, 0, 1, 0, lh + slh + 2);
    frame_draw(&c, &f, &o);
    legend_draw(&c, le, nle, nle, fmax(f.x1 - lw, f.x0), f.y0 - lh - slh - 3, 0);
    if (nsle)
        legend_draw(&c, sle, nsle, scols, fmax(f.x1 - slw, f.x0), f.y0 - slh - 3, 0);
    double row_h = (f.y1 - f.y0) / nranks;

    /* ---- the intervals, binned into device-pixel columns ---- */
    int ncols = (int)ceil((f.x1 - f.x0) * c.px_per_pt);
    if (!(cov = calloc((size_t)NKINDS * 2 * (ncols + 1), sizeof *cov)) ||
        (with_spans && !(scov = calloc((size_t)SPAN_SLOTS * 2 * (ncols + 1), sizeof *scov)))) {
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
        draw_rank(&c, &f, cov, ncols, f.y0 + rank * row_h, row_h, compact, with_spans);
        i = end;
    }
    /* ---- the span band, then the names on the widest spans ---- */
    int budget = SPAN_LABELS_MAX;
    for (size_t i = 0; with_spans && i < nts;) {
        int rank = ts[i].rank;
        size_t end = i;
        while (end < nts && ts[end].rank == rank)
            end++;
        memset(scov, 0, (size_t)SPAN_SLOTS * 2 * (ncols + 1) * sizeof *scov);
        for (size_t j = i; j < end; j++)
            column_cover(scov + (size_t)ts[j].slot * 2 * (ncols + 1), ncols,
                         (frame_x(&f, ts[j].start_s * unit) - f.x0) * c.px_per_pt,
                         (frame_x(&f, ts[j].end_s * unit) - f.x0) * c.px_per_pt);
        for (int k = 0; k < SPAN_SLOTS; k++)
            column_prefix(scov + (size_t)k * 2 * (ncols + 1), ncols);
        double off, bh;
        band(RT_EV_SPAN, 0, 1, &off, &bh);
        double top = f.y0 + rank * row_h + off * row_h;
        draw_span_band(&c, &f, scov, ncols, top, bh * row_h);
        label_spans(&c, &f, spec, ts + i, end - i, unit, top, bh * row_h, &budget);
        i = end;
    }
    cairo_restore(c.cr);
    rc = canvas_close(&c, 1, err, errlen);
fail:
    if (c.surface)
        canvas_close(&c, 0, NULL, 0);
    free(cov);
    free(scov);
    free(ts);
    free(sp);
    return rc;
}
