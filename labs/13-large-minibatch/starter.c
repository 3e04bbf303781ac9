/* starter.c -- lab 13, large minibatches: the learning rate of the linear
 * scaling rule with gradual warmup (Goyal et al., "Accurate, Large
 * Minibatch SGD", 2017, section 2).
 *
 * The checker (cli/lab_large_batch.c) asks this for the rate at every
 * step of many runs: base rate lr, k workers (the batch is k times one
 * worker's), warmup epochs. distlab's own is ml_schedule_lr in ml/optim.c.
 *
 * Copy this file, fill in the TODO, then
 *   build/distlab lab check 13 my_schedule.c
 */
#include "algorithms/plugin.h"

double plugin_lr_schedule(double lr, double k, double warmup, double epoch)
{
    /* TODO (lab 13): with k times the batch, the rule says k times the
     * rate. Reach it gradually: lr at epoch 0, on a straight line to k lr
     * at epoch `warmup`, and k lr from then on (warmup <= 0: k lr from the
     * start). As written, the rate never grows with the batch. */
    (void)k;
    (void)warmup;
    (void)epoch;
    return lr;
}
