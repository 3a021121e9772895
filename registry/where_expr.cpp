#include "where_expr.h"

#include <algorithm>
#include <cctype>
#include <optional>

#include "param_value.h"
#include "xp/base/run_status_names.h"
#include "xp/base/suggest.h"
#include "xp/errors.h"

namespace xp::registry {
namespace {

enum class Tok { Field, String, Number, Op, LParen, RParen, And, Or, Not, Like, True, False, End };

struct Token {
  Tok kind;
  std::string text;  // field name, string contents, number or operator as written
  size_t pos;        // byte offset in the expression
};

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

[[noreturn]] void error_at(const std::string& expr, size_t pos, const std::string& message) {
  throw ConfigError("bad --where expression at column " + std::to_string(pos + 1) + ": " + message + "\n  " + expr +
                    "\n  " + std::string(pos, ' ') + "^");
}

bool is_field_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '[' || c == ']';
}

std::vector<Token> tokenize(const std::string& s) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    size_t start = i;
    if (c == '(' || c == ')') {
      out.push_back({c == '(' ? Tok::LParen : Tok::RParen, std::string(1, c), start});
      ++i;
    } else if (c == '\'' || c == '"') {
      std::string text;
      ++i;
      for (;;) {
        if (i >= s.size()) error_at(s, start, "unterminated string (a quote inside is written twice: 'it''s')");
        if (s[i] == c) {
          if (i + 1 < s.size() && s[i + 1] == c) {
            text += c;
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        text += s[i++];
      }
      out.push_back({Tok::String, text, start});
    } else if (c == '`') {
      size_t close = s.find('`', i + 1);
      if (close == std::string::npos) error_at(s, start, "unterminated `field name`");
      out.push_back({Tok::Field, s.substr(i + 1, close - i - 1), start});
      i = close + 1;
    } else if (std::isdigit(static_cast<unsigned char>(c)) ||
               ((c == '-' || c == '+' || c == '.') && i + 1 < s.size() &&
                (std::isdigit(static_cast<unsigned char>(s[i + 1])) || s[i + 1] == '.'))) {
      ++i;
      while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '.' || s[i] == '_' ||
                              ((s[i] == '-' || s[i] == '+') && (s[i - 1] == 'e' || s[i - 1] == 'E'))))
        ++i;
      std::string text = s.substr(start, i - start);
      if (!param_number(text)) error_at(s, start, "'" + text + "' is not a number");
      out.push_back({Tok::Number, text, start});
    } else if (std::string("=!<>").find(c) != std::string::npos) {
      std::string op(1, c);
      if (i + 1 < s.size() && (s[i + 1] == '=' || (c == '<' && s[i + 1] == '>'))) op += s[i + 1];
      if (op == "!") error_at(s, start, "'!' must be followed by '=' (use 'not' for negation)");
      i += op.size();
      out.push_back({Tok::Op, op == "==" ? "=" : op == "<>" ? "!=" : op, start});
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      while (i < s.size() && is_field_char(s[i])) ++i;
      std::string word = s.substr(start, i - start), kw = lower(word);
      Tok kind = kw == "and" ? Tok::And
                 : kw == "or" ? Tok::Or
                 : kw == "not" ? Tok::Not
                 : kw == "like" ? Tok::Like
                 : kw == "true" ? Tok::True
                 : kw == "false" ? Tok::False
                 : Tok::Field;
      out.push_back({kind, word, start});
    } else {
      error_at(s, start, std::string("unexpected character '") + c + "'");
    }
  }
  out.push_back({Tok::End, "", s.size()});
  return out;
}

enum class FieldKind { Text, Number, Start, Param, Tag, Metric };

struct Field {
  FieldKind kind;
  std::string column;  // runs column, or the key/name after the prefix
};

const std::vector<std::pair<std::string, Field>>& plain_fields() {
  static const std::vector<std::pair<std::string, Field>> fields = {
      {"id", {FieldKind::Text, "r.id"}},
      {"experiment", {FieldKind::Text, "r.experiment"}},
      {"variant", {FieldKind::Text, "r.variant"}},
      {"seed", {FieldKind::Number, "r.seed"}},
      {"status", {FieldKind::Text, "r.status"}},
      {"git_commit", {FieldKind::Text, "r.git_commit"}},
      {"host", {FieldKind::Text, "r.host"}},
      {"device", {FieldKind::Text, "r.device"}},
      {"config_hash", {FieldKind::Text, "r.config_hash"}},
      {"start", {FieldKind::Start, "r.start_time"}},
      {"duration", {FieldKind::Number, "r.duration"}},
  };
  return fields;
}

