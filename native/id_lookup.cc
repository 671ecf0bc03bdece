// Batch lookups in an inline id table (layout version 2, src/export/inline-id-table.ts has the layout): an id of up
// to 11 UTF-8 bytes sits in its 16-byte hash slot, so finding its row reads one cache line, not three (slot, offsets,
// bytes) as in a string table. Keys go through in groups; the slots of the keys kAhead on are prefetched while a
// group's are read, so the misses of many keys overlap. A longer id's slot holds its hash; those few are confirmed against the
// offsets and bytes afterwards, with the same prefetching as key_lookup.cc.
#include <napi.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

#include "key_bytes.h"
#include "napi_args.h"

namespace prerank {

namespace {

using napi::Args;

constexpr long kGroup = 16;
// keys whose slots are prefetched ahead of the one probed: at 10M ids (Zen 4, loaded 2-vCPU VM) 32 and 64 were 5-10%
// faster per id than 16, within noise of each other
constexpr long kAhead = 32;
constexpr uint32_t kInline = 11, kLong = 255;
constexpr long kHeader = 64, kSlot = 16;

// bytes 4..15 of a slot: the length byte and the inline bytes (or a long id's hash), compared as one u32 and one u64
struct Tag {
  uint32_t lo = 0;
  uint64_t hi = 0;
  bool operator==(const Tag& o) const { return lo == o.lo && hi == o.hi; }
};

Tag tag_of(const uint8_t* k, uint32_t n, uint32_t h) {
  uint8_t b[12] = {0};
  if (n <= kInline) {
    b[0] = static_cast<uint8_t>(n);
    std::memcpy(b + 1, k, n);
  } else {
    b[0] = kLong;
    std::memcpy(b + 1, &h, 4);  // little-endian hosts only, as the table is (checked at the binding)
  }
  Tag t;
  std::memcpy(&t.lo, b, 4);
  std::memcpy(&t.hi, b + 4, 8);
  return t;
}

struct Table {
  const uint8_t* slots;     // [capacity][16]
  const uint32_t* offsets;  // [count + 1]
  const uint8_t* blob;
  uint32_t count, mask, blob_bytes;
  const Args* args;
  const std::string* what;

  [[noreturn]] void corrupt(const std::string& msg) const { args->fail(*what + ": corrupt table (" + msg + ")"); }

