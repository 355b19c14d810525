#!/usr/bin/env python3
"""Run the seed notebook's own deep-learning code (PyTorch + torchvision) on a vidcompare
dataset root and write per-model timings, memory and accuracy as JSON, so that vidcompare's Rust
deep models can be timed side by side with it on the same data and the same device.

What is copied from the notebook (cells In[10]-In[12], In[15]), unchanged in arithmetic:
cv2 decoding (at most 400 frames), INTER_AREA resize of every frame, uniform sampling
(np.linspace), BGR->RGB, ToTensor, ImageNet normalisation, nan_to_num; EfficientNet-B0 with
temporal avg / max / attention pooling (`TemporalAttentionPool`, LayerNorm, Dropout 0.3, last 2
feature blocks trainable), `build_r3d18` (LayerNorm + Dropout 0.3 + Linear head, layer4 + head
trainable); Adam (lr 1e-4, weight_decay 1e-4) on the trainable parameters, StepLR
(step max(2, epochs//2), gamma 0.5), EarlyStopper(patience=4) on validation accuracy, model.train()
for every training epoch (frozen BatchNorms included), the best-validation weights evaluated on
the test split with the notebook's eval loop (batch 2).

Changes, all deliberate: no weight download (`weights=None`, random init, seeded with
torch.manual_seed(42) before each model); enhancement (`enhance_frame`) off, to time the networks;
frame size / frame count / clip length / epochs / batch come from --profile; the best weights are
kept in memory instead of a cache file; peak GPU memory is reset before each model; and the forward
time per video is measured one test video at a time (model.eval(), no_grad, after one warm-up
forward, the copy of the input to the device excluded, torch.cuda.synchronize() before each timer
stops), as vidcompare times its own forward pass. The notebook's own figure (eval loop, batch 2,
decoding included) is kept as `end_to_end_s_per_video`.

Dataset root layout (vidcompare's): ROOT/splits/{train,val,test}.txt with lines
`relative/path label` (path relative to ROOT, optionally double-quoted); ROOT/classes.txt
(one class name per line) is optional.

    python3 tools/bench_notebook_deep.py --data ROOT --device cuda|cpu \
        --profile quick|notebook --out FILE.json [--threads N]

Profiles: `notebook` = the notebook's values (224 px, 32 frames for 2D, 16-frame clips for R3D-18
at 224 px, 6 epochs, batch 2, patience 4); `quick` = vidcompare's quick settings (112 px, 8
frames, 8-frame clips, 2 epochs, batch 2, patience 4).

Use with tools/gpu-check.sh: that script runs vidcompare's four deep models on a dataset root
with a device and a profile and writes gpu-check.json (per model: epochs, train_time_s,
train_s_per_epoch, forward_s_per_video, accuracy, macro_f1). Run this script with the same
--data / --device / --profile (e.g. writing FILE.json next to gpu-check.json in the same output
folder) to get the same fields for the notebook's PyTorch models on the same data and GPU; the
model names are the same ("Deep-2D-Avg", "Deep-2D-Max", "Deep-2D-Attn", "Deep-3D-R3D18").
Needs numpy, opencv (cv2), torch, torchvision and scikit-learn; no network.
"""
import argparse
import json
import os
import random
import sys
import time

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from sklearn.metrics import accuracy_score, precision_recall_fscore_support
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

SEED = 42
DEEP_SAMPLING = 'uniform'
DEVICE = 'cpu'  # set from --device in main()

PROFILES = {
    # img_size, num_frames (2D), clip_len (3D), epochs, batch, patience
    'notebook': dict(img_size=224, num_frames=32, clip_len=16, epochs=6, batch=2, patience=4),
    'quick': dict(img_size=112, num_frames=8, clip_len=8, epochs=2, batch=2, patience=4),
}


def now():
    return time.perf_counter()


def sync():
    if DEVICE == 'cuda':
        torch.cuda.synchronize()


def seed_everything(seed=SEED):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# ---------------------------------------------------------------- splits (vidcompare layout)

