/* canvas.c -- a drawing surface chosen by file extension, with pango text.
 *
 * Every chart draws in points (1/72 inch) on a canvas of the requested
 * size; only here does it matter whether that becomes a PNG (an image
 * surface scaled by dpi / 72, written at close) or an SVG or PDF (vector
 * surfaces that write as they go). Text goes through pango so it gets real
 * font fallback, kerning, superscripts and a minus sign; the pango context
 * is set to 72 dpi so a font size in points equals one in user units, and
 * metric hinting is off so a PNG and a PDF of one figure lay out alike.
 */
#include "plots/plot_internal.h"

#include <cairo-pdf.h>
#include <cairo-svg.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Okabe & Ito, "Color Universal Design" (2008): distinguishable under the
 * common colour-vision deficiencies. Yellow last: it is faint on white. */
static const unsigned palette[] = {0x0072B2, 0xD55E00, 0x009E73, 0xCC79A7,
                                   0xE69F00, 0x56B4E9, 0x000000, 0xF0E442};

unsigned plot_palette(int i)
{
    int n = (int)(sizeof palette / sizeof palette[0]);
    return palette[((i % n) + n) % n];
}

unsigned plot_kind_colour(int kind)
{
    switch (kind) {
    case RT_EV_COMPUTE: return 0x0072B2; /* blue */
    case RT_EV_SEND:    return 0xCC79A7; /* reddish purple: vermillion was too close to
                                              * communication's orange */
    case RT_EV_RECV:    return 0x009E73; /* bluish green */
    case RT_EV_WAIT:    return 0xBBBBBB; /* grey: idle */
    case RT_EV_KINDS:   return 0xE69F00; /* orange: communication (core/analysis.h) */
    default:            return 0x000000;
    }
}

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int plot_path_check(const char *path, char *err, size_t errlen)
{
    const char *dot = path ? strrchr(path, '.') : NULL;
    if (!dot || (strcasecmp(dot, ".png") && strcasecmp(dot, ".svg") && strcasecmp(dot, ".pdf"))) {
        seterr(err, errlen, "%s: unknown figure format (the file name must end in .png, .svg or .pdf)",
               path ? path : "(null)");
        return -1;
    }
    return 0;
}

int canvas_open(canvas *c, const char *path, double width_in, double height_in, double dpi,
                char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    if (plot_path_check(path, err, errlen) != 0)
        return -1;
    const char *dot = strrchr(path, '.');
    if (!(width_in > 0 && height_in > 0 && width_in < 100 && height_in < 100)) {
        seterr(err, errlen, "%s: figure size %gx%g in is out of range", path, width_in, height_in);
        return -1;
    }
    if (!(dpi > 0))
        dpi = 300;
    c->w = width_in * 72;
    c->h = height_in * 72;
    c->png = strcasecmp(dot, ".png") == 0;
    if (c->png) {
        int wpx = (int)lround(width_in * dpi), hpx = (int)lround(height_in * dpi);
        if (wpx < 1 || hpx < 1 || (double)wpx * hpx > 2e8) {
            seterr(err, errlen, "%s: %dx%d pixels is out of range", path, wpx, hpx);
            return -1;
        }
        c->surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, wpx, hpx);
        c->px_per_pt = dpi / 72;
    } else if (strcasecmp(dot, ".svg") == 0) {
        c->surface = cairo_svg_surface_create(path, c->w, c->h);
        c->px_per_pt = 2; /* 144 columns an inch: finer than print needs */
    } else {
        c->surface = cairo_pdf_surface_create(path, c->w, c->h);
        c->px_per_pt = 2; /* 144 columns an inch: finer than print needs */
    }
    if (cairo_surface_status(c->surface) != CAIRO_STATUS_SUCCESS) {
        cairo_status_t st = cairo_surface_status(c->surface);
        seterr(err, errlen, "cannot write %s: %s", path,
               st == CAIRO_STATUS_WRITE_ERROR ? strerror(errno) : cairo_status_to_string(st));
        goto fail;
    }
    c->cr = cairo_create(c->surface);
    if (c->png)
        cairo_scale(c->cr, c->px_per_pt, c->px_per_pt);
    c->layout = pango_cairo_create_layout(c->cr);
    c->path = strdup(path);
    if (!c->layout || !c->path) {
        seterr(err, errlen, "out of memory");
        goto fail;
    }
    PangoContext *ctx = pango_layout_get_context(c->layout);
    pango_cairo_context_set_resolution(ctx, 72);
    cairo_font_options_t *fo = cairo_font_options_create();
    cairo_font_options_set_hint_metrics(fo, CAIRO_HINT_METRICS_OFF);
    cairo_font_options_set_hint_style(fo, CAIRO_HINT_STYLE_NONE);
    pango_cairo_context_set_font_options(ctx, fo);
    cairo_font_options_destroy(fo);
    pango_layout_context_changed(c->layout);

    canvas_rgb(c, 0xFFFFFF);
    cairo_paint(c->cr);
    return 0;
