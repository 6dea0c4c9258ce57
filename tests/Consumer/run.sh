#!/usr/bin/env bash
# The consumer check: UViT.MLNet as a user gets it. Needs the packages packed into artifacts/feed
# (`dotnet pack UViT.MLNet.sln -c Release`). In a fresh temporary folder, outside the repository:
#   1. `dotnet new console` + `dotnet add package UViT.MLNet` without a backend: the first call must fail with the one
#      clear error that names the backend packages;
#   2. + the backend package (README's Install section): train, save, load in a new MLContext, generate, check (Program.cs);
#   3. `dotnet tool install UViT.MLNet.Tool --tool-path`: `uvit presets` and a 20-step `uvit train` (its digit check reads the
#      digit judge the package ships in data/mnist);
#   4. the quick-start notebook with its library cell swapped for `#r "nuget: ..."` lines (TorchSharp from the NuGet cache).
# Each check prints "check: NAME: passed|failed"; the last line is "N passed, N failed". Exit code 0 when all pass.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
feed="$repo/artifacts/feed"
version="$(sed -n 's:.*<VersionPrefix>\(.*\)</VersionPrefix>.*:\1:p' "$repo/Directory.Build.props")"
rid=linux-x64
case "$(uname -s)" in Darwin) rid=osx-arm64 ;; MINGW*|MSYS*|CYGWIN*) rid=win-x64 ;; esac
work="$(mktemp -d "${TMPDIR:-/tmp}/uvit-consumer.XXXXXX")"
passed=0; failed=0
check() { # NAME STATUS
  if [ "$2" -eq 0 ]; then echo "check: $1: passed"; passed=$((passed + 1)); else echo "check: $1: failed"; failed=$((failed + 1)); fi
}
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit $?; }

if ! ls "$feed"/UViT.MLNet.$version.nupkg >/dev/null 2>&1; then
  echo "error: $feed has no UViT.MLNet.$version.nupkg; run: dotnet pack UViT.MLNet.sln -c Release" >&2
  check packages-packed 1; finish
fi
# Packages of this version may sit in the NuGet cache from an earlier pack: drop them so the fresh ones are used.
packages="$(dotnet nuget locals global-packages --list | sed 's/^global-packages: //')"
rm -rf "$packages"/uvit.mlnet "$packages"/uvit.mlnet.core "$packages"/uvit.mlnet.transforms "$packages"/uvit.mlnet.tool*
echo "consumer check in $work (UViT.MLNet $version from $feed, backend libtorch-cpu-$rid)"

# The local feed next to the user's configured ones (no <clear/>: everything else comes from the normal feed).
cat > "$work/nuget.config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <add key="uvit-local" value="$feed" />
  </packageSources>
</configuration>
XML

cd "$work"
dotnet new console -n Consumer -o consumer --framework net10.0 >/dev/null || { check new-console 1; finish; }
cp "$here/Program.cs" consumer/Program.cs
cd consumer
# README's Install section, first line.
dotnet add package UViT.MLNet --version "$version" >add.log 2>&1 || { cat add.log; check add-package 1; finish; }

# 1. No backend: one clear error naming the packages to add.
dotnet build -c Release >build.log 2>&1 || { cat build.log; check build-without-backend 1; finish; }
dotnet run -c Release --no-build -- "$work/out-nobackend" >nobackend.log 2>&1
status=$?
grep -q "libtorch-cpu-$rid" nobackend.log && grep -q "TorchSharp-cpu" nobackend.log && ! grep -q "DllNotFoundException" nobackend.log
ok=$?
[ $status -ne 0 ] && [ $ok -eq 0 ]; r=$?
[ $r -ne 0 ] && cat nobackend.log
check "missing backend gives one clear error" $r
grep -m1 -o "No libtorch backend.*this machine: [^.]*" nobackend.log

# 2. With the backend: train, save, load, generate, check.
dotnet add package "libtorch-cpu-$rid" --version 2.10.0 >>add.log 2>&1 || { cat add.log; check add-backend 1; finish; }
if dotnet build -c Release >build.log 2>&1; then
  grep -i "warn" build.log | grep -v " 0 Warning" | head -5
  ! grep -qE "NU1605|NU1608|NU1109" build.log   # no downgrade or out-of-range warnings against ML.NET 5.0.x
  check "restore without downgrade warnings" $?
  dotnet run -c Release --no-build -- "$work/out" 2>&1 | tee run.log | tail -5
  grep -q "^consumer: ok" run.log
  check "train, save, load and generate from the packages" $?
else
  cat build.log; check "build with the backend" 1
fi

# 3. The tool.
cd "$work"
dotnet tool install UViT.MLNet.Tool --version "$version" --tool-path "$work/tools" --add-source "$feed" >tool.log 2>&1
r=$?; [ $r -ne 0 ] && cat tool.log
check "dotnet tool install UViT.MLNet.Tool" $r
if [ $r -eq 0 ]; then
  "$work/tools/uvit" presets >presets.log 2>&1 && grep -q "cifar10_uvit_small" presets.log
  r=$?; [ $r -ne 0 ] && cat presets.log
  check "uvit presets" $r
  "$work/tools/uvit" train --steps 20 --per-class 2 --sample-steps 5 -o "$work/tool-run" >train.log 2>&1 && [ -s "$work/tool-run/model.zip" ] && [ -s "$work/tool-run/samples.png" ] \
    && grep -q "^real-vs-real:" train.log
  r=$?; tail -4 train.log; [ $r -ne 0 ] && cat train.log
  check "uvit train (20 steps)" $r
fi

# 4. A notebook that loads the packages as a user outside the repository does (the first code cell swapped; run from the
#    notebooks folder so its relative data paths hold). The repository's local tool dotnet-repl runs it.
notebooks="$repo/src/Samples/notebooks"
FEED="$feed" VERSION="$version" RID="$rid" perl -pe 's{^(\s*)"#r \\"\.\./Support/bin/Release/net10\.0/UViT\.MLNet\.Estimators\.dll\\""}{$1"#i \\"nuget: $ENV{FEED}\\"\\n", "#r \\"nuget: UViT.MLNet, $ENV{VERSION}\\"\\n", "#r \\"nuget: libtorch-cpu-$ENV{RID}, 2.10.0\\""}' \
  "$notebooks/01-quick-start.ipynb" > "$work/01-from-packages.ipynb"
if grep -qF "nuget: $feed" "$work/01-from-packages.ipynb"; then
  (cd "$notebooks" && UVIT_SAMPLES_OUTPUT="$work/notebook" dotnet tool run dotnet-repl -- --run "$work/01-from-packages.ipynb" \
     --exit-after-run --output-path "$work/01-executed.ipynb" >"$work/notebook.log" 2>&1)
  r=$?
  [ $r -eq 0 ] && [ -s "$work/notebook/01-quick-start/samples.png" ] && [ -s "$work/notebook/01-quick-start/model.zip" ]
  r=$?; [ $r -ne 0 ] && { cat "$work/notebook.log"; grep -o '"ename"[^}]*' "$work/01-executed.ipynb" | head -5; }
else
  echo "the quick-start notebook's library cell was not found"; r=1
fi
check "quick-start notebook from the packages" $r

[ "$failed" -eq 0 ] && rm -rf "$work"
finish
