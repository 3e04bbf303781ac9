/* axes.c -- the frame every chart shares: plot area, axes, ticks, grid,
 * labels, title, and the legend.
 *
 * The look follows common journal style: left and bottom spines only,
 * ticks outward, a light grid behind the data, the title above the plot
 * area, and margins just wide enough for the labels actually drawn
 * (measured with pango, not guessed), so nothing is clipped and no space
 * is wasted when a figure is scaled into a paper column.
 */
#include "plots/plot_internal.h"

#include <math.h>
#include <stdio.h>

#define PAD_PT 4.0      /* figure edge to anything */
#define TICK_PT 3.0     /* tick length */
#define GAP_PT 2.5      /* tick to its label, label to axis title */

static double scaled(plot_scale s, double v)
{
    return s == PLOT_LOG10 ? log10(v) : s == PLOT_LOG2 ? log2(v) : v;
}

double frame_x(const frame *f, double v)
{
    if (f->xcat)
        return f->x0 + (v + 0.5) / f->nxcat * (f->x1 - f->x0);
    double a = scaled(f->xs, f->xt.lo), b = scaled(f->xs, f->xt.hi);
    return f->x0 + (scaled(f->xs, v) - a) / (b - a) * (f->x1 - f->x0);
}

double frame_y(const frame *f, double v)
{
    if (f->nycat)
        return f->y0 + (v + 0.5) / f->nycat * (f->y1 - f->y0);
    double a = scaled(f->ys, f->yt.lo), b = scaled(f->ys, f->yt.hi);
    return f->y1 - (scaled(f->ys, v) - a) / (b - a) * (f->y1 - f->y0);
}

/* Ticks for one axis: from the data, or exactly the axis's fixed ends. */
static void axis_ticks(const plot_axis *a, double lo, double hi, double len_pt, double per_tick_pt,
                       plot_ticks *t)
{
    int fixed_lo = isfinite(a->min), fixed_hi = isfinite(a->max);
    if (fixed_lo)
        lo = a->min;
    if (fixed_hi)
        hi = a->max;
    int target = (int)(len_pt / per_tick_pt);
    target = target < 3 ? 3 : target > 10 ? 10 : target;
    if (plot_ticks_choose(lo, hi, a->scale, target, t) != 0 &&
        plot_ticks_choose(a->scale == PLOT_LINEAR ? 0 : 1, a->scale == PLOT_LINEAR ? 1 : 10, a->scale,
                          target, t) != 0)
        return;
    if (!fixed_lo && !fixed_hi)
        return;
    /* Fixed ends: keep the ticks inside them, and end the axis there. */
    double nlo = fixed_lo ? fmin(lo, hi) : t->lo, nhi = fixed_hi ? fmax(lo, hi) : t->hi;
    int n = 0;
    for (int i = 0; i < t->n; i++)
        if (t->v[i] >= nlo - 1e-12 * fabs(nlo) && t->v[i] <= nhi + 1e-12 * fabs(nhi))
            t->v[n++] = t->v[i];
    t->n = n;
    t->lo = nlo;
    t->hi = nhi;
}

/* Label every k-th category (k a power of two: ranks 0, 8, 16 ...), so
 * labels do not run into each other. */
static int category_stride(int n, double len_pt, double label_pt)
{
    int k = 1;
    while (k < n && len_pt / n * k < label_pt)
        k *= 2;
    return k;
}

static void tick_text(const frame *f, int yaxis, int i, char *buf, size_t len)
{
    if (yaxis && f->nycat) {
        if (f->ycat)
            snprintf(buf, len, "%s", f->ycat[i]);
        else
            snprintf(buf, len, "%d", i);
        return;
    }
    if (!yaxis && f->xcat) {
        snprintf(buf, len, "%s", f->xcat[i]);
        return;
    }
    const plot_ticks *t = yaxis ? &f->yt : &f->xt;
    plot_tick_label(t->v[i], t, yaxis ? f->ys : f->xs, buf, len);
}