std::optional<Field> lookup_field(const std::string& name) {
  for (const auto& [n, f] : plain_fields())
    if (n == name) return f;
  for (auto [prefix, kind] : {std::pair{"params.", FieldKind::Param}, std::pair{"tags.", FieldKind::Tag},
                              std::pair{"metrics.", FieldKind::Metric}}) {
    std::string p = prefix;
    if (name.size() > p.size() && name.compare(0, p.size(), p) == 0) return Field{kind, name.substr(p.size())};
  }
  return std::nullopt;
}

std::string unknown_field_message(const std::string& name) {
  std::vector<std::string> names;
  for (const auto& [n, f] : plain_fields()) names.push_back(n);
  for (const char* p : {"params.", "tags.", "metrics."}) names.push_back(std::string(p) + name);
  std::string hint = did_you_mean(name, names);
  if (hint.empty()) hint = " (fields: id, experiment, variant, seed, status, git_commit, host, device, config_hash, "
                           "start, duration, params.KEY, tags.KEY, metrics.NAME)";
  return "unknown field '" + name + "'" + hint;
}

const char* kMetricValue =
    "COALESCE((SELECT s.value FROM summary s WHERE s.rid = r.rid AND s.name = ?),"
    " (SELECT ms.final FROM metric_stats ms WHERE ms.rid = r.rid AND ms.name = ?))";

class Parser {
 public:
  Parser(const std::string& expr, sql::Dialect dialect) : expr_(expr), tokens_(tokenize(expr)), dialect_(dialect) {}

  SqlFragment parse() {
    SqlFragment out;
    if (peek().kind == Tok::End) error_at(expr_, 0, "empty expression");
    parse_or(out);
    if (peek().kind != Tok::End)
      error_at(expr_, peek().pos, "expected 'and', 'or' or the end after the comparison, found '" + peek().text + "'");
    return out;
  }