def parse_split_line(line):
    line = line.strip()
    if line.startswith('"'):
        end = line.index('"', 1)
        rel_path, rest = line[1:end], line[end + 1:]
        label = rest.split()[0]
    else:
        rel_path, label = line.rsplit(None, 1)
    return rel_path.replace('\\', '/'), int(label)


def read_split_file(path):
    rows = []
    with open(path, 'r', encoding='utf-8') as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            rows.append(parse_split_line(line))
    return rows


def load_splits(root):
    splits_dir = os.path.join(root, 'splits')
    train_rows = read_split_file(os.path.join(splits_dir, 'train.txt'))
    val_rows = read_split_file(os.path.join(splits_dir, 'val.txt'))
    test_rows = read_split_file(os.path.join(splits_dir, 'test.txt'))
    labels = [y for _, y in (train_rows + val_rows + test_rows)]
    # The notebook: len(sorted(set(labels))). Also covers classes.txt and non-contiguous labels.
    n_classes = max(len(set(labels)), max(labels) + 1)
    classes_txt = os.path.join(root, 'classes.txt')
    if os.path.exists(classes_txt):
        with open(classes_txt, 'r', encoding='utf-8') as f:
            names = [l.strip() for l in f if l.strip()]
        n_classes = max(n_classes, len(names))
    return train_rows, val_rows, test_rows, n_classes


# ---------------------------------------------------------------- notebook In[10]: data

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
imgnet_norm = transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)


def enhance_frame(frame_bgr):
    den = cv2.fastNlMeansDenoisingColored(frame_bgr, None, 5, 5, 7, 21)
    ga = cv2.GaussianBlur(den, (0, 0), 1.0)
    sharp = cv2.addWeighted(den, 1.5, ga, -0.5, 0)
    return sharp


def sanitize_tensor(x):
    return torch.nan_to_num(x, nan=0.0, posinf=1.0, neginf=-1.0)


def load_video_cv2(video_path, max_frames=None):
    cap = cv2.VideoCapture(video_path)
    frames = []
    ok = True
    while ok:
        ok, fr = cap.read()
        if not ok:
            break
        frames.append(fr)
        if max_frames and len(frames) >= max_frames:
            break
    cap.release()
    if not frames:
        raise RuntimeError(f'no frames decoded from {video_path}')
    return frames


def resize_frames(frames, size=224):
    return [cv2.resize(fr, (size, size), interpolation=cv2.INTER_AREA) for fr in frames]


def uniform_sample(frames, num_frames=32):
    if len(frames) == 0:
        return []
    idxs = np.linspace(0, len(frames) - 1, num_frames, dtype=int)
    return [frames[i] for i in idxs]


def random_sample(frames, num_frames=32):
    if len(frames) == 0:
        return []
    rng = np.random.default_rng(SEED)
    idxs = rng.choice(len(frames), size=min(num_frames, len(frames)), replace=False)
    idxs = np.sort(idxs)
    return [frames[i] for i in idxs]


class FrameDataset2D(Dataset):
    def __init__(self, rows, root, num_frames=32, sampling='uniform', enhance=True,
                 use_imagenet_norm=True, img_size=224):
        self.rows = rows
        self.root = root
        self.num_frames = num_frames
        self.sampling = sampling
        self.enhance = enhance
        self.img_size = img_size
        self.to_tensor = transforms.ToTensor()
        self.norm = imgnet_norm if use_imagenet_norm else None

    def __len__(self):
        return len(self.rows)

    def _sample(self, frames):
        if self.sampling == 'uniform':
            return uniform_sample(frames, self.num_frames)
        if self.sampling == 'random':
            return random_sample(frames, self.num_frames)
        return frames

    def __getitem__(self, idx):
        rel, label = self.rows[idx]
        abs_path = os.path.join(self.root, rel)
        frames = load_video_cv2(abs_path, max_frames=400)
        frames = resize_frames(frames, self.img_size)
        frames = self._sample(frames)
        if self.enhance:
            frames = [enhance_frame(fr) for fr in frames]

        tensor_frames = []
        for fr in frames:
            fr_rgb = cv2.cvtColor(fr, cv2.COLOR_BGR2RGB)
            t = self.to_tensor(fr_rgb)
            if self.norm:
                t = self.norm(t)
            tensor_frames.append(t)

        x = torch.stack(tensor_frames, dim=0)  # (T,C,H,W)
        x = sanitize_tensor(x)
        y = torch.tensor(label, dtype=torch.long)
        return x, y


