/* The permute layer of model.time_axis: forward is the index swap, backward its adjoint. */
#include <math.h>

#include "check.h"
#include "layers/layers.h"

enum { B = 2, H = 3, W = 5, C = 4, N = B * H * W * C };

int main(void) {
    float in[N], out[N], dout[N], din[N];
    for (int i = 0; i < N; i++) in[i] = (float)i, dout[i] = (float)((i * 7919) % 101) - 50.0f;
    permute_hw_forward(out, in, B, H, W, C);
    int bad = 0;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int w = 0; w < W; w++)
                for (int c = 0; c < C; c++)
                    bad += out[((b * W + w) * H + h) * C + c] != in[((b * H + h) * W + w) * C + c];
    CHECKF(bad == 0, "%d elements misplaced", bad);
    /* backward: <permute(x), dy> == <x, permute_backward(dy)> for all x, i.e. din[x] = dout[perm(x)] */
    permute_hw_backward(din, dout, B, H, W, C);
    double lhs = 0, rhs = 0;
    for (int i = 0; i < N; i++) lhs += (double)out[i] * dout[i], rhs += (double)in[i] * din[i];
    CHECKF(lhs == rhs, "adjoint %g vs %g", lhs, rhs);
    /* and it is the inverse: backward(forward(x)) == x */
    permute_hw_backward(din, out, B, H, W, C);
    bad = 0;
    for (int i = 0; i < N; i++) bad += din[i] != in[i];
    CHECKF(bad == 0, "%d elements differ after the round trip", bad);
    return check_finish("test_permute");
}
