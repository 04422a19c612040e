"""Whether a grading kernel still works on its cell: the CPU time of its whole process tree.

A cell that waits for something that never comes (``time.sleep``, a deadlock, a kernel whose own messaging the
student's code broke, e.g. by replacing ``builtins.isinstance``) looks from outside exactly like one that computes:
no reply yet.  What tells them apart is the CPU: the kernel, the sandbox's wrapper and every process the cell started
(DataLoader workers, subprocesses) together use almost none while they only wait.  :class:`IdleWatch` measures
that, so that :class:`course.preprocessors.safe_execute.SafeExecute` can end such a cell long before its timeout.

The same sum bounds what a cell may compute (:meth:`ProcessTreeWatch.cpu_seconds`): CPU time, unlike the cell's
wall-clock timeout, does not run out faster on a loaded machine, so a tight CPU budget ends an endless loop early
without failing right answers when many submissions are graded at once.
"""

from __future__ import annotations

from time import monotonic

import psutil

#: A tree that uses less than this share of one core is waiting, not working.  A runnable process gets far more
#: even on an overloaded machine (load 50 on 2 cores still leaves it 4 %); the sandbox's wrapper, which polls its
#: sockets, and an idle ipykernel use about 0.1 %.
IDLE_SHARE = 0.02


def tree_cpu_seconds(pid: int) -> float | None:
    """CPU seconds used by process ``pid`` and all its descendants, reaped children included (None: gone, or not
    readable; then nothing is judged)."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return None
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.AccessDenied:  # a process of the tree that cannot be measured: the whole tree cannot
            return None
        except psutil.Error:  # ended meanwhile: its time moves to its parent's children_* once it is reaped
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


class ProcessTreeWatch:
    """The CPU the process tree of ``pid`` used since the watch began, and how long it has been waiting (using less
    than :data:`IDLE_SHARE` of a core)."""

    def __init__(self, pid: int, share: float = IDLE_SHARE):
        self.pid, self.share = pid, share
        self.restart()
        self._start_cpu, self._last_cpu = self._cpu, self._cpu

    def cpu_seconds(self) -> float:
        """CPU seconds the tree used since the watch began (as of the last :meth:`idle_seconds`)."""
        if self._start_cpu is None or self._last_cpu is None:
            return 0.0
        return max(0.0, self._last_cpu - self._start_cpu)

    def restart(self) -> None:
        """Start a new waiting period now."""
        self._since, self._cpu = monotonic(), tree_cpu_seconds(self.pid)

    def idle_seconds(self) -> float:
        """Seconds the tree has been waiting: 0 right after it used CPU, or when it cannot be measured."""
        now, cpu = monotonic(), tree_cpu_seconds(self.pid)
        if cpu is not None:
            self._last_cpu = cpu
        if cpu is None or self._cpu is None or not 0 <= cpu - self._cpu <= self.share * (now - self._since) + 0.05:
            self._since, self._cpu = now, cpu  # it worked (or the tree changed): a new period starts
            return 0.0
        return now - self._since