class ClipDataset3D(Dataset):
    def __init__(self, rows, root, clip_len=16, sampling='uniform', enhance=True,
                 use_imagenet_norm=True, img_size=224):
        self.rows = rows
        self.root = root
        self.clip_len = clip_len
        self.sampling = sampling
        self.enhance = enhance
        self.img_size = img_size
        self.to_tensor = transforms.ToTensor()
        self.norm = imgnet_norm if use_imagenet_norm else None

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, idx):
        rel, label = self.rows[idx]
        abs_path = os.path.join(self.root, rel)
        frames = load_video_cv2(abs_path, max_frames=400)
        frames = resize_frames(frames, self.img_size)
        frames = (random_sample(frames, self.clip_len) if self.sampling == 'random'
                  else uniform_sample(frames, self.clip_len))
        if self.enhance:
            frames = [enhance_frame(fr) for fr in frames]

        clip = []
        for fr in frames:
            fr_rgb = cv2.cvtColor(fr, cv2.COLOR_BGR2RGB)
            t = self.to_tensor(fr_rgb)
            if self.norm:
                t = self.norm(t)
            clip.append(t)

        clip = torch.stack(clip, dim=1)  # (C,T,H,W)
        clip = sanitize_tensor(clip)
        y = torch.tensor(label, dtype=torch.long)
        return clip, y


# ---------------------------------------------------------------- notebook In[11]: models

