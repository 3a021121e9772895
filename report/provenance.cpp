#include "provenance.h"

#include "html_page.h"
#include "text_table.h"

namespace xp::report {

using nlohmann::json;

json provenance_json(const RunRecord& run) {
  const auto& i = run.info;
  return {{"id", run.id},
          {"variant", i.variant},
          {"seed", i.seed},
          {"status", run_status_name(run.status)},
          {"message", run.message},
          {"git_commit", i.git_commit},
          {"git_dirty", i.git_dirty},
          {"xp", i.xp_version},
          {"torch", i.torch_version},
          {"cuda", i.cuda_version},
          {"device", i.device},
          {"host", i.host},
          {"start", registry::format_time(run.start_time)},
          {"duration_s", run.duration ? json(*run.duration) : json(nullptr)},
          {"config_hash", i.config_hash}};
}

std::string provenance_table(const json& runs) {
  HtmlTable t({"run", "group", "seed", "status", "message", "git", "versions (xp / LibTorch / CUDA)", "device", "host",
               "started", "duration"},
              "runs");
  for (const auto& r : runs) {
    const std::string status = r.value("status", "");
    std::string git = r.value("git_commit", "");
    if (git.size() > 12) git.resize(12);
    if (git.empty()) git = "-";
    if (r.value("git_dirty", false)) git += " + uncommitted changes";
    auto dash = [](const std::string& s) { return s.empty() ? std::string("-") : s; };
    std::string versions = dash(r.value("xp", "")) + " / " + dash(r.value("torch", "")) + " / " + dash(r.value("cuda", ""));
    Cell seed = Cell::number(r.value("seed", 0.0), std::to_string(r.value("seed", int64_t{0})));
    Cell st(status);
    st.css = "status";
    Cell dur = r["duration_s"].is_number()
                   ? Cell::number(r["duration_s"].get<double>(), registry::format_duration(r["duration_s"].get<double>()))
                   : Cell("-");
    t.add_row({Cell(r.value("id", "")), Cell(r.contains("group") ? r["group"].get<std::string>() : dash(r.value("variant", ""))),
               seed, st, Cell(r.value("message", "")), Cell(git), Cell(versions), Cell(dash(r.value("device", ""))),
               Cell(dash(r.value("host", ""))), Cell(r.value("start", "")), dur},
              "status-" + status);
  }
  return t.html();
}

}  // namespace xp::report
