/* Softmax + categorical cross-entropy, mean over the batch. The loss is computed from the logits
 * (log-sum-exp in double), which is what tf.keras does for a softmax output layer (it recovers
 * the logits behind the Softmax op); a probability-space log(clip(p, 1e-7)) would differ only
 * when p < 1e-7. labels may be NULL (probabilities only; the loss returned is then 0). Targets as
 * layers/softmax_elem.h: labels2 and lam the mixup partner's class and the own class's weight
 * (both NULL: plain labels), ls the label smoothing (train.label_smoothing; 0 = none). */
#include <math.h>

#include "layers/layers.h"
#include "layers/softmax_elem.h"
#include "ser/error.h"

float softmax_xent_forward(float *probs, const float *logits, const int32_t *labels, const int32_t *labels2,
                           const float *lam, int B, int C, float ls) {
    double total = 0.0;
    for (int b = 0; b < B; b++) {
        const int32_t l = labels ? labels[b] : -1, l2 = labels2 ? labels2[b] : l;
        if (labels) SER_ASSERT(l >= 0 && l < C && l2 >= 0 && l2 < C);
        const double loss = softmax_xent_row(probs + (size_t)b * C, logits + (size_t)b * C, C, l, l2, lam ? lam[b] : 1.0f, ls);
        if (labels) total += loss;
    }
    return (float)(total / B);
}

void softmax_xent_backward(float *dlogits, const float *probs, const int32_t *labels, const int32_t *labels2,
                           const float *lam, int B, int C, float ls) {
    const float inv_b = 1.0f / (float)B;
    for (int b = 0; b < B; b++) {
        const int32_t l2 = labels2 ? labels2[b] : labels[b];
        const float lm = lam ? lam[b] : 1.0f;
        for (int c = 0; c < C; c++) {
            size_t i = (size_t)b * C + c;
            dlogits[i] = (probs[i] - softmax_xent_target(c, labels[b], l2, lm, ls, C)) * inv_b;
        }
    }
}
