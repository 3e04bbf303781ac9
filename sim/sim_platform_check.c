/* sim_platform_check.c -- a platform file's values, checked before SimGrid
 * reads them.
 *
 * SimGrid 3.32 takes a negative latency without a word (a 1 KiB ring
 * allreduce then takes 1.4 us), and aborts the whole process on a zero,
 * negative or NaN speed or bandwidth, a zero core count or a second host
 * of the same name, with its reason lost in a backtrace. So distlab reads
 * the file first and checks every value that SimGrid's platform DTD (4.1)
 * gives a unit or a count, in the elements that carry them:
 *
 *   host      speed (a list of pstates), core, pstate
 *   cluster   speed, core, bw, lat, bb_bw, bb_lat, loopback_bw,
 *             loopback_lat, limiter_link, radical
 *   cabinet   speed, bw, lat, radical
 *   peer      speed, bw_in, bw_out, lat
 *   link      bandwidth (a list, for Wi-Fi), latency
 *   backbone  bandwidth, latency
 *   disk      read_bw, write_bw
 *   config    prop values that are numbers
 *
 * that no two hosts (named, or made by a cluster's or a cabinet's
 * radical), no two links and no two zones share a name, that every
 * <link_ctn> of a route names a link, that there is a host, that each
 * route's ends name hosts or routers (a zoneRoute's, zones), that each
 * zone's routing= is one SimGrid knows, and that a Full zone has a route
 * for each pair of its hosts (and of its zones). SimGrid aborts on each of
 * these, its reason lost in a backtrace. SimGrid's parser also aborts on
 * what its DTD does not allow: an attribute an element does not take, a
 * required one left out, an unknown element, or one out of its place or
 * order; each element's shape is checked against a table of what 3.32
 * takes (probed, with the order SimGrid's parser really follows). So are
 * the routes of each zone (their ends in that zone, no two alike), the
 * profiles a file gives or names, and what <trace_connect> and
 * <host_link> name. And SimGrid's own parser reads
 * only a file with the DOCTYPE of its DTD and a <platform version=> from
 * 4 to 4.1; without them it aborts with "Unexpected character `<' in
 * prolog" or "BIG FAT WARNING". The first problem is reported as file,
 * line, element and value.
 *
 * The units are SimGrid's, not distlab's command line's: times w d h m s
 * ms us ns ps ("m" is a minute); rates bps or Bps after k M G T P E Z Y
 * (x1000) or Ki Mi Gi Ti Pi Ei Zi Yi (x1024); speeds f after k M G T P E
 * Z Y, or flops after kilo mega giga tera peta exa zetta yotta. A number
 * without a unit is in s, Bps or f, as SimGrid reads it. Values must lie
 * in the ranges units.h gives the command line's options.
 *
 * libxml2 reads the XML: it gives each element its line, reports a
 * malformed file with its line, and never fetches the DTD the DOCTYPE
 * names (XML_PARSE_NONET). It runs in recovery mode only to step over
 * what SimGrid's parser takes and XML does not ("--" in a comment); any
 * other error refuses the file.
 */
#include "sim/sim_platform.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "core/files.h"
#include "core/units.h"

/* At most this many hosts from one file, as --hosts allows. */
#define CHECK_MAX_HOSTS (1 << 20)
/* The pstates of a host whose speeds are kept, to check the one in use. */
#define CHECK_PSTATES 64

typedef enum { V_TIME, V_RATE, V_RATES, V_SPEEDS, V_COUNT, V_INDEX, V_RADICAL } value_kind;

typedef struct rule {
    const char *elem, *attr;
    value_kind kind;
    int required;
} rule;

static const rule rules[] = {
    {"host", "speed", V_SPEEDS, 1},       {"host", "core", V_COUNT, 0},
    {"host", "pstate", V_INDEX, 0},
    {"cluster", "radical", V_RADICAL, 1}, {"cluster", "speed", V_SPEEDS, 1},
    {"cluster", "core", V_COUNT, 0},      {"cluster", "bw", V_RATE, 1},
    {"cluster", "lat", V_TIME, 1},        {"cluster", "bb_bw", V_RATE, 0},
    {"cluster", "bb_lat", V_TIME, 0},     {"cluster", "loopback_bw", V_RATE, 0},
    {"cluster", "loopback_lat", V_TIME, 0}, {"cluster", "limiter_link", V_RATE, 0},
    {"cabinet", "radical", V_RADICAL, 1}, {"cabinet", "speed", V_SPEEDS, 1},
    {"cabinet", "bw", V_RATE, 1},         {"cabinet", "lat", V_TIME, 1},
    {"peer", "speed", V_SPEEDS, 1},       {"peer", "bw_in", V_RATE, 1},
    {"peer", "bw_out", V_RATE, 1},        {"peer", "lat", V_TIME, 0},
    {"link", "bandwidth", V_RATES, 1},    {"link", "latency", V_TIME, 1},
    {"backbone", "bandwidth", V_RATE, 1}, {"backbone", "latency", V_TIME, 1},
    {"disk", "read_bw", V_RATE, 1},       {"disk", "write_bw", V_RATE, 1},
};

/* A name and where it was given, to find the second of a name. */
typedef struct named {
    char *name;
    const char *elem;
    long line;
    const xmlNode *node;
} named;

typedef struct names {
    named *v;
    size_t n, cap;
} names;

typedef struct checker {
    const char *path;
    names hosts, links, zones;
    names clusters, link_uses; /* cluster ids; each <link_ctn>, in file order */
    names routers;             /* <router>s, clusters' router_id= and the routers they name themselves */
    names split_links;         /* the <link>s of sharing_policy SPLITDUPLEX */
    names directed, undirected; /* <link_ctn>s with direction UP or DOWN, and without */
    long radical_hosts;        /* the hosts of the element's radical= */
    names ends, zone_ends;     /* each src=/gw_src=... of a <route>, of a <zoneRoute>, "attr\nname" */
    names traces;              /* <trace> ids */
    names refs;                /* what a <trace_connect> or <host_link> names: "what\nname" */
    double speeds[CHECK_PSTATES]; /* the element's speed= list */
    long pstate;                  /* the one it starts in */
    int cpu_profiles;             /* a host's speed or state follows a profile */
    int link_profile_line;        /* the first link profile's line, or 0 */
    char link_profile[96];        /* what it is: an attribute, or a <trace_connect> */
    char *err;
    size_t errlen;
} checker;

