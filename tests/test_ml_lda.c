/* test_ml_lda.c -- corpora and the collapsed Gibbs sampler for LDA.
 *
 * Sparse counts add, remove and merge like a dense table would; the
 * tokenizer drops short words, stop words and rare words, and refuses
 * what is not text; the fortunes corpus loads from its Debian package; a
 * synthetic corpus is refused when its spec is wrong; and the sampler
 * recovers a synthetic corpus's true topics -- every true topic has a
 * learned topic at a total-variation distance below 0.1 after 60 sweeps,
 * where a random assignment is at about 0.8 -- while the log-likelihood
 * per token rises.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ml/corpus.h"
#include "ml/lda.h"
#include "tests/util_files.h"

#define ERRLEN 512

static void t_counts(void **state)
{
    (void)state;
    lda_counts c, d;
    assert_int_equal(lda_counts_init(&c, 10, 4), 0);
    assert_int_equal(lda_counts_init(&d, 10, 4), 0);
    assert_int_equal(lda_counts_add(&c, 3, 2, 5), 0);
    assert_int_equal(lda_counts_add(&c, 3, 1, 1), 0);
    assert_int_equal(lda_counts_add(&c, 7, 2, 2), 0);
    assert_int_equal(lda_counts_get(&c, 3, 2), 5);
    assert_int_equal(lda_counts_get(&c, 3, 0), 0);
    assert_true(c.nnz == 3 && c.nk[2] == 7 && c.nk[1] == 1);
    /* a delta table holds negative counts; merging applies it */
    assert_int_equal(lda_counts_add(&d, 3, 2, -5), 0);
    assert_int_equal(lda_counts_add(&d, 9, 0, 4), 0);
    assert_int_equal(lda_counts_get(&d, 3, 2), -5);
    assert_int_equal(lda_counts_merge(&c, &d), 0);
    assert_int_equal(lda_counts_get(&c, 3, 2), 0);
    assert_int_equal(lda_counts_get(&c, 3, 1), 1);
    assert_int_equal(lda_counts_get(&c, 9, 0), 4);
    assert_true(c.nnz == 3 && c.len[3] == 1 && c.nk[2] == 2);
    lda_counts_clear(&c);
    assert_true(c.nnz == 0 && c.nk[2] == 0 && lda_counts_get(&c, 9, 0) == 0);
    lda_counts_free(&c);
    lda_counts_free(&d);
}

