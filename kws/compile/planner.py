"""Static memory plan: where every activation tensor lives in the one arena, from tensor lifetimes.

    from kws.compile.planner import plan_memory
    plan = plan_memory(graph, scratch={3: 320})       # layer index -> scratch bytes (im2col)
    plan.arena_bytes, plan.storage[tensor_index]       # ("arena", offset) | ("input", 0) | ("output", 0) | ...

Rules:
- The model input is read where the caller keeps it and the output is written straight into the caller's
  buffer: neither takes arena space. Constant tensors (an ADD operand) live in flash.
- RESHAPE costs nothing: its output is its input (one buffer, the union of both lifetimes).
- Buffers are placed greedily, largest first, at the lowest offset free for their lifetime (TFLM's
  GreedyMemoryPlanner), but an op's output may also overlap the input it consumes for the last time when
  the kernel provably reads every input byte before it overwrites it: elementwise ops in place, and
  row-ordered windowed ops (conv, depthwise, pooling) with the output starting `d` bytes before the input,
  `d` from `overlap_distance`. Several placement orders are tried; the smallest arena wins, and it is never
  larger than the plain greedy plan (also reported, as what TFLM's planner would need for the activations).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kws.compile.graph import CompileError, Graph, Layer

ALIGN = 8  # offsets (and overlap distances) are multiples of this, so word loads in the kernels stay aligned


@dataclass
class _Buffer:
    key: str
    size: int
    start: int
    end: int
    tensors: list[int] = field(default_factory=list)
    offset: int = -1


@dataclass(frozen=True)
class MemoryPlan:
    """Offsets of the arena buffers and the storage class of every tensor."""

    arena_bytes: int
    """Bytes of the activation buffers (what the portable kernels need)."""
    total_bytes: int
    """Arena including the per-layer scratch buffers (what the DSP kernels need)."""
    greedy_bytes: int
    """Arena of the plain greedy plan without overlaps (TFLM's planner on the same buffers)."""
    storage: dict[int, tuple[str, int]]
    """tensor index -> ("arena", offset) | ("input", 0) | ("output", 0) | ("const", 0)."""
    scratch: dict[int, int]
    """layer index -> arena offset of its scratch buffer."""
    copies: tuple[int, ...]
    """Layer indices of RESHAPEs that must copy (model input reshaped straight into the model output)."""
    reverse: tuple[int, ...] = ()
    """Layer indices whose output overlaps its input from above: their kernel runs rows last to first."""


def _align(x: int) -> int:
    return -(-x // ALIGN) * ALIGN


def overlap_distance(layer: Layer, in_size: int, out_size: int) -> tuple[int | None, int | None]:
    """(forward, backward) placements of an output against the input it consumes for the last time: going
    forward the output may start `forward` bytes before the input; with rows in reverse it may start
    `backward` bytes after it (None: not allowed).

    Windowed kernels finish every read of an output row before writing the next row (kws_kernels.h): going
    forward, output row y never lands on an input row some row >= y still reads (those start at
    y * stride - pad); going backward, never on a row some row <= y still reads (those end at
    y * stride - pad + (k - 1) * dilation). Elementwise kernels read element i before writing it."""
    p = layer.params
    if layer.kind in ("conv", "depthwise", "avgpool", "maxpool"):
        if p["batches"] != 1:
            return None, None
        row_in = p["in_w"] * p.get("in_c", p.get("channels"))
        row_out = p["out_w"] * p.get("out_c", p.get("channels"))
        reach = (p["k_h"] - 1) * p.get("dil_h", 1)
        forward = backward = -(1 << 62)
        for y in range(p["out_h"]):
            first = max(0, y * p["stride_h"] - p["pad_h"])
            last = min(p["in_h"] - 1, y * p["stride_h"] - p["pad_h"] + reach)
            forward = max(forward, (y + 1) * row_out - first * row_in)
            backward = max(backward, (last + 1) * row_in - y * row_out)
        return _align(forward), _align(backward)
    if layer.kind in ("softmax", "add") and in_size == out_size and p.get("ndims", 0) == 0:
        return 0, None
    return None, None


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        self.parent[self.find(b)] = self.find(a)


Rules = dict[tuple[str, str], tuple[int | None, int | None]]
"""(output buffer, its dying input buffer) -> (forward, backward) distances, overlap_distance()."""


def _place(buffers: list[_Buffer], allowed: Rules) -> int:
    """Greedy placement in list order; fills .offset; returns the arena size."""
    placed: list[_Buffer] = []
    for buf in buffers:
        live = [o for o in placed if o.start <= buf.end and buf.start <= o.end]
        candidates = {0}
        for other in live:
            candidates.add(_align(other.offset + other.size))
            forward, backward = allowed.get((buf.key, other.key), (None, None))  # buf: output, other: input
            candidates |= {other.offset - forward} if forward is not None else set()
            candidates |= {other.offset + backward} if backward is not None else set()
            forward, backward = allowed.get((other.key, buf.key), (None, None))  # buf: input, other: output
            candidates |= {other.offset + forward} if forward is not None else set()
            candidates |= {other.offset - backward} if backward is not None else set()
        for offset in sorted(c for c in candidates if c >= 0):
            if all(_compatible(buf, offset, other, allowed) for other in live):
                buf.offset = offset
                break
        placed.append(buf)
    return max((b.offset + b.size for b in buffers), default=0)


def _direction(out_offset: int, in_offset: int, rule: tuple[int | None, int | None]) -> str | None:
    """'forward' or 'backward' when the output may sit at out_offset against its input, else None."""
    forward, backward = rule
    if forward is not None and out_offset <= in_offset - forward:
        return "forward"
    if backward is not None and out_offset >= in_offset + backward:
        return "backward"
    return None


def _compatible(buf: _Buffer, offset: int, other: _Buffer, allowed: Rules) -> bool:
    if offset + buf.size <= other.offset or other.offset + other.size <= offset:
        return True
    if (buf.key, other.key) in allowed:
        return _direction(offset, other.offset, allowed[(buf.key, other.key)]) is not None
    if (other.key, buf.key) in allowed:
        return _direction(other.offset, offset, allowed[(other.key, buf.key)]) is not None
    return False


def _alias_groups(graph: Graph) -> tuple[_UnionFind, list[int]]:
    """RESHAPE outputs share their input's buffer; a RESHAPE of the model input into the model output copies."""
    groups = _UnionFind()
    copies = []
    for i, layer in enumerate(graph.layers):
        if layer.kind == "reshape":
            a, b = groups.find(layer.inputs[0]), groups.find(layer.output)
            ends = {groups.find(graph.input), groups.find(graph.output)}
            if a in ends and b in ends and a != b:
                copies.append(i)  # the caller's two buffers stay separate
            else:
                groups.union(a, b)
    return groups, copies


def _buffers(graph: Graph, groups: _UnionFind) -> tuple[dict[int, _Buffer], dict[int, tuple[str, int]]]:
    """One arena buffer per alias group (size, first and last layer), and the storage of external tensors."""
    in_root, out_root = groups.find(graph.input), groups.find(graph.output)
    producers: dict[int, int] = {}
    buffers: dict[int, _Buffer] = {}
    storage: dict[int, tuple[str, int]] = {}
    for i, layer in enumerate(graph.layers):
        for t in [*layer.inputs, layer.output]:
            tensor, root = graph.tensors[t], groups.find(t)
            if tensor.data is not None:
                storage[t] = ("const", 0)
            elif root in (in_root, out_root):
                storage[t] = ("input" if root == in_root else "output", 0)
            else:
                buf = buffers.setdefault(root, _Buffer(f"t{root}", tensor.size, i, i))
                buf.start, buf.end = min(buf.start, i), max(buf.end, i)
                buf.size = max(buf.size, tensor.size)
                buf.tensors.append(t)
        if layer.output in producers:
            raise CompileError(f"tensor {graph.tensors[layer.output].name!r} is written by two operators")
        producers[layer.output] = i
    for layer in graph.layers:
        for t in layer.inputs:
            if graph.tensors[t].data is None and t != graph.input and t not in producers:
                raise CompileError(f"operator {layer.op_index} {layer.opcode} reads tensor "
                                   f"'{graph.tensors[t].name}' that no operator writes (variable tensors are "
                                   f"not supported)")
    return buffers, storage


def _overlaps(graph: Graph, groups: _UnionFind,
              buffers: dict[int, _Buffer]) -> tuple[Rules, dict[tuple[str, str], int]]:
    """The overlap rules, and the layer each (output, input) pair belongs to."""
    allowed: Rules = {}
    layer_of: dict[tuple[str, str], int] = {}
    for i, layer in enumerate(graph.layers):
        out_root = groups.find(layer.output)
        if layer.kind == "reshape" or out_root not in buffers:
            continue
        for t in layer.inputs:
            root = groups.find(t)
            if root not in buffers or buffers[root].end != i or root == out_root:
                continue
            rule = overlap_distance(layer, graph.tensors[t].size, graph.tensors[layer.output].size)
            if rule != (None, None):
                key = (buffers[out_root].key, buffers[root].key)
                allowed[key] = rule
                layer_of[key] = i
    return allowed, layer_of


def plan_memory(graph: Graph, scratch: dict[int, int] | None = None) -> MemoryPlan:
    """Plan the arena for `graph`; `scratch` gives per-layer scratch bytes (lifetime: that layer only)."""
    groups, copies = _alias_groups(graph)
    buffers, storage = _buffers(graph, groups)
    allowed, layer_of = _overlaps(graph, groups, buffers)
    every = list(buffers.values())

    def attempt(order: list[_Buffer], rules: Rules) -> tuple[int, dict[str, int]]:
        for b in every:
            b.offset = -1
        size = _place(order, rules)
        return size, {b.key: b.offset for b in every}

    by_size = sorted(every, key=lambda b: (-b.size, b.start))
    greedy_bytes, best = attempt(by_size, {})
    best_size = greedy_bytes
    for order in (by_size, sorted(every, key=lambda b: (b.start, -b.size)),
                  sorted(every, key=lambda b: (-b.end, -b.size)), sorted(every, key=lambda b: (-b.size, -b.start))):
        size, offsets = attempt(order, allowed)
        if size < best_size:
            best_size, best = size, offsets
    for buf in every:
        buf.offset = best[buf.key]
        for t in buf.tensors:
            storage[t] = ("arena", buf.offset)
    by_key = {b.key: b for b in every}
    reverse = sorted(layer_of[(o, i)] for (o, i), rule in allowed.items()
                     if _overlapping(by_key[o], by_key[i]) and _direction(by_key[o].offset, by_key[i].offset, rule)
                     == "backward")
    # Scratch buffers come last, in the gaps left at their layer, so both flavours share every offset.
    scratch_offsets, total = {}, best_size
    for i, size in sorted((scratch or {}).items()):
        if size <= 0:
            continue
        buf = _Buffer(f"s{i}", _align(size), i, i)
        _place_one(buf, [b for b in every if b.start <= i <= b.end])
        scratch_offsets[i] = buf.offset
        total = max(total, buf.offset + buf.size)
    return MemoryPlan(_align(best_size), _align(total), _align(greedy_bytes), storage, scratch_offsets,
                      tuple(copies), tuple(reverse))


def _overlapping(a: _Buffer, b: _Buffer) -> bool:
    return a.offset < b.offset + b.size and b.offset < a.offset + a.size


def _place_one(buf: _Buffer, live: list[_Buffer]) -> None:
    for offset in sorted({0} | {_align(o.offset + o.size) for o in live}):
        if all(offset + buf.size <= o.offset or o.offset + o.size <= offset for o in live):
            buf.offset = offset
            return
