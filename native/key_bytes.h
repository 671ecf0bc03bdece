// A batch of lookup keys as native bytes: the keys arrive as one JS string (UTF-16) with each key's length, and are
// encoded here to UTF-8 with their FNV-1a 32 hashes (the hash both table layouts probe by). Shared by the batch
// lookups of string tables (key_lookup.cc) and of inline id tables (id_lookup.cc).
#pragma once
#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "napi_args.h"

namespace prerank {
namespace keys {

constexpr uint32_t kFnvBasis = 0x811c9dc5u, kFnvPrime = 0x01000193u;

// Writes the UTF-8 of u[0..n) at out (room for 3 bytes per unit) and sets h to its FNV-1a 32; returns the byte count,
// or -1 for a lone surrogate (such a key has no UTF-8 form, and the tables hold only well-formed keys).
inline long utf8_hash(const uint16_t* u, size_t n, uint8_t* out, uint32_t& hash) {
  uint32_t h = kFnvBasis;
  uint8_t* o = out;
  auto put = [&](uint32_t b) {
    *o++ = static_cast<uint8_t>(b);
    h = (h ^ static_cast<uint8_t>(b)) * kFnvPrime;
  };
  for (size_t i = 0; i < n; i++) {
    uint32_t c = u[i];
    if (c < 0x80) {
      put(c);
    } else if (c < 0x800) {
      put(0xc0 | (c >> 6));
      put(0x80 | (c & 0x3f));
    } else if (c >= 0xd800 && c <= 0xdfff) {
      if (c >= 0xdc00 || i + 1 >= n || u[i + 1] < 0xdc00 || u[i + 1] > 0xdfff) return -1;
      c = 0x10000 + ((c - 0xd800) << 10) + (u[++i] - 0xdc00);
      put(0xf0 | (c >> 18));
      put(0x80 | ((c >> 12) & 0x3f));
      put(0x80 | ((c >> 6) & 0x3f));
      put(0x80 | (c & 0x3f));
    } else {
      put(0xe0 | (c >> 12));
      put(0x80 | ((c >> 6) & 0x3f));
      put(0x80 | (c & 0x3f));
    }
  }
  hash = h;
  return o - out;
}

// Key q is bytes[at[q] .. at[q + 1]) with hash[q]; ok[q] is 0 for a malformed key (no bytes, no hash). slot and cand
// are the lookups' own per-key state.
struct Batch {
  std::u16string units;
  std::vector<uint8_t> bytes;
  std::vector<uint32_t> at, hash, slot, cand;
  std::vector<uint8_t> ok;
};

// Fills b with the n keys of `keys` (a JS string) cut by lengths[0..n); fails through `a` when the lengths do not
// cut the string exactly.
inline void prepare(const napi::Args& a, const Napi::Value& keys, const int32_t* lengths, long n, Batch& b) {
  size_t units = 0;
  napi_env env = a.info.Env();
  if (napi_get_value_string_utf16(env, keys, nullptr, 0, &units) != napi_ok) a.fail("cannot read argument keys");
  b.units.resize(units + 1);
  if (napi_get_value_string_utf16(env, keys, b.units.data(), units + 1, &units) != napi_ok) a.fail("cannot read argument keys");
  b.bytes.resize(3 * units + 1);  // never empty: its data() is a key pointer even for empty keys
  b.at.resize(n + 1);
  b.hash.resize(n);
  b.slot.resize(n);
  b.cand.resize(n);
  b.ok.resize(n);
  size_t u = 0, at = 0;
  for (long q = 0; q < n; q++) {
    if (lengths[q] < 0 || u + lengths[q] > units)
      a.fail("lengths[" + std::to_string(q) + "] = " + std::to_string(lengths[q]) + " runs past the keys' " + std::to_string(units) + " UTF-16 units");
    b.at[q] = static_cast<uint32_t>(at);
    const long len = utf8_hash(reinterpret_cast<const uint16_t*>(b.units.data()) + u, lengths[q], b.bytes.data() + at, b.hash[q]);
    b.ok[q] = len >= 0;
    at += len >= 0 ? len : 0;
    u += lengths[q];
  }
  b.at[n] = static_cast<uint32_t>(at);
  if (u != units) a.fail("lengths add up to " + std::to_string(u) + " UTF-16 units, the keys have " + std::to_string(units));
}

// The table arguments the batch lookups and the slot fill share, checked with the same messages (`where` prefixes
// them: "<what>: " or nothing).
inline Napi::Uint8Array table_arg(const napi::Args& a, const Napi::Value& v) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) a.fail("argument table must be a Uint8Array");
  return v.As<Napi::Uint8Array>();
}

// Fails unless capacity is a power of two >= 8 above count (`noun`: "key" or "id").
inline void check_slots(const napi::Args& a, const std::string& where, long count, long capacity, const char* noun) {
  if (capacity < 8 || (capacity & (capacity - 1)) != 0 || capacity > 0x80000000L || count >= capacity)
    a.fail(where + "slot count " + std::to_string(capacity) + " is not a power of two >= 8 above the " + noun + " count " + std::to_string(count));
}

// Fails unless the table's buffer holds `need` bytes.
inline void check_size(const napi::Args& a, const std::string& where, const Napi::Uint8Array& tb, long need) {
  if (need > static_cast<long>(tb.ByteLength()))
    a.fail(where + "the table needs " + std::to_string(need) + " bytes, the buffer has " + std::to_string(tb.ByteLength()));
}

}  // namespace keys
}  // namespace prerank
