/* Allocator calls made so far by this program's own code (whoever links the
 * cg_alloc_count object, the cryptogen binary and tests/bfv/test_bfv_alloc,
 * is linked with --wrap for malloc, calloc, realloc and aligned_alloc,
 * src/cli/CMakeLists.txt): what `bench he` reports as allocations per
 * operation and what test_bfv_alloc counts. Libraries linked dynamically (libsodium,
 * OpenSSL) are not counted. */
#ifndef CG_CLI_ALLOC_COUNT_H
#define CG_CLI_ALLOC_COUNT_H
#include <stdint.h>
uint64_t cli_alloc_count(void);
#endif