void frame_layout(canvas *c, frame *f, const plot_opts *o, double xlo, double xhi,
                  double ylo, double yhi, double right_pt, double top_pt)
{
    double w, h, tick_h, label_h = 0, title_h = 0;
    char buf[256];
    f->xs = o->x.scale;
    f->ys = o->y.scale;
    canvas_text_size(c, "0123456789", PLOT_TICK_PT, 0, &w, &tick_h);
    if (o->x.label || o->y.label)
        canvas_text_size(c, o->x.label ? o->x.label : o->y.label, PLOT_LABEL_PT, 0, &w, &label_h);
    if (o->title)
        canvas_text_size(c, o->title, PLOT_TITLE_PT, 1, &w, &title_h);

    /* ---- vertical: title, legend row, plot, tick labels, x label ---- */
    f->y0 = PAD_PT + (o->title ? title_h + 4 : tick_h / 2) + top_pt;
    f->y1 = c->h - PAD_PT - (o->x.label ? label_h + GAP_PT : 0) - tick_h - TICK_PT - GAP_PT;
    if (!f->nycat) {
        axis_ticks(&o->y, ylo, yhi, f->y1 - f->y0, 28, &f->yt);
        double air = f->y_air * (f->yt.hi - f->yt.lo);
        if (o->y.scale == PLOT_LINEAR && air > 0) {
            if (!isfinite(o->y.max) && yhi > f->yt.hi - air)
                f->yt.hi += air;
            if (!isfinite(o->y.min) && ylo < f->yt.lo + air && !(ylo >= 0 && f->yt.lo == 0))
                f->yt.lo -= air;
        }
    }

    /* ---- horizontal: y label, tick labels, plot, right margin ---- */
    double ytick_w = 0;
    int ny = f->nycat ? f->nycat : f->yt.n;
    int ystride = f->nycat ? category_stride(f->nycat, f->y1 - f->y0, 1.4 * tick_h) : 1;
    for (int i = 0; i < ny; i += ystride) {
        tick_text(f, 1, i, buf, sizeof buf);
        canvas_text_size(c, buf, PLOT_TICK_PT, 0, &w, &h);
        ytick_w = fmax(ytick_w, w);
    }
    f->x0 = PAD_PT + (o->y.label ? label_h + GAP_PT : 0) + ytick_w + TICK_PT + GAP_PT;
    f->x1 = c->w - PAD_PT - right_pt;
    if (!f->xcat) {
        axis_ticks(&o->x, xlo, xhi, f->x1 - f->x0, 42, &f->xt);
        /* The last x tick label is centred on the axis end: keep it inside. */
        tick_text(f, 0, f->xt.n - 1, buf, sizeof buf);
        canvas_text_size(c, buf, PLOT_TICK_PT, 0, &w, &h);
        if (right_pt < w / 2)
            f->x1 = c->w - PAD_PT - w / 2;
    }
}

void frame_clip(canvas *c, const frame *f, double margin_pt)
{
    cairo_save(c->cr);
    cairo_rectangle(c->cr, f->x0 - margin_pt, f->y0 - margin_pt, f->x1 - f->x0 + 2 * margin_pt,
                    f->y1 - f->y0 + 2 * margin_pt);
    cairo_clip(c->cr);
}

