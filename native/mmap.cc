// Read-only file mappings handed to JS as external ArrayBuffers: the serving processes read a bundle's item table in
// place, and every process on a host that maps the same file shares its pages through the page cache. The mapping is
// PROT_READ: a write through the ArrayBuffer would fault, so the TS side only ever reads these tables. The deleter
// unmaps when V8 collects the ArrayBuffer (a reload's old table lives until then; its pages are shared page cache).
// The buffer is made through V8's backing-store API, not napi_create_external_arraybuffer: Node 20 builds that one
// as a Buffer, capped at 4 GiB, and a 10M x 128 float32 table is 5.1 GB.
#include <napi.h>
#include <v8.h>

#include <cerrno>
#include <cstring>
#include <string>

#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#define PRERANK_HAVE_MMAP 1
#endif

namespace prerank {

namespace {

#ifdef PRERANK_HAVE_MMAP
struct Mapping {
  void* addr;
  size_t length;
};

// V8 may call this on any thread; munmap and delete are safe there.
void unmap(void*, size_t, void* hint) {
  auto* m = static_cast<Mapping*>(hint);
  munmap(m->addr, m->length);
  delete m;
}

[[noreturn]] void fail(Napi::Env env, const std::string& path, const char* call, int err) {
  throw Napi::Error::New(env, "prerank native mapFile: " + std::string(call) + " " + path + ": " + std::strerror(err));
}

// mapFile(path, advice): an ArrayBuffer over the whole file, mapped PROT_READ + MAP_SHARED. advice: 'random'
// (serving: rows read in any order, no read-ahead), 'sequential' (hashing it once) or 'normal'.
Napi::Value MapFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString())
    throw Napi::Error::New(env, "prerank native mapFile: expected (path: string, advice: string)");
  const std::string path = info[0].As<Napi::String>();
  const std::string advice = info[1].As<Napi::String>();
  int adv;
  if (advice == "random") adv = MADV_RANDOM;
  else if (advice == "sequential") adv = MADV_SEQUENTIAL;
  else if (advice == "normal") adv = MADV_NORMAL;
  else throw Napi::Error::New(env, "prerank native mapFile: advice must be random, sequential or normal, got '" + advice + "'");
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(env, path, "open", errno);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    const int e = errno;
    close(fd);
    fail(env, path, "fstat", e);
  }
  const size_t length = static_cast<size_t>(st.st_size);
  if (length == 0) {  // mmap refuses a zero length: an empty file is an empty buffer
    close(fd);
    return Napi::ArrayBuffer::New(env, 0);
  }
  void* addr = mmap(nullptr, length, PROT_READ, MAP_SHARED, fd, 0);
  const int e = errno;
  close(fd);  // the mapping keeps the file open
  if (addr == MAP_FAILED) fail(env, path, "mmap", e);
  madvise(addr, length, adv);
  auto* m = new Mapping{addr, length};
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  v8::Local<v8::ArrayBuffer> ab = v8::ArrayBuffer::New(isolate, v8::ArrayBuffer::NewBackingStore(addr, length, unmap, m));
  // a napi_value is the address of a V8 handle, as Node's own napi implementation converts it
  return Napi::Value(env, reinterpret_cast<napi_value>(*ab));
}
#else
Napi::Value MapFile(const Napi::CallbackInfo& info) {
  throw Napi::Error::New(info.Env(), "prerank native mapFile: memory mapping is not supported on this platform");
}
#endif

}  // namespace

void register_mmap(Napi::Env env, Napi::Object exports) {
  exports.Set("mapFile", Napi::Function::New(env, MapFile, "mapFile"));
}

}  // namespace prerank
