/* Names of the NTT back-ends (for benchmarks and logs). */
#include "cryptogen/ring.h"

const char *cg_ntt_backend_name(cg_ntt_backend b)
{
    switch (b) {
    case CG_NTT_AUTO: return "auto";
    case CG_NTT_PORTABLE: return "portable";
    case CG_NTT_AVX2: return "avx2";
    case CG_NTT_AVX512: return "avx512";
    case CG_NTT_AVX512IFMA: return "avx512ifma";
    }
    return "unknown";
}