void frame_draw(canvas *c, const frame *f, const plot_opts *o)
{
    cairo_t *cr = c->cr;
    char buf[256];
    double w, tick_h, label_h;
    canvas_text_size(c, "0123456789", PLOT_TICK_PT, 0, &w, &tick_h);
    canvas_text_size(c, "Ag", PLOT_LABEL_PT, 0, &w, &label_h);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);

    /* ---- x axis ---- */
    int nx = f->xcat ? f->nxcat : f->xt.n, ny = f->nycat ? f->nycat : f->yt.n;
    int xstride = 1;
    if (f->xcat) {
        double widest = 0, h;
        for (int i = 0; i < nx; i++) {
            canvas_text_size(c, f->xcat[i], PLOT_TICK_PT, 0, &w, &h);
            widest = fmax(widest, w + 4);
        }
        xstride = category_stride(nx, f->x1 - f->x0, widest);
    }
    for (int i = 0; i < nx; i += xstride) {
        double x = f->xcat ? frame_x(f, i) : frame_x(f, f->xt.v[i]);
        if (!f->xcat && !f->no_xgrid) {
            canvas_rgb(c, PLOT_GRID);
            cairo_set_line_width(cr, 0.5);
            cairo_move_to(cr, x, f->y0);
            cairo_line_to(cr, x, f->y1);
            cairo_stroke(cr);
        }
        canvas_rgb(c, PLOT_INK);
        cairo_set_line_width(cr, 0.6);
        cairo_move_to(cr, x, f->y1);
        cairo_line_to(cr, x, f->y1 + TICK_PT);
        cairo_stroke(cr);
        tick_text(f, 0, i, buf, sizeof buf);
        canvas_text(c, x, f->y1 + TICK_PT + GAP_PT, 0.5, 0, 0, buf, PLOT_TICK_PT, 0, PLOT_INK);
    }
    /* ---- y axis ---- */
    int ystride = f->nycat ? category_stride(f->nycat, f->y1 - f->y0, 1.4 * tick_h) : 1;
    for (int i = 0; i < ny; i += ystride) {
        double y = f->nycat ? frame_y(f, i) : frame_y(f, f->yt.v[i]);
        if (!f->nycat && !f->no_ygrid) {
            canvas_rgb(c, PLOT_GRID);
            cairo_set_line_width(cr, 0.5);
            cairo_move_to(cr, f->x0, y);
            cairo_line_to(cr, f->x1, y);
            cairo_stroke(cr);
        }
        canvas_rgb(c, PLOT_INK);
        cairo_set_line_width(cr, 0.6);
        cairo_move_to(cr, f->x0, y);
        cairo_line_to(cr, f->x0 - TICK_PT, y);
        cairo_stroke(cr);
        tick_text(f, 1, i, buf, sizeof buf);
        canvas_text(c, f->x0 - TICK_PT - GAP_PT, y, 1, 0.5, 0, buf, PLOT_TICK_PT, 0, PLOT_INK);
    }
    /* ---- spines, labels, title ---- */
    canvas_rgb(c, PLOT_INK);
    cairo_set_line_width(cr, 0.8);
    cairo_set_line_cap(cr, CAIRO_LINE_CAP_SQUARE);
    cairo_move_to(cr, f->x0, f->y0);
    cairo_line_to(cr, f->x0, f->y1);
    cairo_line_to(cr, f->x1, f->y1);
    cairo_stroke(cr);
    if (o->x.label)
        canvas_text(c, (f->x0 + f->x1) / 2, c->h - PAD_PT, 0.5, 1, 0, o->x.label, PLOT_LABEL_PT, 0, PLOT_INK);
    if (o->y.label)
        canvas_text(c, PAD_PT, (f->y0 + f->y1) / 2, 0.5, 0, 90, o->y.label, PLOT_LABEL_PT, 0, PLOT_INK);
    if (o->title) { /* centred on the plot area, but never off the page */
        double tw, th;
        canvas_text_size(c, o->title, PLOT_TITLE_PT, 1, &tw, &th);
        double x = fmin(fmax((f->x0 + f->x1) / 2 - tw / 2, PAD_PT), c->w - PAD_PT - tw);
        canvas_text(c, fmax(x, 0), PAD_PT, 0, 0, 0, o->title, PLOT_TITLE_PT, 1, PLOT_INK);
    }
}

/* ---- legends ---- */

#define SWATCH_PT 14.0
#define LEGEND_PAD_PT 3.0

/* Entry i's width (swatch, gap, name) and height, in points. */
static void entry_size(canvas *c, const legend_entry *e, double *w, double *h)
{
    canvas_text_size(c, e->name, PLOT_LEGEND_PT, 0, w, h);
    *w += SWATCH_PT + 4;
}

/* A legend is a grid of cols columns filled row by row; one row (cols =
 * n) packs entries at their own widths, more rows share the widest. */
#define LEGEND_COL_GAP_PT 9.0

