// One persistent thread pool per process. The calling thread takes part as worker 0, so a pool of size n
// starts n-1 threads. Nothing else in the addon may start compute threads.
#pragma once
#include <functional>

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

}  // namespace prerank
