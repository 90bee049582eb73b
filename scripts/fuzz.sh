#!/usr/bin/env bash
# Builds the libFuzzer binary and runs every fuzz target for SECONDS each (default 60),
# seeded with the fixtures. Crashes land in fuzz-artifacts/ and fail the run.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
swift build -c release --product postmortem-fuzz --scratch-path .build-fuzz \
    --sanitize=fuzzer --sanitize=address \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xswiftc -parse-as-library
binary=.build-fuzz/release/postmortem-fuzz
fixtures=../shared/fixtures
mkdir -p fuzz-artifacts
seed() { # target, then file patterns under the fixtures
    local target=$1; shift
    local dir=.build-fuzz/corpus/$target
    mkdir -p "$dir"
    for pattern in "$@"; do
        find "$fixtures" -type f -iname "$pattern" -size -2M -exec cp -n {} "$dir/" \; 2>/dev/null || true
    done
    echo "$dir"
}
run() {
    local target=$1 corpus=$2
    echo "--- fuzz $target for ${seconds}s (corpus: $(ls "$corpus" | wc -l) files)"
    POSTMORTEM_FUZZ_TARGET=$target "$binary" "$corpus" -max_total_time="$seconds" -rss_limit_mb=2048 \
        -timeout=10 -artifact_prefix=fuzz-artifacts/"$target"- -print_final_stats=1 2>&1 | tail -n 12
}
run minidump "$(seed minidump '*.dmp')"
run pe "$(seed pe '*.exe' '*.dll' '*.sys')"
run kerneldump "$(seed kerneldump '*.dmp' '*.dump')"
run pdb "$(seed pdb '*.pdb')"
run sym "$(seed sym '*.sym')"
run cab "$(seed cab '*.pd_' '*.ex_' '*.dl_' '*.cab' '*.zip')"
symbol_paths=.build-fuzz/corpus/symbol-path
mkdir -p "$symbol_paths"
printf '%s' 'srv*C:\symbols*https://msdl.microsoft.com/download/symbols' > "$symbol_paths/srv"
printf '%s' 'cache*C:\cache;D:\local;symsrv*symsrv.dll*\server\share*https://host/sym' > "$symbol_paths/mixed"
printf '%s' 'srv**https://host/symbols;;srv*a*b*c*https://x' > "$symbol_paths/cascade"
run symbol-path "$symbol_paths"
run analyze "$(seed analyze '*.dmp')"
run microdump "$(seed microdump 'microdump*.dmp')"