void legend_size(canvas *c, const legend_entry *e, int n, int cols, double *w, double *h)
{
    double ew, eh, widest = 0, total = 0, tallest = 0;
    if (cols < 1)
        cols = 1;
    for (int i = 0; i < n; i++) {
        entry_size(c, &e[i], &ew, &eh);
        widest = fmax(widest, ew);
        tallest = fmax(tallest, eh);
        total += ew + (i ? LEGEND_COL_GAP_PT : 0);
    }
    int rows = (n + cols - 1) / cols;
    *w = (cols >= n ? total : cols * widest + (cols - 1) * LEGEND_COL_GAP_PT) + 2 * LEGEND_PAD_PT;
    *h = rows * tallest + 2 * LEGEND_PAD_PT;
}

int legend_cols_to_fit(canvas *c, const legend_entry *e, int n, double max_w)
{
    double w, h;
    int cols = n;
    for (; cols > 1; cols--) {
        legend_size(c, e, n, cols, &w, &h);
        if (w <= max_w)
            break;
    }
    return cols;
}

static void swatch(canvas *c, const legend_entry *e, double x, double y)
{
    cairo_t *cr = c->cr;
    canvas_rgb(c, e->rgb);
    if (e->swatch == LEGEND_BOX) {
        cairo_rectangle(cr, x + 2, y - 3.5, SWATCH_PT - 4, 7);
        cairo_fill(cr);
        return;
    }
    cairo_set_line_width(cr, 1.5);
    if (e->swatch == LEGEND_DASHED) {
        static const double dash[] = {3.5, 2};
        cairo_set_dash(cr, dash, 2, 0);
        cairo_set_line_width(cr, 1.0);
    }
    cairo_move_to(cr, x, y);
    cairo_line_to(cr, x + SWATCH_PT, y);
    cairo_stroke(cr);
    cairo_set_dash(cr, NULL, 0, 0);
    if (e->swatch == LEGEND_MARKER_LINE) {
        cairo_arc(cr, x + SWATCH_PT / 2, y, 2.2, 0, 2 * M_PI);
        cairo_fill(cr);
    }
}

void legend_draw(canvas *c, const legend_entry *e, int n, int cols, double x, double y, int backdrop)
{
    double w, h, ew, eh, widest = 0, tallest = 0;
    if (cols < 1)
        cols = 1;
    if (backdrop) {
        legend_size(c, e, n, cols, &w, &h);
        canvas_rgba(c, 0xFFFFFF, 0.85);
        cairo_rectangle(c->cr, x, y, w, h);
        cairo_fill(c->cr);
    }
    for (int i = 0; i < n; i++) {
        entry_size(c, &e[i], &ew, &eh);
        widest = fmax(widest, ew);
        tallest = fmax(tallest, eh);
    }
    double cx = x + LEGEND_PAD_PT, cy = y + LEGEND_PAD_PT;
    for (int i = 0; i < n; i++) {
        entry_size(c, &e[i], &ew, &eh);
        swatch(c, &e[i], cx, cy + tallest / 2);
        canvas_text(c, cx + SWATCH_PT + 4, cy, 0, 0, 0, e[i].name, PLOT_LEGEND_PT, 0, PLOT_INK);
        if (cols >= n) {
            cx += ew + LEGEND_COL_GAP_PT;
        } else if ((i + 1) % cols == 0) {
            cx = x + LEGEND_PAD_PT;
            cy += tallest;
        } else {
            cx += widest + LEGEND_COL_GAP_PT;
        }
    }
}

/* Liang-Barsky: does the segment meet the rectangle [x0,x1] x [y0,y1]? */
int plot_segment_hits(double ax, double ay, double bx, double by, double x0, double y0, double x1, double y1)
{
    double t0 = 0, t1 = 1, dx = bx - ax, dy = by - ay;
    double p[4] = {-dx, dx, -dy, dy}, q[4] = {ax - x0, x1 - ax, ay - y0, y1 - ay};
    for (int i = 0; i < 4; i++) {
        if (p[i] == 0) {
            if (q[i] < 0)
                return 0;
            continue;
        }
        double r = q[i] / p[i];
        if (p[i] < 0) {
            if (r > t1)
                return 0;
            if (r > t0)
                t0 = r;
        } else {
            if (r < t0)
                return 0;
            if (r < t1)
                t1 = r;
        }
    }
    return 1;
}
