//! Dataset::load on tiny hand-made roots: every check reports the right file and line.

use std::fs;
use std::path::{Path, PathBuf};

use tempfile::TempDir;
use vidcompare::Error;
use vidcompare::dataset::splits::parse_split_file;
use vidcompare::dataset::{Dataset, SplitName};
use vidcompare::error::Problem;

/// A dataset root in a temp dir; video files are empty placeholders (load only checks existence).
struct Root {
    dir: TempDir,
}

impl Root {
    fn new() -> Root {
        let dir = TempDir::new().unwrap();
        fs::create_dir(dir.path().join("splits")).unwrap();
        Root { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn videos(&self, rels: &[&str]) -> &Root {
        for rel in rels {
            let p = self.path().join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, b"").unwrap();
        }
        self
    }

    fn split(&self, name: &str, text: &str) -> &Root {
        fs::write(self.split_path(name), text).unwrap();
        self
    }

    fn split_path(&self, name: &str) -> PathBuf {
        self.path().join("splits").join(format!("{name}.txt"))
    }

    fn problems(&self) -> Vec<Problem> {
        match Dataset::load(self.path()) {
            Err(Error::Dataset(p)) => p,
            Err(e) => panic!("expected a dataset error, got {e}"),
            Ok(d) => panic!(
                "expected problems, got a dataset with {} train samples",
                d.train.len()
            ),
        }
    }
}

/// A valid two-class root: a0,a1 (class 0), b0,b1 (class 1).
fn two_class_root() -> Root {
    let r = Root::new();
    r.videos(&[
        "v/a0.mp4", "v/a1.mp4", "v/a2.mp4", "v/b0.mp4", "v/b1.mp4", "v/b2.mp4",
    ]);
    r.split("train", "v/a0.mp4 0\nv/b0.mp4 1\n")
        .split("val", "v/a1.mp4 0\nv/b1.mp4 1\n")
        .split("test", "v/a2.mp4 0\nv/b2.mp4 1\n");
    r
}

/// The problems located at `file` (a split name or a path relative to the root), as (line, message).
fn at(problems: &[Problem], root: &Root, file: &str) -> Vec<(Option<usize>, String)> {
    let want = if ["train", "val", "test"].contains(&file) {
        root.split_path(file)
    } else {
        root.path().join(file)
    };
    problems
        .iter()
        .filter(|p| p.file == want)
        .map(|p| (p.line, p.message.clone()))
        .collect()
}

#[test]
fn valid_root_loads_with_fallback_names() {
    let r = two_class_root();
    let d = Dataset::load(r.path()).unwrap();
    assert_eq!(d.n_classes(), 2);
    assert_eq!(d.class_names, ["C0", "C1"]);
    assert_eq!(d.class_name(1), "C1");
    assert_eq!(d.train.len(), 2);
    assert_eq!(d.train[1].rel_path, "v/b0.mp4");
    assert_eq!(d.train[1].path, r.path().join("v/b0.mp4"));
    assert_eq!(d.train[1].label, 1);
    assert_eq!(d.train[1].line, 2);
    assert_eq!(d.class_counts(SplitName::Test), vec![1, 1]);
    let order: Vec<(SplitName, &str)> = d.all().map(|(s, x)| (s, x.rel_path.as_str())).collect();
    assert_eq!(
        order,
        [
            (SplitName::Train, "v/a0.mp4"),
            (SplitName::Train, "v/b0.mp4"),
            (SplitName::Val, "v/a1.mp4"),
            (SplitName::Val, "v/b1.mp4"),
            (SplitName::Test, "v/a2.mp4"),
            (SplitName::Test, "v/b2.mp4"),
        ]
    );
    assert_eq!(d.split(SplitName::Val).len(), 2);
}

#[test]
fn classes_txt_names_are_used() {
    let r = two_class_root();
    fs::write(r.path().join("classes.txt"), "walk\n\n  run  \n\n").unwrap();
    let d = Dataset::load(r.path()).unwrap();
    assert_eq!(d.class_names, ["walk", "run"]);
    assert_eq!(d.class_name(0), "walk");
}

#[test]
fn classes_txt_count_mismatch() {
    let r = two_class_root();
    fs::write(r.path().join("classes.txt"), "walk\nrun\njump\n").unwrap();
    let p = r.problems();
    assert_eq!(p.len(), 1, "{p:?}");
    let got = at(&p, &r, "classes.txt");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, None);
    assert!(
        got[0].1.contains("3 class names") && got[0].1.contains("2 classes"),
        "{}",
        got[0].1
    );
}

