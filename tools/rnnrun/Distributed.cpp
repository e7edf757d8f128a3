//===- Distributed.cpp - Data-parallel training over MPI ------------------===//
#include "tools/rnnrun/Distributed.h"

#include "runtime/support/Checksum.h"
#include "runtime/train/Trainer.h"

#include <mpi.h>

#include <algorithm>
#include <cstdio>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <unistd.h>

namespace rnnc::distributed {

bool launchedByMpirun() {
  for (const char *name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"})
    if (std::getenv(name))
      return true;
  return false;
}

int launchRank() {
  for (const char *name : {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"})
    if (const char *value = std::getenv(name))
      return std::atoi(value);
  return 0;
}

namespace {

/// A failed collective: the other ranks are gone or the network is. Say so
/// and end the job rather than wait.
[[noreturn]] void communicationFailed(int rank, int code, const char *what) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  std::cerr << "rnnrun: error: rank " << rank << ": " << what << " failed (" << std::string(text, length)
            << "); another rank has probably died; stopping\n";
  MPI_Abort(MPI_COMM_WORLD, 1);
  std::_Exit(1);
}

/// Bytes per sample of a batch-major tensor of 4-byte elements.
int64_t rowBytes(const rnnc_tensor_desc &d) {
  int64_t n = 4;
  for (int32_t k = 1; k < d.rank; ++k)
    n *= d.dims[k];
  return n;
}

} // namespace

Session::Session(int *argc, char ***argv) {
  MPI_Init(argc, argv);
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  if (const char *t = std::getenv("RNNC_DISTRIBUTED_TIMEOUT"); t && std::atof(t) > 0)
    timeout_ = std::atof(t);
  watchdog_ = std::thread([this] { watch(); });
}

Session::~Session() {
  done_ = true;
  watchdog_.join();
  MPI_Finalize();
}

namespace {
double monotonic() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
} // namespace

void Session::watch() {
  while (!done_) {
    usleep(100000);
    const double since = collectiveSince_.load();
    if (since == 0)
      continue;
    const double waited = monotonic() - since;
    const bool stopping = io::cancelRequested();
    if ((stopping && waited > std::max(5.0, 3 * longestStep_.load())) || waited > timeout_) {
      char text[256];
      std::snprintf(text, sizeof text,
                    "rnnrun: error: rank %d: the other ranks did not answer for %.0f s%s; one has probably died; "
                    "stopping\n",
                    rank_, waited, stopping ? " after the stop signal" : "");
      (void)!write(STDERR_FILENO, text, std::strlen(text));
      std::_Exit(1);
    }
  }
}

int Session::arrive() {
  MPI_Request request;
  if (int code = MPI_Ibarrier(MPI_COMM_WORLD, &request); code != MPI_SUCCESS)
    return code;
  const double start = monotonic();
  for (;;) {
    int done = 0;
    if (int code = MPI_Test(&request, &done, MPI_STATUS_IGNORE); code != MPI_SUCCESS || done)
      return code;
    // Ranks that arrive together meet within microseconds: poll for 0.2 ms,
    // then sleep a sixteenth of the time waited so far (50 us to 10 ms), so
    // that a long wait costs no CPU and ends at most 6% late.
    const double waited = monotonic() - start;
    if (waited > 2e-4)
      usleep(useconds_t(std::clamp(waited / 16, 5e-5, 1e-2) * 1e6));
  }
}

template <class F> int Session::collective(F call, bool arriveFirst) {
  collectiveSince_ = monotonic();
  int code = arriveFirst ? arrive() : MPI_SUCCESS;
  if (code == MPI_SUCCESS)
    code = call();
  collectiveSince_ = 0;
  return code;
}

void Session::barrier() {
  if (int code = collective([this] { return arrive(); }); code != MPI_SUCCESS)
    communicationFailed(rank_, code, "MPI_Ibarrier");
}

void Session::abort(int code) {
  std::cerr.flush();
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);
}

int Session::finish(int status) {
  int all = status;
  // Not under the watchdog: rank 0 may take long (the test split, the report),
  // and mpirun ends the followers if it dies.
  if (int code = arrive(); code != MPI_SUCCESS)
    communicationFailed(rank_, code, "MPI_Ibarrier before the exit status");
  if (int code = MPI_Allreduce(&status, &all, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD); code != MPI_SUCCESS)
    communicationFailed(rank_, code, "MPI_Allreduce of the exit status");
  finished_ = true;
  return all;
}

bool Session::agree(uint64_t value, const std::string &difference, std::string &error) {
  std::vector<unsigned long long> all(size_);
  unsigned long long mine = value;
  if (int code = collective([&] {
        return MPI_Allgather(&mine, 1, MPI_UNSIGNED_LONG_LONG, all.data(), 1, MPI_UNSIGNED_LONG_LONG, MPI_COMM_WORLD);
      }, true);
      code != MPI_SUCCESS)
    communicationFailed(rank_, code, "MPI_Allgather");
  std::string differing;
  for (int r = 1; r < size_; ++r)
    if (all[r] != all[0])
      differing += (differing.empty() ? "" : ", ") + std::to_string(r);
  if (differing.empty())
    return true;
  error = "rank " + differing + " " + difference + "; every rank must run the same";
  return false;
}

void Session::broadcast(void *data, size_t bytes, const char *what) {
  auto *p = static_cast<char *>(data);
  for (size_t done = 0; done < bytes;) { // MPI counts are int: pieces of 1 GB
    const int n = int(std::min<size_t>(bytes - done, size_t(1) << 30));
    if (int code = collective([&] { return MPI_Bcast(p + done, n, MPI_BYTE, 0, MPI_COMM_WORLD); }, done == 0);
        code != MPI_SUCCESS)
      communicationFailed(rank_, code, what);
    done += size_t(n);
  }
}

int Session::shareData(train::LoadedData &data, int status) {
  train::Split &split = data.train;
  long long header[6] = {status, split.count, split.inputWidth, split.idInputs, split.labelTargets,
                          !split.lengths.empty()};
  broadcast(header, sizeof header, "MPI_Bcast of the training split");
  if (header[0] != 0) {
    finished_ = true;
    return int(header[0]);
  }
  if (rank_ != 0) {
    split = train::Split();
    split.count = header[1];
    split.inputWidth = header[2];
    split.idInputs = header[3] != 0;
    split.labelTargets = header[4] != 0;
    (split.idInputs ? split.ids.resize(size_t(split.count * split.inputWidth))
                    : split.x.resize(size_t(split.count * split.inputWidth)));
    (split.labelTargets ? split.labels.resize(size_t(split.count)) : split.y.resize(size_t(split.count)));
    split.lengths.resize(header[5] ? size_t(split.count) : 0);
  }
  if (split.idInputs)
    broadcast(split.ids.data(), split.ids.size() * sizeof(int32_t), "MPI_Bcast of the training split");
  else
    broadcast(split.x.data(), split.x.size() * sizeof(float), "MPI_Bcast of the training split");
  if (split.labelTargets)
    broadcast(split.labels.data(), split.labels.size() * sizeof(int32_t), "MPI_Bcast of the training split");
  else
    broadcast(split.y.data(), split.y.size() * sizeof(float), "MPI_Bcast of the training split");
  // The lengths too: every rank derives the same bucketed batches from them.
  broadcast(split.lengths.data(), split.lengths.size() * sizeof(int32_t), "MPI_Bcast of the training split");
  return 0;
}

namespace {

/// A checkpoint as bytes for MPI_Bcast: the tensors (name, dtype, shape,
/// bytes) and the metadata, each length first.
class Packer {
public:
  std::vector<char> bytes;
  void number(uint64_t v) { raw(&v, sizeof v); }
  void text(const std::string &s) { number(s.size()), raw(s.data(), s.size()); }
  void raw(const void *p, size_t n) { bytes.insert(bytes.end(), static_cast<const char *>(p), static_cast<const char *>(p) + n); }
};

class Unpacker {
public:
  explicit Unpacker(const std::vector<char> &bytes) : bytes_(bytes) {}
  bool ok = true;
  uint64_t number() {
    uint64_t v = 0;
    raw(&v, sizeof v);
    return v;
  }
  /// A count of items of `size` bytes that follow (0, and not ok, if they
  /// cannot all be there).
  size_t count(size_t size) {
    const uint64_t n = number();
    if (ok && n <= (bytes_.size() - at_) / size)
      return size_t(n);
    ok = false;
    return 0;
  }
  std::string text() {
    std::string s(count(1), '\0');
    raw(s.data(), s.size());
    return s;
  }
  void raw(void *p, size_t n) {
    if (!ok || n > bytes_.size() - at_) {
      ok = false;
      return;
    }
    std::memcpy(p, bytes_.data() + at_, n);
    at_ += n;
  }

private:
  const std::vector<char> &bytes_;
  size_t at_ = 0;
};

} // namespace

int Session::shareCheckpoint(checkpoint::Checkpoint &ckpt, int status) {
  Packer out;
  if (rank_ == 0 && status == 0) {
    out.number(ckpt.tensors.size());
    for (const checkpoint::Tensor &t : ckpt.tensors) {
      out.text(t.name);
      out.number(uint64_t(t.dtype));
      out.number(t.shape.size());
      for (int64_t d : t.shape)
        out.number(uint64_t(d));
      out.number(t.bytes.size());
      out.raw(t.bytes.data(), t.bytes.size());
    }
    out.number(ckpt.metadata.size());
    for (const auto &[key, value] : ckpt.metadata)
      out.text(key), out.text(value);
  }
  long long header[2] = {status, (long long)out.bytes.size()};
  broadcast(header, sizeof header, "MPI_Bcast of the checkpoint");
  if (header[0] != 0) {
    finished_ = true;
    return int(header[0]);
  }
  out.bytes.resize(size_t(header[1]));
  broadcast(out.bytes.data(), out.bytes.size(), "MPI_Bcast of the checkpoint");
  if (rank_ == 0)
    return 0;
  Unpacker in(out.bytes);
  checkpoint::Checkpoint received;
  for (uint64_t n = in.number(); in.ok && n > 0; --n) {
    checkpoint::Tensor t;
    t.name = in.text();
    t.dtype = checkpoint::DType(in.number());
    t.shape.resize(in.count(sizeof(uint64_t)));
    for (int64_t &d : t.shape)
      d = int64_t(in.number());
    t.bytes.resize(in.count(1));
    in.raw(t.bytes.data(), t.bytes.size());
    received.tensors.push_back(std::move(t));
  }
  for (uint64_t n = in.number(); in.ok && n > 0; --n) {
    std::string key = in.text();
    received.metadata[key] = in.text();
  }
  if (!in.ok) { // rank 0 runs the same program: only a broken transfer gets here
    std::cerr << "rnnrun: error: rank " << rank_ << ": the checkpoint received from rank 0 is truncated; stopping\n";
    abort(1);
  }
  ckpt = std::move(received);
  return 0;
}

int32_t Session::step(runtime::Model &model, rnnc_instance *instance, int32_t threads, int64_t batch,
                      const void *const *inputs, const void *const *targets, float *loss, bool &interrupted) {
  const auto stepStart = std::chrono::steady_clock::now();
  const rnnc_model_info &info = model.info();
  const int64_t params = info.param_elements, record = params + 1; // a chunk's gradient, then its loss
  const int64_t chunks = std::min<int64_t>(batch, int64_t(size_) * threads);
  auto rowsOf = [&](int64_t k) { return batch / chunks + (k < batch % chunks); };
  auto chunksOf = [&](int r) { return std::max<int64_t>(0, std::min<int64_t>(chunks, int64_t(r + 1) * threads) - int64_t(r) * threads); };
  const int64_t first = int64_t(rank_) * threads, mine = chunksOf(rank_);
  int64_t row0 = 0, rows = 0;
  for (int64_t k = 0; k < first && k < chunks; ++k)
    row0 += rowsOf(k);
  for (int64_t k = first; k < first + mine; ++k)
    rows += rowsOf(k);
  send_.resize(std::max<int64_t>(1, mine * record));
  if (mine > 0) {
    const void *in[16], *tg[16];
    for (int32_t i = 0; i < info.num_inputs && i < 16; ++i)
      in[i] = static_cast<const char *>(inputs[i]) + row0 * rowBytes(info.inputs[i]);
    for (int32_t i = 0; i < info.train.num_targets && i < 16; ++i)
      tg[i] = static_cast<const char *>(targets[i]) + row0 * rowBytes(info.train.targets[i]);
    if (int32_t status = model.computeGradients(instance, rows, in, tg, first, nullptr); status != RNNC_OK)
      return status;
    if (model.gradientChunks(instance) != mine)
      return RNNC_ERR_BATCH;
    for (int64_t k = 0; k < mine; ++k) {
      float chunkLoss = 0;
      const float *g = model.chunkGradient(instance, int32_t(k), nullptr, &chunkLoss);
      std::memcpy(&send_[k * record], g, params * sizeof(float));
      send_[k * record + params] = chunkLoss;
    }
  }
  std::vector<int> counts(size_), displacements(size_);
  for (int r = 0, offset = 0; r < size_; ++r) {
    counts[r] = int(chunksOf(r) * record);
    displacements[r] = offset;
    offset += counts[r];
  }
  recv_.resize(chunks * record);
  const auto start = std::chrono::steady_clock::now();
  int flag = interrupted ? 1 : 0, anyFlag = 0;
  if (int code = collective([&] {
        return MPI_Allgatherv(send_.data(), counts[rank_], MPI_FLOAT, recv_.data(), counts.data(),
                              displacements.data(), MPI_FLOAT, MPI_COMM_WORLD);
      }, true); // the others may still compute, or rank 0 write a checkpoint
      code != MPI_SUCCESS)
    communicationFailed(rank_, code, "MPI_Allgatherv of the gradients");
  if (int code = collective([&] { return MPI_Allreduce(&flag, &anyFlag, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD); });
      code != MPI_SUCCESS)
    communicationFailed(rank_, code, "MPI_Allreduce of the interrupt flag");
  commSeconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ++steps;
  interrupted = anyFlag != 0;
  // The fused step's rule over all chunks, in chunk order (rnnc_apply_gradients).
  std::vector<const float *> grads(chunks);
  std::vector<int64_t> chunkRows(chunks);
  double total = 0;
  for (int64_t k = 0; k < chunks; ++k) {
    grads[k] = &recv_[k * record];
    chunkRows[k] = rowsOf(k);
    total += double(recv_[k * record + params]) * chunkRows[k];
  }
  *loss = float(total / batch);
  const int32_t status = model.applyGradients(instance, int32_t(chunks), grads.data(), chunkRows.data());
  longestStep_ = std::max(longestStep_.load(), std::chrono::duration<double>(std::chrono::steady_clock::now() - stepStart).count());
  return status;
}

bool checkSameRun(Session &session, const std::string &modelPath, const std::string &options, std::string &error) {
  if (!session.agree(hashFile(modelPath), "loaded a different model ('" + modelPath + "') from rank 0's", error))
    return false;
  return session.agree(io::fnv1a64(options.data(), options.size()),
                       "was started with other options than rank 0 (rank 0 alone reads the data, and every rank "
                       "must train the same way; this rank's: " + options + ")",
                       error);
}

std::string commSummary(const Session &session) {
  char text[96];
  std::snprintf(text, sizeof text, "gradient exchange %.2f ms per step",
                session.steps ? 1e3 * session.commSeconds / double(session.steps) : 0.0);
  return text;
}

uint64_t hashFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return 0;
  uint64_t h = io::fnv1a64(nullptr, 0);
  std::vector<char> buffer(1 << 16);
  while (in) {
    in.read(buffer.data(), std::streamsize(buffer.size()));
    h = io::fnv1a64(buffer.data(), size_t(in.gcount()), h);
  }
  return h;
}

} // namespace rnnc::distributed
