#pragma once
// Post-hoc calibration (train.calibration): after the test pass, fit a temperature (and, for
// binary segmentation, the F1-optimal threshold) on the validation outputs of the same weights,
// then score the test split again with them folded into the logits (test_cal_*).

#include <memory>
#include <string>
#include <vector>

#include "engine/callback.h"
#include "engine/evaluator.h"
#include "engine/run_log.h"
#include "engine/train_options.h"

namespace xp::engine {

class CalibrationCallback : public Callback {
 public:
  CalibrationCallback(Evaluator& evaluator, std::shared_ptr<const Split> val, std::shared_ptr<const Split> test,
                      Task task, const CalibrationOptions& options, RunLog& log, std::vector<std::string> console_stems)
      : evaluator_(evaluator), val_(std::move(val)), test_(std::move(test)), task_(task), o_(options), log_(log),
        stems_(std::move(console_stems)) {}

  void on_test_end(TrainState& state) override;

 private:
  Evaluator& evaluator_;
  std::shared_ptr<const Split> val_, test_;
  Task task_;
  CalibrationOptions o_;
  RunLog& log_;
  std::vector<std::string> stems_;
};

}  // namespace xp::engine
