/* bars.c -- grouped and stacked bar charts.
 *
 * Grouped: one cluster per group (an algorithm, a worker count), one bar
 * per series in it. Stacked: the series piled in one bar per group, as
 * the compute / communication / wait split of a run's time is. The value
 * axis starts at zero (bars that do not are misleading); the legend sits in
 * a row above the plot area, where it can never hide a bar.
 */
#include "plots/plot_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Series named after an activity take the timeline's colour for it, so a
 * stacked bar and a timeline of the same runs read alike. */
static unsigned series_colour(const char *name, int i)
{
    static const struct { const char *name; int kind; } kinds[] = {
        {"compute", RT_EV_COMPUTE}, {"send", RT_EV_SEND}, {"communication", RT_EV_KINDS},
        {"recv", RT_EV_RECV}, {"wait", RT_EV_WAIT},
    };
    for (size_t k = 0; name && k < sizeof kinds / sizeof kinds[0]; k++)
        if (strcmp(name, kinds[k].name) == 0)
            return plot_kind_colour(kinds[k].kind);
    return plot_palette(i);
}

int plot_bars(const char *path, const plot_bars_spec *spec, char *err, size_t errlen)
{
    int ng = spec->ngroups, ns = spec->nseries;
    canvas c;
    frame f;
    legend_entry *le = NULL;
    if (ng < 1 || ns < 1 || !spec->groups || !spec->series || !spec->values) {
        snprintf(err, errlen, "%s: a bar chart needs at least one group and one series", path);
        return -1;
    }
    /* ---- value range: from zero to the tallest bar (or stack) ---- */
    double lo = 0, hi = 0;
    for (int g = 0; g < ng; g++) {
        double pos = 0, neg = 0;
        for (int s = 0; s < ns; s++) {
            double v = spec->values[s * ng + g];
            if (!isfinite(v))
                continue;
            if (spec->stacked) {
                if (v >= 0)
                    pos += v;
                else
                    neg += v;
            } else {
                pos = fmax(pos, v);
                neg = fmin(neg, v);
            }
        }
        hi = fmax(hi, pos);
        lo = fmin(lo, neg);
    }
    if (spec->value_format && !spec->stacked)
        hi *= 1.12; /* room over the tallest bar for its value */
    plot_opts o = spec->opts;
    o.x.scale = PLOT_LINEAR;
    if (o.y.scale != PLOT_LINEAR) {
        snprintf(err, errlen, "%s: bar charts take a linear value axis", path);
        return -1;
    }
    if (canvas_open(&c, path, o.width_in > 0 ? o.width_in : 3.5, o.height_in > 0 ? o.height_in : 2.45,
                    o.dpi, err, errlen))
        return -1;
    if (!(le = calloc((size_t)ns, sizeof *le))) {
        snprintf(err, errlen, "out of memory");
        canvas_close(&c, 0, NULL, 0);
        return -1;
    }
    for (int s = 0; s < ns; s++)
        le[s] = (legend_entry){spec->series[s], series_colour(spec->series[s], s), LEGEND_BOX};

    /* ---- layout: legend row above the plot area (one series: none) ---- */
    double lw = 0, lh = 0;
    int cols = legend_cols_to_fit(&c, le, ns, c.w - 8);
    if (ns > 1)
        legend_size(&c, le, ns, cols, &lw, &lh);
    memset(&f, 0, sizeof f);
    f.xcat = spec->groups;
    f.nxcat = ng;
    f.no_xgrid = 1;
    frame_layout(&c, &f, &o, 0, 1, lo, hi, 0, ns > 1 ? lh + 2 : 0);
    frame_draw(&c, &f, &o);

    /* ---- bars ---- */
    double slot = (f.x1 - f.x0) / ng, bar = spec->stacked ? slot * 0.6 : slot * 0.8 / ns;
    double zero = frame_y(&f, fmax(f.yt.lo, 0));
    frame_clip(&c, &f, 0);
    for (int g = 0; g < ng; g++) {
        double pos = 0, neg = 0;
        for (int s = 0; s < ns; s++) {
            double v = spec->values[s * ng + g];
            if (!isfinite(v))
                continue;
            double x, y0, y1;
            if (spec->stacked) {
                x = frame_x(&f, g) - bar / 2;
                double base = v >= 0 ? pos : neg;
                y0 = frame_y(&f, base);
                y1 = frame_y(&f, base + v);
                if (v >= 0)
                    pos += v;
                else
                    neg += v;
            } else {
                x = frame_x(&f, g) - slot * 0.4 + s * bar;
                y0 = zero;
                y1 = frame_y(&f, v);
            }
            canvas_rgb(&c, le[s].rgb);
            cairo_rectangle(c.cr, x, fmin(y0, y1), spec->stacked ? bar : bar * 0.92, fabs(y1 - y0));
            cairo_fill(c.cr);
        }
    }
    cairo_restore(c.cr);
    if (spec->value_format && !spec->stacked)
        for (int g = 0; g < ng; g++)
            for (int s = 0; s < ns; s++) {
                double v = spec->values[s * ng + g];
                char text[64];
                if (!isfinite(v))
                    continue;
                snprintf(text, sizeof text, spec->value_format, v);
                double x = frame_x(&f, g) - slot * 0.4 + (s + 0.46) * bar;
                canvas_text(&c, x, frame_y(&f, v) - (v >= 0 ? 1.5 : -1.5), 0.5, v >= 0 ? 1 : 0, 0, text,
                            PLOT_LEGEND_PT, 0, PLOT_INK);
            }
    /* the zero line over the bars' feet */
    canvas_rgb(&c, PLOT_INK);
    cairo_set_line_width(c.cr, 0.8);
    cairo_move_to(c.cr, f.x0, zero);
    cairo_line_to(c.cr, f.x1, zero);
    cairo_stroke(c.cr);
    if (ns > 1) {
        double lx = (f.x0 + f.x1 - lw) / 2;
        if (lx + lw > c.w - 4)
            lx = c.w - 4 - lw;
        legend_draw(&c, le, ns, cols, fmax(lx, 4), f.y0 - lh - 4, 0);
    }
    free(le);
    return canvas_close(&c, 1, err, errlen);
}
