"""One run on a Ray cluster: actors play the episodes, this process alone records them.

With `executor: ray` the driver joins the cluster at `ray_address` (none: it starts a local Ray
for the run) with a runtime environment that carries the pack's folder, the Python tools it
names and the run's config (`run-config.json`) to every node: Ray uploads it, nothing is copied
by hand. It starts `processes` actors (`EpisodeWorker`, spread over the nodes), each an asyncio
loop holding its share of `concurrency` episodes at once. Each actor loads its copy of the pack
and refuses to start when its hash is not the driver's (`PackMismatch`). Joining and creating
the actors begin as the run's `Simulation` is made (`RayStart`, in a thread of the driver), when
the fork server of `processes: N` is started too: Ray's start-up (a local Ray's own processes,
each actor a fresh Python importing our package and litellm) overlaps the driver's loading. A
join that failed is raised when play begins; a `Simulation` closed unplayed ends its actors.

The driver keeps the queue: it hands each actor one (task, trial) per free slot and records the
episode the actor sends back (its JSON line). An actor that dies (its process killed, its node
lost) fails its calls in flight; those episodes go back on the queue and a new actor takes its
place, so each is played again elsewhere and recorded once. A run that keeps losing actors stops
with `WorkerProcessFailed` after `processes` replacements; its finished episodes are kept.
Cancellation (Ctrl-C) kills the actors.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import socket
import tempfile
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import JsonValue

from policy_agent.errors import PolicyAgentError
from policy_agent.simulation._processes import WorkerProcessFailed

if TYPE_CHECKING:
    from policy_agent.domain import DomainPack
    from policy_agent.simulation._config import SimulationConfig
    from policy_agent.simulation._progress import RunTally
    from policy_agent.simulation._runner import PlannedEpisode, RecordEpisode, Simulation

__all__ = ["EpisodeWorker", "RayStart", "RayUnavailable", "play_on_ray", "runtime_folder"]

CONFIG_FILE = "run-config.json"
"""The run's config in the runtime environment's folder, its `domain` relative to that folder."""
_PASSED_ENV = ("LITELLM_LOCAL_MODEL_COST_MAP",)
"""Environment variables of the driver that the workers get too."""
_PROBE_TIMEOUT_S = 10.0
"""How long the driver waits for the cluster's address to answer before it gives up."""


class RayUnavailable(PolicyAgentError):
    """Ray is not installed, or the cluster cannot be reached; the message says which and how."""


class EpisodeWorker:
    """A Ray actor: the run's simulation on this node, playing the episodes it is handed."""

    def __init__(self, domain_hash: str, concurrency: int) -> None:
        """Load the config and the pack from the runtime environment; `PackMismatch` when the
        pack is not the driver's."""
        from policy_agent.simulation._executor import worker_simulation

        config: dict[str, JsonValue] = json.loads(Path(CONFIG_FILE).read_text())
        self._simulation: Simulation = worker_simulation(
            config, domain_hash, concurrency=concurrency
        )
        self._planned = {planned.key: planned for planned in self._simulation.episodes}

    async def ready(self) -> int:
        """This actor's process id, once it is ready to play."""
        return os.getpid()

    async def play(self, task_id: str, trial: int) -> str:
        """Play one episode of the plan; its JSON line."""
        episode = await self._simulation.play(self._planned[(task_id, trial)])
        return episode.model_dump_json()


def runtime_folder(worker_config: dict[str, JsonValue], pack: DomainPack, folder: Path) -> None:
    """Lay out in `folder` what the workers need: the pack and its Python tools where they lie
    relative to the pack's repository, a `pyproject.toml` marking that repository, and the
    config (`run-config.json`) pointing at the pack there."""
    pack_path = pack.root.resolve().relative_to(pack.repository.resolve())
    shutil.copytree(
        pack.root,
        folder / pack_path,
        ignore=shutil.ignore_patterns("__pycache__"),
        dirs_exist_ok=True,
    )
    for name in pack.python_files:
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(pack.repository / name, target)
    marker = folder / "pyproject.toml"
    if not marker.exists():
        marker.write_text("# The repository of the pack's Python tools (policy-agent on Ray).\n")
    data = {**worker_config}
    data["domain"] = pack_path.as_posix()
    (folder / CONFIG_FILE).write_text(json.dumps(data))


def _ray() -> Any:
    try:
        import ray  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        raise RayUnavailable(
            "executor: ray needs Ray; install the extra: pip install 'policy-agent[ray]'"
        ) from None
    return ray


