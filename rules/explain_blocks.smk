# Several shards of a run in one job: `shapsweep explain` loads the model once and writes each shard
# file atomically as it finishes. Off unless the config's `shards_per_job` is 10 or 100 (docs/slurm.md).
#
# Why it looks like this (Snakemake constraints):
# - All outputs of a rule share its wildcards, and shard files must keep names that do not depend on
#   the block size (switching it never re-runs finished shards). So a block is a shard-id prefix:
#   with 10 shards per job, block "0001" outputs shards 00010 ... 00019. Hence powers of ten only.
# - A trailing partial block (a run with 25 shards: 00020-00024) cannot declare 00025-00029. For those
#   shards the block rule asks for an input nothing can make, so Snakemake falls back to the one-shard
#   `explain` rule for them (at most 9 or 99 single jobs per run).
# - Snakemake deletes a job's outputs before running it: resume granularity is the block. A block
#   killed after 4 of its 10 shards is redone whole; keep blocks to a few minutes of work.
if SHARDS_PER_JOB > 1:

    ruleorder: explain_block > explain

    rule explain_block:
        input:
            rows=block_rows,
            store_first=store_first,
        output:
            [pattern(layout.shard_file, "{run}", "{block}" + suffix) for suffix in BLOCK_SUFFIXES],
        log:
            pattern(layout.log_file, "explain_block", "{run}", "{block}"),
        wildcard_constraints:
            block=BLOCK_ID_PATTERN,
        conda:
            "../envs/shapsweep.yaml"
        threads: run_threads
        resources:
            **{**explain_resources, "runtime": block_runtime},
        params:
            config=CONFIG_JSON,
            shards=block_shard_args,
        shell:
            "shapsweep explain {params.config:q} --run {wildcards.run} --rows {input.rows:q}"
            " {params.shards} --threads {threads} > {log:q} 2>&1"