static int fail_at(checker *c, const xmlNode *node, const char *fmt, ...)
{
    char what[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    xmlChar *id = xmlGetProp(node, (const xmlChar *)"id");
    snprintf(c->err, c->errlen, "platform file '%s', line %ld, <%s%s%s%s>: %s", c->path,
             xmlGetLineNo(node), (const char *)node->name, id ? " id=\"" : "", id ? (const char *)id : "",
             id ? "\"" : "", what);
    xmlFree(id);
    return -1;
}

/* ---- SimGrid's units ---- */

typedef enum { P_NONE, P_SI_BIN, P_SI, P_SPELT } prefixes;

typedef struct base_unit {
    const char *name;
    double scale;
    prefixes pre; /* which prefixes it takes: none, k M ... and Ki Mi ..., k M ..., kilo mega ... */
} base_unit;

/* The multiplier of suffix in SimGrid's table for these base units, or 0. */
static double unit_scale(const char *suffix, const base_unit *units)
{
    static const char *const si[] = {"k", "M", "G", "T", "P", "E", "Z", "Y"};
    static const char *const bin[] = {"Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"};
    static const char *const spelt[] = {"kilo", "mega", "giga", "tera", "peta", "exa", "zetta", "yotta"};
    size_t ls = strlen(suffix);
    for (const base_unit *u = units; u->name; u++) {
        size_t lu = strlen(u->name);
        if (ls < lu || strcmp(suffix + ls - lu, u->name) != 0)
            continue;
        size_t lp = ls - lu;
        if (lp == 0)
            return u->scale;
        for (int k = 0; k < 8 && u->pre != P_NONE; k++) {
            const char *p = u->pre == P_SPELT ? spelt[k] : si[k];
            if (strlen(p) == lp && strncmp(suffix, p, lp) == 0)
                return u->scale * pow(1000, k + 1);
            if (u->pre == P_SI_BIN && strlen(bin[k]) == lp && strncmp(suffix, bin[k], lp) == 0)
                return u->scale * pow(1024, k + 1);
        }
    }
    return 0;
}

/* One value with a unit, in base units; -1 with a message if it is not
 * a number, has an unknown unit, or lies outside [lo, hi]. */
static int parse_one(checker *c, const xmlNode *node, const char *attr, const char *s, value_kind kind,
                     int zero_ok, double *out)
{
    static const base_unit times[] = {{"w", 604800, P_NONE}, {"d", 86400, P_NONE}, {"h", 3600, P_NONE},
                                      {"m", 60, P_NONE},     {"s", 1, P_NONE},     {"ms", 1e-3, P_NONE},
                                      {"us", 1e-6, P_NONE},  {"ns", 1e-9, P_NONE}, {"ps", 1e-12, P_NONE},
                                      {NULL, 0, P_NONE}};
    static const base_unit rates[] = {{"Bps", 1, P_SI_BIN}, {"bps", 0.125, P_SI_BIN}, {NULL, 0, P_NONE}};
    static const base_unit speeds[] = {{"f", 1, P_SI}, {"flops", 1, P_SPELT}, {NULL, 0, P_NONE}};
    const char *what = kind == V_TIME ? "time" : kind == V_SPEEDS ? "speed" : "rate";
    const char *deflt = kind == V_TIME ? "s" : kind == V_SPEEDS ? "f" : "Bps";
    const base_unit *units = kind == V_TIME ? times : kind == V_SPEEDS ? speeds : rates;
    double lo = kind == V_TIME || zero_ok ? 0 : kind == V_SPEEDS ? UNITS_SPEED_MIN_FLOPS : UNITS_RATE_MIN_BPS;
    double hi = kind == V_TIME ? UNITS_TIME_MAX_S : kind == V_SPEEDS ? UNITS_SPEED_MAX_FLOPS : UNITS_RATE_MAX_BPS;
    const char *range = kind == V_TIME ? "0 to 1e9s" : kind != V_SPEEDS ? "1bps to 1e15Bps"
                        : zero_ok ? "0 to 1e30f for a pstate not used" : "1f to 1e30f";

    while (*s == ' ')
        s++;
    char *end;
    errno = 0;
    double num = strtod(s, &end);
    if (end == s || errno == ERANGE)
        return fail_at(c, node, "%s='%s' is not a %s (a number and a unit, e.g. %s)", attr, s, what,
                       kind == V_TIME ? "25us" : kind == V_SPEEDS ? "1Gf" : "10Gbps");
    char suffix[32];
    size_t n = strcspn(end, " ");
    if (n >= sizeof suffix || end[n + strspn(end + n, " ")] != '\0')
        return fail_at(c, node, "%s='%s': unknown unit", attr, s);
    memcpy(suffix, end, n);
    suffix[n] = '\0';
    double scale = unit_scale(n ? suffix : deflt, units);
    if (scale == 0)
        return fail_at(c, node, "%s='%s': unknown %s unit '%s'", attr, s, what, suffix);
    double v = num * scale;
    if (!(v >= lo && v <= hi)) {
        const char *why = isnan(v) ? "not a number" : v < 0 ? "negative" : v == 0 ? "zero" : "out of range";
        return fail_at(c, node, "%s='%s' is %s (%g %s); a %s must be %s", attr, s, why, v,
                       kind == V_TIME ? "s" : kind == V_SPEEDS ? "flop/s" : "B/s", what, range);
    }
    *out = v;
    return 0;
}

/* A list of values, split on commas (and semicolons for rates), as
 * SimGrid splits pstates and Wi-Fi bandwidths; the first CHECK_PSTATES
 * go into c->speeds. A pstate's speed may be 0 (a host that is off or
 * booting), but not the one a host starts in: check_started does. Returns
 * how many, or -1. */
static int parse_list(checker *c, const xmlNode *node, const char *attr, const char *s, value_kind kind)
{
    char *copy = strdup(s), *rest = copy;
    if (!copy)
        return fail_at(c, node, "out of memory");
    int n = 0, rc = 0;
    const char *seps = kind == V_RATES ? ",;" : ",";
    /* every item, empty ones too: SimGrid aborts on "1Gf,,2Gf" */
    for (char *tok; rest && (tok = strsep(&rest, seps)); n++) {
        double v;
        if (!*tok) {
            rc = fail_at(c, node, "%s='%s': item %d is empty", attr, s, n + 1);
            break;
        }
        if (parse_one(c, node, attr, tok, kind == V_RATES ? V_RATE : kind, kind == V_SPEEDS, &v) != 0) {
            rc = -1;
            break;
        }
        if (kind == V_SPEEDS && n < CHECK_PSTATES)
            c->speeds[n] = v;
    }
    if (rc == 0 && n == 0)
        rc = fail_at(c, node, "%s='%s': no value", attr, s);
    free(copy);
    return rc ? -1 : n;
}

static int parse_whole(const char *s, long lo, long hi, long *out)
{
    if (!(*s >= '0' && *s <= '9')) /* no sign, no space: SimGrid's own readers take neither */
        return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno == ERANGE || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* ---- names ---- */

static int add_name(checker *c, names *set, const xmlNode *node, const char *name)
{
    if (set->n == set->cap) {
        size_t cap = set->cap ? 2 * set->cap : 64;
        named *v = realloc(set->v, cap * sizeof *v);
        if (!v)
            return fail_at(c, node, "out of memory");
        set->v = v;
        set->cap = cap;
    }
    named *e = &set->v[set->n];
    if (!(e->name = strdup(name)))
        return fail_at(c, node, "out of memory");
    e->elem = (const char *)node->name;
    e->line = xmlGetLineNo(node);
    e->node = node;
    set->n++;
    return 0;
}

static int by_name(const void *x, const void *y)
{
    return strcmp(((const named *)x)->name, ((const named *)y)->name);
}

static int by_name_then_line(const void *x, const void *y)
{
    const named *a = x, *b = y;
    int k = strcmp(a->name, b->name);
    return k ? k : (a->line > b->line) - (a->line < b->line);
}

static int find_twice(checker *c, names *set, const char *what)
{
    if (set->n > 1)
        qsort(set->v, set->n, sizeof *set->v, by_name_then_line);
    for (size_t i = 1; i < set->n; i++)
        if (strcmp(set->v[i - 1].name, set->v[i].name) == 0) {
            snprintf(c->err, c->errlen, "platform file '%s', line %ld, <%s>: a second %s named '%s' "
                     "(the first: line %ld, <%s>)", c->path, set->v[i].line, set->v[i].elem, what,
                     set->v[i].name, set->v[i - 1].line, set->v[i - 1].elem);
            return -1;
        }
    return 0;
}

/* Each <link_ctn> names a link of the file, or one SimGrid makes: a
 * cluster's start with its id and '_' ("c_link_3_UP", "c_backbone"), a cabinet's
 * and a peer's with "link_". SimGrid aborts on any other name, its reason
 * lost. Runs after find_twice, which sorts c->links. */
static int find_unknown_links(checker *c)
{
    for (size_t i = 0; i < c->link_uses.n; i++) {
        const named *u = &c->link_uses.v[i];
        named key = {.name = u->name};
        int known = strncmp(u->name, "link_", 5) == 0 ||
                    (c->links.n && bsearch(&key, c->links.v, c->links.n, sizeof key, by_name) != NULL);
        for (size_t k = 0; k < c->clusters.n && !known; k++) { /* ID_link_3_UP, ID_backbone, ... */
            size_t n = strlen(c->clusters.v[k].name);
            known = strncmp(u->name, c->clusters.v[k].name, n) == 0 && u->name[n] == '_';
        }
        if (!known) {
            snprintf(c->err, c->errlen, "platform file '%s', line %ld, <link_ctn id=\"%s\">: no link of that "
                     "name (a <link> or <backbone> of this file, or a link a <cluster> makes)", c->path, u->line,
                     u->name);
            return -1;
        }
    }
    return 0;
}

static void free_names(names *set)
{
    for (size_t i = 0; i < set->n; i++)
        free(set->v[i].name);
    free(set->v);
}

/* A cluster's or cabinet's radical ("0-7,9,12-15"): each host it makes,
 * prefix + number + suffix, goes into the host names. */
static int add_radical(checker *c, const xmlNode *node, const char *radical)
{
    xmlChar *prefix = xmlGetProp(node, (const xmlChar *)"prefix");
    xmlChar *suffix = xmlGetProp(node, (const xmlChar *)"suffix");
    char *copy = strdup(radical), *rest = copy, *part;
    long total = 0;
    int rc = copy ? 0 : fail_at(c, node, "out of memory");
    /* every part, empty ones too: SimGrid aborts on "0-3,,5" */
    while (rc == 0 && rest && (part = strsep(&rest, ","))) {
        if (!*part) {
            rc = fail_at(c, node, "radical='%s': an empty part (two commas in a row, or one at an end)", radical);
            break;
        }
        char *dash = strchr(part + 1, '-');
        long a, b;
        if (dash)
            *dash = '\0';
        if (parse_whole(part, 0, LONG_MAX, &a) != 0 || (dash ? parse_whole(dash + 1, 0, LONG_MAX, &b) : (b = a, 0)) != 0) {
            rc = fail_at(c, node, "radical='%s' is not a list of numbers and ranges (e.g. 0-7,9)", radical);
            break;
        }
        if (b < a) {
            rc = fail_at(c, node, "radical='%s': the range %ld-%ld is empty", radical, a, b);
            break;
        }
        if (b - a >= CHECK_MAX_HOSTS - total) {
            rc = fail_at(c, node, "radical='%s' makes more than %d hosts", radical, CHECK_MAX_HOSTS);
            break;
        }
        total += b - a + 1;
        for (long i = a; i <= b && rc == 0; i++) {
            char name[512];
            snprintf(name, sizeof name, "%s%ld%s", prefix ? (const char *)prefix : "", i,
                     suffix ? (const char *)suffix : "");
            rc = add_name(c, &c->hosts, node, name);
        }
    }
    if (rc == 0 && total == 0)
        rc = fail_at(c, node, "radical='%s' makes no host", radical);
    c->radical_hosts = total;
    free(copy);
    xmlFree(prefix);
    xmlFree(suffix);
    return rc;
}

/* ---- elements ---- */

static int is(const xmlNode *node, const char *name) { return strcmp((const char *)node->name, name) == 0; }
static int is_named(const named *n, const char *elem) { return strcmp(n->elem, elem) == 0; }

static int check_attr(checker *c, const xmlNode *node, const rule *r, long *nspeeds)
{
    xmlChar *raw = xmlGetProp(node, (const xmlChar *)r->attr);
    const char *v = raw ? (const char *)raw : NULL;
    int rc = 0;
    long n;
    /* an empty optional value means "none", as in the DTD's defaults; an
     * empty count or pstate is no number to SimGrid (" is not an int") */
    if (!v || (!*v && r->kind != V_COUNT && r->kind != V_INDEX)) {
        if (r->required)
            rc = fail_at(c, node, "no %s= (SimGrid requires it)", r->attr);
    } else if (r->kind == V_SPEEDS || r->kind == V_RATES) {
        int k = parse_list(c, node, r->attr, v, r->kind);
        rc = k < 0 ? -1 : 0;
        if (k > 0 && r->kind == V_SPEEDS)
            *nspeeds = k;
    } else if (r->kind == V_TIME || r->kind == V_RATE) {
        double x;
        rc = parse_one(c, node, r->attr, v, r->kind, 0, &x);
    } else if (r->kind == V_COUNT) {
        if (parse_whole(v, 1, 1 << 20, &n) != 0)
            rc = fail_at(c, node, "%s='%s' is not a whole number from 1 to %d", r->attr, v, 1 << 20);
    } else if (r->kind == V_INDEX) {
        /* SimGrid's default is "0.0": a number with a whole value */
        char *end;
        double x = strtod(v, &end);
        if (end == v || *end || !(x >= 0 && x < (double)*nspeeds) || x != floor(x))
            rc = fail_at(c, node, "%s='%s' is not a pstate: speed= lists %ld, numbered from 0", r->attr, v,
                         *nspeeds);
        else
            c->pstate = (long)x;
    } else if (r->kind == V_RADICAL) {
        rc = add_radical(c, node, v);
    }
    xmlFree(raw);
    return rc;
}

/* A <config>'s prop whose value is a number must be a finite one >= 0:
 * SimGrid's factors, gammas, precisions and sizes are all of that kind. */
static int check_config_prop(checker *c, const xmlNode *node)
{
    xmlChar *v = xmlGetProp(node, (const xmlChar *)"value");
    int rc = 0;
    if (v) {
        char *end;
        double x = strtod((const char *)v, &end);
        if (end != (const char *)v && *end == '\0' && !(isfinite(x) && x >= 0))
            rc = fail_at(c, node, "value='%s': a setting given as a number must be finite and at least 0",
                         (const char *)v);
    }
    xmlFree(v);
    return rc;
}

/* The speed a host starts at must be above zero: SimGrid aborts on it. */
static int check_started(checker *c, const xmlNode *node, long nspeeds)
{
    if (nspeeds == 0 || c->pstate >= CHECK_PSTATES || c->speeds[c->pstate] >= UNITS_SPEED_MIN_FLOPS)
        return 0;
    xmlChar *v = xmlGetProp(node, (const xmlChar *)"speed");
    fail_at(c, node, "speed='%s': pstate %ld, the one it starts in, has speed %g flop/s; it must be "
            "1f to 1e30f", v ? (const char *)v : "", c->pstate, c->speeds[c->pstate]);
    xmlFree(v);
    return -1;
}

/* A cluster's router: its router_id=, else the one SimGrid names
 * PREFIX ID _router SUFFIX. Routes may name either. */
static int add_cluster_routers(checker *c, const xmlNode *node, const char *id)
{
    xmlChar *rid = xmlGetProp(node, (const xmlChar *)"router_id");
    xmlChar *prefix = xmlGetProp(node, (const xmlChar *)"prefix");
    xmlChar *suffix = xmlGetProp(node, (const xmlChar *)"suffix");
    char name[1024];
    snprintf(name, sizeof name, "%s%s_router%s", prefix ? (const char *)prefix : "", id,
             suffix ? (const char *)suffix : "");
    int rc = add_name(c, &c->routers, node, name);
    if (rc == 0 && rid && *rid)
        rc = add_name(c, &c->routers, node, (const char *)rid);
    xmlFree(rid);
    xmlFree(prefix);
    xmlFree(suffix);
    return rc;
}

/* A <link>'s sharing_policy: SPLITDUPLEX ones are remembered for the
 * <link_ctn>s that name them; several bandwidths are a WIFI link's only
 * (SimGrid: "Non-WIFI links must use only 1 bandwidth"), and a WIFI link
 * belongs in a zone of routing='Wifi' (elsewhere the run crashed). */
static int check_link_policy(checker *c, const xmlNode *node)
{
    xmlChar *pol = xmlGetProp(node, (const xmlChar *)"sharing_policy");
    xmlChar *bw = xmlGetProp(node, (const xmlChar *)"bandwidth");
    xmlChar *id = xmlGetProp(node, (const xmlChar *)"id");
    xmlChar *routing = node->parent && node->parent->type == XML_ELEMENT_NODE
                           ? xmlGetProp(node->parent, (const xmlChar *)"routing") : NULL;
    const char *p = pol ? (const char *)pol : "SHARED";
    int rc = 0, wifi = strcmp(p, "WIFI") == 0;
    xmlChar *lat = xmlGetProp(node, (const xmlChar *)"latency");
    double lat_s = 0;
    if (wifi && !(routing && strcmp((const char *)routing, "Wifi") == 0))
        rc = fail_at(c, node, "sharing_policy='WIFI' belongs to a link of a zone of routing='Wifi'");
    else if (wifi && lat && parse_one(c, node, "latency", (const char *)lat, V_TIME, 1, &lat_s) == 0 && lat_s != 0)
        rc = fail_at(c, node, "latency='%s': SimGrid takes no latency on a WIFI link (give latency='0')",
                     (const char *)lat);
    else if (!wifi && bw && strpbrk((const char *)bw, ",;"))
        rc = fail_at(c, node, "bandwidth='%s': several bandwidths are a WIFI link's only (this one is %s)",
                     (const char *)bw, p);
    else if (strcmp(p, "SPLITDUPLEX") == 0 && id)
        rc = add_name(c, &c->split_links, node, (const char *)id);
    xmlFree(pol);
    xmlFree(bw);
    xmlFree(id);
    xmlFree(routing);
    xmlFree(lat);
    return rc;
}

/* A <link_ctn> of a SPLITDUPLEX <link> says which way (SimGrid made it
 * two links, ID_UP and ID_DOWN, and aborted: "Link not found: ID"); one
 * of another link says none ("Link not found: ID_UP"). Runs after
 * find_twice, which sorts c->links. */
static int check_directions(checker *c)
{
    if (c->split_links.n > 1)
        qsort(c->split_links.v, c->split_links.n, sizeof *c->split_links.v, by_name);
    named key;
    for (size_t i = 0; i < c->directed.n; i++) {
        key.name = c->directed.v[i].name;
        int split = c->split_links.n && bsearch(&key, c->split_links.v, c->split_links.n, sizeof key, by_name);
        int file_link = c->links.n && bsearch(&key, c->links.v, c->links.n, sizeof key, by_name);
        if (file_link && !split) {
            snprintf(c->err, c->errlen, "platform file '%s', line %ld, <link_ctn id=\"%s\">: a direction, but "
                     "link '%s' is not SPLITDUPLEX (leave direction= out, or give the link "
                     "sharing_policy='SPLITDUPLEX')", c->path, c->directed.v[i].line, key.name, key.name);
            return -1;
        }
    }
    for (size_t i = 0; i < c->undirected.n; i++) {
        key.name = c->undirected.v[i].name;
        if (c->split_links.n && bsearch(&key, c->split_links.v, c->split_links.n, sizeof key, by_name)) {
            snprintf(c->err, c->errlen, "platform file '%s', line %ld, <link_ctn id=\"%s\">: link '%s' is "
                     "SPLITDUPLEX: say which way, direction='UP' or direction='DOWN'", c->path,
                     c->undirected.v[i].line, key.name, key.name);
            return -1;
        }
    }
    return 0;
}

/* Attributes of a few values, as SimGrid's DTD lists them: another value
 * aborted the run ("Bad attribute `topology' in `cluster' element"). */
static const struct {
    const char *elem, *attr, *values;
} enums[] = {
    {"link", "sharing_policy", "SHARED|SPLITDUPLEX|FATPIPE|WIFI"},
    {"cluster", "sharing_policy", "SHARED|SPLITDUPLEX|FATPIPE"},
    {"cluster", "bb_sharing_policy", "SHARED|FATPIPE"},
    {"cluster", "topology", "FLAT|TORUS|FAT_TREE|DRAGONFLY"},
    {"link_ctn", "direction", "UP|DOWN|NONE"},
    {"route", "symmetrical", "YES|NO|yes|no"},
    {"zoneRoute", "symmetrical", "YES|NO|yes|no"},
    {"bypassRoute", "symmetrical", "YES|NO|yes|no"},
    {"bypassZoneRoute", "symmetrical", "YES|NO|yes|no"},
};

static int one_of(const char *v, const char *values)
{
    size_t n = strlen(v);
    for (const char *p = values; *p;) {
        size_t k = strcspn(p, "|");
        if (k == n && strncmp(p, v, n) == 0)
            return 1;
        p += k + (p[k] == '|');
    }
    return 0;
}

static int check_enums(checker *c, const xmlNode *node)
{
    int rc = 0;
    for (size_t i = 0; i < sizeof enums / sizeof *enums && rc == 0; i++) {
        if (!is(node, enums[i].elem))
            continue;
        xmlChar *v = xmlGetProp(node, (const xmlChar *)enums[i].attr);
        if (v && !one_of((const char *)v, enums[i].values))
            rc = fail_at(c, node, "%s='%s' is not one SimGrid knows (%s)", enums[i].attr, (const char *)v,
                         enums[i].values);
        xmlFree(v);
    }
    return rc;
}

/* A cluster's topology= TORUS, FAT_TREE or DRAGONFLY and its
 * topo_parameters=: whole numbers above 0 in SimGrid's shape, making as
 * many hosts as radical= names (SimGrid aborted on a non-number, "stoi",
 * and on more hosts than radicals; fewer would leave distlab counting
 * hosts SimGrid never made). TORUS "D1,D2,...": D1 x D2 x ... hosts.
 * FAT_TREE "L;C1,...,CL;P1,...,PL;N1,...,NL": C1 x ... x CL hosts.
 * DRAGONFLY "G,L;C,L;B,L;N": G x C x B x N hosts. */
static int check_topology(checker *c, const xmlNode *node)
{
    xmlChar *t = xmlGetProp(node, (const xmlChar *)"topology");
    xmlChar *p = xmlGetProp(node, (const xmlChar *)"topo_parameters");
    const char *topo = t ? (const char *)t : "FLAT", *s = p ? (const char *)p : "";
    int rc = 0, torus = strcmp(topo, "TORUS") == 0, fat = strcmp(topo, "FAT_TREE") == 0;
    if (!torus && !fat && strcmp(topo, "DRAGONFLY") != 0)
        goto done;
    /* the numbers, and where each group (between ';') starts */
    long num[64], groups = 1, start[64] = {0}, n = 0;
    const char *q = s;
    for (;;) {
        char *end;
        if (!(*q >= '0' && *q <= '9') || n == 64)
            break;
        errno = 0;
        num[n] = strtol(q, &end, 10);
        if (errno == ERANGE || num[n] < 1 || num[n] > CHECK_MAX_HOSTS)
            break;
        n++;
        q = end;
        if (*q == ',') {
            q++;
        } else if (*q == ';' && groups < 64) {
            start[groups++] = n;
            q++;
        } else {
            break;
        }
    }
    long hosts = 1;
    int shape = *q == '\0' && n > 0;
    if (shape && torus) {
        shape = groups == 1;
        for (long i = 0; i < n && shape; i++)
            hosts = hosts * num[i] > CHECK_MAX_HOSTS ? CHECK_MAX_HOSTS + 1 : hosts * num[i];
    } else if (shape && fat) {
        long L = num[0];
        shape = groups == 4 && start[1] == 1 && start[2] - start[1] == L && start[3] - start[2] == L &&
                n - start[3] == L;
        for (long i = 1; i <= L && shape; i++)
            hosts = hosts * num[i] > CHECK_MAX_HOSTS ? CHECK_MAX_HOSTS + 1 : hosts * num[i];
    } else if (shape) {
        shape = groups == 4 && start[1] == 2 && start[2] == 4 && start[3] == 6 && n == 7;
        for (long i = 0; i < 7 && shape; i += 2)
            hosts = hosts * num[i] > CHECK_MAX_HOSTS ? CHECK_MAX_HOSTS + 1 : hosts * num[i];
    }
    if (!shape)
        rc = fail_at(c, node, "topology='%s' with topo_parameters='%s': expected %s, whole numbers above 0", topo, s,
                     torus ? "the dimensions, e.g. 4,4,2" : fat ? "LEVELS;CHILDREN;PARENTS;LINKS, one number a "
                                                                  "level in each, e.g. 2;4,4;1,2;1,2"
                                                            : "GROUPS,LINKS;CHASSIS,LINKS;ROUTERS,LINKS;NODES, "
                                                              "e.g. 3,4;4,3;5,1;2");
    else if (hosts != c->radical_hosts)
        rc = fail_at(c, node, "topology='%s' with topo_parameters='%s' makes %ld hosts, but radical= names %ld: "
                     "make them the same", topo, s, hosts, c->radical_hosts);
done:
    xmlFree(t);
    xmlFree(p);
    return rc;
}

/* A zone's routing= must be one SimGrid 3.32 knows: it aborts with "Not
 * a valid model!" on any other. */
static int check_routing(checker *c, const xmlNode *node)
{
    static const char *const known[] = {"Full", "Floyd", "Dijkstra", "DijkstraCache", "None",
                                        "Vivaldi", "Cluster", "Wifi"};
    xmlChar *v = xmlGetProp(node, (const xmlChar *)"routing");
    int ok = 0;
    for (size_t i = 0; v && i < sizeof known / sizeof *known; i++)
        ok |= strcmp((const char *)v, known[i]) == 0;
    int rc = ok ? 0 : fail_at(c, node, "routing='%s' is not one SimGrid knows (Full, Floyd, Dijkstra, "
                              "DijkstraCache, None, Vivaldi, Cluster, Wifi)", v ? (const char *)v : "");
    xmlFree(v);
    return rc;
}

/* The ends a <route> or <zoneRoute> names, to look up once every name is
 * known: "src\nNAME" and so on. */
static int add_ends(checker *c, const xmlNode *node)
{
    static const char *const attrs[] = {"src", "dst", "gw_src", "gw_dst"};
    int zone = is(node, "zoneRoute"), rc = 0;
    for (int i = 0; i < (zone ? 4 : 2) && rc == 0; i++) {
        xmlChar *v = xmlGetProp(node, (const xmlChar *)attrs[i]);
        if (!v || !*v) {
            rc = fail_at(c, node, "no %s= (SimGrid requires it)", attrs[i]);
        } else {
            char key[1024];
            snprintf(key, sizeof key, "%s\n%s", attrs[i], (const char *)v);
            rc = add_name(c, i < 2 && zone ? &c->zone_ends : &c->ends, node, key);
        }
        xmlFree(v);
    }
    return rc;
}

/* Whether node gives a host's speed or state a profile: a host's or a
 * peer's availability_file=, speed_file= or state_file=, or a
 * <trace_connect> of kind HOST_AVAIL (the default) or SPEED. */
static int cpu_profile(const xmlNode *node)
{
    static const char *const attrs[] = {"availability_file", "speed_file", "state_file"};
    if (is(node, "host") || is(node, "peer")) {
        for (int i = 0; i < 3; i++)
            if (xmlHasProp(node, (const xmlChar *)attrs[i]))
                return 1;
        return 0;
    }
    if (!is(node, "trace_connect"))
        return 0;
    xmlChar *kind = xmlGetProp(node, (const xmlChar *)"kind");
    int cpu = !kind || strcmp((const char *)kind, "HOST_AVAIL") == 0 || strcmp((const char *)kind, "SPEED") == 0;
    xmlFree(kind);
    return cpu;
}

/* What makes a link's bandwidth, latency or state follow a profile: a
 * <link>'s bandwidth_file=, latency_file= or state_file=, or a
 * <trace_connect> of kind BANDWIDTH, LATENCY or LINK_AVAIL; NULL if node
 * does not. */
static const char *link_profile(const xmlNode *node)
{
    static const char *const attrs[] = {"bandwidth_file", "latency_file", "state_file"};
    if (is(node, "link")) {
        for (int i = 0; i < 3; i++)
            if (xmlHasProp(node, (const xmlChar *)attrs[i]))
                return attrs[i];
        return NULL;
    }
    if (!is(node, "trace_connect"))
        return NULL;
    static const char *const kinds[] = {"BANDWIDTH", "LATENCY", "LINK_AVAIL"};
    xmlChar *kind = xmlGetProp(node, (const xmlChar *)"kind");
    const char *what = NULL;
    for (int i = 0; i < 3 && kind && !what; i++)
        if (strcmp((const char *)kind, kinds[i]) == 0)
            what = kinds[i];
    xmlFree(kind);
    return what;
}

/* ---- which elements, attributes and nesting SimGrid's parser takes ----
 *
 * SimGrid 3.32's parser is generated from its DTD (4.1): an attribute the
 * DTD does not list for an element ("Bad attribute `colour' in `cluster'
 * element start tag"), a required one left out, an element it does not
 * know, or one in a place or order the DTD does not allow ("Starting tag
 * <host> is not allowed here") aborts the process. The table says, for
 * each element, its attributes (a '*' after a name: required) and its
 * children as phases: a child may be of its phase or a later one, never an
 * earlier one. A zone has two forms (zones and clusters with zoneRoutes,
 * or hosts and routers with routes): a child must fit one of them.
 *
 * The parser follows the DTD the way a greedy reader would, and the
 * phases say what it does, not only what the DTD says (probed on 3.32):
 * a child of a later phase goes to the last phase that takes it (a <trace>
 * after a zone's clusters ends the zones and the zoneRoutes alike), and
 * the first child after the <prop>s that both forms take (a <link>, a
 * <backbone>, a <trace>) makes the zone one of hosts and routes. */
typedef struct elem_shape {
    const char *name;
    const char *attrs;
    const char *kids, *kids_alt; /* phases, '/' between, ' ' between names; NULL: no children */
    const char *order;           /* how the children go, for the message */
    const char *refused;         /* why distlab refuses the element, or NULL */
} elem_shape;

#define ZONE_ORDER "its <prop>s first; then either zones, clusters, peers and links, then <zoneRoute>s; " \
                   "or hosts, routers and links, then <route>s"
static const elem_shape shapes[] = {
    {"platform", "version", "config random/include cluster cabinet peer AS zone trace trace_connect/process actor",
     NULL, "its <config>s first, then zones, clusters, peers and traces", NULL},
    {"config", "id", "prop", NULL, "only <prop>s", NULL},
    {"prop", "id* value*", NULL, NULL, NULL, NULL},
    {"random", "id* min* max* mean* std_deviation* seed radical generator", NULL, NULL, NULL, NULL},
    {"trace", "id* file periodicity*", NULL, NULL, NULL, NULL},
    {"trace_connect", "kind trace* element*", NULL, NULL, NULL, NULL},
    {"zone", "id* routing*",
     "prop/AS zone include link backbone cluster peer/"
     "zoneRoute ASroute bypassASroute bypassZoneRoute trace trace_connect/trace trace_connect",
     "prop/include storage_type storage host cabinet router link backbone trace trace_connect host_link/"
     "route bypassRoute trace trace_connect", ZONE_ORDER, NULL},
    {"AS", "id* routing*",
     "prop/AS zone include link backbone cabinet cluster peer/"
     "zoneRoute ASroute bypassASroute bypassZoneRoute trace trace_connect/trace trace_connect",
     "prop/include storage_type storage host cabinet router link backbone trace trace_connect host_link/"
     "route bypassRoute trace trace_connect", ZONE_ORDER, NULL},
    {"host", "id* speed* core speed_file availability_file state_file coordinates pstate", "disk prop mount", NULL,
     "only <disk>s and <prop>s", NULL},
    {"disk", "id read_bw* write_bw*", "prop", NULL, "only <prop>s", NULL},
    {"host_link", "id* up* down*", NULL, NULL, NULL, NULL},
    {"cluster", "id* prefix* suffix* radical* speed* core bw* lat* sharing_policy topology topo_parameters bb_bw "
     "bb_lat bb_sharing_policy router_id limiter_link loopback_bw loopback_lat", "prop", NULL, "only <prop>s", NULL},
    {"cabinet", "id* prefix* suffix* radical* speed* bw* lat*", NULL, NULL, NULL, NULL},
    {"peer", "id* speed* bw_in* bw_out* lat coordinates speed_file availability_file state_file", NULL, NULL, NULL,
     NULL},
    {"router", "id* coordinates", NULL, NULL, NULL, NULL},
    {"backbone", "id* bandwidth* latency*", NULL, NULL, NULL, NULL},
    {"link", "id* bandwidth* bandwidth_file latency latency_file state_file sharing_policy", "prop", NULL,
     "only <prop>s", NULL},
    {"route", "src* dst* symmetrical", "link_ctn", NULL, "only <link_ctn>s", NULL},
    {"zoneRoute", "src* dst* gw_src* gw_dst* symmetrical", "link_ctn", NULL, "only <link_ctn>s", NULL},
    {"ASroute", "src* dst* gw_src* gw_dst* symmetrical", "link_ctn", NULL, "only <link_ctn>s", NULL},
    {"bypassRoute", "src* dst*", "link_ctn", NULL, "only <link_ctn>s", NULL},
    {"bypassZoneRoute", "src* dst* gw_src* gw_dst*", "link_ctn", NULL, "only <link_ctn>s", NULL},
    {"bypassASroute", "src* dst* gw_src* gw_dst*", "link_ctn", NULL, "only <link_ctn>s", NULL},
    {"link_ctn", "id* direction", NULL, NULL, NULL, NULL},
    {"include", "", NULL, NULL, NULL, "SimGrid removed <include> in 3.18: copy the file's elements in"},
    {"storage_type", "", NULL, NULL, NULL, "SimGrid removed <storage_type> in 3.27 (a <disk> in a <host> is its successor)"},
    {"storage", "", NULL, NULL, NULL, "SimGrid removed <storage> in 3.27 (a <disk> in a <host> is its successor)"},
    {"mount", "", NULL, NULL, NULL, "SimGrid removed <mount> in 3.27 (a <disk> in a <host> is its successor)"},
    {"actor", "", NULL, NULL, NULL, "an actor belongs to a deployment file, and distlab places its ranks itself "
     "(--placement): leave it out"},
    {"process", "", NULL, NULL, NULL, "a process belongs to a deployment file, and distlab places its ranks itself "
     "(--placement): leave it out"},
};

static const elem_shape *shape_of(const char *name)
{
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
        if (strcmp(shapes[i].name, name) == 0)
            return &shapes[i];
    return NULL;
}

/* Whether word (up to its '*', a ' ' or a '/') is name. */
static int word_is(const char *word, const char *name)
{
    size_t n = strcspn(word, "* /");
    return strlen(name) == n && strncmp(word, name, n) == 0;
}

/* Whether phase `phase` of kids takes name. */
static int phase_takes(const char *kids, int phase, const char *name)
{
    int at = 0;
    for (const char *w = kids; *w;) {
        if (at == phase && word_is(w, name))
            return 1;
        w += strcspn(w, " /");
        at += *w == '/';
        if (*w)
            w++;
    }
    return 0;
}

/* The phase a child named name takes the parser to from phase `from`: the
 * same if it takes it, else the last later one that does; -1: none. */
static int next_phase(const char *kids, int from, const char *name)
{
    if (phase_takes(kids, from, name))
        return from;
    int phases = 1, last = -1;
    for (const char *w = kids; *w; w++)
        phases += *w == '/';
    for (int p = from + 1; p < phases; p++)
        if (phase_takes(kids, p, name))
            last = p;
    return last;
}

/* node's own shape: an element SimGrid knows, not one distlab refuses,
 * its attributes the DTD's, the required ones there. */
static int check_shape(checker *c, const xmlNode *node)
{
    const elem_shape *sh = shape_of((const char *)node->name);
    if (!sh)
        return fail_at(c, node, "not an element of SimGrid's platform files (%s)",
                       "platform, zone, cluster, host, link, route, zoneRoute, link_ctn, prop, config, ...");
    if (sh->refused)
        return fail_at(c, node, "%s", sh->refused);
    for (const xmlAttr *a = node->properties; a; a = a->next) {
        int known = 0;
        for (const char *w = sh->attrs; *w && !known; w += strcspn(w, " "), w += *w == ' ')
            known = word_is(w, (const char *)a->name);
        if (!known) {
            char list[512];
            size_t n = 0;
            for (const char *w = sh->attrs; *w && n + 2 < sizeof list; w++) {
                if (*w == ' ')
                    list[n++] = ',';
                if (*w != '*')
                    list[n++] = *w;
            }
            list[n] = '\0';
            return fail_at(c, node, "%s= is not an attribute SimGrid takes on a <%s> (it takes %s)",
                           (const char *)a->name, sh->name, list);
        }
    }
    for (const char *w = sh->attrs; *w; w += strcspn(w, " "), w += *w == ' ') {
        size_t n = strcspn(w, "* ");
        if (w[n] != '*')
            continue;
        char attr[64];
        snprintf(attr, sizeof attr, "%.*s", (int)n, w);
        if (!xmlHasProp(node, (const xmlChar *)attr))
            return fail_at(c, node, "no %s= (SimGrid requires it)", attr);
    }
    return 0;
}

/* The place of child k among its siblings: parent's shape takes it, in
 * that order. form[] holds each form's phase so far (-1: the children so
 * far do not fit that form); prev is the sibling before k. */
static int check_place(checker *c, const xmlNode *parent, const xmlNode *k, const xmlNode *prev, int form[2])
{
    const elem_shape *sh = shape_of((const char *)parent->name);
    const char *name = (const char *)k->name;
    const char *kids[2] = {sh->kids, sh->kids_alt};
    int anywhere = 0, fits = 0;
    for (int f = 0; f < 2; f++) {
        if (!kids[f]) {
            form[f] = -1;
            continue;
        }
        anywhere |= next_phase(kids[f], 0, name) >= 0;
        form[f] = form[f] >= 0 ? next_phase(kids[f], form[f], name) : -1;
        fits |= form[f] >= 0;
    }
    if (form[0] > 0 && form[1] > 0) /* both forms take it: the parser takes the second */
        form[0] = -1;
    if (fits)
        return 0;
    if (!anywhere)
        return fail_at(c, k, "SimGrid takes no <%s> inside a <%s> (line %ld)%s%s", name, sh->name,
                       xmlGetLineNo(parent), sh->order ? ": it takes " : "", sh->order ? sh->order : "");
    return fail_at(c, k, "SimGrid takes no <%s> after the <%s> of line %ld inside a <%s>: a <%s> takes %s", name,
                   prev ? (const char *)prev->name : "?", prev ? xmlGetLineNo(prev) : 0L, sh->name, sh->name,
                   sh->order);
}

/* ---- profiles: a <trace>'s lines, the files hosts and links name ----
 *
 * SimGrid reads a profile while it reads the platform, and aborts on a
 * file it cannot open ("Cannot open file"), a <trace> with neither text
 * nor file= ("must have either a content, or point to a file"), and a
 * line that is not a time and a value ("Invalid profile line"). */

/* What is wrong in a profile's text, or NULL: each line blank, a
 * comment (#), "LOOPAFTER T" or "PERIODICITY T" (not in a <trace>, whose
 * periodicity= says it), or a time and a value (what follows, SimGrid
 * leaves). */
static const char *profile_damage(const char *text, int periodic, long *bad_line)
{
    long line = 1;
    for (const char *p = text; *p; line++) {
        size_t n = strcspn(p, "\n");
        char buf[256];
        snprintf(buf, sizeof buf, "%.*s", (int)(n < sizeof buf - 1 ? n : sizeof buf - 1), p);
        p += n + (p[n] == '\n');
        char *q = buf + strspn(buf, " \t\r"), *end;
        if (!*q || *q == '#')
            continue;
        int numbers = 2;
        if (strncmp(q, "LOOPAFTER", 9) == 0 || strncmp(q, "PERIODICITY", 11) == 0) {
            if (periodic) { /* SimGrid: "Assertion loop && loop_delay == 0 failed" */
                *bad_line = line;
                return "a <trace>'s periodicity= says when it repeats: leave LOOPAFTER and PERIODICITY out";
            }
            q += strcspn(q, " \t");
            numbers = 1;
        }
        for (int k = 0; k < numbers; k++) {
            double v = strtod(q, &end);
            if (end == q || !isfinite(v) || v < 0) {
                *bad_line = line;
                return "it is not a time and a value (two numbers >= 0)";
            }
            q = end;
        }
    }
    return NULL;
}

/* Open a profile file as SimGrid looks for it: as given, then beside the
 * platform file. Returns NULL when neither opens. */
static FILE *open_profile(const checker *c, const char *file, char *where, size_t len)
{
    struct stat st;
    snprintf(where, len, "%s", file);
    if (stat(file, &st) != 0 && file[0] != '/' && strrchr(c->path, '/')) {
        const char *slash = strrchr(c->path, '/');
        snprintf(where, len, "%.*s/%s", (int)(slash - c->path), c->path, file);
    }
    if (stat(where, &st) == 0 && !S_ISREG(st.st_mode)) { /* a FIFO blocked fopen */
        errno = EINVAL;
        return NULL;
    }
    return fopen(where, "r");
}

/* A file= or *_file= value: a file that opens and holds a profile. */
static int check_profile_file(checker *c, const xmlNode *node, const char *attr, const char *file)
{
    char where[4200], why[512];
    FILE *f = open_profile(c, file, where, sizeof where);
    if (!f && files_check_regular(where, why, sizeof why) != 0)
        return fail_at(c, node, "%s='%s': %s", attr, file, why);
    if (!f)
        return fail_at(c, node, "%s='%s': cannot open it (%s; SimGrid looks for it as given, then beside the "
                       "platform file)", attr, file, strerror(errno));
    struct stat st;
    char *text = NULL;
    int rc = 0;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (64 << 20))
        rc = fail_at(c, node, "%s='%s': not a regular file of at most 64 MiB", attr, where);
    else if (!(text = calloc((size_t)st.st_size + 1, 1)) || fread(text, 1, (size_t)st.st_size, f) != (size_t)st.st_size)
        rc = fail_at(c, node, "%s='%s': cannot read it", attr, where);
    long line = 0;
    const char *bad = rc == 0 ? profile_damage(text, is(node, "trace"), &line) : NULL;
    if (bad)
        rc = fail_at(c, node, "%s='%s', line %ld: %s", attr, where, line, bad);
    free(text);
    fclose(f);
    return rc;
}

static int check_profiles(checker *c, const xmlNode *node)
{
    static const char *const attrs[] = {"speed_file", "availability_file", "state_file", "bandwidth_file",
                                        "latency_file"};
    int rc = 0;
    for (int i = 0; i < 5 && rc == 0; i++) {
        xmlChar *v = (is(node, "host") || is(node, "peer") || is(node, "link"))
                         ? xmlGetProp(node, (const xmlChar *)attrs[i]) : NULL;
        if (v && *v)
            rc = check_profile_file(c, node, attrs[i], (const char *)v);
        xmlFree(v);
    }
    if (rc != 0 || !is(node, "trace"))
        return rc;
    xmlChar *file = xmlGetProp(node, (const xmlChar *)"file"), *text = xmlNodeGetContent(node);
    const char *t = text ? (const char *)text : "";
    long line = 0;
    const char *bad;
    if (file && *file)
        rc = check_profile_file(c, node, "file", (const char *)file);
    else if (!t[strspn(t, " \t\r\n")])
        rc = fail_at(c, node, "no profile: give its lines (a time and a value each) inside it, or a file=");
    else if ((bad = profile_damage(t, 1, &line)) != NULL)
        rc = fail_at(c, node, "its line %ld: %s", line, bad);
    xmlFree(file);
    xmlFree(text);
    return rc;
}

/* What a <trace_connect> and a <host_link> name, to look up once every
 * name is known: "trace\nID", "host\nID", "link\nID". */
static int add_refs(checker *c, const xmlNode *node)
{
    static const char *const tc[] = {"trace", "element"}, *const hl[] = {"id", "up", "down"};
    int rc = 0;
    if (is(node, "trace_connect")) {
        xmlChar *kind = xmlGetProp(node, (const xmlChar *)"kind");
        int host = !kind || strcmp((const char *)kind, "HOST_AVAIL") == 0 || strcmp((const char *)kind, "SPEED") == 0;
        xmlFree(kind);
        for (int i = 0; i < 2 && rc == 0; i++) {
            xmlChar *v = xmlGetProp(node, (const xmlChar *)tc[i]);
            char key[1024];
            snprintf(key, sizeof key, "%s\n%s", i == 0 ? "trace" : host ? "host" : "link", v ? (const char *)v : "");
            rc = add_name(c, &c->refs, node, key);
            xmlFree(v);
        }
    } else if (is(node, "host_link")) {
        for (int i = 0; i < 3 && rc == 0; i++) {
            xmlChar *v = xmlGetProp(node, (const xmlChar *)hl[i]);
            char key[1024];
            snprintf(key, sizeof key, "%s\n%s", i == 0 ? "host" : "link", v ? (const char *)v : "");
            rc = add_name(c, &c->refs, node, key);
            xmlFree(v);
        }
    } else if (is(node, "trace")) {
        xmlChar *id = xmlGetProp(node, (const xmlChar *)"id");
        if (id)
            rc = add_name(c, &c->traces, node, (const char *)id);
        xmlFree(id);
    }
    return rc;
}

static int check_node(checker *c, const xmlNode *node)
{
    c->cpu_profiles |= cpu_profile(node);
    const char *lp = c->link_profile_line ? NULL : link_profile(node);
    if (lp) {
        c->link_profile_line = node->line;
        snprintf(c->link_profile, sizeof c->link_profile, "%s %s%s", is(node, "link") ? "<link>'s" : "a",
                 lp, is(node, "link") ? "=" : " <trace_connect>");
    }
    long nspeeds = 0;
    c->pstate = 0;
    c->radical_hosts = 0;
    if (check_enums(c, node) != 0)
        return -1;
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        if (is(node, rules[i].elem) && check_attr(c, node, &rules[i], &nspeeds) != 0)
            return -1;
    if (check_started(c, node, nspeeds) != 0 || (is(node, "cluster") && check_topology(c, node) != 0) ||
        (is(node, "link") && check_link_policy(c, node) != 0))
        return -1;
    xmlChar *id = xmlGetProp(node, (const xmlChar *)"id");
    int rc = 0;
    if (id && (is(node, "host") || is(node, "peer")))
        rc = add_name(c, &c->hosts, node, (const char *)id);
    else if (id && (is(node, "link") || is(node, "backbone")))
        rc = add_name(c, &c->links, node, (const char *)id);
    else if (id && (is(node, "zone") || is(node, "AS") || is(node, "cluster")))
        rc = add_name(c, &c->zones, node, (const char *)id);
    else if (id && is(node, "link_ctn"))
        rc = add_name(c, &c->link_uses, node, (const char *)id);
    if (rc == 0 && id && is(node, "link_ctn")) {
        xmlChar *dir = xmlGetProp(node, (const xmlChar *)"direction");
        int directed = dir && (strcmp((const char *)dir, "UP") == 0 || strcmp((const char *)dir, "DOWN") == 0);
        xmlFree(dir);
        rc = add_name(c, directed ? &c->directed : &c->undirected, node, (const char *)id);
    }
    if (rc == 0 && id && is(node, "cluster"))
        rc = add_name(c, &c->clusters, node, (const char *)id);
    if (rc == 0 && id && is(node, "router"))
        rc = add_name(c, &c->routers, node, (const char *)id);
    if (rc == 0 && id && is(node, "cluster"))
        rc = add_cluster_routers(c, node, (const char *)id);
    xmlFree(id);
    if (rc == 0 && (is(node, "zone") || is(node, "AS")))
        rc = check_routing(c, node);
    if (rc == 0 && (is(node, "route") || is(node, "zoneRoute")))
        rc = add_ends(c, node);
    if (rc == 0 && is(node, "prop") && node->parent && is(node->parent, "config"))
        rc = check_config_prop(c, node);
    if (rc == 0)
        rc = check_shape(c, node);
    if (rc == 0)
        rc = check_profiles(c, node);
    if (rc == 0)
        rc = add_refs(c, node);
    if (rc == 0 && is(node, "peer")) { /* SimGrid: "<peer> tag can only be used in Vivaldi netzones" */
        xmlChar *r = node->parent ? xmlGetProp(node->parent, (const xmlChar *)"routing") : NULL;
        if (!r || strcmp((const char *)r, "Vivaldi") != 0)
            rc = fail_at(c, node, "a <peer> belongs to a zone of routing='Vivaldi' (this one is inside a <%s>%s%s)",
                         (const char *)node->parent->name, r ? " of routing=" : "", r ? (const char *)r : "");
        xmlFree(r);
    }
    int tops = 0; /* the platform's zones: SimGrid takes one, its root ("Invalid CPU model: nullptr") */
    for (const xmlNode *k = is(node, "platform") ? node->children : NULL; k && rc == 0; k = k->next)
        if (k->type == XML_ELEMENT_NODE && (is(k, "zone") || is(k, "AS") || is(k, "cluster") || is(k, "cabinet")) &&
            ++tops == 2)
            rc = fail_at(c, k, "a second zone at the top of the platform: SimGrid takes one, which holds the "
                         "others (wrap them in a <zone routing='Full'> with <zoneRoute>s between them)");
    int form[2] = {0, 0};
    const xmlNode *prev = NULL;
    for (const xmlNode *k = node->children; k && rc == 0; k = k->next) {
        if (k->type == XML_ELEMENT_NODE) {
            rc = check_node(c, k);
            if (rc == 0)
                rc = check_place(c, node, k, prev, form);
            prev = k;
        } else if ((k->type == XML_TEXT_NODE || k->type == XML_CDATA_SECTION_NODE) && !is(node, "trace")) {
            /* SimGrid's parser takes elements and blanks only ("Unexpected
             * character `e': `</zone>' expected") */
            const char *t = k->content ? (const char *)k->content : "";
            t += strspn(t, " \t\r\n");
            if (*t) {
                /* libxml2 gives a text node the line where it ends; the
                 * stray text starts as many newlines before */
                long line = xmlGetLineNo(k);
                for (const char *q = t; *q && line > 0; q++)
                    line -= *q == '\n';
                if (line < xmlGetLineNo(node))
                    line = xmlGetLineNo(node);
                rc = fail_at(c, node, "text '%.*s' inside it (line %ld): SimGrid takes only elements there",
                             (int)strcspn(t, "\r\n<"), t, line);
            }
        }
    }
    return rc;
}

static int known_name(const names *set, const char *name)
{
    named key = {.name = (char *)name};
    return set->n && bsearch(&key, set->v, set->n, sizeof key, by_name) != NULL;
}

/* Each end of a route names a host or a router, each end of a zoneRoute a
 * zone (its gateways: hosts or routers). SimGrid stops at the first that
 * does not ("Route dst='hX' does name a node"). Runs after find_twice has
 * sorted the hosts and zones. */
static int find_unknown_ends(checker *c)
{
    if (c->routers.n > 1)
        qsort(c->routers.v, c->routers.n, sizeof *c->routers.v, by_name);
    for (int z = 0; z < 2; z++) {
        const names *set = z ? &c->zone_ends : &c->ends;
        for (size_t i = 0; i < set->n; i++) {
            const named *u = &set->v[i];
            const char *name = strchr(u->name, '\n') + 1;
            int is_src_dst = u->name[0] == 's' || u->name[0] == 'd';
            int ok = z && is_src_dst ? known_name(&c->zones, name)
                                     : known_name(&c->hosts, name) || known_name(&c->routers, name);
            if (!ok) {
                snprintf(c->err, c->errlen, "platform file '%s', line %ld, <%s>: %.*s='%s' names no %s of "
                         "this file", c->path, u->line, u->elem, (int)(name - 1 - u->name), u->name, name,
                         z && is_src_dst ? "zone (a <zone> or <cluster>)" : "host or router");
                return -1;
            }
        }
    }
    return 0;
}

/* A link name a <host_link> or <trace_connect> may give: a <link>'s id,
 * or a SPLITDUPLEX one's with _UP or _DOWN. Runs after check_directions
 * has sorted the split links. */
static int known_link(const checker *c, const char *name, int halves)
{
    if (known_name(&c->links, name))
        return 1;
    size_t n = strlen(name);
    for (int i = 0; i < 2 && halves; i++) {
        const char *tail = i ? "_DOWN" : "_UP";
        size_t k = strlen(tail);
        if (n > k && strcmp(name + n - k, tail) == 0) {
            char base[1024];
            snprintf(base, sizeof base, "%.*s", (int)(n - k), name);
            if (known_name(&c->split_links, base))
                return 1;
        }
    }
    return 0;
}

/* Each <trace_connect> names a <trace> and a host or link, each
 * <host_link> a host and two links (SimGrid: "trace unknown", "Host zz
 * undefined", "Link 'nope' not found!", "Host not found"), and no
 * <link_ctn> names a <backbone> (SimGrid knows one only as its Cluster
 * zone's: "Link not found"). */
static int find_unknown_refs(checker *c)
{
    if (c->traces.n > 1)
        qsort(c->traces.v, c->traces.n, sizeof *c->traces.v, by_name);
    for (size_t i = 0; i < c->refs.n; i++) {
        const named *u = &c->refs.v[i];
        const char *name = strchr(u->name, '\n') + 1;
        int ok = strncmp(u->name, "trace\n", 6) == 0 ? known_name(&c->traces, name)
                 : strncmp(u->name, "host\n", 5) == 0 ? known_name(&c->hosts, name)
                 : known_link(c, name, is_named(u, "host_link"));
        if (!ok) {
            snprintf(c->err, c->errlen, "platform file '%s', line %ld, <%s>: '%s' names no %.*s of this file",
                     c->path, u->line, u->elem, name, (int)(name - 1 - u->name), u->name);
            return -1;
        }
    }
    for (size_t i = 0; i < c->link_uses.n; i++) {
        named key = {.name = c->link_uses.v[i].name};
        const named *l = c->links.n ? bsearch(&key, c->links.v, c->links.n, sizeof key, by_name) : NULL;
        if (l && strcmp(l->elem, "backbone") == 0) {
            snprintf(c->err, c->errlen, "platform file '%s', line %ld, <link_ctn id=\"%s\">: it names the <backbone> "
                     "of line %ld, which SimGrid knows only as a Cluster zone's; a route names <link>s",
                     c->path, c->link_uses.v[i].line, key.name, l->line);
            return -1;
        }
    }
    return 0;
}

/* The ids of node's children of these kinds, in file order. */
static int child_ids(checker *c, const xmlNode *node, const char *const *kinds, int nkinds, names *out)
{
    int rc = 0;
    for (const xmlNode *k = node->children; k && rc == 0; k = k->next) {
        int want = 0;
        for (int i = 0; k->type == XML_ELEMENT_NODE && i < nkinds; i++)
            want |= is(k, kinds[i]);
        xmlChar *id = want ? xmlGetProp(k, (const xmlChar *)"id") : NULL;
        if (id)
            rc = add_name(c, out, k, (const char *)id);
        xmlFree(id);
    }
    return rc;
}

/* The routes node gives directly of this kind, one way each: "src\ndst". */
static int child_routes(checker *c, const xmlNode *node, const char *kind, names *out)
{
    int rc = 0;
    for (const xmlNode *k = node->children; k && rc == 0; k = k->next) {
        if (k->type != XML_ELEMENT_NODE || !is(k, kind))
            continue;
        xmlChar *src = xmlGetProp(k, (const xmlChar *)"src"), *dst = xmlGetProp(k, (const xmlChar *)"dst");
        xmlChar *sym = xmlGetProp(k, (const xmlChar *)"symmetrical");
        char key[2048];
        snprintf(key, sizeof key, "%s\n%s", src ? (const char *)src : "", dst ? (const char *)dst : "");
        rc = add_name(c, out, k, key);
        if (rc == 0 && !(sym && (strcmp((const char *)sym, "NO") == 0 || strcmp((const char *)sym, "no") == 0))) {
            snprintf(key, sizeof key, "%s\n%s", dst ? (const char *)dst : "", src ? (const char *)src : "");
            rc = add_name(c, out, k, key);
        }
        xmlFree(src);
        xmlFree(dst);
        xmlFree(sym);
    }
    if (rc == 0 && out->n > 1)
        qsort(out->v, out->n, sizeof *out->v, by_name);
    return rc;
}

/* In a Full zone SimGrid knows only the routes the file lists: two hosts
 * (or two zones) of it without one abort the run at their first message
 * ("no connecting path"). So every pair, each way, must have one. The
 * search stops at the first missing pair, after at most as many lookups
 * as the file has routes. */
static int check_full_pairs(checker *c, const xmlNode *zone, const char *const *kinds, int nkinds,
                            const char *route, const char *what)
{
    names ids = {0}, routes = {0};
    int rc = child_ids(c, zone, kinds, nkinds, &ids);
    if (rc == 0 && ids.n > 1)
        rc = child_routes(c, zone, route, &routes);
    for (size_t i = 0; rc == 0 && ids.n > 1 && i < ids.n; i++)
        for (size_t j = 0; rc == 0 && j < ids.n; j++) {
            char key[2048];
            if (i == j)
                continue;
            snprintf(key, sizeof key, "%s\n%s", ids.v[i].name, ids.v[j].name);
            if (!known_name(&routes, key))
                rc = fail_at(c, zone, "routing='Full', but no <%s> from %s '%s' to '%s' (a Full zone needs "
                             "one for every pair of its %ss, each way; symmetrical='NO' gives one way only): "
                             "the file lacks routes", route, what, ids.v[i].name, ids.v[j].name, what);
        }
    free_names(&ids);
    free_names(&routes);
    return rc;
}

/* In a Floyd or Dijkstra zone the routes are the edges of a graph, and a
 * host that no route touches is cut off: SimGrid crashes (Dijkstra) or
 * aborts mid-run (Floyd) at its first message. Each host of such a zone
 * with others must be an end of some route. (Whether the graph connects
 * them all, SimGrid finds out; its reason then reaches the error.) */
static int check_graph_hosts(checker *c, const xmlNode *zone, const char *routing)
{
    static const char *const hosts[] = {"host"};
    names ids = {0}, routes = {0};
    int rc = child_ids(c, zone, hosts, 1, &ids);
    if (rc == 0 && ids.n > 1)
        rc = child_routes(c, zone, "route", &routes);
    for (size_t i = 0; rc == 0 && ids.n > 1 && i < ids.n; i++) {
        size_t len = strlen(ids.v[i].name);
        int touched = 0;
        for (size_t k = 0; k < routes.n && !touched; k++) {
            const char *key = routes.v[k].name, *nl = strchr(key, '\n');
            touched = nl && (((size_t)(nl - key) == len && strncmp(key, ids.v[i].name, len) == 0) ||
                             strcmp(nl + 1, ids.v[i].name) == 0);
        }
        if (!touched)
            rc = fail_at(c, zone, "routing='%s', but no <route> starts or ends at host '%s': it is cut off "
                         "from the zone's other hosts (the file lacks routes)", routing, ids.v[i].name);
    }
    free_names(&ids);
    free_names(&routes);
    return rc;
}

/* Whether a cluster makes a host of this name: prefix, a number its
 * radical= names, suffix. */
static int cluster_makes(const xmlNode *cl, const char *name)
{
    xmlChar *pre = xmlGetProp(cl, (const xmlChar *)"prefix"), *suf = xmlGetProp(cl, (const xmlChar *)"suffix");
    xmlChar *rad = xmlGetProp(cl, (const xmlChar *)"radical");
    size_t lp = pre ? strlen((const char *)pre) : 0, ls = suf ? strlen((const char *)suf) : 0, ln = strlen(name);
    int found = 0;
    if (rad && ln > lp + ls && strncmp(name, pre ? (const char *)pre : "", lp) == 0 &&
        strcmp(name + ln - ls, suf ? (const char *)suf : "") == 0) {
        char num[32];
        long v;
        snprintf(num, sizeof num, "%.*s", (int)(ln - lp - ls), name + lp);
        if (ln - lp - ls < sizeof num && parse_whole(num, 0, LONG_MAX, &v) == 0) {
            for (const char *q = (const char *)rad; *q && !found;) {
                long a = strtol(q, (char **)&q, 10), b = a;
                if (*q == '-')
                    b = strtol(q + 1, (char **)&q, 10);
                found = v >= a && v <= b;
                q += *q == ',';
            }
        }
    }
    xmlFree(pre);
    xmlFree(suf);
    xmlFree(rad);
    return found;
}

/* Whether name is a host or router inside zone (a <zone>, <AS> or
 * <cluster>), at any depth: where a zoneRoute's gateway must be. */
static int zone_holds(const xmlNode *zone, const char *name)
{
    if (is(zone, "cluster")) {
        xmlChar *id = xmlGetProp(zone, (const xmlChar *)"id"), *rid = xmlGetProp(zone, (const xmlChar *)"router_id");
        xmlChar *pre = xmlGetProp(zone, (const xmlChar *)"prefix"), *suf = xmlGetProp(zone, (const xmlChar *)"suffix");
        char router[1024];
        snprintf(router, sizeof router, "%s%s_router%s", pre ? (const char *)pre : "", id ? (const char *)id : "",
                 suf ? (const char *)suf : "");
        int found = strcmp(router, name) == 0 || (rid && strcmp((const char *)rid, name) == 0) ||
                    cluster_makes(zone, name);
        xmlFree(id);
        xmlFree(rid);
        xmlFree(pre);
        xmlFree(suf);
        return found;
    }
    for (const xmlNode *k = zone->children; k; k = k->next) {
        if (k->type != XML_ELEMENT_NODE)
            continue;
        if (is(k, "host") || is(k, "router") || is(k, "peer")) {
            xmlChar *id = xmlGetProp(k, (const xmlChar *)"id");
            int found = id && strcmp((const char *)id, name) == 0;
            xmlFree(id);
            if (found)
                return 1;
        } else if ((is(k, "zone") || is(k, "AS") || is(k, "cluster")) && zone_holds(k, name)) {
            return 1;
        } else if (is(k, "cabinet") && cluster_makes(k, name)) {
            return 1;
        }
    }
    return 0;
}

/* The element of a sorted set with this name, or NULL. */
static const xmlNode *named_node(const names *set, const char *name)
{
    named key = {.name = (char *)name};
    const named *e = set->n ? bsearch(&key, set->v, set->n, sizeof key, by_name) : NULL;
    return e ? e->node : NULL;
}

/* A zone's routes as SimGrid 3.32 takes them (each of these aborted the
 * run: "not in the same netzone as expected", "gw_src b belongs to z2",
 * "already exists", "does not accept new routes", "In a StarZone, route
 * must be", or a crash in a Dijkstra zone):
 * - a <route> joins hosts or routers of its own zone;
 * - a <zoneRoute> joins two zones directly inside its own, through a
 *   gateway inside each;
 * - no two routes of a zone join the same ends the same way (a route is
 *   both ways unless symmetrical='NO');
 * - a None zone has no routes, a Cluster or Vivaldi zone only a host's
 *   route to itself. */
static int check_zone_routes(checker *c, const xmlNode *zone)
{
    static const char *const own[] = {"host", "router", "peer"}, *const zones[] = {"zone", "AS", "cluster"};
    xmlChar *rv = xmlGetProp(zone, (const xmlChar *)"routing");
    xmlChar *zid = xmlGetProp(zone, (const xmlChar *)"id");
    const char *routing = rv ? (const char *)rv : "", *zname = zid ? (const char *)zid : "";
    int star = strcmp(routing, "Cluster") == 0 || strcmp(routing, "Vivaldi") == 0;
    int cabinets = 0;
    names mine = {0}, subzones = {0}, seen = {0};
    int rc = child_ids(c, zone, own, 3, &mine);
    if (rc == 0)
        rc = child_ids(c, zone, zones, 3, &subzones);
    if (rc == 0 && mine.n > 1)
        qsort(mine.v, mine.n, sizeof *mine.v, by_name);
    if (rc == 0 && subzones.n > 1)
        qsort(subzones.v, subzones.n, sizeof *subzones.v, by_name);
    for (const xmlNode *k = zone->children; k; k = k->next)
        cabinets |= k->type == XML_ELEMENT_NODE && is(k, "cabinet");
    for (const xmlNode *k = zone->children; k && rc == 0; k = k->next) {
        if (k->type != XML_ELEMENT_NODE)
            continue;
        int route = is(k, "route"), zroute = is(k, "zoneRoute") || is(k, "ASroute");
        int bypass = is(k, "bypassRoute") || is(k, "bypassZoneRoute") || is(k, "bypassASroute");
        if (!route && !zroute && !bypass)
            continue;
        xmlChar *src = xmlGetProp(k, (const xmlChar *)"src"), *dst = xmlGetProp(k, (const xmlChar *)"dst");
        xmlChar *gws = xmlGetProp(k, (const xmlChar *)"gw_src"), *gwd = xmlGetProp(k, (const xmlChar *)"gw_dst");
        xmlChar *sym = xmlGetProp(k, (const xmlChar *)"symmetrical");
        const char *s = src ? (const char *)src : "", *d = dst ? (const char *)dst : "";
        const char *ends[2] = {s, d}, *gw[2] = {gws ? (const char *)gws : NULL, gwd ? (const char *)gwd : NULL};
        int of_hosts = route || is(k, "bypassRoute");
        if (strcmp(routing, "None") == 0) {
            rc = fail_at(c, k, "a zone of routing='None' ('%s') takes no routes", zname);
        } else if (star && of_hosts && strcmp(s, d) != 0) {
            rc = fail_at(c, k, "in a zone of routing='%s' ('%s') a <route> may only join a host to itself "
                         "(src = dst); its hosts reach each other through the zone's own links", routing, zname);
        }
        for (int e = 0; e < 2 && rc == 0; e++) {
            if (of_hosts && !cabinets && !known_name(&mine, ends[e]))
                rc = fail_at(c, k, "%s='%s' is not a host or router of this route's zone '%s': a <route> joins "
                             "two of its own zone's; between zones, a <zoneRoute> in the zone that holds both",
                             e ? "dst" : "src", ends[e], zname);
            else if (!of_hosts && !known_name(&subzones, ends[e]))
                rc = fail_at(c, k, "%s='%s' is not a zone directly inside this zoneRoute's zone '%s': a "
                             "<zoneRoute> joins two zones (or clusters) of its own zone", e ? "dst" : "src",
                             ends[e], zname);
            else if (!of_hosts && gw[e] && !zone_holds(named_node(&subzones, ends[e]), gw[e]))
                rc = fail_at(c, k, "%s='%s' is not a host or router inside its %s= zone, '%s'",
                             e ? "gw_dst" : "gw_src", gw[e], e ? "dst" : "src", ends[e]);
        }
        /* the same ends twice, one way or the other */
        char key[2048];
        int both = !(sym && (strcmp((const char *)sym, "NO") == 0 || strcmp((const char *)sym, "no") == 0));
        for (int way = 0; way < 1 + (both && strcmp(s, d) != 0) && rc == 0 && !bypass; way++) {
            snprintf(key, sizeof key, "%s\n%s", ends[way], ends[1 - way]);
            rc = add_name(c, &seen, k, key);
        }
        xmlFree(src);
        xmlFree(dst);
        xmlFree(gws);
        xmlFree(gwd);
        xmlFree(sym);
    }
    if (rc == 0 && seen.n > 1) {
        qsort(seen.v, seen.n, sizeof *seen.v, by_name_then_line);
        for (size_t i = 1; i < seen.n && rc == 0; i++)
            if (strcmp(seen.v[i - 1].name, seen.v[i].name) == 0) {
                const char *nl = strchr(seen.v[i].name, '\n');
                snprintf(c->err, c->errlen, "platform file '%s', line %ld, <%s>: a second route from '%.*s' to "
                         "'%s' in zone '%s' (the first: line %ld; a route goes both ways unless "
                         "symmetrical='NO')", c->path, seen.v[i].line, seen.v[i].elem, (int)(nl - seen.v[i].name),
                         seen.v[i].name, nl + 1, zname, seen.v[i - 1].line);
                rc = -1;
            }
    }
    free_names(&mine);
    free_names(&subzones);
    free_names(&seen);
    xmlFree(rv);
    xmlFree(zid);
    return rc;
}

static int check_all_routes(checker *c, const xmlNode *node)
{
    int rc = is(node, "zone") || is(node, "AS") ? check_zone_routes(c, node) : 0;
    for (const xmlNode *k = node->children; k && rc == 0; k = k->next)
        if (k->type == XML_ELEMENT_NODE)
            rc = check_all_routes(c, k);
    return rc;
}

static int check_full_zones(checker *c, const xmlNode *node)
{
    static const char *const hosts[] = {"host"}, *const zones[] = {"zone", "AS", "cluster"};
    int rc = 0;
    if (is(node, "zone") || is(node, "AS")) {
        xmlChar *v = xmlGetProp(node, (const xmlChar *)"routing");
        if (v && strcmp((const char *)v, "Full") == 0)
            rc = check_full_pairs(c, node, hosts, 1, "route", "host");
        if (rc == 0 && v && strcmp((const char *)v, "Full") == 0)
            rc = check_full_pairs(c, node, zones, 3, "zoneRoute", "zone");
        if (rc == 0 && v && (strcmp((const char *)v, "Floyd") == 0 || strncmp((const char *)v, "Dijkstra", 8) == 0))
            rc = check_graph_hosts(c, node, (const char *)v);
        xmlFree(v);
    }
    for (const xmlNode *k = node->children; k && rc == 0; k = k->next)
        if (k->type == XML_ELEMENT_NODE)
            rc = check_full_zones(c, k);
    return rc;
}

/* What SimGrid's parser (its own scanner, not libxml2) requires of a
 * file's start: the DOCTYPE of its DTD, by one of the two addresses it
 * knows, and a version it reads (3.32: 4 to 4.1). Checked after the
 * values, so that a file with both kinds of problem hears of its values. */
static int check_prolog(checker *c, xmlDocPtr doc, const xmlNode *root)
{
    static const char *const dtds[] = {"https://simgrid.org/simgrid.dtd",
                                       "http://simgrid.gforge.inria.fr/simgrid/simgrid.dtd"};
    xmlDtdPtr dtd = xmlGetIntSubset(doc);
    int known = 0;
    for (size_t i = 0; dtd && dtd->name && dtd->SystemID && !dtd->ExternalID && i < 2; i++)
        known |= strcmp((const char *)dtd->name, "platform") == 0 && strcmp((const char *)dtd->SystemID, dtds[i]) == 0;
    if (!known) {
        snprintf(c->err, c->errlen, "platform file '%s': %s; SimGrid reads only a file that has "
                 "<!DOCTYPE platform SYSTEM \"%s\"> before <platform> (after the <?xml ...?> line, if any)",
                 c->path, dtd ? "its DOCTYPE is another" : "no DOCTYPE", dtds[0]);
        return -1;
    }
    xmlChar *v = xmlGetProp(root, (const xmlChar *)"version");
    char *end = NULL;
    double version = v ? strtod((const char *)v, &end) : 0;
    int rc = 0;
    if (!v)
        rc = fail_at(c, root, "no version=: SimGrid reads version=\"4.1\" (4 to 4.1)");
    else if (end == (char *)v || !(version >= 4 && version <= 4.1 + 1e-9))
        rc = fail_at(c, root, "version='%s': SimGrid reads versions 4 to 4.1%s", (const char *)v,
                     end != (char *)v && version < 4 ? " (simgrid_update_xml updates an older file)" : "");
    xmlFree(v);
    return rc;
}

/* libxml2's first complaint about the file, with its line. */
static void on_xml_error(void *arg, xmlErrorPtr e)
{
    checker *c = arg;
    /* "--" inside a comment breaks XML's rule but not SimGrid's parser,
     * and distlab's own platform files have it: let it pass */
    if (c->err[0] || !e || e->level < XML_ERR_ERROR || e->code == XML_ERR_HYPHEN_IN_COMMENT)
        return;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", e->message ? e->message : "malformed XML");
    msg[strcspn(msg, "\n")] = '\0';
    snprintf(c->err, c->errlen, "platform file '%s', line %d: not well-formed XML: %s", c->path, e->line, msg);
}

/* The check; *hosts and *cpu_profiles (when not NULL) get the file's
 * number of hosts and whether a host's speed or state has a profile; with
 * no_link_profiles, a link that follows a profile is an error (--net
 * analytic reads each link's bandwidth and latency once). */
static int check_counting(const char *path, int *hosts, int *cpu_profiles, int no_link_profiles, char *err,
                          size_t errlen)
{
    checker c = {.path = path, .err = err, .errlen = errlen};
    err[0] = '\0';
    xmlParserCtxtPtr ctx = xmlNewParserCtxt();
    if (!ctx) {
        snprintf(err, errlen, "platform file '%s': out of memory", path);
        return -1;
    }
    /* libxml2 2.9 has no per-context handler: set this thread's, then
     * put back the default (which prints to stderr) */
    xmlSetStructuredErrorFunc(&c, on_xml_error);
    xmlDocPtr doc = xmlCtxtReadFile(ctx, path, NULL, XML_PARSE_NONET | XML_PARSE_NOWARNING | XML_PARSE_RECOVER);
    xmlSetStructuredErrorFunc(NULL, NULL);
    int rc = -1;
    if (!doc || !xmlDocGetRootElement(doc)) { /* not even the start of an XML document */
        char why[600];
        snprintf(why, sizeof why, "%s", err[0] ? err : "");
        const char *said = strstr(why, "not well-formed XML: ");
        snprintf(err, errlen, "platform file '%s': not a SimGrid platform (not XML%s%s)", path,
                 said ? ": " : "", said ? said + strlen("not well-formed XML: ") : "");
        goto done;
    }
    if (err[0])
        goto done;
    const xmlNode *root = xmlDocGetRootElement(doc);
    if (!root || !is(root, "platform")) {
        snprintf(err, errlen, "platform file '%s': not a SimGrid platform (its root element is <%s>, "
                 "not <platform>)", path, root ? (const char *)root->name : "");
        goto done;
    }
    if (check_node(&c, root) != 0 || find_twice(&c, &c.hosts, "host") != 0 ||
        find_twice(&c, &c.links, "link") != 0 || find_twice(&c, &c.zones, "zone") != 0 ||
        find_unknown_links(&c) != 0 || check_directions(&c) != 0)
        goto done;
    if (c.hosts.n == 0) { /* SimGrid: "There is no host!", in a backtrace */
        snprintf(err, errlen, "platform file '%s': no host (a <host>, <peer>, or a <cluster>'s radical=): "
                 "the ranks need at least one to run on", path);
        goto done;
    }
    if (find_unknown_ends(&c) != 0 || find_unknown_refs(&c) != 0 || check_all_routes(&c, root) != 0 ||
        check_full_zones(&c, root) != 0 ||
        check_prolog(&c, doc, root) != 0)
        goto done;
    if (no_link_profiles && c.link_profile_line) {
        snprintf(err, errlen, "platform file '%s', line %d: %s makes a link follow a profile, which --net "
                 "analytic does not (it reads each link's bandwidth and latency once); use --net ideal or "
                 "--net tcp, or leave the profile out", path, c.link_profile_line, c.link_profile);
        goto done;
    }
    if (hosts)
        *hosts = (int)c.hosts.n; /* at most CHECK_MAX_HOSTS */
    if (cpu_profiles)
        *cpu_profiles = c.cpu_profiles;
    rc = 0;
done:
    free_names(&c.hosts);
    free_names(&c.links);
    free_names(&c.zones);
    free_names(&c.clusters);
    free_names(&c.link_uses);
    free_names(&c.routers);
    free_names(&c.split_links);
    free_names(&c.directed);
    free_names(&c.undirected);
    free_names(&c.ends);
    free_names(&c.zone_ends);
    free_names(&c.traces);
    free_names(&c.refs);
    if (doc)
        xmlFreeDoc(doc);
    xmlFreeParserCtxt(ctx);
    return rc;
}

int sim_platform_check(const char *path, char *err, size_t errlen)
{
    return check_counting(path, NULL, NULL, 0, err, errlen);
}

int sim_platform_file_hosts(const char *path, int *hosts, char *err, size_t errlen)
{
    return check_counting(path, hosts, NULL, 0, err, errlen);
}

int sim_platform_check_profiles(const char *path, int *cpu_profiles, int no_link_profiles, char *err,
                                size_t errlen)
{
    return check_counting(path, NULL, cpu_profiles, no_link_profiles, err, errlen);
}
