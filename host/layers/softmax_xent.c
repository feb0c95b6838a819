/* Softmax + categorical cross-entropy, mean over the batch. The loss is computed from the logits
 * (log-sum-exp in double), which is what tf.keras does for a softmax output layer (it recovers
 * the logits behind the Softmax op); a probability-space log(clip(p, 1e-7)) would differ only
 * when p < 1e-7. labels may be NULL (probabilities only; the loss returned is then 0). */
#include <math.h>

#include "layers/layers.h"
#include "ser/error.h"

float softmax_xent_forward(float *probs, const float *logits, const int32_t *labels, int B, int C) {
    double total = 0.0;
    for (int b = 0; b < B; b++) {
        const float *z = logits + (size_t)b * C;
        float *p = probs + (size_t)b * C;
        double zmax = z[0];
        for (int c = 1; c < C; c++)
            if (z[c] > zmax) zmax = z[c];
        double sum = 0.0;
        for (int c = 0; c < C; c++) sum += exp((double)z[c] - zmax);
        for (int c = 0; c < C; c++) p[c] = (float)(exp((double)z[c] - zmax) / sum);
        if (labels) {
            SER_ASSERT(labels[b] >= 0 && labels[b] < C);
            total += log(sum) + zmax - (double)z[labels[b]];
        }
    }
    return (float)(total / B);
}

void softmax_xent_backward(float *dlogits, const float *probs, const int32_t *labels, int B, int C) {
    const float inv_b = 1.0f / (float)B;
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            size_t i = (size_t)b * C + c;
            dlogits[i] = (probs[i] - (c == labels[b] ? 1.0f : 0.0f)) * inv_b;
        }
}
