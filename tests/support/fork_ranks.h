// Runs N ranks of an NCCL program as fork()ed children of one process, so
// GPU tests need no mpirun. Rank 0 makes the unique id and hands it over in
// shared memory. CUDA must not be started before run_ranks (a forked child
// cannot use its parent's CUDA): each child starts its own.
// Exit codes: 0 all ranks passed, 77 every rank skipped (no GPU), 1 otherwise.
#pragma once

#include <nccl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <thread>
#include <vector>

struct RankShared {
  std::atomic<int> id_ready{0};
  ncclUniqueId id;
  double values[64];  // free for the program (e.g. timings from rank 0)
};

// `body(rank, nranks, id, shared)` returns the rank's exit code. It runs in
// the child after `setup(rank)` returned 0 (non-zero: exit with it, e.g. 77).
inline int run_ranks(int nranks, const std::function<int(int)>& setup,
                     const std::function<int(int, int, const ncclUniqueId&, RankShared&)>& body,
                     int timeout_seconds = 240) {
  void* memory = mmap(nullptr, sizeof(RankShared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) {
    perror("mmap");
    return 1;
  }
  auto* shared = new (memory) RankShared();
  std::vector<pid_t> children;
  for (int rank = 0; rank < nranks; ++rank) {
    const pid_t pid = fork();
    if (pid < 0) {
      perror("fork");
      return 1;
    }
    if (pid == 0) {
      int code = setup(rank);
      fflush(stdout);
      if (code != 0) _exit(code);
      if (rank == 0) {
        if (ncclGetUniqueId(&shared->id) != ncclSuccess) {
          fprintf(stderr, "rank 0: ncclGetUniqueId failed: %s\n", ncclGetLastError(nullptr));
          shared->id_ready.store(-1);
          _exit(1);
        }
        shared->id_ready.store(1);
      } else {
        while (shared->id_ready.load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        if (shared->id_ready.load() < 0) _exit(1);
      }
      code = body(rank, nranks, shared->id, *shared);
      fflush(stdout);
      fflush(stderr);
      _exit(code);
    }
    children.push_back(pid);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  int passed = 0, skipped = 0, failed = 0;
  size_t remaining = children.size();
  while (remaining > 0) {
    int status = 0;
    const pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      --remaining;
      const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      if (code == 0) {
        ++passed;
      } else if (code == 77) {
        ++skipped;
      } else {
        ++failed;
        fprintf(stderr, "a rank (pid %d) exited with %d\n", pid, code);
        // The others may wait forever for it: give them 10 s more.
        const auto soon = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        if (soon < deadline) deadline = soon;
      }
      continue;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      fprintf(stderr, "timed out after %d s; killing the ranks\n", timeout_seconds);
      for (pid_t child : children) kill(child, SIGKILL);
      while (waitpid(-1, nullptr, 0) > 0) {
      }
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (failed > 0 || (skipped > 0 && passed > 0)) return 1;
  return skipped > 0 ? 77 : 0;
}
