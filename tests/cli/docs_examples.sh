#!/usr/bin/env bash
# Docs that cannot rot: every TOML block and every `xp` command line in README.md and docs/*.md is
# checked against the xp that is built. Experiments (blocks with [data], [model] and [loss]) get
# the full `xp validate`, dry build included; fragments are validated with --partial; sweep files
# must resolve their experiment. Command lines must name a real subcommand and only options that
# subcommand's --help lists; `xp validate FILE` lines on files of the repository are run, and a
# documented "FILE: N runs" output must match what xp says today.
set -euo pipefail
: "${XP:?path of the xp binary}" "${XP_SOURCE_DIR:?}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$XP" "$XP_SOURCE_DIR" "$work" <<'PY'
import glob, os, re, subprocess, sys, tomllib

xp, src, work = sys.argv[1:4]
docs = [os.path.join(src, "README.md")] + sorted(glob.glob(os.path.join(src, "docs", "*.md")))
failures, checked = [], {"toml": 0, "commands": 0, "validate_runs": 0, "run_counts": 0}

def run(args, cwd=src):
    return subprocess.run([xp] + args, cwd=cwd, capture_output=True, text=True, timeout=300)

help_cache = {}
def help_of(sub):
    if sub not in help_cache:
        help_cache[sub] = run([sub, "--help"]).stdout if sub in subcommands else None
    return help_cache[sub]

top = run(["--help"]).stdout
subcommands = set(re.findall(r"^  ([a-z]+) ", top, re.M))
if "validate" not in subcommands:
    sys.exit("could not read the subcommands from xp --help:\n" + top)

for doc in docs:
    rel = os.path.relpath(doc, src)
    text = open(doc).read()
    for m in re.finditer(r"^```([a-z]*)\n(.*?)^```", text, re.S | re.M):
        lang, body = m.group(1), m.group(2)
        line_no = text.count("\n", 0, m.start()) + 2
        where = f"{rel}:{line_no}"
        if lang == "toml":
            checked["toml"] += 1
            path = os.path.join(work, f"block{checked['toml']}.toml")
            if re.search(r"^\[sweep\]", body, re.M):
                # xp has no sweep dry run: the block must be TOML whose experiment (relative to
                # experiments/sweeps/, where the docs put sweep files) and variant validate.
                try:
                    sweep = tomllib.loads(body)["sweep"]
                except Exception as e:
                    failures.append(f"{where}: sweep block is not TOML: {e}")
                    continue
                exp = os.path.normpath(os.path.join(src, "experiments", "sweeps", sweep.get("experiment", "")))
                args = ["validate", exp, "--static"] + (["--variant", sweep["variant"]] if "variant" in sweep else [])
                r = run(args)
                if r.returncode != 0:
                    failures.append(f"{where}: the sweep's experiment does not validate:\n{r.stderr}")
                continue
            open(path, "w").write(body)
            full = all(re.search(rf"^\[{t}\]", body, re.M) for t in ("data", "model", "loss"))
            r = run(["validate", path] + ([] if full else ["--partial"]), cwd=work)
            if r.returncode != 0:
                failures.append(f"{where}: TOML block does not validate ({'experiment' if full else 'fragment'}):\n{r.stderr}")
            continue
        if lang not in ("", "sh"):
            continue
        lines = body.split("\n")
        for i, full_line in enumerate(lines):
          for raw in full_line.split("&&"):  # `xp run a.toml && xp ensemble a`: each command
            cmd = re.match(r"^\s*(?:\$ )?(?:\./build/)?xp ([a-z]+)(\s.*|)$", raw)
            if not cmd:
                continue
            sub, rest = cmd.group(1), cmd.group(2).split(" #")[0]
            where_line = f"{rel}:{line_no + i}"
            checked["commands"] += 1
            if sub not in subcommands:
                failures.append(f"{where_line}: 'xp {sub}' is not an xp command: {raw.strip()}")
                continue
            h = help_of(sub)
            for opt in re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", rest):
                if opt not in h:
                    failures.append(f"{where_line}: xp {sub} has no option {opt}: {raw.strip()}")
            if sub != "validate":
                continue
            words = rest.split()
            if not words or not os.path.isfile(os.path.join(src, words[0])) or "\\" in rest:
                continue
            args = [w.strip('"') for w in words]
            r = run(["validate"] + args)
            checked["validate_runs"] += 1
            if r.returncode != 0:
                failures.append(f"{where_line}: `xp validate {' '.join(args)}` fails:\n{r.stderr}")
                continue
            # A documented output line "FILE: N runs of experiment 'X'" right below must still hold.
            if i + 1 < len(lines):
                doc_count = re.match(r"^\S+: (\d+) runs? of experiment", lines[i + 1])
                now = re.match(r"^\S+: (\d+) runs? of experiment", r.stdout)
                if doc_count:
                    checked["run_counts"] += 1
                    if not now or now.group(1) != doc_count.group(1):
                        failures.append(f"{where_line}: the docs say {doc_count.group(1)} runs, xp says "
                                        f"{now.group(1) if now else r.stdout.splitlines()[:1]}")

print("checked:", ", ".join(f"{v} {k}" for k, v in checked.items()))
if checked["toml"] == 0 or checked["commands"] == 0:
    sys.exit("found no examples: is the extraction broken?")
if failures:
    print("\n".join(failures))
    sys.exit(f"{len(failures)} documentation examples are wrong")
print("ok")
PY
