/* corpus.c -- tokenizer, vocabulary and the three corpus sources (see
 * corpus.h). */
#include "ml/corpus.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "ml/internal.h"
#include "core/files.h"
#include "core/units.h"

#define CORPUS_MAX_WORD 40
#define CORPUS_MAX_LABELS 64

/* English function words: they would fill every topic. */
static const char *const stop_words[] = {
    "about", "above", "after", "again", "against", "all", "also", "and", "any", "are", "aren",
    "because", "been", "before", "being", "below", "between", "both", "but", "can", "cannot",
    "could", "couldn", "did", "didn", "does", "doesn", "doing", "don", "down", "during", "each",
    "even", "ever", "every", "few", "for", "from", "further", "get", "gets", "got", "had", "has",
    "have", "having", "her", "here", "hers", "herself", "him", "himself", "his", "how", "into",
    "isn", "its", "itself", "just", "let", "like", "make", "many", "may", "more", "most", "much",
    "must", "myself", "never", "nor", "not", "now", "off", "once", "one", "only", "other", "our",
    "ours", "ourselves", "out", "over", "own", "said", "same", "say", "says", "she", "should",
    "since", "some", "still", "such", "than", "that", "the", "their", "theirs", "them",
    "themselves", "then", "there", "these", "they", "this", "those", "through", "too", "two",
    "under", "until", "upon", "very", "was", "wasn", "way", "well", "were", "what", "when",
    "where", "which", "while", "who", "whom", "why", "will", "with", "won", "would", "yet", "you",
    "your", "yours", "yourself", "yourselves",
};

