# An empirical run's explainer: a text encoder fine-tuned on its target run's attributions (the training
# rows of every target shard), written as one folder (save_pretrained + training log + metrics) that
# appears only when training is done. The explainer id hashes the target run id and the training options:
# a change of either trains anew, and nothing else does. A GPU job like explain (the empirical run's resources).


rule train_explainer:
    input:
        unpack(explainer_inputs),
    output:
        directory(pattern(layout.explainer_dir, "{explainer}")),
    log:
        pattern(layout.log_file, "train_explainer", "{explainer}"),
    conda:
        "../envs/shapsweep.yaml"
    threads: explainer_threads
    resources:
        **explainer_resources,
    params:
        options=explainer_options,
        target=explainer_target,
        device=explainer_device,
        # The declared shards by folder and count: thousands of names do not fit one shell argument.
        shards_dir=explainer_shards_dir,
        shard_count=lambda wildcards: str(len(shard_ids(wildcards.set, explainer_target(wildcards)))),
    shell:
        "shapsweep train-explainer --rows {input.rows:q} --shards-dir {params.shards_dir:q}"
        " --shard-count {params.shard_count} --options {params.options:q}"
        " --target-run {params.target} --device {params.device} --out {output:q} --threads {threads} > {log:q} 2>&1"
