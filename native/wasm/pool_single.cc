// The thread pool (pool.h) of a WebAssembly build without threads: one worker, the caller; run() executes the
// tasks in order on it. serve.cc's split() then never divides a request.
#include "../pool.h"

namespace prerank {

ThreadPool& ThreadPool::get() {
  static ThreadPool pool;
  return pool;
}
int ThreadPool::size() const { return 1; }
void ThreadPool::resize(int) {}
bool ThreadPool::helpers_awake() const { return false; }
void ThreadPool::wake() {}
void ThreadPool::run(int n_tasks, const std::function<void(int task)>& fn) {
  for (int t = 0; t < n_tasks; ++t) fn(t);
}

}  // namespace prerank
