"""Reference numbers for the deep training loop, from PyTorch.

Writes tests/fixtures/deep/train_reference.json:
- Adam (torch.optim.Adam, lr, weight_decay as L2): parameters after each of 4 steps, where step
  k's gradient is a fixed tensor g_k (produced as the gradient of sum(p * g_k));
- StepLR(step_size, gamma) learning rates over 7 epochs;
- F.cross_entropy on fixed logits / targets.

Run: python3 tools/fixtures_deep_train.py
"""
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(0)
out = {}

p0 = torch.randn(3, 4, dtype=torch.float32)
grads = [torch.randn(3, 4, dtype=torch.float32) for _ in range(4)]
for lr, wd in [(1e-2, 1e-4), (1e-3, 0.0), (5e-2, 0.1)]:
    p = torch.nn.Parameter(p0.clone())
    opt = torch.optim.Adam([p], lr=lr, weight_decay=wd)
    steps = []
    for g in grads:
        opt.zero_grad()
        (p * g).sum().backward()
        opt.step()
        steps.append(p.detach().clone().flatten().tolist())
    out.setdefault("adam", []).append({"lr": lr, "weight_decay": wd, "steps": steps})
out["p0"] = p0.flatten().tolist()
out["grads"] = [g.flatten().tolist() for g in grads]
out["shape"] = list(p0.shape)

p = torch.nn.Parameter(torch.zeros(1))
opt = torch.optim.SGD([p], lr=1e-4)
sched = torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
lrs = []
for _ in range(7):
    lrs.append(opt.param_groups[0]["lr"])
    opt.step()
    sched.step()
out["step_lr"] = {"base": 1e-4, "step_size": 3, "gamma": 0.5, "lrs": lrs}

logits = torch.randn(5, 3)
target = torch.tensor([0, 2, 1, 1, 0])
out["cross_entropy"] = {
    "logits": logits.flatten().tolist(),
    "target": target.tolist(),
    "loss": float(F.cross_entropy(logits, target)),
    "softmax": F.softmax(logits, dim=1).flatten().tolist(),
}

path = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "deep", "train_reference.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
print("wrote", os.path.normpath(path))
