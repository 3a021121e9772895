#pragma once
// One fully resolved run of an experiment (a variant with a seed): what `xp validate` prints and
// what `xp run` trains. Produced by the experiment resolver (config/experiment.h), consumed by the
// engine and recorded by the registry.

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "xp/params.h"

namespace xp {

struct RunSpec {
  std::string experiment;  // [experiment] name
  std::string variant;     // "" when the experiment has no [variants]
  int64_t seed = 0;
  std::filesystem::path source;  // the experiment file the user named
  std::string description;       // [experiment] description, tags, output ("" / empty when absent)
  std::vector<std::string> tags;
  std::string output;            // root folder for run directories, as written ("" = the runner's default)
  // [experiment] baseline and metric: the variant the others are compared against and the metric
  // they are compared by (what `xp report` should default to). Not part of the hashed config:
  // choosing another baseline does not change what a run trains.
  std::string baseline, report_metric;

  std::string canonical;  // canonical TOML of the resolved config (sorted keys, normalized values)
  std::string hash;       // sha256 (hex) of `canonical`: equal configs hash equal
  std::map<std::string, std::string> flat;  // "loss.gamma" -> "2.0", every leaf of the resolved config
                                            // (strings unquoted, [[augment]] elements as "augment.0.p")
  Value::Table config;  // the resolved config as a tree: exactly what `canonical` renders

  // Validated plugin params (defaults filled in). sampler defaults to "random" for train.
  Params data, model, loss, sampler;
  std::vector<Params> augment;        // [[augment]]: train-time transforms, in order
  std::vector<Params> eval_augment;   // [[eval_augment]]: val/test transforms (resize, normalize)
  std::vector<Params> batch_augment;  // [[batch_augment]]: mixup, cutmix
  std::vector<Params> metrics;        // [[metrics]]
  Params train;                       // [train], validated against engine::train_schema()
  std::vector<std::string> plugin_paths;  // [plugins] paths, absolute
};

}  // namespace xp
