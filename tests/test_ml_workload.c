/* test_ml_workload.c -- the real networks' layer tables add up to their
 * published parameter counts exactly and to their published
 * multiply-accumulates within 1%, list layers in forward order, and
 * unknown names are refused with the known ones; GPU presets parse and
 * time a layer as 2 x MACs / (peak x efficiency).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ml/workload.h"

#define ERRLEN 256

static void t_published_totals(void **state)
{
    (void)state;
    /* params: torchvision's and Hugging Face's counts of the same
     * architectures; GMACs: torchvision's "GFLOPS" (multiply-adds) for the
     * CNNs; for the transformers S tokens x the weight matrices, plus
     * 2 S^2 d per layer for attention, plus the output layer (GPT-2:
     * 1024 x 1,475,561,600 + 48 x 2 x 1024^2 x 1600 + 1024 x 1600 x 50257) */
    static const struct {
        const char *name;
        double params, gmacs;
        const char *first, *last;
    } cases[] = {
        {"resnet50", 25557032, 4.09, "conv1", "fc"},
        {"resnet101", 44549160, 7.80, "conv1", "fc"},
        {"vgg16", 138357544, 15.47, "conv1", "fc8"},
        {"inception3", 23834568, 5.71, "stem.1a_3x3", "fc"},
        /* BertModel 335,141,888 + masked-LM and next-sentence heads */
        {"bert-large", 335141888.0 + 1084220.0, 43.6, "embeddings", "nsp"},
        {"gpt2", 1557611200, 1753.4, "wte+wpe", "ln_f+lm_head"},
    };
    char err[ERRLEN];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        ml_workload w;
        if (ml_workload_build(cases[i].name, &w, err, sizeof err) != 0)
            fail_msg("%s: %s", cases[i].name, err);
        if (w.params != cases[i].params)
            fail_msg("%s: %.0f parameters, published %.0f", w.name, w.params, cases[i].params);
        if (fabs(w.fwd_macs / 1e9 - cases[i].gmacs) > 0.01 * cases[i].gmacs)
            fail_msg("%s: %.3f GMACs forward, published %.2f", w.name, w.fwd_macs / 1e9, cases[i].gmacs);
        assert_string_equal(w.layers[0].name, cases[i].first);
        assert_string_equal(w.layers[w.nlayers - 1].name, cases[i].last);
        double params = 0, macs = 0;
        for (int l = 0; l < w.nlayers; l++) {
            assert_true(w.layers[l].params >= 0 && w.layers[l].fwd_macs >= 0);
            params += w.layers[l].params;
            macs += w.layers[l].fwd_macs;
        }
        assert_true(params == w.params && fabs(macs - w.fwd_macs) <= 1e-9 * macs);
        assert_non_null(w.source);
        assert_non_null(w.example);
        ml_workload_free(&w);
    }
    /* ResNet-50 by stage: 53 convolutions and the classifier */
    ml_workload w;
    assert_int_equal(ml_workload_build("resnet50", &w, err, sizeof err), 0);
    assert_int_equal(w.nlayers, 54);
    assert_string_equal(w.layers[1].name, "layer1.0.conv1");
    ml_workload_free(&w);
}

static void t_unknown_names(void **state)
{
    (void)state;
    char err[ERRLEN];
    ml_workload w;
    assert_int_equal(ml_workload_build("resnet-50", &w, err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown workload 'resnet-50'"));
    assert_non_null(strstr(err, "resnet50, resnet101, vgg16, inception3, bert-large, gpt2"));
    assert_null(w.layers);
    ml_device d;
    assert_int_equal(ml_device_parse("b200", &d, err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown device 'b200' (known: p100, v100, a100, h100)"));
    static const char *const bad[] = {"a100:efficiency=0", "a100:efficiency=1.5", "a100:efficiency=x",
                                      "a100:eff=0.5", "a100:efficiency=nan"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (ml_device_parse(bad[i], &d, err, sizeof err) != -1)
            fail_msg("device '%s' was accepted", bad[i]);
}

static void t_devices(void **state)
{
    (void)state;
    char err[ERRLEN];
    ml_device d;
    assert_int_equal(ml_device_parse("v100", &d, err, sizeof err), 0);
    assert_true(d.peak_flops == 125e12 && d.efficiency == 0.3);
    /* 1 GMAC on 64 examples: 128 GFLOP at 37.5 TFLOP/s */
    assert_true(fabs(ml_device_seconds(&d, 1e9, 64) - 128e9 / 37.5e12) < 1e-15);
    assert_int_equal(ml_device_parse("h100:efficiency=0.5", &d, err, sizeof err), 0);
    assert_true(d.peak_flops == 989e12 && d.efficiency == 0.5);
    assert_string_equal(d.name, "h100");
    /* the P100's measured rates: VGG-16 at 154 images/s, above its peak
     * by the flops counted; an efficiency given, or a network without a
     * rate, is peak x efficiency */
    ml_workload w;
    assert_int_equal(ml_workload_build("vgg16", &w, err, sizeof err), 0);
    const ml_device_rate *used;
    assert_int_equal(ml_device_parse("p100", &d, err, sizeof err), 0);
    double f = ml_device_flops(&d, &w, &used);
    assert_non_null(used);
    assert_true(fabs(f - 154 * 6 * w.fwd_macs) < 1e-3 * f && f > d.peak_flops);
    assert_int_equal(ml_device_parse("p100:efficiency=0.5", &d, err, sizeof err), 0);
    assert_true(ml_device_flops(&d, &w, &used) == 5.3e12 && used == NULL);
    ml_workload_free(&w);
    assert_int_equal(ml_workload_build("resnet101", &w, err, sizeof err), 0);
    assert_int_equal(ml_device_parse("p100", &d, err, sizeof err), 0);
    assert_true(fabs(ml_device_flops(&d, &w, &used) - 129 * 6 * w.fwd_macs) < 1e-3 * 129 * 6 * w.fwd_macs);
    ml_workload_free(&w);
    assert_int_equal(ml_workload_build("gpt2", &w, err, sizeof err), 0);
    assert_true(ml_device_flops(&d, &w, &used) == 10.6e12 * 0.55 && used == NULL);
    ml_workload_free(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_published_totals),
        cmocka_unit_test(t_unknown_names),
        cmocka_unit_test(t_devices),
    };
    return cmocka_run_group_tests_name("ml workloads", tests, NULL, NULL);
}
