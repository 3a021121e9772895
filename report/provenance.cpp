#include "provenance.h"

#include "html_page.h"
#include "text_table.h"
#include "where_expr.h"
#include "xp/base/run_status_names.h"

namespace xp::report {

using nlohmann::json;

std::vector<RunRecord> experiment_runs(RunRegistry& registry, const std::string& experiment, const std::string& where) {
  registry.flush();
  auto& db = registry.database();
  std::string sql =
      "SELECT r.id, r.variant, r.seed, r.status, r.message, r.start_time, r.duration, r.host, r.xp_version, "
      "r.torch_version, r.cuda_version, r.device, r.git_commit, r.git_dirty, r.config_hash FROM runs r "
      "WHERE r.experiment = ?";
  std::vector<registry::SqlArg> args = {experiment};
  if (!where.empty()) {
    auto w = registry::compile_where(where, db.dialect());
    sql += " AND " + w.sql;
    args.insert(args.end(), w.args.begin(), w.args.end());
  }
  sql += " ORDER BY r.start_time, r.rid";
  auto st = db.prepare(sql);
  int i = 1;
  for (const auto& a : args) {
    if (auto p = std::get_if<int64_t>(&a)) st.bind(i, *p);
    else if (auto d = std::get_if<double>(&a)) st.bind(i, *d);
    else st.bind(i, std::get<std::string>(a));
    ++i;
  }
  std::vector<RunRecord> out;
  while (st.step()) {
    RunRecord r;
    r.id = st.text(0);
    r.info.experiment = experiment;
    r.info.variant = st.text(1);
    r.info.seed = st.int64(2);
    r.status = parse_run_status(st.text(3)).value_or(RunStatus::Crashed);
    r.message = st.text(4);
    r.start_time = st.real(5);
    r.duration = st.real_or_null(6);
    r.info.host = st.text(7);
    r.info.xp_version = st.text(8);
    r.info.torch_version = st.text(9);
    r.info.cuda_version = st.text(10);
    r.info.device = st.text(11);
    r.info.git_commit = st.text(12);
    r.info.git_dirty = st.int64(13) != 0;
    r.info.config_hash = st.text(14);
    out.push_back(std::move(r));
  }
  return out;
}

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