static void t_text_corpus(void **state)
{
    (void)state;
    char dir[256], path[400], err[ERRLEN];
    assert_int_equal(test_tmpdir(dir, sizeof dir, "lda"), 0);
    snprintf(path, sizeof path, "%s/docs.txt", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("The cat sat on the mat, the CAT again.\n"
          "A dog and a cat: dogs chase cats.\n"
          "\n"
          "of to in at\n"
          "dog dog mat zebra\n", f);
    fclose(f);
    ml_corpus c;
    ml_corpus_opts o = {.file = path, .min_count = 2};
    if (ml_corpus_load(&o, &c, err, sizeof err) != 0)
        fail_msg("%s", err);
    /* kept: cat (3), mat (2), dog (3); dropped: the/sat/again (stop or once),
     * short words, zebra, dogs, chase, cats (once each); two lines empty */
    assert_int_equal(c.V, 3);
    assert_string_equal(c.vocab[0], "cat");
    assert_string_equal(c.vocab[1], "mat");
    assert_string_equal(c.vocab[2], "dog");
    assert_int_equal(c.ndocs, 3);
    assert_int_equal(c.ntokens, 8);
    assert_int_equal(c.doc_start[1] - c.doc_start[0], 3); /* cat mat cat */
    ml_corpus_free(&c);

    f = fopen(path, "w");
    fputs("good words here\nbad\0line\n", f);
    fwrite("x\0y\n", 1, 4, f);
    fclose(f);
    assert_int_equal(ml_corpus_load(&o, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, ":2: a NUL byte"));
    o.file = dir;
    assert_int_equal(ml_corpus_load(&o, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "a folder?"));
    o.file = NULL;
    o.dataset = "wikipedia";
    assert_int_equal(ml_corpus_load(&o, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown corpus 'wikipedia' (known: fortunes"));
    test_rmtree(dir);
}

static void t_fortunes(void **state)
{
    (void)state;
    char err[ERRLEN];
    ml_corpus c;
    ml_corpus_opts o = {.dataset = "fortunes"};
    if (ml_corpus_load(&o, &c, err, sizeof err) != 0)
        fail_msg("%s", err);
    printf("# fortunes: %zu documents, %zu tokens, %zu words, %d files\n", c.ndocs, c.ntokens, c.V, c.nlabels);
    assert_true(c.ndocs > 10000 && c.V > 5000 && c.nlabels > 30);
    int computers = -1;
    for (int i = 0; i < c.nlabels; i++)
        if (strcmp(c.label_names[i], "computers") == 0)
            computers = i;
    assert_true(computers >= 0);
    ml_corpus_free(&c);
    o.fortunes_dir = "/nonexistent";
    assert_int_equal(ml_corpus_load(&o, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "apt-get install fortunes"));
}

static void t_synthetic_specs(void **state)
{
    (void)state;
    static const struct { const char *spec, *says; } bad[] = {
        {"synth-lda:docs=0", "docs must be a whole number"},
        {"synth-lda:topics=20,vocab=10", "more topics (20) than words (10)"},
        {"synth-lda:len=2.5", "len must be a whole number"},
        {"synth-lda:colour=3", "unknown key 'colour'"},
        {"synth-lda:docs", "'docs' is not key=value"},
        {"synth-lda:alpha=-1", "alpha must be a number"},
        {"synth-ldax", "expected synth-lda:docs=D"},
    };
    char err[ERRLEN];
    ml_corpus c;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ml_corpus_opts o = {.dataset = bad[i].spec};
        if (ml_corpus_load(&o, &c, err, sizeof err) != -1 || !strstr(err, bad[i].says))
            fail_msg("'%s': '%s', expected '%s'", bad[i].spec, err, bad[i].says);
    }
}

static void t_recovers_synthetic_topics(void **state)
{
    (void)state;
    char err[ERRLEN];
    ml_corpus c;
    ml_corpus_opts o = {.dataset = "synth-lda:docs=400,vocab=200,topics=5,len=60,alpha=0.2", .seed = 3};
    if (ml_corpus_load(&o, &c, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(c.ntokens, 400 * 60);
    assert_int_equal(c.true_K, 5);
    lda_counts counts;
    lda_sampler s;
    assert_int_equal(lda_counts_init(&counts, c.V, 5), 0);
    if (lda_sampler_init(&s, &c, 0, c.ndocs, 5, 0.2, 0.01, 7, &counts, NULL, err, sizeof err) != 0)
        fail_msg("%s", err);
    double start = lda_topic_distance(&counts, &c, 0.01);
    double ll0 = (lda_doc_loglik(&s) + lda_word_loglik(&counts, 0.01)) / (double)c.ntokens, flops;
    for (int sweep = 0; sweep < 60; sweep++)
        assert_int_equal(lda_sampler_sweep(&s, &counts, NULL, &flops), 0);
    double end = lda_topic_distance(&counts, &c, 0.01);
    double ll = (lda_doc_loglik(&s) + lda_word_loglik(&counts, 0.01)) / (double)c.ntokens;
    printf("# topic distance %.3f -> %.3f, log-likelihood per token %.3f -> %.3f\n", start, end, ll0, ll);
    assert_true(flops == 6.0 * 5 * c.ntokens);
    assert_true(start > 0.5 && end < 0.1);
    assert_true(ll > ll0 + 0.5);
    /* the counts are the tokens' topics, exactly */
    int64_t total = 0;
    for (int k = 0; k < 5; k++)
        total += counts.nk[k];
    assert_true(total == (int64_t)c.ntokens);
    lda_sampler_free(&s);
    lda_counts_free(&counts);
    ml_corpus_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_counts),
        cmocka_unit_test(t_text_corpus),
        cmocka_unit_test(t_fortunes),
        cmocka_unit_test(t_synthetic_specs),
        cmocka_unit_test(t_recovers_synthetic_topics),
    };
    return cmocka_run_group_tests_name("ml topic models", tests, NULL, NULL);
}