#[test]
fn crlf_comments_backslashes_and_quotes() {
    let r = Root::new();
    r.videos(&[
        "v/a 0.mp4",
        "v/b0.mp4",
        "v/a1.mp4",
        "v/b1.mp4",
        "v/a2.mp4",
        "v/b2.mp4",
    ]);
    r.split(
        "train",
        "\u{feff}# header comment\r\n\r\n\"v/a 0.mp4\" 0\r\n  v\\b0.mp4   1  \r\n",
    )
    .split("val", "v/a1.mp4 0\r\nv/b1.mp4\t1")
    .split(
        "test",
        "\"v\\a2.mp4\" 0\n   # indented comment\nv/b2.mp4 1\n",
    );
    let d = Dataset::load(r.path()).unwrap();
    assert_eq!(d.train[0].rel_path, "v/a 0.mp4");
    assert_eq!(d.train[0].line, 3);
    assert_eq!(d.train[1].rel_path, "v/b0.mp4");
    assert_eq!(d.train[1].line, 4);
    assert_eq!(d.val[1].label, 1);
    assert_eq!(d.test[0].rel_path, "v/a2.mp4");
    assert_eq!(d.test[1].line, 3);
}

#[test]
fn missing_splits_dir() {
    let dir = TempDir::new().unwrap();
    let p = match Dataset::load(dir.path()) {
        Err(Error::Dataset(p)) => p,
        other => panic!("{other:?}"),
    };
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].file, dir.path().join("splits"));
    assert_eq!(p[0].line, None);
}

#[test]
fn missing_root() {
    let dir = TempDir::new().unwrap();
    let gone = dir.path().join("nope");
    match Dataset::load(&gone) {
        Err(Error::Dataset(p)) => assert_eq!(p[0].file, gone),
        other => panic!("{other:?}"),
    }
}

#[test]
fn missing_and_empty_split_files() {
    let r = Root::new();
    r.videos(&["v/a.mp4"]);
    r.split("train", "v/a.mp4 0\n")
        .split("val", "\n# nothing here\n\n");
    let p = r.problems();
    let val = at(&p, &r, "val");
    assert_eq!(val.len(), 1, "{p:?}");
    assert_eq!(val[0].0, None);
    assert!(val[0].1.contains("no samples"));
    let test = at(&p, &r, "test");
    assert_eq!(test.len(), 1);
    assert_eq!(test[0].0, None);
    assert!(test[0].1.contains("not found"));
    assert_eq!(p.len(), 2, "{p:?}");
}

#[test]
fn malformed_lines_each_reported_at_their_line() {
    let r = two_class_root();
    r.videos(&["v/a3.mp4"]);
    r.split(
        "train",
        concat!(
            "v/a0.mp4 0\n",        // 1 ok
            "v/b0.mp4 1\n",        // 2 ok
            "v/a3.mp4\n",          // 3 missing label
            "v/my clip.mp4 1\n",   // 4 too many fields
            "\"v/my clip.mp4 1\n", // 5 unterminated quote
            "v/a3.mp4 zero\n",     // 6 non-integer label
            "v/a3.mp4 -2\n",       // 7 negative label
            "v/a3.mp4 1.0\n",      // 8 non-integer label
        ),
    );
    let p = r.problems();
    let train = at(&p, &r, "train");
    let lines: Vec<Option<usize>> = train.iter().map(|x| x.0).collect();
    assert_eq!(
        lines,
        [Some(3), Some(4), Some(5), Some(6), Some(7), Some(8)],
        "{p:?}"
    );
    assert!(train[0].1.contains("missing label"));
    assert!(train[1].1.contains("3 fields") && train[1].1.contains("double-quoted"));
    assert!(train[2].1.contains("unterminated quote"));
    assert!(train[3].1.contains("`zero` is not an integer"));
    assert!(train[4].1.contains("-2 is negative"));
    assert!(train[5].1.contains("`1.0` is not an integer"));
    assert_eq!(p.len(), 6, "{p:?}");
}

