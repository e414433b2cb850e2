// libFuzzer entry for bcp::fuzz::eval_protocol (see targets.h); built by scripts/fuzz.sh.
#include "targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return bcp::fuzz::eval_protocol(data, size);
}
