/* A small strict JSON reader (internal to the model layer): the whole
 * document becomes a tree of cg_json values in one arena. Limits on depth and
 * size keep hostile input bounded. */
#ifndef CG_MODEL_JSON_H
#define CG_MODEL_JSON_H
#include "cryptogen/common.h"

typedef enum { CG_JSON_NULL, CG_JSON_BOOL, CG_JSON_NUM, CG_JSON_STR, CG_JSON_ARR, CG_JSON_OBJ } cg_json_type;

typedef struct cg_json {
    cg_json_type type;
    bool b;
    double num;
    char *str;      /* UTF-8, NUL-terminated (may contain NUL: use len) */
    size_t len;     /* string length, or number of children */
    struct cg_json *kids; /* children (arrays, objects) */
    char **keys;    /* object keys, parallel to kids */
    size_t *key_lens;
} cg_json;

typedef struct cg_json_doc {
    cg_json root;
    void *arena;
} cg_json_doc;

cg_status cg_json_parse(const char *text, size_t len, cg_json_doc *doc, const char *what, cg_error *err);
void cg_json_free(cg_json_doc *doc);
const cg_json *cg_json_get(const cg_json *obj, const char *key);
#endif
