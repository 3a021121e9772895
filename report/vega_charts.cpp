#include "vega_charts.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace xp::report {
namespace {

using nlohmann::json;

json color(const std::vector<std::string>& groups, bool legend = true, const std::string& title = "variant") {
  json c = {{"field", "group"}, {"type", "nominal"}, {"title", title}, {"scale", {{"domain", groups}}}};
  if (!legend) c["legend"] = nullptr;
  return c;
}

json flatten(std::vector<std::string> fields) { return {{"flatten", fields}}; }

json x_by_choice() { return {{"calculate", "x_axis == 'step' ? datum.step : datum.epoch"}, {"as", "x"}}; }

}  // namespace

json chart_number(double v) {
  if (!std::isfinite(v)) return nullptr;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return std::strtod(buf, nullptr);
}

json learning_curve_chart(const std::string& title, const json& means, const json& seeds,
                          const std::vector<std::string>& groups, const std::string& color_title) {
  json x = {{"field", "x"}, {"type", "quantitative"}, {"title", "epoch (or step, below)"}};
  json dash = {{"field", "split"}, {"type", "nominal"}, {"title", "split"}};
  json band = {
      {"data", {{"values", means}}},
      {"transform", {flatten({"epoch", "step", "mean", "std", "lo", "hi", "n"}), x_by_choice()}},
      {"mark", {{"type", "area"}, {"opacity", 0.18}}},
      {"encoding",
       {{"x", x},
        {"y", {{"field", "lo"}, {"type", "quantitative"}, {"title", title}, {"scale", {{"zero", false}}}}},
        {"y2", {{"field", "hi"}}},
        {"color", color(groups, true, color_title)},
        {"detail", {{"field", "split"}}}}}};
  json each = {
      {"data", {{"values", seeds}}},
      {"transform", {{{"filter", "each_seed"}}, flatten({"epoch", "step", "value"}), x_by_choice()}},
      {"mark", {{"type", "line"}, {"strokeWidth", 0.8}, {"opacity", 0.55}}},
      {"encoding",
       {{"x", x},
        {"y", {{"field", "value"}, {"type", "quantitative"}, {"title", title}}},
        {"color", color(groups, true, color_title)},
        {"strokeDash", dash},
        {"detail", {{"field", "run"}}},
        {"tooltip", {{{"field", "run"}}, {{"field", "split"}}, {{"field", "epoch"}}, {{"field", "value"}, {"format", ".4g"}}}}}}};
  json mean = {
      {"data", {{"values", means}}},
      {"transform", {flatten({"epoch", "step", "mean", "std", "lo", "hi", "n"}), x_by_choice()}},
      {"mark", {{"type", "line"}, {"strokeWidth", 2}}},
      {"encoding",
       {{"x", x},
        {"y", {{"field", "mean"}, {"type", "quantitative"}, {"title", title}}},
        {"color", color(groups, true, color_title)},
        {"strokeDash", dash},
        {"tooltip",
         {{{"field", "group"}, {"title", "variant"}}, {{"field", "split"}}, {{"field", "epoch"}}, {{"field", "step"}, {"format", ".0f"}},
          {{"field", "mean"}, {"format", ".4g"}}, {{"field", "std"}, {"format", ".3g"}}, {{"field", "n"}, {"title", "runs"}}}}}}};
  json params = {{{"name", "x_axis"},
                  {"value", "epoch"},
                  {"bind", {{"input", "radio"}, {"options", {"epoch", "step"}}, {"name", "x axis "}}}}};
  json layers = {band, mean};
  if (!seeds.empty()) {
    params.push_back({{"name", "each_seed"}, {"value", false}, {"bind", {{"input", "checkbox"}, {"name", "each seed "}}}});
    layers = {band, each, mean};
  }
  return {{"title", title}, {"width", 420}, {"height", 240}, {"params", params}, {"layer", layers}};
}

