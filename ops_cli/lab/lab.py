"""`up`, `down` and `status` of the lab, independent of the command line (the tests call these)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

from . import hosts, inventory, network, proxy, rootfs, state
from .proc import LabError, ProcRecord, is_alive, stop, wait_exit
from .settings import HostSpec, LabSettings

REQUIRED_COMMANDS = ("debootstrap", "systemd-nspawn", "tinyproxy", "socat", "ip", "ssh",
                     "ssh-keygen", "chroot", "cp", "umount")  # fmt: skip

# A step reporter: `with step("说明"):` around each stage of `up`/`down` (rich in the CLI).
StepFn = Callable[[str], AbstractContextManager[None]]


@contextlib.contextmanager
def _quiet_step(_description: str) -> Iterator[None]:
    yield


def machine_problems() -> list[str]:
    """Why this machine cannot host the lab (empty when it can)."""
    problems = []
    if os.geteuid() != 0:
        problems.append("需要 root 权限（创建网络命名空间、运行 systemd-nspawn）")
    missing = [c for c in REQUIRED_COMMANDS if shutil.which(c) is None]
    if missing:
        problems.append(f"缺少命令 {', '.join(missing)}：请运行 scripts/install-lab-deps.sh")
    if not Path("/proc/self/ns/net").exists():
        problems.append("内核不支持网络命名空间")
    return problems


def preflight() -> None:
    problems = machine_problems()
    if problems:
        raise LabError("本机无法运行 lab：\n- " + "\n- ".join(problems))


@dataclass
class UpReport:
    image: Path
    image_built: bool
    copied: list[str] = field(default_factory=list)
    started: list[str] = field(default_factory=list)
    inventory: Path | None = None
    seconds: float = 0.0


def _keep_alive(st: state.LabState, name: str, start: Callable[[], ProcRecord]) -> bool:
    """Start the named process unless its recorded one still runs; True if started now."""
    rec = st.processes.get(name)
    if rec is not None and is_alive(rec):
        return False
    st.processes[name] = start()
    return True


def _check_subnet_against_state(settings: LabSettings, st: state.LabState) -> None:
    if st.subnet and st.subnet != str(settings.subnet) and not st.is_empty():
        raise LabError(
            f"lab 正以子网 {st.subnet} 运行，而当前设置为 {settings.subnet}：请先 oa-ops lab down"
        )


def _prepare_disks(
    settings: LabSettings, st: state.LabState, image: Path, report: UpReport
) -> None:
    public_key = hosts.ensure_ssh_key(settings)
    for host in settings.hosts:
        rec = st.processes.get(f"host-{host.name}")
        if rec is not None and is_alive(rec):
            continue  # never touch a running host's disk
        if rootfs.ensure_host_disk(settings, host, image):
            report.copied.append(host.name)
        rootfs.personalise(settings, host, public_key)


def _start_network_and_proxy(settings: LabSettings, st: state.LabState, report: UpReport) -> None:
    if not st.netns and not network.run_netns_is_mounted():
        st.made_run_netns_mount = True
    st.subnet = str(settings.subnet)
    st.netns = network.setup(settings)
    state.save(settings.state_file, st)
    starters = (
        ("tinyproxy", lambda: proxy.start_tinyproxy(settings)),
        ("relay-root", lambda: proxy.start_socket_relay(settings)),
        ("relay-lab", lambda: proxy.start_lab_relay(settings)),
    )
    for name, start in starters:
        if _keep_alive(st, name, start):
            report.started.append(name)
        state.save(settings.state_file, st)


def _end_orphaned_init(st: state.LabState, host: HostSpec) -> None:
    """A container whose systemd-nspawn died without shutting it down: end it by its init."""
    init = st.processes.pop(f"init-{host.name}", None)
    if init is not None and is_alive(init):
        stop(init, sig=signal.SIGKILL, grace=10)


def _boot_hosts(settings: LabSettings, st: state.LabState, report: UpReport) -> None:
    for host in settings.hosts:
        name = f"host-{host.name}"
        rec = st.processes.get(name)
        if rec is not None and is_alive(rec):
            continue
        _end_orphaned_init(st, host)
        st.processes[name], st.processes[f"init-{host.name}"] = hosts.start_host(settings, host)
        report.started.append(name)
        state.save(settings.state_file, st)


def _wait_hosts(settings: LabSettings, st: state.LabState) -> None:
    for host in settings.hosts:
        deadline = time.monotonic() + 90
        rec = st.processes[f"host-{host.name}"]
        while time.monotonic() < deadline and is_alive(rec):
            try:
                hosts.wait_ssh(settings, host, timeout=5)
                break
            except LabError:
                continue
        else:
            raise LabError(
                f"主机 {host.name} 未能启动或 90 秒内无 SSH 响应，"
                f"日志：{settings.logs_dir / f'host-{host.name}.log'}"
            )


def up(settings: LabSettings, step: StepFn = _quiet_step) -> UpReport:
    """Bring the lab up, or complete it where parts are missing. Idempotent."""
    began = time.monotonic()
    preflight()
    with state.locked(settings.state_dir):
        st = state.load(settings.state_file)
        with step("检查 lab 子网与本机路由"):
            network.check_subnet(settings.subnet)
            _check_subnet_against_state(settings, st)
        cached = rootfs.image_path(settings).is_dir()
        label = "使用缓存的根文件系统" if cached else "构建根文件系统（debootstrap，约 1 分钟）"
        with step(label):
            image, built = rootfs.ensure_image(settings)
        report = UpReport(image=image, image_built=built)
        with step("复制并配置主机磁盘（db、app、backup）"):
            _prepare_disks(settings, st, image, report)
        with step("创建网络命名空间、网桥与软件包代理"):
            _start_network_and_proxy(settings, st, report)
        with step("启动主机（systemd-nspawn）"):
            _boot_hosts(settings, st, report)
        with step("等待各主机 SSH 响应"):
            _wait_hosts(settings, st)
        with step("生成 Ansible inventory"):
            report.inventory = inventory.write(settings)
    report.seconds = time.monotonic() - began
    return report


# --- down --------------------------------------------------------------------------------------


def _stop_hosts(st: state.LabState) -> None:
    """Ask every host to shut down at once (nspawn turns SIGTERM into a clean poweroff)."""
    recs = [r for n, r in st.processes.items() if n.startswith("host-") and is_alive(r)]
    for rec in recs:
        with contextlib.suppress(ProcessLookupError):
            os.kill(rec.pid, signal.SIGTERM)
    for rec in recs:
        if not wait_exit(rec, 30):
            stop(rec, sig=signal.SIGKILL, grace=10)
    for name in [n for n in st.processes if n.startswith("init-")]:
        init = st.processes[name]
        if is_alive(init):  # its nspawn was killed: the container must not outlive it
            stop(init, sig=signal.SIGKILL, grace=10)


def down(settings: LabSettings, *, purge: bool = False, step: StepFn = _quiet_step) -> list[str]:
    """Stop what `up` started (by recorded PID), remove namespaces and mounts; return what was
    stopped. With `purge`, also delete the host disks (the cached image stays)."""
    if os.geteuid() != 0:
        raise LabError("oa-ops lab down 需要 root 权限")
    stopped: list[str] = []
    with state.locked(settings.state_dir):
        st = state.load(settings.state_file)
        with step("关闭主机"):
            stopped += [n for n, r in st.processes.items() if n.startswith("host-") and is_alive(r)]
            _stop_hosts(st)
        with step("停止软件包代理与中继"):
            for name in ("relay-lab", "relay-root", "tinyproxy"):
                rec = st.processes.get(name)
                if rec is not None and is_alive(rec):
                    stop(rec)
                    stopped.append(name)
            settings.proxy_socket.unlink(missing_ok=True)
            (settings.run_dir / "tinyproxy.conf").unlink(missing_ok=True)
        with step("删除网络命名空间、veth、网桥与挂载"):
            names = list(dict.fromkeys([*st.netns, *network.namespaces(settings)]))
            network.teardown(names, unmount_run_netns=st.made_run_netns_mount)
        if purge:
            with step("删除主机磁盘"):
                rootfs.remove_host_disks(settings)
        settings.state_file.unlink(missing_ok=True)
    return stopped


# --- status ------------------------------------------------------------------------------------


@dataclass
class HostStatus:
    host: HostSpec
    address: str
    running: bool
    pid: int | None
    health: hosts.HostHealth | None


@dataclass
class LabStatus:
    subnet: str
    network_up: bool
    processes: dict[str, bool]
    hosts: list[HostStatus]

    @property
    def running(self) -> bool:
        """Network, proxy and every container are there (SSH not asked)."""
        return (
            self.network_up and all(self.processes.values()) and all(h.running for h in self.hosts)
        )

    @property
    def all_up(self) -> bool:
        """Running, and every host answered over SSH."""
        return self.running and all(
            h.health is not None and h.health.system != "无法连接" for h in self.hosts
        )


def status(settings: LabSettings, *, probe: bool = True) -> LabStatus:
    st = state.load(settings.state_file)
    procs = {n: is_alive(st.processes[n]) if n in st.processes else False
             for n in ("tinyproxy", "relay-root", "relay-lab")}  # fmt: skip
    rows = []
    for host in settings.hosts:
        rec = st.processes.get(f"host-{host.name}")
        running = rec is not None and is_alive(rec)
        health = hosts.probe(settings, host) if running and probe else None
        rows.append(HostStatus(host, str(settings.address(host)), running,
                               rec.pid if running and rec else None, health))  # fmt: skip
    network_up = all(network.netns_exists(n) for n in network.namespaces(settings))
    return LabStatus(st.subnet or str(settings.subnet), network_up, procs, rows)