static int is_stop(const char *w)
{
    size_t lo = 0, hi = sizeof stop_words / sizeof *stop_words;
    while (lo < hi) { /* the list is sorted */
        size_t mid = (lo + hi) / 2;
        int c = strcmp(w, stop_words[mid]);
        if (c == 0)
            return 1;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return 0;
}

/* ---- the vocabulary: open addressing on FNV-1a ---- */

typedef struct vocab {
    char **words;
    size_t *count;
    size_t n, cap;      /* words */
    uint32_t *slot;     /* hash table of word ids + 1; 0 = empty */
    size_t nslots;
} vocab;

static uint64_t fnv(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

static int vocab_grow(vocab *v)
{
    size_t nslots = v->nslots ? 2 * v->nslots : 1024;
    uint32_t *slot = calloc(nslots, sizeof *slot);
    if (!slot)
        return -1;
    for (size_t i = 0; i < v->n; i++) {
        size_t h = fnv(v->words[i]) & (nslots - 1);
        while (slot[h])
            h = (h + 1) & (nslots - 1);
        slot[h] = (uint32_t)(i + 1);
    }
    free(v->slot);
    v->slot = slot;
    v->nslots = nslots;
    return 0;
}

/* The id of w, added if new; -1 when out of memory. */
static long vocab_id(vocab *v, const char *w)
{
    if (2 * (v->n + 1) > v->nslots && vocab_grow(v) != 0)
        return -1;
    size_t h = fnv(w) & (v->nslots - 1);
    while (v->slot[h]) {
        size_t id = v->slot[h] - 1;
        if (strcmp(v->words[id], w) == 0)
            return (long)id;
        h = (h + 1) & (v->nslots - 1);
    }
    if (v->n == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 1024;
        char **words = realloc(v->words, cap * sizeof *words);
        size_t *count = words ? realloc(v->count, cap * sizeof *count) : NULL;
        if (words)
            v->words = words;
        if (!count)
            return -1;
        v->count = count;
        v->cap = cap;
    }
    if (!(v->words[v->n] = strdup(w)))
        return -1;
    v->count[v->n] = 0;
    v->slot[h] = (uint32_t)(v->n + 1);
    return (long)v->n++;
}

static void vocab_free(vocab *v)
{
    for (size_t i = 0; i < v->n; i++)
        free(v->words[i]);
    free(v->words);
    free(v->count);
    free(v->slot);
    memset(v, 0, sizeof *v);
}

/* ---- building a corpus ---- */

typedef struct builder {
    ml_corpus *c;
    vocab v;
    size_t doc_cap, tok_cap;
    int failed;
} builder;

static void push_token(builder *b, uint32_t w)
{
    ml_corpus *c = b->c;
    if (c->ntokens == b->tok_cap) {
        size_t cap = b->tok_cap ? 2 * b->tok_cap : 1 << 16;
        uint32_t *words = realloc(c->words, cap * sizeof *words);
        if (!words) {
            b->failed = 1;
            return;
        }
        c->words = words;
        b->tok_cap = cap;
    }
    c->words[c->ntokens++] = w;
}

/* Close the document begun at the last doc_start; an empty one is dropped. */
static void end_doc(builder *b, int32_t label)
{
    ml_corpus *c = b->c;
    if (c->ndocs + 2 > b->doc_cap) {
        size_t cap = b->doc_cap ? 2 * b->doc_cap : 1024;
        size_t *starts = realloc(c->doc_start, cap * sizeof *starts);
        int32_t *labels = starts ? realloc(c->label, cap * sizeof *labels) : NULL;
        if (starts)
            c->doc_start = starts;
        if (!labels) {
            b->failed = 1;
            return;
        }
        c->label = labels;
        b->doc_cap = cap;
    }
    if (c->ntokens == c->doc_start[c->ndocs])
        return;
    c->label[c->ndocs++] = label;
    c->doc_start[c->ndocs] = c->ntokens;
}

/* Tokenize text into the current document. */
static void add_text(builder *b, const char *text, size_t len)
{
    char w[CORPUS_MAX_WORD + 1];
    size_t n = 0;
    for (size_t i = 0; i <= len && !b->failed; i++) {
        int ch = i < len ? (unsigned char)text[i] : ' ';
        if (isascii(ch) && isalpha(ch)) {
            if (n < CORPUS_MAX_WORD)
                w[n] = (char)tolower(ch);
            n++;
            continue;
        }
        if (n >= 3 && n <= CORPUS_MAX_WORD) {
            w[n] = '\0';
            if (!is_stop(w)) {
                long id = vocab_id(&b->v, w);
                if (id < 0)
                    b->failed = 1;
                else {
                    b->v.count[id]++;
                    push_token(b, (uint32_t)id);
                }
            }
        }
        n = 0;
    }
}

/* Drop words seen fewer than min_count times, renumber the rest in order
 * of first appearance, drop documents left empty; the vocabulary moves
 * into the corpus. */
static int finish(builder *b, size_t min_count, char *err, size_t errlen)
{
    ml_corpus *c = b->c;
    if (b->failed)
        return ml_err(err, errlen, "corpus: out of memory");
    uint32_t *map = malloc((b->v.n ? b->v.n : 1) * sizeof *map);
    if (!map)
        return ml_err(err, errlen, "corpus: out of memory");
    size_t V = 0;
    for (size_t i = 0; i < b->v.n; i++)
        map[i] = b->v.count[i] >= min_count ? (uint32_t)V++ : UINT32_MAX;
    size_t out = 0, docs = 0;
    for (size_t d = 0; d < c->ndocs; d++) {
        size_t begin = out;
        for (size_t t = c->doc_start[d]; t < c->doc_start[d + 1]; t++)
            if (map[c->words[t]] != UINT32_MAX)
                c->words[out++] = map[c->words[t]];
        if (out > begin) {
            c->label[docs] = c->label[d];
            c->doc_start[docs++] = begin;
        }
    }
    c->doc_start[docs] = out;
    c->ndocs = docs;
    c->ntokens = out;
    c->V = V;
    c->vocab = malloc((V ? V : 1) * sizeof *c->vocab);
    if (!c->vocab) {
        free(map);
        return ml_err(err, errlen, "corpus: out of memory");
    }
    for (size_t i = 0; i < b->v.n; i++) {
        if (map[i] != UINT32_MAX) {
            c->vocab[map[i]] = b->v.words[i];
            b->v.words[i] = NULL;
        }
    }
    free(map);
    if (c->ntokens == 0)
        return ml_err(err, errlen, "corpus: no words left after tokenizing (min count %zu)", min_count);
    return 0;
}

/* ---- sources ---- */

/* One fortune file: cookies separated by lines holding only "%". */
static int read_fortunes(builder *b, const char *path, int32_t label, size_t max_docs)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[4096];
    while (fgets(line, sizeof line, f) && !b->failed) {
        if (max_docs && b->c->ndocs >= max_docs)
            break;
        if (strcmp(line, "%\n") == 0 || strcmp(line, "%") == 0)
            end_doc(b, label);
        else
            add_text(b, line, strlen(line));
    }
    end_doc(b, label);
    fclose(f);
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_fortunes(builder *b, const ml_corpus_opts *o, char *err, size_t errlen)
{
    const char *dir = o->fortunes_dir ? o->fortunes_dir : "/usr/share/games/fortunes";
    DIR *d = opendir(dir);
    if (!d)
        return ml_err(err, errlen, "dataset fortunes: cannot open %s (%s): install Debian's fortunes "
                      "package (apt-get install fortunes)", dir, strerror(errno));
    char *names[CORPUS_MAX_LABELS];
    int n = 0;
    struct dirent *e;
    /* the text files: no extension (.dat and .u8 are indexes and links), no art */
    while ((e = readdir(d)) && n < CORPUS_MAX_LABELS)
        if (e->d_name[0] != '.' && !strchr(e->d_name, '.') && !strstr(e->d_name, "art"))
            if (!(names[n++] = strdup(e->d_name)))
                n--;
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, by_name);
    b->c->label_names = calloc((size_t)(n ? n : 1), sizeof *b->c->label_names);
    int rc = b->c->label_names ? 0 : ml_err(err, errlen, "corpus: out of memory");
    for (int i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (!rc && read_fortunes(b, path, (int32_t)i, o->max_docs) != 0)
            rc = ml_err(err, errlen, "dataset fortunes: cannot read %s: %s", path, strerror(errno));
        if (b->c->label_names)
            b->c->label_names[i] = names[i];
        else
            free(names[i]);
    }
    b->c->nlabels = n;
    if (!rc && n == 0)
        rc = ml_err(err, errlen, "dataset fortunes: no fortune files in %s", dir);
    return rc;
}

static int load_lines(builder *b, const ml_corpus_opts *o, char *err, size_t errlen)
{
    char why[512];
    struct stat st;
    /* a FIFO blocked fopen (a folder is said below) */
    if (stat(o->file, &st) == 0 && !S_ISDIR(st.st_mode) && files_check_regular(o->file, why, sizeof why) != 0)
        return ml_err(err, errlen, "%s", why);
    FILE *f = fopen(o->file, "r");
    if (!f)
        return ml_err(err, errlen, "cannot open %s: %s", o->file, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0;
    int rc = 0;
    while ((len = getline(&line, &cap, f)) >= 0 && !b->failed) {
        lineno++;
        if (memchr(line, '\0', (size_t)len)) {
            rc = ml_err(err, errlen, "%s:%ld: a NUL byte: not a text file (one document per line)",
                        o->file, lineno);
            break;
        }
        if (o->max_docs && b->c->ndocs >= o->max_docs)
            break;
        add_text(b, line, (size_t)len);
        end_doc(b, -1);
    }
    if (!rc && ferror(f))
        rc = ml_err(err, errlen, "cannot read %s: %s (a folder?)", o->file, strerror(errno));
    free(line);
    fclose(f);
    return rc;
}

/* synth-lda:docs=D,vocab=V,topics=K,len=L[,alpha=A] */
static int parse_synth(const char *spec, double v[5], char *err, size_t errlen)
{
    static const char *const keys[] = {"docs", "vocab", "topics", "len", "alpha"};
    const char *p = spec + strlen("synth-lda");
    if (*p == ':')
        p++;
    else if (*p)
        return ml_err(err, errlen, "dataset '%s': expected synth-lda:docs=D,vocab=V,topics=K,len=L", spec);
    while (*p) {
        const char *eq = strchr(p, '='), *comma = strchr(p, ',');
        if (!eq || (comma && comma < eq))
            return ml_err(err, errlen, "dataset '%s': '%.*s' is not key=value", spec,
                          (int)(comma ? comma - p : (long)strlen(p)), p);
        int k = -1;
        for (int i = 0; i < 5; i++)
            if ((size_t)(eq - p) == strlen(keys[i]) && strncmp(p, keys[i], strlen(keys[i])) == 0)
                k = i;
        if (k < 0)
            return ml_err(err, errlen, "dataset '%s': unknown key '%.*s' (docs, vocab, topics, len, alpha)",
                          spec, (int)(eq - p), p);
        const char *end;
        if (units_decimal(eq + 1, &v[k], &end) != 0 || (*end && *end != ','))
            return ml_err(err, errlen, "dataset '%s': %s is not a number", spec, keys[k]);
        p = *end ? end + 1 : end;
    }
    static const double lo[] = {1, 2, 1, 1, 1e-6}, hi[] = {1e7, 1e7, 10000, 1e5, 100};
    for (int i = 0; i < 5; i++)
        if (!(v[i] >= lo[i] && v[i] <= hi[i]) || (i < 4 && v[i] != (double)(long)v[i]))
            return ml_err(err, errlen, "dataset '%s': %s must be %s in [%g, %g]", spec, keys[i],
                          i < 4 ? "a whole number" : "a number", lo[i], hi[i]);
    if (v[2] > v[1])
        return ml_err(err, errlen, "dataset '%s': more topics (%g) than words (%g)", spec, v[2], v[1]);
    return 0;
}

static int load_synth(builder *b, const ml_corpus_opts *o, char *err, size_t errlen)
{
    double v[5] = {1000, 1000, 10, 50, 0.1};
    if (parse_synth(o->dataset, v, err, errlen) != 0)
        return -1;
    size_t D = (size_t)v[0], V = (size_t)v[1], L = (size_t)v[3];
    int K = (int)v[2];
    ml_corpus *c = b->c;
    c->true_K = K;
    c->true_phi = malloc((size_t)K * V * sizeof *c->true_phi);
    double *alpha = malloc((size_t)K * sizeof *alpha), *theta = malloc((size_t)K * sizeof *theta);
    gsl_ran_discrete_t **word = calloc((size_t)K, sizeof *word);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    int rc = 0;
    if (!c->true_phi || !alpha || !theta || !word || !rng) {
        rc = ml_err(err, errlen, "corpus: out of memory for %zu x %d topics", V, K);
        goto done;
    }
    gsl_rng_set(rng, o->seed);
    /* topic k: weight 1 on its own block of words, 0.01 on the rest */
    for (int k = 0; k < K; k++) {
        double *phi = c->true_phi + (size_t)k * V, sum = 0;
        for (size_t w = 0; w < V; w++)
            sum += phi[w] = w * (size_t)K / V == (size_t)k ? 1.0 : 0.01;
        for (size_t w = 0; w < V; w++)
            phi[w] /= sum;
        if (!(word[k] = gsl_ran_discrete_preproc(V, phi))) {
            rc = ml_err(err, errlen, "corpus: out of memory");
            goto done;
        }
        alpha[k] = v[4];
    }
    char name[32];
    for (size_t w = 0; w < V && !b->failed; w++) {
        snprintf(name, sizeof name, "w%zu", w);
        if (vocab_id(&b->v, name) < 0)
            b->failed = 1;
    }
    for (size_t d = 0; d < D && !b->failed; d++) {
        gsl_ran_dirichlet(rng, (size_t)K, alpha, theta);
        int top = 0;
        for (int k = 1; k < K; k++)
            if (theta[k] > theta[top])
                top = k;
        for (size_t t = 0; t < L; t++) {
            /* z ~ theta, then w ~ phi_z */
            double u = gsl_rng_uniform(rng), acc = 0;
            int z = K - 1;
            for (int k = 0; k < K; k++)
                if ((acc += theta[k]) > u) {
                    z = k;
                    break;
                }
            size_t w = gsl_ran_discrete(rng, word[z]);
            b->v.count[w]++;
            push_token(b, (uint32_t)w);
        }
        end_doc(b, top);
    }
done:
    for (int k = 0; word && k < K; k++)
        if (word[k])
            gsl_ran_discrete_free(word[k]);
    free(word);
    free(alpha);
    free(theta);
    if (rng)
        gsl_rng_free(rng);
    return rc;
}

int ml_corpus_load(const ml_corpus_opts *o, ml_corpus *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    builder b = {.c = c};
    if (!(c->doc_start = calloc(1024, sizeof *c->doc_start)) || !(c->label = calloc(1024, sizeof *c->label)))
        return ml_err(err, errlen, "corpus: out of memory");
    b.doc_cap = 1024;
    int rc, synth = 0;
    if (o->file)
        rc = load_lines(&b, o, err, errlen);
    else if (o->dataset && strcmp(o->dataset, "fortunes") == 0)
        rc = load_fortunes(&b, o, err, errlen);
    else if (o->dataset && strncmp(o->dataset, "synth-lda", 9) == 0) {
        rc = load_synth(&b, o, err, errlen);
        synth = 1;
    } else
        rc = ml_err(err, errlen, "unknown corpus '%s' (known: fortunes, "
                    "synth-lda:docs=D,vocab=V,topics=K,len=L[,alpha=A], or --data FILE with one "
                    "document per line)", o->dataset ? o->dataset : "");
    /* a synthetic corpus keeps every word: its ids are the true topics' */
    if (!rc)
        rc = finish(&b, synth ? 0 : (o->min_count ? o->min_count : 3), err, errlen);
    vocab_free(&b.v);
    if (rc)
        ml_corpus_free(c);
    return rc;
}

void ml_corpus_free(ml_corpus *c)
{
    for (size_t i = 0; c->vocab && i < c->V; i++)
        free(c->vocab[i]);
    for (int i = 0; c->label_names && i < c->nlabels; i++)
        free(c->label_names[i]);
    free(c->vocab);
    free(c->label_names);
    free(c->doc_start);
    free(c->words);
    free(c->label);
    free(c->true_phi);
    memset(c, 0, sizeof *c);
}
