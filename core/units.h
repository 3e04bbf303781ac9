/* units.h -- numbers with units, as the command line takes them.
 *
 * Sizes: 4096, 4KiB, 1MB, 2GiB (B, k/kB/KB = 1000, K/KiB = 1024, M/MB,
 * MiB, G/GB, GiB, TB, TiB). Rates: 10Gbps, 1GBps, 100Mbps, 125MBps (bits or bytes per
 * second). Times: 50us, 1ms, 0.5s, 2 (seconds), 5min, 1h; a bare "m" is
 * refused (minutes or milliseconds?). Speeds: 1Gf, 100Mf, 2.5e9
 * (flop/s). Each parser returns 0 and stores the value in base units
 * (bytes, bytes/s, seconds, flop/s), or -1 with a message in err that says
 * what was expected.
 */
#ifndef DISTLAB_UNITS_H
#define DISTLAB_UNITS_H

#include <stddef.h>

/* The ranges each kind takes, checked after the unit is applied (the
 * error says the value and the range): wide enough for any machine, narrow
 * enough that what SimGrid computes from them stays finite.
 *   rates   1 bit/s to 8 Pb/s (0.125 to 1e15 B/s)
 *   times   0 to 1e9 s (about 31 years)
 *   speeds  1 to 1e30 flop/s (1e30f: compute that costs nothing)
 *   sizes   0 to 2^53 bytes (8 PiB), whole bytes */
#define UNITS_RATE_MIN_BPS 0.125
#define UNITS_RATE_MAX_BPS 1e15
#define UNITS_TIME_MAX_S 1e9
#define UNITS_SPEED_MIN_FLOPS 1.0
#define UNITS_SPEED_MAX_FLOPS 1e30

int units_size(const char *s, double *bytes, char *err, size_t errlen);
int units_rate(const char *s, double *bytes_per_s, char *err, size_t errlen);
int units_time(const char *s, double *seconds, char *err, size_t errlen);
int units_speed(const char *s, double *flops, char *err, size_t errlen);
/* The one reader of real numbers for the command line, experiment files,
 * specs and data files: a decimal number at the start of s, [+-]D[.D][e[+-]D]
 * or [+-].D[e[+-]D] (D: digits; the sign optional), and nothing strtod
 * takes beyond that: no hex (0x10, 0x1p-3), inf, nan or leading space. 0 with the value
 * and *end just past the number (what follows is the caller's: a unit, a
 * comma, the end); -1 if s does not start with one or it overflows. */
int units_decimal(const char *s, double *out, const char **end);

/* A whole number in [lo, hi]. */
int units_int(const char *s, long lo, long hi, long *out, char *err, size_t errlen);
/* A finite real number. */
int units_double(const char *s, double *out, char *err, size_t errlen);

/* Human-readable forms for labels: "4 KiB", "10 Gb/s", "50 us". */
void units_fmt_size(double bytes, char *buf, size_t len);
void units_fmt_rate(double bytes_per_s, char *buf, size_t len);
void units_fmt_time(double seconds, char *buf, size_t len);

#endif
