# The pipeline's DAG shape with nothing of shapsweep in it: what Snakemake alone costs per job.
#   snakemake -s benchmarks/dag_scale_baseline.smk -n --config runs=100 shards=100
# Same per-job features as rules/explain.smk: an input function, a params function, a log, callable
# threads/resources; one aggregate per run, one set-wide compare.
RUNS = [f"run{i:04d}" for i in range(int(config.get("runs", 10)))]
SHARDS = [f"{i:05d}" for i in range(int(config.get("shards", 100)))]
BOUNDS = {s: f"{i} {i + 1}" for i, s in enumerate(SHARDS)}


wildcard_constraints:
    run=r"[^/]+",
    shard=r"\d+",


rule all:
    input:
        [f"results/runs/{r}/shards/{s}.parquet" for r in RUNS for s in SHARDS],
        [f"results/runs/{r}/summary.json" for r in RUNS],
        "results/runs.parquet",


rule rows:
    output:
        "results/data/rows.parquet",
    shell:
        "touch {output}"


rule explain:
    input:
        rows=lambda wildcards: "results/data/rows.parquet",
    output:
        "results/runs/{run}/shards/{shard}.parquet",
    params:
        bounds=lambda wildcards: BOUNDS[wildcards.shard],
    log:
        "results/logs/explain/{run}/{shard}.log",
    threads: lambda wildcards: 1
    resources:
        mem_mb=lambda wildcards: 1000,
        runtime=lambda wildcards: 10,
        gpu=lambda wildcards: 0,
    shell:
        "touch {output}"


rule aggregate:
    input:
        lambda wildcards: [f"results/runs/{wildcards.run}/shards/{s}.parquet" for s in SHARDS],
    output:
        "results/runs/{run}/summary.json",
    shell:
        "touch {output}"


rule compare:
    input:
        [f"results/runs/{r}/summary.json" for r in RUNS],
    output:
        "results/runs.parquet",
    shell:
        "touch {output}"
