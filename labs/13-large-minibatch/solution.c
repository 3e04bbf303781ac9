/* solution.c -- lab 13: the linear scaling rule with gradual warmup.
 *
 * Goyal et al., "Accurate, Large Minibatch SGD" (2017), section 2.2: the
 * rate starts at the small batch's lr and grows by a constant amount each
 * step until, after `warmup` epochs, it is k lr, the linear scaling rule's
 * rate; from then on it stays there (the paper's step decay comes on top,
 * distlab's --schedule warmup:...,every=E,gamma=G).
 *
 *   build/distlab lab check 13 labs/13-large-minibatch/solution.c
 */
#include "algorithms/plugin.h"

double plugin_lr_schedule(double lr, double k, double warmup, double epoch)
{
    double target = k * lr;
    if (warmup > 0 && epoch < warmup)
        return lr + (target - lr) * epoch / warmup;
    return target;
}
