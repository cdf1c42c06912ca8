"""``SimNetwork``: nodes joined by simulated links, and the faults that break them.

Theory of operation
-------------------
The network owns one ``SimNode`` per topology node and one ``SimLink`` per edge;
``carriers.py`` (its base, ``CarrierNetwork``) opens the carriers on links that are up
and carries their frames and closes. Here: starting the nodes, what a node asks of the
network (closing a carrier, dialling a neighbour, its application events), the faults,
the ground truth and totals.

A *silent* fault (cut, partition or crash with ``silent=True``) tells nobody: frames
vanish, and the node has to notice by its own timeouts, as it would on UDP. Crash with
state lost drops the node object; restart builds a new one from the same identity
stream (same ``NodeId``) and opens fresh carriers. Crash with state kept freezes the
object; restart resumes it, first reporting the transports that died.

Every change of link or node state bumps ``version``, which invalidates the cached
``GroundTruth`` used by metrics.

In a partitioned run (``parallel.py``) dialling across the cut fails, and faults are
refused (a worker cannot take down a link it only half holds).
"""

from __future__ import annotations

from collections.abc import Sequence

from meshnet.errors import ConfigError, StateError
from meshnet.sim.carriers import (
    ENDPOINT_PREFIX,
    REMOTE_CLOSE,
    REMOTE_FRAME,
    CarrierNetwork,
    RemoteItem,
)
from meshnet.sim.harness import (
    CloseRequest,
    DialRequest,
    SimNode,
    as_app_datagram,
    describe_event,
)
from meshnet.sim.link import DownCause, SimLink
from meshnet.sim.paths import GroundTruth
from meshnet.sim.profile import LinkProfile

__all__ = ["ENDPOINT_PREFIX", "REMOTE_CLOSE", "REMOTE_FRAME", "RemoteItem", "SimNetwork"]


