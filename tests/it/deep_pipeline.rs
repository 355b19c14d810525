//! A deep model end to end on a tiny generated dataset: frames, training, checkpoint, resume,
//! evaluation, and a damaged checkpoint being retrained rather than trusted.

use std::path::Path;

use tempfile::TempDir;
use vidcompare::config::Config;
use vidcompare::dataset::Dataset;
use vidcompare::dataset::synth::{DemoCounts, VideoRanges, generate_root_with};
use vidcompare::deep::models::DeepKind;
use vidcompare::deep::pipeline::{DeepSettings, load_data, train_and_evaluate};

pub fn tiny_root(dir: &Path) -> Dataset {
    let root = dir.join("deep");
    let ranges = VideoRanges {
        sizes: vec![(64, 48)],
        fps: (15, 15),
        duration_s: (1.0, 1.0),
    };
    generate_root_with(&root, DemoCounts::new(2, 1, 1), &ranges, 5, false).unwrap();
    Dataset::load(&root).unwrap()
}

fn settings(dir: &Path, kind: DeepKind, epochs: i64) -> DeepSettings {
    let cfg = Config::with_overrides(&[
        "img_size=32".to_string(),
        "num_frames=4".into(),
        "clip_len=4".into(),
        format!("epochs={epochs}"),
        "enhance=false".into(),
        "device=cpu".into(),
        "lr=1e-3".into(),
        format!("cache_dir={}", dir.join("cache").display()),
    ])
    .unwrap();
    DeepSettings::from_config(&cfg, kind, &dir.join("models")).unwrap()
}

#[test]
fn efficientnet_max_trains_checkpoints_resumes_and_evaluates() {
    let dir = TempDir::new().unwrap();
    let ds = tiny_root(dir.path());
    let s = settings(dir.path(), DeepKind::Max, 3);
    let data = load_data(&ds, &s.clip, &s.cache_dir, false).unwrap();
    assert_eq!(
        (data.train.len(), data.val.len(), data.test.len()),
        (6, 3, 3)
    );
    assert!(data.train.clips.iter().all(|c| c.frames.len() == 4));

    let run = train_and_evaluate(&data, &s, false).unwrap();
    let r = &run.result;
    assert_eq!(r.name, "Deep-2D-Max");
    assert!(!run.resumed);
    assert_eq!(run.train.history.len(), 3);
    let h = &run.train.history;
    assert!(
        h[2].train_loss < h[0].train_loss,
        "training lowers the loss: {h:?}"
    );
    assert_eq!(r.scores.len(), 3);
    for p in &r.scores {
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-5);
    }
    assert!(
        r.efficiency.params.unwrap() > 4_000_000,
        "EfficientNet-B0 has ~4M weights"
    );
    assert!(r.efficiency.params_trainable.unwrap() < r.efficiency.params.unwrap());
    assert!(r.details.deep.trained_from_scratch.unwrap());
    assert!(r.notes.iter().any(|n| n.contains("Trained from scratch")));
    let ckpt = dir.path().join("models/deep-2d-max.safetensors");
    assert!(ckpt.is_file());

    // Same settings and data: the finished checkpoint is reused and predicts the same.
    let again = train_and_evaluate(&data, &s, false).unwrap();
    assert!(again.resumed);
    assert_eq!(again.result.y_pred, r.y_pred);
    for (a, b) in again.result.scores.iter().zip(&r.scores) {
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-6);
        }
    }

    // A damaged checkpoint is detected and the model retrained to the same numbers.
    let mut bytes = std::fs::read(&ckpt).unwrap();
    let n = bytes.len();
    bytes[n - 3] ^= 0x55;
    std::fs::write(&ckpt, bytes).unwrap();
    let retrained = train_and_evaluate(&data, &s, false).unwrap();
    assert!(!retrained.resumed);
    assert!(
        retrained.result.notes.iter().any(|n| n.contains("corrupt")),
        "{:?}",
        retrained.result.notes
    );
    assert_eq!(retrained.result.y_pred, r.y_pred, "training is seeded");
}

#[test]
fn r3d_and_attention_produce_complete_results() {
    let dir = TempDir::new().unwrap();
    let ds = tiny_root(dir.path());
    let s = settings(dir.path(), DeepKind::R3d, 1);
    let data = load_data(&ds, &s.clip, &s.cache_dir, false).unwrap();
    let run = train_and_evaluate(&data, &s, false).unwrap();
    let r = &run.result;
    assert_eq!(r.name, "Deep-3D-R3D18");
    assert_eq!(r.protocol.frames_per_video, "1 clip x 4 frames (uniform)");
    assert!(r.efficiency.params.unwrap() > 33_000_000);
    assert_eq!(
        r.details.deep.embeddings.as_ref().unwrap().pooled[0].len(),
        512
    );
    assert!(r.notes.iter().any(|n| n.contains("Kinetics")));

    let s = settings(dir.path(), DeepKind::Attn, 1);
    let data = load_data(&ds, &s.clip, &s.cache_dir, false).unwrap();
    let run = train_and_evaluate(&data, &s, false).unwrap();
    let att = &run.result.details.deep.attention;
    assert_eq!(att.len(), 3);
    let w: Vec<f64> = att[0].weights.iter().map(|&x| f64::from(x)).collect();
    assert_eq!(w.len(), 4);
    assert!(
        (w.iter().sum::<f64>() - 1.0).abs() < 1e-5,
        "softmax over frames"
    );
}

#[test]
fn profiles_resolve_to_the_notebook_settings_and_overrides_win() {
    let dir = TempDir::new().unwrap();
    let nb = Config::with_overrides(&["deep_profile=notebook"]).unwrap();
    let s2 = DeepSettings::from_config(&nb, DeepKind::Attn, dir.path()).unwrap();
    let s3 = DeepSettings::from_config(&nb, DeepKind::R3d, dir.path()).unwrap();
    assert_eq!(
        (s2.clip.size, s2.clip.frames, s2.train.epochs),
        (224, 32, 6)
    );
    assert_eq!((s3.clip.size, s3.clip.frames), (224, 16));
    // The notebook: StepLR(step_size=max(2, epochs // 2), gamma=0.5), Adam(lr=1e-4, wd=1e-4).
    assert_eq!((s2.train.step_size, s2.train.gamma), (3, 0.5));
    assert_eq!(
        (s2.train.lr, s2.train.weight_decay, s2.train.patience),
        (1e-4, 1e-4, 4)
    );
    let quick = Config::with_overrides(&["clip_len=12", "epochs=1"]).unwrap();
    let q = DeepSettings::from_config(&quick, DeepKind::R3d, dir.path()).unwrap();
    assert_eq!(
        (
            q.clip.size,
            q.clip.frames,
            q.train.epochs,
            q.train.step_size
        ),
        (112, 12, 1, 2)
    );
    let bad = Config::with_overrides(&["clip_len=600"]);
    assert!(
        bad.is_err(),
        "absurd clip lengths are refused by the config"
    );
}
