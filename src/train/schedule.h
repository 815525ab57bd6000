// Learning-rate schedules: linear warmup from base/warmup to base over the first `warmup`
// steps (step s gets base·(s+1)/warmup, so the first step already learns), then cosine,
// linear or constant decay to base·min_ratio at the last step.
#pragma once
#include <cstdint>
#include <string>

namespace trellis {

enum class ScheduleKind { Cosine, Linear, Constant };

struct LrSchedule {
  double base = 1e-4;
  int64_t warmup = 0;
  int64_t total = 1;
  ScheduleKind kind = ScheduleKind::Cosine;
  double min_ratio = 0.0;

  double at(int64_t step) const;  // step counts from 0
  static ScheduleKind parse(const std::string& name);  // throws Error on an unknown name
};

const char* schedule_name(ScheduleKind k);

}  // namespace trellis
