// Batch lookups in a string table (src/export/string-table.ts has the layout): key -> index for many keys at once.
// One lookup reads three places that miss the caches in a large table (its slot, the candidate's offsets, the
// candidate's bytes), each depending on the one before. One key at a time those misses are serial (~3 DRAM latencies
// plus page walks per key); here keys go through in groups, each step issuing software prefetches for the whole group
// before the next step reads, so the misses of a group overlap, and the next group's slots are fetched meanwhile.
#include <napi.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "key_bytes.h"
#include "napi_args.h"

namespace prerank {

namespace {

using napi::Args;

constexpr long kGroup = 16;  // measured on Zen 4 at 10M keys: 8 too few to overlap, 32-64 no better

struct Table {
  const uint32_t* offsets;  // [count + 1]
  const uint32_t* slots;    // [capacity][2]: (hash, 1 + index), (0, 0) empty
  const uint8_t* blob;
  uint32_t count, mask, blob_bytes;
  const Args* args;
  const std::string* what;

  [[noreturn]] void corrupt(const std::string& msg) const { args->fail(*what + ": corrupt table (" + msg + ")"); }

  // The index of key `k` (n bytes) whose slot probe starts at s; `seen` slots already probed.
  int32_t probe(const uint8_t* k, uint32_t n, uint32_t h, uint32_t s, uint32_t seen) const {
    for (; seen <= mask; seen++, s = (s + 1) & mask) {
      const uint32_t v = slots[2 * s + 1];
      if (v == 0) return -1;
      if (slots[2 * s] != h) continue;
      if (compare(v - 1, k, n)) return static_cast<int32_t>(v - 1);
    }
    return -1;
  }