json strip_chart(const std::string& metric, const json& points, const json& summary, const std::vector<std::string>& groups) {
  json y = {{"field", "group"}, {"type", "nominal"}, {"title", nullptr}, {"sort", groups}};
  json xs = {{"zero", false}};
  return {
      {"title", metric},
      {"width", 420},
      {"layer",
       {{{"data", {{"values", points}}},
         {"transform", {flatten({"value"})}},
         {"mark", {{"type", "point"}, {"filled", true}, {"opacity", 0.6}, {"size", 55}}},
         {"encoding",
          {{"y", y},
           {"x", {{"field", "value"}, {"type", "quantitative"}, {"title", metric}, {"scale", xs}}},
           {"color", color(groups, false)},
           {"tooltip", {{{"field", "group"}, {"title", "variant"}}, {{"field", "value"}, {"format", ".5g"}}}}}}},
        {{"data", {{"values", summary}}},
         {"mark", {{"type", "rule"}, {"strokeWidth", 2}, {"color", "#1d2330"}}},
         {"encoding", {{"y", y}, {"x", {{"field", "ci_low"}, {"type", "quantitative"}}}, {"x2", {{"field", "ci_high"}}}}}},
        {{"data", {{"values", summary}}},
         {"mark", {{"type", "tick"}, {"thickness", 3}, {"size", 18}, {"color", "#1d2330"}}},
         {"encoding",
          {{"y", y},
           {"x", {{"field", "mean"}, {"type", "quantitative"}}},
           {"tooltip",
            {{{"field", "group"}, {"title", "variant"}}, {{"field", "n"}}, {{"field", "mean"}, {"format", ".5g"}},
             {{"field", "ci_low"}, {"title", "CI95 low"}, {"format", ".5g"}},
             {{"field", "ci_high"}, {"title", "CI95 high"}, {"format", ".5g"}},
             {{"field", "p_value"}, {"title", "Welch p"}, {"format", ".3g"}}}}}}}}}};
}

json confusion_chart(const std::string& title, const json& cells) {
  json enc = {{"x", {{"field", "pred"}, {"type", "ordinal"}, {"title", "predicted"}}},
              {"y", {{"field", "truth"}, {"type", "ordinal"}, {"title", "true"}}}};
  json rect = {{"mark", "rect"},
               {"encoding",
                {{"x", enc["x"]},
                 {"y", enc["y"]},
                 {"color", {{"field", "rate"}, {"type", "quantitative"}, {"title", "share of row"}, {"scale", {{"scheme", "blues"}, {"domain", {0, 1}}}}}},
                 {"tooltip",
                  {{{"field", "truth"}, {"title", "true"}}, {{"field", "pred"}, {"title", "predicted"}},
                   {{"field", "count"}, {"format", ".1f"}}, {{"field", "rate"}, {"format", ".3f"}}}}}}};
  json text = {{"mark", {{"type", "text"}, {"fontSize", 10}}},
               {"encoding",
                {{"x", enc["x"]},
                 {"y", enc["y"]},
                 {"text", {{"field", "rate"}, {"format", ".2f"}}},
                 {"color", {{"condition", {{"test", "datum.rate > 0.5"}, {"value", "white"}}}, {"value", "black"}}}}}};
  return {{"title", title},
          {"data", {{"values", cells}}},
          {"facet", {{"field", "facet"}, {"type", "nominal"}, {"title", nullptr}}},
          {"columns", 4},
          {"spec", {{"width", 200}, {"height", 200}, {"layer", {rect, text}}}}};
}

json per_class_chart(const std::string& title, const json& rows, const std::vector<std::string>& groups) {
  return {{"title", title},
          {"width", 420},
          {"height", 200},
          {"data", {{"values", rows}}},
          {"mark", "bar"},
          {"encoding",
           {{"x", {{"field", "class"}, {"type", "ordinal"}, {"title", "class"}}},
            {"xOffset", {{"field", "group"}, {"sort", groups}}},
            {"y", {{"field", "value"}, {"type", "quantitative"}, {"title", title}}},
            {"color", color(groups)},
            {"tooltip", {{{"field", "group"}, {"title", "variant"}}, {{"field", "class"}}, {{"field", "value"}, {"format", ".4f"}}}}}}};
}

