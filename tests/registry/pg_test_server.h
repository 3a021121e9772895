#pragma once
// The throwaway PostgreSQL the registry tests run against (tests/support/pg_server.sh): started on
// first use in this test process, on a Unix socket in a temp folder, stopped and removed at exit.
// Each caller gets a fresh, empty database. No server, no pass: CI installs postgresql.
#include <doctest/doctest.h>
#include <stdlib.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

namespace xp::test {

class PgTestServer {
 public:
  static PgTestServer& instance() {
    static PgTestServer server;
    return server;
  }
  // A new empty database on the server; returns its postgresql:// URL.
  std::string new_database() {
    std::string name = "t" + std::to_string(::getpid()) + "_" + std::to_string(++count_);
    return run("createdb '" + dir_ + "' " + name);
  }
  const std::string& dir() const { return dir_; }

  ~PgTestServer() {
    if (owner_ != ::getpid()) return;  // a forked child must not stop its parent's server
    try {
      run("stop '" + dir_ + "'");
    } catch (...) {
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

 private:
  PgTestServer() : owner_(::getpid()) {
    std::string tmpl = "/tmp/xp-pg-XXXXXX";  // short: a socket path has at most 107 bytes
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    run("start '" + dir_ + "'");
  }
  static std::string run(const std::string& args) {
    std::string cmd = "bash '" + std::string(XP_SOURCE_DIR) + "/tests/support/pg_server.sh' " + args + " 2>&1";
    std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(cmd.c_str(), "r"), ::pclose);
    if (!pipe) throw std::runtime_error("cannot run " + cmd);
    std::string out;
    std::array<char, 512> buf{};
    while (std::fgets(buf.data(), buf.size(), pipe.get())) out += buf.data();
    int status = ::pclose(pipe.release());
    while (!out.empty() && out.back() == '\n') out.pop_back();
    if (status != 0) throw std::runtime_error("tests/support/pg_server.sh " + args + " failed:\n" + out);
    return out;
  }

  std::string dir_;
  pid_t owner_;
  int count_ = 0;
};

inline std::string pg_database() { return PgTestServer::instance().new_database(); }

}  // namespace xp::test

// Runs the rest of the test case once per registry backend: `location` is a SQLite file path
// (`sqlite_path`) in the first pass and a fresh PostgreSQL database's URL in the second.
#define XP_EACH_REGISTRY_BACKEND(location, sqlite_path)                 \
  std::string location;                                                 \
  SUBCASE("sqlite") { location = std::filesystem::path(sqlite_path).string(); } \
  SUBCASE("postgresql") { location = xp::test::pg_database(); }
