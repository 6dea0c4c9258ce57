# The `uvit` tool as a container image, for the sampling shards and FID merges of docs/how-to/scale-out.md (Kubernetes
# Indexed Jobs, Slurm with a container runtime) and for `uvit export` / `uvit import` next to the official training code.
#
#   docker build -t uvit:latest .
#   docker run --rm -v "$PWD:/work" uvit:latest sample model.zip --count 4 --out-dir samples
#
# Stage 1 publishes the tool self-contained for linux-x64 with its CPU libtorch (the publish also applies the Debian 12
# libstdc++ fix to libLibTorchSharp.so: docs/design-decisions.md). Stage 2 is Debian 12 with what the published tool
# loads from the system besides libc and libstdc++: ICU (.NET globalization) and libgomp1 (OpenMP; the CPU libtorch
# package also ships its own copy, which ldd shows libtorch_cpu.so using, so this one is a 0.3 MB safety net). The
# published folder is 579 MB, most of it libtorch; .dockerignore keeps bin/, obj/ and artifacts/ out of the build context.
# The CUDA backend would need a CUDA base image and -p:TorchBackend=cuda-linux (docs/how-to/gpu.md); not covered here.

# .NET 10 SDK images come on Ubuntu 24.04 (there are no Debian ones for .NET 10); the output runs on Debian 12.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
RUN dotnet publish src/Samples/Cli -c Release -r linux-x64 --self-contained -o /app

FROM debian:12-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 libicu72 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /app /opt/uvit
RUN ln -s /opt/uvit/uvit /usr/local/bin/uvit
WORKDIR /work
ENTRYPOINT ["uvit"]
CMD ["--help"]