 private:
  const Token& peek(size_t ahead = 0) const { return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)]; }
  const Token& next() { return tokens_[std::min(pos_++, tokens_.size() - 1)]; }

  void parse_or(SqlFragment& out) {
    out.sql += "(";
    parse_and(out);
    while (peek().kind == Tok::Or) {
      next();
      out.sql += " OR ";
      parse_and(out);
    }
    out.sql += ")";
  }

  void parse_and(SqlFragment& out) {
    out.sql += "(";
    parse_unary(out);
    while (peek().kind == Tok::And) {
      next();
      out.sql += " AND ";
      parse_unary(out);
    }
    out.sql += ")";
  }

  void parse_unary(SqlFragment& out) {
    if (peek().kind == Tok::Not) {
      next();
      out.sql += "NOT ";
      parse_unary(out);
      return;
    }
    if (peek().kind == Tok::LParen) {
      const Token& open = next();
      parse_or(out);
      if (peek().kind != Tok::RParen)
        error_at(expr_, peek().pos, "expected ')' to close the '(' at column " + std::to_string(open.pos + 1));
      next();
      return;
    }
    parse_comparison(out);
  }

  bool is_literal(Tok k) const { return k == Tok::String || k == Tok::Number || k == Tok::True || k == Tok::False; }

  // Reads an operator; "not like" is one operator.
  std::string parse_operator() {
    const Token& t = peek();
    if (t.kind == Tok::Op) return next().text;
    if (t.kind == Tok::Like) {
      next();
      return "LIKE";
    }
    if (t.kind == Tok::Not && peek(1).kind == Tok::Like) {
      next();
      next();
      return "NOT LIKE";
    }
    error_at(expr_, t.pos,
             "expected an operator (= != < <= > >= like) here" + (t.kind == Tok::End ? std::string() : ", found '" + t.text + "'"));
  }

  static std::string flip(const std::string& op) {
    if (op == "<") return ">";
    if (op == ">") return "<";
    if (op == "<=") return ">=";
    if (op == ">=") return "<=";
    return op;
  }

  void parse_comparison(SqlFragment& out) {
    const Token& first = peek();
    Token field_tok, literal_tok;
    std::string op;
    if (first.kind == Tok::Field) {
      field_tok = next();
      op = parse_operator();
      if (!is_literal(peek().kind))
        error_at(expr_, peek().pos,
                 "expected a value (a number or a quoted string) here" +
                     (peek().kind == Tok::Field ? "; quote text values: '" + peek().text + "'" : std::string()));
      literal_tok = next();
    } else if (is_literal(first.kind)) {
      literal_tok = next();
      op = parse_operator();
      if (op == "LIKE" || op == "NOT LIKE") error_at(expr_, first.pos, "write the field on the left of 'like'");
      op = flip(op);
      if (peek().kind != Tok::Field) error_at(expr_, peek().pos, "expected a field name here");
      field_tok = next();
    } else if (first.kind == Tok::End) {
      error_at(expr_, first.pos, "expression ends where a comparison was expected");
    } else {
      error_at(expr_, first.pos, "expected a comparison such as variant = 'focal', found '" + first.text + "'");
    }
    emit(out, field_tok, op, literal_tok);
  }

  void emit(SqlFragment& out, const Token& field_tok, const std::string& op, const Token& lit) {
    auto field = lookup_field(field_tok.text);
    if (!field) error_at(expr_, field_tok.pos, unknown_field_message(field_tok.text));
    bool like = op == "LIKE" || op == "NOT LIKE";
    std::string sql_op = op == "!=" ? "<>" : op;
    // SQLite's LIKE ignores ASCII case; PostgreSQL's does not, ILIKE does: one meaning on both.
    if (dialect_ == sql::Dialect::Postgres && like) sql_op = op == "LIKE" ? "ILIKE" : "NOT ILIKE";
    const bool pg = dialect_ == sql::Dialect::Postgres;
    bool numeric_literal = lit.kind != Tok::String;
    std::string literal_text = lit.kind == Tok::True ? "true" : lit.kind == Tok::False ? "false" : lit.text;
    auto number = [&]() -> double { return lit.kind == Tok::True ? 1.0 : lit.kind == Tok::False ? 0.0 : *param_number(lit.text); };

    switch (field->kind) {
      case FieldKind::Text:
        if (field_tok.text == "status" && !like) check_status(lit, literal_text);
        out.sql += field->column + " " + sql_op + " ?";
        out.args.emplace_back(literal_text);
        break;
      case FieldKind::Number:
        if (like) error_at(expr_, field_tok.pos, "'" + field_tok.text + "' is a number; 'like' needs text");
        if (!numeric_literal) error_at(expr_, lit.pos, "'" + field_tok.text + "' is a number; compare it with a number");
        out.sql += field->column + " " + sql_op + " ?";
        out.args.emplace_back(number());
        break;
      case FieldKind::Start:
        if (numeric_literal && !like) {
          out.sql += "r.start_time " + sql_op + " ?";  // Unix seconds
          out.args.emplace_back(number());
        } else {
          out.sql += (pg ? "to_char(to_timestamp(r.start_time), 'YYYY-MM-DD HH24:MI:SS') "
                         : "datetime(r.start_time, 'unixepoch', 'localtime') ") +
                     sql_op + " ?";  // '2024-05-01 12:00'
          out.args.emplace_back(literal_text);
        }
        break;
      case FieldKind::Param:
        out.refs.push_back({"params", field->column, field_tok.pos});
        out.sql += "EXISTS (SELECT 1 FROM params p WHERE p.rid = r.rid AND p.key = ? AND ";
        out.args.emplace_back(field->column);
        if (numeric_literal && !like) {
          out.sql += "p.num " + sql_op + " ?)";
          out.args.emplace_back(number());
        } else {
          out.sql += "p.value " + sql_op + " ?)";
          out.args.emplace_back(literal_text);
        }
        break;
      case FieldKind::Tag:
        out.refs.push_back({"tags", field->column, field_tok.pos});
        out.sql += "EXISTS (SELECT 1 FROM tags t WHERE t.rid = r.rid AND t.key = ? AND ";
        out.args.emplace_back(field->column);
        if (numeric_literal && !like) {
          // PostgreSQL's cast fails on text that is not a number: such a tag matches no comparison.
          out.sql += (pg ? "(CASE WHEN t.value ~ '^\\s*[-+]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][-+]?[0-9]+)?\\s*$' "
                           "THEN CAST(t.value AS DOUBLE PRECISION) END) "
                         : "CAST(t.value AS REAL) ") +
                     sql_op + " ?)";
          out.args.emplace_back(number());
        } else {
          out.sql += "t.value " + sql_op + " ?)";
          out.args.emplace_back(literal_text);
        }
        break;
      case FieldKind::Metric:
        if (like) error_at(expr_, field_tok.pos, "metrics are numbers; 'like' needs text");
        if (!numeric_literal) error_at(expr_, lit.pos, "metrics are numbers; compare '" + field_tok.text + "' with a number");
        out.refs.push_back({"metrics", field->column, field_tok.pos});
        out.sql += std::string(kMetricValue) + " " + sql_op + " ?";
        out.args.emplace_back(field->column);
        out.args.emplace_back(field->column);
        out.args.emplace_back(number());
        break;
    }
  }

  void check_status(const Token& lit, const std::string& value) {
    const auto& names = run_status_names();
    if (std::find(names.begin(), names.end(), value) == names.end()) {
      std::string hint = did_you_mean(value, names);
      error_at(expr_, lit.pos, "unknown status '" + value + "'" +
                                   (hint.empty() ? " (statuses: running, finished, failed, diverged, crashed, pruned, "
                                                   "interrupted)"
                                                 : hint));
    }
  }

  const std::string& expr_;
  std::vector<Token> tokens_;
  sql::Dialect dialect_;
  size_t pos_ = 0;
};

}  // namespace

SqlFragment compile_where(const std::string& expression, sql::Dialect dialect) {
  return Parser(expression, dialect).parse();
}

SqlFragment field_value_sql(const std::string& name, sql::Dialect dialect) {
  auto field = lookup_field(name);
  if (!field) throw ConfigError(unknown_field_message(name));
  switch (field->kind) {
    case FieldKind::Text:
    case FieldKind::Number:
    case FieldKind::Start:
      return {field->column, {}};
    case FieldKind::Param:
      // PostgreSQL will not mix a number and text in one COALESCE: the text of the number.
      if (dialect == sql::Dialect::Postgres)
        return {"(SELECT COALESCE(CAST(p.num AS TEXT), p.value) FROM params p WHERE p.rid = r.rid AND p.key = ?)",
                {field->column}};
      return {"(SELECT COALESCE(p.num, p.value) FROM params p WHERE p.rid = r.rid AND p.key = ?)", {field->column}};
    case FieldKind::Tag:
      return {"(SELECT t.value FROM tags t WHERE t.rid = r.rid AND t.key = ?)", {field->column}};
    case FieldKind::Metric:
      return {kMetricValue, {field->column, field->column}};
  }
  return {};
}

std::vector<SqlFragment> field_sort_keys(const std::string& name, sql::Dialect dialect) {
  auto field = lookup_field(name);
  if (!field) throw ConfigError(unknown_field_message(name));
  if (field->kind == FieldKind::Param && dialect == sql::Dialect::Postgres)
    // Numbers by value first, then text: what SQLite's mixed-type ordering does.
    return {{"(SELECT p.num FROM params p WHERE p.rid = r.rid AND p.key = ?)", {field->column}},
            {"(SELECT p.value FROM params p WHERE p.rid = r.rid AND p.key = ?)", {field->column}}};
  return {field_value_sql(name, dialect)};
}

void check_where_names(const std::string& expression, const SqlFragment& compiled, const KnownNames& known) {
  for (const auto& ref : compiled.refs) {
    const std::vector<std::string>* names =
        ref.prefix == "metrics" ? &known.metrics : ref.prefix == "params" ? &known.params : nullptr;
    if (!names || names->empty() || std::find(names->begin(), names->end(), ref.name) != names->end()) continue;
    std::vector<std::string> full;
    for (const auto& n : *names) full.push_back(ref.prefix + "." + n);
    std::string hint = did_you_mean(ref.prefix + "." + ref.name, full);
    if (hint.empty())
      hint = ref.prefix == "metrics" ? " (xp show RUN lists a run's metrics)" : " (xp show RUN lists a run's config)";
    error_at(expression, ref.pos,
             std::string(ref.prefix == "metrics" ? "no run has a metric '" : "no run has a config key '") + ref.name +
                 "'" + hint);
  }
}

void check_metric_name(const std::string& name, const std::vector<std::string>& known, const std::string& option) {
  if (known.empty() || std::find(known.begin(), known.end(), name) != known.end()) return;
  std::string hint = did_you_mean(name, known);
  if (hint.empty()) hint = " (xp show RUN lists a run's metrics)";
  throw ConfigError(option + ": no run has a metric '" + name + "'" + hint);
}

const std::vector<std::string>& where_plain_fields() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto& [name, f] : plain_fields()) n.push_back(name);
    return n;
  }();
  return names;
}

}  // namespace xp::registry