class SimNetwork(CarrierNetwork):
    """The simulated nodes and links of one run, and the faults that break them
    (the arguments are ``CarrierNetwork``'s)."""

    def start(self) -> None:
        """Build every node, schedule link outages and open carriers on up links.

        Raises:
            StateError: called twice, or two nodes share a NodeId.
        """
        if self.nodes:
            raise StateError("the network has already started")
        if self.partitioned and any(link.profile.down for link in self.links.values()):
            raise ConfigError("scheduled link outages are not simulated in a partitioned run")
        now = self.scheduler.now
        for index in range(self.topology.nodes):
            self.nodes.append(SimNode(index=index, host=self, node=self._build(index, 0)))
        owners: dict[object, int] = {}
        for sn in self.nodes:
            if sn.node_id in owners:
                raise StateError(f"nodes {owners[sn.node_id]} and {sn.index} share a NodeId")
            owners[sn.node_id] = sn.index
            if self.local[sn.index]:
                self.trace.record(now, "node", node=sn.index, id=str(sn.node_id))
        for link in self.links.values():
            for start, end in link.profile.down:
                self.scheduler.call_at(start, self._outage, (link, True))
                self.scheduler.call_at(end, self._outage, (link, False))
            self._open_carrier(link, now)
        for sn in self.nodes:
            if self.local[sn.index]:
                sn.pump(now)

    def _outage(self, args: tuple[SimLink, bool]) -> None:
        link, begins = args
        if begins:
            self.set_down(link, DownCause.SCHEDULE, silent=False)
        else:
            self.clear_down(link, DownCause.SCHEDULE)

    def command(self, sender: SimNode, request: CloseRequest | DialRequest, now: float) -> None:
        """Carry out a node's transport command."""
        if isinstance(request, CloseRequest):
            carrier = sender.transports.get(request.transport)
            if carrier is None or not carrier.is_open[carrier.side_of(sender.index)]:
                return
            self.trace.record(
                now, "close", node=sender.index, transport=request.transport, reason=request.reason
            )
            self._close_side(carrier, carrier.side_of(sender.index), notify_peer=True, now=now)
        else:
            self._dial(sender, request, now)

    def _dial(self, sender: SimNode, request: DialRequest, now: float) -> None:
        target = _parse_endpoint(request.endpoint, self.topology.nodes)
        link = None
        if target is not None and target != sender.index:
            link = self.links.get((min(sender.index, target), max(sender.index, target)))
        if link is None or target is None:
            reason = f"no simulated link from node {sender.index} to {request.endpoint}"
        elif not link.up:
            reason = "the link is down"
        elif not self.nodes[target].alive:
            reason = "no answer: the node is down"
        elif link.carrier is not None:
            reason = "a carrier to this neighbour is already open"
        elif not self.local[target]:
            reason = "the link joins two workers of a partitioned run: it cannot be dialled"
        else:
            self.trace.record(now, "dial", node=sender.index, endpoint=request.endpoint, ok=True)
            self._open_carrier(link, now, dialer=sender.index, dial=request.dial)
            return
        self.trace.record(
            now, "dial", node=sender.index, endpoint=request.endpoint, ok=False, reason=reason
        )
        if request.dial is not None:
            args = (sender, request.dial, reason)
            self.scheduler.call_at(now, self._deliver_dial_failed, args, sender.index)

    def _deliver_dial_failed(self, args: tuple[SimNode, int, str]) -> None:
        sn, dial, reason = args
        if sn.alive:
            sn.dial_failed(dial, reason, self.scheduler.now)

    def app_event(self, sender: SimNode, event: object, now: float) -> None:
        """An application event: end-to-end datagrams go to ``on_datagram``."""
        datagram = as_app_datagram(event)
        if datagram is not None and self.on_datagram is not None:
            self.on_datagram(sender.index, datagram, now)
            return
        self.trace.record(now, "event", node=sender.index, event=describe_event(event))

    def send_app(self, src: int, dst: int, payload: bytes, now: float) -> str | None:
        """Ask node ``src`` to send ``payload`` to node ``dst``; returns a refusal or None."""
        sn = self.nodes[src]
        if not sn.alive:
            return "the source node is down"
        return sn.send_datagram(self.nodes[dst].node_id, payload, now)

    # -- faults ------------------------------------------------------------------------

    def partition(self, groups: Sequence[Sequence[int]], *, silent: bool = False) -> None:
        """Split the network: links between different groups go down.

        Nodes not named in any group form one more group. A new partition replaces the
        current one: links it leaves cut stay down (no carrier churn), the others heal.
        """
        group = [len(groups)] * self.topology.nodes
        for number, members in enumerate(groups):
            for node in members:
                group[node] = number
        self._partitioned = True
        for link in self.links.values():
            if group[link.a] != group[link.b]:
                self.set_down(link, DownCause.PARTITION, silent=silent)
            else:
                self.clear_down(link, DownCause.PARTITION)

    def heal(self) -> None:
        """End the current partition."""
        if not self._partitioned:
            return
        self._partitioned = False
        for link in self.links.values():
            self.clear_down(link, DownCause.PARTITION)

    def crash(self, index: int, *, keep_state: bool = False, silent: bool = False) -> None:
        """Stop node ``index``: its object is dropped, or frozen when ``keep_state``.

        Raises:
            StateError: the node is already down.
        """
        sn = self.nodes[index]
        if not sn.alive:
            raise StateError(f"node {index} is already down")
        now = self.scheduler.now
        sn.stop(keep_state=keep_state)
        self.version += 1
        for link in self.node_links[index]:
            carrier = link.carrier
            if carrier is None or (keep_state and silent):
                continue  # a frozen process keeps its sockets when nobody is told
            side = carrier.side_of(index)
            carrier.is_open[side] = False
            link.carrier = None
            if not silent and carrier.is_open[1 - side]:
                direction = link.direction_from(index)
                when = max(now + link.profile.latency, direction.last_arrival)
                args = (carrier, 1 - side, link.epoch)
                self.scheduler.call_at(when, self._peer_close, args, link.other(index))

    def restart(self, index: int) -> None:
        """Bring node ``index`` back: resume the frozen object or build a new one.

        Raises:
            StateError: the node is running.
        """
        sn = self.nodes[index]
        if sn.alive:
            raise StateError(f"node {index} is running")
        now = self.scheduler.now
        if sn.frozen:
            sn.start(None, now)
            for tid, carrier in list(sn.transports.items()):
                if not carrier.is_open[carrier.side_of(index)]:
                    del sn.transports[tid]
                    sn.closed(tid, now)
        else:
            sn.start(self._build(index, sn.incarnation + 1), now)
        self.version += 1
        for link in self.node_links[index]:
            self._open_carrier(link, now)
        sn.pump(now)

    def set_profile(self, a: int, b: int, profile: LinkProfile | None) -> None:
        """Use ``profile`` on the link from now on; None restores the scenario's."""
        link = self.link(a, b)
        link.set_profile(profile if profile is not None else link.base_profile)
        self.version += 1

    # -- ground truth and totals -----------------------------------------------------

    def truth(self) -> GroundTruth:
        """Reachability and best paths right now (cached until something changes)."""
        if self._truth is None or self._truth_version != self.version:
            edges = [
                (link.a, link.b, link.profile.mean_delay) for link in self.links.values() if link.up
            ]
            self._truth = GroundTruth(self.topology.nodes, edges, [sn.alive for sn in self.nodes])
            self._truth_version = self.version
        return self._truth

    def bytes_sent_by(self, index: int) -> int:
        """Bytes node ``index`` put on its links (frames that went on the medium)."""
        return sum(link.direction_from(index).stats.bytes_sent for link in self.node_links[index])

    def frames_sent(self) -> int:
        """Frames put on every link in both directions."""
        return sum(
            link.forward.stats.frames_sent + link.reverse.stats.frames_sent
            for link in self.links.values()
        )

    def total_link_bytes(self) -> int:
        """Bytes put on every link in both directions."""
        return sum(
            link.forward.stats.bytes_sent + link.reverse.stats.bytes_sent
            for link in self.links.values()
        )


def _parse_endpoint(endpoint: str, nodes: int) -> int | None:
    if not endpoint.startswith(ENDPOINT_PREFIX):
        return None
    rest = endpoint[len(ENDPOINT_PREFIX) :]
    if not rest.isdigit() or int(rest) >= nodes:
        return None
    return int(rest)
