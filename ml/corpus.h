/* corpus.h -- text corpora for topic models: documents as runs of word
 * ids over a vocabulary.
 *
 * Three sources:
 *
 *   fortunes       the fortune cookies of Debian's `fortunes` and
 *                  `fortunes-min` packages (/usr/share/games/fortunes; each
 *                  cookie one document, labelled with the file it comes
 *                  from: computers, science, politics, ...) -- some 15,000
 *                  short real documents with known themes
 *   a text file    one document per line (--data FILE)
 *   synth-lda:docs=D,vocab=V,topics=K,len=L[,alpha=A]
 *                  drawn from LDA's own generative process with K known
 *                  topics: topic k puts most of its mass on its own V/K
 *                  words, so a sampler that works recovers them (the true
 *                  topic-word distributions are kept in true_phi)
 *
 * Text is tokenized the usual way: lower-cased runs of letters, words of
 * fewer than 3 letters and English stop words dropped, then words seen
 * fewer than min_count times in the whole corpus, then documents left
 * empty. Vocabulary ids follow first appearance.
 */
#ifndef DISTLAB_ML_CORPUS_H
#define DISTLAB_ML_CORPUS_H

#include <stddef.h>
#include <stdint.h>

typedef struct ml_corpus {
    size_t ndocs, ntokens;
    size_t *doc_start;     /* ndocs + 1 offsets into words */
    uint32_t *words;       /* ntokens word ids */
    int32_t *label;        /* per document: its source file or true dominant topic; -1 none */
    size_t V;              /* vocabulary size */
    char **vocab;          /* V words (synthetic: "w17") */
    int nlabels;
    char **label_names;
    int true_K;            /* synthetic: the topics it was drawn from (0 otherwise) */
    double *true_phi;      /* true_K x V, row k the word distribution of topic k */
} ml_corpus;

typedef struct ml_corpus_opts {
    const char *dataset;   /* "fortunes" or "synth-lda:..."; NULL with file */
    const char *file;      /* one document per line */
    size_t min_count;      /* 0: the default, 3; 1 keeps every word */
    size_t max_docs;       /* 0: all */
    uint64_t seed;         /* synthetic corpora */
    const char *fortunes_dir; /* NULL: /usr/share/games/fortunes */
} ml_corpus_opts;

/* Load a corpus; on error (a missing package or file, a malformed spec,
 * nothing left after tokenizing) -1 with err saying what and where. */
int ml_corpus_load(const ml_corpus_opts *o, ml_corpus *c, char *err, size_t errlen);
void ml_corpus_free(ml_corpus *c);

#endif
