/* workload.c -- the layer tables of real networks, built from their
 * architectures (see workload.h), and GPU presets.
 *
 * Each network is written as the paper draws it -- stages of bottlenecks,
 * Inception modules, transformer blocks -- with a helper per layer kind
 * that knows its parameter count and multiply-accumulates, so the totals
 * follow from the architecture rather than being typed in.
 */
#include "ml/workload.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ml/internal.h"
#include "core/units.h"

/* Append a layer. Out of memory sets w->failed, checked once at the end,
 * so the builders below read as the architecture, one layer a line. */
static void add(ml_workload *w, double params, double macs, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void add(ml_workload *w, double params, double macs, const char *fmt, ...)
{
    if (w->failed)
        return;
    if (w->nlayers == w->cap) {
        int cap = w->cap ? 2 * w->cap : 64;
        ml_workload_layer *l = realloc(w->layers, (size_t)cap * sizeof *l);
        if (!l) {
            w->failed = 1;
            return;
        }
        w->layers = l;
        w->cap = cap;
    }
    ml_workload_layer *l = &w->layers[w->nlayers++];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->name, sizeof l->name, fmt, ap);
    va_end(ap);
    l->params = params;
    l->fwd_macs = macs;
    w->params += params;
    w->fwd_macs += macs;
}

/* A convolution of kh x kw over cin channels into cout, producing an
 * hout x wout map; with batch norm (scale and shift) or a bias. */
typedef enum { CONV_BN, CONV_BIAS } conv_kind;

static void conv(ml_workload *w, const char *name, int cin, int cout, int kh, int kw, int hout,
                 int wout, conv_kind kind)
{
    double weights = (double)cin * cout * kh * kw;
    double extra = kind == CONV_BN ? 2.0 * cout : cout;
    add(w, weights + extra, weights * hout * wout, "%s", name);
}

/* A dense layer applied to `rows` vectors per example. */
static void dense(ml_workload *w, const char *name, int in, int out, double rows)
{
    add(w, (double)in * out + out, (double)in * out * rows, "%s", name);
}

/* ---- ResNet: stages of bottleneck blocks (1x1, 3x3, 1x1, x4 expansion) ---- */

static void resnet(ml_workload *w, const int blocks[4])
{
    conv(w, "conv1", 3, 64, 7, 7, 112, 112, CONV_BN); /* then max-pool to 56x56 */
    int in = 64, size = 56;
    for (int s = 0; s < 4; s++) {
        int mid = 64 << s, out = 4 * mid;
        for (int b = 0; b < blocks[s]; b++) {
            int stride = (b == 0 && s > 0) ? 2 : 1, hin = size;
            size = hin / stride;
            char n[40];
            snprintf(n, sizeof n, "layer%d.%d.conv1", s + 1, b);
            conv(w, n, in, mid, 1, 1, hin, hin, CONV_BN);
            snprintf(n, sizeof n, "layer%d.%d.conv2", s + 1, b);
            conv(w, n, mid, mid, 3, 3, size, size, CONV_BN);
            snprintf(n, sizeof n, "layer%d.%d.conv3", s + 1, b);
            conv(w, n, mid, out, 1, 1, size, size, CONV_BN);
            if (b == 0) {
                snprintf(n, sizeof n, "layer%d.%d.downsample", s + 1, b);
                conv(w, n, in, out, 1, 1, size, size, CONV_BN);
            }
            in = out;
        }
    }
    dense(w, "fc", 2048, 1000, 1);
}

static void resnet50(ml_workload *w) { resnet(w, (const int[]){3, 4, 6, 3}); }
static void resnet101(ml_workload *w) { resnet(w, (const int[]){3, 4, 23, 3}); }

/* ---- VGG-16: 13 3x3 convolutions with biases, 3 dense layers ---- */

static void vgg16(ml_workload *w)
{
    static const int widths[] = {64, 64, 0, 128, 128, 0, 256, 256, 256, 0,
                                 512, 512, 512, 0, 512, 512, 512, 0}; /* 0: 2x2 max-pool */
    int in = 3, size = 224, k = 0;
    for (size_t i = 0; i < sizeof widths / sizeof *widths; i++) {
        if (!widths[i]) {
            size /= 2;
            continue;
        }
        char n[24];
        snprintf(n, sizeof n, "conv%d", ++k);
        conv(w, n, in, widths[i], 3, 3, size, size, CONV_BIAS);
        in = widths[i];
    }
    dense(w, "fc6", 512 * 7 * 7, 4096, 1);
    dense(w, "fc7", 4096, 4096, 1);
    dense(w, "fc8", 4096, 1000, 1);
}

