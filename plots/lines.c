/* lines.c -- line charts (loss or accuracy of several runs) and scaling
 * charts (speedup or efficiency against workers, with the ideal line).
 *
 * The legend goes where it hides no data: each candidate corner and edge
 * of the plot area is scored by how many line segments and markers it
 * would cover; the first clear one wins. When none is clear the legend
 * moves above the plot area, in as few rows as the figure's width allows,
 * and the figure grows by its height (the plot keeps its full size).
 */
#include "plots/plot_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LINE_PT 1.4
#define MARKER_PT 2.2

typedef struct line_style {
    unsigned rgb;
    int dashed;
} line_style;

plot_opts plot_opts_default(void)
{
    plot_opts o;
    memset(&o, 0, sizeof o);
    o.dpi = 300;
    o.x.min = o.x.max = o.y.min = o.y.max = NAN;
    return o;
}

static int usable(plot_scale s, double v)
{
    return isfinite(v) && (s == PLOT_LINEAR || v > 0);
}

/* Does a legend box at (x, y, w, h) cover any of the data? */
static int legend_cover(const frame *f, const plot_series *s, int ns, double x, double y, double w, double h)
{
    int hits = 0;
    double x0 = x - 2, y0 = y - 2, x1 = x + w + 2, y1 = y + h + 2;
    for (int k = 0; k < ns; k++) {
        int have = 0;
        double px = 0, py = 0;
        for (size_t i = 0; i < s[k].n; i++) {
            if (!usable(f->xs, s[k].x[i]) || !usable(f->ys, s[k].y[i])) {
                have = 0;
                continue;
            }
            double qx = frame_x(f, s[k].x[i]), qy = frame_y(f, s[k].y[i]);
            if (have ? plot_segment_hits(px, py, qx, qy, x0, y0, x1, y1)
                     : (qx >= x0 && qx <= x1 && qy >= y0 && qy <= y1))
                hits++;
            px = qx;
            py = qy;
            have = 1;
        }
    }
    return hits;
}

static void draw_series(canvas *c, const frame *f, const plot_series *s, const line_style *st)
{
    cairo_t *cr = c->cr;
    static const double dash[] = {4, 2.5};
    canvas_rgb(c, st->rgb);
    cairo_set_line_width(cr, st->dashed ? 1.0 : LINE_PT);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_ROUND);
    cairo_set_dash(cr, st->dashed ? dash : NULL, st->dashed ? 2 : 0, 0);
    int pen = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (!usable(f->xs, s->x[i]) || !usable(f->ys, s->y[i])) {
            pen = 0;
            continue;
        }
        double x = frame_x(f, s->x[i]), y = frame_y(f, s->y[i]);
        if (pen)
            cairo_line_to(cr, x, y);
        else
            cairo_move_to(cr, x, y);
        pen = 1;
    }
    cairo_stroke(cr);
    cairo_set_dash(cr, NULL, 0, 0);
    if (!s->markers)
        return;
    for (size_t i = 0; i < s->n; i++)
        if (usable(f->xs, s->x[i]) && usable(f->ys, s->y[i])) {
            cairo_new_sub_path(cr);
            cairo_arc(cr, frame_x(f, s->x[i]), frame_y(f, s->y[i]), MARKER_PT, 0, 2 * M_PI);
        }
    cairo_fill(cr);
}

