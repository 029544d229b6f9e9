/* cryptogen model layer: GPT-2 loader (safetensors), byte-level BPE tokenizer, float and fixed-point reference forward passes, perplexity. */
#ifndef CRYPTOGEN_MODEL_H
#define CRYPTOGEN_MODEL_H

#include "cryptogen/mpc.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif
