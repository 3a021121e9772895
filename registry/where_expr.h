#pragma once
// `xp runs --where` expressions, e.g.
//   variant = 'focal' and params.loss.gamma >= 2 and metrics.val_iou > 0.5
// A hand-written recursive-descent parser turns them into a parameterized SQL condition over the
// runs table (alias r). Values are always bound, never pasted into SQL, and every field maps to a
// fixed SQL snippet, so no user text reaches the SQL string.
//
// Grammar (keywords are case-insensitive):
//   expr       := and_expr ('or' and_expr)*
//   and_expr   := unary ('and' unary)*
//   unary      := 'not' unary | '(' expr ')' | comparison
//   comparison := field op literal | literal op field
//   op         := '=' | '==' | '!=' | '<>' | '<' | '<=' | '>' | '>=' | 'like' | 'not like'
//   literal    := number | 'text' | "text" | true | false      ('' inside '...' is one quote)
//   field      := id | experiment | variant | seed | status | git_commit | host | device
//               | config_hash | start | duration | params.KEY | tags.KEY | metrics.NAME
//               | `any.field name`  (backquotes for keys with unusual characters)

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "sql_db.h"

namespace xp::registry {

using SqlArg = std::variant<int64_t, double, std::string>;

// A params./tags./metrics. name an expression refers to, and where it stands in the expression.
struct FieldRef {
  std::string prefix;  // "params", "tags" or "metrics"
  std::string name;    // the KEY / NAME after the prefix
  size_t pos = 0;      // offset in the expression, for the caret of an error
};

struct SqlFragment {
  std::string sql;
  std::vector<SqlArg> args;  // bound to ?1.. in order of appearance (plain `?` placeholders)
  std::vector<FieldRef> refs = {};  // the metrics/params/tags names used (compile_where only)
};

// The names a registry holds, for checking an expression's names before it runs.
struct KnownNames {
  std::vector<std::string> metrics;  // per-epoch and summary metric names
  std::vector<std::string> params;   // flat config keys ("loss.gamma")
};

// Throws xp::ConfigError (caret under the name, did-you-mean over `known`) for a metrics.NAME or
// params.KEY that no run has: such a filter would silently match nothing. Kinds with no known
// names (an empty registry) are not checked.
void check_where_names(const std::string& expression, const SqlFragment& compiled, const KnownNames& known);

// The same check for a bare metric name (`xp report --metric`, `xp runs --columns`): "unknown
// metric 'x'; did you mean 'y'?" when `known` is not empty and lacks it.
void check_metric_name(const std::string& name, const std::vector<std::string>& known, const std::string& option);

// Throws xp::ConfigError naming the column and drawing a caret under the offending token.
// `dialect` picks the spelling of the few dialect-specific pieces (ILIKE, dates, safe casts).
SqlFragment compile_where(const std::string& expression, sql::Dialect dialect = sql::Dialect::Sqlite);

// An SQL expression with the value of `field` per run (for sorting and grouping), e.g.
// "metrics.val_top1" or "params.loss.gamma". Throws xp::ConfigError for an unknown field.
SqlFragment field_value_sql(const std::string& field, sql::Dialect dialect = sql::Dialect::Sqlite);
// The ORDER BY keys for `field` (one, or two where a dialect needs numbers and text apart).
std::vector<SqlFragment> field_sort_keys(const std::string& field, sql::Dialect dialect = sql::Dialect::Sqlite);

// The plain (non-prefixed) field names, for help and did-you-mean.
const std::vector<std::string>& where_plain_fields();

}  // namespace xp::registry