/* Draw a line chart of ns series, each with its style (colour, dash). */
static int lines_draw(const char *path, const plot_opts *o, const plot_series *s, const line_style *st,
                      int ns, char *err, size_t errlen)
{
    canvas c;
    frame f;
    legend_entry *le = NULL;
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (int k = 0; k < ns; k++)
        for (size_t i = 0; i < s[k].n; i++)
            if (usable(o->x.scale, s[k].x[i]) && usable(o->y.scale, s[k].y[i])) {
                xlo = fmin(xlo, s[k].x[i]);
                xhi = fmax(xhi, s[k].x[i]);
                ylo = fmin(ylo, s[k].y[i]);
                yhi = fmax(yhi, s[k].y[i]);
            }
    if (!(xlo <= xhi)) {
        snprintf(err, errlen, "%s: nothing to plot: no series has a point that %s",
                 path, o->x.scale != PLOT_LINEAR || o->y.scale != PLOT_LINEAR
                           ? "is finite and above zero on the log axis" : "is finite");
        return -1;
    }
    double width_in = o->width_in > 0 ? o->width_in : 3.5, height_in = o->height_in > 0 ? o->height_in : 2.45;
    if (canvas_open(&c, path, width_in, height_in, o->dpi, err, errlen))
        return -1;
    int nle = 0;
    if (!(le = calloc((size_t)ns + 1, sizeof *le))) {
        snprintf(err, errlen, "out of memory");
        canvas_close(&c, 0, NULL, 0);
        return -1;
    }
    for (int k = 0; k < ns; k++)
        if (s[k].name)
            le[nle++] = (legend_entry){s[k].name, st[k].rgb,
                                       st[k].dashed ? LEGEND_DASHED : s[k].markers ? LEGEND_MARKER_LINE : LEGEND_LINE};

    /* ---- layout: legend inside where it covers nothing, else above ---- */
    memset(&f, 0, sizeof f);
    f.y_air = 0.03;
    frame_layout(&c, &f, o, xlo, xhi, ylo, yhi, 0, 0);
    double lw = 0, lh = 0, lx = 0, ly = 0;
    int cols = 1, backdrop = 1;
    if (nle) {
        legend_size(&c, le, nle, 1, &lw, &lh);
        const double in = 3;
        double cand[8][2] = {
            {f.x1 - lw - in, f.y0 + in}, {f.x0 + in + 4, f.y0 + in},
            {f.x1 - lw - in, f.y1 - lh - in}, {f.x0 + in + 4, f.y1 - lh - in},
            {(f.x0 + f.x1 - lw) / 2, f.y0 + in}, {(f.x0 + f.x1 - lw) / 2, f.y1 - lh - in},
            {f.x1 - lw - in, (f.y0 + f.y1 - lh) / 2}, {f.x0 + in + 4, (f.y0 + f.y1 - lh) / 2},
        };
        int best = -1;
        if (lw < (f.x1 - f.x0) - 8 && lh < (f.y1 - f.y0) * 0.8)
            for (int i = 0; i < 8 && best < 0; i++)
                if (legend_cover(&f, s, ns, cand[i][0], cand[i][1], lw, lh) == 0)
                    best = i;
        if (best >= 0) {
            lx = cand[best][0];
            ly = cand[best][1];
        } else {
            /* Above the plot area, in as few rows as the width allows;
             * the figure grows by the legend's height (unless its height
             * was given), so many runs do not squeeze the plot. */
            cols = legend_cols_to_fit(&c, le, nle, c.w - 8);
            legend_size(&c, le, nle, cols, &lw, &lh);
            /* a name wider than the figure widens it (unless its width
             * was given), rather than run off its left edge */
            double wide_in = !(o->width_in > 0) && lw + 8 > c.w ? (lw + 8) / 72 : width_in;
            if (!(o->height_in > 0) || wide_in > width_in) {
                canvas_close(&c, 0, NULL, 0);
                if (canvas_open(&c, path, wide_in, height_in + (o->height_in > 0 ? 0 : (lh + 2) / 72), o->dpi, err,
                                errlen)) {
                    free(le);
                    return -1;
                }
            }
            memset(&f, 0, sizeof f);
            f.y_air = 0.03;
            frame_layout(&c, &f, o, xlo, xhi, ylo, yhi, 0, lh + 2);
            lx = fmin(fmax((f.x0 + f.x1 - lw) / 2, 4), c.w - 4 - lw);
            ly = f.y0 - lh - 3;
            backdrop = 0;
        }
    }

    /* ---- draw: frame, series in order (first on top), legend ---- */
    frame_draw(&c, &f, o);
    frame_clip(&c, &f, MARKER_PT + 1);
    for (int k = ns - 1; k >= 0; k--)
        draw_series(&c, &f, &s[k], &st[k]);
    cairo_restore(c.cr);
    if (nle)
        legend_draw(&c, le, nle, cols, lx, ly, backdrop);
    free(le);
    return canvas_close(&c, 1, err, errlen);
}