/* ---- Inception-v3: modules A (35x35), B (to 17), C (17), D (to 8), E (8) ---- */

/* Every convolution of Inception-v3 is followed by batch norm; size is the
 * side of its output map. */
static void bconv(ml_workload *w, const char *mod, const char *part, int cin, int cout, int kh,
                  int kw, int size)
{
    char n[48];
    snprintf(n, sizeof n, "%s.%s", mod, part);
    conv(w, n, cin, cout, kh, kw, size, size, CONV_BN);
}

static void inception_a(ml_workload *w, const char *m, int in, int pool)
{
    bconv(w, m, "1x1", in, 64, 1, 1, 35);
    bconv(w, m, "5x5_1", in, 48, 1, 1, 35);
    bconv(w, m, "5x5_2", 48, 64, 5, 5, 35);
    bconv(w, m, "3x3dbl_1", in, 64, 1, 1, 35);
    bconv(w, m, "3x3dbl_2", 64, 96, 3, 3, 35);
    bconv(w, m, "3x3dbl_3", 96, 96, 3, 3, 35);
    bconv(w, m, "pool", in, pool, 1, 1, 35);
}

static void inception_b(ml_workload *w, const char *m)
{
    bconv(w, m, "3x3", 288, 384, 3, 3, 17);
    bconv(w, m, "3x3dbl_1", 288, 64, 1, 1, 35);
    bconv(w, m, "3x3dbl_2", 64, 96, 3, 3, 35);
    bconv(w, m, "3x3dbl_3", 96, 96, 3, 3, 17);
}

static void inception_c(ml_workload *w, const char *m, int c7)
{
    bconv(w, m, "1x1", 768, 192, 1, 1, 17);
    bconv(w, m, "7x7_1", 768, c7, 1, 1, 17);
    bconv(w, m, "7x7_2", c7, c7, 1, 7, 17);
    bconv(w, m, "7x7_3", c7, 192, 7, 1, 17);
    bconv(w, m, "7x7dbl_1", 768, c7, 1, 1, 17);
    bconv(w, m, "7x7dbl_2", c7, c7, 7, 1, 17);
    bconv(w, m, "7x7dbl_3", c7, c7, 1, 7, 17);
    bconv(w, m, "7x7dbl_4", c7, c7, 7, 1, 17);
    bconv(w, m, "7x7dbl_5", c7, 192, 1, 7, 17);
    bconv(w, m, "pool", 768, 192, 1, 1, 17);
}

static void inception_d(ml_workload *w, const char *m)
{
    bconv(w, m, "3x3_1", 768, 192, 1, 1, 17);
    bconv(w, m, "3x3_2", 192, 320, 3, 3, 8);
    bconv(w, m, "7x7x3_1", 768, 192, 1, 1, 17);
    bconv(w, m, "7x7x3_2", 192, 192, 1, 7, 17);
    bconv(w, m, "7x7x3_3", 192, 192, 7, 1, 17);
    bconv(w, m, "7x7x3_4", 192, 192, 3, 3, 8);
}

static void inception_e(ml_workload *w, const char *m, int in)
{
    bconv(w, m, "1x1", in, 320, 1, 1, 8);
    bconv(w, m, "3x3_1", in, 384, 1, 1, 8);
    bconv(w, m, "3x3_2a", 384, 384, 1, 3, 8);
    bconv(w, m, "3x3_2b", 384, 384, 3, 1, 8);
    bconv(w, m, "3x3dbl_1", in, 448, 1, 1, 8);
    bconv(w, m, "3x3dbl_2", 448, 384, 3, 3, 8);
    bconv(w, m, "3x3dbl_3a", 384, 384, 1, 3, 8);
    bconv(w, m, "3x3dbl_3b", 384, 384, 3, 1, 8);
    bconv(w, m, "pool", in, 192, 1, 1, 8);
}

static void inception3(ml_workload *w)
{
    bconv(w, "stem", "1a_3x3", 3, 32, 3, 3, 149);
    bconv(w, "stem", "2a_3x3", 32, 32, 3, 3, 147);
    bconv(w, "stem", "2b_3x3", 32, 64, 3, 3, 147); /* then max-pool to 73x73 */
    bconv(w, "stem", "3b_1x1", 64, 80, 1, 1, 73);
    bconv(w, "stem", "4a_3x3", 80, 192, 3, 3, 71); /* then max-pool to 35x35 */
    inception_a(w, "mixed_5b", 192, 32);
    inception_a(w, "mixed_5c", 256, 64);
    inception_a(w, "mixed_5d", 288, 64);
    inception_b(w, "mixed_6a");
    inception_c(w, "mixed_6b", 128);
    inception_c(w, "mixed_6c", 160);
    inception_c(w, "mixed_6d", 160);
    inception_c(w, "mixed_6e", 192);
    inception_d(w, "mixed_7a");
    inception_e(w, "mixed_7b", 1280);
    inception_e(w, "mixed_7c", 2048);
    dense(w, "fc", 2048, 1000, 1);
}

