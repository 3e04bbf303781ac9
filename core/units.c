/* units.c -- parse and print numbers with units (see units.h). */
#include "core/units.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct unit {
    const char *suffix;
    double scale;   /* value = number x scale, or */
    double div;     /* value = number / div when div is set: 50us is 50 / 1e6, exactly
                       the double nearest 5e-05, which 50 x 1e-6 is not */
} unit;

static size_t digits_at(const char *s)
{
    size_t n = 0;
    while (s[n] >= '0' && s[n] <= '9')
        n++;
    return n;
}

int units_decimal(const char *s, double *out, const char **end)
{
    if (!s)
        return -1;
    const char *p = s + (*s == '-' || *s == '+'); /* LIBSVM labels are +1 and -1 */
    size_t whole = digits_at(p), frac = 0;
    p += whole;
    if (*p == '.') {
        frac = digits_at(p + 1);
        p += 1 + frac;
    }
    if (whole + frac == 0)
        return -1;
    if (*p == 'e' || *p == 'E') { /* an exponent only when it is whole: "5e" is 5 and "e" */
        const char *q = p + 1 + (p[1] == '+' || p[1] == '-');
        size_t n = digits_at(q);
        if (n)
            p = q + n;
    }
    /* strtod reads exactly this text: it is a decimal number already */
    char buf[128];
    size_t len = (size_t)(p - s);
    if (len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    /* ERANGE is also an underflow (1e-320, a subnormal distlab itself
     * writes with %g into a run's records): only overflow is refused */
    double v = strtod(buf, NULL);
    if (!isfinite(v))
        return -1;
    *out = v;
    if (end)
        *end = p;
    return 0;
}

/* Split "12.5GiB" into 12.5 and "GiB"; the number must be finite, >= 0. */
static int split(const char *s, double *num, const char **suffix)
{
    double v;
    if (!s || units_decimal(s, &v, suffix) != 0 || v < 0)
        return -1;
    *num = v;
    return 0;
}

/* The unit is applied before the range is checked: 1e300TBps is a finite
 * number with a known unit, but 1e312 bytes per second is not finite, and
 * a simulator handed it aborts. */
static int in_range(const char *s, double v, double lo, double hi, const char *base,
                    const char *what, const char *range, char *err, size_t errlen)
{
    if (isfinite(v) && v >= lo && v <= hi)
        return 0;
    snprintf(err, errlen, "%s '%s' is %g %s, outside the %ss distlab takes (%s)", what, s, v, base,
             what, range);
    return -1;
}

static int parse(const char *s, const unit *units, double *out, const char *what,
                 const char *examples, char *err, size_t errlen)
{
    double v;
    const char *suf;
    if (split(s, &v, &suf) == 0) {
        for (const unit *u = units; u->suffix; u++) {
            if (strcmp(suf, u->suffix) == 0) {
                *out = u->div ? v / u->div : v * u->scale;
                return 0;
            }
        }
    }
    snprintf(err, errlen, "'%s' is not a %s (expected a number >= 0 with a unit, e.g. %s)",
             s ? s : "", what, examples);
    return -1;
}

int units_size(const char *s, double *bytes, char *err, size_t errlen)
{
    static const unit u[] = {
        {"", 1, 0}, {"B", 1, 0},
        {"k", 1e3, 0}, {"kB", 1e3, 0}, {"KB", 1e3, 0}, {"KiB", 1024.0, 0}, {"K", 1024.0, 0},
        {"M", 1e6, 0}, {"MB", 1e6, 0}, {"MiB", 1048576.0, 0},
        {"G", 1e9, 0}, {"GB", 1e9, 0}, {"GiB", 1073741824.0, 0},
        {"TB", 1e12, 0}, {"TiB", 1099511627776.0, 0},
        {NULL, 0, 0}};
    if (parse(s, u, bytes, "size", "4096, 4KiB, 1MB, 64MiB", err, errlen))
        return -1;
    if (*bytes > 9007199254740992.0) { /* 2^53 bytes: past this, sizes stop being exact */
        snprintf(err, errlen, "size '%s' is too large (at most 8 PiB)", s);
        return -1;
    }
    if (*bytes != floor(*bytes)) {
        snprintf(err, errlen, "'%s' is not a whole number of bytes", s);
        return -1;
    }
    return 0;
}

int units_rate(const char *s, double *bytes_per_s, char *err, size_t errlen)
{
    static const unit u[] = {
        {"bps", 0, 8}, {"kbps", 1e3 / 8, 0}, {"Kbps", 1e3 / 8, 0}, {"Mbps", 1e6 / 8, 0},
        {"Gbps", 1e9 / 8, 0}, {"Tbps", 1e12 / 8, 0},
        {"Bps", 1, 0}, {"kBps", 1e3, 0}, {"KBps", 1e3, 0}, {"MBps", 1e6, 0}, {"GBps", 1e9, 0},
        {"TBps", 1e12, 0}, {"KiBps", 1024.0, 0}, {"MiBps", 1048576.0, 0}, {"GiBps", 1073741824.0, 0},
        {NULL, 0, 0}};
    if (parse(s, u, bytes_per_s, "rate", "10Gbps, 1GBps, 100Mbps", err, errlen))
        return -1;
    if (*bytes_per_s <= 0) {
        snprintf(err, errlen, "rate '%s' must be above zero", s);
        return -1;
    }
    return in_range(s, *bytes_per_s, UNITS_RATE_MIN_BPS, UNITS_RATE_MAX_BPS, "B/s",
                    "rate", "1bps to 1e15Bps", err, errlen);
}

int units_time(const char *s, double *seconds, char *err, size_t errlen)
{
    static const unit u[] = {
        {"", 1, 0}, {"s", 1, 0}, {"ms", 0, 1e3}, {"us", 0, 1e6}, {"ns", 0, 1e9},
        {"min", 60, 0}, {"h", 3600, 0}, {NULL, 0, 0}};
    /* a bare "m" reads as minutes to some (--timeout 5m) and as
     * milliseconds to others (--latency 1m): refused, naming both */
    double v;
    const char *suf;
    if (split(s, &v, &suf) == 0 && strcmp(suf, "m") == 0) {
        int n = (int)(suf - s);
        snprintf(err, errlen, "'%s' is ambiguous: write %.*smin for minutes or %.*sms for "
                 "milliseconds", s, n, s, n, s);
        return -1;
    }
    if (parse(s, u, seconds, "time", "50us, 1ms, 2s, 5min", err, errlen))
        return -1;
    return in_range(s, *seconds, 0, UNITS_TIME_MAX_S, "s", "time", "0 to 1e9s, about 31 years",
                    err, errlen);
}

int units_speed(const char *s, double *flops, char *err, size_t errlen)
{
    static const unit u[] = {
        {"", 1, 0}, {"f", 1, 0}, {"kf", 1e3, 0}, {"Mf", 1e6, 0}, {"Gf", 1e9, 0}, {"Tf", 1e12, 0},
        {"Pf", 1e15, 0}, {NULL, 0, 0}};
    if (parse(s, u, flops, "speed", "1Gf, 100Mf, 2.5e9", err, errlen))
        return -1;
    if (*flops <= 0) {
        snprintf(err, errlen, "speed '%s' must be above zero", s);
        return -1;
    }
    return in_range(s, *flops, UNITS_SPEED_MIN_FLOPS, UNITS_SPEED_MAX_FLOPS, "flop/s", "speed",
                    "1f to 1e30f", err, errlen);
}

int units_int(const char *s, long lo, long hi, long *out, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    /* digits, after a sign at most: strtol would also take " 5" */
    char first = s ? s[s[0] == '-' || s[0] == '+'] : 0;
    int digits = first >= '0' && first <= '9';
    long v = digits ? strtol(s, &end, 10) : 0;
    if (!digits || *end || errno == ERANGE || v < lo || v > hi) {
        snprintf(err, errlen, "'%s' is not a whole number in %ld..%ld", s ? s : "", lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int units_double(const char *s, double *out, char *err, size_t errlen)
{
    const char *end;
    double v;
    if (units_decimal(s, &v, &end) != 0 || *end) {
        snprintf(err, errlen, "'%s' is not a number (a decimal one: digits, one '.', an exponent)",
                 s ? s : "");
        return -1;
    }
    *out = v;
    return 0;
}

void units_fmt_size(double bytes, char *buf, size_t len)
{
    static const char *names[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int i = 0;
    while (bytes >= 1024 && i < 4) {
        bytes /= 1024;
        i++;
    }
    snprintf(buf, len, "%g %s", bytes, names[i]);
}

void units_fmt_rate(double bytes_per_s, char *buf, size_t len)
{
    double bits = bytes_per_s * 8;
    if (bits >= 1e9)
        snprintf(buf, len, "%g Gb/s", bits / 1e9);
    else if (bits >= 1e6)
        snprintf(buf, len, "%g Mb/s", bits / 1e6);
    else
        snprintf(buf, len, "%g kb/s", bits / 1e3);
}

void units_fmt_time(double seconds, char *buf, size_t len)
{
    if (seconds >= 1 || seconds == 0)
        snprintf(buf, len, "%g s", seconds);
    else if (seconds >= 1e-3)
        snprintf(buf, len, "%g ms", seconds * 1e3);
    else if (seconds >= 1e-6)
        snprintf(buf, len, "%g us", seconds * 1e6);
    else
        snprintf(buf, len, "%g ns", seconds * 1e9);
}