json pr_chart(const std::string& title, const json& rows, const std::vector<std::string>& groups) {
  return {{"title", title},
          {"width", 300},
          {"height", 300},
          {"data", {{"values", rows}}},
          {"mark", {{"type", "line"}, {"point", true}}},
          {"encoding",
           {{"x", {{"field", "recall"}, {"type", "quantitative"}, {"scale", {{"domain", {0, 1}}}}}},
            {"y", {{"field", "precision"}, {"type", "quantitative"}, {"scale", {{"domain", {0, 1}}}}}},
            {"order", {{"field", "threshold"}}},
            {"color", color(groups)},
            {"tooltip",
             {{{"field", "group"}, {"title", "variant"}}, {{"field", "threshold"}}, {{"field", "precision"}, {"format", ".3f"}},
              {{"field", "recall"}, {"format", ".3f"}}}}}}};
}

json reliability_chart(const std::string& title, const json& rows, const std::vector<std::string>& groups) {
  json axis01 = {{"domain", {0, 1}}};
  json x = {{"field", "conf"}, {"type", "quantitative"}, {"title", "mean predicted probability"}, {"scale", axis01}};
  json y = {{"field", "freq"}, {"type", "quantitative"}, {"title", "observed rate"}, {"scale", axis01}};
  json dash = {{"field", "calibration"}, {"type", "nominal"}, {"title", "temperature scaling"},
               {"scale", {{"domain", {"before", "after"}}, {"range", {json::array(), {5, 3}}}}}};
  return {{"title", title},
          {"width", 300},
          {"height", 300},
          {"layer",
           {{{"data", {{"values", {{{"p", 0}}, {{"p", 1}}}}}},
             {"mark", {{"type", "line"}, {"color", "#9aa3b2"}, {"strokeDash", {2, 2}}}},
             {"encoding",
              {{"x", {{"field", "p"}, {"type", "quantitative"}, {"scale", axis01}}},
               {"y", {{"field", "p"}, {"type", "quantitative"}, {"scale", axis01}}}}}},
            {{"data", {{"values", rows}}},
             {"mark", {{"type", "line"}, {"point", {{"filled", true}}}}},
             {"encoding",
              {{"x", x},
               {"y", y},
               {"order", {{"field", "bin"}}},
               {"color", color(groups)},
               {"strokeDash", dash},
               {"detail", {{"field", "calibration"}}},
               {"tooltip",
                {{{"field", "group"}, {"title", "variant"}}, {{"field", "calibration"}}, {{"field", "bin"}},
                 {{"field", "conf"}, {"format", ".3f"}}, {{"field", "freq"}, {"format", ".3f"}},
                 {{"field", "share"}, {"format", ".2%"}}}}}}}}}};
}

json members_chart(const std::string& metric, const json& rows) {
  return {{"title", metric},
          {"width", 320},
          {"data", {{"values", rows}}},
          {"mark", "bar"},
          {"encoding",
           {{"y", {{"field", "name"}, {"type", "nominal"}, {"title", nullptr}, {"sort", nullptr}}},
            {"x", {{"field", "value"}, {"type", "quantitative"}, {"title", metric}, {"scale", {{"zero", false}}}}},
            {"color",
             {{"field", "role"}, {"type", "nominal"}, {"scale", {{"domain", {"ensemble", "member"}}, {"range", {"#1d2330", "#8fb3e6"}}}}}},
            {"tooltip", {{{"field", "name"}}, {{"field", "value"}, {"format", ".5g"}}}}}}};
}

