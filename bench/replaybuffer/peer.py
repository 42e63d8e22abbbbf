"""TorchRL side of `make bench BENCH=replaybuffer`: the cases of bench/replaybuffer/main.go
with TorchRL's storages and samplers. Prints "<case> <ns/op>"."""
import shutil
import tempfile
import timeit
import warnings

warnings.filterwarnings("ignore")
import torch  # noqa: E402
from tensordict import TensorDict  # noqa: E402
from torchrl.data import (  # noqa: E402
    LazyMemmapStorage, LazyTensorStorage, PrioritizedSampler, RandomSampler, ReplayBuffer,
    SamplerWithoutReplacement, SliceSampler)

torch.set_num_threads(2)


def items(n, big=True):
    d = {"a": torch.zeros(n, 5)}
    if big:
        d["b"] = {"c": torch.arange(n * 3 * 32 * 32, dtype=torch.int64).remainder(256).to(torch.uint8).reshape(n, 3, 32, 32)}
    done = (torch.arange(n) + 1) % 100 == 0
    d["next"] = {"done": done}
    return TensorDict(d, batch_size=[n])


def run(name, f):
    t = timeit.Timer(f)
    n, _ = t.autorange()
    best = min(t.repeat(repeat=3, number=n)) / n
    print("%s %.0f" % (name, best * 1e9), flush=True)


tmp = tempfile.mkdtemp()
data = items(10_000)
for st in ("memory", "mmap"):
    for sm in ("uniform", "without_replacement", "slice"):
        storage = LazyTensorStorage(10_000) if st == "memory" else LazyMemmapStorage(10_000, scratch_dir=tmp + "/" + sm)
        sampler = {"uniform": RandomSampler(), "without_replacement": SamplerWithoutReplacement(),
                   "slice": SliceSampler(slice_len=8, end_key=("next", "done"))}[sm]
        rb = ReplayBuffer(storage=storage, sampler=sampler, batch_size=256)
        rb.extend(data)
        run(st + "_" + sm, rb.sample)

ext = ReplayBuffer(storage=LazyTensorStorage(10_000), batch_size=256)
chunk = items(400)
run("extend_400", lambda: ext.extend(chunk))

prb = ReplayBuffer(storage=LazyTensorStorage(1_000_000), sampler=PrioritizedSampler(1_000_000, alpha=0.7, beta=0.5), batch_size=65536)
prb.extend(items(1_000_000, big=False))
run("prioritized_65536", prb.sample)
shutil.rmtree(tmp)
