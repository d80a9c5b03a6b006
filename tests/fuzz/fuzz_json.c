/* fuzz_json: libFuzzer target for the strict JSON parser.
 *
 * The input is parsed as given, without a terminating NUL, with the nesting
 * limit that TSF readers apply to metadata (32). An accepted value is
 * written out with ss_json_dump(), and that text must parse again to an
 * equal value, because the writer promises canonical JSON that reads back
 * exactly. A broken promise aborts, so libFuzzer saves the input.
 *
 * Left out: the constructors and ss_json_set/remove/clone, which take no
 * untrusted bytes. Rejected input is the normal outcome and is not
 * reported. */
#include "ss_json.h"

#include <stdint.h>
#include <stdlib.h>

#define FUZZ_JSON_MAX_DEPTH 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ss_error err;
    ss_json *value = ss_json_parse((const char *)data, size, FUZZ_JSON_MAX_DEPTH, &err);
    if (!value)
        return 0;

    size_t len = 0;
    char *dumped = ss_json_dump(value, &len);
    if (!dumped)
        abort();
    ss_json *again = ss_json_parse(dumped, len, FUZZ_JSON_MAX_DEPTH, &err);
    if (!again || !ss_json_equal(value, again))
        abort();
    ss_json_free(again);
    free(dumped);
    ss_json_free(value);
    return 0;
}