/* ---- transformers: S tokens per example, d wide, f the feed-forward width ---- */

/* One block: the fused q,k,v projection, the attention itself (S x S
 * scores and their weighted sum: no parameters), the output projection,
 * and the two feed-forward layers; each layer norm (2d) is counted with
 * the layer before it. */
static void transformer_block(ml_workload *w, const char *prefix, int l, double S, int d, int f)
{
    add(w, 3.0 * d * d + 3.0 * d, 3.0 * d * d * S, "%s%d.attn.qkv", prefix, l);
    add(w, 0, 2.0 * S * S * d, "%s%d.attn.scores", prefix, l);
    add(w, (double)d * d + d + 2.0 * d, (double)d * d * S, "%s%d.attn.out", prefix, l);
    add(w, (double)d * f + f, (double)d * f * S, "%s%d.ffn.in", prefix, l);
    add(w, (double)f * d + d + 2.0 * d, (double)f * d * S, "%s%d.ffn.out", prefix, l);
}

static void bert_large(ml_workload *w)
{
    const int d = 1024, f = 4096, vocab = 30522, layers = 24;
    const double S = 128;
    /* word, position (512) and segment (2) embeddings and their layer norm */
    add(w, (double)vocab * d + 512.0 * d + 2.0 * d + 2.0 * d, 0, "embeddings");
    for (int l = 0; l < layers; l++)
        transformer_block(w, "encoder.", l, S, d, f);
    dense(w, "pooler", d, d, 1);
    /* pre-training heads: the masked-LM transform and its layer norm, the
     * decoder tied to the word embedding (its bias only), next sentence */
    add(w, (double)d * d + d + 2.0 * d, (double)d * d * S, "mlm.transform");
    add(w, vocab, (double)d * vocab * S, "mlm.decoder");
    dense(w, "nsp", d, 2, 1);
}

static void gpt2(ml_workload *w)
{
    const int d = 1600, vocab = 50257, ctx = 1024, layers = 48;
    const double S = ctx;
    add(w, (double)vocab * d + (double)ctx * d, 0, "wte+wpe");
    for (int l = 0; l < layers; l++)
        transformer_block(w, "h.", l, S, d, 4 * d);
    /* the final layer norm; the output layer reuses the token embedding */
    add(w, 2.0 * d, (double)d * vocab * S, "ln_f+lm_head");
}

/* ---- the table ---- */

typedef struct workload_def {
    const char *name, *example, *source;
    void (*build)(ml_workload *w);
} workload_def;

static const workload_def workloads[] = {
    {"resnet50", "224x224 image", "He et al., CVPR 2016, Table 1 (torchvision form)", resnet50},
    {"resnet101", "224x224 image", "He et al., CVPR 2016, Table 1 (torchvision form)", resnet101},
    {"vgg16", "224x224 image", "Simonyan & Zisserman, ICLR 2015, configuration D", vgg16},
    {"inception3", "299x299 image", "Szegedy et al., CVPR 2016 (no auxiliary head)", inception3},
    {"bert-large", "sequence of 128 tokens", "Devlin et al., NAACL 2019 (with pre-training heads)",
     bert_large},
    {"gpt2", "sequence of 1024 tokens", "Radford et al. 2019, the 1.5 B model", gpt2},
};
#define NWORKLOADS (sizeof workloads / sizeof *workloads)

const char *ml_workload_names(void)
{
    return "resnet50, resnet101, vgg16, inception3, bert-large, gpt2";
}

int ml_workload_build(const char *name, ml_workload *w, char *err, size_t errlen)
{
    memset(w, 0, sizeof *w);
    for (size_t i = 0; i < NWORKLOADS; i++) {
        if (strcmp(name, workloads[i].name) != 0)
            continue;
        w->name = workloads[i].name;
        w->example = workloads[i].example;
        w->source = workloads[i].source;
        workloads[i].build(w);
        if (w->failed) {
            ml_workload_free(w);
            return ml_err(err, errlen, "workload %s: out of memory", name);
        }
        return 0;
    }
    return ml_err(err, errlen, "unknown workload '%s' (known: %s)", name, ml_workload_names());
}

