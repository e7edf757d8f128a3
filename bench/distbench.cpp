//===- distbench.cpp - Data-parallel train steps and MPI bandwidth --------===//
//
// rnnbench-dist MODEL.so [--batch B] [--threads T] [--steps K]
//   alone: K fused train steps of batch B on T threads;
//   under mpirun: K data-parallel steps (rnnrun's, tools/rnnrun/Distributed)
//   of the global batch B, T threads per rank, with the time spent in the
//   gradient exchange; then the bandwidth of MPI_Allgatherv (what the steps
//   use) and MPI_Allreduce of the model's gradient size on this network.
// Prints one line of key=value per measurement (rank 0). bench/distributed.sh
// runs the comparison of docs/distributed.md.
#include "tools/rnnrun/Distributed.h"

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

using namespace rnnc;

namespace {
double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}
} // namespace

int main(int argc, char **argv) {
  if (argc < 2) {
    std::cerr << "usage: rnnbench-dist MODEL.so [--batch B] [--threads T] [--steps K]\n";
    return 2;
  }
  int64_t batch = 256, steps = 5;
  int32_t threads = 1;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--batch")
      batch = std::stoll(argv[i + 1]);
    else if (flag == "--threads")
      threads = std::stoi(argv[i + 1]);
    else if (flag == "--steps")
      steps = std::stoll(argv[i + 1]);
  }
  std::unique_ptr<distributed::Session> session;
  if (distributed::launchedByMpirun())
    session = std::make_unique<distributed::Session>(&argc, &argv);
  const int rank = session ? session->rank() : 0, ranks = session ? session->size() : 1;
  std::string error;
  auto model = runtime::openSharedLibrary(argv[1], error);
  if (!model) {
    std::cerr << error << "\n";
    return 1;
  }
  const rnnc_model_info &info = model->info();
  rnnc_instance *instance = model->create(batch);
  model->initParams(instance, 1);
  model->setThreads(instance, threads);
  // Token ids / class ids 1, floats 0.5: the timing does not depend on values.
  std::vector<std::vector<float>> buffers;
  std::vector<const void *> inputs, targets;
  auto tensor = [&](const rnnc_tensor_desc &d) {
    int64_t n = batch;
    for (int32_t k = 1; k < d.rank; ++k)
      n *= d.dims[k];
    buffers.emplace_back(n);
    if (d.dtype == RNNC_I32)
      std::fill_n(reinterpret_cast<int32_t *>(buffers.back().data()), n, 1);
    else
      std::fill(buffers.back().begin(), buffers.back().end(), 0.5f);
    return static_cast<const void *>(buffers.back().data());
  };
  buffers.reserve(16);
  for (int i = 0; i < info.num_inputs; ++i)
    inputs.push_back(tensor(info.inputs[i]));
  for (int i = 0; i < info.train.num_targets; ++i)
    targets.push_back(tensor(info.train.targets[i]));
  std::vector<double> times;
  for (int64_t s = 0; s <= steps; ++s) { // step 0 warms up
    float loss;
    bool stop = false;
    if (session)
      session->barrier();
    const double start = now();
    const int32_t status = session ? session->step(*model, instance, threads, batch, inputs.data(), targets.data(), &loss, stop)
                                   : model->trainStep(instance, batch, inputs.data(), targets.data(), &loss);
    if (status != RNNC_OK) {
      std::cerr << "step failed: " << rnnc_binding_status_message(status) << "\n";
      return 1;
    }
    if (s == 0 && session)
      session->commSeconds = 0, session->steps = 0;
    if (s > 0)
      times.push_back(now() - start);
  }
  const double gradBytes = double(info.param_elements) * 4;
  if (rank == 0)
    std::printf("model=%s ranks=%d threads=%d batch=%lld step_s=%.4f samples_per_s=%.1f comm_ms_per_step=%.2f "
                "gradient_MB=%.2f\n",
                info.model_name, ranks, threads, (long long)batch, median(times), batch / median(times),
                session ? 1e3 * session->commSeconds / double(std::max<int64_t>(1, session->steps)) : 0.0,
                gradBytes / 1e6);
  if (session && ranks > 1) {
    const int n = int(info.param_elements);
    std::vector<float> send(n, 1.0f), recv(size_t(n) * ranks), sum(n);
    std::vector<int> counts(ranks, n), displacements(ranks);
    for (int r = 0; r < ranks; ++r)
      displacements[r] = r * n;
    std::vector<double> gather, reduce;
    for (int k = 0; k < 6; ++k) {
      session->barrier();
      double t = now();
      MPI_Allgatherv(send.data(), n, MPI_FLOAT, recv.data(), counts.data(), displacements.data(), MPI_FLOAT,
                     MPI_COMM_WORLD);
      gather.push_back(now() - t);
      session->barrier();
      t = now();
      MPI_Allreduce(send.data(), sum.data(), n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
      reduce.push_back(now() - t);
    }
    // Bytes each rank receives: allgather (ranks-1) gradients; a ring
    // allreduce moves 2 (ranks-1)/ranks of one (algorithm bandwidth).
    if (rank == 0)
      std::printf("allgatherv_ms=%.2f allgatherv_GBps=%.2f allreduce_ms=%.2f allreduce_algbw_GBps=%.2f\n",
                  1e3 * median(gather), gradBytes * (ranks - 1) / median(gather) / 1e9, 1e3 * median(reduce),
                  gradBytes / median(reduce) / 1e9);
  }
  model->destroy(instance);
  return 0;
}
