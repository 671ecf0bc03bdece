// The process-wide persistent thread pool (pool.h). The caller of run() is worker 0; workers 1..n-1 are
// threads that spin ~100 us after each job (low dispatch latency for back-to-back GEMMs) and then sleep on a
// condition variable, so an idle pool costs no CPU. Helpers claim a place in a job, then take tasks from an
// atomic counter; the caller withdraws unclaimed places once the tasks run out, so a helper that was not
// scheduled in time does not hold the job up. run() allocates nothing. Concurrent run() calls from different
// outside threads take turns; run() (and resize()) from inside a task do not touch the pool: run() executes
// the tasks serially on the calling thread, resize() does nothing.
#include "pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define PRERANK_PAUSE() _mm_pause()
#elif defined(__aarch64__)
#define PRERANK_PAUSE() __asm__ volatile("yield")
#else
#define PRERANK_PAUSE() ((void)0)
#endif

namespace prerank {
namespace {

constexpr auto kSpinTime = std::chrono::microseconds(100);  // how long an idle worker spins before sleeping
thread_local bool tls_in_task = false;                      // nested run() executes serially

struct PoolState {
  std::mutex run_mu;  // one run() or resize() at a time
  std::vector<std::thread> threads;
  std::atomic<int> size{1};

  // Current job. A new `ticket` (generation) announces it; up to `slots` helpers claim a place in it; the
  // caller withdraws unclaimed places once it runs out of tasks, so it never waits for a helper that was
  // not scheduled in time, only for the `finished` count of those that claimed a place.
  std::atomic<uint64_t> ticket{0};
  std::atomic<bool> stop{false};
  const std::function<void(int)>* fn = nullptr;
  int n_tasks = 0;
  std::atomic<int> next_task{0};
  std::atomic<int> slots{0};
  std::atomic<int> finished{0};

  std::mutex sleep_mu;
  std::condition_variable wake;
  std::atomic<int> sleepers{0};
};

PoolState& state() {
  static PoolState* s = new PoolState;  // leaked on purpose: workers may outlive static destructors at exit
  return *s;
}

void take_tasks(PoolState& s) {
  for (;;) {
    const int t = s.next_task.fetch_add(1, std::memory_order_relaxed);
    if (t >= s.n_tasks) return;
    (*s.fn)(t);
  }
}

// Waits until the ticket differs from `seen` (or stop): spin first, then sleep.
uint64_t wait_ticket(PoolState& s, uint64_t seen) {
  auto changed = [&] { return s.ticket.load() != seen || s.stop.load(); };  // seq_cst: see the sleep handshake
  const auto until = std::chrono::steady_clock::now() + kSpinTime;
  for (int i = 0; !changed(); ++i) {
    PRERANK_PAUSE();
    if ((i & 255) == 255 && std::chrono::steady_clock::now() > until) {
      std::unique_lock<std::mutex> lk(s.sleep_mu);
      s.sleepers.fetch_add(1);  // seq_cst: pairs with the publisher's ticket store + sleepers load
      while (!changed()) s.wake.wait(lk);
      s.sleepers.fetch_sub(1);
      break;
    }
  }
  return s.ticket.load(std::memory_order_acquire);
}

bool claim_slot(PoolState& s) {
  int n = s.slots.load(std::memory_order_acquire);
  while (n > 0)
    if (s.slots.compare_exchange_weak(n, n - 1, std::memory_order_acq_rel)) return true;
  return false;
}

// `seen` is the ticket when the thread was created (read by the creator: a job published before this thread
// gets scheduled must still be seen as new).
void worker_main(PoolState& s, uint64_t seen) {
  tls_in_task = true;  // anything a task calls runs serially
  for (;;) {
    seen = wait_ticket(s, seen);
    if (s.stop.load()) return;
    if (!claim_slot(s)) continue;  // job already fully staffed or finished
    take_tasks(s);
    s.finished.fetch_add(1, std::memory_order_acq_rel);
  }
}

void stop_threads(PoolState& s) {
  {
    std::lock_guard<std::mutex> lk(s.sleep_mu);
    s.stop.store(true);
  }
  s.wake.notify_all();
  for (auto& t : s.threads) t.join();
  s.threads.clear();
  s.stop.store(false);
}

void start_threads(PoolState& s, int n) {
  const uint64_t seen = s.ticket.load();
  for (int i = 1; i < n; ++i) s.threads.emplace_back(worker_main, std::ref(s), seen);
  s.size.store(n);
}

int initial_size() {
  if (const char* env = std::getenv("PRERANK_THREADS")) {
    char* end = nullptr;
    const long v = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && v >= 1 && v <= 1024) return static_cast<int>(v);
  }
  const unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : static_cast<int>(hc > 1024 ? 1024 : hc);
}

}  // namespace

ThreadPool& ThreadPool::get() {
  static ThreadPool pool;
  static std::once_flag once;
  std::call_once(once, [] {
    PoolState& s = state();
    std::lock_guard<std::mutex> lk(s.run_mu);
    start_threads(s, initial_size());
  });
  return pool;
}

int ThreadPool::size() const { return state().size.load(std::memory_order_relaxed); }

bool ThreadPool::helpers_awake() const { return state().sleepers.load(std::memory_order_relaxed) == 0; }

void ThreadPool::resize(int n) {
  if (tls_in_task) return;  // from inside a task: the running job owns the pool (would deadlock)
  if (n < 1) n = 1;
  PoolState& s = state();
  std::lock_guard<std::mutex> lk(s.run_mu);
  if (n == s.size.load()) return;
  stop_threads(s);
  start_threads(s, n);
}

void ThreadPool::wake() {
  PoolState& s = state();
  if (tls_in_task || s.sleepers.load() == 0) return;
  std::lock_guard<std::mutex> lk(s.run_mu);
  // A job with no places: the helpers see a new ticket, find no slot to claim and go back to spinning.
  s.n_tasks = 0;
  s.slots.store(0, std::memory_order_release);
  s.ticket.store(s.ticket.load(std::memory_order_relaxed) + 1);  // seq_cst publish
  { std::lock_guard<std::mutex> sl(s.sleep_mu); }
  s.wake.notify_all();
}

void ThreadPool::run(int n_tasks, const std::function<void(int task)>& fn) {
  if (n_tasks <= 0) return;
  PoolState& s = state();
  if (tls_in_task || n_tasks == 1 || s.size.load(std::memory_order_relaxed) == 1) {
    for (int t = 0; t < n_tasks; ++t) fn(t);
    return;
  }
  std::lock_guard<std::mutex> lk(s.run_mu);
  const int helpers = std::min(n_tasks, s.size.load()) - 1;
  s.fn = &fn;
  s.n_tasks = n_tasks;
  s.next_task.store(0, std::memory_order_relaxed);
  s.finished.store(0, std::memory_order_relaxed);
  s.slots.store(helpers, std::memory_order_release);
  s.ticket.store(s.ticket.load(std::memory_order_relaxed) + 1);  // seq_cst publish
  if (s.sleepers.load() > 0) {
    { std::lock_guard<std::mutex> sl(s.sleep_mu); }
    s.wake.notify_all();
  }
  tls_in_task = true;
  take_tasks(s);
  tls_in_task = false;
  const int claimed = helpers - s.slots.exchange(0, std::memory_order_acq_rel);
  for (int i = 0; s.finished.load(std::memory_order_acquire) != claimed; ++i) {
    if (i < 4096) PRERANK_PAUSE();
    else std::this_thread::yield();
  }
}

}  // namespace prerank
