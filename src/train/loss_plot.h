// A PNG chart of the loss curves (train in blue, eval in orange) over optimizer steps, with
// a light grid (5 horizontal lines over the loss range, and vertical lines at every tenth of
// the steps). No text: the numbers are in metrics.jsonl; the picture shows the shape.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace trellis {

using Curve = std::vector<std::pair<double, double>>;  // (step, loss)

// Written atomically. Throws Error when the file cannot be written.
void write_loss_plot(const std::string& path, const Curve& train, const Curve& eval, int width = 800, int height = 480);

}  // namespace trellis