class TemporalAttentionPool(nn.Module):
    def __init__(self, feat_dim):
        super().__init__()
        self.fc1 = nn.Linear(feat_dim, feat_dim // 2)
        self.fc2 = nn.Linear(feat_dim // 2, 1)

    def forward(self, feats):
        h = torch.tanh(self.fc1(feats))
        scores = self.fc2(h).squeeze(-1)
        attn = torch.softmax(scores, dim=1)
        pooled = torch.sum(feats * attn.unsqueeze(-1), dim=1)
        return pooled, attn


class EfficientNetTemporal(nn.Module):
    def __init__(self, num_classes, pooling='avg', dropout=0.3, fine_tune_last_n=2):
        super().__init__()
        # Notebook: weights=torchvision.models.EfficientNet_B0_Weights.DEFAULT (no download here).
        self.backbone = torchvision.models.efficientnet_b0(weights=None)
        self.backbone.classifier = nn.Identity()
        self.feat_dim = 1280
        self.pooling = pooling
        if pooling == 'attn':
            self.attn_pool = TemporalAttentionPool(self.feat_dim)
        self.ln = nn.LayerNorm(self.feat_dim)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(self.feat_dim, num_classes)

        for p in self.backbone.parameters():
            p.requires_grad = False
        for block in list(self.backbone.features.children())[-fine_tune_last_n:]:
            for p in block.parameters():
                p.requires_grad = True

    def forward(self, x):
        B, T, C, H, W = x.shape
        x = x.view(B * T, C, H, W)
        feats = self.backbone(x)
        feats = feats.view(B, T, -1)

        if self.pooling == 'avg':
            pooled = feats.mean(dim=1); attn = None
        elif self.pooling == 'max':
            pooled = feats.max(dim=1).values; attn = None
        elif self.pooling == 'attn':
            pooled, attn = self.attn_pool(feats)
        else:
            raise ValueError('pooling must be avg/max/attn')

        pooled = self.ln(pooled)
        pooled = self.drop(pooled)
        logits = self.fc(pooled)
        return logits, attn


def build_r3d18(num_classes):
    # Notebook: weights=torchvision.models.video.R3D_18_Weights.DEFAULT (no download here).
    model = torchvision.models.video.r3d_18(weights=None)
    in_feats = model.fc.in_features
    model.fc = nn.Sequential(nn.LayerNorm(in_feats), nn.Dropout(0.3), nn.Linear(in_feats, num_classes))

    for p in model.parameters():
        p.requires_grad = False
    for p in model.layer4.parameters():
        p.requires_grad = True
    for p in model.fc.parameters():
        p.requires_grad = True

    return model


# ---------------------------------------------------------------- notebook In[12]: loops

class EarlyStopper:
    def __init__(self, patience=4, min_delta=0.0):
        self.patience = patience
        self.min_delta = min_delta
        self.best = None
        self.count = 0

    def step(self, val_metric):
        if self.best is None or val_metric > self.best + self.min_delta:
            self.best = val_metric
            self.count = 0
            return False
        self.count += 1
        return self.count >= self.patience


def _logits(model, x, is_3d):
    out = model(x)
    return out if is_3d else out[0]


def run_epoch(model, loader, optimizer=None, is_3d=False):
    """The notebook's run_epoch_2d / run_epoch_3d (identical except for the model's output)."""
    is_train = optimizer is not None
    model.train() if is_train else model.eval()
    total_loss = 0.0
    ys, ps = [], []
    start = now()
    for x, y in loader:
        x, y = x.to(DEVICE), y.to(DEVICE)
        if is_train:
            optimizer.zero_grad()
        logits = _logits(model, x, is_3d)  # validation too runs with autograd on, as in the notebook
        loss = F.cross_entropy(logits, y)
        if is_train:
            loss.backward(); optimizer.step()
        total_loss += loss.item() * x.size(0)
        ys.extend(y.detach().cpu().tolist())
        ps.extend(torch.argmax(logits, dim=1).detach().cpu().tolist())
    sync()
    dur = now() - start
    return total_loss / len(loader.dataset), accuracy_score(ys, ps), dur


@torch.no_grad()
def eval_deep(model, dataset, n_rows, batch=2, is_3d=False):
    """The notebook's eval_deep_2d / eval_deep_3d: batch 2, decoding inside the timer."""
    dl = DataLoader(dataset, batch_size=batch, shuffle=False, num_workers=0)
    model.eval()
    ys, preds, probs = [], [], []
    start = now()
    for x, y in dl:
        x = x.to(DEVICE)
        logits = _logits(model, x, is_3d)
        p = torch.softmax(logits, dim=1)
        probs.append(p.cpu().numpy())
        preds.extend(torch.argmax(p, dim=1).cpu().tolist())
        ys.extend(y.tolist())
    sync()
    total = now() - start
    probs = np.concatenate(probs, axis=0)
    return np.array(ys), np.array(preds), probs, total / n_rows


@torch.no_grad()
def forward_time_per_video(model, dataset, is_3d=False):
    """model.eval(), no_grad, one test video at a time (batch of one), after one warm-up forward.
    The clip is decoded and copied to the device before the timer starts; softmax and the copy
    of the probabilities back to the host are inside it."""
    model.eval()
    clips = [dataset[i][0] for i in range(len(dataset))]
    if not clips:
        return None
    x = clips[0].unsqueeze(0).to(DEVICE)
    torch.softmax(_logits(model, x, is_3d), dim=1).cpu()
    sync()
    total = 0.0
    for c in clips:
        x = c.unsqueeze(0).to(DEVICE)
        sync()
        t0 = now()
        torch.softmax(_logits(model, x, is_3d), dim=1).cpu()
        sync()
        total += now() - t0
    return total / len(clips)


def train_deep(kind, train_ds, val_ds, n_classes, epochs=6, lr=1e-4, batch=2, patience=4,
               pooling='max'):
    """The notebook's train_deep_2d_variant / train_deep_3d."""
    is_3d = kind == '3d'
    train_dl = DataLoader(train_ds, batch_size=batch, shuffle=True)
    val_dl = DataLoader(val_ds, batch_size=batch, shuffle=False)

    model = (build_r3d18(n_classes) if is_3d else EfficientNetTemporal(n_classes, pooling=pooling)).to(DEVICE)
    optim = torch.optim.Adam(filter(lambda p: p.requires_grad, model.parameters()), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.StepLR(optim, step_size=max(2, epochs // 2), gamma=0.5)
    stopper = EarlyStopper(patience=patience)

    tag = '3D-R3D18' if is_3d else f'2D-{pooling}'
    best_val = -1
    best_state = None
    total_train_time = 0.0
    epochs_run = 0

    for ep in range(1, epochs + 1):
        tr_loss, tr_acc, tr_t = run_epoch(model, train_dl, optimizer=optim, is_3d=is_3d)
        va_loss, va_acc, va_t = run_epoch(model, val_dl, optimizer=None, is_3d=is_3d)
        sched.step()
        total_train_time += tr_t
        epochs_run = ep
        print(f'[{tag}] ep {ep:02d} tr_acc={tr_acc:.3f} va_acc={va_acc:.3f} '
              f'train {tr_t:.1f}s val {va_t:.1f}s', flush=True)
        if va_acc > best_val:
            best_val = va_acc
            # Notebook: torch.save(model.state_dict(), best_path)
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if stopper.step(va_acc):
            print('Early stopping', flush=True); break

    return best_state, float(total_train_time), epochs_run


# ---------------------------------------------------------------- driver

MODELS = [
    ('Deep-2D-Avg', '2d', 'avg'),
    ('Deep-2D-Max', '2d', 'max'),
    ('Deep-2D-Attn', '2d', 'attn'),
    ('Deep-3D-R3D18', '3d', None),
]


def run_model(name, kind, pooling, splits, root, n_classes, prof):
    train_rows, val_rows, test_rows = splits
    is_3d = kind == '3d'
    if is_3d:
        mk = lambda rows: ClipDataset3D(rows, root, clip_len=prof['clip_len'], sampling=DEEP_SAMPLING,
                                        enhance=False, img_size=prof['img_size'])
    else:
        mk = lambda rows: FrameDataset2D(rows, root, num_frames=prof['num_frames'], sampling=DEEP_SAMPLING,
                                         enhance=False, img_size=prof['img_size'])
    if DEVICE == 'cuda':
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    seed_everything()

    wall0 = now()
    best_state, train_t, epochs_run = train_deep(
        kind, mk(train_rows), mk(val_rows), n_classes, epochs=prof['epochs'], batch=prof['batch'],
        patience=prof['patience'], pooling=pooling)
    sync()
    loop_t = now() - wall0

    # Notebook: a fresh model, load_state_dict(best checkpoint), eval on the test split.
    model = (build_r3d18(n_classes) if is_3d else EfficientNetTemporal(n_classes, pooling=pooling)).to(DEVICE)
    model.load_state_dict(best_state)
    test_ds = mk(test_rows)
    ys, yp, pr, e2e_s = eval_deep(model, test_ds, len(test_rows), batch=prof['batch'], is_3d=is_3d)
    acc = accuracy_score(ys, yp)
    _, _, f1, _ = precision_recall_fscore_support(ys, yp, average='macro', zero_division=0)
    fwd_s = forward_time_per_video(model, test_ds, is_3d=is_3d)

    gpu_peak = torch.cuda.max_memory_allocated() / 2 ** 20 if DEVICE == 'cuda' else None
    n_params = sum(p.numel() for p in model.parameters())
    n_trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    del model, best_state
    return {
        'model': name,
        'epochs': epochs_run,
        'train_time_s': train_t,
        'train_s_per_epoch': train_t / epochs_run if epochs_run else None,
        'forward_s_per_video': fwd_s,
        'accuracy': float(acc),
        'macro_f1': float(f1),
        'gpu_peak_mb': gpu_peak,
        'end_to_end_s_per_video': e2e_s,
        'train_loop_with_val_s': loop_t,
        'params': int(n_params),
        'trainable_params': int(n_trainable),
    }


def main():
    global DEVICE
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--data', required=True, help='vidcompare dataset root (splits/{train,val,test}.txt)')
    ap.add_argument('--device', choices=['cuda', 'cpu'], default='cuda')
    ap.add_argument('--profile', choices=sorted(PROFILES), default='notebook')
    ap.add_argument('--out', required=True, help='JSON file to write')
    ap.add_argument('--threads', type=int, default=None, help='CPU threads for torch and OpenCV')
    ap.add_argument('--epochs', type=int, default=None,
                    help="train this many epochs instead of the profile's")
    ap.add_argument('--models', default=None,
                    help='comma-separated subset of ' + ','.join(m[0] for m in MODELS))
    args = ap.parse_args()

    if args.device == 'cuda' and not torch.cuda.is_available():
        sys.exit('bench_notebook_deep: --device cuda but torch.cuda.is_available() is False')
    DEVICE = args.device
    if args.threads:
        torch.set_num_threads(args.threads)
        cv2.setNumThreads(args.threads)
    prof = dict(PROFILES[args.profile])
    if args.epochs is not None:
        if args.epochs < 1:
            sys.exit('bench_notebook_deep: --epochs must be at least 1')
        prof['epochs'] = args.epochs
    root = args.data
    train_rows, val_rows, test_rows, n_classes = load_splits(root)
    wanted = MODELS
    if args.models:
        names = [s.strip() for s in args.models.split(',') if s.strip()]
        unknown = [n for n in names if n not in {m[0] for m in MODELS}]
        if unknown:
            sys.exit(f'bench_notebook_deep: unknown model(s): {unknown}')
        wanted = [m for m in MODELS if m[0] in names]

    gpu = torch.cuda.get_device_name() if DEVICE == 'cuda' else None
    print(f'bench_notebook_deep: torch {torch.__version__}, device {DEVICE}'
          f'{" (" + gpu + ")" if gpu else ""}, profile {args.profile} {prof}, '
          f'splits {len(train_rows)}/{len(val_rows)}/{len(test_rows)}, classes {n_classes}, '
          f'threads {torch.get_num_threads()}', flush=True)

    result = {
        'framework': f'torch {torch.__version__}',
        'torchvision': torchvision.__version__,
        'device': DEVICE,
        'gpu': gpu,
        'profile': args.profile,
        'settings': dict(prof, sampling=DEEP_SAMPLING, enhance=False, lr=1e-4, weight_decay=1e-4,
                         pretrained=False, seed=SEED),
        'data': {'train': len(train_rows), 'val': len(val_rows), 'test': len(test_rows),
                 'classes': n_classes},
        'models': [],
    }
    out_dir = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(out_dir, exist_ok=True)

    def write():
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=2)

    for name, kind, pooling in wanted:
        m = run_model(name, kind, pooling, (train_rows, val_rows, test_rows), root, n_classes, prof)
        result['models'].append(m)
        write()  # partial results survive a later failure or timeout
        gpu_txt = f" gpu_peak={m['gpu_peak_mb']:.0f}MB" if m['gpu_peak_mb'] is not None else ''
        print(f"{name}: epochs={m['epochs']} train={m['train_time_s']:.2f}s "
              f"({m['train_s_per_epoch']:.2f}s/epoch) forward={m['forward_s_per_video'] * 1e3:.2f}ms/video "
              f"e2e={m['end_to_end_s_per_video'] * 1e3:.1f}ms/video acc={m['accuracy']:.3f} "
              f"macro_f1={m['macro_f1']:.3f}{gpu_txt}", flush=True)
    write()
    print(f'bench_notebook_deep: wrote {args.out}', flush=True)


if __name__ == '__main__':
    main()
