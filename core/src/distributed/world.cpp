#include "distributed/world.h"

#include <unistd.h>

#include <cstdlib>

#include "xp/errors.h"

namespace xp::distributed {

namespace {

int parse_int(const EnvLookup& env, const std::string& name, int fallback) {
  auto v = env(name);
  if (!v || v->empty()) return fallback;
  try {
    size_t used = 0;
    const long n = std::stol(*v, &used);
    if (used != v->size()) throw std::invalid_argument(*v);
    return static_cast<int>(n);
  } catch (const std::exception&) {
    throw ConfigError("environment variable " + name + "=" + *v + " is not an integer");
  }
}

// SLURM_TASKS_PER_NODE looks like "2(x3),1"; the first node's count is what a homogeneous job has.
int first_tasks_per_node(const std::string& spec) {
  const std::string head = spec.substr(0, spec.find_first_of("(,"));
  try {
    return std::max(1, std::stoi(head));
  } catch (const std::exception&) {
    return 1;
  }
}

}  // namespace

std::string World::describe() const {
  return "rank " + std::to_string(rank) + "/" + std::to_string(world_size) + " on " + host;
}

EnvLookup process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (!v) return std::nullopt;
    return std::string(v);
  };
}

std::string host_name() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof buf - 1) != 0 || !buf[0]) return "localhost";
  return buf;
}

std::string first_slurm_host(const std::string& nodelist) {
  // The first entry ends at a comma outside brackets.
  size_t end = 0;
  int depth = 0;
  for (; end < nodelist.size(); ++end) {
    if (nodelist[end] == '[') ++depth;
    if (nodelist[end] == ']') --depth;
    if (nodelist[end] == ',' && depth == 0) break;
  }
  const std::string first = nodelist.substr(0, end);
  const size_t open = first.find('[');
  if (open == std::string::npos) return first;
  // prefix[03-05,09]suffix -> prefix03suffix (the range's first number keeps its zero padding)
  const size_t close = first.find(']', open);
  const std::string inside = first.substr(open + 1, close == std::string::npos ? std::string::npos : close - open - 1);
  const std::string number = inside.substr(0, inside.find_first_of("-,"));
  const std::string suffix = close == std::string::npos ? "" : first.substr(close + 1);
  return first.substr(0, open) + number + suffix;
}

World discover_world(const EnvLookup& env) {
  World w;
  w.host = host_name();
  const bool torchrun = env("WORLD_SIZE").has_value() || env("RANK").has_value();
  const bool slurm = !torchrun && env("SLURM_NTASKS").has_value() && env("SLURM_PROCID").has_value();
  if (torchrun) {
    if (!env("RANK") || !env("WORLD_SIZE"))
      throw ConfigError(std::string("environment: ") + (env("RANK") ? "RANK" : "WORLD_SIZE") +
                        " is set but " + (env("RANK") ? "WORLD_SIZE" : "RANK") +
                        " is not; a distributed launch sets both (and MASTER_ADDR, MASTER_PORT)");
    w.source = "env";
    w.rank = parse_int(env, "RANK", 0);
    w.world_size = parse_int(env, "WORLD_SIZE", 1);
    w.local_rank = parse_int(env, "LOCAL_RANK", w.rank);
    w.local_world_size = parse_int(env, "LOCAL_WORLD_SIZE", w.world_size);
    w.master_addr = env("MASTER_ADDR").value_or("127.0.0.1");
    w.master_port = parse_int(env, "MASTER_PORT", 29500);
  } else if (slurm) {
    w.source = "slurm";
    w.rank = parse_int(env, "SLURM_PROCID", 0);
    w.world_size = parse_int(env, "SLURM_NTASKS", 1);
    w.local_rank = parse_int(env, "SLURM_LOCALID", 0);
    w.local_world_size = first_tasks_per_node(env("SLURM_TASKS_PER_NODE").value_or("1"));
    if (auto addr = env("MASTER_ADDR"))
      w.master_addr = *addr;
    else if (auto nodes = env("SLURM_JOB_NODELIST"); nodes && !nodes->empty())
      w.master_addr = first_slurm_host(*nodes);
    else if (auto nodes2 = env("SLURM_NODELIST"); nodes2 && !nodes2->empty())
      w.master_addr = first_slurm_host(*nodes2);
    // Two jobs sharing a node must not meet on one port: derive it from the job id.
    const int job = parse_int(env, "SLURM_JOB_ID", 0);
    w.master_port = parse_int(env, "MASTER_PORT", 20000 + job % 20000);
  }
  if (w.world_size < 1) throw ConfigError("environment: world size " + std::to_string(w.world_size) + " must be >= 1");
  if (w.rank < 0 || w.rank >= w.world_size)
    throw ConfigError("environment: rank " + std::to_string(w.rank) + " is outside 0.." +
                      std::to_string(w.world_size - 1) + " (world size " + std::to_string(w.world_size) + ")");
  if (w.local_rank < 0) throw ConfigError("environment: negative local rank " + std::to_string(w.local_rank));
  if (w.master_port < 1 || w.master_port > 65535)
    throw ConfigError("environment: MASTER_PORT " + std::to_string(w.master_port) + " is outside 1..65535");
  return w;
}

}  // namespace xp::distributed
