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
# - Snakemake deletes a failed job's outputs. Each finished shard is also a hidden hard link beside it
#   (explain.py), so a block killed after 4 of its 10 shards keeps them: the re-run links them back and
#   explains only the other 6.
# - Sets with different block sizes in one invocation: one block rule per size, each matching only the
#   folders of the sets using it; the rule is `explain_block` when one size is in use, else
#   `explain_block_10` and `explain_block_100`.
for _size in BLOCK_SIZES:
    _name = "explain_block" if len(BLOCK_SIZES) == 1 else f"explain_block_{_size}"
    # A full block goes to the block rule: what `ruleorder: explain_block > explain` says, for a name
    # only known here.
    workflow.ruleorder(_name, "explain")

    rule:
        name:
            _name
        input:
            rows=block_rows,
            store_first=store_first,
            explainer=run_explainer,
            trace=run_trace,
        output:
            shards=[pattern(layout.shard_file, "{run}", "{block}" + suffix) for suffix in block_suffixes(_size)],
            record=pattern(layout.block_record, "{run}", "{block}"),
        log:
            pattern(layout.log_file, "explain_block", "{run}", "{block}"),
        wildcard_constraints:
            set=sets_with_block_size(_size),
            block=block_id_pattern(_size),
            run=unblocked_run_pattern(),
        conda:
            "../envs/shapsweep.yaml"
        threads: run_threads
        resources:
            **{**explain_resources, "runtime": block_runtime},
        params:
            config=pattern(layout.config_json),
            shards=block_shard_args,
            explainer=explainer_arg,
        shell:
            "shapsweep explain {params.config:q} --run {wildcards.run} --rows {input.rows:q} {params.explainer}"
            " {params.shards} --block-record {output.record:q} --threads {threads} > {log:q} 2>&1"
