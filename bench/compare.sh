#!/usr/bin/env bash
# Re-run the load comparison of this project against the bare Flask-SocketIO anchor
# (`flask-eventlet-baseline`) with the shared bench (see BENCHMARKS.md).
#
#   bash bench/compare.sh                      # s1 s2 s3 sat-s1 sat-s2, 3 repeats each
#   bash bench/compare.sh --repeats 5 s1 s2    # some scenarios only
#   bash bench/compare.sh --sat-repeats 2      # fewer repeats for the (slow) sat-* scenarios
#   bash bench/compare.sh --extra node-socketio --extra seed-fastapi s1
#   bash bench/compare.sh --loadgen node s1    # socket.io-client load generator (permessage-deflate on)
#
# Options:
#   --repeats N        interleaved repeats per scenario (default 3)
#   --sat-repeats N    repeats for sat-s1 / sat-s2 (default: --repeats)
#   --extra NAME       add an anchor (node-socketio, seed-fastapi, seed-fastapi-verbose);
#                      repeatable, or comma-separated
#   --loadgen c|node   load generator (default c = build/sioload); passed through
#   --lg "OPTS"        extra load generator options, passed through
#   --log-level LEVEL  the project's LOG_LEVEL (default INFO, what users run: one INFO line
#                      per connect / join, which is part of what is measured)
#   --no-wc4000        in s3, do not add `baseline-wc4000` (the bare app with
#                      --worker-connections 4000; the plain anchor caps at 1000 connections)
#   --quiet            no per-step loadgen log lines
#   --project-env "K=V ..."  extra environment for the project's server only (e.g.
#                      CHAT_GC_THRESHOLDS=); default: none, what users run, except the rate limits
#   --keep-rate-limits do not lift the per-connection and per-user rate limits. By default the
#                      project runs with CHAT_RATE_LIMIT=0 CHAT_USER_RATE_LIMIT=0: the default of
#                      10 messages/s per connection (burst 20) refuses sat-s1's senders above
#                      ~200 msgs/s, so a load test that keeps them measures the limiter
#   --rev REV[=LABEL]  measure commit REV (e.g. HEAD) instead of the working tree: it is exported
#                      once (git archive) to .bench/snapshots/<sha>/ and run with this repo's .venv,
#                      so edits and commits made during a long run do not change what is measured.
#                      Repeatable: `--rev 3642ea3=foundation --rev HEAD=project` measures both,
#                      interleaved with the anchors (default label: project-<short sha>)
#   --variant "LABEL[:BASE] K=V ..."  one more server: the project build labelled BASE (default:
#                      the first) with this extra
#                      environment, e.g. --variant "project-gevent GUNICORN_WORKER_CLASS=gevent"
#                      --variant "project-pg DATABASE_URL=postgresql://postgres@127.0.0.1:5432/chat_bench"
#                      (a PostgreSQL URL gets a fresh database per run, see bench/fresh_pg.py); repeatable
#   --history N        before each run of a project build, fill the rooms the load generator
#                      joins (bench-0 … bench-99) with N messages each (bench/seed_history.py), so
#                      that s3's joins read history from rooms that already hold some
#   --compare-opt "OPTS"  any other compare.py options (e.g. "--idle-threshold 5 --retry-noisy 3")
#
# The bench is the read-only folder ../shared/bench next to this repo (BENCH_SRC to change it);
# it is copied to .bench/ (git-ignored) when missing, and its setup.sh is run (idempotent).
# compare.py runs from inside .bench/: gunicorn reads ./gunicorn.conf.py from its working
# directory, so started from this repo the anchors would silently get the project's config.
# Unless DATABASE_URL is set, every project run gets a fresh SQLite file (removed at the end),
# so that repeats do not replay a growing history on join.
# Tables go to stdout, progress to stderr, raw runs to .bench/results/runs/project-<time>-<scenario>/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH="$ROOT/.bench"
BENCH_SRC="${BENCH_SRC:-$ROOT/../shared/bench}"