void ml_workload_free(ml_workload *w)
{
    free(w->layers);
    memset(w, 0, sizeof *w);
}

/* ---- devices ---- */

/* Dense tensor-core peaks from the vendors' data sheets (no sparsity).
 * Default efficiencies: the share of peak that data-parallel training
 * reaches -- about 27% for ResNet-50 with mixed precision on V100 (some
 * 1,375 images/s of 24.6 GFLOP each, NVIDIA's published DGX-1 numbers),
 * and about 55% for FP32 on P100 (tf_cnn_benchmarks-era FP32 training), the
 * P100's measured rates (above) taking its place where they are known. */
/* The P100's rates at the Horovod paper's batch of 64: TensorFlow's
 * tf_cnn_benchmarks on a DGX-1, one P100, synthetic data, FP32, May 2017
 * (tensorflow.org/performance/benchmarks, "Details for NVIDIA DGX-1 (NVIDIA
 * Tesla P100)"). ResNet-101 is not in that table: its rate is
 * interpolated between ResNet-50's 219 and ResNet-152's 91.8 images/s,
 * linearly in the time per image against He et al.'s multiply-adds (3.8,
 * 7.6 and 11.3 G): 7.77 ms, 129 images/s. */
static const ml_device_rate p100_rates[] = {
    {"inception3", 142, "tf_cnn_benchmarks, DGX-1 P100, batch 64"},
    {"resnet50", 219, "tf_cnn_benchmarks, DGX-1 P100, batch 64"},
    {"resnet101", 129, "interpolated from tf_cnn_benchmarks' ResNet-50 and ResNet-152 (DGX-1 P100, batch 64)"},
    {"vgg16", 154, "tf_cnn_benchmarks, DGX-1 P100, batch 64"},
    {NULL, 0, NULL},
};

static const ml_device devices[] = {
    {"p100", "fp32", 10.6e12, 0.55, "NVIDIA Tesla P100 SXM2 data sheet", p100_rates, 0},
    {"v100", "fp16", 125e12, 0.3, "NVIDIA Tesla V100 SXM2 data sheet", NULL, 0},
    {"a100", "bf16", 312e12, 0.3, "NVIDIA A100 SXM4 data sheet", NULL, 0},
    {"h100", "bf16", 989e12, 0.3, "NVIDIA H100 SXM5 data sheet", NULL, 0},
};
#define NDEVICES (sizeof devices / sizeof *devices)

const char *ml_device_names(void) { return "p100, v100, a100, h100"; }

int ml_device_parse(const char *spec, ml_device *d, char *err, size_t errlen)
{
    const char *colon = strchr(spec, ':');
    size_t len = colon ? (size_t)(colon - spec) : strlen(spec);
    for (size_t i = 0; i < NDEVICES; i++) {
        if (strlen(devices[i].name) != len || strncmp(spec, devices[i].name, len) != 0)
            continue;
        *d = devices[i];
        if (!colon)
            return 0;
        const char *kv = colon + 1;
        if (strncmp(kv, "efficiency=", 11) != 0)
            return ml_err(err, errlen, "device %s: expected :efficiency=E after the name, not ':%s'",
                          d->name, kv);
        const char *end;
        double e;
        if (units_decimal(kv + 11, &e, &end) != 0 || *end || !(e > 0 && e <= 1))
            return ml_err(err, errlen, "device %s: efficiency must be a number in (0, 1], not '%s'",
                          d->name, kv + 11);
        d->efficiency = e;
        d->efficiency_given = 1;
        return 0;
    }
    return ml_err(err, errlen, "unknown device '%.*s' (known: %s)", (int)len, spec, ml_device_names());
}

double ml_device_flops(const ml_device *d, const ml_workload *w, const ml_device_rate **used)
{
    if (used)
        *used = NULL;
    for (const ml_device_rate *r = d->rates; r && r->workload && !d->efficiency_given; r++)
        if (w && w->name && strcmp(r->workload, w->name) == 0) {
            if (used)
                *used = r;
            return r->examples_per_s * 2.0 * (1.0 + WORKLOAD_BWD_PER_FWD) * w->fwd_macs;
        }
    return d->peak_flops * d->efficiency;
}

double ml_device_seconds(const ml_device *d, double macs, double batch)
{
    return 2.0 * macs * batch / (d->peak_flops * d->efficiency);
}
