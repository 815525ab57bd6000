#include "train/checkpoint.h"

#include <cstring>

#include "core/error.h"
#include "formats/safetensors.h"
#include "formats/safetensors_writer.h"

namespace trellis {

namespace {

std::vector<uint8_t> bytes_of(const std::vector<float>& v) {
  const auto* b = reinterpret_cast<const uint8_t*>(v.data());
  return std::vector<uint8_t>(b, b + v.size() * sizeof(float));
}

void read_into(const SafetensorsFile& f, const std::string& name, std::vector<float>& dst, const std::string& path) {
  const TensorView* t = f.find_tensor(name);
  if (!t || t->type != DType::F32 || static_cast<size_t>(t->n_elements()) != dst.size()) {
    fail(path, ": checkpoint tensor '", name, "' is missing or does not match this run's parameter shapes");
  }
  std::memcpy(dst.data(), t->data, dst.size() * sizeof(float));
}

}  // namespace

void save_checkpoint(const std::string& path, const std::vector<float>& values, AdamW& opt, const TrainState& state,
                     const nlohmann::json& settings) {
  SafetensorsWriter w;
  const auto n = static_cast<int64_t>(values.size());
  w.add_tensor_owned("params", DType::F32, SafetensorsShape::row_major({n}), bytes_of(values));
  w.add_tensor_owned("adam_m", DType::F32, SafetensorsShape::row_major({n}), bytes_of(opt.m()));
  w.add_tensor_owned("adam_v", DType::F32, SafetensorsShape::row_major({n}), bytes_of(opt.v()));
  nlohmann::json s = {{"step", state.step},
                      {"adam_step", opt.step_count()},
                      {"best_eval", state.best_eval},
                      {"best_step", state.best_step},
                      {"evals_without_improvement", state.evals_without_improvement},
                      {"metrics", state.metrics}};
  w.set_metadata("trellis.train_state", s.dump());
  w.set_metadata("trellis.train_settings", settings.dump());
  w.write(path);
}

TrainState load_checkpoint(const std::string& path, std::vector<float>& values, AdamW& opt, const nlohmann::json& settings) {
  const auto f = SafetensorsFile::open(path);
  const auto& meta = f->metadata();
  const auto st = meta.find("trellis.train_state"), se = meta.find("trellis.train_settings");
  if (st == meta.end() || se == meta.end()) fail(path, ": not a Trellis training checkpoint");
  nlohmann::json saved, s;
  try {
    saved = nlohmann::json::parse(se->second);
    s = nlohmann::json::parse(st->second);
  } catch (const nlohmann::json::exception& e) {
    fail(path, ": corrupt checkpoint metadata (", e.what(), ")");
  }
  for (auto it = settings.begin(); it != settings.end(); ++it) {
    if (!saved.contains(it.key()) || saved[it.key()] != it.value()) {
      fail(path, ": cannot resume: setting '", it.key(), "' was ", saved.value(it.key(), nlohmann::json()).dump(),
           " in the checkpoint and is ", it.value().dump(), " now");
    }
  }
  read_into(*f, "params", values, path);
  read_into(*f, "adam_m", opt.m(), path);
  read_into(*f, "adam_v", opt.v(), path);
  opt.set_step_count(s.at("adam_step").get<int64_t>());
  TrainState state;
  state.step = s.at("step").get<int64_t>();
  state.best_eval = s.at("best_eval").get<double>();
  state.best_step = s.at("best_step").get<int64_t>();
  state.evals_without_improvement = s.at("evals_without_improvement").get<int64_t>();
  state.metrics = s.at("metrics");
  return state;
}

}  // namespace trellis
