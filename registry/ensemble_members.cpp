#include "ensemble_members.h"

#include <sstream>

namespace xp::registry {

bool is_ensemble(const RunRecord& run) { return run.info.tags.count(kEnsembleOfTag) > 0; }

std::vector<std::string> ensemble_members(const RunRecord& run) {
  std::vector<std::string> ids;
  auto it = run.info.tags.find(kEnsembleOfTag);
  if (it == run.info.tags.end()) return ids;
  std::stringstream in(it->second);
  std::string id;
  while (std::getline(in, id, ','))
    if (!id.empty()) ids.push_back(id);
  return ids;
}

std::string join_members(const std::vector<std::string>& ids) {
  std::string out;
  for (const auto& id : ids) out += (out.empty() ? "" : ",") + id;
  return out;
}

}  // namespace xp::registry
