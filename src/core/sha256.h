// sha256 (FIPS 180-4) of a byte string: content keys of the search caches, dataset and model provenance.
#pragma once

#include <string>
#include <string_view>

namespace ptq {

// sha256 of bytes, lowercase hex (64 characters).
std::string sha256_hex(std::string_view bytes);

}  // namespace ptq
