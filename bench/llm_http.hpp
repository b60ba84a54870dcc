#pragma once

// The `llm-http` scenario: coroutine turns streaming from the mock model server over real
// sockets through the example model client (see llm_http.cpp).

#include "harness.hpp"

#include <vector>

namespace bench {

std::vector<Result> llm_http(const Options& o);

} // namespace bench