json sweep_history_chart(const std::string& metric, const json& trials) {
  json x = {{"field", "finished"}, {"type", "temporal"}, {"title", "finished at"}};
  return {{"title", metric + " per trial over time"},
          {"width", 520},
          {"height", 260},
          {"data", {{"values", trials}}},
          {"layer",
           {{{"transform", {{{"filter", "isValid(datum.best_so_far)"}}}},
             {"mark", {{"type", "line"}, {"interpolate", "step-after"}, {"color", "#1d2330"}}},
             {"encoding", {{"x", x}, {"y", {{"field", "best_so_far"}, {"type", "quantitative"}, {"title", metric}}}}}},
            {{"transform", {{{"filter", "isValid(datum.shown)"}}}},
             {"mark", {{"type", "point"}, {"filled", true}, {"size", 60}}},
             {"encoding",
              {{"x", x},
               {"y", {{"field", "shown"}, {"type", "quantitative"}, {"title", metric}, {"scale", {{"zero", false}}}}},
               {"color", {{"field", "state"}, {"type", "nominal"}, {"scale", {{"domain", {"complete", "pruned", "failed", "crashed", "running", "waiting", "interrupted"}}, {"range", {"#2450a8", "#e08a00", "#c62828", "#7b1fa2", "#2e7d32", "#9e9e9e", "#795548"}}}}}},
               {"shape", {{"field", "state"}, {"type", "nominal"}}},
               {"tooltip", {{{"field", "trial"}}, {{"field", "state"}}, {{"field", "shown"}, {"title", metric}, {"format", ".5g"}}, {{"field", "note"}}}}}}}}}};
}

json sweep_param_chart(const std::string& metric, const std::string& param, const std::string& field, bool categorical,
                       bool log_scale, const json& trials) {
  json x = {{"field", field}, {"type", categorical ? "nominal" : "quantitative"}, {"title", param}};
  if (!categorical) x["scale"] = log_scale ? json{{"type", "log"}} : json{{"zero", false}};
  return {{"title", metric + " vs " + param},
          {"width", 260},
          {"height", 200},
          {"data", {{"values", trials}}},
          {"transform", {{{"filter", "isValid(datum.shown)"}}}},
          {"mark", {{"type", "point"}, {"filled", true}, {"size", 50}}},
          {"encoding",
           {{"x", x},
            {"y", {{"field", "shown"}, {"type", "quantitative"}, {"title", metric}, {"scale", {{"zero", false}}}}},
            {"color", {{"field", "state"}, {"type", "nominal"}, {"scale", {{"domain", {"complete", "pruned"}}, {"range", {"#2450a8", "#e08a00"}}}}}},
            {"tooltip", {{{"field", "trial"}}, {{"field", "state"}}, {{"field", field}, {"title", param}}, {{"field", "shown"}, {"title", metric}, {"format", ".5g"}}}}}}};
}

json parallel_chart(const std::string& metric, const json& rows, const std::vector<std::string>& axes) {
  // The x axis's grid lines are the parallel axes.
  const json x = {{"field", "axis"}, {"type", "nominal"}, {"sort", axes}, {"title", nullptr},
                  {"axis", {{"grid", true}, {"gridColor", "#888"}, {"domain", false}, {"labelAngle", 0}}}};
  const json y = {{"field", "position"}, {"type", "quantitative"}, {"axis", nullptr}};
  json stopped = {{"transform", {{{"filter", "!isValid(datum.objective)"}}}},
                  {"mark", {{"type", "line"}, {"strokeDash", {4, 3}}, {"color", "#9e9e9e"}, {"opacity", 0.6}}},
                  {"encoding",
                   {{"x", x},
                    {"y", y},
                    {"detail", {{"field", "trial"}}},
                    {"tooltip", {{{"field", "trial"}}, {{"field", "state"}}, {{"field", "axis"}}, {{"field", "label"}}}}}}};
  json complete = {
      {"transform", {{{"filter", "isValid(datum.objective)"}}}},
      {"mark", {{"type", "line"}, {"opacity", 0.8}}},
      {"encoding",
       {{"x", x},
        {"y", y},
        {"detail", {{"field", "trial"}}},
        {"color", {{"field", "objective"}, {"type", "quantitative"}, {"title", metric}, {"scale", {{"scheme", "viridis"}}}}},
        {"tooltip", {{{"field", "trial"}}, {{"field", "axis"}}, {{"field", "label"}}, {{"field", "objective"}, {"format", ".5g"}}}}}}};
  return {{"title", "parallel coordinates (colour: " + metric + "; pruned trials dashed grey)"},
          {"width", std::max<int>(300, 140 * static_cast<int>(axes.size()))},
          {"height", 260},
          {"data", {{"values", rows}}},
          {"layer", {stopped, complete}}};
}

}  // namespace xp::report