#[test]
fn missing_video_names_resolved_path() {
    let r = two_class_root();
    r.split("test", "v/a2.mp4 0\n\nv/zz.mp4 1\nv/b2.mp4 1\n");
    let p = r.problems();
    assert_eq!(p.len(), 1, "{p:?}");
    let test = at(&p, &r, "test");
    assert_eq!(test[0].0, Some(3));
    let resolved = r.path().join("v/zz.mp4");
    assert!(
        test[0].1.contains(&resolved.display().to_string()),
        "{}",
        test[0].1
    );
    // Display is file:line: message.
    assert_eq!(
        p[0].to_string(),
        format!("{}:3: {}", r.split_path("test").display(), test[0].1)
    );
}

#[test]
fn paths_escaping_the_root() {
    let r = two_class_root();
    // A real file outside the root, so only the escape (not existence) can be the complaint.
    let outside = TempDir::new().unwrap();
    fs::write(outside.path().join("x.mp4"), b"").unwrap();
    let abs = outside.path().join("x.mp4");
    r.split(
        "train",
        &format!(
            "v/a0.mp4 0\nv/b0.mp4 1\n{} 0\n../x.mp4 0\nv/../../x.mp4 1\nv/../v/a3.mp4 0\n",
            abs.display()
        ),
    );
    r.videos(&["v/a3.mp4"]);
    let p = r.problems();
    let train = at(&p, &r, "train");
    assert_eq!(
        train.iter().map(|x| x.0).collect::<Vec<_>>(),
        [Some(3), Some(4), Some(5)],
        "{p:?}"
    );
    assert!(train[0].1.contains("absolute"));
    assert!(train[1].1.contains("leaves the dataset root"));
    assert!(train[2].1.contains("leaves the dataset root"));
    assert_eq!(p.len(), 3, "{p:?}");
}

#[cfg(unix)]
#[test]
fn linked_folders_are_followed_and_listed() {
    // The owner links `videos/` to a shared store outside the root, as on clusters.
    let r = two_class_root();
    let store = TempDir::new().unwrap();
    fs::write(store.path().join("x.mp4"), b"").unwrap();
    fs::write(store.path().join("y.mp4"), b"").unwrap();
    std::os::unix::fs::symlink(store.path(), r.path().join("link")).unwrap();
    r.split(
        "train",
        "v/a0.mp4 0\nv/b0.mp4 1\nlink/x.mp4 1\nlink/y.mp4 0\n",
    );
    let ds = Dataset::load(r.path()).unwrap();
    assert_eq!(ds.train[2].path, r.path().join("link/x.mp4"));
    let links = ds.links();
    assert_eq!(links.len(), 1, "{links:?}");
    assert_eq!(links[0].path, "link");
    assert_eq!(links[0].target, fs::canonicalize(store.path()).unwrap());
    assert!(links[0].to_string().starts_with("link -> "));
    assert!(links[0].to_string().ends_with("(symbolic link)"));
}

#[cfg(unix)]
#[test]
fn paths_that_leave_the_root_as_written_are_refused_even_through_a_link() {
    // `..` and absolute paths stay refused whatever links exist.
    let r = two_class_root();
    let store = TempDir::new().unwrap();
    fs::write(store.path().join("x.mp4"), b"").unwrap();
    std::os::unix::fs::symlink(store.path(), r.path().join("link")).unwrap();
    let abs = store.path().join("x.mp4");
    r.split(
        "train",
        &format!(
            "v/a0.mp4 0\nv/b0.mp4 1\nlink/../../x.mp4 1\n{} 0\n",
            abs.display()
        ),
    );
    let p = r.problems();
    assert_eq!(p.len(), 2, "{p:?}");
    assert_eq!(p[0].line, Some(3));
    assert!(p[0].message.contains("leaves the dataset root"), "{p:?}");
    assert_eq!(p[1].line, Some(4));
    assert!(p[1].message.contains("absolute"), "{p:?}");
}

#[test]
fn labels_must_be_contiguous() {
    let r = Root::new();
    r.videos(&["a.mp4", "b.mp4", "c.mp4", "d.mp4", "e.mp4", "f.mp4"]);
    r.split("train", "a.mp4 0\nb.mp4 3\n")
        .split("val", "c.mp4 0\nd.mp4 3\n")
        .split("test", "e.mp4 0\nf.mp4 3\n");
    let p = r.problems();
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].file, r.path().join("splits"));
    assert_eq!(p[0].line, None);
    assert!(
        p[0].message.contains("labels must be 0..3")
            && p[0].message.contains("labels 1, 2 never appear"),
        "{}",
        p[0].message
    );
}