  const uint8_t* slot(uint32_t s) const { return slots + static_cast<size_t>(s) * kSlot; }
  uint32_t row1(uint32_t s) const {
    uint32_t v;
    std::memcpy(&v, slot(s), 4);
    if (v > count) corrupt("slot " + std::to_string(s) + " names row " + std::to_string(v - 1) + " of " + std::to_string(count));
    return v;
  }
  Tag tag(uint32_t s) const {
    Tag t;
    std::memcpy(&t.lo, slot(s) + 4, 4);
    std::memcpy(&t.hi, slot(s) + 8, 8);
    return t;
  }
  // From slot s on: the first slot that is empty or holds tag t (its 1 + row, 0 for empty); sets s to it.
  uint32_t find(const Tag& t, uint32_t& s) const {
    for (uint32_t seen = 0; seen <= mask; seen++, s = (s + 1) & mask) {
      const uint32_t v = row1(s);
      if (v == 0 || tag(s) == t) return v;
    }
    return 0;
  }
  bool same_bytes(uint32_t row, const uint8_t* k, uint32_t n) const {
    const uint32_t a = offsets[row], b = offsets[row + 1];
    if (!(a <= b && b <= blob_bytes))
      corrupt("id " + std::to_string(row) + " spans bytes " + std::to_string(a) + ".." + std::to_string(b) + " of " + std::to_string(blob_bytes));
    return b - a == n && std::memcmp(blob + a, k, n) == 0;
  }
};

// out[q] = the row of key q, or -1.
void lookup_all(const Table& t, keys::Batch& s, long n, int32_t* out) {
  auto prefetch_slots = [&](long q0, long q1) {
    for (long q = q0; q < std::min(n, q1); q++)
      if (s.ok[q]) __builtin_prefetch(t.slot(s.hash[q] & t.mask));
  };
  prefetch_slots(0, kAhead);
  for (long g0 = 0; g0 < n; g0 += kGroup) {
    const long g1 = std::min(n, g0 + kGroup);
    prefetch_slots(g0 + kAhead, g1 + kAhead);
    long longs = 0;
    for (long q = g0; q < g1; q++) {
      out[q] = -1;
      s.cand[q] = 0;
      if (!s.ok[q]) continue;
      const uint32_t len = s.at[q + 1] - s.at[q];
      uint32_t p = s.hash[q] & t.mask;
      const uint32_t v = t.find(tag_of(s.bytes.data() + s.at[q], len, s.hash[q]), p);
      if (v == 0) continue;
      if (len <= kInline) {
        out[q] = static_cast<int32_t>(v - 1);
      } else {
        s.cand[q] = v;
        s.slot[q] = p;
        __builtin_prefetch(&t.offsets[v - 1]);
        longs++;
      }
    }
    if (longs == 0) continue;
    for (long q = g0; q < g1; q++)
      if (s.cand[q]) __builtin_prefetch(t.blob + std::min(t.offsets[s.cand[q] - 1], t.blob_bytes));
    for (long q = g0; q < g1; q++) {
      if (!s.cand[q]) continue;
      const uint8_t* k = s.bytes.data() + s.at[q];
      const uint32_t len = s.at[q + 1] - s.at[q];
      const Tag tg = tag_of(k, len, s.hash[q]);
      // another long id with the same hash: probe on past its slot
      uint32_t v = s.cand[q], p = s.slot[q];
      for (uint32_t tries = 0; v != 0 && tries <= t.mask; tries++) {
        if (t.same_bytes(v - 1, k, len)) {
          out[q] = static_cast<int32_t>(v - 1);
          break;
        }
        p = (p + 1) & t.mask;
        v = t.find(tg, p);
      }
    }
  }
}

// lookupInlineIds(table: Uint8Array, count, capacity, blobBytes, keys: string, lengths: Int32Array, out: Int32Array,
// what: string): the table is a whole id file of layout 2; key q is keys' UTF-16 units [sum of lengths before q,
// + lengths[q]); out[q] = its row or -1.
Napi::Value LookupInlineIds(const Napi::CallbackInfo& info) {
  Args a{info, "lookupInlineIds"};
  a.need(8);
  auto tb = keys::table_arg(a, info[0]);
  const long count = a.num_long(1, "count"), capacity = a.num_long(2, "capacity"), blob_bytes = a.num_long(3, "blobBytes");
  if (!info[4].IsString()) a.fail("argument keys must be a string");
  if (!info[7].IsString()) a.fail("argument what must be a string");
  const std::string what = info[7].As<Napi::String>();
  keys::check_slots(a, what + ": ", count, capacity, "id");
  const uint16_t probe = 1;
  if (*reinterpret_cast<const uint8_t*>(&probe) != 1) a.fail("inline id tables are read on little-endian hosts only");
  const long offsets_at = kHeader + kSlot * capacity, blob_at = offsets_at + ((4 * (count + 1) + 7) / 8) * 8;
  if (reinterpret_cast<uintptr_t>(tb.Data()) % 8 != 0) a.fail(what + ": the table does not start on an 8-byte boundary");
  keys::check_size(a, what + ": ", tb, blob_at + blob_bytes);
  const long n = a.length(5);
  const int32_t* lengths = a.i32(5, "lengths", n);
  int32_t* out = a.i32(6, "out", n);
  thread_local keys::Batch s;
  keys::prepare(a, info[4], lengths, n, s);
  const uint8_t* base = tb.Data();
  const Table t{base + kHeader, reinterpret_cast<const uint32_t*>(base + offsets_at), base + blob_at, static_cast<uint32_t>(count),
                static_cast<uint32_t>(capacity - 1), static_cast<uint32_t>(blob_bytes), &a, &what};
  lookup_all(t, s, n, out);
  return info.Env().Undefined();
}

}  // namespace

void register_id_lookup(Napi::Env env, Napi::Object exports) {
  exports.Set("lookupInlineIds", Napi::Function::New(env, LookupInlineIds, "lookupInlineIds"));
}

}  // namespace prerank
