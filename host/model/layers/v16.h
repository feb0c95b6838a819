/* Sixteen-float vectors through the GCC/Clang vector extensions, for the few CPU loops whose
 * running values must stay in registers (AVX-512 zmm with -march=native, pairs of AVX2 registers
 * or SSE quadruples elsewhere: the code is the same, only the instructions differ). Loads and
 * stores through V16/V16I may be unaligned. Comparisons give -1/0 lane masks (v16i), so a select
 * is bitwise: (a & m) | (b & ~m), exact for every float including -0.0 and NaN. */
#ifndef SER_V16_H
#define SER_V16_H

#include <stdint.h>

typedef float v16 __attribute__((vector_size(64), aligned(4)));
typedef int32_t v16i __attribute__((vector_size(64), aligned(4)));
#define V16(p) (*(const v16 *)(const void *)(p))
#define V16I(p) (*(const v16i *)(const void *)(p))

/* m ? a : b per lane, m a comparison's mask. Macros, not functions: a 64-byte vector argument
 * changes the calling convention on targets without AVX-512 (-Wpsabi). */
#define V16_SELECT(m, a, b) ((v16)(((v16i)(a) & (m)) | ((v16i)(b) & ~(m))))
#define V16I_SELECT(m, a, b) (((a) & (m)) | ((b) & ~(m)))

#endif