fail:
    canvas_close(c, 0, NULL, 0);
    return -1;
}

int canvas_close(canvas *c, int ok, char *err, size_t errlen)
{
    int rc = ok ? 0 : -1;
    if (c->cr && ok && cairo_status(c->cr) != CAIRO_STATUS_SUCCESS) {
        seterr(err, errlen, "drawing %s: %s", c->path, cairo_status_to_string(cairo_status(c->cr)));
        rc = -1;
    }
    if (c->layout)
        g_object_unref(c->layout);
    if (c->cr)
        cairo_destroy(c->cr);
    if (c->surface) {
        if (rc == 0 && c->png) {
            cairo_status_t st = cairo_surface_write_to_png(c->surface, c->path);
            if (st != CAIRO_STATUS_SUCCESS) {
                seterr(err, errlen, "cannot write %s: %s", c->path,
                       st == CAIRO_STATUS_WRITE_ERROR ? strerror(errno) : cairo_status_to_string(st));
                rc = -1;
            }
        }
        cairo_surface_finish(c->surface);
        if (rc == 0 && cairo_surface_status(c->surface) != CAIRO_STATUS_SUCCESS) {
            seterr(err, errlen, "cannot write %s: %s", c->path,
                   cairo_status_to_string(cairo_surface_status(c->surface)));
            rc = -1;
        }
        cairo_surface_destroy(c->surface);
    }
    free(c->path);
    memset(c, 0, sizeof *c);
    return rc;
}

void canvas_rgba(canvas *c, unsigned rgb, double alpha)
{
    cairo_set_source_rgba(c->cr, ((rgb >> 16) & 0xFF) / 255.0, ((rgb >> 8) & 0xFF) / 255.0,
                          (rgb & 0xFF) / 255.0, alpha);
}

void canvas_rgb(canvas *c, unsigned rgb) { canvas_rgba(c, rgb, 1.0); }

/* Pango sizes <sup> from its default font, not from the absolute size
 * set below, so an exponent came out several times too large: spell each
 * <sup> out as a span of 70% size raised by 40% of the font size. */
static void expand_sup(const char *in, double size_pt, char *out, size_t cap)
{
    char open[96];
    snprintf(open, sizeof open, "<span size=\"%d\" rise=\"%d\">",
             (int)(0.7 * size_pt * PANGO_SCALE), (int)(0.4 * size_pt * PANGO_SCALE));
    size_t n = 0;
    while (*in && n + 1 < cap) {
        const char *rep = NULL;
        size_t skip = 0;
        if (strncmp(in, "<sup>", 5) == 0)
            rep = open, skip = 5;
        else if (strncmp(in, "</sup>", 6) == 0)
            rep = "</span>", skip = 6;
        if (rep) {
            size_t k = strlen(rep);
            if (n + k >= cap)
                break;
            memcpy(out + n, rep, k);
            n += k;
            in += skip;
        } else {
            out[n++] = *in++;
        }
    }
    out[n] = '\0';
}

static void set_text(canvas *c, const char *markup, double size_pt, int bold)
{
    PangoFontDescription *fd = pango_font_description_from_string(PLOT_FONT);
    pango_font_description_set_absolute_size(fd, size_pt * PANGO_SCALE);
    pango_font_description_set_weight(fd, bold ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL);
    pango_layout_set_font_description(c->layout, fd);
    pango_font_description_free(fd);
    char text[2048];
    if (strstr(markup, "<sup>")) {
        expand_sup(markup, size_pt, text, sizeof text);
        markup = text;
    }
    pango_layout_set_markup(c->layout, markup, -1);
}

void canvas_text_size(canvas *c, const char *markup, double size_pt, int bold, double *w, double *h)
{
    set_text(c, markup, size_pt, bold);
    int pw, ph;
    pango_layout_get_size(c->layout, &pw, &ph);
    *w = (double)pw / PANGO_SCALE;
    *h = (double)ph / PANGO_SCALE;
}

void canvas_text(canvas *c, double x, double y, double ax, double ay, double angle_deg,
                 const char *markup, double size_pt, int bold, unsigned rgb)
{
    double w, h;
    canvas_text_size(c, markup, size_pt, bold, &w, &h);
    cairo_save(c->cr);
    cairo_translate(c->cr, x, y);
    cairo_rotate(c->cr, -angle_deg * M_PI / 180);
    cairo_move_to(c->cr, -ax * w, -ay * h);
    canvas_rgb(c, rgb);
    pango_cairo_update_layout(c->cr, c->layout);
    pango_cairo_show_layout(c->cr, c->layout);
    cairo_restore(c->cr);
    pango_cairo_update_layout(c->cr, c->layout);
}
