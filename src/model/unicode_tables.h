/* Unicode classes used by GPT-2 pre-tokenisation (generated ranges). */
#ifndef CG_MODEL_UNICODE_TABLES_H
#define CG_MODEL_UNICODE_TABLES_H
#include <stddef.h>
#include <stdint.h>
extern const uint32_t uni_letter[][2];
extern const size_t uni_letter_count;
extern const uint32_t uni_number[][2];
extern const size_t uni_number_count;
extern const uint32_t uni_space[][2];
extern const size_t uni_space_count;
#endif
