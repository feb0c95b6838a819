/* Permute((2, 1, 3)) of a (B, H, W, C) tensor: out (B, W, H, C), out[b][w][h][:] = in[b][h][w][:].
 * Used by model.time_axis to read the conv output as a sequence over frames. The backward of a
 * permutation is the inverse permutation, i.e. the same swap with H and W exchanged. */
#include <string.h>

#include "layers/layers.h"

void permute_hw_forward(float *out, const float *in, int B, int H, int W, int C) {
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int w = 0; w < W; w++)
                memcpy(out + (((size_t)b * W + w) * H + h) * C, in + (((size_t)b * H + h) * W + w) * C,
                       (size_t)C * sizeof *out);
}

void permute_hw_backward(float *din, const float *dout, int B, int H, int W, int C) {
    permute_hw_forward(din, dout, B, W, H, C);
}
