"""A live one-node Slurm (with accounting and two GPU gres) on 127.0.0.1, for tests and by hand.

    python tests/slurm_cluster.py start --dir /tmp/slurm   # prints `export SLURM_CONF=...`
    python tests/slurm_cluster.py stop --dir /tmp/slurm

Everything lives under --dir: a MariaDB data folder (TCP on 127.0.0.1 only), a munge key and socket,
slurm.conf / slurmdbd.conf / gres.conf, spool, state and logs. Daemons run as root in the foreground
(so the PID we hold is the daemon's) in their own session (so they outlive `start`). `stop` cancels the
jobs, kills the job steps slurmd reports (only those below our own slurmstepds), then each daemon by the
PID recorded in cluster.json; it never kills by name.

The node declares `Gres=gpu:2` with `File=` naming two ordinary files: slurmd drops a file-less GPU
gres, but counts and enforces file-backed ones (a 3-GPU request is refused, two 2-GPU jobs serialize).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

CLUSTER_NAME = "shapsweep"
ACCOUNT = "shapsweep"
PARTITIONS = ("cpu", "gpu")  # `cpu` is the default partition; both hold the one node
GPUS_PER_NODE = 2
REQUIRED_PROGRAMS = (
    "munged",
    "slurmctld",
    "slurmd",
    "slurmdbd",
    "mariadbd",
    "mariadb-install-db",
    "mariadb",
    "sbatch",
    "srun",
    "squeue",
    "sacct",
    "sacctmgr",
    "scontrol",
    "sinfo",
    "scancel",
)
# Order matters: each daemon needs the ones before it; stop goes in reverse.
DAEMONS = ("mariadb", "munged", "slurmdbd", "slurmctld", "slurmd")


class ClusterError(RuntimeError):
    """The cluster could not be started; the message names the daemon and its log file."""


def unavailable_reason() -> str | None:
    """Why a live Slurm cannot be started here, or None when it can."""
    if os.geteuid() != 0:
        return "a live Slurm needs root (slurmd launches jobs as their user); run the tests as root"
    missing = [p for p in REQUIRED_PROGRAMS if shutil.which(p) is None]
    if missing:
        return (
            "missing programs "
            + ", ".join(missing)
            + " (apt-get install slurm-wlm munge slurmdbd mariadb-server, as .ci/run does)"
        )
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _memory_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    raise ClusterError("cannot read MemTotal from /proc/meminfo")


@dataclass
class SlurmCluster:
    """One-node Slurm rooted at `root`. Use as a context manager or call start()/stop()."""

    root: Path
    pids: dict[str, int] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root = Path(self.root).resolve()

    # ---- paths and environment -------------------------------------------------------------
    @property
    def conf(self) -> Path:
        return self.root / "etc" / "slurm.conf"

    @property
    def state_file(self) -> Path:
        return self.root / "cluster.json"

    @property
    def node(self) -> str:
        return socket.gethostname()

    def log(self, daemon: str) -> Path:
        return self.root / "log" / f"{daemon}.log"

    @property
    def env(self) -> dict[str, str]:
        """Environment for Slurm client commands (sbatch, sacct, snakemake's slurm executor)."""
        path = f"{self.root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
        return {**os.environ, "SLURM_CONF": str(self.conf), "PATH": path}

    def run(self, *cmd: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
        """Run a Slurm client command against this cluster; text output."""
        return subprocess.run(cmd, env=self.env, capture_output=True, text=True, check=check, timeout=timeout)

    # ---- start ----------------------------------------------------------------------------
    def start(self) -> SlurmCluster:
        reason = unavailable_reason()
        if reason:
            raise ClusterError(reason)
        if self.state_file.exists():
            raise ClusterError(f"{self.state_file} exists: a cluster may be running there; stop it first")
        for sub in ("bin", "etc", "log", "run", "state", "spool", "munge", "mysql", "gpu"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)  # munged refuses sockets in folders others can write
        self.ports = {name: _free_port() for name in ("mysql", "slurmdbd", "slurmctld", "slurmd")}
        try:
            self._write_configs()
            self._start_mariadb()
            self._start_munged()
            self._start_slurmdbd()
            self._register_accounts()
            self._start_slurmctld()
            self._start_slurmd()
        except BaseException:
            self.stop()
            raise
        return self

    def _write_configs(self) -> None:
        r = self.root
        munge_socket = r / "munge" / "munge.socket"
        gpu_files = []
        for i in range(GPUS_PER_NODE):
            f = r / "gpu" / f"gpu{i}"
            f.touch()
            gpu_files.append(str(f))
        ncpus = os.cpu_count() or 1
        mem = int(_memory_mb() * 0.9)
        node = self.node
        lines = [
            f"ClusterName={CLUSTER_NAME}",
            f"SlurmctldHost={node}(127.0.0.1)",
            f"SlurmctldPort={self.ports['slurmctld']}",
            f"SlurmdPort={self.ports['slurmd']}",
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            f"AuthInfo=socket={munge_socket}",
            "CredType=cred/munge",
            f"StateSaveLocation={r / 'state'}",
            f"SlurmdSpoolDir={r / 'spool'}",
            f"SlurmctldPidFile={r / 'run' / 'slurmctld.pid'}",
            f"SlurmdPidFile={r / 'run' / 'slurmd.pid'}",
            f"SlurmctldLogFile={self.log('slurmctld')}",
            f"SlurmdLogFile={self.log('slurmd')}",
            "SlurmctldDebug=info",
            "SlurmdDebug=info",
            # No cgroups in a container: track job processes by /proc, bind nothing.
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "JobAcctGatherType=jobacct_gather/linux",
            "JobAcctGatherFrequency=30",
            "MpiDefault=none",
            "SwitchType=switch/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core_Memory",
            "GresTypes=gpu",
            "AccountingStorageType=accounting_storage/slurmdbd",
            "AccountingStorageHost=127.0.0.1",
            f"AccountingStoragePort={self.ports['slurmdbd']}",
            # For slurmdbd connections the munge socket comes from here, not from AuthInfo.
            f"AccountingStoragePass={munge_socket}",
            "AccountingStorageTRES=gres/gpu",
            "AccountingStoreFlags=job_comment",  # sacct shows the rule name the slurm executor puts there
            "JobCompType=jobcomp/none",
            # Fast turnaround for tests: schedule often, forget finished jobs after 5 min (sacct keeps them).
            "SchedulerType=sched/backfill",
            "SchedulerParameters=bf_interval=1,sched_min_interval=0",
            "MinJobAge=300",
            "DefMemPerCPU=500",  # else a job without --mem takes the whole node and serializes everything
            "ReturnToService=2",
            "SlurmctldTimeout=30",
            "SlurmdTimeout=30",
            "InactiveLimit=0",
            "KillWait=2",
            "MessageTimeout=10",
            f"NodeName={node} NodeHostname={node} NodeAddr=127.0.0.1 CPUs={ncpus} "
            f"RealMemory={mem} Gres=gpu:{GPUS_PER_NODE} State=UNKNOWN",
        ]
        for i, part in enumerate(PARTITIONS):
            lines.append(
                f"PartitionName={part} Nodes={node} Default={'YES' if i == 0 else 'NO'} MaxTime=INFINITE State=UP"
            )
        self.conf.write_text("\n".join(lines) + "\n")
        # gres.conf is read from the folder of the slurm.conf in use.
        (r / "etc" / "gres.conf").write_text(f"NodeName={node} Name=gpu File={','.join(gpu_files)}\n")
        # Inside a job, the slurm-jobstep executor strips every SLURM_* variable (SLURM_CONF too)
        # before its nested `srun`, which then looks for /etc/slurm/slurm.conf. A real site keeps
        # its config there; this cluster must not touch /etc, so jobs find `srun` here first
        # (PATH reaches them through sbatch --export=ALL) and it restores SLURM_CONF.
        srun = r / "bin" / "srun"
        srun.write_text(f'#!/bin/sh\nSLURM_CONF="${{SLURM_CONF:-{self.conf}}}" exec {shutil.which("srun")} "$@"\n')
        srun.chmod(0o755)
        dbd = r / "etc" / "slurmdbd.conf"
        dbd.write_text(
            "\n".join(
                [
                    "AuthType=auth/munge",
                    f"AuthInfo=socket={munge_socket}",
                    "DbdHost=localhost",
                    "DbdAddr=127.0.0.1",
                    f"DbdPort={self.ports['slurmdbd']}",
                    "SlurmUser=root",
                    f"LogFile={self.log('slurmdbd')}",
                    f"PidFile={r / 'run' / 'slurmdbd.pid'}",
                    "StorageType=accounting_storage/mysql",
                    "StorageHost=127.0.0.1",
                    f"StoragePort={self.ports['mysql']}",
                    "StorageUser=slurm",
                    "StoragePass=slurm",
                    "StorageLoc=slurm_acct_db",
                ]
            )
            + "\n"
        )
        dbd.chmod(0o600)  # slurmdbd refuses a world-readable config (it holds the DB password)
        key = r / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)

    def _spawn(self, name: str, cmd: list[str], env: dict[str, str] | None = None) -> None:
        out = open(self.log(name + ".stdout"), "ab")  # noqa: SIM115 (the daemon inherits the descriptor)
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env or self.env,
            start_new_session=True,
            cwd=self.root,
        )
        out.close()
        self.pids[name] = proc.pid
        self._save_state()

    def _wait(self, name: str, ready, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _alive(self.pids[name]):
                raise ClusterError(f"{name} exited during start; see {self._logs_of(name)}")
            if ready():
                return
            time.sleep(0.1)
        raise ClusterError(f"{name} not ready after {timeout:.0f} s; see {self._logs_of(name)}")

    def _logs_of(self, name: str) -> str:
        logs = [p for p in (self.log(name), self.log(name + ".stdout")) if p.exists()]
        tails = []
        for p in logs:
            text = p.read_text(errors="replace").strip().splitlines()[-15:]
            tails.append(f"{p}:\n  " + "\n  ".join(text))
        return "\n".join(tails) or "(no log)"

    def _ok(self, *cmd: str) -> bool:
        try:
            return self.run(*cmd, check=False, timeout=10).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def _start_mariadb(self) -> None:
        datadir = self.root / "mysql"
        sock = self.root / "run" / "mysql.sock"
        subprocess.run(
            [
                "mariadb-install-db",
                "--no-defaults",
                f"--datadir={datadir}",
                "--user=root",
                "--auth-root-authentication-method=socket",
                "--skip-test-db",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        self._spawn(
            "mariadb",
            [
                shutil.which("mariadbd"),
                "--no-defaults",
                f"--datadir={datadir}",
                "--user=root",
                f"--socket={sock}",
                f"--port={self.ports['mysql']}",
                "--bind-address=127.0.0.1",
                f"--pid-file={self.root / 'run' / 'mariadb.pid'}",
                f"--log-error={self.log('mariadb')}",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=64M",
            ],
        )
        sql = ["mariadb", "--no-defaults", f"--socket={sock}", "-uroot"]
        self._wait("mariadb", lambda: subprocess.run(sql + ["-e", "SELECT 1"], capture_output=True).returncode == 0)
        subprocess.run(
            sql
            + [
                "-e",
                (
                    "CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm';"
                    "GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"
                ),
            ],
            check=True,
            capture_output=True,
        )

    def _start_munged(self) -> None:
        m = self.root / "munge"
        self._spawn(
            "munged",
            [
                shutil.which("munged"),
                "--foreground",
                "--force",
                f"--socket={m / 'munge.socket'}",
                f"--key-file={m / 'munge.key'}",
                f"--pid-file={self.root / 'run' / 'munged.pid'}",
                f"--log-file={self.log('munged')}",
                f"--seed-file={m / 'munged.seed'}",
            ],
        )
        self._wait("munged", lambda: (m / "munge.socket").exists())

    def _start_slurmdbd(self) -> None:
        self._spawn("slurmdbd", [shutil.which("slurmdbd"), "-D"])
        self._wait("slurmdbd", lambda: self._ok("sacctmgr", "-n", "show", "cluster"), timeout=60)

    def _register_accounts(self) -> None:
        # The cluster, an account and root as its user (the slurm executor looks up the user's
        # account), in one `sacctmgr load`: each sacctmgr call costs about a second.
        spec = self.root / "etc" / "accounts.cfg"
        spec.write_text(
            f"Cluster - '{CLUSTER_NAME}'\n"
            "Parent - 'root'\n"
            f"Account - '{ACCOUNT}':Description='tests':Organization='tests'\n"
            f"Parent - '{ACCOUNT}'\n"
            f"User - 'root':DefaultAccount='{ACCOUNT}'\n"
        )
        r = self.run("sacctmgr", "-i", "load", str(spec), check=False)
        if r.returncode != 0:
            raise ClusterError(f"sacctmgr load {spec} failed: {r.stderr or r.stdout}")

    def _start_slurmctld(self) -> None:
        self._spawn("slurmctld", [shutil.which("slurmctld"), "-D", "-i", "-f", str(self.conf)])
        self._wait("slurmctld", lambda: self._ok("scontrol", "ping"))

    def _start_slurmd(self) -> None:
        self._spawn("slurmd", [shutil.which("slurmd"), "-D", "-f", str(self.conf)])

        def idle() -> bool:
            r = self.run("sinfo", "-h", "-N", "-o", "%t", check=False, timeout=10)
            return r.returncode == 0 and r.stdout.split() and all(s == "idle" for s in r.stdout.split())

        self._wait("slurmd", idle, timeout=60)

    def _save_state(self) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"pids": self.pids, "ports": self.ports, "conf": str(self.conf)}, indent=1))
        tmp.replace(self.state_file)

    # ---- stop -----------------------------------------------------------------------------
    @classmethod
    def attach(cls, root: Path) -> SlurmCluster:
        """The cluster a previous `start` left running under `root`."""
        c = cls(root)
        state = json.loads(c.state_file.read_text())
        c.pids, c.ports = state["pids"], state["ports"]
        return c

    def stop(self) -> None:
        """Cancel every job, kill leftover job steps, stop the daemons by PID; leaves nothing running."""
        if self.pids.get("slurmctld") and _alive(self.pids["slurmctld"]):
            self.run("scancel", "--full", "--user=root", check=False)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                q = self.run("squeue", "-h", "-o", "%i", check=False)
                if (q.returncode != 0 or not q.stdout.strip()) and not self._job_step_pids():
                    break
                time.sleep(0.2)
        for pid in self._job_step_pids() + self._stepd_pids():
            _kill(pid, grace=2)
        for name in reversed(DAEMONS):
            pid = self.pids.get(name)
            if pid:
                _kill(pid)
        self.pids = {}
        self.state_file.unlink(missing_ok=True)

    def _job_step_pids(self) -> list[int]:
        """PIDs of job tasks slurmd still tracks (`scontrol listpids`), kept only below our slurmstepds.

        proctrack/linuxproc lists the descendants of a step's container PID. Once in CI it named every
        process on the machine (PIDs 1, 2, 3, ...; likely a step whose container PID was not yet set).
        """
        if not (self.pids.get("slurmd") and _alive(self.pids["slurmd"])):
            return []
        r = self.run("scontrol", "listpids", check=False, timeout=10)
        stepds = set(self._stepd_pids())
        pids = []
        for line in r.stdout.splitlines()[1:]:
            first = line.split()[0] if line.split() else ""
            if first.isdigit() and int(first) != os.getpid() and _descends_from(int(first), stepds):
                pids.append(int(first))
        return pids

    def _stepd_pids(self) -> list[int]:
        """slurmstepd processes of this cluster: named slurmstepd, started by our slurmd (our SLURM_CONF).

        They detach from slurmd, so they are not its children; a job killed mid-step can leave one behind.
        """
        mine = f"SLURM_CONF={self.conf}".encode()
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if (entry / "comm").read_text().strip() != "slurmstepd":
                    continue
                if mine in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                continue
        return found

    def __enter__(self) -> SlurmCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie child of ours still answers kill(0); reap it so it counts as gone.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        state = Path(f"/proc/{pid}/stat")
        try:
            return state.read_text().split(")")[-1].split()[0] != "Z"
        except (FileNotFoundError, IndexError):
            return False


def _descends_from(pid: int, ancestors: set[int]) -> bool:
    """Whether one of `ancestors` is `pid` or on its parent chain (read from /proc)."""
    seen = set()
    while pid > 1 and pid not in seen:
        if pid in ancestors:
            return True
        seen.add(pid)
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            return False
    return False


def _kill(pid: int, grace: float = 10) -> None:
    """SIGTERM, wait up to `grace` seconds, then SIGKILL; only this PID."""
    if not _alive(pid):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not _alive(pid):
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    while _alive(pid):
        time.sleep(0.05)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("action", choices=("start", "stop"))
    ap.add_argument("--dir", required=True, type=Path, help="folder for the cluster's files")
    args = ap.parse_args(argv)
    if args.action == "start":
        try:
            c = SlurmCluster(args.dir).start()
        except ClusterError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
        print(f"export SLURM_CONF={c.conf}")
        print(f"export PATH={c.root / 'bin'}:$PATH  # srun that keeps SLURM_CONF inside jobs")
        return 0
    if not (Path(args.dir) / "cluster.json").exists():
        print(f"error: no cluster.json under {args.dir}: nothing to stop", file=sys.stderr)
        return 1
    SlurmCluster.attach(args.dir).stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
