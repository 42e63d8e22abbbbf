"""PyTorch TensorDict side of `make bench BENCH=tensordict`: the operations and shapes of
bench/tensordict/main.go, timed with timeit. Prints "<op> <ns/op>" per line."""
import timeit

import torch
from tensordict import TensorDict
from torchrl.envs.utils import step_mdp

torch.set_num_threads(2)


def leaf():
    return torch.zeros(3, 4, 5)


def nested():
    return TensorDict({"a": leaf(), "b": leaf(), "c": {"d": leaf(), "e": leaf(), "f": {"g": leaf()}}},
                      batch_size=[3, 4])


a, b = leaf(), leaf()
td = nested()
other = TensorDict({"a": leaf(), "c": {"d": leaf()}}, batch_size=[3, 4])
wide = TensorDict({f"k{i}": leaf() for i in range(100)}, batch_size=[3, 4])
step = nested()
step["next"] = TensorDict({"obs": leaf(), "reward": torch.zeros(3, 4), "done": torch.zeros(3, 4, dtype=torch.bool)}, [3, 4])
step["action"] = torch.zeros(3, 4, dtype=torch.int64)
many = [nested() for _ in range(64)]

ops = [
    ("create_2leaf", lambda: TensorDict({"a": a, "b": b}, batch_size=[3, 4])),
    ("create_nested", lambda: TensorDict({"a": a, "b": a, "c": {"d": a, "e": a, "f": {"g": a}}}, batch_size=[3, 4])),
    ("clone", lambda: td.clone()),
    ("index_int", lambda: td[1]),
    ("index_dim1", lambda: td[:, 1]),
    ("index_list", lambda: td[[0, 2]]),
    ("set", lambda: td.set("a", a)),
    ("nested_get", lambda: td.get(("c", "f", "g"))),
    ("update", lambda: td.update(other)),
    ("select", lambda: td.select("a", ("c", "d"))),
    ("keys_100", lambda: list(wide.keys(True, True))),
    ("unbind", lambda: td.unbind(0)),
    ("split", lambda: td.split([1, 2], 0)),
    ("stack_64", lambda: torch.stack(many, 0)),
    ("cat", lambda: torch.cat([td, td, td], 0)),
    ("step_mdp", lambda: step_mdp(step)),
]

for name, f in ops:
    t = timeit.Timer(f)
    n, _ = t.autorange()
    best = min(t.repeat(repeat=3, number=n)) / n
    print("%s %.1f" % (name, best * 1e9))