repeats=3 sat_repeats="" history=0 loadgen="" lg="" log_level="${LOG_LEVEL:-INFO}" wc4000=1 quiet=0 project_env=""
lift_limits=1
revs=() variants=()
extras=() compare_opts=() scenarios=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --repeats) repeats=${2:?}; shift 2 ;;
    --sat-repeats) sat_repeats=${2:?}; shift 2 ;;
    --extra) IFS=, read -r -a _e <<< "${2:?}"; extras+=("${_e[@]}"); shift 2 ;;
    --loadgen) loadgen=${2:?}; shift 2 ;;
    --lg) lg=${2?}; shift 2 ;;
    --log-level) log_level=${2:?}; shift 2 ;;
    --no-wc4000) wc4000=0; shift ;;
    --quiet) quiet=1; shift ;;
    --rev) revs+=("${2:?}"); shift 2 ;;
    --project-env) project_env=${2?}; shift 2 ;;
    --keep-rate-limits) lift_limits=0; shift ;;
    --variant) variants+=("${2:?}"); shift 2 ;;
    --history) history=${2:?}; [[ $history =~ ^[0-9]+$ ]] || { echo "compare.sh: --history wants a number" >&2; exit 2; }; shift 2 ;;
    --compare-opt) read -r -a _o <<< "${2?}"; compare_opts+=("${_o[@]}"); shift 2 ;;
    -h|--help) sed -n '2,50p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "compare.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) scenarios+=("$1"); shift ;;
  esac
done
[[ ${#scenarios[@]} -gt 0 ]] || scenarios=(s1 s2 s3 sat-s1 sat-s2)
sat_repeats=${sat_repeats:-$repeats}
for sc in "${scenarios[@]}"; do
  case "$sc" in s1|s2|s3|sat-s1|sat-s2) ;; *) echo "compare.sh: unknown scenario $sc" >&2; exit 2 ;; esac
done
for x in "${extras[@]}"; do
  case "$x" in node-socketio|seed-fastapi|seed-fastapi-verbose) ;;
    *) echo "compare.sh: unknown extra server $x (node-socketio, seed-fastapi, seed-fastapi-verbose)" >&2; exit 2 ;;
  esac
done

# --- the bench: copy when missing, then its (idempotent) setup
if [[ ! -f $BENCH/compare.py ]]; then
  [[ -f $BENCH_SRC/compare.py ]] || { echo "compare.sh: no bench at $BENCH_SRC (set BENCH_SRC)" >&2; exit 1; }
  echo "compare.sh: copying $BENCH_SRC to $BENCH" >&2
  cp -r "$BENCH_SRC" "$BENCH"
  chmod -R u+w "$BENCH"
fi
(cd "$BENCH" && bash setup.sh) >&2

# --- the project's own environment
if [[ ! -x $ROOT/.venv/bin/gunicorn ]]; then
  echo "compare.sh: no $ROOT/.venv/bin/gunicorn; running make setup" >&2
  make -C "$ROOT" setup >&2