class _NoSigtermNote(logging.Filter):
    """Drops Ray's note that a driver joined from a thread other than the main one sets no
    SIGTERM handler (`RayStart` joins from its own): Ray's would turn SIGTERM into `sys.exit`,
    and the driver's main thread keeps Python's own, which ends it at once (its actors end with
    its job)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("SIGTERM handler is not set")


def _connect(ray: Any, address: str | None, runtime_env: dict[str, object]) -> None:
    """Join the cluster at `address` (none: start a local one); `RayUnavailable` with the
    address and the reason when it cannot be reached or refuses a driver without its token."""
    if address is not None:
        _probe(address)
    note = _NoSigtermNote()
    worker_log = logging.getLogger("ray._private.worker")
    worker_log.addFilter(note)
    try:
        ray.init(
            # Not None: Ray would then join the cluster RAY_ADDRESS or the machine's last
            # `ray start` names; "local" starts a Ray of the run's own, as documented.
            address="local" if address is None else address,
            runtime_env=runtime_env,
            include_dashboard=False if address is None else None,
            log_to_driver=False,
            configure_logging=False,
        )
    except ray.exceptions.AuthenticationError:
        raise RayUnavailable(
            f"the Ray cluster at {address} uses token authentication and this driver has no "
            "token: copy the head's ~/.ray/auth_token here, or set RAY_AUTH_TOKEN to it "
            "(`ray get-auth-token` on the head prints it; for a cluster of your own, "
            "`ray get-auth-token --generate` before `ray start`). See docs/scale.md, "
            '"Past one machine"'
        ) from None
    except (ConnectionError, RuntimeError, TimeoutError, ValueError) as error:
        raise RayUnavailable(
            f"cannot join the Ray cluster at {address}: {error}. If it uses token "
            "authentication (Ray's default), set RAY_AUTH_MODE=token here with its token "
            "(~/.ray/auth_token or RAY_AUTH_TOKEN)"
        ) from None
    finally:
        worker_log.removeFilter(note)


def _probe(address: str) -> None:
    """Fail fast when nothing answers at `HOST:PORT` (Ray itself retries for minutes)."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or "://" in address:
        return  # `auto` or a `ray://` client address: Ray resolves it
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=_PROBE_TIMEOUT_S).close()
    except OSError as error:
        raise RayUnavailable(
            f"cannot reach the Ray cluster at {address}: {error.strerror or error}. Start it "
            "with `ray start --head` on the head node, or give its address (HOST:PORT of the "
            "head's GCS) with --ray-address"
        ) from None


class RayStart:
    """A run's Ray session, in a thread of this process from when the run's `Simulation` is
    made until `close`: the cluster joined, the actors created, and at the end the actors
    killed and Ray left.

    The thread lives as long as the session: a local Ray's own processes (GCS, raylet) are
    started to die with the thread that started them (Linux's parent-death signal is per
    thread). The actors are as many as the plan needs (`processes`, no more than `concurrency`
    or the plan's episodes); a resumed run with fewer episodes left leaves the extra ones idle.
    """

    def __init__(
        self,
        config: SimulationConfig,
        worker_config: dict[str, JsonValue],
        pack: DomainPack,
        *,
        episodes: int,
    ) -> None:
        """Begin joining the cluster of `config.ray_address` (none: a local Ray) and creating
        the actors; this returns at once."""
        self.domain_hash = pack.content_hash
        count = max(1, min(config.processes, config.concurrency, episodes))
        self.slots = [
            config.concurrency // count + (index < config.concurrency % count)
            for index in range(count)
        ]
        """How many episodes each actor plays at once."""
        self.actors: list[Any] = []
        """The actor of each slot, the latest one when it was replaced."""
        self.ray: Any = None
        """The `ray` module, once this process has joined the cluster."""
        self._joined: Future[None] = Future()
        self._joined.set_running_or_notify_cancel()  # so that a cancelled wait cannot cancel it
        self._ending = threading.Event()
        self._thread = threading.Thread(
            target=self._session,
            args=(config.ray_address, worker_config, pack),
            name="ray-session",
            daemon=True,
        )
        self._thread.start()

    def _session(
        self, address: str | None, worker_config: dict[str, JsonValue], pack: DomainPack
    ) -> None:
        try:
            ray = _ray()
            with tempfile.TemporaryDirectory(prefix="policy-agent-ray-") as staging:
                runtime_folder(worker_config, pack, Path(staging))
                env = {name: os.environ[name] for name in _PASSED_ENV if name in os.environ}
                _connect(ray, address, {"working_dir": staging, "env_vars": env})
            self.ray = ray
            self.actors.extend(self.new_actor(slots) for slots in self.slots)
        except BaseException as error:
            self._joined.set_exception(error)
        else:
            self._joined.set_result(None)
        self._ending.wait()
        if self.ray is not None:
            for actor in self.actors:
                self.ray.kill(actor)
            self.ray.shutdown()

    def new_actor(self, slots: int) -> Any:
        """A new actor playing `slots` episodes at once (created: Ray starts it meanwhile)."""
        return (
            self.ray.remote(EpisodeWorker)
            .options(
                max_concurrency=slots,
                max_restarts=0,
                max_task_retries=0,
                scheduling_strategy="SPREAD",
            )
            .remote(self.domain_hash, slots)
        )

    async def joined(self) -> None:
        """Wait until the cluster is joined and the actors created; `RayUnavailable` with the
        address and Ray's reason when it could not be joined."""
        await asyncio.wrap_future(self._joined)

    async def close(self) -> None:
        """`end`, in a thread: the start may still be under way."""
        await asyncio.to_thread(self.end)

    def end(self) -> None:
        """Kill the actors and leave Ray (after the start, if it is still under way); again,
        nothing."""
        self._ending.set()
        self._thread.join()