  bool compare(uint32_t i, const uint8_t* k, uint32_t n) const {
    if (i >= count) corrupt("a slot names key " + std::to_string(i) + " of " + std::to_string(count));
    const uint32_t a = offsets[i], b = offsets[i + 1];
    if (b - a != n) return false;
    if (!(a <= b && b <= blob_bytes))
      corrupt("key " + std::to_string(i) + " spans bytes " + std::to_string(a) + ".." + std::to_string(b) + " of " + std::to_string(blob_bytes));
    return std::memcmp(blob + a, k, n) == 0;
  }
};

// out[q] = the index of key q, or -1. Keys are bytes[at[q] .. at[q + 1]) with hashes hash[q] (none when ok[q] is 0).
void lookup_all(const Table& t, keys::Batch& s, long n, int32_t* out) {
  const uint8_t* bytes = s.bytes.data();
  auto prefetch_slots = [&](long g0) {
    for (long q = g0; q < std::min(n, g0 + kGroup); q++)
      if (s.ok[q]) __builtin_prefetch(&t.slots[2 * (s.hash[q] & t.mask)]);
  };
  prefetch_slots(0);
  for (long g0 = 0; g0 < n; g0 += kGroup) {
    const long g1 = std::min(n, g0 + kGroup);
    prefetch_slots(g1);
    // the first slot holding the key's hash, or an empty one: the key's candidate
    for (long q = g0; q < g1; q++) {
      s.cand[q] = 0;
      const uint32_t h = s.hash[q];
      if (!s.ok[q]) continue;
      uint32_t p = h & t.mask, seen = 0;
      for (; seen <= t.mask; seen++, p = (p + 1) & t.mask) {
        const uint32_t v = t.slots[2 * p + 1];
        if (v == 0 || t.slots[2 * p] == h) break;
      }
      if (seen > t.mask) continue;
      s.slot[q] = p;
      s.cand[q] = t.slots[2 * p + 1];
      if (s.cand[q] != 0 && s.cand[q] <= t.count) __builtin_prefetch(&t.offsets[s.cand[q] - 1]);
    }
    for (long q = g0; q < g1; q++)
      if (s.cand[q] != 0 && s.cand[q] <= t.count) __builtin_prefetch(t.blob + std::min(t.offsets[s.cand[q] - 1], t.blob_bytes));
    for (long q = g0; q < g1; q++) {
      const uint32_t v = s.cand[q];
      out[q] = -1;
      if (v == 0) continue;
      const uint8_t* k = bytes + s.at[q];
      const uint32_t len = s.at[q + 1] - s.at[q];
      // a different key with the same hash: probe on past its slot
      out[q] = t.compare(v - 1, k, len) ? static_cast<int32_t>(v - 1) : t.probe(k, len, s.hash[q], (s.slot[q] + 1) & t.mask, 1);
    }
  }
}

// lookupKeys(table: Uint8Array, at, count, capacity, blobBytes, keys: string, lengths: Int32Array, out: Int32Array,
// what: string): key q is keys' UTF-16 units [sum of lengths before q, + lengths[q]); out[q] = its index or -1.
Napi::Value LookupKeys(const Napi::CallbackInfo& info) {
  Args a{info, "lookupKeys"};
  a.need(9);
  auto tb = keys::table_arg(a, info[0]);
  const long at = a.num_long(1, "at"), count = a.num_long(2, "count"), capacity = a.num_long(3, "capacity");
  const long blob_bytes = a.num_long(4, "blobBytes");
  if (!info[5].IsString()) a.fail("argument keys must be a string");
  if (!info[8].IsString()) a.fail("argument what must be a string");
  const std::string what = info[8].As<Napi::String>();
  keys::check_slots(a, what + ": ", count, capacity, "key");
  const long slots_at = at + ((4 * (count + 1) + 7) / 8) * 8, blob_at = slots_at + 8 * capacity;
  if (at % 8 != 0 || reinterpret_cast<uintptr_t>(tb.Data()) % 8 != 0)
    a.fail(what + ": the table does not start on an 8-byte boundary (offset " + std::to_string(at) + ")");
  keys::check_size(a, what + ": ", tb, blob_at + blob_bytes);
  const long n = a.length(6);
  const int32_t* lengths = a.i32(6, "lengths", n);
  int32_t* out = a.i32(7, "out", n);

  thread_local keys::Batch s;
  keys::prepare(a, info[5], lengths, n, s);

  const uint8_t* base = tb.Data();
  const Table t{reinterpret_cast<const uint32_t*>(base + at), reinterpret_cast<const uint32_t*>(base + slots_at), base + blob_at,
                static_cast<uint32_t>(count), static_cast<uint32_t>(capacity - 1), static_cast<uint32_t>(blob_bytes), &a, &what};
  lookup_all(t, s, n, out);
  return info.Env().Undefined();
}

// fillSlots(table: Uint8Array, count, capacity, blobBytes): the table's offsets and blob are written; puts key i into
// its slots in key order (so the slots are the ones inserting one key at a time gives), the FNV-1a of a group of keys
// computed and their slots prefetched before the group is inserted. Returns null, or [j, i] when key i equals the
// earlier key j (the slots are then incomplete).
Napi::Value FillSlots(const Napi::CallbackInfo& info) {
  Args a{info, "fillSlots"};
  a.need(4);
  auto tb = keys::table_arg(a, info[0]);
  const long count = a.num_long(1, "count"), capacity = a.num_long(2, "capacity"), blob_bytes = a.num_long(3, "blobBytes");
  keys::check_slots(a, "", count, capacity, "key");
  const long slots_at = ((4 * (count + 1) + 7) / 8) * 8, blob_at = slots_at + 8 * capacity;
  if (reinterpret_cast<uintptr_t>(tb.Data()) % 8 != 0) a.fail("the table does not start on an 8-byte boundary");
  keys::check_size(a, "", tb, blob_at + blob_bytes);
  uint8_t* base = tb.Data();
  const uint32_t* offsets = reinterpret_cast<const uint32_t*>(base);
  uint32_t* slots = reinterpret_cast<uint32_t*>(base + slots_at);
  const uint8_t* blob = base + blob_at;
  const uint32_t mask = static_cast<uint32_t>(capacity - 1);
  for (long i = 0; i < count; i++)
    if (offsets[i] > offsets[i + 1] || offsets[i + 1] > static_cast<uint64_t>(blob_bytes))
      a.fail("key " + std::to_string(i) + " spans bytes " + std::to_string(offsets[i]) + ".." + std::to_string(offsets[i + 1]));
  uint32_t hash[kGroup];
  for (long g0 = 0; g0 < count; g0 += kGroup) {
    const long g1 = std::min(count, g0 + kGroup);
    for (long i = g0; i < g1; i++) {
      uint32_t h = keys::kFnvBasis;
      for (uint32_t j = offsets[i]; j < offsets[i + 1]; j++) h = (h ^ blob[j]) * keys::kFnvPrime;
      hash[i - g0] = h;
      __builtin_prefetch(&slots[2 * (h & mask)], 1);
    }
    for (long i = g0; i < g1; i++) {
      const uint32_t h = hash[i - g0], a0 = offsets[i], n = offsets[i + 1] - a0;
      uint32_t s = h & mask;
      for (; slots[2 * s + 1] != 0; s = (s + 1) & mask) {
        const uint32_t j = slots[2 * s + 1] - 1;
        if (slots[2 * s] == h && offsets[j + 1] - offsets[j] == n && std::memcmp(blob + offsets[j], blob + a0, n) == 0) {
          Napi::Array pair = Napi::Array::New(info.Env(), 2);
          pair.Set(0u, Napi::Number::New(info.Env(), j));
          pair.Set(1u, Napi::Number::New(info.Env(), static_cast<double>(i)));
          return pair;
        }
      }
      slots[2 * s] = h;
      slots[2 * s + 1] = static_cast<uint32_t>(i + 1);
    }
  }
  return info.Env().Null();
}

}  // namespace

void register_key_lookup(Napi::Env env, Napi::Object exports) {
  exports.Set("lookupKeys", Napi::Function::New(env, LookupKeys, "lookupKeys"));
  exports.Set("fillSlots", Napi::Function::New(env, FillSlots, "fillSlots"));
}

}  // namespace prerank