fi
# label=directory pairs of the project builds to measure
apps=()
if [[ ${#revs[@]} -eq 0 ]]; then
  apps=("project=$ROOT")
  echo "compare.sh: project = working tree of $ROOT at $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- . 2>/dev/null || echo ' + uncommitted changes')" >&2
fi
for r in "${revs[@]}"; do
  label=""
  [[ $r == *=* ]] && { label=${r#*=}; r=${r%%=*}; }
  sha=$(git -C "$ROOT" rev-parse --verify "$r^{commit}")
  label=${label:-project-${sha:0:7}}
  [[ $label =~ ^[A-Za-z0-9_.-]+$ ]] || { echo "compare.sh: bad label $label" >&2; exit 2; }
  APP="$BENCH/snapshots/$sha"
  if [[ ! -f $APP/wsgi.py ]]; then
    rm -rf "$APP" && mkdir -p "$APP"
    git -C "$ROOT" archive "$sha" | tar -x -C "$APP"
  fi
  ln -sfn "$ROOT/.venv" "$APP/.venv"
  # the page's vendored client is not in git; the bench does not load the page, but keep it whole
  [[ -d $ROOT/static/vendor && ! -e $APP/static/vendor ]] && ln -sfn "$ROOT/static/vendor" "$APP/static/vendor"
  echo "compare.sh: $label = commit $sha ($(git -C "$ROOT" log -1 --format=%s "$sha" | cut -c1-70)) in $APP" >&2
  apps+=("$label=$APP")
done
# The server needs a SECRET_KEY; a random one per invocation keeps it out of the recorded command.
if [[ -z ${SECRET_KEY:-} ]]; then
  SECRET_KEY="$("$ROOT/.venv/bin/python" -c 'import secrets; print(secrets.token_hex(32))')"
fi
export SECRET_KEY
env | grep -E '^(GUNICORN_|CHAT_|DATABASE_URL=)' | sed 's/=.*//; s/^/compare.sh: note: inherited /' >&2 || true
db_env=""
if [[ -z ${DATABASE_URL:-} ]]; then
  DBDIR=$(mktemp -d "${TMPDIR:-/tmp}/chat-bench-db.XXXXXX")
  trap 'rm -rf "$DBDIR"' EXIT
  # \$\$ is expanded by the server's `bash -c`: one file per run
  db_env=" DATABASE_URL=sqlite:///$(printf %q "$DBDIR")/chat-\$\$.db"
fi

# K=V words go into a `bash -c` command line: nothing that the shell would read as syntax
check_kv() {
  [[ $2 =~ ^[A-Za-z_][A-Za-z0-9_]*=[^\ \'\"\;\&\|\$\`]*$ ]] || { echo "compare.sh: $1 wants K=V words, got $2" >&2; exit 2; }
}
if ((lift_limits)); then
  project_env="CHAT_RATE_LIMIT=0 CHAT_USER_RATE_LIMIT=0 $project_env"
fi
for kv in $project_env; do
  check_kv --project-env "$kv"
  db_env+=" $kv"
done

q_servers=$(printf %q "$BENCH/servers")
PROJECTS=()
# the Procfile's command; a variant may pick the worker class with GUNICORN_WORKER_CLASS
serve="exec .venv/bin/gunicorn -k \${GUNICORN_WORKER_CLASS:-eventlet} -w 1 -c gunicorn.conf.py -b 127.0.0.1:{port} wsgi:app"
# --history: the rooms are filled from the build's own directory, after its database is made
if ((history > 0)); then
  serve=".venv/bin/python $(printf %q "$ROOT/bench/seed_history.py") $history && $serve"
fi
for a in "${apps[@]}"; do
  q_app=$(printf %q "${a#*=}")
  PROJECTS+=("${a%%=*}=cmd:cd $q_app && export LOG_LEVEL=$(printf %q "$log_level")$db_env && $serve")
done
q_fresh_pg=$(printf %q "$ROOT/bench/fresh_pg.py")
for v in "${variants[@]}"; do
  read -r -a words <<< "$v"
  label=${words[0]%%:*} base="" v_env="" pg=""
  [[ ${words[0]} == *:* ]] && base=${words[0]#*:}
  [[ $label =~ ^[A-Za-z0-9_.-]+$ ]] || { echo "compare.sh: bad variant label $label" >&2; exit 2; }
  for kv in "${words[@]:1}"; do
    check_kv --variant "$kv"
    if [[ $kv == DATABASE_URL=postgres* ]]; then pg=${kv#DATABASE_URL=}; else v_env+=" $kv"; fi
  done
  app_dir=${apps[0]#*=}
  if [[ -n $base ]]; then
    app_dir=""
    for a in "${apps[@]}"; do [[ ${a%%=*} == "$base" ]] && app_dir=${a#*=}; done
    [[ -n $app_dir ]] || { echo "compare.sh: --variant $label:$base: no --rev labelled $base" >&2; exit 2; }
  fi
  q_app=$(printf %q "$app_dir")
  fresh=""
  [[ -n $pg ]] && fresh=" && export DATABASE_URL=\$(.venv/bin/python $q_fresh_pg $(printf %q "$pg"))"
  PROJECTS+=("$label=cmd:cd $q_app && export LOG_LEVEL=$(printf %q "$log_level")$db_env$v_env$fresh && $serve")
done
WC4000="baseline-wc4000=cmd:cd $q_servers && exec ../.venv-flask/bin/gunicorn -k eventlet -w 1 --worker-connections 4000 --graceful-timeout 3 -b 127.0.0.1:{port} flask_baseline:app"

stamp=$(date +%Y%m%d-%H%M%S)
rc=0
for sc in "${scenarios[@]}"; do
  n=$repeats; [[ $sc == sat-* ]] && n=$sat_repeats
  servers=(flask-eventlet-baseline "${PROJECTS[@]}")
  [[ $sc == s3 && $wc4000 == 1 ]] && servers+=("$WC4000")
  servers+=("${extras[@]}")
  args=(--scenario "$sc" --repeats "$n" --out-dir "$BENCH/results/runs/project-$stamp-$sc")
  [[ -n $loadgen ]] && args+=(--loadgen "$loadgen")
  [[ -n $lg ]] && args+=(--lg "$lg")
  [[ $quiet == 1 ]] && args+=(--quiet)
  args+=("${compare_opts[@]}")
  echo "compare.sh: $sc, $n repeats: ${#servers[@]} servers" >&2
  (cd "$BENCH" && python3 compare.py --start-timeout 60 "${args[@]}" "${servers[@]}") || { rc=$?; echo "compare.sh: $sc failed (rc=$rc)" >&2; }
  echo
done
exit $rc