int plot_lines(const char *path, const plot_lines_spec *spec, char *err, size_t errlen)
{
    if (spec->nseries < 1 || !spec->series) {
        snprintf(err, errlen, "%s: a line chart needs at least one series", path);
        return -1;
    }
    line_style *st = calloc((size_t)spec->nseries, sizeof *st);
    if (!st) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int k = 0; k < spec->nseries; k++)
        st[k] = spec->colour ? (line_style){plot_palette(spec->colour[k]), !spec->series[k].name}
                             : (line_style){plot_palette(k), 0};
    int rc = lines_draw(path, &spec->opts, spec->series, st, spec->nseries, err, errlen);
    free(st);
    return rc;
}

int plot_scaling(const char *path, const plot_scaling_spec *spec, char *err, size_t errlen)
{
    enum { IDEAL_POINTS = 65 };
    int rc = -1, ns = spec->nseries;
    plot_series *s = NULL;
    line_style *st = NULL;
    double *ys = NULL, ideal_x[IDEAL_POINTS], ideal_y[IDEAL_POINTS];
    size_t total = 0;
    if (ns < 1 || !spec->series) {
        snprintf(err, errlen, "%s: a scaling chart needs at least one series", path);
        return -1;
    }
    for (int k = 0; k < ns; k++)
        total += spec->series[k].n;
    s = calloc((size_t)ns + 1, sizeof *s);
    st = calloc((size_t)ns + 1, sizeof *st);
    ys = calloc(total + 1, sizeof *ys);
    if (!s || !st || !ys) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    /* ---- speedup (or efficiency) of each series ---- */
    double wlo = INFINITY, whi = -INFINITY;
    double *y = ys;
    for (int k = 0; k < ns; k++) {
        const plot_series *in = &spec->series[k];
        double base_s = spec->baseline_s, base_w = 1;
        if (!(base_s > 0) && in->n > 0) {
            base_s = in->y[0];
            base_w = in->x[0];
        }
        for (size_t i = 0; i < in->n; i++) {
            double sp = in->y[i] > 0 ? base_w * base_s / in->y[i] : NAN;
            y[i] = spec->efficiency ? sp / in->x[i] : sp;
            if (in->x[i] > 0 && isfinite(in->x[i])) {
                wlo = fmin(wlo, in->x[i]);
                whi = fmax(whi, in->x[i]);
            }
        }
        s[k] = (plot_series){in->name, in->x, y, in->n, 1};
        st[k] = (line_style){plot_palette(k), 0};
        y += in->n;
    }
    if (!(wlo <= whi)) {
        snprintf(err, errlen, "%s: nothing to plot: no point has a worker count above zero", path);
        goto fail;
    }
    /* ---- the ideal line, sampled so it stays straight on any axes ---- */
    for (int i = 0; i < IDEAL_POINTS; i++) {
        double t = (double)i / (IDEAL_POINTS - 1);
        ideal_x[i] = spec->opts.x.scale == PLOT_LINEAR ? wlo + t * (whi - wlo) : wlo * pow(whi / wlo, t);
        ideal_y[i] = spec->efficiency ? 1 : ideal_x[i];
    }
    s[ns] = (plot_series){"ideal", ideal_x, ideal_y, IDEAL_POINTS, 0};
    st[ns] = (line_style){PLOT_MUTED, 1};
    plot_opts o = spec->opts;
    if (!o.x.label)
        o.x.label = "workers";
    if (!o.y.label)
        o.y.label = spec->efficiency ? "parallel efficiency" : "speedup";
    if (!isfinite(o.y.min) && o.y.scale == PLOT_LINEAR)
        o.y.min = 0;
    rc = lines_draw(path, &o, s, st, ns + 1, err, errlen);
fail:
    free(s);
    free(st);
    free(ys);
    return rc;
}
