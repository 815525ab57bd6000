#include "train/schedule.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace trellis {

double LrSchedule::at(int64_t s) const {
  if (s < warmup) return base * static_cast<double>(s + 1) / static_cast<double>(warmup);
  const double p = static_cast<double>(s - warmup) / static_cast<double>(std::max<int64_t>(1, total - warmup));
  switch (kind) {
    case ScheduleKind::Cosine: return base * (min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + std::cos(M_PI * p)));
    case ScheduleKind::Linear: return base * (min_ratio + (1.0 - min_ratio) * (1.0 - p));
    case ScheduleKind::Constant: break;
  }
  return base;
}

ScheduleKind LrSchedule::parse(const std::string& name) {
  if (name == "cosine") return ScheduleKind::Cosine;
  if (name == "linear") return ScheduleKind::Linear;
  if (name == "constant") return ScheduleKind::Constant;
  fail("--schedule: unknown schedule '", name, "' (expected cosine, linear or constant)");
}

const char* schedule_name(ScheduleKind k) {
  switch (k) {
    case ScheduleKind::Cosine: return "cosine";
    case ScheduleKind::Linear: return "linear";
    case ScheduleKind::Constant: return "constant";
  }
  return "?";
}

}  // namespace trellis
