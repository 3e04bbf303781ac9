/* workload.h -- real networks as timing-only workloads, and the GPUs that
 * run them.
 *
 * A what-if study of ResNet-50 on 512 GPUs needs no ResNet: it needs how
 * many parameters each layer has (what data parallelism sends) and how
 * much arithmetic each layer's forward and backward pass takes (what a
 * GPU spends between sends). A workload is that list, layer by layer in
 * forward order, built from each network's published architecture:
 *
 *   resnet50, resnet101  He et al., "Deep Residual Learning", CVPR 2016,
 *                        Table 1 (the torchvision form: stride 2 in the 3x3
 *                        conv of a bottleneck), 224x224 images
 *   vgg16                Simonyan & Zisserman, ICLR 2015, configuration D,
 *                        224x224 images
 *   inception3           Szegedy et al., "Rethinking the Inception
 *                        Architecture", CVPR 2016 (torchvision's modules,
 *                        without the auxiliary classifier), 299x299 images
 *   bert-large           Devlin et al., NAACL 2019: 24 layers, hidden 1024,
 *                        16 heads, FF 4096, WordPiece 30522; sequences of
 *                        128 tokens (pre-training phase 1)
 *   gpt2                 Radford et al. 2019, the 1.5 B model: 48 layers,
 *                        d 1600, 25 heads, BPE 50257, context 1024 (output
 *                        layer tied to the token embedding)
 *
 * Units: params are counts of trainable values (batch-norm scale and shift
 * included, running statistics not); fwd_macs are multiply-accumulates per
 * example (an image, or one sequence), which is what the papers call
 * "FLOPs" (ResNet-50: 25.6 M parameters, 4.1 G multiply-adds). Backward
 * takes twice the forward (a gradient for the input and one for the
 * weights): WORKLOAD_BWD_PER_FWD. Element-wise work (activations, norms,
 * softmax) is left out: it is a few percent of the matrix work. A layer's
 * compute in flops is 2 x its MACs.
 *
 * Gradients become ready in reverse layer order during backward; that
 * order, not the totals, is what bucketing and overlap schedule.
 */
#ifndef DISTLAB_ML_WORKLOAD_H
#define DISTLAB_ML_WORKLOAD_H

#include <stddef.h>

#define WORKLOAD_BWD_PER_FWD 2.0

typedef struct ml_workload_layer {
    char name[48];       /* e.g. "layer3.2.conv2", "h.11.mlp.c_fc" */
    double params;       /* trainable values */
    double fwd_macs;     /* forward multiply-accumulates per example */
} ml_workload_layer;

typedef struct ml_workload {
    const char *name;
    const char *example;   /* what one example is: "224x224 image", ... */
    const char *source;
    ml_workload_layer *layers; /* forward order; owned */
    int nlayers, cap;
    int failed;            /* out of memory while building */
    double params, fwd_macs;   /* totals */
} ml_workload;

/* Build the named workload (see above); on an unknown name the error lists
 * the known ones. Returns 0 or -1 with err set. */
int ml_workload_build(const char *name, ml_workload *w, char *err, size_t errlen);
void ml_workload_free(ml_workload *w);
/* "resnet50, resnet101, ...": the known names. */
const char *ml_workload_names(void);

/* A GPU as a peak rate times the fraction of it training reaches. The
 * peaks are the vendors' dense tensor-core rates at the precision named;
 * efficiency is the user's to change (--device a100:efficiency=0.5). */
/* A GPU's training rate measured on one network: where it is known, it
 * says more than any one efficiency (a P100 runs VGG-16's large 3x3
 * convolutions with cuDNN's Winograd kernels, faster than the flops the
 * workload counts; Inception-v3's small ones far below peak). */
typedef struct ml_device_rate {
    const char *workload;  /* ml_workload_build's name */
    double examples_per_s; /* one GPU, training */
    const char *source;
} ml_device_rate;

typedef struct ml_device {
    const char *name;
    const char *precision;
    double peak_flops;     /* per second */
    double efficiency;     /* (0, 1] */
    const char *source;
    const ml_device_rate *rates; /* measured rates, NULL-terminated by workload; may be NULL */
    int efficiency_given;  /* the spec said :efficiency=E: rates are not used */
} ml_device;

/* Parse "NAME" or "NAME:efficiency=E"; an unknown name lists the known
 * ones. Returns 0 or -1 with err set. */
int ml_device_parse(const char *spec, ml_device *d, char *err, size_t errlen);
const char *ml_device_names(void);
/* The flop rate d runs w at: w's measured rate times its training flops
 * per example (2 (1 + WORKLOAD_BWD_PER_FWD) fwd_macs), where d has one
 * and no efficiency was given; peak x efficiency otherwise. *used (may be
 * NULL) is the measured rate taken, or NULL. */
double ml_device_flops(const ml_device *d, const ml_workload *w, const ml_device_rate **used);
/* Seconds of one layer's forward (or backward) pass on batch examples. */
double ml_device_seconds(const ml_device *d, double macs, double batch);

#endif