#[test]
fn class_missing_from_train() {
    let r = two_class_root();
    r.videos(&["v/c0.mp4", "v/c1.mp4", "v/c2.mp4"]);
    r.split("val", "v/a1.mp4 0\nv/c0.mp4 2\nv/b1.mp4 1\nv/c1.mp4 2\n")
        .split("test", "v/a2.mp4 0\nv/b2.mp4 1\nv/c2.mp4 2\n");
    let p = r.problems();
    let val = at(&p, &r, "val");
    assert_eq!(val.len(), 1, "{p:?}");
    assert_eq!(val[0].0, Some(2));
    assert!(
        val[0].1.contains("class 2") && val[0].1.contains("lines 2, 4"),
        "{}",
        val[0].1
    );
    let test = at(&p, &r, "test");
    assert_eq!(test.len(), 1);
    assert_eq!(test[0].0, Some(3));
    assert!(test[0].1.contains("line 3") && test[0].1.contains("never in train.txt"));
    assert_eq!(p.len(), 2, "{p:?}");
}

#[test]
fn duplicates_within_and_across_splits() {
    let r = two_class_root();
    r.split("train", "v/a0.mp4 0\nv/b0.mp4 1\n./v/a0.mp4 0\n")
        .split("test", "v/a2.mp4 0\nv/b2.mp4 1\nv\\a1.mp4 0\n");
    let p = r.problems();
    let train = at(&p, &r, "train");
    assert_eq!(train.len(), 1, "{p:?}");
    assert_eq!(train[0].0, Some(3));
    assert!(train[0].1.contains("listed twice") && train[0].1.contains("line 1"));
    let test = at(&p, &r, "test");
    assert_eq!(test.len(), 1);
    assert_eq!(test[0].0, Some(3));
    assert!(test[0].1.contains("val.txt line 1"), "{}", test[0].1);
    assert_eq!(p.len(), 2, "{p:?}");
}

#[test]
fn many_problems_reported_together() {
    let r = two_class_root();
    fs::write(r.path().join("classes.txt"), "only-one\n").unwrap();
    r.split("train", "v/a0.mp4 0\nv/b0.mp4 x\nv/gone.mp4 0\n")
        .split("val", "v/a1.mp4 0\n../up.mp4 1\nv/b1.mp4 1\n");
    fs::remove_file(r.split_path("test")).unwrap();
    let p = r.problems();
    let summary: Vec<(String, Option<usize>)> = p
        .iter()
        .map(|x| {
            (
                x.file.file_name().unwrap().to_string_lossy().into_owned(),
                x.line,
            )
        })
        .collect();
    assert!(
        summary.contains(&("train.txt".into(), Some(2))),
        "{summary:?}"
    );
    assert!(
        summary.contains(&("train.txt".into(), Some(3))),
        "{summary:?}"
    );
    assert!(
        summary.contains(&("val.txt".into(), Some(2))),
        "{summary:?}"
    );
    assert!(summary.contains(&("test.txt".into(), None)), "{summary:?}");
    // b1 has label 1 in val, but train's only label-1 line is malformed: class 1 is untrained.
    assert!(
        summary.contains(&("val.txt".into(), Some(3))),
        "{summary:?}"
    );
    assert!(
        summary.contains(&("classes.txt".into(), None)),
        "{summary:?}"
    );
    assert_eq!(p.len(), 6, "{summary:?}");
    let text = Error::Dataset(p).to_string();
    assert!(text.starts_with("dataset has 6 problems:"), "{text}");
}

#[test]
fn parse_split_file_alone() {
    let r = two_class_root();
    r.split("train", "v/a0.mp4 0\nbad\nv/nope.mp4 1\n");
    let (samples, problems) = parse_split_file(&r.split_path("train"), r.path());
    // The missing video still yields its sample; the malformed line does not.
    assert_eq!(samples.len(), 2);
    assert_eq!(samples[1].line, 3);
    assert_eq!(
        problems.iter().map(|p| p.line).collect::<Vec<_>>(),
        [Some(2), Some(3)]
    );
}
