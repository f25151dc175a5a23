"""Rule trace through real Snakemake, killed mid-run (SIGKILL once step 2's folder is whole) and run again:
it resumes after the last complete step and ends at the same θ_T, bit for bit, as an uninterrupted run."""

from __future__ import annotations

import json
import os
import shutil

import torch
from workflow_runs import REPO, copy_workflow, run_snakemake

from shapsweep.config.experiment_set import from_config
from shapsweep.training.trace import read_final, read_step, recorded_steps
from shapsweep.training.train import KILL_AFTER_STEP

SET = """
local example = import 'config/examples/training_attribution.jsonnet';
example {
  model+: { path_or_id: '%(model)s' },
  value+: { target_class: 'positive' },
  selection+: { max_samples: 2 },
  training+: { model+: { path_or_id: '%(model)s' }, selection+: { max_samples: 16 }, steps: 6, lr: 1e-3 },
  experiments: [{ name: 'path_kernel', shap: { method: 'path_kernel', options: { midpoints: 2 } } }],
}
"""


def _trace(workdir, **env):
    return run_snakemake(workdir, "--until", "trace", check=not env, env={**os.environ, **env})


def test_a_killed_trace_job_resumes_after_its_last_complete_step_to_the_same_final_weights(
    tmp_path, tiny_bert_classifier_path
):
    workdir = copy_workflow(tmp_path)
    shutil.copytree(REPO / "config", workdir / "config")
    (workdir / "set.jsonnet").write_text(SET % {"model": tiny_bert_classifier_path})
    killed = _trace(workdir, **{KILL_AFTER_STEP: "2"})
    assert killed.returncode != 0
    exp = from_config(json.loads((workdir / "results" / "training" / "config.json").read_text()))
    root = workdir / exp.training["root"]
    assert recorded_steps(root) == [0, 1, 2] and not (root / "final").exists() and not (root / "done.json").exists()
    step_2 = (root / "steps" / "000002" / "params.safetensors").read_bytes()

    _trace(workdir)
    log = (workdir / "results/training/logs/trace" / f"{exp.training['trace_id']}.log").read_text()
    assert "resuming after 3 steps" in log
    assert json.loads((root / "done.json").read_text())["steps"] == list(range(6))
    assert (root / "steps" / "000002" / "params.safetensors").read_bytes() == step_2  # kept, not rewritten
    resumed = read_final(root)

    shutil.rmtree(root)
    _trace(workdir)
    uninterrupted = read_final(root)
    assert resumed.keys() == uninterrupted.keys()
    assert all(torch.equal(resumed[n], uninterrupted[n]) for n in resumed)
    start = read_step(root, 0).params
    assert any(not torch.equal(start[n], uninterrupted[n]) for n in start)  # θ_T is not θ_0: it trained
