// One persistent thread pool per process. The calling thread takes part as worker 0, so a pool of size n
// starts n-1 threads. Nothing else in the addon may start compute threads.
#pragma once
#include <algorithm>
#include <functional>
#include <initializer_list>
#include <vector>

namespace prerank {

class ThreadPool {
 public:
  static ThreadPool& get();  // size from PRERANK_THREADS, else std::thread::hardware_concurrency()
  int size() const;
  void resize(int n);  // n >= 1; joins or starts threads
  // True when no helper thread is asleep (each is running a task or still spinning after its last one): a job posted
  // now starts on all threads at once, without waking anyone.
  bool helpers_awake() const;
  // Wakes sleeping helpers without giving them work, so that a run() posted within their spin time (~100 us)
  // starts on every thread at once. Cheap when they are awake already; does nothing from inside a task.
  void wake();
  // Runs fn(task) for task in [0, n_tasks), spread over the workers; returns when all are done.
  // Calls from inside a task run serially on the calling thread (no nested parallelism).
  void run(int n_tasks, const std::function<void(int task)>& fn);
};

// An array of floats that tasks add into.
struct FloatSpan {
  float* data;
  long size;
};

// Zeroes the arrays of `out`, then runs fn(task, spans) for task in [0, tasks) on the pool, where spans[i] is an array
// of out[i].size floats for the task to add into: task 0 gets out's own arrays, every other task zeroed arrays of its
// own, added into out once all are done. For sums whose tasks would add into the same elements (the gradients of
// rows that several tasks' pairs share).
template <class Fn>
void run_accumulating(int tasks, std::initializer_list<FloatSpan> out, Fn&& fn) {
  const std::vector<FloatSpan> outs(out);
  long total = 0;
  for (const FloatSpan& o : outs) {
    std::fill(o.data, o.data + o.size, 0.f);
    total += o.size;
  }
  std::vector<std::vector<float>> own(tasks > 1 ? tasks - 1 : 0);
  ThreadPool::get().run(tasks, [&](int t) {
    std::vector<FloatSpan> spans = outs;
    if (t > 0) {
      own[t - 1].assign(total, 0.f);
      float* at = own[t - 1].data();
      for (FloatSpan& s : spans) s.data = at, at += s.size;
    }
    fn(t, spans.data());
  });
  for (const std::vector<float>& b : own) {
    const float* at = b.data();
    for (const FloatSpan& o : outs)
      for (long j = 0; j < o.size; j++) o.data[j] += *at++;
  }
}

}  // namespace prerank