async def play_on_ray(
    start: RayStart, todo: Sequence[PlannedEpisode], tally: RunTally, record: RecordEpisode
) -> None:
    """Play `todo` on the actors of `start`, handing each finished episode to `record`; end
    them and leave Ray however it ends."""
    try:
        await start.joined()
        await _Dispatch(start, todo, tally, record).run()
    finally:
        await start.close()


class _Dispatch:
    """The driver's side: the queue of episodes, the actors and the calls in flight.

    An actor slot keeps its index for the whole run; each actor started in it gets the next
    generation, so the calls of a dead actor that fail late do not retire its successor.
    """

    def __init__(
        self,
        start: RayStart,
        todo: Sequence[PlannedEpisode],
        tally: RunTally,
        record: RecordEpisode,
    ) -> None:
        self.start = start
        self.ray = start.ray
        self.tally = tally
        self.record = record
        self.queue: deque[tuple[str, int]] = deque(planned.key for planned in todo)
        self.actors = start.actors
        self.slots = start.slots
        self.replacements_left = len(self.actors)
        self.generation = [0] * len(self.actors)
        self.busy = [0] * len(self.actors)
        self.flying: dict[asyncio.Future[str], tuple[int, int, tuple[str, int]]] = {}

    async def run(self) -> None:
        """Play the queue to its end on the actors, once each is ready."""
        from policy_agent.simulation._executor import received

        try:
            await asyncio.gather(*(self._ready(index) for index in range(len(self.actors))))
            while self.queue or self.flying:
                self._fill()
                done, _ = await asyncio.wait(self.flying, return_when=asyncio.FIRST_COMPLETED)
                for call in done:
                    index, generation, key = self.flying.pop(call)
                    current = generation == self.generation[index]
                    if current:
                        self.busy[index] -= 1
                    try:
                        line = call.result()
                    except self.ray.exceptions.RayActorError as error:
                        self.queue.appendleft(key)  # played again, by another actor
                        if current:
                            await self._replace(index, error)
                        continue
                    await received(line, self.tally, self.record)
        finally:
            for future in self.flying:
                future.cancel()

    def _fill(self) -> None:
        """Hand each actor the next episodes, one per free slot."""
        for index, actor in enumerate(self.actors):
            while self.queue and self.busy[index] < self.slots[index]:
                key = self.queue.popleft()
                call = asyncio.ensure_future(self._play(actor, key))
                self.flying[call] = (index, self.generation[index], key)
                self.busy[index] += 1

    @staticmethod
    async def _play(actor: Any, key: tuple[str, int]) -> str:
        line: str = await actor.play.remote(*key)
        return line

    async def _ready(self, index: int) -> None:
        """Wait until the actor of slot `index` has loaded the run; `WorkerProcessFailed` with
        the reason when it cannot (a pack that is not the driver's, say)."""
        try:
            await self.actors[index].ready.remote()
        except self.ray.exceptions.RayActorError as error:
            raise WorkerProcessFailed(
                f"Ray worker {index + 1} of {len(self.actors)} could not start: {error}"
            ) from None

    async def _replace(self, index: int, error: BaseException) -> None:
        """Retire the dead actor of slot `index` and start another in its place."""
        if self.replacements_left == 0:
            raise WorkerProcessFailed(
                f"Ray workers keep stopping ({len(self.actors)} replaced already); the last: "
                f"{error}"
            )
        self.replacements_left -= 1
        self.generation[index] += 1
        self.busy[index] = 0
        self.ray.kill(self.actors[index])
        self.actors[index] = self.start.new_actor(self.slots[index])
        await self._ready(index)
