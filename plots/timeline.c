/* timeline.c -- a per-rank Gantt chart of one run's events.
 *
 * Each rank gets a row: the upper band shows what the rank was doing
 * (compute, or waiting), the two thin bands under it the sends and the
 * receives in flight, which overlap computation when they are
 * non-blocking. A run records millions of intervals, far more than there
 * are pixels, so intervals of one kind on one rank that are less than a
 * device pixel apart are merged into one rectangle before drawing, and a
 * lone interval thinner than a pixel is widened to one so it stays
 * visible: the drawing cost follows the figure's width, not the run.
 */
#include "plots/plot_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct span {
    int rank, kind;
    double start_s, end_s;
} span;

static int by_rank_kind_start(const void *a, const void *b)
{
    const span *x = a, *y = b;
    if (x->rank != y->rank)
        return x->rank < y->rank ? -1 : 1;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    return x->start_s < y->start_s ? -1 : x->start_s > y->start_s;
}

/* Band of a kind inside a row of height h: offset and height, as
 * fractions of h. */
static void band(int kind, double *off, double *height)
{
    switch (kind) {
    case RT_EV_SEND: *off = 0.64; *height = 0.14; break;
    case RT_EV_RECV: *off = 0.80; *height = 0.14; break;
    default:         *off = 0.06; *height = 0.54; break;
    }
}

/* Draw kinds in this order so compute lands on top of wait. */
static const int draw_order[] = {RT_EV_WAIT, RT_EV_COMPUTE, RT_EV_SEND, RT_EV_RECV};

int plot_timeline(const char *path, const plot_timeline_spec *spec, char *err, size_t errlen)
{
    int rc = -1, nranks = 0;
    span *sp = NULL;
    size_t n = 0;
    canvas c = {0};
    char **rank_names = NULL;
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
    if (!(sp = malloc(spec->nevents * sizeof *sp))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < spec->nevents; i++)
        if (ev[i].end_s >= from && ev[i].start_s <= to && ev[i].rank >= 0 && ev[i].kind >= 0 &&
            ev[i].kind < RT_EV_KINDS)
            sp[n++] = (span){ev[i].rank, ev[i].kind, fmax(ev[i].start_s, from), fmin(ev[i].end_s, to)};
    qsort(sp, n, sizeof *sp, by_rank_kind_start);

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
    double height_in = o.height_in > 0 ? o.height_in : fmin(0.95 + 0.2 * nranks, 9);
    if (canvas_open(&c, path, o.width_in > 0 ? o.width_in : 7, height_in, o.dpi, err, errlen))
        goto fail;
    if (!(rank_names = calloc((size_t)nranks, sizeof *rank_names))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (int r = 0; r < nranks; r++) {
        char buf[16];
        snprintf(buf, sizeof buf, "%d", r);
        if (!(rank_names[r] = strdup(buf))) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    legend_entry le[RT_EV_KINDS];
    for (int k = 0; k < RT_EV_KINDS; k++)
        le[k] = (legend_entry){rt_event_kind_name(k), plot_kind_colour(k), LEGEND_BOX};
    double lw, lh;
    legend_size(&c, le, RT_EV_KINDS, 1, &lw, &lh);
    frame f;
    memset(&f, 0, sizeof f);
    f.ycat = (const char *const *)rank_names;
    f.nycat = nranks;
    frame_layout(&c, &f, &o, o.x.min, o.x.max, 0, 1, 0, lh + 2);
    frame_draw(&c, &f, &o);
    legend_draw(&c, le, RT_EV_KINDS, 1, fmax(f.x1 - lw, f.x0), f.y0 - lh - 3, 0);

    /* ---- the intervals, merged below a device pixel ---- */
    double px = 1 / c.px_per_pt, row_h = (f.y1 - f.y0) / nranks;
    frame_clip(&c, &f);
    for (size_t i = 0; i < n;) {
        int rank = sp[i].rank;
        size_t end = i;
        while (end < n && sp[end].rank == rank)
            end++;
        for (size_t d = 0; d < sizeof draw_order / sizeof draw_order[0]; d++) {
            int kind = draw_order[d];
            double off, bh;
            band(kind, &off, &bh);
            double top = f.y0 + rank * row_h + off * row_h;
            int any = 0;
            for (size_t j = i; j < end;) {
                if (sp[j].kind != kind) {
                    j++;
                    continue;
                }
                double x0 = frame_x(&f, sp[j].start_s * unit), x1 = frame_x(&f, sp[j].end_s * unit);
                for (j++; j < end && sp[j].kind == kind; j++) {
                    double nx0 = frame_x(&f, sp[j].start_s * unit);
                    if (nx0 - x1 >= px)
                        break;
                    x1 = fmax(x1, frame_x(&f, sp[j].end_s * unit));
                }
                if (x1 - x0 < px)
                    x1 = x0 + px;
                cairo_rectangle(c.cr, x0, top, x1 - x0, bh * row_h);
                any = 1;
            }
            if (any) {
                canvas_rgb(&c, plot_kind_colour(kind));
                cairo_fill(c.cr);
            }
        }
        i = end;
    }
    cairo_restore(c.cr);
    rc = canvas_close(&c, 1, err, errlen);
fail:
    if (c.surface)
        canvas_close(&c, 0, NULL, 0);
    for (int r = 0; rank_names && r < nranks; r++)
        free(rank_names[r]);
    free(rank_names);
    free(sp);
    return rc;
}
